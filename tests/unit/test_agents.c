/*
 * test_agents.c - unit tests for model_agent_spans_from_logs (src/model/agents.c):
 * coding-agent log events turned into spans, then normalised and priced as the
 * pipeline does. Inputs are OTLP log payloads under tests/data/agents/: ones
 * written in the tools' documented shapes (Claude Code, Gemini CLI, Codex CLI)
 * and ones captured from the real Claude Code CLI (captured/, anonymised).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "otlp/otlp.h"
#include "tl_test.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define T0 (1795269318ull * SEC) /* the documented fixtures' prompt time */

static const struct otlp_limits LIM = {32, 64u << 20};

/* One decoded payload and the spans made from it. */
struct run {
	char *data;
	struct tl_arena *arena;
	struct tl_logs_batch logs;
	struct tl_batch b;
	struct tl_price_table *prices;
	int rc;
};

/* tests/data/agents/<rel>, found from this file's path so any cwd works. */
static char *load(const char *rel, size_t *len)
{
	char path[512];
	const char *self = __FILE__, *cut = strstr(self, "unit/test_agents.c");
	FILE *f;
	char *buf = NULL;
	long n;
	snprintf(path, sizeof path, "%.*sdata/agents/%s", (int)(cut ? cut - self : 0), self, rel);
	if (!cut)
		snprintf(path, sizeof path, "tests/data/agents/%s", rel);
	if (!(f = fopen(path, "rb"))) {
		fprintf(stderr, "  cannot open %s\n", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The built-in price table, as the daemon loads it. */
static struct tl_price_table *load_prices(void)
{
	struct tl_price_table *t = NULL;
	char err[256];
	if (model_prices_load(NULL, &t, err, sizeof err) != 0)
		fprintf(stderr, "  prices: %s\n", err);
	return t;
}

/* Decodes a payload (JSON unless the name ends in .pb), makes the spans and
 * normalises them. */
static int run_file(struct run *r, const char *rel)
{
	struct otlp_error err;
	size_t len = 0;
	size_t n = strlen(rel);
	memset(r, 0, sizeof *r);
	r->rc = -1;
	if (!(r->data = load(rel, &len)))
		return r->rc;
	r->arena = tl_arena_create(8192, 0);
	if (n > 3 && strcmp(rel + n - 3, ".pb") == 0)
		r->rc = otlp_decode_logs_pb(r->data, len, r->arena, &LIM, &r->logs, &err);
	else
		r->rc = otlp_decode_logs_json(r->data, len, r->arena, &LIM, &r->logs, &err);
	if (r->rc) {
		fprintf(stderr, "  decode %s: %s\n", rel, err.msg);
		return r->rc;
	}
	r->rc = model_agent_spans_from_logs(&r->logs, r->arena, &r->b);
	if (r->rc == 0)
		model_normalise_batch(&r->b, (r->prices = load_prices()));
	return r->rc;
}

static void run_free(struct run *r)
{
	tl_arena_destroy(r->arena);
	model_prices_destroy(r->prices);
	free(r->data);
	memset(r, 0, sizeof *r);
}

/* The n-th span (0-based) whose name is name, or NULL. */
static const struct tl_span *span_n(const struct run *r, const char *name, int nth)
{
	for (size_t i = 0; i < r->b.n_spans; i++)
		if (tl_str_eq_c(r->b.spans[i].name, name) && nth-- == 0)
			return &r->b.spans[i];
	return NULL;
}

static const struct tl_span *span(const struct run *r, const char *name)
{
	return span_n(r, name, 0);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	tl_hex_encode(p, n, out);
}

static struct tl_str attr(const struct tl_span *s, const char *key)
{
	const struct tl_value *v = tl_attrs_get(&s->attrs, key);
	return v && v->kind == TL_V_STR ? v->u.s : TL_STR_NULL;
}

/* Every child of the run hangs off root (same trace, parent = root span id). */
static void check_tree(const struct run *r, const struct tl_span *root)
{
	for (size_t i = 0; i < r->b.n_spans; i++) {
		const struct tl_span *s = &r->b.spans[i];
		CHECK(memcmp(s->trace_id, root->trace_id, 16) == 0);
		if (s == root)
			continue;
		CHECK(s->has_parent);
		CHECK(memcmp(s->parent_span_id, root->span_id, 8) == 0);
		CHECK(memcmp(s->span_id, root->span_id, 8) != 0);
	}
}

/* ---- Claude Code, documented shapes -------------------------------------------- */

TEST(claude_prompt_request_and_tools)
{
	struct run r;
	const struct tl_span *root, *chat, *tool, *dec;
	char h[33];
	CHECK_EQ_INT(run_file(&r, "claude-code/prompt-batch-1.json"), 0);
	/* user_prompt, api_request, tool_decision, tool_result; compaction ignored */
	CHECK_EQ_INT(r.b.n_spans, 4);
	root = span(&r, "invoke_agent claude-code");
	chat = span(&r, "chat claude-sonnet-4-5");
	tool = span(&r, "execute_tool Bash");
	dec = span(&r, "tool_decision Bash");
	CHECK(root && chat && tool && dec);
	if (!root || !chat || !tool || !dec)
		goto out;
	check_tree(&r, root);

	/* ids: SHA-256 as documented (pinned, computed independently) */
	hex(root->trace_id, 16, h);
	CHECK_EQ_STR(h, "9630aa9b62c4eea4b06a000151fc8430");
	hex(root->span_id, 8, h);
	CHECK_EQ_STR(h, "8d45f5f49522d5a2");
	hex(chat->span_id, 8, h);
	CHECK_EQ_STR(h, "3897661de489f8b2");

	CHECK(!root->has_parent);
	CHECK_EQ_INT(root->kind, TL_KIND_INTERNAL);
	CHECK_EQ_INT(root->start_unix_nano, T0);
	CHECK_STR(root->genai.operation, "invoke_agent");
	CHECK_STR(root->genai.agent_name, "claude-code");
	CHECK_STR(root->genai.conversation_id, "cc-session-1");
	CHECK_STR(model_span_service(root), "claude-code");

	/* api_request: tokens as strings, Anthropic input + cache = OTel input */
	CHECK_EQ_INT(chat->kind, TL_KIND_CLIENT);
	CHECK_EQ_INT(chat->end_unix_nano, T0 + 2 * SEC);
	CHECK_EQ_INT(chat->start_unix_nano, T0 + 2 * SEC - 1500 * MS);
	CHECK_EQ_INT(chat->status_code, TL_STATUS_UNSET);
	CHECK_STR(chat->genai.operation, "chat");
	CHECK_STR(chat->genai.provider, "anthropic");
	CHECK_STR(chat->genai.request_model, "claude-sonnet-4-5");
	CHECK_STR(chat->genai.conversation_id, "cc-session-1");
	CHECK_EQ_INT(chat->genai.input_tokens, 425);
	CHECK_EQ_INT(chat->genai.output_tokens, 15);
	CHECK_EQ_INT(chat->genai.cache_read_tokens, 300);
	CHECK_EQ_INT(chat->genai.cache_write_tokens, 100);
	/* the tool's own cost, not the price table's */
	CHECK_EQ_INT(chat->genai.cost_nusd, 765000);
	CHECK(chat->genai.cost_from_span);
	/* originals kept as sent */
	CHECK_STR(attr(chat, "request_id"), "req_1");
	CHECK_STR(attr(chat, "input_tokens"), "25");
	CHECK_STR(attr(chat, "tracelamp.agent.event"), "claude_code.api_request");

	CHECK_EQ_INT(tool->kind, TL_KIND_INTERNAL);
	CHECK_EQ_INT(tool->end_unix_nano, T0 + 3 * SEC);
	CHECK_EQ_INT(tool->start_unix_nano, T0 + 3 * SEC - 850 * MS);
	CHECK_STR(tool->genai.operation, "execute_tool");
	CHECK_STR(tool->genai.tool_name, "Bash");
	CHECK_STR(tool->genai.tool_call_id, "toolu_1");
	CHECK_EQ_INT(tool->status_code, TL_STATUS_UNSET);

	/* an accepted decision is a step, not a second tool call */
	CHECK_EQ_INT(dec->genai.operation.n, 0);
	CHECK_STR(attr(dec, "tracelamp.tool.decision"), "accept");
	CHECK_STR(attr(dec, "tracelamp.tool.decision.source"), "config");
	CHECK_EQ_INT(dec->start_unix_nano, dec->end_unix_nano);
out:
	run_free(&r);
}

TEST(claude_errors_rejections_and_later_batches)
{
	struct run a, b;
	const struct tl_span *root, *chat1, *chat2, *read, *write, *err, *haiku;
	CHECK_EQ_INT(run_file(&a, "claude-code/prompt-batch-1.json"), 0);
	CHECK_EQ_INT(run_file(&b, "claude-code/prompt-batch-2.json"), 0);
	CHECK_EQ_INT(b.b.n_spans, 5);
	root = span(&a, "invoke_agent claude-code");
	chat1 = span(&a, "chat claude-sonnet-4-5");
	chat2 = span(&b, "chat claude-sonnet-4-5");
	read = span(&b, "execute_tool Read");
	write = span(&b, "execute_tool Write");
	err = span(&b, "chat claude-opus-4-1");
	haiku = span(&b, "chat claude-haiku-4-5");
	CHECK(root && chat1 && chat2 && read && write && err && haiku);
	if (!root || !chat1 || !chat2 || !read || !write || !err || !haiku)
		goto out;
	/* a later batch of the same prompt joins the same trace under the same root */
	check_tree(&b, root);
	/* the same event sent again gets the same span id */
	CHECK(memcmp(chat1->span_id, chat2->span_id, 8) == 0);

	CHECK_EQ_INT(read->status_code, TL_STATUS_ERROR);
	CHECK_STR(attr(read, "error.type"), "Error:ENOENT");
	CHECK_EQ_INT(read->start_unix_nano, T0 + 5 * SEC - 12 * MS);

	/* a rejected call never runs and has no tool_result: it is a failed call */
	CHECK_STR(write->genai.operation, "execute_tool");
	CHECK_EQ_INT(write->status_code, TL_STATUS_ERROR);
	CHECK_STR(write->status_message, "rejected: user_reject");
	CHECK_STR(attr(write, "error.type"), "tool_rejected");

	/* api_error (named "claude_code.api_error" in event.name): an errored call */
	CHECK_EQ_INT(err->kind, TL_KIND_CLIENT);
	CHECK_EQ_INT(err->status_code, TL_STATUS_ERROR);
	CHECK_STR(err->status_message, "Overloaded");
	CHECK_STR(attr(err, "error.type"), "529");
	CHECK_STR(err->genai.operation, "chat");
	CHECK_EQ_INT(err->genai.input_tokens, TL_NONE);
	CHECK_EQ_INT(err->start_unix_nano, T0 + 7 * SEC);

	/* cost_usd_micros wins over cost_usd; numbers as ints and doubles */
	CHECK_EQ_INT(haiku->genai.cost_nusd, 1234000);
	CHECK_EQ_INT(haiku->genai.input_tokens, 10);
	CHECK_EQ_INT(haiku->genai.output_tokens, 5);
	CHECK_EQ_INT(haiku->end_unix_nano - haiku->start_unix_nano, 400500000);
out:
	run_free(&a);
	run_free(&b);
}

TEST(claude_beta_tracing_records_are_not_repeated)
{
	struct run r;
	CHECK_EQ_INT(run_file(&r, "claude-code/beta-tracing.json"), 0);
	CHECK_EQ_INT(r.logs.n_records, 1);
	CHECK(r.logs.n_records == 1 && r.logs.records[0].has_trace_id);
	CHECK_EQ_INT(r.b.n_spans, 0);
	run_free(&r);
}

/* ---- Claude Code, captured from the real CLI (2.1.330) ------------------------------ */

static void check_captured_request(const struct tl_span *chat, const char *session)
{
	CHECK_STR(chat->genai.provider, "anthropic");
	CHECK_EQ_INT(chat->genai.input_tokens, 425);
	CHECK_EQ_INT(chat->genai.output_tokens, 15);
	CHECK_EQ_INT(chat->genai.cache_read_tokens, 300);
	CHECK_EQ_INT(chat->genai.cache_write_tokens, 100);
	CHECK_EQ_INT(chat->genai.cost_nusd, 765000);
	CHECK_STR(chat->genai.conversation_id, session);
}

TEST(captured_http_json)
{
	struct run r;
	const struct tl_span *root, *c1, *c2, *tool, *dec;
	CHECK_EQ_INT(run_file(&r, "claude-code/captured/2.1.330-http-json-logs.json"), 0);
	/* startup events (managed settings, plugins) and assistant_response are not spans */
	CHECK_EQ_INT(r.b.n_spans, 5);
	root = span(&r, "invoke_agent claude-code");
	c1 = span_n(&r, "chat claude-sonnet-4-5", 0);
	c2 = span_n(&r, "chat claude-sonnet-4-5", 1);
	tool = span(&r, "execute_tool Read");
	dec = span(&r, "tool_decision Read");
	CHECK(root && c1 && c2 && tool && dec);
	if (!root || !c1 || !c2 || !tool || !dec)
		goto out;
	check_tree(&r, root);
	check_captured_request(c1, "00000000-0000-4000-8000-000000000002");
	check_captured_request(c2, "00000000-0000-4000-8000-000000000002");
	CHECK_EQ_INT(c1->end_unix_nano - c1->start_unix_nano, 102 * MS);
	CHECK(memcmp(c1->span_id, c2->span_id, 8) != 0);
	CHECK_STR(tool->genai.tool_call_id, "toolu_fake_1");
	CHECK_EQ_INT(tool->end_unix_nano - tool->start_unix_nano, 23 * MS); /* "23" as a string */
	CHECK_STR(model_span_service(c1), "claude-code");
out:
	run_free(&r);
}

TEST(captured_http_protobuf_two_batches)
{
	struct run a, b;
	const struct tl_span *root;
	size_t n;
	CHECK_EQ_INT(run_file(&a, "claude-code/captured/2.1.330-http-protobuf-logs-1.pb"), 0);
	CHECK_EQ_INT(run_file(&b, "claude-code/captured/2.1.330-http-protobuf-logs-2.pb"), 0);
	n = a.b.n_spans + b.b.n_spans;
	CHECK_EQ_INT(n, 5);
	root = span(&a, "invoke_agent claude-code");
	if (!root)
		root = span(&b, "invoke_agent claude-code");
	CHECK(root != NULL);
	if (!root)
		goto out;
	check_tree(&a, root);
	check_tree(&b, root);
	CHECK_EQ_INT((span_n(&a, "chat claude-sonnet-4-5", 0) != NULL) + (span_n(&a, "chat claude-sonnet-4-5", 1) != NULL) +
			     (span_n(&b, "chat claude-sonnet-4-5", 0) != NULL) + (span_n(&b, "chat claude-sonnet-4-5", 1) != NULL),
		     2);
	for (size_t i = 0; i < b.b.n_spans; i++)
		if (tl_str_eq_c(b.b.spans[i].name, "chat claude-sonnet-4-5"))
			check_captured_request(&b.b.spans[i], "00000000-0000-4000-8000-000000000005");
out:
	run_free(&a);
	run_free(&b);
}

TEST(captured_beta_and_traceparent)
{
	struct run r;
	const char *files[] = {"claude-code/captured/2.1.330-beta-tracing-logs-1.json",
			       "claude-code/captured/2.1.330-beta-tracing-logs-2.json",
			       "claude-code/captured/2.1.330-traceparent-logs.json"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		CHECK_EQ_INT(run_file(&r, files[i]), 0);
		/* the calls are in the real beta spans (or, with TRACEPARENT and no
		 * beta tracing, nowhere: the documented gap) */
		CHECK_EQ_INT(r.b.n_spans, 0);
		run_free(&r);
	}
}

TEST(captured_api_error)
{
	struct run r;
	const struct tl_span *e;
	CHECK_EQ_INT(run_file(&r, "claude-code/captured/2.1.330-api-error-logs-2.json"), 0);
	e = span(&r, "chat claude-fail529");
	CHECK(e != NULL);
	if (e) {
		CHECK_EQ_INT(e->status_code, TL_STATUS_ERROR);
		CHECK_STR(e->status_message, "Overloaded");
		CHECK_STR(attr(e, "error.type"), "529");
		CHECK_EQ_INT(e->end_unix_nano - e->start_unix_nano, 54 * MS);
	}
	run_free(&r);
}

/* The same run's metrics (claude_code.token.usage / cost.usage, delta doubles)
 * give usage facts with the service and model of the synthetic spans, and the
 * same totals: the store's span-over-metric dedup (model.h) can match them. */
TEST(captured_metrics_match_spans)
{
	struct run r;
	struct otlp_error err;
	struct tl_metrics_batch mb;
	struct tl_usage_fact *f = NULL;
	size_t len = 0, nf = 0;
	int64_t in = 0, out = 0, cr = 0, cw = 0, cost = 0;
	char *data = load("claude-code/captured/2.1.330-http-json-metrics.json", &len);
	struct tl_arena *arena = tl_arena_create(4096, 0);
	CHECK(data != NULL);
	CHECK_EQ_INT(run_file(&r, "claude-code/captured/2.1.330-http-json-logs.json"), 0);
	if (!data)
		goto out;
	CHECK_EQ_INT(otlp_decode_metrics_json(data, len, arena, &LIM, &mb, &err), 0);
	CHECK_EQ_INT(model_usage_from_metrics(&mb, NULL, arena, &f, &nf), 0);
	CHECK_EQ_INT(nf, 1);
	for (size_t i = 0; i < r.b.n_spans; i++) {
		const struct tl_genai *g = &r.b.spans[i].genai;
		if (!tl_str_eq_c(g->operation, "chat"))
			continue;
		in += g->input_tokens, out += g->output_tokens, cr += g->cache_read_tokens, cw += g->cache_write_tokens;
		cost += g->cost_nusd;
		if (nf == 1) {
			CHECK(tl_str_eq(f[0].service, model_span_service(&r.b.spans[i])));
			CHECK(tl_str_eq(f[0].model, r.b.spans[i].genai.request_model));
			CHECK(tl_str_eq(f[0].provider, g->provider));
			CHECK_EQ_INT(f[0].minute_unix, r.b.spans[i].start_unix_nano / SEC / 60 * 60);
		}
	}
	if (nf == 1) {
		CHECK_STR(f[0].service, "claude-code");
		CHECK_EQ_INT(f[0].input_tokens, in);
		CHECK_EQ_INT(f[0].output_tokens, out);
		CHECK_EQ_INT(f[0].cache_read_tokens, cr);
		CHECK_EQ_INT(f[0].cache_write_tokens, cw);
		CHECK_EQ_INT(f[0].cost_nusd, cost);
		CHECK_EQ_INT(in, 850);
		CHECK_EQ_INT(cost, 1530000);
	}
out:
	tl_arena_destroy(arena);
	free(data);
	run_free(&r);
}

/* ---- Gemini CLI ------------------------------------------------------------------------ */

TEST(gemini_prompt)
{
	struct run r;
	const struct tl_span *root, *chat, *tool, *err;
	CHECK_EQ_INT(run_file(&r, "gemini-cli/prompt.json"), 0);
	/* user_prompt, api_response, tool_call, api_error; api_request not repeated */
	CHECK_EQ_INT(r.b.n_spans, 4);
	root = span(&r, "invoke_agent gemini-cli");
	chat = span(&r, "chat gemini-2.5-pro");
	tool = span(&r, "execute_tool read_file");
	err = span(&r, "chat gemini-2.5-flash");
	CHECK(root && chat && tool && err);
	if (!root || !chat || !tool || !err)
		goto out;
	check_tree(&r, root);
	CHECK_STR(root->genai.conversation_id, "gem-session-1");
	CHECK_STR(chat->genai.provider, "gcp.gemini");
	CHECK_STR(attr(chat, "tracelamp.agent.event"), "gemini_cli.api_response");
	/* input already holds the cache (+ tool-use prompt); output + thoughts */
	CHECK_EQ_INT(chat->genai.input_tokens, 1210);
	CHECK_EQ_INT(chat->genai.output_tokens, 150);
	CHECK_EQ_INT(chat->genai.cache_read_tokens, 200);
	CHECK_EQ_INT(chat->genai.reasoning_tokens, 50);
	CHECK_EQ_INT(chat->start_unix_nano, T0 + 1 * SEC);
	CHECK_EQ_INT(chat->n_events, 0);
	CHECK_EQ_INT(chat->genai.n_finish_reasons, 1);
	/* no cost reported: priced from the table (1010 x 1.25 + 200 x 0.125 + 150 x 10 per 1M) */
	CHECK(!chat->genai.cost_from_span);
	CHECK_EQ_INT(chat->genai.cost_nusd, 2787500);
	/* the empty AnyValue of response_text is kept, as sent */
	CHECK(tl_attrs_get(&chat->attrs, "response_text") && tl_attrs_get(&chat->attrs, "response_text")->kind == TL_V_EMPTY);

	CHECK_STR(tool->genai.tool_name, "read_file");
	CHECK_EQ_INT(tool->status_code, TL_STATUS_UNSET);
	CHECK_STR(attr(tool, "tracelamp.tool.decision"), "auto_accept");

	CHECK_EQ_INT(err->status_code, TL_STATUS_ERROR);
	CHECK_STR(err->status_message, "Resource exhausted");
	CHECK_STR(attr(err, "error.type"), "RESOURCE_EXHAUSTED");
	CHECK_EQ_INT(err->start_unix_nano, T0 + 6 * SEC - 500 * MS);
out:
	run_free(&r);
}

/* ---- Codex CLI ---------------------------------------------------------------------------- */

TEST(codex_turn)
{
	struct run r;
	const struct tl_span *root, *chat, *dec, *tool, *denied, *err;
	CHECK_EQ_INT(run_file(&r, "codex/turn.json"), 0);
	/* user_prompt, response.completed, approved decision, tool_result, denied
	 * decision, failed api_request; conversation_starts, the successful
	 * api_request and response.created are not spans */
	CHECK_EQ_INT(r.b.n_spans, 6);
	root = span(&r, "invoke_agent codex");
	chat = span(&r, "chat gpt-5-codex");
	dec = span(&r, "tool_decision shell");
	tool = span_n(&r, "execute_tool shell", 0);
	denied = span_n(&r, "execute_tool shell", 1);
	err = span_n(&r, "chat gpt-5-codex", 1);
	CHECK(root && chat && dec && tool && denied && err);
	if (!root || !chat || !dec || !tool || !denied || !err)
		goto out;
	/* no prompt id: the session's minute is the trace */
	check_tree(&r, root);
	CHECK_STR(root->genai.conversation_id, "cdx-conv-1");
	CHECK_STR(model_span_service(root), "codex_cli_rs");
	/* time_unix_nano is 0: the observed time places the span */
	CHECK_EQ_INT(root->start_unix_nano, T0 + SEC / 2);
	CHECK_EQ_INT(chat->end_unix_nano, T0 + 3 * SEC);
	CHECK_EQ_INT(chat->start_unix_nano, T0 + 1 * SEC);
	CHECK_STR(chat->genai.provider, "openai");
	CHECK_EQ_INT(chat->genai.input_tokens, 5000);
	CHECK_EQ_INT(chat->genai.output_tokens, 300);
	CHECK_EQ_INT(chat->genai.cache_read_tokens, 4000);
	CHECK_EQ_INT(chat->genai.reasoning_tokens, 120);
	/* Codex reports no cost and gpt-5-codex has no built-in price */
	CHECK(chat->genai.price_unknown);
	CHECK_STR(tool->genai.tool_call_id, "call_1");
	CHECK_EQ_INT(tool->status_code, TL_STATUS_UNSET);
	CHECK_EQ_INT(tool->end_unix_nano - tool->start_unix_nano, 40 * MS);
	CHECK_EQ_INT(denied->status_code, TL_STATUS_ERROR);
	CHECK_STR(denied->status_message, "rejected: user");
	CHECK_EQ_INT(err->status_code, TL_STATUS_ERROR);
	CHECK_STR(attr(err, "error.type"), "500");
	CHECK_STR(err->status_message, "server error");
out:
	run_free(&r);
}

/* ---- edge cases ------------------------------------------------------------------------------ */

static int run_json(struct run *r, const char *json)
{
	struct otlp_error err;
	memset(r, 0, sizeof *r);
	r->arena = tl_arena_create(4096, 0);
	r->rc = otlp_decode_logs_json(json, strlen(json), r->arena, &LIM, &r->logs, &err);
	if (r->rc == 0)
		r->rc = model_agent_spans_from_logs(&r->logs, r->arena, &r->b);
	if (r->rc == 0)
		model_normalise_batch(&r->b, (r->prices = load_prices()));
	return r->rc;
}

TEST(short_name_time_fallback_and_unknown)
{
	struct run r;
	const struct tl_span *s;
	/* short event.name only (no prefixed body), no time fields: service and
	 * event.timestamp decide; a prefix-less record of another service and a
	 * plain log line are ignored */
	CHECK_EQ_INT(run_json(&r,
		"{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"claude-code-desktop\"}}]},"
		"\"scopeLogs\":[{\"logRecords\":["
		"{\"attributes\":[{\"key\":\"event.name\",\"value\":{\"stringValue\":\"api_request\"}},"
		"{\"key\":\"event.timestamp\",\"value\":{\"stringValue\":\"2026-11-21T13:55:18.250Z\"}},"
		"{\"key\":\"session.id\",\"value\":{\"stringValue\":\"s\"}},{\"key\":\"model\",\"value\":{\"stringValue\":\"claude-sonnet-4-5\"}},"
		"{\"key\":\"input_tokens\",\"value\":{\"intValue\":\"1000000\"}},{\"key\":\"duration_ms\",\"value\":{}}]},"
		"{\"timeUnixNano\":\"1\",\"body\":{\"stringValue\":\"hello world\"}}"
		"]}]},{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"other\"}}]},"
		"\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"5\",\"attributes\":[{\"key\":\"event.name\",\"value\":{\"stringValue\":\"api_request\"}}]}]}]}]}"),
		0);
	CHECK_EQ_INT(r.b.n_spans, 1);
	s = span(&r, "chat claude-sonnet-4-5");
	CHECK(s != NULL);
	if (s) {
		CHECK_EQ_INT(s->end_unix_nano, T0 + 250 * MS);
		CHECK_EQ_INT(s->start_unix_nano, s->end_unix_nano); /* empty duration */
		CHECK_EQ_INT(s->genai.input_tokens, 1000000);
		/* no cost on the event: the price table prices it (1M x $3) */
		CHECK_EQ_INT(s->genai.cost_nusd, 3000000000ll);
		CHECK_STR(model_span_service(s), "claude-code-desktop");
		CHECK_STR(s->scope->name, "tracelamp.agent_events");
	}
	run_free(&r);

	CHECK_EQ_INT(run_json(&r, "{\"resourceLogs\":[]}"), 0);
	CHECK_EQ_INT(r.b.n_spans, 0);
	run_free(&r);
}

static const struct tl_test_case TESTS[] = {
	T(claude_prompt_request_and_tools),
	T(claude_errors_rejections_and_later_batches),
	T(claude_beta_tracing_records_are_not_repeated),
	T(captured_http_json),
	T(captured_http_protobuf_two_batches),
	T(captured_beta_and_traceparent),
	T(captured_api_error),
	T(captured_metrics_match_spans),
	T(gemini_prompt),
	T(codex_turn),
	T(short_name_time_fallback_and_unknown),
};

TEST_MAIN("test_agents", TESTS)
