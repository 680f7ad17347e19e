/*
 * store.h - the storage interface (SQLite backend in src/store/sqlite*.c).
 *
 * Durability contract: store_append copies the batch, and calls done(arg, 0) only
 * after the spans are committed to disk (group commit). Spans are queryable from
 * the moment store_append returns 0 (pending traces are answered from memory).
 * After a crash, store_open replays what was committed and not yet assembled, so
 * every acknowledged span is present exactly once. Log records and usage facts
 * from metrics (store_append_signal) are written in the same group commit,
 * are queryable once it is done, and are never replayed: they are present
 * exactly once from the commit on.
 *
 * Threads: store_append may be called from any thread; done() runs on the store's
 * writer thread and must be quick (hand off to the caller's event loop). Query
 * functions may be called from any thread concurrently with ingest.
 */
#ifndef TL_STORE_H
#define TL_STORE_H

#include "model/model.h"

/* Seam for disk I/O faults in tests (STYLE rule 10): when set, called before each
 * commit; a non-zero return makes that commit fail with TL_EIO. */
typedef int (*store_fault_fn)(void *arg, const char *op);

struct store_config {
	const char *data_dir;         /* created if missing; holds tracelamp.db */
	uint64_t retention_ns;        /* delete traces older than this; 0 = keep */
	uint64_t max_size_bytes;      /* delete oldest traces past this; 0 = no limit */
	uint32_t commit_interval_ms;  /* group commit window (default 2) */
	uint32_t trace_idle_ms;       /* a pending trace is written after this quiet time (default 3000) */
	uint32_t trace_max_spans;     /* ... or when it has this many pending spans (default 1000) */
	uint32_t root_grace_ms;       /* ... or this long after its root span arrived and it went quiet
				       * (default 100; 0 = at the next commit) */
	size_t pending_max_bytes;     /* memory ceiling of pending traces before forced flush (default 32 MB;
				       * the queue of accepted batches is bounded by twice this) */
	store_fault_fn fault;
	void *fault_arg;
};

void store_config_defaults(struct store_config *c);

struct store;

/* Opens (creating the schema) and replays the ingest log. Returns owned (store_close). */
int store_open(const struct store_config *cfg, struct store **out, char *err, size_t errlen);

/* Drains: commits everything accepted, writes pending traces, closes. Accepts NULL. */
void store_close(struct store *s);

typedef void (*store_done_fn)(void *arg, int status);

/*
 * Appends a normalised batch. Copies everything it needs before returning (the
 * caller may free the batch and the request body at once). done(arg, status) is
 * called exactly once, on the writer thread, after the commit (status 0) or its
 * failure (negative). Returns TL_ECLOSED after store_close began (done not called).
 */
int store_append(struct store *s, const struct tl_batch *b, store_done_fn done, void *arg);

/* ---- summaries ---------------------------------------------------------- */

#define STORE_MAX_MODELS 8
#define STORE_MAX_ANOMALIES 8

struct store_trace_summary {
	uint8_t trace_id[16];
	char tenant[64];
	char service[128];
	char name[256];
	uint64_t start_unix_nano;
	uint64_t end_unix_nano;
	uint32_t span_count;
	uint32_t error_count;
	uint32_t llm_calls;
	uint32_t tool_calls;
	int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens;
	int64_t cost_nusd;            /* sum of known costs */
	int cost_known;               /* 0 if there are LLM calls with tokens and every cost is unknown */
	int price_unknown;            /* some LLM call had no price */
	char models[STORE_MAX_MODELS][96];
	uint32_t n_models;
	char session_id[128];         /* empty = null */
	char run_id[128];
	char agent[128];
	char anomalies[STORE_MAX_ANOMALIES][32];
	uint32_t n_anomalies;
	int has_root;                 /* the root span has been seen */
};

/* ---- queries -------------------------------------------------------------- */

struct store_trace_filter {
	const char *tenant;           /* required */
	uint64_t start_unix_nano;     /* trace start >= */
	uint64_t end_unix_nano;       /* trace start <= */
	const char *service, *name, *model, *provider, *session, *run, *agent, *anomaly, *q;
	int status;                   /* -1 any, 0 ok, 1 error */
	int64_t min_duration_ns, max_duration_ns; /* -1 = unset */
	int64_t min_cost_nusd;        /* -1 = unset */
	uint32_t limit;
	/* Cursor: traces strictly older than (start, id) in (start desc, id desc) order. */
	int has_cursor;
	uint64_t cursor_start;
	uint8_t cursor_id[16];
};

/* Lists summaries newest first. *out is malloc'd (free()); *n its length.
 * *more is set when there may be more results after the last one. */
int store_list_traces(struct store *s, const struct store_trace_filter *f,
		      struct store_trace_summary **out, size_t *n, int *more);

/* A trace read back: its spans decoded into arena (strings borrow from the arena)
 * and normalised, sorted by start time. */
struct store_trace {
	struct tl_arena *arena;
	struct tl_span *spans;
	size_t n_spans;
	struct store_trace_summary summary;
};

/* Returns 0 and fills *out (free with store_trace_cleanup), or TL_ENOTFOUND. */
int store_get_trace(struct store *s, const char *tenant, const uint8_t trace_id[16],
		    const struct tl_price_table *prices, struct store_trace *out);
void store_trace_cleanup(struct store_trace *t);

/* ---- stats (rollups) ---------------------------------------------------- */

enum store_group { STORE_G_MODEL = 1, STORE_G_PROVIDER = 2, STORE_G_SERVICE = 4, STORE_G_OPERATION = 8, STORE_G_AGENT = 16 };

struct store_stats_filter {
	const char *tenant;
	uint64_t start_unix_nano, end_unix_nano;
	uint64_t step_ns;             /* 0 = one bucket over the whole range */
	unsigned group_by;            /* enum store_group bits */
	const char *service, *model, *provider, *agent, *operation;
};

#define STORE_LAT_BUCKETS 32

struct store_stats_point {
	char model[96], provider[32], service[128], operation[32], agent[128];
	uint64_t bucket_start;
	uint64_t calls, errors;
	int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens;
	int64_t cost_nusd;
	double p50_ms, p95_ms, p99_ms;
};

/* Points ordered by group then bucket. *out malloc'd (free()). */
int store_stats(struct store *s, const struct store_stats_filter *f, struct store_stats_point **out, size_t *n);

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

/* ---- introspection for /metrics and /readyz -------------------------------- */

struct store_metrics {
	uint64_t db_bytes;
	uint64_t pending_traces;
	uint64_t pending_bytes;
	uint64_t queue_bytes;          /* accepted, not yet committed */
	uint64_t commits;
	uint64_t commit_latency_buckets[16]; /* counts per bucket of store_commit_bounds_ms */
	double commit_latency_sum_s;
	uint64_t spans_committed;
	uint64_t traces_written;
	uint64_t retention_deleted;
};

extern const double store_commit_bounds_ms[16];

void store_get_metrics(struct store *s, struct store_metrics *m);
int store_ready(struct store *s);

/* Runs retention now (also runs periodically on the writer thread). */
int store_run_retention(struct store *s);

#endif
