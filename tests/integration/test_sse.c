/* test_sse - GET /api/v1/events through the daemon: a live stream shows
 * the message events as they happen (message.received, message.sent); a
 * client reconnecting with Last-Event-ID (or ?since=) gets exactly what came
 * after that id; a malformed id is refused; no token, no stream; SIGTERM with
 * streams open ends them and the daemon still exits 0 (no suspended
 * connection reaches MHD_stop_daemon). An agent's stream shows the routing
 * engine assigning a new session to them, and that session's messages. */
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN

static struct og_test_redis rs;
static struct og_test_daemon d;

struct stream {
    char url[256];
    char last_id[64];
    char token[128];
    pthread_mutex_t mu;
    struct og_buf buf;
    atomic_int stop, done;
    long status;
    pthread_t th;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct stream *s = ud;
    pthread_mutex_lock(&s->mu);
    og_buf_append(&s->buf, p, sz * n);
    og_buf_append(&s->buf, "", 0);
    s->buf.len--; /* keep it NUL-terminated */
    pthread_mutex_unlock(&s->mu);
    return sz * n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t e)
{
    (void)a, (void)b, (void)c, (void)e;
    return atomic_load(&((struct stream *)ud)->stop);
}

static void *run(void *arg)
{
    struct stream *s = arg;
    CURL *c = curl_easy_init();
    char lh[192];
    snprintf(lh, sizeof lh, "Authorization: Bearer %s", s->token);
    struct curl_slist *h = curl_slist_append(NULL, lh);
    if (s->last_id[0]) {
        snprintf(lh, sizeof lh, "Last-Event-ID: %s", s->last_id);
        h = curl_slist_append(h, lh);
    }
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    atomic_store(&s->done, 1);
    return NULL;
}

static struct stream *open_stream_as(const char *token, const char *query, const char *last_id);
static struct stream *open_stream(const char *query, const char *last_id)
{
    return open_stream_as(OG_TEST_ADMIN_TOKEN, query, last_id);
}

static struct stream *open_stream_as(const char *token, const char *query, const char *last_id)
{
    struct stream *s = og_calloc(1, sizeof *s);
    snprintf(s->token, sizeof s->token, "%s", token);
    snprintf(s->url, sizeof s->url, "%s/api/v1/events%s", d.base, query ? query : "");
    snprintf(s->last_id, sizeof s->last_id, "%s", last_id ? last_id : "");
    pthread_mutex_init(&s->mu, NULL);
    pthread_create(&s->th, NULL, run, s);
    return s;
}

/* 1 when the stream's text contains needle within ms. */
static int wait_for(struct stream *s, const char *needle, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        pthread_mutex_lock(&s->mu);
        int ok = s->buf.data && strstr(s->buf.data, needle);
        pthread_mutex_unlock(&s->mu);
        if (ok)
            return 1;
        usleep(20000);
    }
    return 0;
}

static int count_of(struct stream *s, const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (const char *p = s->buf.data; p && (p = strstr(p, needle)); p++)
        n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void close_stream(struct stream *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    og_buf_free(&s->buf);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* POST base+path as the bearer token; the answer JSON [xfer]. */
static json_object *api_post(const char *token, const char *path, const char *body, long *st)
{
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    char *h = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json", token);
    struct og_test_resp r = og_test_http("POST", url, h, body, strlen(body));
    *st = r.status;
    json_object *j = json_tokener_parse(r.body);
    free(url), free(h), free(r.body);
    return j;
}

static char *new_agent(const char *name, char **token)
{
    char *body =
        og_sprintf("{\"name\":\"%s\",\"email\":\"%s@example.com\",\"role\":\"agent\"}", name, name);
    long st;
    json_object *j = api_post(OG_TEST_ADMIN_TOKEN, "/agents", body, &st);
    CHECK_INT(st, 201);
    *token = og_strdup(json_object_get_string(json_object_object_get(j, "token")));
    char *id = og_strdup(
        json_object_get_string(json_object_object_get(json_object_object_get(j, "agent"), "id")));
    json_object_put(j);
    free(body);
    return id;
}

static long post_signed(const char *body)
{
    return og_test_post_signed(&d, "demo", SECRET, body, strlen(body));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    struct og_fake *f = og_fake_start();
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"%s/r\"}}]",
        og_fake_base(f));
    if (og_test_daemon_start(&d, rs.url, channels, NULL) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(channels);

    /* a live stream sees what happens from now on */
    struct stream *live = open_stream(NULL, NULL);
    CHECK(wait_for(live, ": omnigate events", 5000));
    CHECK_INT(post_signed("{\"id\":\"in-1\",\"from\":{\"id\":\"u-1\"},\"text\":\"hello sse\"}"),
              200);
    CHECK(wait_for(live, "event: message.received", 5000));
    CHECK(wait_for(live, "hello sse", 1000));
    CHECK(wait_for(live, "event: session.created", 1000));
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/sessions", &st);
    json_object *s0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    char *sid = og_strdup(json_object_get_string(json_object_object_get(s0, "id")));
    json_object_put(l);
    char *url = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid);
    struct og_test_resp r = og_test_http("POST", url, AUTH "\nContent-Type: application/json",
                                         "{\"text\":\"agent says hi\"}", 24);
    CHECK_INT(r.status, 202);
    free(r.body), free(url);
    CHECK(wait_for(live, "event: message.sent", 10000));
    CHECK(wait_for(live, "agent says hi", 1000));
    CHECK_INT(count_of(live, "event: message.received"), 1);

    /* the id of message.received; a reconnect from there gets only what followed */
    char last[64] = "";
    pthread_mutex_lock(&live->mu);
    const char *ev = strstr(live->buf.data, "event: message.received");
    const char *idl = NULL;
    for (const char *p = live->buf.data; p && p < ev; p++)
        if (strncmp(p, "id: ", 4) == 0)
            idl = p + 4;
    if (idl)
        snprintf(last, sizeof last, "%.*s", (int)strcspn(idl, "\n"), idl);
    pthread_mutex_unlock(&live->mu);
    CHECK(last[0] != 0);
    struct stream *again = open_stream(NULL, last);
    CHECK(wait_for(again, "event: message.sent", 5000));
    CHECK_INT(count_of(again, "event: message.received"), 0);
    CHECK_INT(count_of(again, "event: session.created"), 0);
    char q[96];
    snprintf(q, sizeof q, "?since=%s", last);
    struct stream *since = open_stream(q, NULL);
    CHECK(wait_for(since, "event: message.sent", 5000));
    CHECK_INT(count_of(since, "event: message.received"), 0);
    /* from the start: everything, once */
    struct stream *all = open_stream("?since=0", NULL);
    CHECK(wait_for(all, "event: message.sent", 5000));
    CHECK_INT(count_of(all, "event: message.received"), 1);
    CHECK_INT(count_of(all, "event: session.created"), 1);
    /* a new event reaches every stream once */
    CHECK_INT(post_signed("{\"id\":\"in-2\",\"from\":{\"id\":\"u-1\"},\"text\":\"second\"}"), 200);
    CHECK(wait_for(all, "second", 5000));
    CHECK(wait_for(again, "second", 5000));
    CHECK(wait_for(live, "second", 5000));
    CHECK_INT(count_of(all, "event: message.received"), 2);
    CHECK_INT(count_of(again, "event: message.received"), 1);

    /* an agent sees the events of their own sessions only */
    char *tok_a = NULL, *tok_b = NULL;
    char *agt_a = new_agent("ann", &tok_a), *agt_b = new_agent("bob", &tok_b);
    CHECK_INT(post_signed("{\"id\":\"in-3\",\"from\":{\"id\":\"u-2\"},\"text\":\"other\"}"), 200);
    l = og_test_api_get(&d, "/api/v1/sessions?channel=demo", &st);
    char *sid_b = NULL;
    json_object *items = json_object_object_get(l, "items");
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        const char *id = json_object_get_string(
            json_object_object_get(json_object_array_get_idx(items, i), "id"));
        if (strcmp(id, sid) != 0)
            sid_b = og_strdup(id);
    }
    json_object_put(l);
    CHECK(sid_b != NULL);
    /* assigned as the routing engine would (its API needs online agents) */
    char *p1 = NULL, *p2 = NULL;
    const char *owners[2][2] = {{sid, agt_a}, {sid_b ? sid_b : "x", agt_b}};
    for (int i = 0; i < 2; i++) {
        char *cmd = og_sprintf("EVAL \"redis.call('HSET','{og}:ses:'..ARGV[1],'agent_id',ARGV[2],"
                               "'status','active') redis.call('ZREM','{og}:queue:default',"
                               "ARGV[1])\" 0 %s %s",
                               owners[i][0], owners[i][1]);
        free(og_test_redis_cli(&rs, cmd));
        free(cmd);
    }
    struct stream *sa = open_stream_as(tok_a, NULL, NULL);
    CHECK(wait_for(sa, ": omnigate events", 5000));
    p1 = og_sprintf("/sessions/%s/messages", sid);
    p2 = og_sprintf("/sessions/%s/messages", sid_b ? sid_b : "x");
    json_object_put(api_post(OG_TEST_ADMIN_TOKEN, p2, "{\"text\":\"for bob only\"}", &st));
    CHECK_INT(st, 202);
    json_object *mj = api_post(tok_a, p1, "{\"text\":\"ann answers\"}", &st);
    CHECK_INT(st, 202);
    CHECK_STR(
        json_object_get_string(json_object_object_get(json_object_object_get(mj, "sender"), "id")),
        agt_a);
    json_object_put(mj);
    json_object_put(api_post(tok_a, p2, "{\"text\":\"not mine\"}", &st));
    CHECK_INT(st, 404); /* another agent's session */
    CHECK(wait_for(sa, "ann answers", 10000));
    CHECK(wait_for(all, "for bob only", 10000));
    CHECK_INT(count_of(sa, "for bob only"), 0);
    CHECK_INT(count_of(sa, "not mine"), 0);
    close_stream(sa);
    free(p1), free(p2), free(sid_b);
    free(tok_a), free(tok_b), free(agt_a), free(agt_b);

    /* the routing engine assigns a new session to the only online agent, and
     * that agent's stream shows the assignment and the session's messages */
    char *tok_c = NULL, *agt_c = new_agent("cat", &tok_c);
    struct stream *sc = open_stream_as(tok_c, NULL, NULL);
    CHECK(wait_for(sc, ": omnigate events", 5000));
    url = og_sprintf("%s/api/v1/agents/%s/presence", d.base, agt_c);
    char *ah = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json", tok_c);
    r = og_test_http("PUT", url, ah, "{\"status\":\"online\"}", 19);
    CHECK_INT(r.status, 200);
    free(r.body), free(url), free(ah);
    CHECK_INT(post_signed("{\"id\":\"in-4\",\"from\":{\"id\":\"u-3\"},\"text\":\"route me\"}"),
              200);
    CHECK(wait_for(sc, "event: session.assigned", 10000));
    CHECK(wait_for(sc, agt_c, 1000));
    CHECK_INT(post_signed("{\"id\":\"in-5\",\"from\":{\"id\":\"u-3\"},\"text\":\"still there?\"}"),
              200);
    CHECK(wait_for(sc, "still there?", 10000));
    CHECK_INT(count_of(sc, "for bob only"), 0);
    close_stream(sc);
    free(tok_c), free(agt_c);

    /* refusals */
    url = og_sprintf("%s/api/v1/events?since=bogus", d.base);
    r = og_test_http("GET", url, AUTH, NULL, 0);
    CHECK_INT(r.status, 400);
    free(r.body), free(url);
    url = og_sprintf("%s/api/v1/events", d.base);
    r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 401);
    free(r.body), free(url);

    /* SIGTERM with four open (mostly suspended) streams: clean exit */
    usleep(300000);
    int rc = og_test_daemon_stop(&d);
    CHECK_INT(rc, 0);
    if (rc != 0) { /* show why */
        char *lp = og_sprintf("%s/omnigate.log", d.dir);
        char *log = og_test_read_file(lp, NULL);
        fprintf(stderr, "%s\n", log ? log : "(no log)");
        free(log), free(lp);
    }
    for (int t = 0; t < 5000 && !atomic_load(&live->done); t += 20)
        usleep(20000);
    CHECK(atomic_load(&live->done)); /* the server ended it */
    CHECK_INT(live->status, 200);
    close_stream(live);
    close_stream(again);
    close_stream(since);
    close_stream(all);

    free(sid);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(f);
    curl_global_cleanup();
    return og_test_done();
}
