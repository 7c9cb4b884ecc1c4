/* test_reload - SIGHUP (#15.1) on the running daemon, with log_file set:
 *   - the process stays up and ready (before: SIGHUP's default action
 *     ended it without draining);
 *   - the log is reopened: the file renamed away keeps the old lines, a new
 *     file at log_file gets the new ones;
 *   - the changes that can be made at run time are: a webhook subscription
 *     added to the file is listed by the API, a channel's greeting text
 *     added is sent to the next new session, log_level warn silences info;
 *   - a change that needs a restart (http.max_body_bytes) is named in the
 *     log and not applied (a body over the old limit is still refused,
 *     one under it still taken);
 *   - a file with an error changes nothing (the webhook stays listed) and
 *     the log says so;
 *   - SIGTERM after all of it is still a clean stop. */
#include "og_test.h"
#include "og_util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct og_test_redis rs;
static struct og_test_daemon d;
static char *log_path;

/* The daemon's config with these variable parts, written over config.json. */
static void write_config(const char *level, const char *texts, const char *webhooks, int max_body)
{
    FILE *f = fopen(d.config_path, "w");
    fprintf(f,
            "{\"listen\":\"127.0.0.1:%d\",\"data_dir\":\"%s/data\",\"log_level\":\"%s\","
            "\"log_file\":\"%s\",\"redis\":{\"url\":\"%s\"},"
            "\"api\":{\"admin_token\":\"%s\"},\"http\":{\"max_body_bytes\":%d},"
            "\"channels\":[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":"
            "{\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}%s%s}],"
            "\"webhooks\":[%s]}\n",
            d.port, d.dir, level, log_path, rs.url, OG_TEST_ADMIN_TOKEN, max_body,
            texts ? ",\"texts\":" : "", texts ? texts : "", webhooks ? webhooks : "");
    fclose(f);
}

static int contains(const char *path, const char *needle)
{
    char *t = og_test_read_file(path, NULL);
    int r = t && strstr(t, needle) != NULL;
    free(t);
    return r;
}

/* Waits up to 5 s for needle in the file at path. */
static int wait_log(const char *path, const char *needle)
{
    for (int i = 0; i < 250; i++) {
        if (contains(path, needle))
            return 1;
        usleep(20000);
    }
    return 0;
}

static int alive(void)
{
    char *url = og_sprintf("%s/readyz", d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    free(url);
    free(r.body);
    return kill(d.pid, 0) == 0 && r.status == 200;
}

static int webhook_listed(const char *id)
{
    long st;
    json_object *j = og_test_api_get(&d, "/api/v1/webhooks", &st), *items = NULL;
    int found = 0;
    if (st == 200 && json_object_object_get_ex(j, "items", &items))
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *id_v;
            if (json_object_object_get_ex(json_object_array_get_idx(items, i), "id", &id_v) &&
                strcmp(json_object_get_string(id_v), id) == 0)
                found = 1;
        }
    json_object_put(j);
    return found;
}

/* A customer's new session; the count of system greetings it got within 5 s. */
static int greetings(const char *user)
{
    char *b = og_sprintf("{\"id\":\"evt-%s\",\"from\":{\"id\":\"%s\",\"name\":\"N\"},"
                         "\"text\":\"hi\"}",
                         user, user);
    CHECK_INT(og_test_post_signed(&d, "demo", SECRET, b, strlen(b)), 200);
    free(b);
    char *cmd = og_sprintf(OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
    char *sid = og_test_redis_cli(&rs, cmd);
    free(cmd);
    sid[strcspn(sid, "\r\n")] = 0;
    int n = 0;
    for (int i = 0; i < 50 && n == 0; i++) {
        long st;
        char *p = og_sprintf("/api/v1/sessions/%s/messages?limit=50", sid);
        json_object *j = og_test_api_get(&d, p, &st), *items = NULL;
        free(p);
        if (json_object_object_get_ex(j, "items", &items))
            for (size_t k = 0; k < json_object_array_length(items); k++) {
                json_object *m = json_object_array_get_idx(items, k), *v;
                if (json_object_object_get_ex(m, "auto_text", &v) &&
                    strcmp(json_object_get_string(v), "greeting") == 0)
                    n++;
            }
        json_object_put(j);
        if (!n)
            usleep(100000);
    }
    free(sid);
    return n;
}

static long post_size(size_t n)
{
    char *b = og_calloc(1, n + 1);
    memset(b, 'x', n);
    char *url = og_sprintf("%s/hooks/demo", d.base);
    struct og_test_resp r = og_test_http("POST", url, "Content-Type: application/json", b, n);
    free(url), free(b), free(r.body);
    return r.status;
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    /* started with a config of ours: log_file set */
    char *tmp = og_test_tmpdir();
    log_path = og_sprintf("%s/og.log", tmp);
    const char *channels =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    char *extra = og_sprintf("\"log_file\":\"%s\",\"http\":{\"max_body_bytes\":4096}", log_path);
    if (og_test_daemon_start(&d, rs.url, channels, extra) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(extra);
    CHECK(wait_log(log_path, "listening on"));
    CHECK_INT(greetings("u1"), 0);
    CHECK(!webhook_listed("hup"));

    /* 1. rename the log away, change what can change and one that cannot */
    char *old_log = og_sprintf("%s.1", log_path);
    CHECK_INT(rename(log_path, old_log), 0);
    char *hook =
        og_sprintf("{\"id\":\"hup\",\"url\":\"http://127.0.0.1:9/hook\",\"secret\":\"" WHSEC
                   "\",\"events\":[\"*\"]}");
    write_config("info", "{\"greeting\":\"Hello after HUP\"}", hook, 8192);
    CHECK_INT(kill(d.pid, SIGHUP), 0);
    CHECK(wait_log(log_path, "SIGHUP: applied"));
    CHECK(alive());
    CHECK(contains(log_path, "SIGHUP: log reopened"));
    CHECK(!contains(old_log, "SIGHUP: log reopened"));
    CHECK(contains(old_log, "listening on"));
    CHECK(contains(log_path, "\"http\" changed; it takes effect after a restart"));
    CHECK(!contains(log_path, "\"webhooks\" changed"));
    CHECK(webhook_listed("hup"));
    CHECK_INT(greetings("u2"), 1);
    CHECK_INT(post_size(6000), 413); /* max_body_bytes stays 4096 */

    /* 2. a broken file: nothing changes, the process stays */
    FILE *f = fopen(d.config_path, "w");
    fputs("{\"listen\": oops}\n", f);
    fclose(f);
    CHECK_INT(kill(d.pid, SIGHUP), 0);
    CHECK(wait_log(log_path, "nothing changed"));
    CHECK(alive());
    CHECK(webhook_listed("hup"));
    CHECK_INT(greetings("u3"), 1);

    /* 3. log_level warn: the info summary is no longer written, the restart
     * warning is; the webhook removed from the file goes */
    write_config("warn", NULL, NULL, 8192);
    CHECK_INT(kill(d.pid, SIGHUP), 0);
    CHECK(wait_log(log_path, "SIGHUP: \"http\" changed"));
    usleep(300000);
    char *t = og_test_read_file(log_path, NULL);
    const char *last = t ? strstr(t, "nothing changed") : NULL;
    CHECK(last && !strstr(last, "SIGHUP: applied"));
    free(t);
    CHECK(alive());
    CHECK(!webhook_listed("hup"));
    CHECK_INT(greetings("u4"), 0);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_test_rmdir(tmp);
    free(tmp), free(log_path), free(old_log), free(hook);
    return og_test_done();
}
