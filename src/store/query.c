/*
 * query.c - the store's read side: list trace summaries (table rows merged with
 * pending traces held in memory), read one trace back (its chunks plus pending
 * spans), and stats from rollups. Runs on the caller's thread with a pooled read
 * connection; touches the assembler only under the store mutex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "store/store_int.h"
#include "otlp/otlp.h"

int store__decode(const void *data, size_t len, struct tl_arena *arena, const struct tl_price_table *prices,
		  struct tl_batch *out)
{
	struct otlp_error e;
	int rc = otlp_decode_traces_pb_ext(data, len, arena, NULL, out, &e);
	if (rc)
		return rc;
	for (size_t i = 0; i < out->n_spans; i++) {
		struct tl_span *sp = &out->spans[i];
		int64_t cost = sp->genai.cost_nusd;
		int unknown = sp->genai.price_unknown;
		struct tl_str tenant = sp->run.tenant;
		model_normalise_span(sp, prices);
		/* The cost computed at ingest wins over re-pricing with today's table. */
		sp->genai.cost_nusd = cost;
		sp->genai.price_unknown = unknown;
		if (tenant.n)
			sp->run.tenant = tenant;
	}
	return 0;
}

/*
 * Readers combine memory (queued batches, pending traces) with the table. To
 * see each span once, the read snapshot is pinned while the store mutex is
 * held, together with the look at memory: a commit that landed after that
 * instant is not in the snapshot; one that landed before it but whose effect
 * on memory is not applied yet can only concern chunks whose ids the reader
 * sees in memory (direct segments, pending traces being written), and those
 * are checked or skipped by id. lock_and_pin takes s->mu and pins: it returns
 * 0 with the mutex held, or TL_ESTORE with it released. COMMIT ends the snapshot.
 */
static int pin_snapshot(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc = TL_ESTORE;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return rc;
	if (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = 'schema'", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		rc = 0;
	sqlite3_finalize(st);
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int lock_and_pin(struct store *s, sqlite3 *db)
{
	pthread_mutex_lock(&s->mu);
	if (pin_snapshot(db) < 0) {
		pthread_mutex_unlock(&s->mu);
		return TL_ESTORE;
	}
	return 0;
}

/* ---- list ---------------------------------------------------------------------- */

struct pend {
	struct store__sum u;
	int from_asm;                 /* already merged with its table row */
	int keep;                     /* matches the filter and the cursor */
};

static int before_cursor(const struct store_trace_filter *f, uint64_t start, const uint8_t *id)
{
	if (!f->has_cursor)
		return 1;
	if (start != f->cursor_start)
		return start < f->cursor_start;
	return memcmp(id, f->cursor_id, 16) < 0;
}

/* Newest first: start desc, then id desc. */
static int cmp_desc(const struct store_trace_summary *a, const struct store_trace_summary *b)
{
	if (a->start_unix_nano != b->start_unix_nano)
		return a->start_unix_nano > b->start_unix_nano ? -1 : 1;
	return -memcmp(a->trace_id, b->trace_id, 16);
}

static int cmp_pend(const void *x, const void *y)
{
	return cmp_desc(&((const struct pend *)x)->u.s, &((const struct pend *)y)->u.s);
}

static int cmp_id(const void *x, const void *y)
{
	return memcmp(x, y, 16);
}

static struct pend *pend_find(struct pend *p, size_t n, const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(p[i].u.s.trace_id, id, 16) == 0)
			return &p[i];
	return NULL;
}

/* A direct segment the writer is committing as chunk chunk_id: the table row
 * includes it once that chunk is visible. */
struct dseg {
	struct store__sum u;
	int64_t chunk_id;
	int in_asm;                   /* its trace is pending: asm is a copy of that summary */
	struct store__sum asm;
};

struct dlist {
	struct dseg *d;
	size_t n, cap;
};

static struct pend *pend_push(struct pend **p, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*p = realloc(*p, *cap * sizeof **p);
		if (!*p)
			abort();
	}
	struct pend *x = &(*p)[(*n)++];
	memset(x, 0, sizeof *x);
	return x;
}

static void add_item_segs(struct pend **p, size_t *n, size_t *cap, struct dlist *dl, const struct store__asm *as,
			  const struct store__item *it, const char *tenant)
{
	for (; it; it = it->next) {
		for (size_t i = 0; i < it->n_segs; i++) {
			const struct store__seg *sg = &it->segs[i];
			if (strcmp(sg->tenant, tenant) != 0)
				continue;
			if (sg->chunk_id) {
				if (dl->n == dl->cap) {
					dl->cap = dl->cap ? dl->cap * 2 : 16;
					dl->d = realloc(dl->d, dl->cap * sizeof *dl->d);
					if (!dl->d)
						abort();
				}
				struct dseg *d = &dl->d[dl->n++];
				const struct store__ptrace *t = store__asm_find(as, sg->tenant, sg->trace_id, sg->hash);
				store__sum_copy(&d->u, &sg->sum);
				d->chunk_id = sg->chunk_id;
				d->in_asm = t != NULL;
				if (t)
					store__sum_copy(&d->asm, &t->sum);
				continue;
			}
			struct pend *x = pend_find(*p, *n, sg->trace_id);
			if (x) {
				store__sum_merge(&x->u, &sg->sum);
				continue;
			}
			x = pend_push(p, n, cap);
			store__sum_copy(&x->u, &sg->sum);
		}
	}
}

static void bind_list_sql(struct tl_buf *sql, const struct store_trace_filter *f, int q)
{
	tl_buf_printf(sql, "SELECT %s FROM traces WHERE tenant = ?1", STORE_SUM_COLS);
	if (f->start_unix_nano)
		tl_buf_puts(sql, " AND start_ns >= ?2");
	if (f->end_unix_nano)
		tl_buf_puts(sql, " AND start_ns <= ?3");
	if (f->has_cursor)
		tl_buf_puts(sql, " AND (start_ns < ?4 OR (start_ns = ?4 AND trace_id < ?5))");
	if (f->service)
		tl_buf_puts(sql, " AND service = ?6");
	if (f->name)
		tl_buf_puts(sql, " AND name = ?7");
	if (f->model)
		tl_buf_puts(sql, " AND instr(models, char(10) || ?8 || char(10)) > 0");
	if (f->provider)
		tl_buf_puts(sql, " AND instr(providers, char(10) || ?9 || char(10)) > 0");
	if (f->session)
		tl_buf_puts(sql, " AND session = ?10");
	if (f->run)
		tl_buf_puts(sql, " AND run = ?11");
	if (f->agent)
		tl_buf_puts(sql, " AND agent = ?12");
	if (f->anomaly)
		tl_buf_puts(sql, strcmp(f->anomaly, "any") == 0 ? " AND anomalies <> ''"
								: " AND instr(anomalies, char(10) || ?13 || char(10)) > 0");
	if (f->status == 0)
		tl_buf_puts(sql, " AND error_count = 0");
	if (f->status == 1)
		tl_buf_puts(sql, " AND error_count > 0");
	if (f->min_duration_ns >= 0)
		tl_buf_puts(sql, " AND end_ns - start_ns >= ?14");
	if (f->max_duration_ns >= 0)
		tl_buf_puts(sql, " AND end_ns - start_ns <= ?15");
	if (f->min_cost_nusd >= 0)
		tl_buf_puts(sql, " AND cost_nusd >= ?16");
	if (q)
		tl_buf_puts(sql, " AND (instr(lower(name), ?17) > 0 OR instr(search, ?17) > 0)");
	tl_buf_puts(sql, " ORDER BY start_ns DESC, trace_id DESC LIMIT ?18");
}

int store_list_traces(struct store *s, const struct store_trace_filter *f, struct store_trace_summary **out,
		      size_t *n, int *more)
{
	struct pend *p = NULL;
	struct dlist dl = {NULL, 0, 0};
	size_t np = 0, pcap = 0, nids = 0, nout = 0;
	int in_txn = 0;
	uint8_t (*ids)[16] = NULL;
	struct store_trace_summary *res = NULL;
	char *q = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct tl_buf sql;
	int rc = 0;
	uint32_t limit = f->limit ? f->limit : 50;

	*out = NULL;
	*n = 0;
	*more = 0;
	tl_buf_init(&sql, 16384);
	if (!f->tenant) {
		rc = TL_EINVAL;
		goto out;
	}
	if (f->q && f->q[0])
		q = store__lower_dup(f->q);

	db = store__reader_get(s);
	if (!db) {
		rc = TL_EIO;
		goto out;
	}
	/* 1. Pending traces of this tenant: accepted batches not yet in the
	 * assembler, then the assembler's traces (whose summaries already include
	 * their table row). */
	if ((rc = lock_and_pin(s, db)) < 0)
		goto out;
	in_txn = 1;
	add_item_segs(&p, &np, &pcap, &dl, &s->as, s->inflight, f->tenant);
	add_item_segs(&p, &np, &pcap, &dl, &s->as, s->qhead, f->tenant);
	size_t nqueued = np;
	ids = malloc((s->as.count + np + dl.n + 1) * sizeof *ids);
	if (!ids)
		abort();
	for (size_t i = 0; i < np; i++)
		memcpy(ids[nids++], p[i].u.s.trace_id, 16);
	for (struct store__ptrace *t = s->as.fhead; t; t = t->fnext) {
		if (strcmp(t->tenant, f->tenant) != 0)
			continue;
		struct pend *x = nqueued ? pend_find(p, nqueued, t->trace_id) : NULL;
		if (x) {
			/* Queued spans of a trace that is also pending: the pending summary is the base. */
			struct store__sum tmp;
			store__sum_copy(&tmp, &t->sum);
			store__sum_merge(&tmp, &x->u);
			store__sum_cleanup(&x->u);
			x->u = tmp;
			x->from_asm = 1;
			continue;
		}
		memcpy(ids[nids++], t->trace_id, 16);
		struct store__sum *u = &t->sum;
		if (!before_cursor(f, u->s.start_unix_nano, u->s.trace_id) || !store__sum_match(u, f, q))
			continue;
		struct pend *y = pend_push(&p, &np, &pcap);
		store__sum_copy(&y->u, u);
		y->from_asm = 1;
	}
	pthread_mutex_unlock(&s->mu);

	/* A direct segment is in the table row exactly when its chunk is visible
	 * in the snapshot. */
	if (dl.n) {
		if (sqlite3_prepare_v2(db, "SELECT 1 FROM trace_chunks WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
			rc = TL_ESTORE;
			goto out;
		}
		for (size_t i = 0; i < dl.n; i++) {
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, dl.d[i].chunk_id);
			int r = sqlite3_step(st);
			if (r == SQLITE_ROW)
				continue; /* committed: the row has it */
			if (r != SQLITE_DONE) {
				rc = TL_ESTORE;
				goto out;
			}
			/* Not committed: pending like any queued segment. */
			struct pend *x = pend_find(p, np, dl.d[i].u.s.trace_id);
			if (x) {
				store__sum_merge(&x->u, &dl.d[i].u);
				continue;
			}
			x = pend_push(&p, &np, &pcap);
			if (dl.d[i].in_asm) {
				/* Its pending trace did not match the filter alone; its id
				 * is already in ids. */
				store__sum_copy(&x->u, &dl.d[i].asm);
				store__sum_merge(&x->u, &dl.d[i].u);
				x->from_asm = 1;
			} else {
				store__sum_copy(&x->u, &dl.d[i].u);
				memcpy(ids[nids++], x->u.s.trace_id, 16);
			}
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	/* 2. Queued-only traces may have a table row from before (late spans). */
	for (size_t i = 0; i < np; i++) {
		if (p[i].from_asm)
			continue;
		if (!st) {
			char get[1024];
			snprintf(get, sizeof get, "SELECT %s FROM traces WHERE tenant = ? AND trace_id = ?",
				 STORE_SUM_COLS);
			if (sqlite3_prepare_v2(db, get, -1, &st, NULL) != SQLITE_OK) {
				rc = TL_ESTORE;
				goto out;
			}
		}
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, f->tenant, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, p[i].u.s.trace_id, 16, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			struct store__sum row;
			store__sum_read(st, 0, &row);
			store__sum_merge(&row, &p[i].u);
			store__sum_cleanup(&p[i].u);
			p[i].u = row;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < np; i++) {
		store__sum_finish(&p[i].u);
		p[i].keep = before_cursor(f, p[i].u.s.start_unix_nano, p[i].u.s.trace_id) &&
			    store__sum_match(&p[i].u, f, q);
	}
	if (np)
		qsort(p, np, sizeof *p, cmp_pend);
	if (nids)
		qsort(ids, nids, sizeof *ids, cmp_id);

	/* 3. Table rows, skipping traces whose pending summary supersedes the row. */
	bind_list_sql(&sql, f, q != NULL);
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		rc = TL_ESTORE;
		goto out;
	}
	sqlite3_bind_text(st, 1, f->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)f->start_unix_nano);
	sqlite3_bind_int64(st, 3, (int64_t)f->end_unix_nano);
	sqlite3_bind_int64(st, 4, (int64_t)f->cursor_start);
	sqlite3_bind_blob(st, 5, f->cursor_id, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, f->service, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, f->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, f->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, f->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, f->session, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, f->run, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, f->agent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, f->anomaly, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, f->min_duration_ns);
	sqlite3_bind_int64(st, 15, f->max_duration_ns);
	sqlite3_bind_int64(st, 16, f->min_cost_nusd);
	sqlite3_bind_text(st, 17, q, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 18, (int64_t)limit + 1 + (int64_t)nids);

	res = malloc(((size_t)limit + 1) * sizeof *res);
	if (!res)
		abort();
	size_t pi = 0;
	int r = sqlite3_step(st);
	struct store__sum row;
	int have_row = 0;
	while (nout < (size_t)limit + 1) {
		while (!have_row && r == SQLITE_ROW) {
			store__sum_read(st, 0, &row);
			r = sqlite3_step(st);
			if (bsearch(row.s.trace_id, ids, nids, sizeof *ids, cmp_id)) {
				store__sum_cleanup(&row);
				continue;
			}
			have_row = 1;
		}
		while (pi < np && !p[pi].keep)
			pi++;
		if (!have_row && pi >= np)
			break;
		if (have_row && (pi >= np || cmp_desc(&row.s, &p[pi].u.s) < 0)) {
			res[nout++] = row.s;
			store__sum_cleanup(&row);
			have_row = 0;
		} else {
			res[nout++] = p[pi].u.s;
			pi++;
		}
	}
	if (have_row)
		store__sum_cleanup(&row);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		rc = TL_ESTORE;
		goto out;
	}
	if (nout > limit) {
		*more = 1;
		nout = limit;
	}
	*out = res;
	*n = nout;
	res = NULL;
out:
	sqlite3_finalize(st);
	if (in_txn)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	store__reader_put(s, db);
	for (size_t i = 0; i < np; i++)
		store__sum_cleanup(&p[i].u);
	for (size_t i = 0; i < dl.n; i++) {
		store__sum_cleanup(&dl.d[i].u);
		if (dl.d[i].in_asm)
			store__sum_cleanup(&dl.d[i].asm);
	}
	free(dl.d);
	free(p);
	free(ids);
	free(res);
	free(q);
	tl_buf_cleanup(&sql);
	return rc;
}

/* ---- get ------------------------------------------------------------------------- */

static int cmp_span(const void *x, const void *y)
{
	const struct tl_span *a = x, *b = y;
	if (a->start_unix_nano != b->start_unix_nano)
		return a->start_unix_nano < b->start_unix_nano ? -1 : 1;
	return memcmp(a->span_id, b->span_id, 8);
}

struct spanlist {
	struct tl_batch *b;
	size_t n, cap;
};

static int decode_into(struct tl_arena *ar, const void *data, size_t len, const struct tl_price_table *prices,
		       struct spanlist *l)
{
	/* The decoder borrows strings from its input: keep the bytes in the arena. */
	void *copy = tl_arena_alloc(ar, len ? len : 1);
	if (!copy)
		return TL_ENOMEM;
	memcpy(copy, data, len);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->b = realloc(l->b, l->cap * sizeof *l->b);
		if (!l->b)
			abort();
	}
	int rc = store__decode(copy, len, ar, prices, &l->b[l->n]);
	if (rc == 0)
		l->n++;
	return rc;
}

int store_get_trace(struct store *s, const char *tenant, const uint8_t trace_id[16],
		    const struct tl_price_table *prices, struct store_trace *out)
{
	struct tl_buf pend, ids;
	struct spanlist l = {NULL, 0, 0};
	int64_t skip_chunk = -1, *skip = NULL;
	size_t nskip = 0, skipcap = 0;
	int in_txn = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0;
	uint64_t h = store__hash(tenant, trace_id);

	memset(out, 0, sizeof *out);
	tl_buf_init(&pend, 0);
	tl_buf_init(&ids, (size_t)1 << 30);
	out->arena = tl_arena_create(1 << 16, 0);
	if (!out->arena)
		return TL_ENOMEM;
	db = store__reader_get(s);
	if (!db) {
		rc = TL_EIO;
		goto out;
	}

	/* Pending spans first, under the lock. Everything in memory that may be
	 * committed as a chunk meanwhile has its chunk id already (a pending trace
	 * from its creation, a direct segment from its store_append): read from
	 * memory, and skip those chunks whether they are committed or not. */
	if ((rc = lock_and_pin(s, db)) < 0)
		goto out;
	in_txn = 1;
	struct store__ptrace *t = store__asm_find(&s->as, tenant, trace_id, h);
	if (t) {
		if (tl_buf_append(&pend, t->data.data, t->data.len) < 0)
			abort();
		skip_chunk = t->chunk_id;
	}
	const struct store__item *lists[2] = {s->inflight, s->qhead};
	for (int k = 0; k < 2; k++) {
		for (const struct store__item *it = lists[k]; it; it = it->next) {
			for (size_t i = 0; i < it->n_segs; i++) {
				const struct store__seg *sg = &it->segs[i];
				if (sg->hash != h || memcmp(sg->trace_id, trace_id, 16) || strcmp(sg->tenant, tenant))
					continue;
				if (tl_buf_append(&pend, it->raw + sg->off, sg->len) < 0)
					abort();
				if (!sg->chunk_id)
					continue;
				if (nskip == skipcap) {
					skipcap = skipcap ? skipcap * 2 : 4;
					skip = realloc(skip, skipcap * sizeof *skip);
					if (!skip)
						abort();
				}
				skip[nskip++] = sg->chunk_id;
			}
		}
	}
	pthread_mutex_unlock(&s->mu);

	/* The trace's chunk ids are in its row. */
	if (sqlite3_prepare_v2(db, "SELECT chunks FROM traces WHERE tenant = ? AND trace_id = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = TL_ESTORE;
		goto out;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, trace_id, 16, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *c = sqlite3_column_blob(st, 0);
		int cl = sqlite3_column_bytes(st, 0);
		if (c && cl > 0 && tl_buf_append(&ids, c, (size_t)cl) < 0)
			abort();
	}
	sqlite3_finalize(st);
	st = NULL;
	if (ids.len &&
	    sqlite3_prepare_v2(db, "SELECT dict, data FROM trace_chunks WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		rc = TL_ESTORE;
		goto out;
	}
	for (size_t k = 0; k + 8 <= ids.len; k += 8) {
		int64_t cid = store__chunk_at((const uint8_t *)ids.data + k);
		int skipped = cid == skip_chunk;
		for (size_t i = 0; i < nskip && !skipped; i++)
			skipped = skip[i] == cid;
		if (skipped)
			continue;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, cid);
		if (sqlite3_step(st) != SQLITE_ROW)
			continue; /* deleted by retention while late spans were pending */
		void *raw = NULL;
		size_t rl = 0;
		int64_t dict = sqlite3_column_int64(st, 0);
		const ZSTD_DDict *dd = dict ? store__ddict(s, db, dict) : NULL;
		if (dict && !dd) {
			rc = TL_ESTORE;
			goto out;
		}
		rc = store__zstd_decompress(dd, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
					    (size_t)1 << 32, &raw, &rl);
		if (rc == 0)
			rc = decode_into(out->arena, raw, rl, prices, &l);
		free(raw);
		if (rc < 0)
			goto out;
	}
	if (pend.len && (rc = decode_into(out->arena, pend.data, pend.len, prices, &l)) < 0)
		goto out;

	size_t total = 0;
	for (size_t i = 0; i < l.n; i++)
		total += l.b[i].n_spans;
	if (total == 0) {
		rc = TL_ENOTFOUND;
		goto out;
	}
	out->spans = tl_arena_alloc(out->arena, total * sizeof *out->spans);
	if (!out->spans) {
		rc = TL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < l.n; i++)
		for (size_t k = 0; k < l.b[i].n_spans; k++)
			out->spans[out->n_spans++] = l.b[i].spans[k];
	qsort(out->spans, out->n_spans, sizeof *out->spans, cmp_span);

	struct store__sum u;
	store__sum_init(&u);
	for (size_t i = 0; i < out->n_spans; i++)
		store__sum_add_span(&u, &out->spans[i]);
	store__sum_finish(&u);
	out->summary = u.s;
	snprintf(out->summary.tenant, sizeof out->summary.tenant, "%s", tenant);
	memcpy(out->summary.trace_id, trace_id, 16);
	store__sum_cleanup(&u);
out:
	sqlite3_finalize(st);
	if (in_txn)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	store__reader_put(s, db);
	tl_buf_cleanup(&pend);
	tl_buf_cleanup(&ids);
	free(skip);
	free(l.b);
	if (rc < 0)
		store_trace_cleanup(out);
	return rc;
}

void store_trace_cleanup(struct store_trace *t)
{
	if (!t)
		return;
	tl_arena_destroy(t->arena);
	memset(t, 0, sizeof *t);
}

int store_stats(struct store *s, const struct store_stats_filter *f, struct store_stats_point **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!f->tenant)
		return TL_EINVAL;
	sqlite3 *db = store__reader_get(s);
	if (!db)
		return TL_EIO;
	int rc = store__stats_query(db, f, out, n);
	store__reader_put(s, db);
	return rc;
}
