#!/usr/bin/python3
"""check_events.py - docs/json.md against the event types of the code.

    check_events.py SOURCE_DIR

Events are written only by the Lua scripts (core/lua/*.lua), through
emit(P, id, TYPE, ...) and outbox.lua's msg_event(TYPE, ...). This script
collects
  - emitted: every TYPE written there as a literal ('session.created'), and
    every family emitted with a computed name ('message.' .. status);
  - known: the types a webhook subscription may name, the literals of
    og_webhook_event_type_known() in core/*.c;
  - documented: each "### `type`" section of docs/json.md, either with an
    example (a JSON block: an event of that type, id evt_..., created_at,
    data) or marked "*Not emitted by this version.*" (reserved);
  - the EventType enum of docs/openapi.yaml,
and fails, naming each difference, unless
  - every emitted type is known (else a subscription could not name it);
  - known, documented, the types table of json.md and EventType are one set;
  - every type the code emits has an example, and a reserved one is not
    emitted (by literal or by family), nor an example given for a type the
    code never emits.
"""
import json
import os
import re
import sys

import yaml

TYPE = r"[a-z]+\.[a-z_]+"


def emitted_types(src):
    literal, families = set(), set()
    lua_dir = os.path.join(src, "core", "lua")
    # The call's first quoted argument, with no quote before it; a type
    # computed as 'family.' .. x gives the family.
    call = re.compile(r"\b(?:emit|msg_event)\(([^'\"()]*(?:\([^()]*\)[^'\"()]*)*)['\"]([a-z]+\.[a-z_]*)['\"]")
    for name in sorted(os.listdir(lua_dir)):
        if not name.endswith(".lua"):
            continue
        with open(os.path.join(lua_dir, name), encoding="utf-8") as f:
            text = f.read()
        for m in call.finditer(text):
            t = m.group(2)
            if t.endswith("."):
                families.add(t[:-1])
            else:
                literal.add(t)
    return literal, families


def known_types(src):
    core = os.path.join(src, "core")
    for name in sorted(os.listdir(core)):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(core, name), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"int\s+og_webhook_event_type_known\s*\([^)]*\)\s*\{(.*?)\n\}", text, re.S)
        if m:
            return set(re.findall(r'"(%s)"' % TYPE, m.group(1)))
    sys.exit("og_webhook_event_type_known() not found in core/*.c")


def doc_types(path, problems):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    sections = re.split(r"^### `(%s)`\s*$" % TYPE, text, flags=re.M)
    examples, reserved = set(), set()
    for i in range(1, len(sections), 2):
        t, body = sections[i], sections[i + 1]
        blocks = re.findall(r"```json\n(.*?)\n```", body, re.S)
        if "*Not emitted by this version.*" in body:
            reserved.add(t)
            if blocks:
                problems.append("json.md: %s is marked not emitted but has an example" % t)
            continue
        if len(blocks) != 1:
            problems.append("json.md: %s needs exactly one ```json example (has %d)" % (t, len(blocks)))
            continue
        examples.add(t)
        try:
            ev = json.loads(blocks[0])
        except ValueError as e:
            problems.append("json.md: %s: the example is not JSON: %s" % (t, e))
            continue
        if ev.get("type") != t:
            problems.append("json.md: %s: the example's type is %r" % (t, ev.get("type")))
        if not str(ev.get("id", "")).startswith("evt_") or not isinstance(ev.get("created_at"), str) \
                or not isinstance(ev.get("data"), dict):
            problems.append("json.md: %s: the example is not an event envelope (id evt_..., created_at, data)" % t)
    table = set(re.findall(r"^\| \[`(%s)`\]\(#" % TYPE, text, re.M))
    return examples, reserved, table


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src = sys.argv[1]
    problems = []
    literal, families = emitted_types(src)
    known = known_types(src)
    examples, reserved, table = doc_types(os.path.join(src, "docs", "json.md"), problems)
    with open(os.path.join(src, "docs", "openapi.yaml"), encoding="utf-8") as f:
        enum = set(yaml.safe_load(f)["components"]["schemas"]["EventType"]["enum"])
    documented = examples | reserved

    def fam(t):
        return t.split(".")[0]

    for t in sorted(literal - known):
        problems.append("%s is emitted but not a known type (og_webhook_event_type_known)" % t)
    for f in sorted(families - {fam(t) for t in known}):
        problems.append("events of family %s.* are emitted but none is a known type" % f)
    for name, s in (("documented in json.md", documented), ("in json.md's types table", table),
                    ("openapi.yaml's EventType", enum)):
        for t in sorted(known - s):
            problems.append("%s is a known type but not %s" % (t, name))
        for t in sorted(s - known):
            problems.append("%s is %s but not a known type" % (t, name))
    for t in sorted(literal - examples):
        problems.append("%s is emitted but json.md has no example of it" % t)
    for t in sorted(reserved):
        if t in literal or fam(t) in families:
            problems.append("%s is marked not emitted in json.md, but the code emits %s"
                            % (t, t if t in literal else fam(t) + ".*"))
    for t in sorted(examples):
        if t not in literal and fam(t) not in families:
            problems.append("json.md has an example of %s, which the code never emits" % t)
    for p in problems:
        print("FAIL " + p)
    print("emitted: %d literal types and the families %s; %d known; %d documented (%d reserved); "
          "%d problem(s)" % (len(literal), sorted(families), len(known), len(documented),
                             len(reserved), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
