/* test_media_s3 - the media store on an S3-compatible object store (#21.1):
 * s3rver (tests/s3, pinned in its package.json, installed by npm ci) on
 * 127.0.0.1 on a free port in a temp dir, started by node and stopped by
 * PID; two stores as two instances would have them (each its own
 * media.dir as read cache, one bucket):
 *   - a file put by one is read by the other with its bytes, type and name,
 *     and lands in the reader's directory (its read cache);
 *   - the second read of the reader is served from its cache: it still
 *     works with the object gone from the bucket;
 *   - a remove deletes the object: a third instance does not find it;
 *   - an object that is not a media file is not served;
 *   - a cap on the reader's cache evicts locally, and an evicted file is
 *     downloaded again;
 *   - og_media_open refuses an unknown access key (InvalidAccessKeyId), a
 *     missing bucket (NoSuchBucket) and an endpoint nobody listens on, each
 *     named in the error;
 *   - two daemons on one redis-server, each with its own data_dir, one
 *     bucket: a Telegram photo fetched from the platform's fake through the
 *     first is served by the second without a second platform fetch, and a
 *     daemon whose access key the store does not know does not start, its
 *     log naming InvalidAccessKeyId.
 * s3rver checks the access key but not SigV4 signatures (its source says
 * "Signature version 4 calculation is unimplemented"), so a wrong secret
 * cannot be refused by it; a real store refuses it the same way
 * (SignatureDoesNotMatch in the error). */
#include "og_media.h"
#include "og_media_s3.h"
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUCKET "omnigate-media"

static struct og_test_s3rver s3;
static char endpoint[64];

static const char PNG[] = "\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR\x00\x00\x00\x01png-body";

/* s3rver in dir/s3 (og_test_s3rver_start); 0 once it listens. */
static int s3rver_start(const char *dir)
{
    if (og_test_s3rver_start(&s3, dir, BUCKET) != 0)
        return -1;
    snprintf(endpoint, sizeof endpoint, "%s", s3.endpoint);
    return 0;
}

static void s3rver_stop(void)
{
    og_test_s3rver_stop(&s3);
}

static struct og_media_store *open_store(const char *dir, const char *sub, const char *access,
                                         const char *bucket, int64_t max_bytes, char *err,
                                         size_t errlen)
{
    char *path = og_sprintf("%s/%s", dir, sub);
    struct og_media_opts o = {.dir = path,
                              .max_bytes = max_bytes,
                              .s3_endpoint = endpoint,
                              .s3_bucket = bucket,
                              .s3_access_key = access,
                              .s3_secret_key = "S3RVER"};
    struct og_media_store *s = og_media_open(&o, err, errlen);
    free(path);
    return s;
}

static int cached(const char *dir, const char *sub, const char *key)
{
    char *p = og_sprintf("%s/%s/%s", dir, sub, key);
    struct stat st;
    int ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

static void test_shared(const char *dir)
{
    char err[320] = "";
    struct og_media_store *a = open_store(dir, "a", "S3RVER", BUCKET, 0, err, sizeof err);
    struct og_media_store *b = open_store(dir, "b", "S3RVER", BUCKET, 0, err, sizeof err);
    CHECK(a && b);
    if (!a || !b) {
        fprintf(stderr, "  %s\n", err);
        og_media_close(a), og_media_close(b);
        return;
    }
    struct og_media_meta m = {.mime = "image/png", .name = "Ünïcode photo.png"};
    CHECK_INT(og_media_put(a, "msg_1.0", &m, PNG, sizeof PNG - 1), OG_OK);
    CHECK(!cached(dir, "b", "msg_1.0"));

    /* the other instance reads it: bytes, type and name as stored */
    char *data = NULL;
    struct og_media_meta got;
    CHECK_INT(og_media_read(b, "msg_1.0", &data, &got), OG_OK);
    CHECK_INT(got.size, (long long)(sizeof PNG - 1));
    CHECK(data && !memcmp(data, PNG, sizeof PNG - 1));
    CHECK_STR(got.mime, "image/png");
    CHECK_STR(got.name, "Ünïcode photo.png");
    free(data);
    CHECK(cached(dir, "b", "msg_1.0"));

    /* and with a descriptor, as the attachment route serves it */
    int fd = -1;
    off_t off = 0;
    CHECK_INT(og_media_open_file(b, "msg_1.0", &fd, &off, &got), OG_OK);
    char buf[64] = {0};
    CHECK_INT(pread(fd, buf, sizeof PNG - 1, off), (long long)(sizeof PNG - 1));
    CHECK(!memcmp(buf, PNG, sizeof PNG - 1));
    if (fd >= 0)
        close(fd);

    /* a key nobody stored */
    CHECK_INT(og_media_read(b, "msg_2.0", &data, &got), OG_ERR_NOT_FOUND);
    CHECK(!cached(dir, "b", "msg_2.0"));

    /* remove: gone from the bucket (a third instance does not find it);
     * b's cache serves its copy until its own sweep */
    CHECK_INT(og_media_remove(a, "msg_1.0"), OG_OK);
    CHECK_INT(og_media_read(a, "msg_1.0", &data, &got), OG_ERR_NOT_FOUND);
    struct og_media_store *c = open_store(dir, "c", "S3RVER", BUCKET, 0, err, sizeof err);
    CHECK(c != NULL);
    if (c)
        CHECK_INT(og_media_read(c, "msg_1.0", &data, &got), OG_ERR_NOT_FOUND);
    CHECK_INT(og_media_read(b, "msg_1.0", &data, &got), OG_OK);
    free(data);
    CHECK_INT(og_media_remove(a, "msg_1.0"), OG_OK); /* not there: still OK */

    /* an object that is not a media file is never served */
    if (c) {
        char *junk = og_sprintf("%s/junk", dir);
        int jf = open(junk, O_RDWR | O_CREAT | O_TRUNC, 0600);
        CHECK_INT(write(jf, "hello, not a media file", 23), 23);
        struct og_media_s3_opts so = {
            .endpoint = endpoint, .bucket = BUCKET, .access_key = "S3RVER", .secret_key = "S3RVER"};
        struct og_media_s3 *raw = og_media_s3_open(&so, err, sizeof err);
        CHECK(raw != NULL);
        if (raw)
            CHECK_INT(og_media_s3_put(raw, "upl_junk", jf, 23), OG_OK);
        og_media_s3_close(raw);
        close(jf);
        free(junk);
        CHECK_INT(og_media_read(c, "upl_junk", &data, &got), OG_ERR_NOT_FOUND);
        CHECK(!cached(dir, "c", "upl_junk"));
    }
    og_media_close(a), og_media_close(b), og_media_close(c);
}

/* The reader's cache has its own cap: oldest out, downloaded again. */
static void test_cache_cap(const char *dir)
{
    char err[320] = "";
    struct og_media_store *a = open_store(dir, "w", "S3RVER", BUCKET, 0, err, sizeof err);
    /* one file is ~1 KiB with its header: a 2.5 KiB cap holds two */
    struct og_media_store *r = open_store(dir, "r", "S3RVER", BUCKET, 2500, err, sizeof err);
    CHECK(a && r);
    if (!a || !r) {
        og_media_close(a), og_media_close(r);
        return;
    }
    char big[1000];
    memset(big, 'x', sizeof big);
    memcpy(big, "%PDF-1.4\n", 9);
    struct og_media_meta m = {.mime = "application/pdf", .name = "f.pdf"};
    const char *keys[] = {"upl_c1", "upl_c2", "upl_c3"};
    for (int i = 0; i < 3; i++)
        CHECK_INT(og_media_put(a, keys[i], &m, big, sizeof big), OG_OK);
    char *data = NULL;
    struct og_media_meta got;
    for (int i = 0; i < 3; i++) {
        CHECK_INT(og_media_read(r, keys[i], &data, &got), OG_OK);
        free(data);
        /* distinct mtimes for the LRU order */
        char *p = og_sprintf("%s/r/%s", dir, keys[i]);
        struct timespec ts[2] = {{.tv_sec = time(NULL) - 100 + i},
                                 {.tv_sec = time(NULL) - 100 + i}};
        utimensat(AT_FDCWD, p, ts, 0);
        free(p);
    }
    struct og_media_usage u;
    CHECK_INT(og_media_sweep(r, &u), OG_OK);
    CHECK(u.bytes <= 2500);
    CHECK(!cached(dir, "r", "upl_c1")); /* the least recently used */
    CHECK(cached(dir, "r", "upl_c3"));
    CHECK_INT(og_media_read(r, "upl_c1", &data, &got), OG_OK); /* from the bucket again */
    CHECK(data && !memcmp(data, big, sizeof big));
    free(data);
    CHECK(cached(dir, "r", "upl_c1"));
    og_media_close(a), og_media_close(r);
}

static void test_refusals(const char *dir)
{
    char err[320] = "";
    struct og_media_store *s = open_store(dir, "x", "NOT-A-KEY", BUCKET, 0, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "InvalidAccessKeyId") != NULL);
    CHECK(strstr(err, "HTTP 403") != NULL);
    fprintf(stderr, "  wrong key: %s\n", err);
    og_media_close(s);

    s = open_store(dir, "x", "S3RVER", "no-such-bucket", 0, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "NoSuchBucket") != NULL);
    og_media_close(s);

    char saved[64];
    snprintf(saved, sizeof saved, "%s", endpoint);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", og_test_free_port());
    s = open_store(dir, "x", "S3RVER", BUCKET, 0, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "media.s3: http://127.0.0.1:") != NULL);
    og_media_close(s);
    snprintf(endpoint, sizeof endpoint, "%s", saved);
}

/* ------------------------------------------------------------- daemons */

#define TG_TOKEN "777:s3-token"
#define ADMIN "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
static const char JPEG[] = "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
                           "jpeg-body\xFF\xD9";

static int fake_tg(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    (void)ud;
    if (strcmp(q->url, "/bot" TG_TOKEN "/getFile") != 0)
        return 0;
    r->status = 200;
    r->content_type = "application/json";
    r->body = "{\"ok\":true,\"result\":{\"file_id\":\"tg-photo\",\"file_unique_id\":\"b\","
              "\"file_size\":30,\"file_path\":\"photos/file_1.jpg\"}}";
    return 1;
}

static size_t seen(struct og_fake *f, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < og_fake_count(f); i++)
        if (!strncmp(og_fake_get(f, i)->url, prefix, strlen(prefix)))
            n++;
    return n;
}

/* The id of the newest message of the channel's first session [xfer]. */
static char *last_message_id(const struct og_test_daemon *d)
{
    long st = 0;
    json_object *l = og_test_api_get(d, "/api/v1/sessions?channel=tg", &st);
    json_object *items = l ? json_object_object_get(l, "items") : NULL;
    json_object *s0 = items ? json_object_array_get_idx(items, 0) : NULL;
    json_object *sid = s0 ? json_object_object_get(s0, "id") : NULL;
    char *id = NULL;
    if (sid) {
        char *path = og_sprintf("/api/v1/sessions/%s/messages", json_object_get_string(sid));
        json_object *ml = og_test_api_get(d, path, &st);
        free(path);
        json_object *mi = ml ? json_object_object_get(ml, "items") : NULL;
        size_t n = mi ? json_object_array_length(mi) : 0;
        json_object *mid =
            n ? json_object_object_get(json_object_array_get_idx(mi, n - 1), "id") : NULL;
        if (mid)
            id = og_strdup(json_object_get_string(mid));
        json_object_put(ml);
    }
    json_object_put(l);
    return id;
}

static void test_daemons(void)
{
    struct og_fake *api = og_fake_start();
    struct og_test_redis rs;
    if (!api || og_test_redis_start(&rs) != 0) {
        CHECK(0);
        if (api)
            og_fake_stop(api);
        return;
    }
    og_fake_set_handler(api, fake_tg, NULL);
    og_fake_add_file(api, "/file/bot" TG_TOKEN "/photos/file_1.jpg", JPEG, sizeof JPEG - 1);
    char *channels = og_sprintf(
        "[{\"id\":\"tg\",\"connector\":\"telegram\",\"fetch_allow_hosts\":[\"127.0.0.1\"],"
        "\"options\":{\"bot_token\":\"" TG_TOKEN
        "\",\"secret_token\":\"tgs\",\"api_base\":\"%s\"}}]",
        og_fake_base(api));
    char *media = og_sprintf("\"media\":{\"s3\":{\"endpoint\":\"%s\",\"bucket\":\"" BUCKET
                             "\",\"access_key\":\"S3RVER\",\"secret_key\":\"S3RVER\"}}",
                             endpoint);
    struct og_test_daemon d1 = {0}, d2 = {0}, d3 = {0};
    int up1 = og_test_daemon_start(&d1, rs.url, channels, media);
    int up2 = og_test_daemon_start(&d2, rs.url, channels, media);
    CHECK_INT(up1, 0);
    CHECK_INT(up2, 0);
    if (up1 == 0 && up2 == 0) {
        const char *b = "{\"update_id\":1,\"message\":{\"message_id\":1,\"from\":{\"id\":"
                        "1111111,\"is_bot\":false,\"first_name\":\"Test\"},\"chat\":{\"id\":"
                        "1111111,\"type\":\"private\",\"first_name\":\"Test\"},\"date\":"
                        "1700000000,\"photo\":[{\"file_id\":\"tg-photo\",\"file_unique_id\":"
                        "\"b\",\"width\":800,\"height\":600}]}}";
        char *url = og_sprintf("%s/hooks/tg", d1.base);
        struct og_test_resp r = og_test_http("POST", url,
                                             "X-Telegram-Bot-Api-Secret-Token: tgs\nContent-Type: "
                                             "application/json",
                                             b, strlen(b));
        CHECK_INT(r.status, 200);
        free(url), free(r.body);
        char *mid = last_message_id(&d1);
        CHECK(mid != NULL);
        char *path = og_sprintf("/api/v1/messages/%s/attachments/0", mid ? mid : "none");
        CHECK_INT(seen(api, "/file/bot"), 0);
        /* the first instance fetches it from the platform */
        url = og_sprintf("%s%s", d1.base, path);
        r = og_test_http("GET", url, ADMIN, NULL, 0);
        CHECK_INT(r.status, 200);
        CHECK(r.body && !memcmp(r.body, JPEG, sizeof JPEG - 1));
        free(url), free(r.body);
        CHECK_INT(seen(api, "/file/bot"), 1);
        /* the second serves it from the bucket: the platform is not asked */
        url = og_sprintf("%s%s", d2.base, path);
        r = og_test_http("GET", url, ADMIN, NULL, 0);
        CHECK_INT(r.status, 200);
        CHECK(r.body && !memcmp(r.body, JPEG, sizeof JPEG - 1));
        free(url), free(r.body);
        CHECK_INT(seen(api, "/file/bot"), 1);
        CHECK_INT(seen(api, "/bot" TG_TOKEN "/getFile"), 1);
        /* and it is in the second one's own directory now (its read cache) */
        char *cache = og_sprintf("%s/data/media", d2.dir);
        char *listing = NULL;
        {
            char *cmd = og_sprintf("ls %s", cache);
            FILE *p = popen(cmd, "r");
            char line[256] = "";
            if (p) {
                if (!fgets(line, sizeof line, p))
                    line[0] = 0;
                pclose(p);
            }
            listing = og_strdup(line);
            free(cmd);
        }
        CHECK(mid && strstr(listing, mid) != NULL);
        free(listing), free(cache), free(path), free(mid);
    }
    CHECK_INT(og_test_daemon_stop(&d2), 0);
    CHECK_INT(og_test_daemon_stop(&d1), 0);
    og_test_daemon_free(&d2);
    og_test_daemon_free(&d1);

    /* an access key the store does not know: the daemon does not start */
    char *bad = og_sprintf("\"media\":{\"s3\":{\"endpoint\":\"%s\",\"bucket\":\"" BUCKET
                           "\",\"access_key\":\"NOT-A-KEY\",\"secret_key\":\"S3RVER\"}}",
                           endpoint);
    fprintf(stderr, "  (a daemon that must not start follows)\n");
    CHECK(og_test_daemon_start(&d3, rs.url, channels, bad) != 0);
    char *logp = og_sprintf("%s/omnigate.log", d3.dir ? d3.dir : "/nonexistent");
    char *log = og_test_read_file(logp, NULL);
    CHECK(log && strstr(log, "media.s3:") && strstr(log, "InvalidAccessKeyId"));
    free(log), free(logp), free(bad);
    og_test_daemon_stop(&d3);
    og_test_daemon_free(&d3);
    free(channels), free(media);
    og_test_redis_stop(&rs);
    og_fake_stop(api);
}

/* The error code out of S3's XML answers (outside input: bounded). */
static void test_error_code(void)
{
    char code[64];
    const char x[] = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message>";
    og_media_s3_error_code(x, sizeof x - 1, code, sizeof code);
    CHECK_STR(code, "NoSuchKey");
    og_media_s3_error_code(x, 30, code, sizeof code); /* cut before the code */
    CHECK_STR(code, "");
    og_media_s3_error_code("<Code>Unclosed", 14, code, sizeof code);
    CHECK_STR(code, "");
    og_media_s3_error_code("<Code>a<b>\"c</Code>", 19, code, sizeof code);
    CHECK_STR(code, "abc");
    og_media_s3_error_code("<Code>SignatureDoesNotMatch</Code>", 34, code, 5);
    CHECK_STR(code, "Sign");
    og_media_s3_error_code(NULL, 0, code, sizeof code);
    CHECK_STR(code, "");
}

int main(void)
{
    test_error_code();
    if (!getenv("OG_NODE") || access(getenv("OG_NODE"), X_OK) != 0) {
        printf("SKIP: node is not installed\n");
        return og_test_done();
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *dir = og_test_tmpdir();
    if (s3rver_start(dir) != 0) {
        char *out = og_sprintf("%s/s3rver.out", dir);
        char *text = og_test_read_file(out, NULL);
        fprintf(stderr, "s3rver did not start: %s\n", text ? text : "(no output)");
        free(text), free(out);
        CHECK(0);
    } else {
        test_shared(dir);
        test_cache_cap(dir);
        test_refusals(dir);
        test_daemons();
    }
    s3rver_stop();
    og_test_rmdir(dir);
    free(dir);
    curl_global_cleanup();
    return og_test_done();
}
