/*
 * usage.c - per-minute GenAI usage facts from OTLP metrics (model.h
 * model_usage_from_metrics), for clients that send metrics but no spans: the
 * OTel gen_ai.client.token.usage histogram and the coding CLIs' own counters
 * (llm-apis.md 5.4 and 6). Delta points are increments already; cumulative ones
 * are differenced against a bounded per-series state. The store keeps the facts
 * in rollup rows of their own (see the dedup rule in model.h).
 */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- cumulative state ------------------------------------------------------ */

struct useries {
	uint64_t key;   /* 0 = empty slot */
	uint64_t start;
	double value;   /* last sum / value */
	uint64_t count; /* last histogram count */
};

struct model_usage_state {
	struct useries *slots;
	uint32_t size; /* power of two, at least 2 * max */
	uint32_t used, max;
};

struct model_usage_state *model_usage_state_create(uint32_t max_series)
{
	struct model_usage_state *st = calloc(1, sizeof *st);
	uint32_t size = 16;
	if (!st)
		return NULL;
	if (max_series > (1u << 29))
		max_series = 1u << 29;
	while (size < 2 * (uint64_t)max_series)
		size <<= 1;
	st->slots = calloc(size, sizeof *st->slots);
	if (!st->slots) {
		free(st);
		return NULL;
	}
	st->size = size;
	st->max = max_series;
	return st;
}

void model_usage_state_destroy(struct model_usage_state *st)
{
	if (!st)
		return;
	free(st->slots);
	free(st);
}

/* The slot for key: found, newly taken, or NULL when the table is full. */
static struct useries *state_get(struct model_usage_state *st, uint64_t key, int *fresh)
{
	uint32_t i = (uint32_t)key & (st->size - 1);
	*fresh = 0;
	while (st->slots[i].key) {
		if (st->slots[i].key == key)
			return &st->slots[i];
		i = (i + 1) & (st->size - 1);
	}
	if (st->used >= st->max)
		return NULL;
	st->used++;
	st->slots[i].key = key;
	*fresh = 1;
	return &st->slots[i];
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/* Order-independent hash of attribute keys and scalar values. */
static uint64_t attrs_hash(const struct tl_attrs *a)
{
	uint64_t h = 0;
	for (uint32_t i = 0; i < a->n; i++) {
		const struct tl_kv *kv = &a->items[i];
		uint64_t x = fnv(1469598103934665603ull, kv->key.p, kv->key.n);
		x = fnv(x, &kv->v.kind, sizeof kv->v.kind);
		switch (kv->v.kind) {
		case TL_V_STR:
		case TL_V_BYTES:
			x = fnv(x, kv->v.u.s.p, kv->v.u.s.n);
			break;
		case TL_V_BOOL:
			x = fnv(x, &kv->v.u.b, sizeof kv->v.u.b);
			break;
		case TL_V_INT:
			x = fnv(x, &kv->v.u.i, sizeof kv->v.u.i);
			break;
		case TL_V_DOUBLE:
			x = fnv(x, &kv->v.u.d, sizeof kv->v.u.d);
			break;
		default:
			break;
		}
		h += mix(x);
	}
	return h;
}

static uint64_t series_key(const struct tl_metric *m, const struct tl_metric_point *pt)
{
	uint64_t h = fnv(1469598103934665603ull, m->name.p, m->name.n);
	h = mix(h) + attrs_hash(&pt->attrs) * 31 + mix(attrs_hash(&m->resource->attrs) ^ 0x9e3779b97f4a7c15ull);
	return h ? h : 1;
}

/* ---- facts ------------------------------------------------------------------ */

#define CUMULATIVE_FRESH_NS (120ull * 1000000000ull)

struct ctx {
	const struct tl_metrics_batch *b;
	struct model_usage_state *st;
	struct tl_usage_fact *facts;
	size_t n, cap;
};

static struct tl_str attr_str(const struct tl_attrs *a, const char *key)
{
	const struct tl_value *v = tl_attrs_get(a, key);
	return v && v->kind == TL_V_STR ? v->u.s : TL_STR_NULL;
}

static int str_eq(struct tl_str a, struct tl_str b)
{
	return a.n == b.n && (a.n == 0 || !memcmp(a.p, b.p, a.n));
}

static struct tl_usage_fact *fact_get(struct ctx *c, uint64_t minute, struct tl_str service, struct tl_str model,
				      struct tl_str provider, struct tl_str op)
{
	struct tl_usage_fact *f;
	for (size_t i = 0; i < c->n; i++) {
		f = &c->facts[i];
		if (f->minute_unix == minute && str_eq(f->service, service) && str_eq(f->model, model) &&
		    str_eq(f->provider, provider) && str_eq(f->operation, op))
			return f;
	}
	if (c->n >= c->cap)
		return NULL;
	f = &c->facts[c->n++];
	memset(f, 0, sizeof *f);
	f->minute_unix = minute;
	f->tenant = c->b->tenant;
	f->service = service;
	f->model = model;
	f->provider = provider;
	f->operation = op;
	f->cost_nusd = TL_NONE;
	return f;
}

static double point_value(const struct tl_metric *m, const struct tl_metric_point *pt)
{
	if (m->type == TL_METRIC_HISTOGRAM)
		return pt->has_sum ? pt->sum : 0;
	if (pt->value_kind == TL_PV_INT)
		return (double)pt->as_int;
	if (pt->value_kind == TL_PV_DOUBLE)
		return pt->as_double;
	return 0;
}

/* The increment a point stands for (value and histogram count); 0 when the
 * point is not countable. */
static int increment(struct ctx *c, const struct tl_metric *m, const struct tl_metric_point *pt, double *dv,
		     uint64_t *dn)
{
	double v = point_value(m, pt);
	uint64_t n = m->type == TL_METRIC_HISTOGRAM ? pt->count : 0;
	struct useries *s;
	int fresh;
	if (!pt->time_unix_nano || (pt->flags & TL_POINT_NO_RECORDED_VALUE) || !isfinite(v))
		return 0;
	if (m->temporality == TL_TEMP_DELTA) {
		*dv = v;
		*dn = n;
		return 1;
	}
	if (m->temporality != TL_TEMP_CUMULATIVE || !c->st)
		return 0;
	if (!(s = state_get(c->st, series_key(m, pt), &fresh)))
		return 0;
	if (fresh) {
		int recent = pt->start_unix_nano && pt->time_unix_nano >= pt->start_unix_nano &&
			     pt->time_unix_nano - pt->start_unix_nano <= CUMULATIVE_FRESH_NS;
		*dv = recent ? v : 0;
		*dn = recent ? n : 0;
	} else if (s->start != pt->start_unix_nano || v < s->value || n < s->count) {
		*dv = v; /* reset: the new series counts from zero */
		*dn = n;
	} else {
		*dv = v - s->value;
		*dn = n - s->count;
	}
	s->start = pt->start_unix_nano;
	s->value = v;
	s->count = n;
	return *dv != 0 || *dn != 0;
}

enum src { SRC_NONE, SRC_GENAI, SRC_CLAUDE_TOKENS, SRC_CLAUDE_COST, SRC_GEMINI_TOKENS, SRC_GEMINI_CALLS, SRC_CODEX };

static int source_of(const struct tl_metric *m)
{
	static const struct {
		const char *name;
		int type, src;
	} known[] = {
	    {"gen_ai.client.token.usage", TL_METRIC_HISTOGRAM, SRC_GENAI},
	    {"claude_code.token.usage", TL_METRIC_SUM, SRC_CLAUDE_TOKENS},
	    {"claude_code.cost.usage", TL_METRIC_SUM, SRC_CLAUDE_COST},
	    {"gemini_cli.token.usage", TL_METRIC_SUM, SRC_GEMINI_TOKENS},
	    {"gemini_cli.api.request.count", TL_METRIC_SUM, SRC_GEMINI_CALLS},
	    {"codex.turn.token_usage", TL_METRIC_SUM, SRC_CODEX},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (m->type == known[i].type && tl_str_eq_c(m->name, known[i].name))
			return known[i].src;
	return SRC_NONE;
}

static void add_tokens(struct tl_usage_fact *f, struct tl_str type, int src, int64_t v)
{
	if (tl_str_eq_c(type, "input")) {
		f->input_tokens += v;
	} else if (tl_str_eq_c(type, "output")) {
		f->output_tokens += v;
	} else if (src == SRC_CLAUDE_TOKENS && tl_str_eq_c(type, "cacheRead")) {
		f->cache_read_tokens += v;
		f->input_tokens += v;
	} else if (src == SRC_CLAUDE_TOKENS && tl_str_eq_c(type, "cacheCreation")) {
		f->cache_write_tokens += v;
		f->input_tokens += v;
	} else if ((src == SRC_GEMINI_TOKENS && tl_str_eq_c(type, "cache")) ||
		   (src == SRC_CODEX && tl_str_eq_c(type, "cached"))) {
		f->cache_read_tokens += v; /* already part of input */
	} else if ((src == SRC_GEMINI_TOKENS && tl_str_eq_c(type, "thought")) ||
		   (src == SRC_CODEX && tl_str_eq_c(type, "reasoning"))) {
		f->reasoning_tokens += v;
		if (src == SRC_GEMINI_TOKENS)
			f->output_tokens += v; /* Gemini's output excludes thoughts */
	}
}

static void one_point(struct ctx *c, const struct tl_metric *m, int src, const struct tl_metric_point *pt)
{
	static const char *const providers[] = {
	    [SRC_CLAUDE_TOKENS] = "anthropic", [SRC_CLAUDE_COST] = "anthropic", [SRC_GEMINI_TOKENS] = "gcp.gemini",
	    [SRC_GEMINI_CALLS] = "gcp.gemini", [SRC_CODEX] = "openai",
	};
	const struct tl_attrs *a = &pt->attrs;
	struct tl_str model, provider, op, type;
	struct tl_usage_fact *f;
	double dv = 0;
	uint64_t dn = 0;
	if (!increment(c, m, pt, &dv, &dn))
		return;
	if (src == SRC_GENAI) {
		model = attr_str(a, "gen_ai.response.model");
		if (!model.n)
			model = attr_str(a, "gen_ai.request.model");
		provider = attr_str(a, "gen_ai.provider.name");
		if (!provider.n)
			provider = attr_str(a, "gen_ai.system");
		op = attr_str(a, "gen_ai.operation.name");
		type = attr_str(a, "gen_ai.token.type");
	} else {
		model = attr_str(a, "model");
		if (!model.n && src == SRC_GEMINI_CALLS)
			model = attr_str(a, "model_name");
		provider = tl_str_c(providers[src]);
		op = TL_STR_LIT("chat");
		type = attr_str(a, "type");
		if (!type.n)
			type = attr_str(a, "token_type");
	}
	f = fact_get(c, pt->time_unix_nano / 1000000000ull / 60 * 60, m->resource->service, model, provider, op);
	if (!f)
		return;
	switch (src) {
	case SRC_GENAI:
		add_tokens(f, type, src, llround(dv));
		if (tl_str_eq_c(type, "input"))
			f->calls += (int64_t)dn;
		break;
	case SRC_CLAUDE_COST:
		f->cost_nusd = (f->cost_nusd == TL_NONE ? 0 : f->cost_nusd) + llround(dv * 1e9);
		break;
	case SRC_GEMINI_CALLS:
		f->calls += llround(dv);
		break;
	default:
		add_tokens(f, type, src, llround(dv));
		break;
	}
}

int model_usage_from_metrics(const struct tl_metrics_batch *b, struct model_usage_state *st, struct tl_arena *arena,
			     struct tl_usage_fact **out, size_t *n)
{
	struct ctx c = {b, st, NULL, 0, 0};
	int rc = 0;
	for (size_t i = 0; i < b->n_metrics; i++)
		if (source_of(&b->metrics[i]) != SRC_NONE)
			c.cap += b->metrics[i].n_points;
	if (c.cap && !(c.facts = tl_arena_alloc(arena, c.cap * sizeof *c.facts))) {
		rc = TL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->n_metrics; i++) {
		const struct tl_metric *m = &b->metrics[i];
		int src = source_of(m);
		if (src == SRC_NONE)
			continue;
		for (uint32_t k = 0; k < m->n_points; k++)
			one_point(&c, m, src, &m->points[k]);
	}
out:
	*out = c.n ? c.facts : NULL;
	*n = rc ? 0 : c.n;
	return rc;
}
