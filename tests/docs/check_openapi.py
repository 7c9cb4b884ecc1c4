#!/usr/bin/python3
"""check_openapi.py - docs/openapi.yaml against what the daemon serves.

    check_openapi.py OPENAPI_YAML LISTER WWW_DIR [CONNECTOR_DIR]

LISTER is og_routes_list (tests/docs/og_routes_list.c): it prints every
route the daemon dispatches ("route METHOD PATH ROLE", from the same tables
the daemon uses) and every row of the error table ("error CODE STATUS").
This script fails, naming each difference, when
  - a route the daemon serves is not in openapi.yaml's paths, or the reverse;
  - an operation's x-og-role (the least role allowed: public, agent,
    manager, admin; visitor for a connector's visitor routes, whose token
    the connector checks) is not the route's;
  - the ErrorCode schema's enum or its x-og-status map is not the error
    table.
Paths are compared with the code's ":name" parameters written "{name}".
"""
import re
import subprocess
import sys

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def code_lists(lister, www, conn_dir=None):
    cmd = [lister, www] + ([conn_dir] if conn_dir else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    routes, errors = {}, {}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "route":
            path = re.sub(r":([A-Za-z_][A-Za-z0-9_]*)", r"{\1}", f[2])
            routes[(f[1], path)] = f[3]
        elif f[0] == "error":
            errors[f[1]] = int(f[2])
    return routes, errors


def doc_lists(spec):
    routes = {}
    for path, item in (spec.get("paths") or {}).items():
        for m in METHODS:
            op = item.get(m)
            if op is not None:
                routes[(m.upper(), path)] = op.get("x-og-role")
    schema = spec["components"]["schemas"]["ErrorCode"]
    return routes, schema.get("enum", []), schema.get("x-og-status", {})


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    code_routes, code_errors = code_lists(sys.argv[2], sys.argv[3],
                                          sys.argv[4] if len(sys.argv) == 5 else None)
    doc_routes, doc_codes, doc_status = doc_lists(spec)
    problems = []
    for key in sorted(set(code_routes) - set(doc_routes)):
        problems.append("served but not in openapi.yaml: %s %s" % key)
    for key in sorted(set(doc_routes) - set(code_routes)):
        problems.append("in openapi.yaml but not served: %s %s" % key)
    for key in sorted(set(code_routes) & set(doc_routes)):
        if code_routes[key] != doc_routes[key]:
            problems.append("%s %s: x-og-role is %r, the code's least role is %r"
                            % (key + (doc_routes[key], code_routes[key])))
    if sorted(doc_codes) != sorted(code_errors):
        problems.append("ErrorCode enum %s != the error table's codes %s"
                        % (sorted(doc_codes), sorted(code_errors)))
    if doc_status != code_errors:
        problems.append("ErrorCode x-og-status %s != the error table %s" % (doc_status, code_errors))
    for p in problems:
        print("FAIL " + p)
    print("%d routes served, %d documented, %d error codes; %d problem(s)"
          % (len(code_routes), len(doc_routes), len(code_errors), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
