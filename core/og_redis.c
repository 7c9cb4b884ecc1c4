/* og_redis - see og_redis.h. */
#include "og_redis.h"
#include "og_log.h"
#include "og_util.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct og_redis_slot {
    redisContext *c;
    int busy;
    unsigned gen; /* the address generation c was made for */
    /* a held pipeline's commands, formatted; kept for the next one (a
     * pipeline of a batch is kilobytes: one malloc less per round trip) */
    struct og_buf out;
};

struct og_redis {
    char *host; /* TCP host, or NULL for a unix socket */
    int port;
    char *path; /* unix socket path */
    int db;
    char *password;
    int timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct og_redis_slot *slots;
    int n;
    int64_t retry_at_ms;    /* no connect attempts before this (monotonic) */
    char last_refusal[160]; /* the last "try later" error reply, under mu */
    int64_t last_refusal_ms;
    int64_t backoff_ms;
    unsigned retry_gen; /* the address generation the back-off is about */
    int down_logged;
    /* The address generation: +1 at each og_redis_set_addr; a connection
     * made for an older one is closed instead of used. */
    atomic_uint gen;
    struct og_redis *follow; /* [borrowed] the pool whose address this one uses */
    atomic_int trouble;      /* og_redis_take_trouble */
};

/* The pool that owns the address (itself, or the one it follows). */
static struct og_redis *owner(struct og_redis *r)
{
    return r->follow ? r->follow : r;
}

static unsigned cur_gen(struct og_redis *r)
{
    return atomic_load(&owner(r)->gen);
}

static void trouble(struct og_redis *r)
{
    atomic_store(&owner(r)->trouble, 1);
}

static int parse_url(struct og_redis *r, const char *url)
{
    if (strncmp(url, "unix://", 7) == 0) {
        if (!url[7])
            return -1;
        r->path = og_strdup(url + 7);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *h = url + 8;
    const char *at = strchr(h, '@'); /* redis://:password@host:port */
    if (at) {
        const char *colon = memchr(h, ':', (size_t)(at - h));
        if (colon && !r->password)
            r->password = og_strndup(colon + 1, (size_t)(at - colon - 1));
        h = at + 1;
    }
    const char *colon = strrchr(h, ':');
    const char *slash = strchr(h, '/');
    size_t hl = colon ? (size_t)(colon - h) : slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0)
        return -1;
    r->host = og_strndup(h, hl);
    r->port = colon ? atoi(colon + 1) : 6379;
    if (r->port <= 0 || r->port > 65535)
        return -1;
    if (slash)
        r->db = atoi(slash + 1);
    return 0;
}

struct og_redis *og_redis_new(const struct og_redis_opts *o, char *errbuf, size_t errlen)
{
    struct og_redis *r = og_calloc(1, sizeof *r);
    r->follow = o->follow;
    r->password = og_strdup(o->password);
    if (!o->follow && o->url && parse_url(r, o->url) != 0) {
        snprintf(errbuf, errlen, "redis.url: cannot parse '%s'", o->url ? o->url : "");
        og_redis_free(r);
        return NULL;
    }
    r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 2000;
    r->n = o->pool_size > 0 ? o->pool_size : 8;
    r->slots = og_calloc((size_t)r->n, sizeof *r->slots);
    r->backoff_ms = 100;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return r;
}

void og_redis_free(struct og_redis *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n && r->slots; i++) {
        if (r->slots[i].c)
            redisFree(r->slots[i].c);
        og_buf_free(&r->slots[i].out);
    }
    if (r->slots) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
    }
    free(r->slots);
    free(r->host);
    free(r->path);
    free(r->password);
    free(r);
}

/* A connection to where the pool (or the one it follows) points now; *gen
 * gets that address's generation. NULL when there is no address yet or it
 * cannot be had. */
static redisContext *dial(struct og_redis *r, unsigned *gen)
{
    struct og_redis *o = owner(r);
    char host[256] = "", path[256] = "";
    pthread_mutex_lock(&o->mu);
    int port = o->port, db = o->db;
    if (o->host)
        snprintf(host, sizeof host, "%s", o->host);
    if (o->path)
        snprintf(path, sizeof path, "%s", o->path);
    *gen = atomic_load(&o->gen);
    pthread_mutex_unlock(&o->mu);
    if (!host[0] && !path[0])
        return NULL; /* Sentinel: no master known yet */
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    redisContext *c =
        path[0] ? redisConnectUnixWithTimeout(path, tv) : redisConnectWithTimeout(host, port, tv);
    if (!c)
        return NULL;
    if (c->err) {
        og_debug("redis connect: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (host[0])
        redisEnableKeepAlive(c);
    redisReply *rep = NULL;
    if (o->password) {
        rep = redisCommand(c, "AUTH %s", o->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            og_error("redis AUTH failed%s%s", rep ? ": " : "", rep ? rep->str : "");
            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(rep);
    }
    if (db) {
        rep = redisCommand(c, "SELECT %d", db);
        int bad = !rep || rep->type == REDIS_REPLY_ERROR;
        if (rep)
            freeReplyObject(rep);
        if (bad) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* Takes a free slot (waiting for one) and makes sure it holds a live
 * connection. Returns the slot index or -1 (Redis unavailable). */
static int acquire(struct og_redis *r)
{
    pthread_mutex_lock(&r->mu);
    int i;
    for (;;) {
        for (i = 0; i < r->n; i++)
            if (!r->slots[i].busy)
                break;
        if (i < r->n)
            break;
        pthread_cond_wait(&r->cv, &r->mu);
    }
    r->slots[i].busy = 1;
    unsigned g = cur_gen(r);
    if (r->slots[i].c && r->slots[i].gen != g) { /* made for the old master */
        redisFree(r->slots[i].c);
        r->slots[i].c = NULL;
    }
    if (r->slots[i].c) {
        pthread_mutex_unlock(&r->mu);
        return i;
    }
    int64_t now = og_mono_ms();
    if (now < r->retry_at_ms && r->retry_gen == g) {
        r->slots[i].busy = 0;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    pthread_mutex_unlock(&r->mu);

    unsigned dgen = 0;
    redisContext *c = dial(r, &dgen);

    pthread_mutex_lock(&r->mu);
    if (c) {
        r->slots[i].c = c;
        r->slots[i].gen = dgen;
        r->backoff_ms = 100;
        r->retry_at_ms = 0;
        if (r->down_logged) {
            og_info("redis is reachable again");
            r->down_logged = 0;
        }
    } else {
        trouble(r);
        r->retry_gen = dgen;
        r->retry_at_ms = og_mono_ms() + r->backoff_ms;
        r->backoff_ms = r->backoff_ms * 2 > 2000 ? 2000 : r->backoff_ms * 2;
        if (!r->down_logged) {
            og_warn("redis is unreachable; answering 503 and retrying with back-off");
            r->down_logged = 1;
        }
        r->slots[i].busy = 0;
        pthread_cond_signal(&r->cv);
        i = -1;
    }
    pthread_mutex_unlock(&r->mu);
    return i;
}

static void release(struct og_redis *r, int i, int broken)
{
    if (broken)
        trouble(r);
    pthread_mutex_lock(&r->mu);
    if ((broken || r->slots[i].gen != cur_gen(r)) && r->slots[i].c) {
        redisFree(r->slots[i].c);
        r->slots[i].c = NULL;
    }
    r->slots[i].busy = 0;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* RESP's "*<n>\r\n" or "$<len>\r\n" at w; the end. */
static char *resp_head(char *w, char type, size_t v)
{
    char t[24];
    size_t i = sizeof t;
    t[--i] = '\n';
    t[--i] = '\r';
    do
        t[--i] = (char)('0' + v % 10);
    while (v /= 10);
    t[--i] = type;
    memcpy(w, t + i, sizeof t - i);
    return w + (sizeof t - i);
}

/* The bytes resp_command writes at most for a command. */
static size_t resp_size(int argc, const char *const *argv, const size_t *lens)
{
    size_t total = 24;
    for (int i = 0; i < argc; i++)
        total += 24 + (lens ? lens[i] : strlen(argv[i]));
    return total;
}

/* Appends one command (lens NULL or lens[i] for NUL-terminated arguments
 * alike) as RESP into b, which has resp_size's room. omnigate formats its
 * commands itself and hands them to hiredis as formatted
 * (redisAppendFormattedCommand): hiredis's own formatter (a printf-style
 * header per argument, the buffer grown step by step) was ~15% of the
 * gateway's instructions per ingested message. */
static void resp_write(struct og_buf *b, int argc, const char *const *argv, const size_t *lens)
{
    char *w = resp_head(b->data + b->len, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        w = resp_head(w, '$', len);
        memcpy(w, argv[i], len);
        w += len;
        *w++ = '\r', *w++ = '\n';
    }
    b->len = (size_t)(w - b->data);
    b->data[b->len] = '\0';
}

/* resp_write with its room made. */
static void resp_command(struct og_buf *b, int argc, const char *const *argv, const size_t *lens)
{
    og_buf_reserve(b, resp_size(argc, argv, lens));
    resp_write(b, argc, argv, lens);
}

redisReply *og_redis_reply_strings(int n, const char *const *v)
{
    /* a command's RESP is an array of bulk strings, as such a reply's is */
    struct og_buf b = {0};
    resp_command(&b, n, v, NULL);
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    if (rd && redisReaderFeed(rd, b.data, b.len) == REDIS_OK)
        redisReaderGetReply(rd, &rep);
    if (rd)
        redisReaderFree(rd);
    og_buf_free(&b);
    return rep;
}

/* redisCommandArgv through resp_command: the reply [xfer], or NULL when
 * the connection failed (c->err set). */
static redisReply *command_argv(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    struct og_buf cmd = {0};
    resp_command(&cmd, argc, argv, lens);
    int rc = redisAppendFormattedCommand(c, cmd.data, cmd.len);
    og_buf_free(&cmd);
    void *rep = NULL;
    if (rc != REDIS_OK || redisGetReply(c, &rep) != REDIS_OK)
        return NULL;
    return rep;
}

/* One command on one slot, its reply as Redis gave it (an error reply
 * too). A NULL reply means the connection is broken (I/O error, EOF,
 * timeout): hiredis cannot reuse it. */
static og_err run_raw(struct og_redis *r, int argc, const char **argv, const size_t *lens,
                      redisReply **reply)
{
    *reply = NULL;
    int i = acquire(r);
    if (i < 0)
        return OG_ERR_UNAVAILABLE;
    redisReply *rep = command_argv(r->slots[i].c, argc, argv, lens);
    if (!rep) {
        og_debug("redis: %s", r->slots[i].c->errstr);
        release(r, i, 1);
        /* A connection that was idle while Redis restarted fails once; one
         * more try on a fresh connection tells a restart from an outage. */
        i = acquire(r);
        if (i < 0)
            return OG_ERR_UNAVAILABLE;
        rep = command_argv(r->slots[i].c, argc, argv, lens);
        if (!rep) {
            release(r, i, 1);
            return OG_ERR_UNAVAILABLE;
        }
    }
    release(r, i, 0);
    *reply = rep;
    return OG_OK;
}

/* Redis is there but cannot take this now (loading, out of memory, a
 * replica, a failed disk): "try later", as when it is down. 1 (rep noted
 * and freed) when rep is such a refusal. */
static int refused(struct og_redis *r, redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ERROR || !og_redis_try_later(rep->str))
        return 0;
    pthread_mutex_lock(&r->mu);
    snprintf(r->last_refusal, sizeof r->last_refusal, "%.*s", (int)strcspn(rep->str, "\r\n"),
             rep->str);
    r->last_refusal_ms = og_mono_ms();
    pthread_mutex_unlock(&r->mu);
    if (strstr(rep->str, "READONLY"))
        trouble(r); /* a replica now: the master has moved */
    og_warn("redis: cannot take commands now: %.*s", (int)strcspn(rep->str, "\r\n"), rep->str);
    freeReplyObject(rep);
    return 1;
}

/* run_raw, with "try later" refusals as OG_ERR_UNAVAILABLE. */
static og_err run(struct og_redis *r, int argc, const char **argv, const size_t *lens,
                  redisReply **reply)
{
    og_err e = run_raw(r, argc, argv, lens, reply);
    if (e == OG_OK && refused(r, *reply)) {
        *reply = NULL;
        return OG_ERR_UNAVAILABLE;
    }
    return e;
}

og_err og_redis_argv(struct og_redis *r, int argc, const char **argv, const size_t *lens,
                     redisReply **reply)
{
    return run(r, argc, argv, lens, reply);
}

int og_redis_hold(struct og_redis *r)
{
    return acquire(r);
}

void og_redis_unhold(struct og_redis *r, int h, int broken)
{
    release(r, h, broken);
}

/* The arena: chunks, the newest first; a reply takes the next bytes of
 * the newest, or a new chunk (at least ARENA_CHUNK) when they do not fit. */
enum { ARENA_CHUNK = 32 * 1024 };

struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    max_align_t data[];
};

struct og_redis_arena {
    struct arena_chunk *chunks;
};

struct og_redis_arena *og_redis_arena_new(void)
{
    return og_calloc(1, sizeof(struct og_redis_arena));
}

void og_redis_arena_reset(struct og_redis_arena *a)
{
    /* the first chunk (the oldest) is kept for the next replies */
    struct arena_chunk *c = a->chunks;
    while (c && c->next) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    if (c)
        c->used = 0;
    a->chunks = c;
}

void og_redis_arena_free(struct og_redis_arena *a)
{
    if (!a)
        return;
    og_redis_arena_reset(a);
    free(a->chunks);
    free(a);
}

static void *arena_alloc(struct og_redis_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    struct arena_chunk *c = a->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = og_malloc(sizeof *c + size);
        c->size = size, c->used = 0;
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

/* hiredis's reply functions (read.h) over the reader's privdata, an arena:
 * what its own create*Object do, a reply linked into its parent array. */
static redisReply *arena_reply(const redisReadTask *task, int type, size_t extra)
{
    redisReply *r = arena_alloc(task->privdata, sizeof *r + extra);
    memset(r, 0, sizeof *r);
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

static void *arena_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = arena_reply(task, task->type, len + 1);
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *arena_array(const redisReadTask *task, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = arena_reply(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply *));
    r->elements = n;
    if (n) {
        r->element = (redisReply **)(r + 1);
        memset(r->element, 0, n * sizeof *r->element);
    }
    return r;
}

static void *arena_integer(const redisReadTask *task, long long value)
{
    redisReply *r = arena_reply(task, REDIS_REPLY_INTEGER, 0);
    r->integer = value;
    return r;
}

static void *arena_nil(const redisReadTask *task)
{
    return arena_reply(task, REDIS_REPLY_NIL, 0);
}

static void arena_free_object(void *reply)
{
    (void)reply; /* the arena's: freed with it */
}

static redisReplyObjectFunctions arena_fns = {arena_string, arena_array, arena_integer, arena_nil,
                                              arena_free_object};

og_err og_redis_held_pipeline(struct og_redis *r, int h, struct og_redis_arena *a, size_t n,
                              const int *argc, const char *const *const *argv,
                              const size_t *const *lens, redisReply **replies)
{
    memset(replies, 0, n * sizeof *replies);
    if (n == 0)
        return OG_OK;
    redisContext *c = r->slots[h].c;
    /* the whole pipeline in the slot's buffer, its room made once */
    struct og_buf *cmd = &r->slots[h].out;
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += resp_size(argc[k], argv[k], lens ? lens[k] : NULL);
    cmd->len = 0;
    og_buf_reserve(cmd, total);
    for (size_t k = 0; k < n; k++)
        resp_write(cmd, argc[k], argv[k], lens ? lens[k] : NULL);
    int rc = redisAppendFormattedCommand(c, cmd->data, cmd->len);
    if (cmd->cap > 1024 * 1024) /* an unusual one: not kept */
        og_buf_free(cmd);
    if (rc != REDIS_OK)
        return OG_ERR_UNAVAILABLE;
    /* the reader's own functions come back before the connection is used
     * for anything else, whatever happens */
    redisReplyObjectFunctions *fns = c->reader->fn;
    void *priv = c->reader->privdata;
    if (a)
        c->reader->fn = &arena_fns, c->reader->privdata = a;
    og_err e = OG_OK;
    for (size_t k = 0; k < n && e == OG_OK; k++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK || !rep) {
            og_debug("redis: %s", c->errstr);
            for (size_t j = 0; j < k; j++) {
                if (!a)
                    freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            e = OG_ERR_UNAVAILABLE;
        } else {
            replies[k] = rep;
        }
    }
    c->reader->fn = fns, c->reader->privdata = priv;
    return e;
}

og_err og_redis_pipeline(struct og_redis *r, size_t n, const int *argc,
                         const char *const *const *argv, redisReply **replies)
{
    memset(replies, 0, n * sizeof *replies);
    int h = og_redis_hold(r);
    if (h < 0)
        return OG_ERR_UNAVAILABLE;
    og_err e = og_redis_held_pipeline(r, h, NULL, n, argc, argv, NULL, replies);
    og_redis_unhold(r, h, e != OG_OK);
    return e;
}

og_err og_redis_cmd(struct og_redis *r, redisReply **reply, const char *fmt, ...)
{
    *reply = NULL;
    int i = acquire(r);
    if (i < 0)
        return OG_ERR_UNAVAILABLE;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->slots[i].c, fmt, ap);
    va_end(ap);
    if (!rep) {
        release(r, i, 1);
        return OG_ERR_UNAVAILABLE;
    }
    release(r, i, 0);
    *reply = rep;
    return OG_OK;
}

int og_redis_try_later(const char *err)
{
    /* NOREPLICAS: a master with min-replicas-to-write that lost its
     * replicas (right after a Sentinel failover with one replica). */
    static const char *const prefix[] = {"LOADING", "MASTERDOWN", "MISCONF",  "OOM ",
                                         "BUSY ",   "READONLY ",  "TRYAGAIN", "NOREPLICAS"};
    /* "Write commands are not allowed from read-only scripts": a write in
     * a function's no-writes twin, which is only called while Redis refuses
     * writes (og_redis_eval). */
    static const char *const inside[] = {"OOM command not allowed", "READONLY You can't write",
                                         "-MISCONF ", "NOREPLICAS Not enough good replicas",
                                         "Write commands are not allowed from read-only scripts"};
    for (size_t k = 0; err && k < sizeof prefix / sizeof *prefix; k++)
        if (strncmp(err, prefix[k], strlen(prefix[k])) == 0)
            return 1;
    for (size_t k = 0; err && k < sizeof inside / sizeof *inside; k++)
        if (strstr(err, inside[k]))
            return 1; /* a script's write refused: "ERR Error running script ... -OOM ..." */
    return 0;
}

int og_redis_health(struct og_redis *r, const char *probe_key, char *why, size_t whylen)
{
    redisReply *rep = NULL;
    const char *argv[] = {"SET", probe_key, "1", "PX", "10000"};
    og_err e = run(r, 5, argv, NULL, &rep);
    if (e == OG_OK && rep->type == REDIS_REPLY_STATUS) {
        freeReplyObject(rep);
        return 1;
    }
    pthread_mutex_lock(&r->mu);
    snprintf(why, whylen, "%s",
             e == OG_OK ? (rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply")
             : og_mono_ms() - r->last_refusal_ms < 2000 ? r->last_refusal
                                                        : "unreachable");
    pthread_mutex_unlock(&r->mu);
    if (rep)
        freeReplyObject(rep);
    return 0;
}

int og_redis_ping(struct og_redis *r)
{
    redisReply *rep = NULL;
    const char *argv[] = {"PING"};
    if (run(r, 1, argv, NULL, &rep) != OG_OK)
        return 0;
    int ok = rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
    freeReplyObject(rep);
    return ok;
}

struct og_script *og_script_new(const char *name, const char *source)
{
    struct og_script *s = og_calloc(1, sizeof *s);
    unsigned char d[SHA_DIGEST_LENGTH];
    s->name = name;
    s->source = og_strdup(source);
    SHA1((const unsigned char *)s->source, strlen(s->source), d);
    og_hex_encode(d, sizeof d, s->sha, sizeof s->sha);
    return s;
}

struct og_script *og_script_fn(const char *name, const struct og_fnlib *lib, const char *fn,
                               const char *fn_ro)
{
    struct og_script *s = og_calloc(1, sizeof *s);
    s->name = name;
    s->lib = lib;
    s->fn = og_strdup(fn);
    s->fn_ro = fn_ro ? og_strdup(fn_ro) : NULL;
    return s;
}

void og_script_free(struct og_script *s)
{
    if (!s)
        return;
    free(s->source);
    free(s->fn);
    free(s->fn_ro);
    free(s);
}

void og_fnlib_free(struct og_fnlib *lib)
{
    if (!lib)
        return;
    free(lib->name);
    free(lib->code);
    free(lib->part_file);
    free(lib->part_line);
    free(lib);
}

/* err's first line, and when it names a line of lib ("user_function:N",
 * Redis's name for a library's code), the file and line that is. */
static void where(const struct og_fnlib *lib, const char *err, char *out, size_t outlen)
{
    int n = (int)strcspn(err, "\r\n");
    const char *at = lib ? strstr(err, "user_function:") : NULL;
    long line = at ? strtol(at + 14, NULL, 10) : 0;
    size_t k = 0;
    while (lib && k + 1 < lib->n_parts && lib->part_line[k + 1] <= line)
        k++;
    if (line > 0 && lib && lib->n_parts && lib->part_line[k] <= line)
        snprintf(out, outlen, "%.*s (%s.lua:%ld)", n, err, lib->part_file[k],
                 line - lib->part_line[k] + 1);
    else
        snprintf(out, outlen, "%.*s", n, err);
}

static int is_error(const redisReply *rep, const char *prefix)
{
    return rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, prefix, strlen(prefix)) == 0;
}

/* FUNCTION LOAD's answer: OG_OK when Redis has the library now. */
static og_err loaded(const struct og_fnlib *lib, redisReply *rep, char *err, size_t errlen)
{
    og_err e = OG_OK;
    /* Another instance of this version (or another thread) was first: the
     * name carries the code's hash, so the library there is this one. */
    if (rep->type == REDIS_REPLY_ERROR && !strstr(rep->str, "already exists")) {
        where(lib, rep->str, err, errlen);
        e = og_redis_try_later(rep->str) ? OG_ERR_UNAVAILABLE : OG_ERR_INTERNAL;
    }
    freeReplyObject(rep);
    return e;
}

og_err og_redis_fnlib_load(struct og_redis *r, const struct og_fnlib *lib, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    const char *av[] = {"FUNCTION", "LOAD", lib->code};
    redisReply *rep = NULL;
    og_err e = run_raw(r, 3, av, NULL, &rep);
    if (e != OG_OK) {
        snprintf(err, errlen, "Redis is not reachable");
        return e;
    }
    return loaded(lib, rep, err, errlen);
}

/* The refusals Redis gives a function that may write before running it:
 * out of memory (an EVAL script ran until its first write), too few
 * replicas (min-replicas-to-write), a failed disk. The no-writes twin is
 * not refused then. */
static int writes_refused(const redisReply *rep)
{
    return is_error(rep, "OOM ") || is_error(rep, "NOREPLICAS") || is_error(rep, "MISCONF");
}

og_err og_redis_eval(struct og_redis *r, struct og_script *s, int nkeys, int argc,
                     const char **argv, const size_t *lens, redisReply **reply)
{
    /* Small calls (nearly all) build the command on the stack; batches of
     * any size (the webhook dispatcher's) get it from the heap. */
    enum { STACK_ARGS = 64 };
    const char *av_s[STACK_ARGS + 3], **av = av_s;
    size_t al_s[STACK_ARGS + 3], *al = al_s;
    char nk[16];
    if (argc > STACK_ARGS) {
        av = og_calloc((size_t)argc + 3, sizeof *av);
        al = og_calloc((size_t)argc + 3, sizeof *al);
    }
    snprintf(nk, sizeof nk, "%d", nkeys);
    if (s->fn)
        av[0] = "FCALL", al[0] = 5, av[1] = s->fn, al[1] = strlen(s->fn);
    else
        av[0] = "EVALSHA", al[0] = 7, av[1] = s->sha, al[1] = 40;
    av[2] = nk, al[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = lens ? lens[i] : strlen(argv[i]);
    }
    og_err e = run_raw(r, argc + 3, av, al, reply);
    if (e == OG_OK && s->fn && is_error(*reply, "ERR Function not found")) {
        freeReplyObject(*reply);
        *reply = NULL;
        /* Redis lost it (a restart without persistence, FUNCTION FLUSH, a
         * failover before it replicated): load it again, call once more. */
        char why[512];
        e = og_redis_fnlib_load(r, s->lib, why, sizeof why);
        if (e == OG_OK)
            e = run_raw(r, argc + 3, av, al, reply);
        else if (e == OG_ERR_INTERNAL)
            og_error("redis: FUNCTION LOAD %s: %s", s->lib->name, why);
    } else if (e == OG_OK && !s->fn && is_error(*reply, "NOSCRIPT")) {
        freeReplyObject(*reply);
        *reply = NULL;
        /* EVAL both runs and caches the script: one round trip, no race with
         * another instance flushing scripts in between. */
        av[0] = "EVAL", al[0] = 4;
        av[1] = s->source, al[1] = strlen(s->source);
        e = run_raw(r, argc + 3, av, al, reply);
    }
    if (e == OG_OK && s->fn_ro && writes_refused(*reply)) {
        /* A read answers as before functions; a call that writes meets
         * "Write commands are not allowed from read-only scripts" (try
         * later, og_redis_try_later), having written nothing. */
        redisReply *ro = NULL;
        av[1] = s->fn_ro, al[1] = strlen(s->fn_ro);
        if (run_raw(r, argc + 3, av, al, &ro) == OG_OK) {
            if (ro->type == REDIS_REPLY_ERROR) {
                freeReplyObject(ro); /* it writes: the first refusal stands */
            } else {
                freeReplyObject(*reply);
                *reply = ro;
            }
        }
    }
    if (e == OG_OK && refused(r, *reply)) {
        *reply = NULL;
        e = OG_ERR_UNAVAILABLE;
    }
    if (e == OG_OK && (*reply)->type == REDIS_REPLY_ERROR) {
        char why[640];
        where(s->lib, (*reply)->str, why, sizeof why);
        og_error("redis script %s: %s", s->name, why);
    }
    if (av != av_s) {
        free(av);
        free(al);
    }
    return e;
}

og_err og_redis_eval_wait(struct og_redis *r, struct og_script *s, int argc, const char **argv,
                          const size_t *lens, int replicas, int timeout_ms, redisReply **reply)
{
    *reply = NULL;
    const char **av = og_calloc((size_t)argc + 3, sizeof *av);
    size_t *al = og_calloc((size_t)argc + 3, sizeof *al);
    if (s->fn)
        av[0] = "FCALL", al[0] = 5, av[1] = s->fn, al[1] = strlen(s->fn);
    else
        av[0] = "EVALSHA", al[0] = 7, av[1] = s->sha, al[1] = 40;
    av[2] = "0", al[2] = 1;
    for (int i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = lens ? lens[i] : strlen(argv[i]);
    }
    og_err e = OG_ERR_UNAVAILABLE;
    int i = acquire(r);
    if (i < 0)
        goto out;
    redisContext *c = r->slots[i].c;
    redisReply *rep = command_argv(c, argc + 3, av, al);
    if (rep && s->fn && is_error(rep, "ERR Function not found")) {
        /* as og_redis_eval; on this connection, so WAIT covers the load */
        freeReplyObject(rep);
        const char *lv[] = {"FUNCTION", "LOAD", s->lib->code};
        char why[512];
        rep = command_argv(c, 3, lv, NULL);
        og_err le = rep ? loaded(s->lib, rep, why, sizeof why) : OG_ERR_UNAVAILABLE;
        if (le == OG_ERR_INTERNAL)
            og_error("redis: FUNCTION LOAD %s: %s", s->lib->name, why);
        if (le != OG_OK) {
            release(r, i, !rep);
            goto out;
        }
        rep = command_argv(c, argc + 3, av, al);
    } else if (rep && !s->fn && is_error(rep, "NOSCRIPT")) {
        freeReplyObject(rep);
        av[0] = "EVAL", al[0] = 4;
        av[1] = s->source, al[1] = strlen(s->source);
        rep = command_argv(c, argc + 3, av, al);
    }
    if (!rep) {
        release(r, i, 1);
        goto out;
    }
    if (rep->type == REDIS_REPLY_ERROR) { /* nothing was written: no WAIT */
        release(r, i, 0);
        if (refused(r, rep))
            goto out;
        char why[640];
        where(s->lib, rep->str, why, sizeof why);
        og_error("redis script %s: %s", s->name, why);
        *reply = rep;
        e = OG_OK;
        goto out;
    }
    /* Acknowledged only once the replicas have it: a master that dies right
     * after the answer then loses nothing acknowledged. The socket must wait
     * longer than WAIT itself. (A retry found to be a duplicate writes
     * nothing; Redis 7's WAIT still covers what the master holds then:
     * og-unit-sentinel checks it with a replica that is connected but
     * behind.) */
    struct timeval longer = {(timeout_ms + 2000) / 1000, ((timeout_ms + 2000) % 1000) * 1000};
    struct timeval normal = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    redisSetTimeout(c, longer);
    redisReply *w = redisCommand(c, "WAIT %d %d", replicas, timeout_ms);
    redisSetTimeout(c, normal);
    if (!w || w->type != REDIS_REPLY_INTEGER || w->integer < replicas) {
        og_warn("redis: a write reached %lld of %d replicas in %d ms: not acknowledged (503)",
                w && w->type == REDIS_REPLY_INTEGER ? w->integer : 0LL, replicas, timeout_ms);
        if (w)
            freeReplyObject(w);
        freeReplyObject(rep);
        release(r, i, w == NULL);
        goto out;
    }
    freeReplyObject(w);
    release(r, i, 0);
    *reply = rep;
    e = OG_OK;
out:
    free(av);
    free(al);
    return e;
}

int og_redis_set_addr(struct og_redis *r, const char *host, int port)
{
    pthread_mutex_lock(&r->mu);
    if (!r->path && r->host && strcmp(r->host, host) == 0 && r->port == port) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    free(r->host);
    free(r->path);
    r->path = NULL;
    r->host = og_strdup(host);
    r->port = port;
    atomic_fetch_add(&r->gen, 1);
    /* idle connections go now; busy ones when they are released */
    for (int i = 0; i < r->n; i++)
        if (!r->slots[i].busy && r->slots[i].c) {
            redisFree(r->slots[i].c);
            r->slots[i].c = NULL;
        }
    r->retry_at_ms = 0;
    r->backoff_ms = 100;
    pthread_mutex_unlock(&r->mu);
    return 1;
}

int og_redis_take_trouble(struct og_redis *r)
{
    return atomic_exchange(&r->trouble, 0);
}
