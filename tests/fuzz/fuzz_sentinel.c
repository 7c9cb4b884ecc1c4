/* fuzz_sentinel - what omnigate reads from sentinels and from the servers
 * they name (core/og_sentinel.c): the input is RESP bytes, parsed by
 * hiredis's reader as a reply from the network would be, then handed to
 * the get-master-addr-by-name, ROLE and pub/sub message parsers; the raw
 * bytes are also a +switch-master payload.
 *
 * Checked: an address that is accepted has a non-empty host of printable
 * characters without spaces and a port in 1..65535; og_sentinel_parse_master
 * answers only OK, NOT_FOUND or INVALID. */
#include "og_sentinel.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <string.h>

static void check_addr(const struct og_sentinel_addr *a)
{
    size_t n = strnlen(a->host, sizeof a->host);
    if (n == 0 || n == sizeof a->host || a->port < 1 || a->port > 65535)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a->host[i] <= ' ' || (unsigned char)a->host[i] >= 0x7f)
            __builtin_trap();
}

/* hiredis 0.14's reader allocates an array's element table when it reads
 * the count, before the elements: "*333333333" alone asks for gigabytes.
 * That is the library's (and bounded by what a sentinel would send), not
 * the parsers under test, so such inputs are skipped. */
static int huge_array(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '*')
            continue;
        long v = 0;
        for (size_t j = i + 1; j < n && d[j] >= '0' && d[j] <= '9'; j++)
            if ((v = v * 10 + (d[j] - '0')) > 4096)
                return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536 || huge_array(data, size))
        return 0;
    struct og_sentinel_addr a;
    int sw = og_sentinel_parse_switch((const char *)data, size, "mymaster", &a);
    if (sw == 1)
        check_addr(&a);
    if (sw < -1 || sw > 1)
        __builtin_trap();

    redisReader *rd = redisReaderCreate();
    if (!rd)
        return 0;
    redisReaderFeed(rd, (const char *)data, size);
    void *rep = NULL;
    for (int k = 0; k < 8 && redisReaderGetReply(rd, &rep) == REDIS_OK && rep; k++) {
        redisReply *r = rep;
        og_err e = og_sentinel_parse_master(r, &a);
        if (e == OG_OK)
            check_addr(&a);
        else if (e != OG_ERR_NOT_FOUND && e != OG_ERR_INVALID)
            __builtin_trap();
        int role = og_sentinel_parse_role(r);
        if (role < -1 || role > 1)
            __builtin_trap();
        const char *pl;
        size_t n;
        if (og_sentinel_switch_message(r, &pl, &n) &&
            og_sentinel_parse_switch(pl, n, "mymaster", &a) == 1)
            check_addr(&a);
        freeReplyObject(r);
        rep = NULL;
    }
    redisReaderFree(rd);
    return 0;
}
