/* test_send_crash - the send queue survives a crash: omnigate is killed
 * (SIGKILL) while the receiver hangs on the first reply and two more wait in
 * the queue; after a restart every reply is delivered, the queued ones
 * exactly once, the interrupted one once more (its first POST never got an
 * answer back: the at-least-once window, which the receiver closes with the
 * message id it is given), and nothing is left pending in the group. */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

static struct og_test_redis rs;
static struct og_test_daemon d;

static int echo_id(void *ud, const struct og_fake_req *req, struct og_fake_resp *resp)
{
    (void)ud;
    static __thread char buf[128];
    const char *p = strstr(req->body, "\"id\":\"");
    snprintf(buf, sizeof buf, "{\"id\":\"pm-%.*s\"}", p ? 30 : 0, p ? p + 6 : "");
    resp->status = 200;
    resp->body = buf;
    return 1;
}

static char *cli(const char *fmt, const char *a)
{
    char *args = og_sprintf(fmt, a);
    char *out = og_test_redis_cli(&rs, args);
    free(args);
    if (out)
        out[strcspn(out, "\n")] = 0;
    return out;
}

static int wait_status(const char *mid, const char *want, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        char *st = cli("HGET {og}:msg:%s st", mid);
        int ok = st && strcmp(st, want) == 0;
        free(st);
        if (ok)
            return 1;
        usleep(20000);
    }
    return 0;
}

static size_t posts_for(struct og_fake *f, const char *mid)
{
    size_t n = 0;
    char *needle = og_sprintf("\"id\":\"%s\"", mid);
    for (size_t i = 0; i < og_fake_count(f); i++)
        if (strstr(og_fake_get(f, i)->body, needle))
            n++;
    free(needle);
    return n;
}

int main(void)
{
    struct og_fake *f = og_fake_start();
    og_fake_set_handler(f, echo_id, NULL);
    struct og_fake_resp hang = {.status = 200, .body = "{\"id\":\"never-seen\"}", .delay_ms = 4000};
    og_fake_push(f, &hang);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"%s/r\"}}]",
        og_fake_base(f));
    if (og_test_daemon_start(&d, rs.url, channels,
                             "\"send\":{\"workers\":1,\"claim_idle_ms\":1500}") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(channels);
    const char *in = "{\"id\":\"in-1\",\"from\":{\"id\":\"u-1\"},\"text\":\"hi\"}";
    CHECK_INT(og_test_post_signed(&d, "demo", SECRET, in, strlen(in)), 200);
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/sessions", &st);
    json_object *s0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    char *sid = og_strdup(json_object_get_string(json_object_object_get(s0, "id")));
    json_object_put(l);

    char mids[3][48];
    char *url = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid);
    for (int i = 0; i < 3; i++) {
        struct og_test_resp r = og_test_http("POST", url, AUTH, "{\"text\":\"reply\"}", 16);
        CHECK_INT(r.status, 202);
        json_object *j = json_tokener_parse(r.body);
        snprintf(mids[i], 48, "%s", json_object_get_string(json_object_object_get(j, "id")));
        json_object_put(j);
        free(r.body);
    }
    free(url);
    /* the first is in flight (the receiver hangs), the others wait in the queue */
    for (int t = 0; t < 5000 && og_fake_count(f) < 1; t += 20)
        usleep(20000);
    CHECK_INT(og_fake_count(f), 1);
    CHECK_INT(posts_for(f, mids[0]), 1);
    og_test_daemon_kill(&d);
    for (int i = 0; i < 3; i++) {
        char *s = cli("HGET {og}:msg:%s st", mids[i]);
        CHECK_STR(s, "pending");
        free(s);
    }
    char *pend = cli("XPENDING {og}:outbox senders%s", "");
    CHECK(pend && atoi(pend) == 1); /* m1: read, never acknowledged */
    free(pend);

    CHECK_INT(og_test_daemon_restart(&d), 0);
    for (int i = 0; i < 3; i++)
        CHECK(wait_status(mids[i], "sent", 20000));
    CHECK_INT(posts_for(f, mids[0]), 2); /* the interrupted one, then its claimed retry */
    CHECK_INT(posts_for(f, mids[1]), 1);
    CHECK_INT(posts_for(f, mids[2]), 1);
    char *pm = cli("HGET {og}:msg:%s pmid", mids[0]);
    char *want = og_sprintf("pm-%s", mids[0]);
    CHECK_STR(pm, want); /* from the answer that did arrive */
    free(pm), free(want);
    usleep(300000);
    pend = cli("XPENDING {og}:outbox senders%s", "");
    CHECK(pend && atoi(pend) == 0);
    free(pend);
    /* nothing is sent again later */
    sleep(2);
    CHECK_INT(og_fake_count(f), 4);

    free(sid);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(f);
    return og_test_done();
}
