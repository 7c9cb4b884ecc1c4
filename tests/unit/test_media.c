/* test_media - the media store (core/og_media.h) on a temp directory: put,
 * read back, a whole file or none, the size cap evicting the least recently
 * used first (a read counts as a use), the age limit, stale temporary files,
 * two stores on one directory; the type sniffer on real magic numbers; file
 * names and Content-Disposition; signed links (made, checked, forged,
 * expired, for another path). */
#include "og_media.h"
#include "og_test.h"
#include "og_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct og_media_meta meta(const char *mime, const char *name)
{
    struct og_media_meta m = {0};
    snprintf(m.mime, sizeof m.mime, "%s", mime);
    snprintf(m.name, sizeof m.name, "%s", name);
    return m;
}

static int exists(const char *dir, const char *key)
{
    char *p = og_sprintf("%s/%s", dir, key);
    int ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

/* Sets key's last use to now - ago_s (what reading it ago_s seconds ago did). */
static void age(const char *dir, const char *key, int ago_s)
{
    char *p = og_sprintf("%s/%s", dir, key);
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= ago_s;
    t[1] = t[0];
    utimensat(AT_FDCWD, p, t, 0);
    free(p);
}

static void test_put_read(const char *dir)
{
    char err[256];
    struct og_media_opts o = {.dir = dir, .max_file_bytes = 1000};
    struct og_media_store *s = og_media_open(&o, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    struct og_media_meta m = meta("image/png", "a/b/photo \"1\".png");
    const char data[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    CHECK_INT(og_media_put(s, "msg_A.0", &m, data, sizeof data - 1), OG_OK);
    char *back = NULL;
    struct og_media_meta r;
    CHECK_INT(og_media_read(s, "msg_A.0", &back, &r), OG_OK);
    CHECK_INT(r.size, sizeof data - 1);
    CHECK(back && memcmp(back, data, sizeof data - 1) == 0);
    CHECK_STR(r.mime, "image/png");
    CHECK_STR(r.name, "photo 1.png"); /* the last segment, quotes dropped */
    free(back);
    int fd;
    off_t off;
    CHECK_INT(og_media_open_file(s, "msg_A.0", &fd, &off, &r), OG_OK);
    char first[4] = {0};
    CHECK_INT(pread(fd, first, 4, off), 4);
    CHECK(memcmp(first, "\x89PNG", 4) == 0);
    close(fd);
    /* keys: no path, no dot files */
    CHECK_INT(og_media_put(s, "../x", &m, "x", 1), OG_ERR_INVALID);
    CHECK_INT(og_media_put(s, ".tmp-1", &m, "x", 1), OG_ERR_INVALID);
    CHECK_INT(og_media_open_file(s, "../etc/passwd", &fd, &off, &r), OG_ERR_NOT_FOUND);
    CHECK_INT(og_media_open_file(s, "msg_none.0", &fd, &off, &r), OG_ERR_NOT_FOUND);
    /* one file's cap */
    char *big = og_calloc(1, 1001);
    CHECK_INT(og_media_put(s, "msg_big.0", &m, big, 1001), OG_ERR_TOO_LARGE);
    CHECK(!exists(dir, "msg_big.0"));
    free(big);
    /* a file cut short (a disk that filled) is never served */
    char *p = og_sprintf("%s/msg_A.0", dir);
    CHECK_INT(truncate(p, 30), 0);
    free(p);
    CHECK_INT(og_media_open_file(s, "msg_A.0", &fd, &off, &r), OG_ERR_NOT_FOUND);
    /* no temporary file is left behind */
    struct og_media_usage u;
    CHECK_INT(og_media_sweep(s, &u), OG_OK);
    CHECK_INT(u.files, 1);
    og_media_remove(s, "msg_A.0");
    CHECK(!exists(dir, "msg_A.0"));
    og_media_close(s);
}

static void test_lru(const char *dir)
{
    char err[256];
    /* each file: a 36-byte header + 300 bytes = 336; the cap (1100) holds
     * three, a sweep evicts down to 990 (10% under it) */
    struct og_media_opts o = {.dir = dir, .max_bytes = 1100};
    struct og_media_store *s = og_media_open(&o, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    char body[300];
    memset(body, 'x', sizeof body);
    struct og_media_meta m = meta("application/octet-stream", "f");
    CHECK_INT(og_media_put(s, "k1", &m, body, sizeof body), OG_OK);
    age(dir, "k1", 40);
    CHECK_INT(og_media_put(s, "k2", &m, body, sizeof body), OG_OK);
    age(dir, "k2", 30);
    CHECK_INT(og_media_put(s, "k3", &m, body, sizeof body), OG_OK);
    age(dir, "k3", 20);
    CHECK(exists(dir, "k1") && exists(dir, "k2") && exists(dir, "k3"));
    /* reading k1 makes it the most recently used */
    int fd;
    off_t off;
    struct og_media_meta r;
    CHECK_INT(og_media_open_file(s, "k1", &fd, &off, &r), OG_OK);
    close(fd);
    /* over the cap: the least recently used go, oldest first, until 10%
     * under it: k2, then k3; k1 (read) and k4 (new) stay */
    CHECK_INT(og_media_put(s, "k4", &m, body, sizeof body), OG_OK);
    CHECK(!exists(dir, "k2"));
    CHECK(!exists(dir, "k3"));
    CHECK(exists(dir, "k1") && exists(dir, "k4"));
    /* one more fits under the cap: nothing goes, and no sweep ran */
    CHECK_INT(og_media_put(s, "k5", &m, body, sizeof body), OG_OK);
    CHECK(exists(dir, "k1") && exists(dir, "k4") && exists(dir, "k5"));

    /* a second instance on the same directory: its puts pass the cap the
     * first one knows of; the next sweep (the housekeeping worker's, or a
     * put of either past its own count) evicts the oldest across both */
    struct og_media_store *s2 = og_media_open(&o, err, sizeof err);
    CHECK(s2 != NULL);
    age(dir, "k1", 50);
    age(dir, "k4", 40);
    age(dir, "k5", 30);
    CHECK_INT(og_media_put(s2, "k6", &m, body, sizeof body), OG_OK); /* s2 sweeps first */
    CHECK(!exists(dir, "k1") && !exists(dir, "k4"));
    CHECK(exists(dir, "k5") && exists(dir, "k6"));
    struct og_media_usage u;
    CHECK_INT(og_media_sweep(s, &u), OG_OK);
    CHECK_INT(u.files, 2);
    CHECK(u.bytes <= 1100);

    /* a read marks a file used only past a 5 s grain: one marked 3 s ago
     * keeps its mark, one marked 20 s ago is marked now */
    age(dir, "k5", 3);
    age(dir, "k6", 20);
    struct stat before5, after5, after6;
    char *p5 = og_sprintf("%s/k5", dir), *p6 = og_sprintf("%s/k6", dir);
    stat(p5, &before5);
    CHECK_INT(og_media_open_file(s, "k5", &fd, &off, &r), OG_OK);
    close(fd);
    CHECK_INT(og_media_open_file(s2, "k6", &fd, &off, &r), OG_OK);
    close(fd);
    stat(p5, &after5);
    stat(p6, &after6);
    CHECK(after5.st_mtim.tv_sec == before5.st_mtim.tv_sec);
    CHECK(time(NULL) - after6.st_mtim.tv_sec <= 2);
    free(p5), free(p6);
    og_media_close(s);
    og_media_close(s2);

    /* the age limit; a stale temporary file (a writer that died) goes too,
     * a fresh one (a write in progress) stays */
    struct og_media_opts o2 = {.dir = dir, .max_age_s = 60};
    s = og_media_open(&o2, err, sizeof err);
    age(dir, "k5", 120);
    char *stale = og_sprintf("%s/.tmp-1-dead", dir), *fresh = og_sprintf("%s/.tmp-2-live", dir);
    FILE *f = fopen(stale, "w");
    if (f)
        fclose(f);
    f = fopen(fresh, "w");
    if (f)
        fclose(f);
    age(dir, ".tmp-1-dead", 7200);
    CHECK_INT(og_media_sweep(s, &u), OG_OK);
    CHECK_INT(u.expired, 1);
    CHECK(!exists(dir, "k5"));
    CHECK(exists(dir, "k6"));
    CHECK(access(stale, F_OK) != 0);
    CHECK(access(fresh, F_OK) == 0);
    unlink(fresh);
    free(stale), free(fresh);
    og_media_close(s);
}

static void test_sniff(void)
{
    CHECK_STR(og_media_sniff("\xFF\xD8\xFF\xE0\0\x10JFIF", 10), "image/jpeg");
    CHECK_STR(og_media_sniff("\x89PNG\r\n\x1a\n\0\0", 10), "image/png");
    CHECK_STR(og_media_sniff("GIF89a\x01\0", 8), "image/gif");
    CHECK_STR(og_media_sniff("RIFF\x24\0\0\0WEBPVP8 ", 16), "image/webp");
    CHECK_STR(og_media_sniff("%PDF-1.7\n", 9), "application/pdf");
    CHECK_STR(og_media_sniff("OggS\0\x02\0\0", 8), "audio/ogg");
    CHECK_STR(og_media_sniff("ID3\x04\0\0\0\0", 8), "audio/mpeg");
    CHECK_STR(og_media_sniff("\0\0\0\x20"
                             "ftypisom\0\0\x02\0",
                             16),
              "video/mp4");
    CHECK_STR(og_media_sniff("\0\0\0\x20"
                             "ftypM4A \0\0\0\0",
                             16),
              "audio/mp4");
    CHECK_STR(og_media_sniff("#!AMR\n", 6), "audio/amr");
    CHECK_STR(og_media_sniff("PK\x03\x04\x14\0", 6), "application/zip");
    CHECK(og_media_sniff("<html><script>", 14) == NULL);
    CHECK(og_media_sniff("<svg xmlns=", 11) == NULL);
    CHECK(og_media_sniff("\xFF\xD8", 2) == NULL); /* too short to say */
    CHECK(og_media_sniff(NULL, 0) == NULL);
    /* the served type: never what a name or a URL claims */
    CHECK_STR(og_media_type("<html><script>alert(1)</script>", 31, "text/html"),
              "application/octet-stream");
    CHECK_STR(og_media_type("<svg onload=x>", 14, "image/svg+xml"), "application/octet-stream");
    CHECK_STR(og_media_type("\xFF\xD8\xFF\xE0", 4, "application/pdf"), "image/jpeg");
    CHECK_STR(og_media_type("hello, world\n", 13, "text/plain; charset=utf-8"), "text/plain");
    CHECK_STR(og_media_type("a\0b", 3, "text/plain"), "application/octet-stream");
    CHECK_STR(
        og_media_type("PK\x03\x04", 4,
                      "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    CHECK_STR(og_media_type("PK\x03\x04", 4, "text/html"), "application/zip");
}

static void test_names(void)
{
    CHECK_STR(og_media_ext("image/jpeg"), "jpg");
    CHECK_STR(og_media_ext("audio/ogg"), "ogg");
    CHECK_STR(og_media_ext("application/x-unknown"), "bin");
    CHECK_STR(og_media_ext(NULL), "bin");
    char out[32];
    og_media_clean_name("C:\\Users\\x\\report.pdf", out, sizeof out);
    CHECK_STR(out, "report.pdf");
    og_media_clean_name("..", out, sizeof out);
    CHECK_STR(out, "");
    og_media_clean_name("a\r\nb\"c.txt", out, sizeof out);
    CHECK_STR(out, "abc.txt");
    og_media_clean_name("\xD1\x84\xD0\xBE\xD1\x82\xD0\xBE.jpg", out, 8); /* "фото.jpg" cut */
    CHECK_STR(out, "\xD1\x84\xD0\xBE\xD1\x82");
    char *d = og_media_disposition("\xD1\x84\xD0\xBE\xD1\x82\xD0\xBE 1%.jpg");
    CHECK_STR(d, "attachment; filename=\"________ 1_.jpg\"; "
                 "filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE%201%25.jpg");
    free(d);
    d = og_media_disposition("");
    CHECK_STR(d, "attachment; filename=\"file\"; filename*=UTF-8''file");
    free(d);
}

static void test_links(void)
{
    unsigned char key[32], other[32];
    og_media_link_key("admin-token-0123456789", key);
    og_media_link_key("another-token-0123456789", other);
    const char *path = "/api/v1/messages/msg_X/attachments/0";
    char *l = og_media_link(key, "https://gw.example/", path, 2000000000);
    CHECK(l &&
          strncmp(l, "https://gw.example/api/v1/messages/msg_X/attachments/0?exp=2000000000&sig=",
                  74) == 0);
    const char *sig = l ? strstr(l, "sig=") + 4 : "";
    int expired = 0;
    CHECK_INT(og_media_link_check(key, path, "2000000000", sig, 1900000000, &expired), OG_OK);
    CHECK_INT(og_media_link_check(key, path, "2000000000", sig, 2000000001, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(expired, 1);
    CHECK_INT(og_media_link_check(key, path, "2000000001", sig, 1900000000, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(expired, 0);
    CHECK_INT(og_media_link_check(key, "/api/v1/messages/msg_X/attachments/1", "2000000000", sig,
                                  1900000000, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(og_media_link_check(other, path, "2000000000", sig, 1900000000, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(og_media_link_check(key, path, "-1", sig, 0, &expired), OG_ERR_SIGNATURE);
    CHECK_INT(og_media_link_check(key, path, "2000000000", NULL, 0, &expired), OG_ERR_SIGNATURE);
    free(l);
    l = og_media_link(key, "", path, 5);
    CHECK(l && strncmp(l, "/api/v1/messages/", 17) == 0);
    free(l);
}

int main(void)
{
    char *dir = og_test_tmpdir();
    char *sub = og_sprintf("%s/deep/media", dir);
    test_put_read(sub);
    char *lru = og_sprintf("%s/lru", dir);
    test_lru(lru);
    test_sniff();
    test_names();
    test_links();
    og_test_rmdir(dir);
    free(sub), free(lru), free(dir);
    return og_test_done();
}
