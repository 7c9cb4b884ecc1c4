/* test_tz - core/og_tz.c against the C library: for zones with DST in the
 * north and south, a half-hour and a 45-minute offset, a zone without DST
 * and UTC, the offset at 20000 moments from 1970 to 2100 (past the files'
 * last transitions, where the POSIX footer rules) equals localtime_r's
 * tm_gmtoff under TZ (set here, single-threaded). Then the local days and
 * hours of a period (og_tz_hours): a 23- and a 25-hour day in Berlin, a
 * Kolkata day that starts at 00:30, the bad inputs. First, og_util's
 * og_time_rfc3339 (written digit by digit) against strftime at 20000
 * moments and at a few fixed ones. */
#include "og_test.h"
#include "og_tz.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void against_libc(const char *name)
{
    struct og_tz *z = NULL;
    CHECK(og_tz_load(name, &z) == OG_OK);
    if (!z)
        return;
    char env[80];
    snprintf(env, sizeof env, ":%s", name);
    setenv("TZ", env, 1);
    tzset();
    unsigned seed = 12345;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        int64_t t = (int64_t)((uint64_t)seed * 4102444800ull / 4294967296ull); /* 1970..2100 */
        if (i < 2000) /* around this period's transitions, hour by hour */
            t = 1774000000 + (int64_t)i * 3600;
        time_t tt = (time_t)t;
        struct tm lt;
        localtime_r(&tt, &lt);
        if (og_tz_offset(z, t) != (int32_t)lt.tm_gmtoff && bad++ < 3)
            fprintf(stderr, "  %s at %lld: og_tz %d, libc %ld\n", name, (long long)t,
                    og_tz_offset(z, t), lt.tm_gmtoff);
    }
    CHECK_INT(bad, 0);
    og_tz_free(z);
}

static void test_hours(void)
{
    struct og_tz *z = NULL;
    struct og_tz_hour *h = NULL;
    size_t n = 0;
    char err[128];
    CHECK(og_tz_load("Europe/Berlin", &z) == OG_OK);
    /* 2026-03-29: 23 hours; 2026-10-25: 25 hours (the hour 02 twice) */
    CHECK(og_tz_hours(z, "2026-03-29", "2026-03-29", 400, &h, &n, err, sizeof err) == 0);
    CHECK_INT(n, 23);
    CHECK_STR(h[0].hour, "2026-03-29T00");
    CHECK_INT(h[0].utc_hour, og_tz_days_from_civil(2026, 3, 28) * 24 + 23);
    CHECK_STR(h[2].hour, "2026-03-29T03");
    free(h);
    CHECK(og_tz_hours(z, "2026-10-25", "2026-10-25", 400, &h, &n, err, sizeof err) == 0);
    CHECK_INT(n, 25);
    CHECK_STR(h[2].hour, "2026-10-25T02");
    CHECK_STR(h[3].hour, "2026-10-25T02");
    CHECK_STR(h[24].hour, "2026-10-25T23");
    free(h);
    og_tz_free(z);

    CHECK(og_tz_load("Asia/Kolkata", &z) == OG_OK);
    CHECK(og_tz_hours(z, "2026-12-02", "2026-12-03", 400, &h, &n, err, sizeof err) == 0);
    CHECK_INT(n, 48);
    /* local midnight is 18:30 UTC: the first whole UTC hour after it, 19:00,
     * starts at 00:30 local */
    CHECK_INT(h[0].utc_hour, og_tz_days_from_civil(2026, 12, 1) * 24 + 19);
    CHECK_STR(h[0].day, "2026-12-02");
    CHECK_STR(h[0].hour, "2026-12-02T00");
    CHECK_STR(h[47].hour, "2026-12-03T23");
    free(h);
    og_tz_free(z);

    CHECK(og_tz_load("UTC", &z) == OG_OK);
    CHECK(og_tz_hours(z, "2026-12-02", "2026-12-02", 400, &h, &n, err, sizeof err) == 0);
    CHECK_INT(n, 24);
    CHECK_STR(h[13].hour, "2026-12-02T13");
    free(h);
    CHECK(og_tz_hours(z, "2026-12-03", "2026-12-02", 400, &h, &n, err, sizeof err) == -1);
    CHECK(strstr(err, "after") != NULL);
    CHECK(og_tz_hours(z, "2026-01-01", "2027-02-05", 400, &h, &n, err, sizeof err) == -1);
    CHECK(strstr(err, "400") != NULL);
    CHECK(og_tz_hours(z, "2026-02-30", "2026-03-01", 400, &h, &n, err, sizeof err) == -1);
    CHECK(og_tz_hours(z, "2026-2-01", "2026-03-01", 400, &h, &n, err, sizeof err) == -1);
    CHECK(h == NULL);
    og_tz_free(z);
}

static void test_names(void)
{
    struct og_tz *z = (struct og_tz *)1;
    const char *bad[] = {
        "",          "Mars/Olympus", "../etc/passwd",  "/etc/localtime", "Europe/../UTC",
        "right/UTC", "Europe",       "Europe/Berlin ", "zone.tab",       NULL};
    for (int i = 0; bad[i]; i++) {
        CHECK(og_tz_load(bad[i], &z) == OG_ERR_INVALID);
        CHECK(z == NULL);
    }
}

static void rfc3339(void)
{
    char got[32], want[48];
    og_time_rfc3339(0, got);
    CHECK_STR(got, "1970-01-01T00:00:00.000Z");
    og_time_rfc3339(951782400001LL, got);
    CHECK_STR(got, "2000-02-29T00:00:00.001Z");
    og_time_rfc3339(1764000000123LL, got);
    CHECK_STR(got, "2025-11-24T16:00:00.123Z");
    og_time_rfc3339(253402300799999LL, got);
    CHECK_STR(got, "9999-12-31T23:59:59.999Z");
    unsigned seed = 777;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        int64_t ms = (int64_t)((uint64_t)seed * 4102444800000ull / 4294967296ull) + i % 1000;
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        size_t n = strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want + n, sizeof want - n, ".%03dZ", (int)(ms % 1000));
        og_time_rfc3339(ms, got);
        bad += strcmp(got, want) != 0;
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    rfc3339();
    const char *zones[] = {"UTC",
                           "Europe/Berlin",
                           "Asia/Kolkata",
                           "Asia/Kathmandu",
                           "Asia/Tokyo",
                           "America/New_York",
                           "Australia/Sydney",
                           "America/Sao_Paulo",
                           "Pacific/Chatham",
                           NULL};
    for (int i = 0; zones[i]; i++)
        against_libc(zones[i]);
    test_hours();
    test_names();
    return og_test_done();
}
