/* test_webchat - the web chat channel (#17) through the running daemon, a
 * real redis-server and the webchat connector, as a page's widget uses it
 * (docs/webchat.md):
 *   - origins: an allowed one gets CORS headers, another or none 403 without
 *     them, the preflight;
 *   - start (pre-chat validation, the question as first message, the token
 *     stored only hashed), resume with the token (same contact, history);
 *   - send (client_id makes a retry a duplicate), HTML kept as text, bad
 *     bodies 400, an oversize body 413, a forged token 401, another
 *     visitor's message 404;
 *   - the live stream: the agent's reply and typing arrive, the visitor's
 *     typing reaches the agents' stream, assignment shows the agent's name,
 *     the sixth stream of a token is 429, Last-Event-ID replays;
 *   - the visitor closes (the timeline names it), the survey once (409
 *     after) and not also as a message; csat.on "silence": the survey as a
 *     message in the conversation, the visitor's "5" the rating; the
 *     offline form, the flood limit (429, nothing stored past
 *     it), and a daemon restart keeps every message that got a 2xx. */
#include "og_test.h"
#include "og_util.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ORIGIN "http://shop.example"

static struct og_test_redis rs;
static struct og_test_daemon d;
static char ann[48], ann_tok[80];

/* ------------------------------------------------------------ helpers */

static const char *at(json_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(key));
        else if (!json_object_object_get_ex(o, key, &o))
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

/* The length of the array at key, -1 when there is none (an error answer). */
static int arr_len(json_object *o, const char *key)
{
    json_object *a = json_object_object_get(o, key);
    return json_object_is_type(a, json_type_array) ? (int)json_object_array_length(a) : -1;
}

struct resp {
    long status;
    json_object *j;
    char *body;
};

static void resp_free(struct resp *r)
{
    json_object_put(r->j);
    free(r->body);
}

/* A visitor request on channel ch: origin (NULL = none), token (NULL = none). */
static struct resp wc_on(const char *ch, const char *origin, const char *token, const char *method,
                         const char *path, const char *body)
{
    char *url = og_sprintf("%s/webchat/%s%s", d.base, ch, path);
    struct og_buf h = {0};
    og_buf_puts(&h, "Content-Type: application/json\n");
    if (origin)
        og_buf_printf(&h, "Origin: %s\n", origin);
    if (token)
        og_buf_printf(&h, "Authorization: Bearer %s\n", token);
    struct og_test_resp r = og_test_http(method, url, h.data, body, body ? strlen(body) : 0);
    struct resp out = {r.status, json_tokener_parse(r.body), r.body};
    og_buf_free(&h);
    free(url);
    return out;
}

static struct resp wc(const char *origin, const char *token, const char *method, const char *path,
                      const char *body)
{
    return wc_on("site", origin, token, method, path, body);
}

static long wc_status(const char *token, const char *method, const char *path, const char *body)
{
    struct resp r = wc(ORIGIN, token, method, path, body);
    long st = r.status;
    resp_free(&r);
    return st;
}

static json_object *api(const char *token, const char *method, const char *path, const char *body,
                        long *status)
{
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    char *h = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json",
                         token ? token : OG_TEST_ADMIN_TOKEN);
    struct og_test_resp r = og_test_http(method, url, h, body, body ? strlen(body) : 0);
    *status = r.status;
    json_object *j = json_tokener_parse(r.body);
    free(url), free(h), free(r.body);
    return j;
}

/* The raw answer's headers (curl's helper gives no headers). */
static char *raw_request(const char *req)
{
    int fd = og_test_raw_connect(NULL, d.port);
    if (fd < 0)
        return og_strdup("");
    og_test_raw_send(fd, req, (size_t)-1);
    char *out = NULL;
    og_test_raw_read(fd, 2000, &out);
    close(fd);
    return out;
}

/* A live stream over a raw socket: its bytes so far. */
struct stream {
    int fd;
    struct og_buf got;
};

static int stream_open(struct stream *s, const char *token, const char *last_id)
{
    memset(s, 0, sizeof *s);
    s->fd = og_test_raw_connect(NULL, d.port);
    if (s->fd < 0)
        return -1;
    char *req = og_sprintf("GET /webchat/site/events HTTP/1.1\r\nHost: x\r\nOrigin: " ORIGIN
                           "\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n%s%s%s"
                           "\r\n",
                           token, last_id ? "Last-Event-ID: " : "", last_id ? last_id : "",
                           last_id ? "\r\n" : "");
    int rc = og_test_raw_send(s->fd, req, (size_t)-1);
    free(req);
    return rc;
}

/* Waits up to ms for text in the stream. 1 when it came. */
static int stream_wait(struct stream *s, const char *text, int ms)
{
    int64_t end = og_mono_ms() + ms;
    while (!(s->got.data && strstr(s->got.data, text))) {
        int64_t left = end - og_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char buf[4096];
        ssize_t n = recv(s->fd, buf, sizeof buf, 0);
        if (n <= 0)
            return s->got.data && strstr(s->got.data, text);
        og_buf_append(&s->got, buf, (size_t)n);
    }
    return 1;
}

static void stream_close(struct stream *s)
{
    if (s->fd >= 0)
        close(s->fd);
    og_buf_free(&s->got);
    s->fd = -1;
}

static char *redis(const char *args)
{
    return og_test_redis_cli(&rs, args);
}

/* The contact records stored ({og}:con:<id>, not the keys beside them): a
 * refused start must not add one. (Not DBSIZE nor all records: the
 * workers' own keys and the automatic texts of other tests' sessions come
 * meanwhile, and on a loaded machine each moved under such a check.) */
static int contacts(void)
{
    char *s = redis("EVAL \"local n = 0 for _, key in ipairs(redis.call('KEYS', '{og}:con:*')) "
                    "do if select(2, key:gsub(':', '')) == 2 then n = n + 1 end end "
                    "return n\" 0");
    CHECK(s && s[0] >= '0' && s[0] <= '9'); /* a count of keys, not an error */
    int n = s ? atoi(s) : -1;
    free(s);
    return n;
}

static int session_messages(const char *ses);

/* ------------------------------------------------------------ tests */

/* /webchat/demo only with webchat_demo; the widget's files as they are */
static void test_demo_off(void)
{
    char *url = og_sprintf("%s/webchat/demo", d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 404);
    free(r.body), free(url);
    url = og_sprintf("%s/webchat/demo.html", d.base);
    r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 404);
    free(r.body), free(url);
}

static void test_origins(void)
{
    struct resp r = wc(ORIGIN, NULL, "GET", "/config", NULL);
    CHECK_INT(r.status, 200);
    CHECK_STR(at(r.j, "channel"), "site");
    CHECK_STR(at(r.j, "title"), "Shop chat");
    CHECK_STR(at(r.j, "pre_chat.fields.0.name"), "name");
    CHECK_STR(at(r.j, "pre_chat.fields.0.required"), "true");
    CHECK_STR(at(r.j, "csat.enabled"), "true");
    CHECK_STR(at(r.j, "csat.scale"), "5");
    CHECK_STR(at(r.j, "theme.position"), "left");
    CHECK_STR(at(r.j, "online"), "false"); /* no agent of the routing policy is online */
    resp_free(&r);

    r = wc("http://evil.example", NULL, "GET", "/config", NULL);
    CHECK_INT(r.status, 403);
    CHECK_STR(at(r.j, "error.code"), "forbidden");
    resp_free(&r);
    r = wc(NULL, NULL, "GET", "/config", NULL);
    CHECK_INT(r.status, 403);
    resp_free(&r);

    /* the headers: granted to the allowed origin only */
    char *ok = raw_request("GET /webchat/site/config HTTP/1.1\r\nHost: x\r\nOrigin: " ORIGIN
                           "\r\nConnection: close\r\n\r\n");
    CHECK(strstr(ok, "Access-Control-Allow-Origin: " ORIGIN) != NULL);
    CHECK(strstr(ok, "Vary: Origin") != NULL);
    free(ok);
    char *bad = raw_request("GET /webchat/site/config HTTP/1.1\r\nHost: x\r\nOrigin: "
                            "http://evil.example\r\nConnection: close\r\n\r\n");
    CHECK(strstr(bad, " 403 ") != NULL);
    CHECK(strstr(bad, "Access-Control") == NULL);
    free(bad);
    char *pre = raw_request("OPTIONS /webchat/site/messages HTTP/1.1\r\nHost: x\r\nOrigin: " ORIGIN
                            "\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n");
    CHECK(strstr(pre, " 204 ") != NULL);
    CHECK(strstr(pre, "Access-Control-Allow-Methods: GET, POST") != NULL);
    CHECK(strstr(pre, "Authorization") != NULL);
    free(pre);
    /* an unknown channel and a route the tree lacks */
    CHECK_INT(wc_status(NULL, "GET", "/nope", NULL), 404);
    CHECK_INT(wc_status(NULL, "DELETE", "/messages", NULL), 405);
}

/* Starts a visitor: its token and contact id. */
static void start(const char *body, char token[64], char contact[48], char session[48])
{
    struct resp r = wc(ORIGIN, NULL, "POST", "/start", body);
    CHECK_INT(r.status, 201);
    snprintf(token, 64, "%s", at(r.j, "token"));
    snprintf(contact, 48, "%s", at(r.j, "contact_id"));
    snprintf(session, 48, "%s", at(r.j, "session.id"));
    resp_free(&r);
}

static void test_start_resume(char tok[64], char con[48], char ses[48])
{
    int before = contacts();
    /* pre-chat: name is required */
    struct resp r = wc(ORIGIN, NULL, "POST", "/start", "{\"email\":\"ann@example.com\"}");
    CHECK_INT(r.status, 400);
    CHECK(strstr(at(r.j, "error.message"), "name") != NULL);
    resp_free(&r);
    r = wc(ORIGIN, NULL, "POST", "/start", "{\"name\":\"Ann\",\"email\":\"not-an-address\"}");
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(contacts(), before); /* refused: nothing stored */

    r = wc(ORIGIN, NULL, "POST", "/start",
           "{\"name\":\"Ann <b>\",\"email\":\"ann@example.com\",\"phone\":\"+1 555 0100\","
           "\"question\":\"Where is my order?\"}");
    CHECK_INT(r.status, 201);
    CHECK_INT(contacts(), before + 1); /* the count sees a stored contact */
    snprintf(tok, 64, "%s", at(r.j, "token"));
    snprintf(con, 48, "%s", at(r.j, "contact_id"));
    snprintf(ses, 48, "%s", at(r.j, "session.id"));
    CHECK_INT(strlen(tok), 43);
    CHECK(strncmp(con, "con_", 4) == 0);
    CHECK_STR(at(r.j, "session.status"), "queued");
    CHECK_STR(at(r.j, "messages.0.text"), "Where is my order?");
    CHECK_STR(at(r.j, "messages.0.direction"), "in");
    CHECK_STR(at(r.j, "messages.0.sender.type"), "contact");
    resp_free(&r);

    /* the token is stored only as its hash */
    char *keys = redis("--scan --pattern *wc:tok:*");
    CHECK(keys && strstr(keys, tok) == NULL);
    CHECK(keys && strstr(keys, "wc:tok:") != NULL);
    free(keys);
    char *all = redis("--scan");
    CHECK(all && strstr(all, tok) == NULL);
    free(all);

    /* the contact has the pre-chat answers; the session is the web chat's */
    long st;
    char *path = og_sprintf("/sessions/%s", ses);
    json_object *s = api(NULL, "GET", path, NULL, &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(s, "channel"), "site");
    CHECK_STR(at(s, "connector"), "webchat");
    CHECK_STR(at(s, "contact.name"), "Ann <b>");
    CHECK_STR(at(s, "contact.email"), "ann@example.com");
    CHECK_STR(at(s, "contact.phone"), "+1 555 0100");
    json_object_put(s);
    free(path);

    /* resume: the same contact and session, with the history */
    char *body = og_sprintf("{\"token\":\"%s\"}", tok);
    r = wc(ORIGIN, NULL, "POST", "/start", body);
    CHECK_INT(r.status, 200);
    CHECK_STR(at(r.j, "contact_id"), con);
    CHECK_STR(at(r.j, "session.id"), ses);
    CHECK_STR(at(r.j, "messages.0.text"), "Where is my order?");
    CHECK_STR(at(r.j, "token"), ""); /* not sent again */
    resp_free(&r);
    free(body);
}

static void test_send(const char *tok, const char *ses, char first_mid[48])
{
    struct resp r = wc(ORIGIN, tok, "POST", "/messages",
                       "{\"text\":\"<img src=x onerror=alert(1)> & <script>x</script>\","
                       "\"client_id\":\"5f0c2b1e-0000-4000-8000-000000000001\"}");
    CHECK_INT(r.status, 201);
    snprintf(first_mid, 48, "%s", at(r.j, "message.id"));
    CHECK_STR(at(r.j, "message.text"), "<img src=x onerror=alert(1)> & <script>x</script>");
    CHECK_STR(at(r.j, "message.client_id"), "5f0c2b1e-0000-4000-8000-000000000001");
    resp_free(&r);
    /* the same client_id again: the same message, stored once */
    r = wc(ORIGIN, tok, "POST", "/messages",
           "{\"text\":\"<img src=x onerror=alert(1)> & <script>x</script>\","
           "\"client_id\":\"5f0c2b1e-0000-4000-8000-000000000001\"}");
    CHECK_INT(r.status, 200);
    CHECK_STR(at(r.j, "message.id"), first_mid);
    resp_free(&r);
    long st;
    char *path = og_sprintf("/sessions/%s/messages", ses);
    json_object *m = api(NULL, "GET", path, NULL, &st);
    CHECK_INT(st, 200);
    CHECK_INT(arr_len(m, "items"), 2);
    /* the inbox gets the text as it was typed, to show as text */
    CHECK_STR(at(m, "items.1.text"), "<img src=x onerror=alert(1)> & <script>x</script>");
    json_object_put(m);
    free(path);

    /* refusals: nothing stored */
    CHECK_INT(wc_status(tok, "POST", "/messages", "{\"text\":\"\"}"), 400);
    CHECK_INT(wc_status(tok, "POST", "/messages", "{\"text\":\"   \"}"), 400);
    CHECK_INT(wc_status(tok, "POST", "/messages", "{\"text\":42}"), 400);
    CHECK_INT(wc_status(tok, "POST", "/messages", "not json"), 400);
    CHECK_INT(wc_status(tok, "POST", "/messages", "{\"text\":\"a\",\"client_id\":\"a b\"}"), 400);
    char *big = og_calloc(1, 4200);
    memset(big, 'a', 4100);
    char *body = og_sprintf("{\"text\":\"%s\"}", big);
    CHECK_INT(wc_status(tok, "POST", "/messages", body), 400); /* over 4096 bytes of text */
    free(body);
    char *huge = og_calloc(1, 40000);
    memset(huge, 'a', 39000);
    body = og_sprintf("{\"text\":\"%s\"}", huge);
    CHECK_INT(wc_status(tok, "POST", "/messages", body), 413); /* over http.max_body_bytes */
    free(body), free(big), free(huge);
    CHECK_INT(wc_status("forged-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "POST", "/messages",
                        "{\"text\":\"hi\"}"),
              401);
    CHECK_INT(wc_status(NULL, "POST", "/messages", "{\"text\":\"hi\"}"), 401);
    CHECK_INT(wc_status("Abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE", "GET", "/messages", NULL),
              401);
    m = api(NULL, "GET", path = og_sprintf("/sessions/%s/messages", ses), NULL, &st);
    CHECK_INT(arr_len(m, "items"), 2);
    json_object_put(m);
    free(path);
}

static void test_other_visitor(const char *mid)
{
    char tok[64], con[48], ses[48];
    start("{\"name\":\"Bo\"}", tok, con, ses);
    CHECK_STR(ses, ""); /* no message yet: no session (null) */
    char *path = og_sprintf("/messages?after=%s", mid);
    struct resp r = wc(ORIGIN, tok, "GET", path, NULL);
    CHECK_INT(r.status, 404); /* Ann's message is no message of Bo's */
    resp_free(&r);
    free(path);
    char *body = og_sprintf("{\"until\":\"%s\"}", mid);
    CHECK_INT(wc_status(tok, "POST", "/read", body), 404);
    free(body);
    r = wc(ORIGIN, tok, "GET", "/messages", NULL);
    CHECK_INT(r.status, 200);
    CHECK_INT(arr_len(r.j, "messages"), 0);
    resp_free(&r);
}

static void test_stream(const char *tok, const char *ses, const char *first_mid)
{
    struct stream s;
    CHECK_INT(stream_open(&s, tok, NULL), 0);
    CHECK(stream_wait(&s, "retry: 2000", 3000));
    CHECK(strstr(s.got.data, "Access-Control-Allow-Origin: " ORIGIN) != NULL);
    CHECK(strstr(s.got.data, "text/event-stream") != NULL);

    /* Ann comes online: routing assigns the session, the visitor sees her name */
    long st;
    char *path = og_sprintf("/agents/%s/presence", ann);
    json_object_put(api(ann_tok, "PUT", path, "{\"status\":\"online\"}", &st));
    CHECK_INT(st, 200);
    free(path);
    CHECK(stream_wait(&s, "event: assigned\ndata: {\"agent\":{\"name\":\"Ann Agent\"}}", 5000));
    /* "online" follows within its second of caching */
    int online = 0;
    for (int i = 0; i < 30 && !online; i++) {
        struct resp cfg = wc(ORIGIN, NULL, "GET", "/config", NULL);
        online = !strcmp(at(cfg.j, "online"), "true");
        resp_free(&cfg);
        if (!online)
            usleep(100000);
    }
    CHECK(online);

    /* the agent types, then replies */
    path = og_sprintf("/sessions/%s/typing", ses);
    json_object_put(api(ann_tok, "POST", path, "{\"on\":true}", &st));
    CHECK_INT(st, 204);
    CHECK(stream_wait(&s, "event: typing\ndata: {\"on\":true,\"agent\":{\"name\":\"Ann Agent\"}}",
                      5000));
    json_object_put(api(ann_tok, "POST", path, "{}", &st));
    CHECK_INT(st, 400);
    free(path);
    path = og_sprintf("/sessions/%s/messages", ses);
    json_object *m = api(ann_tok, "POST", path, "{\"text\":\"On its way <b>today</b>\"}", &st);
    CHECK_INT(st, 202); /* queued for sending */
    char reply_id[48];
    snprintf(reply_id, sizeof reply_id, "%s", at(m, "id"));
    json_object_put(m);
    free(path);
    char *want = og_sprintf("id: %s\nevent: message\n", reply_id);
    CHECK(stream_wait(&s, want, 5000));
    free(want);
    CHECK(strstr(s.got.data, "\"text\":\"On its way <b>today<\\/b>\"") != NULL);
    CHECK(strstr(s.got.data, "\"sender\":{\"type\":\"agent\",\"name\":\"Ann Agent\"}") != NULL);
    CHECK(strstr(s.got.data, ann) == NULL); /* no agent id reaches the visitor */
    /* the agent reads the conversation: the visitor gets a read receipt */
    path = og_sprintf("/sessions/%s/messages", ses);
    json_object_put(api(ann_tok, "GET", path, NULL, &st));
    CHECK_INT(st, 200);
    free(path);
    want = og_sprintf("event: read\ndata: {\"until\":\"%s\"}", reply_id);
    CHECK(stream_wait(&s, want, 5000));
    free(want);

    /* the visitor types: the agents' stream shows it */
    int afd = og_test_raw_connect(NULL, d.port);
    char *req = og_sprintf("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           "%s\r\n\r\n",
                           ann_tok);
    og_test_raw_send(afd, req, (size_t)-1);
    free(req);
    struct stream as = {afd, {0}};
    CHECK(stream_wait(&as, "retry:", 3000));
    CHECK_INT(wc_status(tok, "POST", "/typing", "{\"on\":true}"), 204);
    CHECK_INT(wc_status(tok, "POST", "/typing", "{\"on\":\"yes\"}"), 400);
    CHECK(stream_wait(&as, "event: session.typing", 5000));
    CHECK(as.got.data && strstr(as.got.data, "\"by\":\"contact\"") != NULL);
    stream_close(&as);

    /* read: the agent's message is read (message.read through the status path) */
    char *body = og_sprintf("{\"until\":\"%s\"}", reply_id);
    CHECK_INT(wc_status(tok, "POST", "/read", body), 204);
    free(body);
    path = og_sprintf("/sessions/%s/messages", ses);
    int read = 0;
    for (int i = 0; i < 50 && !read; i++) {
        m = api(NULL, "GET", path, NULL, &st);
        int n = arr_len(m, "items");
        for (int k = 0; k < n; k++) {
            json_object *it =
                json_object_array_get_idx(json_object_object_get(m, "items"), (size_t)k);
            if (!strcmp(at(it, "id"), reply_id) && !strcmp(at(it, "status"), "read"))
                read = 1;
        }
        json_object_put(m);
        if (!read)
            usleep(100000);
    }
    CHECK(read);
    free(path);

    /* a second tab with Last-Event-ID gets what came after it */
    struct stream s2;
    CHECK_INT(stream_open(&s2, tok, first_mid), 0);
    want = og_sprintf("id: %s\nevent: message\n", reply_id);
    CHECK(stream_wait(&s2, want, 3000));
    free(want);
    want = og_sprintf("id: %s\n", first_mid);
    CHECK(strstr(s2.got.data, want) == NULL); /* not the one it already had */
    free(want);

    /* five streams per token: the sixth is 429 */
    struct stream more[3];
    for (int i = 0; i < 3; i++) {
        stream_open(&more[i], tok, NULL);
        CHECK(stream_wait(&more[i], "retry: 2000", 3000));
    }
    struct resp r = wc(ORIGIN, tok, "GET", "/events", NULL);
    CHECK_INT(r.status, 429);
    resp_free(&r);
    /* a closed tab frees its place */
    stream_close(&more[2]);
    int reopened = 0;
    for (int i = 0; i < 30 && !reopened; i++) {
        usleep(100000);
        struct stream again;
        stream_open(&again, tok, NULL);
        reopened = stream_wait(&again, "retry: 2000", 1000);
        stream_close(&again);
    }
    CHECK(reopened);
    for (int i = 0; i < 2; i++)
        stream_close(&more[i]);
    stream_close(&s2);

    /* the visitor ends the conversation: closed with the survey offered */
    r = wc(ORIGIN, tok, "POST", "/close", NULL);
    CHECK_INT(r.status, 200);
    CHECK_STR(at(r.j, "session.status"), "closed");
    resp_free(&r);
    CHECK(stream_wait(&s, "event: closed\ndata: {\"closing_text\":\"Thanks, bye!\",\"csat\":true}",
                      5000));
    CHECK_INT(wc_status(tok, "POST", "/close", NULL), 404); /* nothing open */
    stream_close(&s);
    path = og_sprintf("/sessions/%s/timeline", ses);
    json_object *tl = api(NULL, "GET", path, NULL, &st);
    const char *tls = json_object_to_json_string_ext(tl, JSON_C_TO_STRING_PLAIN);
    CHECK(strstr(tls, "\"kind\":\"closed\",\"by\":{\"type\":\"contact\"") != NULL);
    json_object_put(tl);
    free(path);
}

/* System messages of auto_text kind in the session's history. */
static int auto_texts(const char *ses, const char *kind)
{
    long st;
    char *path = og_sprintf("/sessions/%s/messages?limit=200", ses);
    json_object *m = api(NULL, "GET", path, NULL, &st), *items = NULL;
    free(path);
    int n = 0;
    json_object_object_get_ex(m, "items", &items);
    for (size_t i = 0; items && i < json_object_array_length(items); i++)
        if (!strcmp(at(json_object_array_get_idx(items, i), "auto_text"), kind))
            n++;
    json_object_put(m);
    return n;
}

static void test_csat(const char *tok, const char *ses)
{
    /* on close the widget shows the survey: it is not also sent as a message */
    char *texts = redis("HGET {og}:texts site");
    CHECK(!texts || !strstr(texts, "csat"));
    free(texts);
    usleep(1200000);
    CHECK_INT(auto_texts(ses, "csat"), 0);
    CHECK_INT(wc_status(tok, "POST", "/csat", "{\"score\":6}"), 400);
    CHECK_INT(wc_status(tok, "POST", "/csat", "{\"score\":0}"), 400);
    CHECK_INT(wc_status(tok, "POST", "/csat", "{\"score\":\"5\"}"), 400);
    struct resp r = wc(ORIGIN, tok, "POST", "/csat", "{\"score\":4,\"comment\":\"Quick <i>\"}");
    CHECK_INT(r.status, 201);
    CHECK_STR(at(r.j, "csat.score"), "4");
    CHECK_STR(at(r.j, "csat.scale"), "5");
    CHECK_STR(at(r.j, "csat.comment"), "Quick <i>");
    resp_free(&r);
    r = wc(ORIGIN, tok, "POST", "/csat", "{\"score\":1}");
    CHECK_INT(r.status, 409);
    CHECK_STR(at(r.j, "error.code"), "already_rated");
    resp_free(&r);
    long st;
    char *path = og_sprintf("/sessions/%s", ses);
    json_object *s = api(NULL, "GET", path, NULL, &st);
    CHECK_STR(at(s, "csat.score"), "4"); /* the first answer stays */
    CHECK_STR(at(s, "csat.comment"), "Quick <i>");
    json_object_put(s);
    free(path);
    path = og_sprintf("/sessions/%s/timeline", ses);
    json_object *tl = api(NULL, "GET", path, NULL, &st);
    CHECK(strstr(json_object_to_json_string_ext(tl, JSON_C_TO_STRING_PLAIN), "\"kind\":\"csat\"") !=
          NULL);
    json_object_put(tl);
    free(path);
    /* a message reopens the conversation */
    r = wc(ORIGIN, tok, "POST", "/messages", "{\"text\":\"one more thing\"}");
    CHECK_INT(r.status, 201);
    resp_free(&r);
    r = wc(ORIGIN, tok, "GET", "/messages", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    char *t = og_sprintf("{\"token\":\"%s\"}", tok);
    r = wc(ORIGIN, NULL, "POST", "/start", t);
    CHECK_STR(at(r.j, "session.id"), ses);
    CHECK(strcmp(at(r.j, "session.status"), "closed") != 0);
    resp_free(&r);
    free(t);
}

/* csat.on "silence" on a web chat channel: the survey comes as a message in
 * the conversation 2 s after the agent's reply, and the visitor's "5" is the
 * rating (the session stays as it was). */
static void test_csat_silence(void)
{
    struct resp r = wc_on("quiet", ORIGIN, NULL, "POST", "/start",
                          "{\"name\":\"Quiet Visitor\",\"question\":\"hello\"}");
    CHECK_INT(r.status, 201);
    char tok[64], ses[48];
    snprintf(tok, sizeof tok, "%s", at(r.j, "token"));
    snprintf(ses, sizeof ses, "%s", at(r.j, "session.id"));
    resp_free(&r);
    char *agent = NULL;
    for (int i = 0; i < 100; i++) { /* Ann is online since test_stream */
        char *k = og_sprintf("HGET {og}:ses:%s agent_id", ses);
        agent = redis(k);
        free(k);
        if (agent && !strncmp(agent, ann, strlen(ann)))
            break;
        free(agent);
        agent = NULL;
        usleep(50000);
    }
    CHECK(agent != NULL);
    free(agent);
    long st;
    char *path = og_sprintf("/sessions/%s/messages", ses);
    json_object_put(api(ann_tok, "POST", path, "{\"text\":\"Here you are.\"}", &st));
    CHECK_INT(st, 202);
    free(path);
    int n = 0;
    for (int i = 0; i < 120 && (n = auto_texts(ses, "csat")) < 1; i++)
        usleep(50000);
    CHECK_INT(n, 1);
    r = wc_on("quiet", ORIGIN, tok, "POST", "/messages", "{\"text\":\"5\"}");
    CHECK_INT(r.status, 201);
    resp_free(&r);
    path = og_sprintf("/sessions/%s", ses);
    json_object *s = api(NULL, "GET", path, NULL, &st);
    CHECK_STR(at(s, "csat.score"), "5");
    CHECK_STR(at(s, "csat.scale"), "5");
    CHECK_STR(at(s, "status"), "awaiting"); /* the answer is no message for the agent */
    json_object_put(s);
    free(path);
}

static void test_offline(void)
{
    CHECK_INT(wc_status(NULL, "POST", "/offline", "{\"text\":\"call me\"}"), 400);
    struct resp r =
        wc(ORIGIN, NULL, "POST", "/offline",
           "{\"name\":\"Cy\",\"email\":\"cy@example.com\",\"text\":\"Please call me\"}");
    CHECK_INT(r.status, 201);
    CHECK_INT(strlen(at(r.j, "token")), 43);
    /* queued for routing; Ann is online (since test_stream), so routing may
     * have given it to her before the answer was rendered */
    const char *status = at(r.j, "session.status");
    CHECK(!strcmp(status, "queued") || !strcmp(status, "active"));
    char sid[48];
    snprintf(sid, sizeof sid, "%s", at(r.j, "session.id"));
    resp_free(&r);
    long st;
    char *path = og_sprintf("/sessions/%s", sid);
    json_object *s = api(NULL, "GET", path, NULL, &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(s, "contact.email"), "cy@example.com");
    CHECK_STR(at(s, "contact.name"), "Cy");
    json_object_put(s);
    free(path);
}

/* A file upload as the widget sends it. */
static struct resp upload(const char *tok, const char *type, const char *name, const char *cid,
                          const char *data, size_t len)
{
    char *url = og_sprintf("%s/webchat/site/attachments", d.base);
    struct og_buf h = {0};
    og_buf_printf(&h, "Origin: " ORIGIN "\nAuthorization: Bearer %s\n", tok);
    if (type)
        og_buf_printf(&h, "Content-Type: %s\n", type);
    if (name)
        og_buf_printf(&h, "X-Filename: %s\n", name);
    if (cid)
        og_buf_printf(&h, "X-Client-Id: %s\n", cid);
    struct og_test_resp r = og_test_http("POST", url, h.data, data, len);
    struct resp out = {r.status, json_tokener_parse(r.body), r.body};
    og_buf_free(&h);
    free(url);
    return out;
}

static void test_files(void)
{
    char tok[64], con[48], ses[48], tok2[64], con2[48], ses2[48];
    start("{\"name\":\"Fi\",\"question\":\"see the picture\"}", tok, con, ses);
    start("{\"name\":\"Other\"}", tok2, con2, ses2);
    static const char png[] = "\x89PNG\r\n\x1a\n-not-really-an-image-\xff\xfe";
    size_t plen = sizeof png - 1;
    int before = session_messages(ses); /* the question */
    CHECK_INT(before, 1);
    struct resp r = upload(tok, "application/x-msdownload", "a.exe", NULL, png, plen);
    CHECK_INT(r.status, 415);
    CHECK_STR(at(r.j, "error.code"), "unsupported_media_type");
    resp_free(&r);
    r = upload(tok, NULL, "a.png", NULL, png, plen);
    CHECK_INT(r.status, 415);
    resp_free(&r);
    char big[1200];
    memset(big, 'x', sizeof big);
    r = upload(tok, "text/plain", "big.txt", NULL, big, sizeof big);
    CHECK_INT(r.status, 413); /* over the channel's max=1000 */
    resp_free(&r);
    CHECK_INT(session_messages(ses), before); /* refused: nothing stored */

    r = upload(tok, "image/PNG; charset=binary", "..%2F..%2Fetc%2Fp%C3%A4sswd.png", "file-1", png,
               plen);
    CHECK_INT(r.status, 201);
    CHECK_STR(at(r.j, "message.kind"), "image");
    CHECK_STR(at(r.j, "message.attachments.0.name"), "pässwd.png"); /* no path */
    CHECK_STR(at(r.j, "message.attachments.0.type"), "image/png");
    CHECK_STR(at(r.j, "message.attachments.0.size"), "31");
    char fid[64], furl[128], mid[48];
    snprintf(fid, sizeof fid, "%s", at(r.j, "message.attachments.0.id"));
    snprintf(furl, sizeof furl, "%s", at(r.j, "message.attachments.0.url"));
    snprintf(mid, sizeof mid, "%s", at(r.j, "message.id"));
    resp_free(&r);
    CHECK(strncmp(fid, "fil_", 4) == 0);
    char *want = og_sprintf("/webchat/site/attachments/%s", fid);
    CHECK_STR(furl, want);
    free(want);
    /* the same X-Client-Id again: the same message, the file stored once */
    char *files0 = redis("--scan --pattern *wc:file:*");
    r = upload(tok, "image/png", "p.png", "file-1", png, plen);
    CHECK_INT(r.status, 200);
    CHECK_STR(at(r.j, "message.id"), mid);
    resp_free(&r);
    char *files1 = redis("--scan --pattern *wc:file:*");
    CHECK_STR(files1, files0);
    free(files0), free(files1);

    /* the visitor gets its file back; another visitor does not */
    char *url = og_sprintf("%s/webchat/site/attachments/%s", d.base, fid);
    char *h = og_sprintf("Origin: " ORIGIN "\nAuthorization: Bearer %s", tok);
    struct og_test_resp g = og_test_http("GET", url, h, NULL, 0);
    CHECK_INT(g.status, 200);
    CHECK(g.body && memcmp(g.body, png, plen) == 0);
    free(g.body), free(h);
    h = og_sprintf("Origin: " ORIGIN "\nAuthorization: Bearer %s", tok2);
    g = og_test_http("GET", url, h, NULL, 0);
    CHECK_INT(g.status, 404);
    free(g.body), free(h), free(url);
    /* the agents get it through the API, as an attachment */
    url = og_sprintf("%s/api/v1/files/%s", d.base, fid);
    g = og_test_http("GET", url, "Authorization: Bearer " OG_TEST_ADMIN_TOKEN, NULL, 0);
    CHECK_INT(g.status, 200);
    CHECK(g.body && memcmp(g.body, png, plen) == 0);
    free(g.body), free(url);
    char *raw = og_sprintf(
        "GET /api/v1/files/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " OG_TEST_ADMIN_TOKEN
        "\r\nConnection: close\r\n\r\n",
        fid);
    char *out = raw_request(raw);
    CHECK(strstr(out, "Content-Disposition: attachment; filename*=UTF-8''p%C3%A4sswd.png") != NULL);
    CHECK(strstr(out, "X-Content-Type-Options: nosniff") != NULL);
    free(out), free(raw);
    /* and through the message's attachment route (the connector's
     * fetch_media, ABI 1.3), typed by its bytes */
    raw = og_sprintf("GET /api/v1/messages/%s/attachments/0 HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\r\nConnection: close\r\n\r\n",
                     mid);
    out = raw_request(raw);
    CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(out, "Content-Type: image/png\r\n") != NULL);
    CHECK(strstr(out, "filename*=UTF-8''p%C3%A4sswd.png") != NULL);
    const char *bodyp = strstr(out, "\r\n\r\n");
    CHECK(bodyp && memcmp(bodyp + 4, png, plen) == 0);
    free(out), free(raw);
    long st;
    json_object_put(api(NULL, "GET", "/files/fil_00000000000000000000000000", NULL, &st));
    CHECK_INT(st, 404);
}

/* POST /start from a client address (X-Forwarded-For through the trusted
 * proxy 127.0.0.1): the status. */
static long start_from(const char *addr)
{
    char *url = og_sprintf("%s/webchat/site/start", d.base);
    char *h =
        og_sprintf("Origin: " ORIGIN "\nX-Forwarded-For: %s\nContent-Type: application/json", addr);
    const char *body = "{\"name\":\"Ip\"}";
    struct og_test_resp r = og_test_http("POST", url, h, body, strlen(body));
    free(url), free(h), free(r.body);
    return r.status;
}

/* Per client address: 60 storing requests in 10 s, an IPv6 client counted
 * by its /64; nothing stored past the limit. */
static void test_address_limit(void)
{
    int ok = 0;
    for (int i = 0; i < 60; i++)
        ok += start_from("203.0.113.9") == 201;
    CHECK_INT(ok, 60);
    int before = contacts();
    CHECK_INT(start_from("203.0.113.9"), 429);
    CHECK_INT(contacts(), before);              /* refused: no contact stored */
    CHECK_INT(start_from("203.0.113.10"), 201); /* another address */
    ok = 0;
    for (int i = 0; i < 60; i++) {
        char a[64];
        snprintf(a, sizeof a, "2001:db8:1:2::%x", i + 1);
        ok += start_from(a) == 201;
    }
    CHECK_INT(ok, 60);
    CHECK_INT(start_from("2001:db8:1:2:ffff:ffff:ffff:fff0"), 429); /* the same /64 */
    CHECK_INT(start_from("2001:db8:1:3::1"), 201);                  /* another /64 */
}

static int session_messages(const char *ses)
{
    long st;
    char *path = og_sprintf("/sessions/%s/messages?limit=200", ses);
    json_object *m = api(NULL, "GET", path, NULL, &st);
    json_object *items = json_object_object_get(m, "items");
    /* -1 while the daemon cannot answer (Redis restarting) */
    int n = json_object_is_type(items, json_type_array) ? (int)json_object_array_length(items) : -1;
    json_object_put(m);
    free(path);
    return n;
}

static void test_flood_and_restart(void)
{
    char tok[64], con[48], ses[48];
    start("{\"name\":\"Flo\",\"question\":\"q\"}", tok, con, ses);
    int ok = 0, limited = 0;
    for (int i = 0; i < 30; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"text\":\"m%d\",\"client_id\":\"flood-%d\"}", i, i);
        long st = wc_status(tok, "POST", "/messages", body);
        ok += st == 201;
        limited += st == 429;
    }
    CHECK_INT(ok, 20); /* 20 per token in 10 s */
    CHECK_INT(limited, 10);
    CHECK_INT(session_messages(ses), 21); /* the question and the 20: nothing past the limit */
    char *req = og_sprintf("POST /webchat/site/messages HTTP/1.1\r\nHost: x\r\n"
                           "Origin: " ORIGIN "\r\nAuthorization: Bearer %s\r\n"
                           "Content-Length: 12\r\nConnection: close\r\n\r\n"
                           "{\"text\":\"x\"}",
                           tok);
    char *out = raw_request(req);
    free(req);
    CHECK(strstr(out, " 429 ") != NULL && strstr(out, "Retry-After: ") != NULL);
    free(out);

    /* a restart of omnigate loses no message that got a 2xx */
    og_test_daemon_kill(&d);
    CHECK_INT(og_test_daemon_restart(&d), 0);
    CHECK_INT(session_messages(ses), 21);
    /* nor does Redis killed and restarted (its AOF is fsynced before the 2xx) */
    og_test_redis_kill(&rs);
    CHECK_INT(og_test_redis_restart(&rs), 0);
    int n = -1;
    for (int i = 0; i < 50 && n != 21; i++) {
        n = session_messages(ses);
        if (n != 21)
            usleep(100000);
    }
    CHECK_INT(n, 21);
    char *t = og_sprintf("{\"token\":\"%s\"}", tok);
    struct resp r = wc(ORIGIN, NULL, "POST", "/start", t);
    CHECK_INT(r.status, 200);
    CHECK_INT(arr_len(r.j, "messages"), 21);
    resp_free(&r);
    free(t);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    const char *channels =
        "[{\"id\":\"site\",\"connector\":\"webchat\",\"options\":{\"allowed_origins\":\"" ORIGIN
        " http://other.example\",\"title\":\"Shop "
        "chat\",\"pre_chat\":\"name*,email,phone,question\","
        "\"closing_text\":\"Thanks, bye!\",\"theme\":\"#112233 left\","
        "\"attachments\":\"image/png,text/plain max=1000\"},"
        "\"csat\":{\"scale\":5,\"comment\":true}},"
        "{\"id\":\"quiet\",\"connector\":\"webchat\",\"options\":{\"allowed_origins\":\"" ORIGIN
        "\"},\"csat\":{\"scale\":5,\"on\":\"silence\",\"silence_s\":2}}]";
    if (og_test_daemon_start(
            &d, rs.url, channels,
            "\"http\":{\"max_body_bytes\":32768,\"trusted_proxies\":[\"127.0.0.1\"]}") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    long st;
    json_object *j =
        api(NULL, "POST", "/agents", "{\"name\":\"Ann Agent\",\"email\":\"ann@o.io\"}", &st);
    snprintf(ann, sizeof ann, "%s", at(j, "agent.id"));
    snprintf(ann_tok, sizeof ann_tok, "%s", at(j, "token"));
    json_object_put(j);

    char tok[64], con[48], ses[48], mid[48];
    test_demo_off();
    test_origins();
    test_start_resume(tok, con, ses);
    test_send(tok, ses, mid);
    test_other_visitor(mid);
    test_stream(tok, ses, mid);
    test_csat(tok, ses);
    test_csat_silence();
    test_offline();
    test_files();
    test_address_limit();
    test_flood_and_restart();
    /* visitors' messages and files: the pages (C) carry each as its event
     * (Lua) did */
    CHECK(og_test_messages_agree(&d, rs.port) > 0);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
