/* og_sentinel - see og_sentinel.h. */
#include "og_sentinel.h"
#include "og_log.h"
#include "og_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------- parsers */

/* A port of 1-5 digits, 1..65535; -1 otherwise. */
static int port_of(const char *s, size_t n)
{
    if (n < 1 || n > 5)
        return -1;
    int p = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        p = p * 10 + (s[i] - '0');
    }
    return p >= 1 && p <= 65535 ? p : -1;
}

/* A host is a name or an address: no spaces, controls, '/', '@' or brackets
 * inside, so it can never smuggle anything into a log line or a URL. */
static int host_ok(const char *h, size_t n)
{
    if (n == 0 || n >= sizeof(((struct og_sentinel_addr *)0)->host))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (ch <= ' ' || ch >= 0x7f || strchr("/@[]\"\\", ch))
            return 0;
    }
    return 1;
}

static int set_addr(struct og_sentinel_addr *out, const char *h, size_t hn, const char *p,
                    size_t pn)
{
    int port = port_of(p, pn);
    if (port < 0 || !host_ok(h, hn))
        return -1;
    memcpy(out->host, h, hn);
    out->host[hn] = 0;
    out->port = port;
    return 0;
}

int og_sentinel_parse_hostport(const char *s, struct og_sentinel_addr *out)
{
    if (!s)
        return -1;
    size_t n = strlen(s);
    if (n && s[0] == '[') { /* [v6]:port */
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        return set_addr(out, s + 1, (size_t)(close - s - 1), close + 2, strlen(close + 2));
    }
    const char *colon = strrchr(s, ':');
    if (!colon || memchr(s, ':', (size_t)(colon - s)))
        return -1; /* none, or a bare IPv6 address without brackets */
    return set_addr(out, s, (size_t)(colon - s), colon + 1, strlen(colon + 1));
}

og_err og_sentinel_parse_master(const redisReply *r, struct og_sentinel_addr *out)
{
    if (!r)
        return OG_ERR_INVALID;
    if (r->type == REDIS_REPLY_NIL)
        return OG_ERR_NOT_FOUND;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return OG_ERR_INVALID;
    const redisReply *h = r->element[0], *p = r->element[1];
    if (!h || !p || h->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_STRING)
        return OG_ERR_INVALID;
    if (memchr(h->str, 0, h->len))
        return OG_ERR_INVALID;
    return set_addr(out, h->str, h->len, p->str, p->len) == 0 ? OG_OK : OG_ERR_INVALID;
}

int og_sentinel_parse_role(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !r->element[0])
        return -1;
    const redisReply *k = r->element[0];
    if (k->type != REDIS_REPLY_STRING && k->type != REDIS_REPLY_STATUS)
        return -1;
    if (k->len == 6 && memcmp(k->str, "master", 6) == 0)
        return 1;
    if ((k->len == 5 && memcmp(k->str, "slave", 5) == 0) ||
        (k->len == 8 && memcmp(k->str, "sentinel", 8) == 0))
        return 0;
    return -1;
}

int og_sentinel_parse_switch(const char *payload, size_t len, const char *master_name,
                             struct og_sentinel_addr *out)
{
    /* five words separated by single spaces */
    const char *w[5];
    size_t wl[5];
    size_t i = 0;
    for (int k = 0; k < 5; k++) {
        if (i >= len)
            return -1;
        w[k] = payload + i;
        while (i < len && payload[i] != ' ')
            i++;
        wl[k] = (size_t)(payload + i - w[k]);
        if (wl[k] == 0)
            return -1;
        if (k < 4) {
            if (i >= len)
                return -1;
            i++; /* the space */
        }
    }
    if (i != len)
        return -1;
    struct og_sentinel_addr old, now;
    if (set_addr(&old, w[1], wl[1], w[2], wl[2]) != 0 ||
        set_addr(&now, w[3], wl[3], w[4], wl[4]) != 0)
        return -1;
    if (!master_name || strlen(master_name) != wl[0] || memcmp(master_name, w[0], wl[0]) != 0)
        return 0;
    *out = now;
    return 1;
}

int og_sentinel_switch_message(const redisReply *r, const char **payload, size_t *len)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return 0;
    for (size_t i = 0; i < 3; i++)
        if (!r->element[i] || r->element[i]->type != REDIS_REPLY_STRING)
            return 0;
    if (r->element[0]->len != 7 || memcmp(r->element[0]->str, "message", 7) != 0)
        return 0;
    if (r->element[1]->len != 14 || memcmp(r->element[1]->str, "+switch-master", 14) != 0)
        return 0;
    *payload = r->element[2]->str;
    *len = r->element[2]->len;
    return 1;
}

/* ------------------------------------------------------------- network */

struct og_sentinel_peer {
    struct og_sentinel_addr addr;
    redisContext *sub;   /* owned: subscribed to +switch-master, or NULL */
    int64_t next_try_ms; /* no subscribe attempt before this */
    int64_t backoff_ms;  /* between attempts: 1 s doubling to 10 s (a dead host's
                          * connect costs the timeout each time) */
};

struct og_sentinel {
    struct og_sentinel_peer *peers; /* owned, n of them */
    size_t n;
    size_t first; /* the sentinel that answered last: asked first */
    char *master_name, *sentinel_password, *redis_password; /* owned */
    int timeout_ms;
    char warned[640]; /* the last refusal logged: logged again only when it changes */
};

struct og_sentinel *og_sentinel_new(const struct og_sentinel_opts *o, char *errbuf, size_t errlen)
{
    if (!o->n || !o->master_name || !*o->master_name) {
        snprintf(errbuf, errlen, "redis.sentinels: needs at least one sentinel and a master_name");
        return NULL;
    }
    struct og_sentinel *s = og_calloc(1, sizeof *s);
    s->peers = og_calloc(o->n, sizeof *s->peers);
    s->n = o->n;
    for (size_t i = 0; i < o->n; i++)
        if (og_sentinel_parse_hostport(o->sentinels[i], &s->peers[i].addr) != 0) {
            snprintf(errbuf, errlen, "redis.sentinels[%zu]: \"%s\" is not host:port", i,
                     o->sentinels[i]);
            og_sentinel_free(s);
            return NULL;
        }
    s->master_name = og_strdup(o->master_name);
    s->sentinel_password = og_strdup(o->sentinel_password);
    s->redis_password = og_strdup(o->redis_password);
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
    return s;
}

void og_sentinel_free(struct og_sentinel *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->peers[i].sub)
            redisFree(s->peers[i].sub);
    free(s->peers);
    free(s->master_name);
    free(s->sentinel_password);
    free(s->redis_password);
    free(s);
}

/* A blocking connection with the timeout, authenticated; NULL when it
 * cannot be had (why says so). */
static redisContext *dial(struct og_sentinel *s, const struct og_sentinel_addr *a,
                          const char *password, char *why, size_t whylen)
{
    struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
    if (!c || c->err) {
        snprintf(why, whylen, "%.100s:%d: %s", a->host, a->port, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (password) {
        redisReply *r = redisCommand(c, "AUTH %s", password);
        int bad = !r || r->type == REDIS_REPLY_ERROR;
        snprintf(why, whylen, "%.100s:%d: AUTH %s", a->host, a->port,
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "failed");
        if (r)
            freeReplyObject(r);
        if (bad) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

int og_sentinel_is_master(struct og_sentinel *s, const struct og_sentinel_addr *a, char *role,
                          size_t rolelen)
{
    char why[256];
    redisContext *c = dial(s, a, s->redis_password, why, sizeof why);
    snprintf(role, rolelen, "unreachable");
    if (!c)
        return 0;
    redisReply *r = redisCommand(c, "ROLE");
    int m = og_sentinel_parse_role(r);
    if (m == 0)
        snprintf(role, rolelen, "%.*s", (int)r->element[0]->len, r->element[0]->str);
    else if (m < 0)
        snprintf(role, rolelen, "%s", r && r->type == REDIS_REPLY_ERROR ? r->str : "no ROLE");
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return m == 1;
}

og_err og_sentinel_resolve(struct og_sentinel *s, struct og_sentinel_addr *out, char *why,
                           size_t whylen)
{
    char last[640] = "";
    size_t down = 0;
    /* sentinels mostly name the same server: one that did not answer ROLE is
     * not dialled again in this round (a dead host costs the timeout) */
    struct og_sentinel_addr dead = {"", 0};
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (s->first + k) % s->n;
        const struct og_sentinel_addr *sa = &s->peers[i].addr;
        char err[300];
        redisContext *c = dial(s, sa, s->sentinel_password, err, sizeof err);
        if (!c) {
            down++;
            snprintf(last, sizeof last, "sentinel %.256s", err);
            continue;
        }
        redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->master_name);
        struct og_sentinel_addr m;
        og_err e = og_sentinel_parse_master(r, &m);
        if (e == OG_ERR_NOT_FOUND)
            snprintf(last, sizeof last, "sentinel %.100s:%d does not know the master \"%s\"",
                     sa->host, sa->port, s->master_name);
        else if (e != OG_OK)
            snprintf(last, sizeof last, "sentinel %.100s:%d: %.200s", sa->host, sa->port,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected answer");
        if (!r)
            down++;
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (e != OG_OK)
            continue;
        char role[48] = "unreachable";
        int same_dead = dead.port == m.port && strcmp(dead.host, m.host) == 0;
        if (!same_dead && og_sentinel_is_master(s, &m, role, sizeof role)) {
            s->first = i;
            s->warned[0] = 0;
            *out = m;
            return OG_OK;
        }
        if (strcmp(role, "unreachable") == 0) { /* the old master died: a failover is due */
            dead = m;
            snprintf(last, sizeof last,
                     "sentinel %.100s:%d names %.100s:%d as master \"%.100s\", which does not "
                     "answer",
                     sa->host, sa->port, m.host, m.port, s->master_name);
            continue;
        }
        /* A sentinel behind the times (or lying) is not followed: writes to
         * a replica would be refused, and to a stale master lost. */
        snprintf(last, sizeof last,
                 "sentinel %.100s:%d names %.100s:%d as master \"%.100s\", but it is not a "
                 "master (%s); refused",
                 sa->host, sa->port, m.host, m.port, s->master_name, role);
        if (strcmp(last, s->warned) != 0) {
            og_warn("%s", last);
            snprintf(s->warned, sizeof s->warned, "%s", last);
        }
    }
    if (down == s->n)
        snprintf(why, whylen, "no sentinel answered (%zu tried; last: %s)", s->n, last);
    else
        snprintf(why, whylen, "no master: %s", last);
    return OG_ERR_UNAVAILABLE;
}

/* Subscribes one sentinel to +switch-master; 0, or -1 (retried later). */
static int subscribe(struct og_sentinel *s, struct og_sentinel_peer *p)
{
    char why[256];
    redisContext *c = dial(s, &p->addr, s->sentinel_password, why, sizeof why);
    if (!c)
        return -1;
    redisReply *r = redisCommand(c, "SUBSCRIBE +switch-master");
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        redisFree(c);
        return -1;
    }
    p->sub = c;
    return 0;
}

int og_sentinel_watch(struct og_sentinel *s, int wait_ms, struct og_sentinel_addr *out)
{
    int64_t now = og_mono_ms();
    for (size_t i = 0; i < s->n; i++) {
        struct og_sentinel_peer *p = &s->peers[i];
        if (p->sub || now < p->next_try_ms)
            continue;
        if (subscribe(s, p) == 0) {
            p->backoff_ms = 0;
            continue;
        }
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : 1000;
        if (p->backoff_ms > 10000)
            p->backoff_ms = 10000;
        p->next_try_ms = og_mono_ms() + p->backoff_ms;
    }
    struct pollfd *fds = og_calloc(s->n, sizeof *fds);
    size_t *who = og_calloc(s->n, sizeof *who);
    nfds_t nf = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->peers[i].sub) {
            fds[nf].fd = s->peers[i].sub->fd;
            fds[nf].events = POLLIN;
            who[nf++] = i;
        }
    int got = 0;
    int64_t until = og_mono_ms() + wait_ms;
    while (!got) {
        int64_t left = until - og_mono_ms();
        if (left < 0)
            break;
        int n;
        if (nf == 0) {
            struct timespec ts = {left / 1000, (left % 1000) * 1000000};
            nanosleep(&ts, NULL);
            break;
        }
        n = poll(fds, nf, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (nfds_t k = 0; k < nf; k++) {
            if (!fds[k].revents)
                continue;
            struct og_sentinel_peer *p = &s->peers[who[k]];
            if (!p->sub)
                continue;
            int broken = redisBufferRead(p->sub) != REDIS_OK;
            void *rep = NULL;
            while (!broken && redisGetReplyFromReader(p->sub, &rep) == REDIS_OK && rep) {
                const char *pl;
                size_t pln;
                struct og_sentinel_addr a;
                if (og_sentinel_switch_message(rep, &pl, &pln) &&
                    og_sentinel_parse_switch(pl, pln, s->master_name, &a) == 1) {
                    og_info("sentinel %s:%d: +switch-master %.*s", p->addr.host, p->addr.port,
                            (int)pln, pl);
                    *out = a;
                    got = 1;
                }
                freeReplyObject(rep);
                rep = NULL;
            }
            if (broken || p->sub->err) {
                og_debug("sentinel %s:%d: subscription lost", p->addr.host, p->addr.port);
                redisFree(p->sub);
                p->sub = NULL;
                fds[k].fd = -1; /* poll ignores it from now on */
                p->next_try_ms = og_mono_ms() + 200;
            }
        }
    }
    free(fds);
    free(who);
    return got;
}
