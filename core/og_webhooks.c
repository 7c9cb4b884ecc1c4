/* og_webhooks - see og_webhooks.h. Subscriptions are stored as JSON in the
 * hash P:webhooks (field = id), with the secrets, so every instance signs
 * with the same keys; a 410 marks one in P:webhooks:off. */
#include "og_webhooks.h"
#include "og_core_int.h"
#include "og_fetch.h"
#include "og_log.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- signing */

int og_webhook_secret_decode(const char *secret, unsigned char key[64])
{
    if (!secret || strncmp(secret, "whsec_", 6) != 0)
        return -1;
    const char *b = secret + 6;
    size_t n = strlen(b);
    if (n < 32 || n > 88) /* base64 of 24..64 bytes */
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/' || (c == '=' && i >= n - 2);
        if (!ok)
            return -1;
    }
    unsigned char tmp[72];
    size_t k = og_base64_decode(b, n, tmp, sizeof tmp);
    if (k == (size_t)-1 || k < 24 || k > 64)
        return -1;
    memcpy(key, tmp, k);
    return (int)k;
}

struct og_hmac *og_webhook_signer_new(const char *secret)
{
    unsigned char key[64];
    int kl = og_webhook_secret_decode(secret, key);
    return kl < 0 ? NULL : og_hmac_new(key, (size_t)kl);
}

int og_webhook_sign_with(struct og_hmac *signer, const char *id, int64_t ts, const void *body,
                         size_t len, char *out, size_t outsz)
{
    if (outsz < 48)
        return -1;
    char head[160];
    int hl = snprintf(head, sizeof head, "%s.%lld.", id, (long long)ts);
    if (hl < 0 || (size_t)hl >= sizeof head)
        return -1;
    /* HMAC over "id.ts.body", as the spec defines the signed content. */
    unsigned char mac[32];
    og_hmac_run(signer, head, (size_t)hl, body, len, mac);
    memcpy(out, "v1,", 3);
    og_base64_encode(mac, sizeof mac, out + 3, outsz - 3);
    return 0;
}

int og_webhook_sign(const char *secret, const char *id, int64_t ts, const void *body, size_t len,
                    char *out, size_t outsz)
{
    struct og_hmac *h = og_webhook_signer_new(secret);
    if (!h)
        return -1;
    int rc = og_webhook_sign_with(h, id, ts, body, len, out, outsz);
    og_hmac_free(h);
    return rc;
}

char *og_webhook_secret_new(void)
{
    unsigned char raw[32];
    char b64[64];
    og_random_bytes(raw, sizeof raw);
    og_base64_encode(raw, sizeof raw, b64, sizeof b64);
    return og_sprintf("whsec_%s", b64);
}

int og_webhook_event_type_known(const char *t)
{
    static const char *const types[] = {
        "session.created",     "session.assigned",
        "session.transferred", "session.status_changed",
        "session.closed",      "session.reopened",
        "message.received",    "message.sent",
        "message.delivered",   "message.read",
        "message.failed",      "contact.created",
        "goal.achieved",       "goal.missed",
        "csat.submitted",      "followup.sent",
        "followup.failed",     "session.window_closed",
        "message.flagged",     "session.timeout_prompted",
        "session.typing",      "session.read",
    };
    for (size_t i = 0; t && i < sizeof types / sizeof *types; i++)
        if (strcmp(t, types[i]) == 0)
            return 1;
    return 0;
}

struct og_webhook_stats og_webhook_stats;

/* --------------------------------------------------------- subscriptions */

/* CHANNELS.md §7: attempts at 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
 * 20 h and 24 h after the first, i.e. these delays between attempts. */
static const int64_t default_retry_s[] = {5, 295, 1500, 5400, 10800, 18000, 14400, 21600, 14400};

void og_webhook_sub_clear(struct og_webhook_sub *s)
{
    free(s->id);
    free(s->url);
    free(s->secret);
    free(s->secret_prev);
    for (size_t i = 0; i < s->n_events; i++)
        free(s->events[i]);
    free(s->events);
    free(s->disabled_reason);
    free(s->created_at);
    free(s->updated_at);
    memset(s, 0, sizeof *s);
}

void og_webhook_subs_free(struct og_webhook_sub *subs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        og_webhook_sub_clear(&subs[i]);
    free(subs);
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

static int family_ok(const char *t);

static void replace_str(char **dst, const char *s)
{
    char *n = og_strdup(s);
    free(*dst);
    *dst = n;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -1;                                                                                 \
    } while (0)

int og_webhook_sub_parse(json_object *j, struct og_webhook_sub *s, int partial, char *err,
                         size_t errlen)
{
    json_object *v;
    if (!json_object_is_type(j, json_type_object))
        FAIL("must be an object");
    if (json_object_object_get_ex(j, "id", &v)) {
        if (!json_object_is_type(v, json_type_string) || !id_ok(json_object_get_string(v)))
            FAIL("id: must be 1..64 characters of a-z, 0-9, _ and -");
        replace_str(&s->id, json_object_get_string(v));
    } else if (!partial) {
        FAIL("id: required");
    }
    if (json_object_object_get_ex(j, "url", &v)) {
        if (!json_object_is_type(v, json_type_string) || !og_url_valid(json_object_get_string(v)))
            FAIL("url: must be an http:// or https:// URL");
        replace_str(&s->url, json_object_get_string(v));
    } else if (!partial) {
        FAIL("url: required");
    }
    if (json_object_object_get_ex(j, "secret", &v)) {
        unsigned char key[64];
        if (!json_object_is_type(v, json_type_string) ||
            og_webhook_secret_decode(json_object_get_string(v), key) < 0)
            FAIL("secret: must be \"whsec_\" + base64 of 24 to 64 bytes");
        replace_str(&s->secret, json_object_get_string(v));
    }
    if (json_object_object_get_ex(j, "secret_prev", &v)) {
        unsigned char key[64];
        if (json_object_is_type(v, json_type_null)) {
            free(s->secret_prev);
            s->secret_prev = NULL;
        } else if (!json_object_is_type(v, json_type_string) ||
                   og_webhook_secret_decode(json_object_get_string(v), key) < 0) {
            FAIL("secret_prev: malformed");
        } else {
            replace_str(&s->secret_prev, json_object_get_string(v));
        }
    }
    if (json_object_object_get_ex(j, "prev_until_ms", &v))
        s->prev_until_ms = json_object_get_int64(v);
    if (json_object_object_get_ex(j, "events", &v)) {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        if (n == 0 || n > 64)
            FAIL("events: must be a non-empty array of event types (\"message.received\", "
                 "\"session.*\") or [\"*\"]");
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            const char *t =
                json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
            if (!t || (strcmp(t, "*") != 0 && !og_webhook_event_type_known(t) && !family_ok(t)))
                FAIL("events[%zu]: unknown event type", i);
        }
        for (size_t i = 0; i < s->n_events; i++)
            free(s->events[i]);
        free(s->events);
        s->events = og_calloc(n, sizeof *s->events);
        s->n_events = n;
        for (size_t i = 0; i < n; i++)
            s->events[i] = og_strdup(json_object_get_string(json_object_array_get_idx(v, i)));
    } else if (!partial && !s->events) {
        s->events = og_calloc(1, sizeof *s->events);
        s->events[0] = og_strdup("*");
        s->n_events = 1;
    }
    if (json_object_object_get_ex(j, "retry_schedule_s", &v)) {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        if (!json_object_is_type(v, json_type_array) || n > OG_WEBHOOK_MAX_RETRIES)
            FAIL("retry_schedule_s: must be an array of at most %d integers",
                 OG_WEBHOOK_MAX_RETRIES);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            int64_t x = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : -1;
            if (x < 0 || x > 7 * 86400)
                FAIL("retry_schedule_s[%zu]: must be an integer from 0 to 604800", i);
            s->retry_s[i] = x;
        }
        s->n_retry = n;
    }
    if (json_object_object_get_ex(j, "timeout_ms", &v)) {
        int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (x < 100 || x > 120000)
            FAIL("timeout_ms: must be an integer from 100 to 120000");
        s->timeout_ms = x;
    } else if (!partial && !s->timeout_ms) {
        s->timeout_ms = 15000;
    }
    if (json_object_object_get_ex(j, "enabled", &v)) {
        if (!json_object_is_type(v, json_type_boolean))
            FAIL("enabled: must be true or false");
        s->enabled = json_object_get_boolean(v);
    } else if (!partial) {
        s->enabled = 1;
    }
    if (json_object_object_get_ex(j, "from_config", &v))
        s->from_config = json_object_get_boolean(v);
    if (json_object_object_get_ex(j, "created_at", &v))
        replace_str(&s->created_at, json_object_get_string(v));
    if (json_object_object_get_ex(j, "updated_at", &v))
        replace_str(&s->updated_at, json_object_get_string(v));
    return 0;
}

char *og_webhook_sub_json(const struct og_webhook_sub *s, int with_secret)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"id\":");
    og_buf_json_str(&b, s->id);
    og_buf_puts(&b, ",\"url\":");
    og_buf_json_str(&b, s->url);
    if (with_secret) {
        og_buf_puts(&b, ",\"secret\":");
        og_buf_json_str(&b, s->secret);
        og_buf_puts(&b, ",\"secret_prev\":");
        og_buf_json_str(&b, s->secret_prev);
        og_buf_printf(&b, ",\"prev_until_ms\":%lld", (long long)s->prev_until_ms);
    } else {
        /* The API never shows a secret again after create/rotate. */
        char until[32] = "";
        if (s->secret_prev && s->prev_until_ms > og_now_ms())
            og_time_rfc3339(s->prev_until_ms, until);
        og_buf_puts(&b, ",\"previous_secret_valid_until\":");
        og_buf_json_str(&b, until[0] ? until : NULL);
    }
    og_buf_puts(&b, ",\"events\":[");
    for (size_t i = 0; i < s->n_events; i++) {
        if (i)
            og_buf_puts(&b, ",");
        og_buf_json_str(&b, s->events[i]);
    }
    og_buf_puts(&b, "],\"retry_schedule_s\":[");
    const int64_t *rs = s->n_retry ? s->retry_s : default_retry_s;
    size_t nr = s->n_retry ? s->n_retry : sizeof default_retry_s / sizeof *default_retry_s;
    if (with_secret) /* stored: only an explicit schedule */
        rs = s->retry_s, nr = s->n_retry;
    for (size_t i = 0; i < nr; i++)
        og_buf_printf(&b, "%s%lld", i ? "," : "", (long long)rs[i]);
    og_buf_printf(&b, "],\"timeout_ms\":%lld,\"enabled\":%s", (long long)s->timeout_ms,
                  (with_secret ? s->enabled : og_webhook_sub_active(s)) ? "true" : "false");
    if (with_secret) {
        og_buf_printf(&b, ",\"from_config\":%s", s->from_config ? "true" : "false");
    } else {
        og_buf_printf(&b,
                      ",\"source\":\"%s\",\"disabled_reason\":", s->from_config ? "config" : "api");
        og_buf_json_str(&b, s->disabled_reason ? s->disabled_reason
                            : !s->enabled      ? "disabled"
                                               : NULL);
        og_buf_puts(&b, ",\"lagging\":");
        if (s->lag.lost > 0) {
            char since[32], first[32], last[32];
            og_time_rfc3339(s->lag.since_ms, since);
            og_time_rfc3339(s->lag.first_at_ms, first);
            og_time_rfc3339(s->lag.last_at_ms, last);
            og_buf_printf(&b,
                          "{\"since\":\"%s\",\"lost_events\":%lld,\"first_lost_event_id\":", since,
                          s->lag.lost);
            og_buf_json_str(&b, s->lag.first_event[0] ? s->lag.first_event : NULL);
            og_buf_printf(&b, ",\"first_lost_at\":\"%s\",\"last_lost_event_id\":", first);
            og_buf_json_str(&b, s->lag.last_event[0] ? s->lag.last_event : NULL);
            og_buf_printf(&b, ",\"last_lost_at\":\"%s\"}", last);
        } else {
            og_buf_puts(&b, "null");
        }
    }
    og_buf_puts(&b, ",\"created_at\":");
    og_buf_json_str(&b, s->created_at);
    og_buf_puts(&b, ",\"updated_at\":");
    og_buf_json_str(&b, s->updated_at);
    og_buf_puts(&b, "}");
    return b.data;
}

int og_webhook_sub_matches(const struct og_webhook_sub *s, const char *type)
{
    for (size_t i = 0; i < s->n_events; i++) {
        const char *e = s->events[i];
        size_t n = strlen(e);
        if (strcmp(e, "*") == 0 || strcmp(e, type) == 0)
            return 1;
        /* "session.*": every type of that family, also ones added later */
        if (n > 2 && e[n - 1] == '*' && strncmp(e, type, n - 1) == 0)
            return 1;
    }
    return 0;
}

/* "session.*" etc.: a family some known type belongs to. */
static int family_ok(const char *t)
{
    static const char *const fam[] = {"session.*", "message.*", "contact.*",
                                      "goal.*",    "csat.*",    "followup.*"};
    for (size_t i = 0; i < sizeof fam / sizeof *fam; i++)
        if (strcmp(t, fam[i]) == 0)
            return 1;
    return 0;
}

int og_webhook_sub_active(const struct og_webhook_sub *s)
{
    return s->enabled && !s->disabled_reason;
}

int64_t og_webhook_retry_delay_ms(const struct og_webhook_sub *s, int failed)
{
    const int64_t *rs = s->n_retry ? s->retry_s : default_retry_s;
    size_t nr = s->n_retry ? s->n_retry : sizeof default_retry_s / sizeof *default_retry_s;
    if (failed < 1 || (size_t)failed > nr)
        return -1;
    int64_t base = rs[failed - 1] * 1000;
    if (base == 0)
        return 0;
    /* +-10% jitter so a burst of failures does not come back as one burst. */
    uint32_t r;
    og_random_bytes(&r, sizeof r);
    int64_t span = base / 5;
    return base - base / 10 + (span ? (int64_t)(r % (uint64_t)(span + 1)) : 0);
}

/* ---------------------------------------------------------- Redis state */

/* One webhook_admin.lua op. */
static og_err admin(struct og_core *c, int argc, const char **argv)
{
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_WEBHOOK_ADMIN, argc, argv, NULL, &r, NULL, 0);
    if (e == OG_OK)
        freeReplyObject(r);
    return e;
}

/* "count\tfirst event\tfirst entry\tlast event\tlast entry\tsince ms"
 * (stream.lua) into l; l stays zero when v is not one. */
static void lag_parse(const char *v, struct og_webhook_lag *l)
{
    memset(l, 0, sizeof *l);
    if (!v)
        return;
    char f[6][48];
    size_t n = 0;
    const char *p = v;
    while (n < 6) {
        size_t k = strcspn(p, "\t");
        if (k >= sizeof f[n])
            return;
        memcpy(f[n], p, k);
        f[n++][k] = 0;
        if (!p[k])
            break;
        p += k + 1;
    }
    if (n != 6 || atoll(f[0]) <= 0)
        return;
    l->lost = atoll(f[0]);
    snprintf(l->first_event, sizeof l->first_event, "%s", f[1]);
    l->first_at_ms = atoll(f[2]); /* an entry id is "<ms>-<seq>" */
    snprintf(l->last_event, sizeof l->last_event, "%s", f[3]);
    l->last_at_ms = atoll(f[4]);
    l->since_ms = atoll(f[5]);
}

/* The value of field in a HGETALL reply, or NULL. */
static const char *hash_get(const redisReply *h, const char *field)
{
    for (size_t k = 0; h && h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements; k += 2)
        if (strcmp(h->element[k]->str, field) == 0)
            return h->element[k + 1]->str;
    return NULL;
}

static int parse_stored(const char *id, const char *text, const char *off, struct og_webhook_sub *s)
{
    json_object *j = json_tokener_parse(text);
    char err[160];
    int rc = og_webhook_sub_parse(j, s, 0, err, sizeof err);
    json_object_put(j);
    if (rc != 0) {
        og_warn("webhook %s: stored subscription unreadable: %s", id, err);
        og_webhook_sub_clear(s);
        return -1;
    }
    s->disabled_reason = og_strdup(off);
    return 0;
}

og_err og_webhooks_load(struct og_core *c, struct og_webhook_sub **subs, size_t *n)
{
    *subs = NULL;
    *n = 0;
    redisReply *r = NULL, *o = NULL, *l = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "HGETALL %s:webhooks", c->tag);
    if (e != OG_OK)
        return e;
    e = og_redis_cmd(c->redis, &o, "HGETALL %s:webhooks:off", c->tag);
    if (e == OG_OK)
        e = og_redis_cmd(c->redis, &l, "HGETALL %s:webhooks:lag", c->tag);
    if (e != OG_OK) {
        freeReplyObject(r);
        freeReplyObject(o);
        return e;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements) {
        *subs = og_calloc(r->elements / 2, sizeof **subs);
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const char *id = r->element[i]->str;
            struct og_webhook_sub *s = &(*subs)[*n];
            if (parse_stored(id, r->element[i + 1]->str, hash_get(o, id), s) == 0) {
                lag_parse(hash_get(l, id), &s->lag);
                (*n)++;
            }
        }
    }
    freeReplyObject(r);
    freeReplyObject(o);
    freeReplyObject(l);
    return OG_OK;
}

og_err og_webhooks_version(struct og_core *c, long long *ver)
{
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "GET %s:webhooks:ver", c->tag);
    if (e != OG_OK)
        return e;
    *ver = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    return OG_OK;
}

og_err og_webhooks_get(struct og_core *c, const char *id, struct og_webhook_sub *s)
{
    memset(s, 0, sizeof *s);
    redisReply *r = NULL, *o = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "HGET %s:webhooks %s", c->tag, id);
    if (e != OG_OK)
        return e;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return OG_ERR_NOT_FOUND;
    }
    redisReply *l = NULL;
    e = og_redis_cmd(c->redis, &o, "HGET %s:webhooks:off %s", c->tag, id);
    if (e == OG_OK)
        e = og_redis_cmd(c->redis, &l, "HGET %s:webhooks:lag %s", c->tag, id);
    if (e == OG_OK) {
        if (parse_stored(id, r->str, o->type == REDIS_REPLY_STRING ? o->str : NULL, s) != 0)
            e = OG_ERR_NOT_FOUND;
        else
            lag_parse(l->type == REDIS_REPLY_STRING ? l->str : NULL, &s->lag);
    }
    freeReplyObject(o);
    freeReplyObject(l);
    freeReplyObject(r);
    return e;
}

og_err og_webhooks_put(struct og_core *c, const struct og_webhook_sub *s, int create)
{
    char *j = og_webhook_sub_json(s, 1);
    const char *argv[] = {c->tag, "put", s->id, j, create ? "1" : "0"};
    og_err e = admin(c, 5, argv);
    free(j);
    return e;
}

og_err og_webhooks_delete(struct og_core *c, const char *id)
{
    const char *argv[] = {c->tag, "del", id};
    return admin(c, 3, argv);
}

og_err og_webhooks_sync_config(struct og_core *c, const struct og_webhook_sub *subs, size_t n)
{
    size_t argc = 3 + 2 * n;
    const char **argv = og_calloc(argc, sizeof *argv);
    char **js = og_calloc(n ? n : 1, sizeof *js);
    char nbuf[24];
    snprintf(nbuf, sizeof nbuf, "%zu", n);
    argv[0] = c->tag, argv[1] = "sync", argv[2] = nbuf;
    for (size_t i = 0; i < n; i++) {
        js[i] = og_webhook_sub_json(&subs[i], 1);
        argv[3 + 2 * i] = subs[i].id;
        argv[4 + 2 * i] = js[i];
    }
    og_err e = admin(c, (int)argc, argv);
    for (size_t i = 0; i < n; i++)
        free(js[i]);
    free(js), free(argv);
    return e;
}

og_err og_webhooks_lag_clear(struct og_core *c, const char *id)
{
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "HDEL %s:webhooks:lag %s", c->tag, id);
    if (e == OG_OK)
        freeReplyObject(r);
    return e;
}

og_err og_webhooks_set_disabled(struct og_core *c, const char *id, const char *reason)
{
    const char *argv[] = {c->tag, "off", id, reason ? reason : ""};
    return admin(c, 4, argv);
}

void og_webhook_attempt_put(struct og_buf *b, const char *status, const char *eid, const char *type,
                            int attempt, long code, int64_t latency_ms, int64_t at_ms,
                            int64_t next_ms, const char *error)
{
    og_buf_printf(b, "%s\t%s\t%s\t%d\t%ld\t%lld\t%lld\t%lld\t", status, eid ? eid : "",
                  type ? type : "", attempt, code, (long long)latency_ms, (long long)at_ms,
                  (long long)next_ms);
    for (const char *p = error ? error : ""; *p; p++) /* one line, no tabs */
        og_buf_append(b, *p == '\t' || *p == '\n' || *p == '\r' ? " " : p, 1);
}

/* One stored attempt as the API shows it; 0 when it is not one. */
static int attempt_json(struct og_buf *b, const char *rec, size_t len, const char *want)
{
    const char *f[9];
    size_t fl[9], n = 0;
    const char *p = rec, *end = rec + len;
    while (n < 8) { /* the error, last, may hold anything */
        const char *t = memchr(p, '\t', (size_t)(end - p));
        if (!t)
            return 0;
        f[n] = p, fl[n++] = (size_t)(t - p);
        p = t + 1;
    }
    f[8] = p, fl[8] = (size_t)(end - p);
    if (want && (fl[0] != strlen(want) || memcmp(f[0], want, fl[0]) != 0))
        return -1;
    char *v[9];
    for (int i = 0; i < 9; i++)
        v[i] = og_strndup(f[i], fl[i]);
    long code = atol(v[4]);
    long long next = atoll(v[7]);
    char at[32], nx[32];
    og_time_rfc3339(atoll(v[6]), at);
    og_buf_puts(b, "{\"event_id\":");
    og_buf_json_str(b, *v[1] ? v[1] : NULL);
    og_buf_puts(b, ",\"type\":");
    og_buf_json_str(b, *v[2] ? v[2] : NULL);
    og_buf_printf(b, ",\"attempt\":%d,\"status\":", atoi(v[3]));
    og_buf_json_str(b, v[0]);
    og_buf_puts(b, ",\"status_code\":");
    if (code > 0)
        og_buf_printf(b, "%ld", code);
    else
        og_buf_puts(b, "null");
    og_buf_printf(b, ",\"latency_ms\":%lld,\"error\":", atoll(v[5]));
    og_buf_json_str(b, *v[8] ? v[8] : NULL);
    og_buf_printf(b, ",\"at\":\"%s\",\"next_attempt_at\":", at);
    if (next > 0) {
        og_time_rfc3339(next, nx);
        og_buf_printf(b, "\"%s\"}", nx);
    } else {
        og_buf_puts(b, "null}");
    }
    for (int i = 0; i < 9; i++)
        free(v[i]);
    return 1;
}

og_err og_webhooks_deliveries(struct og_core *c, const char *id, const char *status, int limit,
                              char **json)
{
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "LRANGE %s:webhook:%s:deliveries 0 -1", c->tag, id);
    if (e != OG_OK)
        return e;
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    int n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && n < limit; i++) {
        size_t at = b.len;
        og_buf_puts(&b, n ? "," : "");
        if (attempt_json(&b, r->element[i]->str, r->element[i]->len, status) == 1)
            n++;
        else
            b.len = at, b.data[at] = 0; /* filtered out, or not an attempt */
    }
    og_buf_puts(&b, "],\"next_cursor\":null}");
    freeReplyObject(r);
    *json = b.data;
    return OG_OK;
}

char *og_webhook_item_new(const char *head, int n, const char *eid, const char *type)
{
    return og_sprintf("%s\t%d\t%s\t%s", head, n, eid, type);
}

int og_webhook_item_parse(const char *item, size_t len, struct og_webhook_item *out)
{
    memset(out, 0, sizeof *out);
    char *buf = og_strndup(item, len), *f[4], *p = buf;
    for (int i = 0; i < 3; i++) {
        f[i] = p;
        p = memchr(p, '\t', len - (size_t)(p - buf));
        if (!p) {
            free(buf);
            return -1;
        }
        *p++ = 0;
    }
    f[3] = p;
    *out = (struct og_webhook_item){
        .head = f[0], .n = atoi(f[1]), .eid = f[2], .type = f[3], .buf = buf};
    return 0;
}

const char *og_webhook_item_entry(const struct og_webhook_item *it)
{
    return strncmp(it->head, "r:", 2) == 0 ? it->head + 2 : it->head;
}

void og_webhook_item_clear(struct og_webhook_item *it)
{
    free(it->buf);
    memset(it, 0, sizeof *it);
}

/* The Unix ms an event id was made at (its first 10 base32 characters). */
static int64_t id_time_ms(const char *eid)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const char *p = strchr(eid, '_');
    if (!p || strlen(p + 1) < 10)
        return -1;
    int64_t ms = 0;
    for (int i = 1; i <= 10; i++) {
        const char *c = strchr(alphabet, p[i]);
        if (!c || !p[i])
            return -1;
        ms = ms * 32 + (c - alphabet);
    }
    return ms;
}

og_err og_webhooks_replay(struct og_core *c, const struct og_webhook_sub *s, const char *event_id,
                          int64_t since_ms, int max, int *queued)
{
    *queued = 0;
    int64_t from = event_id ? id_time_ms(event_id) : since_ms;
    if (from < 0)
        return OG_ERR_NOT_FOUND;
    /* Entry ids are the ms Redis appended them, at or a little after the
     * event id's own time (the id is made before the script runs). */
    char start[32], end[32];
    int64_t lo = event_id ? (from > 1000 ? from - 1000 : 0) : from;
    snprintf(start, sizeof start, "%lld-0", (long long)lo);
    snprintf(end, sizeof end, "%lld", (long long)(event_id ? from + 60000 : og_now_ms() + 1000));
    const char **argv = og_calloc(4 + 2 * (size_t)max, sizeof *argv);
    argv[0] = c->tag, argv[1] = "replay", argv[2] = s->id;
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    argv[3] = now;
    int argc = 4;
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "XRANGE %s:events %s %s COUNT %d", c->tag, start, end,
                            event_id ? 100000 : max);
    if (e != OG_OK) {
        free(argv);
        return e;
    }
    char **items = og_calloc((size_t)max + 1, sizeof *items);
    size_t *lens = og_calloc(4 + 2 * (size_t)max, sizeof *lens);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && argc + 2 <= 4 + 2 * max;
         i++) {
        redisReply *ent = r->element[i];
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements < 2)
            continue;
        redisReply *f = ent->element[1];
        const char *eid = "", *type = "", *ses = "";
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            if (strcmp(f->element[k]->str, "id") == 0)
                eid = f->element[k + 1]->str;
            else if (strcmp(f->element[k]->str, "type") == 0)
                type = f->element[k + 1]->str;
            else if (strcmp(f->element[k]->str, "session") == 0)
                ses = f->element[k + 1]->str;
        }
        if (event_id ? strcmp(eid, event_id) != 0 : !og_webhook_sub_matches(s, type))
            continue;
        char *head = og_sprintf("r:%s", ent->element[0]->str);
        size_t n = (size_t)(argc - 4) / 2;
        items[n] = og_webhook_item_new(head, 0, eid, type);
        lens[argc + 1] = strlen(items[n]);
        free(head);
        lens[argc] = strlen(ses);
        argv[argc++] = ses;
        argv[argc++] = items[n];
        if (event_id)
            break;
    }
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    *queued = (argc - 4) / 2;
    if (*queued == 0)
        e = event_id ? OG_ERR_NOT_FOUND : OG_OK;
    else
        e = admin(c, argc, argv);
    freeReplyObject(r);
    for (int i = 0; i < *queued; i++)
        free(items[i]);
    free(items), free(lens), free(argv);
    return e;
}
