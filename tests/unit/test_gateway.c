/*
 * test_gateway.c - the pure parts of the gateway: config parsing, route
 * matching, SSE parsing in any split, usage extraction per provider, Luhn and
 * redaction, budget windows, traceparent.
 */
#include "cli/config.h"
#include "gateway/gateway.h"
#include "tl_test.h"

#include <unistd.h>

static const char CFG[] = "server:\n"
			  "  http_addr: 127.0.0.1:0\n"
			  "gateway:\n"
			  "  addr: 127.0.0.1:0\n"
			  "  keys:\n"
			  "    - key_env: K_A\n"
			  "      tenant: team-a\n"
			  "      budget: {requests_per_minute: 600, tokens_per_day: 5000000}\n"
			  "  routes:\n"
			  "    - match: \"gpt-*\"\n"
			  "      upstreams:\n"
			  "        - name: openai\n"
			  "          api: openai\n"
			  "          base_url: https://api.openai.com/\n"
			  "          api_key_env: OPENAI_API_KEY\n"
			  "          headers: {X-A: b}\n"
			  "          timeout: 30s\n"
			  "    - match: \"claude-*\"\n"
			  "      capture_content: true\n"
			  "      upstreams:\n"
			  "        - {name: anthropic, api: anthropic, base_url: https://api.anthropic.com, api_key_env: ANTHROPIC_API_KEY}\n"
			  "    - match: \"*\"\n"
			  "      upstreams: [{name: local, api: openai, base_url: \"http://127.0.0.1:9999\"}]\n"
			  "  capture_content: false\n"
			  "  redact: [email, api_key, card, {regex: \"x+\", replace: \"X\"}]\n"
			  "  observability:\n"
			  "    traces:\n"
			  "      enabled: true\n"
			  "      endpoint: http://127.0.0.1:4318\n"
			  "      headers: {Authorization: \"Bearer t\"}\n"
			  "      sampling: {ratio: 0.25}\n";

TEST(config_parses_the_documented_shape)
{
	struct gateway_config c;
	char err[256] = "";
	char *env[] = {"K_A=secret-a", "OPENAI_API_KEY=sk-o", NULL};
	gateway_config_init(&c);
	snprintf(c.addr, sizeof c.addr, "127.0.0.1:0");
	CHECK_EQ_INT(gateway_config_parse_yaml(&c, CFG, strlen(CFG), "t.yaml", err, sizeof err), 0);
	CHECK_EQ_INT(c.n_keys, 1);
	CHECK_EQ_STR(c.keys[0].tenant, "team-a");
	CHECK_EQ_INT(c.keys[0].budget.requests_per_minute, 600);
	CHECK_EQ_INT(c.keys[0].budget.tokens_per_day, 5000000);
	CHECK_EQ_INT(c.n_routes, 3);
	CHECK_EQ_STR(c.routes[0].upstreams[0].base_url, "https://api.openai.com");
	CHECK_EQ_INT(c.routes[0].upstreams[0].timeout_ns, 30000000000ull);
	CHECK_EQ_STR(c.routes[0].upstreams[0].headers[0].name, "X-A");
	CHECK_EQ_INT(c.routes[0].capture_content, -1);
	CHECK_EQ_INT(c.routes[1].capture_content, 1);
	CHECK_EQ_INT(c.routes[1].upstreams[0].api, GATEWAY_API_ANTHROPIC);
	CHECK_EQ_INT(c.n_redact, 4);
	CHECK_EQ_INT(c.redact[2].kind, GATEWAY_REDACT_CARD);
	CHECK_EQ_STR(c.redact[3].replace, "X");
	CHECK_EQ_INT(c.traces.enabled, 1);
	CHECK(c.traces.ratio > 0.24 && c.traces.ratio < 0.26);
	CHECK_EQ_STR(c.traces.headers[0].value, "Bearer t");
	CHECK_EQ_INT(gateway_config_resolve(&c, env, err, sizeof err), 0);
	CHECK_EQ_STR(c.keys[0].key, "secret-a");
	CHECK_EQ_STR(c.routes[0].upstreams[0].api_key, "sk-o");
	CHECK(c.routes[1].upstreams[0].api_key == NULL);
	gateway_config_cleanup(&c);
}

TEST(config_errors_name_the_line)
{
	static const struct {
		const char *yaml;
		const char *want;
	} bad[] = {
	    {"gateway:\n  routes:\n    - match: a\n", "at least one upstream"},
	    {"gateway:\n  routes:\n    - upstreams: [{api: openai, base_url: http://x}]\n", "match is required"},
	    {"gateway:\n  routes:\n    - match: a\n      upstreams: [{api: gemini, base_url: http://x}]\n",
	     "openai or anthropic"},
	    {"gateway:\n  routes:\n    - match: a\n      upstreams: [{api: openai, base_url: ftp://x}]\n", "base_url"},
	    {"gateway:\n  keys:\n    - tenant: a\n", "key_env is required"},
	    {"gateway:\n  keys:\n    - {key_env: X, tenant: \"a b\"}\n", "tenant"},
	    {"gateway:\n  keys:\n    - {key_env: X, tenant: a, budget: {per_hour: 1}}\n", "unknown budget"},
	    {"gateway:\n  redact: [phone]\n", "unknown built-in"},
	    {"gateway:\n  observability:\n    traces: {enabled: true}\n", "endpoint"},
	    {"gateway:\n  observability:\n    traces: {sampling: {ratio: 2}}\n", "ratio"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct gateway_config c;
		char err[256] = "";
		gateway_config_init(&c);
		CHECK_EQ_INT(gateway_config_parse_yaml(&c, bad[i].yaml, strlen(bad[i].yaml), "t.yaml", err, sizeof err),
			     TL_ECONFIG);
		if (!strstr(err, bad[i].want) || !strstr(err, "t.yaml:"))
			fprintf(stderr, "  case %zu: %s\n", i, err);
		CHECK(strstr(err, bad[i].want) != NULL);
		gateway_config_cleanup(&c);
	}
}

TEST(config_resolve_rules)
{
	struct gateway_config c;
	char err[256] = "";
	char *env[] = {NULL};
	const char *y = "gateway:\n  keys: [{key_env: MISSING, tenant: a}]\n  routes:\n    - match: '*'\n"
			"      upstreams: [{api: openai, base_url: http://x}]\n";
	gateway_config_init(&c);
	CHECK_EQ_INT(gateway_config_parse_yaml(&c, y, strlen(y), "t", err, sizeof err), 0);
	CHECK_EQ_INT(gateway_config_resolve(&c, env, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "MISSING") != NULL);
	gateway_config_cleanup(&c);

	/* No keys: loopback only. */
	y = "gateway:\n  routes:\n    - match: '*'\n      upstreams: [{api: openai, base_url: http://x}]\n";
	gateway_config_init(&c);
	snprintf(c.addr, sizeof c.addr, "0.0.0.0:8080");
	CHECK_EQ_INT(gateway_config_parse_yaml(&c, y, strlen(y), "t", err, sizeof err), 0);
	CHECK_EQ_INT(gateway_config_resolve(&c, env, err, sizeof err), TL_ECONFIG);
	snprintf(c.addr, sizeof c.addr, "127.0.0.1:8080");
	CHECK_EQ_INT(gateway_config_resolve(&c, env, err, sizeof err), 0);
	gateway_config_cleanup(&c);
}

TEST(route_matching)
{
	struct gateway_config c;
	char err[256];
	gateway_config_init(&c);
	CHECK_EQ_INT(gateway_config_parse_yaml(&c, CFG, strlen(CFG), "t", err, sizeof err), 0);
	CHECK(gateway_pattern_match("*", "anything", 8));
	CHECK(gateway_pattern_match("gpt-*", "gpt-4o", 6));
	CHECK(gateway_pattern_match("gpt-*", "gpt-", 4));
	CHECK(!gateway_pattern_match("gpt-*", "gpt", 3));
	CHECK(gateway_pattern_match("exact", "exact", 5));
	CHECK(!gateway_pattern_match("exact", "exactly", 7));
	CHECK(!gateway_pattern_match("exact", "exac", 4));
	CHECK(gateway_route_find(&c, "gpt-4o-mini", 11) == &c.routes[0]);
	CHECK(gateway_route_find(&c, "claude-sonnet-4-5", 17) == &c.routes[1]);
	CHECK(gateway_route_find(&c, "llama3", 6) == &c.routes[2]);
	gateway_config_cleanup(&c);
}

/* ---- SSE ---------------------------------------------------------------------- */

struct events {
	char log[4096];
	size_t n;
	struct tl_buf raw;
};

static void collect(void *arg, const char *event, const char *data, size_t dn, const char *raw, size_t rn,
		    int overflow)
{
	struct events *e = arg;
	size_t l = strlen(e->log);
	snprintf(e->log + l, sizeof e->log - l, "[%s|%.*s]", event, (int)dn, data);
	tl_buf_append(&e->raw, raw, rn);
	e->n++;
	(void)overflow;
}

TEST(sse_in_any_split)
{
	static const char s[] = ": comment\r\n"
				"event: message_start\r\ndata: {\"a\":1}\r\n\r\n"
				"data: line1\ndata: line2\n\n"
				"data:nospace\r\r"
				"data: [DONE]\n\n";
	for (size_t step = 1; step <= sizeof s - 1; step++) {
		struct gateway_sse p;
		struct events e;
		memset(&e, 0, sizeof e);
		tl_buf_init(&e.raw, 0);
		gateway_sse_init(&p, 0);
		for (size_t i = 0; i < sizeof s - 1; i += step)
			gateway_sse_feed(&p, s + i, (sizeof s - 1 - i) < step ? sizeof s - 1 - i : step, collect, &e);
		CHECK_EQ_INT(e.n, 4);
		CHECK_EQ_STR(e.log, "[message_start|{\"a\":1}][|line1\nline2][|nospace][|[DONE]]");
		/* Raw bytes of all events concatenated give back the input exactly. */
		CHECK_EQ_INT(e.raw.len, sizeof s - 1);
		CHECK(e.raw.len == sizeof s - 1 && memcmp(e.raw.data, s, e.raw.len) == 0);
		CHECK_EQ_INT(gateway_sse_pending(&p), 0);
		gateway_sse_cleanup(&p);
		tl_buf_cleanup(&e.raw);
	}
}

TEST(sse_pending_when_cut)
{
	struct gateway_sse p;
	struct events e;
	memset(&e, 0, sizeof e);
	tl_buf_init(&e.raw, 0);
	gateway_sse_init(&p, 0);
	gateway_sse_feed(&p, "data: a\n\ndata: b", 16, collect, &e);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(gateway_sse_pending(&p), 7);
	gateway_sse_cleanup(&p);
	tl_buf_cleanup(&e.raw);
}

/* ---- usage ---------------------------------------------------------------------- */

TEST(usage_openai_chat_body)
{
	struct gateway_result r;
	const char *b = "{\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
			"\"message\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"},{\"index\":1,\"finish_reason\":"
			"\"length\"}],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":20,\"prompt_tokens_details\":"
			"{\"cached_tokens\":10},\"completion_tokens_details\":{\"reasoning_tokens\":5}}}";
	gateway_result_init(&r, 1);
	CHECK_EQ_INT(gateway_usage_from_body(GATEWAY_API_OPENAI, GATEWAY_OP_CHAT, b, strlen(b), &r), 0);
	CHECK_EQ_STR(r.id, "chatcmpl-1");
	CHECK_EQ_STR(r.model, "gpt-4o-mini-2024-07-18");
	CHECK_EQ_INT(r.n_finish, 2);
	CHECK_EQ_STR(r.finish[1], "length");
	CHECK_EQ_INT(r.input, 50);
	CHECK_EQ_INT(r.output, 20);
	CHECK_EQ_INT(r.cache_read, 10);
	CHECK_EQ_INT(r.cache_write, TL_NONE);
	CHECK_EQ_INT(r.reasoning, 5);
	CHECK(r.text.len == 2 && !memcmp(r.text.data, "hi", 2));
	gateway_result_cleanup(&r);

	gateway_result_init(&r, 0);
	CHECK_EQ_INT(gateway_usage_from_body(GATEWAY_API_OPENAI, GATEWAY_OP_CHAT, "not json", 8, &r), TL_EJSON);
	b = "{\"error\":{\"message\":\"x\",\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
	CHECK_EQ_INT(gateway_usage_from_body(GATEWAY_API_OPENAI, GATEWAY_OP_CHAT, b, strlen(b), &r), 0);
	CHECK_EQ_STR(r.error_type, "rate_limit_exceeded");
	CHECK_EQ_INT(r.have_usage, 0);
	gateway_result_cleanup(&r);
}

TEST(usage_openai_stream_and_strip)
{
	struct gateway_result r;
	const char *c1 = "{\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"He\"},"
			 "\"finish_reason\":null}],\"usage\":null}";
	const char *c2 = "{\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
			 "\"stop\"}],\"usage\":null}";
	const char *c3 = "{\"id\":\"c1\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,"
			 "\"completion_tokens\":3}}";
	gateway_result_init(&r, 1);
	CHECK_EQ_INT(gateway_usage_from_event(0, GATEWAY_OP_CHAT, "", 0, c1, strlen(c1), &r), 0);
	CHECK_EQ_INT(gateway_usage_from_event(0, GATEWAY_OP_CHAT, "", 0, c2, strlen(c2), &r), 0);
	CHECK_EQ_INT(r.have_usage, 0);
	CHECK_EQ_INT(gateway_usage_from_event(0, GATEWAY_OP_CHAT, "", 0, c3, strlen(c3), &r), 1);
	CHECK_EQ_INT(gateway_usage_from_event(0, GATEWAY_OP_CHAT, "", 0, "[DONE]", 6, &r), 0);
	CHECK_EQ_INT(r.input, 7);
	CHECK_EQ_INT(r.output, 3);
	CHECK_EQ_INT(r.n_finish, 1);
	CHECK_EQ_STR(r.finish[0], "stop");
	CHECK(r.text.len == 2);
	gateway_result_cleanup(&r);
}

TEST(usage_anthropic_stream_overwrites)
{
	struct gateway_result r;
	const char *ev[] = {
	    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":25,"
	    "\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":300,\"output_tokens\":1}}}",
	    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}",
	    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}",
	    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":15,"
	    "\"output_tokens_details\":{\"thinking_tokens\":4}}}",
	};
	gateway_result_init(&r, 1);
	for (size_t i = 0; i < 4; i++)
		gateway_usage_from_event(GATEWAY_API_ANTHROPIC, GATEWAY_OP_MESSAGES, "", 0, ev[i], strlen(ev[i]), &r);
	gateway_result_finish(&r, GATEWAY_API_ANTHROPIC);
	CHECK_EQ_STR(r.id, "msg_1");
	CHECK_EQ_INT(r.input, 425);
	CHECK_EQ_INT(r.cache_read, 300);
	CHECK_EQ_INT(r.cache_write, 100);
	CHECK_EQ_INT(r.output, 15);
	CHECK_EQ_INT(r.reasoning, 4);
	CHECK_EQ_INT(r.n_finish, 1);
	CHECK_EQ_STR(r.finish[0], "tool_use");
	CHECK(r.text.len == 2);
	gateway_result_finish(&r, GATEWAY_API_ANTHROPIC);
	CHECK_EQ_INT(r.input, 425);
	gateway_result_cleanup(&r);

	gateway_result_init(&r, 0);
	const char *e = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
	gateway_usage_from_event(GATEWAY_API_ANTHROPIC, GATEWAY_OP_MESSAGES, "error", 5, e, strlen(e), &r);
	CHECK_EQ_STR(r.error_type, "overloaded_error");
	gateway_result_cleanup(&r);
}

TEST(usage_responses)
{
	struct gateway_result r;
	const char *done = "{\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"model\":\"gpt-4.1\","
			   "\"status\":\"completed\",\"usage\":{\"input_tokens\":40,\"input_tokens_details\":{\"cached_tokens\":8},"
			   "\"output_tokens\":30,\"output_tokens_details\":{\"reasoning_tokens\":12}}}}";
	const char *inc = "{\"id\":\"resp_2\",\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
			  "\"max_output_tokens\"},\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}";
	gateway_result_init(&r, 0);
	gateway_usage_from_event(0, GATEWAY_OP_RESPONSES, "response.completed", 18, done, strlen(done), &r);
	CHECK_EQ_STR(r.id, "resp_1");
	CHECK_EQ_INT(r.input, 40);
	CHECK_EQ_INT(r.cache_read, 8);
	CHECK_EQ_INT(r.reasoning, 12);
	CHECK_EQ_STR(r.finish[0], "stop");
	gateway_result_cleanup(&r);
	gateway_result_init(&r, 0);
	gateway_usage_from_body(0, GATEWAY_OP_RESPONSES, inc, strlen(inc), &r);
	CHECK_EQ_STR(r.finish[0], "max_output_tokens");
	CHECK_EQ_INT(r.output, 2);
	gateway_result_cleanup(&r);
}

/* ---- redaction ------------------------------------------------------------------ */

TEST(luhn)
{
	CHECK(gateway_luhn_valid("4111111111111111", 16));
	CHECK(gateway_luhn_valid("4111 1111 1111 1111", 19));
	CHECK(gateway_luhn_valid("5500-0000-0000-0004", 19));
	CHECK(gateway_luhn_valid("378282246310005", 15));
	CHECK(!gateway_luhn_valid("4111111111111112", 16));
	CHECK(!gateway_luhn_valid("1234567890123456", 16));
	CHECK(!gateway_luhn_valid("411111111111", 12)); /* too short */
	CHECK(!gateway_luhn_valid("4111x11111111111", 16));
}

static void redact_case(const struct gateway_redactor *r, const char *in, const char *want)
{
	struct tl_buf o;
	tl_buf_init(&o, 0);
	CHECK_EQ_INT(gateway_redact(r, in, strlen(in), &o), 0);
	tl_buf_putc(&o, 0);
	CHECK_EQ_STR(o.data, want);
	tl_buf_cleanup(&o);
}

TEST(redaction)
{
	struct gateway_redact_rule rules[4] = {
	    {GATEWAY_REDACT_EMAIL, NULL, NULL},
	    {GATEWAY_REDACT_API_KEY, NULL, NULL},
	    {GATEWAY_REDACT_CARD, NULL, NULL},
	    {GATEWAY_REDACT_REGEX, "ssn [0-9]{3}-[0-9]{2}-[0-9]{4}", "ssn ***"},
	};
	struct gateway_redactor *r = NULL;
	char err[256];
	CHECK_EQ_INT(gateway_redactor_create(rules, 4, &r, err, sizeof err), 0);
	redact_case(r, "mail a.b+c@ex-ample.co.uk now", "mail [REDACTED_EMAIL] now");
	redact_case(r, "key sk-proj-abcdefghijklmnopqrstuvwxyz0123 and AKIAABCDEFGHIJKLMNOP",
		    "key [REDACTED_API_KEY] and [REDACTED_API_KEY]");
	redact_case(r, "card 4111 1111 1111 1111 order 1234567890123456", "card [REDACTED_CARD] order 1234567890123456");
	redact_case(r, "ssn 123-45-6789.", "ssn ***.");
	redact_case(r, "nothing to see", "nothing to see");
	redact_case(r, "", "");
	gateway_redactor_destroy(r);
	redact_case(NULL, "a@b.co", "a@b.co");

	struct gateway_redact_rule bad = {GATEWAY_REDACT_REGEX, "([", NULL};
	r = NULL;
	CHECK_EQ_INT(gateway_redactor_create(&bad, 1, &r, err, sizeof err), TL_ECONFIG);
	CHECK(r == NULL);
	CHECK(strstr(err, "bad regex") != NULL);
}

/* ---- budgets ------------------------------------------------------------------ */

TEST(budget_windows)
{
	struct gateway_budget b = {2, 3, 0, 100};
	struct gateway_budget_state s;
	uint64_t t = 1800000000; /* a minute boundary: 1800000000 % 60 == 0 */
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(gateway_budget_admit(&s, &b, t), GATEWAY_BUDGET_OK);
	CHECK_EQ_INT(gateway_budget_admit(&s, &b, t + 1), GATEWAY_BUDGET_OK);
	CHECK_EQ_INT(gateway_budget_admit(&s, &b, t + 2), GATEWAY_BUDGET_REQ_MINUTE);
	CHECK_EQ_INT(gateway_budget_retry_after(GATEWAY_BUDGET_REQ_MINUTE, t + 2), 58);
	/* Next minute: the day limit (3) is next. */
	CHECK_EQ_INT(gateway_budget_admit(&s, &b, t + 60), GATEWAY_BUDGET_OK);
	CHECK_EQ_INT(gateway_budget_admit(&s, &b, t + 61), GATEWAY_BUDGET_REQ_DAY);
	CHECK_EQ_STR(gateway_budget_what(GATEWAY_BUDGET_REQ_DAY), "requests per day");
	/* Tokens: refused once used up, until the day rolls over. */
	memset(&s, 0, sizeof s);
	b.requests_per_day = 0;
	b.requests_per_minute = 0;
	CHECK_EQ_INT(gateway_budget_admit(&s, &b, t), GATEWAY_BUDGET_OK);
	gateway_budget_charge(&s, 150, t);
	CHECK_EQ_INT(gateway_budget_admit(&s, &b, t + 5), GATEWAY_BUDGET_TOK_DAY);
	CHECK_EQ_INT(gateway_budget_admit(&s, &b, t + 86400), GATEWAY_BUDGET_OK);
}

/* ---- traceparent ---------------------------------------------------------------- */

TEST(traceparent)
{
	uint8_t tid[16], sid[8], fl;
	CHECK_EQ_INT(gateway_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tid, sid, &fl), 0);
	CHECK_EQ_INT(tid[0], 0x4b);
	CHECK_EQ_INT(sid[7], 0xb7);
	CHECK_EQ_INT(fl, 1);
	CHECK_EQ_INT(gateway_traceparent_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", tid, sid, &fl), 0);
	CHECK(gateway_traceparent_parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", tid, sid, &fl) != 0);
	CHECK(gateway_traceparent_parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01", tid, sid, &fl) != 0);
	CHECK(gateway_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", tid, sid, &fl) != 0);
	CHECK(gateway_traceparent_parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tid, sid, &fl) != 0);
	CHECK(gateway_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", tid, sid, &fl) != 0);
	CHECK(gateway_traceparent_parse("garbage", tid, sid, &fl) != 0);
	CHECK(gateway_traceparent_parse(NULL, tid, sid, &fl) != 0);
}

/* The settings table skips the gateway's lists (they are read by
 * config_load_gateway) but still applies its scalars. */
TEST(settings_table_and_gateway_lists_share_one_file)
{
	struct tl_config c;
	struct gateway_config g;
	char err[256] = "", path[] = "/tmp/tl-test-gateway-XXXXXX";
	char *env[] = {"K_A=secret-a", NULL};
	const char *y = "gateway:\n  capture_content: true\n  keys: []\n  routes:\n    - match: '*'\n"
			"      upstreams: [{api: openai, base_url: http://x}]\n  redact:\n  max_concurrent: 7\n";
	config_init(&c);
	CHECK_EQ_INT(config_apply_yaml(&c, CFG, strlen(CFG), "t.yaml", err, sizeof err), 0);
	CHECK_EQ_STR(c.gateway_addr, "127.0.0.1:0");
	config_init(&c);
	CHECK_EQ_INT(config_apply_yaml(&c, y, strlen(y), "t.yaml", err, sizeof err), 0);
	CHECK_EQ_INT(c.gateway_capture_content, 1);
	CHECK_EQ_INT(c.gateway_max_concurrent, 7);
	CHECK_EQ_INT(config_apply_yaml(&c, "gateway:\n  rutes: []\n", 21, "t.yaml", err, sizeof err), TL_ECONFIG);

	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, CFG, strlen(CFG)), (long long)strlen(CFG));
	close(fd);
	config_init(&c);
	snprintf(c.file_path, sizeof c.file_path, "%s", path);
	CHECK_EQ_INT(config_apply_yaml(&c, CFG, strlen(CFG), path, err, sizeof err), 0);
	c.gateway_max_concurrent = 9;
	CHECK_EQ_INT(config_load_gateway(&c, env, &g, err, sizeof err), 0);
	CHECK_EQ_INT(g.n_routes, 3);
	CHECK_EQ_INT(g.max_concurrent, 9);
	CHECK_EQ_STR(g.addr, "127.0.0.1:0");
	CHECK_EQ_STR(g.keys[0].key, "secret-a");
	gateway_config_cleanup(&g);
	char *noenv[] = {NULL};
	CHECK_EQ_INT(config_load_gateway(&c, noenv, &g, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "K_A") != NULL);
	CHECK_EQ_INT(g.n_routes, 0);
	unlink(path);
}

static const struct tl_test_case cases[] = {
    T(config_parses_the_documented_shape), T(config_errors_name_the_line), T(config_resolve_rules), T(route_matching),
    T(sse_in_any_split), T(sse_pending_when_cut), T(usage_openai_chat_body), T(usage_openai_stream_and_strip),
    T(usage_anthropic_stream_overwrites), T(usage_responses), T(luhn), T(redaction), T(budget_windows), T(traceparent),
    T(settings_table_and_gateway_lists_share_one_file),
};

TEST_MAIN("test_gateway", cases)
