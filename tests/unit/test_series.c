/*
 * test_series.c - unit tests for the OTLP series table (src/metrics/
 * otlp_series.c): exact exposition lines for delta -> cumulative over three
 * exports, the namespace prefix, unit suffixes, histograms (delta bucket-wise,
 * exponential as count/sum), summaries, job/instance/target_info, label
 * sanitising, name clashes with the daemon's families, type conflicts, the
 * series cap and expiry with a fake clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "tl_test.h"

#define SEC 1000000000ull
#define T0 (1700000000ull * SEC)

/* A one-metric batch built in place. */
struct one {
	struct tl_kv res_attrs[4];
	struct tl_resource res;
	struct tl_scope scope;
	struct tl_kv attrs[4];
	struct tl_metric_point pts[4];
	struct tl_metric m;
	struct tl_metrics_batch b;
};

static struct tl_value sv(const char *s)
{
	struct tl_value v = {.kind = TL_V_STR, .u.s = tl_str_c(s)};
	return v;
}

static void one_init(struct one *o, const char *name, const char *unit, int type, int temporality, int monotonic)
{
	memset(o, 0, sizeof *o);
	o->res_attrs[0].key = TL_STR_LIT("service.name");
	o->res_attrs[0].v = sv("svc");
	o->res.attrs.items = o->res_attrs;
	o->res.attrs.n = 1;
	o->res.service = TL_STR_LIT("svc");
	o->scope.name = TL_STR_LIT("lib");
	o->m.name = tl_str_c(name);
	o->m.unit = tl_str_c(unit);
	o->m.type = type;
	o->m.temporality = temporality;
	o->m.monotonic = monotonic;
	o->m.points = o->pts;
	o->m.n_points = 1;
	o->m.resource = &o->res;
	o->m.scope = &o->scope;
	o->b.metrics = &o->m;
	o->b.n_metrics = 1;
	o->b.resources = &o->res;
	o->b.n_resources = 1;
	o->b.tenant = TL_STR_LIT("default");
}

static void point_int(struct tl_metric_point *p, uint64_t start, uint64_t time, int64_t v)
{
	p->start_unix_nano = start;
	p->time_unix_nano = time;
	p->value_kind = TL_PV_INT;
	p->as_int = v;
}

/* The OTLP part of /metrics at now, without the two tracelamp_otlp families. */
static char *render(struct metrics *m, uint64_t now)
{
	struct tl_buf b;
	char *s, *p;
	tl_buf_init(&b, 0);
	if (metrics_render_otlp(m, now, &b))
		abort();
	s = tl_buf_steal(&b, NULL);
	p = strstr(s, "tracelamp_otlp_series_dropped_total{reason=\"type_conflict\"}");
	if (!p)
		abort();
	p = strchr(p, '\n') + 1;
	memmove(s, p, strlen(p) + 1);
	tl_buf_cleanup(&b);
	return s;
}

TEST(test_delta_to_cumulative_with_namespace)
{
	struct metrics *m = metrics_create(8);
	struct one o;
	char *s;
	metrics_set_namespace(m, "llm");
	one_init(&o, "prompt_tokens", "{token}", TL_METRIC_SUM, TL_TEMP_DELTA, 1);
	o.pts[0].attrs.items = o.attrs;
	o.pts[0].attrs.n = 1;
	o.attrs[0].key = TL_STR_LIT("gen_ai.request.model");
	o.attrs[0].v = sv("gpt-4o");
	int64_t vals[3] = {5, 7, 10};
	for (int i = 0; i < 3; i++) {
		point_int(&o.pts[0], T0 + (uint64_t)i * 10 * SEC, T0 + (uint64_t)(i + 1) * 10 * SEC, vals[i]);
		metrics_ingest_otlp(m, &o.b, T0 + (uint64_t)(i + 1) * 10 * SEC);
		s = render(m, T0 + (uint64_t)(i + 1) * 10 * SEC);
		if (i == 2)
			CHECK_EQ_STR(s, "# HELP llm_prompt_tokens_total OTLP metric prompt_tokens\n"
					"# TYPE llm_prompt_tokens_total counter\n"
					"llm_prompt_tokens_total{gen_ai_request_model=\"gpt-4o\",job=\"svc\",otel_scope_name=\"lib\"} 22\n");
		if (i == 0)
			CHECK(strstr(s, "} 5\n") != NULL);
		if (i == 1)
			CHECK(strstr(s, "} 12\n") != NULL);
		free(s);
	}
	/* a retried export of the last interval is not added again */
	metrics_ingest_otlp(m, &o.b, T0 + 31 * SEC);
	s = render(m, T0 + 31 * SEC);
	CHECK(strstr(s, "} 22\n") != NULL);
	free(s);
	metrics_destroy(m);
}

TEST(test_claude_code_double_deltas)
{
	struct metrics *m = metrics_create(8);
	struct one o;
	char *s;
	one_init(&o, "claude_code.token.usage", "tokens", TL_METRIC_SUM, TL_TEMP_DELTA, 1);
	o.pts[0].attrs.items = o.attrs;
	o.pts[0].attrs.n = 1;
	o.attrs[0].key = TL_STR_LIT("type");
	o.attrs[0].v = sv("input");
	for (int i = 0; i < 2; i++) {
		o.pts[0].start_unix_nano = T0 + (uint64_t)i * SEC;
		o.pts[0].time_unix_nano = T0 + (uint64_t)(i + 1) * SEC;
		o.pts[0].value_kind = TL_PV_DOUBLE;
		o.pts[0].as_double = 1.5;
		metrics_ingest_otlp(m, &o.b, T0 + 2 * SEC);
	}
	s = render(m, T0 + 2 * SEC);
	CHECK_EQ_STR(s, "# HELP claude_code_token_usage_tokens_total OTLP metric claude_code.token.usage\n"
			"# TYPE claude_code_token_usage_tokens_total counter\n"
			"claude_code_token_usage_tokens_total{job=\"svc\",otel_scope_name=\"lib\",type=\"input\"} 3\n");
	free(s);
	metrics_destroy(m);
}

TEST(test_units_and_names)
{
	struct {
		const char *name, *unit;
		int type, mono;
		const char *want;
	} cases[] = {
	    {"http.server.duration", "s", TL_METRIC_GAUGE, 0, "http_server_duration_seconds"},
	    {"process.memory", "By", TL_METRIC_GAUGE, 0, "process_memory_bytes"},
	    {"cpu.utilization", "1", TL_METRIC_GAUGE, 0, "cpu_utilization_ratio"},
	    {"requests", "1", TL_METRIC_SUM, 1, "requests_total"},
	    {"tokens", "{token}", TL_METRIC_SUM, 1, "tokens_total"},
	    {"latency_seconds", "s", TL_METRIC_GAUGE, 0, "latency_seconds"},
	    {"rx", "By/s", TL_METRIC_GAUGE, 0, "rx_bytes_per_second"},
	    {"pkts", "{packet}/s", TL_METRIC_GAUGE, 0, "pkts_per_second"},
	    {"jobs_total", "", TL_METRIC_SUM, 1, "jobs_total"},
	    {"t", "ms", TL_METRIC_SUM, 1, "t_milliseconds_total"},
	    {"cost", "USD", TL_METRIC_SUM, 1, "cost_USD_total"},
	    {"a..b--c", "", TL_METRIC_GAUGE, 0, "a_b_c"},
	    {"9lives", "", TL_METRIC_GAUGE, 0, "_9lives"},
	    {"queue.size", "", TL_METRIC_SUM, 0, "queue_size"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct metrics *m = metrics_create(8);
		struct one o;
		char want[256], *s;
		one_init(&o, cases[i].name, cases[i].unit, cases[i].type, TL_TEMP_CUMULATIVE, cases[i].mono);
		point_int(&o.pts[0], T0, T0 + SEC, 1);
		metrics_ingest_otlp(m, &o.b, T0);
		s = render(m, T0);
		snprintf(want, sizeof want, "# TYPE %s %s\n%s{job=\"svc\",otel_scope_name=\"lib\"} 1\n", cases[i].want,
			 cases[i].mono ? "counter" : "gauge", cases[i].want);
		if (!strstr(s, want))
			fprintf(stderr, "  case %zu got:\n%s", i, s);
		CHECK(strstr(s, want) != NULL);
		free(s);
		metrics_destroy(m);
	}
}

TEST(test_histograms)
{
	struct metrics *m = metrics_create(8);
	struct one o;
	double bounds[3] = {1, 4, 16};
	uint64_t c1[4] = {0, 1, 2, 0}, c2[4] = {1, 0, 0, 1};
	char *s;
	one_init(&o, "gen_ai.client.operation.duration", "s", TL_METRIC_HISTOGRAM, TL_TEMP_DELTA, 0);
	o.pts[0].bounds = bounds;
	o.pts[0].n_bounds = 3;
	o.pts[0].n_bucket_counts = 4;
	o.pts[0].has_sum = 1;
	o.pts[0].bucket_counts = c1;
	o.pts[0].count = 3;
	o.pts[0].sum = 25;
	o.pts[0].start_unix_nano = T0;
	o.pts[0].time_unix_nano = T0 + SEC;
	metrics_ingest_otlp(m, &o.b, T0 + SEC);
	o.pts[0].bucket_counts = c2;
	o.pts[0].count = 2;
	o.pts[0].sum = 20.5;
	o.pts[0].start_unix_nano = T0 + SEC;
	o.pts[0].time_unix_nano = T0 + 2 * SEC;
	metrics_ingest_otlp(m, &o.b, T0 + 2 * SEC);
	s = render(m, T0 + 2 * SEC);
	CHECK_EQ_STR(s, "# HELP gen_ai_client_operation_duration_seconds_otlp OTLP metric gen_ai.client.operation.duration\n"
			"# TYPE gen_ai_client_operation_duration_seconds_otlp histogram\n"
			"gen_ai_client_operation_duration_seconds_otlp_bucket{job=\"svc\",otel_scope_name=\"lib\",le=\"1\"} 1\n"
			"gen_ai_client_operation_duration_seconds_otlp_bucket{job=\"svc\",otel_scope_name=\"lib\",le=\"4\"} 2\n"
			"gen_ai_client_operation_duration_seconds_otlp_bucket{job=\"svc\",otel_scope_name=\"lib\",le=\"16\"} 4\n"
			"gen_ai_client_operation_duration_seconds_otlp_bucket{job=\"svc\",otel_scope_name=\"lib\",le=\"+Inf\"} 5\n"
			"gen_ai_client_operation_duration_seconds_otlp_sum{job=\"svc\",otel_scope_name=\"lib\"} 45.5\n"
			"gen_ai_client_operation_duration_seconds_otlp_count{job=\"svc\",otel_scope_name=\"lib\"} 5\n");
	free(s);
	metrics_destroy(m);

	/* exponential: +Inf, _sum, _count only; summary with sorted quantiles */
	m = metrics_create(8);
	metrics_set_namespace(m, "x");
	one_init(&o, "size", "By", TL_METRIC_EXP_HISTOGRAM, TL_TEMP_CUMULATIVE, 0);
	o.pts[0].count = 10;
	o.pts[0].sum = 123.5;
	o.pts[0].has_sum = 1;
	o.pts[0].time_unix_nano = T0;
	metrics_ingest_otlp(m, &o.b, T0);
	struct tl_quantile q[2] = {{0.99, 9}, {0.5, 2}};
	one_init(&o, "rt", "ms", TL_METRIC_SUMMARY, 0, 0);
	o.pts[0].count = 4;
	o.pts[0].sum = 10;
	o.pts[0].quantiles = q;
	o.pts[0].n_quantiles = 2;
	o.pts[0].time_unix_nano = T0;
	metrics_ingest_otlp(m, &o.b, T0);
	s = render(m, T0);
	CHECK_EQ_STR(s, "# HELP x_rt_milliseconds OTLP metric rt\n"
			"# TYPE x_rt_milliseconds summary\n"
			"x_rt_milliseconds{job=\"svc\",otel_scope_name=\"lib\",quantile=\"0.5\"} 2\n"
			"x_rt_milliseconds{job=\"svc\",otel_scope_name=\"lib\",quantile=\"0.99\"} 9\n"
			"x_rt_milliseconds_sum{job=\"svc\",otel_scope_name=\"lib\"} 10\n"
			"x_rt_milliseconds_count{job=\"svc\",otel_scope_name=\"lib\"} 4\n"
			"# HELP x_size_bytes OTLP metric size\n"
			"# TYPE x_size_bytes histogram\n"
			"x_size_bytes_bucket{job=\"svc\",otel_scope_name=\"lib\",le=\"+Inf\"} 10\n"
			"x_size_bytes_sum{job=\"svc\",otel_scope_name=\"lib\"} 123.5\n"
			"x_size_bytes_count{job=\"svc\",otel_scope_name=\"lib\"} 10\n");
	free(s);
	metrics_destroy(m);
}

TEST(test_resource_and_labels)
{
	struct metrics *m = metrics_create(8);
	struct one o;
	char *s;
	one_init(&o, "g", "", TL_METRIC_GAUGE, 0, 0);
	o.res_attrs[1].key = TL_STR_LIT("service.namespace");
	o.res_attrs[1].v = sv("team");
	o.res_attrs[2].key = TL_STR_LIT("service.instance.id");
	o.res_attrs[2].v = sv("i-1");
	o.res_attrs[3].key = TL_STR_LIT("host.name");
	o.res_attrs[3].v = sv("box");
	o.res.attrs.n = 4;
	o.scope.version = TL_STR_LIT("2.0");
	o.pts[0].attrs.items = o.attrs;
	o.pts[0].attrs.n = 4;
	o.attrs[0].key = TL_STR_LIT("a.b");
	o.attrs[0].v = sv("x\"y\n");
	o.attrs[1].key = TL_STR_LIT("a_b");
	o.attrs[1].v.kind = TL_V_INT;
	o.attrs[1].v.u.i = 7;
	o.attrs[2].key = TL_STR_LIT("job");
	o.attrs[2].v.kind = TL_V_BOOL;
	o.attrs[2].v.u.b = 1;
	o.attrs[3].key = TL_STR_LIT("empty");
	o.attrs[3].v = sv("");
	o.pts[0].value_kind = TL_PV_DOUBLE;
	o.pts[0].as_double = 0.25;
	o.pts[0].time_unix_nano = T0;
	metrics_ingest_otlp(m, &o.b, T0);
	s = render(m, T0);
	CHECK_EQ_STR(s, "# HELP g OTLP metric g\n"
			"# TYPE g gauge\n"
			"g{a_b=\"x\\\"y\\n;7\",exported_job=\"true\",instance=\"i-1\",job=\"team/svc\",otel_scope_name=\"lib\","
			"otel_scope_version=\"2.0\"} 0.25\n"
			"# HELP target_info Target metadata (OTLP resource attributes)\n"
			"# TYPE target_info gauge\n"
			"target_info{host_name=\"box\",instance=\"i-1\",job=\"team/svc\"} 1\n");
	free(s);
	metrics_destroy(m);
}

TEST(test_type_conflict_and_clash)
{
	struct metrics *m = metrics_create(8);
	struct one o;
	struct tl_buf b;
	char *s;
	/* counter x_total, then a gauge with the same final name: dropped */
	one_init(&o, "x", "", TL_METRIC_SUM, TL_TEMP_CUMULATIVE, 1);
	point_int(&o.pts[0], T0, T0, 1);
	metrics_ingest_otlp(m, &o.b, T0);
	one_init(&o, "x.total", "", TL_METRIC_GAUGE, 0, 0);
	point_int(&o.pts[0], T0, T0, 2);
	metrics_ingest_otlp(m, &o.b, T0);
	/* a gauge whose name would be a sample name of the histogram h */
	one_init(&o, "h", "", TL_METRIC_HISTOGRAM, TL_TEMP_CUMULATIVE, 0);
	o.pts[0].count = 1;
	o.pts[0].time_unix_nano = T0;
	metrics_ingest_otlp(m, &o.b, T0);
	one_init(&o, "h.count", "", TL_METRIC_GAUGE, 0, 0);
	point_int(&o.pts[0], T0, T0, 2);
	metrics_ingest_otlp(m, &o.b, T0);
	/* tracelamp's own prefix is renamed */
	one_init(&o, "tracelamp.thing", "", TL_METRIC_GAUGE, 0, 0);
	point_int(&o.pts[0], T0, T0, 3);
	metrics_ingest_otlp(m, &o.b, T0);
	tl_buf_init(&b, 0);
	CHECK_EQ_INT(metrics_render_otlp(m, T0, &b), 0);
	s = b.data;
	CHECK(strstr(s, "tracelamp_otlp_series 3\n") != NULL);
	CHECK(strstr(s, "tracelamp_otlp_series_dropped_total{reason=\"name_collision\"} 1\n") != NULL);
	CHECK(strstr(s, "tracelamp_otlp_series_dropped_total{reason=\"type_conflict\"} 1\n") != NULL);
	CHECK(strstr(s, "\nx_total{job=\"svc\",otel_scope_name=\"lib\"} 1\n") != NULL);
	CHECK(strstr(s, "\notlp_tracelamp_thing{job=\"svc\",otel_scope_name=\"lib\"} 3\n") != NULL);
	CHECK(strstr(s, "h_count{job=\"svc\",otel_scope_name=\"lib\"} 1\n") != NULL);
	CHECK(strstr(s, "# TYPE h_count") == NULL);
	tl_buf_cleanup(&b);
	metrics_destroy(m);
}

TEST(test_cap_and_expiry)
{
	struct metrics *m = metrics_create(8);
	struct one o;
	struct tl_buf b;
	metrics_set_series_limit(m, 2);
	metrics_set_series_ttl(m, 60 * SEC);
	one_init(&o, "g", "", TL_METRIC_GAUGE, 0, 0);
	o.pts[0].attrs.items = o.attrs;
	o.pts[0].attrs.n = 1;
	o.attrs[0].key = TL_STR_LIT("k");
	const char *vals[3] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++) {
		o.attrs[0].v = sv(vals[i]);
		point_int(&o.pts[0], 0, T0, i);
		metrics_ingest_otlp(m, &o.b, T0 + (uint64_t)i * 20 * SEC);
	}
	tl_buf_init(&b, 0);
	CHECK_EQ_INT(metrics_render_otlp(m, T0 + 40 * SEC, &b), 0);
	CHECK(strstr(b.data, "tracelamp_otlp_series 2\n") != NULL);
	CHECK(strstr(b.data, "tracelamp_otlp_series_dropped_total{reason=\"limit\"} 1\n") != NULL);
	CHECK(strstr(b.data, "k=\"a\",otel_scope_name=\"lib\"} 0\n") != NULL);
	CHECK(strstr(b.data, "k=\"c\"") == NULL);
	/* at +61 s the first series (seen at T0) is stale; the second (T0+20) is not */
	tl_buf_reset(&b);
	CHECK_EQ_INT(metrics_render_otlp(m, T0 + 61 * SEC, &b), 0);
	CHECK(strstr(b.data, "tracelamp_otlp_series 1\n") != NULL);
	CHECK(strstr(b.data, "k=\"a\"") == NULL);
	CHECK(strstr(b.data, "k=\"b\",otel_scope_name=\"lib\"} 1\n") != NULL);
	/* room again: c gets in */
	o.attrs[0].v = sv("c");
	metrics_ingest_otlp(m, &o.b, T0 + 62 * SEC);
	tl_buf_reset(&b);
	CHECK_EQ_INT(metrics_render_otlp(m, T0 + 62 * SEC, &b), 0);
	CHECK(strstr(b.data, "k=\"c\",otel_scope_name=\"lib\"} 2\n") != NULL);
	/* everything expires; the family goes with its series */
	tl_buf_reset(&b);
	CHECK_EQ_INT(metrics_render_otlp(m, T0 + 200 * SEC, &b), 0);
	CHECK(strstr(b.data, "tracelamp_otlp_series 0\n") != NULL);
	CHECK(strstr(b.data, "# TYPE g gauge") == NULL);
	tl_buf_cleanup(&b);
	metrics_destroy(m);
}

TEST(test_cumulative_out_of_order_and_reset)
{
	struct metrics *m = metrics_create(8);
	struct one o;
	char *s;
	one_init(&o, "c", "", TL_METRIC_SUM, TL_TEMP_CUMULATIVE, 1);
	point_int(&o.pts[0], T0, T0 + 20 * SEC, 50);
	metrics_ingest_otlp(m, &o.b, T0 + 20 * SEC);
	point_int(&o.pts[0], T0, T0 + 10 * SEC, 40); /* older: ignored */
	metrics_ingest_otlp(m, &o.b, T0 + 21 * SEC);
	s = render(m, T0 + 21 * SEC);
	CHECK(strstr(s, "} 50\n") != NULL);
	free(s);
	point_int(&o.pts[0], T0 + 30 * SEC, T0 + 35 * SEC, 3); /* restarted process */
	metrics_ingest_otlp(m, &o.b, T0 + 35 * SEC);
	s = render(m, T0 + 35 * SEC);
	CHECK(strstr(s, "} 3\n") != NULL);
	free(s);
	metrics_destroy(m);
}

TEST(test_full_render_includes_series)
{
	struct metrics *m = metrics_create(8);
	struct one o;
	struct tl_buf b;
	uint64_t now = tl_now_unix_nano();
	one_init(&o, "g", "", TL_METRIC_GAUGE, 0, 0);
	point_int(&o.pts[0], 0, now, 4);
	metrics_ingest_otlp(m, &o.b, now);
	tl_buf_init(&b, 0);
	CHECK_EQ_INT(metrics_render(m, NULL, NULL, &b), 0);
	CHECK(strstr(b.data, "# TYPE process_cpu_seconds_total counter") != NULL);
	CHECK(strstr(b.data, "\ng{job=\"svc\",otel_scope_name=\"lib\"} 4\n") != NULL);
	tl_buf_cleanup(&b);
	metrics_destroy(m);
}

static const struct tl_test_case TESTS[] = {
    T(test_delta_to_cumulative_with_namespace), T(test_claude_code_double_deltas), T(test_units_and_names),
    T(test_histograms), T(test_resource_and_labels), T(test_type_conflict_and_clash), T(test_cap_and_expiry),
    T(test_cumulative_out_of_order_and_reset), T(test_full_render_includes_series),
};

TEST_MAIN("series", TESTS)
