/* og_test - the small test kit every omnigate test links: assertions, a
 * redis-server of its own in a temp dir, a fake platform HTTP server on
 * 127.0.0.1, and a harness that runs one connector plugin without the
 * daemon, recording what it emits.
 *
 * Tests print "N passed, M failed" at the end and exit non-zero on failure. */
#ifndef OG_TEST_H
#define OG_TEST_H
#include <json-c/json.h>
#include <omnigate/connector.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

extern int og_test_passed, og_test_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            og_test_passed++;                                                                      \
        } else {                                                                                   \
            og_test_failed++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)
#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ && b_ && strcmp(a_, b_) == 0) {                                                     \
            og_test_passed++;                                                                      \
        } else {                                                                                   \
            og_test_failed++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__, #a,   \
                    #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                   \
        }                                                                                          \
    } while (0)
#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_) {                                                                            \
            og_test_passed++;                                                                      \
        } else {                                                                                   \
            og_test_failed++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b,   \
                    a_, b_);                                                                       \
        }                                                                                          \
    } while (0)
/* Prints the summary line and returns the exit code for main(). */
int og_test_done(void);

/* A fresh 0755 temp dir [xfer]; removed (recursively) by og_test_rmdir. */
char *og_test_tmpdir(void);
void og_test_rmdir(const char *dir);
int og_test_free_port(void);
/* fork() for a process a test starts (a server, a tool): the child is
 * killed (SIGKILL) when the test process ends, however it ends (an early
 * return after a failed start, a crash, ctest's timeout), so nothing a test
 * started outlives it. Call it from the test's main thread: the kernel ties
 * the signal to the thread that forked. */
pid_t og_test_fork(void);
/* Path of a file in the source tree (OG_SOURCE_DIR is defined by CMake). [xfer] */
char *og_test_src(const char *rel);
char *og_test_read_file(const char *path, size_t *len); /* [xfer] or NULL */
/* A source tree file's contents (og_test_src + og_test_read_file). [xfer] or NULL */
char *og_test_read_src(const char *rel, size_t *len);
/* Polls the file at path (a log, a helper's output) every 10 ms until it
 * contains needle: 1, or 0 after ms. */
int og_test_wait_file(const char *path, const char *needle, int ms);

/* ------------------------------------------------------------ redis-server */
struct og_test_redis {
    pid_t pid;
    int port;        /* TCP on 127.0.0.1 */
    char *dir;       /* temp dir, owned */
    char url[256];   /* "redis://127.0.0.1:PORT" */
    char extra[256]; /* more arguments, space-separated (given at start) */
};
/* Starts redis-server (AOF on) on 127.0.0.1 and waits for PONG. 0 on success. */
int og_test_redis_start(struct og_test_redis *r);
/* The same with more redis-server arguments, e.g. "--appendonly no" or
 * "--replicaof 127.0.0.1 6390" (later ones override the defaults). */
int og_test_redis_start_with(struct og_test_redis *r, const char *extra);
/* Restarts on the same port and dir (AOF keeps the data). */
int og_test_redis_restart(struct og_test_redis *r);
void og_test_redis_kill(struct og_test_redis *r); /* SIGKILL, keeps the dir */
void og_test_redis_stop(struct og_test_redis *r); /* SIGTERM, removes the dir */
/* A core (og_core.h) on that server with keys under prefix and pool
 * connections; NULL, with the reason on stderr, when it cannot start.
 * [xfer, og_core_free] */
struct og_core *og_test_core_new(const struct og_test_redis *r, const char *prefix, int pool);
/* Reads as the admin token would (og_sessions.h): one session, a page of
 * its history, a page of the list filtered by status and channel. [xfer] */
og_err og_test_session_json(struct og_core *c, const char *id, char **json);
og_err og_test_list_messages(struct og_core *c, const char *sid, const char *cursor, int limit,
                             char **json);
og_err og_test_list_sessions(struct og_core *c, const char *status, const char *channel,
                             const char *cursor, int limit, char **json);
/* The same with routing policies and close rules (og_routing.h). */
struct og_routing_opts;
struct og_core *og_test_core_new_routing(const struct og_test_redis *r, const char *prefix,
                                         int pool, const struct og_routing_opts *routing);
/* Runs one command through redis-cli and returns its raw output [xfer]. */
char *og_test_redis_cli(struct og_test_redis *r, const char *args);
/* redis-cli arguments that ask a bucketed index (core/lua/prelude.lua
 * thread_get, pmid_get: hash <prefix><first 3 hex digits of SHA-1(id)>,
 * field id) with cmd (HGET, HEXISTS); append "<prefix> <id>", e.g.
 * OG_TEST_BUCKET("HGET") "{og}:th:demo: %s". */
#define OG_TEST_BUCKET(cmd)                                                                        \
    "EVAL \"return redis.call('" cmd "', KEYS[1] .. redis.sha1hex(ARGV[1]):sub(1, 3), ARGV[1])\" " \
    "1 "

/* The first line of a command's output, the command formatted like printf
 * (at most 511 characters); "" when there was none. [xfer] */
char *og_test_redis_line(struct og_test_redis *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --------------------------------------------------- fake platform server */
struct og_fake_req {
    char *method, *url; /* url = path + "?" + query as received */
    char *headers;      /* "name: value\n" lines, names lowercased */
    char *body;
    size_t body_len;
};
struct og_fake_resp {
    int status;
    const char *body;
    const char *content_type;
    const char *headers; /* extra "Name: value\n" lines, or NULL */
    int delay_ms;
};
/* Decides the answer for one request; return 0 to fall back to the queue. */
typedef int (*og_fake_handler)(void *ud, const struct og_fake_req *req, struct og_fake_resp *resp);
struct og_fake;
struct og_fake *og_fake_start(void);
int og_fake_port(const struct og_fake *f);
const char *og_fake_base(const struct og_fake *f); /* "http://127.0.0.1:PORT" */
/* Answers are taken from a FIFO of queued responses, then the handler, then
 * the default (200 "{}"). Strings are copied. */
void og_fake_push(struct og_fake *f, const struct og_fake_resp *resp);
void og_fake_set_default(struct og_fake *f, const struct og_fake_resp *resp);
void og_fake_set_handler(struct og_fake *f, og_fake_handler h, void *ud);
/* A file the fake serves, before the queue and the handler: a GET whose path
 * (without the query) is path answers 200 with len bytes of data (NULs and
 * all) as application/octet-stream. The request is recorded. Copied. */
void og_fake_add_file(struct og_fake *f, const char *path, const void *data, size_t len);
size_t og_fake_count(struct og_fake *f);
/* The i-th recorded request, [borrowed] until og_fake_reset/og_fake_stop. */
const struct og_fake_req *og_fake_get(struct og_fake *f, size_t i);
/* The body of the newest request whose URL contains url_part, copied under
 * the fake's lock [xfer], or NULL: safe while requests keep arriving (a
 * pointer from og_fake_get is not, once the list grows). */
char *og_fake_find_body(struct og_fake *f, const char *url_part);
const char *og_fake_header(const struct og_fake_req *r, const char *name, char *buf, size_t n);
void og_fake_reset(struct og_fake *f);
void og_fake_stop(struct og_fake *f);

/* ----------------------------------------------------- connector harness */
struct og_test_conn;
/* Loads <build>/lib/omnigate/connectors/<name>.so and creates one instance
 * with options_json. On failure returns NULL and prints why. */
struct og_test_conn *og_test_conn_open(const char *name, const char *options_json);
/* Like open, but returns the error list text instead (for option tests). [xfer] */
char *og_test_conn_open_errors(const char *name, const char *options_json);
void og_test_conn_close(struct og_test_conn *c);
const struct og_connector *og_test_conn_desc(struct og_test_conn *c);
void *og_test_conn_inst(struct og_test_conn *c);
/* The host side of the instance (core/og_channel.h), e.g. for og_channel_send. */
struct og_channel;
struct og_channel *og_test_conn_channel(struct og_test_conn *c);

struct og_test_http {
    int status; /* what the host would answer */
    og_err err; /* what handle_http returned */
    char *body; /* owned by the harness until the next call */
    char content_type[64];
};
/* Feeds one inbound request. headers: "Name: value\n" lines; query: "a=b&c=d". */
struct og_test_http og_test_conn_request(struct og_test_conn *c, const char *method,
                                         const char *path, const char *query, const char *headers,
                                         const char *body, size_t len);
/* The emitted items so far, rendered as JSON objects [borrowed]. Messages:
 * {"dedup_key","provider_message_id","thread_id","from":{...},"kind","text",
 * "attachments":[...],"location":{...}|null,"reply_to","reply_token",
 * "payload","timestamp_ms","raw"}; statuses: {"dedup_key","provider_message_id",
 * "thread_id","watermark_ms","status","error_code","error_message"}. */
size_t og_test_conn_messages(struct og_test_conn *c);
json_object *og_test_conn_message(struct og_test_conn *c, size_t i);
size_t og_test_conn_statuses(struct og_test_conn *c);
json_object *og_test_conn_status(struct og_test_conn *c, size_t i);
void og_test_conn_clear(struct og_test_conn *c);
/* Make the next n emits fail with e (to test that failures are propagated). */
void og_test_conn_fail_emits(struct og_test_conn *c, int n, og_err e);
/* The in-memory state store (state_get/state_set), shared by reopened
 * instances of the same harness process: reopening simulates a restart. */
const char *og_test_state_get(const char *channel_key);
/* Maps an og_err to the HTTP status the daemon answers (same table). */
int og_test_err_status(og_err e);
/* ------------------------------------------------ the daemon, end to end */
#define OG_TEST_ADMIN_TOKEN "test-admin-token-0123456789abcdef"
struct og_test_daemon {
    pid_t pid;
    int port;
    char base[64];     /* "http://127.0.0.1:PORT" */
    char *dir;         /* temp dir: config.json, omnigate.log, data/ (owned) */
    char *config_path; /* owned */
};
/* Writes a config (listen 127.0.0.1:<free port>, data_dir in a temp dir,
 * api.admin_token OG_TEST_ADMIN_TOKEN, redis.url = redis_url (or, when it
 * starts with '{', the whole "redis" object as that JSON text), channels =
 * channels_json (a JSON array text), plus extra_json: more top-level members
 * as text, e.g. "\"http\":{\"max_body_bytes\":2048}", or NULL), starts
 * build/bin/omnigate (or $OG_TEST_OMNIGATE) on it and waits until /readyz
 * answers 200 (or 10 s).
 * Returns 0 on success; on failure prints the daemon's log. */
int og_test_daemon_start(struct og_test_daemon *d, const char *redis_url, const char *channels_json,
                         const char *extra_json);
/* SIGTERM, wait; returns the exit status (0 = clean). Keeps nothing running. */
int og_test_daemon_stop(struct og_test_daemon *d);
void og_test_daemon_kill(struct og_test_daemon *d); /* SIGKILL */
/* Waits up to limit_ms for the daemon to die of SIGKILL (a crash hook it
 * was started with): 0 when it did. Otherwise -1, and it is stopped, not
 * left running. */
int og_test_daemon_wait_killed(struct og_test_daemon *d, int limit_ms);

/* s3rver (tests/s3, `npm ci` there: make deps-s3) on 127.0.0.1, its objects
 * under dir/s3/<bucket>, run by $OG_NODE or node from the PATH. start: 0
 * once it printed its port (endpoint set), -1 when it is not installed or
 * did not start. stop: SIGTERM, then SIGKILL after 5 s; only its own pid. */
struct og_test_s3rver {
    pid_t pid;
    char endpoint[64]; /* http://127.0.0.1:<port> */
};
int og_test_s3rver_start(struct og_test_s3rver *s, const char *dir, const char *bucket);
void og_test_s3rver_stop(struct og_test_s3rver *s);
/* Restarts a stopped/killed daemon with the same config and port. */
int og_test_daemon_restart(struct og_test_daemon *d);
void og_test_daemon_free(struct og_test_daemon *d); /* removes the temp dir */

struct og_test_resp {
    long status; /* 0 = no answer */
    char *body;  /* [xfer] NUL-terminated, never NULL */
};
/* One HTTP request with libcurl. headers: "Name: value\n" lines or NULL. */
struct og_test_resp og_test_http(const char *method, const char *url, const char *headers,
                                 const char *body, size_t len);
/* The same, and *got [xfer] the answer's status and header lines as they
 * came ("HTTP/1.1 200 OK\r\nName: value\r\n..."). */
struct og_test_resp og_test_http_headers(const char *method, const char *url, const char *headers,
                                         const char *body, size_t len, char **got);
/* GET base+path with the admin bearer token; body parsed as JSON [xfer], or
 * NULL if not JSON. *status gets the HTTP status. */
json_object *og_test_api_get(const struct og_test_daemon *d, const char *path, long *status);
/* The session list renders sessions in C (core/og_render.h), one session
 * is rendered by sessions.lua: the count of sessions whose list item is
 * byte for byte their GET /api/v1/sessions/{id}, or -1 (printed) when one
 * differs. Tests that build varied sessions end with it. */
int og_test_render_agrees(const struct og_test_daemon *d);
/* The same for the messages pages (C) of every session: each customer's
 * message the ingest script rendered into its message.received event (read
 * from redis_port's stream) is in its session's pages byte for byte. The
 * count of such messages, or -1 (printed). */
int og_test_messages_agree(const struct og_test_daemon *d, int redis_port);
/* The headers of a POST signed as the example connector signed_json checks
 * it: "X-Signature: sha256=<hex HMAC-SHA256(secret, body)>" and
 * "Content-Type: application/json". [xfer] */
char *og_test_signed_headers(const char *secret, const char *body, size_t len);
/* POSTs body, so signed, to the daemon's /hooks/<channel>. Returns the HTTP
 * status (0 = no answer). */
long og_test_post_signed(const struct og_test_daemon *d, const char *channel, const char *secret,
                         const char *body, size_t len);

/* ------------------------------------------- Redis Sentinel (og_test_ha.c) */
/* A sentinel: redis-server --sentinel on 127.0.0.1 in a temp dir of its own. */
struct og_test_sentinel {
    pid_t pid;
    int port;
    char *dir; /* owned */
};
/* Starts a sentinel monitoring name at 127.0.0.1:master_port with quorum
 * and down-after-milliseconds; waits until it answers. 0 on success. */
int og_test_sentinel_start(struct og_test_sentinel *s, const char *name, int master_port,
                           int quorum, int down_after_ms);
void og_test_sentinel_stop(struct og_test_sentinel *s); /* SIGTERM by pid, removes the dir */

/* One master, two replicas and three sentinels (quorum 2) watching it as
 * "mymaster": server[0] starts as the master. */
struct og_test_ha {
    struct og_test_redis server[3];
    struct og_test_sentinel sentinel[3];
    char sentinels_json[160]; /* ["127.0.0.1:P1","127.0.0.1:P2","127.0.0.1:P3"] */
};
/* Starts them all and waits (up to 20 s) until every sentinel sees both
 * replicas and the two other sentinels, so a failover can be agreed on. */
int og_test_ha_start(struct og_test_ha *h, int down_after_ms);
void og_test_ha_stop(struct og_test_ha *h); /* everything still running, by pid */
/* Which server answers ROLE "master" now (-1: none; a killed one is skipped). */
int og_test_ha_master(struct og_test_ha *h);
/* The first line of ROLE on server i ("master", "slave"), "" when down. */
void og_test_ha_role(struct og_test_ha *h, int i, char *out, size_t n);

/* ------------------------------------------------ raw HTTP over loopback */
/* For what a well-behaved client library will not send: duplicate headers,
 * bodies trickled a byte at a time, requests from another loopback address
 * (127.0.0.2 and the like: Linux answers the whole 127.0.0.0/8). */

/* A TCP connection from src (an IPv4 address; NULL = any) to 127.0.0.1:port,
 * blocking. The descriptor, or -1. */
int og_test_raw_connect(const char *src, int port);
/* Writes all of s (n bytes; n = (size_t)-1 for strlen). 0, or -1 on an error
 * (a reset included). */
int og_test_raw_send(int fd, const char *s, size_t n);
/* Reads until the peer closes or timeout_ms pass, into *out [xfer] (NUL-
 * terminated, never NULL). Returns the bytes read, or -1 when the connection
 * was reset (out keeps what came before). */
long og_test_raw_read(int fd, int timeout_ms, char **out);
/* Reads one HTTP answer (headers and Content-Length of body; for a chunked,
 * streamed answer its headers only) within timeout_ms: its status, 0 when
 * none came whole, -1 on a reset. The body (what came of it) goes to *body
 * [xfer] when body is not NULL. The connection stays open. */
int og_test_raw_answer(int fd, int timeout_ms, char **body);
/* 1 when the peer closed the connection (end of stream or a reset) within
 * timeout_ms, discarding what it sent; 0 when it is still open. */
int og_test_raw_closed(int fd, int timeout_ms);
#endif
