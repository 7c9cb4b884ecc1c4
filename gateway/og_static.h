/* og_static - the pages omnigate serves itself: the agent inbox (/inbox/),
 * the web chat widget and demo (/webchat/...), the survey and report pages.
 * Plain HTML, CSS and JavaScript modules kept in gateway/www/ and installed
 * as share/omnigate/www; no build step, no framework runtime.
 *
 * Every file under the www directory is read once at start into memory, so
 * serving it touches no disk: its content type from its extension, a strong
 * ETag (the first 16 bytes of its SHA-256, hex), and a gzip copy when the
 * build made one (<file>.gz, sent to clients that accept gzip). Answers carry
 * Cache-Control "no-cache" (always revalidated: a new version shows at the
 * next load), X-Content-Type-Options nosniff, and for HTML a strict
 * Content-Security-Policy without inline script. */
#ifndef OG_STATIC_H
#define OG_STATIC_H
#include "og_reply.h"

#include <microhttpd.h>
#include <stddef.h>

struct og_static;

/* Loads every file under dir (at most OG_STATIC_MAX_FILE bytes each). A
 * missing dir gives an empty set (logged), not an error. [xfer] */
#define OG_STATIC_MAX_FILE (4u << 20)
struct og_static *og_static_load(const char *dir);
void og_static_free(struct og_static *s);
/* The default directory: <exe dir>/../share/omnigate/www. [xfer] */
char *og_static_default_dir(void);

/* Answers GET/HEAD url when it names a loaded file ("/inbox/" serves
 * /inbox/index.html; "/inbox" redirects there). 0 when it did, -1 when url
 * is not one of its files (the caller answers 404). */
int og_static_serve(struct og_static *s, struct MHD_Connection *conn, const char *method,
                    const char *url, struct og_reply *r);
/* Files loaded (for tests and the start-up log). */
size_t og_static_count(const struct og_static *s);
/* The URL path of the i-th file ("/inbox/app.js"), in sorted order; NULL
 * past the end. [borrowed from s] */
const char *og_static_path(const struct og_static *s, size_t i);
#endif
