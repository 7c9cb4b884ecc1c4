/* og_edge - the HTTP server's edge: who may hold a connection, for how long,
 * and who a request comes from (#14.1, #14.14, #14.16).
 *
 * libmicrohttpd's own timeout counts only inactivity, so a client sending a
 * byte every few seconds held a connection forever, and 4,200 of them took
 * every connection the server had. The edge keeps its own record of every
 * connection (MHD_OPTION_NOTIFY_CONNECTION) and:
 *
 *   - refuses a connection at accept (MHD_AcceptPolicyCallback) when its
 *     address already holds http.per_address_connections (an IPv6 address
 *     counts by its /64), except from http.platform_ranges and
 *     http.trusted_proxies;
 *   - keeps http.reserved_connections of http.max_connections for the
 *     platforms (their webhooks) and for /healthz and /readyz: once only the
 *     reserve is left, a connection from elsewhere is taken only into it,
 *     one per address, with one second to send its headers, and only to ask
 *     for health (anything else is 503 overloaded);
 *   - closes, from a thread of its own (shutdown(2) on the socket, which
 *     libmicrohttpd then closes), a connection whose request line and
 *     headers are not complete within http.header_timeout_ms of its start
 *     (for a kept-alive connection, of the end of the previous request plus
 *     the 60 s libmicrohttpd allows it idle), or whose body, once that much
 *     time has passed again, averages under http.min_body_bytes_per_s;
 *     answers being sent (SSE streams among them) are never cut;
 *   - refuses a request whose framing is ambiguous before reading its body:
 *     two different Content-Length headers, an HTTP/1.1 request without
 *     exactly one Host, a Transfer-Encoding other than "chunked" alone (501),
 *     or Transfer-Encoding with Content-Length (the request-smuggling shape);
 *   - decides the client's address: the peer's, or, when the peer is one of
 *     http.trusted_proxies, the one its X-Forwarded-For (or Forwarded, by
 *     http.forwarded_header) names (og_addr.h). A request through a proxy
 *     counts against its client's per-address limit while it runs (429). The
 *     API's allowed_ips, the sign-in limits and the log lines use it.
 *
 * Threads: the MHD hooks run on MHD's threads, the reaper on its own; the
 * records and counts are under one mutex. A record lives from MHD's
 * STARTED to its CLOSED notification, which MHD sends before it closes
 * the socket, so the reaper never shuts a descriptor that was reused. */
#ifndef OG_EDGE_H
#define OG_EDGE_H
#include "og_addr.h"

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct og_buf;

struct og_edge_conf {
    unsigned max_connections;           /* libmicrohttpd's connection limit */
    unsigned reserved;                  /* of those, for platforms and health checks */
    unsigned per_address;               /* per client address; 0 = no limit */
    int64_t header_timeout_ms;          /* 0 = no bound */
    int64_t min_body_rate;              /* bytes per second; 0 = no bound */
    const char *const *trusted_proxies; /* [borrowed] CIDRs, n_trusted of them */
    size_t n_trusted;
    enum og_fwd_header forwarded_header;
    const char *const *platform_ranges; /* [borrowed] CIDRs */
    size_t n_platforms;
};

struct og_edge;
/* NULL with a reason in err when a CIDR does not parse. [xfer, og_edge_free] */
struct og_edge *og_edge_new(const struct og_edge_conf *conf, char *err, size_t errlen);
/* Starts and stops the thread that closes slow clients. */
int og_edge_start(struct og_edge *e);
void og_edge_stop(struct og_edge *e);
void og_edge_free(struct og_edge *e);
/* The daemon is stopping: from now on every new connection is refused at
 * accept (closed at once) while those open finish. This is how omnigate
 * stops taking connections, not MHD_quiesce_daemon(): with epoll worker
 * threads that races with their own removal of the listening socket from
 * epoll and aborts the process (an open libmicrohttpd defect, seen in CI
 * as "Failed to remove listen FD from epoll set" at SIGTERM). */
void og_edge_drain(struct og_edge *e);

/* libmicrohttpd hooks: MHD_start_daemon's accept policy (cls = the edge)
 * and MHD_OPTION_NOTIFY_CONNECTION. */
enum MHD_Result og_edge_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void og_edge_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode code);

/* A refusal: the status, the error code of og_reply's table and a message.
 * now = 1: answer before reading the body and close (the framing cannot be
 * trusted, or the connection is the reserve's); 0: read the body (within
 * http.max_body_bytes) and answer then, keeping the connection. */
struct og_edge_verdict {
    int status;
    const char *code;
    char message[192];
    int now;
};

/* The request's headers are in (the handler's first call): checks the
 * framing, decides the client's address and counts it. 0 to go on; -1 with
 * v filled. Must be paired with og_edge_request_done (MHD's completion). */
int og_edge_request(struct og_edge *e, struct MHD_Connection *conn, const char *url,
                    const char *method, const char *version, struct og_edge_verdict *v);
/* n more body bytes arrived (for the minimum rate). */
void og_edge_body(struct MHD_Connection *conn, size_t n);
/* The answer is queued: from now on only libmicrohttpd's timeout applies. */
void og_edge_answering(struct MHD_Connection *conn);
/* The request is over (MHD_OPTION_NOTIFY_COMPLETED). */
void og_edge_request_done(struct og_edge *e, struct MHD_Connection *conn);

/* The current request's client address (the peer's when unknown). */
void og_edge_client(struct MHD_Connection *conn, struct og_ip *ip);
void og_edge_client_text(struct MHD_Connection *conn, char *out, size_t n);

unsigned og_edge_max_connections(const struct og_edge *e);
/* Appends the edge's figures to /metrics (Prometheus text). */
void og_edge_metrics(struct og_edge *e, struct og_buf *b);

/* ---------------------------------------------- framing, for the fuzz target */

struct og_edge_hdr {
    const char *name, *value; /* [borrowed], NUL-terminated */
};
/* Checks the framing headers of one request: 0 when the framing is
 * unambiguous, -1 with v filled (400 or 501, now = 1). http11 = the request
 * says HTTP/1.1 (or later). */
int og_edge_framing(const struct og_edge_hdr *h, size_t n, int http11, struct og_edge_verdict *v);
#endif
