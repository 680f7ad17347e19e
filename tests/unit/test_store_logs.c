/*
 * test_store_logs.c - the store's logs and metric-usage parts (src/store/logs.c,
 * usage.c, their part of sqlite.c): record encoding round trips, list filters
 * and cursor, the trace lookup, retention, the stats source that never counts
 * a call twice, and, through the public interface, durability: done after the
 * commit, and acknowledged records present exactly once after reopening.
 */
#include "tl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "otlp/otlp.h"
#include "store/signals_int.h"

/* Two resources; records with and without trace context, a kvlist body, an
 * int attribute, a record with only the observed time. */
static const char logs_json[] =
	"{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"agent\"}},"
	"{\"key\":\"host.name\",\"value\":{\"stringValue\":\"box\"}}]},"
	"\"scopeLogs\":[{\"scope\":{\"name\":\"genai\",\"version\":\"1.2\"},\"logRecords\":["
	"{\"timeUnixNano\":\"1700000000000000000\",\"observedTimeUnixNano\":\"1700000000100000000\",\"severityNumber\":9,"
	"\"severityText\":\"INFO\",\"eventName\":\"gen_ai.user.message\",\"body\":{\"kvlistValue\":{\"values\":["
	"{\"key\":\"content\",\"value\":{\"stringValue\":\"What is the Weather in Paris?\"}}]}},"
	"\"attributes\":[{\"key\":\"gen_ai.system\",\"value\":{\"stringValue\":\"openai\"}},"
	"{\"key\":\"n\",\"value\":{\"intValue\":\"0\"}},{\"key\":\"ok\",\"value\":{\"boolValue\":false}}],"
	"\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1112131415161718\",\"flags\":1},"
	"{\"timeUnixNano\":\"1700000001000000000\",\"severityNumber\":17,\"severityText\":\"ERROR\","
	"\"body\":{\"stringValue\":\"tool failed: timeout\"},"
	"\"traceId\":\"0102030405060708090a0b0c0d0e0f10\"}]}]},"
	"{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"other\"}}]},"
	"\"scopeLogs\":[{\"logRecords\":[{\"observedTimeUnixNano\":\"1700000002000000000\",\"severityNumber\":5,"
	"\"body\":{\"stringValue\":\"codex.api_request\"},"
	"\"attributes\":[{\"key\":\"event.name\",\"value\":{\"stringValue\":\"codex.api_request\"}}]}]}]}]}";

static int decode(struct tl_arena *a, const char *json, struct tl_logs_batch *b)
{
	struct otlp_limits lim = {32, (size_t)64 << 20};
	struct otlp_error err;
	memset(&err, 0, sizeof err);
	int rc = otlp_decode_logs_json(json, strlen(json), a, &lim, b, &err);
	if (rc)
		fprintf(stderr, "decode: %s\n", err.msg);
	return rc;
}

static sqlite3 *mem_db(void)
{
	sqlite3 *db = NULL;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return NULL;
	sqlite3_exec(db,
		     "CREATE TABLE rollup_minute(minute INTEGER NOT NULL, tenant TEXT NOT NULL, service TEXT NOT NULL, "
		     "model TEXT NOT NULL, provider TEXT NOT NULL, operation TEXT NOT NULL, agent TEXT NOT NULL, "
		     "calls INTEGER, errors INTEGER, input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, "
		     "cache_write_tokens INTEGER, reasoning_tokens INTEGER, cost_nusd INTEGER, latency BLOB, "
		     "PRIMARY KEY(minute, tenant, service, model, provider, operation, agent)) WITHOUT ROWID;" STORE_SIG_SCHEMA_SQL,
		     NULL, NULL, NULL);
	return db;
}

/* Builds and writes a batch; returns 0. */
static int write_batch(sqlite3 *db, const struct tl_logs_batch *b, const struct tl_usage_fact *u, size_t nu,
		       uint64_t now)
{
	struct store__sig *g = NULL;
	struct store__sigst st;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	int rc = store__sig_build(b, u, nu, cctx, now, &g);
	ZSTD_freeCCtx(cctx);
	if (rc)
		return rc;
	if ((rc = store__sig_prepare(db, &st)) == 0) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		rc = store__sig_write(&st, g);
		sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
		store__sig_finalize(&st);
	}
	store__sig_free(g);
	return rc;
}

static int64_t count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static struct store_log_filter all_filter(void)
{
	struct store_log_filter f;
	memset(&f, 0, sizeof f);
	f.tenant = "t1";
	f.limit = 100;
	return f;
}

TEST(round_trip_and_columns)
{
	struct tl_arena *a = tl_arena_create(4096, 64 << 20);
	struct tl_logs_batch b;
	struct store_logs out;
	struct store_log_filter f = all_filter();
	sqlite3 *db = mem_db();
	int more = 1;

	CHECK(db != NULL);
	CHECK_EQ_INT(decode(a, logs_json, &b), 0);
	b.tenant = TL_STR_LIT("t1");
	CHECK_EQ_INT(write_batch(db, &b, NULL, 0, 42), 0);
	CHECK_EQ_INT(count_rows(db, "SELECT count(*) FROM logs"), 3);
	/* The first two records share their resource and scope. */
	CHECK_EQ_INT(count_rows(db, "SELECT count(*) FROM log_res"), 2);
	CHECK_EQ_INT(count_rows(db, "SELECT count(*) FROM logs WHERE event = 'codex.api_request' AND service = 'other'"), 1);

	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 3);
	CHECK_EQ_INT(more, 0);
	/* Newest first; the observed-only record is placed at its observed time. */
	CHECK_EQ_INT(out.items[0].time_unix_nano == 1700000002000000000ull, 1);
	CHECK_EQ_INT(out.items[0].rec.time_unix_nano, 0);
	CHECK_STR(out.items[0].rec.resource->service, "other");
	const struct tl_log_record *r = &out.items[2].rec;
	CHECK_EQ_INT(r->time_unix_nano == 1700000000000000000ull, 1);
	CHECK_EQ_INT(r->observed_time_unix_nano == 1700000000100000000ull, 1);
	CHECK_EQ_INT(r->severity_number, 9);
	CHECK_STR(r->severity_text, "INFO");
	CHECK_STR(r->event_name, "gen_ai.user.message");
	CHECK_EQ_INT(r->body.kind, TL_V_KVLIST);
	CHECK_EQ_INT(r->body.u.kv.n, 1);
	CHECK_STR(r->body.u.kv.items[0].v.u.s, "What is the Weather in Paris?");
	CHECK_EQ_INT(r->attrs.n, 3);
	CHECK_EQ_INT(r->attrs.items[1].v.kind, TL_V_INT);
	CHECK_EQ_INT(r->attrs.items[1].v.u.i, 0);
	CHECK_EQ_INT(r->attrs.items[2].v.kind, TL_V_BOOL);
	CHECK_EQ_INT(r->flags, 1);
	CHECK_EQ_INT(r->has_trace_id && r->has_span_id, 1);
	CHECK_EQ_INT(r->trace_id[15], 0x10);
	CHECK_EQ_INT(r->span_id[7], 0x18);
	CHECK_STR(r->resource->service, "agent");
	CHECK_EQ_INT(r->resource->attrs.n, 2);
	CHECK_STR(r->scope->name, "genai");
	CHECK_STR(r->scope->version, "1.2");
	CHECK_EQ_INT(out.items[1].rec.has_span_id, 0);
	store_logs_cleanup(&out);

	/* Another tenant sees nothing. */
	f.tenant = "t2";
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 0);
	store_logs_cleanup(&out);
	sqlite3_close(db);
	tl_arena_destroy(a);
}

TEST(filters_and_cursor)
{
	struct tl_arena *a = tl_arena_create(4096, 64 << 20);
	struct tl_logs_batch b;
	struct store_logs out;
	struct store_log_filter f;
	sqlite3 *db = mem_db();
	int more = 0;
	static const uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

	CHECK_EQ_INT(decode(a, logs_json, &b), 0);
	b.tenant = TL_STR_LIT("t1");
	CHECK_EQ_INT(write_batch(db, &b, NULL, 0, 42), 0);

	f = all_filter();
	f.min_severity = 13;
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_INT(out.items[0].rec.severity_number, 17);
	store_logs_cleanup(&out);

	f = all_filter();
	f.service = "agent";
	f.has_trace_id = 1;
	memcpy(f.trace_id, tid, 16);
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 2);
	store_logs_cleanup(&out);

	f.has_span_id = 1;
	memcpy(f.span_id, (const uint8_t[8]){0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}, 8);
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 1);
	store_logs_cleanup(&out);

	f = all_filter();
	f.event = "gen_ai.user.message";
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 1);
	store_logs_cleanup(&out);

	/* q: case-insensitive, in string leaves of the body and attributes. */
	f = all_filter();
	f.q = "WEATHER in";
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_INT(out.items[0].rec.severity_number, 9);
	store_logs_cleanup(&out);
	f.q = "openai";
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 1);
	store_logs_cleanup(&out);
	f.q = "nowhere";
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 0);
	store_logs_cleanup(&out);

	/* Time window. */
	f = all_filter();
	f.start_unix_nano = 1700000000500000000ull;
	f.end_unix_nano = 1700000001500000000ull;
	CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 1);
	store_logs_cleanup(&out);

	/* Pages of one: every record once, in order, then no more. */
	f = all_filter();
	f.limit = 1;
	uint64_t seen[3];
	for (int page = 0; page < 3; page++) {
		CHECK_EQ_INT(store__logs_list(db, &f, &out, &more), 0);
		CHECK_EQ_INT(out.n, 1);
		CHECK_EQ_INT(more, page < 2);
		seen[page] = out.items[0].time_unix_nano;
		f.has_cursor = 1;
		f.cursor_time = out.items[0].time_unix_nano;
		f.cursor_id = out.items[0].id;
		store_logs_cleanup(&out);
	}
	CHECK(seen[0] > seen[1] && seen[1] > seen[2]);

	/* The trace lookup: both records of the trace, oldest first. */
	CHECK_EQ_INT(store__logs_trace(db, "t1", tid, &out), 0);
	CHECK_EQ_INT(out.n, 2);
	CHECK_EQ_INT(out.items[0].rec.severity_number, 9);
	store_logs_cleanup(&out);
	CHECK_EQ_INT(store__logs_trace(db, "t2", tid, &out), 0);
	CHECK_EQ_INT(out.n, 0);
	store_logs_cleanup(&out);
	sqlite3_close(db);
	tl_arena_destroy(a);
}

TEST(retention_and_trim)
{
	struct tl_arena *a = tl_arena_create(4096, 64 << 20);
	struct tl_logs_batch b;
	sqlite3 *db = mem_db();
	struct tl_usage_fact u;

	CHECK_EQ_INT(decode(a, logs_json, &b), 0);
	b.tenant = TL_STR_LIT("t1");
	memset(&u, 0, sizeof u);
	u.minute_unix = 1699990000 / 60 * 60; /* a minute before the cutoff's */
	u.model = TL_STR_LIT("m");
	u.calls = 1;
	CHECK_EQ_INT(write_batch(db, &b, &u, 1, 42), 0);
	CHECK_EQ_INT(count_rows(db, "SELECT count(*) FROM rollup_minute_metrics"), 1);
	/* Cut between the second and third record. */
	CHECK_EQ_INT(store__sig_retention(db, 1700000001500000000ll, 0), 2);
	CHECK_EQ_INT(count_rows(db, "SELECT count(*) FROM logs"), 1);
	CHECK_EQ_INT(count_rows(db, "SELECT count(*) FROM log_res"), 1);
	CHECK_EQ_INT(count_rows(db, "SELECT count(*) FROM rollup_minute_metrics"), 0);
	CHECK_EQ_INT(store__logs_trim(db, 5), 1);
	CHECK_EQ_INT(count_rows(db, "SELECT count(*) FROM logs"), 0);
	sqlite3_close(db);
	tl_arena_destroy(a);
}

/* The stats source: metric rows only where no span rollup has the same
 * (minute, tenant, service, model). */
TEST(stats_source_dedup)
{
	sqlite3 *db = mem_db();
	struct tl_usage_fact u[2];
	memset(u, 0, sizeof u);
	for (int i = 0; i < 2; i++) {
		u[i].minute_unix = 600;
		u[i].tenant = TL_STR_LIT("t1");
		u[i].service = TL_STR_LIT("svc");
		u[i].provider = TL_STR_LIT("openai");
		u[i].operation = TL_STR_LIT("chat");
		u[i].calls = 2;
		u[i].input_tokens = 100;
		u[i].output_tokens = 10;
		u[i].cost_nusd = TL_NONE;
	}
	u[0].model = TL_STR_LIT("gpt-a");
	u[1].model = TL_STR_LIT("gpt-b");
	CHECK_EQ_INT(write_batch(db, NULL, u, 2, 0), 0);
	/* Sent twice: summed. */
	CHECK_EQ_INT(write_batch(db, NULL, u, 1, 0), 0);
	sqlite3_exec(db,
		     "INSERT INTO rollup_minute VALUES (10, 't1', 'svc', 'gpt-a', 'openai', 'chat', '', 2, 0, 100, 10, 0, 0, 0, "
		     "5, NULL)",
		     NULL, NULL, NULL);
	CHECK_EQ_INT(count_rows(db, "SELECT sum(calls) FROM " STORE_STATS_SOURCE_SQL " WHERE tenant = 't1'"), 4);
	CHECK_EQ_INT(count_rows(db, "SELECT sum(input_tokens) FROM " STORE_STATS_SOURCE_SQL " WHERE model = 'gpt-a'"),
		     100);
	CHECK_EQ_INT(count_rows(db, "SELECT sum(calls) FROM " STORE_STATS_SOURCE_SQL " WHERE model = 'gpt-b'"), 2);
	CHECK_EQ_INT(count_rows(db, "SELECT calls FROM rollup_minute_metrics WHERE model = 'gpt-a'"), 4);
	CHECK_EQ_INT(count_rows(db, "SELECT cost_nusd FROM rollup_minute_metrics WHERE model = 'gpt-a'"), 0);

	/* A metric point stamped in the next minute (export after the calls) is still
	 * covered by the span rollup of minute 10; one 7 minutes later is not. */
	u[0].minute_unix = 660;
	u[0].calls = 3;
	CHECK_EQ_INT(write_batch(db, NULL, u, 1, 0), 0);
	CHECK_EQ_INT(count_rows(db, "SELECT sum(calls) FROM " STORE_STATS_SOURCE_SQL " WHERE model = 'gpt-a'"), 2);
	u[0].minute_unix = 1020;
	u[0].calls = 5;
	CHECK_EQ_INT(write_batch(db, NULL, u, 1, 0), 0);
	CHECK_EQ_INT(count_rows(db, "SELECT sum(calls) FROM " STORE_STATS_SOURCE_SQL " WHERE model = 'gpt-a'"), 7);
	sqlite3_close(db);
}

/* ---- through the public interface ---------------------------------------------- */

static char *tmp_dir(void)
{
	char *d = strdup("/tmp/tl_store_logs_XXXXXX");
	if (!d || !mkdtemp(d))
		abort();
	return d;
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, status;
};

static void on_done(void *arg, int status)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->done++;
	w->status = status;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void wait_done(struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static struct store *open_store(const char *dir)
{
	struct store_config c;
	struct store *s = NULL;
	char err[256];
	store_config_defaults(&c);
	c.data_dir = dir;
	if (store_open(&c, &s, err, sizeof err))
		fprintf(stderr, "store_open: %s\n", err);
	return s;
}

TEST(append_signal_durable_once)
{
	char *dir = tmp_dir();
	struct tl_arena *a = tl_arena_create(4096, 64 << 20);
	struct tl_logs_batch b;
	struct store_signal sig;
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	struct store_logs out;
	struct store_log_filter f = all_filter();
	struct tl_usage_fact u;
	int more;
	struct store *s = open_store(dir);

	CHECK(s != NULL);
	CHECK_EQ_INT(decode(a, logs_json, &b), 0);
	b.tenant = TL_STR_LIT("t1");
	memset(&u, 0, sizeof u);
	u.minute_unix = tl_now_unix_nano() / 1000000000ull / 60 * 60;
	u.tenant = TL_STR_LIT("t1");
	u.service = TL_STR_LIT("agent");
	u.model = TL_STR_LIT("gpt-x");
	u.calls = 3;
	u.input_tokens = 30;
	memset(&sig, 0, sizeof sig);
	sig.logs = &b;
	sig.usage = &u;
	sig.n_usage = 1;
	CHECK_EQ_INT(store_append_signal(s, &sig, on_done, &w), 0);
	wait_done(&w);
	CHECK_EQ_INT(w.status, 0);
	CHECK_EQ_INT(store_list_logs(s, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 3);
	store_logs_cleanup(&out);

	/* Usage facts answer /stats when there are no spans. */
	struct store_stats_filter sf;
	struct store_stats_point *pts = NULL;
	size_t np = 0;
	memset(&sf, 0, sizeof sf);
	sf.tenant = "t1";
	sf.start_unix_nano = 0;
	sf.end_unix_nano = tl_now_unix_nano() + 120000000000ull;
	sf.group_by = STORE_G_MODEL;
	CHECK_EQ_INT(store_stats(s, &sf, &pts, &np), 0);
	CHECK_EQ_INT(np, 1);
	if (np == 1) {
		CHECK_EQ_INT(pts[0].calls, 3);
		CHECK_EQ_INT(pts[0].input_tokens, 30);
		CHECK_EQ_STR(pts[0].model, "gpt-x");
	}
	free(pts);
	store_close(s);

	/* Reopened: the acknowledged records are there once. */
	s = open_store(dir);
	CHECK(s != NULL);
	CHECK_EQ_INT(store_list_logs(s, &f, &out, &more), 0);
	CHECK_EQ_INT(out.n, 3);
	store_logs_cleanup(&out);
	store_close(s);
	tl_arena_destroy(a);
	free(dir);
}

static const struct tl_test_case tests[] = {
	T(round_trip_and_columns), T(filters_and_cursor), T(retention_and_trim), T(stats_source_dedup),
	T(append_signal_durable_once),
};

TEST_MAIN("store_logs", tests)
