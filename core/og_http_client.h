/* og_http_client - outbound HTTP through libcurl for connectors (svc->http).
 * Each call uses a handle from a small per-thread cache so keep-alive
 * connections are reused; redirects are never followed. */
#ifndef OG_HTTP_CLIENT_H
#define OG_HTTP_CLIENT_H
#include <omnigate/connector.h>

/* curl_global_init; call once from main before threads start. */
void og_http_client_global_init(void);
void og_http_client_global_cleanup(void);
og_err og_http_client_call(const struct og_http_call *call, struct og_http_result *res);
void og_http_result_free(struct og_http_result *res);
/* Frees this thread's cached curl handle (threads call it before exiting). */
void og_http_client_thread_cleanup(void);
#endif
