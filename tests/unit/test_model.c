/*
 * test_model.c - unit tests for the model module: attribute lookup, the price
 * table (decimal parsing, lookup rules, user overrides and bad files) and GenAI
 * normalisation, as table-driven vectors over hand-built spans, with costs
 * computed by hand in the comments.
 */
#include "tl_test.h"

#include "model/model.h"
#include "model/model_int.h"

#include <stdio.h>
#include <unistd.h>

#define N TL_NONE

/* ---- building spans by hand ------------------------------------------------ */

#define MAXA 24

struct built {
	struct tl_kv kv[MAXA];
	struct tl_kv rkv[MAXA];
	struct tl_value arr[2 * MAXA][4];
	struct tl_resource res;
	struct tl_scope scope;
	struct tl_span span;
};

static struct tl_str slice(const char *p, size_t n)
{
	struct tl_str s = {p, n};
	return s;
}

/*
 * One attribute per spec string: "s:key=value" string, "i:key=12" int,
 * "d:key=1.5" double, "b:key=1" bool, "a:key=x|y" string array, "e:key" empty
 * value; an "r" in front ("rs:", "ri:") puts it on the resource instead.
 */
static void add_attr(struct built *b, const char *spec)
{
	int res = spec[0] == 'r';
	const char *t = spec + res;
	char type = t[0];
	const char *key = t + 2, *eq = strchr(key, '=');
	size_t kn = eq ? (size_t)(eq - key) : strlen(key);
	const char *val = eq ? eq + 1 : "";
	struct tl_attrs *a = res ? &b->res.attrs : &b->span.attrs;
	struct tl_kv *kv = &a->items[a->n];
	kv->key = slice(key, kn);
	switch (type) {
	case 's':
		kv->v.kind = TL_V_STR;
		kv->v.u.s = tl_str_c(val);
		break;
	case 'i':
		kv->v.kind = TL_V_INT;
		kv->v.u.i = strtoll(val, NULL, 10);
		break;
	case 'd':
		kv->v.kind = TL_V_DOUBLE;
		kv->v.u.d = strtod(val, NULL);
		break;
	case 'b':
		kv->v.kind = TL_V_BOOL;
		kv->v.u.b = val[0] == '1';
		break;
	case 'a': {
		struct tl_value *items = b->arr[a->n + (res ? MAXA : 0)];
		uint32_t n = 0;
		const char *p = val;
		while (*p && n < 4) {
			const char *bar = strchr(p, '|');
			size_t l = bar ? (size_t)(bar - p) : strlen(p);
			items[n].kind = TL_V_STR;
			items[n].u.s = slice(p, l);
			n++;
			p += l + (bar ? 1 : 0);
		}
		kv->v.kind = TL_V_ARRAY;
		kv->v.u.arr.items = items;
		kv->v.u.arr.n = n;
		break;
	}
	default:
		kv->v.kind = TL_V_EMPTY;
		break;
	}
	a->n++;
}

static struct tl_span *build(struct built *b, const char *name, const char *const *specs)
{
	memset(b, 0, sizeof *b);
	b->span.attrs.items = b->kv;
	b->res.attrs.items = b->rkv;
	b->span.name = tl_str_c(name);
	b->span.resource = &b->res;
	b->span.scope = &b->scope;
	for (size_t i = 0; specs[i]; i++) {
		add_attr(b, specs[i]);
		if (specs[i][0] == 'r' && strncmp(specs[i] + 3, "service.name=", 13) == 0)
			b->res.service = tl_str_c(specs[i] + 16);
	}
	return &b->span;
}

static struct tl_price_table *builtin(void)
{
	struct tl_price_table *t = NULL;
	char err[256];
	int rc = model_prices_load(NULL, &t, err, sizeof err);
	if (rc)
		fprintf(stderr, "  built-in prices failed: %s\n", err);
	return t;
}

/* ---- attrs ------------------------------------------------------------------ */

TEST(test_attrs_get)
{
	static const char *const specs[] = {"s:a=1", "i:bb=2", "s:a=3", NULL};
	struct built b;
	struct tl_span *s = build(&b, "x", specs);
	const struct tl_value *v = tl_attrs_get(&s->attrs, "a");
	CHECK(v && v->kind == TL_V_STR);
	CHECK_STR(v->u.s, "1"); /* first wins */
	v = tl_attrs_get(&s->attrs, "bb");
	CHECK(v && v->kind == TL_V_INT && v->u.i == 2);
	CHECK(tl_attrs_get(&s->attrs, "b") == NULL);
	CHECK(tl_attrs_get(&s->attrs, "") == NULL);
	CHECK(tl_attrs_get(NULL, "a") == NULL);
}

/* ---- decimals ----------------------------------------------------------------- */

TEST(test_parse_decimal)
{
	static const struct {
		const char *in;
		int scale;
		int rc;
		int64_t want;
	} v[] = {
		{"0.01875", 6, 0, 18750},
		{"2.5", 6, 0, 2500000},
		{"6", 6, 0, 6000000},
		{".5", 6, 0, 500000},
		{"0.1000000", 6, 0, 100000},
		{"0", 6, 0, 0},
		{"1.", 6, 0, 1000000},
		{"0.0123", 9, 0, 12300000},
		{"42", 0, 0, 42},
		{"42.0", 0, 0, 42},
		{"42.5", 0, -3, 0},
		{"0.0000001", 6, -3, 0},
		{"-1", 6, -2, 0},
		{"-0.5", 6, -2, 0},
		{"1e-6", 6, -1, 0},
		{"", 6, -1, 0},
		{".", 6, -1, 0},
		{"abc", 6, -1, 0},
		{"1.2.3", 6, -1, 0},
		{" 1", 6, -1, 0},
		{"+1", 6, -1, 0},
		{"2000000", 6, -4, 0},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int64_t out = -7;
		int rc = model__parse_decimal(v[i].in, strlen(v[i].in), v[i].scale, 1000000, &out);
		if (rc != v[i].rc || (rc == 0 && out != v[i].want))
			fprintf(stderr, "  decimal \"%s\": rc %d out %lld\n", v[i].in, rc, (long long)out);
		CHECK_EQ_INT(rc, v[i].rc);
		if (rc == 0)
			CHECK_EQ_INT(out, v[i].want);
	}
}

/* ---- price table ------------------------------------------------------------- */

TEST(test_prices_builtin)
{
	struct tl_price_table *t = builtin();
	const struct tl_price *p;
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(model_prices_count(t) >= 60);
	p = model_prices_find(t, TL_STR_LIT("gpt-4o-mini"));
	CHECK(p && p->input == 150000 && p->cached_input == 75000 && p->output == 600000 && p->cache_write == N);
	CHECK(p && strcmp(p->provider, "openai") == 0);
	p = model_prices_find(t, TL_STR_LIT("gemini-2.0-flash-lite"));
	CHECK(p && p->cached_input == 18750);
	p = model_prices_find(t, TL_STR_LIT("claude-sonnet-4-5"));
	CHECK(p && p->input == 3000000 && p->cached_input == 300000 && p->cache_write == 3750000 && p->output == 15000000);
	p = model_prices_find(t, TL_STR_LIT("deepseek-chat"));
	CHECK(p && p->cache_write == 0);
	model_prices_destroy(t);
}

TEST(test_prices_lookup_rules)
{
	static const struct {
		const char *name;
		const char *want; /* model of the row found, NULL = none */
	} v[] = {
		{"gpt-4o", "gpt-4o"},
		{"GPT-4O-MINI", "gpt-4o-mini"},
		{"openai/gpt-4o", "gpt-4o"},
		{"gemini/gemini-2.5-flash", "gemini-2.5-flash"},
		{"models/gemini-2.5-pro", "gemini-2.5-pro"},
		{"together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", "meta-llama/Llama-3.3-70B-Instruct-Turbo"},
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{"claude-3-5-haiku-20241022", "claude-3-5-haiku"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-sonnet-4-5@20250929", "claude-sonnet-4-5"},
		{"anthropic/claude-opus-4-1-20250805", "claude-opus-4-1"},
		{"us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"},
		{"anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku"},
		{"claude-3-5-sonnet-latest", "claude-3-5-sonnet"},
		{"mistral-large-latest", "mistral-large-latest"},
		{"mistral/mistral-small-latest", "mistral-small-latest"},
		{"claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4*"},
		{"claude-opus-4-1-fast", "claude-opus-4-1*"},
		{"gemini-2.0-flash-001", "gemini-2.0-flash-0*"},
		{"gemini-2.0-flash-lite-001", "gemini-2.0-flash-lite-0*"},
		{"o3-mini", NULL},
		{"gpt-4o-search-preview", NULL},
		{"gemini-2.5-flash-preview-05-20", NULL},
		{"my-local-llm", NULL},
		{"", NULL},
	};
	struct tl_price_table *t = builtin();
	if (!t)
		return;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		const struct tl_price *p = model_prices_find(t, tl_str_c(v[i].name));
		if (v[i].want) {
			if (!p || strcmp(p->model, v[i].want) != 0)
				fprintf(stderr, "  find(%s) = %s, want %s\n", v[i].name, p ? p->model : "NULL", v[i].want);
			CHECK(p && strcmp(p->model, v[i].want) == 0);
		} else {
			if (p)
				fprintf(stderr, "  find(%s) = %s, want none\n", v[i].name, p->model);
			CHECK(p == NULL);
		}
	}
	CHECK(model_prices_find(NULL, TL_STR_LIT("gpt-4o")) == NULL);
	model_prices_destroy(t);
}

static int write_tmp(char *path, size_t cap, const char *text)
{
	FILE *f;
	snprintf(path, cap, "/tmp/tl_test_prices_%d.yaml", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

TEST(test_prices_user_override)
{
	char path[128], err[256];
	struct tl_price_table *t = NULL, *base = builtin();
	const struct tl_price *p;
	static const char user[] =
		"# my prices\n"
		"prices:\n"
		"  - model: gpt-4o-mini\n"
		"    provider: openai\n"
		"    input: 1\n"
		"    output: \"2.5\"\n"
		"  - model: my-model\n"
		"    input: 0.000001\n"
		"    cached_input: ~\n"
		"    output: 0\n"
		"  - {model: \"corp-*\", input: 4, output: 8}\n";
	if (!base || write_tmp(path, sizeof path, user)) {
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(model_prices_load(path, &t, err, sizeof err), 0);
	if (!t) {
		fprintf(stderr, "  %s\n", err);
		model_prices_destroy(base);
		return;
	}
	CHECK_EQ_INT(model_prices_count(t), model_prices_count(base) + 2);
	p = model_prices_find(t, TL_STR_LIT("gpt-4o-mini-2024-07-18"));
	/* the whole row is replaced: no cached price any more */
	CHECK(p && p->input == 1000000 && p->output == 2500000 && p->cached_input == N);
	p = model_prices_find(t, TL_STR_LIT("my-model"));
	CHECK(p && p->input == 1 && p->cached_input == N && p->output == 0 && p->provider[0] == 0);
	p = model_prices_find(t, TL_STR_LIT("corp-llm-7b"));
	CHECK(p && p->input == 4000000);
	/* an empty user file adds nothing */
	write_tmp(path, sizeof path, "");
	model_prices_destroy(t);
	t = NULL;
	CHECK_EQ_INT(model_prices_load(path, &t, err, sizeof err), 0);
	CHECK(t && model_prices_count(t) == model_prices_count(base));
	model_prices_destroy(t);
	model_prices_destroy(base);
	unlink(path);
}

TEST(test_prices_bad_files)
{
	static const struct {
		const char *yaml;
		const char *want[3]; /* substrings of the error */
	} v[] = {
		{"prices:\n  - model: a\n    inptu: 1\n    output: 2\n", {":3:", "'inptu'", "unknown key"}},
		{"prices:\n  - model: a\n    input: -1\n    output: 2\n", {":3:", "'input'", "negative"}},
		{"prices:\n  - model: a\n    input: abc\n    output: 2\n", {":3:", "'input'", "not a plain decimal"}},
		{"prices:\n  - model: a\n    input: 1e-6\n    output: 2\n", {":3:", "'input'", "not a plain decimal"}},
		{"prices:\n  - model: a\n    input: 0.12345678\n    output: 2\n", {":3:", "'input'", "decimal places"}},
		{"prices:\n  - provider: x\n    input: 1\n    output: 2\n", {":2:", "'model'", "missing"}},
		{"prices:\n  - model: a\n    output: 2\n", {":2:", "'input'", "missing"}},
		{"prices:\n  - model: a\n    input: 1\n", {":2:", "'output'", "missing"}},
		{"prices:\n  - {model: a, input: 1, output: 1}\n  - {model: A, input: 2, output: 2}\n", {":3:", "duplicate", "'model'"}},
		{"price:\n  - {model: a, input: 1, output: 1}\n", {":1:", "'price'", "unknown key"}},
		{"prices: 3\n", {":1:", "'prices'", "list"}},
		{"- a\n- b\n", {":1:", "prices", "mapping"}},
		{"prices:\n  - model: [a\n", {":", "YAML error", ""}},
		{"prices:\n  - model: a\n    input: [1]\n    output: 2\n", {":3:", "'input'", "number"}},
	};
	struct tl_price_table *t = builtin();
	char err[256], path[128];
	size_t n0;
	if (!t)
		return;
	n0 = model_prices_count(t);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int rc = model_prices_merge_yaml(t, v[i].yaml, strlen(v[i].yaml), "user.yaml", err, sizeof err);
		int ok = rc == TL_ECONFIG && strncmp(err, "user.yaml:", 10) == 0;
		for (int j = 0; j < 3; j++)
			ok = ok && strstr(err, v[i].want[j]) != NULL;
		if (!ok)
			fprintf(stderr, "  bad file %zu: rc %d err \"%s\"\n", i, rc, err);
		CHECK(ok);
	}
	/* nothing of a rejected file was merged */
	CHECK_EQ_INT(model_prices_count(t), n0);
	CHECK(model_prices_find(t, TL_STR_LIT("a")) == NULL);
	model_prices_destroy(t);

	/* load: the error names the user's file; nothing is returned */
	t = (struct tl_price_table *)&n0;
	if (write_tmp(path, sizeof path, "prices:\n  - {model: x, input: 1, output: -2}\n") == 0) {
		CHECK_EQ_INT(model_prices_load(path, &t, err, sizeof err), TL_ECONFIG);
		CHECK(t == NULL);
		CHECK(strstr(err, path) != NULL && strstr(err, ":2:") && strstr(err, "'output'"));
		unlink(path);
	}
	CHECK_EQ_INT(model_prices_load("/nonexistent/prices.yaml", &t, err, sizeof err), TL_ECONFIG);
	CHECK(t == NULL && strstr(err, "/nonexistent/prices.yaml") != NULL);
}

/* ---- cost arithmetic ---------------------------------------------------------- */

TEST(test_cost_formula)
{
	struct tl_price p = {"x", "", 3000000, 300000, 3750000, 15000000};
	struct tl_genai g;
	memset(&g, 0, sizeof g);
	/* 2600 in (2000 read, 500 write), 300 out at sonnet prices:
	 * 100*3 + 2000*0.3 + 500*3.75 + 300*15 = 7275 USD per 1M = $0.007275 */
	g.input_tokens = 2600, g.cache_read_tokens = 2000, g.cache_write_tokens = 500;
	g.output_tokens = 300, g.reasoning_tokens = N;
	CHECK_EQ_INT(model_cost_nusd(&p, &g), 7275000);
	/* absent cache prices fall back to the input price */
	p.cached_input = N, p.cache_write = N;
	CHECK_EQ_INT(model_cost_nusd(&p, &g), 2600 * 3000 + 300 * 15000);
	/* TL_NONE counts as zero; rounding to the nearest nano-USD:
	 * 1 token at 0.0015 USD/1M = 0.0015 nUSD -> 0; 1 at 0.5/1M = 0.5 -> 1 */
	g.cache_read_tokens = N, g.cache_write_tokens = N, g.output_tokens = N;
	g.input_tokens = 1;
	p.input = 1500;
	CHECK_EQ_INT(model_cost_nusd(&p, &g), 2);
	p.input = 500;
	CHECK_EQ_INT(model_cost_nusd(&p, &g), 1);
	p.input = 499;
	CHECK_EQ_INT(model_cost_nusd(&p, &g), 0);
	/* no input price: unknown; no output price with output tokens: unknown */
	p.input = N;
	CHECK_EQ_INT(model_cost_nusd(&p, &g), N);
	p.input = 1000, p.output = N, g.output_tokens = 5;
	CHECK_EQ_INT(model_cost_nusd(&p, &g), N);
	CHECK_EQ_INT(model_cost_nusd(NULL, &g), N);
	/* huge counts saturate instead of wrapping */
	p.output = 1000000000000ll, g.output_tokens = INT64_MAX;
	CHECK(model_cost_nusd(&p, &g) == INT64_MAX);
}

/* ---- normalisation vectors -------------------------------------------------- */

struct expect {
	const char *op, *provider, *req, *resp;
	int64_t tok[5]; /* input, output, cache read, cache write, reasoning */
	int64_t cost;
	int price_unknown, from_span;
	const char *tool, *call_id, *agent, *agent_id, *conv;
	const char *finish; /* joined with ',' */
	int is_genai;
	uint32_t unknown;
};

struct vec {
	const char *name;
	const char *span_name;
	const char *attrs[20];
	struct expect e;
};

#define TOK(a, b, c, d, e) .tok = {a, b, c, d, e}
#define NOTOK TOK(N, N, N, N, N)

static const struct vec vecs[] = {
	/* current conventions; 800*0.15 + 200*0.075 + 500*0.6 = 435 USD/1M -> $0.000435 */
	{"current", "chat gpt-4o-mini",
	 {"s:gen_ai.operation.name=chat", "s:gen_ai.provider.name=openai", "s:gen_ai.request.model=gpt-4o-mini",
	  "s:gen_ai.response.model=gpt-4o-mini-2024-07-18", "i:gen_ai.usage.input_tokens=1000",
	  "i:gen_ai.usage.output_tokens=500", "i:gen_ai.usage.cache_read.input_tokens=200",
	  "a:gen_ai.response.finish_reasons=stop|length", "s:gen_ai.conversation.id=conv-1",
	  "s:gen_ai.agent.name=planner", "s:gen_ai.agent.id=ag-1", "d:gen_ai.request.temperature=0.2",
	  "s:gen_ai.prompt.0.content=hi", NULL},
	 {.op = "chat", .provider = "openai", .req = "gpt-4o-mini", .resp = "gpt-4o-mini-2024-07-18",
	  TOK(1000, 500, 200, N, N), .cost = 435000, .agent = "planner", .agent_id = "ag-1", .conv = "conv-1",
	  .finish = "stop,length", .is_genai = 1}},
	/* gemini-2.5-pro: 6000*1.25 + 4000*0.125 + 2000*10 = 28000 USD/1M -> $0.028;
	 * reasoning is inside output and is not added again */
	{"gemini reasoning", "generate_content gemini-2.5-pro",
	 {"s:gen_ai.operation.name=generate_content", "s:gen_ai.system=gemini", "s:gen_ai.request.model=gemini-2.5-pro",
	  "i:gen_ai.usage.input_tokens=10000", "i:gen_ai.usage.cache_read.input_tokens=4000",
	  "i:gen_ai.usage.output_tokens=2000", "i:gen_ai.usage.reasoning.output_tokens=1500", NULL},
	 {.op = "generate_content", .provider = "gcp.gemini", .req = "gemini-2.5-pro", TOK(10000, 2000, 4000, N, 1500),
	  .cost = 28000000, .is_genai = 1}},
	/* cache_write under its unreleased name; 300*2.5 + 200*2.5 (no write price) + 0 = $0.00125 */
	{"cache_write name", "chat",
	 {"s:gen_ai.operation.name=chat", "s:gen_ai.request.model=gpt-4o", "i:gen_ai.usage.input_tokens=500",
	  "i:gen_ai.usage.cache_write.input_tokens=200", "i:gen_ai.usage.output_tokens=0", NULL},
	 {.op = "chat", .req = "gpt-4o", TOK(500, 0, N, 200, N), .cost = 1250000, .is_genai = 1}},
	/* old semconv: gen_ai.system old spellings, prompt/completion tokens */
	{"v1.26 names", "chat",
	 {"s:gen_ai.system=vertex_ai", "s:gen_ai.request.model=gemini-2.5-flash", "i:gen_ai.usage.prompt_tokens=100",
	  "i:gen_ai.usage.completion_tokens=10", "s:gen_ai.response.finish_reason=STOP", NULL},
	 {.provider = "gcp.vertex_ai", .req = "gemini-2.5-flash", TOK(100, 10, N, N, N), .cost = 55000,
	  .finish = "STOP", .is_genai = 1}},
	{"system az.ai.openai", "x", {"s:gen_ai.system=az.ai.openai", NULL}, {.provider = "azure.ai.openai", NOTOK, .cost = N}},
	{"system xai", "x", {"s:gen_ai.system=xai", NULL}, {.provider = "x_ai", NOTOK, .cost = N}},
	{"system az.ai.inference", "x", {"s:gen_ai.system=az.ai.inference", NULL}, {.provider = "azure.ai.inference", NOTOK, .cost = N}},
	{"provider wins over system", "x",
	 {"s:gen_ai.system=openai", "s:gen_ai.provider.name=azure.ai.openai", NULL},
	 {.provider = "azure.ai.openai", NOTOK, .cost = N}},
	{"unknown provider kept", "x", {"s:gen_ai.system=acme.llm", NULL}, {.provider = "acme.llm", NOTOK, .cost = N}},
	/* OpenLLMetry Anthropic: input already summed (2600 >= 2000+500), so it is
	 * not added again; same bill as the Claude Code vector below: $0.007275 */
	{"openllmetry anthropic", "anthropic.chat",
	 {"s:gen_ai.system=Anthropic", "s:llm.request.type=completion",
	  "s:gen_ai.request.model=claude-sonnet-4-5-20250929", "i:gen_ai.usage.prompt_tokens=2600",
	  "i:gen_ai.usage.completion_tokens=300", "i:gen_ai.usage.cache_read_input_tokens=2000",
	  "i:gen_ai.usage.cache_creation_input_tokens=500", "i:llm.usage.total_tokens=2900",
	  "s:llm.response.stop_reason=end_turn", "s:gen_ai.prompt.0.role=user", "s:gen_ai.completion.0.content=ok", NULL},
	 {.op = "text_completion", .provider = "anthropic", .req = "claude-sonnet-4-5-20250929",
	  TOK(2600, 300, 2000, 500, N), .cost = 7275000, .finish = "end_turn", .is_genai = 1}},
	/* OpenLLMetry: total and one side known -> the other derived */
	{"openllmetry total", "openai.chat",
	 {"s:llm.request.type=chat", "s:gen_ai.system=OpenAI", "s:gen_ai.response.model=gpt-4.1-nano",
	  "i:gen_ai.usage.prompt_tokens=1000", "i:llm.usage.total_tokens=1500", "i:gen_ai.usage.reasoning_tokens=0", NULL},
	 {.op = "chat", .provider = "openai", .resp = "gpt-4.1-nano", TOK(1000, 500, N, N, 0), .cost = 300000, .is_genai = 1}},
	{"openllmetry embedding", "openai.embeddings",
	 {"s:llm.request.type=embedding", "s:gen_ai.request.model=text-embedding-3-small",
	  "i:gen_ai.usage.prompt_tokens=1000000", NULL},
	 {.op = "embeddings", .req = "text-embedding-3-small", TOK(1000000, N, N, N, N), .cost = 20000000, .is_genai = 1}},
	{"traceloop tool", "search.tool",
	 {"s:traceloop.span.kind=tool", "s:traceloop.entity.name=web_search", NULL},
	 {.op = "execute_tool", .tool = "web_search", NOTOK, .cost = N, .is_genai = 1}},
	{"traceloop agent", "planner.agent",
	 {"s:traceloop.span.kind=agent", "s:traceloop.entity.name=planner", NULL},
	 {.op = "invoke_agent", .agent = "planner", NOTOK, .cost = N, .is_genai = 1}},
	{"traceloop workflow", "wf",
	 {"s:traceloop.span.kind=workflow", "s:traceloop.entity.name=pipeline", NULL},
	 {.op = "invoke_workflow", NOTOK, .cost = N, .is_genai = 1}},
	/* OpenInference: 1000*2.5 + 100*10 = $0.0035 */
	{"openinference", "ChatCompletion",
	 {"s:openinference.span.kind=LLM", "s:llm.model_name=gpt-4o", "s:llm.provider=openai",
	  "i:llm.token_count.prompt=1000", "i:llm.token_count.completion=100", "i:llm.token_count.total=1100",
	  "i:llm.token_count.prompt_details.cache_read=0", "i:llm.token_count.completion_details.reasoning=20",
	  "s:session.id=sess-9", "s:llm.input_messages.0.message.role=user", "s:llm.invocation_parameters={}", NULL},
	 {.op = "chat", .provider = "openai", .req = "gpt-4o", TOK(1000, 100, 0, N, 20), .cost = 3500000,
	  .conv = "sess-9", .is_genai = 1}},
	{"openinference cache_input and write", "llm",
	 {"s:openinference.span.kind=llm", "s:llm.system=mistralai", "s:llm.model_name=mistral-small-latest",
	  "i:llm.token_count.prompt=1000", "i:llm.token_count.prompt_details.cache_input=100",
	  "i:llm.token_count.prompt_details.cache_write=50", "i:llm.token_count.completion=10", NULL},
	 {.op = "chat", .provider = "mistral_ai", .req = "mistral-small-latest", TOK(1000, 10, 100, 50, N),
	  .cost = 61800, .is_genai = 1}},
	{"openinference tool", "get_weather",
	 {"s:openinference.span.kind=TOOL", "s:tool.name=get_weather", "s:tool_call.id=call_9", NULL},
	 {.op = "execute_tool", .tool = "get_weather", .call_id = "call_9", NOTOK, .cost = N, .is_genai = 1}},
	{"openinference agent", "agent",
	 {"s:openinference.span.kind=AGENT", "s:agent.name=router", NULL},
	 {.op = "invoke_agent", .agent = "router", NOTOK, .cost = N, .is_genai = 1}},
	{"openinference retriever", "retrieve", {"s:openinference.span.kind=RETRIEVER", NULL},
	 {.op = "retrieval", NOTOK, .cost = N, .is_genai = 1}},
	{"openinference chain", "chain", {"s:openinference.span.kind=CHAIN", NULL}, {NOTOK, .cost = N}},
	/* OpenInference cost in USD on the span wins */
	{"openinference cost", "llm",
	 {"s:openinference.span.kind=LLM", "s:llm.model_name=gpt-4o", "i:llm.token_count.prompt=1000",
	  "s:llm.cost.total=0.5", "d:llm.cost.prompt=0.4", NULL},
	 {.op = "chat", .req = "gpt-4o", TOK(1000, N, N, N, N), .cost = 500000000, .from_span = 1, .is_genai = 1}},
	/* Vercel AI SDK inner call, numbers as strings; same bill as "current" */
	{"vercel doGenerate", "ai.generateText.doGenerate",
	 {"s:ai.model.id=gpt-4o-mini", "s:ai.model.provider=openai.chat", "s:ai.usage.inputTokens=1000",
	  "s:ai.usage.outputTokens= 500 ", "s:ai.usage.cachedInputTokens=200", "s:ai.response.finishReason=stop",
	  "s:ai.telemetry.metadata.sessionId=s-1", "s:ai.operationId=ai.generateText.doGenerate", NULL},
	 {.op = "chat", .provider = "openai", .req = "gpt-4o-mini", TOK(1000, 500, 200, N, N), .cost = 435000,
	  .conv = "s-1", .finish = "stop", .is_genai = 1}},
	/* AI SDK 4 names: promptTokens / completionTokens */
	{"vercel v4 stream", "ai.streamText.doStream",
	 {"s:ai.model.id=claude-3-5-haiku-20241022", "s:ai.model.provider=anthropic.messages",
	  "i:ai.usage.promptTokens=1000", "i:ai.usage.completionTokens=1000", NULL},
	 {.op = "chat", .provider = "anthropic", .req = "claude-3-5-haiku-20241022", TOK(1000, 1000, N, N, N),
	  .cost = 4800000, .is_genai = 1}},
	/* the outer span repeats its calls' usage: ignored so nothing counts twice */
	{"vercel outer", "ai.generateText",
	 {"s:ai.model.id=gpt-4o-mini", "s:ai.model.provider=google.vertex.chat", "i:ai.usage.promptTokens=1000",
	  "i:ai.usage.completionTokens=10", "s:ai.operationId=ai.generateText", NULL},
	 {.op = "invoke_agent", .provider = "gcp.vertex_ai", .req = "gpt-4o-mini", NOTOK, .cost = N, .is_genai = 1}},
	{"vercel embed", "ai.embed.doEmbed",
	 {"s:ai.model.id=text-embedding-3-large", "s:ai.model.provider=openai.embedding", "i:ai.usage.tokens=1000", NULL},
	 {.op = "embeddings", .provider = "openai", .req = "text-embedding-3-large", NOTOK, .cost = N, .is_genai = 1}},
	{"vercel tool", "ai.toolCall",
	 {"s:ai.toolCall.name=weather", "s:ai.toolCall.id=call_1", "s:ai.toolCall.args={}", NULL},
	 {.op = "execute_tool", .tool = "weather", .call_id = "call_1", NOTOK, .cost = N, .is_genai = 1}},
	{"vercel google", "ai.generateText.doGenerate",
	 {"s:ai.model.provider=google.generative-ai", NULL}, {.op = "chat", .provider = "gcp.gemini", NOTOK, .cost = N, .is_genai = 1}},
	/* Claude Code: raw Anthropic counts, input excludes cache -> 100+2000+500;
	 * 100*3 + 2000*0.3 + 500*3.75 + 300*15 = 7275 USD/1M -> $0.007275 */
	{"claude code llm_request", "claude_code.llm_request",
	 {"s:gen_ai.system=anthropic", "s:model=claude-sonnet-4-5-20250929", "s:input_tokens=100",
	  "d:output_tokens=300", "i:cache_read_tokens=2000", "s:cache_creation_tokens=500",
	  "s:gen_ai.response.finish_reasons=[\"end_turn\", \"tool_use\"]", "s:session.id=cc-sess",
	  "s:agent_id=sub-1", "s:span.type=llm_request", "rs:service.name=claude-code", NULL},
	 {.op = "chat", .provider = "anthropic", .req = "claude-sonnet-4-5-20250929", TOK(2600, 300, 2000, 500, N),
	  .cost = 7275000, .agent_id = "sub-1", .conv = "cc-sess", .finish = "end_turn,tool_use", .is_genai = 1}},
	{"claude code cost_usd", "claude_code.llm_request",
	 {"s:model=claude-haiku-4-5", "i:input_tokens=10", "i:output_tokens=5", "d:cost_usd=0.01", NULL},
	 {.op = "chat", .req = "claude-haiku-4-5", TOK(10, 5, N, N, N), .cost = 10000000, .from_span = 1, .is_genai = 1}},
	{"claude code micros", "claude_code.llm_request",
	 {"s:model=claude-haiku-4-5", "i:input_tokens=10", "d:cost_usd=0.001", "i:cost_usd_micros=1234", NULL},
	 {.op = "chat", .req = "claude-haiku-4-5", TOK(10, N, N, N, N), .cost = 1234000, .from_span = 1, .is_genai = 1}},
	{"claude code tool", "claude_code.tool",
	 {"s:tool_name=Bash", "s:tool_use_id=toolu_01", "s:gen_ai.tool.call.id=toolu_01", "i:duration_ms=12", NULL},
	 {.op = "execute_tool", .tool = "Bash", .call_id = "toolu_01", NOTOK, .cost = N, .is_genai = 1}},
	{"claude code interaction", "claude_code.interaction",
	 {"s:user_prompt=<REDACTED>", "s:session.id=cc-2", NULL},
	 {.op = "invoke_agent", .conv = "cc-2", NOTOK, .cost = N, .is_genai = 1}},
	/* plain keys outside Claude Code / Anthropic context mean nothing */
	{"plain keys elsewhere", "db.query",
	 {"s:model=resnet", "i:input_tokens=5", "s:tool_name=x", "d:cost_usd=1", NULL}, {NOTOK, .cost = N}},
	/* a source whose cache exceeds its input used Anthropic accounting */
	{"cache exceeds input", "chat",
	 {"s:gen_ai.operation.name=chat", "s:gen_ai.request.model=claude-haiku-4-5", "i:gen_ai.usage.input_tokens=100",
	  "i:gen_ai.usage.cache_read.input_tokens=2000", "i:gen_ai.usage.output_tokens=10", NULL},
	 /* 100*1 + 2000*0.1 + 10*5 = 350 USD/1M */
	 {.op = "chat", .req = "claude-haiku-4-5", TOK(2100, 10, 2000, N, N), .cost = 350000, .is_genai = 1}},
	/* reasoning larger than output cannot be inside it */
	{"reasoning outside output", "chat",
	 {"s:gen_ai.request.model=o4-mini", "i:gen_ai.usage.output_tokens=100",
	  "i:gen_ai.usage.reasoning.output_tokens=500", NULL},
	 /* 600*4.4 = 2640 USD/1M */
	 {.req = "o4-mini", TOK(N, 600, N, N, 500), .cost = 2640000, .is_genai = 1}},
	/* response model is priced before request model */
	{"response model first", "chat",
	 {"s:gen_ai.request.model=gpt-4o", "s:gen_ai.response.model=gpt-4o-mini", "i:gen_ai.usage.input_tokens=1000000", NULL},
	 {.req = "gpt-4o", .resp = "gpt-4o-mini", TOK(1000000, N, N, N, N), .cost = 150000000, .is_genai = 1}},
	{"unknown response model falls back", "chat",
	 {"s:gen_ai.request.model=gpt-4o", "s:gen_ai.response.model=gpt-4o-custom-ft", "i:gen_ai.usage.input_tokens=1000000", NULL},
	 {.req = "gpt-4o", .resp = "gpt-4o-custom-ft", TOK(1000000, N, N, N, N), .cost = 2500000000ll, .is_genai = 1}},
	{"provider prefix", "chat",
	 {"s:gen_ai.request.model=openai/gpt-4o", "i:gen_ai.usage.input_tokens=1000", "i:gen_ai.usage.output_tokens=100", NULL},
	 {.req = "openai/gpt-4o", TOK(1000, 100, N, N, N), .cost = 3500000, .is_genai = 1}},
	{"dated gpt-4o", "chat",
	 {"s:gen_ai.response.model=gpt-4o-2024-08-06", "i:gen_ai.usage.input_tokens=1000", "i:gen_ai.usage.output_tokens=100", NULL},
	 {.resp = "gpt-4o-2024-08-06", TOK(1000, 100, N, N, N), .cost = 3500000, .is_genai = 1}},
	/* unknown model with usage: cost null and flagged, never 0 */
	{"unknown model", "chat",
	 {"s:gen_ai.operation.name=chat", "s:gen_ai.request.model=my-local-llm", "i:gen_ai.usage.input_tokens=10",
	  "i:gen_ai.usage.output_tokens=10", NULL},
	 {.op = "chat", .req = "my-local-llm", TOK(10, 10, N, N, N), .cost = N, .price_unknown = 1, .is_genai = 1}},
	{"tokens without model", "chat",
	 {"i:gen_ai.usage.input_tokens=10", NULL},
	 {TOK(10, N, N, N, N), .cost = N, .price_unknown = 1, .is_genai = 1}},
	{"no tokens", "chat", {"s:gen_ai.operation.name=chat", "s:gen_ai.request.model=gpt-4o", NULL},
	 {.op = "chat", .req = "gpt-4o", NOTOK, .cost = N, .is_genai = 1}},
	/* span cost wins over the table */
	{"span cost wins", "chat",
	 {"s:gen_ai.request.model=gpt-4o", "i:gen_ai.usage.input_tokens=1000", "d:gen_ai.usage.cost=0.0123", NULL},
	 {.req = "gpt-4o", TOK(1000, N, N, N, N), .cost = 12300000, .from_span = 1, .is_genai = 1}},
	{"span cost as string", "chat", {"s:gen_ai.usage.cost=0.000000001", NULL},
	 {NOTOK, .cost = 1, .from_span = 1, .is_genai = 1}},
	/* junk never fails: wrong types are ignored, numeric strings coerced */
	{"junk values", "chat",
	 {"s:gen_ai.usage.input_tokens=abc", "i:gen_ai.usage.output_tokens=-5", "b:gen_ai.usage.cache_read.input_tokens=1",
	  "e:gen_ai.request.model", "s:gen_ai.usage.reasoning.output_tokens=1e3", "s:gen_ai.usage.cost=free",
	  "i:gen_ai.operation.name=3", "a:gen_ai.response.finish_reasons=", NULL},
	 {TOK(N, N, N, N, 1000), .cost = N, .price_unknown = 1, .is_genai = 1}},
	{"fallback past junk", "chat",
	 {"s:gen_ai.usage.input_tokens=n/a", "i:gen_ai.usage.prompt_tokens=7", NULL},
	 {TOK(7, N, N, N, N), .cost = N, .price_unknown = 1, .is_genai = 1}},
	{"not genai", "GET /", {"s:http.request.method=GET", "i:http.response.status_code=200", NULL},
	 {NOTOK, .cost = N}},
	/* unknown gen_ai.* / llm.* attributes are counted */
	{"unknown attrs", "chat",
	 {"s:gen_ai.operation.name=chat", "s:gen_ai.foo=1", "s:gen_ai.usage.bogus_tokens=1", "s:llm.weird=1",
	  "s:gen_ai.prompt.3.content=x", "s:llm.output_messages.0.message.content=y", "s:gen_ai.request.top_k=1",
	  "s:llm.tools.0.tool.json_schema={}", "s:gen_ai.usage.audio.input_tokens=3", "s:other.key=1",
	  "rs:gen_ai.resource_thing=1", NULL},
	 {.op = "chat", NOTOK, .cost = N, .is_genai = 1, .unknown = 3}},
	/* conversation id spellings */
	{"langfuse session", "x", {"s:langfuse.session.id=lf-1", NULL}, {NOTOK, .cost = N, .conv = "lf-1"}},
	{"conversation from resource", "x", {"rs:session.id=res-sess", NULL}, {NOTOK, .cost = N, .conv = "res-sess"}},
	{"span conversation wins", "x", {"s:gen_ai.conversation.id=span-c", "rs:gen_ai.conversation.id=res-c", NULL},
	 {NOTOK, .cost = N, .conv = "span-c"}},
};

static void join_finish(const struct tl_genai *g, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	for (uint32_t i = 0; i < g->n_finish_reasons && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%.*s", i ? "," : "", (int)g->finish_reasons[i].n,
				      g->finish_reasons[i].p);
}

#define CHECK_OPT_STR(s, c) CHECK_STR(s, (c) ? (c) : "")

TEST(test_normalise_vectors)
{
	struct tl_price_table *t = builtin();
	if (!t)
		return;
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct vec *v = &vecs[i];
		const struct expect *e = &v->e;
		struct built b;
		struct tl_span *s = build(&b, v->span_name, v->attrs);
		const struct tl_genai *g = &s->genai;
		char fin[128];
		int before = tl_test_failed_now;
		tl_test_failed_now = 0;
		model_normalise_span(s, t);
		CHECK_OPT_STR(g->operation, e->op);
		CHECK_OPT_STR(g->provider, e->provider);
		CHECK_OPT_STR(g->request_model, e->req);
		CHECK_OPT_STR(g->response_model, e->resp);
		CHECK_EQ_INT(g->input_tokens, e->tok[0]);
		CHECK_EQ_INT(g->output_tokens, e->tok[1]);
		CHECK_EQ_INT(g->cache_read_tokens, e->tok[2]);
		CHECK_EQ_INT(g->cache_write_tokens, e->tok[3]);
		CHECK_EQ_INT(g->reasoning_tokens, e->tok[4]);
		CHECK_EQ_INT(g->cost_nusd, e->cost);
		CHECK_EQ_INT(g->price_unknown, e->price_unknown);
		CHECK_EQ_INT(g->cost_from_span, e->from_span);
		CHECK_OPT_STR(g->tool_name, e->tool);
		CHECK_OPT_STR(g->tool_call_id, e->call_id);
		CHECK_OPT_STR(g->agent_name, e->agent);
		CHECK_OPT_STR(g->agent_id, e->agent_id);
		CHECK_OPT_STR(g->conversation_id, e->conv);
		join_finish(g, fin, sizeof fin);
		CHECK_EQ_STR(fin, e->finish ? e->finish : "");
		CHECK_EQ_INT(g->is_genai, e->is_genai);
		CHECK_EQ_INT(g->unknown_genai_attrs, e->unknown);
		if (tl_test_failed_now)
			fprintf(stderr, "  ^ vector \"%s\"\n", v->name);
		tl_test_failed_now |= before;
	}
	model_prices_destroy(t);
}

TEST(test_normalise_no_prices)
{
	static const char *const specs[] = {"s:gen_ai.request.model=gpt-4o", "i:gen_ai.usage.input_tokens=5", NULL};
	struct built b;
	struct tl_span *s = build(&b, "chat", specs);
	model_normalise_span(s, NULL);
	CHECK_EQ_INT(s->genai.cost_nusd, N);
	CHECK_EQ_INT(s->genai.price_unknown, 1);
	CHECK_EQ_INT(s->genai.input_tokens, 5);
}

TEST(test_run_identity)
{
	static const char *const both[] = {
		"s:tracelamp.run.id=run-span", "rs:tracelamp.run.id=run-res", "rs:tracelamp.tenant=team-a",
		"rs:tracelamp.run.step=7", "s:tracelamp.agent.instance=worker-3", "rs:tracelamp.agent.instance=worker-0", NULL};
	static const char *const span_step[] = {"i:tracelamp.run.step=12", "rs:tracelamp.run.step=7", NULL};
	static const char *const bad_step[] = {"s:tracelamp.run.step=seven", "i:tracelamp.tenant=5", NULL};
	static const char *const dbl_step[] = {"d:tracelamp.run.step=3.0", NULL};
	struct built b;
	struct tl_span *s = build(&b, "x", both);
	model_normalise_span(s, NULL);
	CHECK_STR(s->run.run_id, "run-span");
	CHECK_STR(s->run.tenant, "team-a");
	CHECK_EQ_INT(s->run.step, 7);
	CHECK_STR(s->run.agent_instance, "worker-3");
	CHECK_EQ_INT(s->genai.is_genai, 0);
	s = build(&b, "x", span_step);
	model_normalise_span(s, NULL);
	CHECK_EQ_INT(s->run.step, 12);
	CHECK_EQ_INT(s->run.run_id.n, 0);
	s = build(&b, "x", bad_step);
	model_normalise_span(s, NULL);
	CHECK_EQ_INT(s->run.step, N);
	CHECK_EQ_INT(s->run.tenant.n, 0);
	s = build(&b, "x", dbl_step);
	model_normalise_span(s, NULL);
	CHECK_EQ_INT(s->run.step, 3);
}

TEST(test_normalise_batch_and_service)
{
	static const char *const a[] = {"s:gen_ai.request.model=gpt-4o", "i:gen_ai.usage.input_tokens=1000",
					"rs:service.name=agent-svc", NULL};
	static const char *const none[] = {NULL};
	struct built b1, b2;
	struct tl_span spans[2];
	struct tl_batch batch;
	struct tl_price_table *t = builtin();
	if (!t)
		return;
	build(&b1, "chat", a);
	build(&b2, "other", none);
	spans[0] = b1.span;
	spans[1] = b2.span;
	spans[1].resource = NULL;
	memset(&batch, 0, sizeof batch);
	batch.spans = spans;
	batch.n_spans = 2;
	/* stale values must be overwritten */
	spans[1].genai.cost_nusd = 99;
	spans[1].genai.is_genai = 1;
	model_normalise_batch(&batch, t);
	CHECK_EQ_INT(spans[0].genai.cost_nusd, 2500000);
	CHECK_EQ_INT(spans[1].genai.cost_nusd, N);
	CHECK_EQ_INT(spans[1].genai.is_genai, 0);
	CHECK_STR(model_span_service(&spans[0]), "agent-svc");
	CHECK_STR(model_span_service(&spans[1]), "unknown_service");
	model_normalise_batch(NULL, t);
	model_prices_destroy(t);
}

TEST(test_key_table_current)
{
	/* TL_PRINT_KEY_SLOTS=1 prints the regenerated key_slots table */
	CHECK_EQ_INT(model__check_keys(getenv("TL_PRINT_KEY_SLOTS") ? stdout : NULL), -1);
}

static const struct tl_test_case tests[] = {
	T(test_attrs_get),
	T(test_parse_decimal),
	T(test_prices_builtin),
	T(test_prices_lookup_rules),
	T(test_prices_user_override),
	T(test_prices_bad_files),
	T(test_cost_formula),
	T(test_normalise_vectors),
	T(test_normalise_no_prices),
	T(test_run_identity),
	T(test_normalise_batch_and_service),
	T(test_key_table_current),
};

TEST_MAIN("model", tests)
