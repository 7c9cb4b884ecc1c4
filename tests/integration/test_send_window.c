/* test_send_window - the 24 h customer-service window through the daemon
 * with the whatsapp connector and a fake Graph API: the session shows
 * window_expires_at; a send the platform refuses for the window (error
 * 131047) fails at once, without a retry; once the window is over (the
 * customer's last message 25 h ago) a free-form reply is refused by the API
 * at once (409 window_closed naming the template route), nothing stored and
 * the platform never called; starting a conversation outside the window is
 * a 409 window_closed too. */
#include "../connectors/meta_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WA_SECRET "wa-window-secret"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

static struct og_test_redis rs;
static struct og_test_daemon d;

static char *cli(const char *fmt, const char *a, const char *b)
{
    char *args = og_sprintf(fmt, a, b ? b : "");
    char *out = og_test_redis_cli(&rs, args);
    free(args);
    if (out)
        out[strcspn(out, "\n")] = 0;
    return out;
}

static int wait_status(const char *mid, const char *want, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        char *st = cli("HGET {og}:msg:%s st%s", mid, NULL);
        int ok = st && strcmp(st, want) == 0;
        free(st);
        if (ok)
            return 1;
        usleep(20000);
    }
    return 0;
}

static long reply(const char *sid, char *mid)
{
    char *url = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid);
    struct og_test_resp r = og_test_http("POST", url, AUTH, "{\"text\":\"hello\"}", 16);
    json_object *j = json_tokener_parse(r.body);
    snprintf(mid, 48, "%s", meta_jstr(j, "id") ? meta_jstr(j, "id") : "");
    json_object_put(j);
    free(url), free(r.body);
    return r.status;
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    struct og_fake *graph = og_fake_start();
    char *channels = og_sprintf(
        "[{\"id\":\"wa\",\"connector\":\"whatsapp\",\"options\":{\"access_token\":\"wa-tok\","
        "\"app_secret\":\"" WA_SECRET "\",\"verify_token\":\"wa-verify\","
        "\"phone_number_id\":\"106540352242922\",\"api_base\":\"%s\"}}]",
        og_fake_base(graph));
    if (og_test_daemon_start(&d, rs.url, channels, "\"send\":{\"retry_backoff_ms\":100}") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(channels);
    size_t len;
    char *body = meta_fixture("whatsapp", "text.json", &len);
    char sig[80];
    meta_sign(WA_SECRET, body, len, sig);
    char *h = og_sprintf("X-Hub-Signature-256: %s\nContent-Type: application/json", sig);
    char *url = og_sprintf("%s/hooks/wa", d.base);
    struct og_test_resp r = og_test_http("POST", url, h, body, len);
    CHECK_INT(r.status, 200);
    free(r.body), free(h), free(url), free(body);
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/sessions?channel=wa", &st);
    const char *sid0 = meta_jstr(l, "items.0.id");
    char sid[48];
    snprintf(sid, sizeof sid, "%s", sid0 ? sid0 : "");
    const char *wexp = meta_jstr(l, "items.0.window_expires_at");
    char iso[32];
    og_time_rfc3339(og_now_ms() + 86400000, iso);
    CHECK(wexp && strncmp(wexp, iso, 13) == 0); /* 24 h from now (same hour) */
    json_object_put(l);

    /* 1. the platform refuses for the window: failed at once, one call */
    struct og_fake_resp refused = {.status = 400,
                                   .body = "{\"error\":{\"message\":\"Re-engagement message\","
                                           "\"type\":\"OAuthException\",\"code\":131047,"
                                           "\"fbtrace_id\":\"x\"}}"};
    og_fake_push(graph, &refused);
    char mid[48];
    CHECK_INT(reply(sid, mid), 202);
    CHECK(wait_status(mid, "failed", 10000));
    usleep(500000); /* longer than a retry would take */
    CHECK_INT(og_fake_count(graph), 1);
    char *err = cli("HGET {og}:msg:%s err%s", mid, NULL);
    CHECK(err && strstr(err, "Re-engagement"));
    free(err);

    /* 2. the window is over: the API refuses, Graph is never called */
    char *old = og_sprintf("%lld", (long long)(og_now_ms() - 25LL * 3600 * 1000));
    free(cli("HSET {og}:ses:%s last_customer_ms %s", sid, old));
    free(old);
    char *nmsg = cli("ZCARD {og}:ses:%s:msgs%s", sid, NULL);
    CHECK_INT(reply(sid, mid), 409);
    char *nmsg2 = cli("ZCARD {og}:ses:%s:msgs%s", sid, NULL);
    CHECK(nmsg && nmsg2 && strcmp(nmsg, nmsg2) == 0); /* nothing stored */
    free(nmsg), free(nmsg2);
    usleep(300000);
    CHECK_INT(og_fake_count(graph), 1);
    char *path = og_sprintf("/api/v1/sessions/%s", sid);
    json_object *s = og_test_api_get(&d, path, &st);
    const char *w2 = meta_jstr(s, "window_expires_at");
    og_time_rfc3339(og_now_ms() - 3600 * 1000, iso);
    CHECK(w2 && strncmp(w2, iso, 13) == 0); /* an hour ago */
    json_object_put(s);
    free(path);

    /* 3. no new conversation outside the window */
    free(cli("HSET {og}:ses:%s status closed%s", sid, NULL));
    url = og_sprintf("%s/api/v1/sessions", d.base);
    const char *start = "{\"channel\":\"wa\",\"external_id\":\"16505551234\",\"text\":\"news\"}";
    r = og_test_http("POST", url, AUTH, start, strlen(start));
    CHECK_INT(r.status, 409);
    CHECK(strstr(r.body, "window_closed") != NULL);
    free(r.body), free(url);
    /* service windows: the list (C) renders them as one GET (Lua) does */
    CHECK(og_test_render_agrees(&d) > 0);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(graph);
    return og_test_done();
}
