/* og_api_webhooks - /api/v1/webhooks: outbound webhook subscriptions (admins
 * only). Create, list, read, update (PATCH), delete, rotate the secret with
 * an overlap during which both secrets sign, list delivery attempts, and
 * replay events. Subscriptions from the config file are shown too; through
 * the API they can only be enabled or disabled (the file is their source).
 *
 * A secret is shown once: in the answer to create and to rotate. Every
 * change bumps {og}:webhooks:ver, so each instance's dispatcher reloads
 * within a quarter of a second. */
#include "og_api.h"
#include "og_util.h"
#include "og_webhooks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keys a client may send; the rest (secret_prev, from_config...) are ours. */
static int keys_ok(struct og_api_ctx *ctx, json_object *j, const char *const *allowed)
{
    json_object_object_foreach(j, key, val)
    {
        (void)val;
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i]) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown or read-only field '%.64s'", key);
            og_reply_err(ctx->r, OG_ERR_INVALID, msg);
            return 0;
        }
    }
    return 1;
}

static void reply_sub(struct og_api_ctx *ctx, int status, const struct og_webhook_sub *s,
                      const char *show_secret)
{
    char *j = og_webhook_sub_json(s, 0);
    if (show_secret) {
        /* append "secret" to the object */
        j[strlen(j) - 1] = 0;
        struct og_buf b = {0};
        og_buf_puts(&b, j);
        og_buf_puts(&b, ",\"secret\":");
        og_buf_json_str(&b, show_secret);
        og_buf_puts(&b, "}");
        free(j);
        j = b.data;
    }
    og_reply_json(ctx->r, status, j);
}

static void list_webhooks(struct og_api_ctx *ctx)
{
    struct og_webhook_sub *subs = NULL;
    size_t n = 0;
    og_err e = og_webhooks_load(ctx->g->core, &subs, &n);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, NULL);
        return;
    }
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    for (size_t i = 0; i < n; i++) {
        char *j = og_webhook_sub_json(&subs[i], 0);
        og_buf_puts(&b, i ? "," : "");
        og_buf_puts(&b, j);
        free(j);
    }
    og_buf_puts(&b, "],\"next_cursor\":null}");
    og_webhook_subs_free(subs, n);
    og_reply_json(ctx->r, 200, b.data);
}

static void create_webhook(struct og_api_ctx *ctx)
{
    static const char *const allowed[] = {
        "id", "url", "secret", "events", "retry_schedule_s", "timeout_ms", "enabled", NULL};
    json_object *j = og_api_json_body(ctx);
    if (!j || !keys_ok(ctx, j, allowed)) {
        json_object_put(j);
        return;
    }
    struct og_webhook_sub s = {0};
    char idbuf[48];
    if (!json_object_object_get_ex(j, "id", NULL)) {
        og_id_new("wh_", og_now_ms(), idbuf, sizeof idbuf);
        for (char *p = idbuf; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        json_object_object_add(j, "id", json_object_new_string(idbuf));
    }
    char err[200];
    if (og_webhook_sub_parse(j, &s, 0, err, sizeof err) != 0) {
        json_object_put(j);
        og_webhook_sub_clear(&s);
        og_reply_err(ctx->r, OG_ERR_INVALID, err);
        return;
    }
    json_object_put(j);
    if (!s.secret)
        s.secret = og_webhook_secret_new();
    char now[32];
    og_time_rfc3339(og_now_ms(), now);
    s.created_at = og_strdup(now);
    s.updated_at = og_strdup(now);
    og_err e = og_webhooks_put(ctx->g->core, &s, 1);
    if (e == OG_ERR_CONFLICT)
        og_reply_err(ctx->r, OG_ERR_CONFLICT, "a webhook with this id exists");
    else if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        reply_sub(ctx, 201, &s, s.secret);
    og_webhook_sub_clear(&s);
}

/* Loads params[0]; answers 404/503 and returns -1 when it cannot. */
static int load_sub(struct og_api_ctx *ctx, struct og_webhook_sub *s)
{
    og_err e = og_webhooks_get(ctx->g->core, ctx->params[0], s);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such webhook" : NULL);
        return -1;
    }
    return 0;
}

static void get_webhook(struct og_api_ctx *ctx)
{
    struct og_webhook_sub s;
    if (load_sub(ctx, &s) != 0)
        return;
    reply_sub(ctx, 200, &s, NULL);
    og_webhook_sub_clear(&s);
}

/* PATCH {"lagging": null}: the operator has seen the loss (og_webhook_lag). */
static int lagging_ok(struct og_api_ctx *ctx, json_object *j)
{
    json_object *v;
    if (json_object_object_get_ex(j, "lagging", &v) && !json_object_is_type(v, json_type_null)) {
        og_reply_err(ctx->r, OG_ERR_INVALID,
                     "lagging: only null can be set (it clears the lagging mark)");
        return 0;
    }
    return 1;
}

static void update_webhook(struct og_api_ctx *ctx)
{
    static const char *const allowed[] = {
        "url", "events", "retry_schedule_s", "timeout_ms", "enabled", "lagging", NULL};
    static const char *const allowed_cfg[] = {"enabled", "lagging", NULL};
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return;
    struct og_webhook_sub s;
    if (load_sub(ctx, &s) != 0) {
        json_object_put(j);
        return;
    }
    if (s.from_config && !json_object_object_get_ex(j, "enabled", NULL) &&
        !json_object_object_get_ex(j, "lagging", NULL) && json_object_object_length(j) > 0) {
        og_reply_err(ctx->r, OG_ERR_CONFLICT,
                     "this webhook comes from the config file; only 'enabled' and 'lagging' can "
                     "change here");
        goto out;
    }
    if (!keys_ok(ctx, j, s.from_config ? allowed_cfg : allowed) || !lagging_ok(ctx, j))
        goto out;
    char err[200];
    if (og_webhook_sub_parse(j, &s, 1, err, sizeof err) != 0) {
        og_reply_err(ctx->r, OG_ERR_INVALID, err);
        goto out;
    }
    if (json_object_object_get_ex(j, "lagging", NULL)) {
        og_err le = og_webhooks_lag_clear(ctx->g->core, s.id);
        if (le != OG_OK) {
            og_reply_err(ctx->r, le, NULL);
            goto out;
        }
        memset(&s.lag, 0, sizeof s.lag);
    }
    char now[32];
    og_time_rfc3339(og_now_ms(), now);
    free(s.updated_at);
    s.updated_at = og_strdup(now);
    og_err e = og_webhooks_put(ctx->g->core, &s, 0);
    json_object *en;
    if (e == OG_OK && json_object_object_get_ex(j, "enabled", &en) && json_object_get_boolean(en) &&
        s.disabled_reason) {
        /* Enabling again clears a 410. */
        e = og_webhooks_set_disabled(ctx->g->core, s.id, NULL);
        free(s.disabled_reason);
        s.disabled_reason = NULL;
    }
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        reply_sub(ctx, 200, &s, NULL);
out:
    json_object_put(j);
    og_webhook_sub_clear(&s);
}

static void delete_webhook(struct og_api_ctx *ctx)
{
    struct og_webhook_sub s;
    if (load_sub(ctx, &s) != 0)
        return;
    if (s.from_config) {
        og_reply_err(ctx->r, OG_ERR_CONFLICT,
                     "this webhook comes from the config file; remove it there");
        og_webhook_sub_clear(&s);
        return;
    }
    og_err e = og_webhooks_delete(ctx->g->core, s.id);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such webhook" : NULL);
    else
        og_reply_json(ctx->r, 200, og_sprintf("{\"id\":\"%s\",\"deleted\":true}", s.id));
    og_webhook_sub_clear(&s);
}

static void rotate_webhook(struct og_api_ctx *ctx)
{
    static const char *const allowed[] = {"secret", "overlap_s", NULL};
    json_object *j = ctx->len ? og_api_json_body(ctx) : json_object_new_object();
    if (!j || !keys_ok(ctx, j, allowed)) {
        json_object_put(j);
        return;
    }
    json_object *v;
    int64_t overlap = 86400;
    char *secret = NULL;
    unsigned char key[64];
    if (json_object_object_get_ex(j, "overlap_s", &v)) {
        overlap = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (overlap < 0 || overlap > 30 * 86400) {
            og_reply_err(ctx->r, OG_ERR_INVALID, "overlap_s: must be an integer from 0 to 2592000");
            json_object_put(j);
            return;
        }
    }
    if (json_object_object_get_ex(j, "secret", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            og_webhook_secret_decode(json_object_get_string(v), key) < 0) {
            og_reply_err(ctx->r, OG_ERR_INVALID,
                         "secret: must be \"whsec_\" + base64 of 24 to 64 bytes");
            json_object_put(j);
            return;
        }
        secret = og_strdup(json_object_get_string(v));
    }
    json_object_put(j);
    struct og_webhook_sub s;
    if (load_sub(ctx, &s) != 0) {
        free(secret);
        return;
    }
    if (s.from_config) {
        og_reply_err(ctx->r, OG_ERR_CONFLICT,
                     "this webhook comes from the config file; change its secret there");
        free(secret);
        og_webhook_sub_clear(&s);
        return;
    }
    int64_t now = og_now_ms();
    free(s.secret_prev);
    s.secret_prev = overlap > 0 ? s.secret : NULL;
    if (overlap == 0)
        free(s.secret);
    s.prev_until_ms = overlap > 0 ? now + overlap * 1000 : 0;
    s.secret = secret ? secret : og_webhook_secret_new();
    char nowt[32];
    og_time_rfc3339(now, nowt);
    free(s.updated_at);
    s.updated_at = og_strdup(nowt);
    og_err e = og_webhooks_put(ctx->g->core, &s, 0);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        reply_sub(ctx, 200, &s, s.secret);
    og_webhook_sub_clear(&s);
}

static void list_deliveries(struct og_api_ctx *ctx)
{
    const char *status = og_api_arg(ctx, "status");
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    if (status && *status && strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0 &&
        strcmp(status, "dead") != 0) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "status must be one of ok, failed, dead");
        return;
    }
    struct og_webhook_sub s;
    if (load_sub(ctx, &s) != 0)
        return;
    char *json = NULL;
    og_err e =
        og_webhooks_deliveries(ctx->g->core, s.id, status && *status ? status : NULL, limit, &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200, json);
    og_webhook_sub_clear(&s);
}

static void replay_webhook(struct og_api_ctx *ctx)
{
    static const char *const allowed[] = {"event_id", "since", NULL};
    json_object *j = og_api_json_body(ctx);
    if (!j || !keys_ok(ctx, j, allowed)) {
        json_object_put(j);
        return;
    }
    json_object *ev = NULL, *since = NULL;
    json_object_object_get_ex(j, "event_id", &ev);
    json_object_object_get_ex(j, "since", &since);
    int64_t since_ms = -1;
    if (since && json_object_is_type(since, json_type_string))
        since_ms = og_time_parse(json_object_get_string(since), NULL);
    if (!!ev == !!since || (ev && !og_id_valid(json_object_get_string(ev), "evt_")) ||
        (since && since_ms < 0)) {
        og_reply_err(ctx->r, OG_ERR_INVALID,
                     "give either event_id (an evt_ id) or since (an RFC 3339 UTC time)");
        json_object_put(j);
        return;
    }
    struct og_webhook_sub s;
    if (load_sub(ctx, &s) != 0) {
        json_object_put(j);
        return;
    }
    int queued = 0;
    og_err e = og_webhooks_replay(ctx->g->core, &s, ev ? json_object_get_string(ev) : NULL,
                                  since_ms, 10000, &queued);
    if (e == OG_ERR_NOT_FOUND)
        og_reply_err(ctx->r, e, "no such event in the stream");
    else if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 202, og_sprintf("{\"queued\":%d}", queued));
    og_webhook_sub_clear(&s);
    json_object_put(j);
}

const struct og_route og_api_webhook_routes[] = {
    {"GET", "/webhooks", OG_ROLE_ADMIN, list_webhooks},
    {"POST", "/webhooks", OG_ROLE_ADMIN, create_webhook},
    {"GET", "/webhooks/:id", OG_ROLE_ADMIN, get_webhook},
    {"PATCH", "/webhooks/:id", OG_ROLE_ADMIN, update_webhook},
    {"PUT", "/webhooks/:id", OG_ROLE_ADMIN, update_webhook},
    {"DELETE", "/webhooks/:id", OG_ROLE_ADMIN, delete_webhook},
    {"POST", "/webhooks/:id/rotate", OG_ROLE_ADMIN, rotate_webhook},
    {"GET", "/webhooks/:id/deliveries", OG_ROLE_ADMIN, list_deliveries},
    {"POST", "/webhooks/:id/replay", OG_ROLE_ADMIN, replay_webhook},
    {NULL, NULL, 0, NULL},
};
