/* test_buttons - reply buttons out and taps in on every connector that has
 * them, through the daemon, a real redis-server and one fake platform API
 * serving Telegram, LINE, VK, WhatsApp and Messenger paths:
 *   - {"text","buttons":[{"id","title"}]} on a reply is rendered as the
 *     platform's own shape (Telegram inline_keyboard, LINE quickReply with
 *     postback actions, VK inline keyboard, WhatsApp interactive reply
 *     buttons, Messenger quick_replies): the exact request body the fake got
 *     is compared;
 *   - the customer's tap, posted in the platform's webhook shape (Telegram
 *     callback_query, answered with answerCallbackQuery in the webhook's
 *     answer; LINE postback; VK message_new with payload; WhatsApp
 *     interactive.button_reply; Messenger message.quick_reply), is stored as
 *     an inbound message with payload = the button's id, text = its title;
 *   - the platforms' limits: too many buttons, a title or an id too long, a
 *     channel without buttons, buttons without text: 400 naming the limit,
 *     nothing stored;
 *   - a Telegram channel in polling mode stores the tap and answers it with
 *     answerCallbackQuery;
 *   - the satisfaction survey on a Telegram channel goes out with one button
 *     a score (csat:1..csat:5) when the session closes, and a tap rates the
 *     session. */
#include "../connectors/meta_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TG_TOKEN "777:btn-token"
#define POLL_TOKEN "888:btn-poll"
#define TG_SECRET "btn_tg_secret"
#define LINE_SECRET "btn-line-secret"
#define LINE_USER "U8d55942f87f2155f24550b7fe6eac9c0"
#define VK_SECRET "my_secret"
#define WA_SECRET "btn-wa-secret"
#define FB_SECRET "btn-fb-secret"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"
#define TWO_BUTTONS "[{\"id\":\"yes\",\"title\":\"Yes\"},{\"id\":\"no\",\"title\":\"No\"}]"

static struct og_test_redis rs;
static struct og_test_daemon d;
static struct og_fake *api;
static struct og_fake *poll_api; /* the polling channel's own: its requests never stop */

static int api_handler(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    (void)ud;
    r->status = 200;
    r->content_type = "application/json";
    if (strstr(q->url, "/bot" POLL_TOKEN "/getUpdates")) {
        /* one tap, until the poller confirms it with the next offset */
        if (!strstr(q->body, "\"offset\":777000002")) {
            r->body = "{\"ok\":true,\"result\":[{\"update_id\":777000001,\"callback_query\":{"
                      "\"id\":\"9382bfdwdsb323b777\",\"from\":{\"id\":3333333,\"is_bot\":false,"
                      "\"first_name\":\"Polly\"},\"message\":{\"message_id\":12,\"chat\":{\"id\":"
                      "3333333,\"type\":\"private\"},\"date\":1700000000,\"text\":\"Pick\","
                      "\"reply_markup\":{\"inline_keyboard\":[[{\"text\":\"Later\","
                      "\"callback_data\":\"later\"}]]}},\"chat_instance\":\"-3\",\"data\":"
                      "\"later\"}}]}";
        } else {
            r->body = "{\"ok\":true,\"result\":[]}";
            r->delay_ms = 200; /* a short long poll */
        }
    } else if (strstr(q->url, "/bot" POLL_TOKEN "/answerCallbackQuery"))
        r->body = "{\"ok\":true,\"result\":true}";
    else if (strstr(q->url, "/bot" TG_TOKEN "/sendMessage"))
        r->body = "{\"ok\":true,\"result\":{\"message_id\":77,\"chat\":{\"id\":1111111,"
                  "\"type\":\"private\"},\"date\":1700000000,\"text\":\"Pick one\"}}";
    else if (strstr(q->url, "/v2/bot/message/"))
        r->body = "{\"sentMessages\":[{\"id\":\"461230966842064897\",\"quoteToken\":\"q1\"}]}";
    else if (strstr(q->url, "/v2/bot/profile/"))
        r->body = "{\"displayName\":\"Taro\",\"userId\":\"" LINE_USER "\"}";
    else if (strstr(q->url, "/method/users.get"))
        r->body = "{\"response\":[{\"id\":22757746,\"first_name\":\"Pavel\",\"last_name\":"
                  "\"Durov\"}]}";
    else if (strstr(q->url, "/method/messages.send"))
        r->body = "{\"response\":1451}";
    else if (strstr(q->url, "/v25.0/106540352242922/messages"))
        r->body = "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.BTN\"}]}";
    else if (strstr(q->url, "/v25.0/110000000000001/messages"))
        r->body = "{\"recipient_id\":\"7001000000000001\",\"message_id\":\"m_BTN\"}";
    else
        return 0;
    return 1;
}

static char *fixture(const char *rel)
{
    char *r = og_sprintf("tests/connectors/fixtures/%s", rel);
    char *path = og_test_src(r);
    char *s = og_test_read_file(path, NULL);
    free(r), free(path);
    return s;
}

/* POSTs body to /hooks/<channel> with the channel's signature; the answer
 * [xfer] in *out when out is not NULL. */
static long hook(const char *channel, const char *body, char **out)
{
    char *h;
    size_t len = strlen(body);
    if (!strcmp(channel, "tg")) {
        h = og_sprintf("X-Telegram-Bot-Api-Secret-Token: %s\nContent-Type: application/json",
                       TG_SECRET);
    } else if (!strcmp(channel, "line")) {
        unsigned char mac[32];
        char sig[64];
        og_hmac_sha256(LINE_SECRET, strlen(LINE_SECRET), body, len, mac);
        og_base64_encode(mac, sizeof mac, sig, sizeof sig);
        h = og_sprintf("X-Line-Signature: %s\nContent-Type: application/json", sig);
    } else if (!strcmp(channel, "vk")) {
        h = og_sprintf("Content-Type: application/json");
    } else {
        char sig[80];
        meta_sign(!strcmp(channel, "wa") ? WA_SECRET : FB_SECRET, body, len, sig);
        h = og_sprintf("X-Hub-Signature-256: %s\nContent-Type: application/json", sig);
    }
    char *url = og_sprintf("%s/hooks/%s", d.base, channel);
    struct og_test_resp r = og_test_http("POST", url, h, body, len);
    free(h), free(url);
    if (out)
        *out = r.body;
    else
        free(r.body);
    return r.status;
}

static long hook_fixture(const char *channel, const char *rel)
{
    char *b = fixture(rel);
    long st = hook(channel, b ? b : "", NULL);
    free(b);
    return st;
}

static void session_of(const char *channel, char *sid)
{
    char *path = og_sprintf("/api/v1/sessions?channel=%s", channel);
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    const char *id = meta_jstr(l, "items.0.id");
    snprintf(sid, 48, "%s", id ? id : "");
    json_object_put(l);
}

static long reply(const char *sid, const char *body, char **out)
{
    char *url = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid);
    struct og_test_resp r = og_test_http("POST", url, AUTH, body, strlen(body));
    free(url);
    if (out)
        *out = r.body;
    else
        free(r.body);
    return r.status;
}

/* The newest request to a URL containing part, after index from; waits 5 s. */
static const struct og_fake_req *wait_req(size_t from, const char *part)
{
    for (int t = 0; t < 250; t++) {
        for (size_t i = og_fake_count(api); i > from; i--) {
            const struct og_fake_req *q = og_fake_get(api, i - 1);
            if (strstr(q->url, part))
                return q;
        }
        usleep(20000);
    }
    fprintf(stderr, "no request to %s\n", part);
    return NULL;
}

/* Requests so far to a URL containing part (the poller's run alongside). */
static size_t count_url(const char *part)
{
    size_t n = 0;
    for (size_t i = 0; i < og_fake_count(api); i++)
        n += strstr(og_fake_get(api, i)->url, part) != NULL;
    return n;
}

static void check_json(const char *got, const char *want)
{
    json_object *g = got ? json_tokener_parse(got) : NULL, *w = json_tokener_parse(want);
    int eq = g && w && json_object_equal(g, w);
    if (!eq)
        fprintf(stderr, "got  %s\nwant %s\n", got ? got : "(none)", want);
    CHECK(eq);
    json_object_put(g), json_object_put(w);
}

/* Sends a reply with two buttons on channel; returns the platform request's
 * body [xfer] (NULL when none came). */
static char *send_buttons(const char *sid, const char *url_part)
{
    size_t from = og_fake_count(api);
    char *out = NULL;
    CHECK_INT(reply(sid, "{\"text\":\"Pick one\",\"buttons\":" TWO_BUTTONS "}", &out), 202);
    json_object *m = json_tokener_parse(out);
    CHECK_STR(meta_jstr(m, "buttons.1.id"), "no");
    CHECK_STR(meta_jstr(m, "buttons.1.title"), "No");
    json_object_put(m);
    free(out);
    const struct og_fake_req *q = wait_req(from, url_part);
    return q ? og_strdup(q->body) : NULL;
}

/* The session's newest message has payload and text; its kind interactive. */
static void check_tap(const char *sid, const char *payload, const char *text)
{
    char *path = og_sprintf("/api/v1/sessions/%s/messages?limit=200", sid);
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    json_object *items = json_object_object_get(l, "items");
    size_t n = json_object_array_length(items);
    json_object *m = n ? json_object_array_get_idx(items, n - 1) : NULL;
    CHECK_STR(meta_jstr(m, "direction"), "in");
    CHECK_STR(meta_jstr(m, "kind"), "interactive");
    CHECK_STR(meta_jstr(m, "payload"), payload);
    CHECK_STR(meta_jstr(m, "text"), text);
    json_object_put(l);
}

/* A form field of an x-www-form-urlencoded body, decoded [xfer]. */
static char *form_field(const char *body, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = body; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            char *out = og_malloc(len + 1);
            size_t o = 0;
            for (size_t i = nl + 1; i < len; i++) {
                if (p[i] == '+') {
                    out[o++] = ' ';
                } else if (p[i] == '%' && i + 2 < len + 1) {
                    char hx[3] = {p[i + 1], p[i + 2], 0};
                    out[o++] = (char)strtol(hx, NULL, 16);
                    i += 2;
                } else {
                    out[o++] = p[i];
                }
            }
            out[o] = 0;
            return out;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static void test_telegram(void)
{
    CHECK_INT(hook_fixture("tg", "telegram/text.json"), 200);
    char sid[48];
    session_of("tg", sid);
    char *b = send_buttons(sid, "/sendMessage");
    check_json(b,
               "{\"chat_id\":1111111,\"text\":\"Pick one\",\"reply_markup\":{\"inline_keyboard\":"
               "[[{\"text\":\"Yes\",\"callback_data\":\"yes\"}],[{\"text\":\"No\","
               "\"callback_data\":\"no\"}]]}}");
    free(b);
    const char *tap =
        "{\"update_id\":815390200,\"callback_query\":{\"id\":\"4382bfdwdsb323b999\",\"from\":{"
        "\"id\":1111111,\"is_bot\":false,\"first_name\":\"Test\",\"last_name\":\"User\"},"
        "\"message\":{\"message_id\":77,\"from\":{\"id\":7777777,\"is_bot\":true,\"first_name\":"
        "\"Bot\"},\"chat\":{\"id\":1111111,\"type\":\"private\"},\"date\":1700000000,\"text\":"
        "\"Pick one\",\"reply_markup\":{\"inline_keyboard\":[[{\"text\":\"Yes\",\"callback_data\":"
        "\"yes\"}],[{\"text\":\"No\",\"callback_data\":\"no\"}]]}},\"chat_instance\":\"-1\","
        "\"data\":\"no\"}}";
    char *out = NULL;
    CHECK_INT(hook("tg", tap, &out), 200);
    check_json(out, "{\"method\":\"answerCallbackQuery\",\"callback_query_id\":"
                    "\"4382bfdwdsb323b999\"}");
    free(out);
    check_tap(sid, "no", "No");
    /* Telegram's callback_data is at most 64 bytes */
    char *big = og_sprintf("{\"text\":\"x\",\"buttons\":[{\"id\":\"%065d\",\"title\":\"t\"}]}", 0);
    CHECK_INT(reply(sid, big, &out), 400);
    CHECK(strstr(out, "buttons[0].id: telegram allows at most 64 bytes") != NULL);
    free(out), free(big);
}

static void test_line(void)
{
    CHECK_INT(hook_fixture("line", "line/text.json"), 200);
    char sid[48];
    session_of("line", sid);
    char *b = send_buttons(sid, "/v2/bot/message/");
    check_json(b,
               "{\"replyToken\":\"ec0186b265ef46dd87505db6249741f5\",\"messages\":[{\"type\":"
               "\"text\",\"text\":\"Pick one\",\"quickReply\":{\"items\":[{\"type\":\"action\","
               "\"action\":{\"type\":\"postback\",\"label\":\"Yes\",\"data\":"
               "\"{\\\"id\\\":\\\"yes\\\",\\\"title\\\":\\\"Yes\\\"}\",\"displayText\":\"Yes\"}},"
               "{\"type\":\"action\",\"action\":{\"type\":\"postback\",\"label\":\"No\","
               "\"data\":\"{\\\"id\\\":\\\"no\\\",\\\"title\\\":\\\"No\\\"}\",\"displayText\":"
               "\"No\"}}]}}]}");
    /* the tap: a postback carrying the data we sent */
    json_object *sent = b ? json_tokener_parse(b) : NULL;
    const char *data = meta_jstr(sent, "messages.0.quickReply.items.0.action.data");
    json_object *ev = json_tokener_parse(
        "{\"destination\":\"Ucb2c792cebe7c9ba974a01d62b0e8b24\",\"events\":[{\"type\":"
        "\"postback\",\"postback\":{},\"webhookEventId\":\"01K1X3GJT3NC0ZNPDA6D3BDJQ1\","
        "\"deliveryContext\":{\"isRedelivery\":false},\"timestamp\":1754397199000,\"source\":"
        "{\"type\":\"user\",\"userId\":\"" LINE_USER "\"},\"replyToken\":"
        "\"bb0186b265ef46dd87505db6249741f5\",\"mode\":\"active\"}]}");
    json_object *pb = json_object_object_get(
        json_object_array_get_idx(json_object_object_get(ev, "events"), 0), "postback");
    json_object_object_add(pb, "data", json_object_new_string(data ? data : ""));
    CHECK_INT(hook("line", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN), NULL), 200);
    json_object_put(ev), json_object_put(sent);
    free(b);
    check_tap(sid, "yes", "Yes");
    char *out = NULL;
    CHECK_INT(reply(sid,
                    "{\"text\":\"x\",\"buttons\":[{\"id\":\"a\",\"title\":"
                    "\"abcdefghijklmnopqrstu\"}]}",
                    &out),
              400);
    CHECK(strstr(out, "buttons[0].title: line allows at most 20 characters") != NULL);
    free(out);
}

static void test_vk(void)
{
    CHECK_INT(hook_fixture("vk", "vk/text.json"), 200);
    char sid[48];
    session_of("vk", sid);
    char *b = send_buttons(sid, "/method/messages.send");
    char *kb = b ? form_field(b, "keyboard") : NULL;
    check_json(kb,
               "{\"inline\":true,\"buttons\":[[{\"action\":{\"type\":\"text\",\"label\":"
               "\"Yes\",\"payload\":\"{\\\"button\\\":\\\"yes\\\"}\"},\"color\":\"secondary\"}],"
               "[{\"action\":{\"type\":\"text\",\"label\":\"No\",\"payload\":"
               "\"{\\\"button\\\":\\\"no\\\"}\"},\"color\":\"secondary\"}]]}");
    char *msg = b ? form_field(b, "message") : NULL;
    CHECK_STR(msg, "Pick one");
    free(kb), free(msg), free(b);
    const char *tap =
        "{\"type\":\"message_new\",\"event_id\":\"30a812cb0e42e89e4fbe5f49df1600e1e79983ad\","
        "\"v\":\"5.199\",\"group_id\":199493573,\"secret\":\"" VK_SECRET "\",\"object\":{"
        "\"message\":{\"date\":1634665200,\"from_id\":22757746,\"id\":1452,\"out\":0,"
        "\"attachments\":[],\"conversation_message_id\":1385,\"fwd_messages\":[],\"important\":"
        "false,\"is_hidden\":false,\"peer_id\":22757746,\"random_id\":0,\"text\":\"Yes\","
        "\"payload\":\"{\\\"button\\\":\\\"yes\\\"}\"},\"client_info\":{\"button_actions\":["
        "\"text\"],\"keyboard\":true,\"inline_keyboard\":true,\"carousel\":true,\"lang_id\":0}}}";
    CHECK_INT(hook("vk", tap, NULL), 200);
    check_tap(sid, "yes", "Yes");
    char *out = NULL;
    CHECK_INT(
        reply(sid,
              "{\"text\":\"x\",\"buttons\":[{\"id\":\"1\",\"title\":\"1\"},{\"id\":\"2\","
              "\"title\":\"2\"},{\"id\":\"3\",\"title\":\"3\"},{\"id\":\"4\",\"title\":\"4\"},"
              "{\"id\":\"5\",\"title\":\"5\"},{\"id\":\"6\",\"title\":\"6\"},{\"id\":\"7\","
              "\"title\":\"7\"}]}",
              &out),
        400);
    CHECK(strstr(out, "vk allows at most 6 buttons") != NULL);
    free(out);
}

static void test_whatsapp(void)
{
    char *b0 = fixture("whatsapp/text.json");
    CHECK_INT(hook("wa", b0 ? b0 : "", NULL), 200);
    free(b0);
    char sid[48];
    session_of("wa", sid);
    char *b = send_buttons(sid, "/v25.0/106540352242922/messages");
    check_json(b, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":"
                  "\"16505551234\",\"type\":\"interactive\",\"interactive\":{\"type\":\"button\","
                  "\"body\":{\"text\":\"Pick one\"},\"action\":{\"buttons\":[{\"type\":\"reply\","
                  "\"reply\":{\"id\":\"yes\",\"title\":\"Yes\"}},{\"type\":\"reply\",\"reply\":{"
                  "\"id\":\"no\",\"title\":\"No\"}}]}}}");
    free(b);
    const char *tap =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
        "\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
        "\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"106540352242922\"},"
        "\"contacts\":[{\"profile\":{\"name\":\"Sheena Nelson\"},\"wa_id\":\"16505551234\"}],"
        "\"messages\":[{\"context\":{\"from\":\"15550783881\",\"id\":\"wamid.BTN\"},\"from\":"
        "\"16505551234\",\"id\":\"wamid.TAP1\",\"timestamp\":\"1749416400\",\"type\":"
        "\"interactive\",\"interactive\":{\"type\":\"button_reply\",\"button_reply\":{\"id\":"
        "\"yes\",\"title\":\"Yes\"}}}]},\"field\":\"messages\"}]}]}";
    CHECK_INT(hook("wa", tap, NULL), 200);
    check_tap(sid, "yes", "Yes");
    /* 4 to 10 buttons: a list */
    size_t from = og_fake_count(api);
    char *out = NULL;
    CHECK_INT(reply(sid,
                    "{\"text\":\"Rate us\",\"buttons\":[{\"id\":\"r1\",\"title\":\"1\"},{\"id\":"
                    "\"r2\",\"title\":\"2\"},{\"id\":\"r3\",\"title\":\"3\"},{\"id\":\"r4\","
                    "\"title\":\"4\"}]}",
                    &out),
              202);
    free(out);
    const struct og_fake_req *q = wait_req(from, "/v25.0/106540352242922/messages");
    check_json(q ? q->body : NULL,
               "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":"
               "\"16505551234\",\"type\":\"interactive\",\"interactive\":{\"type\":\"list\","
               "\"body\":{\"text\":\"Rate us\"},\"action\":{\"button\":\"Choose\",\"sections\":"
               "[{\"rows\":[{\"id\":\"r1\",\"title\":\"1\"},{\"id\":\"r2\",\"title\":\"2\"},"
               "{\"id\":\"r3\",\"title\":\"3\"},{\"id\":\"r4\",\"title\":\"4\"}]}]}}}");
    const char *pick =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
        "\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
        "\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"106540352242922\"},"
        "\"contacts\":[{\"profile\":{\"name\":\"Sheena Nelson\"},\"wa_id\":\"16505551234\"}],"
        "\"messages\":[{\"from\":\"16505551234\",\"id\":\"wamid.TAP2\",\"timestamp\":"
        "\"1749416500\",\"type\":\"interactive\",\"interactive\":{\"type\":\"list_reply\","
        "\"list_reply\":{\"id\":\"r4\",\"title\":\"4\"}}}]},\"field\":\"messages\"}]}]}";
    CHECK_INT(hook("wa", pick, NULL), 200);
    check_tap(sid, "r4", "4");
    size_t before = count_url("/v25.0/106540352242922/messages");
    char *eleven = og_strdup("{\"text\":\"x\",\"buttons\":[");
    for (int i = 0; i < 11; i++) {
        char *n = og_sprintf("%s%s{\"id\":\"b%d\",\"title\":\"B\"}", eleven, i ? "," : "", i);
        free(eleven);
        eleven = n;
    }
    char *body11 = og_sprintf("%s]}", eleven);
    CHECK_INT(reply(sid, body11, &out), 400);
    CHECK(strstr(out, "buttons: whatsapp allows at most 10 buttons on a message") != NULL);
    free(out), free(eleven), free(body11);
    CHECK_INT(reply(sid, "{\"buttons\":" TWO_BUTTONS "}", &out), 400);
    CHECK(strstr(out, "text, attachments or template is required") != NULL);
    free(out);
    CHECK_INT(reply(sid,
                    "{\"text\":\"x\",\"buttons\":[{\"id\":\"a\",\"title\":\"A\"},"
                    "{\"id\":\"a\",\"title\":\"B\"}]}",
                    &out),
              400);
    CHECK(strstr(out, "repeats") != NULL);
    free(out);
    CHECK_INT(reply(sid, "{\"text\":\"x\",\"buttons\":[{\"id\":\"a\",\"title\":\"A\\nB\"}]}", &out),
              400);
    CHECK(strstr(out, "buttons[0].title must be one line") != NULL);
    free(out);
    usleep(200000);
    CHECK_INT(count_url("/v25.0/106540352242922/messages"), before); /* nothing sent */
}

static void test_facebook(void)
{
    char *b0 = fixture("facebook/text.json");
    CHECK_INT(hook("fb", b0 ? b0 : "", NULL), 200);
    free(b0);
    char sid[48];
    session_of("fb", sid);
    char *b = send_buttons(sid, "/v25.0/110000000000001/messages");
    check_json(b, "{\"recipient\":{\"id\":\"7001000000000001\"},\"messaging_type\":\"RESPONSE\","
                  "\"message\":{\"text\":\"Pick one\",\"quick_replies\":[{\"content_type\":"
                  "\"text\",\"title\":\"Yes\",\"payload\":\"yes\"},{\"content_type\":\"text\","
                  "\"title\":\"No\",\"payload\":\"no\"}]}}");
    free(b);
    const char *tap =
        "{\"object\":\"page\",\"entry\":[{\"id\":\"110000000000001\",\"time\":1458692752500,"
        "\"messaging\":[{\"sender\":{\"id\":\"7001000000000001\"},\"recipient\":{\"id\":"
        "\"110000000000001\"},\"timestamp\":1458692752500,\"message\":{\"mid\":"
        "\"m_TAP1\",\"text\":\"No\",\"quick_reply\":{\"payload\":\"no\"}}}]}]}";
    CHECK_INT(hook("fb", tap, NULL), 200);
    check_tap(sid, "no", "No");
}

/* GET /api/v1/meta tells a client each channel's buttons, tags and templates. */
static void test_meta(void)
{
    long st;
    json_object *m = og_test_api_get(&d, "/api/v1/meta", &st);
    CHECK_INT(st, 200);
    json_object *chs = json_object_object_get(m, "channels");
    int seen = 0;
    for (size_t i = 0; i < json_object_array_length(chs); i++) {
        json_object *c = json_object_array_get_idx(chs, i);
        const char *id = meta_jstr(c, "id");
        if (!strcmp(id, "wa")) {
            seen++;
            CHECK_STR(meta_jstr(c, "buttons.max"), "10");
            CHECK_STR(meta_jstr(c, "buttons.title_max"), "20");
            CHECK_STR(meta_jstr(c, "templates"), "true");
            CHECK_STR(meta_jstr(c, "tag_window_ms"), "0");
        } else if (!strcmp(id, "fb")) {
            seen++;
            CHECK_STR(meta_jstr(c, "buttons.max"), "13");
            CHECK_STR(meta_jstr(c, "tag_window_ms"), "604800000");
            CHECK_STR(meta_jstr(c, "templates"), "false");
        } else if (!strcmp(id, "demo")) {
            seen++;
            json_object *b = NULL;
            CHECK(json_object_object_get_ex(c, "buttons", &b) && b == NULL);
        }
    }
    CHECK_INT(seen, 3);
    json_object_put(m);
}

/* signed_json declares no buttons (max_buttons 0): refused, nothing stored. */
static void test_no_buttons(void)
{
    const char *in = "{\"id\":\"in-1\",\"from\":{\"id\":\"u-1\"},\"text\":\"hi\"}";
    CHECK_INT(og_test_post_signed(&d, "demo", "sj-secret", in, strlen(in)), 200);
    char sid[48], *out = NULL;
    session_of("demo", sid);
    CHECK_INT(reply(sid, "{\"text\":\"x\",\"buttons\":" TWO_BUTTONS "}", &out), 400);
    CHECK(strstr(out, "buttons: channel demo (signed_json) has no buttons") != NULL);
    free(out);
}

/* Polling mode: the tap is stored and answered with answerCallbackQuery. */
static void test_polling(void)
{
    char *body = NULL;
    for (int t = 0; t < 250 && !body; t++) { /* copied under the fake's lock */
        body = og_fake_find_body(poll_api, "/bot" POLL_TOKEN "/answerCallbackQuery");
        if (!body)
            usleep(20000);
    }
    check_json(body, "{\"callback_query_id\":\"9382bfdwdsb323b777\"}");
    free(body);
    char sid[48];
    session_of("tgpoll", sid);
    check_tap(sid, "later", "Later");
}

/* The survey on close, with buttons, on channel tgs; a tap rates. */
static void test_survey(void)
{
    const char *hello =
        "{\"update_id\":815390300,\"message\":{\"message_id\":1500,\"from\":{\"id\":2222222,"
        "\"is_bot\":false,\"first_name\":\"Sara\"},\"chat\":{\"id\":2222222,\"type\":"
        "\"private\",\"first_name\":\"Sara\"},\"date\":1700000100,\"text\":\"hi\"}}";
    char *url = og_sprintf("%s/hooks/tgs", d.base);
    const char *h =
        "X-Telegram-Bot-Api-Secret-Token: " TG_SECRET "\nContent-Type: application/json";
    struct og_test_resp r = og_test_http("POST", url, h, hello, strlen(hello));
    CHECK_INT(r.status, 200);
    free(r.body);
    char sid[48];
    session_of("tgs", sid);
    size_t from = og_fake_count(api);
    char *path = og_sprintf("%s/api/v1/sessions/%s/close", d.base, sid);
    r = og_test_http("POST", path, AUTH, "{\"reason\":\"solved\"}", 19);
    CHECK_INT(r.status, 200);
    free(r.body), free(path);
    const struct og_fake_req *q = NULL;
    for (int t = 0; t < 500 && !q; t++) { /* the routing worker sends it (10 s) */
        for (size_t i = from; i < og_fake_count(api) && !q; i++)
            if (strstr(og_fake_get(api, i)->url, "/bot" TG_TOKEN "/sendMessage") &&
                strstr(og_fake_get(api, i)->body, "csat:"))
                q = og_fake_get(api, i);
        if (!q)
            usleep(20000);
    }
    CHECK(q != NULL);
    check_json(q ? q->body : NULL,
               "{\"chat_id\":2222222,\"text\":\"How did we do?\\n1 = poor, 5 = excellent.\","
               "\"reply_markup\":{\"inline_keyboard\":[[{\"text\":\"1\",\"callback_data\":"
               "\"csat:1\"}],[{\"text\":\"2\",\"callback_data\":\"csat:2\"}],[{\"text\":\"3\","
               "\"callback_data\":\"csat:3\"}],[{\"text\":\"4\",\"callback_data\":\"csat:4\"}],"
               "[{\"text\":\"5\",\"callback_data\":\"csat:5\"}]]}}");
    const char *tap =
        "{\"update_id\":815390301,\"callback_query\":{\"id\":\"5382bfdwdsb323b111\",\"from\":{"
        "\"id\":2222222,\"is_bot\":false,\"first_name\":\"Sara\"},\"message\":{"
        "\"message_id\":77,\"chat\":{\"id\":2222222,\"type\":\"private\"},\"date\":1700000200,"
        "\"text\":\"How did we do?\"},\"chat_instance\":\"-2\",\"data\":\"csat:4\"}}";
    /* (no reply_markup: the text is then "csat:4", which no text answer
     * reads; the payload alone rates) */
    r = og_test_http("POST", url, h, tap, strlen(tap));
    CHECK_INT(r.status, 200);
    free(r.body), free(url);
    char *sp = og_sprintf("/api/v1/sessions/%s", sid);
    long st;
    json_object *s = NULL;
    int rated = 0;
    for (int t = 0; t < 100 && !rated; t++) {
        json_object_put(s);
        s = og_test_api_get(&d, sp, &st);
        rated = meta_jstr(s, "csat.score") != NULL;
        if (!rated)
            usleep(20000);
    }
    CHECK_STR(meta_jstr(s, "csat.score"), "4");
    CHECK_STR(meta_jstr(s, "csat.scale"), "5");
    json_object_put(s);
    free(sp);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    api = og_fake_start();
    og_fake_set_handler(api, api_handler, NULL);
    poll_api = og_fake_start();
    og_fake_set_handler(poll_api, api_handler, NULL);
    const char *b = og_fake_base(api);
    char *channels = og_sprintf(
        "[{\"id\":\"tg\",\"connector\":\"telegram\",\"options\":{\"bot_token\":\"" TG_TOKEN
        "\",\"secret_token\":\"" TG_SECRET "\",\"api_base\":\"%s\"}},"
        "{\"id\":\"line\",\"connector\":\"line\",\"options\":{\"channel_secret\":\"" LINE_SECRET
        "\",\"channel_access_token\":\"line-token\",\"api_base\":\"%s\","
        "\"api_data_base\":\"https://api-data.example.test\"}},"
        "{\"id\":\"vk\",\"connector\":\"vk\",\"options\":{\"access_token\":\"vk1.a.btn\","
        "\"group_id\":199493573,\"confirmation\":\"693d0ba9\",\"secret\":\"" VK_SECRET
        "\",\"api_base\":\"%s\"}},"
        "{\"id\":\"wa\",\"connector\":\"whatsapp\",\"options\":{\"access_token\":\"wa-tok\","
        "\"app_secret\":\"" WA_SECRET "\",\"verify_token\":\"v\","
        "\"phone_number_id\":\"106540352242922\",\"api_base\":\"%s\"}},"
        "{\"id\":\"fb\",\"connector\":\"facebook\",\"options\":{\"page_access_token\":\"t\","
        "\"app_secret\":\"" FB_SECRET "\",\"verify_token\":\"v\","
        "\"page_id\":\"110000000000001\",\"api_base\":\"%s\"}},"
        "{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"sj-secret\","
        "\"reply_url\":\"%s/r\"}},"
        "{\"id\":\"tgs\",\"connector\":\"telegram\",\"options\":{\"bot_token\":\"" TG_TOKEN
        "\",\"secret_token\":\"" TG_SECRET "\",\"api_base\":\"%s\"},\"csat\":{\"scale\":5,"
        "\"question\":\"How did we do?\",\"on\":\"close\"}},"
        "{\"id\":\"tgpoll\",\"connector\":\"telegram\",\"options\":{\"bot_token\":\"" POLL_TOKEN
        "\",\"mode\":\"polling\",\"api_base\":\"%s\",\"poll_wait_s\":1}}]",
        b, b, b, b, b, b, b, og_fake_base(poll_api));
    int started = og_test_daemon_start(&d, rs.url, channels, NULL);
    free(channels);
    if (started != 0) {
        og_fake_stop(poll_api);
        og_fake_stop(api);
        og_test_redis_stop(&rs);
        return 1;
    }
    test_meta();
    test_telegram();
    test_line();
    test_vk();
    test_whatsapp();
    test_facebook();
    test_no_buttons();
    test_survey();
    test_polling();
    /* button payloads: the pages (C) carry each customer message as its event
     * (Lua) did */
    CHECK(og_test_messages_agree(&d, rs.port) > 0);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(api);
    og_fake_stop(poll_api);
    return og_test_done();
}
