/* vk.h - internal declarations shared by the VK connector's files.
 *
 * The connector implements the VK API version 5.199 (configurable with
 * api_version): Callback API and Bots Long Poll in, messages.send and the
 * photos/docs upload flow out. Nothing here is exported from the shared
 * object; the only public symbol is og_connector_entry() in vk.c.
 *
 * Files:
 *   vk.c        descriptor, create/destroy, Callback handler, Bots Long Poll,
 *               the sender-profile cache (users.get)
 *   vk_parse.c  Callback / Long Poll JSON -> og_inbound (pure; fuzzed)
 *   vk_send.c   og_outbound -> messages.send (+ uploads), error mapping */
#ifndef OG_VK_H
#define OG_VK_H

#include <omnigate/connector.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define VK_TEXT_MAX 9000 /* messages.send "message" limit */
#define VK_MAX_ATTACH 10
#define VK_PROFILE_CACHE 128

/* The option block the host fills from vk_options[] (vk.c). */
struct vk_conf {
    char *access_token; /* secret: community token */
    int64_t group_id;
    char *confirmation;  /* Callback API confirmation string */
    char *secret;        /* secret: Callback API "secret" field */
    char *mode;          /* "callback" | "longpoll" */
    char *api_version;   /* "5.199" */
    char *api_base;      /* "https://api.vk.com" */
    int64_t timeout_ms;  /* per API call; long polls add their wait */
    int fetch_profiles;  /* users.get for sender names */
    int64_t poll_wait_s; /* a_check wait cap, 0..90 */
};

/* A sender's profile as users.get gives it; text fields NUL-terminated. */
struct vk_profile {
    char name[160];
    char username[64];
    char avatar[400];
};

/* Looks up a sender's profile. Returns 1 and fills *out when known. Called
 * by the parser; may block (an HTTP call) and must be thread-safe. */
typedef int (*vk_profile_fn)(void *ud, int64_t user_id, struct vk_profile *out);

struct vk_profile_slot {
    int64_t id;
    int64_t until_ms; /* valid until */
    int ok;           /* 0: a remembered failure */
    struct vk_profile p;
};

/* One channel instance. */
struct vk {
    const struct og_services *svc; /* [host] */
    void *host;                    /* [host] */
    const struct vk_conf *conf;    /* [host] */
    int longpoll;                  /* mode == "longpoll" */
    char *method_base;             /* "<api_base>/method/", owned */

    /* Bots Long Poll, touched only by the host's poll thread. The key is a
     * credential: neither it nor the a_check URL is ever logged. */
    char *lp_server, *lp_key; /* owned; NULL = ask getLongPollServer */
    char *lp_ts;              /* owned; NULL = take the server's */
    int lp_ts_loaded;

    pthread_mutex_t mu; /* wake flag and the profile cache */
    int wake;           /* poll_wakeup(): consumed by the next poll() */
    struct vk_profile_slot cache[VK_PROFILE_CACHE];
};

/* ------------------------------------------------------------ vk_parse.c */

/* What a Callback API request needs to be checked against. */
struct vk_callback_conf {
    int64_t group_id;
    const char *secret; /* NULL or "" = not checked (never in the daemon) */
    const char *confirmation;
};

/* Handles one Callback API body: "confirmation" answers the confirmation
 * string (*answer, [borrowed] from cc) when group_id matches; every other
 * event must carry the secret and our group_id, is parsed and emitted, and
 * is answered "ok". Returns OG_OK, OG_ERR_INVALID (not JSON / no type),
 * OG_ERR_FORBIDDEN (secret or group mismatch; nothing emitted) or the
 * emit error. profile may be NULL. */
og_err vk_parse_callback(const struct og_services *svc, void *host,
                         const struct vk_callback_conf *cc, const char *body, size_t len,
                         vk_profile_fn profile, void *profile_ud, const char **answer);

/* Parses one event object (Callback envelope or Long Poll update) and emits
 * what it holds: message_new as a message, message_edit as a system note;
 * other types are skipped (debug log). OG_ERR_INVALID for a malformed event. */
og_err vk_parse_event(const struct og_services *svc, void *host, const struct og_json *ev,
                      const char *raw, size_t raw_len, vk_profile_fn profile, void *profile_ud);

/* The result of one a_check answer. */
struct vk_lp_answer {
    int failed;  /* 0, or VK's "failed" code */
    char ts[64]; /* the ts to continue with ("" = none given) */
};

/* Parses an a_check answer body, emitting every update in order. On an emit
 * failure returns it and leaves out->ts empty (do not advance). Malformed
 * updates are skipped. OG_ERR_INVALID when the body is not an answer. */
og_err vk_parse_longpoll(const struct og_services *svc, void *host, const char *body, size_t len,
                         vk_profile_fn profile, void *profile_ud, struct vk_lp_answer *out);

/* ------------------------------------------------------------- vk_send.c */

og_err vk_send(void *inst, const struct og_outbound *msg, struct og_send_result *res);

/* Calls one API method by POST (application/x-www-form-urlencoded).
 * params: already encoded "a=1&b=2" or NULL; access_token and v are added.
 * On OG_OK *answer [xfer, put] is the parsed body (the value is under
 * "response"). Errors are mapped as the README says, res (may be NULL) gets
 * VK's error_code and error_msg. timeout_ms 0 = conf->timeout_ms. */
og_err vk_api(struct vk *vk, const char *method, const char *params, long timeout_ms,
              struct og_json **answer, struct og_send_result *res);

/* random_id for messages.send: the first 4 bytes of SHA-256(key) as a
 * positive int32 (never 0, which would disable VK's de-duplication). */
int32_t vk_random_id(const struct og_services *svc, const char *key);

/* Inline keyboard buttons (ABI 1.3), one a row: at most 6 rows, a label
 * of 40 characters, a payload of 255 ({"button":<id>} leaves an id 200). */
#define VK_MAX_BUTTONS 6
#define VK_BUTTON_TITLE_MAX 40
#define VK_BUTTON_ID_MAX 200

#endif
