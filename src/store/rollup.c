/*
 * rollup.c - per-minute rollups of LLM calls (calls, errors, tokens, cost and a
 * latency histogram) kept in rollup_minute, written in the same transaction as
 * the ingest log, and the stats query that merges them into buckets.
 *
 * The latency histogram has STORE_LAT_BUCKETS log-spaced buckets: bucket i
 * (i < last) counts latencies <= 1 ms * F^i with F = 600000^(1/30), so bucket 30
 * ends at 10 minutes and the last bucket holds everything longer. It is stored
 * as STORE_LAT_BUCKETS little-endian uint32 counts.
 */
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "store/store_int.h"

#define HIST_BYTES (STORE_LAT_BUCKETS * 4)

static double bucket_upper_ms(int i)
{
	if (i >= STORE_LAT_BUCKETS - 1)
		i = STORE_LAT_BUCKETS - 1; /* open-ended: use one more step as its top */
	return pow(600000.0, (double)i / (STORE_LAT_BUCKETS - 2));
}

static int bucket_of(double ms)
{
	if (ms <= 1.0)
		return 0;
	double f = log(ms) / log(600000.0) * (STORE_LAT_BUCKETS - 2);
	int i = (int)ceil(f - 1e-9);
	if (i < 0)
		i = 0;
	if (i > STORE_LAT_BUCKETS - 1)
		i = STORE_LAT_BUCKETS - 1;
	return i;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	h ^= 0xff;
	h *= 1099511628211ULL;
	return h;
}

static uint64_t roll_hash(const struct store__roll *r)
{
	uint64_t h = 1469598103934665603ULL ^ r->minute;
	h = fnv(h, r->tenant);
	h = fnv(h, r->service);
	h = fnv(h, r->model);
	h = fnv(h, r->provider);
	h = fnv(h, r->operation);
	h = fnv(h, r->agent);
	return h;
}

static int roll_same(const struct store__roll *a, const struct store__roll *b)
{
	return a->hash == b->hash && a->minute == b->minute && !strcmp(a->tenant, b->tenant) &&
	       !strcmp(a->service, b->service) && !strcmp(a->model, b->model) && !strcmp(a->provider, b->provider) &&
	       !strcmp(a->operation, b->operation) && !strcmp(a->agent, b->agent);
}

static void copy_str(char *dst, size_t cap, struct tl_str s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = 0;
}

static void sum_into(struct store__roll *d, const struct store__roll *r)
{
	d->calls += r->calls;
	d->errors += r->errors;
	for (int k = 0; k < 5; k++)
		d->tokens[k] += r->tokens[k];
	d->cost_nusd += r->cost_nusd;
	for (int k = 0; k < STORE_LAT_BUCKETS; k++)
		d->hist[k] += r->hist[k];
}

void store__roll_merge(struct store__roll **rolls, size_t *n, size_t *cap, const struct store__roll *src)
{
	/* Batches carry few distinct keys, so a linear scan on the hash is enough. */
	for (size_t i = 0; i < *n; i++) {
		if (roll_same(&(*rolls)[i], src)) {
			sum_into(&(*rolls)[i], src);
			return;
		}
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*rolls = realloc(*rolls, *cap * sizeof **rolls);
		if (!*rolls)
			abort();
	}
	(*rolls)[(*n)++] = *src;
}

void store__roll_add_span(struct store__roll **rolls, size_t *n, size_t *cap, const char *tenant,
			  const struct tl_span *sp)
{
	const struct tl_genai *g = &sp->genai;
	struct store__roll r;
	int64_t tok[5] = {g->input_tokens, g->output_tokens, g->cache_read_tokens, g->cache_write_tokens,
			  g->reasoning_tokens};

	if (!store__span_is_llm(sp))
		return;
	memset(&r, 0, sizeof r);
	r.minute = sp->start_unix_nano / 60000000000ULL;
	copy_str(r.tenant, sizeof r.tenant, tl_str_c(tenant));
	copy_str(r.service, sizeof r.service, model_span_service(sp));
	copy_str(r.model, sizeof r.model, store__span_model(sp));
	copy_str(r.provider, sizeof r.provider, g->provider);
	copy_str(r.operation, sizeof r.operation, g->operation);
	copy_str(r.agent, sizeof r.agent, g->agent_name);
	r.hash = roll_hash(&r);
	r.calls = 1;
	r.errors = sp->status_code == TL_STATUS_ERROR;
	for (int k = 0; k < 5; k++)
		r.tokens[k] = tok[k] > 0 ? tok[k] : 0;
	r.cost_nusd = g->cost_nusd != TL_NONE ? g->cost_nusd : 0;
	double ms = sp->end_unix_nano > sp->start_unix_nano ? (double)(sp->end_unix_nano - sp->start_unix_nano) / 1e6 : 0;
	r.hist[bucket_of(ms)] = 1;
	store__roll_merge(rolls, n, cap, &r);
}

static void hist_put(uint8_t *out, const uint32_t *h)
{
	for (int i = 0; i < STORE_LAT_BUCKETS; i++) {
		out[i * 4] = (uint8_t)h[i];
		out[i * 4 + 1] = (uint8_t)(h[i] >> 8);
		out[i * 4 + 2] = (uint8_t)(h[i] >> 16);
		out[i * 4 + 3] = (uint8_t)(h[i] >> 24);
	}
}

static void hist_get(const uint8_t *in, int len, uint64_t *h)
{
	for (int i = 0; i < STORE_LAT_BUCKETS && (i + 1) * 4 <= len; i++)
		h[i] += (uint32_t)in[i * 4] | (uint32_t)in[i * 4 + 1] << 8 | (uint32_t)in[i * 4 + 2] << 16 |
			(uint32_t)in[i * 4 + 3] << 24;
}

/* SQL function tl_hist_add(a, b): element-wise sum of two histogram blobs. */
static void hist_add_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	uint64_t h[STORE_LAT_BUCKETS] = {0};
	uint32_t o[STORE_LAT_BUCKETS];
	uint8_t out[HIST_BYTES];
	for (int a = 0; a < argc; a++) {
		const uint8_t *p = sqlite3_value_blob(argv[a]);
		if (p)
			hist_get(p, sqlite3_value_bytes(argv[a]), h);
	}
	for (int i = 0; i < STORE_LAT_BUCKETS; i++)
		o[i] = h[i] > UINT32_MAX ? UINT32_MAX : (uint32_t)h[i];
	hist_put(out, o);
	sqlite3_result_blob(ctx, out, HIST_BYTES, SQLITE_TRANSIENT);
}

int store__roll_register(sqlite3 *db)
{
	int rc = sqlite3_create_function(db, "tl_hist_add", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, hist_add_fn,
					 NULL, NULL);
	return rc == SQLITE_OK ? 0 : TL_ESTORE;
}

int store__roll_write(sqlite3 *db, sqlite3_stmt *st, const struct store__roll *rolls, size_t n)
{
	uint8_t hist[HIST_BYTES];
	for (size_t i = 0; i < n; i++) {
		const struct store__roll *r = &rolls[i];
		int c = 1;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, c++, (int64_t)r->minute);
		sqlite3_bind_text(st, c++, r->tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, r->service, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, r->model, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, r->provider, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, r->operation, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, r->agent, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, c++, (int64_t)r->calls);
		sqlite3_bind_int64(st, c++, (int64_t)r->errors);
		for (int k = 0; k < 5; k++)
			sqlite3_bind_int64(st, c++, r->tokens[k]);
		sqlite3_bind_int64(st, c++, r->cost_nusd);
		hist_put(hist, r->hist);
		sqlite3_bind_blob(st, c++, hist, HIST_BYTES, SQLITE_TRANSIENT);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return TL_ESTORE;
	}
	sqlite3_clear_bindings(st);
	return 0;
}

/* ---- stats ---------------------------------------------------------------- */

struct agg {
	struct store_stats_point p;
	uint64_t h[STORE_LAT_BUCKETS];
	uint64_t hash;
};

static double percentile(const uint64_t *h, double q)
{
	uint64_t total = 0, cum = 0;
	for (int i = 0; i < STORE_LAT_BUCKETS; i++)
		total += h[i];
	if (total == 0)
		return 0;
	double target = q * (double)total;
	for (int i = 0; i < STORE_LAT_BUCKETS; i++) {
		if (h[i] && (double)(cum + h[i]) >= target) {
			double lo = i == 0 ? 0 : bucket_upper_ms(i - 1);
			double hi = bucket_upper_ms(i);
			if (i == STORE_LAT_BUCKETS - 1)
				hi = lo * 1.5;
			double frac = (target - (double)cum) / (double)h[i];
			if (frac < 0)
				frac = 0;
			return lo + (hi - lo) * frac;
		}
		cum += h[i];
	}
	return bucket_upper_ms(STORE_LAT_BUCKETS - 2);
}

static int cmp_point(const void *a, const void *b)
{
	const struct store_stats_point *x = a, *y = b;
	int c;
	if ((c = strcmp(x->model, y->model)) || (c = strcmp(x->provider, y->provider)) ||
	    (c = strcmp(x->service, y->service)) || (c = strcmp(x->operation, y->operation)) ||
	    (c = strcmp(x->agent, y->agent)))
		return c;
	return x->bucket_start < y->bucket_start ? -1 : x->bucket_start > y->bucket_start;
}

static void set_col(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	copy_str(dst, cap, tl_str_c(t ? (const char *)t : ""));
}

int store__stats_query(sqlite3 *db, const struct store_stats_filter *f, struct store_stats_point **out, size_t *n)
{
	struct tl_buf sql;
	sqlite3_stmt *st = NULL;
	struct agg *aggs = NULL;
	size_t na = 0, cap = 0, tsize = 0;
	int64_t *table = NULL; /* open addressing: index into aggs + 1, 0 = empty */
	int rc = 0, c = 1;
	const char *eq[5] = {f->service, f->model, f->provider, f->agent, f->operation};
	const char *eqc[5] = {"service", "model", "provider", "agent", "operation"};

	*out = NULL;
	*n = 0;
	tl_buf_init(&sql, 4096);
	tl_buf_puts(&sql, "SELECT minute, service, model, provider, operation, agent, calls, errors, input_tokens, "
			  "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, latency "
			  "FROM " STORE_STATS_SOURCE_SQL " WHERE minute >= ? AND minute <= ? AND tenant = ?");
	for (int k = 0; k < 5; k++)
		if (eq[k])
			tl_buf_printf(&sql, " AND %s = ?", eqc[k]);
	if (tl_buf_putc(&sql, 0) < 0 || sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		rc = TL_ESTORE;
		goto out;
	}
	uint64_t end = f->end_unix_nano ? f->end_unix_nano : UINT64_MAX;
	sqlite3_bind_int64(st, c++, (int64_t)(f->start_unix_nano / 60000000000ULL));
	sqlite3_bind_int64(st, c++, (int64_t)(end / 60000000000ULL));
	sqlite3_bind_text(st, c++, f->tenant ? f->tenant : "default", -1, SQLITE_STATIC);
	for (int k = 0; k < 5; k++)
		if (eq[k])
			sqlite3_bind_text(st, c++, eq[k], -1, SQLITE_STATIC);

	for (;;) {
		int r = sqlite3_step(st);
		if (r == SQLITE_DONE)
			break;
		if (r != SQLITE_ROW) {
			rc = TL_ESTORE;
			goto out;
		}
		uint64_t mns = (uint64_t)sqlite3_column_int64(st, 0) * 60000000000ULL;
		struct agg k;
		memset(&k.p, 0, sizeof k.p);
		if (f->group_by & STORE_G_SERVICE)
			set_col(k.p.service, sizeof k.p.service, st, 1);
		if (f->group_by & STORE_G_MODEL)
			set_col(k.p.model, sizeof k.p.model, st, 2);
		if (f->group_by & STORE_G_PROVIDER)
			set_col(k.p.provider, sizeof k.p.provider, st, 3);
		if (f->group_by & STORE_G_OPERATION)
			set_col(k.p.operation, sizeof k.p.operation, st, 4);
		if (f->group_by & STORE_G_AGENT)
			set_col(k.p.agent, sizeof k.p.agent, st, 5);
		k.p.bucket_start = f->step_ns ? mns / f->step_ns * f->step_ns : f->start_unix_nano;
		uint64_t h = 1469598103934665603ULL ^ k.p.bucket_start;
		h = fnv(fnv(fnv(fnv(fnv(h, k.p.service), k.p.model), k.p.provider), k.p.operation), k.p.agent);

		if (na * 2 >= tsize) {
			size_t ns = tsize ? tsize * 2 : 64;
			int64_t *nt = calloc(ns, sizeof *nt);
			if (!nt)
				abort();
			for (size_t i = 0; i < na; i++) {
				size_t j = aggs[i].hash & (ns - 1);
				while (nt[j])
					j = (j + 1) & (ns - 1);
				nt[j] = (int64_t)i + 1;
			}
			free(table);
			table = nt;
			tsize = ns;
		}
		size_t j = h & (tsize - 1);
		struct agg *a = NULL;
		while (table[j]) {
			struct agg *x = &aggs[table[j] - 1];
			if (x->hash == h && cmp_point(&x->p, &k.p) == 0) {
				a = x;
				break;
			}
			j = (j + 1) & (tsize - 1);
		}
		if (!a) {
			if (na == cap) {
				cap = cap ? cap * 2 : 32;
				aggs = realloc(aggs, cap * sizeof *aggs);
				if (!aggs)
					abort();
			}
			a = &aggs[na];
			a->p = k.p;
			a->hash = h;
			memset(a->h, 0, sizeof a->h);
			table[j] = (int64_t)++na;
		}
		a->p.calls += (uint64_t)sqlite3_column_int64(st, 6);
		a->p.errors += (uint64_t)sqlite3_column_int64(st, 7);
		a->p.input_tokens += sqlite3_column_int64(st, 8);
		a->p.output_tokens += sqlite3_column_int64(st, 9);
		a->p.cache_read_tokens += sqlite3_column_int64(st, 10);
		a->p.cache_write_tokens += sqlite3_column_int64(st, 11);
		a->p.reasoning_tokens += sqlite3_column_int64(st, 12);
		a->p.cost_nusd += sqlite3_column_int64(st, 13);
		const uint8_t *hb = sqlite3_column_blob(st, 14);
		if (hb)
			hist_get(hb, sqlite3_column_bytes(st, 14), a->h);
	}
	if (na) {
		struct store_stats_point *pts = malloc(na * sizeof *pts);
		if (!pts)
			abort();
		for (size_t i = 0; i < na; i++) {
			pts[i] = aggs[i].p;
			pts[i].p50_ms = percentile(aggs[i].h, 0.50);
			pts[i].p95_ms = percentile(aggs[i].h, 0.95);
			pts[i].p99_ms = percentile(aggs[i].h, 0.99);
		}
		qsort(pts, na, sizeof *pts, cmp_point);
		*out = pts;
		*n = na;
	}
out:
	sqlite3_finalize(st);
	tl_buf_cleanup(&sql);
	free(aggs);
	free(table);
	return rc;
}
