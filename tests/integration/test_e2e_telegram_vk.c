/* test_e2e_telegram_vk - the telegram and vk connectors end to end through
 * the running daemon, against a real redis-server and a fake platform API on
 * 127.0.0.1:
 *   - Telegram webhook (channel "tg"): secret-token check (401, nothing
 *     stored), text + photo from one chat -> one session with the contact's
 *     name and both normalized messages; a redelivery is stored once;
 *   - VK Callback API (channel "vk"): the confirmation handshake answers the
 *     configured string, a wrong secret is refused, a message_new is
 *     answered "ok" and appears as a session whose contact name came from
 *     users.get; a redelivery is stored once;
 *   - Telegram polling (channel "tgpoll"): getUpdates through the daemon's
 *     poller; the update appears as a session, and after a daemon restart
 *     the first getUpdates carries the persisted offset (nothing twice). */
#include "og_test.h"
#include "og_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TG_TOKEN "777:e2e-token"
#define TG_SECRET "e2e_tg_secret"
#define POLL_TOKEN "888:e2e-poll"
#define VK_SECRET "my_secret"

static struct og_test_daemon d;

static char *fixture(const char *rel)
{
    char *r = og_sprintf("tests/connectors/fixtures/%s", rel);
    char *path = og_test_src(r);
    char *s = og_test_read_file(path, NULL);
    if (!s)
        fprintf(stderr, "cannot read %s\n", path);
    free(r), free(path);
    return s;
}

static struct og_test_resp post(const char *channel, const char *headers, const char *body)
{
    char *url = og_sprintf("%s/hooks/%s", d.base, channel);
    struct og_test_resp r = og_test_http("POST", url, headers, body, strlen(body));
    free(url);
    return r;
}

static long post_status(const char *channel, const char *headers, const char *rel)
{
    char *b = fixture(rel);
    struct og_test_resp r = post(channel, headers, b ? b : "");
    free(b);
    free(r.body);
    return r.status;
}

static const char *jstr(json_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *cur = o;
    for (char *save = NULL, *seg = strtok_r(buf, ".", &save); seg && cur;
         seg = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (json_object_is_type(cur, json_type_array))
            next = json_object_array_get_idx(cur, (size_t)atoi(seg));
        else if (!json_object_object_get_ex(cur, seg, &next))
            next = NULL;
        cur = next;
    }
    return cur && !json_object_is_type(cur, json_type_null) ? json_object_get_string(cur) : NULL;
}

/* Sessions of a channel [xfer]. */
static json_object *sessions(const char *channel)
{
    char *path = og_sprintf("/api/v1/sessions?channel=%s", channel);
    long st = 0;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    CHECK_INT(st, 200);
    CHECK(l && json_object_object_get_ex(l, "next_cursor", NULL));
    return l;
}

static size_t n_items(json_object *l)
{
    json_object *items = NULL;
    return json_object_object_get_ex(l, "items", &items) ? json_object_array_length(items) : 0;
}

static json_object *messages(const char *sid)
{
    char *path = og_sprintf("/api/v1/sessions/%s/messages", sid ? sid : "none");
    long st = 0;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    CHECK_INT(st, 200);
    return l;
}

static json_object *find_kind(json_object *ml, const char *kind)
{
    json_object *items = json_object_object_get(ml, "items");
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *m = json_object_array_get_idx(items, i);
        const char *k = jstr(m, "kind");
        if (k && strcmp(k, kind) == 0)
            return m;
    }
    return NULL;
}

/* ------------------------------------------------------ the fake API */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int getupdates_calls;
static char first_offset_after_restart[32];
static int restarted;

static int fake_api(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    (void)ud;
    r->status = 200;
    r->content_type = "application/json";
    if (strcmp(q->url, "/method/users.get") == 0) {
        r->body = "{\"response\":[{\"id\":22757746,\"first_name\":\"Pavel\",\"last_name\":"
                  "\"Durov\",\"screen_name\":\"durov\",\"photo_100\":"
                  "\"https://sun9-1.userapi.com/avatar.jpg\"}]}";
        return 1;
    }
    if (strcmp(q->url, "/bot" POLL_TOKEN "/getUpdates") == 0) {
        json_object *b = json_tokener_parse(q->body);
        const char *off = jstr(b, "offset");
        pthread_mutex_lock(&mu);
        getupdates_calls++;
        if (restarted && !first_offset_after_restart[0])
            snprintf(first_offset_after_restart, sizeof first_offset_after_restart, "%s",
                     off ? off : "(none)");
        pthread_mutex_unlock(&mu);
        if (!off || atoll(off) <= 555000001) {
            r->body = "{\"ok\":true,\"result\":[{\"update_id\":555000001,\"message\":{"
                      "\"message_id\":5,\"from\":{\"id\":5555555,\"is_bot\":false,"
                      "\"first_name\":\"Polly\",\"last_name\":\"Poller\"},\"chat\":{\"id\":"
                      "5555555,\"type\":\"private\",\"first_name\":\"Polly\"},\"date\":"
                      "1700000000,\"text\":\"polled hello\"}}]}";
        } else {
            r->body = "{\"ok\":true,\"result\":[]}";
            r->delay_ms = 200; /* a short long poll */
        }
        json_object_put(b);
        return 1;
    }
    return 0;
}

/* Waits up to ms for the channel to have n sessions. */
static int wait_sessions(const char *channel, size_t n, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        char *path = og_sprintf("/api/v1/sessions?channel=%s", channel);
        long st = 0;
        json_object *l = og_test_api_get(&d, path, &st);
        free(path);
        size_t k = n_items(l);
        json_object_put(l);
        if (k >= n)
            return 1;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ------------------------------------------------------------ the tests */

static void test_telegram_webhook(void)
{
    const char *ok_hdr =
        "X-Telegram-Bot-Api-Secret-Token: " TG_SECRET "\nContent-Type: application/json";
    CHECK_INT(post_status("tg", "Content-Type: application/json", "telegram/text.json"), 401);
    CHECK_INT(post_status("tg",
                          "X-Telegram-Bot-Api-Secret-Token: nope\n"
                          "Content-Type: application/json",
                          "telegram/text.json"),
              401);
    json_object *l = sessions("tg");
    CHECK_INT(n_items(l), 0);
    json_object_put(l);

    CHECK_INT(post_status("tg", ok_hdr, "telegram/text.json"), 200);
    CHECK_INT(post_status("tg", ok_hdr, "telegram/text.json"), 200); /* redelivery */
    CHECK_INT(post_status("tg", ok_hdr, "telegram/photo.json"), 200);
    CHECK_INT(post_status("tg", ok_hdr, "telegram/callback_query.json"), 200);

    l = sessions("tg");
    CHECK_INT(n_items(l), 1);
    json_object *s0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    const char *sid = jstr(s0, "id");
    CHECK(sid && strncmp(sid, "ses_", 4) == 0);
    CHECK_STR(jstr(s0, "contact.name"), "Test User");
    CHECK_STR(jstr(s0, "contact.external_id"), "1111111");
    json_object *ml = messages(sid);
    CHECK_INT(n_items(ml), 3);
    json_object *m = find_kind(ml, "interactive"); /* the button tap */
    CHECK_STR(jstr(m, "text"), "Option 1");
    CHECK_STR(jstr(m, "payload"), "choice:1");
    m = find_kind(ml, "text");
    CHECK_STR(jstr(m, "text"), "hello");
    CHECK_STR(jstr(m, "direction"), "in");
    CHECK_STR(jstr(m, "provider_message_id"), "1111111:1365");
    m = find_kind(ml, "image");
    CHECK_STR(jstr(m, "text"), "look at this");
    CHECK_STR(jstr(m, "attachments.0.media_id"), "AgACAgIAAxkBAAID-large");
    json_object_put(ml);
    json_object_put(l);
}

static void test_vk_callback(void)
{
    struct og_test_resp r = post("vk", "Content-Type: application/json",
                                 "{\"type\":\"confirmation\",\"group_id\":199493573}");
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "693d0ba9");
    free(r.body);

    char *b = fixture("vk/text.json");
    char *bad = og_strdup(b ? b : "");
    char *s = strstr(bad, "my_secret");
    if (s)
        s[0] = 'M';
    r = post("vk", "Content-Type: application/json", bad);
    CHECK_INT(r.status, 403);
    CHECK(strcmp(r.body, "ok") != 0);
    free(r.body);
    free(bad);
    json_object *l = sessions("vk");
    CHECK_INT(n_items(l), 0);
    json_object_put(l);

    for (int i = 0; i < 2; i++) { /* the second one is a redelivery */
        r = post("vk", "Content-Type: application/json", b ? b : "");
        CHECK_INT(r.status, 200);
        CHECK_STR(r.body, "ok");
        free(r.body);
    }
    free(b);
    CHECK_INT(post_status("vk", "Content-Type: application/json", "vk/message_reply.json"), 200);
    l = sessions("vk");
    CHECK_INT(n_items(l), 1);
    json_object *s0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    CHECK_STR(jstr(s0, "contact.name"), "Pavel Durov");
    CHECK_STR(jstr(s0, "contact.external_id"), "22757746");
    json_object *ml = messages(jstr(s0, "id"));
    CHECK_INT(n_items(ml), 1);
    json_object *m = find_kind(ml, "text");
    CHECK_STR(jstr(m, "text"), "hello");
    CHECK_STR(jstr(m, "provider_message_id"), "1450");
    json_object_put(ml);
    json_object_put(l);
}

static void test_telegram_polling(void)
{
    CHECK(wait_sessions("tgpoll", 1, 10000));
    json_object *l = sessions("tgpoll");
    CHECK_INT(n_items(l), 1);
    json_object *s0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    CHECK_STR(jstr(s0, "contact.name"), "Polly Poller");
    json_object *ml = messages(jstr(s0, "id"));
    CHECK_INT(n_items(ml), 1);
    CHECK_STR(jstr(find_kind(ml, "text"), "text"), "polled hello");
    json_object_put(ml);
    json_object_put(l);

    /* Restart: the first getUpdates confirms the stored update. */
    CHECK_INT(og_test_daemon_stop(&d), 0);
    pthread_mutex_lock(&mu);
    restarted = 1;
    pthread_mutex_unlock(&mu);
    CHECK_INT(og_test_daemon_restart(&d), 0);
    int seen = 0;
    for (int t = 0; t < 10000 && !seen; t += 100) {
        pthread_mutex_lock(&mu);
        seen = first_offset_after_restart[0] != 0;
        pthread_mutex_unlock(&mu);
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    CHECK_STR(first_offset_after_restart, "555000002");
    l = sessions("tgpoll");
    CHECK_INT(n_items(l), 1);
    ml = messages(jstr(json_object_array_get_idx(json_object_object_get(l, "items"), 0), "id"));
    CHECK_INT(n_items(ml), 1); /* not ingested twice */
    json_object_put(ml);
    json_object_put(l);
}

int main(void)
{
    struct og_test_redis rs;
    struct og_fake *api = og_fake_start();
    og_fake_set_handler(api, fake_api, NULL);
    if (og_test_redis_start(&rs) != 0) {
        og_fake_stop(api);
        return 1;
    }
    char *channels = og_sprintf(
        "[{\"id\":\"tg\",\"connector\":\"telegram\",\"options\":{\"bot_token\":\"" TG_TOKEN
        "\",\"secret_token\":\"" TG_SECRET "\",\"api_base\":\"%s\"}},"
        "{\"id\":\"vk\",\"connector\":\"vk\",\"options\":{\"access_token\":\"vk1.a.e2e\","
        "\"group_id\":199493573,\"confirmation\":\"693d0ba9\",\"secret\":\"" VK_SECRET
        "\",\"api_base\":\"%s\"}},"
        "{\"id\":\"tgpoll\",\"connector\":\"telegram\",\"options\":{\"bot_token\":\"" POLL_TOKEN
        "\",\"mode\":\"polling\",\"api_base\":\"%s\",\"poll_wait_s\":1}}]",
        og_fake_base(api), og_fake_base(api), og_fake_base(api));
    if (og_test_daemon_start(&d, rs.url, channels, NULL) != 0) {
        free(channels);
        og_test_redis_stop(&rs);
        og_fake_stop(api);
        return 1;
    }
    free(channels);

    test_telegram_webhook();
    test_vk_callback();
    test_telegram_polling();

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(api);
    return og_test_done();
}
