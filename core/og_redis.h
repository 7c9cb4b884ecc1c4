/* og_redis - the one way omnigate talks to Redis: a small pool of hiredis
 * connections shared by the HTTP threads and workers, with reconnect and
 * back-off, and Lua scripts called by SHA or as Redis Functions.
 *
 * When Redis is unreachable every call fails fast with OG_ERR_UNAVAILABLE
 * (the gateway turns that into 503) instead of blocking a thread: a failed
 * connect arms a back-off window (100 ms doubling to 2 s) during which no
 * new connect is attempted. The first call after the window tries again, so
 * omnigate heals by itself when Redis comes back. */
#ifndef OG_REDIS_H
#define OG_REDIS_H
#include <hiredis/hiredis.h>
#include <omnigate/connector.h>
#include <stddef.h>

struct og_redis;

struct og_redis_opts {
    /* redis://host:port[/db] or unix:///path; NULL = no address until
     * og_redis_set_addr gives one (Sentinel: the master is asked first) */
    const char *url;
    const char *password; /* NULL = none */
    int pool_size;        /* > 0 */
    int timeout_ms;       /* per command, default 2000 */
    /* [borrowed] when set, this pool connects wherever that one does now
     * (its address, database and password; url and password are ignored),
     * and follows it when og_redis_set_addr moves it. It must outlive this
     * pool. For connections of their own (og_stream's blocking reads). */
    struct og_redis *follow;
};

/* A Redis Function library (FUNCTION LOAD): its code, which starts with
 * "#!lua name=<name>", and where each of its parts came from, so an error
 * Redis reports at a line of the library names the file and line instead.
 * Built by og_script.c (the core's scripts); everything [owned]. */
struct og_fnlib {
    char *name;
    char *code;
    size_t n_parts;
    const char **part_file; /* the part's file without ".lua" ("ingest"), static */
    int *part_line;         /* the library line its first line is on */
};
void og_fnlib_free(struct og_fnlib *lib);

/* A Lua script: either source for EVALSHA (its SHA1 computed at
 * registration), or a function of a library for FCALL. */
struct og_script {
    const char *name;
    char *source; /* owned; NULL for a function */
    char sha[41];
    /* A function (og_script_fn): FCALL fn. fn_ro is its twin flagged
     * no-writes (or NULL), called when Redis refuses a write function
     * before it runs (out of memory, too few replicas, a failed disk), so a
     * read still answers then, as an EVAL script's did. */
    char *fn, *fn_ro;           /* owned */
    const struct og_fnlib *lib; /* borrowed: FUNCTION LOADed when Redis lacks fn */
};

/* Creates the pool; connects lazily. NULL + errbuf on a malformed URL. [xfer] */
struct og_redis *og_redis_new(const struct og_redis_opts *o, char *errbuf, size_t errlen);
void og_redis_free(struct og_redis *r);

/* Prepares a script (computes its SHA1). [xfer, og_script_free] */
struct og_script *og_script_new(const char *name, const char *source);
/* A function fn of lib (fn_ro its no-writes twin, may be NULL); lib must
 * outlive it. [xfer, og_script_free] */
struct og_script *og_script_fn(const char *name, const struct og_fnlib *lib, const char *fn,
                               const char *fn_ro);
void og_script_free(struct og_script *s);

/* Runs a command given as argv (binary safe). *reply [xfer, freeReplyObject]
 * on OG_OK; an error reply from Redis is returned as OG_OK with the reply of
 * type REDIS_REPLY_ERROR (the caller decides). OG_ERR_UNAVAILABLE when no
 * connection could be had or the connection broke mid-call. */
og_err og_redis_argv(struct og_redis *r, int argc, const char **argv, const size_t *lens,
                     redisReply **reply);
/* n read commands (argc[k], argv[k], NUL-terminated strings) sent at once
 * on one connection and their replies read in order: a query of many keys
 * costs one round trip. replies[k] [xfer, freeReplyObject each] on OG_OK
 * (an error reply is a reply); all NULL otherwise (OG_ERR_UNAVAILABLE). */
og_err og_redis_pipeline(struct og_redis *r, size_t n, const int *argc,
                         const char *const *const *argv, redisReply **replies);
/* One connection of the pool kept for pipelines that must share it (WATCH,
 * reads, then MULTI ... EXEC): its handle, or -1 when none can be had
 * (OG_ERR_UNAVAILABLE). Each og_redis_hold is ended by one og_redis_unhold,
 * broken 1 after a failed og_redis_held_pipeline (the connection is
 * dropped, and a WATCH with it). */
int og_redis_hold(struct og_redis *r);
void og_redis_unhold(struct og_redis *r, int h, int broken);
/* Replies read into an arena (#22): hiredis allocates a reply and its
 * string apart, and frees each again, which cost the C ingest path ~10% of
 * its instructions; an arena's replies take a bump of a pointer each and go
 * all at once. Owned by one thread at a time. */
struct og_redis_arena;
struct og_redis_arena *og_redis_arena_new(void); /* [xfer, og_redis_arena_free] */
/* Forgets every reply read into a (their memory is reused). */
void og_redis_arena_reset(struct og_redis_arena *a);
void og_redis_arena_free(struct og_redis_arena *a);
/* og_redis_pipeline on held connection h; lens[k] NULL (or lens NULL) for
 * NUL-terminated arguments. With a, the replies are a's [borrowed: valid
 * until a is reset or freed, never given to freeReplyObject]. */
og_err og_redis_held_pipeline(struct og_redis *r, int h, struct og_redis_arena *a, size_t n,
                              const int *argc, const char *const *const *argv,
                              const size_t *const *lens, redisReply **replies);
/* An array reply of n strings, as Redis would send it (a reply made in C in
 * a script's shape) [xfer, freeReplyObject]; NULL if hiredis fails. */
redisReply *og_redis_reply_strings(int n, const char *const *v);
/* printf-style convenience (hiredis format: %s, %b, %lld). */
og_err og_redis_cmd(struct og_redis *r, redisReply **reply, const char *fmt, ...);
/* Runs script s: EVALSHA, with EVAL on NOSCRIPT (after a Redis restart or a
 * SCRIPT FLUSH); or for a function FCALL, with FUNCTION LOAD of its library
 * and one more FCALL on "Function not found" (a Redis restarted without
 * persistence, FUNCTION FLUSH, a failover to a replica that never had it).
 * argv holds KEYS then ARGV; nkeys of them are keys. */
og_err og_redis_eval(struct og_redis *r, struct og_script *s, int nkeys, int argc,
                     const char **argv, const size_t *lens, redisReply **reply);
/* FUNCTION LOAD lib: OG_OK when Redis has it now (loaded, or it had it
 * already); OG_ERR_UNAVAILABLE when Redis cannot be asked or says "try
 * later"; OG_ERR_INTERNAL when Redis refused the code (the error, its line
 * named as file:line, into err). */
og_err og_redis_fnlib_load(struct og_redis *r, const struct og_fnlib *lib, char *err,
                           size_t errlen);
/* og_redis_eval (but no no-writes twin: it is for writes), then WAIT
 * replicas timeout_ms on the same connection: OG_OK only when at least
 * replicas replicas have the script's writes; otherwise
 * OG_ERR_UNAVAILABLE (the writes are on the master, but a caller that
 * acknowledges only after this must not: the sender retries, and the
 * script's de-duplication takes the retry). */
og_err og_redis_eval_wait(struct og_redis *r, struct og_script *s, int argc, const char **argv,
                          const size_t *lens, int replicas, int timeout_ms, redisReply **reply);
/* Moves the pool to host:port (a Sentinel failover): connections to the
 * old address are closed (idle ones now, busy ones when their command
 * returns; a command that fails there gets OG_ERR_UNAVAILABLE, i.e. 503,
 * never a silent success), the back-off is reset, and the next command
 * connects to the new address; pools that follow this one follow too.
 * 1 when the address changed, 0 when it was already that. */
int og_redis_set_addr(struct og_redis *r, const char *host, int port);
/* 1 when a connection of this pool (or of a pool following it) broke, could
 * not be made, or was refused with READONLY since the last call: the
 * failover worker then asks the sentinels at once. Clears the flag. */
int og_redis_take_trouble(struct og_redis *r);
/* 1 when a PING succeeds now. */
int og_redis_ping(struct og_redis *r);
/* 1 when Redis takes a write now (a SET of probe_key that expires): a Redis
 * out of memory still answers PING. Else 0 and why ("unreachable", or the
 * refusal: "OOM command not allowed..."). */
int og_redis_health(struct og_redis *r, const char *probe_key, char *why, size_t whylen);
/* 1 when an error reply means "Redis cannot take this now, try later"
 * (LOADING, OOM, BUSY, MASTERDOWN, READONLY, MISCONF, TRYAGAIN, NOREPLICAS; also inside
 * a script's error). Such replies become OG_ERR_UNAVAILABLE (503). */
int og_redis_try_later(const char *err);
#endif
