/* og_script - see og_script.h. */
#include "og_script.h"
#include "og_core_int.h"
#include "og_err.h"
#include "og_log.h"
#include "og_util.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct og_script *og_core_lua(struct og_core *c, enum og_lua id)
{
    return c->lua[id];
}

int og_script_busy_error(const char *err)
{
    return og_redis_try_later(err);
}

og_err og_script_reply(const char *name, const redisReply *r, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = 0;
    if (r->type == REDIS_REPLY_ERROR)
        return og_script_busy_error(r->str) ? OG_ERR_UNAVAILABLE : OG_ERR_INTERNAL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        og_error("script %s: reply is not {\"ok\", ...} or {\"err\", code, message}", name);
        return OG_ERR_INTERNAL;
    }
    const char *head = r->element[0]->str;
    if (strcmp(head, "ok") == 0)
        return OG_OK;
    if (strcmp(head, "err") != 0 || r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING) {
        og_error("script %s: reply starts with '%s'", name, head);
        return OG_ERR_INTERNAL;
    }
    og_err e = og_err_from_name(r->element[1]->str);
    const char *text =
        r->elements >= 3 && r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "";
    if (msg && msglen)
        snprintf(msg, msglen, "%s", text);
    /* a write the script's pcall caught because Redis is full (or loading,
     * or a replica): try later, like the same refusal outside a script */
    if (e == OG_ERR_INTERNAL && og_redis_try_later(text))
        return OG_ERR_UNAVAILABLE;
    if (e == OG_ERR_INTERNAL)
        og_error("script %s: %s%s%s", name, r->element[1]->str, msg && *msg ? ": " : "",
                 msg ? msg : "");
    return e;
}

og_err og_script_call(struct og_core *c, enum og_lua id, int argc, const char **argv,
                      const size_t *lens, redisReply **reply, char *msg, size_t msglen)
{
    struct og_script *s = c->lua[id];
    *reply = NULL;
    if (msg && msglen)
        msg[0] = 0;
    redisReply *r = NULL;
    og_err e = og_redis_eval(c->redis, s, 0, argc, argv, lens, &r);
    if (e != OG_OK)
        return e;
    e = og_script_reply(s->name, r, msg, msglen);
    if (e == OG_OK)
        *reply = r;
    else
        freeReplyObject(r);
    return e;
}

/* Appends text to b, counting its lines into *line. */
static void put(struct og_buf *b, int *line, const char *text)
{
    for (const char *p = text; *p; p++)
        *line += *p == '\n';
    og_buf_append(b, text, strlen(text));
}

/* The library's code with hash (16 hex, or "" to compute it) in its names;
 * lib's part map filled when lib is given. */
static char *library_code(const char *prelude, size_t n, const char *const *names,
                          const char *const *bodies, const char *hash, struct og_fnlib *lib)
{
    struct og_buf b = {0};
    int line = 1;
    char head[160];
    snprintf(head, sizeof head, "#!lua name=omnigate_%s\n", hash);
    put(&b, &line, head);
    if (lib)
        lib->part_file[0] = "prelude", lib->part_line[0] = line;
    put(&b, &line, prelude);
    for (size_t i = 0; i < n; i++) {
        /* The body runs as the callback, with KEYS and ARGV as EVAL had
         * them; the prelude's helpers are its upvalues (Lua 5.1: at most 60
         * per function - a script over that fails to load, loudly).
         * call_begin resets the prelude's per-call state. Line numbers in
         * Redis's errors are the library's: og_redis.c maps them back. */
        put(&b, &line, "\ndo local og_fn_ = function(KEYS, ARGV) call_begin()\n");
        if (lib)
            lib->part_file[i + 1] = names[i], lib->part_line[i + 1] = line;
        put(&b, &line, bodies[i]);
        /* stream.lua trims: it must run while Redis is out of memory, as
         * it did as EVAL (whose deletes Redis always took), since that is
         * when trimming matters most; its only other write is a small
         * HSET. Every other script is refused then and its no-writes twin
         * answers reads (og_redis_eval). */
        const char *flags = strcmp(names[i], "stream") == 0 ? ", flags={'allow-oom'}" : "";
        char *reg = og_sprintf("\nend\nredis.register_function{function_name='og_%s_%s', "
                               "callback=og_fn_%s}\nredis.register_function{function_name="
                               "'og_%s_ro_%s', callback=og_fn_, flags={'no-writes'}}\nend\n",
                               names[i], hash, flags, names[i], hash);
        put(&b, &line, reg);
        free(reg);
    }
    og_buf_append(&b, "", 1);
    return b.data;
}

struct og_fnlib *og_script_library(const char *prelude, size_t n, const char *const *names,
                                   const char *const *bodies, struct og_script **scripts)
{
    /* The names carry a hash of the whole code, so instances of different
     * versions sharing one Redis each call their own library, and a
     * library of that name is always this code ("already exists" is
     * success). */
    char *draft = library_code(prelude, n, names, bodies, "", NULL);
    unsigned char d[SHA_DIGEST_LENGTH];
    char hex[41];
    SHA1((const unsigned char *)draft, strlen(draft), d);
    og_hex_encode(d, sizeof d, hex, sizeof hex);
    free(draft);
    hex[16] = 0;
    struct og_fnlib *lib = og_calloc(1, sizeof *lib);
    lib->n_parts = n + 1;
    lib->part_file = og_calloc(n + 1, sizeof *lib->part_file);
    lib->part_line = og_calloc(n + 1, sizeof *lib->part_line);
    lib->name = og_sprintf("omnigate_%s", hex);
    lib->code = library_code(prelude, n, names, bodies, hex, lib);
    for (size_t i = 0; i < n; i++) {
        char *fn = og_sprintf("og_%s_%s", names[i], hex);
        char *ro = og_sprintf("og_%s_ro_%s", names[i], hex);
        scripts[i] = og_script_fn(names[i], lib, fn, ro);
        free(fn);
        free(ro);
    }
    return lib;
}

og_err og_script_load(struct og_core *c, char *msg, size_t msglen)
{
    return og_redis_fnlib_load(c->redis, c->lua_lib, msg, msglen);
}
