/*
 * assembler.c - pending traces in memory and the ingest items they are built
 * from. An item is one accepted batch: its spans encoded per trace (each trace's
 * spans form one TracesData "segment"; the concatenation of segments is again a
 * valid TracesData). A segment holding its trace's root is compressed here as a
 * chunk (the direct path); the others, compressed together, are the ingest-log
 * row. The assembler groups logged segments by (tenant, trace id) until the
 * writer turns a trace into a trace_chunks row. Only the writer thread mutates the assembler, under the
 * store mutex; queries read it under the same mutex.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "store/store_int.h"
#include "otlp/otlp.h"

#define ITEM_MAX_BYTES ((size_t)1 << 32)
#define PT_MAX_BYTES ((size_t)1 << 34)

uint64_t store__hash(const char *tenant, const uint8_t id[16])
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < 16; i++) {
		h ^= id[i];
		h *= 1099511628211ULL;
	}
	for (const char *p = tenant; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

/* ---- zstd ----------------------------------------------------------------- */

int store__zstd_compress(ZSTD_CCtx *cctx, const ZSTD_CDict *cd, const void *src, size_t n, int level, void **out,
			 size_t *outlen)
{
	size_t cap = ZSTD_compressBound(n), r;
	ZSTD_CCtx *tmp = NULL;
	void *p = malloc(cap ? cap : 1);
	if (!p)
		return TL_ENOMEM;
	if (!cctx && !(cctx = tmp = ZSTD_createCCtx())) {
		free(p);
		return TL_ENOMEM;
	}
	if (cd)
		r = ZSTD_compress_usingCDict(cctx, p, cap, src, n, cd);
	else
		r = ZSTD_compressCCtx(cctx, p, cap, src, n, level);
	ZSTD_freeCCtx(tmp);
	if (ZSTD_isError(r)) {
		free(p);
		return TL_ESTORE;
	}
	*out = p;
	*outlen = r;
	return 0;
}

int store__zstd_decompress(const ZSTD_DDict *dd, const void *src, size_t n, size_t max, void **out, size_t *outlen)
{
	unsigned long long sz = ZSTD_getFrameContentSize(src, n);
	size_t r;
	if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN || sz > max)
		return TL_ESTORE;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	void *p = malloc(sz ? (size_t)sz : 1);
	if (!p || !d) {
		free(p);
		ZSTD_freeDCtx(d);
		return TL_ENOMEM;
	}
	if (dd)
		r = ZSTD_decompress_usingDDict(d, p, (size_t)sz, src, n, dd);
	else
		r = ZSTD_decompressDCtx(d, p, (size_t)sz, src, n);
	ZSTD_freeDCtx(d);
	if (ZSTD_isError(r) || r != sz) {
		free(p);
		return TL_ESTORE;
	}
	*out = p;
	*outlen = r;
	return 0;
}

/* ---- items ------------------------------------------------------------------ */

struct ord {
	const struct tl_span *sp;
	size_t i;
};

static int cmp_tenant(struct tl_str a, struct tl_str b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

static int cmp_ord(const void *x, const void *y)
{
	const struct ord *a = x, *b = y;
	int c = cmp_tenant(a->sp->run.tenant, b->sp->run.tenant);
	if (!c)
		c = memcmp(a->sp->trace_id, b->sp->trace_id, 16);
	if (!c)
		c = a->i < b->i ? -1 : a->i > b->i;
	return c;
}

void store__item_free(struct store__item *it)
{
	if (!it)
		return;
	for (size_t i = 0; i < it->n_segs; i++) {
		store__sum_cleanup(&it->segs[i].sum);
		free(it->segs[i].z);
	}
	free(it->segs);
	free(it->rolls);
	free(it->raw);
	free(it->zdata);
	store__sig_free(it->sig);
	free(it);
}

int store__item_log(struct store__item *it, ZSTD_CCtx *cctx)
{
	struct tl_buf lg;
	const char *src = it->raw ? it->raw : "";
	size_t len = it->raw_len;
	int rc = 0;

	free(it->zdata);
	it->zdata = NULL;
	it->zlen = 0;
	it->n_log = 0;
	tl_buf_init(&lg, ITEM_MAX_BYTES);
	for (size_t i = 0; i < it->n_segs; i++)
		if (!it->segs[i].direct)
			it->n_log++;
	if (it->n_log == 0)
		goto out;
	if (it->n_log < it->n_segs) {
		/* Only the segments that are not written directly. */
		for (size_t i = 0; i < it->n_segs; i++)
			if (!it->segs[i].direct &&
			    (rc = tl_buf_append(&lg, it->raw + it->segs[i].off, it->segs[i].len)) < 0)
				goto out;
		src = lg.data;
		len = lg.len;
	}
	/* Level 1: the log row is short-lived; chunks get the stronger level. */
	rc = store__zstd_compress(cctx, NULL, src, len, 1, &it->zdata, &it->zlen);
out:
	tl_buf_cleanup(&lg);
	return rc;
}

int store__item_build(const struct tl_span *const *spans, size_t n, const struct store__zopt *z, int rollups,
		      struct store__item **out)
{
	struct store__item *it = calloc(1, sizeof *it);
	struct ord *o = malloc((n ? n : 1) * sizeof *o);
	const struct tl_span **grp = malloc((n ? n : 1) * sizeof *grp);
	struct tl_buf raw;
	size_t nseg = 0, segcap = 0, rollcap = 0;
	int rc = 0;

	tl_buf_init(&raw, ITEM_MAX_BYTES);
	if (!it || !o || !grp || tl_buf_reserve(&raw, n * 512) < 0) {
		rc = TL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		o[i].sp = spans[i];
		o[i].i = i;
	}
	/* Group by (tenant, trace) keeping the batch order inside a group so that
	 * spans of one resource stay adjacent and share one ResourceSpans. */
	qsort(o, n, sizeof *o, cmp_ord);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && cmp_tenant(o[j].sp->run.tenant, o[i].sp->run.tenant) == 0 &&
		       memcmp(o[j].sp->trace_id, o[i].sp->trace_id, 16) == 0) {
			grp[j - i] = o[j].sp;
			j++;
		}
		if (nseg == segcap) {
			segcap = segcap ? segcap * 2 : 4;
			struct store__seg *ns = realloc(it->segs, segcap * sizeof *ns);
			if (!ns)
				abort();
			it->segs = ns;
		}
		struct store__seg *sg = &it->segs[nseg++];
		it->n_segs = nseg;
		memset(sg, 0, sizeof *sg);
		store__sum_init(&sg->sum);
		struct tl_str ten = o[i].sp->run.tenant;
		size_t tl = ten.n < STORE_TENANT_MAX - 1 ? ten.n : STORE_TENANT_MAX - 1;
		memcpy(sg->tenant, ten.p, tl);
		sg->tenant[tl] = 0;
		memcpy(sg->trace_id, o[i].sp->trace_id, 16);
		sg->hash = store__hash(sg->tenant, sg->trace_id);
		memcpy(sg->sum.s.tenant, sg->tenant, sizeof sg->tenant);
		memcpy(sg->sum.s.trace_id, sg->trace_id, 16);
		sg->off = raw.len;
		rc = otlp_encode_traces(&raw, grp, j - i, 1);
		if (rc)
			goto out;
		sg->len = raw.len - sg->off;
		sg->n_spans = (uint32_t)(j - i);
		sg->start = UINT64_MAX;
		for (size_t k = 0; k < j - i; k++) {
			const struct tl_span *sp = grp[k];
			if (sp->start_unix_nano < sg->start)
				sg->start = sp->start_unix_nano;
			if (sp->end_unix_nano > sg->end)
				sg->end = sp->end_unix_nano;
			store__sum_add_span(&sg->sum, sp);
			if (rollups)
				store__roll_add_span(&it->rolls, &it->n_rolls, &rollcap, sg->tenant, sp);
		}
		store__sum_finish(&sg->sum);
		if (z && sg->sum.s.has_root) {
			/* A trace complete on arrival (its root ends last): compress
			 * the chunk here, on the caller's thread, not on the writer. */
			sg->direct = 1;
			sg->zdict = z->cdict ? z->dict_id : 0;
			rc = store__zstd_compress(z->cctx, z->cdict, raw.data + sg->off, sg->len, z->chunk_level, &sg->z,
						  &sg->zlen);
			if (rc)
				goto out;
		}
		it->bytes += sizeof *sg + sg->sum.search_len + sg->zlen;
		i = j;
	}
	it->n_spans = n;
	it->raw_len = raw.len;
	it->raw = tl_buf_steal(&raw, NULL);
	if (z && (rc = store__item_log(it, z->cctx)) < 0)
		goto out;
	it->bytes += sizeof *it + it->raw_len + it->zlen + it->n_rolls * sizeof(struct store__roll);
	*out = it;
	it = NULL;
out:
	tl_buf_cleanup(&raw);
	store__item_free(it);
	free(o);
	free(grp);
	return rc;
}

/* ---- assembler ---------------------------------------------------------------- */

void store__asm_init(struct store__asm *a)
{
	memset(a, 0, sizeof *a);
	a->nbuckets = 1024;
	a->buckets = calloc(a->nbuckets, sizeof *a->buckets);
	if (!a->buckets)
		abort();
}

static void pt_free(struct store__ptrace *t)
{
	tl_buf_cleanup(&t->data);
	tl_buf_cleanup(&t->chunks);
	store__sum_cleanup(&t->sum);
	free(t);
}

void store__asm_cleanup(struct store__asm *a)
{
	struct store__ptrace *t = a->fhead;
	while (t) {
		struct store__ptrace *nx = t->fnext;
		pt_free(t);
		t = nx;
	}
	free(a->buckets);
	memset(a, 0, sizeof *a);
}

struct store__ptrace *store__asm_find(const struct store__asm *a, const char *tenant, const uint8_t id[16],
				      uint64_t hash)
{
	struct store__ptrace *t = a->buckets[hash & (a->nbuckets - 1)];
	for (; t; t = t->hnext)
		if (t->hash == hash && memcmp(t->trace_id, id, 16) == 0 && strcmp(t->tenant, tenant) == 0)
			return t;
	return NULL;
}

static void grow(struct store__asm *a)
{
	size_t nb = a->nbuckets * 2;
	struct store__ptrace **b = calloc(nb, sizeof *b);
	if (!b)
		abort();
	for (size_t i = 0; i < a->nbuckets; i++) {
		struct store__ptrace *t = a->buckets[i];
		while (t) {
			struct store__ptrace *nx = t->hnext;
			t->hnext = b[t->hash & (nb - 1)];
			b[t->hash & (nb - 1)] = t;
			t = nx;
		}
	}
	free(a->buckets);
	a->buckets = b;
	a->nbuckets = nb;
}

static void t_unlink(struct store__asm *a, struct store__ptrace *t)
{
	if (t->tprev)
		t->tprev->tnext = t->tnext;
	else
		a->thead = t->tnext;
	if (t->tnext)
		t->tnext->tprev = t->tprev;
	else
		a->ttail = t->tprev;
	t->tprev = t->tnext = NULL;
}

static void t_push_tail(struct store__asm *a, struct store__ptrace *t)
{
	t->tprev = a->ttail;
	t->tnext = NULL;
	if (a->ttail)
		a->ttail->tnext = t;
	else
		a->thead = t;
	a->ttail = t;
}

static void t_push_head(struct store__asm *a, struct store__ptrace *t)
{
	t->tnext = a->thead;
	t->tprev = NULL;
	if (a->thead)
		a->thead->tprev = t;
	else
		a->ttail = t;
	a->thead = t;
}

static void r_unlink(struct store__asm *a, struct store__ptrace *t)
{
	if (!t->in_rlist)
		return;
	if (t->rprev)
		t->rprev->rnext = t->rnext;
	else
		a->rhead = t->rnext;
	if (t->rnext)
		t->rnext->rprev = t->rprev;
	else
		a->rtail = t->rprev;
	t->rprev = t->rnext = NULL;
	t->in_rlist = 0;
}

static void r_push_tail(struct store__asm *a, struct store__ptrace *t)
{
	t->rprev = a->rtail;
	t->rnext = NULL;
	if (a->rtail)
		a->rtail->rnext = t;
	else
		a->rhead = t;
	a->rtail = t;
	t->in_rlist = 1;
}

struct store__ptrace *store__asm_add(struct store__asm *a, const struct store__seg *sg, const char *raw,
				     uint64_t log_id, uint64_t now_ns, uint32_t max_spans,
				     const struct store__sum *base)
{
	struct store__ptrace *t = store__asm_find(a, sg->tenant, sg->trace_id, sg->hash);
	if (!t) {
		t = calloc(1, sizeof *t);
		if (!t)
			abort();
		memcpy(t->tenant, sg->tenant, sizeof t->tenant);
		memcpy(t->trace_id, sg->trace_id, 16);
		t->hash = sg->hash;
		tl_buf_init(&t->data, PT_MAX_BYTES);
		if (base)
			store__sum_copy(&t->sum, base);
		else
			store__sum_init(&t->sum);
		memcpy(t->sum.s.tenant, sg->tenant, sizeof sg->tenant);
		memcpy(t->sum.s.trace_id, sg->trace_id, 16);
		t->first_log_id = log_id;
		t->created_ns = now_ns;
		t->start = UINT64_MAX;
		if (a->count >= a->nbuckets)
			grow(a);
		size_t b = t->hash & (a->nbuckets - 1);
		t->hnext = a->buckets[b];
		a->buckets[b] = t;
		t->fprev = a->ftail;
		if (a->ftail)
			a->ftail->fnext = t;
		else
			a->fhead = t;
		a->ftail = t;
		t_push_tail(a, t);
		a->count++;
	}
	if (tl_buf_append(&t->data, raw + sg->off, sg->len) < 0)
		abort();
	t->n_spans += sg->n_spans;
	if (sg->start < t->start)
		t->start = sg->start;
	if (sg->end > t->end)
		t->end = sg->end;
	store__sum_merge(&t->sum, &sg->sum);
	store__sum_finish(&t->sum);
	t->touched_ns = now_ns;
	t_unlink(a, t);
	if (t->force || (max_spans && t->n_spans >= max_spans)) {
		t->force = 1;
		t_push_head(a, t);
	} else {
		t_push_tail(a, t);
	}
	if (t->sum.s.has_root) {
		/* The root ends last: the trace is written after a short grace. */
		r_unlink(a, t);
		r_push_tail(a, t);
	}
	a->bytes -= t->bytes;
	t->bytes = sizeof *t + t->data.cap + t->sum.search_len;
	a->bytes += t->bytes;
	return t;
}

void store__asm_remove(struct store__asm *a, struct store__ptrace *t)
{
	struct store__ptrace **pp = &a->buckets[t->hash & (a->nbuckets - 1)];
	while (*pp && *pp != t)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = t->hnext;
	if (t->fprev)
		t->fprev->fnext = t->fnext;
	else
		a->fhead = t->fnext;
	if (t->fnext)
		t->fnext->fprev = t->fprev;
	else
		a->ftail = t->fprev;
	t_unlink(a, t);
	r_unlink(a, t);
	a->bytes -= t->bytes;
	a->count--;
	pt_free(t);
}
