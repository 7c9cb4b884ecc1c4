/* og_static - see og_static.h. */
#include "og_static.h"
#include "og_log.h"
#include "og_util.h"

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* No inline script or style anywhere; images may come from the API (blob:,
 * data:) and, for attachments a platform serves, from https. */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; " \
    "media-src 'self' blob: https:; connect-src 'self'; font-src 'self'; object-src 'none'; "      \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

struct file {
    char *path;        /* owned: URL path, "/inbox/app.js" */
    const char *ctype; /* static */
    char *data, *gz;   /* owned */
    size_t len, gz_len;
    char etag[72]; /* "\"<32 hex>\"" */
};

struct og_static {
    struct file *f; /* owned, sorted by path */
    size_t n;
};

static const char *ctype_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".webmanifest", "application/manifest+json"},
        {".txt", "text/plain; charset=utf-8"},
        {".mp3", "audio/mpeg"},
        {".ogg", "audio/ogg"},
        {".wav", "audio/wav"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcasecmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    struct og_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0 && b.len <= OG_STATIC_MAX_FILE)
        og_buf_append(&b, chunk, n);
    fclose(fp);
    if (b.len > OG_STATIC_MAX_FILE) {
        og_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data ? b.data : og_strdup("");
}

static void add_file(struct og_static *s, const char *fs_path, const char *url_path)
{
    size_t len = 0;
    char *data = read_all(fs_path, &len);
    if (!data) {
        og_warn("static: %s: unreadable or larger than %u bytes; not served", fs_path,
                OG_STATIC_MAX_FILE);
        return;
    }
    s->f = og_realloc(s->f, (s->n + 1) * sizeof *s->f);
    struct file *f = &s->f[s->n++];
    memset(f, 0, sizeof *f);
    f->path = og_strdup(url_path);
    f->ctype = ctype_of(url_path);
    f->data = data;
    f->len = len;
    unsigned char d[32];
    og_sha256(data, len, d);
    char hex[65];
    og_hex_encode(d, 16, hex, sizeof hex);
    snprintf(f->etag, sizeof f->etag, "\"%s\"", hex);
    char *gz = og_sprintf("%s.gz", fs_path);
    f->gz = read_all(gz, &f->gz_len);
    if (f->gz && f->gz_len >= len) { /* not worth it */
        free(f->gz);
        f->gz = NULL;
    }
    free(gz);
}

static void walk(struct og_static *s, const char *dir, const char *prefix, int depth)
{
    DIR *d = opendir(dir);
    if (!d || depth > 8) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ., .., and hidden files */
        size_t nl = strlen(e->d_name);
        if (nl > 3 && strcmp(e->d_name + nl - 3, ".gz") == 0)
            continue; /* a compressed copy, loaded with its original */
        char *fs = og_sprintf("%s/%s", dir, e->d_name);
        char *url = og_sprintf("%s/%s", prefix, e->d_name);
        struct stat st;
        if (stat(fs, &st) == 0 && S_ISDIR(st.st_mode))
            walk(s, fs, url, depth + 1);
        else if (stat(fs, &st) == 0 && S_ISREG(st.st_mode))
            add_file(s, fs, url);
        free(fs);
        free(url);
    }
    closedir(d);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct file *)a)->path, ((const struct file *)b)->path);
}

struct og_static *og_static_load(const char *dir)
{
    struct og_static *s = og_calloc(1, sizeof *s);
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        og_warn("static: no pages directory %s: the inbox and pages are not served",
                dir ? dir : "(none)");
        return s;
    }
    walk(s, dir, "", 0);
    if (s->n)
        qsort(s->f, s->n, sizeof *s->f, by_path);
    return s;
}

void og_static_free(struct og_static *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->f[i].path);
        free(s->f[i].data);
        free(s->f[i].gz);
    }
    free(s->f);
    free(s);
}

size_t og_static_count(const struct og_static *s)
{
    return s ? s->n : 0;
}

const char *og_static_path(const struct og_static *s, size_t i)
{
    return s && i < s->n ? s->f[i].path : NULL;
}

char *og_static_default_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return og_strdup("share/omnigate/www");
    exe[n] = 0;
    return og_sprintf("%s/../share/omnigate/www", dirname(exe));
}

static const struct file *find(const struct og_static *s, const char *path)
{
    struct file key = {.path = (char *)path};
    return s->n ? bsearch(&key, s->f, s->n, sizeof *s->f, by_path) : NULL;
}

/* 1 when the Accept-Encoding header takes gzip (a q=0 refuses it). */
static int accepts_gzip(struct MHD_Connection *conn)
{
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
    const char *p = ae ? strstr(ae, "gzip") : NULL;
    if (!p)
        return 0;
    const char *q = strchr(p, ';');
    const char *comma = strchr(p, ',');
    if (q && (!comma || q < comma)) {
        q++;
        while (*q == ' ')
            q++;
        if (strncmp(q, "q=0", 3) == 0 && strspn(q + 3, ".0") == strcspn(q + 3, ", "))
            return 0;
    }
    return 1;
}

int og_static_serve(struct og_static *s, struct MHD_Connection *conn, const char *method,
                    const char *url, struct og_reply *r)
{
    if (!s || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0))
        return -1;
    if (strstr(url, "..") || strstr(url, "//"))
        return -1;
    char path[512];
    size_t ul = strlen(url);
    if (ul == 0 || ul + 16 > sizeof path)
        return -1;
    if (url[ul - 1] == '/')
        snprintf(path, sizeof path, "%sindex.html", url);
    else
        snprintf(path, sizeof path, "%s", url);
    const struct file *f = find(s, path);
    if (!f && url[ul - 1] != '/') {
        /* "/inbox" -> "/inbox/" when that is a page */
        snprintf(path, sizeof path, "%s/index.html", url);
        if (!find(s, path))
            return -1;
        char *loc = og_sprintf("%s/", url);
        r->status = 308;
        r->content_type = "text/plain; charset=utf-8";
        r->body = og_strdup("");
        r->len = 0;
        og_reply_header(r, "Location", loc);
        free(loc);
        return 0;
    }
    if (!f)
        return -1;
    og_reply_header(r, "ETag", f->etag);
    og_reply_header(r, "Cache-Control", "no-cache");
    og_reply_header(r, "X-Content-Type-Options", "nosniff");
    og_reply_header(r, "Referrer-Policy", "no-referrer");
    og_reply_header(r, "Vary", "Accept-Encoding");
    if (strncmp(f->ctype, "text/html", 9) == 0)
        og_reply_header(r, "Content-Security-Policy", CSP);
    r->content_type = f->ctype;
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    if (inm && strstr(inm, f->etag)) {
        r->status = 304;
        r->body = og_strdup("");
        r->len = 0;
        return 0;
    }
    int gz = f->gz && accepts_gzip(conn);
    if (gz)
        og_reply_header(r, "Content-Encoding", "gzip");
    r->status = 200;
    r->len = gz ? f->gz_len : f->len;
    r->static_body = gz ? f->gz : f->data; /* loaded for the daemon's life */
    return 0;
}
