/*
 * logs.c - OTLP log records in the store (see signals_int.h and
 * docs/design/store.md "Logs"): the compact row encoding built on the caller's
 * thread, the inserts the writer runs inside its group commit, retention, and
 * the reads behind GET /api/v1/logs and the trace view.
 *
 * A record is stored as a protobuf LogRecord (OTLP field numbers, so the OTLP
 * logs decoder reads it back) in its own row; its resource and scope, which
 * many records share, are stored once in log_res. Reading a record rebuilds a
 * one-record ExportLogsServiceRequest and decodes it.
 */
#include "store/signals_int.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "otlp/otlp.h"
#include "proto/proto.h"

#define SIG_MAX_BYTES ((size_t)1 << 30)
#define ZMIN 160                 /* records shorter than this are not compressed */
#define LOG_ZLEVEL 3
#define TRACE_LOGS_MAX 10000
#define READ_MAX_RECORD ((size_t)64 << 20)

/* ---- encoding ------------------------------------------------------------- */

static int put_value(struct tl_buf *b, const struct tl_value *v);

static int put_kvs(struct tl_buf *b, uint32_t field, const struct tl_kv *kv, uint32_t n)
{
	size_t m, m2;
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		rc = pb_begin(b, field, &m);
		if (!rc)
			rc = pb_put_bytes(b, 1, kv[i].key.p, kv[i].key.n);
		if (!rc)
			rc = pb_begin(b, 2, &m2);
		if (!rc)
			rc = put_value(b, &kv[i].v);
		if (!rc)
			rc = pb_end(b, m2);
		if (!rc)
			rc = pb_end(b, m);
	}
	return rc;
}

/* The content of an AnyValue; a scalar equal to its zero value is written
 * explicitly so the oneof stays set. */
static int put_value(struct tl_buf *b, const struct tl_value *v)
{
	size_t m;
	int rc = 0;
	switch (v->kind) {
	case TL_V_STR:
		return pb_put_bytes_always(b, 1, v->u.s.p, v->u.s.n);
	case TL_V_BOOL:
		if ((rc = pb_put_tag(b, 2, 0)) == 0)
			rc = pb_put_varint(b, v->u.b ? 1 : 0);
		return rc;
	case TL_V_INT:
		if ((rc = pb_put_tag(b, 3, 0)) == 0)
			rc = pb_put_varint(b, (uint64_t)v->u.i);
		return rc;
	case TL_V_DOUBLE:
		return pb_put_double(b, 4, v->u.d);
	case TL_V_ARRAY:
		if ((rc = pb_begin(b, 5, &m)))
			return rc;
		for (uint32_t i = 0; i < v->u.arr.n && rc == 0; i++) {
			size_t m2;
			rc = pb_begin(b, 1, &m2);
			if (!rc)
				rc = put_value(b, &v->u.arr.items[i]);
			if (!rc)
				rc = pb_end(b, m2);
		}
		return rc ? rc : pb_end(b, m);
	case TL_V_KVLIST:
		if ((rc = pb_begin(b, 6, &m)))
			return rc;
		rc = put_kvs(b, 1, v->u.kv.items, v->u.kv.n);
		return rc ? rc : pb_end(b, m);
	case TL_V_BYTES:
		return pb_put_bytes_always(b, 7, v->u.s.p, v->u.s.n);
	}
	return 0;
}

/* A LogRecord message body. */
static int put_record(struct tl_buf *b, const struct tl_log_record *r)
{
	size_t m;
	int rc = pb_put_fixed64(b, 1, r->time_unix_nano);
	if (!rc)
		rc = pb_put_int64(b, 2, r->severity_number);
	if (!rc)
		rc = pb_put_bytes(b, 3, r->severity_text.p, r->severity_text.n);
	if (!rc && r->body.kind != TL_V_EMPTY) {
		rc = pb_begin(b, 5, &m);
		if (!rc)
			rc = put_value(b, &r->body);
		if (!rc)
			rc = pb_end(b, m);
	}
	if (!rc)
		rc = put_kvs(b, 6, r->attrs.items, r->attrs.n);
	if (!rc)
		rc = pb_put_uint(b, 7, r->attrs.dropped);
	if (!rc)
		rc = pb_put_fixed32(b, 8, r->flags);
	if (!rc && r->has_trace_id)
		rc = pb_put_bytes(b, 9, r->trace_id, 16);
	if (!rc && r->has_span_id)
		rc = pb_put_bytes(b, 10, r->span_id, 8);
	if (!rc)
		rc = pb_put_fixed64(b, 11, r->observed_time_unix_nano);
	if (!rc)
		rc = pb_put_bytes(b, 12, r->event_name.p, r->event_name.n);
	return rc;
}

/* The resource part (ResourceLogs without scope_logs) and the scope part
 * (ScopeLogs without log_records), as varint(len(resource part)) + both. */
static int put_res(struct tl_buf *b, const struct tl_resource *res, const struct tl_scope *sc)
{
	struct tl_buf a;
	size_t m;
	int rc;
	tl_buf_init(&a, SIG_MAX_BYTES);
	rc = pb_begin(&a, 1, &m);
	if (!rc)
		rc = put_kvs(&a, 1, res->attrs.items, res->attrs.n);
	if (!rc)
		rc = pb_put_uint(&a, 2, res->attrs.dropped);
	if (!rc)
		rc = pb_end(&a, m);
	if (!rc)
		rc = pb_put_bytes(&a, 3, res->schema_url.p, res->schema_url.n);
	if (!rc)
		rc = pb_put_varint(b, a.len);
	if (!rc && a.len)
		rc = tl_buf_append(b, a.data, a.len);
	if (!rc)
		rc = pb_begin(b, 1, &m);
	if (!rc)
		rc = pb_put_bytes(b, 1, sc->name.p, sc->name.n);
	if (!rc)
		rc = pb_put_bytes(b, 2, sc->version.p, sc->version.n);
	if (!rc)
		rc = put_kvs(b, 3, sc->attrs.items, sc->attrs.n);
	if (!rc)
		rc = pb_put_uint(b, 4, sc->attrs.dropped);
	if (!rc)
		rc = pb_end(b, m);
	if (!rc)
		rc = pb_put_bytes(b, 3, sc->schema_url.p, sc->schema_url.n);
	tl_buf_cleanup(&a);
	return rc;
}

static uint64_t fnv64(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	/* A positive rowid that is never 0. */
	h &= 0x7fffffffffffffffULL;
	return h ? h : 1;
}

static size_t put_str(struct tl_buf *b, struct tl_str s, size_t *len, size_t max)
{
	size_t off = b->len;
	size_t n = s.n < max ? s.n : max;
	if (n && tl_buf_append(b, s.p, n) < 0)
		return (size_t)-1;
	*len = n;
	return off;
}

int store__sig_build(const struct tl_logs_batch *logs, const struct tl_usage_fact *usage, size_t n_usage,
		     ZSTD_CCtx *cctx, uint64_t now_ns, struct store__sig **out)
{
	struct store__sig *g = calloc(1, sizeof *g);
	struct tl_buf rec;
	struct {
		const struct tl_resource *r;
		const struct tl_scope *s;
		size_t idx;
	} *cache = NULL;
	size_t ncache = 0, nres_cap = 0;
	void *zbuf = NULL;
	size_t zcap = 0;
	int rc = 0;

	*out = NULL;
	if (!g)
		abort();
	tl_buf_init(&g->buf, SIG_MAX_BYTES);
	tl_buf_init(&rec, SIG_MAX_BYTES);
	if (logs && logs->n_records) {
		struct tl_str t = logs->tenant.n ? logs->tenant : TL_STR_LIT("default");
		size_t tn = t.n < sizeof g->tenant - 1 ? t.n : sizeof g->tenant - 1;
		memcpy(g->tenant, t.p, tn);
		g->tenant[tn] = 0;
		g->logs = calloc(logs->n_records, sizeof *g->logs);
		cache = calloc(logs->n_records, sizeof *cache);
		if (!g->logs || !cache)
			abort();
	} else {
		memcpy(g->tenant, "default", 8);
	}
	for (size_t i = 0; logs && i < logs->n_records; i++) {
		const struct tl_log_record *r = &logs->records[i];
		struct store__logrow *w = &g->logs[g->n_logs];
		size_t ri = (size_t)-1;
		struct tl_str svc = r->resource->service.n ? r->resource->service : TL_STR_LIT("unknown_service");

		w->time_ns = model_log_time(r);
		if (!w->time_ns)
			w->time_ns = now_ns;
		for (size_t k = 0; k < ncache; k++)
			if (cache[k].r == r->resource && cache[k].s == r->scope)
				ri = cache[k].idx;
		if (ri == (size_t)-1) {
			size_t off = g->buf.len;
			if ((rc = put_res(&g->buf, r->resource, r->scope)) < 0)
				goto out;
			uint64_t id = fnv64(g->buf.data + off, g->buf.len - off);
			/* Identical resources behind different pointers share a row. */
			for (size_t k = 0; k < g->n_res && ri == (size_t)-1; k++)
				if (g->res[k].id == id) {
					ri = k;
					g->buf.len = off;
				}
			if (ri == (size_t)-1) {
				if (g->n_res == nres_cap) {
					nres_cap = nres_cap ? nres_cap * 2 : 4;
					g->res = realloc(g->res, nres_cap * sizeof *g->res);
					if (!g->res)
						abort();
				}
				ri = g->n_res++;
				g->res[ri].id = id;
				g->res[ri].off = off;
				g->res[ri].len = g->buf.len - off;
				g->res[ri].last_ns = 0;
			}
			cache[ncache].r = r->resource;
			cache[ncache].s = r->scope;
			cache[ncache].idx = ri;
			ncache++;
		}
		if (w->time_ns > g->res[ri].last_ns)
			g->res[ri].last_ns = w->time_ns;
		w->res_id = g->res[ri].id;
		w->severity = r->severity_number;
		w->has_trace = r->has_trace_id;
		w->has_span = r->has_span_id;
		memcpy(w->trace_id, r->trace_id, 16);
		memcpy(w->span_id, r->span_id, 8);
		if ((w->svc_off = put_str(&g->buf, svc, &w->svc_len, 128)) == (size_t)-1 ||
		    (w->ev_off = put_str(&g->buf, model_log_event_name(r), &w->ev_len, 256)) == (size_t)-1) {
			rc = TL_ETOOBIG;
			goto out;
		}
		tl_buf_reset(&rec);
		if ((rc = put_record(&rec, r)) < 0)
			goto out;
		w->off = g->buf.len;
		if (rec.len >= ZMIN && cctx) {
			size_t bound = ZSTD_compressBound(rec.len);
			if (bound > zcap) {
				free(zbuf);
				zcap = bound;
				zbuf = malloc(zcap);
				if (!zbuf)
					abort();
			}
			size_t z = ZSTD_compressCCtx(cctx, zbuf, zcap, rec.data, rec.len, LOG_ZLEVEL);
			if (!ZSTD_isError(z) && z + 8 < rec.len) {
				if (tl_buf_putc(&g->buf, 1) < 0 || tl_buf_append(&g->buf, zbuf, z) < 0) {
					rc = TL_ETOOBIG;
					goto out;
				}
				w->len = g->buf.len - w->off;
				g->n_logs++;
				continue;
			}
		}
		if (tl_buf_putc(&g->buf, 0) < 0 || (rec.len && tl_buf_append(&g->buf, rec.data, rec.len) < 0)) {
			rc = TL_ETOOBIG;
			goto out;
		}
		w->len = g->buf.len - w->off;
		g->n_logs++;
	}
	if (n_usage && (rc = store__usage_copy(g, usage, n_usage)) < 0)
		goto out;
	g->bytes = sizeof *g + g->buf.cap + g->n_logs * sizeof *g->logs + g->n_res * sizeof *g->res +
		   g->n_usage * sizeof *g->usage;
	*out = g;
	g = NULL;
out:
	free(cache);
	free(zbuf);
	tl_buf_cleanup(&rec);
	store__sig_free(g);
	return rc;
}

void store__sig_free(struct store__sig *g)
{
	if (!g)
		return;
	tl_buf_cleanup(&g->buf);
	free(g->logs);
	free(g->res);
	free(g->usage);
	free(g);
}

/* ---- writing ------------------------------------------------------------------ */

int store__sig_prepare(sqlite3 *db, struct store__sigst *st)
{
	memset(st, 0, sizeof *st);
	if (sqlite3_prepare_v3(db,
			       "INSERT INTO logs(tenant, time_ns, trace_id, span_id, severity, service, event, res, data) "
			       "VALUES (?,?,?,?,?,?,?,?,?)",
			       -1, SQLITE_PREPARE_PERSISTENT, &st->log, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db,
			       "INSERT INTO log_res(id, last_ns, data) VALUES (?,?,?) ON CONFLICT(id) DO UPDATE SET "
			       "last_ns = max(last_ns, excluded.last_ns)",
			       -1, SQLITE_PREPARE_PERSISTENT, &st->res, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, STORE_USAGE_UPSERT_SQL, -1, SQLITE_PREPARE_PERSISTENT, &st->usage, NULL) !=
		    SQLITE_OK) {
		store__sig_finalize(st);
		return TL_ESTORE;
	}
	return 0;
}

void store__sig_finalize(struct store__sigst *st)
{
	sqlite3_finalize(st->log);
	sqlite3_finalize(st->res);
	sqlite3_finalize(st->usage);
	memset(st, 0, sizeof *st);
}

static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : TL_ESTORE;
}

int store__sig_write(struct store__sigst *st, const struct store__sig *g)
{
	const char *b = g->buf.data;
	int rc = 0;
	for (size_t i = 0; i < g->n_res && rc == 0; i++) {
		sqlite3_bind_int64(st->res, 1, (int64_t)g->res[i].id);
		sqlite3_bind_int64(st->res, 2, (int64_t)g->res[i].last_ns);
		sqlite3_bind_blob(st->res, 3, b + g->res[i].off, (int)g->res[i].len, SQLITE_STATIC);
		rc = step(st->res);
	}
	for (size_t i = 0; i < g->n_logs && rc == 0; i++) {
		const struct store__logrow *w = &g->logs[i];
		sqlite3_bind_text(st->log, 1, g->tenant, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st->log, 2, (int64_t)w->time_ns);
		if (w->has_trace)
			sqlite3_bind_blob(st->log, 3, w->trace_id, 16, SQLITE_STATIC);
		if (w->has_span)
			sqlite3_bind_blob(st->log, 4, w->span_id, 8, SQLITE_STATIC);
		sqlite3_bind_int(st->log, 5, w->severity);
		sqlite3_bind_text(st->log, 6, w->svc_len ? b + w->svc_off : "", (int)w->svc_len, SQLITE_STATIC);
		sqlite3_bind_text(st->log, 7, w->ev_len ? b + w->ev_off : "", (int)w->ev_len, SQLITE_STATIC);
		sqlite3_bind_int64(st->log, 8, (int64_t)w->res_id);
		sqlite3_bind_blob(st->log, 9, b + w->off, (int)w->len, SQLITE_STATIC);
		rc = step(st->log);
	}
	if (rc == 0 && g->n_usage)
		rc = store__usage_write(st->usage, g);
	return rc;
}

/* ---- retention ------------------------------------------------------------------ */

static int exec_i64(sqlite3 *db, const char *sql, int64_t a, int64_t b2, int nb)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return TL_ESTORE;
	if (nb > 0)
		sqlite3_bind_int64(st, 1, a);
	if (nb > 1)
		sqlite3_bind_int64(st, 2, b2);
	rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db) : TL_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

int store__sig_retention(sqlite3 *db, int64_t cutoff_ns, int max_rows)
{
	int n, rc = 0;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return TL_EIO;
	n = exec_i64(db, "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE time_ns < ? LIMIT ?)", cutoff_ns,
		     max_rows > 0 ? max_rows : -1, 2);
	if (n < 0)
		rc = n;
	/* A resource row goes once no record can still use it: after the last
	 * batch of old records (a partial run leaves some). */
	if (rc == 0 && (max_rows <= 0 || n < max_rows) &&
	    exec_i64(db, "DELETE FROM log_res WHERE last_ns < ?", cutoff_ns, 0, 1) < 0)
		rc = TL_ESTORE;
	if (rc == 0 && exec_i64(db, "DELETE FROM rollup_minute_metrics WHERE minute < ?",
				cutoff_ns / 60000000000LL, 0, 1) < 0)
		rc = TL_ESTORE;
	if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = TL_EIO;
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc ? rc : n;
}

int store__logs_trim(sqlite3 *db, int n)
{
	return exec_i64(db, "DELETE FROM logs WHERE id IN (SELECT id FROM logs ORDER BY time_ns LIMIT ?)", n, 0, 1);
}

/* ---- reading --------------------------------------------------------------------- */

/* Decodes one row (record data, log_res data) into arena. */
static int decode_row(const void *data, size_t dlen, const void *res, size_t rlen, struct tl_arena *arena,
		      struct tl_log_record *out)
{
	const uint8_t *d = data, *rp = res;
	void *raw = NULL;
	size_t raw_len = 0, m1, m2;
	uint64_t alen = 0;
	struct tl_buf msg;
	struct tl_logs_batch batch;
	struct otlp_limits lim = {128, (size_t)1 << 30};
	struct otlp_error err;
	int rc = 0;

	tl_buf_init(&msg, READ_MAX_RECORD * 2);
	if (!dlen)
		return TL_ESTORE;
	if (d[0] == 1) {
		unsigned long long sz = ZSTD_getFrameContentSize(d + 1, dlen - 1);
		if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN || sz > READ_MAX_RECORD)
			return TL_ESTORE;
		raw = malloc(sz ? (size_t)sz : 1);
		if (!raw)
			abort();
		raw_len = ZSTD_decompress(raw, (size_t)sz, d + 1, dlen - 1);
		if (ZSTD_isError(raw_len) || raw_len != sz) {
			rc = TL_ESTORE;
			goto out;
		}
	}
	/* The resource part's length prefix (an empty row: empty resource). */
	if (rlen) {
		int k = pb_read_varint(rp, rp + rlen, &alen);
		if (k <= 0 || alen > rlen - (size_t)k) {
			rc = TL_ESTORE;
			goto out;
		}
		rp += k;
		rlen -= (size_t)k;
	}
	{
		size_t m3;
		if ((rc = pb_begin(&msg, 1, &m1)) < 0 || (alen && (rc = tl_buf_append(&msg, rp, (size_t)alen)) < 0) ||
		    (rc = pb_begin(&msg, 2, &m2)) < 0 ||
		    (rlen > alen && (rc = tl_buf_append(&msg, rp + alen, rlen - (size_t)alen)) < 0) ||
		    (rc = pb_begin(&msg, 2, &m3)) < 0)
			goto out;
		if (raw)
			rc = tl_buf_append(&msg, raw, raw_len);
		else if (dlen > 1)
			rc = tl_buf_append(&msg, d + 1, dlen - 1);
		if (rc < 0 || (rc = pb_end(&msg, m3)) < 0 || (rc = pb_end(&msg, m2)) < 0 || (rc = pb_end(&msg, m1)) < 0)
			goto out;
	}
	{
		char *copy = tl_arena_alloc(arena, msg.len ? msg.len : 1);
		if (!copy) {
			rc = TL_ENOMEM;
			goto out;
		}
		memcpy(copy, msg.data, msg.len);
		memset(&err, 0, sizeof err);
		rc = otlp_decode_logs_pb(copy, msg.len, arena, &lim, &batch, &err);
	}
	if (rc == 0 && batch.n_records != 1)
		rc = TL_ESTORE;
	if (rc == 0)
		*out = batch.records[0];
	else if (rc != TL_ENOMEM)
		rc = TL_ESTORE;
out:
	free(raw);
	tl_buf_cleanup(&msg);
	return rc;
}

static int ci_contains(const char *h, size_t n, const char *needle, size_t nn)
{
	if (nn == 0)
		return 1;
	for (size_t i = 0; i + nn <= n; i++) {
		size_t k = 0;
		while (k < nn) {
			char c = h[i + k];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != needle[k])
				break;
			k++;
		}
		if (k == nn)
			return 1;
	}
	return 0;
}

static int value_matches(const struct tl_value *v, const char *q, size_t qn, int depth)
{
	if (depth > 64)
		return 0;
	switch (v->kind) {
	case TL_V_STR:
		return ci_contains(v->u.s.p, v->u.s.n, q, qn);
	case TL_V_ARRAY:
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			if (value_matches(&v->u.arr.items[i], q, qn, depth + 1))
				return 1;
		return 0;
	case TL_V_KVLIST:
		for (uint32_t i = 0; i < v->u.kv.n; i++)
			if (value_matches(&v->u.kv.items[i].v, q, qn, depth + 1))
				return 1;
		return 0;
	}
	return 0;
}

static int record_matches(const struct tl_log_record *r, const char *q, size_t qn)
{
	if (value_matches(&r->body, q, qn, 0) || ci_contains(r->event_name.p, r->event_name.n, q, qn))
		return 1;
	for (uint32_t i = 0; i < r->attrs.n; i++)
		if (value_matches(&r->attrs.items[i].v, q, qn, 0))
			return 1;
	return 0;
}

struct collect {
	struct store_log *items;
	size_t n, cap;
};

static void collect_add(struct collect *c, const struct store_log *l)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->items = realloc(c->items, c->cap * sizeof *c->items);
		if (!c->items)
			abort();
	}
	c->items[c->n++] = *l;
}

static int collect_finish(struct collect *c, struct store_logs *out)
{
	int rc = 0;
	if (c->n) {
		out->items = tl_arena_alloc(out->arena, c->n * sizeof *out->items);
		if (!out->items)
			rc = TL_ENOMEM;
		else
			memcpy(out->items, c->items, c->n * sizeof *out->items);
		out->n = rc ? 0 : c->n;
	}
	free(c->items);
	return rc;
}

/*
 * Runs a prepared SELECT of (id, time_ns, data, res data) and decodes rows
 * into out until limit matches (q: lowercase needle or NULL). *more is set
 * when one more match exists.
 */
static int run_select(sqlite3_stmt *st, const char *q, size_t limit, struct store_logs *out, int *more)
{
	struct collect c = {NULL, 0, 0};
	struct tl_arena *scratch = q ? tl_arena_create(64 * 1024, (size_t)1 << 30) : NULL;
	size_t qn = q ? strlen(q) : 0;
	int rc = 0, r;

	if (more)
		*more = 0;
	if (q && !scratch)
		abort();
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_log l;
		const void *d = sqlite3_column_blob(st, 2), *res = sqlite3_column_blob(st, 3);
		size_t dl = (size_t)sqlite3_column_bytes(st, 2), rl = (size_t)sqlite3_column_bytes(st, 3);
		memset(&l, 0, sizeof l);
		l.id = sqlite3_column_int64(st, 0);
		l.time_unix_nano = (uint64_t)sqlite3_column_int64(st, 1);
		if (q) {
			tl_arena_reset(scratch);
			if ((rc = decode_row(d, dl, res, rl, scratch, &l.rec)) < 0)
				goto out;
			if (!record_matches(&l.rec, q, qn))
				continue;
		}
		if (c.n == limit) {
			if (more)
				*more = 1;
			break;
		}
		if ((rc = decode_row(d, dl, res, rl, out->arena, &l.rec)) < 0)
			goto out;
		collect_add(&c, &l);
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = TL_ESTORE;
out:
	tl_arena_destroy(scratch);
	if (rc == 0)
		rc = collect_finish(&c, out);
	else
		free(c.items);
	return rc;
}

static int logs_init(struct store_logs *out)
{
	memset(out, 0, sizeof *out);
	out->arena = tl_arena_create(64 * 1024, (size_t)1 << 30);
	return out->arena ? 0 : TL_ENOMEM;
}

int store__logs_list(sqlite3 *db, const struct store_log_filter *f, struct store_logs *out, int *more)
{
	struct tl_buf sql;
	sqlite3_stmt *st = NULL;
	char *ql = NULL;
	int rc = 0, c = 1;
	uint64_t end = f->end_unix_nano ? f->end_unix_nano : UINT64_MAX;

	if ((rc = logs_init(out)) < 0)
		return rc;
	tl_buf_init(&sql, 4096);
	tl_buf_puts(&sql, "SELECT l.id, l.time_ns, l.data, r.data FROM logs l LEFT JOIN log_res r ON r.id = l.res "
			  "WHERE l.tenant = ? AND l.time_ns >= ? AND l.time_ns <= ?");
	if (f->service)
		tl_buf_puts(&sql, " AND l.service = ?");
	if (f->event)
		tl_buf_puts(&sql, " AND l.event = ?");
	if (f->min_severity > 0)
		tl_buf_puts(&sql, " AND l.severity >= ?");
	if (f->has_trace_id)
		tl_buf_puts(&sql, " AND l.trace_id = ?");
	if (f->has_span_id)
		tl_buf_puts(&sql, " AND l.span_id = ?");
	if (f->has_cursor)
		tl_buf_puts(&sql, " AND (l.time_ns < ? OR (l.time_ns = ? AND l.id < ?))");
	tl_buf_puts(&sql, " ORDER BY l.time_ns DESC, l.id DESC");
	if (tl_buf_putc(&sql, 0) < 0 || sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		rc = TL_ESTORE;
		goto out;
	}
	sqlite3_bind_text(st, c++, f->tenant ? f->tenant : "default", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, c++, f->start_unix_nano > INT64_MAX ? INT64_MAX : (int64_t)f->start_unix_nano);
	sqlite3_bind_int64(st, c++, end > INT64_MAX ? INT64_MAX : (int64_t)end);
	if (f->service)
		sqlite3_bind_text(st, c++, f->service, -1, SQLITE_STATIC);
	if (f->event)
		sqlite3_bind_text(st, c++, f->event, -1, SQLITE_STATIC);
	if (f->min_severity > 0)
		sqlite3_bind_int(st, c++, f->min_severity);
	if (f->has_trace_id)
		sqlite3_bind_blob(st, c++, f->trace_id, 16, SQLITE_STATIC);
	if (f->has_span_id)
		sqlite3_bind_blob(st, c++, f->span_id, 8, SQLITE_STATIC);
	if (f->has_cursor) {
		int64_t t = f->cursor_time > INT64_MAX ? INT64_MAX : (int64_t)f->cursor_time;
		sqlite3_bind_int64(st, c++, t);
		sqlite3_bind_int64(st, c++, t);
		sqlite3_bind_int64(st, c++, f->cursor_id);
	}
	if (f->q && f->q[0])
		ql = store__lower_dup(f->q);
	rc = run_select(st, ql, f->limit ? f->limit : 50, out, more);
out:
	free(ql);
	sqlite3_finalize(st);
	tl_buf_cleanup(&sql);
	return rc;
}

int store__logs_trace(sqlite3 *db, const char *tenant, const uint8_t trace_id[16], struct store_logs *out)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if ((rc = logs_init(out)) < 0)
		return rc;
	if (sqlite3_prepare_v2(db,
			       "SELECT l.id, l.time_ns, l.data, r.data FROM logs l LEFT JOIN log_res r ON r.id = l.res "
			       "WHERE l.trace_id = ? AND l.tenant = ? ORDER BY l.time_ns, l.id",
			       -1, &st, NULL) != SQLITE_OK)
		return TL_ESTORE;
	sqlite3_bind_blob(st, 1, trace_id, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant ? tenant : "default", -1, SQLITE_STATIC);
	rc = run_select(st, NULL, TRACE_LOGS_MAX, out, NULL);
	sqlite3_finalize(st);
	return rc;
}

void store_logs_cleanup(struct store_logs *l)
{
	if (!l)
		return;
	tl_arena_destroy(l->arena);
	memset(l, 0, sizeof *l);
}

int store_list_logs(struct store *s, const struct store_log_filter *f, struct store_logs *out, int *more)
{
	sqlite3 *db = store__reader_get(s);
	int rc;
	if (!db) {
		memset(out, 0, sizeof *out);
		return TL_ESTORE;
	}
	rc = store__logs_list(db, f, out, more);
	store__reader_put(s, db);
	return rc;
}

int store_trace_logs(struct store *s, const char *tenant, const uint8_t trace_id[16], struct store_logs *out)
{
	sqlite3 *db = store__reader_get(s);
	int rc;
	if (!db) {
		memset(out, 0, sizeof *out);
		return TL_ESTORE;
	}
	rc = store__logs_trace(db, tenant, trace_id, out);
	store__reader_put(s, db);
	return rc;
}
