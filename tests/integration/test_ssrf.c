/* test_ssrf - attachment URLs a client chose are never fetched from the
 * gateway's own network (#14.2; core/og_fetch.c, core/og_channel.c,
 * gateway/og_api_messages.c, connectors/vk).
 *
 * Against the daemon, a real redis-server and a fake VK API on loopback, with
 * a second fake standing for a service inside the host's network:
 *   - the API refuses at once (400 url_refused, naming the reason) a reply
 *     whose attachment points at a loopback, private, link-local (metadata),
 *     IPv4-mapped or decimal-encoded address, a loopback name, or a name
 *     that resolves only to such addresses; a channel's fetch_allow_hosts
 *     lets a named host through, and VK then downloads and uploads it;
 *   - the inner service is never contacted.
 * And in the core, where the API's check cannot be: the fetch checks the
 * address it connects to (a name resolving to loopback is refused at
 * connect time, through VK's and the e-mail connector's send() too),
 * follows no redirect, and caps size and time. */
#include "og_addr.h"
#include "og_channel.h"
#include "og_fetch.h"
#include "og_http_client.h"
#include "og_test.h"
#include "og_util.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VK_SECRET "my_secret"
#define GROUP "199493573"

static struct og_test_redis rs;
static struct og_fake *vkapi; /* the platform, also the allowed media host */
static struct og_fake *inner; /* a service inside the host's network */
static struct og_test_daemon d;
static char host_name[256]; /* this machine's name, when it resolves to refused addresses */

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int vk_api(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    static _Thread_local char buf[512];
    (void)ud;
    r->status = 200;
    r->content_type = "application/json";
    if (strncmp(q->url, "/files/", 7) == 0) {
        r->body = "JPEGDATA";
        r->content_type = "image/jpeg";
    } else if (strcmp(q->url, "/method/photos.getMessagesUploadServer") == 0) {
        snprintf(buf, sizeof buf, "{\"response\":{\"upload_url\":\"%s/upload/photo\"}}",
                 og_fake_base(vkapi));
        r->body = buf;
    } else if (strcmp(q->url, "/upload/photo") == 0) {
        r->body = "{\"server\":1,\"photo\":\"[{\\\"photo\\\":\\\"abc\\\"}]\",\"hash\":\"h\"}";
    } else if (strcmp(q->url, "/method/photos.saveMessagesPhoto") == 0) {
        r->body = "{\"response\":[{\"id\":457239100,\"owner_id\":-199493573}]}";
    } else if (strcmp(q->url, "/method/messages.send") == 0) {
        r->body = "{\"response\":777}";
    } else {
        return 0;
    }
    return 1;
}

/* How many requests f saw whose URL starts with prefix. */
static size_t seen(struct og_fake *f, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < og_fake_count(f); i++)
        n += strncmp(og_fake_get(f, i)->url, prefix, strlen(prefix)) == 0;
    return n;
}

/* The machine's own name, when it resolves and only to addresses the fetch
 * refuses (/etc/hosts maps it to 127.0.x.x on Debian, to a private address
 * in a container): a name no static check can judge. "" otherwise. */
static void find_local_name(void)
{
    char h[256];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    host_name[0] = 0;
    if (gethostname(h, sizeof h) != 0 || getaddrinfo(h, "80", &hints, &ai) != 0)
        return;
    int all_refused = 1;
    for (struct addrinfo *p = ai; p; p = p->ai_next) {
        struct og_ip ip;
        all_refused &= og_ip_from_sockaddr(p->ai_addr, &ip) == 0 && og_ip_refusal(&ip) != NULL;
    }
    freeaddrinfo(ai);
    if (all_refused)
        snprintf(host_name, sizeof host_name, "%s", h);
}

/* ------------------------------------------------------------------ API */

static char *session_of(const char *channel, const char *user)
{
    char *cmd = og_sprintf(OG_TEST_BUCKET("HGET") "{og}:th:%s: %s", channel, user);
    char *o = og_test_redis_cli(&rs, cmd);
    char *sid = og_strndup(o ? o : "", o ? strcspn(o, "\r\n") : 0);
    free(o), free(cmd);
    return sid;
}

/* POSTs a VK message_new for peer user to channel; its session id. [xfer] */
static char *vk_customer(const char *channel, const char *user)
{
    char *b = og_sprintf(
        "{\"type\":\"message_new\",\"event_id\":\"ev-%s-%s\",\"v\":\"5.199\",\"group_id\":" GROUP
        ",\"secret\":\"" VK_SECRET "\",\"object\":{\"message\":{\"date\":1634665118,"
        "\"from_id\":%s,\"id\":1450,\"peer_id\":%s,\"text\":\"hello\",\"attachments\":[]}}}",
        channel, user, user, user);
    char *url = og_sprintf("%s/hooks/%s", d.base, channel);
    struct og_test_resp r =
        og_test_http("POST", url, "Content-Type: application/json", b, strlen(b));
    CHECK_INT(r.status, 200);
    free(r.body), free(url), free(b);
    return session_of(channel, user);
}

/* A reply with one attachment; the status, the answer's body into *body. */
static long reply_with(const char *sid, const char *att_url, char **body)
{
    char *path = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid);
    char *b = og_sprintf("{\"text\":\"see\",\"attachments\":[{\"url\":\"%s\","
                         "\"mime_type\":\"image/jpeg\"}]}",
                         att_url);
    struct og_test_resp r = og_test_http("POST", path,
                                         "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                         "\nContent-Type: application/json",
                                         b, strlen(b));
    free(path), free(b);
    if (body)
        *body = r.body;
    else
        free(r.body);
    return r.status;
}

static void refused(const char *sid, const char *url, const char *why)
{
    char *body = NULL;
    long st = reply_with(sid, url, &body);
    CHECK_INT(st, 400);
    if (st != 400 || !strstr(body, why))
        fprintf(stderr, "  %s -> %ld %s\n", url, st, body);
    CHECK(strstr(body, why) != NULL);
    free(body);
}

/* The message's status, polled until it leaves "pending" (10 s). [xfer] */
static char *final_status(const char *sid)
{
    for (int i = 0; i < 200; i++) {
        char *path = og_sprintf("/api/v1/sessions/%s/messages", sid);
        long st = 0;
        json_object *j = og_test_api_get(&d, path, &st), *items, *m, *s;
        free(path);
        const char *v = NULL;
        if (json_object_object_get_ex(j, "items", &items)) {
            size_t n = json_object_array_length(items);
            m = n ? json_object_array_get_idx(items, n - 1) : NULL;
            if (m && json_object_object_get_ex(m, "status", &s))
                v = json_object_get_string(s);
        }
        char *out = v && strcmp(v, "pending") != 0 ? og_strdup(v) : NULL;
        json_object_put(j);
        if (out)
            return out;
        nap(50);
    }
    return og_strdup("pending");
}

static void test_api(void)
{
    char *sid = vk_customer("vk", "22757746");
    char u[256];
    int ip = og_fake_port(inner);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/admin", ip);
    refused(sid, u, "a loopback address");
    snprintf(u, sizeof u, "http://[::ffff:127.0.0.1]:%d/admin", ip);
    refused(sid, u, "a loopback address");
    snprintf(u, sizeof u, "http://2130706433:%d/admin", ip); /* 127.0.0.1 as one number */
    refused(sid, u, "a loopback address");
    snprintf(u, sizeof u, "http://[::1]:%d/", rs.port); /* the Redis port */
    refused(sid, u, "a loopback address");
    refused(sid, "http://169.254.169.254/latest/meta-data/", "link-local");
    refused(sid, "http://10.0.0.5/a.jpg", "a private address");
    refused(sid, "http://[fd00:ec2::254]/latest/", "unique local");
    refused(sid, "http://[ff02::1]/", "multicast");
    snprintf(u, sizeof u, "http://localhost:%d/admin", ip);
    refused(sid, u, "loopback name");
    refused(sid, "ftp://files.example.com/a.jpg", "http:// or https://");
    refused(sid, "gopher://127.0.0.1:6379/_INFO", "http:// or https://");
    if (host_name[0]) {
        snprintf(u, sizeof u, "http://%.200s:%d/admin", host_name, ip);
        refused(sid, u, "resolves to");
    }
    CHECK_INT(og_fake_count(inner), 0);
    free(sid);

    /* a channel's fetch_allow_hosts: VK downloads it and uploads it */
    sid = vk_customer("vkok", "22757747");
    snprintf(u, sizeof u, "%s/files/a.jpg", og_fake_base(vkapi));
    CHECK_INT(reply_with(sid, u, NULL), 202);
    char *st = final_status(sid);
    CHECK_STR(st, "sent");
    free(st);
    CHECK_INT(seen(vkapi, "/files/a.jpg"), 1);
    CHECK_INT(seen(vkapi, "/upload/photo"), 1);
    free(sid);
}

/* ----------------------------------------------------------------- core */

static int inner_handler(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    static _Thread_local char big[5000];
    (void)ud;
    r->status = 200;
    if (strcmp(q->url, "/redirect") == 0) {
        r->status = 302;
        r->body = "";
        r->headers = "Location: http://127.0.0.1:1/secret\n";
    } else if (strcmp(q->url, "/big") == 0) {
        memset(big, 'b', sizeof big - 1);
        r->body = big;
    } else if (strcmp(q->url, "/slow") == 0) {
        r->delay_ms = 2000;
        r->body = "late";
    } else {
        r->body = "inner secret";
    }
    return 1;
}

static og_err fetch(const char *url, const struct og_fetch_policy *p, long timeout_ms,
                    struct og_http_result *res)
{
    struct og_http_call call = {
        .struct_size = sizeof call, .method = "GET", .url = url, .timeout_ms = timeout_ms};
    return og_http_client_fetch(&call, p, res);
}

static void test_core(void)
{
    og_fake_reset(inner);
    char u[300];
    struct og_http_result res;
    struct og_fetch_policy none = {0};
    const char *const allow[] = {"127.0.0.1", NULL};
    struct og_fetch_policy allowed = {.allow_hosts = allow};

    snprintf(u, sizeof u, "%s/x", og_fake_base(inner));
    CHECK_INT(fetch(u, &none, 0, &res), OG_ERR_FORBIDDEN);
    CHECK(strstr(res.errbuf, "loopback") != NULL);
    og_http_result_free(&res);
    CHECK_INT(fetch(u, &allowed, 0, &res), OG_OK);
    CHECK_INT(res.status, 200);
    CHECK_STR(res.body, "inner secret");
    og_http_result_free(&res);

    if (host_name[0]) {
        /* a name passes the static check; the address it resolves to is
         * refused when curl is about to connect */
        char why[192];
        snprintf(u, sizeof u, "http://%.200s:%d/x", host_name, og_fake_port(inner));
        CHECK_INT(og_url_check(u, &none, why, sizeof why), OG_OK);
        size_t before = og_fake_count(inner);
        CHECK_INT(fetch(u, &none, 0, &res), OG_ERR_FORBIDDEN);
        CHECK(strstr(res.errbuf, "resolves to") != NULL);
        og_http_result_free(&res);
        CHECK_INT(og_fake_count(inner), before);
    } else {
        fprintf(stderr, "note: this machine's name does not resolve to a refused address; "
                        "the connect-time check by name is not exercised here\n");
    }

    /* no redirect is followed: the 302 is the answer */
    snprintf(u, sizeof u, "%s/redirect", og_fake_base(inner));
    CHECK_INT(fetch(u, &allowed, 0, &res), OG_OK);
    CHECK_INT(res.status, 302);
    og_http_result_free(&res);
    /* size and time caps */
    struct og_fetch_policy small = {.allow_hosts = allow, .max_bytes = 1000};
    snprintf(u, sizeof u, "%s/big", og_fake_base(inner));
    CHECK_INT(fetch(u, &small, 0, &res), OG_ERR_TOO_LARGE);
    og_http_result_free(&res);
    snprintf(u, sizeof u, "%s/slow", og_fake_base(inner));
    CHECK_INT(fetch(u, &allowed, 300, &res), OG_ERR_RETRYABLE);
    CHECK_INT(res.status, 0);
    og_http_result_free(&res);

    /* through a connector: VK's send() downloads the attachment with
     * svc->http, and the host knows that URL came from a client */
    char opts[512];
    snprintf(opts, sizeof opts,
             "{\"access_token\":\"vk1.a.T\",\"group_id\":" GROUP ",\"confirmation\":\"c\","
             "\"secret\":\"" VK_SECRET "\",\"api_base\":\"%s\",\"timeout_ms\":1000}",
             og_fake_base(vkapi));
    struct og_test_conn *c = og_test_conn_open("vk", opts);
    CHECK(c != NULL);
    if (!c)
        return;
    og_fake_reset(vkapi);
    if (host_name[0]) /* refused when connecting */
        snprintf(u, sizeof u, "http://%.200s:%d/files/b.jpg", host_name, og_fake_port(vkapi));
    else /* refused before */
        snprintf(u, sizeof u, "%s/files/b.jpg", og_fake_base(vkapi));
    struct og_attachment att = {.url = u, .mime_type = "image/jpeg"};
    struct og_outbound ob = {.struct_size = sizeof ob,
                             .message_id = "msg_ssrf1",
                             .thread_id = "22757746",
                             .contact_external_id = "22757746",
                             .kind = OG_KIND_IMAGE,
                             .attachments = &att,
                             .n_attachments = 1,
                             .last_inbound_age_ms = -1};
    struct og_send_result sr = {.struct_size = sizeof sr, .retry_after_ms = -1};
    CHECK_INT(og_channel_send(og_test_conn_channel(c), &ob, &sr), OG_ERR_PERMANENT);
    CHECK(strstr(sr.error_message, "refused") != NULL);
    CHECK_INT(seen(vkapi, "/files/"), 0);
    free(sr.provider_message_id);
    /* the same channel allowed to fetch from that host */
    const char *hosts[] = {"127.0.0.1"};
    og_channel_set_fetch_allow(og_test_conn_channel(c), hosts, 1);
    snprintf(u, sizeof u, "%s/files/b.jpg", og_fake_base(vkapi));
    memset(&sr, 0, sizeof sr);
    sr.struct_size = sizeof sr;
    sr.retry_after_ms = -1;
    CHECK_INT(og_channel_send(og_test_conn_channel(c), &ob, &sr), OG_OK);
    CHECK_INT(seen(vkapi, "/files/b.jpg"), 1);
    free(sr.provider_message_id);
    og_test_conn_close(c);

#ifdef OG_TEST_EMAIL
    /* the e-mail connector attaches what it downloads: the same rule */
    c = og_test_conn_open("email", "{\"imap_url\":\"imaps://127.0.0.1:9\",\"username\":\"u\","
                                   "\"password\":\"p\",\"smtp_url\":\"smtp://127.0.0.1:9\","
                                   "\"smtp_starttls\":\"never\",\"from\":\"s@example.com\"}");
    CHECK(c != NULL);
    if (!c)
        return;
    og_fake_reset(inner);
    snprintf(u, sizeof u, "%s/secret.pdf", og_fake_base(inner));
    struct og_attachment pdf = {.url = u, .mime_type = "application/pdf"};
    struct og_outbound mail = {.struct_size = sizeof mail,
                               .message_id = "msg_ssrf2",
                               .thread_id = "dana@example.org",
                               .contact_external_id = "dana@example.org",
                               .kind = OG_KIND_FILE,
                               .text = "the file",
                               .attachments = &pdf,
                               .n_attachments = 1,
                               .last_inbound_age_ms = -1};
    memset(&sr, 0, sizeof sr);
    sr.struct_size = sizeof sr;
    sr.retry_after_ms = -1;
    CHECK_INT(og_channel_send(og_test_conn_channel(c), &mail, &sr), OG_ERR_PERMANENT);
    CHECK(strstr(sr.error_message, "refused") != NULL);
    CHECK_INT(og_fake_count(inner), 0);
    free(sr.provider_message_id);
    og_test_conn_close(c);
#endif
}

int main(void)
{
    og_http_client_global_init();
    find_local_name();
    vkapi = og_fake_start();
    inner = og_fake_start();
    og_fake_set_handler(vkapi, vk_api, NULL);
    og_fake_set_handler(inner, inner_handler, NULL);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *chs = og_sprintf(
        "[{\"id\":\"vk\",\"connector\":\"vk\",\"options\":{\"access_token\":\"vk1.a.e2e\","
        "\"group_id\":" GROUP ",\"confirmation\":\"c\",\"secret\":\"" VK_SECRET
        "\",\"api_base\":\"%s\"}},"
        "{\"id\":\"vkok\",\"connector\":\"vk\",\"fetch_allow_hosts\":[\"127.0.0.1\"],"
        "\"options\":{\"access_token\":\"vk1.a.e2e\",\"group_id\":" GROUP
        ",\"confirmation\":\"c\",\"secret\":\"" VK_SECRET "\",\"api_base\":\"%s\"}}]",
        og_fake_base(vkapi), og_fake_base(vkapi));
    if (og_test_daemon_start(&d, rs.url, chs, NULL) == 0) {
        test_api();
        CHECK_INT(og_test_daemon_stop(&d), 0);
    } else {
        CHECK(0);
    }
    og_test_daemon_free(&d);
    free(chs);
    test_core();
    og_fake_stop(inner);
    og_fake_stop(vkapi);
    og_test_redis_stop(&rs);
    og_http_client_thread_cleanup();
    og_http_client_global_cleanup();
    return og_test_done();
}
