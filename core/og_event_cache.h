/* og_event_cache - the bodies of the events the webhook dispatchers read
 * from the stream, by stream entry id, so that claiming a queued event does
 * not move its body through Redis again (core/og_webhooks.h). A cache, not a
 * store: an event that is not held (read by another instance, before a
 * restart, or dropped to stay within the bound) is read from the stream.
 * Bounded in bytes and entries; the oldest entry goes first. Thread-safe. */
#ifndef OG_EVENT_CACHE_H
#define OG_EVENT_CACHE_H
#include <stdatomic.h>
#include <stddef.h>

/* An event body, shared by the cache and the deliveries sending it (so a
 * claim takes a reference instead of a copy). Immutable once made. */
struct og_event_body {
    atomic_int refs;
    size_t len;
    char data[]; /* NUL-terminated */
};
/* A body with one reference. [xfer, og_event_body_unref] */
struct og_event_body *og_event_body_new(const char *data, size_t len);
void og_event_body_unref(struct og_event_body *b);

struct og_event_cache;

/* [xfer, og_event_cache_free] */
struct og_event_cache *og_event_cache_new(size_t max_bytes, size_t max_entries);
void og_event_cache_free(struct og_event_cache *c);
/* Stores a copy of body under id; an id already held is kept as it is. */
void og_event_cache_put(struct og_event_cache *c, const char *id, const char *body, size_t len);
/* A reference to the body of id [xfer, og_event_body_unref], or NULL when
 * not held. */
struct og_event_body *og_event_cache_get(struct og_event_cache *c, const char *id);
void og_event_cache_del(struct og_event_cache *c, const char *id);
/* Entries held (for tests and metrics). */
size_t og_event_cache_count(struct og_event_cache *c);

#endif
