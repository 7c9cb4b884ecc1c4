/* og_core - see og_core.h. */
#include "og_core.h"
#include "og_batch.h"
#include "og_log.h"
#include "og_model.h"
#include "og_outbox.h"
#include "og_util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char og_lua_prelude[], og_lua_ingest[], og_lua_read[];

/* Group commit of ingest (og_batch.h). A batch of 32 messages keeps Redis
 * busy ~1-2 ms, short enough not to delay the other clients' commands much;
 * two batches in flight let the next one travel while Redis runs the
 * current one. */
enum { INGEST_BATCH_MAX = 32, INGEST_BATCHES_INFLIGHT = 2 };

struct og_script *og_core_script(const char *name, const char *body)
{
    char *src = og_sprintf("%s\n%s", og_lua_prelude, body);
    struct og_script *s = og_script_new(name, src);
    free(src);
    return s;
}

struct og_core *og_core_new(const struct og_core_opts *o, char *errbuf, size_t errlen)
{
    struct og_core *c = og_calloc(1, sizeof *c);
    c->redis = og_redis_new(o->redis, errbuf, errlen);
    if (!c->redis) {
        free(c);
        return NULL;
    }
    c->tag = og_sprintf("{%s}", o->prefix && *o->prefix ? o->prefix : "og");
    c->dedup_ttl_s = o->dedup_ttl_s > 0 ? o->dedup_ttl_s : 8 * 86400 + 3600;
    c->ingest = og_core_script("ingest", og_lua_ingest);
    c->read = og_core_script("read", og_lua_read);
    const char *head[] = {c->tag};
    c->ingest_batch =
        og_batch_new(c->ingest, 1, head, INGEST_BATCH_MAX, INGEST_BATCHES_INFLIGHT);
    return c;
}

void og_core_free(struct og_core *c)
{
    if (!c)
        return;
    og_batch_free(c->ingest_batch);
    og_redis_free(c->redis);
    og_script_free(c->ingest);
    og_script_free(c->read);
    free(c->tag);
    free(c);
}

/* The message JSON's middle part, rendered here where the C strings are:
 * user text is escaped once by og_buf_json_str instead of by cjson in Lua. */
static void render_tail(struct og_buf *b, const struct og_inbound *m, const char *now_iso)
{
    og_buf_printf(b, "\"kind\":\"%s\",\"text\":", og_kind_name(m->kind));
    og_buf_json_str(b, m->text && *m->text ? m->text : NULL);
    og_buf_puts(b, ",\"attachments\":[");
    for (size_t i = 0; i < m->n_attachments; i++) {
        const struct og_attachment *a = &m->attachments[i];
        og_buf_puts(b, i ? ",{\"url\":" : "{\"url\":");
        og_buf_json_str(b, a->url);
        og_buf_puts(b, ",\"media_id\":");
        og_buf_json_str(b, a->media_id);
        og_buf_puts(b, ",\"mime_type\":");
        og_buf_json_str(b, a->mime_type);
        og_buf_puts(b, ",\"name\":");
        og_buf_json_str(b, a->name);
        og_buf_printf(b, ",\"size\":%lld}", (long long)a->size);
    }
    og_buf_puts(b, "],\"location\":");
    if (m->location) {
        og_buf_printf(b, "{\"latitude\":%.7f,\"longitude\":%.7f,\"name\":",
                      m->location->latitude, m->location->longitude);
        og_buf_json_str(b, m->location->name);
        og_buf_puts(b, ",\"address\":");
        og_buf_json_str(b, m->location->address);
        og_buf_puts(b, "}");
    } else {
        og_buf_puts(b, "null");
    }
    og_buf_puts(b, ",\"provider_message_id\":");
    og_buf_json_str(b, m->provider_message_id && *m->provider_message_id
                           ? m->provider_message_id
                           : NULL);
    og_buf_puts(b, ",\"reply_to_provider_id\":");
    og_buf_json_str(b, m->reply_to_provider_id && *m->reply_to_provider_id
                           ? m->reply_to_provider_id
                           : NULL);
    og_buf_printf(b, ",\"created_at\":\"%s\"", now_iso);
}

#define S(x) ((x) ? (x) : "")

og_err og_core_ingest(struct og_core *c, const struct og_channel *ch, const struct og_inbound *m,
                      struct og_ingest_result *res)
{
    memset(res, 0, sizeof *res);
    int64_t now = og_now_ms(), t0 = og_mono_ms();
    char now_iso[32], ttl[24], now_s[24];
    char cid[48], sid[48], mid[48], e[4][48];
    og_time_rfc3339(now, now_iso);
    snprintf(ttl, sizeof ttl, "%lld", (long long)c->dedup_ttl_s);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    og_id_new("con_", now, cid, sizeof cid);
    og_id_new("ses_", now, sid, sizeof sid);
    og_id_new("msg_", now, mid, sizeof mid);
    for (int i = 0; i < 4; i++)
        og_id_new("evt_", now, e[i], sizeof e[i]);
    struct og_buf tail = {0};
    render_tail(&tail, m, now_iso);
    char wms[24];
    snprintf(wms, sizeof wms, "%lld", (long long)ch->plugin->desc->messaging_window_ms);

    const char *argv[] = {ch->id, ch->plugin->desc->name, ch->routing, m->dedup_key, now_s,
                          now_iso, ttl, m->from.external_id,
                          m->thread_id ? m->thread_id : m->from.external_id, S(m->from.name),
                          S(m->from.username), S(m->from.avatar_url), S(m->from.phone),
                          S(m->from.email), cid, sid, mid, e[0], e[1], e[2], e[3], tail.data,
                          S(m->provider_message_id), S(m->reply_to_provider_id),
                          S(m->reply_token), m->raw ? m->raw : "", wms};
    enum { N = sizeof argv / sizeof argv[0], RAW = N - 2 }; /* ingest.lua's NF */
    size_t lens[N];
    for (int i = 0; i < N; i++)
        lens[i] = strlen(argv[i]);
    lens[RAW] = m->raw ? m->raw_len : 0; /* raw may hold NULs from odd platforms */

    redisReply *r = NULL;
    og_err err = og_batch_call(c->ingest_batch, c->redis, N, argv, lens, &r);
    og_buf_free(&tail);
    if (err != OG_OK) {
        atomic_fetch_add(&c->stats.ingest_errors, 1);
        return err;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        strcmp(r->element[0]->str, "err") == 0) {
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
            og_error("ingest: %s", r->element[1]->str);
        freeReplyObject(r);
        atomic_fetch_add(&c->stats.ingest_errors, 1);
        return OG_ERR_INTERNAL;
    }
    if (strcmp(r->element[0]->str, "dup") == 0) {
        res->duplicate = 1;
        snprintf(res->message_id, sizeof res->message_id, "%s", r->element[1]->str);
        atomic_fetch_add(&c->stats.duplicates, 1);
    } else if (r->elements >= 4) {
        snprintf(res->session_id, sizeof res->session_id, "%s", r->element[1]->str);
        snprintf(res->message_id, sizeof res->message_id, "%s", r->element[2]->str);
        res->session_created = atoi(r->element[3]->str);
        atomic_fetch_add(&c->stats.ingested, 1);
        if (res->session_created == 1)
            atomic_fetch_add(&c->stats.sessions_created, 1);
        else if (res->session_created == 2)
            atomic_fetch_add(&c->stats.sessions_reopened, 1);
    }
    atomic_fetch_add(&c->stats.ingest_us_sum, (unsigned long long)(og_mono_ms() - t0) * 1000);
    freeReplyObject(r);
    return OG_OK;
}

static og_err sink_message(void *ud, struct og_channel *ch, const struct og_inbound *m)
{
    struct og_ingest_result res;
    og_err e = og_core_ingest(ud, ch, m, &res);
    if (e == OG_OK && !res.duplicate)
        og_log_write(OG_LOG_DEBUG, ch->scope, "stored %s in %s", res.message_id,
                     res.session_id);
    return e;
}

static og_err sink_state_get(void *ud, struct og_channel *ch, const char *key, char **val)
{
    return og_core_state_get(ud, ch->id, key, val);
}

static og_err sink_state_set(void *ud, struct og_channel *ch, const char *key, const char *val)
{
    return og_core_state_set(ud, ch->id, key, val);
}

struct og_channel_sink og_core_sink(struct og_core *c)
{
    struct og_channel_sink s = {sink_message, og_outbox_status, sink_state_get, sink_state_set, c};
    return s;
}

static og_err read_call(struct og_core *c, int argc, const char **argv, redisReply **r)
{
    og_err e = og_redis_eval(c->redis, c->read, 0, argc, argv, NULL, r);
    if (e == OG_OK && (*r)->type == REDIS_REPLY_ERROR) {
        freeReplyObject(*r);
        *r = NULL;
        return OG_ERR_INTERNAL;
    }
    return e;
}

og_err og_core_session_json(struct og_core *c, const char *id, char **json)
{
    const char *argv[] = {c->tag, "session", id};
    redisReply *r;
    *json = NULL;
    og_err e = read_call(c, 3, argv, &r);
    if (e != OG_OK)
        return e;
    if (r->type == REDIS_REPLY_STRING)
        *json = og_strndup(r->str, r->len);
    freeReplyObject(r);
    return *json ? OG_OK : OG_ERR_NOT_FOUND;
}

char *og_core_render_list(const redisReply *r)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    for (size_t i = 1; i < r->elements; i++) {
        if (i > 1)
            og_buf_puts(&b, ",");
        og_buf_append(&b, r->element[i]->str, r->element[i]->len);
    }
    og_buf_puts(&b, "],\"next_cursor\":");
    og_buf_json_str(&b, r->element[0]->len ? r->element[0]->str : NULL);
    og_buf_puts(&b, "}");
    return b.data;
}

og_err og_core_list_sessions(struct og_core *c, const char *status, const char *channel,
                             const char *cursor, int limit, char **json)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *argv[] = {c->tag, "sessions", S(status), S(channel), S(cursor), lim};
    redisReply *r;
    *json = NULL;
    og_err e = read_call(c, 6, argv, &r);
    if (e != OG_OK)
        return e;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1)
        *json = og_core_render_list(r);
    freeReplyObject(r);
    return *json ? OG_OK : OG_ERR_INTERNAL;
}

og_err og_core_list_messages(struct og_core *c, const char *session_id, const char *cursor,
                             int limit, char **json)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *argv[] = {c->tag, "messages", session_id, S(cursor), lim};
    redisReply *r;
    *json = NULL;
    og_err e = read_call(c, 5, argv, &r);
    if (e != OG_OK)
        return e;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1)
        *json = og_core_render_list(r);
    freeReplyObject(r);
    return *json ? OG_OK : OG_ERR_NOT_FOUND;
}

og_err og_core_state_get(struct og_core *c, const char *channel, const char *key, char **val)
{
    redisReply *r;
    *val = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "HGET %s:state:%s %s", c->tag, channel, key);
    if (e != OG_OK)
        return e;
    if (r->type == REDIS_REPLY_STRING)
        *val = og_strndup(r->str, r->len);
    e = r->type == REDIS_REPLY_ERROR ? OG_ERR_INTERNAL : OG_OK;
    freeReplyObject(r);
    return e;
}

og_err og_core_state_set(struct og_core *c, const char *channel, const char *key,
                         const char *val)
{
    redisReply *r;
    og_err e = og_redis_cmd(c->redis, &r, "HSET %s:state:%s %s %s", c->tag, channel, key,
                            val ? val : "");
    if (e != OG_OK)
        return e;
    e = r->type == REDIS_REPLY_ERROR ? OG_ERR_INTERNAL : OG_OK;
    freeReplyObject(r);
    return e;
}
