/* test_addr - core/og_addr.c and core/og_fetch.c's URL policy without the
 * network: address forms, CIDR lists, the refused address classes (IPv4,
 * IPv6 and the IPv6 forms that carry an IPv4 address), the client behind
 * trusted proxies (X-Forwarded-For and Forwarded, forged and broken hops),
 * and og_url_check on the URLs an attacker would try. */
#include "og_addr.h"
#include "og_fetch.h"
#include "og_test.h"
#include "og_util.h"

#include <string.h>

static struct og_ip ip_of(const char *s)
{
    struct og_ip ip;
    memset(&ip, 0xee, sizeof ip);
    CHECK_INT(og_ip_parse(s, strlen(s), &ip), 0);
    return ip;
}

static const char *refusal(const char *s)
{
    struct og_ip ip = ip_of(s);
    return og_ip_refusal(&ip);
}

static void test_forms(void)
{
    struct og_ip ip;
    char t[64];
    CHECK_INT(og_ip_parse("127.1", 5, &ip), -1); /* headers and configs: dotted quads only */
    CHECK_INT(og_ip_parse("", 0, &ip), -1);
    CHECK_INT(og_ip_parse("[::1]", 5, &ip), -1);
    ip = ip_of("10.1.2.3");
    CHECK(og_ip_is_v4(&ip));
    og_ip_format(&ip, t, sizeof t);
    CHECK_STR(t, "10.1.2.3");
    ip = ip_of("::ffff:10.1.2.3"); /* the mapped form is the same address */
    og_ip_format(&ip, t, sizeof t);
    CHECK_STR(t, "10.1.2.3");
    ip = ip_of("2001:DB8::1");
    og_ip_format(&ip, t, sizeof t);
    CHECK_STR(t, "2001:db8::1");
    struct sockaddr_storage ss;
    struct og_ip back;
    og_ip_to_sockaddr(&ip, &ss);
    CHECK_INT(og_ip_from_sockaddr((struct sockaddr *)&ss, &back), 0);
    CHECK(og_ip_equal(&ip, &back));
}

static void test_cidrs(void)
{
    const char *list[] = {"10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "::ffff:172.16.0.0/108"};
    char err[160];
    struct og_cidrs *c = og_cidrs_parse(list, 4, err, sizeof err);
    CHECK(c != NULL);
    CHECK_INT(og_cidrs_count(c), 4);
    struct og_ip a = ip_of("10.255.0.1"), b = ip_of("11.0.0.1"), v6 = ip_of("2001:db8:ffff::1"),
                 one = ip_of("192.0.2.7"), next = ip_of("192.0.2.8"), m = ip_of("172.16.3.4");
    CHECK(og_cidrs_match(c, &a));
    CHECK(!og_cidrs_match(c, &b));
    CHECK(og_cidrs_match(c, &v6));
    CHECK(og_cidrs_match(c, &one));
    CHECK(!og_cidrs_match(c, &next));
    CHECK(og_cidrs_match(c, &m));
    og_cidrs_free(c);
    const char *bad[] = {"10.0.0.0/33"};
    CHECK(og_cidrs_parse(bad, 1, err, sizeof err) == NULL);
    CHECK(strstr(err, "10.0.0.0/33") != NULL);
    CHECK(!og_cidr_text_valid("10.0.0.0/"));
    CHECK(!og_cidr_text_valid("10.0.0.0/-1"));
    CHECK(!og_cidr_text_valid("::/129"));
    CHECK(!og_cidr_text_valid("example.com"));
    CHECK(og_cidr_text_valid("0.0.0.0/0"));
    CHECK(og_cidr_text_valid("::/0"));
    CHECK(!og_cidrs_match(NULL, &a));
}

static void test_refusals(void)
{
    static const char *const refused[][2] = {
        {"127.0.0.1", "loopback"},
        {"127.255.255.254", "loopback"},
        {"0.0.0.0", "unspecified"},
        {"10.1.2.3", "private"},
        {"172.16.0.1", "private"},
        {"172.31.255.255", "private"},
        {"192.168.1.1", "private"},
        {"100.64.0.1", "shared"},
        {"100.100.100.200", "shared"},
        {"169.254.169.254", "link-local"},
        {"192.0.0.192", "reserved"},
        {"192.0.2.1", "documentation"},
        {"198.18.0.1", "benchmarking"},
        {"224.0.0.1", "multicast"},
        {"239.255.255.250", "multicast"},
        {"255.255.255.255", "reserved"},
        {"::1", "loopback"},
        {"::", "unspecified"},
        {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:7f00:1", "loopback"},
        {"::ffff:169.254.169.254", "link-local"},
        {"::127.0.0.1", "loopback"},
        {"64:ff9b::10.0.0.1", "private"},
        {"2002:7f00:1::", "loopback"},
        {"2002:a9fe:a9fe::1", "link-local"},
        {"fd00:ec2::254", "unique local"},
        {"fc00::1", "unique local"},
        {"fe80::1", "link-local"},
        {"fec0::1", "site-local"},
        {"ff02::1", "multicast"},
        {"2001:db8::1", "documentation"},
        {"2001::1", "reserved"},
        {"100::1", "reserved"},
        {"::2", "reserved"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        const char *r = refusal(refused[i][0]);
        CHECK(r && strstr(r, refused[i][1]));
        if (!r || !strstr(r, refused[i][1]))
            fprintf(stderr, "  %s -> %s\n", refused[i][0], r ? r : "(allowed)");
    }
    static const char *const allowed[] = {"8.8.8.8",        "1.1.1.1",         "172.32.0.1",
                                          "100.128.0.1",    "2001:4860::8888", "2a00:1450::1",
                                          "::ffff:8.8.8.8", "2002:808:808::1"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        const char *r = refusal(allowed[i]);
        CHECK(r == NULL);
        if (r)
            fprintf(stderr, "  %s refused: %s\n", allowed[i], r);
    }
}

/* The client og_forwarded_client names, as text. */
static const char *client(const char *peer, const char *trusted, enum og_fwd_header kind,
                          const char *v1, const char *v2)
{
    static char t[64];
    const char *list[1] = {trusted};
    char err[160];
    struct og_cidrs *c = og_cidrs_parse(list, trusted ? 1 : 0, err, sizeof err);
    struct og_ip p = ip_of(peer), out;
    const char *vals[2] = {v1, v2};
    og_forwarded_client(&p, c, kind, vals, v2 ? 2 : v1 ? 1 : 0, &out);
    og_ip_format(&out, t, sizeof t);
    og_cidrs_free(c);
    return t;
}

static void test_forwarded(void)
{
    const enum og_fwd_header X = OG_FWD_X_FORWARDED_FOR, F = OG_FWD_FORWARDED;
    /* an untrusted peer's header is nobody's word */
    CHECK_STR(client("203.0.113.5", "10.0.0.0/8", X, "1.2.3.4", NULL), "203.0.113.5");
    CHECK_STR(client("10.0.0.1", NULL, X, "1.2.3.4", NULL), "10.0.0.1");
    /* a trusted one: the rightmost untrusted hop */
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "1.2.3.4", NULL), "1.2.3.4");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "6.6.6.6, 1.2.3.4, 10.0.0.9", NULL), "1.2.3.4");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "6.6.6.6", "1.2.3.4"), "1.2.3.4");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "10.0.0.7, 10.0.0.8", NULL), "10.0.0.7");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, " 1.2.3.4:5678 ", NULL), "1.2.3.4");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "[2001:db8::7]:443", NULL), "2001:db8::7");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "2001:db8::7", NULL), "2001:db8::7");
    /* garbage stops the walk at the last trusted hop */
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "1.2.3.4, bogus", NULL), "10.0.0.1");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "1.2.3.4, 10.0.0.5, unknown", NULL), "10.0.0.1");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "bogus, 10.0.0.5", NULL), "10.0.0.5");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "1.2.3.4,,", NULL), "10.0.0.1");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "", NULL), "10.0.0.1");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "1.2.3.4:", NULL), "10.0.0.1");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", X, "1.2.3.4:x", NULL), "10.0.0.1");
    /* Forwarded (RFC 7239) */
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F, "for=192.0.2.43", NULL), "192.0.2.43");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F,
                     "for=192.0.2.43;proto=https, For=\"[2001:db8:cafe::17]:4711\"", NULL),
              "2001:db8:cafe::17");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F, "proto=http;for=\"1.2.3.4\";by=10.0.0.1", NULL),
              "1.2.3.4");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F, "for=\"_hidden\", for=1.2.3.4", NULL), "1.2.3.4");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F, "for=1.2.3.4, for=unknown", NULL), "10.0.0.1");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F, "by=10.0.0.1", NULL), "10.0.0.1");
    /* a comma inside a quoted value does not split the element */
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F, "for=1.2.3.4;x=\"a,b\"", NULL), "1.2.3.4");
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F, "for=\"1.2.3.4\\\"\"", NULL), "10.0.0.1");
    /* IPv6 in Forwarded without brackets is not the RFC's form, but is an address */
    CHECK_STR(client("10.0.0.1", "10.0.0.0/8", F, "for=\"[::ffff:1.2.3.4]\"", NULL), "1.2.3.4");
    /* a long chain of trusted hops: the walk stays bounded */
    struct og_buf b = {0};
    for (int i = 0; i < 200; i++)
        og_buf_printf(&b, "%s10.0.%d.%d", i ? "," : "", i / 250, i % 250);
    CHECK(strncmp(client("10.0.0.1", "10.0.0.0/8", X, b.data, NULL), "10.0.", 5) == 0);
    og_buf_free(&b);
}

static og_err check(const char *url, const char *const *allow, char *why)
{
    struct og_fetch_policy p = {.allow_hosts = allow};
    return og_url_check(url, &p, why, 192);
}

static void test_url_policy(void)
{
    char why[192];
    static const char *const bad[][2] = {
        {"http://127.0.0.1:6379/", "loopback"},
        {"http://2130706433/", "loopback"}, /* libcurl normalizes numeric hosts */
        {"http://0x7f.1/", "loopback"},
        {"http://017700000001/", "loopback"},
        {"http://127.1/", "loopback"},
        {"http://%31%32%37.0.0.1/", "loopback"},
        {"http://[::1]/", "loopback"},
        {"http://[::ffff:127.0.0.1]:80/", "loopback"},
        {"http://[0:0:0:0:0:ffff:7f00:1]/", "loopback"},
        {"http://0/", "unspecified"},
        {"http://169.254.169.254/latest/meta-data/", "link-local"},
        {"http://[fe80::1%25eth0]/", "network interface"},
        {"http://LOCALHOST./", "loopback name"},
        {"http://api.localhost/", "loopback name"},
        {"https://user:pw@10.0.0.1/x", "private"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        og_err e = check(bad[i][0], NULL, why);
        CHECK_INT(e, OG_ERR_FORBIDDEN);
        CHECK(strstr(why, bad[i][1]) != NULL);
        if (e != OG_ERR_FORBIDDEN || !strstr(why, bad[i][1]))
            fprintf(stderr, "  %s -> %d %s\n", bad[i][0], e, why);
    }
    static const char *const invalid[] = {"ftp://example.com/a",
                                          "file:///etc/passwd",
                                          "gopher://127.0.0.1:6379/_x",
                                          "javascript:alert(1)",
                                          "//example.com/a",
                                          "http://a b/",
                                          "",
                                          "http://"};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
        CHECK_INT(check(invalid[i], NULL, why), OG_ERR_INVALID);
    CHECK_INT(check("https://cdn.example.com/a.png?x=1", NULL, why), OG_OK);
    CHECK_INT(check("HTTP://8.8.8.8/a", NULL, why), OG_OK);
    /* allowed hosts: compared without case, brackets or a trailing dot */
    const char *const allow[] = {"Media.Internal", "[::1]", "127.0.0.1", NULL};
    CHECK_INT(check("http://media.internal./x", allow, why), OG_OK);
    CHECK_INT(check("http://[::1]:8080/x", allow, why), OG_OK);
    CHECK_INT(check("http://127.0.0.1:8080/x", allow, why), OG_OK);
    CHECK_INT(check("http://127.0.0.2:8080/x", allow, why), OG_ERR_FORBIDDEN);
    /* the reason never carries the path or query (tokens live there) */
    CHECK_INT(check("http://10.0.0.1/secret-token-123", NULL, why), OG_ERR_FORBIDDEN);
    CHECK(strstr(why, "secret-token") == NULL);
    /* webhook subscriptions: any address, still only http(s) */
    struct og_fetch_policy any = {.allow_private = 1};
    CHECK_INT(og_url_check("http://10.0.0.1/hook", &any, why, sizeof why), OG_OK);
    CHECK_INT(og_url_check("ftp://10.0.0.1/hook", &any, why, sizeof why), OG_ERR_INVALID);
}

int main(void)
{
    test_forms();
    test_cidrs();
    test_refusals();
    test_forwarded();
    test_url_policy();
    return og_test_done();
}
