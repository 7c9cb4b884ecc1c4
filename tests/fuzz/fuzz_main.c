/* fuzz_main - a standalone driver for omnigate's libFuzzer targets.
 *
 * Linked instead of libFuzzer when a target is built as a regression test
 * (any compiler, no fuzzing): "NAME-regress PATH..." runs the target's
 * LLVMFuzzerTestOneInput once over each file given, and over every file in
 * each directory given (recursively, in name order, dot files skipped). It
 * knows nothing about any one target, so every fuzz target shares it.
 *
 * Each input is copied into a buffer of exactly its size, so a read past the
 * end is caught by ASan as it would be under libFuzzer. A crash fails the
 * test; so does finding no input at all, because an empty corpus directory
 * is almost always a packaging mistake that would make the test meaningless. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy: no slack for an overread to land in unnoticed. */
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    fprintf(stderr, "running %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*count)++;
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, count);
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            size_t sz = strlen(path) + strlen(ents[i]->d_name) + 2;
            char *child = malloc(sz);
            if (child) {
                snprintf(child, sz, "%s/%s", path, ents[i]->d_name);
                if (run_path(child, count) != 0)
                    rc = -1;
                free(child);
            } else {
                rc = -1;
            }
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &count) != 0)
            rc = 1;
    if (count == 0) {
        fprintf(stderr, "no inputs found\n");
        rc = 1;
    }
    fprintf(stderr, "%zu inputs run%s\n", count, rc ? ", with errors" : "");
    return rc;
}
