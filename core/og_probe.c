/* og_probe - see og_probe.h. */
#include "og_probe.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

/* A connection to the socket with a short timeout, or NULL. [xfer] */
static redisContext *connect_sock(const char *sock)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
        return c;
    if (c)
        redisFree(c);
    return NULL;
}

enum og_probe og_probe_ping(const char *sock, char *err, size_t errlen)
{
    redisContext *c = connect_sock(sock);
    if (!c)
        return OG_PROBE_SILENT;
    redisReply *r = redisCommand(c, "PING");
    enum og_probe res = OG_PROBE_SILENT;
    if (r && r->type == REDIS_REPLY_STATUS) {
        res = OG_PROBE_OK;
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        res = strncmp(r->str, "LOADING", 7) == 0 ? OG_PROBE_LOADING : OG_PROBE_ERROR;
        snprintf(err, errlen, "%s", r->str);
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return res;
}

char *og_probe_info(const char *sock, const char *section)
{
    redisContext *c = connect_sock(sock);
    redisReply *r = c ? redisCommand(c, "INFO %s", section) : NULL;
    char *text = r && r->type == REDIS_REPLY_STRING ? og_strdup(r->str) : NULL;
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return text;
}

int og_probe_shutdown(const char *sock)
{
    redisContext *c = connect_sock(sock);
    redisReply *r = c ? redisCommand(c, "SHUTDOWN") : NULL;
    int taken = c && !r && c->err == REDIS_ERR_EOF;
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return taken;
}
