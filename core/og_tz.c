/* og_tz - see og_tz.h. Replaces an earlier draft that set TZ under a mutex
 * and called mktime/localtime: the mutex only serialised its own callers,
 * while every other thread's localtime_r (logging) read the environment
 * setenv was rewriting. Here a zone is parsed once into a table and read
 * without locks. */
#include "og_tz.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZONEINFO "/usr/share/zoneinfo/"
#define MAX_FILE (256 * 1024)

/* A POSIX TZ rule date: Mm.w.d (month, week 1-5 with 5 the last, weekday
 * 0 = Sunday) at secs seconds local time. */
struct rule_date {
    int m, w, d;
    int32_t secs;
};

struct og_tz {
    size_t n;     /* transitions */
    int64_t *at;  /* [n] Unix s, ascending */
    int32_t *off; /* [n] the offset from at[i] on */
    int32_t off0; /* before the first transition */
    int has_rule; /* the footer has a DST rule */
    int32_t std_off, dst_off;
    struct rule_date start, end;
    int has_footer_std; /* the footer gives a fixed offset (no DST) */
};

int og_tz_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] == '/' || strstr(name, "..") ||
        strncmp(name, "right/", 6) == 0 || strncmp(name, "posix/", 6) == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

int64_t og_tz_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void og_tz_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t og_tz_parse_date(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return -1;
    return og_tz_days_from_civil(y, (unsigned)m, (unsigned)d);
}

static int64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

/* POSIX TZ footer parsing: a name ("CET" or "<+0530>"). */
static const char *tz_name(const char *p)
{
    if (*p == '<') {
        const char *e = strchr(p, '>');
        return e ? e + 1 : NULL;
    }
    const char *s = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; NULL on a malformed time. */
static const char *tz_time(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return NULL;
    int32_t v[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        char *e;
        long x = strtol(p, &e, 10);
        if (e == p || x < 0 || x > 167)
            return NULL;
        v[i] = (int32_t)x;
        p = e;
        if (*p != ':' || i == 2)
            break;
        p++;
    }
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

static const char *tz_rule_date(const char *p, struct rule_date *r)
{
    if (*p != 'M')
        return NULL; /* Jn and n rules: not supported (no zone in use has one) */
    char *e;
    r->m = (int)strtol(p + 1, &e, 10);
    if (*e != '.')
        return NULL;
    r->w = (int)strtol(e + 1, &e, 10);
    if (*e != '.')
        return NULL;
    r->d = (int)strtol(e + 1, &e, 10);
    if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 || r->d > 6)
        return NULL;
    p = e;
    r->secs = 7200;
    if (*p == '/')
        p = tz_time(p + 1, &r->secs);
    return p;
}

static void parse_footer(struct og_tz *z, const char *f)
{
    int32_t std, dst;
    const char *p = tz_name(f);
    /* offsets within +-26 h, as the file's own (a rule's time of day may
     * reach 167 h, an offset may not) */
    if (!p || !(p = tz_time(p, &std)) || std < -93600 || std > 93600)
        return;
    z->std_off = -std;
    if (!*p) {
        z->has_footer_std = 1;
        return;
    }
    if (!(p = tz_name(p)))
        return;
    dst = std - 3600;
    if (*p && *p != ',' && !(p = tz_time(p, &dst)))
        return;
    if (*p != ',' || !(p = tz_rule_date(p + 1, &z->start)) || *p != ',' ||
        !(p = tz_rule_date(p + 1, &z->end)) || *p || dst < -93600 || dst > 93600)
        return;
    z->dst_off = -dst;
    z->has_rule = 1;
}

og_err og_tz_from_tzif(const unsigned char *buf, size_t len, struct og_tz **out)
{
    *out = NULL;
    struct og_tz *z = og_calloc(1, sizeof *z);
    og_err e = OG_ERR_INVALID;
    if (len < 44 || len > MAX_FILE || memcmp(buf, "TZif", 4) != 0)
        goto done;
    /* the v1 block, skipped for the 64-bit one that follows in v2+ */
    const unsigned char *h = buf;
    int tsize = 4;
    for (int pass = 0; pass < 2; pass++) {
        int64_t isut = be(h + 20, 4), isstd = be(h + 24, 4), leap = be(h + 28, 4);
        int64_t timecnt = be(h + 32, 4), typecnt = be(h + 36, 4), charcnt = be(h + 40, 4);
        if (isut < 0 || isstd < 0 || leap < 0 || timecnt < 0 || typecnt < 1 || charcnt < 0 ||
            timecnt > 10000 || typecnt > 256 || leap > 10000 || isut > 256 || isstd > 256 ||
            charcnt > 10000)
            goto done;
        size_t block = (size_t)(timecnt * tsize + timecnt + typecnt * 6 + charcnt +
                                leap * (tsize + 4) + isstd + isut);
        const unsigned char *d = h + 44;
        if ((size_t)(d - buf) + block > len)
            goto done;
        if (pass == 0 && buf[4] >= '2') {
            h = d + block;
            tsize = 8;
            if ((size_t)(h - buf) + 44 > len || memcmp(h, "TZif", 4) != 0)
                goto done;
            continue;
        }
        const unsigned char *idx = d + timecnt * tsize, *types = idx + timecnt;
        z->n = (size_t)timecnt;
        z->at = og_calloc(z->n + 1, sizeof *z->at);
        z->off = og_calloc(z->n + 1, sizeof *z->off);
        for (size_t i = 0; i < z->n; i++) {
            if (idx[i] >= typecnt)
                goto done;
            z->at[i] = be(d + i * tsize, tsize);
            z->off[i] = (int32_t)be(types + idx[i] * 6, 4);
            if (z->off[i] < -93600 || z->off[i] > 93600 || (i && z->at[i] <= z->at[i - 1]))
                goto done; /* offsets within +-26 h, times ascending */
        }
        /* before the first transition: the first standard-time type */
        z->off0 = (int32_t)be(types, 4);
        for (int64_t t = 0; t < typecnt; t++)
            if (!types[t * 6 + 4]) {
                z->off0 = (int32_t)be(types + t * 6, 4);
                break;
            }
        if (z->off0 < -93600 || z->off0 > 93600)
            goto done;
        const unsigned char *foot = d + block;
        if (tsize == 8 && (size_t)(foot - buf) < len && *foot == '\n') {
            const unsigned char *fe = memchr(foot + 1, '\n', len - (size_t)(foot + 1 - buf));
            if (fe && fe - foot < 128) {
                char ft[128];
                memcpy(ft, foot + 1, (size_t)(fe - foot - 1));
                ft[fe - foot - 1] = 0;
                parse_footer(z, ft);
            }
        }
        e = OG_OK;
        break;
    }
done:
    if (e != OG_OK) {
        og_tz_free(z);
        return e;
    }
    *out = z;
    return OG_OK;
}

og_err og_tz_load(const char *name, struct og_tz **out)
{
    *out = NULL;
    if (!og_tz_name_valid(name))
        return OG_ERR_INVALID;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        *out = og_calloc(1, sizeof **out);
        return OG_OK;
    }
    char path[128];
    snprintf(path, sizeof path, ZONEINFO "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return OG_ERR_INVALID;
    unsigned char *buf = og_malloc(MAX_FILE + 1);
    size_t len = fread(buf, 1, MAX_FILE + 1, f);
    fclose(f);
    og_err e = og_tz_from_tzif(buf, len, out);
    free(buf);
    return e;
}

void og_tz_free(struct og_tz *z)
{
    if (!z)
        return;
    free(z->at);
    free(z->off);
    free(z);
}

/* Unix s of a rule date in year y, at its local time with offset off. */
static int64_t rule_at(const struct rule_date *r, int64_t y, int32_t off)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t first = og_tz_days_from_civil(y, (unsigned)r->m, 1);
    int wd = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    int day = 1 + (r->d - wd + 7) % 7 + (r->w - 1) * 7;
    int dim = mdays[r->m - 1] + (r->m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    while (day > dim)
        day -= 7;
    return (first + day - 1) * 86400 + r->secs - off;
}

int32_t og_tz_offset(const struct og_tz *z, int64_t t)
{
    if (z->n > 0 && t < z->at[0])
        return z->off0;
    if (z->n > 0 && t < z->at[z->n - 1]) {
        size_t lo = 0, hi = z->n - 1; /* at[lo] <= t < at[hi] */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (z->at[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        return z->off[lo];
    }
    if (z->has_footer_std)
        return z->std_off;
    if (!z->has_rule)
        return z->n ? z->off[z->n - 1] : z->off0;
    int64_t y;
    unsigned m, d;
    og_tz_civil_from_days((t + z->std_off) / 86400 - ((t + z->std_off) % 86400 < 0), &y, &m, &d);
    int64_t s = rule_at(&z->start, y, z->std_off), e = rule_at(&z->end, y, z->dst_off);
    int in_dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    return in_dst ? z->dst_off : z->std_off;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

int og_tz_hours(const struct og_tz *z, const char *from, const char *to, int max_days,
                struct og_tz_hour **hours, size_t *n, char *err, size_t errlen)
{
    *hours = NULL, *n = 0;
    int64_t a = og_tz_parse_date(from), b = og_tz_parse_date(to);
    if (a < 0 || b < 0) {
        snprintf(err, errlen, "from and to: required, dates as YYYY-MM-DD (1970 or later)");
        return -1;
    }
    if (a > b) {
        snprintf(err, errlen, "from is after to");
        return -1;
    }
    if (b - a + 1 > max_days) {
        snprintf(err, errlen, "the period is longer than %d days", max_days);
        return -1;
    }
    /* offsets are within -26 h..+26 h: start a day early, stop a day late */
    int64_t h0 = (a - 2) * 24, h1 = (b + 3) * 24;
    struct og_tz_hour *out = og_calloc((size_t)(h1 - h0), sizeof *out);
    size_t k = 0;
    for (int64_t h = h0; h < h1; h++) {
        int64_t local = h * 3600 + og_tz_offset(z, h * 3600);
        int64_t day = floor_div(local, 86400);
        if (day < a || day > b)
            continue;
        int64_t y;
        unsigned m, d;
        og_tz_civil_from_days(day, &y, &m, &d);
        out[k].utc_hour = h;
        snprintf(out[k].day, sizeof out[k].day, "%04d-%02u-%02u", (int)y, m, d);
        snprintf(out[k].hour, sizeof out[k].hour, "%sT%02d", out[k].day,
                 (int)(floor_div(local, 3600) - day * 24));
        k++;
    }
    *hours = out, *n = k;
    return 0;
}
