/*
 * integrity.c - the trace integrity scan of integrity.h. One pass over the
 * range: list the traces page by page (newest first, with the store cursor),
 * read each one, check roots and parent time bounds inside the trace, and
 * remember every span id in a hash (span id -> trace). Spans whose parent is not
 * in their own trace are kept as candidates and classified at the end, when the
 * hash holds every scanned span: parent found in another trace -> cross-trace,
 * else orphan. Memory is bounded by max_traces.
 */
#include "integrity/integrity.h"

#include <stdio.h>
#include <stdlib.h>

#define LIST_PAGE 500
#define DEFAULT_MAX_TRACES 100000
#define NAME_KEEP 64

/* A span whose parent was not found in its own trace. */
struct candidate {
	uint32_t trace;              /* index into scan.trace_ids */
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	char name[NAME_KEEP];
};

/* Open addressing, key = span id as a uint64 (never 0: zero span ids are
 * rejected at ingest, so 0 marks an empty slot). */
struct id_slot {
	uint64_t key;
	uint32_t trace;
};

struct scan {
	uint8_t (*trace_ids)[16];
	size_t n_traces, cap_traces;
	struct candidate *cands;
	size_t n_cands, cap_cands;
	struct id_slot *slots;
	size_t n_slots, used_slots;
};

/* Span-id sort entry for lookups inside one trace. */
struct local_id {
	uint64_t key;
	uint32_t idx;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		abort();
	return q;
}

static uint64_t id_key(const uint8_t id[8])
{
	uint64_t k;
	memcpy(&k, id, 8);
	return k;
}

/* splitmix64 finaliser: test and SDK ids can differ in a few bytes only. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static void hash_insert(struct scan *sc, uint64_t key, uint32_t trace);

static void hash_grow(struct scan *sc)
{
	struct id_slot *old = sc->slots;
	size_t n_old = sc->n_slots;
	sc->n_slots = n_old ? n_old * 2 : 1024;
	sc->slots = calloc(sc->n_slots, sizeof *sc->slots);
	if (!sc->slots)
		abort();
	sc->used_slots = 0;
	for (size_t i = 0; i < n_old; i++)
		if (old[i].key)
			hash_insert(sc, old[i].key, old[i].trace);
	free(old);
}

/* Keeps the first trace seen for a span id. */
static void hash_insert(struct scan *sc, uint64_t key, uint32_t trace)
{
	if (!key)
		return;
	if ((sc->used_slots + 1) * 2 > sc->n_slots)
		hash_grow(sc);
	size_t mask = sc->n_slots - 1;
	for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
		if (sc->slots[i].key == key)
			return;
		if (!sc->slots[i].key) {
			sc->slots[i].key = key;
			sc->slots[i].trace = trace;
			sc->used_slots++;
			return;
		}
	}
}

/* Returns 1 and the trace index when the span id was seen. */
static int hash_find(const struct scan *sc, uint64_t key, uint32_t *trace)
{
	if (!sc->n_slots || !key)
		return 0;
	size_t mask = sc->n_slots - 1;
	for (size_t i = mix(key) & mask; sc->slots[i].key; i = (i + 1) & mask) {
		if (sc->slots[i].key == key) {
			*trace = sc->slots[i].trace;
			return 1;
		}
	}
	return 0;
}

static int cmp_local(const void *a, const void *b)
{
	const struct local_id *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

static const struct local_id *local_find(const struct local_id *ids, size_t n, uint64_t key)
{
	struct local_id k = {key, 0};
	return bsearch(&k, ids, n, sizeof *ids, cmp_local);
}

static int is_root(const struct tl_span *s)
{
	return !s->has_parent || tl_is_zero(s->parent_span_id, 8);
}

static void copy_name(char *out, size_t outlen, struct tl_str name)
{
	size_t n = name.n < outlen - 1 ? name.n : outlen - 1;
	if (n)
		memcpy(out, name.p, n);
	out[n] = 0;
}

/* Counts one issue and keeps it as an example while there is room. Returns the
 * example to fill, or NULL when only counted. */
static struct integrity_example *add_issue(struct integrity_report *r, int kind, uint32_t max,
					   const uint8_t trace_id[16], const uint8_t span_id[8])
{
	struct integrity_issue *is = &r->kinds[kind];
	is->count++;
	if (is->n_examples >= max)
		return NULL;
	struct integrity_example *e = &is->examples[is->n_examples++];
	memset(e, 0, sizeof *e);
	memcpy(e->trace_id, trace_id, 16);
	memcpy(e->span_id, span_id, 8);
	return e;
}

static void set_parent(struct integrity_example *e, const struct tl_span *s)
{
	e->has_parent = 1;
	memcpy(e->parent_span_id, s->parent_span_id, 8);
}

static double ns_to_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Roots and clock skew inside one trace; children whose parent is elsewhere
 * become candidates. */
static void check_trace(struct scan *sc, struct integrity_report *r, const struct integrity_params *p,
			uint32_t max, const struct store_trace *t, uint32_t ti)
{
	struct local_id *ids = xrealloc(NULL, t->n_spans * sizeof *ids);
	size_t nroots = 0;
	const struct tl_span *roots[3] = {NULL, NULL, NULL};

	for (size_t i = 0; i < t->n_spans; i++) {
		ids[i].key = id_key(t->spans[i].span_id);
		ids[i].idx = (uint32_t)i;
		hash_insert(sc, ids[i].key, ti);
	}
	qsort(ids, t->n_spans, sizeof *ids, cmp_local);

	for (size_t i = 0; i < t->n_spans; i++) {
		const struct tl_span *s = &t->spans[i];
		if (is_root(s)) {
			if (nroots < 3)
				roots[nroots] = s;
			nroots++;
			continue;
		}
		const struct local_id *pl = local_find(ids, t->n_spans, id_key(s->parent_span_id));
		if (!pl) {
			if (sc->n_cands == sc->cap_cands) {
				sc->cap_cands = sc->cap_cands ? sc->cap_cands * 2 : 64;
				sc->cands = xrealloc(sc->cands, sc->cap_cands * sizeof *sc->cands);
			}
			struct candidate *c = &sc->cands[sc->n_cands++];
			c->trace = ti;
			memcpy(c->span_id, s->span_id, 8);
			memcpy(c->parent_span_id, s->parent_span_id, 8);
			copy_name(c->name, sizeof c->name, s->name);
			continue;
		}
		const struct tl_span *par = &t->spans[pl->idx];
		uint64_t tol = p->skew_tolerance_ns;
		int early = s->start_unix_nano + tol < par->start_unix_nano;
		int late = s->end_unix_nano > par->end_unix_nano + tol;
		if (!early && !late)
			continue;
		struct integrity_example *e = add_issue(r, INTEGRITY_CLOCK_SKEW, max, t->summary.trace_id, s->span_id);
		if (!e)
			continue;
		set_parent(e, s);
		char pname[NAME_KEEP], cname[NAME_KEEP];
		copy_name(pname, sizeof pname, par->name);
		copy_name(cname, sizeof cname, s->name);
		if (early)
			snprintf(e->detail, sizeof e->detail, "\"%s\" starts %.3f ms before its parent \"%s\"", cname,
				 ns_to_ms(par->start_unix_nano - s->start_unix_nano), pname);
		else
			snprintf(e->detail, sizeof e->detail, "\"%s\" ends %.3f ms after its parent \"%s\"", cname,
				 ns_to_ms(s->end_unix_nano - par->end_unix_nano), pname);
	}

	if (nroots > 1) {
		struct integrity_example *e =
		    add_issue(r, INTEGRITY_MULTI_ROOT, max, t->summary.trace_id, roots[1]->span_id);
		if (e) {
			char a[NAME_KEEP], b[NAME_KEEP];
			copy_name(a, sizeof a, roots[0]->name);
			copy_name(b, sizeof b, roots[1]->name);
			snprintf(e->detail, sizeof e->detail, "%zu root spans: \"%s\", \"%s\"%s", nroots, a, b,
				 nroots > 2 ? ", ..." : "");
		}
	}
	free(ids);
}

/* Orphan or cross-trace, now that every scanned span id is known. */
static void classify_candidates(const struct scan *sc, struct integrity_report *r, uint32_t max)
{
	for (size_t i = 0; i < sc->n_cands; i++) {
		const struct candidate *c = &sc->cands[i];
		uint32_t other;
		char pid[17];
		tl_hex_encode(c->parent_span_id, 8, pid);
		if (hash_find(sc, id_key(c->parent_span_id), &other) && other != c->trace) {
			struct integrity_example *e =
			    add_issue(r, INTEGRITY_CROSS_TRACE, max, sc->trace_ids[c->trace], c->span_id);
			if (!e)
				continue;
			e->has_parent = 1;
			memcpy(e->parent_span_id, c->parent_span_id, 8);
			memcpy(e->other_trace_id, sc->trace_ids[other], 16);
			e->has_other_trace = 1;
			char tid[33];
			tl_hex_encode(sc->trace_ids[other], 16, tid);
			snprintf(e->detail, sizeof e->detail, "\"%s\": parent %s is in trace %s", c->name, pid, tid);
		} else {
			struct integrity_example *e =
			    add_issue(r, INTEGRITY_ORPHAN, max, sc->trace_ids[c->trace], c->span_id);
			if (!e)
				continue;
			e->has_parent = 1;
			memcpy(e->parent_span_id, c->parent_span_id, 8);
			snprintf(e->detail, sizeof e->detail, "\"%s\": parent %s not found", c->name, pid);
		}
	}
}

int integrity_check(struct store *s, const struct tl_price_table *prices, const struct integrity_params *p,
		    struct integrity_report *out)
{
	struct scan sc;
	struct store_trace_filter f;
	struct store_trace_summary *sums = NULL;
	uint64_t max_traces = p->max_traces ? p->max_traces : DEFAULT_MAX_TRACES;
	uint32_t max = p->max_examples < INTEGRITY_MAX_EXAMPLES ? p->max_examples : INTEGRITY_MAX_EXAMPLES;
	uint64_t settled_before = p->now_unix_nano > p->settle_ns ? p->now_unix_nano - p->settle_ns : 0;
	int rc = 0, more = 1;

	memset(&sc, 0, sizeof sc);
	memset(out, 0, sizeof *out);
	if (!p->tenant || p->start_unix_nano > p->end_unix_nano) {
		rc = TL_EINVAL;
		goto out;
	}
	memset(&f, 0, sizeof f);
	f.tenant = p->tenant;
	f.start_unix_nano = p->start_unix_nano;
	f.end_unix_nano = p->end_unix_nano;
	f.status = -1;
	f.min_duration_ns = f.max_duration_ns = f.min_cost_nusd = -1;
	f.limit = LIST_PAGE;

	while (more && !out->truncated) {
		size_t n = 0;
		free(sums);
		sums = NULL;
		rc = store_list_traces(s, &f, &sums, &n, &more);
		if (rc)
			goto out;
		for (size_t i = 0; i < n; i++) {
			const struct store_trace_summary *sum = &sums[i];
			struct store_trace t;
			if (out->traces_scanned >= max_traces) {
				out->truncated = 1;
				break;
			}
			if (p->settle_ns && sum->end_unix_nano > settled_before) {
				out->traces_unsettled++;
				continue;
			}
			memset(&t, 0, sizeof t);
			rc = store_get_trace(s, p->tenant, sum->trace_id, prices, &t);
			if (rc == TL_ENOTFOUND) {
				/* deleted by retention since it was listed */
				rc = 0;
				continue;
			}
			if (rc)
				goto out;
			if (sc.n_traces == sc.cap_traces) {
				sc.cap_traces = sc.cap_traces ? sc.cap_traces * 2 : 256;
				sc.trace_ids = xrealloc(sc.trace_ids, sc.cap_traces * sizeof *sc.trace_ids);
			}
			uint32_t ti = (uint32_t)sc.n_traces++;
			memcpy(sc.trace_ids[ti], sum->trace_id, 16);
			out->traces_scanned++;
			out->spans_scanned += t.n_spans;
			check_trace(&sc, out, p, max, &t, ti);
			store_trace_cleanup(&t);
		}
		if (n == 0)
			break;
		f.has_cursor = 1;
		f.cursor_start = sums[n - 1].start_unix_nano;
		memcpy(f.cursor_id, sums[n - 1].trace_id, 16);
	}
	classify_candidates(&sc, out, max);
out:
	free(sums);
	free(sc.trace_ids);
	free(sc.cands);
	free(sc.slots);
	return rc;
}

const char *integrity_kind_name(int kind)
{
	switch (kind) {
	case INTEGRITY_ORPHAN: return "orphan_spans";
	case INTEGRITY_MULTI_ROOT: return "multiple_roots";
	case INTEGRITY_CROSS_TRACE: return "cross_trace_parents";
	case INTEGRITY_CLOCK_SKEW: return "clock_skew";
	default: return "unknown";
	}
}

uint64_t integrity_report_total(const struct integrity_report *r)
{
	uint64_t n = 0;
	for (int k = 0; k < INTEGRITY_NKINDS; k++)
		n += r->kinds[k].count;
	return n;
}
