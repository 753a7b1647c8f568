/*
 * timeutil.h - event-time calendar in local time (a fixed offset from UTC, SPEC §7): the start of
 * the hour, day and calendar month containing an instant, and month labels. Pure integer math.
 */
#ifndef GS_TIMEUTIL_H
#define GS_TIMEUTIL_H

#include "gs.h"

/* Start (UTC ms) of the local hour / day containing t. */
int64_t gs_time_hour_start(int64_t t, int tz_min);
int64_t gs_time_day_start(int64_t t, int tz_min);

/* Local calendar month containing t, as year*12 + (month-1). */
int32_t gs_time_month_index(int64_t t, int tz_min);

/* Start (UTC ms) of a local month given by its index. */
int64_t gs_time_month_start(int32_t month_index, int tz_min);

/* "YYYY-MM" of a month index; `out` holds at least 8 bytes. */
void gs_time_month_label(int32_t month_index, char *out);

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian). */
int64_t gs_days_from_civil(int64_t y, unsigned m, unsigned d);
void gs_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
