/* test_e2e_whatsapp_facebook - the whatsapp and facebook connectors end to
 * end through the running daemon, against a real redis-server: the GET
 * handshake through the real HTTP server (query decoding included), signed
 * batch POSTs -> 200 -> one session per customer with its normalized
 * messages readable through the API (/api/v1/sessions?channel=...,
 * /api/v1/sessions/{id}/messages), redelivery stored once, a wrong
 * signature -> 401 and nothing stored, echoes and standby events never
 * stored; delivery statuses and receipts (for messages never sent here)
 * acknowledged with 200. Outbound: an agent's reply through the API goes out
 * through each connector to a fake Graph API (body and Bearer checked), and
 * the platform's status webhook (read before delivered on WhatsApp, a
 * delivery with mids on Messenger) moves the stored message forward. */
#include "../connectors/meta_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WA_SECRET "wa-e2e-secret"
#define FB_SECRET "fb-e2e-secret"

static struct og_test_daemon d;
static struct og_fake *graph; /* the Graph API both channels send to */

static long post(const char *channel, const char *secret, const char *body, size_t len)
{
    char sig[80];
    meta_sign(secret, body, len, sig);
    char *h = og_sprintf("X-Hub-Signature-256: %s\nContent-Type: application/json", sig);
    char *url = og_sprintf("%s/hooks/%s", d.base, channel);
    struct og_test_resp r = og_test_http("POST", url, h, body, len);
    free(h), free(url), free(r.body);
    return r.status;
}

static long post_fixture(const char *channel, const char *secret, const char *dir, const char *name)
{
    size_t len;
    char *body = meta_fixture(dir, name, &len);
    long st = post(channel, secret, body, len);
    free(body);
    return st;
}

/* The sessions of a channel [xfer], keyed by contact external id lookups. */
static json_object *sessions(const char *channel)
{
    char *path = og_sprintf("/api/v1/sessions?channel=%s&limit=200", channel);
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    CHECK_INT(st, 200);
    CHECK(json_object_object_get_ex(l, "next_cursor", NULL));
    return l;
}

static json_object *session_of(json_object *list, const char *external_id)
{
    json_object *items = json_object_object_get(list, "items");
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *s = json_object_array_get_idx(items, i);
        const char *ext = meta_jstr(s, "contact.external_id");
        if (ext && strcmp(ext, external_id) == 0)
            return s;
    }
    return NULL;
}

static json_object *messages_of(json_object *session)
{
    char *path = og_sprintf("/api/v1/sessions/%s/messages?limit=200", meta_jstr(session, "id"));
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    CHECK_INT(st, 200);
    return l;
}

static void test_handshake(void)
{
    char *url = og_sprintf("%s/hooks/wa?hub.mode=subscribe&hub.challenge=12%%2034&"
                           "hub.verify_token=wa-verify",
                           d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "12 34");
    free(r.body), free(url);
    url = og_sprintf("%s/hooks/fb?hub.mode=subscribe&hub.challenge=x&hub.verify_token=bad", d.base);
    r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 403);
    free(r.body), free(url);
}

static void test_whatsapp(void)
{
    CHECK_INT(post_fixture("wa", WA_SECRET, "whatsapp", "batch.json"), 200);
    CHECK_INT(post_fixture("wa", WA_SECRET, "whatsapp", "batch.json"), 200); /* redelivery */
    size_t len;
    char *body = meta_fixture("whatsapp", "text.json", &len);
    CHECK_INT(post("wa", "not-the-secret", body, len), 401);
    free(body);

    json_object *l = sessions("wa");
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 6);
    static const struct {
        const char *wa_id, *name;
        int n;
        const char *texts[3];
    } want[] = {
        {"15550000001", "Alice", 3, {"a1", "a2", "a3"}},
        {"15550000002", "Bob", 1, {"b1"}},
        {"15550000003", "Carol", 2, {"c1", "c2"}},
        {"15550000004", "Dave", 1, {"d1"}},
        {"15550000005", "Erin", 1, {"e1"}},
        {"15550000006", "Frank", 1, {"f1"}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_object *s = session_of(l, want[i].wa_id);
        CHECK(s != NULL);
        if (!s)
            continue;
        CHECK_STR(meta_jstr(s, "contact.name"), want[i].name);
        CHECK_STR(meta_jstr(s, "contact.phone"), want[i].wa_id);
        json_object *ml = messages_of(s);
        json_object *items = json_object_object_get(ml, "items");
        CHECK_INT(json_object_array_length(items), want[i].n);
        for (int k = 0; k < want[i].n && k < (int)json_object_array_length(items); k++) {
            json_object *m = json_object_array_get_idx(items, (size_t)k);
            int found = 0;
            for (int t = 0; t < want[i].n; t++)
                found |= strcmp(meta_jstr(m, "text"), want[i].texts[t]) == 0;
            CHECK(found);
            CHECK_STR(meta_jstr(m, "kind"), "text");
            CHECK(strncmp(meta_jstr(m, "provider_message_id"), "wamid.B", 7) == 0);
        }
        json_object_put(ml);
    }
    json_object_put(l);

    /* Every kind, one customer: normalized as the connector emitted it. */
    CHECK_INT(post_fixture("wa", WA_SECRET, "whatsapp", "kinds.json"), 200);
    l = sessions("wa");
    json_object *s = session_of(l, "16505551234");
    CHECK(s != NULL);
    if (s) {
        json_object *ml = messages_of(s);
        json_object *items = json_object_object_get(ml, "items");
        CHECK_INT(json_object_array_length(items), 13);
        int seen_doc = 0, seen_loc = 0, seen_reaction = 0;
        for (size_t k = 0; k < json_object_array_length(items); k++) {
            json_object *m = json_object_array_get_idx(items, k);
            const char *kind = meta_jstr(m, "kind");
            if (strcmp(kind, "file") == 0) {
                seen_doc = 1;
                CHECK_STR(meta_jstr(m, "attachments.0.name"), "invoice.pdf");
                CHECK_STR(meta_jstr(m, "attachments.0.media_id"), "1000000000000003");
            } else if (strcmp(kind, "location") == 0) {
                seen_loc = 1;
                CHECK_STR(meta_jstr(m, "location.name"), "Meta HQ");
            } else if (strcmp(kind, "reaction") == 0) {
                seen_reaction = 1;
                CHECK_STR(meta_jstr(m, "reply_to_provider_id"), "wamid.OURMSG");
            }
        }
        CHECK(seen_doc && seen_loc && seen_reaction);
        json_object_put(ml);
    }
    json_object_put(l);

    /* Statuses of messages this channel never sent: acknowledged (200), so
     * Meta does not retry them for days. */
    CHECK_INT(post_fixture("wa", WA_SECRET, "whatsapp", "statuses_out_of_order.json"), 200);
    CHECK_INT(post_fixture("wa", WA_SECRET, "whatsapp", "status_failed.json"), 200);
}

static void test_facebook(void)
{
    CHECK_INT(post_fixture("fb", FB_SECRET, "facebook", "batch.json"), 200);
    CHECK_INT(post_fixture("fb", FB_SECRET, "facebook", "echo_standby.json"), 200);
    json_object *l = sessions("fb");
    /* the 3 customers of the batch (echo_standby's real customer is one); the standby sender
     * (…0009) and the echo (sent by the page) have no session. */
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 3);
    CHECK(session_of(l, "7001000000000009") == NULL);
    CHECK(session_of(l, "110000000000001") == NULL);
    json_object *s = session_of(l, "7001000000000001");
    CHECK(s != NULL);
    if (s) {
        json_object *ml = messages_of(s);
        json_object *items = json_object_object_get(ml, "items");
        CHECK_INT(json_object_array_length(items), 3); /* a1, a2, real customer text */
        for (size_t k = 0; k < json_object_array_length(items); k++)
            CHECK(strcmp(meta_jstr(json_object_array_get_idx(items, k), "text"), "our reply") != 0);
        json_object_put(ml);
    }
    json_object_put(l);
    CHECK_INT(post_fixture("fb", FB_SECRET, "facebook", "receipts.json"), 200);
}

/* The message of session sid whose id is mid, as JSON text [xfer], or NULL. */
static char *find_message(const char *sid, const char *mid)
{
    char *path = og_sprintf("/api/v1/sessions/%s/messages?limit=200", sid);
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    char *out = NULL;
    json_object *items = json_object_object_get(l, "items");
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *m = json_object_array_get_idx(items, i);
        const char *id = meta_jstr(m, "id");
        if (id && strcmp(id, mid) == 0)
            out = og_strdup(json_object_to_json_string(m));
    }
    json_object_put(l);
    return out;
}

/* Waits (up to 10 s) until the message's status is want; 1 when it is. */
static int wait_status(const char *sid, const char *mid, const char *want)
{
    for (int i = 0; i < 200; i++) {
        char *m = find_message(sid, mid);
        json_object *j = m ? json_tokener_parse(m) : NULL;
        int ok = j && meta_jstr(j, "status") && strcmp(meta_jstr(j, "status"), want) == 0;
        if (!ok && i == 199)
            fprintf(stderr, "message %s: %s (want status %s)\n", mid, m ? m : "(none)", want);
        json_object_put(j);
        free(m);
        if (ok)
            return 1;
        usleep(50 * 1000);
    }
    return 0;
}

/* An agent's reply through the API -> the connector's send() -> the fake
 * Graph API (body checked) -> the provider id; then the platform's status
 * webhook moves the message forward. Returns the Graph request's body [xfer]. */
static char *reply_and_capture(const char *sid, const char *text, char *mid, size_t midsz)
{
    size_t before = og_fake_count(graph);
    char *url = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid);
    char *body = og_sprintf("{\"text\":\"%s\"}", text);
    struct og_test_resp r = og_test_http("POST", url,
                                         "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                         "\nContent-Type: application/json",
                                         body, strlen(body));
    CHECK_INT(r.status, 202);
    json_object *j = json_tokener_parse(r.body);
    snprintf(mid, midsz, "%s", meta_jstr(j, "id") ? meta_jstr(j, "id") : "");
    json_object_put(j);
    free(r.body), free(url), free(body);
    for (int i = 0; i < 200 && og_fake_count(graph) == before; i++)
        usleep(50 * 1000);
    CHECK_INT(og_fake_count(graph), before + 1);
    if (og_fake_count(graph) <= before)
        return NULL;
    return og_strdup(og_fake_get(graph, before)->body);
}

static void test_outbound(void)
{
    char mid[64];
    json_object *l = sessions("wa");
    json_object *s = session_of(l, "15550000002"); /* Bob wrote in batch.json */
    CHECK(s != NULL);
    if (s) {
        char sid[64];
        snprintf(sid, sizeof sid, "%s", meta_jstr(s, "id"));
        struct og_fake_resp ok = {200,
                                  "{\"messaging_product\":\"whatsapp\",\"contacts\":[{"
                                  "\"input\":\"15550000002\",\"wa_id\":\"15550000002\"}],"
                                  "\"messages\":[{\"id\":\"wamid.OUT.1\"}]}",
                                  NULL, NULL, 0};
        og_fake_push(graph, &ok);
        char *sent = reply_and_capture(sid, "Blue it is", mid, sizeof mid);
        json_object *b = sent ? json_tokener_parse(sent) : NULL;
        CHECK_STR(meta_jstr(b, "messaging_product"), "whatsapp");
        CHECK_STR(meta_jstr(b, "to"), "15550000002");
        CHECK_STR(meta_jstr(b, "type"), "text");
        CHECK_STR(meta_jstr(b, "text.body"), "Blue it is");
        json_object_put(b);
        free(sent);
        CHECK(wait_status(sid, mid, "sent"));
        /* read arrives before delivered: read stands. */
        const char *st =
            "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{"
            "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"statuses\":["
            "{\"id\":\"wamid.OUT.1\",\"status\":\"read\",\"timestamp\":\"1749416500\","
            "\"recipient_id\":\"15550000002\"},"
            "{\"id\":\"wamid.OUT.1\",\"status\":\"delivered\",\"timestamp\":\"1749416499\","
            "\"recipient_id\":\"15550000002\"}]}}]}]}";
        CHECK_INT(post("wa", WA_SECRET, st, strlen(st)), 200);
        CHECK(wait_status(sid, mid, "read"));
    }
    json_object_put(l);

    l = sessions("fb");
    s = session_of(l, "7001000000000003");
    CHECK(s != NULL);
    if (s) {
        char sid[64];
        snprintf(sid, sizeof sid, "%s", meta_jstr(s, "id"));
        struct og_fake_resp ok = {
            200, "{\"recipient_id\":\"7001000000000003\",\"message_id\":\"m_OUT_1\"}", NULL, NULL,
            0};
        og_fake_push(graph, &ok);
        char *sent = reply_and_capture(sid, "On its way", mid, sizeof mid);
        json_object *b = sent ? json_tokener_parse(sent) : NULL;
        CHECK_STR(meta_jstr(b, "recipient.id"), "7001000000000003");
        CHECK_STR(meta_jstr(b, "messaging_type"), "RESPONSE");
        CHECK_STR(meta_jstr(b, "message.text"), "On its way");
        json_object_put(b);
        free(sent);
        CHECK(wait_status(sid, mid, "sent"));
        /* A delivery naming the mid. */
        const char *dl =
            "{\"object\":\"page\",\"entry\":[{\"id\":\"110000000000001\",\"time\":1,"
            "\"messaging\":[{\"sender\":{\"id\":\"7001000000000003\"},\"recipient\":{\"id\":"
            "\"110000000000001\"},\"delivery\":{\"mids\":[\"m_OUT_1\"],\"watermark\":1}}]}]}";
        CHECK_INT(post("fb", FB_SECRET, dl, strlen(dl)), 200);
        CHECK(wait_status(sid, mid, "delivered"));
    }
    json_object_put(l);
    const struct og_fake_req *rq = og_fake_count(graph) ? og_fake_get(graph, 0) : NULL;
    char hb[256];
    CHECK(rq && strcmp(rq->url, "/v25.0/106540352242922/messages") == 0);
    CHECK(rq && strcmp(og_fake_header(rq, "authorization", hb, sizeof hb), "Bearer wa-tok") == 0);
}

int main(void)
{
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    graph = og_fake_start();
    char *channels = og_sprintf(
        "[{\"id\":\"wa\",\"connector\":\"whatsapp\",\"options\":{\"access_token\":\"wa-tok\","
        "\"app_secret\":\"" WA_SECRET "\",\"verify_token\":\"wa-verify\","
        "\"phone_number_id\":\"106540352242922\",\"api_base\":\"%s\"}},"
        "{\"id\":\"fb\",\"connector\":\"facebook\",\"options\":{\"page_access_token\":\"t\","
        "\"app_secret\":\"" FB_SECRET "\",\"verify_token\":\"fb-verify\","
        "\"page_id\":\"110000000000001\",\"api_base\":\"%s\"}}]",
        og_fake_base(graph), og_fake_base(graph));
    int started = og_test_daemon_start(&d, rs.url, channels, NULL);
    free(channels);
    if (started != 0) {
        og_fake_stop(graph);
        og_test_redis_stop(&rs);
        return 1;
    }
    test_handshake();
    test_whatsapp();
    test_facebook();
    test_outbound();
    /* locations, media, replies: the pages (C) carry each customer message as
     * its event (Lua) did; the list agrees with one GET */
    CHECK(og_test_messages_agree(&d, rs.port) > 0);
    CHECK(og_test_render_agrees(&d) > 0);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(graph);
    return og_test_done();
}
