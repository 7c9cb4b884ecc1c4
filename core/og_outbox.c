/* og_outbox - see og_outbox.h. */
#include "og_outbox.h"
#include "og_archive.h"
#include "og_core_int.h"
#include "og_log.h"
#include "og_sensitive.h"
#include "og_sessions.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct og_outbox_stats og_outbox_stats;

/* An outbox.lua op whose reply is {"ok", value}; *ival gets an integer value. */
static og_err step(struct og_core *c, int argc, const char **argv, long long *ival)
{
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_OUTBOX, argc, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (ival)
        *ival = r->elements >= 2 && r->element[1]->type == REDIS_REPLY_INTEGER
                    ? r->element[1]->integer
                    : 0;
    freeReplyObject(r);
    return OG_OK;
}

static const char *kind_of(const struct og_outbox_msg *m)
{
    if (!m->n_atts)
        return "text";
    const char *t = m->atts[0].mime_type ? m->atts[0].mime_type : "";
    if (strncmp(t, "image/", 6) == 0)
        return "image";
    if (strncmp(t, "video/", 6) == 0)
        return "video";
    if (strncmp(t, "audio/", 6) == 0)
        return "audio";
    return "file";
}

char *og_outbox_render_tail(const struct og_outbox_msg *m, const char *now_iso, const char *terms)
{
    struct og_buf b = {0};
    og_buf_printf(&b, "\"provider_message_id\":null,\"kind\":\"%s\",\"text\":", kind_of(m));
    og_buf_json_str(&b, m->text && *m->text ? m->text : NULL);
    og_buf_puts(&b, ",\"attachments\":[");
    for (size_t i = 0; i < m->n_atts; i++) {
        og_buf_puts(&b, i ? ",{\"url\":" : "{\"url\":");
        og_buf_json_str(&b, m->atts[i].url);
        og_buf_puts(&b, ",\"media_id\":null,\"mime_type\":");
        og_buf_json_str(&b, m->atts[i].mime_type);
        og_buf_puts(&b, ",\"name\":");
        og_buf_json_str(&b, m->atts[i].name);
        if (m->atts[i].upload_id) {
            og_buf_puts(&b, ",\"upload_id\":");
            og_buf_json_str(&b, m->atts[i].upload_id);
        }
        og_buf_printf(&b, ",\"size\":%lld}", (long long)m->atts[i].size);
    }
    og_buf_printf(&b, "],\"location\":null,\"created_at\":\"%s\"", now_iso);
    if (m->template_json)
        og_buf_printf(&b, ",\"template\":%s", m->template_json);
    if (m->tag) {
        og_buf_puts(&b, ",\"tag\":");
        og_buf_json_str(&b, m->tag);
    }
    if (m->n_buttons) {
        og_buf_puts(&b, ",\"buttons\":[");
        for (size_t i = 0; i < m->n_buttons; i++) {
            og_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
            og_buf_json_str(&b, m->buttons[i].id);
            og_buf_puts(&b, ",\"title\":");
            og_buf_json_str(&b, m->buttons[i].title);
            og_buf_puts(&b, "}");
        }
        og_buf_puts(&b, "]");
    }
    if (terms)
        og_buf_printf(&b, ",\"flags\":[\"sensitive\"],\"sensitive_terms\":%s", terms);
    return b.data;
}

/* The sensitive words of an agent's text, matched here before the script
 * (og_sensitive.h): *terms [xfer] is their JSON array or NULL. OG_OK to go
 * on (flagged when *terms is set); OG_ERR_FORBIDDEN when the config blocks
 * such a message: nothing is stored, and the terms go to *json. */
static og_err agent_words(struct og_core *c, const struct og_outbox_msg *m, char **terms,
                          char **json)
{
    *terms = m->text ? og_sensitive_match(c->sw_agents, m->text, strlen(m->text)) : NULL;
    if (!*terms || !c->sw_block_agents)
        return OG_OK;
    *json = *terms;
    *terms = NULL;
    return OG_ERR_FORBIDDEN;
}

static char *render_sender(const struct og_outbox_msg *m)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"type\":\"agent\",\"id\":");
    og_buf_json_str(&b, m->sender_id && *m->sender_id ? m->sender_id : "admin");
    og_buf_puts(&b, ",\"name\":null}");
    return b.data;
}

og_err og_outbox_reply(struct og_core *c, const char *sid, const struct og_outbox_msg *m,
                       char **json, char *mid, size_t midsz)
{
    *json = NULL;
    char *terms;
    og_err e = agent_words(c, m, &terms, json);
    if (e != OG_OK)
        return e;
    int64_t now = og_now_ms();
    char now_iso[32], now_s[24], eid[48], feid[48];
    og_time_rfc3339(now, now_iso);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    og_id_new("msg_", now, mid, midsz);
    og_id_new("evt_", now, eid, sizeof eid);
    og_id_new("evt_", now, feid, sizeof feid);
    char *tail = og_outbox_render_tail(m, now_iso, terms), *sender = render_sender(m);
    char day[24], max_age[24];
    snprintf(day, sizeof day, "%lld", (long long)c->goal_day_ms);
    snprintf(max_age, sizeof max_age, "%lld", (long long)m->max_age_ms);
    const char *argv[] = {c->tag,
                          "reply",
                          sid,
                          mid,
                          now_s,
                          now_iso,
                          tail,
                          sender,
                          eid,
                          terms ? terms : "",
                          feid,
                          day,
                          m->sender_id && *m->sender_id ? m->sender_id : "admin",
                          max_age};
    redisReply *r = NULL;
    e = og_script_call(c, OG_LUA_OUTBOX_REPLY, 14, argv, NULL, &r, NULL, 0);
    free(tail), free(sender), free(terms);
    if (e != OG_OK)
        return e;
    if (r->elements >= 2) {
        *json = og_strndup(r->element[1]->str, r->element[1]->len);
        atomic_fetch_add(&og_outbox_stats.replies, 1);
    } else {
        e = OG_ERR_INTERNAL;
    }
    freeReplyObject(r);
    return e;
}

og_err og_outbox_start_session(struct og_core *c, const struct og_outbox_start *s,
                               const struct og_outbox_msg *m, char **json, char *sid, size_t sidsz,
                               int *created, int *window)
{
    *json = NULL;
    *created = *window = 0;
    char *terms;
    og_err e = agent_words(c, m, &terms, json);
    if (e != OG_OK)
        return e;
    int64_t now = og_now_ms();
    char now_iso[32], now_s[24], eid[48], feid[48], mid[48], wms[24], day[24];
    og_time_rfc3339(now, now_iso);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(wms, sizeof wms, "%lld", (long long)s->window_ms);
    snprintf(day, sizeof day, "%lld", (long long)c->goal_day_ms);
    og_id_new("ses_", now, sid, sidsz);
    og_id_new("msg_", now, mid, sizeof mid);
    og_id_new("evt_", now, eid, sizeof eid);
    og_id_new("evt_", now, feid, sizeof feid);
    char *tail = og_outbox_render_tail(m, now_iso, terms), *sender = render_sender(m);
    const char *argv[] = {c->tag,
                          "start",
                          s->channel,
                          s->connector,
                          s->routing,
                          s->contact_id ? s->contact_id : "",
                          s->external_id ? s->external_id : "",
                          sid,
                          mid,
                          now_s,
                          now_iso,
                          tail,
                          sender,
                          eid,
                          s->agent_id ? s->agent_id : "",
                          wms,
                          s->non_realtime ? "1" : "0",
                          terms ? terms : "",
                          feid,
                          day};
    redisReply *r = NULL;
    char why[64];
    e = og_script_call(c, OG_LUA_OUTBOX_REPLY, 20, argv, NULL, &r, why, sizeof why);
    if (e == OG_ERR_CONFLICT && strncmp(why, "archived:", 9) == 0) {
        /* the contact's thread is in the archive (og_archive.h): back first */
        e = og_archive_restore(c, why + 9);
        if (e == OG_OK)
            e = og_script_call(c, OG_LUA_OUTBOX_REPLY, 20, argv, NULL, &r, why, sizeof why);
    }
    free(tail), free(sender), free(terms);
    if (e == OG_ERR_CONFLICT) {
        snprintf(sid, sidsz, "%s", why); /* the open session */
        return e;
    }
    if (e == OG_ERR_WINDOW_CLOSED) {
        *window = 1;
        return OG_ERR_CONFLICT;
    }
    if (e != OG_OK)
        return e;
    if (r->elements >= 4) {
        snprintf(sid, sidsz, "%s", r->element[2]->str);
        *created = atoi(r->element[3]->str);
        char *sj = NULL;
        struct og_viewer admin = {.role = OG_ROLE_ADMIN, .agent_id = ""};
        og_session_get(c, &admin, sid, &sj);
        *json = og_sprintf("{\"session\":%s,\"message\":%s}", sj ? sj : "null", r->element[1]->str);
        free(sj);
        atomic_fetch_add(&og_outbox_stats.replies, 1);
    } else {
        e = OG_ERR_INTERNAL;
    }
    freeReplyObject(r);
    return e;
}

static char *str_el(redisReply *r, size_t i)
{
    return og_strndup(r->element[i]->str, r->element[i]->len);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static enum og_kind kind_from(const char *s)
{
    static const char *const names[] = {"text", "image", "video", "audio", "file"};
    for (int i = 0; s && i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return (enum og_kind)i;
    return OG_KIND_TEXT;
}

og_err og_outbox_load(struct og_core *c, const char *mid, int64_t busy_ms,
                      struct og_outbox_item *it)
{
    memset(it, 0, sizeof *it);
    int64_t now = og_now_ms();
    char now_s[24], busy[24];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(busy, sizeof busy, "%lld", (long long)busy_ms);
    const char *argv[] = {c->tag, "load", mid, now_s, busy};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_OUTBOX, 5, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e; /* not_found: gone or no longer pending; conflict: busy elsewhere */
    if (r->elements < 9) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    it->channel = str_el(r, 1);
    it->thread = str_el(r, 2);
    it->ext = str_el(r, 3);
    char *jtext = og_sprintf("%s}", r->element[4]->str); /* stored without its end */
    it->j = json_tokener_parse(jtext);
    free(jtext);
    it->reply_token = r->element[5]->len ? str_el(r, 5) : NULL;
    long long rt_ms = atoll(r->element[6]->str), lc_ms = atoll(r->element[7]->str);
    int has_lc = r->element[7]->len > 0;
    it->attempts = atoi(r->element[8]->str);
    freeReplyObject(r);
    if (!it->j) {
        og_outbox_item_free(it);
        return OG_ERR_INTERNAL;
    }
    struct og_outbound *ob = &it->ob;
    ob->struct_size = sizeof *ob;
    ob->message_id = jstr(it->j, "id");
    ob->thread_id = it->thread;
    ob->contact_external_id = it->ext;
    ob->kind = kind_from(jstr(it->j, "kind"));
    ob->text = jstr(it->j, "text");
    json_object *atts = json_object_object_get(it->j, "attachments");
    size_t n = json_object_is_type(atts, json_type_array) ? json_object_array_length(atts) : 0;
    if (n) {
        it->atts = og_calloc(n, sizeof *it->atts);
        for (size_t i = 0; i < n; i++) {
            json_object *a = json_object_array_get_idx(atts, i);
            it->atts[i].url = jstr(a, "url");
            it->atts[i].mime_type = jstr(a, "mime_type");
            it->atts[i].name = jstr(a, "name");
        }
    }
    ob->attachments = it->atts;
    ob->n_attachments = n;
    json_object *tpl = json_object_object_get(it->j, "template");
    if (json_object_is_type(tpl, json_type_object))
        it->template_json = og_strdup(json_object_to_json_string_ext(tpl, JSON_C_TO_STRING_PLAIN));
    ob->template_json = it->template_json;
    ob->tag = jstr(it->j, "tag");
    json_object *btns = json_object_object_get(it->j, "buttons");
    size_t nb = json_object_is_type(btns, json_type_array) ? json_object_array_length(btns) : 0;
    if (nb) {
        it->buttons = og_calloc(nb, sizeof *it->buttons);
        for (size_t i = 0; i < nb; i++) {
            json_object *bt = json_object_array_get_idx(btns, i);
            it->buttons[i].id = jstr(bt, "id");
            it->buttons[i].title = jstr(bt, "title");
        }
    }
    ob->buttons = it->buttons;
    ob->n_buttons = nb;
    ob->reply_to_provider_id = NULL;
    ob->reply_token = it->reply_token;
    ob->reply_token_age_ms = it->reply_token && rt_ms > 0 ? now - rt_ms : -1;
    ob->last_inbound_age_ms = has_lc ? now - lc_ms : -1;
    return OG_OK;
}

void og_outbox_item_free(struct og_outbox_item *it)
{
    free(it->channel), free(it->thread), free(it->ext), free(it->reply_token), free(it->atts);
    free(it->template_json), free(it->buttons);
    json_object_put(it->j);
    memset(it, 0, sizeof *it);
}

static char *error_json(const char *code, const char *message)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"code\":");
    og_buf_json_str(&b, code && *code ? code : "error");
    og_buf_puts(&b, ",\"message\":");
    og_buf_json_str(&b, message && *message ? message : NULL);
    og_buf_puts(&b, "}");
    return b.data;
}

og_err og_outbox_sent(struct og_core *c, const char *mid, const char *entry, const char *pmid)
{
    int64_t now = og_now_ms();
    char now_iso[32], now_s[24], eid[48];
    og_time_rfc3339(now, now_iso);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    og_id_new("evt_", now, eid, sizeof eid);
    const char *argv[] = {c->tag, "sent", mid, entry, pmid ? pmid : "", now_s, now_iso, eid};
    og_err e = step(c, 8, argv, NULL);
    if (e == OG_OK)
        atomic_fetch_add(&og_outbox_stats.sent, 1);
    return e;
}

og_err og_outbox_retry(struct og_core *c, const char *mid, const char *entry, int64_t due_ms,
                       const char *code, const char *message)
{
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    char *err = error_json(code, message);
    const char *argv[] = {c->tag, "retry", mid, entry, due, err};
    og_err e = step(c, 6, argv, NULL);
    free(err);
    if (e == OG_OK)
        atomic_fetch_add(&og_outbox_stats.retried, 1);
    return e;
}

og_err og_outbox_fail(struct og_core *c, const char *mid, const char *entry, const char *code,
                      const char *message)
{
    int64_t now = og_now_ms();
    char now_iso[32], eid[48];
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, eid, sizeof eid);
    char *err = error_json(code, message);
    const char *argv[] = {c->tag, "fail", mid, entry, err, now_iso, eid};
    og_err e = step(c, 7, argv, NULL);
    free(err);
    if (e == OG_OK)
        atomic_fetch_add(&og_outbox_stats.failed, 1);
    return e;
}

og_err og_outbox_ack(struct og_core *c, const char *entry)
{
    const char *argv[] = {c->tag, "ack", entry};
    return step(c, 3, argv, NULL);
}

og_err og_outbox_spend_token(struct og_core *c, const char *mid, const char *token)
{
    const char *argv[] = {c->tag, "spend", mid, token};
    return step(c, 4, argv, NULL);
}

og_err og_outbox_rate(struct og_core *c, const char *channel, double per_s, int64_t pause_until_ms,
                      int64_t *wait_ms)
{
    char interval[32], now_s[24], pause[24] = "";
    snprintf(interval, sizeof interval, "%.3f", per_s > 0 ? 1000.0 / per_s : 0.0);
    snprintf(now_s, sizeof now_s, "%lld", (long long)og_now_ms());
    if (pause_until_ms > 0)
        snprintf(pause, sizeof pause, "%lld", (long long)pause_until_ms);
    const char *argv[] = {c->tag, "rate", channel, interval, now_s, pause};
    long long w = 0;
    og_err e = step(c, 6, argv, &w);
    *wait_ms = e == OG_OK ? w : 0;
    return e;
}

og_err og_outbox_pump(struct og_core *c, int limit, int *moved)
{
    char now_s[24], lim[16];
    snprintf(now_s, sizeof now_s, "%lld", (long long)og_now_ms());
    snprintf(lim, sizeof lim, "%d", limit);
    const char *argv[] = {c->tag, "pump", now_s, lim};
    long long n = 0;
    og_err e = step(c, 4, argv, &n);
    *moved = (int)n;
    return e;
}

og_err og_outbox_windows(struct og_core *c, int limit, int *fired)
{
    int64_t now = og_now_ms();
    char now_s[24], lim[16], now_iso[32], eid[48];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(lim, sizeof lim, "%d", limit);
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, eid, sizeof eid);
    const char *argv[] = {c->tag, "windows", now_s, lim, now_iso, eid};
    long long n = 0;
    og_err e = step(c, 6, argv, &n);
    *fired = (int)n;
    return e;
}

og_err og_outbox_status(void *core, struct og_channel *ch, const struct og_status_update *s)
{
    static const char *const names[] = {"pending", "sent", "delivered", "read", "failed"};
    struct og_core *c = core;
    if ((unsigned)s->status >= OG_STATUS__LAST || s->status == OG_STATUS_PENDING)
        return OG_OK; /* nothing to move to */
    int64_t now = og_now_ms();
    char now_iso[32], now_s[24], wm[24], eid[48], ttl[24];
    og_time_rfc3339(now, now_iso);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(wm, sizeof wm, "%lld", (long long)s->watermark_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)c->dedup_ttl_s);
    og_id_new("evt_", now, eid, sizeof eid);
    char *err = s->status == OG_STATUS_FAILED ? error_json(s->error_code, s->error_message)
                                              : og_strdup("null");
    const int by_id = s->provider_message_id && *s->provider_message_id;
    const char *argv[] = {c->tag,
                          ch->id,
                          s->dedup_key,
                          by_id ? s->provider_message_id : "",
                          by_id || !s->thread_id ? "" : s->thread_id,
                          wm,
                          names[s->status],
                          err,
                          now_s,
                          now_iso,
                          eid,
                          ttl};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_OUTBOX_STATUS, 12, argv, NULL, &r, NULL, 0);
    free(err);
    if (e != OG_OK)
        return e;
    atomic_fetch_add(&og_outbox_stats.statuses, 1);
    const redisReply *v = r->elements >= 2 ? r->element[1] : NULL;
    if (v && v->type == REDIS_REPLY_STRING && strcmp(v->str, "dup") == 0) {
        atomic_fetch_add(&og_outbox_stats.status_dups, 1);
    } else if (v && v->type == REDIS_REPLY_STRING && strcmp(v->str, "unknown") == 0) {
        atomic_fetch_add(&og_outbox_stats.status_unknown, 1);
        og_log_write(OG_LOG_DEBUG, ch->scope, "status %s for unknown message %s", names[s->status],
                     by_id          ? s->provider_message_id
                     : s->thread_id ? s->thread_id
                                    : "?");
    }
    freeReplyObject(r);
    return OG_OK;
}
