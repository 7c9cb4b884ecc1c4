/* test_log - og_log's flood limit (#14.11): one call site writing 10,000
 * lines in a burst (a Redis outage once wrote 113,501 in 3.5 s) writes a
 * burst of at most 20 and then a handful per second; its next line after a
 * pause says how many were left out; another call site is not held back
 * by the first one's flood. stderr goes to a file for the test.
 * log_format json (#15.9): every line one JSON object, a message with
 * quotes and control characters intact, the channel and request id as
 * members, an access line's fields typed. */
#include "og_log.h"
#include "og_test.h"
#include "og_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static json_object *member(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

static void test_json(const char *dir)
{
    char *path = og_sprintf("%s/json.log", dir);
    int saved = dup(STDERR_FILENO);
    CHECK_INT(og_log_open(path), 0);
    og_log_json = 1;
    og_log_set_request("req-1");
    og_log_write(OG_LOG_WARN, "channel:demo", "say \"%s\"\n\tbye \\ %c", "hi", 1);
    struct og_log_access a = {"GET", "/api/v1/sessions/:id", 404, 1.5, "203.0.113.7"};
    og_log_access_write(&a);
    og_log_set_request(NULL);
    og_log_write(OG_LOG_ERROR, "http", "plain");
    og_log_json = 0;
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *text = og_test_read_file(path, NULL);
    int lines = 0;
    for (char *line = text, *nl; line && (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = 0;
        json_object *o = json_tokener_parse(line);
        CHECK(o && json_object_is_type(o, json_type_object));
        CHECK(member(o, "time") && member(o, "level") && member(o, "msg"));
        if (lines == 0) {
            CHECK_STR(json_object_get_string(member(o, "msg")), "say \"hi\"\n\tbye \\ \x01");
            CHECK_STR(json_object_get_string(member(o, "channel")), "demo");
            CHECK_STR(json_object_get_string(member(o, "request_id")), "req-1");
            CHECK_STR(json_object_get_string(member(o, "level")), "warn");
        } else if (lines == 1) {
            CHECK_STR(json_object_get_string(member(o, "route")), "/api/v1/sessions/:id");
            CHECK_INT(json_object_get_int(member(o, "status")), 404);
            CHECK(json_object_is_type(member(o, "duration_ms"), json_type_double));
            CHECK_STR(json_object_get_string(member(o, "client")), "203.0.113.7");
            CHECK_STR(json_object_get_string(member(o, "scope")), "access");
        } else {
            CHECK(member(o, "request_id") == NULL);
            CHECK_STR(json_object_get_string(member(o, "scope")), "http");
        }
        json_object_put(o);
        lines++;
    }
    CHECK_INT(lines, 3);
    free(text);
    free(path);
}

int main(void)
{
    char *dir = og_test_tmpdir();
    char *path = og_sprintf("%s/err.log", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    for (int i = 0; i < 10000; i++)
        og_warn("flood line %d", i);
    og_warn("another place");
    usleep(1100 * 1000); /* the flood's site earns a few lines back */
    og_warn("flood line %d", -1);
    fsync(STDERR_FILENO);
    dup2(saved, STDERR_FILENO);
    close(fd);
    char *text = og_test_read_file(path, NULL);
    CHECK(text != NULL);
    if (text) {
        size_t flood = count(text, "flood line");
        CHECK(flood >= 20 && flood <= 30);
        CHECK(strstr(text, "flood line 0\n") != NULL); /* the first ones are written */
        CHECK_INT(count(text, "another place"), 1);
        const char *last = strstr(text, "flood line -1");
        CHECK(last && strstr(last, "more like this not logged"));
        long left = last ? atol(strstr(last, "(") + 1) : 0;
        CHECK(left > 9900 && left < 10000);
    }
    free(text);
    test_json(dir);
    unlink(path);
    free(path);
    og_test_rmdir(dir);
    free(dir);
    return og_test_done();
}
