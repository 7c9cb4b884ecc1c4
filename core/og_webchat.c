/* og_webchat - see og_webchat.h. */
#include "og_webchat.h"
#include "og_agents.h"
#include "og_core_int.h"
#include "og_csat.h"
#include "og_log.h"
#include "og_outbox.h"
#include "og_routing.h"
#include "og_sessions.h"
#include "og_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_BYTES 32
#define TOKEN_CHARS 43 /* base64url of 32 bytes, unpadded */

/* ------------------------------------------------------------ helpers */

static og_err call(struct og_core *c, int argc, const char **argv, redisReply **r, char *msg,
                   size_t msglen)
{
    return og_script_call(c, OG_LUA_WEBCHAT, argc, argv, NULL, r, msg, msglen);
}

static const char *el(const redisReply *r, size_t i)
{
    return r && i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str
                                                                             : "";
}

/* The token's SHA-256 as hex: the only form the token is stored in. */
static void token_hash(const char *token, char hex[65])
{
    unsigned char h[32];
    og_sha256(token, strlen(token), h);
    og_hex_encode(h, sizeof h, hex, 65);
}

/* A short non-secret key of a token for rate limits: a hash of its hash. */
static void token_key(const char *hash_hex, char *out, size_t outsz)
{
    unsigned char h[32];
    og_sha256(hash_hex, strlen(hash_hex), h);
    og_hex_encode(h, 8, out, outsz);
}

static int token_shape_ok(const char *t)
{
    if (strlen(t) != TOKEN_CHARS)
        return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

static const char *str_of(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* ------------------------------------------------------------ agent names */

#define NAME_CACHE 128
#define NAME_TTL_MS 30000
static struct {
    char id[48], name[128];
    int64_t at;
} names[NAME_CACHE];
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;

void og_webchat_agent_name(struct og_core *c, const char *agent_id, char *out, size_t outsz)
{
    if (outsz)
        out[0] = 0;
    if (!agent_id || !*agent_id || strlen(agent_id) >= sizeof names[0].id)
        return;
    unsigned h = 5381;
    for (const char *p = agent_id; *p; p++)
        h = h * 33 + (unsigned char)*p;
    size_t slot = h % NAME_CACHE;
    int64_t now = og_mono_ms();
    pthread_mutex_lock(&names_mu);
    if (strcmp(names[slot].id, agent_id) == 0 && now - names[slot].at < NAME_TTL_MS) {
        snprintf(out, outsz, "%s", names[slot].name);
        pthread_mutex_unlock(&names_mu);
        return;
    }
    pthread_mutex_unlock(&names_mu);
    char *j = NULL;
    if (og_agents_get(c, agent_id, &j) != OG_OK)
        return;
    json_object *a = json_tokener_parse(j);
    free(j);
    const char *n = str_of(a, "name");
    snprintf(out, outsz, "%s", n ? n : "");
    pthread_mutex_lock(&names_mu);
    snprintf(names[slot].id, sizeof names[slot].id, "%s", agent_id);
    snprintf(names[slot].name, sizeof names[slot].name, "%s", n ? n : "");
    names[slot].at = now;
    pthread_mutex_unlock(&names_mu);
    json_object_put(a);
}

/* ------------------------------------------------------------ the views */

static json_object *jstr_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static char *dump(json_object *o)
{
    char *s = og_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

char *og_webchat_vm(struct og_core *c, json_object *m, const char *channel)
{
    const char *dir = str_of(m, "direction"), *st = str_of(m, "status");
    if (!str_of(m, "id") || !dir)
        return NULL;
    int out = strcmp(dir, "out") == 0;
    if (out && (!st || !strcmp(st, "pending") || !strcmp(st, "failed")))
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(str_of(m, "id")));
    json_object_object_add(o, "direction", json_object_new_string(out ? "out" : "in"));
    const char *kind = str_of(m, "kind");
    json_object_object_add(o, "kind", json_object_new_string(kind ? kind : "text"));
    json_object_object_add(o, "text", jstr_or_null(str_of(m, "text")));
    json_object_object_add(o, "created_at", jstr_or_null(str_of(m, "created_at")));
    json_object *snd = NULL, *vs = json_object_new_object();
    json_object_object_get_ex(m, "sender", &snd);
    const char *stype = str_of(snd, "type");
    if (!stype)
        stype = out ? "agent" : "contact";
    json_object_object_add(vs, "type", json_object_new_string(stype));
    char name[128] = "";
    if (!strcmp(stype, "agent"))
        og_webchat_agent_name(c, str_of(snd, "id"), name, sizeof name);
    else if (!strcmp(stype, "contact") && str_of(snd, "name"))
        snprintf(name, sizeof name, "%s", str_of(snd, "name"));
    json_object_object_add(vs, "name", name[0] ? json_object_new_string(name) : NULL);
    json_object_object_add(o, "sender", vs);
    /* the widget's client_id: what follows "<visitor>/" in the provider id,
     * unless the connector made the key itself ("~...") */
    const char *pmid = out ? NULL : str_of(m, "provider_message_id");
    const char *slash = pmid ? strchr(pmid, '/') : NULL;
    json_object_object_add(o, "client_id",
                           slash && slash[1] && slash[1] != '~' ? json_object_new_string(slash + 1)
                                                                : NULL);
    json_object *atts = NULL, *va = json_object_new_array();
    json_object_object_get_ex(m, "attachments", &atts);
    for (size_t i = 0;
         atts && json_object_is_type(atts, json_type_array) && i < json_object_array_length(atts);
         i++) {
        json_object *a = json_object_array_get_idx(atts, i), *x = json_object_new_object();
        json_object *size = NULL;
        json_object_object_get_ex(a, "size", &size);
        /* a file the visitor sent is served to it under its own tree */
        const char *fid = str_of(a, "media_id");
        int mine = fid && !strncmp(fid, "fil_", 4) && channel;
        json_object_object_add(x, "id", mine ? json_object_new_string(fid) : NULL);
        json_object_object_add(x, "name", jstr_or_null(str_of(a, "name")));
        json_object_object_add(x, "type", jstr_or_null(str_of(a, "mime_type")));
        json_object_object_add(x, "size",
                               json_object_new_int64(size ? json_object_get_int64(size) : 0));
        if (mine) {
            char *u = og_sprintf("/webchat/%s/attachments/%s", channel, fid);
            json_object_object_add(x, "url", json_object_new_string(u));
            free(u);
        } else {
            json_object_object_add(x, "url", jstr_or_null(str_of(a, "url")));
        }
        json_object_array_add(va, x);
    }
    json_object_object_add(o, "attachments", va);
    return dump(o);
}

char *og_webchat_vs(struct og_core *c, json_object *s)
{
    json_object *o = json_object_new_object();
    const char *st = str_of(s, "status");
    const char *vst = !st                                                ? "queued"
                      : !strcmp(st, "closed") || !strcmp(st, "archived") ? "closed"
                      : !strcmp(st, "active") || !strcmp(st, "awaiting") ? "active"
                                                                         : "queued";
    json_object_object_add(o, "id", jstr_or_null(str_of(s, "id")));
    json_object_object_add(o, "status", json_object_new_string(vst));
    char name[128] = "";
    if (strcmp(vst, "closed") != 0)
        og_webchat_agent_name(c, str_of(s, "agent_id"), name, sizeof name);
    json_object *agent = NULL;
    if (name[0]) {
        agent = json_object_new_object();
        json_object_object_add(agent, "name", json_object_new_string(name));
    }
    json_object_object_add(o, "agent", agent);
    json_object_object_add(o, "created_at", jstr_or_null(str_of(s, "created_at")));
    json_object_object_add(o, "closed_at", jstr_or_null(str_of(s, "closed_at")));
    json_object *csat = NULL;
    json_object_object_get_ex(s, "csat", &csat);
    json_object_object_add(o, "csat", csat ? json_object_get(csat) : NULL);
    return dump(o);
}

/* ------------------------------------------------------------ the ops */

static og_err op_rate(void *ud, struct og_channel *ch, const char *key, int limit,
                      int64_t window_ms, long *retry)
{
    struct og_core *c = ud;
    char lim[16], win[24], msg[64] = "";
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(win, sizeof win, "%lld", (long long)window_ms);
    const char *argv[] = {c->tag, "rate", ch->id, key, lim, win};
    redisReply *r = NULL;
    og_err e = call(c, 6, argv, &r, msg, sizeof msg);
    if (e == OG_ERR_RATE_LIMITED)
        *retry = strtol(msg, NULL, 10);
    freeReplyObject(r);
    return e;
}

static og_err op_create(void *ud, struct og_channel *ch, const struct og_profile *who,
                        char token[64], struct og_visitor *v)
{
    struct og_core *c = ud;
    unsigned char raw[TOKEN_BYTES];
    og_random_bytes(raw, sizeof raw);
    char b64[64];
    og_base64_encode(raw, sizeof raw, b64, sizeof b64);
    for (char *p = b64; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    b64[strcspn(b64, "=")] = 0;
    char hash[65], now_iso[32], eid[48];
    token_hash(b64, hash);
    int64_t now = og_now_ms();
    og_time_rfc3339(now, now_iso);
    og_id_new("v_", now, v->external_id, sizeof v->external_id);
    og_id_new("con_", now, v->contact_id, sizeof v->contact_id);
    og_id_new("evt_", now, eid, sizeof eid);
    const char *argv[] = {c->tag,
                          "create",
                          ch->id,
                          v->external_id,
                          v->contact_id,
                          who && who->name ? who->name : "",
                          who && who->email ? who->email : "",
                          who && who->phone ? who->phone : "",
                          now_iso,
                          hash,
                          eid};
    redisReply *r = NULL;
    og_err e = call(c, 11, argv, &r, NULL, 0);
    freeReplyObject(r);
    if (e != OG_OK) {
        memset(v, 0, sizeof *v);
        return e;
    }
    token_key(hash, v->token_key, sizeof v->token_key);
    snprintf(token, 64, "%s", b64);
    return OG_OK;
}

static og_err op_auth(void *ud, struct og_channel *ch, const char *token, struct og_visitor *v)
{
    struct og_core *c = ud;
    if (!token_shape_ok(token))
        return OG_ERR_SIGNATURE;
    char hash[65];
    token_hash(token, hash);
    const char *argv[] = {c->tag, "auth", hash};
    redisReply *r = NULL;
    og_err e = call(c, 3, argv, &r, NULL, 0);
    if (e == OG_ERR_NOT_FOUND)
        return OG_ERR_SIGNATURE;
    if (e != OG_OK)
        return e;
    /* a token of another channel is no token here */
    if (strcmp(el(r, 1), ch->id) != 0) {
        freeReplyObject(r);
        return OG_ERR_SIGNATURE;
    }
    snprintf(v->external_id, sizeof v->external_id, "%s", el(r, 2));
    snprintf(v->contact_id, sizeof v->contact_id, "%s", el(r, 3));
    token_key(hash, v->token_key, sizeof v->token_key);
    freeReplyObject(r);
    return OG_OK;
}

/* A message's JSON (og_messages_json) as a VM [xfer], or NULL. */
static char *vm_of(struct og_core *c, const char *ch, const char *json)
{
    json_object *m = json ? json_tokener_parse(json) : NULL;
    char *vm = m ? og_webchat_vm(c, m, ch) : NULL;
    json_object_put(m);
    return vm;
}

/* One stored message as a VM, read back. */
static og_err message_vm(struct og_core *c, const char *ch, const char *mid, char **vm)
{
    char *json = NULL;
    og_err e = og_messages_json(c, &mid, 1, &json);
    *vm = e == OG_OK ? vm_of(c, ch, json) : NULL;
    free(json);
    return e != OG_OK ? e : *vm ? OG_OK : OG_ERR_INTERNAL;
}

static og_err op_message(void *ud, struct og_channel *ch, const struct og_visitor *v,
                         const struct og_inbound *m, char **vm, int *created)
{
    struct og_core *c = ud;
    struct og_inbound in;
    memset(&in, 0, sizeof in); /* what an older plugin's struct lacks stays NULL (1.3 payload) */
    memcpy(&in, m, m->struct_size < sizeof in ? m->struct_size : sizeof in);
    in.thread_id = v->external_id;
    /* the contact keeps what the pre-chat form gave: nothing from here */
    memset(&in.from, 0, sizeof in.from);
    in.from.external_id = v->external_id;
    struct og_ingest_result res;
    og_err e = og_core_ingest(c, ch, &in, &res);
    if (e != OG_OK)
        return e;
    atomic_fetch_add(res.duplicate ? &ch->stats.duplicates : &ch->stats.received, 1);
    *created = !res.duplicate;
    return message_vm(c, ch->id, res.message_id, vm);
}

/* *out [xfer]: "[VM,...]" of the messages a conv reply names, from element
 * from on (rendered by og_messages_json, off Redis's thread). */
static og_err vm_array(struct og_core *c, const char *ch, redisReply *r, size_t from, char **out)
{
    size_t n = r->elements > from ? r->elements - from : 0;
    const char **ids = og_calloc(n + 1, sizeof *ids);
    char **json = og_calloc(n + 1, sizeof *json);
    for (size_t i = 0; i < n; i++)
        ids[i] = el(r, from + i);
    og_err e = og_messages_json(c, ids, n, json);
    struct og_buf b = {0};
    og_buf_puts(&b, "[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        char *vm = vm_of(c, ch, json[i]);
        free(json[i]);
        if (!vm)
            continue;
        og_buf_printf(&b, "%s%s", first ? "" : ",", vm);
        first = 0;
        free(vm);
    }
    og_buf_puts(&b, "]");
    free(ids), free(json);
    if (e != OG_OK)
        og_buf_free(&b);
    *out = e == OG_OK ? b.data : NULL;
    return e;
}

static og_err op_conversation(void *ud, struct og_channel *ch, const struct og_visitor *v,
                              const char *after, int limit, char **vs, char **vms)
{
    struct og_core *c = ud;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", vms ? limit : 0);
    const char *argv[] = {c->tag, "conv", ch->id, v->external_id, after ? after : "", lim};
    redisReply *r = NULL;
    og_err e = call(c, 6, argv, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (vs) {
        json_object *s = *el(r, 1) ? json_tokener_parse(el(r, 1)) : NULL;
        *vs = s ? og_webchat_vs(c, s) : og_strdup("null");
        json_object_put(s);
    }
    if (vms)
        e = vm_array(c, ch->id, r, 2, vms);
    freeReplyObject(r);
    if (e != OG_OK && vs)
        free(*vs), *vs = NULL;
    return e;
}

static og_err op_typing(void *ud, struct og_channel *ch, const struct og_visitor *v, int on)
{
    struct og_core *c = ud;
    char now_iso[32], eid[48];
    int64_t now = og_now_ms();
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, eid, sizeof eid);
    const char *argv[] = {c->tag,         "typing",  ch->id,  "", v->external_id,
                          on ? "1" : "0", "contact", now_iso, eid};
    redisReply *r = NULL;
    og_err e = call(c, 9, argv, &r, NULL, 0);
    freeReplyObject(r);
    return e;
}

/* The visitor read the agent's messages up to until: a platform read
 * receipt for the thread (message.read through the send queue's status
 * path, so statuses move forward only). */
static og_err op_read(void *ud, struct og_channel *ch, const struct og_visitor *v,
                      const char *until)
{
    struct og_core *c = ud;
    if (!og_id_valid(until, "msg_"))
        return OG_ERR_NOT_FOUND;
    const char *argv[] = {c->tag, "owns", ch->id, v->external_id, until};
    redisReply *r = NULL;
    og_err e = call(c, 5, argv, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    int64_t sent_ms = *el(r, 2) ? strtoll(el(r, 2), NULL, 10) : 0;
    int out = strcmp(el(r, 3), "out") == 0;
    freeReplyObject(r);
    if (!out || sent_ms <= 0)
        return OG_OK; /* the visitor's own message, or one not sent: nothing to mark */
    char dk[96];
    snprintf(dk, sizeof dk, "read:%s", until);
    struct og_status_update st = {
        .struct_size = sizeof st,
        .dedup_key = dk,
        .thread_id = v->external_id,
        .watermark_ms = sent_ms,
        .status = OG_STATUS_READ,
        .timestamp_ms = og_now_ms(),
    };
    return og_outbox_status(c, ch, &st);
}

/* The visitor's session id and status ("" when none). */
static og_err session_of(struct og_core *c, struct og_channel *ch, const struct og_visitor *v,
                         char sid[48], char status[24])
{
    const char *argv[] = {c->tag, "session", ch->id, v->external_id};
    redisReply *r = NULL;
    og_err e = call(c, 4, argv, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    snprintf(sid, 48, "%s", el(r, 1));
    snprintf(status, 24, "%s", el(r, 2));
    freeReplyObject(r);
    return OG_OK;
}

static og_err op_close(void *ud, struct og_channel *ch, const struct og_visitor *v, char **vs)
{
    struct og_core *c = ud;
    char sid[48], status[24];
    og_err e = session_of(c, ch, v, sid, status);
    if (e != OG_OK)
        return e;
    if (!*sid || !strcmp(status, "closed") || !strcmp(status, "archived"))
        return OG_ERR_NOT_FOUND;
    struct og_routing_result res;
    og_routing_close_by_contact(c, sid, v->contact_id, &res);
    if (res.err == OG_ERR_CONFLICT) /* closed meanwhile */
        res.err = OG_ERR_NOT_FOUND;
    if (res.err == OG_OK) {
        json_object *s = json_tokener_parse(res.json);
        *vs = s ? og_webchat_vs(c, s) : og_strdup("null");
        json_object_put(s);
    }
    e = res.err;
    og_routing_result_free(&res);
    return e;
}

static og_err op_csat(void *ud, struct og_channel *ch, const struct og_visitor *v, int score,
                      const char *comment, char **csat)
{
    struct og_core *c = ud;
    char sid[48], status[24], msg[160];
    og_err e = session_of(c, ch, v, sid, status);
    if (e != OG_OK)
        return e;
    if (!*sid)
        return OG_ERR_NOT_FOUND;
    return og_csat_submit(c, sid, &ch->survey, score, comment, v->contact_id, csat, msg,
                          sizeof msg);
}

/* An agent of the channel's routing policy is online (its levels' members).
 * GET /config asks it without a token, so the answer is kept a second per
 * policy: a flood of page loads costs Redis one call a second. */
#define ONLINE_CACHE 16
#define ONLINE_TTL_MS 1000
static struct {
    char policy[64];
    int online;
    int64_t at;
} online_cache[ONLINE_CACHE];
static pthread_mutex_t online_mu = PTHREAD_MUTEX_INITIALIZER;

static int op_online(void *ud, struct og_channel *ch)
{
    int64_t now = og_mono_ms();
    pthread_mutex_lock(&online_mu);
    for (size_t i = 0; i < ONLINE_CACHE; i++)
        if (online_cache[i].at && !strcmp(online_cache[i].policy, ch->routing) &&
            now - online_cache[i].at < ONLINE_TTL_MS) {
            int on = online_cache[i].online;
            pthread_mutex_unlock(&online_mu);
            return on;
        }
    pthread_mutex_unlock(&online_mu);
    int on = og_routing_online(ud, ch->routing);
    pthread_mutex_lock(&online_mu);
    size_t slot = 0;
    for (size_t i = 0; i < ONLINE_CACHE; i++) {
        if (!strcmp(online_cache[i].policy, ch->routing)) {
            slot = i;
            break;
        }
        if (online_cache[i].at < online_cache[slot].at)
            slot = i;
    }
    snprintf(online_cache[slot].policy, sizeof online_cache[slot].policy, "%s", ch->routing);
    online_cache[slot].online = on;
    online_cache[slot].at = now;
    pthread_mutex_unlock(&online_mu);
    return on;
}

/* ------------------------------------------------------------ files */

static og_err op_attachment(void *ud, struct og_channel *ch, const struct og_visitor *v,
                            const char *dedup_key, const char *mime, const char *name,
                            const void *data, size_t len, char **vm, int *created)
{
    struct og_core *c = ud;
    char fid[48], size[24];
    og_id_new("fil_", og_now_ms(), fid, sizeof fid);
    snprintf(size, sizeof size, "%zu", len);
    const char *argv[] = {c->tag,
                          "file_put",
                          ch->id,
                          v->external_id,
                          fid,
                          mime,
                          name && *name ? name : "file",
                          size,
                          (const char *)data,
                          dedup_key};
    size_t lens[10];
    for (size_t i = 0; i < 10; i++)
        lens[i] = i == 8 ? len : strlen(argv[i]);
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_WEBCHAT, 10, argv, lens, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (!strcmp(el(r, 1), "dup")) {
        char mid[48];
        snprintf(mid, sizeof mid, "%s", el(r, 2));
        freeReplyObject(r);
        *created = 0;
        return message_vm(c, ch->id, mid, vm);
    }
    freeReplyObject(r);
    char url[96];
    snprintf(url, sizeof url, "/api/v1/files/%s", fid);
    struct og_attachment att = {.url = url,
                                .media_id = fid,
                                .mime_type = mime,
                                .name = name && *name ? name : "file",
                                .size = (int64_t)len};
    struct og_inbound in = {
        .struct_size = sizeof in,
        .dedup_key = dedup_key,
        .provider_message_id = dedup_key,
        .thread_id = v->external_id,
        .from = {.external_id = v->external_id},
        .kind = strncmp(mime, "image/", 6) == 0 ? OG_KIND_IMAGE : OG_KIND_FILE,
        .attachments = &att,
        .n_attachments = 1,
        .raw = "",
    };
    struct og_ingest_result res;
    e = og_core_ingest(c, ch, &in, &res);
    if (e != OG_OK)
        return e;
    atomic_fetch_add(res.duplicate ? &ch->stats.duplicates : &ch->stats.received, 1);
    *created = !res.duplicate;
    return message_vm(c, ch->id, res.message_id, vm);
}

/* The file's hash: ch, ext, mime, name, bytes, session (reply elements 1..6). */
static og_err file_read(struct og_core *c, const char *id, redisReply **r)
{
    if (!og_id_valid(id, "fil_"))
        return OG_ERR_NOT_FOUND;
    const char *argv[] = {c->tag, "file_get", id};
    og_err e = call(c, 3, argv, r, NULL, 0);
    if (e == OG_OK && ((*r)->elements < 7 || (*r)->element[5]->type != REDIS_REPLY_STRING)) {
        freeReplyObject(*r);
        *r = NULL;
        return OG_ERR_INTERNAL;
    }
    return e;
}

static void file_out(redisReply *r, char **data, size_t *len, char **mime, char **name)
{
    *len = r->element[5]->len;
    *data = og_malloc(*len ? *len : 1);
    memcpy(*data, r->element[5]->str, *len);
    *mime = og_strdup(el(r, 3));
    *name = og_strdup(el(r, 4));
}

static og_err op_attachment_get(void *ud, struct og_channel *ch, const struct og_visitor *v,
                                const char *id, char **data, size_t *len, char **mime, char **name)
{
    struct og_core *c = ud;
    redisReply *r = NULL;
    og_err e = file_read(c, id, &r);
    if (e != OG_OK)
        return e;
    /* another visitor's file, or another channel's, is no file here */
    if (strcmp(el(r, 1), ch->id) || strcmp(el(r, 2), v->external_id)) {
        freeReplyObject(r);
        return OG_ERR_NOT_FOUND;
    }
    file_out(r, data, len, mime, name);
    freeReplyObject(r);
    return OG_OK;
}

og_err og_webchat_file(struct og_core *c, const struct og_viewer *v, const char *id, char **data,
                       size_t *len, char **mime, char **name)
{
    *data = *mime = *name = NULL;
    *len = 0;
    redisReply *r = NULL;
    og_err e = file_read(c, id, &r);
    if (e != OG_OK)
        return e;
    char sid[48];
    snprintf(sid, sizeof sid, "%s", el(r, 6));
    e = *sid ? og_session_check(c, v, sid, OG_SESSION_SEE, NULL, 0) : OG_ERR_NOT_FOUND;
    if (e == OG_OK)
        file_out(r, data, len, mime, name);
    freeReplyObject(r);
    return e;
}

const struct og_visitor_ops og_webchat_ops = {
    .rate = op_rate,
    .create = op_create,
    .auth = op_auth,
    .message = op_message,
    .conversation = op_conversation,
    .typing = op_typing,
    .read = op_read,
    .close = op_close,
    .csat = op_csat,
    .online = op_online,
    .attachment = op_attachment,
    .attachment_get = op_attachment_get,
};

/* ------------------------------------------------------------ agents */

og_err og_webchat_agent_typing(struct og_core *c, const struct og_viewer *v, const char *sid,
                               int on, char *msg, size_t msglen)
{
    if (!og_id_valid(sid, "ses_"))
        return OG_ERR_NOT_FOUND;
    og_err e = og_session_check(c, v, sid, OG_SESSION_ACT, msg, msglen);
    if (e != OG_OK)
        return e;
    char now_iso[32], eid[48];
    int64_t now = og_now_ms();
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, eid, sizeof eid);
    const char *by = v->agent_id && *v->agent_id ? v->agent_id : "admin";
    const char *argv[] = {c->tag, "typing", "", sid, "", on ? "1" : "0", by, now_iso, eid};
    redisReply *r = NULL;
    e = call(c, 9, argv, &r, msg, msglen);
    freeReplyObject(r);
    return e;
}

/* ------------------------------------------------------------ events */

static json_object *obj_at(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

int og_webchat_event_owner(json_object *ev, const char **channel, const char **contact_id)
{
    json_object *s = obj_at(obj_at(ev, "data"), "session");
    *channel = str_of(s, "channel");
    *contact_id = str_of(obj_at(s, "contact"), "id");
    return *channel && *contact_id ? 0 : -1;
}

char *og_webchat_visitor_event(struct og_core *c, const char *type, json_object *ev,
                               const char *closing_text, int offer_csat, const char **vtype,
                               char *id, size_t idsz)
{
    json_object *data = obj_at(ev, "data"), *s = obj_at(data, "session");
    *vtype = NULL;
    if (idsz)
        id[0] = 0;
    if (!strcmp(type, "message.received") || !strcmp(type, "message.sent")) {
        json_object *m = obj_at(data, "message");
        char *vm = og_webchat_vm(c, m, str_of(s, "channel"));
        if (!vm)
            return NULL;
        *vtype = "message";
        snprintf(id, idsz, "%s", str_of(m, "id") ? str_of(m, "id") : "");
        return vm;
    }
    if (!strcmp(type, "session.typing")) {
        const char *by = str_of(data, "by");
        if (!by || strcmp(by, "agent") != 0)
            return NULL;
        json_object *o = json_object_new_object(), *a = json_object_new_object();
        json_object *on = obj_at(data, "on");
        json_object_object_add(o, "on", json_object_new_boolean(on && json_object_get_boolean(on)));
        const char *n = str_of(obj_at(data, "agent"), "name");
        json_object_object_add(a, "name", jstr_or_null(n));
        json_object_object_add(o, "agent", a);
        *vtype = "typing";
        return dump(o);
    }
    if (!strcmp(type, "session.read")) {
        const char *until = str_of(data, "until");
        if (!until)
            return NULL;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "until", json_object_new_string(until));
        *vtype = "read";
        return dump(o);
    }
    if (!strcmp(type, "session.assigned") || !strcmp(type, "session.transferred")) {
        char name[128] = "";
        og_webchat_agent_name(c, str_of(s, "agent_id"), name, sizeof name);
        if (!name[0])
            return NULL;
        json_object *o = json_object_new_object(), *a = json_object_new_object();
        json_object_object_add(a, "name", json_object_new_string(name));
        json_object_object_add(o, "agent", a);
        *vtype = "assigned";
        return dump(o);
    }
    if (!strcmp(type, "session.closed")) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "closing_text",
                               json_object_new_string(closing_text ? closing_text : ""));
        json_object *csat = obj_at(s, "csat");
        int rated = csat && !json_object_is_type(csat, json_type_null);
        json_object_object_add(o, "csat", json_object_new_boolean(offer_csat && !rated));
        *vtype = "closed";
        return dump(o);
    }
    return NULL;
}
