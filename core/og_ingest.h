/* og_ingest - the common case of ingest in C: a customer's further message
 * in a conversation that goes on (its session open, its contact's profile
 * unchanged) stored with plain commands, reads pipelined under WATCH and
 * the writes in one MULTI/EXEC, instead of by ingest.lua in Redis's one
 * thread (#22: the script cost Redis ~2.8x the same commands sent plain).
 *
 * It is the front of the ingest batch (og_batch.h): it takes the calls it
 * can, and leaves to ingest.lua every other one: a new thread, a reopen, a
 * rating, a profile change, sensitive words, a reply to a message, a group
 * thread, a duplicate, an idle or held session, a session in the archive,
 * and every call of a batch whose EXEC found a watched key changed (the
 * script then runs on the state as it is). What it writes and emits is what
 * ingest.lua would, byte for byte: og-int-ingest-c runs one conversation
 * through both and compares every key and every event. For core/ only. */
#ifndef OG_INGEST_H
#define OG_INGEST_H
#include "og_batch.h"

#include <pthread.h>
#include <stdint.h>

/* The arguments of one message, in ingest.lua's order (its NF). */
enum og_ingest_arg {
    OG_IN_CH,
    OG_IN_CONNECTOR,
    OG_IN_ROUTING,
    OG_IN_DEDUP,
    OG_IN_NOW_MS,
    OG_IN_NOW_ISO,
    OG_IN_DEDUP_TTL,
    OG_IN_EXT,
    OG_IN_THREAD,
    OG_IN_NAME,
    OG_IN_USERNAME,
    OG_IN_AVATAR,
    OG_IN_PHONE,
    OG_IN_EMAIL,
    OG_IN_NEW_CID,
    OG_IN_NEW_SID,
    OG_IN_MID,
    OG_IN_EID0,
    OG_IN_EID1,
    OG_IN_EID2,
    OG_IN_EID3,
    OG_IN_MTAIL,
    OG_IN_PMID,
    OG_IN_REPLY_PMID,
    OG_IN_REPLY_TOKEN,
    OG_IN_RAW,
    OG_IN_WINDOW_MS,
    OG_IN_NRT,
    OG_IN_TERMS,
    OG_IN_ANSWER,
    OG_IN_RAW_TTL,
    OG_IN_MPACK,
    OG_IN__N
};

/* A thread's session and contact as the front last stored a message of
 * it: only a hint, checked under WATCH (the thread's bucket must name the
 * session, the session the contact), so a stale one, or another thread's
 * in its slot, sends one message to the script and is dropped. With it a
 * batch costs two round trips instead of four. */
struct og_ingest_hint {
    uint64_t h; /* a hash of channel and thread; 0: empty */
    char sid[40], cid[40];
};

/* The front's state: the key prefix ("{og}") [borrowed]; its counters
 * (/metrics): messages it stored, and batches whose EXEC found a watched
 * key changed (their messages went to the script); the hints, a
 * direct-mapped table made at the first store [owned]. */
struct og_ingest_front {
    const char *tag;
    _Atomic unsigned long long stored, conflicts;
    pthread_mutex_t hints_mu;
    struct og_ingest_hint *hints;
    /* the keys every batch writes, under tag, made once [owned] */
    char *k_events, *k_texts, *k_pending, *k_csat, *k_window, *k_awaiting, *k_active;
};
void og_ingest_front_init(struct og_ingest_front *f, const char *tag);
void og_ingest_front_fini(struct og_ingest_front *f);

/* An og_batch_front_fn; ud is a struct og_ingest_front. */
void og_ingest_front(void *ud, struct og_redis *r, struct og_batch_item *items, int n);
#endif
