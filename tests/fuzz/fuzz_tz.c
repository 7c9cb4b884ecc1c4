/* fuzz_tz - libFuzzer target for the time zone reader and the statistics'
 * period (core/og_tz.c): the first byte picks what the rest is.
 *   0: a TZif file's contents (og_tz_from_tzif): a parsed zone's offsets
 *      stay within +-26 h at any moment of 1970-2200, and a period's hours
 *      are bounded;
 *   1: "from\0to\0zone name" as a query gives them (og_tz_parse_date,
 *      og_tz_hours over UTC, og_tz_name_valid): a valid period has 24
 *      consecutive hours a day, a rejected one a message; a name that passes
 *      has no "..". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_tz.h"
#include "og_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_period(const struct og_tz *z, const char *from, const char *to, int per_day)
{
    struct og_tz_hour *h = NULL;
    size_t n = 0;
    char err[128] = "";
    if (og_tz_hours(z, from, to, 400, &h, &n, err, sizeof err) == 0) {
        int64_t days = og_tz_parse_date(to) - og_tz_parse_date(from) + 1;
        /* the hours looked at: the period and two days either side */
        if (days < 1 || days > 400 || n > (size_t)(days + 5) * 24)
            abort();
        if (per_day && n != (size_t)days * 24)
            abort();
        for (size_t i = 1; per_day && i < n; i++)
            if (h[i].utc_hour != h[i - 1].utc_hour + 1 || strcmp(h[i].day, h[i - 1].day) < 0)
                abort();
    } else if (!err[0] || h) {
        abort();
    }
    free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    if (data[0] == 0) {
        struct og_tz *z = NULL;
        if (og_tz_from_tzif(data + 1, size - 1, &z) != OG_OK)
            return 0;
        for (int64_t t = 0; t < 7258118400LL; t += 86400 * 97 + 3599)
            if (og_tz_offset(z, t) < -93600 || og_tz_offset(z, t) > 93600)
                abort();
        check_period(z, "2026-03-01", "2026-04-30", 0);
        og_tz_free(z);
        return 0;
    }
    char *buf = og_malloc(size + 3);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = buf[size] = buf[size + 1] = 0;
    const char *from = buf, *to = from + strlen(from) + 1;
    if (to > buf + size)
        to = buf + size;
    const char *name = to + strlen(to) + 1;
    if (name > buf + size + 1)
        name = buf + size + 1;
    struct og_tz *utc = NULL;
    if (og_tz_load("UTC", &utc) == OG_OK) {
        check_period(utc, from, to, 1);
        og_tz_free(utc);
    }
    if (og_tz_name_valid(name) && strstr(name, ".."))
        abort();
    free(buf);
    return 0;
}
