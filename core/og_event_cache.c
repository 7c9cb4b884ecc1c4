/* og_event_cache - see og_event_cache.h. A chained hash table (a fixed
 * number of buckets: the entry bound keeps chains short) and a list in
 * insertion order for dropping the oldest entry, under one mutex. */
#include "og_event_cache.h"
#include "og_util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 65536 /* a power of two */

struct entry {
    struct entry *hnext;         /* bucket chain */
    struct entry *older, *newer; /* insertion order */
    uint64_t hash;
    struct og_event_body *body; /* one reference */
    char id[];
};

struct og_event_body *og_event_body_new(const char *data, size_t len)
{
    struct og_event_body *b = og_malloc(sizeof *b + len + 1);
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->data, data, len);
    b->data[len] = 0;
    return b;
}

void og_event_body_unref(struct og_event_body *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

struct og_event_cache {
    pthread_mutex_t mu;
    struct entry **buckets; /* [BUCKETS] */
    struct entry *oldest, *newest;
    size_t bytes, count, max_bytes, max_entries;
};

static uint64_t hash_of(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static size_t cost(const struct entry *e)
{
    return sizeof *e + strlen(e->id) + 1 + sizeof *e->body + e->body->len + 1;
}

/* The link that points at the entry for id (or at the NULL ending its
 * chain). */
static struct entry **find(struct og_event_cache *c, const char *id, uint64_t h)
{
    struct entry **p = &c->buckets[h & (BUCKETS - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->id, id) != 0))
        p = &(*p)->hnext;
    return p;
}

static void unlink_entry(struct og_event_cache *c, struct entry **link)
{
    struct entry *e = *link;
    *link = e->hnext;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    c->bytes -= cost(e);
    c->count--;
    og_event_body_unref(e->body);
    free(e);
}

struct og_event_cache *og_event_cache_new(size_t max_bytes, size_t max_entries)
{
    struct og_event_cache *c = og_calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->buckets = og_calloc(BUCKETS, sizeof *c->buckets);
    c->max_bytes = max_bytes;
    c->max_entries = max_entries;
    return c;
}

void og_event_cache_free(struct og_event_cache *c)
{
    if (!c)
        return;
    while (c->oldest)
        unlink_entry(c, find(c, c->oldest->id, c->oldest->hash));
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void og_event_cache_put(struct og_event_cache *c, const char *id, const char *body, size_t len)
{
    size_t idlen = strlen(id);
    if (sizeof(struct entry) + idlen + 1 + sizeof(struct og_event_body) + len + 1 > c->max_bytes)
        return; /* larger than the whole cache */
    struct entry *e = og_calloc(1, sizeof *e + idlen + 1);
    memcpy(e->id, id, idlen + 1);
    e->hash = hash_of(id);
    e->body = og_event_body_new(body, len);
    pthread_mutex_lock(&c->mu);
    struct entry **link = find(c, id, e->hash);
    if (*link) {
        pthread_mutex_unlock(&c->mu);
        og_event_body_unref(e->body);
        free(e);
        return;
    }
    *link = e;
    e->older = c->newest;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->bytes += cost(e);
    c->count++;
    while (c->bytes > c->max_bytes || c->count > c->max_entries)
        unlink_entry(c, find(c, c->oldest->id, c->oldest->hash));
    pthread_mutex_unlock(&c->mu);
}

struct og_event_body *og_event_cache_get(struct og_event_cache *c, const char *id)
{
    struct og_event_body *b = NULL;
    pthread_mutex_lock(&c->mu);
    struct entry *e = *find(c, id, hash_of(id));
    if (e) {
        b = e->body;
        atomic_fetch_add(&b->refs, 1);
    }
    pthread_mutex_unlock(&c->mu);
    return b;
}

void og_event_cache_del(struct og_event_cache *c, const char *id)
{
    pthread_mutex_lock(&c->mu);
    struct entry **link = find(c, id, hash_of(id));
    if (*link)
        unlink_entry(c, link);
    pthread_mutex_unlock(&c->mu);
}

size_t og_event_cache_count(struct og_event_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}
