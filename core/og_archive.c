/* og_archive - see og_archive.h. The segment files and objects are this
 * file's alone; the index and the sessions' keys are archive.lua's. One
 * mutex per core serialises what this process does to them (appends, puts,
 * deletions). */
#include "og_archive.h"
#include "og_core_int.h"
#include "og_log.h"
#include "og_media.h"
#include "og_media_s3.h"
#include "og_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* A claim holds its sessions this long: a crashed archiver's sessions are
 * claimed again after it (their first records are then superseded). */
#define LEASE_MS (10 * 60 * 1000)
/* An object put this long ago and still not indexed is a crashed step's
 * orphan (a PUT times out after 2 minutes; its commit follows at once). */
#define ORPHAN_MS (60 * 60 * 1000)
#define MAGIC "OGA1"

/* ------------------------------------------------------------ records */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int sid_ok(const char *s, size_t n)
{
    if (n < 1 || n > 31)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

og_err og_archive_record_encode(const char *sid, const char *json, size_t len, unsigned char **out,
                                size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (!sid || !sid_ok(sid, strlen(sid)) || len > OG_ARCHIVE_MAX_JSON)
        return OG_ERR_INVALID;
    uLongf clen = compressBound((uLong)len);
    unsigned char *b = og_calloc(1, OG_ARCHIVE_HDR + clen);
    if (compress2(b + OG_ARCHIVE_HDR, &clen, (const Bytef *)json, (uLong)len, 6) != Z_OK) {
        free(b);
        return OG_ERR_INTERNAL;
    }
    memcpy(b, MAGIC, 4);
    put32(b + 4, 1);
    memcpy(b + 8, sid, strlen(sid));
    put32(b + 40, (uint32_t)len);
    put32(b + 44, (uint32_t)clen);
    put32(b + 48, (uint32_t)crc32(0, b + OG_ARCHIVE_HDR, (uInt)clen));
    put32(b + 52, (uint32_t)crc32(0, b, 52));
    *out = b;
    *outlen = OG_ARCHIVE_HDR + clen;
    return OG_OK;
}

og_err og_archive_record_decode(const unsigned char *buf, size_t len, char sid[32], char **json,
                                size_t *jsonlen, size_t *used)
{
    *json = NULL;
    if (len < OG_ARCHIVE_HDR || memcmp(buf, MAGIC, 4) != 0 || get32(buf + 4) != 1 ||
        get32(buf + 52) != (uint32_t)crc32(0, buf, 52))
        return OG_ERR_INVALID;
    size_t n = strnlen((const char *)buf + 8, 32);
    if (n == 32 || !sid_ok((const char *)buf + 8, n))
        return OG_ERR_INVALID;
    for (size_t i = n; i < 32; i++)
        if (buf[8 + i])
            return OG_ERR_INVALID;
    uint32_t rlen = get32(buf + 40), clen = get32(buf + 44);
    if (rlen > OG_ARCHIVE_MAX_JSON || clen > OG_ARCHIVE_MAX_JSON || clen > len - OG_ARCHIVE_HDR ||
        get32(buf + 48) != (uint32_t)crc32(0, buf + OG_ARCHIVE_HDR, clen))
        return OG_ERR_INVALID;
    char *j = malloc((size_t)rlen + 1);
    if (!j)
        return OG_ERR_NOMEM;
    uLongf got = rlen;
    int zr = uncompress((Bytef *)j, &got, buf + OG_ARCHIVE_HDR, clen);
    if (zr != Z_OK || got != rlen) {
        free(j);
        return OG_ERR_INVALID;
    }
    j[rlen] = 0;
    memcpy(sid, buf + 8, n);
    sid[n] = 0;
    *json = j;
    *jsonlen = rlen;
    *used = OG_ARCHIVE_HDR + clen;
    return OG_OK;
}

size_t og_archive_scan(const unsigned char *buf, size_t len,
                       int (*fn)(void *ud, size_t off, size_t rlen, const char *sid,
                                 const char *json, size_t jsonlen),
                       void *ud)
{
    size_t off = 0, n = 0;
    while (off + OG_ARCHIVE_HDR <= len) {
        char sid[32], *json;
        size_t jl, used;
        if (og_archive_record_decode(buf + off, len - off, sid, &json, &jl, &used) == OG_OK) {
            n++;
            int stop = fn ? fn(ud, off, used, sid, json, jl) : 0;
            free(json);
            if (stop)
                break;
            off += used;
            continue;
        }
        /* not a record here (a write a crash cut short): the next magic */
        const unsigned char *p = memmem(buf + off + 1, len - off - 1, MAGIC, 4);
        if (!p)
            break;
        off = (size_t)(p - buf);
    }
    return n;
}

/* ---------------------------------------------------------- the files */

void og_archive_configure(struct og_core *c, const struct og_archive_opts *o)
{
    free(c->arch_dir);
    c->arch_dir = o && o->dir && *o->dir ? og_strdup(o->dir) : NULL;
    c->arch_after_ms = o ? o->after_ms : 0;
    c->arch_delete_ms = o ? o->delete_after_ms : 0;
    c->arch_batch = o && o->batch > 0 ? o->batch : 100;
    c->arch_mode_set = c->arch_backfilled = 0;
    c->arch_s3 = o ? o->s3 : NULL;
}

void og_archive_use_s3(struct og_core *c, struct og_media_s3 *s3)
{
    pthread_mutex_lock(&c->arch_mu);
    c->arch_s3 = s3;
    pthread_mutex_unlock(&c->arch_mu);
}

/* An object's segment name ("s3:<day>-<instance id>-<n>.ogs"), as opposed
 * to a file's ("<day>.ogs", "<day>-r<ms>.ogs"). */
static int seg_is_s3(const char *seg)
{
    return strncmp(seg, "s3:", 3) == 0;
}

/* The bucket's key of an object segment: "archive/<day>-<instance id>-<n>.ogs". */
#define SEG_MAX 96
static void seg_key(const char *seg, char out[SEG_MAX + 16])
{
    snprintf(out, SEG_MAX + 16, "archive/%s", seg + 3);
}

/* Creates dir (and its parents) when missing. 0 or -1. */
static int mkdirs(const char *dir)
{
    char *p = og_strdup(dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        mkdir(p, 0750);
        *s = '/';
    }
    int r = mkdir(p, 0750) == 0 || errno == EEXIST ? 0 : -1;
    free(p);
    return r;
}

/* The segment a record written now goes to: "YYYYMMDD.ogs" (UTC). */
static void seg_today(char out[32])
{
    time_t t = (time_t)(og_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 32, "%04d%02d%02d.ogs", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* A segment's name as the index holds it: only ours, a file's
 * ("[0-9]+(-r[0-9]+)?.ogs") or an object's ("s3:[A-Za-z0-9_-]+.ogs"). */
static int seg_name_ok(const char *s)
{
    size_t n = strlen(s);
    int obj = seg_is_s3(s);
    if (obj)
        s += 3, n -= 3;
    if (n < 5 || n > (obj ? 80 : 40) || strcmp(s + n - 4, ".ogs") != 0)
        return 0;
    for (size_t i = 0; i + 4 < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              (obj ? (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'
                   : s[i] == 'r')))
            return 0;
    return 1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The largest object segment read whole (a batch of archive_batch records). */
#define OBJ_MAX ((int64_t)4 << 30)

/* Reads a whole segment [xfer]: *e OG_ERR_NOT_FOUND when there is no such
 * file or object, OG_ERR_UNAVAILABLE when it cannot be read now (the
 * store's error, or an object segment without a store here): then the
 * caller must not act as if it were empty. */
static unsigned char *seg_read(struct og_core *c, const char *seg, size_t *len, og_err *e)
{
    *len = 0;
    *e = OG_OK;
    if (seg_is_s3(seg)) {
        char key[SEG_MAX + 16];
        seg_key(seg, key);
        unsigned char *b = NULL;
        *e = c->arch_s3 ? og_media_s3_get_mem(c->arch_s3, key, 0, 0, OBJ_MAX, &b, len)
                        : OG_ERR_UNAVAILABLE;
        if (!c->arch_s3)
            og_error("archive: %s is in the object store, which this instance does not use "
                     "(retention.store)",
                     seg);
        return *e == OG_OK ? b : NULL;
    }
    char *path = og_sprintf("%s/%s", c->arch_dir, seg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *e = fd < 0 && errno == ENOENT ? OG_ERR_NOT_FOUND : OG_ERR_UNAVAILABLE;
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    unsigned char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t n = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return b;
}

/* ---------------------------------------------------------- reading */

static og_err locate_once(struct og_core *c, const char *sid, json_object **rec, char **loc,
                          char **text);

/* The record of an archived session, as the index locates it: *rec [xfer,
 * json_object_put], *loc [xfer] the index entry it was read through, *text
 * [xfer] the record's JSON (loc and text may be NULL). OG_ERR_NOT_FOUND
 * when it is not archived, OG_ERR_UNAVAILABLE when it cannot be read here. */
static og_err locate(struct og_core *c, const char *sid, json_object **rec, char **loc, char **text)
{
    /* a second look: an erasure may have just moved the record to a
     * rewritten segment and deleted the one the index named a moment ago */
    og_err e = locate_once(c, sid, rec, loc, text);
    if (e == OG_ERR_UNAVAILABLE)
        e = locate_once(c, sid, rec, loc, text);
    return e;
}

static og_err locate_once(struct og_core *c, const char *sid, json_object **rec, char **loc,
                          char **text)
{
    *rec = NULL;
    if (loc)
        *loc = NULL;
    if (text)
        *text = NULL;
    if (!og_id_valid(sid, "ses_"))
        return OG_ERR_NOT_FOUND;
    const char *argv[] = {c->tag, "loc", sid};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_ARCHIVE, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    char *l = r->elements >= 2 ? og_strndup(r->element[1]->str, r->element[1]->len) : NULL;
    freeReplyObject(r);
    if (!l)
        return OG_ERR_INTERNAL;
    char seg[SEG_MAX] = "";
    unsigned long long off = 0, len = 0;
    if (sscanf(l, "%95[^\t]\t%llu\t%llu", seg, &off, &len) != 3 || !seg_name_ok(seg) ||
        len < OG_ARCHIVE_HDR || len > OG_ARCHIVE_HDR + (unsigned long long)OG_ARCHIVE_MAX_JSON ||
        (seg_is_s3(seg) ? !c->arch_s3 : !c->arch_dir)) {
        og_error("archive: %s: index entry \"%s\" cannot be read here%s", sid, l,
                 seg_is_s3(seg) && !c->arch_s3 ? " (retention.store is not s3)" : "");
        free(l);
        return OG_ERR_UNAVAILABLE;
    }
    char *path;
    unsigned char *b = NULL;
    ssize_t got = -1;
    int fd = -1;
    if (seg_is_s3(seg)) {
        /* one ranged GET: the record alone, never the whole object */
        char key[SEG_MAX + 16];
        seg_key(seg, key);
        path = og_sprintf("%s (object store)", key);
        size_t blen = 0;
        fd = og_media_s3_get_mem(c->arch_s3, key, (int64_t)off, (int64_t)len, 0, &b, &blen) == OG_OK
                 ? 0
                 : -1;
        got = fd == 0 ? (ssize_t)blen : -1;
        errno = EIO;
    } else {
        path = og_sprintf("%s/%s", c->arch_dir, seg);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        b = fd >= 0 ? malloc(len ? len : 1) : NULL;
        got = b ? pread(fd, b, len, (off_t)off) : -1;
        if (fd >= 0)
            close(fd);
    }
    char rsid[32], *json = NULL;
    size_t jl = 0, used = 0;
    og_err de = got == (ssize_t)len ? og_archive_record_decode(b, len, rsid, &json, &jl, &used)
                                    : OG_ERR_INVALID;
    free(b);
    if (de != OG_OK || strcmp(rsid, sid) != 0) {
        og_error("archive: %s: no intact record at %s offset %llu (%s)", sid, path, off,
                 fd < 0 ? strerror(errno) : "damaged");
        free(path), free(l), free(json);
        return OG_ERR_UNAVAILABLE;
    }
    free(path);
    *rec = json_tokener_parse(json);
    if (!json_object_is_type(*rec, json_type_object)) {
        json_object_put(*rec);
        *rec = NULL;
        free(l), free(json);
        return OG_ERR_UNAVAILABLE;
    }
    if (loc)
        *loc = l;
    else
        free(l);
    if (text)
        *text = json;
    else
        free(json);
    return OG_OK;
}

/* The values of key name in the record ([borrowed]), or NULL. */
static json_object *rec_key(json_object *rec, const char *name)
{
    json_object *keys = json_object_object_get(rec, "keys");
    size_t n = json_object_is_type(keys, json_type_array) ? json_object_array_length(keys) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(keys, i);
        if (json_object_is_type(e, json_type_array) && json_object_array_length(e) == 3 &&
            strcmp(json_object_get_string(json_object_array_get_idx(e, 0)), name) == 0) {
            json_object *v = json_object_array_get_idx(e, 2);
            return json_object_is_type(v, json_type_array) ? v : NULL;
        }
    }
    return NULL;
}

/* A field of a flat hash dump [borrowed], or NULL. */
static const char *hfield(json_object *flat, const char *f)
{
    size_t n = flat ? json_object_array_length(flat) : 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        if (strcmp(json_object_get_string(json_object_array_get_idx(flat, i)), f) == 0)
            return json_object_get_string(json_object_array_get_idx(flat, i + 1));
    return NULL;
}

/* The record of a session v may see; OG_ERR_NOT_FOUND otherwise. */
static og_err visible_rec(struct og_core *c, const struct og_viewer *v, const char *sid,
                          json_object **rec)
{
    og_err e = locate(c, sid, rec, NULL, NULL);
    if (e != OG_OK)
        return e;
    struct og_session_facts f;
    json_object *s = json_object_object_get(*rec, "session");
    if (og_session_facts_of(s, &f) != 0 || !og_session_visible(c, v, &f)) {
        json_object_put(*rec);
        *rec = NULL;
        return OG_ERR_NOT_FOUND;
    }
    return OG_OK;
}

og_err og_archive_session_get(struct og_core *c, const struct og_viewer *v, const char *sid,
                              char **json)
{
    json_object *rec;
    *json = NULL;
    og_err e = visible_rec(c, v, sid, &rec);
    if (e != OG_OK)
        return e;
    *json = og_strdup(
        json_object_to_json_string_ext(json_object_object_get(rec, "session"),
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(rec);
    return OG_OK;
}

static void list_end(struct og_buf *b, const char *next)
{
    og_buf_puts(b, "],\"next_cursor\":");
    og_buf_json_str(b, next);
    og_buf_puts(b, "}");
}

og_err og_archive_messages(struct og_core *c, const struct og_viewer *v, const char *sid,
                           const char *cursor, int limit, char **json)
{
    json_object *rec;
    *json = NULL;
    og_err e = visible_rec(c, v, sid, &rec);
    if (e != OG_OK)
        return e;
    char *mk = og_sprintf("ses:%s:msgs", sid);
    json_object *ids = rec_key(rec, mk);
    free(mk);
    size_t n = ids ? json_object_array_length(ids) : 0;
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    int put = 0;
    const char *last = NULL, *next = NULL;
    for (size_t i = 0; i < n; i += 2) {
        const char *mid = json_object_get_string(json_object_array_get_idx(ids, i));
        if (cursor && *cursor && strcmp(mid, cursor) <= 0)
            continue; /* ids sort by time, as the live zset does */
        if (put == limit) {
            next = last;
            break;
        }
        char *key = og_sprintf("msg:%s", mid);
        json_object *h = rec_key(rec, key);
        free(key);
        const char *j = hfield(h, "j"), *st = hfield(h, "st"), *err = hfield(h, "err");
        if (!j)
            continue;
        og_buf_puts(&b, put ? "," : "");
        og_buf_puts(&b, j);
        og_buf_puts(&b, ",\"status\":");
        og_buf_json_str(&b, st && *st ? st : NULL);
        og_buf_printf(&b, ",\"error\":%s}", err && *err ? err : "null");
        put++;
        last = mid;
    }
    list_end(&b, next);
    json_object_put(rec);
    *json = b.data;
    return OG_OK;
}

og_err og_archive_timeline(struct og_core *c, const struct og_viewer *v, const char *sid,
                           const char *cursor, int limit, char **json)
{
    json_object *rec;
    *json = NULL;
    og_err e = visible_rec(c, v, sid, &rec);
    if (e != OG_OK)
        return e;
    char *tk = og_sprintf("ses:%s:tl", sid);
    json_object *tl = rec_key(rec, tk);
    free(tk);
    size_t n = tl ? json_object_array_length(tl) : 0;
    long from = cursor && *cursor ? strtol(cursor, NULL, 10) : 0;
    if (from < 0)
        from = 0;
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    size_t i = (size_t)from;
    for (int put = 0; i < n && put < limit; i++, put++) {
        og_buf_puts(&b, put ? "," : "");
        og_buf_puts(&b, json_object_get_string(json_object_array_get_idx(tl, i)));
    }
    char next[24];
    snprintf(next, sizeof next, "%zu", i);
    list_end(&b, i < n ? next : NULL);
    json_object_put(rec);
    *json = b.data;
    return OG_OK;
}

og_err og_archive_conv_row(struct og_core *c, const char *sid, const char *f[17],
                           struct json_object **hold)
{
    json_object *rec;
    *hold = NULL;
    og_err e = locate(c, sid, &rec, NULL, NULL);
    if (e != OG_OK)
        return e;
    char *sk = og_sprintf("ses:%s", sid);
    json_object *h = rec_key(rec, sk);
    free(sk);
    json_object *contact =
        json_object_object_get(json_object_object_get(rec, "session"), "contact");
    const char *name = json_object_get_string(json_object_object_get(contact, "name"));
    static const char *const fields[17] = {
        "id",     "channel",    "contact_id",     NULL,        "agent_id",     "group",
        "status", "created_at", "first_reply_at", "closed_at", "close_reason", "success_codes",
        "csat",   "g_st",       "g_ev",           "st_nin",    "st_nout"};
    static const char *const dflt[17] = {"", "", "",   "", "", "", "",  "", "",
                                         "", "", "[]", "", "", "", "0", "0"};
    for (int i = 0; i < 17; i++) {
        const char *v = i == 3 ? name : hfield(h, fields[i]);
        f[i] = v ? v : dflt[i];
    }
    f[6] = "archived";
    *hold = rec;
    return OG_OK;
}

static og_err each_objects(struct og_core *c,
                           og_err (*fn)(void *ud, const char *sid, const char *json, size_t len),
                           void *ud, long *n);

og_err og_archive_each(struct og_core *c,
                       og_err (*fn)(void *ud, const char *sid, const char *json, size_t len),
                       void *ud, long *n)
{
    char cursor[32] = "0";
    og_err e = OG_OK;
    *n = 0;
    do {
        redisReply *r = NULL;
        e = og_redis_cmd(c->redis, &r, "HSCAN %s:arch:loc %s COUNT 500", c->tag, cursor);
        if (e != OG_OK)
            return e;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return OG_ERR_INTERNAL;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *kv = r->element[1];
        for (size_t i = 0; e == OG_OK && i + 1 < kv->elements; i += 2) {
            if (c->arch_s3 && seg_is_s3(kv->element[i + 1]->str))
                continue; /* each object is read whole once, below */
            json_object *rec;
            char *text;
            og_err le = locate(c, kv->element[i]->str, &rec, NULL, &text);
            if (le == OG_ERR_NOT_FOUND)
                continue; /* restored meanwhile */
            if (le != OG_OK) {
                e = le == OG_ERR_UNAVAILABLE ? OG_OK : le; /* logged by locate */
                continue;
            }
            json_object_put(rec);
            e = fn(ud, kv->element[i]->str, text, strlen(text));
            free(text);
            (*n)++;
        }
        freeReplyObject(r);
    } while (e == OG_OK && strcmp(cursor, "0") != 0);
    if (e == OG_OK && c->arch_s3)
        e = each_objects(c, fn, ud, n);
    return e;
}

/* ---------------------------------------------------------- restoring */

og_err og_archive_restore(struct og_core *c, const char *sid)
{
    og_err e = OG_ERR_CONFLICT;
    for (int tries = 0; tries < 3 && e == OG_ERR_CONFLICT; tries++) {
        json_object *rec;
        char *loc, *text;
        e = locate(c, sid, &rec, &loc, &text);
        if (e == OG_ERR_NOT_FOUND) {
            /* live already, or nothing */
            redisReply *r = NULL;
            if (og_redis_cmd(c->redis, &r, "EXISTS %s:ses:%s", c->tag, sid) != OG_OK)
                return OG_ERR_UNAVAILABLE;
            int live = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
            freeReplyObject(r);
            return live ? OG_OK : OG_ERR_NOT_FOUND;
        }
        if (e != OG_OK)
            return e;
        json_object_put(rec);
        const char *argv[] = {c->tag, "restore", sid, loc, text};
        redisReply *r = NULL;
        e = og_script_call(c, OG_LUA_ARCHIVE, 5, argv, NULL, &r, NULL, 0);
        free(loc), free(text);
        if (e == OG_OK) {
            if (r->elements >= 2 && strcmp(r->element[1]->str, "restored") == 0)
                atomic_fetch_add(&c->stats.archive_restored, 1);
            freeReplyObject(r);
        }
    }
    return e;
}

/* ---------------------------------------------------------- archiving */

struct claimed {
    const char *sid, *fp, *closed; /* [borrowed from the claim's reply] */
    char off[24], len[24];
    int written;
};

/* A new object segment's name: the day, this process's instance id (unique
 * per process, og_instance.h), its sequence number (under arch_mu); so two
 * instances, or this one before and after a restart, never name an object
 * alike and a PUT never replaces another's object. */
static void obj_name(struct og_core *c, char seg[SEG_MAX])
{
    char day[32];
    seg_today(day);
    snprintf(seg, SEG_MAX, "s3:%.8s-%s-%llu.ogs", day, c->instance, ++c->arch_seq);
}

/* Puts buf as the new object segment seg, noted as pending first, so that
 * a crash between the PUT and the script that indexes it (whose "commit"
 * or "seg_moved" removes the note) leaves an orphan that a later step
 * deletes (sweep_orphans). */
static og_err obj_put(struct og_core *c, const char *seg, const void *buf, size_t len)
{
    char now[24], key[SEG_MAX + 16];
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    const char *argv[] = {c->tag, "pend", seg, now};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_ARCHIVE, 4, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    freeReplyObject(r);
    seg_key(seg, key);
    return og_media_s3_put_mem(c->arch_s3, key, buf, len);
}

/* Deletes the objects of steps that crashed between their PUT and their
 * index (ORPHAN_MS after the PUT began); a commit that still comes finds
 * its note gone and indexes nothing. */
static og_err sweep_orphans(struct og_core *c, struct og_archive_pass *p)
{
    char cutoff[24];
    snprintf(cutoff, sizeof cutoff, "%lld", (long long)(og_now_ms() - ORPHAN_MS));
    const char *argv[] = {c->tag, "orphans", cutoff};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_ARCHIVE, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    for (size_t i = 1; i < r->elements; i++) {
        const char *seg = r->element[i]->str;
        char key[SEG_MAX + 16];
        if (!seg_is_s3(seg) || !seg_name_ok(seg))
            continue;
        seg_key(seg, key);
        /* a failure leaves the object (logged): an orphan, never a loss */
        if (og_media_s3_delete(c->arch_s3, key) == OG_OK) {
            p->orphans++;
            og_warn("archive: deleted %s, put by a step that never indexed it (a crash)", key);
        }
    }
    freeReplyObject(r);
    return OG_OK;
}

/* An object store cannot append: the batch's records become one new,
 * immutable object, whole once the PUT is answered 200. 0 or -1. */
static int put_object(struct og_core *c, struct claimed *cl, unsigned char **recs, size_t *lens,
                      size_t n, char seg[SEG_MAX])
{
    obj_name(c, seg);
    struct og_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        snprintf(cl[i].off, sizeof cl[i].off, "%zu", b.len);
        snprintf(cl[i].len, sizeof cl[i].len, "%zu", lens[i]);
        og_buf_append(&b, recs[i], lens[i]);
        cl[i].written = 1;
    }
    og_err e = obj_put(c, seg, b.data, b.len);
    og_buf_free(&b);
    return e == OG_OK ? 0 : -1;
}

/* Appends the records to today's segment and fsyncs it. 0 or -1. */
static int append(struct og_core *c, struct claimed *cl, unsigned char **recs, size_t *lens,
                  size_t n, char seg[SEG_MAX])
{
    if (c->arch_s3)
        return put_object(c, cl, recs, lens, n, seg);
    if (mkdirs(c->arch_dir) != 0) {
        og_error("archive: cannot create %s: %s", c->arch_dir, strerror(errno));
        return -1;
    }
    seg_today(seg);
    char *path = og_sprintf("%s/%s", c->arch_dir, seg);
    struct stat st;
    int created = stat(path, &st) != 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        og_error("archive: cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    off_t off = lseek(fd, 0, SEEK_END);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (write_all(fd, recs[i], lens[i]) != 0) {
            og_error("archive: cannot write %s: %s", path, strerror(errno));
            rc = -1;
            break;
        }
        snprintf(cl[i].off, sizeof cl[i].off, "%lld", (long long)off);
        snprintf(cl[i].len, sizeof cl[i].len, "%zu", lens[i]);
        cl[i].written = 1;
        off += (off_t)lens[i];
    }
    if (rc == 0 && fsync(fd) != 0) {
        og_error("archive: cannot fsync %s: %s", path, strerror(errno));
        rc = -1;
    }
    close(fd);
    if (rc == 0 && created)
        fsync_dir(c->arch_dir);
    free(path);
    return rc;
}

/* OMNIGATE_TEST_ARCHIVE_CRASH (tests only): the process kills itself after
 * a segment's fsync (an object's PUT) and before the commit, as a crash
 * there would. */
static void test_crash_point(void)
{
    const char *s = getenv("OMNIGATE_TEST_ARCHIVE_CRASH");
    if (s && *s == '1') {
        og_warn("OMNIGATE_TEST_ARCHIVE_CRASH: killed between the segment and the commit");
        raise(SIGKILL);
    }
}

static og_err archive_batch(struct og_core *c, struct og_archive_pass *p)
{
    if (!c->arch_backfilled) {
        /* once per process until Redis says it is done (an upgrade's
         * closed sessions have no due entry yet) */
        const char *bargv[] = {c->tag, "backfill"};
        redisReply *br = NULL;
        og_err be = og_script_call(c, OG_LUA_ARCHIVE, 2, bargv, NULL, &br, NULL, 0);
        if (be != OG_OK)
            return be;
        c->arch_backfilled = br->elements >= 2 && strcmp(br->element[1]->str, "done") == 0;
        p->more = !c->arch_backfilled;
        freeReplyObject(br);
    }
    int64_t now = og_now_ms();
    char now_s[24], cutoff[24], max[16], lease[16];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(cutoff, sizeof cutoff, "%lld", (long long)(now - c->arch_after_ms));
    snprintf(max, sizeof max, "%d", c->arch_batch);
    snprintf(lease, sizeof lease, "%d", LEASE_MS);
    const char *argv[] = {c->tag, "claim", now_s, cutoff, max, lease};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_ARCHIVE, 6, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    size_t n = (r->elements - 1) / 4;
    if (n == 0) {
        freeReplyObject(r);
        return OG_OK;
    }
    struct claimed *cl = og_calloc(n, sizeof *cl);
    unsigned char **recs = og_calloc(n, sizeof *recs);
    size_t *lens = og_calloc(n, sizeof *lens), m = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply **el = r->element + 1 + 4 * i;
        if (og_archive_record_encode(el[0]->str, el[1]->str, el[1]->len, &recs[m], &lens[m]) !=
            OG_OK) {
            og_error("archive: %s: its record cannot be written", el[0]->str);
            continue; /* its lease runs out; it is tried again then */
        }
        cl[m].sid = el[0]->str, cl[m].fp = el[2]->str, cl[m].closed = el[3]->str;
        m++;
    }
    char seg[SEG_MAX];
    int rc = m ? append(c, cl, recs, lens, m, seg) : -1;
    if (rc == 0) {
        test_crash_point();
        const char **cargv = og_calloc(3 + 6 * m, sizeof *cargv);
        int k = 0;
        cargv[k++] = c->tag, cargv[k++] = "commit", cargv[k++] = now_s;
        for (size_t i = 0; i < m; i++) {
            cargv[k++] = cl[i].sid, cargv[k++] = cl[i].fp, cargv[k++] = seg;
            cargv[k++] = cl[i].off, cargv[k++] = cl[i].len, cargv[k++] = cl[i].closed;
        }
        redisReply *cr = NULL;
        e = og_script_call(c, OG_LUA_ARCHIVE, k, cargv, NULL, &cr, NULL, 0);
        free(cargv);
        for (size_t i = 1; e == OG_OK && i < cr->elements; i++) {
            if (strcmp(cr->element[i]->str, "ok") == 0)
                p->archived++;
            else
                p->superseded++;
        }
        atomic_fetch_add(&c->stats.archived, (unsigned long long)p->archived);
        if (e == OG_OK)
            freeReplyObject(cr);
        if (e == OG_OK && seg_is_s3(seg) && p->archived == 0) {
            /* no index entry names this object (every session changed, or
             * archived by another instance, or the object swept as an
             * orphan): nothing else would ever delete it */
            char key[SEG_MAX + 16];
            seg_key(seg, key);
            og_media_s3_delete(c->arch_s3, key);
        }
    } else if (m) {
        e = OG_ERR_UNAVAILABLE;
    }
    for (size_t i = 0; i < n; i++)
        free(recs[i]);
    free(recs), free(lens), free(cl);
    freeReplyObject(r);
    return e;
}

/* -------------------------------------------------------- deleting */

struct sids {
    char **own; /* owned strings */
    size_t n, cap;
};

static int collect_sid(void *ud, size_t off, size_t rlen, const char *sid, const char *json,
                       size_t jl)
{
    (void)off, (void)rlen, (void)json, (void)jl;
    struct sids *s = ud;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->own = realloc(s->own, s->cap * sizeof *s->own);
        if (!s->own)
            abort();
    }
    s->own[s->n++] = og_strdup(sid);
    return 0;
}

/* Forgets a segment's sessions in the index, then deletes the file. The
 * mark survives a crash between the two, so the file goes on the next pass. */
static og_err delete_segment(struct og_core *c, const char *seg, struct og_archive_pass *p)
{
    const char *margv[] = {c->tag, "seg_mark", seg};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_ARCHIVE, 3, margv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    freeReplyObject(r);
    size_t len = 0;
    unsigned char *b = seg_read(c, seg, &len, &e);
    if (e == OG_ERR_UNAVAILABLE)
        return e; /* the store did not answer: the mark stays, the next pass retries */
    e = OG_OK;    /* gone already (a crash after the deletion): only the index left */
    struct sids s = {0};
    if (b)
        og_archive_scan(b, len, collect_sid, &s);
    free(b);
    /* in pieces of 500, so no script holds Redis long */
    for (size_t i = 0; i < s.n && e == OG_OK; i += 500) {
        size_t k = s.n - i < 500 ? s.n - i : 500;
        const char **argv = og_calloc(3 + k, sizeof *argv);
        argv[0] = c->tag, argv[1] = "drop", argv[2] = seg;
        for (size_t j = 0; j < k; j++)
            argv[3 + j] = s.own[i + j];
        e = og_script_call(c, OG_LUA_ARCHIVE, (int)(3 + k), argv, NULL, &r, NULL, 0);
        free(argv);
        if (e == OG_OK) {
            p->deleted += (int)r->element[1]->integer;
            atomic_fetch_add(&c->stats.archive_deleted, (unsigned long long)r->element[1]->integer);
            freeReplyObject(r);
        }
    }
    for (size_t i = 0; i < s.n; i++)
        free(s.own[i]);
    free(s.own);
    if (e != OG_OK)
        return e;
    if (seg_is_s3(seg)) {
        char key[SEG_MAX + 16];
        seg_key(seg, key);
        if (og_media_s3_delete(c->arch_s3, key) != OG_OK)
            return OG_ERR_UNAVAILABLE; /* logged; the mark stays */
    } else {
        char *path = og_sprintf("%s/%s", c->arch_dir, seg);
        if (unlink(path) != 0 && errno != ENOENT) {
            og_error("archive: cannot delete %s: %s", path, strerror(errno));
            free(path);
            return OG_ERR_UNAVAILABLE;
        }
        free(path);
        fsync_dir(c->arch_dir);
    }
    const char *gargv[] = {c->tag, "seg_gone", seg};
    e = og_script_call(c, OG_LUA_ARCHIVE, 3, gargv, NULL, &r, NULL, 0);
    if (e == OG_OK) {
        freeReplyObject(r);
        p->segments_deleted++;
        og_info("archive: deleted segment %s (retention.delete_after_days)", seg);
    }
    return e;
}

/* Deletes the segments marked for deletion (marked: a crash came between
 * the mark and the unlink; every step starts here, so a name is never
 * appended to again before its old file is gone) and, with due set, those
 * whose sessions were all closed before delete_after. */
static og_err delete_segments(struct og_core *c, int due, struct og_archive_pass *p)
{
    const char *argv[] = {c->tag, "segs"};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_ARCHIVE, 2, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    int64_t limit = og_now_ms() - c->arch_delete_ms;
    char today[32];
    seg_today(today);
    for (size_t i = 1; i + 1 < r->elements && e == OG_OK; i += 2) {
        const char *seg = r->element[i]->str;
        int marked = seg[0] == '-';
        if (marked)
            seg++;
        if (!seg_name_ok(seg) || (seg_is_s3(seg) && !c->arch_s3))
            continue;
        /* today's segment still takes records */
        if (marked || (due && strcmp(seg, today) != 0 && atoll(r->element[i + 1]->str) < limit))
            e = delete_segment(c, seg, p);
    }
    freeReplyObject(r);
    return e;
}

/* ------------------------------------------------------- erasure */

struct rec_ref {
    size_t off, len;
    char sid[32];
};
struct rec_list {
    struct rec_ref *v;
    size_t n, cap;
};

static int collect_rec(void *ud, size_t off, size_t rlen, const char *sid, const char *json,
                       size_t jl)
{
    (void)json, (void)jl;
    struct rec_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    l->v[l->n].off = off, l->v[l->n].len = rlen;
    snprintf(l->v[l->n].sid, sizeof l->v[l->n].sid, "%s", sid);
    l->n++;
    return 0;
}

/* Rewrites seg with only the records the index points at (an erased
 * contact's are no longer among them, nor superseded ones): the copy is
 * written and fsynced under a new name, the index moved to it in one
 * script (which marks the old file), then the old file is deleted. */
/* live[i]: whether the index points at seg's record l->v[i] (the others
 * are superseded or erased), asked in pieces of 500. */
static og_err live_marks(struct og_core *c, const char *seg, const struct rec_list *lp, char *live)
{
    const struct rec_list l = *lp;
    og_err e = OG_OK;
    for (size_t i = 0; i < l.n && e == OG_OK; i += 500) {
        size_t k = l.n - i < 500 ? l.n - i : 500;
        const char **argv = og_calloc(3 + 2 * k, sizeof *argv);
        char(*offs)[24] = og_calloc(k, sizeof *offs);
        argv[0] = c->tag, argv[1] = "seg_live", argv[2] = seg;
        for (size_t j = 0; j < k; j++) {
            snprintf(offs[j], sizeof offs[j], "%zu", l.v[i + j].off);
            argv[3 + 2 * j] = l.v[i + j].sid, argv[4 + 2 * j] = offs[j];
        }
        redisReply *r = NULL;
        e = og_script_call(c, OG_LUA_ARCHIVE, (int)(3 + 2 * k), argv, NULL, &r, NULL, 0);
        for (size_t j = 0; e == OG_OK && j < k && j + 1 < r->elements; j++)
            live[i + j] = r->element[j + 1]->str[0] == '1';
        if (e == OG_OK)
            freeReplyObject(r);
        free(argv), free(offs);
    }
    return e;
}

/* og_archive_each's objects: each read whole (one GET rather than one per
 * record), its records that the index points at handed to fn. */
static og_err each_objects(struct og_core *c,
                           og_err (*fn)(void *ud, const char *sid, const char *json, size_t len),
                           void *ud, long *n)
{
    const char *argv[] = {c->tag, "segs"};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_ARCHIVE, 2, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    for (size_t i = 1; i + 1 < r->elements && e == OG_OK; i += 2) {
        const char *seg = r->element[i]->str; /* a marked one ("-") is being deleted */
        if (!seg_is_s3(seg) || !seg_name_ok(seg))
            continue;
        size_t len = 0;
        og_err re;
        unsigned char *b = seg_read(c, seg, &len, &re);
        if (!b) {
            if (re != OG_ERR_NOT_FOUND) /* deleted meanwhile: nothing to hand */
                og_error("archive: %s cannot be read: its sessions are left out", seg);
            continue;
        }
        struct rec_list l = {0};
        og_archive_scan(b, len, collect_rec, &l);
        char *live = og_calloc(l.n + 1, 1);
        e = live_marks(c, seg, &l, live);
        for (size_t k = 0; e == OG_OK && k < l.n; k++) {
            char sid[32], *json = NULL;
            size_t jl = 0, used = 0;
            if (!live[k] || og_archive_record_decode(b + l.v[k].off, len - l.v[k].off, sid, &json,
                                                     &jl, &used) != OG_OK)
                continue;
            e = fn(ud, sid, json, jl);
            free(json);
            (*n)++;
        }
        free(live), free(l.v), free(b);
    }
    freeReplyObject(r);
    return e;
}

static og_err compact_segment(struct og_core *c, const char *seg, struct og_archive_pass *p)
{
    size_t len = 0;
    og_err e;
    unsigned char *b = seg_read(c, seg, &len, &e);
    if (e == OG_ERR_UNAVAILABLE)
        return e; /* never rewritten as if empty: it stays queued */
    e = OG_OK;
    struct rec_list l = {0};
    if (b)
        og_archive_scan(b, len, collect_rec, &l);
    char *live = og_calloc(l.n + 1, 1);
    e = live_marks(c, seg, &l, live);
    char nseg[SEG_MAX] = "";
    size_t nlive = 0;
    for (size_t i = 0; i < l.n; i++)
        nlive += live[i] != 0;
    struct og_buf args = {0}; /* the seg_moved triples, NUL-separated */
    size_t nargs = 0;
    if (e == OG_OK && nlive > 0 && seg_is_s3(seg)) {
        /* an object's copy is a new object (objects are immutable) */
        obj_name(c, nseg);
        struct og_buf o = {0};
        for (size_t i = 0; i < l.n; i++) {
            if (!live[i])
                continue;
            og_buf_printf(&args, "%s%c%zu%c%zu%c%zu%c", l.v[i].sid, 0, l.v[i].off, 0, o.len, 0,
                          l.v[i].len, 0);
            nargs += 4;
            og_buf_append(&o, b + l.v[i].off, l.v[i].len);
        }
        e = obj_put(c, nseg, o.data, o.len);
        og_buf_free(&o);
    } else if (e == OG_OK && nlive > 0) {
        snprintf(nseg, sizeof nseg, "%.8s-r%lld.ogs", seg, (long long)og_now_ms());
        char *path = og_sprintf("%s/%s", c->arch_dir, nseg);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        size_t off = 0;
        for (size_t i = 0; fd >= 0 && i < l.n; i++) {
            if (!live[i])
                continue;
            if (write_all(fd, b + l.v[i].off, l.v[i].len) != 0)
                break;
            og_buf_printf(&args, "%s%c%zu%c%zu%c%zu%c", l.v[i].sid, 0, l.v[i].off, 0, off, 0,
                          l.v[i].len, 0);
            nargs += 4;
            off += l.v[i].len;
        }
        if (fd < 0 || nargs != 4 * nlive || fsync(fd) != 0) {
            og_error("archive: cannot write %s: %s", path, strerror(errno));
            e = OG_ERR_UNAVAILABLE;
        }
        if (fd >= 0)
            close(fd);
        if (e != OG_OK)
            unlink(path);
        fsync_dir(c->arch_dir);
        free(path);
    }
    if (e == OG_OK) {
        const char **argv = og_calloc(4 + nargs, sizeof *argv);
        argv[0] = c->tag, argv[1] = "seg_moved", argv[2] = seg, argv[3] = nseg;
        const char *q = args.data;
        for (size_t i = 0; i < nargs; i++, q += strlen(q) + 1)
            argv[4 + i] = q;
        redisReply *r = NULL;
        e = og_script_call(c, OG_LUA_ARCHIVE, (int)(4 + nargs), argv, NULL, &r, NULL, 0);
        if (e == OG_OK)
            freeReplyObject(r);
        free(argv);
    }
    og_buf_free(&args);
    free(live), free(l.v), free(b);
    if (e == OG_OK) {
        og_info("archive: rewrote %s as %s (%zu records kept)", seg, nseg[0] ? nseg : "nothing",
                nlive);
        e = delete_segment(c, seg, p);
    }
    return e;
}

/* The segments queued for rewriting (a contact's erasure). */
static og_err rewrite_pending(struct og_core *c, struct og_archive_pass *p)
{
    const char *argv[] = {c->tag, "rewrites"};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_ARCHIVE, 2, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    for (size_t i = 1; i < r->elements && e == OG_OK; i++)
        if (seg_name_ok(r->element[i]->str) && c->arch_dir &&
            (c->arch_s3 || !seg_is_s3(r->element[i]->str)))
            e = compact_segment(c, r->element[i]->str, p);
    freeReplyObject(r);
    return e;
}

/* The contact's sessions, live and archived, into s. */
static og_err erase_find(struct og_core *c, const char *cid, struct sids *s)
{
    char cursor[64] = "";
    og_err e;
    do {
        const char *argv[] = {c->tag, "erase_find", cid, cursor};
        redisReply *r = NULL;
        e = og_script_call(c, OG_LUA_ARCHIVE, 4, argv, NULL, &r, NULL, 0);
        if (e != OG_OK)
            return e;
        snprintf(cursor, sizeof cursor, "%s", r->element[1]->str);
        for (size_t i = 2; i < r->elements; i++)
            collect_sid(s, 0, 0, r->element[i]->str, NULL, 0);
        freeReplyObject(r);
    } while (cursor[0]);
    return OG_OK;
}

/* The media store's keys of a message (its JSON without the closing brace,
 * as stored): an agent's upload by its id, else "<message id>.<n>". */
static void media_keys(const char *j, size_t jl, struct sids *out)
{
    char *t = og_strndup(j, jl);
    char *full = og_sprintf("%s}", t);
    free(t);
    json_object *m = json_tokener_parse(full), *atts = NULL;
    free(full);
    const char *mid = json_object_get_string(json_object_object_get(m, "id"));
    if (mid && json_object_object_get_ex(m, "attachments", &atts) &&
        json_object_is_type(atts, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(atts); i++) {
            json_object *a = json_object_array_get_idx(atts, i);
            const char *up = json_object_get_string(json_object_object_get(a, "upload_id"));
            char key[160];
            if (up && *up)
                snprintf(key, sizeof key, "%s", up);
            else
                snprintf(key, sizeof key, "%s.%zu", mid, i);
            collect_sid(out, 0, 0, key, NULL, 0);
        }
    }
    json_object_put(m);
}

/* The media keys of the sessions' messages, live (Redis) or archived (their
 * records), gathered before anything is erased. */
static og_err erase_media_keys(struct og_core *c, const struct sids *s, struct sids *keys)
{
    for (size_t i = 0; i < s->n; i += 200) {
        size_t k = s->n - i < 200 ? s->n - i : 200;
        const char **argv = og_calloc(2 + k, sizeof *argv);
        argv[0] = c->tag, argv[1] = "erase_msgs";
        for (size_t j = 0; j < k; j++)
            argv[2 + j] = s->own[i + j];
        redisReply *r = NULL;
        og_err e = og_script_call(c, OG_LUA_ARCHIVE, (int)(2 + k), argv, NULL, &r, NULL, 0);
        free(argv);
        if (e != OG_OK)
            return e;
        for (size_t j = 1; j < r->elements; j++)
            media_keys(r->element[j]->str, r->element[j]->len, keys);
        freeReplyObject(r);
    }
    for (size_t i = 0; i < s->n; i++) {
        json_object *rec;
        if (locate(c, s->own[i], &rec, NULL, NULL) != OG_OK)
            continue; /* live, or unreadable (logged) */
        json_object *all = json_object_object_get(rec, "keys");
        for (size_t j = 0;
             json_object_is_type(all, json_type_array) && j < json_object_array_length(all); j++) {
            json_object *e = json_object_array_get_idx(all, j);
            const char *name = json_object_get_string(json_object_array_get_idx(e, 0));
            if (name && strncmp(name, "msg:", 4) == 0) {
                const char *mj = hfield(json_object_array_get_idx(e, 2), "j");
                if (mj)
                    media_keys(mj, strlen(mj), keys);
            }
        }
        json_object_put(rec);
    }
    return OG_OK;
}

og_err og_archive_erase_contact(struct og_core *c, const char *cid, struct og_media_store *media,
                                int *sessions)
{
    *sessions = 0;
    if (!og_id_valid(cid, "con_"))
        return OG_ERR_NOT_FOUND;
    struct sids s = {0}, mk = {0};
    og_err e = erase_find(c, cid, &s);
    if (e == OG_OK)
        e = erase_media_keys(c, &s, &mk);
    /* Redis: the sessions (in pieces, so no script holds Redis long), then
     * the contact; an archived session's index entry goes now, so nothing
     * of it is readable from here on, and its segment is queued */
    for (size_t i = 0; e == OG_OK && (i < s.n || i == 0); i += 500) {
        size_t k = s.n - i < 500 ? s.n - i : 500;
        const char **argv = og_calloc(3 + k, sizeof *argv);
        argv[0] = c->tag, argv[1] = "erase", argv[2] = cid;
        for (size_t j = 0; j < k; j++)
            argv[3 + j] = s.own[i + j];
        redisReply *r = NULL;
        e = og_script_call(c, OG_LUA_ARCHIVE, (int)(3 + k), argv, NULL, &r, NULL, 0);
        if (e == OG_OK) {
            *sessions += (int)r->element[1]->integer;
            freeReplyObject(r);
        }
        free(argv);
    }
    /* the events that carry them, a bounded run per call */
    char cursor[64] = "";
    while (e == OG_OK) {
        const char **argv = og_calloc(5 + s.n, sizeof *argv);
        argv[0] = c->tag, argv[1] = "erase_events", argv[2] = cursor, argv[3] = cid;
        for (size_t j = 0; j < s.n; j++)
            argv[4 + j] = s.own[j];
        redisReply *r = NULL;
        e = og_script_call(c, OG_LUA_ARCHIVE, (int)(4 + s.n), argv, NULL, &r, NULL, 0);
        free(argv);
        if (e != OG_OK)
            break;
        snprintf(cursor, sizeof cursor, "%s", r->element[1]->str);
        freeReplyObject(r);
        if (!cursor[0])
            break;
    }
    /* a web chat visitor's sign-in tokens name the contact */
    char scur[32] = "0";
    for (int guard = 0; e == OG_OK && guard < 1000000; guard++) {
        redisReply *r = NULL;
        e = og_redis_cmd(c->redis, &r, "SCAN %s MATCH %s:wc:tok:* COUNT 1000", scur, c->tag);
        if (e != OG_OK)
            break;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            e = OG_ERR_INTERNAL;
            break;
        }
        snprintf(scur, sizeof scur, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            redisReply *h = NULL;
            if (og_redis_cmd(c->redis, &h, "HGET %s cid", key) == OG_OK) {
                if (h->type == REDIS_REPLY_STRING && strcmp(h->str, cid) == 0) {
                    redisReply *d = NULL;
                    if (og_redis_cmd(c->redis, &d, "DEL %s", key) == OG_OK)
                        freeReplyObject(d);
                }
                freeReplyObject(h);
            }
        }
        freeReplyObject(r);
        if (strcmp(scur, "0") == 0)
            break;
    }
    for (size_t i = 0; i < s.n; i++)
        free(s.own[i]);
    free(s.own);
    /* the files of their attachments and uploads */
    for (size_t i = 0; i < mk.n; i++) {
        if (e == OG_OK && media && og_media_remove(media, mk.own[i]) != OG_OK)
            og_warn("erasure of %s: the media file %s could not be removed", cid, mk.own[i]);
        free(mk.own[i]);
    }
    free(mk.own);
    if (e == OG_OK)
        atomic_fetch_add(&c->stats.contacts_erased, 1);
    /* the bytes in the archive: the segments rewritten without them */
    if (e == OG_OK && c->arch_dir) {
        struct og_archive_pass p = {0};
        pthread_mutex_lock(&c->arch_mu);
        e = rewrite_pending(c, &p);
        pthread_mutex_unlock(&c->arch_mu);
    }
    return e;
}

og_err og_archive_step(struct og_core *c, struct og_archive_pass *p)
{
    memset(p, 0, sizeof *p);
    if (!c->arch_dir)
        return OG_OK;
    pthread_mutex_lock(&c->arch_mu);
    if (!c->arch_mode_set) {
        /* once per process: closes record their due time only while on */
        const char *argv[] = {c->tag, "mode", c->arch_after_ms > 0 ? "1" : "0"};
        redisReply *r = NULL;
        og_err me = og_script_call(c, OG_LUA_ARCHIVE, 3, argv, NULL, &r, NULL, 0);
        if (me != OG_OK) {
            pthread_mutex_unlock(&c->arch_mu);
            return me;
        }
        freeReplyObject(r);
        c->arch_mode_set = 1;
    }
    /* first what a crash or an erasure left to finish */
    og_err e = delete_segments(c, 0, p);
    if (e == OG_OK && c->arch_s3)
        e = sweep_orphans(c, p);
    if (e == OG_OK)
        e = rewrite_pending(c, p);
    if (e == OG_OK && c->arch_after_ms > 0)
        e = archive_batch(c, p);
    if (e == OG_OK && c->arch_delete_ms > 0)
        e = delete_segments(c, 1, p);
    pthread_mutex_unlock(&c->arch_mu);
    return e;
}
