/* test_script - the core's scripts as one Redis Function library
 * (og_script.h) against a real redis-server without persistence:
 *   - every script loads (FUNCTION LOAD: each one and its no-writes twin is
 *     listed), a second load is success ("already exists"), and the names
 *     carry the library's hash;
 *   - a call after FUNCTION FLUSH (also with WAIT) and after a restart that
 *     lost everything loads the library again and answers;
 *   - out of memory, a read still answers (the no-writes twin) and a write
 *     is "try later", as with EVAL;
 *   - a library Redis refuses (a syntax error; a body with more than 59 of
 *     the prelude's locals as upvalues, call_begin being the 60th) is
 *     OG_ERR_INTERNAL with the script's own file and line;
 *   - every top-level variable of prelude.lua that any script changes
 *     (name = ..., name[k] = ..., name.f = ..., table.insert(name, ...)) is
 *     named in call_begin (reset there), since it now outlives the call (a text scan of
 *     core/lua: a new cache that is not reset fails here). */
#include "og_core.h"
#include "og_core_int.h"
#include "og_redis.h"
#include "og_script.h"
#include "og_test.h"
#include "og_util.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

extern const char og_lua_prelude[];

/* FUNCTION LIST's functions of lib, counted in its text. */
static int listed(struct og_test_redis *rs, const char *lib)
{
    char args[128];
    snprintf(args, sizeof args, "FUNCTION LIST LIBRARYNAME %s", lib);
    char *out = og_test_redis_cli(rs, args);
    int n = 0;
    for (const char *p = out; p && (p = strstr(p, "\nog_")) != NULL; p++)
        n++;
    free(out);
    return n;
}

/* contacts.lua's get of contact c1: the status, and its JSON into json. */
static og_err contact_get(struct og_core *c, char *json, size_t n)
{
    const char *argv[] = {c->tag, "get", "c1"};
    redisReply *r = NULL;
    char msg[200];
    og_err e = og_script_call(c, OG_LUA_CONTACTS, 3, argv, NULL, &r, msg, sizeof msg);
    json[0] = 0;
    if (e == OG_OK) {
        snprintf(json, n, "%s", r->elements > 1 ? r->element[1]->str : "");
        freeReplyObject(r);
    }
    return e;
}

static og_err contact_patch(struct og_core *c)
{
    const char *argv[] = {c->tag, "patch", "c1", "name", "Bea"};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_CONTACTS, 5, argv, NULL, &r, NULL, 0);
    if (r)
        freeReplyObject(r);
    return e;
}

static void test_core_library(struct og_test_redis *rs)
{
    struct og_core *c = og_test_core_new(rs, "t", 2);
    CHECK(c != NULL);
    if (!c)
        return;
    const char *lib = c->lua_lib->name;
    CHECK_INT((int)strlen(lib), 9 + 16); /* omnigate_<16 hex> */
    CHECK(strncmp(lib, "omnigate_", 9) == 0);
    char *want = og_sprintf("og_ingest_%s", lib + 9);
    CHECK_STR(og_core_lua(c, OG_LUA_INGEST)->fn, want);
    free(want);
    char msg[600];
    CHECK_INT(og_core_load_scripts(c, msg, sizeof msg), OG_OK);
    CHECK_INT(listed(rs, lib), 2 * OG_LUA__LAST);               /* every script and its twin */
    CHECK_INT(og_core_load_scripts(c, msg, sizeof msg), OG_OK); /* already there */

    free(og_test_redis_cli(rs, "HSET {t}:con:c1 id c1 channel example name Ann"));
    char json[256];
    CHECK_INT(contact_get(c, json, sizeof json), OG_OK);
    CHECK(strstr(json, "\"Ann\"") != NULL);
    /* gone from Redis: the next call loads it again */
    free(og_test_redis_cli(rs, "FUNCTION FLUSH"));
    CHECK_INT(listed(rs, lib), 0);
    CHECK_INT(contact_get(c, json, sizeof json), OG_OK);
    CHECK(strstr(json, "\"Ann\"") != NULL);
    CHECK_INT(listed(rs, lib), 2 * OG_LUA__LAST);

    /* the same on the WAIT path (redis.durability "replicated"): the load
     * and the call on one connection, then WAIT (0 replicas here) */
    free(og_test_redis_cli(rs, "FUNCTION FLUSH"));
    const char *argv[] = {c->tag, "get", "c1"};
    redisReply *r = NULL;
    CHECK_INT(
        og_redis_eval_wait(c->redis, og_core_lua(c, OG_LUA_CONTACTS), 3, argv, NULL, 0, 100, &r),
        OG_OK);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          strstr(r->element[1]->str, "\"Ann\""));
    if (r)
        freeReplyObject(r);
    CHECK_INT(listed(rs, lib), 2 * OG_LUA__LAST);

    /* out of memory: a read answers, a write is "try later" (503) and
     * writes nothing */
    free(og_test_redis_cli(rs, "CONFIG SET maxmemory-policy noeviction"));
    free(og_test_redis_cli(rs, "CONFIG SET maxmemory 1"));
    CHECK_INT(contact_get(c, json, sizeof json), OG_OK);
    CHECK(strstr(json, "\"Ann\"") != NULL);
    CHECK_INT(contact_patch(c), OG_ERR_UNAVAILABLE);
    free(og_test_redis_cli(rs, "CONFIG SET maxmemory 0"));
    CHECK_INT(contact_get(c, json, sizeof json), OG_OK);
    CHECK(strstr(json, "\"Ann\"") != NULL); /* the refused patch wrote nothing */
    CHECK_INT(contact_patch(c), OG_OK);
    CHECK_INT(contact_get(c, json, sizeof json), OG_OK);
    CHECK(strstr(json, "\"Bea\"") != NULL);

    /* a restart without persistence: no data, no library; the call that
     * meets that loads it and answers (not_found: the contact is gone) */
    og_test_redis_kill(rs);
    CHECK_INT(og_test_redis_restart(rs), 0);
    CHECK_INT(listed(rs, lib), 0);
    CHECK_INT(contact_get(c, json, sizeof json), OG_ERR_NOT_FOUND);
    CHECK_INT(listed(rs, lib), 2 * OG_LUA__LAST);
    og_core_free(c);
}

/* A library of one script, loaded into rs's Redis: the status, msg. */
static og_err load_one(struct og_test_redis *rs, const char *prelude, const char *body, char *msg,
                       size_t msglen)
{
    struct og_redis_opts ro = {.url = rs->url, .pool_size = 1};
    char err[128];
    struct og_redis *r = og_redis_new(&ro, err, sizeof err);
    const char *names[] = {"broken"}, *bodies[] = {body};
    struct og_script *s = NULL;
    struct og_fnlib *lib = og_script_library(prelude, 1, names, bodies, &s);
    og_err e = og_redis_fnlib_load(r, lib, msg, msglen);
    og_script_free(s);
    og_fnlib_free(lib);
    og_redis_free(r);
    return e;
}

static void test_refused(struct og_test_redis *rs)
{
    char msg[600];
    /* a syntax error on the body's third line */
    CHECK_INT(
        load_one(rs, og_lua_prelude, "local a = 1\nlocal b = 2\nreturn a +\n", msg, sizeof msg),
        OG_ERR_INTERNAL);
    const char *at = strstr(msg, "(broken.lua:");
    CHECK(at != NULL);
    CHECK(at && atoi(at + 12) >= 3); /* at 'a +' or after it, not in the prelude */
    /* 61 locals of the prelude in one body: more upvalues than Lua 5.1
     * takes (60), refused at load, not at the first call */
    struct og_buf pre = {0}, body = {0};
    og_buf_puts(&pre, "local function call_begin() end\n");
    og_buf_puts(&body, "return 0");
    for (int i = 0; i < 61; i++) {
        og_buf_printf(&pre, "local v%d = %d\n", i, i);
        og_buf_printf(&body, " + v%d", i);
    }
    og_buf_puts(&body, "\n");
    og_buf_append(&pre, "", 1);
    og_buf_append(&body, "", 1);
    CHECK_INT(load_one(rs, pre.data, body.data, msg, sizeof msg), OG_ERR_INTERNAL);
    CHECK(strstr(msg, "upvalues") != NULL);
    /* 59 is fine (call_begin is the 60th) */
    char *v59 = strstr(body.data, " + v59");
    *v59 = 0;
    CHECK_INT(load_one(rs, pre.data, body.data, msg, sizeof msg), OG_OK);
    og_buf_free(&pre);
    og_buf_free(&body);
}

static int ident(int ch)
{
    return isalnum(ch) || ch == '_';
}

/* 1 when line (comments cut) changes the variable name. */
static int changes(const char *line, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(line, name); p; p = strstr(p + 1, name)) {
        if ((p > line && (ident(p[-1]) || p[-1] == '.' || p[-1] == ':')) || ident(p[n]))
            continue;
        if (p >= line + 13 && strncmp(p - 13, "table.insert(", 13) == 0)
            return 1;
        const char *q = p + n;
        for (;;) { /* name[...].f[...] = */
            if (*q == '[') {
                int depth = 0;
                for (; *q; q++) {
                    depth += *q == '[';
                    depth -= *q == ']';
                    if (depth == 0)
                        break;
                }
                if (*q)
                    q++;
            } else if (*q == '.' && ident(q[1])) {
                for (q++; ident(*q); q++)
                    ;
            } else {
                break;
            }
        }
        while (*q == ' ')
            q++;
        if (*q == ',') /* a, name = ...: the assignment's target list */
            return strchr(q, '=') && strchr(q, '=')[1] != '=';
        if (*q == '=' && q[1] != '=')
            return 1;
    }
    return 0;
}

/* 1 when text names the variable name (call_begin resets it). */
static int mentions(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name))
        if ((p == text || (!ident(p[-1]) && p[-1] != '.')) && !ident(p[n]))
            return 1;
    return 0;
}

static void test_prelude_state(void)
{
    char *pre = og_test_read_src("core/lua/prelude.lua", NULL);
    CHECK(pre != NULL);
    if (!pre)
        return;
    /* call_begin's body: what is reset */
    const char *cb = strstr(pre, "\nlocal function call_begin()");
    CHECK(cb != NULL);
    const char *cb_end = cb ? strstr(cb, "\nend") : NULL;
    char *reset = cb && cb_end ? og_strndup(cb, (size_t)(cb_end - cb)) : og_strdup("");
    /* the top-level variables: "local a, b = ..." at the start of a line */
    char *names[256];
    int n = 0;
    for (const char *l = pre; l && n < 256; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, "local ", 6) != 0 || strncmp(l, "local function ", 15) == 0)
            continue;
        const char *p = l + 6, *end = p + strcspn(p, "=\n");
        while (p < end && n < 256) {
            while (p < end && (*p == ' ' || *p == ','))
                p++;
            const char *s0 = p;
            while (p < end && ident(*p))
                p++;
            if (p > s0)
                names[n++] = og_strndup(s0, (size_t)(p - s0));
            else
                break;
        }
    }
    CHECK(n >= 2); /* goal_cache and texts_cache at least */
    char *dir = og_test_src("core/lua");
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int files = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0)
            continue;
        files++;
        char *fp = og_sprintf("%s/%s", dir, e->d_name);
        char *text = og_test_read_file(fp, NULL);
        free(fp);
        int lineno = 0;
        for (char *l = text, *next; l; l = next) {
            next = strchr(l, '\n');
            if (next)
                *next++ = 0;
            lineno++;
            char *c = strstr(l, "--");
            if (c)
                *c = 0;
            if (strstr(l, "local ")) /* a local of the same name, not the prelude's */
                continue;
            for (int i = 0; i < n; i++) {
                if (!changes(l, names[i]))
                    continue;
                int is_reset = mentions(reset, names[i]);
                if (!is_reset)
                    fprintf(stderr,
                            "%s:%d changes %s, a top-level variable of prelude.lua, which "
                            "lasts from call to call: reset it in call_begin\n",
                            e->d_name, lineno, names[i]);
                CHECK(is_reset);
            }
        }
        free(text);
    }
    if (d)
        closedir(d);
    CHECK(files > 20);
    CHECK(changes("    goal_cache[ch or ''] = g", "goal_cache"));
    CHECK(changes("  goal_cache, texts_cache = {}, {}", "texts_cache"));
    CHECK(!changes("  if goal_cache[ch] == g then", "goal_cache"));
    CHECK(!changes("  x.goal_cache = 1", "goal_cache"));
    CHECK(changes("    ST_DIRECT.buf[#ST_DIRECT.buf + 1] = fact", "ST_DIRECT"));
    CHECK(changes("then ST_DIRECT.on = true end", "ST_DIRECT"));
    CHECK(!changes("  if ST_DIRECT.on == true then", "ST_DIRECT"));
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(dir);
    free(reset);
    free(pre);
}

int main(void)
{
    test_prelude_state();
    struct og_test_redis rs;
    if (og_test_redis_start_with(&rs, "--appendonly no") != 0)
        return 1;
    test_core_library(&rs);
    test_refused(&rs);
    og_test_redis_stop(&rs);
    return og_test_done();
}
