/* og_edge - see og_edge.h. */
#include "og_edge.h"
#include "og_log.h"
#include "og_thread.h"
#include "og_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define RESERVE_HEADER_MS 1000 /* a reserve connection's time to ask */
#define IDLE_MS 60000          /* libmicrohttpd's inactivity timeout (og_http.c) */
#define REAP_EVERY_MS 100
#define BUCKETS 1024        /* per-address counts (a chained hash) */
#define MAX_FRAMING_HDRS 32 /* Host, Content-Length, Transfer-Encoding lines */
#define MAX_FWD_HDRS 16     /* X-Forwarded-For or Forwarded lines */

enum cls {
    CLS_NORMAL = 0, /* counted per address */
    CLS_PLATFORM,   /* http.platform_ranges: no per-address limit, may use the reserve */
    CLS_PROXY,      /* http.trusted_proxies: its requests count per client */
    CLS_RESERVE     /* taken into the reserve: health checks only */
};

enum phase {
    PH_HEADERS = 0, /* waiting for a request's line and headers */
    PH_BODY,        /* headers in, reading the body */
    PH_ANSWER,      /* the answer is queued: libmicrohttpd's timeout alone */
    PH_IDLE         /* kept alive between requests */
};

struct addr_count {
    struct og_ip key; /* the address as limits see it: an IPv6 address's /64 */
    unsigned conns;   /* connections, and requests through a trusted proxy */
    unsigned reserve; /* of those, connections in the reserve */
    struct addr_count *next;
};

struct conn {
    struct conn *prev, *next; /* under e->mu */
    MHD_socket fd;
    struct og_ip peer;
    struct og_ip client;  /* the current request's; MHD's thread only */
    struct og_ip fwd_key; /* counted for the current proxied request */
    int fwd_counted;      /* under e->mu */
    enum cls cls;
    int reaped; /* under e->mu */
    atomic_int phase;
    _Atomic int64_t since; /* og_mono_ms() when the phase began */
    atomic_ullong body;    /* body bytes of the current request */
};

struct og_edge {
    unsigned max, reserved, per_address;
    int64_t header_ms, min_rate;
    enum og_fwd_header fwd;
    struct og_cidrs *trusted, *platforms; /* owned */
    pthread_mutex_t mu;
    struct conn *head; /* every open connection */
    unsigned n_open, n_reserve;
    struct addr_count *buckets[BUCKETS];
    struct og_thread reaper;
    atomic_ullong refused_address, refused_full, refused_route, refused_framing, refused_proxied,
        closed_headers, closed_body, closed_idle;
    atomic_int draining; /* og_edge_drain: refuse every new connection */
};

/* ------------------------------------------------------------ bookkeeping */

static struct og_ip key_of(const struct og_ip *ip)
{
    struct og_ip k = *ip;
    if (!og_ip_is_v4(&k))
        memset(k.b + 8, 0, 8); /* one IPv6 client owns a /64 */
    return k;
}

static size_t bucket_of(const struct og_ip *k)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ k->b[i]) * 16777619u;
    return h % BUCKETS;
}

/* The count of key (under mu); created at 0 when create is set. */
static struct addr_count *count_of(struct og_edge *e, const struct og_ip *key, int create)
{
    size_t b = bucket_of(key);
    for (struct addr_count *a = e->buckets[b]; a; a = a->next)
        if (og_ip_equal(&a->key, key))
            return a;
    if (!create)
        return NULL;
    struct addr_count *a = og_calloc(1, sizeof *a);
    a->key = *key;
    a->next = e->buckets[b];
    e->buckets[b] = a;
    return a;
}

/* Drops a count that fell to zero (under mu). */
static void count_drop_if_zero(struct og_edge *e, struct addr_count *a)
{
    if (a->conns || a->reserve)
        return;
    struct addr_count **pp = &e->buckets[bucket_of(&a->key)];
    while (*pp && *pp != a)
        pp = &(*pp)->next;
    if (*pp)
        *pp = a->next;
    free(a);
}

static void count_release(struct og_edge *e, const struct og_ip *key, int reserve)
{
    struct addr_count *a = count_of(e, key, 0);
    if (!a)
        return;
    if (a->conns)
        a->conns--;
    if (reserve && a->reserve)
        a->reserve--;
    count_drop_if_zero(e, a);
}

static enum cls classify(struct og_edge *e, const struct og_ip *ip)
{
    if (og_cidrs_match(e->platforms, ip))
        return CLS_PLATFORM;
    if (og_cidrs_match(e->trusted, ip))
        return CLS_PROXY;
    return CLS_NORMAL;
}

/* Only the reserve is left (under mu). */
static int general_full(const struct og_edge *e)
{
    return e->reserved && e->n_open + e->reserved >= e->max;
}

static struct conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *i =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    return i ? i->socket_context : NULL;
}

static void set_phase(struct conn *c, enum phase p)
{
    atomic_store(&c->since, og_mono_ms());
    atomic_store(&c->phase, (int)p);
}

/* ------------------------------------------------------------ MHD hooks */

void og_edge_drain(struct og_edge *e)
{
    atomic_store(&e->draining, 1);
}

enum MHD_Result og_edge_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct og_edge *e = cls;
    struct og_ip ip;
    (void)addrlen;
    if (atomic_load(&e->draining))
        return MHD_NO;
    if (og_ip_from_sockaddr(addr, &ip) != 0)
        return MHD_YES;
    int normal = classify(e, &ip) == CLS_NORMAL;
    struct og_ip key = key_of(&ip);
    const char *why = NULL;
    pthread_mutex_lock(&e->mu);
    struct addr_count *a = normal ? count_of(e, &key, 0) : NULL;
    if (e->n_open >= e->max) {
        why = "every connection is taken (http.max_connections)";
        atomic_fetch_add(&e->refused_full, 1);
    } else if (!normal) {
        /* platforms and trusted proxies: only the total bounds them */
    } else if (e->per_address && a && a->conns >= e->per_address) {
        why = "it holds http.per_address_connections";
        atomic_fetch_add(&e->refused_address, 1);
    } else if (general_full(e) && (e->n_reserve >= e->reserved || (a && a->reserve))) {
        why = "every connection is taken (the reserve too)";
        atomic_fetch_add(&e->refused_full, 1);
    }
    pthread_mutex_unlock(&e->mu);
    if (why) {
        char t[64];
        og_ip_format(&ip, t, sizeof t);
        og_log_write(OG_LOG_INFO, "http", "refused a connection from %s: %s", t, why);
        return MHD_NO;
    }
    return MHD_YES;
}

static void conn_started(struct og_edge *e, struct MHD_Connection *conn, void **ctx)
{
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *pa =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct conn *c = og_calloc(1, sizeof *c);
    c->fd = fd ? fd->connect_fd : MHD_INVALID_SOCKET;
    if (!pa || og_ip_from_sockaddr(pa->client_addr, &c->peer) != 0)
        memset(&c->peer, 0, sizeof c->peer);
    c->client = c->peer;
    c->cls = classify(e, &c->peer);
    set_phase(c, PH_HEADERS);
    pthread_mutex_lock(&e->mu);
    if (c->cls == CLS_NORMAL && general_full(e))
        c->cls = CLS_RESERVE;
    if (c->cls == CLS_NORMAL || c->cls == CLS_RESERVE) {
        struct og_ip key = key_of(&c->peer);
        struct addr_count *a = count_of(e, &key, 1);
        a->conns++;
        if (c->cls == CLS_RESERVE)
            a->reserve++, e->n_reserve++;
    }
    c->next = e->head;
    if (e->head)
        e->head->prev = c;
    e->head = c;
    e->n_open++;
    pthread_mutex_unlock(&e->mu);
    *ctx = c;
}

static void conn_closed(struct og_edge *e, void **ctx)
{
    struct conn *c = *ctx;
    if (!c)
        return;
    pthread_mutex_lock(&e->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        e->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    e->n_open--;
    if (c->cls == CLS_NORMAL || c->cls == CLS_RESERVE) {
        struct og_ip key = key_of(&c->peer);
        count_release(e, &key, c->cls == CLS_RESERVE);
        if (c->cls == CLS_RESERVE)
            e->n_reserve--;
    }
    if (c->fwd_counted)
        count_release(e, &c->fwd_key, 0);
    pthread_mutex_unlock(&e->mu);
    free(c);
    *ctx = NULL;
}

void og_edge_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        conn_started(cls, conn, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        conn_closed(cls, socket_context);
}

/* ---------------------------------------------------------------- framing */

static void trimmed(const char *s, const char **p, size_t *n)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t k = strlen(s);
    while (k && (s[k - 1] == ' ' || s[k - 1] == '\t'))
        k--;
    *p = s, *n = k;
}

/* A Content-Length value as a number; -1 when it is not one. */
static int content_length(const char *v, unsigned long long *out)
{
    const char *p;
    size_t n;
    trimmed(v, &p, &n);
    if (n == 0 || n > 19)
        return -1;
    unsigned long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        x = x * 10 + (unsigned)(p[i] - '0');
    }
    *out = x;
    return 0;
}

static int refuse(struct og_edge_verdict *v, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(struct og_edge_verdict *v, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
    v->status = status;
    v->code = code;
    v->now = 1;
    return -1;
}

int og_edge_framing(const struct og_edge_hdr *h, size_t n, int http11, struct og_edge_verdict *v)
{
    int hosts = 0, lengths = 0, codings = 0;
    unsigned long long len = 0;
    const char *te = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *name = h[i].name ? h[i].name : "", *val = h[i].value ? h[i].value : "";
        if (strcasecmp(name, "Host") == 0) {
            hosts++;
        } else if (strcasecmp(name, "Content-Length") == 0) {
            unsigned long long x;
            if (content_length(val, &x) != 0)
                return refuse(v, 400, "invalid_request", "Content-Length must be a number");
            if (lengths++ && x != len)
                return refuse(v, 400, "invalid_request",
                              "two different Content-Length headers (%llu and %llu)", len, x);
            len = x;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            codings++;
            te = val;
        }
    }
    if (hosts > 1)
        return refuse(v, 400, "invalid_request", "more than one Host header");
    if (http11 && hosts == 0)
        return refuse(v, 400, "invalid_request", "an HTTP/1.1 request needs a Host header");
    if (codings && lengths)
        return refuse(v, 400, "invalid_request",
                      "Transfer-Encoding and Content-Length together: send one of them");
    if (codings && !http11)
        return refuse(v, 400, "invalid_request", "Transfer-Encoding in an HTTP/1.0 request");
    if (codings) {
        const char *p;
        size_t k;
        trimmed(te, &p, &k);
        if (codings > 1 || k != 7 || strncasecmp(p, "chunked", 7) != 0)
            return refuse(v, 501, "not_implemented",
                          "Transfer-Encoding \"%.48s\" is not supported: send the body with "
                          "Content-Length, or chunked alone",
                          codings > 1 ? "(several headers)" : te);
    }
    return 0;
}

struct framing_acc {
    struct og_edge_hdr h[MAX_FRAMING_HDRS];
    size_t n;
    int overflow;
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct framing_acc *acc = cls;
    (void)kind;
    if (!key || (strcasecmp(key, "Host") && strcasecmp(key, "Content-Length") &&
                 strcasecmp(key, "Transfer-Encoding")))
        return MHD_YES;
    if (acc->n == MAX_FRAMING_HDRS) {
        acc->overflow = 1;
        return MHD_NO;
    }
    acc->h[acc->n].name = key;
    acc->h[acc->n].value = value ? value : "";
    acc->n++;
    return MHD_YES;
}

/* ------------------------------------------------------- client address */

struct fwd_acc {
    const char *name;
    const char *v[MAX_FWD_HDRS];
    size_t n;
};

static enum MHD_Result fwd_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct fwd_acc *acc = cls;
    (void)kind;
    if (key && value && strcasecmp(key, acc->name) == 0 && acc->n < MAX_FWD_HDRS)
        acc->v[acc->n++] = value;
    return MHD_YES;
}

static void client_of(struct og_edge *e, struct MHD_Connection *conn, struct conn *c)
{
    struct fwd_acc acc = {.name = e->fwd == OG_FWD_FORWARDED ? "Forwarded" : "X-Forwarded-For"};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, fwd_header, &acc);
    og_forwarded_client(&c->peer, e->trusted, e->fwd, acc.v, acc.n, &c->client);
}

/* A request through a trusted proxy counts against its client's limit while
 * it runs. 0, or -1 when the client is over it (under no lock). */
static int count_proxied(struct og_edge *e, struct conn *c)
{
    if (!e->per_address || classify(e, &c->client) != CLS_NORMAL)
        return 0;
    struct og_ip key = key_of(&c->client);
    int ok = 0;
    pthread_mutex_lock(&e->mu);
    struct addr_count *a = count_of(e, &key, 1);
    if (a->conns >= e->per_address) {
        count_drop_if_zero(e, a);
        ok = -1;
    } else {
        a->conns++;
        c->fwd_key = key;
        c->fwd_counted = 1;
    }
    pthread_mutex_unlock(&e->mu);
    return ok;
}

static int health_route(const char *url, const char *method)
{
    return (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
           (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0);
}

int og_edge_request(struct og_edge *e, struct MHD_Connection *conn, const char *url,
                    const char *method, const char *version, struct og_edge_verdict *v)
{
    struct conn *c = conn_of(conn);
    memset(v, 0, sizeof *v);
    struct framing_acc acc = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_header, &acc);
    int http11 = version && strcmp(version, MHD_HTTP_VERSION_1_0) != 0;
    if (acc.overflow)
        refuse(v, 400, "invalid_request",
               "too many Host, Content-Length or Transfer-Encoding "
               "headers");
    if (acc.overflow || og_edge_framing(acc.h, acc.n, http11, v) != 0) {
        if (e)
            atomic_fetch_add(&e->refused_framing, 1);
        return -1;
    }
    if (!e || !c)
        return 0;
    if (c->cls == CLS_RESERVE && !health_route(url, method)) {
        atomic_fetch_add(&e->refused_route, 1);
        return refuse(v, 503, "overloaded",
                      "every connection is taken; the few kept in reserve serve health checks "
                      "and the platforms' webhooks only: retry later");
    }
    c->client = c->peer;
    if (c->cls == CLS_PROXY) {
        client_of(e, conn, c);
        if (count_proxied(e, c) != 0) {
            atomic_fetch_add(&e->refused_proxied, 1);
            refuse(v, 429, "rate_limited",
                   "too many connections from your address at once "
                   "(http.per_address_connections)");
            v->now = 0; /* the proxy's connection stays usable */
            set_phase(c, PH_BODY);
            atomic_store(&c->body, 0);
            return -1;
        }
    }
    atomic_store(&c->body, 0);
    set_phase(c, PH_BODY);
    return 0;
}

void og_edge_body(struct MHD_Connection *conn, size_t n)
{
    struct conn *c = conn_of(conn);
    if (c)
        atomic_fetch_add(&c->body, n);
}

void og_edge_answering(struct MHD_Connection *conn)
{
    struct conn *c = conn_of(conn);
    if (c)
        set_phase(c, PH_ANSWER);
}

void og_edge_request_done(struct og_edge *e, struct MHD_Connection *conn)
{
    struct conn *c = conn_of(conn);
    if (!e || !c)
        return;
    pthread_mutex_lock(&e->mu);
    if (c->fwd_counted)
        count_release(e, &c->fwd_key, 0);
    c->fwd_counted = 0;
    pthread_mutex_unlock(&e->mu);
    set_phase(c, PH_IDLE);
}

void og_edge_client(struct MHD_Connection *conn, struct og_ip *ip)
{
    struct conn *c = conn_of(conn);
    if (c) {
        *ip = c->client;
        return;
    }
    const union MHD_ConnectionInfo *pa =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    if (!pa || og_ip_from_sockaddr(pa->client_addr, ip) != 0)
        memset(ip, 0, sizeof *ip);
}

void og_edge_client_text(struct MHD_Connection *conn, char *out, size_t n)
{
    struct og_ip ip;
    og_edge_client(conn, &ip);
    og_ip_format(&ip, out, n);
}

/* ---------------------------------------------------------------- reaper */

/* Why c must go now, or NULL (under mu). */
static const char *overdue(struct og_edge *e, struct conn *c, int64_t now)
{
    int64_t since = atomic_load(&c->since), t = now - since;
    switch ((enum phase)atomic_load(&c->phase)) {
    case PH_HEADERS: {
        int64_t lim = c->cls == CLS_RESERVE ? RESERVE_HEADER_MS : e->header_ms;
        if (lim > 0 && t > lim) {
            atomic_fetch_add(&e->closed_headers, 1);
            return "its request headers took too long (http.header_timeout_ms)";
        }
        return NULL;
    }
    case PH_IDLE:
        if (e->header_ms > 0 && t > IDLE_MS + e->header_ms) {
            atomic_fetch_add(&e->closed_idle, 1);
            return "its next request's headers took too long (http.header_timeout_ms)";
        }
        return NULL;
    case PH_BODY: {
        int64_t grace = e->header_ms > 0 ? e->header_ms : 10000;
        unsigned long long got = atomic_load(&c->body);
        if (e->min_rate > 0 && t > grace &&
            (double)got < (double)e->min_rate * (double)(t - grace) / 1000.0) {
            atomic_fetch_add(&e->closed_body, 1);
            return "its body came slower than http.min_body_bytes_per_s";
        }
        return NULL;
    }
    case PH_ANSWER: return NULL;
    }
    return NULL;
}

static void *reaper_main(struct og_thread *t)
{
    struct og_edge *e = t->arg;
    while (og_thread_running(t)) {
        int64_t now = og_mono_ms();
        pthread_mutex_lock(&e->mu);
        for (struct conn *c = e->head; c; c = c->next) {
            const char *why = c->reaped ? NULL : overdue(e, c, now);
            if (!why)
                continue;
            /* libmicrohttpd sees the end of the stream and closes it; the
             * record (and the descriptor) live until its CLOSED notice,
             * which needs this lock. */
            c->reaped = 1;
            if (c->fd != MHD_INVALID_SOCKET)
                shutdown(c->fd, SHUT_RDWR);
            char text[64];
            og_ip_format(&c->peer, text, sizeof text);
            og_log_write(OG_LOG_INFO, "http", "closed a connection from %s: %s", text, why);
        }
        pthread_mutex_unlock(&e->mu);
        og_thread_nap(t, REAP_EVERY_MS);
    }
    return NULL;
}

/* ------------------------------------------------------------- lifecycle */

struct og_edge *og_edge_new(const struct og_edge_conf *conf, char *err, size_t errlen)
{
    struct og_edge *e = og_calloc(1, sizeof *e);
    e->max = conf->max_connections ? conf->max_connections : 4096;
    e->reserved = conf->reserved < e->max ? conf->reserved : 0;
    e->per_address = conf->per_address;
    e->header_ms = conf->header_timeout_ms;
    e->min_rate = conf->min_body_rate;
    e->fwd = conf->forwarded_header;
    pthread_mutex_init(&e->mu, NULL);
    char why[160];
    e->trusted = og_cidrs_parse(conf->trusted_proxies, conf->n_trusted, why, sizeof why);
    if (e->trusted)
        e->platforms = og_cidrs_parse(conf->platform_ranges, conf->n_platforms, why, sizeof why);
    if (!e->trusted || !e->platforms) {
        snprintf(err, errlen, "http: %s", why);
        og_edge_free(e);
        return NULL;
    }
    return e;
}

int og_edge_start(struct og_edge *e)
{
    return og_thread_start(&e->reaper, reaper_main, e);
}

void og_edge_stop(struct og_edge *e)
{
    if (e)
        og_thread_stop(&e->reaper);
}

void og_edge_free(struct og_edge *e)
{
    if (!e)
        return;
    og_edge_stop(e);
    for (size_t b = 0; b < BUCKETS; b++)
        while (e->buckets[b]) {
            struct addr_count *a = e->buckets[b];
            e->buckets[b] = a->next;
            free(a);
        }
    og_cidrs_free(e->trusted);
    og_cidrs_free(e->platforms);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

unsigned og_edge_max_connections(const struct og_edge *e)
{
    return e->max;
}

void og_edge_metrics(struct og_edge *e, struct og_buf *b)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    unsigned open = e->n_open, reserve = e->n_reserve;
    pthread_mutex_unlock(&e->mu);
    og_buf_printf(b,
                  "# HELP omnigate_http_connections Open HTTP connections, and of them those "
                  "in the reserve.\n"
                  "# TYPE omnigate_http_connections gauge\n"
                  "omnigate_http_connections{kind=\"all\"} %u\n"
                  "omnigate_http_connections{kind=\"reserve\"} %u\n",
                  open, reserve);
    og_buf_printf(b,
                  "# HELP omnigate_http_refused_total Connections and requests refused at the "
                  "edge, by reason.\n"
                  "# TYPE omnigate_http_refused_total counter\n"
                  "omnigate_http_refused_total{reason=\"per_address\"} %llu\n"
                  "omnigate_http_refused_total{reason=\"full\"} %llu\n"
                  "omnigate_http_refused_total{reason=\"reserve_route\"} %llu\n"
                  "omnigate_http_refused_total{reason=\"framing\"} %llu\n"
                  "omnigate_http_refused_total{reason=\"proxied_per_address\"} %llu\n",
                  atomic_load(&e->refused_address), atomic_load(&e->refused_full),
                  atomic_load(&e->refused_route), atomic_load(&e->refused_framing),
                  atomic_load(&e->refused_proxied));
    og_buf_printf(b,
                  "# HELP omnigate_http_slow_closed_total Connections closed for taking too long "
                  "to send a request, by phase.\n"
                  "# TYPE omnigate_http_slow_closed_total counter\n"
                  "omnigate_http_slow_closed_total{phase=\"headers\"} %llu\n"
                  "omnigate_http_slow_closed_total{phase=\"idle\"} %llu\n"
                  "omnigate_http_slow_closed_total{phase=\"body\"} %llu\n",
                  atomic_load(&e->closed_headers), atomic_load(&e->closed_idle),
                  atomic_load(&e->closed_body));
}
