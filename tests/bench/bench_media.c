/* bench_media - the media store (core/og_media.c) on a temp directory:
 * stores per second (temp file + rename, and the sweep each put runs under
 * a cap), cache hits per second (open, header, mark used), a sweep over a
 * full directory, and the type sniffer. Prints figures; asserts nothing.
 *   build/bin/bench_media [files] [bytes per file] */
#include "og_media.h"
#include "og_test.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double secs(int64_t t0)
{
    return (double)(og_mono_ms() - t0) / 1000.0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 64 * 1024;
    if (n < 10)
        n = 10;
    char *dir = og_test_tmpdir();
    char *mdir = og_sprintf("%s/media", dir);
    char err[256];
    /* a cap of half the files: every put past it evicts (the sweep runs) */
    struct og_media_opts o = {.dir = mdir,
                              .max_bytes = (int64_t)(size + 64) * n / 2,
                              .max_age_s = 86400,
                              .max_file_bytes = (int64_t)size * 2};
    struct og_media_store *s = og_media_open(&o, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char *data = og_malloc(size);
    memset(data, 'x', size);
    memcpy(data, "\xFF\xD8\xFF\xE0", 4);
    struct og_media_meta m = {.mime = "image/jpeg", .name = "photo.jpg"};
    char key[64];
    int64_t t0 = og_mono_ms();
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "msg_bench%06d.0", i);
        og_media_put(s, key, &m, data, size);
    }
    double put_s = secs(t0);
    struct og_media_usage u;
    og_media_sweep(s, &u);
    printf("put    %d files of %zu bytes under a cap of %d files: %.0f puts/s (%.3f ms each, "
           "sweep included); %lld files kept\n",
           n, size, n / 2, n / put_s, put_s * 1000 / n, (long long)u.files);

    int hits = 0;
    t0 = og_mono_ms();
    for (int r = 0; r < 5; r++)
        for (int i = n / 2; i < n; i++) {
            snprintf(key, sizeof key, "msg_bench%06d.0", i);
            int fd;
            off_t off;
            struct og_media_meta mm;
            if (og_media_open_file(s, key, &fd, &off, &mm) == OG_OK) {
                hits++;
                close(fd);
            }
        }
    double hit_s = secs(t0);
    printf("hit    %d opens (header read, marked used): %.0f hits/s (%.1f us each)\n", hits,
           hits / hit_s, hit_s * 1e6 / (hits ? hits : 1));

    /* a sweep alone, over a full directory, no cap left to enforce */
    struct og_media_opts o2 = {.dir = mdir};
    struct og_media_store *s2 = og_media_open(&o2, err, sizeof err);
    t0 = og_mono_ms();
    for (int r = 0; r < 20; r++)
        og_media_sweep(s2, &u);
    double sw_s = secs(t0) / 20;
    printf("sweep  %lld files: %.2f ms per sweep\n", (long long)u.files, sw_s * 1000);

    int k = 0;
    t0 = og_mono_ms();
    for (int i = 0; i < 2000000; i++)
        k += og_media_sniff(data, size) != NULL;
    double sn_s = secs(t0);
    printf("sniff  %d files: %.1f ns each\n", k, sn_s * 1e9 / 2000000);

    og_media_close(s2);
    og_media_close(s);
    free(data);
    og_test_rmdir(dir);
    free(mdir), free(dir);
    return 0;
}
