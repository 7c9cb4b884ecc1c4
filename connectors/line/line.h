/* line.h - internal header of the LINE connector, shared by line.c (the
 * instance and inbound HTTP), line_parse.c (webhook body -> emits) and
 * line_send.c (normalized message -> reply/push). Nothing here is exported:
 * the plugin is built with hidden visibility and only og_connector_entry is
 * visible. The fuzz target compiles line_parse.c on its own, so that file
 * depends on the parse half of this header only.
 *
 * Platform API: LINE Messaging API v2 (webhook.yml / messaging-api.yml of
 * line/line-openapi): webhook events, POST /v2/bot/message/reply and
 * /v2/bot/message/push, GET /v2/bot/profile/{userId} (and the group/room
 * member variants), content at api-data /v2/bot/message/{id}/content. */
#ifndef OG_LINE_H
#define OG_LINE_H
#include <omnigate/connector.h>

#include <pthread.h>
#include <stdint.h>

/* ------------------------------------------------------------------ parse */

/* A sender profile as the parser hands it back: strings the callee
 * allocated with svc->alloc/strdup [xfer]; NULL = unknown. */
struct line_profile {
    char *name;
    char *avatar_url;
};

/* Everything line_parse_body() needs. The parser touches no instance, no
 * network and no clock by itself; the profile lookup is a callback (NULL in
 * the fuzz target), so the function stays pure apart from its emits. */
struct line_parse_ctx {
    const struct og_services *svc; /* [borrowed] */
    void *host;                    /* first argument of svc->emit_message/log */
    const char *api_data_base;     /* content URL base, no trailing '/' */
    /* Optional: fills *out for the user of one event. source_type is
     * "user", "group" or "room"; chat_id is the group or room id (NULL for
     * a user source). Must not fail: unknown leaves *out zeroed. */
    void (*profile)(void *ud, const char *source_type, const char *user_id, const char *chat_id,
                    struct line_profile *out);
    void *profile_ud;
    /* Out: what happened, for logs and tests. */
    size_t emitted, skipped;
};

/* Parses one webhook body (already verified) and emits one item per event
 * that maps onto the normalized model, in order. Returns OG_OK (also for an
 * empty events array and for events skipped on purpose), OG_ERR_INVALID when
 * the body is not a JSON object with an "events" array (nothing emitted), or
 * the first error an emit returned (later events are not emitted: the
 * platform is not acknowledged and redelivers; stored ones de-duplicate). */
og_err line_parse_body(struct line_parse_ctx *ctx, const char *body, size_t len);

/* ---------------------------------------------------------------- instance */

/* The option block (see the option table in line.c). Strings are [host]. */
struct line_conf {
    char *channel_secret;
    char *channel_access_token;
    char *api_base;
    char *api_data_base;
};

#define LINE_PROFILE_WAYS 8                       /* the cache is 8-way set associative */
#define LINE_PROFILE_SETS 1024                    /* 8192 users */
#define LINE_PROFILE_TTL_MS (60LL * 60 * 1000)    /* a known profile: 1 h */
#define LINE_PROFILE_NEG_TTL_MS (5LL * 60 * 1000) /* a failed lookup: 5 min */
#define LINE_PROFILE_BUDGET_MS 3000               /* per webhook request */
#define LINE_REPLIED_SLOTS 2048

struct line_profile_slot {
    char *key; /* "<chat_id or ->:<userId>", owned; NULL = free */
    char *name, *avatar_url;
    int64_t expires_ms;
};

/* One channel. Owned by the plugin; freed by destroy(). */
struct line {
    const struct og_services *svc; /* [host] until destroy() */
    void *host;                    /* [host] until destroy() */
    const struct line_conf *conf;  /* [host] until destroy() */
    char *api_base;                /* owned copies without a trailing '/' */
    char *api_data_base;
    char *auth_header;                  /* "Authorization: Bearer ..." - secret, never logged */
    pthread_mutex_t mu;                 /* guards the two tables below */
    struct line_profile_slot *profiles; /* SETS x WAYS, owned */
    /* Message ids and reply tokens (64-bit hashes) spent on a reply: a retry
     * of the same message, or a later message handed the same token, pushes
     * instead of replaying a single-use token. */
    uint64_t replied[LINE_REPLIED_SLOTS];
    size_t replied_next;
};

/* ------------------------------------------------------------------- send */

/* Wait no longer than this for LINE to answer a send. */
#define LINE_SEND_TIMEOUT_MS 10000
/* A reply token is used while younger than this (LINE: about a minute). */
#define LINE_REPLY_MAX_AGE_MS 50000
#define LINE_TEXT_MAX 5000  /* UTF-16 code units per text message */
#define LINE_MAX_MESSAGES 5 /* message objects per reply/push request */

og_err line_send(struct line *ln, const struct og_outbound *msg, struct og_send_result *res);

/* X-Line-Retry-Key for one of our message ids: the first 16 bytes of
 * SHA-256(message_id) as an RFC 4122 version-4 UUID text (lowercase). */
void line_retry_key(const struct og_services *svc, const char *message_id, char out[37]);

/* Splits text into at most max_parts pieces of at most max_units UTF-16 code
 * units each, cutting only between UTF-8 code points and preferring a cut
 * after a newline or a space. Writes offsets/lengths; returns the number of
 * parts (0 for empty text), or (size_t)-1 when more parts would be needed. */
size_t line_split_text(const char *text, size_t max_units, size_t max_parts, size_t *off,
                       size_t *len);
/* Quick reply buttons (ABI 1.3): at most 13 items, a label of 20
 * characters; the postback data ({"id","title"}, at most 300 characters)
 * leaves an id 180 bytes. */
#define LINE_MAX_BUTTONS 13
#define LINE_BUTTON_TITLE_MAX 20
#define LINE_BUTTON_ID_MAX 180

#endif
