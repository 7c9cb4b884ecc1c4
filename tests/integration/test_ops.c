/* test_ops - the conversation operations of the core against a real
 * redis-server, without HTTP (issue #19 parts 2, 4 and 6):
 *   - the session timeline: an entry with who did it for every routing
 *     operation (created by the customer, assigned by routing, transferred
 *     with a comment, auto-forwarded, closed with reason and codes, reopened
 *     by a person and by the customer, taken, assigned by a manager,
 *     returned when the agent went offline, archived), its paging, and that
 *     it is visible exactly as the session is;
 *   - soft-deleted agents: out of routing, groups and sign-in, their record
 *     and their names in every timeline kept;
 *   - groups: create, members, rename, delete when unused, and routing
 *     through a group the config names but only the API fills;
 *   - canned responses: the scope rule, search (shortcut prefix, folded
 *     words), rendering for a session, shortcuts unique per scope, a group's
 *     responses following its rename;
 *   - sensitive words: customers' messages flagged at ingest (Latin with
 *     accents, Cyrillic, Japanese), the flagged list, message.flagged, an
 *     agent's reply flagged, and blocked with nothing stored. */
#include "og_agents.h"
#include "og_canned.h"
#include "og_core.h"
#include "og_groups.h"
#include "og_outbox.h"
#include "og_routing.h"
#include "og_sensitive.h"
#include "og_sessions.h"
#include "og_test.h"
#include "og_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct og_connector fake_desc = {.name = "fake"};
static struct og_plugin fake_plugin = {.desc = &fake_desc};
static struct og_test_redis rs;
static int seq;

static const struct og_viewer as_admin = {OG_ROLE_ADMIN, "", NULL, 0};

static long long rint_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long rint_(const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out = og_test_redis_cli(&rs, args);
    long long v = out ? atoll(out) : -1;
    free(out);
    return v;
}

static char *rstr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *rstr(const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out = og_test_redis_cli(&rs, args);
    if (out)
        out[strcspn(out, "\r\n")] = 0;
    return out ? out : og_strdup("");
}

static struct og_core *engine(const char *policies, const struct og_sensitive_opts *sw)
{
    json_object *pj = policies ? json_tokener_parse(policies) : NULL;
    struct og_routing_opts ro = {
        .policies = pj, .archive_after_s = 3600, .offline_returns_sessions = 1};
    struct og_core_opts co = {
        .redis_url = rs.url, .pool_size = 2, .prefix = "t", .routing = &ro, .sensitive = sw};
    char err[256];
    struct og_core *c = og_core_new(&co, err, sizeof err);
    json_object_put(pj);
    CHECK(c != NULL);
    return c;
}

static void reset(void)
{
    free(og_test_redis_cli(&rs, "FLUSHALL"));
}

/* A customer's message on channel "c1" (user: the sender's external id);
 * the ingest result out. */
static void ingest(struct og_core *c, const char *policy, const char *user, const char *name,
                   const char *text, struct og_ingest_result *r)
{
    struct og_channel ch = {.id = "c1", .routing = (char *)policy, .plugin = &fake_plugin};
    char dedup[32];
    snprintf(dedup, sizeof dedup, "d%d", ++seq);
    struct og_inbound m = {.struct_size = sizeof m,
                           .dedup_key = dedup,
                           .kind = OG_KIND_TEXT,
                           .text = text,
                           .provider_message_id = dedup};
    m.from.external_id = user;
    m.from.name = name;
    CHECK_INT(og_core_ingest(c, &ch, &m, r), OG_OK);
    usleep(2000); /* distinct ms */
}

static void new_session(struct og_core *c, const char *policy, char sid[48])
{
    char user[32];
    struct og_ingest_result r;
    snprintf(user, sizeof user, "u%d", seq + 1);
    ingest(c, policy, user, "Carla Customer", "hello", &r);
    snprintf(sid, 48, "%s", r.session_id);
}

static void agent(struct og_core *c, const char *name, const char *email, const char *role,
                  const char *groups, char id[48])
{
    char *body = og_sprintf("{\"name\":\"%s\",\"email\":\"%s\",\"role\":\"%s\",\"groups\":%s}",
                            name, email, role, groups);
    json_object *j = json_tokener_parse(body);
    free(body);
    struct og_agent_fields f;
    char err[160];
    CHECK_INT(og_agents_fields_from_json(j, 1, &f, err, sizeof err), 0);
    json_object_put(j);
    usleep(2000);
    og_id_new("agt_", og_now_ms(), id, 48);
    struct og_routing_result res;
    og_agents_put(c, "create", id, NULL, &f, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    og_agent_fields_free(&f);
}

static void presence(struct og_core *c, const char *id, const char *st)
{
    struct og_routing_result res;
    og_routing_presence(c, id, st, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
}

static int drain(struct og_core *c, const char *policy)
{
    int n = 0;
    CHECK_INT(og_routing_drain(c, policy, 100, 400, &n), OG_OK);
    return n;
}

static void ok_or(struct og_routing_result *res, og_err want)
{
    CHECK_INT(res->err, want);
    if (res->err != want)
        fprintf(stderr, "  message: %s\n", res->message);
    og_routing_result_free(res);
}

/* The session's timeline as the admin sees it, parsed [xfer]. */
static json_object *timeline(struct og_core *c, const char *sid)
{
    char *json = NULL;
    CHECK_INT(og_session_timeline(c, &as_admin, sid, NULL, 200, &json), OG_OK);
    json_object *j = json ? json_tokener_parse(json) : NULL, *items = NULL;
    free(json);
    if (j)
        json_object_object_get_ex(j, "items", &items);
    json_object *out = items ? json_object_get(items) : json_object_new_array();
    json_object_put(j);
    return out;
}

/* A string at a path of keys ("by.name") in o: the string, a JSON null as
 * "null", anything else as its JSON text; "" when the path is absent. */
static const char *at(json_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (!json_object_object_get_ex(o, key, &o))
            return "";
        path += n + (path[n] == '.');
        if (!o) /* json-c's null */
            return *path ? "" : "null";
    }
    if (!o)
        return "";
    return json_object_is_type(o, json_type_string)
               ? json_object_get_string(o)
               : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static json_object *entry(json_object *tl, size_t i)
{
    return json_object_array_get_idx(tl, i);
}

/* The "id" of a JSON object text into out ("" for none). */
static void id_of(const char *json, char out[48])
{
    json_object *j = json ? json_tokener_parse(json) : NULL;
    snprintf(out, 48, "%s", at(j, "id"));
    json_object_put(j);
}

/* ------------------------------------------------------------- timeline */

/* Two agents in group g (one level, least_chats), auto-forward on, and a
 * manager; every routing operation on one session, then the others. */
static void test_timeline(void)
{
    reset();
    struct og_core *c = engine("{\"default\":{\"levels\":[{\"name\":\"first\",\"members\":"
                               "[\"group:g\"]}],\"forwarding_level\":{\"members\":"
                               "[\"group:g\"]},\"auto_forward\":{\"after_s\":10}}}",
                               NULL);
    char ann[48], bob[48], mgr[48], s[48];
    agent(c, "Ann", "ann@t.io", "agent", "[\"g\"]", ann);
    agent(c, "Bob", "bob@t.io", "agent", "[\"g\"]", bob);
    agent(c, "Meg", "meg@t.io", "manager", "[]", mgr);
    presence(c, ann, "online");

    new_session(c, "default", s);      /* created */
    CHECK_INT(drain(c, "default"), 1); /* assigned by routing: only Ann is online */
    presence(c, bob, "online");
    const char *ann_groups[] = {"g"};
    struct og_viewer as_ann = {OG_ROLE_AGENT, ann, ann_groups, 1};
    struct og_viewer as_bob = {OG_ROLE_AGENT, bob, ann_groups, 1};
    struct og_viewer as_meg = {OG_ROLE_MANAGER, mgr, NULL, 0};
    struct og_routing_result res;
    og_routing_transfer(c, &as_ann, s, bob, NULL, "needs a refund", &res); /* transferred */
    ok_or(&res, OG_OK);
    /* nobody answers Bob: the auto-forward timer fires now */
    rint_("ZADD {t}:timers:autoforward %lld %s", (long long)og_now_ms() - 1, s);
    int moved = 0, archived = 0;
    CHECK_INT(og_routing_fire_timers(c, 10, &moved, &archived), OG_OK);
    CHECK_INT(moved, 1); /* auto_forwarded back to Ann */
    const char *codes[] = {"sale"};
    og_routing_close(c, &as_ann, s, "solved", codes, 1, &res); /* closed */
    ok_or(&res, OG_OK);
    og_routing_reopen(c, &as_meg, s, &res); /* reopened by the manager, then assigned */
    ok_or(&res, OG_OK);
    og_routing_close(c, &as_admin, s, "other", NULL, 0, &res); /* closed by the admin token */
    ok_or(&res, OG_OK);
    struct og_ingest_result ir; /* the customer writes again: reopened by the contact */
    char *cid = rstr("HGET {t}:ses:%s contact_id", s);
    char *user = rstr("HGET {t}:con:%s external_id", cid);
    ingest(c, "default", user, "Carla Customer", "me again", &ir);
    CHECK_STR(ir.session_id, s);
    CHECK_INT(ir.session_created, 2);
    free(user);

    json_object *tl = timeline(c, s);
    static const char *const kinds[] = {"created",        "assigned", "transferred",
                                        "auto_forwarded", "closed",   "reopened",
                                        "assigned",       "closed",   "reopened"};
    size_t nk = sizeof kinds / sizeof *kinds;
    CHECK_INT(json_object_array_length(tl), nk);
    for (size_t i = 0; i < nk && i < json_object_array_length(tl); i++)
        CHECK_STR(at(entry(tl, i), "kind"), kinds[i]);
    json_object *e = entry(tl, 0);
    CHECK_STR(at(e, "by.type"), "contact");
    CHECK_STR(at(e, "by.id"), cid);
    CHECK_STR(at(e, "by.name"), "Carla Customer");
    CHECK_STR(at(e, "channel"), "c1");
    CHECK_STR(at(e, "origin"), "customer");
    CHECK(strlen(at(e, "at")) >= 20);
    e = entry(tl, 1);
    CHECK_STR(at(e, "by.type"), "system");
    CHECK_STR(at(e, "agent.id"), ann);
    CHECK_STR(at(e, "agent.name"), "Ann");
    CHECK_STR(at(e, "group"), "g");
    CHECK_STR(at(e, "level"), "first");
    e = entry(tl, 2);
    CHECK_STR(at(e, "by.type"), "agent");
    CHECK_STR(at(e, "by.id"), ann);
    CHECK_STR(at(e, "by.name"), "Ann");
    CHECK_STR(at(e, "from.name"), "Ann");
    CHECK_STR(at(e, "to.id"), bob);
    CHECK_STR(at(e, "to.name"), "Bob");
    CHECK_STR(at(e, "comment"), "needs a refund");
    e = entry(tl, 3);
    CHECK_STR(at(e, "by.type"), "system");
    CHECK_STR(at(e, "from.name"), "Bob");
    CHECK_STR(at(e, "to.name"), "Ann");
    CHECK_STR(at(e, "level"), "first");
    e = entry(tl, 4);
    CHECK_STR(at(e, "by.name"), "Ann");
    CHECK_STR(at(e, "agent.name"), "Ann");
    CHECK_STR(at(e, "reason"), "solved");
    CHECK_STR(at(e, "success_codes"), "[\"sale\"]");
    e = entry(tl, 5);
    CHECK_STR(at(e, "by.type"), "agent");
    CHECK_STR(at(e, "by.name"), "Meg");
    CHECK_STR(at(entry(tl, 6), "by.type"), "system");
    e = entry(tl, 7);
    CHECK_STR(at(e, "by.type"), "admin");
    CHECK_STR(at(e, "reason"), "other");
    e = entry(tl, 8);
    CHECK_STR(at(e, "by.type"), "contact");
    CHECK_STR(at(e, "by.name"), "Carla Customer");
    json_object_put(tl);
    free(cid);

    /* paging: two at a time, oldest first, the cursor is the next index */
    char *page = NULL;
    CHECK_INT(og_session_timeline(c, &as_admin, s, NULL, 2, &page), OG_OK);
    json_object *pj = json_tokener_parse(page);
    CHECK_STR(at(pj, "next_cursor"), "2");
    free(page);
    json_object_put(pj);
    CHECK_INT(og_session_timeline(c, &as_admin, s, "8", 2, &page), OG_OK);
    pj = json_tokener_parse(page);
    CHECK_STR(at(pj, "next_cursor"), "null");
    json_object *items = NULL;
    json_object_object_get_ex(pj, "items", &items);
    CHECK_INT(json_object_array_length(items), 1);
    free(page);
    json_object_put(pj);

    /* visible as the session is: Bob (not its agent now) does not see it */
    drain(c, "default");
    char *holder = rstr("HGET {t}:ses:%s agent_id", s);
    struct og_viewer *other = strcmp(holder, ann) == 0 ? &as_bob : &as_ann;
    CHECK_INT(og_session_timeline(c, other, s, NULL, 10, &page), OG_ERR_NOT_FOUND);
    struct og_viewer *mine = strcmp(holder, ann) == 0 ? &as_ann : &as_bob;
    CHECK_INT(og_session_timeline(c, mine, s, NULL, 10, &page), OG_OK);
    free(page);
    free(holder);
    og_routing_close(c, &as_admin, s, "solved", NULL, 0, &res);
    ok_or(&res, OG_OK);

    /* taken, assigned by a manager, returned (agent offline), archived */
    presence(c, ann, "offline");
    presence(c, bob, "offline");
    char s2[48], s3[48];
    new_session(c, "default", s2);
    new_session(c, "default", s3);
    og_routing_assign(c, &as_ann, s2, NULL, &res); /* Ann takes it (offline may take) */
    ok_or(&res, OG_OK);
    presence(c, bob, "online");
    og_routing_assign(c, &as_meg, s3, bob, &res);
    ok_or(&res, OG_OK);
    presence(c, bob, "offline"); /* returns s3 to the queue */
    og_routing_close(c, &as_ann, s2, "solved", NULL, 0, &res);
    ok_or(&res, OG_OK);
    rint_("ZADD {t}:timers:archive 1 %s", s2);
    CHECK_INT(og_routing_fire_timers(c, 10, &moved, &archived), OG_OK);
    CHECK_INT(archived, 1);
    tl = timeline(c, s2);
    CHECK_INT(json_object_array_length(tl), 4);
    CHECK_STR(at(entry(tl, 1), "kind"), "taken");
    CHECK_STR(at(entry(tl, 1), "by.name"), "Ann");
    CHECK_STR(at(entry(tl, 1), "agent.name"), "Ann");
    CHECK_STR(at(entry(tl, 2), "kind"), "closed");
    CHECK_STR(at(entry(tl, 3), "kind"), "archived");
    CHECK_STR(at(entry(tl, 3), "by.type"), "system");
    json_object_put(tl);
    tl = timeline(c, s3);
    CHECK_INT(json_object_array_length(tl), 3);
    CHECK_STR(at(entry(tl, 1), "kind"), "assigned");
    CHECK_STR(at(entry(tl, 1), "by.name"), "Meg");
    CHECK_STR(at(entry(tl, 1), "agent.name"), "Bob");
    CHECK_STR(at(entry(tl, 2), "kind"), "returned");
    CHECK_STR(at(entry(tl, 2), "from.name"), "Bob");
    CHECK_STR(at(entry(tl, 2), "reason"), "agent_offline");
    json_object_put(tl);

    /* a transfer to a group and to the forwarding level say so */
    presence(c, ann, "online");
    drain(c, "default");
    og_routing_transfer(c, &as_ann, s3, NULL, "g", NULL, &res);
    ok_or(&res, OG_OK);
    tl = timeline(c, s3);
    size_t n = json_object_array_length(tl);
    CHECK(n >= 5);
    e = entry(tl, 4);
    CHECK_STR(at(e, "kind"), "transferred");
    CHECK_STR(at(e, "to"), "null");
    CHECK_STR(at(e, "group"), "g");
    CHECK_STR(at(e, "comment"), "null");
    json_object_put(tl);

    /* soft delete: Bob goes, his name stays in every timeline */
    char bob_tok[64], bob_sha[65];
    og_agents_token_new(bob_tok, bob_sha);
    og_agents_set_token(c, bob, bob_sha, &res);
    ok_or(&res, OG_OK);
    og_agents_delete(c, bob, &res);
    ok_or(&res, OG_OK);
    tl = timeline(c, s);
    CHECK_STR(at(entry(tl, 2), "to.name"), "Bob");
    CHECK_STR(at(entry(tl, 3), "from.name"), "Bob");
    json_object_put(tl);
    tl = timeline(c, s3);
    CHECK_STR(at(entry(tl, 1), "agent.name"), "Bob");
    json_object_put(tl);
    char *aj = NULL;
    CHECK_INT(og_agents_get(c, bob, &aj), OG_OK); /* the record stays, marked */
    json_object *a = aj ? json_tokener_parse(aj) : NULL;
    CHECK_STR(at(a, "name"), "Bob");
    CHECK_STR(at(a, "deleted"), "true");
    CHECK(strlen(at(a, "deleted_at")) >= 20);
    CHECK_STR(at(a, "has_token"), "false");
    json_object_put(a);
    free(aj);
    char *list = NULL;
    CHECK_INT(og_agents_list(c, &list), OG_OK);
    CHECK(list && !strstr(list, bob)); /* not among the agents */
    free(list);
    CHECK_INT(og_agents_list_with_deleted(c, 1, &list), OG_OK);
    CHECK(list && strstr(list, bob));
    free(list);
    struct og_agent_auth au;
    CHECK_INT(og_agents_auth(c, bob_sha, &au), OG_ERR_NOT_FOUND); /* out of sign-in */
    og_routing_presence(c, bob, "online", &res);                  /* and of routing */
    ok_or(&res, OG_ERR_NOT_FOUND);
    CHECK_INT(rint_("SISMEMBER {t}:group:g %s", bob), 0);
    CHECK_INT(rint_("SISMEMBER {t}:agents %s", bob), 0);
    og_routing_transfer(c, &as_ann, s3, bob, NULL, NULL, &res);
    ok_or(&res, OG_ERR_NOT_FOUND);
    char bob2[48]; /* the e-mail is free again */
    agent(c, "Bob Two", "bob@t.io", "agent", "[]", bob2);
    CHECK(strcmp(bob2, bob) != 0);
    og_core_free(c);
}

/* ---------------------------------------------------------------- groups */

static void test_groups(void)
{
    reset();
    /* the config names group:api-team before anyone belongs to it */
    struct og_core *c = engine("{\"default\":{\"levels\":[{\"name\":\"l\",\"members\":"
                               "[\"group:api-team\"]}]}}",
                               NULL);
    char ann[48], bob[48], s[48];
    agent(c, "Ann", "ann@g.io", "agent", "[\"old\"]", ann);
    agent(c, "Bob", "bob@g.io", "agent", "[]", bob);
    presence(c, ann, "online");
    presence(c, bob, "online");
    new_session(c, "default", s);
    CHECK_INT(drain(c, "default"), 0); /* the group has nobody yet */

    char *list = NULL; /* config-named, an agent's own, nothing else */
    CHECK_INT(og_groups_list(c, &list), OG_OK);
    json_object *lj = json_tokener_parse(list), *items = NULL;
    json_object_object_get_ex(lj, "items", &items);
    CHECK_INT(json_object_array_length(items), 2);
    CHECK_STR(at(json_object_array_get_idx(items, 0), "name"), "api-team");
    CHECK_STR(at(json_object_array_get_idx(items, 0), "routing"), "[\"default\"]");
    CHECK_STR(at(json_object_array_get_idx(items, 1), "name"), "old");
    json_object_put(lj);
    free(list);

    struct og_routing_result res;
    const char *bob_only[] = {bob};
    og_groups_members(c, "api-team", OG_GROUP_ADD, bob_only, 1, &res);
    ok_or(&res, OG_OK);
    CHECK_INT(drain(c, "default"), 1); /* routed through the group the API filled */
    char *who = rstr("HGET {t}:ses:%s agent_id", s);
    CHECK_STR(who, bob);
    free(who);
    char *aj = NULL; /* the agent's own groups follow (its token's view) */
    CHECK_INT(og_agents_get(c, bob, &aj), OG_OK);
    CHECK(aj && strstr(aj, "\"groups\":[\"api-team\"]"));
    free(aj);

    /* create with members; names and ids are checked first */
    const char *both[] = {ann, bob};
    og_groups_create(c, "new team", both, 2, &res);
    ok_or(&res, OG_ERR_INVALID);
    const char *bad[] = {"agt_nope"};
    og_groups_create(c, "sales", bad, 1, &res);
    ok_or(&res, OG_ERR_INVALID);
    char ghost[48];
    og_id_new("agt_", og_now_ms(), ghost, sizeof ghost);
    const char *ghosts[] = {ghost};
    og_groups_create(c, "sales", ghosts, 1, &res);
    ok_or(&res, OG_ERR_NOT_FOUND);
    CHECK_INT(rint_("HEXISTS {t}:groups sales"), 0); /* nothing changed */
    og_groups_create(c, "sales", both, 2, &res);
    CHECK(res.json && strstr(res.json, "\"name\":\"Ann\"") && strstr(res.json, "\"name\":\"Bob\""));
    ok_or(&res, OG_OK);
    og_groups_create(c, "sales", NULL, 0, &res);
    ok_or(&res, OG_ERR_CONFLICT);
    og_groups_create(c, "old", NULL, 0, &res); /* exists through Ann */
    ok_or(&res, OG_ERR_CONFLICT);
    og_groups_create(c, "empty", NULL, 0, &res); /* a group may start empty */
    ok_or(&res, OG_OK);
    char *gj = NULL;
    CHECK_INT(og_groups_get(c, "empty", &gj), OG_OK);
    CHECK(gj && strstr(gj, "\"members\":[]"));
    free(gj);

    /* rename: refused for the config's group, carries members otherwise */
    og_groups_update(c, "api-team", "x", NULL, 0, &res);
    ok_or(&res, OG_ERR_CONFLICT);
    og_groups_update(c, "sales", "empty", NULL, 0, &res);
    ok_or(&res, OG_ERR_CONFLICT);
    struct og_canned_fields cf = {.shortcut = "#hi", .text = "Hi", .scope = "group:sales"};
    struct og_viewer as_meg = {OG_ROLE_MANAGER, "", NULL, 0};
    og_canned_put(c, &as_meg, NULL, &cf, &res);
    char cid[48];
    id_of(res.json, cid);
    ok_or(&res, OG_OK);
    og_groups_update(c, "sales", "sales-eu", NULL, 0, &res);
    ok_or(&res, OG_OK);
    CHECK_INT(rint_("SCARD {t}:group:sales"), 0);
    CHECK_INT(rint_("SCARD {t}:group:sales-eu"), 2);
    CHECK_INT(og_agents_get(c, ann, &aj), OG_OK);
    CHECK(aj && strstr(aj, "\"groups\":[\"old\",\"sales-eu\"]"));
    free(aj);
    char *sc = rstr("HGET {t}:canned:%s scope", cid);
    CHECK_STR(sc, "group:sales-eu"); /* its canned responses follow */
    free(sc);
    CHECK_INT(og_groups_get(c, "sales", &gj), OG_ERR_NOT_FOUND);
    /* a rename with a member list that names a missing agent: neither happens */
    og_groups_update(c, "sales-eu", "sales-x", ghosts, 1, &res);
    ok_or(&res, OG_ERR_NOT_FOUND);
    CHECK_INT(og_groups_get(c, "sales-x", &gj), OG_ERR_NOT_FOUND);
    CHECK_INT(rint_("SCARD {t}:group:sales-eu"), 2);

    /* members: replace, remove; delete only when unused */
    const char *ann_only[] = {ann};
    og_groups_members(c, "sales-eu", OG_GROUP_SET, ann_only, 1, &res);
    ok_or(&res, OG_OK);
    CHECK_INT(rint_("SISMEMBER {t}:group:sales-eu %s", bob), 0);
    og_groups_delete(c, "sales-eu", &res);
    CHECK(strstr(res.message, "member"));
    ok_or(&res, OG_ERR_CONFLICT);
    og_groups_members(c, "sales-eu", OG_GROUP_REMOVE, ann_only, 1, &res);
    ok_or(&res, OG_OK);
    og_groups_delete(c, "sales-eu", &res);
    CHECK(strstr(res.message, "canned"));
    ok_or(&res, OG_ERR_CONFLICT);
    og_canned_delete(c, &as_meg, cid, &res);
    ok_or(&res, OG_OK);
    og_groups_delete(c, "sales-eu", &res);
    ok_or(&res, OG_OK);
    og_groups_delete(c, "api-team", &res); /* the config names it (and Bob is in it) */
    ok_or(&res, OG_ERR_CONFLICT);
    og_groups_delete(c, "nope", &res);
    ok_or(&res, OG_ERR_NOT_FOUND);

    /* a session waiting for a group keeps it in use, and follows a rename */
    og_groups_create(c, "night", ann_only, 1, &res);
    ok_or(&res, OG_OK);
    presence(c, ann, "offline");
    const struct og_viewer as_bob = {OG_ROLE_AGENT, bob, NULL, 0};
    og_routing_transfer(c, &as_bob, s, NULL, "night", NULL, &res);
    ok_or(&res, OG_OK);
    og_groups_members(c, "night", OG_GROUP_REMOVE, ann_only, 1, &res);
    ok_or(&res, OG_OK);
    og_groups_delete(c, "night", &res);
    CHECK(strstr(res.message, "wait"));
    ok_or(&res, OG_ERR_CONFLICT);
    og_groups_update(c, "night", "late", NULL, 0, &res);
    ok_or(&res, OG_OK);
    char *qg = rstr("HGET {t}:ses:%s queue_group", s);
    CHECK_STR(qg, "late");
    free(qg);
    og_core_free(c);
}

/* ---------------------------------------------------------------- canned */

static void test_canned(void)
{
    reset();
    struct og_core *c = engine(NULL, NULL);
    char ann[48], bob[48], meg[48], s[48];
    agent(c, "Ann", "ann@c.io", "agent", "[\"billing\"]", ann);
    agent(c, "Bob", "bob@c.io", "agent", "[\"tech\"]", bob);
    agent(c, "Meg", "meg@c.io", "manager", "[]", meg);
    const char *billing[] = {"billing"}, *tech[] = {"tech"};
    struct og_viewer as_ann = {OG_ROLE_AGENT, ann, billing, 1};
    struct og_viewer as_bob = {OG_ROLE_AGENT, bob, tech, 1};
    struct og_viewer as_meg = {OG_ROLE_MANAGER, meg, NULL, 0};

    /* the rule itself */
    CHECK(og_canned_may(&as_ann, "global", 0) && !og_canned_may(&as_ann, "global", 1));
    CHECK(og_canned_may(&as_ann, "group:billing", 0) &&
          !og_canned_may(&as_ann, "group:billing", 1));
    CHECK(!og_canned_may(&as_ann, "group:tech", 0));
    CHECK(og_canned_may(&as_meg, "group:tech", 0) && og_canned_may(&as_meg, "group:tech", 1));
    CHECK(og_canned_may(&as_meg, "global", 1));
    char own[64];
    snprintf(own, sizeof own, "agent:%s", ann);
    CHECK(og_canned_may(&as_ann, own, 1) && !og_canned_may(&as_bob, own, 0));
    CHECK(!og_canned_may(&as_meg, own, 0)); /* personal: not even a manager */
    CHECK(!og_canned_may(&as_admin, own, 0) && og_canned_may(&as_admin, "global", 1));

    struct og_routing_result res;
    struct og_canned_fields f;
    char err[200];
    json_object *b = json_tokener_parse(
        "{\"shortcut\":\"#refund\",\"title\":\"Refund\",\"text\":\"Hello {{contact.name}}, "
        "{{agent.name}} here: your refund for {{session.id}} is on its way.\","
        "\"scope\":\"global\"}");
    CHECK_INT(og_canned_fields_from_json(b, 1, &as_ann, &f, err, sizeof err), 0);
    og_canned_put(c, &as_ann, NULL, &f, &res); /* an agent may not write global ones */
    ok_or(&res, OG_ERR_FORBIDDEN);
    og_canned_put(c, &as_meg, NULL, &f, &res);
    char refund[48];
    id_of(res.json, refund);
    ok_or(&res, OG_OK);
    og_canned_put(c, &as_meg, NULL, &f, &res); /* unique within the scope */
    ok_or(&res, OG_ERR_CONFLICT);
    og_canned_fields_free(&f);
    json_object_put(b);
    /* bad fields: a clear message and nothing stored */
    static const char *const bad[] = {
        "{\"shortcut\":\"refund\",\"text\":\"x\"}",
        "{\"shortcut\":\"#a b\",\"text\":\"x\"}",
        "{\"shortcut\":\"#x\",\"text\":\"{{transcript}}\"}",
        "{\"shortcut\":\"#x\"}",
        "{\"shortcut\":\"#x\",\"text\":\"t\",\"scope\":\"group:a b\"}",
        "{\"shortcut\":\"#x\",\"text\":\"t\",\"color\":\"red\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        b = json_tokener_parse(bad[i]);
        CHECK_INT(og_canned_fields_from_json(b, 1, &as_ann, &f, err, sizeof err), -1);
        json_object_put(b);
    }

    struct og_canned_fields g = {.shortcut = "#délai",
                                 .title = "Délai",
                                 .text = "Le délai est de 3 jours.",
                                 .scope = "group:billing"};
    og_canned_put(c, &as_meg, NULL, &g, &res);
    ok_or(&res, OG_OK);
    struct og_canned_fields t = {
        .shortcut = "#reset", .title = "Reset", .text = "Hold the button.", .scope = "group:tech"};
    og_canned_put(c, &as_meg, NULL, &t, &res);
    ok_or(&res, OG_OK);
    b = json_tokener_parse("{\"shortcut\":\"#REFUND\",\"text\":\"My own refund text\"}");
    CHECK_INT(og_canned_fields_from_json(b, 1, &as_ann, &f, err, sizeof err), 0);
    CHECK_STR(f.scope, own);                   /* an agent's default: its own */
    og_canned_put(c, &as_ann, NULL, &f, &res); /* the same shortcut in another scope */
    char annref[48];
    id_of(res.json, annref);
    CHECK(res.json && strstr(res.json, "\"scope\":\"agent\"") && strstr(res.json, ann));
    ok_or(&res, OG_OK);
    og_canned_fields_free(&f);
    json_object_put(b);

    /* what each one sees */
    char *l = NULL;
    CHECK_INT(og_canned_search(c, &as_ann, NULL, NULL, 50, &l), OG_OK);
    CHECK(l && strstr(l, "#refund") && strstr(l, "#délai") && strstr(l, "#REFUND"));
    CHECK(l && !strstr(l, "#reset"));
    free(l);
    CHECK_INT(og_canned_search(c, &as_bob, NULL, NULL, 50, &l), OG_OK);
    CHECK(l && strstr(l, "#refund") && strstr(l, "#reset") && !strstr(l, "#délai") &&
          !strstr(l, "#REFUND"));
    free(l);
    CHECK_INT(og_canned_search(c, &as_meg, NULL, NULL, 50, &l), OG_OK);
    CHECK(l && strstr(l, "#reset") && strstr(l, "#délai") && !strstr(l, "#REFUND"));
    free(l);
    CHECK_INT(og_canned_search(c, &as_bob, NULL, "group:billing", 50, &l), OG_ERR_FORBIDDEN);
    CHECK_INT(og_canned_search(c, &as_bob, NULL, "agent", 50, &l), OG_OK);
    CHECK(l && strstr(l, "\"items\":[]"));
    free(l);
    char *one = NULL;
    CHECK_INT(og_canned_get(c, &as_bob, annref, &one), OG_ERR_NOT_FOUND);
    CHECK_INT(og_canned_get(c, &as_meg, annref, &one), OG_ERR_NOT_FOUND);
    og_canned_delete(c, &as_bob, annref, &res);
    ok_or(&res, OG_ERR_NOT_FOUND);
    og_canned_delete(c, &as_ann, refund, &res); /* sees it, may not change it */
    ok_or(&res, OG_ERR_FORBIDDEN);

    /* search: a shortcut's beginning (with or without #), then words,
     * case- and accent-insensitive */
    CHECK_INT(og_canned_search(c, &as_ann, "#ref", NULL, 50, &l), OG_OK);
    json_object *lj = json_tokener_parse(l), *items = NULL;
    json_object_object_get_ex(lj, "items", &items);
    CHECK_INT(json_object_array_length(items), 2);
    json_object_put(lj);
    free(l);
    CHECK_INT(og_canned_search(c, &as_ann, "DELAI", NULL, 50, &l), OG_OK);
    CHECK(l && strstr(l, "#délai") && !strstr(l, "#refund"));
    free(l);
    CHECK_INT(og_canned_search(c, &as_ann, "way", NULL, 50, &l), OG_OK); /* in the text */
    CHECK(l && strstr(l, "#refund") && !strstr(l, "#délai"));
    free(l);
    CHECK_INT(og_canned_search(c, &as_ann, "jours", NULL, 50, &l), OG_OK);
    lj = json_tokener_parse(l);
    json_object_object_get_ex(lj, "items", &items);
    CHECK_INT(json_object_array_length(items), 1);
    json_object_put(lj);
    free(l);

    /* update: an agent moves its own to a scope it may not write: refused */
    struct og_canned_fields mv = {.scope = "global"};
    og_canned_put(c, &as_ann, annref, &mv, &res);
    ok_or(&res, OG_ERR_FORBIDDEN);
    struct og_canned_fields ed = {.text = "Edited {{contact.name}}"};
    og_canned_put(c, &as_ann, annref, &ed, &res);
    CHECK(res.json && strstr(res.json, "Edited"));
    ok_or(&res, OG_OK);

    /* rendering for a session */
    new_session(c, "default", s);
    presence(c, ann, "online");
    drain(c, "default");
    char *json = NULL;
    CHECK_INT(og_canned_render(c, &as_ann, refund, s, &json), OG_OK);
    json_object *rj = json ? json_tokener_parse(json) : NULL;
    char want[256];
    snprintf(want, sizeof want, "Hello Carla Customer, Ann here: your refund for %s is on its way.",
             s);
    CHECK_STR(at(rj, "text"), want);
    CHECK_STR(at(rj, "session_id"), s);
    json_object_put(rj);
    free(json);
    /* the admin token renders with the session's agent's name */
    CHECK_INT(og_canned_render(c, &as_admin, refund, s, &json), OG_OK);
    CHECK(json && strstr(json, "Ann here"));
    free(json);
    /* Bob may not see Ann's session, nor Ann Bob's group's responses */
    CHECK_INT(og_canned_render(c, &as_bob, refund, s, &json), OG_ERR_NOT_FOUND);
    char *reset_id = NULL;
    CHECK_INT(og_canned_search(c, &as_meg, "#reset", NULL, 5, &reset_id), OG_OK);
    lj = json_tokener_parse(reset_id);
    json_object_object_get_ex(lj, "items", &items);
    const char *rid = at(json_object_array_get_idx(items, 0), "id");
    CHECK_INT(og_canned_render(c, &as_ann, rid, s, &json), OG_ERR_NOT_FOUND);
    json_object_put(lj);
    free(reset_id);
    og_core_free(c);
}

/* ------------------------------------------------------- sensitive words */

static long long stream_count(const char *type)
{
    char *all = og_test_redis_cli(&rs, "XRANGE {t}:events - +");
    long long n = 0;
    for (const char *p = all ? all : ""; (p = strstr(p, type)) != NULL; p += strlen(type))
        if (p[strlen(type)] == '\n' || p[strlen(type)] == '\r')
            n++;
    free(all);
    return n;
}

/* The history of session sid (read through the API: customers' messages are
 * stored compactly, prelude.lua msg_pack). */
static char *history(struct og_core *c, const char *sid)
{
    char *json = NULL;
    CHECK_INT(og_session_messages(c, &as_admin, sid, NULL, 50, &json), OG_OK);
    return json ? json : og_strdup("");
}

static void test_sensitive(void)
{
    reset();
    static const char *const cust[] = {"idiot", "*scam*", "идиот*", "バカ"};
    static const char *const agents[] = {"guarantee*", "bank account"};
    struct og_sensitive_opts sw = {cust, 4, agents, 2, 0};
    struct og_core *c = engine(NULL, &sw);
    struct og_ingest_result r1, r2, r3, r4;
    ingest(c, "default", "lat", "Lou", "Vous êtes un ÍDÍÖT", &r1);
    ingest(c, "default", "cyr", "Ива", "Ты идиотка, это СКАМ? no, a scammer", &r2);
    ingest(c, "default", "jpn", "Jun", "ﾊﾞｶやろう", &r3);
    ingest(c, "default", "ok", "Oki", "a clean message about idiots? no: idiomatic", &r4);

    char *j1 = history(c, r1.session_id);
    CHECK(strstr(j1, "\"flags\":[\"sensitive\"],\"sensitive_terms\":[\"idiot\"]"));
    free(j1);
    char *j2 = history(c, r2.session_id);
    CHECK(strstr(j2, "\"sensitive_terms\":[\"*scam*\",\"идиот*\"]"));
    free(j2);
    char *j3 = history(c, r3.session_id);
    CHECK(strstr(j3, "\"sensitive_terms\":[\"バカ\"]"));
    free(j3);
    char *j4 = history(c, r4.session_id);
    CHECK(!strstr(j4, "flags") && !strstr(j4, "sensitive_terms"));
    free(j4);
    CHECK_INT(stream_count("message.flagged"), 3);

    /* the monitor: newest first, managers only, direction and channel */
    const struct og_viewer as_agent = {OG_ROLE_AGENT, "agt_x", NULL, 0};
    char *fl = NULL;
    CHECK_INT(og_sessions_flagged(c, &as_agent, NULL, NULL, NULL, 50, &fl), OG_ERR_FORBIDDEN);
    CHECK_INT(og_sessions_flagged(c, &as_admin, NULL, NULL, NULL, 2, &fl), OG_OK);
    json_object *fj = json_tokener_parse(fl), *items = NULL;
    json_object_object_get_ex(fj, "items", &items);
    CHECK_INT(json_object_array_length(items), 2);
    CHECK_STR(at(json_object_array_get_idx(items, 0), "message.id"), r3.message_id);
    CHECK_STR(at(json_object_array_get_idx(items, 1), "message.id"), r2.message_id);
    CHECK_STR(at(json_object_array_get_idx(items, 0), "session.id"), r3.session_id);
    CHECK_STR(at(fj, "next_cursor"), r2.message_id);
    char cursor[48];
    snprintf(cursor, sizeof cursor, "%s", r2.message_id);
    json_object_put(fj);
    free(fl);
    CHECK_INT(og_sessions_flagged(c, &as_admin, NULL, NULL, cursor, 2, &fl), OG_OK);
    fj = json_tokener_parse(fl);
    json_object_object_get_ex(fj, "items", &items);
    CHECK_INT(json_object_array_length(items), 1);
    CHECK_STR(at(json_object_array_get_idx(items, 0), "message.id"), r1.message_id);
    CHECK_STR(at(fj, "next_cursor"), "null");
    json_object_put(fj);
    free(fl);
    CHECK_INT(og_sessions_flagged(c, &as_admin, "out", NULL, NULL, 50, &fl), OG_OK);
    CHECK(fl && strstr(fl, "\"items\":[]"));
    free(fl);
    CHECK_INT(og_sessions_flagged(c, &as_admin, "in", "other", NULL, 50, &fl), OG_OK);
    CHECK(fl && strstr(fl, "\"items\":[]"));
    free(fl);

    /* an agent's reply: flagged, and sent all the same */
    struct og_outbox_msg m = {.text = "I GUARANTEE it, give me your bank  account",
                              .sender_id = "admin"};
    char *json = NULL, mid[48];
    CHECK_INT(og_outbox_reply(c, r4.session_id, &m, &json, mid, sizeof mid), OG_OK);
    CHECK(json && strstr(json, "\"sensitive_terms\":[\"guarantee*\",\"bank account\"]"));
    CHECK(json && strstr(json, "\"direction\":\"out\""));
    free(json);
    CHECK_INT(stream_count("message.flagged"), 4);
    CHECK_INT(og_sessions_flagged(c, &as_admin, "out", NULL, NULL, 50, &fl), OG_OK);
    CHECK(fl && strstr(fl, mid));
    free(fl);
    og_core_free(c);

    /* block mode: refused with the terms, nothing stored or queued */
    sw.block_agents = 1;
    c = engine(NULL, &sw);
    long long hist = rint_("ZCARD {t}:ses:%s:msgs", r4.session_id);
    long long outbox = rint_("XLEN {t}:outbox");
    long long flagged = rint_("ZCARD {t}:flagged");
    m.text = "we guarantee refunds";
    CHECK_INT(og_outbox_reply(c, r4.session_id, &m, &json, mid, sizeof mid), OG_ERR_FORBIDDEN);
    CHECK_STR(json, "[\"guarantee*\"]");
    free(json);
    CHECK_INT(rint_("ZCARD {t}:ses:%s:msgs", r4.session_id), hist);
    CHECK_INT(rint_("XLEN {t}:outbox"), outbox);
    CHECK_INT(rint_("ZCARD {t}:flagged"), flagged);
    CHECK_INT(stream_count("message.flagged"), 4);
    m.text = "no promises here";
    CHECK_INT(og_outbox_reply(c, r4.session_id, &m, &json, mid, sizeof mid), OG_OK);
    free(json);
    CHECK_INT(rint_("ZCARD {t}:ses:%s:msgs", r4.session_id), hist + 1);
    og_core_free(c);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    test_timeline();
    test_groups();
    test_canned();
    test_sensitive();
    og_test_redis_stop(&rs);
    return og_test_done();
}
