/* og_media - see og_media.h. */
#include "og_media.h"
#include "og_log.h"
#include "og_media_s3.h"
#include "og_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEADER_MAX 1024
#define MAGIC "OGM1\n"
/* A temporary file this old is a write that died (a crash): swept. */
#define TMP_STALE_S 3600

struct og_media_store {
    char *dir;
    int64_t max_bytes, max_age_s, max_file_bytes;
    pthread_mutex_t sweep_mu; /* one sweep at a time in this process */
    pthread_mutex_t est_mu;
    /* The store's size as this process last saw it plus what it stored
     * since; -1 = unknown (a sweep learns it). A put sweeps only when this
     * passes the cap, so a store under its cap never scans its directory
     * on a put (another instance's puts are seen at the next sweep). */
    int64_t est_bytes;
    int64_t swept_ms;       /* monotonic time of this process's last sweep */
    struct og_media_s3 *s3; /* [owned] the shared store; NULL = the directory only */
};
/* A put sweeps at least this often even under the count it knows of: what
 * other instances on the directory stored is seen within this long. */
#define RESYNC_MS 10000

/* A sweep evicts down to this much of the cap, so that a store at its cap
 * does not scan its directory on every put. */
#define LOW_WATER(cap) ((cap) - (cap) / 10)
/* A read marks a file used (its mtime) only when its mark is older than
 * this: the LRU order at that grain, without a metadata write per read. */
#define TOUCH_GRAIN_S 5

static int mkdir_p(const char *path)
{
    char *p = og_strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0750) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0750) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

struct og_media_store *og_media_open(const struct og_media_opts *o, char *err, size_t errlen)
{
    if (!o->dir || !*o->dir) {
        snprintf(err, errlen, "media.dir is empty");
        return NULL;
    }
    if (mkdir_p(o->dir) != 0 || access(o->dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "media.dir %s: %s", o->dir, strerror(errno));
        return NULL;
    }
    struct og_media_s3 *s3 = NULL;
    if (o->s3_endpoint && *o->s3_endpoint) {
        struct og_media_s3_opts so = {.endpoint = o->s3_endpoint,
                                      .bucket = o->s3_bucket ? o->s3_bucket : "",
                                      .region = o->s3_region,
                                      .access_key = o->s3_access_key ? o->s3_access_key : "",
                                      .secret_key = o->s3_secret_key ? o->s3_secret_key : ""};
        s3 = og_media_s3_open(&so, err, errlen);
        if (!s3)
            return NULL;
    }
    struct og_media_store *s = og_calloc(1, sizeof *s);
    s->s3 = s3;
    s->dir = og_strdup(o->dir);
    s->max_bytes = o->max_bytes;
    s->max_age_s = o->max_age_s;
    s->max_file_bytes = o->max_file_bytes > 0 ? o->max_file_bytes : OG_MEDIA_MAX_FILE_BYTES;
    pthread_mutex_init(&s->sweep_mu, NULL);
    pthread_mutex_init(&s->est_mu, NULL);
    s->est_bytes = -1;
    return s;
}

void og_media_close(struct og_media_store *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->sweep_mu);
    pthread_mutex_destroy(&s->est_mu);
    og_media_s3_close(s->s3);
    free(s->dir);
    free(s);
}

int64_t og_media_max_file_bytes(const struct og_media_store *s)
{
    return s->max_file_bytes;
}

int og_media_key_valid(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > OG_MEDIA_KEY_MAX || key[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w, n -= (size_t)w;
    }
    return 0;
}

/* bytes more are in the directory: sweeps when the cap may be passed. */
static void stored(struct og_media_store *s, int64_t bytes)
{
    int sweep = 0;
    if (s->max_bytes > 0) {
        pthread_mutex_lock(&s->est_mu);
        if (s->est_bytes >= 0)
            s->est_bytes += bytes;
        sweep = s->est_bytes < 0 || s->est_bytes > s->max_bytes ||
                og_mono_ms() - s->swept_ms > RESYNC_MS;
        pthread_mutex_unlock(&s->est_mu);
    }
    if (sweep)
        og_media_sweep(s, NULL);
}

og_err og_media_put(struct og_media_store *s, const char *key, const struct og_media_meta *m,
                    const void *data, size_t len)
{
    if (!og_media_key_valid(key))
        return OG_ERR_INVALID;
    if ((int64_t)len > s->max_file_bytes)
        return OG_ERR_TOO_LARGE;
    char name[256];
    og_media_clean_name(m->name, name, sizeof name);
    char *hdr = og_sprintf(MAGIC "%zu\n%s\n%s\n", len,
                           m->mime[0] ? m->mime : "application/octet-stream", name);
    unsigned char rnd[8];
    char hex[17];
    og_random_bytes(rnd, sizeof rnd);
    og_hex_encode(rnd, sizeof rnd, hex, sizeof hex);
    char *tmp = og_sprintf("%s/.tmp-%ld-%s", s->dir, (long)getpid(), hex);
    char *final = og_sprintf("%s/%s", s->dir, key);
    og_err e = OG_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 || write_all(fd, hdr, strlen(hdr)) != 0 || write_all(fd, data, len) != 0) {
        og_error("media: cannot write %s: %s", tmp, strerror(errno));
        e = OG_ERR_UNAVAILABLE;
    }
    if (fd >= 0 && close(fd) != 0 && e == OG_OK)
        e = OG_ERR_UNAVAILABLE;
    /* the bucket first: a file this instance has is one the others can get */
    if (e == OG_OK && s->s3) {
        int rfd = open(tmp, O_RDONLY | O_CLOEXEC);
        e = rfd < 0 ? OG_ERR_UNAVAILABLE
                    : og_media_s3_put(s->s3, key, rfd, (int64_t)(strlen(hdr) + len));
        if (rfd >= 0)
            close(rfd);
    }
    /* the rename is the commit: a reader sees the old file or the new one */
    if (e == OG_OK && rename(tmp, final) != 0) {
        og_error("media: cannot rename into %s: %s", final, strerror(errno));
        e = OG_ERR_UNAVAILABLE;
    }
    if (e != OG_OK)
        unlink(tmp);
    size_t hlen = strlen(hdr);
    free(hdr), free(tmp), free(final);
    if (e == OG_OK)
        stored(s, (int64_t)(hlen + len));
    return e;
}

/* Reads the header of an open file: its length in *offset, m filled. */
static int read_header(int fd, off_t *offset, struct og_media_meta *m)
{
    char buf[HEADER_MAX + 1];
    ssize_t n = pread(fd, buf, HEADER_MAX, 0);
    if (n < (ssize_t)strlen(MAGIC) || memcmp(buf, MAGIC, strlen(MAGIC)) != 0)
        return -1;
    buf[n] = 0;
    char *p = buf + strlen(MAGIC), *lines[3];
    for (int i = 0; i < 3; i++) {
        char *nl = memchr(p, '\n', (size_t)(buf + n - p));
        if (!nl)
            return -1;
        *nl = 0;
        lines[i] = p;
        p = nl + 1;
    }
    char *end;
    long long size = strtoll(lines[0], &end, 10);
    if (*end || size < 0)
        return -1;
    memset(m, 0, sizeof *m);
    m->size = size;
    snprintf(m->mime, sizeof m->mime, "%s", lines[1]);
    snprintf(m->name, sizeof m->name, "%s", lines[2]);
    *offset = (off_t)(p - buf);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size != *offset + (off_t)size)
        return -1; /* not the whole file: never served */
    return 0;
}

/* Downloads key from the bucket into the directory (a temporary file
 * renamed into place once its header checks out, as a put does). */
static og_err download(struct og_media_store *s, const char *key)
{
    unsigned char rnd[8];
    char hex[17];
    og_random_bytes(rnd, sizeof rnd);
    og_hex_encode(rnd, sizeof rnd, hex, sizeof hex);
    char *tmp = og_sprintf("%s/.tmp-%ld-%s", s->dir, (long)getpid(), hex);
    char *final = og_sprintf("%s/%s", s->dir, key);
    og_err e = OG_ERR_UNAVAILABLE;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd >= 0) {
        e = og_media_s3_get(s->s3, key, fd, s->max_file_bytes + HEADER_MAX);
        off_t off;
        struct og_media_meta m;
        struct stat st;
        if (e == OG_OK && read_header(fd, &off, &m) != 0) {
            og_error("media.s3: object %s is not a media file: not served", key);
            e = OG_ERR_NOT_FOUND;
        }
        if (e == OG_OK && (fstat(fd, &st) != 0 || rename(tmp, final) != 0))
            e = OG_ERR_UNAVAILABLE;
        close(fd);
        if (e == OG_OK)
            stored(s, (int64_t)st.st_size);
    }
    if (e != OG_OK)
        unlink(tmp);
    free(tmp), free(final);
    return e;
}

og_err og_media_open_file(struct og_media_store *s, const char *key, int *fd, off_t *offset,
                          struct og_media_meta *m)
{
    *fd = -1;
    if (!og_media_key_valid(key))
        return OG_ERR_NOT_FOUND;
    char *path = og_sprintf("%s/%s", s->dir, key);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0 && errno == ENOENT && s->s3) {
        og_err e = download(s, key);
        if (e != OG_OK) {
            free(path);
            return e == OG_ERR_TOO_LARGE ? OG_ERR_NOT_FOUND : e;
        }
        f = open(path, O_RDONLY | O_CLOEXEC);
    }
    free(path);
    if (f < 0)
        return errno == ENOENT ? OG_ERR_NOT_FOUND : OG_ERR_UNAVAILABLE;
    if (read_header(f, offset, m) != 0) {
        close(f);
        return OG_ERR_NOT_FOUND;
    }
    struct stat st;
    if (fstat(f, &st) == 0 && time(NULL) - st.st_mtim.tv_sec >= TOUCH_GRAIN_S)
        futimens(f, NULL); /* its last use: the LRU order */
    *fd = f;
    return OG_OK;
}

og_err og_media_read(struct og_media_store *s, const char *key, char **data,
                     struct og_media_meta *m)
{
    int fd;
    off_t off;
    *data = NULL;
    og_err e = og_media_open_file(s, key, &fd, &off, m);
    if (e != OG_OK)
        return e;
    char *d = og_malloc((size_t)m->size + 1);
    size_t got = 0;
    while (got < (size_t)m->size) {
        ssize_t n = pread(fd, d + got, (size_t)m->size - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)m->size) {
        free(d);
        return OG_ERR_UNAVAILABLE;
    }
    d[got] = 0;
    *data = d;
    return OG_OK;
}

og_err og_media_remove(struct og_media_store *s, const char *key)
{
    if (!og_media_key_valid(key))
        return OG_ERR_INVALID;
    char *path = og_sprintf("%s/%s", s->dir, key);
    int rc = unlink(path);
    og_err e = rc == 0 || errno == ENOENT ? OG_OK : OG_ERR_UNAVAILABLE;
    free(path);
    /* the bucket too: another instance's cache keeps its copy until its
     * own sweep, as with a shared directory a reader holding it open does */
    if (s->s3 && og_media_s3_delete(s->s3, key) != OG_OK)
        e = OG_ERR_UNAVAILABLE;
    return e;
}

struct entry {
    char *name;
    struct timespec mtime;
    int64_t bytes;
};

static int by_mtime(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Unlinks dir/name; 1 when this call removed it (another instance may have). */
static int remove_entry(const char *dir, const char *name)
{
    char *path = og_sprintf("%s/%s", dir, name);
    int rc = unlink(path);
    free(path);
    return rc == 0;
}

og_err og_media_sweep(struct og_media_store *s, struct og_media_usage *usage)
{
    struct og_media_usage u = {0};
    pthread_mutex_lock(&s->sweep_mu);
    DIR *d = opendir(s->dir);
    if (!d) {
        pthread_mutex_unlock(&s->sweep_mu);
        return OG_ERR_UNAVAILABLE;
    }
    struct entry *v = NULL;
    size_t n = 0, cap = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (de->d_name[0] == '.') {
            if (!strncmp(de->d_name, ".tmp-", 5) && now - st.st_mtim.tv_sec > TMP_STALE_S)
                remove_entry(s->dir, de->d_name);
            continue;
        }
        if (s->max_age_s > 0 && now - st.st_mtim.tv_sec > s->max_age_s) {
            u.expired += remove_entry(s->dir, de->d_name);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = og_realloc(v, cap * sizeof *v);
        }
        v[n].name = og_strdup(de->d_name);
        v[n].mtime = st.st_mtim;
        v[n].bytes = (int64_t)st.st_size;
        u.bytes += v[n].bytes;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof *v, by_mtime);
    size_t i = 0;
    int over = s->max_bytes > 0 && u.bytes > s->max_bytes;
    for (; over && u.bytes > LOW_WATER(s->max_bytes) && i < n; i++) {
        u.evicted += remove_entry(s->dir, v[i].name);
        u.bytes -= v[i].bytes;
    }
    pthread_mutex_lock(&s->est_mu);
    s->est_bytes = u.bytes;
    s->swept_ms = og_mono_ms();
    pthread_mutex_unlock(&s->est_mu);
    u.files = (int64_t)(n - i);
    for (size_t k = 0; k < n; k++)
        free(v[k].name);
    free(v);
    pthread_mutex_unlock(&s->sweep_mu);
    if (usage)
        *usage = u;
    return OG_OK;
}

/* ---------------------------------------------------------------- types */

static int at(const unsigned char *p, size_t len, size_t off, const char *sig, size_t n)
{
    return len >= off + n && memcmp(p + off, sig, n) == 0;
}

const char *og_media_sniff(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!p || len < 4)
        return NULL;
    if (at(p, len, 0, "\xFF\xD8\xFF", 3))
        return "image/jpeg";
    if (at(p, len, 0, "\x89PNG\r\n\x1A\n", 8))
        return "image/png";
    if (at(p, len, 0, "GIF87a", 6) || at(p, len, 0, "GIF89a", 6))
        return "image/gif";
    if (at(p, len, 0, "RIFF", 4) && at(p, len, 8, "WEBP", 4))
        return "image/webp";
    if (at(p, len, 0, "RIFF", 4) && at(p, len, 8, "WAVE", 4))
        return "audio/wav";
    if (at(p, len, 0, "BM", 2) && len >= 26 && at(p, len, 6, "\0\0\0\0", 4))
        return "image/bmp";
    if (at(p, len, 0, "%PDF-", 5))
        return "application/pdf";
    if (at(p, len, 0, "OggS", 4))
        return "audio/ogg";
    if (at(p, len, 0, "#!AMR", 5))
        return "audio/amr";
    if (at(p, len, 0, "ID3", 3))
        return "audio/mpeg";
    if (at(p, len, 0, "fLaC", 4))
        return "audio/flac";
    if (at(p, len, 0, "\x1A\x45\xDF\xA3", 4))
        return "video/webm";
    if (at(p, len, 4, "ftyp", 4) && len >= 12) {
        const unsigned char *b = p + 8; /* the major brand */
        if (!memcmp(b, "M4A ", 4) || !memcmp(b, "M4B ", 4))
            return "audio/mp4";
        if (!memcmp(b, "3gp", 3) || !memcmp(b, "3g2", 3))
            return "video/3gpp";
        if (!memcmp(b, "qt  ", 4))
            return "video/quicktime";
        if (!memcmp(b, "heic", 4) || !memcmp(b, "heix", 4) || !memcmp(b, "mif1", 4))
            return "image/heic";
        if (!memcmp(b, "avif", 4))
            return "image/avif";
        return "video/mp4";
    }
    if (at(p, len, 0, "PK\x03\x04", 4))
        return "application/zip";
    if (at(p, len, 0, "\x1F\x8B", 2))
        return "application/gzip";
    if (at(p, len, 0, "7z\xBC\xAF\x27\x1C", 6))
        return "application/x-7z-compressed";
    if (at(p, len, 0, "Rar!\x1A\x07", 6))
        return "application/vnd.rar";
    if (at(p, len, 0, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
        return "application/x-ole-storage"; /* .doc, .xls, .ppt */
    /* an MPEG audio frame: 11 bits of sync, layer bits not 00 */
    if (p[0] == 0xFF && (p[1] & 0xE0) == 0xE0 && (p[1] & 0x06) != 0) {
        /* ADTS (AAC) has layer 00 and is caught below */
        return "audio/mpeg";
    }
    if (p[0] == 0xFF && (p[1] & 0xF6) == 0xF0)
        return "audio/aac";
    return NULL;
}

/* Zip containers whose declared type is kept (the bytes say only "zip"). */
static const char *const zip_types[] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
    "application/vnd.android.package-archive",
    NULL,
};
/* OLE containers likewise. */
static const char *const ole_types[] = {
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    NULL,
};

static const char *declared_of(const char *declared, const char *const *list)
{
    if (!declared)
        return NULL;
    size_t n = strcspn(declared, "; ");
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && strncasecmp(declared, list[i], n) == 0)
            return list[i];
    return NULL;
}

static int plain_text(const unsigned char *p, size_t len)
{
    size_t n = len > 4096 ? 4096 : len;
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t') || p[i] == 0x7F)
            return 0;
    /* a character cut at the 4096th byte is not a fault */
    size_t ok = n;
    while (ok > 0 && n - ok < 4 && (p[ok - 1] & 0xC0) == 0x80)
        ok--;
    if (ok > 0 && n < len && p[ok - 1] >= 0xC0)
        ok--;
    return og_utf8_valid((const char *)p, n == len ? n : ok);
}

const char *og_media_type(const void *data, size_t len, const char *declared)
{
    const char *t = og_media_sniff(data, len);
    if (t && !strcmp(t, "application/zip")) {
        const char *d = declared_of(declared, zip_types);
        return d ? d : t;
    }
    if (t && !strcmp(t, "application/x-ole-storage")) {
        const char *d = declared_of(declared, ole_types);
        return d ? d : "application/octet-stream";
    }
    if (t)
        return t;
    static const char *const text_types[] = {"text/plain", "text/csv", NULL};
    const char *d = declared_of(declared, text_types);
    if (d && plain_text(data, len))
        return d;
    return "application/octet-stream";
}

const char *og_media_ext(const char *mime)
{
    static const char *const map[][2] = {
        {"image/jpeg", "jpg"},  {"image/png", "png"},       {"image/gif", "gif"},
        {"image/webp", "webp"}, {"image/bmp", "bmp"},       {"image/heic", "heic"},
        {"image/avif", "avif"}, {"application/pdf", "pdf"}, {"audio/ogg", "ogg"},
        {"audio/mpeg", "mp3"},  {"audio/mp4", "m4a"},       {"audio/amr", "amr"},
        {"audio/wav", "wav"},   {"audio/flac", "flac"},     {"audio/aac", "aac"},
        {"video/mp4", "mp4"},   {"video/3gpp", "3gp"},      {"video/quicktime", "mov"},
        {"video/webm", "webm"}, {"application/zip", "zip"}, {"application/gzip", "gz"},
        {"text/plain", "txt"},  {"text/csv", "csv"},
    };
    for (size_t i = 0; mime && i < sizeof map / sizeof *map; i++)
        if (!strcmp(mime, map[i][0]))
            return map[i][1];
    return "bin";
}

void og_media_clean_name(const char *name, char *out, size_t outsz)
{
    if (!outsz)
        return;
    out[0] = 0;
    if (!name)
        return;
    const char *base = name;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *fixed = og_utf8_fix(base, strlen(base), NULL);
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)fixed; *p;) {
        size_t k = og_utf8_seq(p, strlen((const char *)p));
        if (k == 0)
            k = 1;
        int drop = k == 1 && (*p < 0x20 || *p == 0x7F || *p == '"' || *p == '\\');
        if (!drop) {
            if (o + k >= outsz)
                break;
            memcpy(out + o, p, k);
            o += k;
        }
        p += k;
    }
    out[o] = 0;
    free(fixed);
    if (!strcmp(out, ".") || !strcmp(out, ".."))
        out[0] = 0;
}

char *og_media_disposition(const char *name)
{
    char clean[256];
    og_media_clean_name(name, clean, sizeof clean);
    const char *n = clean[0] ? clean : "file";
    struct og_buf ascii = {0}, ext = {0};
    og_buf_puts(&ascii, "");
    og_buf_puts(&ext, "");
    for (const unsigned char *p = (const unsigned char *)n; *p; p++) {
        char c = (*p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\' && *p != '%') ? (char)*p : '_';
        og_buf_append(&ascii, &c, 1);
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p))
            og_buf_append(&ext, p, 1);
        else
            og_buf_printf(&ext, "%%%02X", *p);
    }
    char *d = og_sprintf("attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii.data, ext.data);
    og_buf_free(&ascii), og_buf_free(&ext);
    return d;
}

og_err og_media_limit_check(const struct og_media_limit *limits, const char *mime, int64_t size,
                            char *why, size_t whylen)
{
    if (!limits)
        return OG_OK;
    for (const struct og_media_limit *l = limits; l->type; l++) {
        size_t n = strlen(l->type);
        int match = !strcmp(l->type, "*") ||
                    (n && l->type[n - 1] == '/' ? strncasecmp(mime, l->type, n) == 0
                                                : strcasecmp(mime, l->type) == 0);
        if (!match)
            continue;
        if (size > l->max_bytes) {
            snprintf(why, whylen, "a %s file of this channel may have at most %lld bytes", mime,
                     (long long)l->max_bytes);
            return OG_ERR_TOO_LARGE;
        }
        return OG_OK;
    }
    snprintf(why, whylen, "this channel's platform does not take %s files", mime);
    return OG_ERR_INVALID;
}

/* ---------------------------------------------------------- signed links */

void og_media_link_key(const char *secret, unsigned char key[32])
{
    static const char label[] = "omnigate media link v1";
    og_hmac_sha256(secret ? secret : "", secret ? strlen(secret) : 0, label, sizeof label - 1, key);
}

static void link_mac(const unsigned char key[32], const char *path, long long exp, char hex[33])
{
    char *msg = og_sprintf("media\n%s\n%lld", path, exp);
    unsigned char mac[32];
    og_hmac_sha256(key, 32, msg, strlen(msg), mac);
    og_hex_encode(mac, 16, hex, 33);
    free(msg);
}

char *og_media_link(const unsigned char key[32], const char *origin, const char *path,
                    int64_t exp_s)
{
    char hex[33];
    link_mac(key, path, (long long)exp_s, hex);
    size_t n = origin ? strlen(origin) : 0;
    while (n && origin[n - 1] == '/')
        n--;
    return og_sprintf("%.*s%s?exp=%lld&sig=%s", (int)n, n ? origin : "", path, (long long)exp_s,
                      hex);
}

og_err og_media_link_check(const unsigned char key[32], const char *path, const char *exp,
                           const char *sig, int64_t now_s, int *expired)
{
    *expired = 0;
    if (!exp || !sig || !*exp || strlen(exp) > 12 || strspn(exp, "0123456789") != strlen(exp) ||
        strlen(sig) != 32)
        return OG_ERR_SIGNATURE;
    long long e = strtoll(exp, NULL, 10);
    char hex[33];
    link_mac(key, path, e, hex);
    if (!og_ct_equal(hex, 32, sig, 32))
        return OG_ERR_SIGNATURE;
    if (e < now_s) {
        *expired = 1;
        return OG_ERR_SIGNATURE;
    }
    return OG_OK;
}
