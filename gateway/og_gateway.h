/* og_gateway - the daemon's parts and the state they share. The gateway owns
 * sockets, threads, HTTP and SSE; every piece of state, every Redis key and
 * script is the core's (og_core.h), which the gateway only borrows: no file
 * here calls hiredis or names a key (.ci/layering checks it).
 *
 *   main.c              command line, config, start-up and clean shutdown
 *   og_http.c           libmicrohttpd server: routing, body limit, /hooks dispatch, health
 *   og_accept.c         the listening socket; connections spread over MHD's threads
 *   og_edge.c           who may connect, for how long, and who a request is from
 *   og_cors.c           CORS for /api/ (api.cors_origins)
 *   og_tls.c            HTTPS: http.tls_cert and tls_key, renewed on SIGHUP
 *   og_reply.c          a response, and THE og_err -> (status, code) table
 *   og_static.c         the pages under gateway/www (inbox, widget, survey, reports)
 *   og_csat_page.c      /csat/{token}: the survey page of a signed link
 *   og_api.c            /api/v1: authentication, the route table, helpers (og_api.h)
 *   og_api_*.c          one file per area of /api/v1 (og_api_auth.c: sign-in and the
 *                       session cookie; og_api_meta.c: what the inbox page offers)
 *   og_sse.c            GET /api/v1/events: server-sent events
 *   og_metrics.c        /metrics in Prometheus text format
 *   og_embedded.c       redis.url "embedded": start, supervise and stop redis-server
 *   og_pollers.c        one thread per channel whose connector polls
 *   og_reload.c         SIGHUP: the log reopened, what can change applied, the rest named
 *   og_thread.c         the workers' thread helper (stop, nap, kick)
 *   og_workers.c        the background workers' registry (one row per worker)
 *   og_*_worker.c       the workers' loops: routing, send, follow-ups, webhooks */
#ifndef OG_GATEWAY_H
#define OG_GATEWAY_H
#include "og_channel.h"
#include "og_config.h"
#include "og_core.h"
#include "og_reply.h"

struct og_accept;
struct og_cors;
struct og_tls;
struct og_media_store; /* core/og_media.h */

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

struct og_http_stats {
    /* [route][class]: route 0 hooks, 1 api, 2 health/metrics, 3 other;
     * class 0 2xx, 1 3xx, 2 4xx, 3 5xx */
    atomic_ullong requests[4][4];
    /* hook latency histogram, le buckets in og_metrics.c */
    atomic_ullong hook_latency_buckets[12];
    atomic_ullong hook_latency_count, hook_latency_us_sum;
};

struct og_gateway {
    struct og_config *cfg;        /* [borrowed] */
    struct og_core *core;         /* [borrowed] */
    struct og_channel **channels; /* [borrowed] */
    size_t n_channels;
    unsigned char admin_token_sha[32]; /* tokens are compared as digests */
    unsigned char csat_key[32];        /* signs survey links (og_csat_key) */
    unsigned char media_key[32];       /* signs attachment links (og_media_link_key) */
    struct og_media_store *media;      /* owned by main: the media store (og_media.h) */
    struct MHD_Daemon *mhd;
    struct og_accept *accept; /* og_accept.h: the listening socket, its thread */
    struct og_edge *edge;     /* og_edge.h: limits, slow clients, client address */
    struct og_cors *cors;     /* og_cors.h: api.cors_origins; NULL = no CORS */
    struct og_tls *tls;       /* og_tls.h: http.tls_cert; NULL = plain HTTP */
    struct og_http_stats stats;
    struct og_static *pages; /* [borrowed] og_static.h: /inbox/ and the other pages */
    atomic_int ready;        /* channels started */
    atomic_int stopping;
    char instance_id[48]; /* unique per process: consumer names */
    /* Guards the parts of cfg that SIGHUP replaces and a thread reads
     * later (cfg->webhooks, read by og_webhook_sync_config). */
    pthread_mutex_t cfg_mu;
    /* Workers' state, one pointer each (owned by its file). */
    struct og_webhook_dispatchers *webhook_dispatch; /* og_webhook_worker.c */
    struct og_fup_worker *followups;                 /* og_followup_worker.c */
    struct og_routing_worker *routing;               /* og_routing_worker.c */
    struct og_send_worker *send;                     /* og_send_worker.c */
    struct og_sse *sse;                              /* og_sse.c */
    /* events.retain_s (as ms) and events.max_bytes: the housekeeping
     * worker trims by them; SIGHUP sets them (og_housekeeping_bounds). */
    atomic_llong events_retain_ms, events_max_bytes;
};

/* A background worker (routing timers, send queue, webhook dispatcher...).
 * start() keeps its state in struct og_gateway and returns 0; stop() must
 * return promptly and free everything start() made. */
struct og_worker {
    const char *name;
    int (*start)(struct og_gateway *g);
    void (*stop)(struct og_gateway *g);
};
int og_workers_start(struct og_gateway *g);
void og_workers_stop(struct og_gateway *g);

/* Readers of the event stream (webhooks, follow-ups, SSE) wait this long
 * after a read that returned more than one entry before reading again: a
 * blocking read wakes on every single event, so under load each reader
 * would otherwise cost Redis a round trip (and a script) per event. One
 * entry per read means a quiet stream, where nothing is delayed. */
#define OG_STREAM_COALESCE_MS 2

/* og_http.c */
int og_http_start(struct og_gateway *g, const char *host, int port, unsigned threads);
int og_http_port(struct og_gateway *g);
/* Stops accepting, waits up to drain_ms for in-flight requests, stops. */
void og_http_stop(struct og_gateway *g, int drain_ms);
/* Every route the server answers, to fn: the method, the path with ":name"
 * parameters, and the least role allowed ("public", "agent", "manager",
 * "admin"). In order: its own routes (/healthz, /readyz, /metrics),
 * /hooks/:channel, /api/v1 (og_api_routes_each) and the pages loaded in
 * pages (og_static.h: each directory's files as "<dir>/:file"). The docs'
 * route test compares this list with docs/openapi.yaml (tests/docs). */
typedef void (*og_route_fn)(void *ud, const char *method, const char *path, const char *role);
void og_http_routes_each(const struct og_static *pages, og_route_fn fn, void *ud);

/* og_api.c: handles /api/v1/...; conn for headers and arguments. */
void og_api_handle(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                   const char *url, const char *body, size_t len, struct og_reply *r);

/* og_api_stats.c: GET /reports/{token}, a permanent report link (og_export.h):
 * no sign-in, the token is the credential. */
void og_reports_handle(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                       const char *url, struct og_reply *r);

/* og_metrics.c */
char *og_metrics_render(struct og_gateway *g); /* [xfer] */
void og_metrics_observe_hook(struct og_gateway *g, int64_t us);

/* og_embedded.c */
struct og_embedded;
/* Starts redis-server on a unix socket in data_dir/redis with AOF on and
 * waits until it answers (through a long AOF load; see og_embedded.c for the
 * bounds). Refuses a data_dir another omnigate holds; stops a redis-server a
 * previous run left there first. The child is sent SIGTERM if we die.
 * fsync_always: appendfsync always (redis.durability "fsync": every write
 * on disk before a platform is acknowledged), else everysec.
 * *url gets "unix://..." [borrowed from e]. NULL on failure (logged). */
struct og_embedded *og_embedded_start(const char *data_dir, const char *server, int fsync_always,
                                      const char **url);
void og_embedded_stop(struct og_embedded *e);

/* og_send_worker.c */
extern const struct og_worker og_worker_send;

/* og_sse.c: GET /api/v1/events (server-sent events). close_all ends every
 * stream and resumes suspended connections; og_http_stop calls it before
 * MHD_stop_daemon, which must never see a suspended connection. */
extern const struct og_worker og_worker_sse;
void og_sse_close_all(struct og_gateway *g);
/* og_sse.c: the live stream of one web chat visitor (ABI 1.2's
 * og_services.visitor->stream): sets resp->stream (an MHD response the
 * caller queues) with the visitor's events (og_webchat.h) from the same
 * event stream the agents follow. OG_ERR_RATE_LIMITED when the visitor's
 * token holds o->max_streams already; OG_ERR_UNAVAILABLE while stopping. */
og_err og_sse_visitor_open(struct og_gateway *g, struct MHD_Connection *conn, struct og_channel *ch,
                           const struct og_visitor *v, const struct og_visitor_stream *o,
                           struct og_http_resp *resp);
/* Lists the visitor routes of a connector (ABI 1.2's visitor_routes) as
 * /webchat/:channel/<path>, role "visitor". */
void og_http_visitor_routes_each(const struct og_connector *c, og_route_fn fn, void *ud);

/* og_routing_worker.c: the routing engine's thread. og_routing_kick wakes it
 * for an immediate pass (this instance; the others find the work on their
 * next tick) after a change that may let a waiting session be assigned now
 * (presence, close, transfer, reopen). */
extern const struct og_worker og_worker_routing;
void og_routing_kick(struct og_gateway *g);

/* og_webhook_worker.c: stores the config's subscriptions (cfg->webhooks)
 * in Redis, replacing the config's earlier ones; API-made ones stay. The
 * dispatchers of every instance pick the change up by its version. */
og_err og_webhook_sync_config(struct og_gateway *g);

/* og_housekeeping_worker.c: heartbeat, takeover, stream trimming.
 * og_housekeeping_bounds applies cfg's "events" section (start, SIGHUP). */
extern const struct og_worker og_worker_housekeeping;
void og_housekeeping_bounds(struct og_gateway *g, const struct og_config *cfg);

/* og_reload.c: SIGHUP. Reopens the log file, then loads config_path again:
 * when it is valid, applies what can change while running (log_level,
 * log_file, log_format, webhooks, routing policies, channels' texts) and logs each
 * other key that differs from the running config as needing a restart;
 * when it is not, logs its errors and changes nothing. Never stops. */
void og_reload(struct og_gateway *g, const char *config_path);
/* The routing engine's options from cfg (strings borrowed from it). */
struct og_routing_opts;
void og_reload_routing_opts(const struct og_config *cfg, struct og_routing_opts *ro);

/* og_pollers.c */
struct og_pollers;
/* /csat/<rest>: a survey link's page and answer, or the page's files
 * (og_csat_page.c); body: the request's. */
void og_csat_page(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                  const char *rest, const char *body, size_t len, struct og_reply *r);

struct og_pollers *og_pollers_start(struct og_channel **chs, size_t n);
void og_pollers_stop(struct og_pollers *p);
#endif
