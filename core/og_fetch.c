/* og_fetch - see og_fetch.h. */
#include "og_fetch.h"
#include "og_addr.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define URL_MAX 8192

/* The URL's scheme and host, the host without brackets or a trailing dot and
 * in lower case. OG_OK, or OG_ERR_INVALID/FORBIDDEN with why. */
static og_err parse_url(const char *url, char *host, size_t hostsz, char *why, size_t whylen);

int og_url_valid(const char *url)
{
    char host[256], why[160];
    /* curl takes "http:/x" and "http:///x" as http://x/; a person who
     * wrote them meant something else */
    size_t k = url ? strcspn(url, ":") : 0;
    if (!url || strncmp(url + k, "://", 3) != 0 || url[k + 3] == '/')
        return 0;
    return parse_url(url, host, sizeof host, why, sizeof why) == OG_OK;
}

int og_url_origin_valid(const char *s)
{
    if (!s || !og_url_valid(s))
        return 0;
    CURLU *u = curl_url();
    char *path = NULL, *user = NULL, *query = NULL, *frag = NULL;
    int ok = curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") == 0 &&
             curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK &&
             curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK &&
             curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) != CURLUE_OK;
    curl_free(path), curl_free(user), curl_free(query), curl_free(frag);
    curl_url_cleanup(u);
    /* as sent: nothing after the authority, not even an empty "?" or "#"
     * (curl drops those), and nothing in upper case */
    const char *auth = strstr(s, "://") + 3;
    if (strpbrk(auth, "/?#@\\"))
        ok = 0;
    for (const char *p = s; ok && *p; p++)
        ok = !(*p >= 'A' && *p <= 'Z');
    return ok;
}

static og_err parse_url(const char *url, char *host, size_t hostsz, char *why, size_t whylen)
{
    if (!url || !*url || strlen(url) > URL_MAX) {
        snprintf(why, whylen, "is not a URL (empty or longer than %d bytes)", URL_MAX);
        return OG_ERR_INVALID;
    }
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *zone = NULL;
    og_err e = OG_ERR_INVALID;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        snprintf(why, whylen, "is not a URL (%s)", curl_url_strerror(rc));
        goto out;
    }
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (!scheme || (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        snprintf(why, whylen, "must be http:// or https:// (not %.16s://)", scheme ? scheme : "?");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h || !*h) {
        snprintf(why, whylen, "has no host");
        goto out;
    }
    size_t n = strlen(h);
    const char *p = h;
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
        p++, n -= 2;
    if (n && p[n - 1] == '.')
        n--;
    if (n == 0 || n >= hostsz) {
        snprintf(why, whylen, "has no usable host");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[n] = 0;
    if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK && zone) {
        snprintf(why, whylen, "names a network interface (a link-local address)");
        e = OG_ERR_FORBIDDEN;
        goto out;
    }
    e = OG_OK;
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(zone);
    curl_url_cleanup(u);
    return e;
}

/* 1 when host (normalized) is one of the policy's allowed hosts. */
static int host_allowed(const struct og_fetch_policy *p, const char *host)
{
    for (const char *const *a = p ? p->allow_hosts : NULL; a && *a; a++) {
        const char *s = *a;
        size_t n = strlen(s);
        if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
            s++, n -= 2;
        if (n && s[n - 1] == '.')
            n--;
        if (n == strlen(host) && strncasecmp(s, host, n) == 0)
            return 1;
    }
    return 0;
}

static int loopback_name(const char *host)
{
    size_t n = strlen(host);
    return strcmp(host, "localhost") == 0 ||
           (n > 10 && strcmp(host + n - 10, ".localhost") == 0); /* RFC 6761 */
}

og_err og_url_check(const char *url, const struct og_fetch_policy *p, char *why, size_t whylen)
{
    char host[256];
    why[0] = 0;
    og_err e = parse_url(url, host, sizeof host, why, whylen);
    if (e != OG_OK || (p && p->allow_private) || host_allowed(p, host))
        return e;
    struct og_ip ip;
    const char *r;
    if (og_ip_parse(host, strlen(host), &ip) == 0 && (r = og_ip_refusal(&ip)) != NULL) {
        snprintf(why, whylen, "host %.64s is %s", host, r);
        return OG_ERR_FORBIDDEN;
    }
    if (loopback_name(host)) {
        snprintf(why, whylen, "host %.64s is a loopback name", host);
        return OG_ERR_FORBIDDEN;
    }
    return OG_OK;
}

/* CURLOPT_OPENSOCKETFUNCTION: curl asks for a socket for each address it
 * tries, after resolving and before connecting. The address it passes is
 * the one the socket would connect to, so this is the check. */
static curl_socket_t open_checked(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct og_fetch_guard *g = ud;
    (void)purpose;
    struct og_ip ip;
    const char *why = NULL;
    char text[64] = "";
    g->seen++;
    if (og_ip_from_sockaddr(&a->addr, &ip) != 0)
        why = "not an IP address";
    else if (!g->host_allowed && !g->policy->allow_private)
        why = og_ip_refusal(&ip);
    if (!why && g->dry_run)
        return CURL_SOCKET_BAD; /* a probe connects to nothing */
    if (why) {
        g->refused++;
        if (!g->why[0]) {
            og_ip_format(&ip, text, sizeof text);
            snprintf(g->why, sizeof g->why, "host %.64s resolves to %s, %s", g->host, text, why);
        }
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

void og_fetch_guard_arm(void *curl, struct og_fetch_guard *g, const struct og_fetch_policy *p,
                        const char *url)
{
    static const struct og_fetch_policy none = {0};
    char why[192];
    memset(g, 0, sizeof *g);
    g->policy = p ? p : &none;
    if (parse_url(url, g->host, sizeof g->host, why, sizeof why) != OG_OK)
        g->host[0] = 0;
    g->host_allowed = g->host[0] && host_allowed(p, g->host);
    CURL *c = curl;
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_checked);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, g);
    /* A connection made earlier for another name (a platform's API) must not
     * be reused, and this one must not be kept. */
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    /* Direct: through a proxy the address checked would be the proxy's. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(
        c, CURLOPT_MAXFILESIZE_LARGE,
        (curl_off_t)(g->policy->max_bytes ? g->policy->max_bytes : OG_FETCH_MAX_BYTES));
}

og_err og_url_probe(const char *url, const struct og_fetch_policy *p, long timeout_ms, char *why,
                    size_t whylen)
{
    og_err e = og_url_check(url, p, why, whylen);
    if (e != OG_OK || (p && p->allow_private) || timeout_ms <= 0)
        return e;
    CURL *c = curl_easy_init();
    if (!c)
        return OG_OK; /* the fetch still checks */
    struct og_fetch_guard g;
    og_fetch_guard_arm(c, &g, p, url);
    struct og_ip ip;
    if (g.host_allowed || og_ip_parse(g.host, strlen(g.host), &ip) == 0) {
        curl_easy_cleanup(c); /* a literal address was judged above */
        return OG_OK;
    }
    g.dry_run = 1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (g.seen > 0 && g.refused == g.seen) {
        snprintf(why, whylen, "%s", g.why);
        return OG_ERR_FORBIDDEN;
    }
    return OG_OK;
}
