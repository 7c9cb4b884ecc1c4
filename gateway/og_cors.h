/* og_cors - CORS for the REST API and its event stream (api.cors_origins).
 *
 * A page served from one of the listed origins may call /api/ from a
 * browser, with credentials (the session cookie or a bearer token): its
 * preflight (OPTIONS with Access-Control-Request-Method) is answered 204
 * with the methods and headers the API takes, and every answer to it
 * carries Access-Control-Allow-Origin (that origin, never "*"),
 * Access-Control-Allow-Credentials and Vary: Origin. Any other origin, and
 * any path outside /api/, gets no CORS header at all, so the browser keeps
 * the answer from the page. (The web chat's /webchat/ has its own rules.) */
#ifndef OG_CORS_H
#define OG_CORS_H
#include "og_reply.h"

#include <microhttpd.h>
#include <stddef.h>

struct og_cors;
/* origins [borrowed, copied]; NULL when n is 0 (CORS off). [xfer] */
struct og_cors *og_cors_new(const char *const *origins, size_t n);
void og_cors_free(struct og_cors *c);

/* 1 when the request was a CORS preflight for /api/ from a listed origin,
 * answered in r (204); 0 otherwise (nothing done). */
int og_cors_preflight(const struct og_cors *c, struct MHD_Connection *conn, const char *method,
                      const char *url, struct og_reply *r);
/* Adds the CORS headers to r when url is under /api/ and the request's
 * Origin is listed. */
void og_cors_headers(const struct og_cors *c, struct MHD_Connection *conn, const char *url,
                     struct og_reply *r);
#endif
