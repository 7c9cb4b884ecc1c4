/* og_sse - GET /api/v1/events: the event stream P:events as server-sent
 * events, for a live inbox. Each event is
 *
 *   id: <stream entry id>\nevent: <type>\ndata: <event JSON>\n\n
 *
 * Admins and managers see every event; an agent sees the events of the
 * sessions og_session_visible() lets them see (events without a session
 * are for managers). A reconnecting client sends Last-Event-ID (or
 * ?since=<entry id>) and first gets what it missed, up to 1000 events.
 * ": ping" comments every 15 s keep idle connections and proxies alive.
 * A stream whose client stops reading is ended once MAX_BUFFER bytes wait
 * for it (the client resumes with Last-Event-ID); one principal holds at
 * most MAX_STREAMS_PER_PRINCIPAL streams (429 beyond). Who may see an
 * event is decided in memory from the session the event carries
 * (og_session_visible), so many agents' streams cost no Redis calls.
 * A stream opened with a session cookie (og_auth.h) ends within AUTH_CHECK_MS
 * of that session's end (sign-out here or at another instance, a new
 * password, expiry): the browser's EventSource then reconnects, gets 401,
 * and the page asks to sign in again.
 *
 * One producer thread (the "sse" worker) follows the stream (og_stream.h's
 * tail reader, a blocking read on a connection of its own) and appends each event to every
 * connection's buffer. A blocking read wakes on every new entry, so under
 * load it would cost Redis a round trip per event: after a read that
 * returned more than one entry it waits OG_STREAM_COALESCE_MS first. While
 * no client is connected it reads nothing: it parks on hub->cv and only
 * re-takes the newest entry id every PARK_MS, so the first client gets
 * every event from its connect time on (and perhaps a few from up to
 * PARK_MS before it, the safe direction). A connection's reader (called by libmicrohttpd) sends
 * what is buffered, or suspends the connection when there is nothing; the
 * producer resumes it. Both sides hold hub->mu around the suspended flag
 * (TOOLCHAIN.md's recipe). At shutdown og_http_stop() calls
 * og_sse_close_all(): every stream ends and every suspended connection is
 * resumed, since MHD_stop_daemon() aborts on a suspended one. */
#include "og_api.h"
#include "og_log.h"
#include "og_stream.h"
#include "og_util.h"
#include "og_webchat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLAY_MAX 1000
#define PING_MS 15000
#define AUTH_CHECK_MS 5000
/* A reader this far behind is cut off (it resumes with Last-Event-ID): 200
 * stalled streams then hold 50 MB, not the 1-1.5 GB they once did. */
#define MAX_BUFFER (256 * 1024)
/* Live streams one principal (an agent, or the admin token) may hold at
 * once: browser tabs and reconnects, not a flood. */
#define MAX_STREAMS_PER_PRINCIPAL 16
/* How stale the parked position may get: a client connecting may see events
 * from up to this long before it connected. One XREVRANGE per period. */
#define PARK_MS 100
/* Visitors' streams are found by their contact: one bucket list each. */
#define VBUCKETS 4096
/* A visitor's stream sends small frames: a small response block keeps
 * 5,000 open streams cheap. */
#define VISITOR_BLOCK 256

struct sse_conn {
    struct og_sse *hub;
    /* A web chat visitor's stream (og_sse_visitor_open): in the hub's bucket
     * of its contact instead of the agents' list; owned strings. */
    int visitor;
    size_t bucket;
    char *v_channel, *v_contact, *v_token, *v_closing;
    int v_csat;
    struct MHD_Connection *conn;
    struct og_buf out; /* bytes not yet sent, from off */
    size_t off;
    int suspended, ended, gone; /* gone: MHD freed it; freed when refs == 0 */
    int refs;
    uint64_t last_ms, last_seq; /* newest entry delivered (replay) */
    struct og_principal who;    /* owned copy */
    struct sse_conn *next, *prev;
};

struct og_sse {
    struct og_gateway *g;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on a new client and at stop */
    struct sse_conn *head;
    struct sse_conn *vbuckets[VBUCKETS]; /* visitors' streams by contact */
    size_t n_visitors;
    int closing;
    atomic_int stop;
    pthread_t th;
    struct og_stream_tail *tail; /* owned: the producer's reader */
    char last_id[64];            /* producer's position */
};

static void parse_id(const char *s, uint64_t *ms, uint64_t *seq)
{
    char *end;
    *ms = strtoull(s, &end, 10);
    *seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

static int valid_id(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 20)
        return 0;
    if (s[n] == 0)
        return 1;
    return s[n] == '-' && strspn(s + n + 1, "0123456789") == strlen(s + n + 1) &&
           strlen(s + n + 1) > 0 && strlen(s + n + 1) <= 20;
}

static void conn_unref(struct sse_conn *c) /* hub->mu held */
{
    if (--c->refs > 0 || !c->gone)
        return;
    og_buf_free(&c->out);
    og_principal_free(&c->who);
    free(c->v_channel), free(c->v_contact), free(c->v_token), free(c->v_closing);
    free(c);
}

static size_t vbucket_of(const char *contact)
{
    unsigned h = 5381;
    for (const char *p = contact; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return h % VBUCKETS;
}

static void wake(struct sse_conn *c) /* hub->mu held */
{
    if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
}

/* Appends one ready-made frame; a reader this far behind is ended instead
 * (it reconnects with its last id). 1 when appended. */
static int append_frame(struct sse_conn *c, const char *frame, size_t len)
{
    if (c->out.len - c->off > MAX_BUFFER) {
        c->ended = 1;
        return 0;
    }
    og_buf_append(&c->out, frame, len);
    return 1;
}

static void append_event(struct sse_conn *c, const char *id, const char *type, const char *ev)
{
    struct og_buf f = {0};
    og_buf_printf(&f, "id: %s\nevent: %s\ndata: %s\n\n", id, type, ev);
    append_frame(c, f.data, f.len);
    og_buf_free(&f);
}

/* One stream entry, with what the access rule reads of its session
 * (parsed once per event, not per connection). */
struct entry {
    const char *id, *type, *session, *event;
    json_object *j;            /* owned: the parsed event */
    struct og_session_facts f; /* strings in j */
    int has_facts;
};

static int entry_of(const struct og_stream_entry *se, struct entry *e)
{
    memset(e, 0, sizeof *e);
    e->id = se->id;
    e->type = og_stream_field(se, "type");
    e->session = og_stream_field(se, "session");
    e->event = og_stream_field(se, "event");
    return e->type && e->event ? 0 : -1;
}

/* Parses the event (ours, from the stream) for its session's facts. */
static void entry_facts(struct entry *e)
{
    e->j = json_tokener_parse(e->event);
    json_object *ses = json_object_object_get(json_object_object_get(e->j, "data"), "session");
    e->has_facts = og_session_facts_of(ses, &e->f) == 0;
}

/* May the connection's principal see the event? Decided in memory from the
 * session the event carries (og_session_visible: the same rule as the API),
 * so no stream costs a Redis call per event. An event that carries no
 * session (contact.created) is for managers and admins. */
static int may_see(struct og_sse *hub, const struct og_principal *who, const struct entry *e)
{
    if (who->role >= OG_ROLE_MANAGER)
        return 1;
    struct og_viewer v = og_principal_viewer(who);
    return e->has_facts && og_session_visible(hub->g->core, &v, &e->f);
}

/* One read's entries, copied out of the reader's callback. */
struct batch {
    struct entry *e;
    char **owned; /* every string of e */
    size_t n, cap;
};

static enum og_stream_verdict collect(void *ud, const struct og_stream_entry *se, int claimed)
{
    struct batch *b = ud;
    struct entry e;
    if (entry_of(se, &e) != 0)
        return OG_STREAM_ACK;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->e = og_realloc(b->e, b->cap * sizeof *b->e);
        b->owned = og_realloc(b->owned, 4 * b->cap * sizeof *b->owned);
    }
    char **o = b->owned + 4 * b->n;
    o[0] = og_strdup(e.id), o[1] = og_strdup(e.type);
    o[2] = og_strdup(e.session), o[3] = og_strdup(e.event);
    struct entry *x = &b->e[b->n++];
    *x = (struct entry){o[0], o[1], o[2], o[3], NULL, {0}, 0};
    entry_facts(x);
    return OG_STREAM_ACK;
}

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < 4 * b->n; i++)
        free(b->owned[i]);
    for (size_t i = 0; i < b->n; i++)
        json_object_put(b->e[i].j);
    b->n = 0;
}

/* Fans a batch of entries out to every connection. Access checks run
 * without the lock (they call the core); the connections are pinned by refs. */
static void fan_out(struct og_sse *hub, const struct batch *b)
{
    pthread_mutex_lock(&hub->mu);
    size_t n = 0;
    for (struct sse_conn *c = hub->head; c; c = c->next)
        n++;
    struct sse_conn **cs = og_calloc(n ? n : 1, sizeof *cs);
    n = 0;
    for (struct sse_conn *c = hub->head; c; c = c->next) {
        c->refs++;
        cs[n++] = c;
    }
    pthread_mutex_unlock(&hub->mu);
    char *got = og_calloc(n ? n : 1, 1);
    struct og_buf frame = {0};
    for (size_t i = 0; i < b->n; i++) {
        const struct entry *e = &b->e[i];
        uint64_t ms, seq;
        parse_id(e->id, &ms, &seq);
        /* one frame per event, copied to each stream that may see it */
        frame.len = 0;
        og_buf_printf(&frame, "id: %s\nevent: %s\ndata: %s\n\n", e->id, e->type, e->event);
        pthread_mutex_lock(&hub->mu);
        for (size_t j = 0; j < n; j++) {
            struct sse_conn *c = cs[j];
            if (c->gone || c->ended || !may_see(hub, &c->who, e))
                continue;
            /* Entries a replay already delivered are skipped. */
            if (ms < c->last_ms || (ms == c->last_ms && seq <= c->last_seq))
                continue;
            got[j] |= (char)append_frame(c, frame.data, frame.len);
            c->last_ms = ms, c->last_seq = seq;
        }
        pthread_mutex_unlock(&hub->mu);
    }
    og_buf_free(&frame);
    /* only the streams that got something (or were ended) are woken */
    pthread_mutex_lock(&hub->mu);
    for (size_t j = 0; j < n; j++) {
        if (!cs[j]->gone && (got[j] || cs[j]->ended))
            wake(cs[j]);
        conn_unref(cs[j]);
    }
    pthread_mutex_unlock(&hub->mu);
    free(got);
    free(cs);
}

/* Fans a batch out to the visitors' streams: an event about a visitor's
 * session (its channel and contact) goes, as the visitor's event
 * (og_webchat_visitor_event), to that contact's streams only; they are
 * found through its bucket, so an event costs the same with 5 streams open
 * or 5,000. The frame is built once per event, outside the lock. */
static void fan_out_visitors(struct og_sse *hub, const struct batch *b)
{
    struct og_buf frame = {0};
    for (size_t i = 0; i < b->n; i++) {
        const struct entry *e = &b->e[i];
        const char *ch, *contact;
        if (!e->j || og_webchat_event_owner(e->j, &ch, &contact) != 0)
            continue;
        size_t bk = vbucket_of(contact);
        struct sse_conn *mine[16];
        size_t n = 0;
        pthread_mutex_lock(&hub->mu);
        if (hub->n_visitors == 0) {
            pthread_mutex_unlock(&hub->mu);
            break;
        }
        for (struct sse_conn *c = hub->vbuckets[bk]; c && n < 16; c = c->next)
            if (!c->gone && !c->ended && !strcmp(c->v_contact, contact) &&
                !strcmp(c->v_channel, ch)) {
                c->refs++;
                mine[n++] = c;
            }
        pthread_mutex_unlock(&hub->mu);
        if (n == 0)
            continue;
        const char *vtype = NULL;
        char id[64];
        char *data = og_webchat_visitor_event(hub->g->core, e->type, e->j, mine[0]->v_closing,
                                              mine[0]->v_csat, &vtype, id, sizeof id);
        frame.len = 0;
        if (data) {
            if (id[0])
                og_buf_printf(&frame, "id: %s\n", id);
            og_buf_printf(&frame, "event: %s\ndata: %s\n\n", vtype, data);
            free(data);
        }
        pthread_mutex_lock(&hub->mu);
        for (size_t j = 0; j < n; j++) {
            if (frame.len && !mine[j]->gone && !mine[j]->ended) {
                append_frame(mine[j], frame.data, frame.len);
                wake(mine[j]);
            } else if (mine[j]->ended && !mine[j]->gone) {
                wake(mine[j]);
            }
            conn_unref(mine[j]);
        }
        pthread_mutex_unlock(&hub->mu);
    }
    og_buf_free(&frame);
}

/* Ends the streams whose cookie session has ended. The checks call the
 * core, so they run without the lock on pinned connections. */
static void check_sessions(struct og_sse *hub)
{
    pthread_mutex_lock(&hub->mu);
    size_t n = 0;
    for (struct sse_conn *c = hub->head; c; c = c->next)
        n += c->who.sid_sha[0] != 0;
    struct sse_conn **cs = og_calloc(n ? n : 1, sizeof *cs);
    n = 0;
    for (struct sse_conn *c = hub->head; c; c = c->next)
        if (c->who.sid_sha[0]) {
            c->refs++;
            cs[n++] = c;
        }
    pthread_mutex_unlock(&hub->mu);
    char *dead = og_calloc(n ? n : 1, 1);
    for (size_t i = 0; i < n; i++)
        dead[i] = !og_auth_session_alive(hub->g->core, cs[i]->who.sid_sha);
    pthread_mutex_lock(&hub->mu);
    for (size_t i = 0; i < n; i++) {
        if (dead[i] && !cs[i]->gone) {
            cs[i]->ended = 1;
            wake(cs[i]);
        }
        conn_unref(cs[i]);
    }
    pthread_mutex_unlock(&hub->mu);
    free(dead);
    free(cs);
}

static void ping_all(struct og_sse *hub)
{
    pthread_mutex_lock(&hub->mu);
    for (struct sse_conn *c = hub->head; c; c = c->next) {
        og_buf_puts(&c->out, ": ping\n\n");
        wake(c);
    }
    for (size_t b = 0; hub->n_visitors && b < VBUCKETS; b++)
        for (struct sse_conn *c = hub->vbuckets[b]; c; c = c->next) {
            og_buf_puts(&c->out, ": ping\n\n");
            wake(c);
        }
    pthread_mutex_unlock(&hub->mu);
}

/* Waits up to ms on hub->cv (a client connecting or stop ends the wait
 * early); hub->mu held. */
static void park_wait(struct og_sse *hub, int ms)
{
    struct timespec ts = og_deadline(CLOCK_REALTIME, ms);
    if (!atomic_load(&hub->stop))
        pthread_cond_timedwait(&hub->cv, &hub->mu, &ts);
}

/* The newest entry id of the stream ("0-0" when it is empty) into id;
 * -1 when Redis is down. */
static int newest_id(struct og_sse *hub, char *id, size_t size)
{
    return og_stream_tail_newest(hub->tail, id, size) == OG_OK ? 0 : -1;
}

/* Parks while no client is connected. Returns 1 when there is a client and
 * hub->last_id is a position to read from, 0 to go round again (stop, or
 * the position was refreshed). hub->last_id is the producer's alone; "$"
 * means not positioned yet.
 *
 * The position must predate every client's connect. A fresh id is only
 * adopted if, once it is known, there is still no client: a client that
 * connected while XREVRANGE ran might otherwise lose the events between its
 * connect and that reply. The id kept instead was adopted while hub->head
 * was NULL, so before that client was added. The very first position is
 * adopted regardless: there is nothing older to keep. */
static int park(struct og_sse *hub, int64_t *next_refresh)
{
    int positioned = strcmp(hub->last_id, "$") != 0;
    pthread_mutex_lock(&hub->mu);
    if (positioned && !hub->head && !hub->n_visitors && og_mono_ms() < *next_refresh)
        park_wait(hub, (int)(*next_refresh - og_mono_ms()) + 1);
    int clients = hub->head != NULL || hub->n_visitors > 0;
    pthread_mutex_unlock(&hub->mu);
    if (atomic_load(&hub->stop))
        return 0;
    if (positioned && (clients || og_mono_ms() < *next_refresh))
        return clients;
    char id[64];
    if (newest_id(hub, id, sizeof id) != 0) {
        /* Redis down: keep the old id and retry later (a client still wakes us) */
        *next_refresh = og_mono_ms() + 200;
        pthread_mutex_lock(&hub->mu);
        park_wait(hub, 200);
        pthread_mutex_unlock(&hub->mu);
        return 0;
    }
    *next_refresh = og_mono_ms() + PARK_MS;
    pthread_mutex_lock(&hub->mu);
    clients = hub->head != NULL || hub->n_visitors > 0;
    if (!clients || !positioned)
        snprintf(hub->last_id, sizeof hub->last_id, "%s", id);
    pthread_mutex_unlock(&hub->mu);
    return clients;
}

static void *producer(void *arg)
{
    struct og_sse *hub = arg;
    int64_t next_ping = og_mono_ms() + PING_MS, next_refresh = 0;
    int64_t next_auth = og_mono_ms() + AUTH_CHECK_MS;
    struct batch b = {0};
    snprintf(hub->last_id, sizeof hub->last_id, "$");
    while (!atomic_load(&hub->stop)) {
        if (!park(hub, &next_refresh))
            continue;
        size_t got = 0;
        og_err e = og_stream_tail_read(hub->tail, hub->last_id, sizeof hub->last_id, 200, 1000,
                                       collect, &b, &got);
        if (e != OG_OK) {
            struct timespec ts = {0, 200000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (b.n > 0) {
            fan_out(hub, &b);
            fan_out_visitors(hub, &b);
        }
        batch_clear(&b);
        /* A busy stream: let entries gather instead of waking once per event. */
        if (got > 1) {
            struct timespec ts = {0, (long)OG_STREAM_COALESCE_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (og_mono_ms() >= next_ping) {
            ping_all(hub);
            next_ping = og_mono_ms() + PING_MS;
        }
        if (og_mono_ms() >= next_auth) {
            check_sessions(hub);
            next_auth = og_mono_ms() + AUTH_CHECK_MS;
        }
    }
    free(b.e);
    free(b.owned);
    return NULL;
}

/* ------------------------------------------------------ the MHD side */

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse_conn *c = cls;
    struct og_sse *hub = c->hub;
    pthread_mutex_lock(&hub->mu);
    size_t avail = c->out.len - c->off;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, c->out.data + c->off, n);
        c->off += n;
        if (c->off == c->out.len) {
            /* drained: most streams are idle most of the time, so their
             * buffers go back (5,000 visitors kept ~4 MB otherwise) */
            og_buf_free(&c->out);
            c->off = 0;
        }
        pthread_mutex_unlock(&hub->mu);
        return (ssize_t)n;
    }
    if (hub->closing || c->ended) {
        pthread_mutex_unlock(&hub->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    c->suspended = 1;
    MHD_suspend_connection(c->conn);
    pthread_mutex_unlock(&hub->mu);
    return 0;
}

static void reader_free(void *cls)
{
    struct sse_conn *c = cls;
    struct og_sse *hub = c->hub;
    pthread_mutex_lock(&hub->mu);
    struct sse_conn **head = c->visitor ? &hub->vbuckets[c->bucket] : &hub->head;
    if (c->prev)
        c->prev->next = c->next;
    else if (*head == c)
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->visitor)
        hub->n_visitors--;
    c->gone = 1;
    conn_unref(c); /* MHD's reference; the producer may still hold one */
    pthread_mutex_unlock(&hub->mu);
}

struct replay_ctx {
    struct og_sse *hub;
    struct sse_conn *c;
};

static enum og_stream_verdict replay_one(void *ud, const struct og_stream_entry *se, int claimed)
{
    struct replay_ctx *r = ud;
    struct entry e;
    if (entry_of(se, &e) == 0) {
        entry_facts(&e);
        if (may_see(r->hub, &r->c->who, &e))
            append_event(r->c, e.id, e.type, e.event);
        json_object_put(e.j);
    }
    parse_id(se->id, &r->c->last_ms, &r->c->last_seq);
    return OG_STREAM_ACK;
}

/* The missed events after since (exclusive), filtered; hub->mu held, so the
 * producer cannot deliver anything in between. -1 when Redis is down. */
static int replay(struct og_sse *hub, struct sse_conn *c, const char *since)
{
    parse_id(since, &c->last_ms, &c->last_seq);
    struct replay_ctx r = {hub, c};
    size_t n = 0;
    return og_stream_range(hub->g->core, OG_STREAM_EVENTS, since, REPLAY_MAX, replay_one, &r, &n) ==
                   OG_OK
               ? 0
               : -1;
}

static void events(struct og_api_ctx *ctx)
{
    struct og_sse *hub = ctx->g->sse;
    const char *since = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, "Last-Event-ID");
    if (!since || !*since)
        since = og_api_arg(ctx, "since");
    if (since && *since && !valid_id(since)) {
        og_reply_err(ctx->r, OG_ERR_INVALID,
                     "Last-Event-ID / since must be an event stream id (e.g. 1700000000000-0)");
        return;
    }
    if (!hub || hub->closing) {
        og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, "the event stream is not running");
        return;
    }
    struct sse_conn *c = og_calloc(1, sizeof *c);
    c->hub = hub;
    c->conn = ctx->conn;
    c->refs = 1; /* MHD's, dropped by reader_free */
    og_principal_copy(&c->who, &ctx->who);
    og_buf_puts(&c->out, ": omnigate events\nretry: 2000\n\n");
    pthread_mutex_lock(&hub->mu);
    int mine = 0;
    for (struct sse_conn *x = hub->head; x; x = x->next)
        mine += !x->gone && !x->ended && strcmp(x->who.agent_id, c->who.agent_id) == 0;
    if (mine >= MAX_STREAMS_PER_PRINCIPAL) {
        /* Some of them may be gone without our knowing (a suspended
         * connection is not watched): a ping makes the closed ones fail
         * now, so a retry after Retry-After finds room. */
        for (struct sse_conn *x = hub->head; x; x = x->next)
            if (!x->gone && !x->ended && strcmp(x->who.agent_id, c->who.agent_id) == 0) {
                og_buf_puts(&x->out, ": ping\n\n");
                wake(x);
            }
        pthread_mutex_unlock(&hub->mu);
        og_buf_free(&c->out);
        og_principal_free(&c->who);
        free(c);
        og_reply_err(ctx->r, OG_ERR_RATE_LIMITED,
                     "too many live streams for this token (16): close one first");
        og_reply_header(ctx->r, "Retry-After", "1");
        return;
    }
    if (since && *since && replay(hub, c, since) != 0) {
        pthread_mutex_unlock(&hub->mu);
        og_buf_free(&c->out);
        og_principal_free(&c->who);
        free(c);
        og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, NULL);
        return;
    }
    c->next = hub->head;
    if (hub->head)
        hub->head->prev = c;
    hub->head = c;
    pthread_cond_signal(&hub->cv); /* a parked producer starts reading */
    pthread_mutex_unlock(&hub->mu);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, c, reader_free);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    /* when the stream ends (a slow reader cut off, shutdown) the connection
     * goes too: the client reconnects with Last-Event-ID */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ctx->r->status = 200;
    ctx->r->stream = resp;
}

/* The messages after last (a reconnecting visitor's Last-Event-ID) as
 * message frames. */
static void visitor_replay(struct og_gateway *g, struct og_channel *ch, const struct og_visitor *v,
                           const char *last, struct og_buf *out)
{
    char *vms = NULL;
    if (!ch->sink.visitor || ch->sink.visitor->conversation(ch->sink.ud, ch, v, last,
                                                            REPLAY_MAX / 10, NULL, &vms) != OG_OK)
        return;
    json_object *arr = json_tokener_parse(vms);
    free(vms);
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        json_object *m = json_object_array_get_idx(arr, i), *id = NULL;
        json_object_object_get_ex(m, "id", &id);
        og_buf_printf(out, "id: %s\nevent: message\ndata: %s\n\n", json_object_get_string(id),
                      json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(arr);
}

og_err og_sse_visitor_open(struct og_gateway *g, struct MHD_Connection *conn, struct og_channel *ch,
                           const struct og_visitor *v, const struct og_visitor_stream *o,
                           struct og_http_resp *resp)
{
    struct og_sse *hub = g->sse;
    if (!hub || hub->closing)
        return OG_ERR_UNAVAILABLE;
    int max = o->max_streams > 0 ? o->max_streams : 5;
    struct sse_conn *c = og_calloc(1, sizeof *c);
    c->hub = hub;
    c->conn = conn;
    c->refs = 1; /* MHD's, dropped by reader_free */
    c->visitor = 1;
    c->v_channel = og_strdup(ch->id);
    c->v_contact = og_strdup(v->contact_id);
    c->v_token = og_strdup(v->token_key);
    c->v_closing = og_strdup(o->closing_text ? o->closing_text : "");
    c->v_csat = o->offer_csat != 0;
    c->bucket = vbucket_of(v->contact_id);
    og_buf_puts(&c->out, ": omnigate web chat\nretry: 2000\n\n");
    pthread_mutex_lock(&hub->mu);
    int mine = 0;
    for (struct sse_conn *x = hub->vbuckets[c->bucket]; x; x = x->next)
        mine += !x->gone && !x->ended && !strcmp(x->v_token, c->v_token);
    if (mine >= max) {
        /* a ping makes streams whose tab is gone fail now, so a retry finds room */
        for (struct sse_conn *x = hub->vbuckets[c->bucket]; x; x = x->next)
            if (!x->gone && !x->ended && !strcmp(x->v_token, c->v_token)) {
                og_buf_puts(&x->out, ": ping\n\n");
                wake(x);
            }
        pthread_mutex_unlock(&hub->mu);
        c->gone = 1;
        pthread_mutex_lock(&hub->mu);
        conn_unref(c);
        pthread_mutex_unlock(&hub->mu);
        return OG_ERR_RATE_LIMITED;
    }
    /* in the bucket before the replay is read: an event in between comes
     * twice rather than never (message ids are stable; the widget skips one
     * it has) */
    c->next = hub->vbuckets[c->bucket];
    if (c->next)
        c->next->prev = c;
    hub->vbuckets[c->bucket] = c;
    hub->n_visitors++;
    c->refs++; /* ours, while the replay is read */
    pthread_cond_signal(&hub->cv);
    pthread_mutex_unlock(&hub->mu);
    if (o->last_event_id) {
        struct og_buf rb = {0};
        visitor_replay(g, ch, v, o->last_event_id, &rb);
        if (rb.len) {
            pthread_mutex_lock(&hub->mu);
            append_frame(c, rb.data, rb.len);
            pthread_mutex_unlock(&hub->mu);
        }
        og_buf_free(&rb);
    }
    pthread_mutex_lock(&hub->mu);
    conn_unref(c);
    pthread_mutex_unlock(&hub->mu);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, VISITOR_BLOCK, reader, c, reader_free);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    resp->stream = r;
    return OG_OK;
}

void og_sse_close_all(struct og_gateway *g)
{
    struct og_sse *hub = g->sse;
    if (!hub)
        return;
    pthread_mutex_lock(&hub->mu);
    hub->closing = 1;
    for (struct sse_conn *c = hub->head; c; c = c->next)
        wake(c);
    for (size_t b = 0; b < VBUCKETS; b++)
        for (struct sse_conn *c = hub->vbuckets[b]; c; c = c->next)
            wake(c);
    pthread_mutex_unlock(&hub->mu);
}

static int sse_start(struct og_gateway *g)
{
    struct og_sse *hub = og_calloc(1, sizeof *hub);
    hub->g = g;
    pthread_mutex_init(&hub->mu, NULL);
    pthread_cond_init(&hub->cv, NULL);
    hub->tail = og_stream_tail_new(g->core, OG_STREAM_EVENTS);
    if (!hub->tail || pthread_create(&hub->th, NULL, producer, hub) != 0) {
        og_error("sse: cannot start");
        og_stream_tail_free(hub->tail);
        pthread_cond_destroy(&hub->cv);
        pthread_mutex_destroy(&hub->mu);
        free(hub);
        return -1;
    }
    g->sse = hub;
    return 0;
}

/* Runs after the HTTP server stopped: no connection is left. */
static void sse_stop(struct og_gateway *g)
{
    struct og_sse *hub = g->sse;
    if (!hub)
        return;
    pthread_mutex_lock(&hub->mu);
    atomic_store(&hub->stop, 1);
    pthread_cond_broadcast(&hub->cv); /* a parked producer returns at once */
    pthread_mutex_unlock(&hub->mu);
    pthread_join(hub->th, NULL);
    og_stream_tail_free(hub->tail);
    pthread_cond_destroy(&hub->cv);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
    g->sse = NULL;
}

const struct og_worker og_worker_sse = {"sse", sse_start, sse_stop};

const struct og_route og_api_event_routes[] = {
    {"GET", "/events", OG_ROLE_AGENT, events},
    {NULL, NULL, 0, NULL},
};
