/* og_compact - a customer's message as Redis stores it (#22): field m of its
 * hash is "<sender contact id>\t<sender name JSON>\t<reply_to id>\t<tail>",
 * where tail is the message JSON's middle part (og_core.c renders it: kind
 * .. created_at, flags, payload) with each known key "<key>": replaced by
 * one control byte. JSON has no raw control bytes, and a key is coded only
 * after { or , outside a string (inside one every " is escaped), so the
 * coding is exact. The keys are og_compact.c's list and MSG_KEYS in
 * core/lua/prelude.lua, which decodes: the two lists stay in step. */
#ifndef OG_COMPACT_H
#define OG_COMPACT_H
#include "og_util.h"

#include <stddef.h>

/* Appends tail (JSON members without braces, as og_core.c renders them)
 * coded to out. */
void og_compact_tail(struct og_buf *out, const char *tail, size_t len);
/* Appends coded (a tail as og_compact_tail wrote it) decoded to out. */
void og_compact_untail(struct og_buf *out, const char *coded, size_t len);
/* The tail of field m as a JSON object [xfer, free]: all of the message
 * but its id, session, direction, sender and reply_to. NULL when m is not
 * a compact message. */
char *og_compact_json(const char *m, size_t len);

#endif
