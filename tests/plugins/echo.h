/* echo.h - the option block of the "echo" test plugin, shared with
 * tests/unit/test_loader.c so the test can read what the loader filled. */
#ifndef OG_TEST_ECHO_H
#define OG_TEST_ECHO_H
#include <stdint.h>

struct echo_conf {
    char *token;    /* OG_OPT_STR, required, secret */
    int64_t count;  /* OG_OPT_INT, default 3 */
    int loud;       /* OG_OPT_BOOL, default true */
    char *api_base; /* OG_OPT_URL, default http://127.0.0.1:9/ */
    char *mode;     /* OG_OPT_ENUM webhook|polling, default webhook */
    char *note;     /* OG_OPT_STR, no default, optional */
};
#endif
