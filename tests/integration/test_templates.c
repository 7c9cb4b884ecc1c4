/* test_templates - WhatsApp message templates and Messenger's HUMAN_AGENT
 * tag through the daemon, a real redis-server and a fake Graph API:
 *   - GET /api/v1/channels/{id}/templates lists every page of the WABA's
 *     approved templates (paging.cursors.after while paging.next is set),
 *     is served from the cache the second time, fetched again with
 *     refresh=true; 501 on a channel without templates;
 *   - once the customer's window is closed a free-form reply is 409
 *     window_closed naming the template route, nothing stored; a template
 *     reply is sent as the exact Graph body, and the history shows the
 *     template's text with the parameters; an unknown template or a missing
 *     parameter is 400;
 *   - a new conversation starts with a template (POST /api/v1/sessions) and
 *     not with free text;
 *   - on Messenger, outside 24 h a reply with "tag":"HUMAN_AGENT" goes as
 *     MESSAGE_TAG up to 7 days after the customer's last message, and is
 *     409 window_closed after; other tags and tags on WhatsApp are 400. */
#include "../connectors/meta_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WA_SECRET "wa-tpl-secret"
#define FB_SECRET "fb-tpl-secret"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

static struct og_test_redis rs;
static struct og_test_daemon d;
static struct og_fake *graph;

/* The Graph API: two pages of templates, and message sends. */
static int graph_handler(void *ud, const struct og_fake_req *req, struct og_fake_resp *resp)
{
    (void)ud;
    if (strstr(req->url, "/v25.0/WABA2/message_templates")) { /* a token without the right */
        resp->status = 403;
        resp->body = "{\"error\":{\"message\":\"(#200) Permissions error\",\"type\":"
                     "\"OAuthException\",\"code\":200,\"fbtrace_id\":\"AbC\"}}";
        return 1;
    }
    if (strcmp(req->method, "GET") == 0 && strstr(req->url, "/v25.0/WABA1/message_templates")) {
        resp->status = 200;
        if (!strstr(req->url, "after=QVFIU"))
            resp->body =
                "{\"data\":[{\"name\":\"order_update\",\"parameter_format\":\"POSITIONAL\","
                "\"components\":[{\"type\":\"HEADER\",\"format\":\"TEXT\",\"text\":\"Your order\"},"
                "{\"type\":\"BODY\",\"text\":\"Hello {{1}}, your order {{2}} has shipped.\","
                "\"example\":{\"body_text\":[[\"Ann\",\"42\"]]}},"
                "{\"type\":\"FOOTER\",\"text\":\"Reply STOP to opt out\"}],"
                "\"language\":\"en_US\",\"status\":\"APPROVED\",\"category\":\"UTILITY\","
                "\"id\":\"1000000000000001\"},"
                "{\"name\":\"hello_world\",\"parameter_format\":\"POSITIONAL\",\"components\":["
                "{\"type\":\"BODY\",\"text\":\"Hello World\"}],\"language\":\"en_US\","
                "\"status\":\"APPROVED\",\"category\":\"MARKETING\",\"id\":\"1000000000000002\"}],"
                "\"paging\":{\"cursors\":{\"before\":\"QVFIUb4\",\"after\":\"QVFIUaf1\"},"
                "\"next\":\"https://graph.facebook.com/v25.0/WABA1/"
                "message_templates?after=QVFIUaf1\"}}";
        else
            resp->body =
                "{\"data\":[{\"name\":\"reservation\",\"parameter_format\":\"NAMED\","
                "\"components\":[{\"type\":\"BODY\",\"text\":\"See you on {{day}}, {{name}}!\"}],"
                "\"language\":\"es\",\"status\":\"APPROVED\",\"category\":\"UTILITY\","
                "\"id\":\"1000000000000003\"},"
                "{\"name\":\"promo\",\"components\":[{\"type\":\"BODY\",\"text\":\"x\"}],"
                "\"language\":\"en_US\",\"status\":\"REJECTED\",\"category\":\"MARKETING\","
                "\"id\":\"1000000000000004\"}],"
                "\"paging\":{\"cursors\":{\"before\":\"QVFIUb5\",\"after\":\"QVFIUaf2\"}}}";
        return 1;
    }
    if (strcmp(req->method, "POST") == 0 && strstr(req->url, "/v25.0/106540352242922/messages")) {
        resp->status = 200;
        resp->body = "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"16505551234\","
                     "\"wa_id\":\"16505551234\"}],\"messages\":[{\"id\":\"wamid.TPL\","
                     "\"message_status\":\"accepted\"}]}";
        return 1;
    }
    if (strcmp(req->method, "POST") == 0 && strstr(req->url, "/v25.0/110000000000001/messages")) {
        resp->status = 200;
        resp->body = "{\"recipient_id\":\"7001000000000001\",\"message_id\":\"m_TAG\"}";
        return 1;
    }
    return 0;
}

static char *cli(const char *fmt, const char *a, const char *b)
{
    char *args = og_sprintf(fmt, a, b ? b : "");
    char *out = og_test_redis_cli(&rs, args);
    free(args);
    if (out)
        out[strcspn(out, "\n")] = 0;
    return out;
}

static long post_hook(const char *channel, const char *secret, const char *dir, const char *name)
{
    size_t len;
    char *body = meta_fixture(dir, name, &len);
    char sig[80];
    meta_sign(secret, body, len, sig);
    char *h = og_sprintf("X-Hub-Signature-256: %s\nContent-Type: application/json", sig);
    char *url = og_sprintf("%s/hooks/%s", d.base, channel);
    struct og_test_resp r = og_test_http("POST", url, h, body, len);
    free(h), free(url), free(body), free(r.body);
    return r.status;
}

/* POST path with body; the answer [xfer] in *out (may be NULL). */
static long api_post(const char *path, const char *body, char **out)
{
    char *url = og_sprintf("%s%s", d.base, path);
    struct og_test_resp r = og_test_http("POST", url, AUTH, body, strlen(body));
    free(url);
    if (out)
        *out = r.body;
    else
        free(r.body);
    return r.status;
}

static long reply(const char *sid, const char *body, char **out)
{
    char *path = og_sprintf("/api/v1/sessions/%s/messages", sid);
    long st = api_post(path, body, out);
    free(path);
    return st;
}

/* The only session of a channel: its id into sid. */
static void session_of(const char *channel, char *sid)
{
    char *path = og_sprintf("/api/v1/sessions?channel=%s", channel);
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    CHECK_INT(st, 200);
    const char *id = meta_jstr(l, "items.0.id");
    snprintf(sid, 48, "%s", id ? id : "");
    json_object_put(l);
}

static int n_messages(const char *sid)
{
    char *path = og_sprintf("/api/v1/sessions/%s/messages?limit=200", sid);
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    int n = (int)json_object_array_length(json_object_object_get(l, "items"));
    json_object_put(l);
    return n;
}

/* Waits (5 s) for the fake's request count to reach n. */
static int wait_count(size_t n)
{
    for (int i = 0; i < 250 && og_fake_count(graph) < n; i++)
        usleep(20000);
    return og_fake_count(graph) >= n;
}

/* The body of the fake's i-th request equals want (as JSON). */
static void check_body(size_t i, const char *want)
{
    const struct og_fake_req *rq = og_fake_count(graph) > i ? og_fake_get(graph, i) : NULL;
    json_object *got = rq ? json_tokener_parse(rq->body) : NULL, *w = json_tokener_parse(want);
    int eq = got && w && json_object_equal(got, w);
    if (!eq)
        fprintf(stderr, "request %zu: %s\n  want %s\n", i, rq ? rq->body : "(none)", want);
    CHECK(eq);
    json_object_put(got), json_object_put(w);
}

static void set_age(const char *sid, long long hours)
{
    char *ms = og_sprintf("%lld", (long long)og_now_ms() - hours * 3600 * 1000);
    free(cli("HSET {og}:ses:%s last_customer_ms %s", sid, ms));
    free(ms);
}

static void test_listing(void)
{
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/channels/wa/templates", &st);
    CHECK_INT(st, 200);
    json_object *items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 3); /* two pages, the rejected one left out */
    CHECK_STR(meta_jstr(l, "items.0.name"), "order_update");
    CHECK_STR(meta_jstr(l, "items.0.language"), "en_US");
    CHECK_STR(meta_jstr(l, "items.0.category"), "UTILITY");
    CHECK_STR(meta_jstr(l, "items.0.status"), "APPROVED");
    CHECK_STR(meta_jstr(l, "items.0.components.1.text"),
              "Hello {{1}}, your order {{2}} has shipped.");
    CHECK_STR(meta_jstr(l, "items.2.name"), "reservation");
    CHECK_STR(meta_jstr(l, "items.2.parameter_format"), "NAMED");
    CHECK(meta_jstr(l, "fetched_at") != NULL);
    json_object_put(l);
    CHECK_INT(og_fake_count(graph), 2);
    const struct og_fake_req *r0 = og_fake_get(graph, 0), *r1 = og_fake_get(graph, 1);
    CHECK(strncmp(r0->url, "/v25.0/WABA1/message_templates?", 31) == 0);
    CHECK(strstr(r0->url, "status=APPROVED") && !strstr(r0->url, "after="));
    CHECK(strstr(r1->url, "after=QVFIUaf1") != NULL);
    char hb[64];
    CHECK_STR(og_fake_header(r0, "authorization", hb, sizeof hb), "Bearer wa-tok");
    /* cached: no platform call */
    l = og_test_api_get(&d, "/api/v1/channels/wa/templates", &st);
    CHECK_INT(st, 200);
    json_object_put(l);
    CHECK_INT(og_fake_count(graph), 2);
    l = og_test_api_get(&d, "/api/v1/channels/wa/templates?refresh=true", &st);
    CHECK_INT(st, 200);
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 3);
    json_object_put(l);
    CHECK_INT(og_fake_count(graph), 4);
    l = og_test_api_get(&d, "/api/v1/channels/fb/templates", &st);
    CHECK_INT(st, 501);
    CHECK_STR(meta_jstr(l, "error.code"), "unsupported");
    json_object_put(l);
    l = og_test_api_get(&d, "/api/v1/channels/nosuch/templates", &st);
    CHECK_INT(st, 404);
    json_object_put(l);
    l = og_test_api_get(&d, "/api/v1/channels/wa/templates?refresh=yes", &st);
    CHECK_INT(st, 400);
    json_object_put(l);
    /* the platform refuses the listing: 502 with its words */
    l = og_test_api_get(&d, "/api/v1/channels/wa2/templates", &st);
    CHECK_INT(st, 502);
    CHECK_STR(meta_jstr(l, "error.code"), "platform_error");
    CHECK(meta_jstr(l, "error.message") &&
          strstr(meta_jstr(l, "error.message"), "(#200) Permissions error (code 200)"));
    json_object_put(l);
}

static void test_send(void)
{
    CHECK_INT(post_hook("wa", WA_SECRET, "whatsapp", "text.json"), 200);
    char sid[48];
    session_of("wa", sid);
    int before = n_messages(sid);
    set_age(sid, 25); /* the window closed an hour ago */
    char *out = NULL;
    size_t calls = og_fake_count(graph);
    CHECK_INT(reply(sid, "{\"text\":\"are you there?\"}", &out), 409);
    CHECK(strstr(out, "\"window_closed\"") != NULL);
    CHECK(strstr(out, "GET /api/v1/channels/wa/templates") != NULL);
    free(out);
    CHECK_INT(n_messages(sid), before); /* nothing stored */

    /* a template that is none of the channel's, a missing parameter */
    CHECK_INT(reply(sid, "{\"template\":{\"name\":\"nope\",\"language\":\"en_US\"}}", &out), 400);
    CHECK(strstr(out, "not an approved template") != NULL);
    free(out);
    CHECK_INT(
        reply(sid,
              "{\"template\":{\"name\":\"order_update\",\"language\":\"en_US\",\"components\":"
              "[{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ann\"}]}]}}",
              &out),
        400);
    CHECK(strstr(out, "{{2}}") != NULL);
    free(out);
    CHECK_INT(
        reply(sid,
              "{\"template\":{\"name\":\"hello_world\",\"language\":\"en_US\"},\"text\":\"x\"}",
              &out),
        400);
    free(out);
    CHECK_INT(n_messages(sid), before);
    CHECK_INT(og_fake_count(graph), calls);

    const char *tpl =
        "{\"template\":{\"name\":\"order_update\",\"language\":{\"code\":\"en_US\"},"
        "\"components\":[{\"type\":\"body\",\"parameters\":["
        "{\"type\":\"text\",\"text\":\"Ann\"},{\"type\":\"text\",\"text\":\"42\"}]}]}}";
    CHECK_INT(reply(sid, tpl, &out), 202);
    json_object *m = json_tokener_parse(out);
    free(out);
    CHECK_STR(meta_jstr(m, "text"), "Your order\nHello Ann, your order 42 has shipped.\n"
                                    "Reply STOP to opt out");
    CHECK_STR(meta_jstr(m, "template.name"), "order_update");
    char mid[48];
    snprintf(mid, sizeof mid, "%s", meta_jstr(m, "id") ? meta_jstr(m, "id") : "");
    json_object_put(m);
    CHECK(wait_count(calls + 1));
    check_body(calls,
               "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
               "\"to\":\"16505551234\",\"type\":\"template\",\"template\":{\"name\":"
               "\"order_update\",\"language\":{\"code\":\"en_US\"},\"components\":[{\"type\":"
               "\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ann\"},{\"type\":"
               "\"text\",\"text\":\"42\"}]}]}}");
    /* the history: the rendered text, sent */
    int sent = 0;
    for (int i = 0; i < 100 && !sent; i++) {
        char *stv = cli("HGET {og}:msg:%s st%s", mid, NULL);
        sent = stv && strcmp(stv, "sent") == 0;
        free(stv);
        if (!sent)
            usleep(20000);
    }
    CHECK(sent);
    char *path = og_sprintf("/api/v1/sessions/%s/messages?limit=200", sid);
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    json_object *items = json_object_object_get(l, "items");
    json_object *last = json_object_array_get_idx(items, json_object_array_length(items) - 1);
    CHECK_STR(meta_jstr(last, "id"), mid);
    CHECK_STR(meta_jstr(last, "text"),
              "Your order\nHello Ann, your order 42 has shipped.\nReply STOP to opt out");
    CHECK_STR(meta_jstr(last, "provider_message_id"), "wamid.TPL");
    json_object_put(l);

    /* named parameters */
    calls = og_fake_count(graph);
    CHECK_INT(reply(sid,
                    "{\"template\":{\"name\":\"reservation\",\"language\":\"es\",\"components\":["
                    "{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"parameter_name\":"
                    "\"name\",\"text\":\"Ana\"},{\"type\":\"text\",\"parameter_name\":\"day\","
                    "\"text\":\"lunes\"}]}]}}",
                    &out),
              202);
    m = json_tokener_parse(out);
    CHECK_STR(meta_jstr(m, "text"), "See you on lunes, Ana!");
    json_object_put(m);
    free(out);
    CHECK(wait_count(calls + 1));

    /* a new conversation: free text refused, a template starts it */
    free(cli("HSET {og}:ses:%s status closed%s", sid, NULL));
    CHECK_INT(api_post("/api/v1/sessions",
                       "{\"channel\":\"wa\",\"external_id\":\"16505551234\",\"text\":\"news\"}",
                       &out),
              409);
    CHECK(strstr(out, "window_closed") && strstr(out, "/api/v1/channels/wa/templates"));
    free(out);
    calls = og_fake_count(graph);
    CHECK_INT(api_post("/api/v1/sessions",
                       "{\"channel\":\"wa\",\"external_id\":\"16505551234\",\"template\":{\"name\":"
                       "\"hello_world\",\"language\":\"en_US\"}}",
                       &out),
              201);
    m = json_tokener_parse(out);
    CHECK_STR(meta_jstr(m, "message.text"), "Hello World");
    CHECK_STR(meta_jstr(m, "session.status"), "new");
    json_object_put(m);
    free(out);
    CHECK(wait_count(calls + 1));
    check_body(calls, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
                      "\"to\":\"16505551234\",\"type\":\"template\",\"template\":{\"name\":"
                      "\"hello_world\",\"language\":{\"code\":\"en_US\"}}}");
}

static void test_human_agent(void)
{
    CHECK_INT(post_hook("fb", FB_SECRET, "facebook", "text.json"), 200);
    char sid[48], *out = NULL;
    session_of("fb", sid);
    set_age(sid, 72); /* three days ago */
    CHECK_INT(reply(sid, "{\"text\":\"sorry for the wait\"}", &out), 409);
    CHECK(strstr(out, "window_closed") && strstr(out, "HUMAN_AGENT"));
    free(out);
    CHECK_INT(reply(sid, "{\"text\":\"x\",\"tag\":\"ACCOUNT_UPDATE\"}", &out), 400);
    CHECK(strstr(out, "HUMAN_AGENT") != NULL);
    free(out);
    size_t calls = og_fake_count(graph);
    CHECK_INT(reply(sid, "{\"text\":\"sorry for the wait\",\"tag\":\"HUMAN_AGENT\"}", &out), 202);
    json_object *m = json_tokener_parse(out);
    CHECK_STR(meta_jstr(m, "tag"), "HUMAN_AGENT");
    json_object_put(m);
    free(out);
    CHECK(wait_count(calls + 1));
    check_body(calls, "{\"recipient\":{\"id\":\"7001000000000001\"},\"messaging_type\":"
                      "\"MESSAGE_TAG\",\"tag\":\"HUMAN_AGENT\",\"message\":{\"text\":"
                      "\"sorry for the wait\"}}");
    set_age(sid, 8 * 24); /* eight days: the tag no longer applies */
    int before = n_messages(sid);
    calls = og_fake_count(graph);
    CHECK_INT(reply(sid, "{\"text\":\"still there?\",\"tag\":\"HUMAN_AGENT\"}", &out), 409);
    CHECK(strstr(out, "window_closed") && strstr(out, "7 days"));
    free(out);
    CHECK_INT(n_messages(sid), before);
    usleep(200000);
    CHECK_INT(og_fake_count(graph), calls);

    /* WhatsApp takes no tags */
    char wsid[48];
    char *path = og_sprintf("/api/v1/sessions?channel=wa&status=new");
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    snprintf(wsid, sizeof wsid, "%s", meta_jstr(l, "items.0.id") ? meta_jstr(l, "items.0.id") : "");
    json_object_put(l);
    CHECK_INT(reply(wsid, "{\"text\":\"x\",\"tag\":\"HUMAN_AGENT\"}", &out), 400);
    CHECK(strstr(out, "takes no message tags") != NULL);
    free(out);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    graph = og_fake_start();
    og_fake_set_handler(graph, graph_handler, NULL);
    char *channels = og_sprintf(
        "[{\"id\":\"wa\",\"connector\":\"whatsapp\",\"options\":{\"access_token\":\"wa-tok\","
        "\"app_secret\":\"" WA_SECRET "\",\"verify_token\":\"wa-verify\","
        "\"phone_number_id\":\"106540352242922\",\"waba_id\":\"WABA1\",\"api_base\":\"%s\"}},"
        "{\"id\":\"fb\",\"connector\":\"facebook\",\"options\":{\"page_access_token\":\"t\","
        "\"app_secret\":\"" FB_SECRET "\",\"verify_token\":\"fb-verify\","
        "\"page_id\":\"110000000000001\",\"api_base\":\"%s\"}},"
        "{\"id\":\"wa2\",\"connector\":\"whatsapp\",\"options\":{\"access_token\":\"wa-tok\","
        "\"app_secret\":\"s2\",\"verify_token\":\"v2\",\"phone_number_id\":\"2\","
        "\"waba_id\":\"WABA2\",\"api_base\":\"%s\"}}]",
        og_fake_base(graph), og_fake_base(graph), og_fake_base(graph));
    int started = og_test_daemon_start(&d, rs.url, channels, NULL);
    free(channels);
    if (started != 0) {
        og_fake_stop(graph);
        og_test_redis_stop(&rs);
        return 1;
    }
    test_listing();
    test_send();
    test_human_agent();
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(graph);
    return og_test_done();
}
