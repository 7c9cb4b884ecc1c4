/* test_log - og_log's flood limit (#14.11): one call site writing 10,000
 * lines in a burst (a Redis outage once wrote 113,501 in 3.5 s) writes a
 * burst of at most 20 and then a handful per second; its next line after a
 * pause says how many were left out; another call site is not held back
 * by the first one's flood. stderr goes to a file for the test. */
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
    unlink(path);
    free(path);
    og_test_rmdir(dir);
    free(dir);
    return og_test_done();
}
