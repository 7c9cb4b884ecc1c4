/* test_e2e_line - the LINE connector end to end through the running daemon,
 * against a real redis-server and a fake LINE API (sender profiles) on
 * 127.0.0.1: signed webhook POSTs -> 200 -> the session (with the contact's
 * LINE display name) and the normalized messages readable through
 * /api/v1/sessions?channel=line and /api/v1/sessions/{id}/messages; a
 * redelivery is stored once; bad or missing signatures -> 401 and nothing
 * stored; the console's verify request and standby events -> 200, nothing
 * stored. */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

#define SECRET "e2e-line-channel-secret"
#define USER "U8d55942f87f2155f24550b7fe6eac9c0"

static char *fixture(const char *name)
{
    char *rel = og_sprintf("tests/connectors/fixtures/line/%s", name);
    char *path = og_test_src(rel);
    char *s = og_test_read_file(path, NULL);
    if (!s)
        fprintf(stderr, "cannot read %s\n", path);
    free(rel), free(path);
    return s;
}

/* POSTs body to /hooks/line with x-line-signature computed under secret
 * (NULL: no signature header). Returns the HTTP status. */
static long post(const struct og_test_daemon *d, const char *body, const char *secret)
{
    char sig[64] = "";
    if (secret) {
        unsigned char mac[32];
        og_hmac_sha256(secret, strlen(secret), body, strlen(body), mac);
        og_base64_encode(mac, sizeof mac, sig, sizeof sig);
    }
    char *h = secret ? og_sprintf("X-Line-Signature: %s\nContent-Type: application/json", sig)
                     : og_sprintf("Content-Type: application/json");
    char *url = og_sprintf("%s/hooks/line", d->base);
    struct og_test_resp r = og_test_http("POST", url, h, body, strlen(body));
    free(h), free(url), free(r.body);
    return r.status;
}

static long post_fixture(const struct og_test_daemon *d, const char *name, const char *secret)
{
    char *b = fixture(name);
    long st = b ? post(d, b, secret) : -1;
    free(b);
    return st;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static int profile_api(void *ud, const struct og_fake_req *req, struct og_fake_resp *resp)
{
    (void)ud;
    if (strcmp(req->url, "/v2/bot/profile/" USER) != 0)
        return 0;
    resp->status = 200;
    resp->body = "{\"displayName\":\"Taro\",\"userId\":\"" USER "\","
                 "\"pictureUrl\":\"https://profile.line-scdn.net/taro\"}";
    return 1;
}

int main(void)
{
    struct og_test_redis rs;
    struct og_test_daemon d;
    struct og_fake *api = og_fake_start();
    og_fake_set_handler(api, profile_api, NULL);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *channels = og_sprintf(
        "[{\"id\":\"line\",\"connector\":\"line\",\"options\":{\"channel_secret\":\"" SECRET
        "\",\"channel_access_token\":\"e2e-token\",\"api_base\":\"%s\","
        "\"api_data_base\":\"https://api-data.example.test\"}}]",
        og_fake_base(api));
    if (og_test_daemon_start(&d, rs.url, channels, NULL) != 0) {
        free(channels);
        og_test_redis_stop(&rs);
        og_fake_stop(api);
        return 1;
    }
    free(channels);

    /* Refused before anything is stored. */
    CHECK_INT(post_fixture(&d, "text.json", NULL), 401);
    CHECK_INT(post_fixture(&d, "text.json", "another-secret"), 401);
    /* The console's verify request and standby events: 200, nothing stored. */
    CHECK_INT(post_fixture(&d, "verify_empty.json", SECRET), 200);
    CHECK_INT(post_fixture(&d, "standby.json", SECRET), 200);
    CHECK_INT(post_fixture(&d, "unhandled.json", SECRET), 200);
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/sessions?channel=line", &st);
    CHECK_INT(st, 200);
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 0);
    json_object_put(l);

    /* A text, its redelivery, then an image from the same user. */
    CHECK_INT(post_fixture(&d, "text.json", SECRET), 200);
    CHECK_INT(post_fixture(&d, "redelivery.json", SECRET), 200);
    CHECK_INT(post_fixture(&d, "image.json", SECRET), 200);

    l = og_test_api_get(&d, "/api/v1/sessions?channel=line", &st);
    CHECK_INT(st, 200);
    CHECK(l && json_object_object_get_ex(l, "next_cursor", NULL));
    json_object *items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 1);
    json_object *s0 = json_object_array_get_idx(items, 0);
    const char *sid = jstr(s0, "id");
    CHECK(sid && strncmp(sid, "ses_", 4) == 0);
    CHECK_STR(jstr(s0, "connector"), "line");
    json_object *contact = json_object_object_get(s0, "contact");
    CHECK_STR(jstr(contact, "external_id"), USER);
    CHECK_STR(jstr(contact, "name"), "Taro"); /* from GET /v2/bot/profile/{userId} */
    CHECK_STR(jstr(contact, "avatar_url"), "https://profile.line-scdn.net/taro");

    char *path = og_sprintf("/api/v1/sessions/%s/messages", sid ? sid : "none");
    json_object *ml = og_test_api_get(&d, path, &st);
    CHECK_INT(st, 200);
    json_object *mi = json_object_object_get(ml, "items");
    CHECK_INT(json_object_array_length(mi), 2); /* the redelivery stored once */
    int seen_text = 0, seen_image = 0;
    for (size_t i = 0; i < json_object_array_length(mi); i++) {
        json_object *m = json_object_array_get_idx(mi, i);
        CHECK_STR(jstr(m, "direction"), "in");
        const char *kind = jstr(m, "kind");
        if (kind && strcmp(kind, "text") == 0) {
            seen_text++;
            CHECK_STR(jstr(m, "text"), "hello");
            CHECK_STR(jstr(m, "provider_message_id"), "573052424819310747");
        } else if (kind && strcmp(kind, "image") == 0) {
            seen_image++;
            CHECK_STR(jstr(m, "provider_message_id"), "535883069103014193");
            json_object *a0 =
                json_object_array_get_idx(json_object_object_get(m, "attachments"), 0);
            CHECK_STR(jstr(a0, "media_id"), "535883069103014193");
            CHECK_STR(jstr(a0, "source_url"), "https://api-data.example.test/v2/bot/message/"
                                              "535883069103014193/content");
        }
    }
    CHECK_INT(seen_text, 1);
    CHECK_INT(seen_image, 1);
    /* One profile lookup for the user, cached for the second message. */
    size_t lookups = 0;
    for (size_t i = 0; i < og_fake_count(api); i++)
        if (strstr(og_fake_get(api, i)->url, "/v2/bot/profile/"))
            lookups++;
    CHECK_INT(lookups, 1);
    json_object_put(ml);
    json_object_put(l);
    free(path);

    /* Group and room messages open sessions of their own. */
    CHECK_INT(post_fixture(&d, "multi.json", SECRET), 200);
    l = og_test_api_get(&d, "/api/v1/sessions?channel=line", &st);
    CHECK_INT(st, 200);
    CHECK(json_object_array_length(json_object_object_get(l, "items")) > 1);
    json_object_put(l);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(api);
    return og_test_done();
}
