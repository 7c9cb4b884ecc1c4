/* test_utf8 - invalid UTF-8 from a platform never reaches a client (#14.4).
 * Each connector's fixture is corrupted (bytes that start no valid UTF-8
 * sequence in the customer's name and text, inside otherwise valid JSON),
 * signed as the platform would sign it, and handed to the connector with
 * the core's sink, as /hooks does. Then:
 *   - the session list, the session and its history, as the API renders
 *     them, and every event in the stream (what webhooks and SSE send) are
 *     valid UTF-8 JSON (parsed strictly, UTF-8 validated);
 *   - the bad bytes became U+FFFD, the good text around them is kept;
 *   - the raw payload is stored with its bytes as they came. */
#include "og_channel.h"
#include "og_core.h"
#include "og_err.h"
#include "og_json.h"
#include "og_plugin.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BAD "\xff\xfe\xc3(" /* none of these start a valid sequence here */
#define FFFD "\xef\xbf\xbd"

struct hdrs {
    const char *name[2], *value[2];
};

static const char *hdr(void *ctx, const char *name)
{
    const struct hdrs *h = ctx;
    for (int i = 0; i < 2; i++)
        if (h->name[i] && strcasecmp(h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

static const char *noarg(void *ctx, const char *name)
{
    return NULL;
}

/* fixture text with every "from" in `what` replaced by `to`. [xfer] */
static char *corrupt(const char *fixture, const char *const *what, size_t n)
{
    char *t;
    if (fixture[0] == '{') { /* inline */
        t = og_strdup(fixture);
    } else {
        char *path = og_sprintf("%s/tests/connectors/fixtures/%s", OG_SOURCE_DIR, fixture);
        t = og_test_read_file(path, NULL);
        free(path);
    }
    for (size_t i = 0; t && i < n; i++) {
        char *at = what[i] ? strstr(t, what[i]) : NULL;
        if (!at)
            continue;
        size_t wl = strlen(what[i]);
        /* "hello" -> "he" BAD "llo": the good characters around it stay */
        char *nt = og_sprintf("%.*s%.2s" BAD "%s", (int)(at - t), t, what[i], at + 2);
        (void)wl;
        free(t);
        t = nt;
    }
    return t;
}

static void hex_hmac(const char *key, const char *body, char out[65])
{
    unsigned char d[32];
    og_hmac_sha256(key, strlen(key), body, strlen(body), d);
    og_hex_encode(d, 32, out, 65);
}

struct platform {
    const char *connector, *options, *fixture;
    const char *what[2]; /* a string of the contact (NULL: none is a string) and the text */
    int sign;            /* 0 none, 1 X-Hub sha256=hex, 2 LINE base64, 3 signed_json, 4 telegram */
    const char *secret;
};

/* 1 when json is valid UTF-8 JSON. */
static int strict_json(const char *json)
{
    json_object *j = json ? og_json_parse_strict(json, strlen(json), OG_JSON_UTF8, NULL) : NULL;
    json_object_put(j);
    return j != NULL;
}

static void run(struct og_test_redis *rs, const struct platform *p)
{
    free(og_test_redis_cli(rs, "FLUSHALL"));
    struct og_core *core = og_test_core_new(rs, "u", 2);
    char err[512] = "";
    char *dir = og_sprintf("%s/lib/omnigate/connectors", OG_BINARY_DIR);
    struct og_plugin *pl = og_plugin_load_by_name(dir, p->connector, err, sizeof err);
    free(dir);
    CHECK(pl != NULL);
    struct og_errors errs = {0};
    json_object *opts = json_tokener_parse(p->options);
    struct og_channel_sink sink = og_core_sink(core);
    struct og_channel *ch =
        pl ? og_channel_create(pl, "ch", "default", opts, "channels[0].options", &sink, &errs)
           : NULL;
    json_object_put(opts);
    CHECK(ch != NULL);
    if (!ch) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s: %s\n", p->connector, errs.items[i]);
        goto out;
    }
    char *body = corrupt(p->fixture, p->what, 2);
    CHECK(body && strstr(body, BAD));
    char sig[160] = "";
    struct hdrs h = {{0}, {0}};
    if (p->sign == 1 || p->sign == 3) {
        char hex[65];
        hex_hmac(p->secret, body, hex);
        snprintf(sig, sizeof sig, "sha256=%s", hex);
        h.name[0] = p->sign == 1 ? "X-Hub-Signature-256" : "X-Signature";
        h.value[0] = sig;
    } else if (p->sign == 2) {
        unsigned char d[32];
        og_hmac_sha256(p->secret, strlen(p->secret), body, strlen(body), d);
        og_base64_encode(d, 32, sig, sizeof sig);
        h.name[0] = "X-Line-Signature", h.value[0] = sig;
    } else if (p->sign == 4) {
        h.name[0] = "X-Telegram-Bot-Api-Secret-Token", h.value[0] = p->secret;
    }
    h.name[1] = "Content-Type", h.value[1] = "application/json";
    struct og_req_host host = {hdr, noarg, &h, 0, OG_OK, NULL, NULL, NULL};
    struct og_http_req req = {"POST", "", body, strlen(body), &host};
    struct og_http_resp resp = {0};
    og_err e = og_channel_handle_http(ch, &req, &resp);
    og_http_resp_free(&resp);
    CHECK_INT(e, OG_OK);
    if (e != OG_OK)
        fprintf(stderr, "%s: %s\n", p->connector, og_strerror(e));

    char *list = NULL;
    CHECK_INT(og_test_list_sessions(core, NULL, NULL, NULL, 50, &list), OG_OK);
    CHECK(strict_json(list));
    json_object *lj = list ? json_tokener_parse(list) : NULL;
    json_object *first = json_object_array_get_idx(json_object_object_get(lj, "items"), 0);
    const char *sid = json_object_get_string(json_object_object_get(first, "id"));
    CHECK(sid != NULL);
    char *ses = NULL, *msgs = NULL;
    if (sid) {
        CHECK_INT(og_test_session_json(core, sid, &ses), OG_OK);
        CHECK_INT(og_test_list_messages(core, sid, NULL, 50, &msgs), OG_OK);
    }
    CHECK(strict_json(ses));
    CHECK(strict_json(msgs));
    /* the contact (in the session) and the text (in its history) */
    if (p->what[0])
        CHECK(ses && strstr(ses, FFFD));
    CHECK(msgs && strstr(msgs, FFFD));
    char good[8];
    snprintf(good, sizeof good, "%.2s" FFFD, p->what[1]);
    CHECK(msgs && strstr(msgs, good));
    if (!(msgs && strstr(msgs, FFFD)))
        fprintf(stderr, "%s: history %s\n", p->connector, msgs ? msgs : "(none)");

    /* every event body in the stream (webhooks and SSE send these) */
    char *ev = og_test_redis_cli(rs, "XRANGE {u}:events - +");
    size_t nev = 0;
    for (char *line = ev; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (line[0] == '{') {
            nev++;
            CHECK(strict_json(line));
        }
        line = nl ? nl + 1 : NULL;
    }
    CHECK(nev >= 2);
    /* the raw payload keeps the bytes (its own key beside the message's,
     * {u}:raw:<message id>, kept per store_raw) */
    char *mid = og_test_redis_cli(rs, "KEYS {u}:msg:*");
    CHECK(mid && strncmp(mid, "{u}:msg:", 8) == 0);
    if (mid) {
        mid[strcspn(mid, "\r\n")] = 0;
        char *cmd = og_sprintf("GET {u}:raw:%s", mid + 8);
        char *raw = og_test_redis_cli(rs, cmd);
        CHECK(raw && strstr(raw, BAD));
        free(raw), free(cmd);
    }
    free(mid), free(ev), free(ses), free(msgs), free(list), free(body);
    json_object_put(lj);
    og_channel_destroy(ch);
out:
    og_errors_free(&errs);
    og_plugin_unload(pl);
    og_core_free(core);
}

int main(void)
{
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    const struct platform ps[] = {
        {"signed_json",
         "{\"secret\":\"k1\",\"reply_url\":\"http://127.0.0.1:9/r\"}",
         "{\"id\":\"evt-1\",\"from\":{\"id\":\"u1\",\"name\":\"Ann Smith\"},\"text\":\"hello\"}",
         {"Ann", "hello"},
         3,
         "k1"},
        {"telegram",
         "{\"bot_token\":\"123:abc\",\"secret_token\":\"tg-secret\",\"api_base\":"
         "\"http://127.0.0.1:9\"}",
         "telegram/text.json",
         {"Test", "hello"},
         4,
         "tg-secret"},
        {"line",
         "{\"channel_secret\":\"line-secret\",\"channel_access_token\":\"t\",\"api_base\":"
         "\"http://127.0.0.1:9\",\"api_data_base\":\"http://127.0.0.1:9\"}",
         "line/text.json",
         {"U8d55942f87f2155f24550b7fe6eac9c0", "hello"},
         2,
         "line-secret"},
        {"vk",
         "{\"access_token\":\"vk1.a.T\",\"group_id\":199493573,\"confirmation\":\"x\","
         "\"secret\":\"my_secret\",\"api_base\":\"http://127.0.0.1:9\",\"fetch_profiles\":false}",
         "vk/text.json",
         {NULL, "hello"},
         0,
         NULL},
        {"whatsapp",
         "{\"access_token\":\"t\",\"app_secret\":\"wa-secret\",\"verify_token\":\"v\","
         "\"phone_number_id\":\"106540352242922\",\"api_base\":\"http://127.0.0.1:9\"}",
         "whatsapp/text.json",
         {"Sheena", "Does it"},
         1,
         "wa-secret"},
        {"facebook",
         "{\"page_access_token\":\"t\",\"app_secret\":\"fb-secret\",\"verify_token\":\"v\","
         "\"page_id\":\"110000000000001\",\"api_base\":\"http://127.0.0.1:9\"}",
         "facebook/text.json",
         {"7001000000000001", "hello"},
         1,
         "fb-secret"},
    };
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        run(&rs, &ps[i]);
    og_test_redis_stop(&rs);
    return og_test_done();
}
