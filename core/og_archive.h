/* og_archive - closed sessions out of Redis (retention.archive_after_days),
 * into compressed segments, with a small index in Redis
 * (core/lua/archive.lua). A segment is either
 *   - a file under one instance's data_dir/archive/, appended to, named
 *     after the UTC day its records were written ("20301231.ogs"); or
 *   - with retention.store "s3", an object of media.s3's bucket, one per
 *     archiving step (objects cannot be appended to), never changed once
 *     put: "archive/20301231-<instance id>-<n>.ogs", "s3:20301231-..." in
 *     the index; every instance reads it (one ranged GET per record).
 * Either is a sequence of records:
 *
 *   offset  size  what (integers little-endian)
 *        0     4  magic "OGA1"
 *        4     4  record format version (1)
 *        8    32  session id, NUL-padded ([A-Za-z0-9_], 1..31 bytes)
 *       40     4  length of the JSON once inflated (<= OG_ARCHIVE_MAX_JSON)
 *       44     4  length of the zlib stream that follows (<= OG_ARCHIVE_MAX_JSON)
 *       48     4  CRC-32 of that zlib stream
 *       52     4  CRC-32 of bytes 0..51
 *       56     n  the zlib stream (deflate of the record's JSON)
 *
 * The JSON is what archive.lua's claim gathers: {"v":1,"sid","cid","ch",
 * "closed_ms","session":{the session as the API shows it, status
 * "archived"},"keys":[[name, type, [values]]...]} where the keys are every
 * Redis key of the session alone (its hash, messages, timeline, follow-ups,
 * provider id keys), relative to the prefix, so that restoring writes them
 * back as they were.
 *
 * Segments are never rewritten in place, except by a contact's erasure
 * (og_contact_erase), which writes a new segment without that contact's
 * records and deletes the old file. A record whose session is live again
 * (restored, or a crash between the segment's fsync and the commit) is
 * simply not referenced by the index: superseded. An object a crash left
 * unindexed (between its PUT and the commit) is an orphan: noted in Redis
 * before the PUT, deleted by a later step an hour on. Whole segments are
 * deleted once every session in them was closed more than
 * retention.delete_after_days ago. */
#ifndef OG_ARCHIVE_H
#define OG_ARCHIVE_H
#include "og_core.h"
#include "og_sessions.h"

#include <stddef.h>
#include <stdint.h>

#define OG_ARCHIVE_HDR 56
#define OG_ARCHIVE_MAX_JSON (64u << 20)

/* ------------------------------------------------- records (pure, fuzzed) */

/* One record for session sid (1..31 of [A-Za-z0-9_]) holding json[0..len):
 * *out [xfer, free], *outlen its size. OG_ERR_INVALID for a bad sid or a
 * JSON past OG_ARCHIVE_MAX_JSON. */
og_err og_archive_record_encode(const char *sid, const char *json, size_t len, unsigned char **out,
                                size_t *outlen);
/* Reads the record at the start of buf[0..len): OG_OK with sid (NUL-
 * terminated), *json [xfer, free] (NUL-terminated, *jsonlen bytes) and
 * *used its total length; OG_ERR_INVALID when buf does not start with a
 * whole, intact record (bad magic or version, a length past the bounds or
 * past len, a CRC mismatch, a stream that does not inflate to exactly the
 * stated length); nothing is allocated then. */
og_err og_archive_record_decode(const unsigned char *buf, size_t len, char sid[32], char **json,
                                size_t *jsonlen, size_t *used);
/* Walks a segment's bytes: calls fn for each intact record (offset, its
 * length, sid, json [borrowed]); garbage between records (a write cut
 * short by a crash) is skipped up to the next record that decodes. fn
 * returns non-zero to stop. Returns the records seen. */
size_t og_archive_scan(const unsigned char *buf, size_t len,
                       int (*fn)(void *ud, size_t off, size_t rlen, const char *sid,
                                 const char *json, size_t jsonlen),
                       void *ud);

/* ------------------------------------------------------------- the core */

struct og_media_s3;
struct og_archive_opts {
    const char *dir; /* data_dir/archive; NULL: no archive */
    /* retention.store "s3": the shared store new segments go to, one
     * object per step (og_media_s3.h) [borrowed: outlives the core]; NULL:
     * files under dir. Either way the other kind's segments named by the
     * index are read (files from dir, objects when set) */
    struct og_media_s3 *s3;
    int64_t after_ms;        /* closed this long ago: archived; 0 = never */
    int64_t delete_after_ms; /* closed this long ago: deleted; 0 = never */
    int batch;               /* sessions per step, default 100 */
};
/* Sets up the core's archive (og_core_new calls it with the core's
 * options). The directory is created on first use. */
void og_archive_configure(struct og_core *c, const struct og_archive_opts *o);
/* Sets the object store after the core exists (the daemon opens it after
 * --check, before its workers start): as og_archive_opts.s3. */
void og_archive_use_s3(struct og_core *c, struct og_media_s3 *s3);

struct og_archive_pass {
    int archived;   /* sessions moved out of Redis */
    int superseded; /* records written whose session stayed live */
    int deleted;    /* sessions deleted with their segments */
    int segments_deleted;
    int orphans; /* objects of crashed steps deleted (retention.store "s3") */
    int more;    /* sessions closed before the archive are still being looked for */
};
/* One bounded step of the housekeeping worker: archives up to batch due
 * sessions, then deletes the segments past delete_after. Safe with several
 * instances on one Redis (claims are leased), and across crashes (see the
 * top). OG_OK with nothing to do when the archive is off. */
og_err og_archive_step(struct og_core *c, struct og_archive_pass *p);

/* Reads of an archived session (og_sessions.c falls back to these when the
 * session is not live), with the same shapes and access rule as the live
 * ones: OG_ERR_NOT_FOUND when it is not archived or not visible to v;
 * OG_ERR_UNAVAILABLE when its segment cannot be read here. [xfer] */
og_err og_archive_session_get(struct og_core *c, const struct og_viewer *v, const char *sid,
                              char **json);
og_err og_archive_messages(struct og_core *c, const struct og_viewer *v, const char *sid,
                           const char *cursor, int limit, char **json);
og_err og_archive_timeline(struct og_core *c, const struct og_viewer *v, const char *sid,
                           const char *cursor, int limit, char **json);
/* The Conversations export's 17 fields of an archived session (as
 * stats.lua's "conv" gives a live one's): f[i] [borrowed from *hold, which
 * the caller frees with json_object_put]. OG_ERR_NOT_FOUND when it is not
 * archived. */
og_err og_archive_conv_row(struct og_core *c, const char *sid, const char *f[17],
                           struct json_object **hold);

/* The right to erasure: deletes the contact and all its sessions, live and
 * archived (index entries, keys, timers, queues, uploads, read markers),
 * the events in the stream that carry them, its web chat sign-in tokens,
 * the files of their attachments and uploads in media (the media store,
 * og_media.h; NULL = none), and rewrites the archive's segments without its
 * records (the old files deleted). *sessions: how many were erased.
 * OG_ERR_NOT_FOUND when there is no such contact. A crash half-way leaves
 * the rest to the next housekeeping step (segments) or to calling it again
 * (Redis). */
struct og_media_store;
og_err og_archive_erase_contact(struct og_core *c, const char *cid, struct og_media_store *media,
                                int *sessions);

/* Calls fn for every archived session's record (sid, its JSON [borrowed]),
 * in no order, until fn returns an error; *n counts the calls. Records that
 * cannot be read here are skipped with an error in the log. */
og_err og_archive_each(struct og_core *c,
                       og_err (*fn)(void *ud, const char *sid, const char *json, size_t len),
                       void *ud, long *n);

/* Brings an archived session back into Redis as it was (status closed or
 * archived; the caller reopens it). OG_OK also when it is live already;
 * OG_ERR_NOT_FOUND when it is neither. */
og_err og_archive_restore(struct og_core *c, const char *sid);
#endif
