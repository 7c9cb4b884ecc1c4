/* og_addr - see og_addr.h. */
#include "og_addr.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const unsigned char v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ---------------------------------------------------------------- addresses */

static void from_v4(const void *a4, struct og_ip *out)
{
    memcpy(out->b, v4_prefix, 12);
    memcpy(out->b + 12, a4, 4);
}

int og_ip_from_sockaddr(const struct sockaddr *sa, struct og_ip *out)
{
    if (sa && sa->sa_family == AF_INET) {
        from_v4(&((const struct sockaddr_in *)sa)->sin_addr, out);
        return 0;
    }
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(out->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

int og_ip_parse(const char *s, size_t n, struct og_ip *out)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    struct in_addr a4;
    struct in6_addr a6;
    /* inet_pton takes dotted quads only ("127.1" and "0x7f.1" are refused),
     * which is what an address in a header or a config must be. */
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        from_v4(&a4, out);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        memcpy(out->b, &a6, 16);
        return 0;
    }
    return -1;
}

int og_ip_is_v4(const struct og_ip *ip)
{
    return memcmp(ip->b, v4_prefix, 12) == 0;
}

int og_ip_equal(const struct og_ip *a, const struct og_ip *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

void og_ip_format(const struct og_ip *ip, char *out, size_t n)
{
    const char *r = og_ip_is_v4(ip) ? inet_ntop(AF_INET, ip->b + 12, out, (socklen_t)n)
                                    : inet_ntop(AF_INET6, ip->b, out, (socklen_t)n);
    if (!r && n)
        out[0] = 0;
}

socklen_t og_ip_to_sockaddr(const struct og_ip *ip, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (og_ip_is_v4(ip)) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, ip->b + 12, 4);
        return sizeof *s4;
    }
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    memcpy(&s6->sin6_addr, ip->b, 16);
    return sizeof *s6;
}

/* --------------------------------------------------------------- CIDR lists */

struct cidr {
    struct og_ip net;
    int bits; /* over the 128 bits of the 16-byte form */
};

struct og_cidrs {
    size_t n;
    struct cidr *v; /* owned */
};

/* "addr[/bits]" into one range. 0 on success. */
static int cidr_parse(const char *s, struct cidr *out)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (og_ip_parse(s, alen, &out->net) != 0)
        return -1;
    int v4 = memchr(s, ':', alen) == NULL; /* "::ffff:10.0.0.0/104" counts 128 bits */
    int max = v4 ? 32 : 128;
    long bits = max;
    if (slash) {
        char *end;
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        bits = strtol(slash + 1, &end, 10);
        if (*end || bits > max)
            return -1;
    }
    out->bits = v4 ? 96 + (int)bits : (int)bits;
    return 0;
}

int og_cidr_text_valid(const char *s)
{
    struct cidr c;
    return s && cidr_parse(s, &c) == 0;
}

struct og_cidrs *og_cidrs_parse(const char *const *list, size_t n, char *err, size_t errlen)
{
    struct og_cidrs *c = og_calloc(1, sizeof *c);
    c->v = og_calloc(n ? n : 1, sizeof *c->v);
    for (size_t i = 0; i < n; i++) {
        if (!list[i] || cidr_parse(list[i], &c->v[c->n]) != 0) {
            snprintf(err, errlen, "\"%.64s\" is not an address or a CIDR range (addr/bits)",
                     list[i] ? list[i] : "");
            og_cidrs_free(c);
            return NULL;
        }
        c->n++;
    }
    return c;
}

void og_cidrs_free(struct og_cidrs *c)
{
    if (!c)
        return;
    free(c->v);
    free(c);
}

size_t og_cidrs_count(const struct og_cidrs *c)
{
    return c ? c->n : 0;
}

static int prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int og_cidrs_match(const struct og_cidrs *c, const struct og_ip *ip)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (prefix_match(ip->b, c->v[i].net.b, c->v[i].bits))
            return 1;
    return 0;
}

/* ----------------------------------------------------- refused destinations */

struct range4 {
    unsigned char net[4];
    int bits;
    const char *why;
};

/* IANA's special-purpose IPv4 registry, every block that is not globally
 * reachable unicast (and the few global ones no fetch has reason to reach). */
static const struct range4 refused4[] = {
    {{0, 0, 0, 0}, 8, "an unspecified (\"this network\") address"},
    {{10, 0, 0, 0}, 8, "a private address"},
    {{100, 64, 0, 0}, 10, "a shared (carrier-grade NAT) address"},
    {{127, 0, 0, 0}, 8, "a loopback address"},
    {{169, 254, 0, 0}, 16, "a link-local address (where clouds serve instance metadata)"},
    {{172, 16, 0, 0}, 12, "a private address"},
    {{192, 0, 0, 0}, 24, "a reserved address"},
    {{192, 0, 2, 0}, 24, "a documentation address"},
    {{192, 88, 99, 0}, 24, "a reserved address"},
    {{192, 168, 0, 0}, 16, "a private address"},
    {{198, 18, 0, 0}, 15, "a reserved (benchmarking) address"},
    {{198, 51, 100, 0}, 24, "a documentation address"},
    {{203, 0, 113, 0}, 24, "a documentation address"},
    {{224, 0, 0, 0}, 4, "a multicast address"},
    {{240, 0, 0, 0}, 4, "a reserved address"},
};

static const char *refusal4(const unsigned char a[4])
{
    for (size_t i = 0; i < sizeof refused4 / sizeof *refused4; i++)
        if (prefix_match(a, refused4[i].net, refused4[i].bits))
            return refused4[i].why;
    return NULL;
}

struct range6 {
    unsigned char net[16];
    int bits;
    const char *why;
};

/* Inside global unicast (2000::/3), the blocks that are not globally
 * reachable. Everything outside 2000::/3 is refused anyway. */
static const struct range6 refused6[] = {
    {{0x20, 0x01}, 23, "a reserved address"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "a documentation address"},
    {{0x3f, 0xff}, 20, "a documentation address"},
};

static int is_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* The IPv4 address an IPv6 form carries, or NULL. */
static const unsigned char *embedded_v4(const unsigned char *b)
{
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(b, v4_prefix, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return b + 12; /* ::ffff:a.b.c.d, 64:ff9b::a.b.c.d */
    if (is_zero(b, 12) && !is_zero(b + 12, 3))
        return b + 12; /* ::a.b.c.d (deprecated IPv4-compatible); not :: or ::1 */
    if (b[0] == 0x20 && b[1] == 0x02)
        return b + 2; /* 6to4: 2002:aabb:ccdd::/48 */
    return NULL;
}

const char *og_ip_refusal(const struct og_ip *ip)
{
    const unsigned char *b = ip->b;
    const unsigned char *v4 = embedded_v4(b);
    if (v4)
        return refusal4(v4);
    if (is_zero(b, 16))
        return "an unspecified address";
    if (is_zero(b, 15) && b[15] == 1)
        return "a loopback address";
    if (b[0] == 0xff)
        return "a multicast address";
    if ((b[0] & 0xfe) == 0xfc)
        return "a private (unique local) address";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "a link-local address";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return "a private (site-local) address";
    if ((b[0] & 0xe0) != 0x20)
        return "a reserved address"; /* outside global unicast 2000::/3 */
    for (size_t i = 0; i < sizeof refused6 / sizeof *refused6; i++)
        if (prefix_match(b, refused6[i].net, refused6[i].bits))
            return refused6[i].why;
    return NULL;
}

/* ------------------------------------------------------ client behind proxies */

/* Hops kept from the right of the header: a longer chain than this through
 * trusted proxies is not a real deployment. */
#define MAX_HOPS 32

struct hops {
    struct og_ip ip[MAX_HOPS];
    int ok[MAX_HOPS];
    size_t n; /* entries seen, may exceed MAX_HOPS */
};

static void hop_add(struct hops *h, int ok, const struct og_ip *ip)
{
    size_t i = h->n % MAX_HOPS;
    h->ok[i] = ok;
    if (ok)
        h->ip[i] = *ip;
    h->n++;
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
    while (*n && ows(**s))
        (*s)++, (*n)--;
    while (*n && ows((*s)[*n - 1]))
        (*n)--;
}

/* One node: "a.b.c.d", "a.b.c.d:port", "v6", "[v6]" or "[v6]:port". */
static int node_parse(const char *s, size_t n, struct og_ip *ip)
{
    trim(&s, &n);
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        size_t rest = n - (size_t)(close + 1 - s);
        if (rest && (close[1] != ':' || rest < 2))
            return -1;
        for (size_t i = 2; i < rest; i++)
            if (close[i] < '0' || close[i] > '9')
                return -1;
        size_t in = (size_t)(close - s - 1); /* brackets hold an IPv6 text only */
        return memchr(s + 1, ':', in) && og_ip_parse(s + 1, in, ip) == 0 ? 0 : -1;
    }
    const char *colon = memchr(s, ':', n);
    if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s))) {
        for (const char *p = colon + 1; p < s + n; p++) /* a.b.c.d:port */
            if (*p < '0' || *p > '9')
                return -1;
        if (colon + 1 == s + n)
            return -1;
        n = (size_t)(colon - s);
        return og_ip_parse(s, n, ip) == 0 && og_ip_is_v4(ip) ? 0 : -1;
    }
    return og_ip_parse(s, n, ip);
}

/* Where the next separator sep is in s[0..n), outside a quoted string (a
 * backslash escapes one character inside one); n when there is none. */
static size_t next_sep(const char *s, size_t n, char sep, int quotes)
{
    int inq = 0;
    for (size_t i = 0; i < n; i++) {
        if (inq && s[i] == '\\') {
            i++;
        } else if (quotes && s[i] == '"') {
            inq = !inq;
        } else if (!inq && s[i] == sep) {
            return i;
        }
    }
    return n;
}

/* The value of for= in one Forwarded element, unquoted into out. */
static int forwarded_for(const char *s, size_t n, char *out, size_t outsz)
{
    while (n) {
        size_t k = next_sep(s, n, ';', 1);
        const char *p = s;
        size_t pn = k;
        trim(&p, &pn);
        if (pn > 4 && strncasecmp(p, "for=", 4) == 0) {
            p += 4, pn -= 4;
            size_t o = 0;
            if (pn >= 2 && p[0] == '"' && p[pn - 1] == '"') {
                for (size_t i = 1; i + 1 < pn; i++) {
                    if (p[i] == '\\' && i + 2 < pn)
                        i++;
                    if (o + 1 >= outsz)
                        return -1;
                    out[o++] = p[i];
                }
            } else {
                if (pn >= outsz || memchr(p, '"', pn))
                    return -1;
                memcpy(out, p, pn);
                o = pn;
            }
            out[o] = 0;
            return 0;
        }
        s += k + (k < n), n -= k + (k < n);
    }
    return -1;
}

static void collect(struct hops *h, enum og_fwd_header kind, const char *v)
{
    size_t n = strlen(v);
    while (n) {
        size_t k = next_sep(v, n, ',', kind == OG_FWD_FORWARDED);
        const char *e = v;
        size_t en = k;
        trim(&e, &en);
        struct og_ip ip;
        int ok;
        if (kind == OG_FWD_FORWARDED) {
            char node[64];
            ok = forwarded_for(e, en, node, sizeof node) == 0 &&
                 node_parse(node, strlen(node), &ip) == 0;
        } else {
            ok = node_parse(e, en, &ip) == 0;
        }
        if (en || k < n) /* "a,,b": an empty element is a broken hop */
            hop_add(h, ok, &ip);
        v += k + (k < n), n -= k + (k < n);
    }
}

int og_forwarded_client(const struct og_ip *peer, const struct og_cidrs *trusted,
                        enum og_fwd_header kind, const char *const *values, size_t n_values,
                        struct og_ip *client)
{
    *client = *peer;
    if (!og_cidrs_match(trusted, peer) || n_values == 0)
        return 0;
    struct hops *h = og_calloc(1, sizeof *h);
    for (size_t i = 0; i < n_values; i++)
        if (values[i])
            collect(h, kind, values[i]);
    int from_header = 0;
    size_t kept = h->n < MAX_HOPS ? h->n : MAX_HOPS;
    for (size_t k = 0; k < kept; k++) {
        size_t i = (h->n - 1 - k) % MAX_HOPS;
        if (!h->ok[i])
            break; /* unreadable: the last trusted address stands */
        *client = h->ip[i];
        from_header = 1;
        if (!og_cidrs_match(trusted, &h->ip[i]))
            break;
    }
    free(h);
    return from_header;
}
