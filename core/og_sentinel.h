/* og_sentinel - Redis Sentinel: which server is the master now (redis.sentinels,
 * redis.master_name).
 *
 * Two halves. The parsers are pure functions of a reply or a message, so
 * they are unit tested and fuzzed without a server: a sentinel's answer to
 * SENTINEL get-master-addr-by-name, a server's answer to ROLE, and the
 * payload of a +switch-master message. The network half asks the sentinels
 * (og_sentinel_resolve: the first sentinel that names a server which
 * answers ROLE "master" wins; a sentinel naming a server that is not a
 * master is refused and logged) and listens to their +switch-master
 * announcements (og_sentinel_watch). Neither creates a thread: the
 * gateway's failover worker calls them through og_core_failover_step
 * (og_core.h), and the pool (og_redis.h) is pointed at what they find. */
#ifndef OG_SENTINEL_H
#define OG_SENTINEL_H
#include <hiredis/hiredis.h>
#include <omnigate/connector.h>
#include <stddef.h>

struct og_sentinel_addr {
    char host[256];
    int port; /* 1..65535 */
};

/* "host:port" or "[v6]:port" into out: 0, or -1 when malformed. */
int og_sentinel_parse_hostport(const char *s, struct og_sentinel_addr *out);
/* The reply to SENTINEL get-master-addr-by-name: OG_OK and out filled;
 * OG_ERR_NOT_FOUND when the sentinel does not know the name (nil);
 * OG_ERR_INVALID for anything else (an error reply, a wrong shape, a bad
 * host or port). */
og_err og_sentinel_parse_master(const redisReply *r, struct og_sentinel_addr *out);
/* The reply to ROLE: 1 for "master", 0 for another role ("slave",
 * "sentinel"), -1 when it is not a ROLE reply. */
int og_sentinel_parse_role(const redisReply *r);
/* A +switch-master payload "<name> <old-ip> <old-port> <new-ip> <new-port>"
 * (len bytes, not NUL-terminated): 1 and out = the new master when it is
 * about master_name, 0 when it is about another master, -1 when malformed. */
int og_sentinel_parse_switch(const char *payload, size_t len, const char *master_name,
                             struct og_sentinel_addr *out);
/* A pushed pub/sub reply: 1 and *payload, *len [borrowed from r] when it is
 * ["message", "+switch-master", payload]; 0 otherwise (subscribe
 * confirmations, other channels). */
int og_sentinel_switch_message(const redisReply *r, const char **payload, size_t *len);

struct og_sentinel;
struct og_sentinel_opts {
    const char *const *sentinels; /* n addresses, "host:port" each */
    size_t n;
    const char *master_name;
    const char *sentinel_password; /* AUTH to the sentinels; NULL = none */
    const char *redis_password;    /* AUTH to the servers they name (for ROLE) */
    int timeout_ms;                /* connect and command timeout; 0 = 1000 */
};
/* NULL and errbuf on a malformed sentinel address or an empty list. [xfer] */
struct og_sentinel *og_sentinel_new(const struct og_sentinel_opts *o, char *errbuf, size_t errlen);
void og_sentinel_free(struct og_sentinel *s);
/* Asks the sentinels in turn for the master and checks it with ROLE: OG_OK
 * and *out; else OG_ERR_UNAVAILABLE and why (no sentinel answered, none knows
 * the name, the named server is not a master or is down). Blocks for at
 * most about 2 x timeout_ms per sentinel. Not thread-safe: one caller at a
 * time (the failover worker; start-up before it runs). */
og_err og_sentinel_resolve(struct og_sentinel *s, struct og_sentinel_addr *out, char *why,
                           size_t whylen);
/* Waits up to wait_ms for a +switch-master about our master on any
 * sentinel (subscribing to those not subscribed yet, at most once a second
 * each): 1 and *out = the new master, 0 when none came. */
int og_sentinel_watch(struct og_sentinel *s, int wait_ms, struct og_sentinel_addr *out);
/* 1 when the server at a answers ROLE with "master"; 0 when it answers
 * another role (role gets it) or cannot be asked (role = "unreachable"). */
int og_sentinel_is_master(struct og_sentinel *s, const struct og_sentinel_addr *a, char *role,
                          size_t rolelen);
#endif
