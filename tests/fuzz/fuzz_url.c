/* fuzz_url - the policy for URLs a client chose (core/og_fetch.c
 * og_url_check, over libcurl's URL parser) and the address classes behind
 * it (core/og_addr.c). The first byte picks the policy (none, an allowed
 * host, any address); the rest is the URL.
 *
 * Checked: every answer is OK, INVALID or FORBIDDEN with a reason; a URL
 * whose host is a literal refused address is never OK under the plain
 * policy; the reason never repeats the URL's query (it may carry a token).
 * og_url_valid and og_url_origin_valid (the config's and the API's URL
 * checks, #15.10) on the same text: an origin is always a valid URL, and a
 * valid URL starts with http:// or https:// and has no space. */
#include "og_addr.h"
#include "og_fetch.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 9000)
        return 0;
    static const char *const allow[] = {"media.example", "127.0.0.1", NULL};
    struct og_fetch_policy p = {0};
    if (data[0] % 3 == 1)
        p.allow_hosts = allow;
    else if (data[0] % 3 == 2)
        p.allow_private = 1;
    char *url = malloc(size);
    memcpy(url, data + 1, size - 1);
    url[size - 1] = 0;
    char why[192] = "";
    og_err e = og_url_check(url, &p, why, sizeof why);
    if (e != OG_OK && e != OG_ERR_INVALID && e != OG_ERR_FORBIDDEN)
        __builtin_trap();
    if (e != OG_OK && !why[0])
        __builtin_trap();
    /* Under the plain policy, a literal refused host must be refused. */
    if (e == OG_OK && data[0] % 3 == 0) {
        CURLU *u = curl_url();
        char *host = NULL;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
            size_t n = strlen(host);
            const char *s = host;
            if (n >= 2 && s[0] == '[')
                s++, n -= 2;
            struct og_ip ip;
            if (og_ip_parse(s, n, &ip) == 0 && og_ip_refusal(&ip))
                __builtin_trap();
        }
        curl_free(host);
        curl_url_cleanup(u);
    }
    int valid = og_url_valid(url), origin = og_url_origin_valid(url);
    if (origin && !valid)
        __builtin_trap();
    if (valid && ((strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) ||
                  strchr(url, ' ')))
        __builtin_trap();
    if (origin && (strchr(url, '?') || strchr(url, '#') || strchr(url, '@')))
        __builtin_trap();
    const char *q = strchr(url, '?');
    if (q && strlen(q) > 12 && strstr(why, q))
        __builtin_trap();
    free(url);
    return 0;
}
