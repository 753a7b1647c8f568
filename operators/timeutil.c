/*
 * timeutil.c - the event-time calendar of SPEC §7: local time is UTC plus a fixed offset in
 * minutes (UTC+8 by default, no DST), and windows are local hours, days and calendar months.
 *
 * Everything is integer arithmetic on milliseconds. Divisions are floor divisions so that instants
 * before 1970 (negative times) land in the right window, and the civil-date conversions are the
 * well-known era-based algorithms for the proleptic Gregorian calendar (400-year eras of 146 097
 * days, years starting in March so that the leap day is the last day of the year). Instants within
 * a few days of the int64 limits (GS_TIME_MIN / GS_TIME_MAX sentinels) are returned unchanged
 * rather than overflowing.
 */
#include "timeutil.h"

#define GS_TIME_MINUTE_MS INT64_C(60000)
/* Beyond this distance from the int64 limits, adding an offset or a month cannot overflow. */
#define GS_TIME_SAFE_MARGIN (INT64_C(64) * GS_DAY_MS)

/* floor(a / b) for b > 0. */
static int64_t gs_time_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && a < 0) q--;
    return q;
}

static bool gs_time_in_range(int64_t t)
{
    return t > INT64_MIN + GS_TIME_SAFE_MARGIN && t < INT64_MAX - GS_TIME_SAFE_MARGIN;
}

/* Start (UTC ms) of the local period of length `unit` containing t. */
static int64_t gs_time_floor_local(int64_t t, int tz_min, int64_t unit)
{
    if (!gs_time_in_range(t)) return t;
    int64_t off = (int64_t)tz_min * GS_TIME_MINUTE_MS;
    return gs_time_floor_div(t + off, unit) * unit - off;
}

int64_t gs_time_hour_start(int64_t t, int tz_min)
{
    return gs_time_floor_local(t, tz_min, GS_HOUR_MS);
}

int64_t gs_time_day_start(int64_t t, int tz_min)
{
    return gs_time_floor_local(t, tz_min, GS_DAY_MS);
}

int32_t gs_time_month_index(int64_t t, int tz_min)
{
    int64_t y;
    unsigned m, d;

    if (!gs_time_in_range(t)) return t < 0 ? INT32_MIN : INT32_MAX;
    int64_t off = (int64_t)tz_min * GS_TIME_MINUTE_MS;
    gs_civil_from_days(gs_time_floor_div(t + off, GS_DAY_MS), &y, &m, &d);
    int64_t idx = y * 12 + (int64_t)(m - 1);
    if (idx < INT32_MIN) return INT32_MIN;
    if (idx > INT32_MAX) return INT32_MAX;
    return (int32_t)idx;
}

int64_t gs_time_month_start(int32_t month_index, int tz_min)
{
    int64_t y = gs_time_floor_div(month_index, 12);
    unsigned m = (unsigned)(month_index - y * 12) + 1;
    int64_t off = (int64_t)tz_min * GS_TIME_MINUTE_MS;

    /* |month_index| < 2^31 months is ~179 million years: days * 86 400 000 fits in int64. */
    return gs_days_from_civil(y, m, 1) * GS_DAY_MS - off;
}

void gs_time_month_label(int32_t month_index, char *out)
{
    int64_t y = gs_time_floor_div(month_index, 12);
    unsigned m = (unsigned)(month_index - y * 12) + 1;

    /* The label has room for four year digits; years outside 0000..9999 are clamped. */
    if (y < 0) y = 0;
    if (y > 9999) y = 9999;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '\0';
}

int64_t gs_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = gs_time_floor_div(y, 400);
    int64_t yoe = y - era * 400;                          /* [0, 399] */
    int64_t mp = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9; /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;    /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  /* [0, 146096] */
    return era * 146097 + doe - 719468; /* 719468 = days from 0000-03-01 to 1970-01-01 */
}

void gs_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = gs_time_floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    unsigned dd = (unsigned)(doy - (153 * mp + 2) / 5 + 1);              /* [1, 31] */
    unsigned mm = (unsigned)(mp < 10 ? mp + 3 : mp - 9);                 /* [1, 12] */

    *y = yoe + era * 400 + (mm <= 2);
    *m = mm;
    *d = dd;
}
