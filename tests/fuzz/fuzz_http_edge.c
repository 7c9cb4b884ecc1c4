/* fuzz_http_edge - what the HTTP edge reads from a request before anything
 * else: the framing headers (og_edge_framing: Host, Content-Length,
 * Transfer-Encoding) and the client behind trusted proxies
 * (og_forwarded_client over X-Forwarded-For and Forwarded values), plus the
 * CIDR parser the config hands them.
 *
 * Input: header lines "Name: value" separated by LF; the first byte's low
 * bit says HTTP/1.1 (1) or 1.0 (0), its next bit which forwarded header the
 * proxies set. Checked: a refusal is 400 or 501 with a message, and the
 * client named is the peer or an address the header gave. */
#include "og_addr.h"
#include "og_edge.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 65536)
        return 0;
    int http11 = data[0] & 1;
    enum og_fwd_header kind = (data[0] & 2) ? OG_FWD_FORWARDED : OG_FWD_X_FORWARDED_FOR;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    struct og_edge_hdr h[MAX_LINES];
    const char *fwd[MAX_LINES];
    size_t n = 0, nf = 0;
    for (char *line = text, *next; line && n < MAX_LINES; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = 0;
        h[n].name = line;
        h[n].value = colon + 1 + (colon[1] == ' ');
        if (strcasecmp(line, kind == OG_FWD_FORWARDED ? "Forwarded" : "X-Forwarded-For") == 0)
            fwd[nf++] = h[n].value;
        (void)og_cidr_text_valid(h[n].value);
        n++;
    }
    struct og_edge_verdict v;
    if (og_edge_framing(h, n, http11, &v) != 0 &&
        ((v.status != 400 && v.status != 501) || !v.code || !v.message[0] || !v.now))
        __builtin_trap();

    static const char *const trusted_text[] = {"10.0.0.0/8", "192.168.0.0/16", "fd00::/8"};
    char err[160];
    struct og_cidrs *trusted = og_cidrs_parse(trusted_text, 3, err, sizeof err);
    struct og_ip peer, client;
    og_ip_parse("10.0.0.1", 8, &peer);
    int from_header = og_forwarded_client(&peer, trusted, kind, fwd, nf, &client);
    char t[64];
    og_ip_format(&client, t, sizeof t);
    if (!t[0] || (!from_header && !og_ip_equal(&client, &peer)) || (from_header && !nf))
        __builtin_trap();
    og_cidrs_free(trusted);
    free(text);
    return 0;
}
