/* og_keys - the C half of the key layout in core/lua/prelude.lua: the few
 * keys core C code names itself (everything else is touched only by the
 * scripts). Every key is "<tag>:<name>", tag being the configured prefix
 * as a hash tag ("{og}"). For core/ only. */
#ifndef OG_KEYS_H
#define OG_KEYS_H

#define OG_KEY_EVENTS "%s:events"         /* stream: every event (prelude.lua emit) */
#define OG_KEY_OUTBOX "%s:outbox"         /* stream: outbound sends, group "senders" */
#define OG_KEY_STATE "%s:state:%s"        /* hash: a channel's connector state */
#define OG_KEY_QUEUE "%s:queue:%s"        /* zset: a routing policy's waiting sessions */
#define OG_KEY_AUTH_SES "%s:auth:ses:%s"  /* hash: a cookie session (auth.lua) */
#define OG_KEY_MSG "%s:msg:%s"            /* hash: a message (j its JSON, sid; ingest.lua) */
#define OG_KEY_SES "%s:ses:%s"            /* hash: a session (channel, thread_id...) */
#define OG_KEY_RAW "%s:raw:%s"            /* string: an inbound message's raw payload (store_raw) */
#define OG_KEY_ST_PENDING "%s:st:pending" /* list: statistics facts to apply (og_stats.h) */
#endif
