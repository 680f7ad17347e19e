/*
 * metrics_int.h - what metrics.c and otlp_series.c share: the table of series
 * re-exposed from OTLP metrics, owned by struct metrics and rendered after the
 * daemon's own families. Not part of the module API.
 */
#ifndef TL_METRICS_INT_H
#define TL_METRICS_INT_H

#include "metrics/metrics.h"

struct otlp_series;

/* Returns owned (metrics__series_destroy); aborts on OOM like metrics_create. */
struct otlp_series *metrics__series_create(void);
void metrics__series_destroy(struct otlp_series *t);

/* The table of m (never NULL). */
struct otlp_series *metrics__series(struct metrics *m);

/* Appends tracelamp_otlp_series* and every live OTLP family, expiring stale
 * series first. Takes the table's lock. Returns 0 or a tl_buf error. */
int metrics__series_render(struct otlp_series *t, uint64_t now_ns, struct tl_buf *out);

#endif
