/* og_outbox - outbound messages: an agent's reply (or a new conversation an
 * agent starts), the durable send queue it goes through, and the delivery
 * statuses platforms report afterwards.
 *
 * A reply is one Lua script (outbox_reply.lua): the message is stored "pending",
 * appended to the session's history and to the stream P:outbox; the session
 * moves active -> awaiting. The send worker (gateway/og_send_worker.c) reads
 * P:outbox through the consumer group "senders", loads the message
 * (og_outbox_load), calls the connector and records the outcome
 * (og_outbox_sent/retry/fail), each of which acknowledges the stream entry in
 * the same script. An entry whose sender died stays pending and is claimed by
 * another sender after an idle time (XAUTOCLAIM): nothing is lost. Delivery is
 * at least once: a sender that dies after the platform took the message but
 * before recording it leads to a second send with the same message id, which
 * connectors pass to platforms that de-duplicate (LINE X-Line-Retry-Key, VK
 * random_id, signed_json's "id"); on the others (Telegram, WhatsApp,
 * Messenger) that window can produce one duplicate.
 *
 * Status order: pending < sent < delivered < read; "failed" only from pending
 * or sent, and final. Nothing ever moves backwards (outbox_status.lua). */
#ifndef OG_OUTBOX_H
#define OG_OUTBOX_H
#include "og_core.h"

#include <json-c/json.h>
#include <stdatomic.h>

struct og_outbox_att { /* all [borrowed] */
    const char *url, *name, *mime_type;
    const char *upload_id; /* an agent's upload (url is then its signed link), or NULL */
    int64_t size;          /* bytes; 0 = unknown */
};

struct og_outbox_button { /* [borrowed] */
    const char *id, *title;
};

/* What an agent sends. Every pointer [borrowed] for the call. */
struct og_outbox_msg {
    const char *text; /* NULL or "" = none (then attachments) */
    const struct og_outbox_att *atts;
    size_t n_atts;
    const char *sender_id; /* agent id, or "admin" for the admin token */
    /* A platform template (og_outbound.template_json): its JSON text, and
     * text holds it rendered for history. NULL = none. */
    const char *template_json;
    const char *tag; /* a message tag ("HUMAN_AGENT") or NULL */
    const struct og_outbox_button *buttons;
    size_t n_buttons;
    /* How long after the customer's last message this message may still be
     * sent (the connector's window, its tag window, 0 = any time, as for a
     * template): older, the reply is refused with OG_ERR_WINDOW_CLOSED and
     * nothing is stored. og_outbox_start_session takes its window from
     * og_outbox_start.window_ms instead. */
    int64_t max_age_ms;
};

/* Stores and queues a reply in session sid. *json [xfer] is the message as
 * the API shows it; mid gets its id. OG_ERR_NOT_FOUND: no such session;
 * OG_ERR_CONFLICT: the session is closed; OG_ERR_WINDOW_CLOSED: the
 * customer's last message is older than m->max_age_ms (or there is none). The text is matched
 * against the agents' sensitive words (og_sensitive.h) first: a match flags the message
 * ("flags":["sensitive"], "sensitive_terms", message.flagged, the flagged
 * list), or, when the config blocks such messages, OG_ERR_FORBIDDEN with
 * *json [xfer] the matched terms (a JSON array) and nothing stored. */
og_err og_outbox_reply(struct og_core *c, const char *sid, const struct og_outbox_msg *m,
                       char **json, char *mid, size_t midsz);

/* A conversation an agent starts on a channel with a known contact. */
struct og_outbox_start {
    const char *channel, *connector, *routing;
    const char *contact_id; /* or NULL and external_id */
    const char *external_id;
    const char *agent_id; /* "" for admins: the session has no agent */
    int64_t window_ms;    /* the connector's messaging_window_ms */
    int non_realtime;     /* the connector has OG_CAP_NON_REALTIME */
};
/* *json [xfer] {"session":..,"message":..}; sid gets the session id;
 * *created 1 new, 2 reopened. OG_ERR_NOT_FOUND: no such contact on the
 * channel; OG_ERR_CONFLICT: the contact has an open session (its id in sid)
 * or the platform's window is closed (*window = 1). Sensitive words as for
 * og_outbox_reply (OG_ERR_FORBIDDEN with the terms in *json: blocked). */
og_err og_outbox_start_session(struct og_core *c, const struct og_outbox_start *s,
                               const struct og_outbox_msg *m, char **json, char *sid, size_t sidsz,
                               int *created, int *window);

/* One queued message, loaded for sending. ob points into the item. */
struct og_outbox_item {
    char *channel;                    /* owned */
    int attempts;                     /* this one included */
    struct og_outbound ob;            /* strings borrowed from j and the fields below */
    json_object *j;                   /* owned: the message JSON */
    char *thread, *ext, *reply_token; /* owned */
    struct og_attachment *atts;       /* owned array */
    char *template_json;              /* owned, or NULL */
    struct og_button *buttons;        /* owned array */
};
/* Loads mid and counts an attempt. OG_ERR_NOT_FOUND when it is gone or no
 * longer pending (ack the entry and move on). busy_ms > 0 (for entries taken
 * over with XAUTOCLAIM): OG_ERR_CONFLICT when an attempt started less than
 * busy_ms ago, i.e. a slow send still in progress elsewhere (leave it). */
og_err og_outbox_load(struct og_core *c, const char *mid, int64_t busy_ms,
                      struct og_outbox_item *it);
void og_outbox_item_free(struct og_outbox_item *it);

/* Outcomes; each acknowledges the stream entry. */
og_err og_outbox_sent(struct og_core *c, const char *mid, const char *entry, const char *pmid);
og_err og_outbox_retry(struct og_core *c, const char *mid, const char *entry, int64_t due_ms,
                       const char *code, const char *message);
og_err og_outbox_fail(struct og_core *c, const char *mid, const char *entry, const char *code,
                      const char *message);
og_err og_outbox_ack(struct og_core *c, const char *entry);
/* The connector used up the session's single-use reply token (LINE): it is
 * not handed out again, unless a newer customer message replaced it. */
og_err og_outbox_spend_token(struct og_core *c, const char *mid, const char *token);

/* Channel rate limit shared by all instances: *wait_ms 0 when a send may
 * start now (the slot is taken), else how long to wait. pause_until_ms > 0
 * instead records a platform's Retry-After for the whole channel. */
og_err og_outbox_rate(struct og_core *c, const char *channel, double per_s, int64_t pause_until_ms,
                      int64_t *wait_ms);
/* Moves due retries back into the stream; *moved how many. */
og_err og_outbox_pump(struct og_core *c, int limit, int *moved);
/* Fires due service-window timers (session.window_closed). */
og_err og_outbox_windows(struct og_core *c, int limit, int *fired);

/* core/ only: the middle of an outbound message's JSON (kind, text,
 * attachments, created_at; provider_message_id first, so the sent step
 * finds its placeholder before any user text; "flags" and
 * "sensitive_terms" when terms, a JSON array, is not NULL), as
 * outbox_reply.lua and texts.lua store it. [xfer] */
char *og_outbox_render_tail(const struct og_outbox_msg *m, const char *now_iso, const char *terms);

/* The core sink's status callback (og_core_sink): applies one platform
 * status. Unknown provider ids are acknowledged (OG_OK) and counted. */
og_err og_outbox_status(void *core, struct og_channel *ch, const struct og_status_update *s);

struct og_outbox_stats {
    atomic_ullong replies, sent, retried, failed;
    atomic_ullong statuses, status_dups, status_unknown;
};
extern struct og_outbox_stats og_outbox_stats;
#endif
