/* test_event_cache - the webhook dispatchers' cache of event bodies: a copy
 * in, shared references out (a body outlives its deletion from the cache
 * while referenced), the first copy of an id wins, deletion, and the two
 * bounds (bytes and entries) dropping the oldest entries first; two threads
 * at once. */
#include "og_event_cache.h"
#include "og_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int held(struct og_event_cache *c, const char *id)
{
    struct og_event_body *b = og_event_cache_get(c, id);
    og_event_body_unref(b);
    return b != NULL;
}

static void test_basics(void)
{
    struct og_event_cache *c = og_event_cache_new(1 << 20, 100);
    char body[] = "{\"id\":\"evt_1\"}";
    og_event_cache_put(c, "1-0", body, strlen(body));
    body[2] = 'X'; /* the cache holds its own copy */
    struct og_event_body *b = og_event_cache_get(c, "1-0");
    CHECK(b != NULL);
    if (b) {
        CHECK_STR(b->data, "{\"id\":\"evt_1\"}");
        CHECK_INT(b->len, strlen("{\"id\":\"evt_1\"}"));
    }
    og_event_body_unref(b);
    /* a second put of the same id keeps the first body */
    og_event_cache_put(c, "1-0", "other", 5);
    b = og_event_cache_get(c, "1-0");
    CHECK(b && strcmp(b->data, "{\"id\":\"evt_1\"}") == 0);
    CHECK(og_event_cache_get(c, "2-0") == NULL);
    CHECK(og_event_cache_get(c, "1-00") == NULL);
    og_event_cache_put(c, "2-0", "two", 3);
    CHECK_INT(og_event_cache_count(c), 2);
    og_event_cache_del(c, "1-0");
    og_event_cache_del(c, "1-0"); /* absent: nothing happens */
    CHECK(!held(c, "1-0"));
    /* the reference taken before the deletion still reads the body (and
     * ASan reports a use after free or a leak if the counting is wrong) */
    CHECK(b && strcmp(b->data, "{\"id\":\"evt_1\"}") == 0);
    og_event_body_unref(b);
    CHECK(held(c, "2-0"));
    CHECK_INT(og_event_cache_count(c), 1);
    og_event_cache_free(c);
}

static void test_bounds(void)
{
    /* at most 10 entries: putting 25 keeps the newest 10 */
    struct og_event_cache *c = og_event_cache_new(1 << 20, 10);
    char id[32];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "%d-0", i);
        og_event_cache_put(c, id, "body", 4);
    }
    CHECK_INT(og_event_cache_count(c), 10);
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "%d-0", i);
        CHECK_INT(held(c, id), i >= 15);
    }
    /* deleting from the middle keeps the order of the rest */
    og_event_cache_del(c, "20-0");
    og_event_cache_put(c, "25-0", "body", 4);
    og_event_cache_put(c, "26-0", "body", 4);
    CHECK(!held(c, "15-0"));
    CHECK(held(c, "16-0"));
    CHECK(held(c, "26-0"));
    og_event_cache_free(c);

    /* at most 8 KiB: 1 KiB bodies, so fewer than 8 stay; the newest do */
    c = og_event_cache_new(8192, 1000);
    char big[1024];
    memset(big, 'b', sizeof big);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "%d-0", i);
        og_event_cache_put(c, id, big, sizeof big);
    }
    size_t n = og_event_cache_count(c);
    CHECK(n >= 5 && n < 8);
    CHECK(held(c, "19-0"));
    CHECK(!held(c, "0-0"));
    snprintf(id, sizeof id, "%zu-0", 20 - n - 1);
    CHECK(!held(c, id));
    /* a body larger than the whole cache is not kept, and drops nothing */
    char *huge = calloc(1, 9000);
    og_event_cache_put(c, "huge-0", huge, 9000);
    free(huge);
    CHECK(!held(c, "huge-0"));
    CHECK_INT(og_event_cache_count(c), n);
    og_event_cache_free(c);
}

struct worker {
    struct og_event_cache *c;
    int base, bad;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    char id[32], body[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "%d-%d", w->base, i);
        snprintf(body, sizeof body, "b%d", i);
        og_event_cache_put(w->c, id, body, strlen(body));
        struct og_event_body *b = og_event_cache_get(w->c, id);
        if (b && strcmp(b->data, body) != 0)
            w->bad++;
        og_event_body_unref(b);
        if (i % 3 == 0)
            og_event_cache_del(w->c, id);
    }
    return NULL;
}

static void test_threads(void)
{
    struct og_event_cache *c = og_event_cache_new(1 << 20, 5000);
    struct worker w[2] = {{c, 1, 0}, {c, 2, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hammer, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(w[0].bad + w[1].bad, 0);
    CHECK(og_event_cache_count(c) <= 5000);
    /* whatever is held is intact; the very last put is held */
    int bad = 0, last = 0;
    for (int base = 1; base <= 2; base++)
        for (int i = 19000; i < 20000; i++) {
            char id[32], want[32];
            snprintf(id, sizeof id, "%d-%d", base, i);
            snprintf(want, sizeof want, "b%d", i);
            struct og_event_body *b = og_event_cache_get(c, id);
            bad += b && (strcmp(b->data, want) != 0 || b->len != strlen(want));
            last += b && i == 19999;
            og_event_body_unref(b);
        }
    CHECK_INT(bad, 0);
    CHECK(last >= 1);
    og_event_cache_free(c);
}

int main(void)
{
    test_basics();
    test_bounds();
    test_threads();
    return og_test_done();
}
