/* og_cors - see og_cors.h. Origins are compared exactly, as browsers send
 * them (the config checks their shape: lower case, no path). */
#include "og_cors.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

struct og_cors {
    char **origins; /* owned */
    size_t n;
};

struct og_cors *og_cors_new(const char *const *origins, size_t n)
{
    if (!n)
        return NULL;
    struct og_cors *c = og_calloc(1, sizeof *c);
    c->origins = og_calloc(n, sizeof *c->origins);
    for (size_t i = 0; i < n; i++)
        c->origins[i] = og_strdup(origins[i]);
    c->n = n;
    return c;
}

void og_cors_free(struct og_cors *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->origins[i]);
    free(c->origins);
    free(c);
}

static int is_api(const char *url)
{
    return strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0;
}

/* The request's Origin when it is listed, else NULL. [borrowed from conn] */
static const char *listed(const struct og_cors *c, struct MHD_Connection *conn, const char *url)
{
    if (!c || !is_api(url))
        return NULL;
    const char *o = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    for (size_t i = 0; o && i < c->n; i++)
        if (strcmp(c->origins[i], o) == 0)
            return o;
    return NULL;
}

static void allow(struct og_reply *r, const char *origin)
{
    og_reply_header(r, "Access-Control-Allow-Origin", origin);
    og_reply_header(r, "Access-Control-Allow-Credentials", "true");
    og_reply_header(r, "Vary", "Origin");
}

int og_cors_preflight(const struct og_cors *c, struct MHD_Connection *conn, const char *method,
                      const char *url, struct og_reply *r)
{
    if (strcmp(method, "OPTIONS") != 0)
        return 0;
    const char *origin = listed(c, conn, url);
    if (!origin ||
        !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Method"))
        return 0;
    r->status = 204;
    r->body = og_strdup("");
    r->len = 0;
    allow(r, origin);
    og_reply_header(r, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
    og_reply_header(r, "Access-Control-Allow-Headers",
                    "Authorization, Content-Type, X-CSRF-Token, X-Request-Id, Last-Event-ID");
    og_reply_header(r, "Access-Control-Max-Age", "600");
    return 1;
}

void og_cors_headers(const struct og_cors *c, struct MHD_Connection *conn, const char *url,
                     struct og_reply *r)
{
    const char *origin = listed(c, conn, url);
    if (!origin)
        return;
    allow(r, origin);
    og_reply_header(r, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
}
