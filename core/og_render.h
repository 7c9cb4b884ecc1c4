/* og_render - a session's and a contact's JSON rendered from their Redis
 * hashes in C, byte for byte as core/lua/prelude.lua's session_render and
 * contact_fmt render them, so that reading them (the session list) costs
 * Redis's one thread plain reads instead of a script's string building (#22).
 * The scripts keep rendering what they emit; og-int-render asserts the two
 * agree on every kind of session, and that og_render_js escapes exactly as
 * Redis's cjson.encode. For core/ only. */
#ifndef OG_RENDER_H
#define OG_RENDER_H
#include "og_util.h"

#include <hiredis/hiredis.h>

/* The contact fields in the order og_render_contact takes them (an HMGET
 * of P:con:<id>), as prelude.lua's CON_FIELDS. */
#define OG_RENDER_CON_NFIELDS 10
extern const char *const og_render_con_fields[OG_RENDER_CON_NFIELDS];

/* The value of field in h, a flat array of names and values as HGETALL
 * returns it; NULL when absent. [borrowed from h] */
const redisReply *og_render_field(const redisReply *h, const char *field);

/* s (n bytes) as cjson.encode writes a string; null when n is 0 (prelude.lua
 * js: an empty value is null). */
void og_render_js(struct og_buf *b, const char *s, size_t n);

/* A contact from an HMGET of og_render_con_fields: null when it has no id. */
void og_render_contact(struct og_buf *b, const redisReply *v);

/* A session from its hash h (HGETALL), its contact's JSON cj (NUL-ended;
 * og_render_contact) and its channel's goal (an HMGET of P:goal:<channel>
 * event days; NULL or nils when the channel has none). */
void og_render_session(struct og_buf *b, const redisReply *h, const char *cj,
                       const redisReply *goal);
/* The fields og_render_message takes, in this order (an HMGET of
 * P:msg:<id>), and the message's JSON from them and its id, as prelude.lua
 * message_json writes it: a customer's compact one (m) decoded
 * (og_compact.h), any other's stored JSON (j) with its status and error.
 * 0, or -1 (nothing appended) when the hash has neither. */
#define OG_RENDER_MSG_NFIELDS 5
extern const char *const og_render_msg_fields[OG_RENDER_MSG_NFIELDS];
int og_render_message(struct og_buf *b, const char *mid, const redisReply *v);
#endif
