/*
 * test_usage.c - unit tests for model_usage_from_metrics (src/model/usage.c):
 * the OTel token histogram, Claude Code's delta double counters and cost,
 * Gemini CLI's token types, minute buckets, and cumulative points differenced
 * against the per-series state (fresh series, baseline only, reset, no state).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "tl_test.h"

#define SEC 1000000000ull
#define T0 (1700000040ull * SEC) /* a minute boundary */

struct mb {
	struct tl_kv res_attrs[1];
	struct tl_resource res;
	struct tl_scope scope;
	struct tl_kv attrs[8][4];
	struct tl_metric_point pts[8];
	struct tl_metric m[4];
	struct tl_metrics_batch b;
};

static void mb_init(struct mb *x, const char *service)
{
	memset(x, 0, sizeof *x);
	x->res.service = tl_str_c(service);
	x->b.resources = &x->res;
	x->b.n_resources = 1;
	x->b.metrics = x->m;
	x->b.tenant = TL_STR_LIT("t1");
}

static struct tl_metric *mb_metric(struct mb *x, const char *name, int type, int temporality)
{
	struct tl_metric *m = &x->m[x->b.n_metrics++];
	m->name = tl_str_c(name);
	m->type = type;
	m->temporality = temporality;
	m->monotonic = 1;
	m->resource = &x->res;
	m->scope = &x->scope;
	m->points = &x->pts[x->b.n_points];
	return m;
}

/* Adds a point with string attributes given as key, value, ..., NULL. */
static struct tl_metric_point *mb_point(struct mb *x, struct tl_metric *m, uint64_t start, uint64_t time, ...)
{
	size_t k = x->b.n_points++;
	struct tl_metric_point *p = &x->pts[k];
	va_list ap;
	const char *key;
	m->n_points++;
	p->start_unix_nano = start;
	p->time_unix_nano = time;
	p->attrs.items = x->attrs[k];
	va_start(ap, time);
	while ((key = va_arg(ap, const char *))) {
		struct tl_kv *kv = &x->attrs[k][p->attrs.n++];
		kv->key = tl_str_c(key);
		kv->v.kind = TL_V_STR;
		kv->v.u.s = tl_str_c(va_arg(ap, const char *));
	}
	va_end(ap);
	return p;
}

static struct tl_usage_fact *extract(struct mb *x, struct model_usage_state *st, struct tl_arena *a, size_t *n)
{
	struct tl_usage_fact *f = NULL;
	if (model_usage_from_metrics(&x->b, st, a, &f, n))
		abort();
	return f;
}

TEST(test_genai_histogram)
{
	struct mb x;
	struct tl_arena *a = tl_arena_create(4096, 0);
	size_t n;
	mb_init(&x, "agent");
	struct tl_metric *m = mb_metric(&x, "gen_ai.client.token.usage", TL_METRIC_HISTOGRAM, TL_TEMP_DELTA);
	struct tl_metric_point *p;
	p = mb_point(&x, m, T0, T0 + 10 * SEC, "gen_ai.token.type", "input", "gen_ai.request.model", "gpt-4o",
		     "gen_ai.provider.name", "openai", "gen_ai.operation.name", "chat", NULL);
	p->count = 2;
	p->sum = 100;
	p->has_sum = 1;
	p = mb_point(&x, m, T0, T0 + 10 * SEC, "gen_ai.token.type", "output", "gen_ai.request.model", "gpt-4o",
		     "gen_ai.provider.name", "openai", "gen_ai.operation.name", "chat", NULL);
	p->count = 2;
	p->sum = 40;
	p->has_sum = 1;
	struct tl_usage_fact *f = extract(&x, NULL, a, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(f[0].minute_unix, T0 / SEC);
	CHECK_STR(f[0].tenant, "t1");
	CHECK_STR(f[0].service, "agent");
	CHECK_STR(f[0].model, "gpt-4o");
	CHECK_STR(f[0].provider, "openai");
	CHECK_STR(f[0].operation, "chat");
	CHECK_EQ_INT(f[0].input_tokens, 100);
	CHECK_EQ_INT(f[0].output_tokens, 40);
	CHECK_EQ_INT(f[0].calls, 2);
	CHECK_EQ_INT(f[0].cost_nusd, TL_NONE);
	tl_arena_destroy(a);
}

TEST(test_claude_code)
{
	struct mb x;
	struct tl_arena *a = tl_arena_create(4096, 0);
	size_t n;
	static const struct {
		const char *type;
		double v;
	} pts[] = {{"input", 10}, {"output", 5.4}, {"cacheRead", 100}, {"cacheCreation", 20}};
	mb_init(&x, "claude-code");
	struct tl_metric *m = mb_metric(&x, "claude_code.token.usage", TL_METRIC_SUM, TL_TEMP_DELTA);
	for (size_t i = 0; i < 4; i++) {
		struct tl_metric_point *p =
		    mb_point(&x, m, T0, T0 + 5 * SEC, "type", pts[i].type, "model", "claude-sonnet-4-5", NULL);
		p->value_kind = TL_PV_DOUBLE;
		p->as_double = pts[i].v;
	}
	m = mb_metric(&x, "claude_code.cost.usage", TL_METRIC_SUM, TL_TEMP_DELTA);
	struct tl_metric_point *p = mb_point(&x, m, T0, T0 + 5 * SEC, "model", "claude-sonnet-4-5", NULL);
	p->value_kind = TL_PV_DOUBLE;
	p->as_double = 0.0123;
	/* another minute, another fact */
	p = mb_point(&x, m, T0 + 60 * SEC, T0 + 65 * SEC, "model", "claude-sonnet-4-5", NULL);
	p->value_kind = TL_PV_DOUBLE;
	p->as_double = 0.001;
	struct tl_usage_fact *f = extract(&x, NULL, a, &n);
	CHECK_EQ_INT(n, 2);
	CHECK_STR(f[0].provider, "anthropic");
	CHECK_STR(f[0].model, "claude-sonnet-4-5");
	CHECK_EQ_INT(f[0].input_tokens, 130);
	CHECK_EQ_INT(f[0].output_tokens, 5);
	CHECK_EQ_INT(f[0].cache_read_tokens, 100);
	CHECK_EQ_INT(f[0].cache_write_tokens, 20);
	CHECK_EQ_INT(f[0].cost_nusd, 12300000);
	CHECK_EQ_INT(f[0].calls, 0);
	CHECK_EQ_INT(f[1].minute_unix, T0 / SEC + 60);
	CHECK_EQ_INT(f[1].cost_nusd, 1000000);
	CHECK_EQ_INT(f[1].input_tokens, 0);
	tl_arena_destroy(a);
}

TEST(test_gemini)
{
	struct mb x;
	struct tl_arena *a = tl_arena_create(4096, 0);
	size_t n;
	static const struct {
		const char *type;
		int64_t v;
	} pts[] = {{"input", 100}, {"output", 10}, {"thought", 7}, {"cache", 60}, {"tool", 3}};
	mb_init(&x, "gemini-cli");
	struct tl_metric *m = mb_metric(&x, "gemini_cli.token.usage", TL_METRIC_SUM, TL_TEMP_DELTA);
	for (size_t i = 0; i < 5; i++) {
		struct tl_metric_point *p = mb_point(&x, m, T0, T0 + SEC, "type", pts[i].type, "model", "gemini-2.5-pro", NULL);
		p->value_kind = TL_PV_INT;
		p->as_int = pts[i].v;
	}
	m = mb_metric(&x, "gemini_cli.api.request.count", TL_METRIC_SUM, TL_TEMP_DELTA);
	struct tl_metric_point *p = mb_point(&x, m, T0, T0 + SEC, "model", "gemini-2.5-pro", NULL);
	p->value_kind = TL_PV_INT;
	p->as_int = 3;
	struct tl_usage_fact *f = extract(&x, NULL, a, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_STR(f[0].provider, "gcp.gemini");
	CHECK_EQ_INT(f[0].input_tokens, 100);
	CHECK_EQ_INT(f[0].output_tokens, 17);
	CHECK_EQ_INT(f[0].reasoning_tokens, 7);
	CHECK_EQ_INT(f[0].cache_read_tokens, 60);
	CHECK_EQ_INT(f[0].calls, 3);
	tl_arena_destroy(a);
}

TEST(test_cumulative_with_state)
{
	struct model_usage_state *st = model_usage_state_create(16);
	struct tl_arena *a = tl_arena_create(4096, 0);
	struct mb x;
	struct tl_usage_fact *f;
	size_t n;
	CHECK(st != NULL);
	/* without state cumulative points are skipped */
	mb_init(&x, "svc");
	struct tl_metric *m = mb_metric(&x, "claude_code.token.usage", TL_METRIC_SUM, TL_TEMP_CUMULATIVE);
	struct tl_metric_point *p = mb_point(&x, m, T0, T0 + 30 * SEC, "type", "output", NULL);
	p->value_kind = TL_PV_INT;
	p->as_int = 50;
	f = extract(&x, NULL, a, &n);
	CHECK_EQ_INT(n, 0);
	CHECK(f == NULL);
	/* a series that started 30 s ago counts in full */
	f = extract(&x, st, a, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(f[0].output_tokens, 50);
	/* then the difference */
	p->time_unix_nano = T0 + 90 * SEC;
	p->as_int = 80;
	f = extract(&x, st, a, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(f[0].output_tokens, 30);
	CHECK_EQ_INT(f[0].minute_unix, T0 / SEC + 60);
	/* the same export again adds nothing */
	f = extract(&x, st, a, &n);
	CHECK_EQ_INT(n, 0);
	/* a reset (new start time) counts from zero */
	p->start_unix_nano = T0 + 100 * SEC;
	p->time_unix_nano = T0 + 110 * SEC;
	p->as_int = 4;
	f = extract(&x, st, a, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(f[0].output_tokens, 4);
	/* a series first seen long after its start only sets the baseline */
	p->attrs.items[0].v.u.s = TL_STR_LIT("input");
	p->start_unix_nano = T0 - 3600 * SEC;
	p->as_int = 1000;
	f = extract(&x, st, a, &n);
	CHECK_EQ_INT(n, 0);
	p->time_unix_nano = T0 + 170 * SEC;
	p->as_int = 1010;
	f = extract(&x, st, a, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(f[0].input_tokens, 10);
	model_usage_state_destroy(st);
	tl_arena_destroy(a);
}

TEST(test_ignored_points)
{
	struct mb x;
	struct tl_arena *a = tl_arena_create(4096, 0);
	size_t n;
	mb_init(&x, "svc");
	struct tl_metric *m = mb_metric(&x, "claude_code.token.usage", TL_METRIC_SUM, TL_TEMP_DELTA);
	struct tl_metric_point *p = mb_point(&x, m, T0, 0, "type", "input", NULL); /* no time */
	p->value_kind = TL_PV_INT;
	p->as_int = 5;
	p = mb_point(&x, m, T0, T0, "type", "input", NULL);
	p->flags = TL_POINT_NO_RECORDED_VALUE;
	p->value_kind = TL_PV_INT;
	p->as_int = 5;
	m = mb_metric(&x, "some.other.metric", TL_METRIC_SUM, TL_TEMP_DELTA);
	p = mb_point(&x, m, T0, T0, NULL);
	p->value_kind = TL_PV_INT;
	p->as_int = 5;
	extract(&x, NULL, a, &n);
	CHECK_EQ_INT(n, 0);
	tl_arena_destroy(a);
}

static const struct tl_test_case TESTS[] = {
    T(test_genai_histogram), T(test_claude_code), T(test_gemini), T(test_cumulative_with_state), T(test_ignored_points),
};

TEST_MAIN("usage", TESTS)
