/* test_random - og_random_bytes (core/og_util.c), which serves small
 * requests from a per-thread buffer of RAND_bytes output: ids made from it
 * on four threads are all different, every byte value turns up, a request
 * larger than the buffer's share and one that spans a refill are filled,
 * and a forked child draws bytes of its own instead of its parent's next
 * ones (the buffer is refilled after fork). og_id_new's shape: the prefix,
 * ten characters of time, sixteen random, cut to the size given; ids made
 * in one millisecond sort in the order they were made (on each of four
 * threads, and one after the other), not by chance; an earlier millisecond
 * keeps its own time part (the bounds sessions are searched by). */
#include "og_test.h"
#include "og_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 4, PER = 20000 };
static char ids[THREADS * PER][32];

static void *make(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER; i++)
        og_id_new("msg_", 1764000000000LL, ids[t * PER + i], sizeof ids[0]);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

int main(void)
{
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, make, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    /* the same millisecond: each thread's ids rise in the order it made
     * them (the random parts alone would sort them by chance) */
    int falls = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 1; i < PER; i++)
            falls += strcmp(ids[t * PER + i - 1], ids[t * PER + i]) >= 0;
    CHECK_INT(falls, 0);
    char i1[32], i2[32], i3[32];
    og_id_new("msg_", 1764000000001LL, i1, sizeof i1);
    og_id_new("evt_", 1764000000001LL, i3, sizeof i3); /* one sequence for every kind */
    og_id_new("msg_", 1764000000001LL, i2, sizeof i2);
    CHECK(strcmp(i1, i2) < 0 && strcmp(i1 + 4, i3 + 4) < 0 && strcmp(i3 + 4, i2 + 4) < 0);
    og_id_new("ses_", 1700000000000LL, i3, sizeof i3); /* earlier: its own time */
    CHECK(strncmp(i3, "ses_01HF7YAT00", 14) == 0);
    og_id_new("msg_", 1764000000001LL, i3, sizeof i3); /* and the sequence goes on */
    CHECK(strcmp(i2, i3) < 0);
    /* only the random part tells them apart, and none repeats */
    qsort(ids, THREADS * PER, sizeof ids[0], cmp);
    int dups = 0;
    for (int i = 1; i < THREADS * PER; i++)
        dups += strcmp(ids[i - 1], ids[i]) == 0;
    CHECK_INT(dups, 0);
    /* 1764000000000 ms in Crockford base 32, ten characters */
    CHECK(strlen(ids[0]) == 4 + 26 && strncmp(ids[0], "msg_01KAV9FT00", 14) == 0);
    CHECK(strspn(ids[0] + 4, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == 26);
    char cut[8];
    og_id_new("ses_", 1764000000000LL, cut, sizeof cut);
    CHECK_STR(cut, "ses_01K");
    og_id_new(NULL, 1764000000000LL, cut, sizeof cut);
    CHECK_STR(cut, "01KAV9F");

    /* small draws (from the buffer) cover every byte value; a large one
     * (straight from RAND_bytes) is not all zeros */
    int seen[256] = {0}, kinds = 0;
    for (int i = 0; i < 4000; i++) {
        unsigned char b[7];
        og_random_bytes(b, sizeof b);
        for (size_t j = 0; j < sizeof b; j++)
            seen[b[j]]++;
    }
    for (int v = 0; v < 256; v++)
        kinds += seen[v] > 0;
    CHECK_INT(kinds, 256);
    unsigned char big[4096] = {0}, zero[4096] = {0};
    og_random_bytes(big, sizeof big);
    CHECK(memcmp(big, zero, sizeof big) != 0);

    /* after fork, parent and child each draw: without the refill they
     * would get the same bytes */
    int fd[2];
    CHECK(pipe(fd) == 0);
    unsigned char mine[16], child[16] = {0};
    og_random_bytes(mine, 1); /* the buffer is in use before the fork */
    pid_t pid = fork();
    if (pid == 0) {
        og_random_bytes(child, sizeof child);
        ssize_t w = write(fd[1], child, sizeof child);
        _exit(w == (ssize_t)sizeof child ? 0 : 1);
    }
    og_random_bytes(mine, sizeof mine);
    CHECK(read(fd[0], child, sizeof child) == (ssize_t)sizeof child);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(memcmp(mine, child, sizeof mine) != 0);
    close(fd[0]);
    close(fd[1]);
    return og_test_done();
}
