/*
 * test_metrics.c - unit tests of src/metrics: exact exposition lines for the
 * receiver counters and LLM metrics, model folding into "other", label escaping,
 * histogram cumulativity, and a small format checker (the rules promtool
 * applies: HELP/TYPE before samples, _total counters, histogram shape, unique
 * series). Build with -DTL_TEST_STUB_STORE to link without src/store.
 */
#include "tl_test.h"

#include "metrics/metrics.h"

#include <ctype.h>
#include <pthread.h>

#include <math.h>

#ifdef TL_TEST_STUB_STORE
static int f_dummy_store;
/* Stand-ins for the two store symbols metrics_render uses. */
const double store_commit_bounds_ms[16] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, INFINITY};
void store_get_metrics(struct store *s, struct store_metrics *m)
{
	(void)s;
	memset(m, 0, sizeof *m);
	m->db_bytes = 4096;
	m->pending_traces = 3;
	m->queue_bytes = 77;
	m->commits = 4;
	m->commit_latency_buckets[0] = 1; /* <= 1 ms */
	m->commit_latency_buckets[2] = 2; /* <= 4 ms */
	m->commit_latency_buckets[15] = 1; /* the last bound is +Inf */
	m->commit_latency_sum_s = 0.25;
	m->spans_committed = 99;
	m->retention_deleted = 5;
}
#endif

/* ---- helpers ---- */

struct fixture {
	struct tl_span spans[16];
	struct tl_kv kvs[16];
	struct tl_batch b;
};

static struct tl_span *add_span(struct fixture *f, const char *model, const char *provider, const char *op,
				int64_t in, int64_t out, int64_t cost_nusd, int status, uint64_t dur_ns)
{
	struct tl_span *s = &f->spans[f->b.n_spans++];
	memset(s, 0, sizeof *s);
	f->b.spans = f->spans;
	s->start_unix_nano = 1700000000000000000ull;
	s->end_unix_nano = s->start_unix_nano + dur_ns;
	s->status_code = status;
	s->genai.is_genai = 1;
	s->genai.request_model = tl_str_c(model);
	s->genai.provider = tl_str_c(provider);
	s->genai.operation = tl_str_c(op);
	s->genai.input_tokens = in;
	s->genai.output_tokens = out;
	s->genai.cache_read_tokens = TL_NONE;
	s->genai.cache_write_tokens = TL_NONE;
	s->genai.reasoning_tokens = TL_NONE;
	s->genai.cost_nusd = cost_nusd;
	return s;
}

static char *render(struct metrics *m, struct store *st)
{
	struct tl_buf b;
	struct metrics_gauges g = {.memory_in_use = 123, .memory_budget = 1000};
	tl_buf_init(&b, 0);
	int rc = metrics_render(m, st, &g, &b);
	CHECK_EQ_INT(rc, 0);
	tl_buf_putc(&b, 0);
	return b.data;
}

/* 1 if text has exactly this line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

#define CHECK_LINE(text, line)                                                          \
	do {                                                                            \
		tl_test_checks++;                                                       \
		if (!has_line((text), (line))) {                                        \
			fprintf(stderr, "  %s:%d: missing line: %s\n", __FILE__, __LINE__, (line)); \
			tl_test_failed_now = 1;                                         \
		}                                                                       \
	} while (0)

/*
 * A strict reader of the text format: returns NULL if the exposition is valid,
 * else a static description of the first problem. Checks: every line ends with
 * \n; HELP and TYPE precede the family's samples, once each; sample names belong
 * to the declared family (counters end in _total; histograms use _bucket/_sum/
 * _count); label names are [a-zA-Z_][a-zA-Z0-9_]*; values quoted with valid
 * escapes; no duplicate series; buckets cumulative with increasing le ending in
 * +Inf equal to _count.
 */
static const char *check_exposition(const char *text)
{
	static char why[832];
	char family[128] = "", type[32] = "", prev_hist_key[512] = "";
	static char seen[512][768]; /* series seen so far (the checker runs on one thread) */
	size_t n_seen = 0;
	double prev_le = -1;
	unsigned long long prev_bucket = 0, inf_bucket = 0;
	int have_help = 0, have_type = 0, inf_seen = 0;
	size_t len = strlen(text);
	if (len == 0 || text[len - 1] != '\n')
		return "does not end with a newline";
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		char buf[1024];
		size_t ll = (size_t)(nl - line);
		if (ll >= sizeof buf)
			return "line too long";
		memcpy(buf, line, ll);
		buf[ll] = 0;
		line = nl + 1;
		if (!ll)
			continue;
		if (strncmp(buf, "# HELP ", 7) == 0) {
			char name[128];
			if (sscanf(buf + 7, "%127s", name) != 1)
				return "bad HELP";
			if (strcmp(name, family) != 0) {
				snprintf(family, sizeof family, "%s", name);
				have_help = have_type = 0;
				type[0] = 0;
			}
			if (have_help)
				return "two HELP lines";
			have_help = 1;
			continue;
		}
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			char name[128], t[32];
			if (sscanf(buf + 7, "%127s %31s", name, t) != 2 || strcmp(name, family) != 0 || have_type)
				return "TYPE without HELP or twice";
			snprintf(type, sizeof type, "%s", t);
			have_type = 1;
			if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram"))
				return "unknown type";
			if (!strcmp(t, "counter") && (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total")))
				return "counter without _total";
			continue;
		}
		if (buf[0] == '#')
			return "stray comment";
		/* sample: name{labels} value */
		size_t i = 0;
		if (!(isalpha((unsigned char)buf[0]) || buf[0] == '_'))
			return "bad metric name";
		while (isalnum((unsigned char)buf[i]) || buf[i] == '_')
			i++;
		char name[128];
		snprintf(name, sizeof name, "%.*s", (int)i, buf);
		if (!have_type || !have_help)
			return "sample before HELP/TYPE";
		const char *suffix = name + strlen(family);
		if (strncmp(name, family, strlen(family)) != 0)
			return "sample outside its family";
		int is_hist = !strcmp(type, "histogram");
		if (is_hist ? (strcmp(suffix, "_bucket") && strcmp(suffix, "_sum") && strcmp(suffix, "_count")) : *suffix)
			return "sample name does not fit the type";
		char key_wo_le[512] = "", le[64] = "";
		size_t kl = 0;
		if (buf[i] == '{') {
			i++;
			while (buf[i] != '}') {
				size_t ns = i;
				if (!(isalpha((unsigned char)buf[i]) || buf[i] == '_'))
					return "bad label name";
				while (isalnum((unsigned char)buf[i]) || buf[i] == '_')
					i++;
				char lname[64];
				snprintf(lname, sizeof lname, "%.*s", (int)(i - ns), buf + ns);
				if (buf[i++] != '=' || buf[i++] != '"')
					return "bad label syntax";
				size_t vs = i;
				while (buf[i] != '"') {
					if (!buf[i])
						return "unterminated label value";
					if (buf[i] == '\\') {
						if (buf[i + 1] != '\\' && buf[i + 1] != '"' && buf[i + 1] != 'n')
							return "bad escape";
						i++;
					}
					i++;
				}
				if (!strcmp(lname, "le"))
					snprintf(le, sizeof le, "%.*s", (int)(i - vs), buf + vs);
				else
					kl += (size_t)snprintf(key_wo_le + kl, sizeof key_wo_le - kl, "%s=%.*s,", lname,
							       (int)(i - vs), buf + vs);
				i++;
				if (buf[i] == ',')
					i++;
			}
			i++;
		}
		if (buf[i] != ' ')
			return "no space before value";
		char *end;
		double val = strtod(buf + i + 1, &end);
		if (end == buf + i + 1 || *end)
			return "bad value";
		/* uniqueness of the whole series */
		char full[768];
		snprintf(full, sizeof full, "%s|%s|%s", name, key_wo_le, le);
		for (size_t k = 0; k < n_seen; k++)
			if (!strcmp(seen[k], full)) {
				snprintf(why, sizeof why, "duplicate series %s", full);
				return why;
			}
		if (n_seen < 512)
			snprintf(seen[n_seen++], sizeof seen[0], "%s", full);
		if (is_hist && !strcmp(suffix, "_bucket")) {
			if (strcmp(prev_hist_key, key_wo_le)) {
				if (prev_hist_key[0] && !inf_seen)
					return "histogram without +Inf";
				snprintf(prev_hist_key, sizeof prev_hist_key, "%s", key_wo_le);
				prev_le = -1;
				prev_bucket = 0;
				inf_seen = 0;
			}
			double lev = !strcmp(le, "+Inf") ? INFINITY : strtod(le, NULL);
			if (!le[0] || lev <= prev_le)
				return "le missing or not increasing";
			if ((unsigned long long)val < prev_bucket)
				return "buckets not cumulative";
			prev_le = lev;
			prev_bucket = (unsigned long long)val;
			if (!strcmp(le, "+Inf")) {
				inf_seen = 1;
				inf_bucket = (unsigned long long)val;
			}
		} else if (is_hist && !strcmp(suffix, "_count")) {
			if (!inf_seen || strcmp(prev_hist_key, key_wo_le) || (unsigned long long)val != inf_bucket)
				return "_count differs from the +Inf bucket";
		}
	}
	return NULL;
}

#define CHECK_VALID(text)                                                               \
	do {                                                                            \
		const char *why_ = check_exposition(text);                              \
		tl_test_checks++;                                                       \
		if (why_) {                                                             \
			fprintf(stderr, "  %s:%d: exposition invalid: %s\n", __FILE__, __LINE__, why_); \
			tl_test_failed_now = 1;                                         \
		}                                                                       \
	} while (0)

/* ---- tests ---- */

TEST(test_empty_render)
{
	struct metrics *m = metrics_create(10);
	char *t = render(m, NULL);
	CHECK_VALID(t);
	CHECK_LINE(t, "# TYPE tracelamp_receiver_requests_total counter");
	CHECK_LINE(t, "tracelamp_receiver_spans_accepted_total 0");
	CHECK_LINE(t, "tracelamp_receiver_spans_refused_total{reason=\"malformed\"} 0");
	CHECK_LINE(t, "tracelamp_receiver_spans_refused_total{reason=\"too_large\"} 0");
	CHECK_LINE(t, "tracelamp_receiver_spans_refused_total{reason=\"unsupported_media_type\"} 0");
	CHECK_LINE(t, "tracelamp_receiver_spans_refused_total{reason=\"busy\"} 0");
	CHECK_LINE(t, "tracelamp_receiver_spans_refused_total{reason=\"store_error\"} 0");
	CHECK_LINE(t, "tracelamp_receiver_spans_refused_total{reason=\"shutdown\"} 0");
	CHECK_LINE(t, "tracelamp_memory_in_use_bytes 123");
	CHECK_LINE(t, "tracelamp_memory_budget_bytes 1000");
	CHECK_LINE(t, "# TYPE gen_ai_client_token_usage histogram");
	CHECK_LINE(t, "# TYPE gen_ai_client_operation_duration_seconds histogram");
	CHECK_LINE(t, "# TYPE tracelamp_llm_cost_usd_total counter");
	CHECK_LINE(t, "tracelamp_genai_unknown_attributes_total 0");
	CHECK(strstr(t, "\nprocess_resident_memory_bytes ") != NULL);
	CHECK(strstr(t, "\nprocess_start_time_seconds ") != NULL);
	CHECK(strstr(t, "process_resident_memory_bytes 0\n") == NULL); /* read from /proc */
	CHECK(strstr(t, "tracelamp_store_") == NULL);                    /* no store given */
	free(t);
	metrics_destroy(m);
}

TEST(test_receiver_counters)
{
	struct metrics *m = metrics_create(10);
	metrics_request(m, "http", "traces", 200);
	metrics_request(m, "http", "traces", 200);
	metrics_request(m, "http", "traces", 400);
	metrics_request(m, "grpc", "traces", 200);
	metrics_spans_accepted(m, 7);
	metrics_spans_accepted(m, 3);
	metrics_spans_refused(m, METRICS_REFUSE_BUSY, 4);
	metrics_spans_refused(m, METRICS_REFUSE_SHUTDOWN, 1);
	metrics_bytes_received(m, 1024);
	char *t = render(m, NULL);
	CHECK_VALID(t);
	CHECK_LINE(t, "tracelamp_receiver_requests_total{code=\"200\",signal=\"traces\",transport=\"http\"} 2");
	CHECK_LINE(t, "tracelamp_receiver_requests_total{code=\"400\",signal=\"traces\",transport=\"http\"} 1");
	CHECK_LINE(t, "tracelamp_receiver_requests_total{code=\"200\",signal=\"traces\",transport=\"grpc\"} 1");
	CHECK_LINE(t, "tracelamp_receiver_spans_accepted_total 10");
	CHECK_LINE(t, "tracelamp_receiver_spans_refused_total{reason=\"busy\"} 4");
	CHECK_LINE(t, "tracelamp_receiver_spans_refused_total{reason=\"shutdown\"} 1");
	CHECK_LINE(t, "tracelamp_receiver_bytes_total 1024");
	free(t);
	metrics_destroy(m);
}

TEST(test_llm_metrics_exact)
{
	struct metrics *m = metrics_create(10);
	struct fixture f;
	memset(&f, 0, sizeof f);
	/* 10 input tokens (bucket le=16), 5 output (le=16), 0.5 s (le=0.64), $0.000001234 */
	struct tl_span *s = add_span(&f, "gpt-4o-mini", "openai", "chat", 10, 5, 1234, TL_STATUS_OK, 500000000);
	s->genai.cache_read_tokens = 4;
	add_span(&f, "gpt-4o-mini", "openai", "chat", 3000, 70000, 1000000000, TL_STATUS_UNSET, 2000000000);
	metrics_observe_batch(m, &f.b);
	char *t = render(m, NULL);
	CHECK_VALID(t);
	const char *L = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o-mini\"";
	char line[512];
	snprintf(line, sizeof line, "gen_ai_client_token_usage_bucket{%s,gen_ai_token_type=\"input\",le=\"4\"} 0", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_bucket{%s,gen_ai_token_type=\"input\",le=\"16\"} 1", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_bucket{%s,gen_ai_token_type=\"input\",le=\"4096\"} 2", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_bucket{%s,gen_ai_token_type=\"input\",le=\"67108864\"} 2", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_bucket{%s,gen_ai_token_type=\"input\",le=\"+Inf\"} 2", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_sum{%s,gen_ai_token_type=\"input\"} 3010", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_count{%s,gen_ai_token_type=\"input\"} 2", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_bucket{%s,gen_ai_token_type=\"output\",le=\"65536\"} 1", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_bucket{%s,gen_ai_token_type=\"output\",le=\"262144\"} 2", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_token_usage_sum{%s,gen_ai_token_type=\"output\"} 70005", L);
	CHECK_LINE(t, line);
	/* the extra token types appear only when reported */
	snprintf(line, sizeof line, "gen_ai_client_token_usage_count{%s,gen_ai_token_type=\"cache_read\"} 1", L);
	CHECK_LINE(t, line);
	CHECK(strstr(t, "gen_ai_token_type=\"reasoning\"") == NULL);
	snprintf(line, sizeof line, "gen_ai_client_operation_duration_seconds_bucket{%s,le=\"0.32\"} 0", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_operation_duration_seconds_bucket{%s,le=\"0.64\"} 1", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_operation_duration_seconds_bucket{%s,le=\"2.56\"} 2", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_operation_duration_seconds_bucket{%s,le=\"81.92\"} 2", L);
	CHECK_LINE(t, line);
	snprintf(line, sizeof line, "gen_ai_client_operation_duration_seconds_sum{%s} 2.5", L);
	CHECK_LINE(t, line);
	CHECK_LINE(t, "tracelamp_llm_calls_total{model=\"gpt-4o-mini\",operation=\"chat\",provider=\"openai\",status=\"ok\"} 2");
	CHECK_LINE(t, "tracelamp_llm_cost_usd_total{model=\"gpt-4o-mini\",provider=\"openai\"} 1.000001234");
	CHECK(strstr(t, "tracelamp_llm_price_unknown_total{") == NULL);
	free(t);
	metrics_destroy(m);
}

TEST(test_errors_and_non_llm)
{
	struct metrics *m = metrics_create(10);
	struct fixture f;
	memset(&f, 0, sizeof f);
	struct tl_span *e = add_span(&f, "claude-x", "anthropic", "chat", TL_NONE, TL_NONE, TL_NONE, TL_STATUS_ERROR,
				     30000000);
	f.kvs[0].key = TL_STR_LIT("error.type");
	f.kvs[0].v.kind = TL_V_STR;
	f.kvs[0].v.u.s = TL_STR_LIT("timeout");
	e->attrs.items = f.kvs;
	e->attrs.n = 1;
	add_span(&f, "claude-x", "anthropic", "chat", TL_NONE, TL_NONE, TL_NONE, TL_STATUS_ERROR, 30000000);
	struct tl_span *p = add_span(&f, "mystery-1", "acme", "chat", 5, 5, TL_NONE, TL_STATUS_OK, 1000);
	p->genai.price_unknown = 1;
	struct tl_span *tool = add_span(&f, "", "", "execute_tool", TL_NONE, TL_NONE, TL_NONE, TL_STATUS_OK, 1000);
	tool->genai.unknown_genai_attrs = 3;
	struct tl_span *plain = add_span(&f, "gpt-x", "openai", "chat", 1, 1, 1, TL_STATUS_OK, 1000);
	plain->genai.is_genai = 0; /* not GenAI: ignored */
	metrics_observe_batch(m, &f.b);
	char *t = render(m, NULL);
	CHECK_VALID(t);
	CHECK_LINE(t, "tracelamp_llm_calls_total{model=\"claude-x\",operation=\"chat\",provider=\"anthropic\",status=\"error\"} 2");
	CHECK(strstr(t, "model=\"claude-x\",operation=\"chat\",provider=\"anthropic\",status=\"ok\"") == NULL);
	CHECK_LINE(t, "gen_ai_client_operation_duration_seconds_count{error_type=\"timeout\",gen_ai_operation_name=\"chat\","
		      "gen_ai_provider_name=\"anthropic\",gen_ai_request_model=\"claude-x\"} 1");
	CHECK_LINE(t, "gen_ai_client_operation_duration_seconds_count{error_type=\"_OTHER\",gen_ai_operation_name=\"chat\","
		      "gen_ai_provider_name=\"anthropic\",gen_ai_request_model=\"claude-x\"} 1");
	/* no token series without reported tokens */
	CHECK(strstr(t, "gen_ai_client_token_usage_count{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"anthropic\"") == NULL);
	CHECK_LINE(t, "tracelamp_llm_cost_usd_total{model=\"claude-x\",provider=\"anthropic\"} 0.0");
	CHECK_LINE(t, "tracelamp_llm_price_unknown_total{model=\"mystery-1\"} 1");
	CHECK_LINE(t, "tracelamp_genai_unknown_attributes_total 3");
	CHECK(strstr(t, "execute_tool") == NULL);
	CHECK(strstr(t, "gpt-x") == NULL);
	free(t);
	metrics_destroy(m);
}

TEST(test_model_folding)
{
	struct metrics *m = metrics_create(2);
	struct fixture f;
	memset(&f, 0, sizeof f);
	add_span(&f, "m-a", "openai", "chat", 1, 1, 0, TL_STATUS_OK, 1000);
	add_span(&f, "m-b", "openai", "chat", 1, 1, 0, TL_STATUS_OK, 1000);
	add_span(&f, "m-c", "openai", "chat", 1, 1, 0, TL_STATUS_OK, 1000);
	add_span(&f, "m-d", "openai", "chat", 1, 1, 0, TL_STATUS_OK, 1000);
	add_span(&f, "m-a", "openai", "chat", 1, 1, 0, TL_STATUS_OK, 1000); /* keeps its slot */
	metrics_observe_batch(m, &f.b);
	/* the response model stands in when there is no request model */
	struct fixture g;
	memset(&g, 0, sizeof g);
	struct tl_span *s = add_span(&g, "", "openai", "chat", 1, 1, 0, TL_STATUS_OK, 1000);
	s->genai.response_model = TL_STR_LIT("m-b");
	metrics_observe_batch(m, &g.b);
	char *t = render(m, NULL);
	CHECK_VALID(t);
	CHECK_LINE(t, "tracelamp_llm_calls_total{model=\"m-a\",operation=\"chat\",provider=\"openai\",status=\"ok\"} 2");
	CHECK_LINE(t, "tracelamp_llm_calls_total{model=\"m-b\",operation=\"chat\",provider=\"openai\",status=\"ok\"} 2");
	CHECK_LINE(t, "tracelamp_llm_calls_total{model=\"other\",operation=\"chat\",provider=\"openai\",status=\"ok\"} 2");
	CHECK(strstr(t, "m-c") == NULL);
	CHECK(strstr(t, "m-d") == NULL);
	free(t);
	metrics_destroy(m);
}

TEST(test_label_escaping)
{
	struct metrics *m = metrics_create(10);
	struct fixture f;
	memset(&f, 0, sizeof f);
	add_span(&f, "we\"ird\\mo\ndel", "openai", "chat", 1, 1, 0, TL_STATUS_OK, 1000);
	metrics_observe_batch(m, &f.b);
	char *t = render(m, NULL);
	CHECK_VALID(t);
	CHECK_LINE(t, "tracelamp_llm_calls_total{model=\"we\\\"ird\\\\mo\\ndel\",operation=\"chat\",provider=\"openai\",status=\"ok\"} 1");
	free(t);
	metrics_destroy(m);
}

TEST(test_histogram_cumulative)
{
	struct metrics *m = metrics_create(10);
	struct fixture f;
	memset(&f, 0, sizeof f);
	const int64_t toks[] = {0, 1, 2, 16, 17, 100000, 70000000};
	for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++)
		add_span(&f, "m", "p", "chat", toks[i], TL_NONE, TL_NONE, TL_STATUS_OK, (uint64_t)(i + 1) * 100000000ull * 13);
	metrics_observe_batch(m, &f.b);
	char *t = render(m, NULL);
	CHECK_VALID(t);
	const char *L = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"p\",gen_ai_request_model=\"m\",gen_ai_token_type=\"input\"";
	const struct {
		const char *le;
		int n;
	} want[] = {{"1", 2}, {"4", 3}, {"16", 4}, {"64", 5}, {"65536", 5}, {"262144", 6}, {"67108864", 6}, {"+Inf", 7}};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char line[256];
		snprintf(line, sizeof line, "gen_ai_client_token_usage_bucket{%s,le=\"%s\"} %d", L, want[i].le, want[i].n);
		CHECK_LINE(t, line);
	}
	free(t);
	metrics_destroy(m);
}

#ifdef TL_TEST_STUB_STORE
TEST(test_store_metrics)
{
	struct metrics *m = metrics_create(10);
	char *t = render(m, (struct store *)&f_dummy_store);
	CHECK_VALID(t);
	CHECK_LINE(t, "tracelamp_queue_bytes 77");
	CHECK_LINE(t, "tracelamp_store_database_bytes 4096");
	CHECK_LINE(t, "tracelamp_store_pending_traces 3");
	CHECK_LINE(t, "tracelamp_store_spans_committed_total 99");
	CHECK_LINE(t, "tracelamp_store_retention_deleted_total 5");
	CHECK_LINE(t, "tracelamp_store_commit_duration_seconds_bucket{le=\"0.001\"} 1");
	CHECK_LINE(t, "tracelamp_store_commit_duration_seconds_bucket{le=\"0.002\"} 1");
	CHECK_LINE(t, "tracelamp_store_commit_duration_seconds_bucket{le=\"0.004\"} 3");
	CHECK_LINE(t, "tracelamp_store_commit_duration_seconds_bucket{le=\"16.384\"} 3");
	CHECK_LINE(t, "tracelamp_store_commit_duration_seconds_bucket{le=\"+Inf\"} 4");
	CHECK_LINE(t, "tracelamp_store_commit_duration_seconds_sum 0.25");
	CHECK_LINE(t, "tracelamp_store_commit_duration_seconds_count 4");
	free(t);
	metrics_destroy(m);
}
#else
#include <unistd.h>
TEST(test_store_metrics)
{
	/* Through a real store: the families are there and the exposition is valid. */
	char dir[] = "/tmp/tl_metrics_XXXXXX";
	struct store_config cfg;
	struct store *st = NULL;
	char err[256];
	CHECK(mkdtemp(dir) != NULL);
	store_config_defaults(&cfg);
	cfg.data_dir = dir;
	int rc = store_open(&cfg, &st, err, sizeof err);
	CHECK_EQ_INT(rc, 0);
	if (rc == 0) {
		struct metrics *m = metrics_create(10);
		char *t = render(m, st);
		CHECK_VALID(t);
		CHECK(strstr(t, "\ntracelamp_store_database_bytes ") != NULL);
		CHECK(strstr(t, "\ntracelamp_queue_bytes ") != NULL);
		CHECK(strstr(t, "\ntracelamp_store_commit_duration_seconds_bucket{le=\"+Inf\"} ") != NULL);
		CHECK(strstr(t, "\ntracelamp_store_commit_duration_seconds_count ") != NULL);
		free(t);
		metrics_destroy(m);
		store_close(st);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
}
#endif

struct thread_arg {
	struct metrics *m;
	int iters;
};

static void *observer(void *p)
{
	struct thread_arg *a = p;
	struct fixture f;
	memset(&f, 0, sizeof f);
	add_span(&f, "gpt-4o", "openai", "chat", 100, 10, 5, TL_STATUS_OK, 1000000);
	add_span(&f, "gpt-4o", "openai", "chat", 100, 10, 5, TL_STATUS_OK, 1000000);
	for (int i = 0; i < a->iters; i++) {
		metrics_observe_batch(a->m, &f.b);
		metrics_request(a->m, "http", "traces", 200);
		metrics_spans_accepted(a->m, 2);
	}
	return NULL;
}

TEST(test_concurrency)
{
	struct metrics *m = metrics_create(10);
	pthread_t th[4];
	struct thread_arg a = {m, 2000};
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, observer, &a);
	for (int k = 0; k < 20; k++)
		free(render(m, NULL)); /* renders race with updates */
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	char *t = render(m, NULL);
	CHECK_VALID(t);
	CHECK_LINE(t, "tracelamp_llm_calls_total{model=\"gpt-4o\",operation=\"chat\",provider=\"openai\",status=\"ok\"} 16000");
	CHECK_LINE(t, "tracelamp_llm_cost_usd_total{model=\"gpt-4o\",provider=\"openai\"} 0.00008");
	CHECK_LINE(t, "tracelamp_receiver_requests_total{code=\"200\",signal=\"traces\",transport=\"http\"} 8000");
	CHECK_LINE(t, "tracelamp_receiver_spans_accepted_total 16000");
	free(t);
	metrics_destroy(m);
}

TEST(test_checker_rejects_bad_text)
{
	/* the checker itself must catch the mistakes it is there for */
	CHECK(check_exposition("x_total 1\n") != NULL);
	CHECK(check_exposition("# HELP x h\n# TYPE x counter\nx 1\n") != NULL);
	CHECK(check_exposition("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n") != NULL);
	CHECK(check_exposition("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n") != NULL);
	CHECK(check_exposition("# HELP g h\n# TYPE g gauge\ng{a=\"x\\q\"} 1\n") != NULL);
	CHECK(check_exposition("# HELP g h\n# TYPE g gauge\ng 1\ng 2\n") != NULL);
	CHECK(check_exposition("# HELP g h\n# TYPE g gauge\ng 1") != NULL);
	CHECK(check_exposition("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n") == NULL);
}

static const struct tl_test_case tests[] = {
    T(test_empty_render),      T(test_receiver_counters), T(test_llm_metrics_exact),
    T(test_errors_and_non_llm), T(test_model_folding),    T(test_label_escaping),
    T(test_histogram_cumulative), T(test_store_metrics),  T(test_concurrency),
    T(test_checker_rejects_bad_text),
};

TEST_MAIN("metrics", tests)
