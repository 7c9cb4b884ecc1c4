/* og_fetch - the rules for fetching a URL that someone else chose.
 *
 * An agent can put any URL in a reply's attachments, and a connector that
 * re-uploads attachments (VK, e-mail) downloads it from the gateway's host:
 * without rules that is a way into the host's own network (the Redis port,
 * another service, a cloud's metadata address) whose answers come back as
 * an attachment or a delivery status. So every fetch on a client's behalf
 * goes through og_http_client_fetch (og_http_client.h), which applies a
 * policy from here:
 *
 *   - the URL is parsed by libcurl (curl_url()), never by hand, and must be
 *     http:// or https:// with a host;
 *   - a literal address, and every address the name resolves to, is checked
 *     at connect time (CURLOPT_OPENSOCKETFUNCTION: the address checked is the
 *     one connected to, so a name that resolves differently the second time
 *     gains nothing), against og_ip_refusal(): loopback, private, shared,
 *     link-local (metadata), multicast, reserved and documentation ranges, in
 *     IPv4 and IPv6 and in the IPv6 forms that carry an IPv4 address;
 *   - the connection is fresh (no reuse of one made for another name), goes
 *     direct (no proxy from the environment, which would hide the address),
 *     follows no redirect (a 3xx is the answer), and its size and time are
 *     capped;
 *   - a channel may name hosts it allows anyway (fetch_allow_hosts: a
 *     business's own media server inside its network; the tests' loopback
 *     fakes).
 *
 * og_url_check is the same policy without the network, for the API to refuse
 * a URL at once (400, naming the reason); og_url_probe adds a bounded name
 * resolution, so a name that only resolves to refused addresses is refused
 * at once too. */
#ifndef OG_FETCH_H
#define OG_FETCH_H
#include <omnigate/connector.h>
#include <stddef.h>

struct og_fetch_policy {
    /* [borrowed] NULL-terminated host names or literal addresses fetched even
     * when their addresses are refused (compared without case, brackets or a
     * trailing dot); NULL = none. */
    const char *const *allow_hosts;
    /* 1: any address is fine, only the scheme and the URL's form are checked
     * (webhook subscriptions: admins point them into their own network). */
    int allow_private;
    size_t max_bytes; /* the answer's cap; 0 = OG_FETCH_MAX_BYTES */
};

#define OG_FETCH_MAX_BYTES (64u << 20)

/* 1 when url is an absolute http:// or https:// URL with a host, as
 * libcurl's URL parser (curl_url) reads it: no spaces or control
 * characters, a well-formed host and port, at most 2048 bytes. The one
 * check for URLs in the config, connector options and webhook
 * subscriptions (where omnigate may fetch from is og_url_check's). */
int og_url_valid(const char *url);
/* 1 when s is a web origin as browsers send it in Origin:
 * "http(s)://host[:port]", lower case, no path (not even "/"). */
int og_url_origin_valid(const char *s);

/* Checks url against p without any I/O. OG_OK; OG_ERR_INVALID when it is not
 * an http(s) URL with a host; OG_ERR_FORBIDDEN when its host is a literal
 * refused address or a loopback name ("localhost", "*.localhost"). why gets
 * a sentence naming the reason (never the URL's path or query, which may
 * carry a token). */
og_err og_url_check(const char *url, const struct og_fetch_policy *p, char *why, size_t whylen);

/* og_url_check, then (for a host name that is not allowed) resolves it within
 * timeout_ms without connecting anywhere: OG_ERR_FORBIDDEN when it resolves
 * and every address is refused. A name that does not resolve in time, or at
 * all, passes: the fetch decides, at connect time. */
og_err og_url_probe(const char *url, const struct og_fetch_policy *p, long timeout_ms, char *why,
                    size_t whylen);

/* What og_http_client_fetch arms a curl easy handle with: the connect-time
 * check. why holds the first refusal. */
struct og_fetch_guard {
    const struct og_fetch_policy *policy; /* [borrowed] */
    int host_allowed;                     /* the URL's host is in allow_hosts */
    int refused;                          /* addresses refused so far */
    int seen;                             /* addresses curl tried */
    int dry_run;                          /* refuse every address (og_url_probe) */
    char host[256];                       /* the URL's host, for messages */
    char why[192];
};
/* Fills g for url (after og_url_check passed) and sets the handle's options:
 * the open-socket check, a fresh connection, no proxy. */
void og_fetch_guard_arm(void *curl, struct og_fetch_guard *g, const struct og_fetch_policy *p,
                        const char *url);
#endif
