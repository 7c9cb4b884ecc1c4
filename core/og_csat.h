/* og_csat - satisfaction ratings (#19 part 1; core/lua/csat.lua).
 *
 * A channel's survey is channels[].csat: {"scale": 5 | 2, "question",
 * "thanks", "comment": bool, "on": "close" | "silence", "silence_s": N}
 * (og_channel.survey). A session is rated at most once: the first answer is
 * stored, the session JSON's "csat" becomes {"score","scale","comment",
 * "at"}, csat.submitted is emitted and the timeline gets a csat entry; a
 * later answer is refused (OG_ERR_CONFLICT, "already_rated") and changes
 * nothing.
 *
 * Where it is offered:
 *   - the web chat widget, when the session closes (og_webchat.h);
 *   - as a message everywhere else, and in the web chat too with "on":
 *     "silence": an automatic text (og_texts.h, kinds "csat" and
 *     "csat_thanks") queued by routing.lua when the session closes, or by
 *     its timers after silence_s without a message since an agent's reply
 *     (P:timers:csat, armed by outbox_reply.lua, pushed back by ingest.lua),
 *     once per session (the prelude's csat_offer); with one reply button a
 *     score where the channel's connector has enough of them (ABI 1.3,
 *     og_texts_set_survey_buttons). The customer's next message is the
 *     answer when it is a tap on those buttons (og_csat_button_score) or
 *     og_csat_parse_answer reads a score in it (ingest.lua, session field
 *     csat_ask);
 *   - in follow-up e-mails, as a signed link to /csat/{token} (below; the
 *     page is gateway/og_csat_page.c). */
#ifndef OG_CSAT_H
#define OG_CSAT_H
#include "og_core.h"

#include <stddef.h>
#include <stdint.h>

#define OG_CSAT_COMMENT_MAX 2000 /* bytes */

/* Rates session sid on survey (scale 5 or 2): score in 1..scale, comment
 * NULL or UTF-8 text of at most OG_CSAT_COMMENT_MAX bytes (refused when the
 * survey takes none). by: the contact answering ("con_..."), or NULL.
 * *json [xfer] the stored rating. OG_ERR_INVALID (msg says why),
 * OG_ERR_NOT_FOUND, OG_ERR_CONFLICT (rated already). */
og_err og_csat_submit(struct og_core *c, const char *sid, const struct og_visitor_survey *survey,
                      int score, const char *comment, const char *by, char **json, char *msg,
                      size_t msglen);

/* What the public survey page needs of session sid: its channel's id
 * (into channel) and whether it was rated. OG_ERR_NOT_FOUND. */
og_err og_csat_state(struct og_core *c, const char *sid, char *channel, size_t chsz, int *rated);

/* The customer's answer to a survey sent as a message (a messenger):
 * "4", "4/5", "4 / 5", "4." or "4!", a keycap "4️⃣", a string of 1-5 stars
 * ("★★★★", "⭐⭐⭐⭐"; scale 5), or one thumb 👍 (2) / 👎 (1) with any skin
 * tone (scale 2); surrounding white space is allowed, nothing else. Returns
 * the score in 1..scale, or 0 when text is no answer on that scale (an
 * ordinary message). text need not be NUL-terminated. */
int og_csat_parse_answer(const char *text, size_t len, int scale);

/* The survey's reply buttons (ABI 1.3), where the channel has enough of
 * them: ids "csat:1".."csat:<scale>" (OG_CSAT_BUTTON_PREFIX + the score);
 * a tap comes back as a message with that payload, which
 * og_csat_button_score reads: the score, or 0 when payload is no survey
 * button on that scale. */
#define OG_CSAT_BUTTON_PREFIX "csat:"
int og_csat_button_score(const char *payload, int scale);
/* The survey's text above its buttons: the question, and on scale 5 "1 =
 * poor, 5 = excellent." on a line of its own. [xfer] */
char *og_csat_survey_tap_text(int scale, const char *question);

/* The survey as a message on a channel without buttons (numbered text): question, a new line, and
 * "Reply with a number from 1 (poor) to 5 (excellent)." or "Reply 👍 or 👎.". [xfer] */
char *og_csat_survey_text(int scale, const char *question);

/* Signed survey links (the follow-up e-mail's {{survey_url}}):
 *   <public_url>/csat/<session id>.<expiry, Unix s>.<mac>
 * mac = the first 16 bytes, hex, of HMAC-SHA256(key, "csat\n<sid>\n<exp>")
 * and key = HMAC-SHA256(api.admin_token, "omnigate csat link v1")
 * (og_csat_key): no new secret to configure; changing the admin token
 * voids the links already sent. A token names one session, expires after
 * OG_CSAT_LINK_TTL_S, and is used once: the session takes one rating. */
#define OG_CSAT_LINK_TTL_S (30 * 86400)
#define OG_CSAT_TOKEN_MAX 128 /* bytes of a token, NUL included */
void og_csat_key(const char *secret, unsigned char key[32]);
/* Writes the token for sid expiring at exp_s into out; its length, or 0
 * when out is too small or sid is no session id. */
size_t og_csat_token_make(const unsigned char key[32], const char *sid, int64_t exp_s, char *out,
                          size_t outsz);
/* Checks a token at now_s: OG_OK and sid (>= 48 bytes) filled;
 * OG_ERR_SIGNATURE when malformed or forged (*expired 0) or when its time
 * passed (*expired 1; checked after the signature, so a forged token is
 * never called expired). tok need not be NUL-terminated. */
og_err og_csat_token_check(const unsigned char key[32], const char *tok, size_t len, int64_t now_s,
                           char *sid, size_t sidsz, int *expired);
/* The answer a survey page posts: JSON {"score": n, "comment": "..." |
 * null} (json = 1) or a form "score=n&comment=..." (percent-encoded, '+' a
 * space). *score gets n (1..9; the survey's scale is checked by
 * og_csat_submit), *comment [xfer] the comment or NULL (an empty one is
 * none). OG_ERR_INVALID with msg saying why for anything else (another
 * key, a repeated one, bad UTF-8, a comment over OG_CSAT_COMMENT_MAX). */
og_err og_csat_parse_body(const char *body, size_t len, int json, int *score, char **comment,
                          char *msg, size_t msglen);

/* public_url + "/csat/" + a token for sid expiring OG_CSAT_LINK_TTL_S from
 * now; "" without a public_url or with a bad sid. [xfer] */
char *og_csat_link(const unsigned char key[32], const char *public_url, const char *sid);
#endif
