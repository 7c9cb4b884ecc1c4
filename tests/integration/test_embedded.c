/* test_embedded - redis.url "embedded": omnigate starts its own
 * redis-server on a unix socket in data_dir (AOF on), keeps data across its
 * own restarts, restarts redis-server if it dies, and stops it on exit. */
#include "og_test.h"
#include "og_util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "emb-secret"

static long post(struct og_test_daemon *d, const char *body)
{
    return og_test_post_signed(d, "e", SECRET, body, strlen(body));
}

static pid_t redis_pid(const char *sock)
{
    char *cmd = og_sprintf("redis-cli -s %s INFO server 2>/dev/null | grep process_id", sock);
    FILE *p = popen(cmd, "r");
    char line[128] = "";
    if (p && fgets(line, sizeof line, p) == NULL)
        line[0] = 0;
    if (p)
        pclose(p);
    free(cmd);
    char *c = strchr(line, ':');
    return c ? (pid_t)atoi(c + 1) : 0;
}

static int sessions(struct og_test_daemon *d)
{
    long st;
    json_object *l = og_test_api_get(d, "/api/v1/sessions", &st);
    int n = st == 200 ? (int)json_object_array_length(json_object_object_get(l, "items")) : -1;
    json_object_put(l);
    return n;
}

int main(void)
{
    struct og_test_daemon d;
    const char *ch =
        "[{\"id\":\"e\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/\"}}]";
    if (og_test_daemon_start(&d, "embedded", ch, NULL) != 0)
        return 1;
    char *sock = og_sprintf("%s/data/redis/redis.sock", d.dir);
    struct stat sb;
    CHECK(stat(sock, &sb) == 0 && S_ISSOCK(sb.st_mode));
    char *aof = og_sprintf("%s/data/redis/appendonlydir", d.dir);
    CHECK(stat(aof, &sb) == 0 && S_ISDIR(sb.st_mode));
    pid_t rp = redis_pid(sock);
    CHECK(rp > 0);
    CHECK_INT(post(&d, "{\"id\":\"1\",\"from\":{\"id\":\"a\"},\"text\":\"one\"}"), 200);
    CHECK_INT(sessions(&d), 1);

    /* redis-server dies: omnigate restarts it and the data is still there */
    kill(rp, SIGKILL);
    pid_t rp2 = 0;
    for (int i = 0; i < 200 && (rp2 == 0 || rp2 == rp); i++) {
        usleep(50000);
        rp2 = redis_pid(sock);
    }
    CHECK(rp2 > 0 && rp2 != rp);
    long s = 0;
    for (int i = 0; i < 100 && s != 200; i++) {
        s = post(&d, "{\"id\":\"2\",\"from\":{\"id\":\"b\"},\"text\":\"two\"}");
        if (s != 200)
            usleep(50000);
    }
    CHECK_INT(s, 200);
    CHECK_INT(sessions(&d), 2);

    /* a clean stop stops redis-server too; a restart finds the data */
    CHECK_INT(og_test_daemon_stop(&d), 0);
    CHECK(kill(rp2, 0) != 0 && errno == ESRCH);
    CHECK_INT(og_test_daemon_restart(&d), 0);
    CHECK_INT(sessions(&d), 2);
    pid_t rp3 = redis_pid(sock);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    CHECK(rp3 > 0 && kill(rp3, 0) != 0);
    free(sock), free(aof);
    og_test_daemon_free(&d);
    return og_test_done();
}
