/* og_csat - satisfaction ratings (#19 part 1; core/lua/csat.lua).
 *
 * A channel's survey is channels[].csat: {"scale": 5 | 2, "question",
 * "thanks", "comment": bool, "on": "close"} (og_channel.survey). A session
 * is rated at most once: the first answer is stored, the session JSON's
 * "csat" becomes {"score","scale","comment","at"}, csat.submitted is
 * emitted and the timeline gets a csat entry; a later answer is refused
 * (OG_ERR_CONFLICT, "already_rated") and changes nothing. */
#ifndef OG_CSAT_H
#define OG_CSAT_H
#include "og_core.h"

#define OG_CSAT_COMMENT_MAX 2000 /* bytes */

/* Rates session sid on survey (scale 5 or 2): score in 1..scale, comment
 * NULL or UTF-8 text of at most OG_CSAT_COMMENT_MAX bytes (refused when the
 * survey takes none). by: the contact answering ("con_..."), or NULL.
 * *json [xfer] the stored rating. OG_ERR_INVALID (msg says why),
 * OG_ERR_NOT_FOUND, OG_ERR_CONFLICT (rated already). */
og_err og_csat_submit(struct og_core *c, const char *sid, const struct og_visitor_survey *survey,
                      int score, const char *comment, const char *by, char **json, char *msg,
                      size_t msglen);
#endif
