/* og_http_client - outbound HTTP through libcurl for connectors (svc->http).
 * Each call uses a handle from a small per-thread cache so keep-alive
 * connections are reused; redirects are never followed.
 *
 * og_http_client_fetch is the one way to fetch a URL a client chose: the
 * same call under an og_fetch policy (og_fetch.h), on a fresh connection
 * checked at connect time. */
#ifndef OG_HTTP_CLIENT_H
#define OG_HTTP_CLIENT_H
#include <omnigate/connector.h>

/* curl_global_init; call once from main before threads start. */
void og_http_client_global_init(void);
void og_http_client_global_cleanup(void);
og_err og_http_client_call(const struct og_http_call *call, struct og_http_result *res);
/* og_http_client_call under policy [borrowed]: OG_ERR_FORBIDDEN (res->errbuf
 * says why, nothing was sent) when the URL or every address it resolves to
 * is refused, OG_ERR_INVALID when it is not an http(s) URL, OG_ERR_TOO_LARGE
 * past the policy's size cap; else as og_http_client_call. */
struct og_fetch_policy;
og_err og_http_client_fetch(const struct og_http_call *call, const struct og_fetch_policy *policy,
                            struct og_http_result *res);
/* The same, and for a 3xx answer the absolute URL its Location names in
 * location (loclen bytes; "" when none), which is not followed: the caller
 * decides (og_channel_media_download). */
og_err og_http_client_fetch_loc(const struct og_http_call *call,
                                const struct og_fetch_policy *policy, struct og_http_result *res,
                                char *location, size_t loclen);
void og_http_result_free(struct og_http_result *res);
/* Frees this thread's cached curl handle (threads call it before exiting). */
void og_http_client_thread_cleanup(void);
#endif
