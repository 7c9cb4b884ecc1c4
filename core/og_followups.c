/* og_followups - see og_followups.h. C builds the arguments and parses the
 * replies; every decision that reads and writes Redis is in the script. */
#include "og_followups.h"
#include "og_core_int.h"
#include "og_log.h"
#include "og_stream.h"
#include "og_template.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

/* A growable argv of owned strings. */
struct args {
    char **v;
    size_t n, cap;
};

static void add(struct args *a, const char *s)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = og_realloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = og_strdup(s ? s : "");
}

static void addi(struct args *a, long long v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", v);
    add(a, b);
}

static void args_free(struct args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

/* Runs followups.lua with a's strings as ARGV (no KEYS: every key shares
 * the hash tag in ARGV[1]); frees a. */
static og_err run(struct og_core *c, struct args *a, redisReply **r)
{
    og_err e =
        og_script_call(c, OG_LUA_FOLLOWUPS, (int)a->n, (const char **)a->v, NULL, r, NULL, 0);
    args_free(a);
    return e;
}

static void head(struct og_core *c, struct args *a, const char *op)
{
    add(a, c->tag);
    add(a, op);
}

og_err og_followups_on_closed(struct og_core *c, const char *sid, const char *trigger,
                              const struct og_fup_rule *const *rules, size_t n,
                              const struct og_fup_rule *const *silent, size_t ns, int *made)
{
    struct args a = {0};
    int64_t now = og_now_ms();
    char iso[32];
    og_time_rfc3339(now, iso);
    head(c, &a, "closed");
    add(&a, sid);
    add(&a, trigger);
    addi(&a, now);
    add(&a, iso);
    addi(&a, (long long)n);
    for (size_t i = 0; i < n; i++) {
        char id[64];
        og_id_new("fup_", now, id, sizeof id);
        add(&a, rules[i]->id);
        addi(&a, now + rules[i]->after_ms);
        add(&a, id);
    }
    for (size_t i = 0; i < ns; i++)
        add(&a, silent[i]->id);
    redisReply *r = NULL;
    og_err e = run(c, &a, &r);
    if (e == OG_OK) {
        if (made)
            *made = r->elements >= 2 && r->element[1]->type == REDIS_REPLY_INTEGER
                        ? (int)r->element[1]->integer
                        : 0;
        freeReplyObject(r);
    }
    return e;
}

og_err og_followups_on_message(struct og_core *c, const char *sid,
                               const struct og_fup_rule *const *silent, size_t ns)
{
    if (ns == 0)
        return OG_OK;
    struct args a = {0};
    head(c, &a, "message");
    add(&a, sid);
    addi(&a, og_now_ms());
    for (size_t i = 0; i < ns; i++) {
        add(&a, silent[i]->id);
        addi(&a, silent[i]->after_ms);
    }
    redisReply *r = NULL;
    og_err e = run(c, &a, &r);
    if (e == OG_OK)
        freeReplyObject(r);
    return e;
}

static void copy(char *dst, size_t n, const redisReply *r)
{
    snprintf(dst, n, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
}

og_err og_followups_claim(struct og_core *c, const struct og_fup_rule *const *silent, size_t ns,
                          int limit, int64_t lease_ms, struct og_fup_job **jobs, size_t *njobs)
{
    *jobs = NULL;
    *njobs = 0;
    struct args a = {0};
    int64_t now = og_now_ms();
    char iso[32];
    og_time_rfc3339(now, iso);
    head(c, &a, "claim");
    addi(&a, now);
    add(&a, iso);
    addi(&a, lease_ms);
    add(&a, c->instance);
    addi(&a, limit);
    addi(&a, (long long)ns);
    for (size_t i = 0; i < ns; i++) {
        add(&a, silent[i]->id);
        addi(&a, silent[i]->after_ms);
    }
    /* Ids for the follow-ups that due silence timers turn into (the script
     * fires up to 20 timers per follow-up it claims). */
    for (int i = 0; ns && i < 20 * limit; i++) {
        char id[64];
        og_id_new("fup_", now, id, sizeof id);
        add(&a, id);
    }
    redisReply *r = NULL;
    og_err e = run(c, &a, &r);
    if (e != OG_OK)
        return e;
    if (r->elements >= 5) {
        size_t n = (r->elements - 1) / 4;
        *jobs = og_calloc(n, sizeof **jobs);
        for (size_t i = 0; i < n; i++) {
            struct og_fup_job *j = &(*jobs)[i];
            copy(j->id, sizeof j->id, r->element[1 + 4 * i]);
            copy(j->attempt, sizeof j->attempt, r->element[1 + 4 * i + 1]);
            copy(j->rule, sizeof j->rule, r->element[1 + 4 * i + 2]);
            copy(j->session, sizeof j->session, r->element[1 + 4 * i + 3]);
        }
        *njobs = n;
    }
    freeReplyObject(r);
    return OG_OK;
}

og_err og_followups_load(struct og_core *c, const char *id, struct og_fup_data *d)
{
    memset(d, 0, sizeof *d);
    struct args a = {0};
    head(c, &a, "load");
    add(&a, id);
    redisReply *r = NULL;
    og_err e = run(c, &a, &r);
    if (e != OG_OK)
        return e;
    if (r->elements < 7) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    d->session = json_tokener_parse(r->element[1]->str);
    d->email = og_strdup(r->element[2]->str);
    d->name = og_strdup(r->element[3]->str);
    d->phone = og_strdup(r->element[4]->str);
    d->opt_out = strcmp(r->element[5]->str, "1") == 0;
    d->agent_name = og_strdup(r->element[6]->str);
    d->messages = json_object_new_array();
    for (size_t i = 7; i < r->elements; i++) {
        json_object *m = r->element[i]->type == REDIS_REPLY_STRING
                             ? json_tokener_parse(r->element[i]->str)
                             : NULL;
        if (m)
            json_object_array_add(d->messages, m);
    }
    freeReplyObject(r);
    return d->session ? OG_OK : OG_ERR_INTERNAL;
}

void og_fup_data_clear(struct og_fup_data *d)
{
    json_object_put(d->session);
    json_object_put(d->messages);
    free(d->email);
    free(d->name);
    free(d->phone);
    free(d->agent_name);
    memset(d, 0, sizeof *d);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* One transcript line per message: "[2026-11-21 05:00] Ann: hello"; a
 * message's further lines are indented; a message without text shows its
 * kind and attachment names. */
static void transcript(const struct og_fup_data *d, struct og_buf *text, struct og_buf *html)
{
    og_buf_append(text, "", 0);
    og_buf_append(html, "", 0);
    size_t n = json_object_array_length(d->messages);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(d->messages, i);
        struct og_buf line = {0};
        const char *at = jstr(m, "created_at");
        char when[20] = "";
        if (at && strlen(at) >= 16) {
            memcpy(when, at, 16);
            when[10] = ' ';
            when[16] = 0;
        }
        json_object *snd = json_object_object_get(m, "sender");
        const char *type = jstr(snd, "type"), *name = jstr(snd, "name");
        if (!name || !*name)
            name = type && strcmp(type, "agent") == 0 ? (d->agent_name[0] ? d->agent_name : "Agent")
                   : type && strcmp(type, "system") == 0 ? "System"
                                                         : (d->name[0] ? d->name : "Customer");
        og_buf_printf(&line, "[%s] %s: ", when, name);
        const char *t = jstr(m, "text");
        if (t && *t) {
            for (const char *p = t; *p; p++) {
                if (*p == '\r')
                    continue;
                og_buf_append(&line, p, 1);
                if (*p == '\n')
                    og_buf_puts(&line, "  ");
            }
        } else {
            og_buf_printf(&line, "[%s]", jstr(m, "kind") ? jstr(m, "kind") : "message");
            json_object *atts = json_object_object_get(m, "attachments");
            for (size_t k = 0; k < json_object_array_length(atts); k++) {
                const char *an = jstr(json_object_array_get_idx(atts, k), "name");
                if (an && *an)
                    og_buf_printf(&line, " %s", an);
            }
        }
        og_buf_puts(text, line.data);
        og_buf_puts(text, "\n");
        /* html: each line escaped, lines separated by <br> */
        const char *s = line.data;
        while (s && *s) {
            size_t l = strcspn(s, "\n");
            char *piece = og_strndup(s, l);
            og_html_escape(html, piece);
            free(piece);
            og_buf_puts(html, "<br>\n");
            s += l;
            if (*s == '\n')
                s++;
        }
        og_buf_free(&line);
    }
}

void og_followups_render(const struct og_fup_data *d, const struct og_fup_templates *t,
                         const char *survey_url, struct og_fup_mail *out)
{
    struct og_buf tt = {0}, th = {0};
    transcript(d, &tt, &th);
    const char *sid = jstr(d->session, "id");
    const struct og_tvar vars[] = {
        {"contact.name", d->name, NULL},
        {"contact.email", d->email, NULL},
        {"contact.phone", d->phone, NULL},
        {"agent.name", d->agent_name, NULL},
        {"channel", jstr(d->session, "channel"), NULL},
        {"session.id", sid, NULL},
        {"session.close_reason", jstr(d->session, "close_reason"), NULL},
        {"transcript", tt.data, th.data},
        {"survey_url", survey_url ? survey_url : "", NULL},
    };
    size_t nv = sizeof vars / sizeof *vars;
    /* A subject is one line: the transcript or a name with a newline in it
     * must not end the header (og_smtp also drops CR/LF; this keeps a space). */
    out->subject = og_template_render(t->subject, vars, nv, 0);
    for (char *p = out->subject; *p; p++)
        if (*p == '\r' || *p == '\n' || *p == '\t')
            *p = ' ';
    out->text = t->text && *t->text ? og_template_render(t->text, vars, nv, 0) : NULL;
    out->html = t->html && *t->html ? og_template_render(t->html, vars, nv, 1) : NULL;
    og_buf_free(&tt);
    og_buf_free(&th);
}

void og_fup_mail_clear(struct og_fup_mail *m)
{
    free(m->subject);
    free(m->text);
    free(m->html);
    memset(m, 0, sizeof *m);
}

og_err og_followups_done(struct og_core *c, const struct og_fup_job *job,
                         enum og_fup_outcome outcome, int64_t next_due_ms, long code,
                         const char *detail, const char *to, const char *subject, int *stale)
{
    static const char *const names[] = {"sent", "retry", "failed", "suppressed"};
    int64_t now = og_now_ms();
    char iso[32], next_iso[32], eid[64];
    og_time_rfc3339(now, iso);
    og_time_rfc3339(next_due_ms > 0 ? next_due_ms : now, next_iso);
    og_id_new("evt_", now, eid, sizeof eid);
    struct og_buf tj = {0};
    og_buf_printf(&tj,
                  "{\"attempt\":%s,\"at\":\"%s\",\"outcome\":\"%s\",\"smtp_code\":%ld,"
                  "\"detail\":",
                  job->attempt, iso, names[outcome], code);
    og_buf_json_str(&tj, detail && *detail ? detail : NULL);
    og_buf_puts(&tj, "}");
    struct args a = {0};
    head(c, &a, "done");
    add(&a, job->id);
    add(&a, job->attempt);
    add(&a, names[outcome]);
    addi(&a, now);
    add(&a, iso);
    addi(&a, next_due_ms);
    add(&a, next_iso);
    add(&a, tj.data);
    add(&a, eid);
    add(&a, to);
    add(&a, subject);
    add(&a, outcome == OG_FUP_SENT ? "" : detail);
    add(&a, c->instance);
    og_buf_free(&tj);
    redisReply *r = NULL;
    og_err e = run(c, &a, &r);
    if (e != OG_OK)
        return e;
    if (stale)
        *stale = r->elements >= 2 && strcmp(r->element[1]->str, "stale") == 0;
    freeReplyObject(r);
    return OG_OK;
}

og_err og_followups_list(struct og_core *c, const char *sid, char **json)
{
    struct args a = {0};
    head(c, &a, "list");
    add(&a, sid);
    redisReply *r = NULL;
    og_err e = run(c, &a, &r);
    if (e != OG_OK)
        return e;
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    for (size_t i = 1; i < r->elements; i++) {
        if (i > 1)
            og_buf_puts(&b, ",");
        og_buf_puts(&b, r->element[i]->str);
    }
    og_buf_puts(&b, "],\"next_cursor\":null}");
    freeReplyObject(r);
    *json = b.data;
    return OG_OK;
}

static int in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static const char *sget(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* 1 when the closed session passes the rule's filters. */
static int rule_matches(const struct og_fup_rule *r, json_object *ses)
{
    if (r->n_channels && !in_list(r->channels, r->n_channels, sget(ses, "channel")))
        return 0;
    if (r->n_reasons && !in_list(r->reasons, r->n_reasons, sget(ses, "close_reason")))
        return 0;
    if (r->n_success_codes) {
        json_object *codes = json_object_object_get(ses, "success_codes");
        size_t n =
            json_object_is_type(codes, json_type_array) ? json_object_array_length(codes) : 0;
        int any = 0;
        for (size_t i = 0; i < n && !any; i++)
            any = in_list(r->success_codes, r->n_success_codes,
                          json_object_get_string(json_object_array_get_idx(codes, i)));
        if (!any)
            return 0;
    }
    return 1;
}

og_err og_followups_on_event(struct og_core *c, const struct og_fup_rule *rules, size_t n,
                             const struct og_stream_entry *e, int *made)
{
    const char *type = og_stream_field(e, "type"), *sid = og_stream_field(e, "session");
    const char *ev = og_stream_field(e, "event");
    if (made)
        *made = 0;
    if (!type || !sid || !*sid)
        return OG_OK;
    const struct og_fup_rule **silent = og_calloc(n + 1, sizeof *silent);
    const struct og_fup_rule **closed = og_calloc(n + 1, sizeof *closed);
    size_t ns = 0, nc = 0;
    for (size_t i = 0; i < n; i++)
        if (rules[i].silent)
            silent[ns++] = &rules[i];
    og_err rc = OG_OK;
    if (strcmp(type, "message.received") == 0) {
        rc = og_followups_on_message(c, sid, silent, ns);
    } else if (strcmp(type, "session.closed") == 0 && ev) {
        json_object *j = json_tokener_parse(ev);
        json_object *ses = json_object_object_get(json_object_object_get(j, "data"), "session");
        const char *eid = sget(j, "id");
        if (ses && eid) {
            for (size_t i = 0; i < n; i++)
                if (!rules[i].silent && rule_matches(&rules[i], ses))
                    closed[nc++] = &rules[i];
            int m = 0;
            rc = og_followups_on_closed(c, sid, eid, closed, nc, silent, ns, &m);
            if (made)
                *made = m;
        } else {
            og_warn("followups: malformed session.closed event for %s ignored", sid);
        }
        json_object_put(j);
    }
    free(silent);
    free(closed);
    return rc;
}
