/* TEMP (until merged into store.h): the logs and usage part of the store interface. */
#ifndef TL_STORE_SIGNALS_H
#define TL_STORE_SIGNALS_H
#include "store/store.h"
/* ---- logs and metric usage (logs.c, usage.c) ------------------------------ */

/*
 * What one OTLP logs or metrics request adds to the store; any part may be
 * empty. spans: normalised spans made from the request (coding-agent events),
 * stored like store_append's; logs: the log records, under logs->tenant;
 * usage: usage facts from metrics (priced by the caller; cost_nusd TL_NONE
 * counts as 0), summed into per-minute metric rollups.
 */
struct store_signal {
	const struct tl_batch *spans;       /* borrowed; NULL = none */
	const struct tl_logs_batch *logs;   /* borrowed; NULL = none */
	const struct tl_usage_fact *usage;  /* borrowed */
	size_t n_usage;
};

/*
 * Appends a signal with the contract of store_append: copies everything
 * before returning; done(arg, status) exactly once on the writer thread after
 * the commit that holds all of it (spans, log records, usage) or its failure.
 * Log records are visible to reads after that commit. TL_ECLOSED after
 * store_close began, TL_EBUSY when the queue is full (done not called).
 */
int store_append_signal(struct store *s, const struct store_signal *sig, store_done_fn done, void *arg);

struct store_log_filter {
	const char *tenant;           /* required */
	uint64_t start_unix_nano;     /* effective record time >= */
	uint64_t end_unix_nano;       /* effective record time <= */
	const char *service;          /* resource service.name ("unknown_service" when none) */
	const char *event;            /* model_log_event_name */
	const char *q;                /* case-insensitive (ASCII) substring of string body and attribute values */
	int min_severity;             /* severity_number >=; 0 = any */
	int has_trace_id, has_span_id;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint32_t limit;
	/* Cursor: records strictly older than (time, id) in (time desc, id desc) order. */
	int has_cursor;
	uint64_t cursor_time;
	int64_t cursor_id;
};

/* One stored log record read back. */
struct store_log {
	int64_t id;
	uint64_t time_unix_nano;      /* the effective time (time, else observed, else receive time) */
	struct tl_log_record rec;     /* strings, resource and scope point into the arena */
};

struct store_logs {
	struct tl_arena *arena;
	struct store_log *items;      /* from the arena */
	size_t n;
};

/* Lists records newest first into *out (free with store_logs_cleanup, also
 * after an error); *more is set when more results follow the last one. */
int store_list_logs(struct store *s, const struct store_log_filter *f, struct store_logs *out, int *more);
/* The records of a trace (at most 10000), oldest first. */
int store_trace_logs(struct store *s, const char *tenant, const uint8_t trace_id[16], struct store_logs *out);
/* Accepts a zeroed struct. */
void store_logs_cleanup(struct store_logs *l);

#endif
