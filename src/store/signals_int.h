/*
 * signals_int.h - private interface of the store's logs and metric-usage
 * parts: logs.c (log records: encoding, the logs table, reads) and usage.c
 * (per-minute usage facts from OTLP metrics, the rollup_minute_metrics table,
 * the stats source that never counts a call twice). sqlite.c carries a
 * struct store__sig in each ingest item and writes it in the group commit.
 * Nothing outside src/store includes this header.
 */
#ifndef TL_STORE_SIGNALS_INT_H
#define TL_STORE_SIGNALS_INT_H

#include <sqlite3.h>
#include <zstd.h>

#include "store/store.h"

/* Tables of both parts (run by store_open with the rest of the schema).
 *  - logs: one row per log record; data = one flag byte (0 raw, 1 zstd) then a
 *    protobuf LogRecord; res = the log_res row of its resource and scope.
 *  - log_res: the encoded resource and scope shared by many records (id = a
 *    64-bit hash of the bytes); last_ns = the newest record time using it, so
 *    retention can drop it with the records.
 *  - rollup_minute_metrics: usage facts from metrics, summed per key. */
#define STORE_SIG_SCHEMA_SQL \
	"CREATE TABLE IF NOT EXISTS logs(id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, time_ns INTEGER NOT NULL, " \
	"trace_id BLOB, span_id BLOB, severity INTEGER NOT NULL, service TEXT NOT NULL, event TEXT NOT NULL, " \
	"res INTEGER NOT NULL, data BLOB NOT NULL);" \
	"CREATE INDEX IF NOT EXISTS logs_list ON logs(tenant, time_ns DESC, id DESC);" \
	"CREATE INDEX IF NOT EXISTS logs_trace ON logs(trace_id) WHERE trace_id IS NOT NULL;" \
	"CREATE INDEX IF NOT EXISTS logs_age ON logs(time_ns);" \
	"CREATE TABLE IF NOT EXISTS log_res(id INTEGER PRIMARY KEY, last_ns INTEGER NOT NULL, data BLOB NOT NULL);" \
	"CREATE TABLE IF NOT EXISTS rollup_minute_metrics(minute INTEGER NOT NULL, tenant TEXT NOT NULL, " \
	"service TEXT NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL, operation TEXT NOT NULL, " \
	"calls INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, " \
	"cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL, " \
	"cost_nusd INTEGER NOT NULL, PRIMARY KEY(minute, tenant, service, model, provider, operation)) WITHOUT ROWID;"

/*
 * The row source of /api/v1/stats (use as "FROM " STORE_STATS_SOURCE_SQL):
 * the span rollups, plus the metric rollups of every (minute, tenant, service,
 * model) that has no span rollup from 5 minutes before to 1 minute after it, so
 * a call reported both ways counts once. The window is there because exporters
 * stamp a metric point with the export time, up to an export interval (60 s by
 * default) after the calls it counts, often in the next minute.
 * Same columns as rollup_minute (errors 0, agent '', latency NULL for metrics).
 */
#define STORE_STATS_SOURCE_SQL \
	"(SELECT minute, tenant, service, model, provider, operation, agent, calls, errors, input_tokens, " \
	"output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, latency FROM rollup_minute " \
	"UNION ALL SELECT m.minute, m.tenant, m.service, m.model, m.provider, m.operation, '', m.calls, 0, " \
	"m.input_tokens, m.output_tokens, m.cache_read_tokens, m.cache_write_tokens, m.reasoning_tokens, m.cost_nusd, " \
	"NULL FROM rollup_minute_metrics m WHERE NOT EXISTS (SELECT 1 FROM rollup_minute r WHERE " \
	"r.minute BETWEEN m.minute - 5 AND m.minute + 1 " \
	"AND r.tenant = m.tenant AND r.service = m.service AND r.model = m.model))"

#define STORE_LOG_TENANT_MAX 64

/* One log record ready to insert: columns, and bytes of sig->buf. */
struct store__logrow {
	uint64_t time_ns;             /* the effective time: model_log_time, else the receive time */
	int severity;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	int has_trace, has_span;
	uint64_t res_id;
	size_t svc_off, svc_len;      /* service */
	size_t ev_off, ev_len;        /* event name */
	size_t off, len;              /* data column */
};

/* One distinct resource + scope of the batch (log_res row). */
struct store__resrow {
	uint64_t id;
	uint64_t last_ns;
	size_t off, len;
};

/* One usage fact, copied (strings truncated to the rollup column sizes). */
struct store__ufact {
	uint64_t minute;              /* unix minutes */
	char tenant[STORE_LOG_TENANT_MAX];
	char service[128];
	char model[96];
	char provider[32];
	char operation[32];
	int64_t calls;
	int64_t tokens[5];            /* input, output, cache read, cache write, reasoning */
	int64_t cost_nusd;            /* 0 when unknown */
};

/* What a logs or metrics request adds besides spans; owned by its ingest item. */
struct store__sig {
	char tenant[STORE_LOG_TENANT_MAX];
	struct tl_buf buf;
	struct store__logrow *logs;
	size_t n_logs;
	struct store__resrow *res;
	size_t n_res;
	struct store__ufact *usage;
	size_t n_usage;
	size_t bytes;                 /* memory, for the queue bound */
};

/*
 * Copies the logs (tenant: the batch's, "default" if empty) and usage facts
 * into a new struct store__sig. Records are encoded as protobuf LogRecords
 * (compressed with cctx, which may be NULL, when that saves bytes); a record
 * without any time gets now_ns as its effective time. Returns owned (free with
 * store__sig_free), or TL_ENOMEM / TL_ETOOBIG.
 */
int store__sig_build(const struct tl_logs_batch *logs, const struct tl_usage_fact *usage, size_t n_usage,
		     ZSTD_CCtx *cctx, uint64_t now_ns, struct store__sig **out);
/* Accepts NULL. */
void store__sig_free(struct store__sig *g);

/* The writer's prepared statements for store__sig_write. */
struct store__sigst {
	sqlite3_stmt *log, *res, *usage;
};

int store__sig_prepare(sqlite3 *db, struct store__sigst *st);
void store__sig_finalize(struct store__sigst *st);
/* Inserts sig's rows inside the open transaction (writer thread). */
int store__sig_write(struct store__sigst *st, const struct store__sig *g);

/* Age retention inside its own transactions: deletes log records (up to
 * max_rows; 0 = all) older than cutoff_ns, their unused log_res rows and the
 * metric rollup minutes before the cutoff. Returns the records deleted or a
 * negative error. */
int store__sig_retention(sqlite3 *db, int64_t cutoff_ns, int max_rows);
/* Size retention: deletes the n oldest log records. Returns the number deleted. */
int store__logs_trim(sqlite3 *db, int n);

/* Reads (any reader connection). */
int store__logs_list(sqlite3 *db, const struct store_log_filter *f, struct store_logs *out, int *more);
int store__logs_trace(sqlite3 *db, const char *tenant, const uint8_t trace_id[16], struct store_logs *out);

/* Writes the usage facts of sig (usage.c). */
int store__usage_write(sqlite3_stmt *upsert, const struct store__sig *g);
#define STORE_USAGE_UPSERT_SQL \
	"INSERT INTO rollup_minute_metrics(minute, tenant, service, model, provider, operation, calls, input_tokens, " \
	"output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd) " \
	"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(minute, tenant, service, model, provider, operation) " \
	"DO UPDATE SET calls = calls + excluded.calls, input_tokens = input_tokens + excluded.input_tokens, " \
	"output_tokens = output_tokens + excluded.output_tokens, " \
	"cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens, " \
	"cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, " \
	"reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, cost_nusd = cost_nusd + excluded.cost_nusd"
/* Copies facts into g->usage (usage.c). */
int store__usage_copy(struct store__sig *g, const struct tl_usage_fact *u, size_t n);

#endif
