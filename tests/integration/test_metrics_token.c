/* test_metrics_token - metrics.token (#15.8): with it set, /metrics answers
 * only a request bearing it (401 with WWW-Authenticate otherwise, a wrong
 * token or another scheme included), while /healthz and /readyz stay open;
 * a token under 16 characters is refused by the config. */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

#define MTOKEN "metrics-token-0123456789"

int main(void)
{
    struct og_test_daemon d;
    if (og_test_daemon_start(&d, "embedded", "[]", "\"metrics\":{\"token\":\"" MTOKEN "\"}") != 0)
        return 1;
    char *url = og_sprintf("%s/metrics", d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 401);
    CHECK(strstr(r.body, "unauthorized") != NULL);
    CHECK(strstr(r.body, "omnigate_") == NULL);
    free(r.body);
    r = og_test_http("GET", url, "Authorization: Bearer wrong-token-0123456789", NULL, 0);
    CHECK_INT(r.status, 401);
    free(r.body);
    r = og_test_http("GET", url, "Authorization: Bearer " OG_TEST_ADMIN_TOKEN, NULL, 0);
    CHECK_INT(r.status, 401); /* the admin token is not the metrics token */
    free(r.body);
    r = og_test_http("GET", url, "Authorization: Basic " MTOKEN, NULL, 0);
    CHECK_INT(r.status, 401);
    free(r.body);
    r = og_test_http("GET", url, "Authorization: Bearer " MTOKEN, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "omnigate_build_info") != NULL);
    free(r.body);
    free(url);
    url = og_sprintf("%s/healthz", d.base);
    r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    free(r.body), free(url);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);

    /* too short: not started */
    struct og_test_daemon bad;
    CHECK(og_test_daemon_start(&bad, "embedded", "[]", "\"metrics\":{\"token\":\"short\"}") != 0);
    char *log = og_sprintf("%s/omnigate.log", bad.dir);
    char *text = og_test_read_file(log, NULL);
    CHECK(text && strstr(text, "metrics.token") != NULL);
    free(text), free(log);
    og_test_daemon_free(&bad);
    return og_test_done();
}
