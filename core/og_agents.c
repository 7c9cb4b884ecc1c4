/* og_agents - see og_agents.h. */
#include "og_agents.h"
#include "og_core_int.h"
#include "og_groups.h"
#include "og_log.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ CIDR */

/* Parses "addr[/bits]" into a 16-byte address (IPv4 as v4-mapped IPv6) and a
 * prefix length over those 128 bits. 0 on success. */
static int cidr_parse(const char *s, unsigned char net[16], int *bits)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    long b = -1;
    if (slash) {
        *slash = 0;
        char *end;
        if (!slash[1])
            return -1;
        b = strtol(slash + 1, &end, 10);
        if (*end)
            return -1;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (b > 32)
            return -1;
        memset(net, 0, 10);
        net[10] = net[11] = 0xff;
        memcpy(net + 12, &a4, 4);
        *bits = b < 0 ? 128 : 96 + (int)b;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        if (b > 128)
            return -1;
        memcpy(net, &a6, 16);
        *bits = b < 0 ? 128 : (int)b;
        return 0;
    }
    return -1;
}

int og_cidr_valid(const char *s)
{
    unsigned char n[16];
    int b;
    return s && cidr_parse(s, n, &b) == 0;
}

static int prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int og_ip_allowed(const struct sockaddr *addr, const char *cidrs_json)
{
    json_object *arr = cidrs_json ? json_tokener_parse(cidrs_json) : NULL;
    if (!arr || !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) == 0) {
        json_object_put(arr);
        return 1;
    }
    unsigned char ip[16];
    int ok = 0;
    if (addr && addr->sa_family == AF_INET) {
        memset(ip, 0, 10);
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    } else if (addr && addr->sa_family == AF_INET6) {
        memcpy(ip, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    } else {
        json_object_put(arr);
        return 0;
    }
    for (size_t i = 0; !ok && i < json_object_array_length(arr); i++) {
        unsigned char net[16];
        int bits;
        const char *c = json_object_get_string(json_object_array_get_idx(arr, i));
        if (c && cidr_parse(c, net, &bits) == 0)
            ok = prefix_match(ip, net, bits);
    }
    json_object_put(arr);
    return ok;
}

/* ---------------------------------------------------------------- fields */

void og_agent_fields_free(struct og_agent_fields *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->kv[i]);
    f->n = 0;
}

static void add(struct og_agent_fields *f, const char *k, const char *v)
{
    f->kv[f->n++] = og_strdup(k);
    f->kv[f->n++] = og_strdup(v);
}

static int email_ok(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 254 || !at || at == s || !at[1] || strchr(at + 1, '@'))
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || *p == ':')
            return 0;
    return 1;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(errbuf, errlen, __VA_ARGS__);                                                     \
        og_agent_fields_free(f);                                                                   \
        return -1;                                                                                 \
    } while (0)

int og_agents_fields_from_json(json_object *j, int create, struct og_agent_fields *f, char *errbuf,
                               size_t errlen)
{
    memset(f, 0, sizeof *f);
    json_object_object_foreach(j, key, v)
    {
        if (!strcmp(key, "name") || !strcmp(key, "email") || !strcmp(key, "role")) {
            if (!json_object_is_type(v, json_type_string))
                FAIL("%s: must be a string", key);
            const char *s = json_object_get_string(v);
            if (!strcmp(key, "name") && (!*s || strlen(s) > 200))
                FAIL("name: must be 1-200 characters");
            if (!strcmp(key, "email") && !email_ok(s))
                FAIL("email: must be an e-mail address");
            if (!strcmp(key, "role") && strcmp(s, "admin") && strcmp(s, "manager") &&
                strcmp(s, "agent"))
                FAIL("role: must be admin, manager or agent");
            add(f, key, s);
        } else if (!strcmp(key, "groups") || !strcmp(key, "allowed_ips")) {
            int ips = key[0] == 'a';
            if (!json_object_is_type(v, json_type_array))
                FAIL("%s: must be an array of strings", key);
            json_object *norm = json_object_new_array();
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *e = json_object_array_get_idx(v, i);
                const char *s =
                    json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
                if (!s || (ips ? !og_cidr_valid(s) : !og_group_name_valid(s))) {
                    json_object_put(norm);
                    FAIL("%s[%zu]: must be %s", key, i,
                         ips ? "an IPv4/IPv6 address or CIDR"
                             : "a group name (1-64 of A-Z a-z 0-9 _ - .)");
                }
                json_object_array_add(norm, json_object_new_string(s));
            }
            add(f, ips ? "allowed_ips" : "groups",
                json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN));
            json_object_put(norm);
        } else if (!strcmp(key, "max_chats") || !strcmp(key, "max_nrt_chats")) {
            const char *field = key[4] == 'n' ? "max_nrt" : "max_chats";
            if (json_object_is_type(v, json_type_null)) {
                add(f, field, ""); /* unlimited */
                continue;
            }
            if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                json_object_get_int64(v) > 100000)
                FAIL("%s: must be an integer from 0 to 100000, or null for unlimited", key);
            char n[24];
            snprintf(n, sizeof n, "%lld", (long long)json_object_get_int64(v));
            add(f, field, n);
        } else {
            FAIL("%s: unknown field", key);
        }
    }
    if (create) {
        int has_email = 0;
        for (int i = 0; i < f->n; i += 2)
            has_email |= !strcmp(f->kv[i], "email");
        if (!has_email)
            FAIL("email: required");
    }
    return 0;
}

/* ---------------------------------------------------------------- tokens */

void og_agents_token_sha(const char *tok, char sha_hex[65])
{
    unsigned char d[32];
    og_sha256(tok, strlen(tok), d);
    og_hex_encode(d, 32, sha_hex, 65);
}

void og_agents_token_new(char tok[64], char sha_hex[65])
{
    unsigned char rnd[32];
    char b64[64];
    og_random_bytes(rnd, sizeof rnd);
    size_t n = og_base64_encode(rnd, sizeof rnd, b64, sizeof b64);
    /* base64url without padding: safe in a header and a shell */
    size_t o = 0;
    memcpy(tok, "ogt_", 4);
    o = 4;
    for (size_t i = 0; i < n && o < 63; i++) {
        char c = b64[i];
        if (c == '=')
            break;
        tok[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    tok[o] = 0;
    og_agents_token_sha(tok, sha_hex);
}

/* ------------------------------------------------------------------ store */

/* Fills res from a {"ok", json} reply (or just {"ok"}). */
static void put_result(struct og_core *c, int argc, const char **argv,
                       struct og_routing_result *res)
{
    redisReply *rep = NULL;
    memset(res, 0, sizeof *res);
    res->err =
        og_script_call(c, OG_LUA_AGENTS, argc, argv, NULL, &rep, res->message, sizeof res->message);
    if (res->err != OG_OK)
        return;
    if (rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_STRING)
        res->json = og_strndup(rep->element[1]->str, rep->element[1]->len);
    freeReplyObject(rep);
}

void og_agents_put(struct og_core *c, const char *mode, const char *id, const char *sha_hex,
                   const struct og_agent_fields *f, struct og_routing_result *res)
{
    char now_iso[32];
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *argv[24] = {c->tag, "put", now_iso, mode, id, sha_hex ? sha_hex : ""};
    int argc = 6;
    for (int i = 0; i < f->n && argc < 24; i++)
        argv[argc++] = f->kv[i];
    put_result(c, argc, argv, res);
}

void og_agents_delete(struct og_core *c, const char *id, struct og_routing_result *res)
{
    char now_iso[32];
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *argv[] = {c->tag, "delete", id, now_iso};
    put_result(c, 4, argv, res);
}

void og_agents_set_token(struct og_core *c, const char *id, const char *sha_hex,
                         struct og_routing_result *res)
{
    const char *argv[] = {c->tag, "token", id, sha_hex};
    put_result(c, 4, argv, res);
}

og_err og_agents_get(struct og_core *c, const char *id, char **json)
{
    const char *argv[] = {c->tag, "get", id};
    redisReply *rep = NULL;
    *json = NULL;
    og_err e = og_script_call(c, OG_LUA_AGENTS, 3, argv, NULL, &rep, NULL, 0);
    if (e != OG_OK)
        return e;
    if (rep->elements >= 2)
        *json = og_strndup(rep->element[1]->str, rep->element[1]->len);
    freeReplyObject(rep);
    return *json ? OG_OK : OG_ERR_INTERNAL;
}

og_err og_agents_list(struct og_core *c, char **json)
{
    return og_agents_list_with_deleted(c, 0, json);
}

og_err og_agents_list_with_deleted(struct og_core *c, int with_deleted, char **json)
{
    const char *argv[] = {c->tag, "list", with_deleted ? "1" : "0"};
    redisReply *rep = NULL;
    *json = NULL;
    og_err e = og_script_call(c, OG_LUA_AGENTS, 3, argv, NULL, &rep, NULL, 0);
    if (e != OG_OK)
        return e;
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    for (size_t i = 1; i < rep->elements; i++) {
        if (i > 1)
            og_buf_puts(&b, ",");
        og_buf_append(&b, rep->element[i]->str, rep->element[i]->len);
    }
    og_buf_puts(&b, "],\"next_cursor\":null}");
    freeReplyObject(rep);
    *json = b.data;
    return OG_OK;
}

og_err og_agents_seed(struct og_core *c, const struct og_agent_seed *seeds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct og_agent_fields f;
        char err[160], id[48], sha[65] = "";
        if (og_agents_fields_from_json(seeds[i].fields, 1, &f, err, sizeof err) != 0)
            continue; /* the config loader has reported it */
        og_id_new("agt_", og_now_ms(), id, sizeof id);
        if (seeds[i].token)
            og_agents_token_sha(seeds[i].token, sha);
        struct og_routing_result res;
        og_agents_put(c, "seed", id, seeds[i].token ? sha : NULL, &f, &res);
        og_agent_fields_free(&f);
        og_routing_result_free(&res);
        if (res.err == OG_ERR_UNAVAILABLE)
            return res.err;
        if (res.err != OG_OK)
            og_warn("agents[%zu]: %s", i, res.message[0] ? res.message : og_strerror(res.err));
    }
    return OG_OK;
}

og_err og_agents_auth(struct og_core *c, const char *sha_hex, struct og_agent_auth *a)
{
    memset(a, 0, sizeof *a);
    const char *argv[] = {c->tag, "auth", sha_hex};
    redisReply *rep = NULL;
    og_err e = og_script_call(c, OG_LUA_AGENTS, 3, argv, NULL, &rep, NULL, 0);
    if (e != OG_OK)
        return e;
    if (rep->elements == 5) {
        snprintf(a->id, sizeof a->id, "%s", rep->element[1]->str);
        snprintf(a->role, sizeof a->role, "%s", rep->element[2]->str);
        a->groups_json = og_strdup(rep->element[3]->str);
        a->allowed_ips_json = og_strdup(rep->element[4]->str);
    } else {
        e = OG_ERR_INTERNAL;
    }
    freeReplyObject(rep);
    return e;
}

void og_agent_auth_free(struct og_agent_auth *a)
{
    free(a->groups_json);
    free(a->allowed_ips_json);
    a->groups_json = a->allowed_ips_json = NULL;
}
