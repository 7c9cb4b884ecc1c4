/* test_status - the outbound core (core/og_outbox.c and its scripts) in
 * process against a real redis-server: a reply is stored pending, queued and
 * moves the session active -> awaiting; loading fills every og_outbound
 * field; a send result sets the provider id and its mapping; platform
 * statuses move a message forward only (out of order, duplicates, unknown
 * ids, a status that beats the send's answer, failed with its error,
 * Messenger watermarks); the 24 h window (window_expires_at, the
 * window-closed timer, starting a conversation outside it); the shared rate
 * limit and the retry pump. */
#include "og_core.h"
#include "og_outbox.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct og_connector wa_desc = {.name = "whatsapp", .messaging_window_ms = 86400000};
static struct og_plugin wa_plugin = {.desc = &wa_desc};
static struct og_channel wa = {
    .id = "wa", .routing = "default", .plugin = &wa_plugin, .scope = "channel:wa"};
static struct og_test_redis rs;

static char *cli(const char *fmt, const char *a, const char *b)
{
    char *args = og_sprintf(fmt, a, b ? b : "");
    char *out = og_test_redis_cli(&rs, args);
    free(args);
    if (out)
        out[strcspn(out, "\n")] = 0;
    return out;
}

static char *msg_field(const char *mid, const char *field)
{
    return cli("HGET {t}:msg:%s %s", mid, field);
}

static long long count_events(const char *type)
{
    char *args = og_sprintf("EVAL \"local n=0 for _,e in ipairs(redis.call('XRANGE',KEYS[1],'-',"
                            "'+')) do if e[2][4]=='%s' then n=n+1 end end return n\" 1 {t}:events",
                            type);
    char *out = og_test_redis_cli(&rs, args);
    long long v = out ? atoll(out) : -1;
    free(args), free(out);
    return v;
}

static void ingest(struct og_core *c, const char *dedup, const char *from, const char *token,
                   struct og_ingest_result *res)
{
    struct og_inbound m = {.struct_size = sizeof m,
                           .dedup_key = dedup,
                           .kind = OG_KIND_TEXT,
                           .text = "hi",
                           .provider_message_id = dedup,
                           .reply_token = token};
    m.from.external_id = from;
    CHECK_INT(og_core_ingest(c, &wa, &m, res), OG_OK);
}

static og_err status(struct og_core *c, const char *dk, const char *pmid, enum og_msg_status st)
{
    struct og_status_update s = {
        .struct_size = sizeof s, .dedup_key = dk, .provider_message_id = pmid, .status = st};
    if (st == OG_STATUS_FAILED) {
        s.error_code = "131047";
        s.error_message = "Re-engagement message";
    }
    return og_outbox_status(c, &wa, &s);
}

static char *reply(struct og_core *c, const char *sid, const char *text, char *mid)
{
    struct og_outbox_att att = {
        .url = "https://cdn.example.com/a.png", .name = "a.png", .mime_type = "image/png"};
    struct og_outbox_msg m = {.text = text, .atts = &att, .n_atts = 1, .sender_id = "agt_x"};
    char *json = NULL;
    CHECK_INT(og_outbox_reply(c, sid, &m, &json, mid, 48), OG_OK);
    return json;
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    struct og_core *c = og_test_core_new(&rs, "t", 2);
    CHECK(c != NULL);

    /* a customer writes (with a reply token); the session is assigned (active) */
    struct og_ingest_result in;
    ingest(c, "wamid.in1", "15550001", "tok-1", &in);
    char *o = cli("EVAL \"redis.call('HSET',KEYS[1],'status','active') "
                  "redis.call('ZREM',KEYS[2],ARGV[1]) redis.call('ZADD',KEYS[3],0,ARGV[1]) "
                  "redis.call('ZADD',KEYS[4],1,ARGV[1])\" 4 {t}:ses:%s {t}:idx:st:new "
                  "{t}:idx:st:active {t}:timers:autoforward %s",
                  in.session_id, in.session_id);
    free(o);
    char *sj = NULL;
    CHECK_INT(og_test_session_json(c, in.session_id, &sj), OG_OK);
    json_object *s = json_tokener_parse(sj);
    const char *wexp = json_object_get_string(json_object_object_get(s, "window_expires_at"));
    CHECK(wexp && strlen(wexp) == 24 && wexp[23] == 'Z'); /* 24 h from now, RFC 3339 */
    char iso[32];
    og_time_rfc3339(og_now_ms() + 86400000, iso);
    CHECK(wexp && strncmp(wexp, iso, 15) == 0); /* same day and hour (tens of min) */
    json_object_put(s);
    free(sj);

    /* 1. reply: pending, queued, history, active -> awaiting, timers */
    char mid[48];
    char *mj = reply(c, in.session_id, "Hello \"Ann\"", mid);
    json_object *m = json_tokener_parse(mj);
    CHECK_STR(json_object_get_string(json_object_object_get(m, "status")), "pending");
    CHECK_STR(json_object_get_string(json_object_object_get(m, "direction")), "out");
    CHECK_STR(json_object_get_string(json_object_object_get(m, "kind")), "image");
    CHECK_STR(
        json_object_get_string(json_object_object_get(json_object_object_get(m, "sender"), "id")),
        "agt_x");
    json_object_put(m);
    free(mj);
    o = cli("XLEN {t}:outbox%s%s", "", NULL);
    CHECK_STR(o, "1");
    free(o);
    o = cli("HGET {t}:ses:%s status%s", in.session_id, NULL);
    CHECK_STR(o, "awaiting");
    free(o);
    o = cli("ZSCORE {t}:timers:autoforward %s%s", in.session_id, NULL);
    CHECK_STR(o, ""); /* the agent answered: auto-forward stops */
    free(o);
    o = cli("ZCARD {t}:timers:window%s%s", "", NULL);
    CHECK_STR(o, "1");
    free(o);
    CHECK_INT(count_events("session.status_changed"), 1);
    o = cli("HEXISTS {t}:ses:%s first_reply_at%s", in.session_id, NULL);
    CHECK_STR(o, "1");
    free(o);
    /* the customer writes again: awaiting -> active (ingest) */
    ingest(c, "wamid.in2", "15550001", NULL, &in);
    o = cli("HGET {t}:ses:%s status%s", in.session_id, NULL);
    CHECK_STR(o, "active");
    free(o);

    /* 2. load fills og_outbound; a second load counts a second attempt */
    struct og_outbox_item it;
    CHECK_INT(og_outbox_load(c, mid, 0, &it), OG_OK);
    CHECK_STR(it.ob.message_id, mid);
    CHECK_STR(it.ob.text, "Hello \"Ann\"");
    CHECK_STR(it.ob.thread_id, "15550001");
    CHECK_STR(it.ob.contact_external_id, "15550001");
    CHECK_INT(it.ob.kind, OG_KIND_IMAGE);
    CHECK_INT(it.ob.n_attachments, 1);
    CHECK_STR(it.ob.attachments[0].url, "https://cdn.example.com/a.png");
    CHECK_STR(it.ob.attachments[0].mime_type, "image/png");
    CHECK_STR(it.ob.reply_token, "tok-1");
    CHECK(it.ob.reply_token_age_ms >= 0 && it.ob.reply_token_age_ms < 10000);
    CHECK(it.ob.last_inbound_age_ms >= 0 && it.ob.last_inbound_age_ms < 10000);
    CHECK_INT(it.attempts, 1);
    og_outbox_item_free(&it);
    /* a claimed entry whose attempt started just now is busy elsewhere */
    CHECK_INT(og_outbox_load(c, mid, 30000, &it), OG_ERR_CONFLICT);
    /* a spent single-use reply token is not handed out again; a stale
     * spend (another token) changes nothing */
    CHECK_INT(og_outbox_spend_token(c, mid, "tok-other"), OG_OK);
    o = cli("HGET {t}:ses:%s reply_token%s", in.session_id, NULL);
    CHECK_STR(o, "tok-1");
    free(o);
    CHECK_INT(og_outbox_spend_token(c, mid, "tok-1"), OG_OK);
    CHECK_INT(og_outbox_load(c, mid, 0, &it), OG_OK);
    CHECK(it.ob.reply_token == NULL);
    CHECK_INT(it.ob.reply_token_age_ms, -1);
    og_outbox_item_free(&it);

    /* 3. a status that beats the send's answer is parked, then applied */
    CHECK_INT(status(c, "wamid.OUT1:delivered", "wamid.OUT1", OG_STATUS_DELIVERED), OG_OK);
    CHECK(atomic_load(&og_outbox_stats.status_unknown) == 1);
    CHECK_INT(og_outbox_sent(c, mid, "0-1", "wamid.OUT1"), OG_OK);
    o = msg_field(mid, "st");
    CHECK_STR(o, "delivered");
    free(o);
    o = cli("EVAL \"return redis.call('HGET', KEYS[1] .. redis.sha1hex(ARGV[1]):sub(1, 3), "
            "ARGV[1])\" 1 {t}:pm:wa: %s%s",
            "wamid.OUT1", NULL);
    CHECK_STR(o, mid);
    free(o);
    char *list = NULL;
    CHECK_INT(og_test_list_messages(c, in.session_id, NULL, 50, &list), OG_OK);
    CHECK(strstr(list, "\"provider_message_id\":\"wamid.OUT1\"") != NULL);
    free(list);
    CHECK_INT(count_events("message.sent"), 1);
    CHECK_INT(count_events("message.delivered"), 1);
    /* a second sent result for the same message changes nothing */
    CHECK_INT(og_outbox_sent(c, mid, "0-1", "wamid.OTHER"), OG_OK);
    CHECK_INT(count_events("message.sent"), 1);

    /* 4. out of order: read, then a late sent and delivered: stays read */
    CHECK_INT(status(c, "wamid.OUT1:read", "wamid.OUT1", OG_STATUS_READ), OG_OK);
    CHECK_INT(status(c, "wamid.OUT1:sent", "wamid.OUT1", OG_STATUS_SENT), OG_OK);
    CHECK_INT(status(c, "wamid.OUT1:delivered2", "wamid.OUT1", OG_STATUS_DELIVERED), OG_OK);
    CHECK_INT(status(c, "wamid.OUT1:failed", "wamid.OUT1", OG_STATUS_FAILED), OG_OK);
    o = msg_field(mid, "st");
    CHECK_STR(o, "read");
    free(o);
    CHECK_INT(count_events("message.read"), 1);
    CHECK_INT(count_events("message.failed"), 0);
    /* the same update twice is applied once */
    unsigned long long dups = atomic_load(&og_outbox_stats.status_dups);
    CHECK_INT(status(c, "wamid.OUT1:read", "wamid.OUT1", OG_STATUS_READ), OG_OK);
    CHECK(atomic_load(&og_outbox_stats.status_dups) == dups + 1);
    /* unknown provider id: acknowledged, counted */
    CHECK_INT(status(c, "nope:read", "wamid.NOPE", OG_STATUS_READ), OG_OK);
    CHECK(atomic_load(&og_outbox_stats.status_unknown) == 2);

    /* 5. failed from sent, with the platform's error */
    char mid2[48];
    free(reply(c, in.session_id, "second", mid2));
    CHECK_INT(og_outbox_sent(c, mid2, "0-2", "wamid.OUT2"), OG_OK);
    CHECK_INT(status(c, "wamid.OUT2:failed", "wamid.OUT2", OG_STATUS_FAILED), OG_OK);
    CHECK_INT(status(c, "wamid.OUT2:read", "wamid.OUT2", OG_STATUS_READ), OG_OK);
    o = msg_field(mid2, "st");
    CHECK_STR(o, "failed");
    free(o);
    o = msg_field(mid2, "err");
    CHECK(o && strstr(o, "131047") && strstr(o, "Re-engagement"));
    free(o);
    CHECK_INT(count_events("message.failed"), 1);

    /* 6. Messenger watermark: messages sent at or before it are read */
    char m3[48], m4[48];
    free(reply(c, in.session_id, "three", m3));
    free(reply(c, in.session_id, "four", m4));
    CHECK_INT(og_outbox_sent(c, m3, "0-3", "fb.3"), OG_OK);
    usleep(20000);
    int64_t wm = og_now_ms();
    usleep(20000);
    CHECK_INT(og_outbox_sent(c, m4, "0-4", "fb.4"), OG_OK);
    struct og_status_update w = {.struct_size = sizeof w,
                                 .dedup_key = "wm1",
                                 .thread_id = "15550001",
                                 .watermark_ms = wm,
                                 .status = OG_STATUS_READ};
    CHECK_INT(og_outbox_status(c, &wa, &w), OG_OK);
    o = msg_field(m3, "st");
    CHECK_STR(o, "read");
    free(o);
    o = msg_field(m4, "st");
    CHECK_STR(o, "sent");
    free(o);
    o = msg_field(mid2, "st");
    CHECK_STR(o, "failed"); /* failed stays failed */
    free(o);
    w.dedup_key = "wm2";
    w.watermark_ms = og_now_ms();
    w.status = OG_STATUS_DELIVERED;
    CHECK_INT(og_outbox_status(c, &wa, &w), OG_OK);
    o = msg_field(m4, "st");
    CHECK_STR(o, "delivered");
    free(o);
    o = msg_field(m3, "st");
    CHECK_STR(o, "read"); /* never backwards */
    free(o);

    /* 7. the window-closed timer: the customer's last message 24 h - 1 s ago */
    char *ms = og_sprintf("%lld", (long long)(og_now_ms() - 86400000 + 1000));
    o = cli("HSET {t}:ses:%s last_customer_ms %s", in.session_id, ms);
    free(o);
    char m5[48];
    free(reply(c, in.session_id, "five", m5));
    int fired = 0;
    CHECK_INT(og_outbox_windows(c, 10, &fired), OG_OK);
    CHECK_INT(fired, 0);
    sleep(2);
    CHECK_INT(og_outbox_windows(c, 10, &fired), OG_OK);
    CHECK_INT(fired, 1);
    CHECK_INT(og_outbox_windows(c, 10, &fired), OG_OK);
    CHECK_INT(fired, 0); /* claimed once */
    CHECK_INT(count_events("session.window_closed"), 1);
    free(ms);

    /* 8. starting a conversation: open session -> conflict; closed and
     *    outside the window -> window; unknown contact -> not found */
    struct og_outbox_msg sm = {.text = "we have news", .sender_id = "admin"};
    struct og_outbox_start st = {"wa", "whatsapp", "default", NULL, "15550001", "", 86400000, 0};
    char *json = NULL, sid[48];
    int created = 0, window = 0;
    CHECK_INT(og_outbox_start_session(c, &st, &sm, &json, sid, sizeof sid, &created, &window),
              OG_ERR_CONFLICT);
    CHECK_STR(sid, in.session_id);
    CHECK_INT(window, 0);
    o = cli("HSET {t}:ses:%s status closed%s", in.session_id, NULL);
    free(o);
    CHECK_INT(og_outbox_start_session(c, &st, &sm, &json, sid, sizeof sid, &created, &window),
              OG_ERR_CONFLICT);
    CHECK_INT(window, 1);
    st.external_id = "nobody";
    CHECK_INT(og_outbox_start_session(c, &st, &sm, &json, sid, sizeof sid, &created, &window),
              OG_ERR_NOT_FOUND);
    /* a reply to a closed session is refused */
    char m6[48];
    CHECK_INT(og_outbox_reply(c, in.session_id, &sm, &json, m6, sizeof m6), OG_ERR_CONFLICT);
    CHECK(json == NULL);

    /* 9. the shared rate limit: 4/s -> the second slot waits ~250 ms */
    int64_t wait = -1;
    CHECK_INT(og_outbox_rate(c, "wa", 4, 0, &wait), OG_OK);
    CHECK_INT(wait, 0);
    CHECK_INT(og_outbox_rate(c, "wa", 4, 0, &wait), OG_OK);
    CHECK(wait > 150 && wait <= 250);
    /* Retry-After pauses the channel */
    CHECK_INT(og_outbox_rate(c, "wa", 4, og_now_ms() + 5000, &wait), OG_OK);
    CHECK_INT(og_outbox_rate(c, "wa", 4, 0, &wait), OG_OK);
    CHECK(wait > 4000 && wait <= 5000);

    /* 10. retries: due ones go back into the stream, once */
    char m7[48];
    o = cli("HSET {t}:ses:%s status active%s", in.session_id, NULL);
    free(o);
    free(reply(c, in.session_id, "seven", m7));
    CHECK_INT(og_outbox_retry(c, m7, "0-7", og_now_ms() - 1, "500", "boom"), OG_OK);
    int moved = 0;
    o = cli("XLEN {t}:outbox%s%s", "", NULL);
    long long before = atoll(o);
    free(o);
    CHECK_INT(og_outbox_pump(c, 10, &moved), OG_OK);
    CHECK_INT(moved, 1);
    CHECK_INT(og_outbox_pump(c, 10, &moved), OG_OK);
    CHECK_INT(moved, 0);
    o = cli("XLEN {t}:outbox%s%s", "", NULL);
    CHECK_INT(atoll(o), before + 1);
    free(o);
    /* a permanent failure records the error */
    CHECK_INT(og_outbox_fail(c, m7, "0-8", "400", "bad request"), OG_OK);
    o = msg_field(m7, "st");
    CHECK_STR(o, "failed");
    free(o);

    og_core_free(c);
    og_test_redis_stop(&rs);
    return og_test_done();
}
