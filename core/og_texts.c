/* og_texts - see og_texts.h. The scripts decide when a text is due and
 * whether it still fits (core/lua/texts.lua); this file owns the templates,
 * renders them, and writes the config's texts to Redis once per start. */
#include "og_texts.h"
#include "og_core_int.h"
#include "og_csat.h"
#include "og_log.h"
#include "og_outbox.h"
#include "og_template.h"
#include "og_util.h"

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_MS 30000 /* a claimed text another instance may take after this */

const char *const og_texts_names[] = {
    "contact.name", "contact.email", "contact.phone", "agent.name", "channel", "session.id", NULL,
};
const char *const og_texts_queue_names[] = {
    "contact.name", "contact.email", "contact.phone",  "agent.name",
    "channel",      "session.id",    "queue.position", NULL,
};

/* One channel's texts; every string owned (NULL = not sent). */
struct og_texts_chan {
    char *channel, *greeting, *queue, *assigned, *closing, *timeout;
    char *csat, *csat_thanks; /* literal texts, no placeholders */
    char *csat_tap;           /* the survey's text above its buttons */
    int csat_scale;
};

struct og_texts {
    struct og_texts_chan *v; /* owned array */
    size_t n;
    char *sync_json;   /* owned: texts.lua sync's ARGV[3] */
    atomic_int synced; /* 1 once this instance wrote sync_json to Redis */
};

int og_texts_realtime_ok(const char *queue_text)
{
    char err[8];
    return !queue_text || og_template_check_names(queue_text, og_texts_names, err, sizeof err) == 0;
}

static char *text_dup(const char *s)
{
    return s && *s ? og_strdup(s) : NULL;
}

/* What the scripts need of one channel: which texts it has, the timeouts. */
static json_object *script_conf(const struct og_texts_conf *c)
{
    json_object *o = json_object_new_object();
    const struct {
        const char *name, *text;
    } kinds[] = {{"greeting", c->greeting},
                 {"queue", c->queue},
                 {"assigned", c->assigned},
                 {"closing", c->closing},
                 {"timeout", c->timeout_text}};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (kinds[i].text && *kinds[i].text &&
            (strcmp(kinds[i].name, "timeout") != 0 || c->timeout_after_s > 0))
            json_object_object_add(o, kinds[i].name, json_object_new_int(1));
    if (c->timeout_after_s > 0 && c->timeout_text && *c->timeout_text) {
        json_object_object_add(o, "to", json_object_new_int64(c->timeout_after_s * 1000));
        if (c->auto_close_after_s > 0)
            json_object_object_add(o, "ac", json_object_new_int64(c->auto_close_after_s * 1000));
    }
    if (c->csat_scale && c->csat_on) {
        json_object_object_add(o, "csat", json_object_new_string(c->csat_on));
        if (!strcmp(c->csat_on, "silence") && c->csat_silence_s > 0)
            json_object_object_add(o, "cs", json_object_new_int64(c->csat_silence_s * 1000));
        if (c->csat_thanks && *c->csat_thanks)
            json_object_object_add(o, "csat_thanks", json_object_new_int(1));
    }
    return o;
}

struct og_texts *og_texts_new(const struct og_texts_conf *confs, size_t n)
{
    struct og_texts *t = og_calloc(1, sizeof *t);
    t->v = og_calloc(n + 1, sizeof *t->v);
    json_object *all = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        const struct og_texts_conf *c = &confs[i];
        json_object *sc = script_conf(c);
        if (!c->channel || json_object_object_length(sc) == 0) {
            json_object_put(sc);
            continue;
        }
        json_object_object_add(all, c->channel, sc);
        struct og_texts_chan *ch = &t->v[t->n++];
        ch->channel = og_strdup(c->channel);
        ch->greeting = text_dup(c->greeting);
        ch->queue = text_dup(c->queue);
        ch->assigned = text_dup(c->assigned);
        ch->closing = text_dup(c->closing);
        ch->timeout = c->timeout_after_s > 0 ? text_dup(c->timeout_text) : NULL;
        ch->csat = c->csat_scale && c->csat_on
                       ? og_csat_survey_text(c->csat_scale, c->csat_question)
                       : NULL;
        ch->csat_thanks = ch->csat ? text_dup(c->csat_thanks) : NULL;
        ch->csat_scale = ch->csat ? c->csat_scale : 0;
        ch->csat_tap = ch->csat ? og_csat_survey_tap_text(c->csat_scale, c->csat_question) : NULL;
    }
    t->sync_json = og_strdup(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN));
    json_object_put(all);
    return t;
}

void og_texts_free(struct og_texts *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        struct og_texts_chan *c = &t->v[i];
        free(c->channel), free(c->greeting), free(c->queue), free(c->assigned);
        free(c->closing), free(c->timeout), free(c->csat), free(c->csat_thanks);
        free(c->csat_tap);
    }
    free(t->v);
    free(t->sync_json);
    free(t);
}

/* The template of a kind of text on a channel, or NULL. [borrowed from t] */
static const char *template_of(const struct og_texts *t, const char *channel, const char *kind)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct og_texts_chan *c = &t->v[i];
        if (strcmp(c->channel, channel) != 0)
            continue;
        return !strcmp(kind, "greeting")      ? c->greeting
               : !strcmp(kind, "queue")       ? c->queue
               : !strcmp(kind, "assigned")    ? c->assigned
               : !strcmp(kind, "closing")     ? c->closing
               : !strcmp(kind, "timeout")     ? c->timeout
               : !strcmp(kind, "csat")        ? c->csat
               : !strcmp(kind, "csat_thanks") ? c->csat_thanks
                                              : NULL;
    }
    return NULL;
}

void og_texts_set_survey_buttons(struct og_core *c, const char *channel)
{
    c->survey_buttons =
        og_realloc(c->survey_buttons, (c->n_survey_buttons + 1) * sizeof *c->survey_buttons);
    c->survey_buttons[c->n_survey_buttons++] = og_strdup(channel);
}

static int survey_buttons(const struct og_core *c, const char *channel)
{
    for (size_t i = 0; i < c->n_survey_buttons; i++)
        if (strcmp(c->survey_buttons[i], channel) == 0)
            return 1;
    return 0;
}

static const struct og_texts_chan *chan_of(const struct og_texts *t, const char *channel)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].channel, channel) == 0)
            return &t->v[i];
    return NULL;
}

/* One claimed job (texts.lua claim): its nine values, [borrowed from the reply]. */
struct job {
    const char *member, *kind, *sid, *channel, *name, *email, *phone, *agent, *position;
};

/* Renders the job's text and stores it (or drops the job when this
 * instance has no such text: its config changed meanwhile). 1 when sent. */
static int send_one(struct og_core *c, const struct job *j)
{
    const char *tpl = template_of(c->texts, j->channel, j->kind);
    const struct og_tvar vars[] = {
        {"contact.name", j->name, NULL},       {"contact.email", j->email, NULL},
        {"contact.phone", j->phone, NULL},     {"agent.name", j->agent, NULL},
        {"channel", j->channel, NULL},         {"session.id", j->sid, NULL},
        {"queue.position", j->position, NULL},
    };
    int literal = !strncmp(j->kind, "csat", 4); /* the survey's texts have no placeholders */
    char *text = !tpl      ? NULL
                 : literal ? og_strdup(tpl)
                           : og_template_render(tpl, vars, sizeof vars / sizeof *vars, 0);
    int64_t now = og_now_ms();
    char now_iso[32], mid[48];
    og_time_rfc3339(now, now_iso);
    og_id_new("msg_", now, mid, sizeof mid);
    struct og_outbox_msg m = {.text = text};
    /* The survey where the channel has buttons: one a score, the customer
     * taps (typing a number still counts, og_csat_parse_answer). */
    const struct og_texts_chan *tc = chan_of(c->texts, j->channel);
    struct og_outbox_button btns[5];
    char ids[5][16];
    static const char *const titles5[] = {"1", "2", "3", "4", "5"};
    if (tpl && !strcmp(j->kind, "csat") && tc && tc->csat_tap && tc->csat_scale <= 5 &&
        survey_buttons(c, j->channel)) {
        int n = tc->csat_scale;
        for (int i = 0; i < n; i++) {
            int score = n == 2 ? 2 - i : i + 1; /* thumbs: up first */
            snprintf(ids[i], sizeof ids[i], "%s%d", OG_CSAT_BUTTON_PREFIX, score);
            btns[i].id = ids[i];
            btns[i].title =
                n == 2 ? (score == 2 ? "\xf0\x9f\x91\x8d" : "\xf0\x9f\x91\x8e") : titles5[i];
        }
        free(text);
        text = og_strdup(tc->csat_tap);
        m.text = text;
        m.buttons = btns;
        m.n_buttons = (size_t)n;
    }
    char *tail = text && *text ? og_outbox_render_tail(&m, now_iso, NULL) : og_strdup("");
    const char *argv[] = {c->tag, "store", j->member, mid, now_iso, tail, c->instance};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_TEXTS, 7, argv, NULL, &r, NULL, 0);
    int sent = e == OG_OK && r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING &&
               strcmp(r->element[1]->str, "sent") == 0;
    if (sent)
        og_debug("texts: %s text %s sent in %s", j->kind, mid, j->sid);
    if (r)
        freeReplyObject(r);
    free(text);
    free(tail);
    return sent;
}

/* Writes the config's texts to Redis (P:texts). */
static og_err sync(struct og_core *c)
{
    const char *argv[] = {c->tag, "sync", c->texts->sync_json};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_TEXTS, 3, argv, NULL, &r, NULL, 0);
    if (r)
        freeReplyObject(r);
    return e;
}

og_err og_texts_sync(struct og_core *c)
{
    struct og_texts *t = c->texts;
    og_err e = sync(c);
    if (e == OG_OK)
        atomic_store(&t->synced, 1);
    return e;
}

int og_texts_step(struct og_core *c, int max)
{
    struct og_texts *t = c->texts;
    if (!t)
        return 0;
    if (!atomic_load(&t->synced)) {
        if (sync(c) != OG_OK)
            return 0;
        atomic_store(&t->synced, 1);
    }
    if (!t->n)
        return 0; /* this config sends no texts, so it queues none */
    char now_s[24], lease[24], lim[16];
    snprintf(now_s, sizeof now_s, "%lld", (long long)og_now_ms());
    snprintf(lease, sizeof lease, "%d", LEASE_MS);
    snprintf(lim, sizeof lim, "%d", max);
    const char *argv[] = {c->tag, "claim", now_s, lease, lim, c->instance};
    redisReply *r = NULL;
    if (og_script_call(c, OG_LUA_TEXTS, 6, argv, NULL, &r, NULL, 0) != OG_OK)
        return 0;
    int sent = 0;
    for (size_t i = 1; i + 9 <= r->elements; i += 9) {
        const char *f[9];
        for (size_t k = 0; k < 9; k++)
            f[k] = r->element[i + k]->type == REDIS_REPLY_STRING ? r->element[i + k]->str : "";
        struct job j = {f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]};
        sent += send_one(c, &j);
    }
    freeReplyObject(r);
    return sent;
}
