/* test_texts - automatic texts and the customer timeout (#19.3) through two
 * running daemons on one real redis-server, the example connector
 * signed_json as the customers' channel and a fake platform recording what
 * it is sent; the clock is compressed (timeouts of 2 s):
 *   - the greeting on a new session, the queue text with the position of
 *     each waiting customer, the assigned text naming the agent, the
 *     closing text: each a system message in the history ("sender":
 *     {"type":"system"}, "auto_text"), sent to the platform, in the
 *     timeline, and no agent's reply (first_reply_at stays null, the
 *     status stays active);
 *   - the customer timeout: the prompt after 2 s without an answer to the
 *     agent (session.timeout_prompted), auto-close 2 s later with reason
 *     customer_timeout and the closing text; an answer disarms both, before
 *     and after the prompt;
 *   - a timer armed before both daemons are killed fires after one of them
 *     is started again;
 *   - with two instances every text is stored and sent once, and every
 *     event emitted once;
 *   - {{queue.position}} on an e-mail-like channel is refused at start. */
#include "og_core.h"
#include "og_outbox.h"
#include "og_script.h"
#include "og_test.h"
#include "og_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"

static struct og_test_redis rs;
static struct og_test_daemon da, db;
static struct og_fake *plat;

static json_object *api(const char *token, const char *method, const char *path, const char *body,
                        long *status)
{
    char *url = og_sprintf("%s/api/v1%s", da.base, path);
    char *h = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json",
                         token ? token : OG_TEST_ADMIN_TOKEN);
    struct og_test_resp r = og_test_http(method, url, h, body, body ? strlen(body) : 0);
    *status = r.status;
    json_object *j = json_tokener_parse(r.body);
    free(url), free(h), free(r.body);
    return j;
}

static long call(const char *token, const char *method, const char *path, const char *body)
{
    long st;
    json_object_put(api(token, method, path, body, &st));
    return st;
}

/* A string at a path of keys in o ("goal.status"); JSON null is "null",
 * other values their JSON text; "" when absent. [borrowed from o] */
static const char *at(json_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (!json_object_object_get_ex(o, key, &o))
            return "";
        path += n + (path[n] == '.');
        if (!o)
            return *path ? "" : "null";
    }
    if (!o)
        return "null";
    return json_object_is_type(o, json_type_string)
               ? json_object_get_string(o)
               : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

/* A customer's message through daemon d; sid gets the session's id. */
static void customer(struct og_test_daemon *d, const char *user, const char *text, char sid[48])
{
    static int n;
    char *b = og_sprintf("{\"id\":\"evt-%s-%d\",\"from\":{\"id\":\"%s\",\"name\":\"Name %s\"},"
                         "\"text\":\"%s\"}",
                         user, ++n, user, user, text);
    CHECK_INT(og_test_post_signed(d, "demo", SECRET, b, strlen(b)), 200);
    free(b);
    char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
    snprintf(sid, 48, "%s", s);
    free(s);
}

static json_object *session(const char *sid)
{
    long st;
    char *p = og_sprintf("/sessions/%s", sid);
    json_object *j = api(NULL, "GET", p, NULL, &st);
    free(p);
    CHECK_INT(st, 200);
    return j;
}

/* The session's field (at() path) now, copied into out. */
static void field(const char *sid, const char *path, char *out, size_t n)
{
    json_object *j = session(sid);
    snprintf(out, n, "%s", at(j, path));
    json_object_put(j);
}

/* How many automatic texts of kind the session's history has; *text gets
 * the last one's text, *all the count of system messages of any kind. */
static int texts(const char *sid, const char *kind, char *text, size_t tn, int *all)
{
    long st;
    char *p = og_sprintf("/sessions/%s/messages?limit=200", sid);
    json_object *j = api(NULL, "GET", p, NULL, &st), *items = NULL;
    free(p);
    int n = 0, sys = 0;
    json_object_object_get_ex(j, "items", &items);
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *m = json_object_array_get_idx(items, i);
        if (strcmp(at(m, "sender.type"), "system") != 0)
            continue;
        sys++;
        if (strcmp(at(m, "auto_text"), kind) == 0) {
            n++;
            if (text)
                snprintf(text, tn, "%s", at(m, "text"));
            CHECK_STR(at(m, "direction"), "out");
        }
    }
    json_object_put(j);
    if (all)
        *all = sys;
    return n;
}

/* Automatic texts of kind in the session's history, read from Redis
 * (while no daemon answers). */
static int texts_in_redis(const char *sid, const char *kind)
{
    char *out =
        og_test_redis_line(&rs,
                           "EVAL \"local n = 0 for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, "
                           "-1)) do if redis.call('HGET', '{og}:msg:' .. m, 'auto') == ARGV[1] "
                           "then n = n + 1 end end return n\" 1 {og}:ses:%s:msgs %s",
                           sid, kind);
    int n = atoi(out);
    free(out);
    return n;
}

/* Polls (up to ms) until the session has want texts of kind; their count. */
static int wait_texts(const char *sid, const char *kind, int want, int ms)
{
    int n = 0;
    for (int i = 0; i <= ms / 50; i++) {
        n = texts(sid, kind, NULL, 0, NULL);
        if (n >= want)
            break;
        usleep(50000);
    }
    return n;
}

/* Requests the platform got whose body has "text":"<text>" for contact to. */
static int platform_got(const char *to, const char *text)
{
    char *t = og_sprintf("\"text\":\"%s\"", text), *u = og_sprintf("\"to\":\"%s\"", to);
    int n = 0;
    for (size_t i = 0; i < og_fake_count(plat); i++) {
        const struct og_fake_req *r = og_fake_get(plat, i);
        if (r->body && strstr(r->body, t) && strstr(r->body, u))
            n++;
    }
    free(t), free(u);
    return n;
}

static int wait_platform(const char *to, const char *text, int ms)
{
    int n = 0;
    for (int i = 0; i <= ms / 50 && (n = platform_got(to, text)) < 1; i++)
        usleep(50000);
    return n;
}

/* Events of type about session sid in the event stream. */
static int events(const char *sid, const char *type)
{
    char *out = og_test_redis_cli(&rs, "XRANGE {og}:events - +");
    char *t = og_sprintf("\"type\":\"%s\"", type);
    int n = 0;
    for (char *line = strtok(out ? out : "", "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, t) && strstr(line, sid))
            n++;
    free(t), free(out);
    return n;
}

/* How many timeline entries of kind (and, if given, "text":"<text>"). */
static int timeline(const char *sid, const char *kind, const char *text)
{
    long st;
    char *p = og_sprintf("/sessions/%s/timeline?limit=200", sid);
    json_object *j = api(NULL, "GET", p, NULL, &st), *items = NULL;
    free(p);
    int n = 0;
    json_object_object_get_ex(j, "items", &items);
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *e = json_object_array_get_idx(items, i);
        if (!strcmp(at(e, "kind"), kind) && (!text || !strcmp(at(e, "text"), text)))
            n++;
    }
    json_object_put(j);
    return n;
}

static char ann[48], ann_tok[80];

static void presence(const char *status)
{
    char *path = og_sprintf("/agents/%s/presence", ann);
    char *body = og_sprintf("{\"status\":\"%s\"}", status);
    CHECK_INT(call(ann_tok, "PUT", path, body), 200);
    free(path), free(body);
}

static void reply(const char *sid, const char *text)
{
    char *path = og_sprintf("/sessions/%s/messages", sid);
    char *body = og_sprintf("{\"text\":\"%s\"}", text);
    CHECK_INT(call(ann_tok, "POST", path, body), 202);
    free(path), free(body);
}

static char *wait_agent(const char *sid)
{
    for (int i = 0; i < 100; i++) {
        char *a = og_test_redis_line(&rs, "HGET {og}:ses:%s agent_id", sid);
        if (*a)
            return a;
        free(a);
        usleep(50000);
    }
    return og_strdup("");
}

/* ------------------------------------------------------------ the tests */

/* Greeting, queue (with positions), assigned, and none of them a reply. */
static void test_greeting_queue_assigned(char s1[48], char s2[48])
{
    char text[256], v[128];
    customer(&da, "u1", "hello", s1);
    customer(&db, "u2", "hi there", s2);
    CHECK_INT(wait_texts(s1, "greeting", 1, 5000), 1);
    CHECK_INT(texts(s1, "greeting", text, sizeof text, NULL), 1);
    CHECK_STR(text, "Hello Name u1, welcome to demo.");
    CHECK_INT(wait_texts(s2, "greeting", 1, 5000), 1);
    /* nobody is online: both wait, u1 first */
    CHECK_INT(wait_texts(s1, "queue", 1, 5000), 1);
    CHECK_INT(wait_texts(s2, "queue", 1, 5000), 1);
    texts(s1, "queue", text, sizeof text, NULL);
    CHECK_STR(text, "You are number 1 in line.");
    texts(s2, "queue", text, sizeof text, NULL);
    CHECK_STR(text, "You are number 2 in line.");
    CHECK_INT(wait_platform("u1", "Hello Name u1, welcome to demo.", 5000), 1);
    CHECK_INT(wait_platform("u2", "You are number 2 in line.", 5000), 1);
    /* system texts are no agent's reply */
    field(s1, "first_reply_at", v, sizeof v);
    CHECK_STR(v, "null");
    field(s1, "status", v, sizeof v);
    CHECK_STR(v, "new");

    /* Ann comes online: routing gives her both, and each learns her name */
    presence("online");
    char *a = wait_agent(s1);
    CHECK_STR(a, ann);
    free(a);
    a = wait_agent(s2);
    CHECK_STR(a, ann);
    free(a);
    CHECK_INT(wait_texts(s1, "assigned", 1, 5000), 1);
    texts(s1, "assigned", text, sizeof text, NULL);
    CHECK_STR(text, "Ann Agent will help you.");
    CHECK_INT(wait_texts(s2, "assigned", 1, 5000), 1);
    CHECK_INT(wait_platform("u1", "Ann Agent will help you.", 5000), 1);
    field(s1, "status", v, sizeof v);
    CHECK_STR(v, "active");
    field(s1, "first_reply_at", v, sizeof v);
    CHECK_STR(v, "null");
    CHECK_INT(timeline(s1, "auto_text", "greeting"), 1);
    CHECK_INT(timeline(s1, "auto_text", "queue"), 1);
    CHECK_INT(timeline(s1, "auto_text", "assigned"), 1);
}

/* A customer whose agent is free at once: no queue text. */
static void test_no_queue_text(char s3[48])
{
    customer(&db, "u3", "quick question", s3);
    char *a = wait_agent(s3);
    CHECK_STR(a, ann);
    free(a);
    CHECK_INT(wait_texts(s3, "assigned", 1, 5000), 1);
    usleep(1500000); /* past the queue text's second */
    CHECK_INT(texts(s3, "queue", NULL, 0, NULL), 0);
    CHECK_INT(texts(s3, "greeting", NULL, 0, NULL), 1);
}

/* The prompt, then auto-close with the closing text. */
static void test_timeout_close(const char *s1)
{
    char text[256], v[128];
    reply(s1, "How can I help?");
    field(s1, "status", v, sizeof v);
    CHECK_STR(v, "awaiting");
    CHECK_INT(wait_texts(s1, "timeout", 1, 6000), 1);
    texts(s1, "timeout", text, sizeof text, NULL);
    CHECK_STR(text, "Are you still there, Name u1?");
    CHECK_INT(events(s1, "session.timeout_prompted"), 1);
    field(s1, "status", v, sizeof v);
    CHECK_STR(v, "awaiting"); /* not closed yet: auto_close counts from the prompt */
    CHECK_INT(wait_texts(s1, "closing", 1, 6000), 1);
    field(s1, "status", v, sizeof v);
    CHECK_STR(v, "closed");
    field(s1, "close_reason", v, sizeof v);
    CHECK_STR(v, "customer_timeout");
    texts(s1, "closing", text, sizeof text, NULL);
    CHECK_STR(text, "Bye Name u1.");
    CHECK_INT(wait_platform("u1", "Bye Name u1.", 5000), 1);
    CHECK_INT(timeline(s1, "closed", NULL), 1);
    /* first_reply_at is Ann's reply, not any automatic text */
    char *fr = og_test_redis_line(&rs, "HGET {og}:ses:%s first_reply_at", s1);
    CHECK(*fr != 0);
    free(fr);
}

/* Answers disarm the prompt and the auto-close. */
static void test_answer_disarms(const char *s2)
{
    char v[128];
    reply(s2, "One moment please");
    customer(&da, "u2", "ok", (char[48]){0});
    usleep(2800000);
    CHECK_INT(texts(s2, "timeout", NULL, 0, NULL), 0);
    field(s2, "status", v, sizeof v);
    CHECK_STR(v, "active");
    /* after the prompt, an answer keeps the session open */
    reply(s2, "Anything else?");
    CHECK_INT(wait_texts(s2, "timeout", 1, 6000), 1);
    customer(&db, "u2", "yes, one more thing", (char[48]){0});
    usleep(2800000);
    field(s2, "status", v, sizeof v);
    CHECK_STR(v, "active");
    CHECK_INT(texts(s2, "closing", NULL, 0, NULL), 0);
    /* a manual close sends the closing text too */
    char *path = og_sprintf("/sessions/%s/close", s2);
    CHECK_INT(call(ann_tok, "POST", path, "{\"reason\":\"solved\"}"), 200);
    free(path);
    CHECK_INT(wait_texts(s2, "closing", 1, 5000), 1);
    CHECK_INT(texts(s2, "timeout", NULL, 0, NULL), 1);
}

/* The prompt's timer survives both daemons being killed. */
static void test_restart(const char *s3)
{
    char v[128];
    reply(s3, "Let me check");
    og_test_daemon_kill(&da);
    og_test_daemon_kill(&db);
    usleep(2500000); /* due while nobody runs */
    CHECK_INT(texts_in_redis(s3, "timeout"), 0);
    CHECK_INT(og_test_daemon_restart(&da), 0);
    CHECK_INT(wait_texts(s3, "timeout", 1, 6000), 1);
    CHECK_INT(wait_texts(s3, "closing", 1, 6000), 1);
    field(s3, "close_reason", v, sizeof v);
    CHECK_STR(v, "customer_timeout");
    CHECK_INT(og_test_daemon_restart(&db), 0);
}

/* Once across two instances: every text and event of the run. */
static void test_once(const char *s1, const char *s2, const char *s3)
{
    usleep(500000);
    const char *sids[] = {s1, s2, s3};
    for (int i = 0; i < 3; i++) {
        int all = 0;
        int g = texts(sids[i], "greeting", NULL, 0, &all),
            a = texts(sids[i], "assigned", NULL, 0, NULL);
        int t = texts(sids[i], "timeout", NULL, 0, NULL),
            c = texts(sids[i], "closing", NULL, 0, NULL);
        int q = texts(sids[i], "queue", NULL, 0, NULL);
        CHECK_INT(g, 1);
        CHECK_INT(a, 1);
        CHECK_INT(t, 1);
        CHECK_INT(c, 1);
        CHECK_INT(all, g + a + t + c + q);
        CHECK_INT(events(sids[i], "session.timeout_prompted"), 1);
        CHECK_INT(events(sids[i], "session.closed"), 1);
        CHECK_INT(timeline(sids[i], "auto_text", NULL), all);
    }
    CHECK_INT(platform_got("u1", "Hello Name u1, welcome to demo."), 1);
    CHECK_INT(platform_got("u1", "You are number 1 in line."), 1);
    CHECK_INT(platform_got("u2", "Ann Agent will help you."), 1);
    CHECK_INT(platform_got("u3", "Are you still there, Name u3?"), 1);
    CHECK_INT(platform_got("u3", "Bye Name u3."), 1);
    /* nothing is left queued */
    char *left = og_test_redis_line(&rs, "ZCARD {og}:timers:texts");
    CHECK_STR(left, "0");
    free(left);
}

/* {{queue.position}} on an e-mail-like channel stops the start (--check). */
static void test_email_position(void)
{
    char *so = og_sprintf("%s/lib/omnigate/connectors/email.so", OG_BINARY_DIR);
    int built = access(so, F_OK) == 0;
    free(so);
    if (!built) {
        fprintf(stderr, "the email connector is not built: skipping its check\n");
        return;
    }
    char *dir = og_test_tmpdir();
    char *cfg = og_sprintf("%s/c.json", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "{\"api\":{\"admin_token\":\"%s\"},\"redis\":{\"url\":\"%s\"},\"channels\":[{"
            "\"id\":\"mail\",\"connector\":\"email\",\"options\":{\"imap_url\":"
            "\"imaps://127.0.0.1:1\",\"username\":\"u\",\"password\":\"p\",\"smtp_url\":"
            "\"smtp://127.0.0.1:1\",\"from\":\"support@example.com\"},\"texts\":{\"queue\":"
            "\"You are number {{queue.position}}\"}}]}",
            OG_TEST_ADMIN_TOKEN, rs.url);
    fclose(f);
    char *cmd = og_sprintf("%s/bin/omnigate --config %s --check 2>&1", OG_BINARY_DIR, cfg);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    CHECK(rc != 0);
    CHECK(strstr(out, "channels[0].texts.queue: {{queue.position}} is for real-time channels") !=
          NULL);
    if (!strstr(out, "queue.position"))
        fprintf(stderr, "omnigate --check said:\n%s\n", out);
    free(cmd), free(cfg);
    og_test_rmdir(dir);
    free(dir);
}

/* texts.lua's claim and store as two instances would run them, one of
 * which dies after its claim: the lease keeps the other off the text until
 * it ends; then the other sends it, and the first one's late store finds
 * it gone. So a text is stored once even when a claim outlives its lease. */
static void test_lease(const char *sid)
{
    struct og_core *a = og_test_core_new(&rs, "og", 1), *b = og_test_core_new(&rs, "og", 1);
    char *member = og_sprintf("%s|closing|1|", sid), now[24], lim[] = "10";
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    char *r = og_test_redis_line(&rs, "ZADD {og}:timers:texts 1 '%s'", member);
    free(r);
    const char *claim[] = {"{og}", "claim", now, "30000", lim};
    redisReply *ra = NULL, *rb = NULL;
    CHECK_INT(og_script_call(a, OG_LUA_TEXTS, 5, claim, NULL, &ra, NULL, 0), OG_OK);
    CHECK_INT(ra ? ra->elements : 0, 1 + 9);
    CHECK_INT(og_script_call(b, OG_LUA_TEXTS, 5, claim, NULL, &rb, NULL, 0), OG_OK);
    CHECK_INT(rb ? rb->elements : 0, 1); /* leased to a */
    freeReplyObject(rb);
    r = og_test_redis_line(&rs, "ZADD {og}:timers:texts 1 '%s'", member); /* the lease ends */
    free(r);
    CHECK_INT(og_script_call(b, OG_LUA_TEXTS, 5, claim, NULL, &rb, NULL, 0), OG_OK);
    CHECK_INT(rb ? rb->elements : 0, 1 + 9);
    char iso[32];
    og_time_rfc3339(og_now_ms(), iso);
    struct og_outbox_msg m = {.text = "Bye again"};
    char *tail = og_outbox_render_tail(&m, iso, NULL), mid_a[48], mid_b[48];
    og_id_new("msg_", og_now_ms(), mid_b, sizeof mid_b);
    og_id_new("msg_", og_now_ms(), mid_a, sizeof mid_a);
    int before = texts_in_redis(sid, "closing");
    const char *store_b[] = {"{og}", "store", member, mid_b, iso, tail};
    const char *store_a[] = {"{og}", "store", member, mid_a, iso, tail};
    redisReply *sb = NULL, *sa = NULL;
    CHECK_INT(og_script_call(b, OG_LUA_TEXTS, 6, store_b, NULL, &sb, NULL, 0), OG_OK);
    CHECK_INT(og_script_call(a, OG_LUA_TEXTS, 6, store_a, NULL, &sa, NULL, 0), OG_OK);
    CHECK_STR(sb && sb->elements > 1 ? sb->element[1]->str : "", "sent");
    CHECK_STR(sa && sa->elements > 1 ? sa->element[1]->str : "", "gone");
    CHECK_INT(texts_in_redis(sid, "closing"), before + 1);
    freeReplyObject(ra), freeReplyObject(rb), freeReplyObject(sa), freeReplyObject(sb);
    free(tail), free(member);
    og_core_free(a);
    og_core_free(b);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    plat = og_fake_start();
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"%s/r\"},\"texts\":{\"greeting\":\"Hello {{contact.name}}, welcome "
        "to {{channel}}.\",\"queue\":\"You are number {{queue.position}} in line.\","
        "\"assigned\":\"{{agent.name}} will help you.\",\"closing\":\"Bye {{contact.name}}.\","
        "\"customer_timeout\":{\"after_s\":2,\"text\":\"Are you still there, "
        "{{contact.name}}?\"},\"auto_close\":{\"after_s\":2}}}]",
        og_fake_base(plat));
    if (og_test_daemon_start(&da, rs.url, channels, NULL) != 0 ||
        og_test_daemon_start(&db, rs.url, channels, NULL) != 0) {
        free(channels);
        og_test_daemon_free(&da);
        og_fake_stop(plat);
        og_test_redis_stop(&rs);
        return 1;
    }
    free(channels);
    long st;
    json_object *j =
        api(NULL, "POST", "/agents", "{\"name\":\"Ann Agent\",\"email\":\"ann@o.io\"}", &st);
    CHECK_INT(st, 201);
    snprintf(ann, sizeof ann, "%s", at(j, "agent.id"));
    snprintf(ann_tok, sizeof ann_tok, "%s", at(j, "token"));
    json_object_put(j);

    char s1[48], s2[48], s3[48];
    test_greeting_queue_assigned(s1, s2);
    test_no_queue_text(s3);
    test_timeout_close(s1);
    test_answer_disarms(s2);
    test_restart(s3);
    test_once(s1, s2, s3);
    test_email_position();

    CHECK_INT(og_test_daemon_stop(&da), 0);
    CHECK_INT(og_test_daemon_stop(&db), 0);
    test_lease(s2);
    og_test_daemon_free(&da);
    og_test_daemon_free(&db);
    og_fake_stop(plat);
    og_test_redis_stop(&rs);
    return og_test_done();
}
