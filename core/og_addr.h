/* og_addr - IP addresses as omnigate reasons about them, with no I/O:
 *
 *   - one form for both families: 16 bytes, IPv4 as IPv4-mapped IPv6
 *     (::ffff:a.b.c.d), so one CIDR list and one compare serve both;
 *   - CIDR lists ("10.0.0.0/8", "2001:db8::/32", a bare address), parsed
 *     once at start-up (trusted proxies, platform ranges);
 *   - the classes of address an outbound fetch on a client's behalf must
 *     never reach (loopback, private, link-local, multicast, metadata...),
 *     looking through the IPv6 forms that carry an IPv4 address;
 *   - the client behind trusted reverse proxies, from X-Forwarded-For or
 *     Forwarded (RFC 7239), read right to left and believed only as far as
 *     the hops are trusted.
 *
 * The header parser takes outside input and has a fuzz target
 * (tests/fuzz/fuzz_http_edge.c). */
#ifndef OG_ADDR_H
#define OG_ADDR_H
#include <stddef.h>
#include <sys/socket.h>

struct og_ip {
    unsigned char b[16]; /* network order; IPv4 as ::ffff:a.b.c.d */
};

/* From a socket address (AF_INET or AF_INET6). 0, or -1 for another family. */
int og_ip_from_sockaddr(const struct sockaddr *sa, struct og_ip *out);
/* From text: a dotted IPv4 address or an IPv6 address (no brackets, no zone,
 * no port), n bytes of s. 0, or -1 when it is not one. */
int og_ip_parse(const char *s, size_t n, struct og_ip *out);
/* As text: IPv4-mapped addresses print as IPv4. out gets "" if n is too small
 * (46 always suffices). */
void og_ip_format(const struct og_ip *ip, char *out, size_t n);
/* As a socket address (port 0): AF_INET for a mapped IPv4, else AF_INET6. */
socklen_t og_ip_to_sockaddr(const struct og_ip *ip, struct sockaddr_storage *ss);
int og_ip_is_v4(const struct og_ip *ip);
int og_ip_equal(const struct og_ip *a, const struct og_ip *b);

/* --------------------------------------------------------------- CIDR lists */

struct og_cidrs; /* immutable once parsed: any number of threads may match */

/* Parses n entries ("addr" or "addr/bits", IPv4 or IPv6). NULL with a reason
 * naming the entry in err when one is not a CIDR. n == 0 gives an empty list.
 * [xfer, og_cidrs_free] */
struct og_cidrs *og_cidrs_parse(const char *const *list, size_t n, char *err, size_t errlen);
void og_cidrs_free(struct og_cidrs *c);
/* 1 when ip is inside one of the ranges; 0 for NULL or an empty list. */
int og_cidrs_match(const struct og_cidrs *c, const struct og_ip *ip);
size_t og_cidrs_count(const struct og_cidrs *c);
/* 1 when s is "addr" or "addr/bits" (config validation). */
int og_cidr_text_valid(const char *s);

/* ----------------------------------------------------- refused destinations */

/* Why an outbound fetch on a client's behalf must not connect to ip, as a
 * short phrase ("a loopback address", "a private address", "a link-local
 * address (cloud metadata)", ...) [static], or NULL when the address is a
 * public unicast one. IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96),
 * NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are judged by the IPv4
 * address they carry. */
const char *og_ip_refusal(const struct og_ip *ip);

/* ------------------------------------------------------ client behind proxies */

enum og_fwd_header {
    OG_FWD_X_FORWARDED_FOR = 0, /* X-Forwarded-For: client, proxy1, proxy2 */
    OG_FWD_FORWARDED            /* Forwarded: for=client, for="[v6]:port";proto=https */
};

/* The client's address for a request that came from peer. Unless peer is in
 * trusted, that is peer itself: the header is ignored (anyone can send one).
 * Otherwise the hops in values (every value of the header, in the order
 * received: several headers of one name read as one list) are walked from
 * the right; each trusted hop is skipped, and the first untrusted one is the
 * client. When every hop is trusted the leftmost one is; when a hop cannot
 * be read ("unknown", an obfuscated name, garbage) the walk stops and the
 * last trusted address stands, so a forged or broken entry never names
 * anyone. Returns 1 when the answer came from the header, 0 when it is peer. */
int og_forwarded_client(const struct og_ip *peer, const struct og_cidrs *trusted,
                        enum og_fwd_header kind, const char *const *values, size_t n_values,
                        struct og_ip *client);
#endif
