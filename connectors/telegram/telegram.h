/* telegram.h - internal declarations shared by the Telegram connector's files.
 *
 * The connector implements the Telegram Bot API (Bot API 7.x shapes: Update,
 * Message, reply_parameters; see connectors/telegram/README.md). Nothing here
 * is exported from the shared object: the only public symbol is
 * og_connector_entry() at the bottom of telegram.c.
 *
 * Files:
 *   telegram.c        descriptor, create/destroy, webhook handler, polling
 *   telegram_parse.c  Update JSON -> og_inbound (pure; fuzzed by fuzz_telegram)
 *   telegram_send.c   og_outbound -> Bot API calls, error mapping */
#ifndef OG_TELEGRAM_H
#define OG_TELEGRAM_H

#include <omnigate/connector.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Telegram counts message length in UTF-16 code units. */
#define TG_TEXT_MAX 4096
#define TG_CAPTION_MAX 1024
/* Inline keyboard buttons (ABI 1.3): a reply markup holds at most 100;
 * callback_data is 1-64 bytes; a button's text has no documented bound,
 * omnigate keeps it to 64 characters (a phone shows far fewer). */
#define TG_MAX_BUTTONS 100
#define TG_BUTTON_TITLE_MAX 64
#define TG_BUTTON_ID_MAX 64

/* The option block the host fills from telegram_options[] (telegram.c). */
struct telegram_conf {
    char *bot_token;     /* secret: it is part of every API URL */
    char *secret_token;  /* secret: X-Telegram-Bot-Api-Secret-Token */
    char *mode;          /* "webhook" | "polling" */
    char *api_base;      /* "https://api.telegram.org" */
    int64_t timeout_ms;  /* per API call (send); long polls add their wait */
    int64_t poll_wait_s; /* getUpdates timeout cap, 0..50 */
};

/* One channel instance. */
struct telegram {
    const struct og_services *svc;    /* [host] */
    void *host;                       /* [host] handle for svc calls */
    const struct telegram_conf *conf; /* [host] */
    int polling;                      /* mode == "polling" */
    /* api_base + "/bot" + token: contains the token, so it and every URL
     * built from it are never logged. Owned. */
    char *api;

    /* Polling state, touched only by the host's poll thread. */
    int64_t offset; /* next getUpdates offset; 0 = none yet */
    int offset_loaded;

    /* poll_wakeup(): a one-shot flag the next poll() consumes. */
    pthread_mutex_t mu;
    int wake;
};

/* ------------------------------------------------------- telegram_parse.c */

/* Parses one webhook body (one Update object) and emits what it contains
 * through svc->emit_message(host, ...). raw is the body itself.
 * Returns OG_OK when the update was emitted or deliberately skipped (kinds
 * we do not handle, logged at debug), OG_ERR_INVALID when the body is not an
 * Update, or the error emit returned. */
og_err telegram_parse_update_body(const struct og_services *svc, void *host, const char *body,
                                  size_t len);

/* Same for an Update already parsed (getUpdates). raw/raw_len are the text
 * stored as the item's raw event. */
og_err telegram_parse_update(const struct og_services *svc, void *host, const struct og_json *upd,
                             const char *raw, size_t raw_len);

/* Parses a getUpdates answer body ({"ok":true,"result":[Update...]}) and
 * emits each update in order. *next_offset starts as the current offset and
 * is advanced past every update handled (emitted or skipped as malformed).
 * On an emit failure it stops, leaving *next_offset at the failed update, and
 * returns that error. OG_ERR_INVALID when the body is not such an answer. */
og_err telegram_parse_updates(const struct og_services *svc, void *host, const char *body,
                              size_t len, int64_t *next_offset);

/* -------------------------------------------------------- telegram_send.c */

og_err telegram_send(void *inst, const struct og_outbound *msg, struct og_send_result *res);

/* Calls one Bot API method with a JSON body. On OG_OK *result [xfer, put]
 * is the parsed answer's "result" holder (the whole answer; use
 * json->get(ans, "result")). On failure res (may be NULL) gets the
 * platform's error code and description, and the og_err is mapped as the
 * README says. timeout_ms 0 = conf->timeout_ms. */
og_err telegram_call(struct telegram *tg, const char *method, struct og_json *body, long timeout_ms,
                     struct og_json **answer, struct og_send_result *res);

#endif
