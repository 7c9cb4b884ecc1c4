/* og_tz - IANA time zones read from the tz database's TZif files
 * (/usr/share/zoneinfo), without touching the process's TZ: setenv and
 * tzset are not thread-safe against other threads' localtime, so the
 * statistics never use them. A loaded zone is immutable: any thread may
 * read it.
 *
 * Only what statistics need: the UTC offset at a moment (og_tz_offset),
 * and the local day and hour a UTC hour falls in (og_tz_hours). Times after
 * the file's last transition follow its POSIX TZ footer (v2+ files: "M"
 * rules, e.g. "CET-1CEST,M3.5.0,M10.5.0/3"); a footer with "J"/day-number
 * rules keeps the last transition's offset. Leap seconds are ignored (the
 * "right/" zones are refused). */
#ifndef OG_TZ_H
#define OG_TZ_H
#include "og_err.h"

#include <stddef.h>
#include <stdint.h>

struct og_tz;

/* 1 when name may name a zone: 1-64 of A-Z a-z 0-9 _ - + /, no leading
 * '/', no "..", not under right/ or posix/ (the same zones again). */
int og_tz_name_valid(const char *name);
/* Loads the zone name ("UTC", "Europe/Berlin", "Asia/Kolkata"...).
 * OG_ERR_INVALID: not a name, or no such zone file, or not TZif. [xfer,
 * og_tz_free] */
og_err og_tz_load(const char *name, struct og_tz **out);
void og_tz_free(struct og_tz *z);
/* The zone in a TZif file's contents (og_tz_load reads the file; the fuzz
 * target feeds this). OG_ERR_INVALID for a malformed one. [xfer] */
og_err og_tz_from_tzif(const unsigned char *buf, size_t len, struct og_tz **out);
/* The zone's offset from UTC, in seconds east, at Unix time t (s). */
int32_t og_tz_offset(const struct og_tz *z, int64_t t);

/* One UTC hour of a period and where it falls locally: the local day
 * "YYYY-MM-DD" and hour "YYYY-MM-DDTHH" of the hour's first instant. */
struct og_tz_hour {
    int64_t utc_hour; /* Unix ms / 3600000 */
    char day[11];
    char hour[14];
};
/* The UTC hours whose first instant falls locally on the days from..to
 * (dates "YYYY-MM-DD", inclusive), in order. With whole-hour offsets this
 * is exactly the local days; with a half-hour offset (Asia/Kolkata) a local
 * day starts at the first whole UTC hour after its midnight (00:30 local),
 * i.e. every figure is shifted 30 minutes later. -1 with a message in err
 * (from or to not a date, from after to, more than max_days days). *hours
 * [xfer]. */
int og_tz_hours(const struct og_tz *z, const char *from, const char *to, int max_days,
                struct og_tz_hour **hours, size_t *n, char *err, size_t errlen);

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian). */
int64_t og_tz_days_from_civil(int64_t y, unsigned m, unsigned d);
void og_tz_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* "YYYY-MM-DD" into days since 1970-01-01; -1 when not a real date in
 * 1970..9999. */
int64_t og_tz_parse_date(const char *s);
#endif
