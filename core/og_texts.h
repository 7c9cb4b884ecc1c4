/* og_texts - automatic texts: what omnigate says to a customer by itself,
 * per channel (the config's channels[].texts, all optional):
 *   greeting   when a customer's message creates a session;
 *   queue      when a session the customer created or reopened still waits
 *              for an agent about a second later (routing had its chance);
 *              {{queue.position}} is its place in its routing policy's queue
 *              (real-time channels only: on an e-mail-like channel the
 *              gateway refuses it, a position would be stale when read);
 *   assigned   when an agent is given the session (routing, a manager, a
 *              take, a transfer, an auto-forward): "{{agent.name}} will
 *              help you";
 *   customer_timeout  after_s after an agent's message the customer has
 *              not answered (the session is "awaiting"): the prompt is sent,
 *              session.timeout_prompted emitted, and, with auto_close, the
 *              session closes after_s later with reason customer_timeout
 *              unless the customer writes (a new agent reply starts over);
 *   closing    when the session closes (by anyone, auto-close included);
 *   csat, csat_thanks  the satisfaction survey as a message and, once the
 *              customer's next message answered it, the thanks (og_csat.h).
 *
 * Texts are templates (og_template.h) with {{contact.name}},
 * {{contact.email}}, {{contact.phone}}, {{agent.name}}, {{channel}} and
 * {{session.id}}; queue also {{queue.position}}.
 *
 * How they are sent, so that each goes out once across any number of
 * instances and survives restarts: the script that changes the session
 * (ingest, routing, the timers) queues the text as a timer entry in Redis
 * (the prelude's auto_text, P:timers:texts, due now, or in a second for the
 * queue text); the routing worker's pass (og_routing_step) calls
 * og_texts_step, which claims due entries atomically for a lease
 * (texts.lua), renders each in C with the channel's template, and stores it
 * in one script that removes the entry first: the instance whose removal
 * succeeds stores the message, any other finds it gone. A text whose moment
 * has passed when it is due (the session was assigned before its queue
 * text, reopened before its closing text...) is dropped. The message is a
 * system message ("sender":{"type":"system"}, "auto_text":"<kind>") in the
 * history, sent through the send queue (og_outbox.h) like an agent's, and no
 * agent's reply: first response time, the status, auto-forward, the
 * customer timeout and chat goals ignore it. The session timeline gets an
 * "auto_text" entry.
 *
 * The customer timeout's and auto-close's durations are read by the scripts
 * from P:texts, which the first routing pass of an instance writes from its
 * config (every instance of a deployment runs the same config; the last one
 * started wins). */
#ifndef OG_TEXTS_H
#define OG_TEXTS_H
#include "og_core.h"

#include <stddef.h>
#include <stdint.h>

/* One channel's texts. Every pointer [borrowed] for og_core_new, which
 * copies them. A NULL or "" text is not sent. */
struct og_texts_conf {
    const char *channel; /* the channel's id */
    const char *greeting, *queue, *assigned, *closing;
    const char *timeout_text;   /* customer_timeout.text */
    int64_t timeout_after_s;    /* customer_timeout.after_s; 0 = no prompt */
    int64_t auto_close_after_s; /* auto_close.after_s; 0 = never (needs the prompt) */
    /* The satisfaction survey sent as a message (og_csat.h; channels[].csat
     * on a channel without the web chat widget, or offered after silence):
     * scale 5 or 2 (0 = none), the question (og_csat_survey_text adds the
     * scale) and thanks, sent as they are (no placeholders); csat_on
     * "close" or "silence". */
    int csat_scale;
    const char *csat_question, *csat_thanks, *csat_on;
    int64_t csat_silence_s; /* csat.silence_s with csat_on "silence" */
};

/* The placeholders a text may use (NULL-terminated); the queue text's add
 * "queue.position". */
extern const char *const og_texts_names[];
extern const char *const og_texts_queue_names[];

/* 1 when a queue text can go to a non-real-time (e-mail-like) channel: it
 * does not use {{queue.position}} (NULL: no queue text). */
int og_texts_realtime_ok(const char *queue_text);

/* Sends up to max due automatic texts (the routing worker calls it through
 * og_routing_step). On an instance's first call it writes the config's
 * texts to Redis (P:texts), retried until Redis takes it. Returns how many
 * were sent. */
int og_texts_step(struct og_core *c, int max);

/* The survey message of channel (og_csat.h) carries reply buttons, one a
 * score (ids OG_CSAT_BUTTON_PREFIX + score), because its connector has
 * enough of them (ABI 1.3 max_buttons >= the scale). Called for each such
 * channel once its connector is loaded, before the workers start. */
void og_texts_set_survey_buttons(struct og_core *c, const char *channel);

/* Writes the config's texts to Redis now (after og_core_reload, so that
 * the next ingest already sees them); og_texts_step does it otherwise. */
og_err og_texts_sync(struct og_core *c);

/* core/ only: made from og_core_opts, freed with the core. */
struct og_texts;
struct og_texts *og_texts_new(const struct og_texts_conf *confs, size_t n);
void og_texts_free(struct og_texts *t);
#endif
