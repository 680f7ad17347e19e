/*
 * agents.c - coding-agent telemetry as traces (model.h
 * model_agent_spans_from_logs). Claude Code, Gemini CLI and Codex CLI report
 * each model request, tool call and user prompt as an OTLP log event, not as a
 * span (llm-apis.md 5.5 and 6). This file turns the events it recognises into
 * already-shaped synthetic spans: one trace per user prompt, the prompt as its
 * `invoke_agent` root, model requests as `chat` spans with gen_ai.* usage and
 * the tool's own cost, tool results and decisions as `execute_tool` spans. The
 * pipeline then normalises, prices and stores them like any other span.
 *
 * Events of one prompt stream in over many export batches, so nothing here
 * keeps state: every id is a hash of what the event itself says (tool,
 * session, prompt, event sequence), and the root's id is known to every child
 * before the root arrives. The mapping is documented in docs/integrations/.
 */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- SHA-256 (FIPS 180-4) -------------------------------------------------- */

/* A small SHA-256 so the ids are a documented function anyone can recompute;
 * not used for security. */
struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len;
	size_t n;
};

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, r) (((x) >> (r)) | ((x) << (32 - (r))))

static void sha_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k;
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void sha_init(struct sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, iv, sizeof iv);
	s->len = 0;
	s->n = 0;
}

static void sha_update(struct sha256 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	s->len += n;
	while (n) {
		size_t take = 64 - s->n < n ? 64 - s->n : n;
		memcpy(s->buf + s->n, p, take);
		s->n += take, p += take, n -= take;
		if (s->n == 64) {
			sha_block(s->h, s->buf);
			s->n = 0;
		}
	}
}

static void sha_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, zero = 0, len[8];
	sha_update(s, &pad, 1);
	while (s->n != 56)
		sha_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha_update(s, len, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/* Hashes the pieces, each followed by a NUL byte (so "a","bc" != "ab","c"),
 * and keeps the first n bytes; an all-zero id (invalid in OTLP) gets its last
 * bit set. */
static void hash_id(uint8_t *id, size_t n, const struct tl_str *parts, size_t nparts)
{
	struct sha256 s;
	uint8_t d[32], nul = 0;
	sha_init(&s);
	for (size_t i = 0; i < nparts; i++) {
		sha_update(&s, parts[i].p ? parts[i].p : "", parts[i].n);
		sha_update(&s, &nul, 1);
	}
	sha_final(&s, d);
	memcpy(id, d, n);
	if (tl_is_zero(id, n))
		id[n - 1] = 1;
}

/* ---- the tools ------------------------------------------------------------- */

enum tool { T_NONE, T_CLAUDE, T_GEMINI, T_CODEX };

struct tooldef {
	const char *prefix;   /* event name prefix */
	const char *agent;    /* gen_ai.agent.name and the root span's name */
	const char *provider; /* gen_ai.provider.name of its model requests */
};

static const struct tooldef tools[] = {
	[T_NONE] = {"", "", ""},
	[T_CLAUDE] = {"claude_code.", "claude-code", "anthropic"},
	[T_GEMINI] = {"gemini_cli.", "gemini-cli", "gcp.gemini"},
	[T_CODEX] = {"codex.", "codex", "openai"},
};

/* What a recognised event becomes. */
enum ev { E_NONE, E_PROMPT, E_LLM, E_LLM_ERROR, E_TOOL, E_DECISION };

static const struct tl_value *get(const struct tl_attrs *a, const char *key)
{
	const struct tl_value *v = tl_attrs_get(a, key);
	return v && v->kind != TL_V_EMPTY ? v : NULL; /* Gemini sends empty AnyValues */
}

static struct tl_str get_str(const struct tl_attrs *a, const char *k1, const char *k2)
{
	const struct tl_value *v = get(a, k1);
	if ((!v || v->kind != TL_V_STR || !v->u.s.n) && k2)
		v = get(a, k2);
	return v && v->kind == TL_V_STR ? v->u.s : TL_STR_NULL;
}

/* A number from an int, a double or a numeric string (clients send all three). */
static int num_of(const struct tl_value *v, double *out)
{
	if (!v)
		return 0;
	switch (v->kind) {
	case TL_V_INT:
		*out = (double)v->u.i;
		return 1;
	case TL_V_DOUBLE:
		*out = v->u.d;
		return isfinite(v->u.d);
	case TL_V_STR: {
		int64_t i;
		if (tl_parse_i64(v->u.s.p, v->u.s.n, &i) == 0) {
			*out = (double)i;
			return 1;
		}
		return tl_parse_double(v->u.s.p, v->u.s.n, out) == 0 && isfinite(*out);
	}
	default:
		return 0;
	}
}

static int get_num(const struct tl_attrs *a, const char *k1, const char *k2, double *out)
{
	return num_of(get(a, k1), out) || (k2 && num_of(get(a, k2), out));
}

/* A token count: TL_NONE when absent or not a sane non-negative number. */
static int64_t get_tok(const struct tl_attrs *a, const char *key)
{
	double d;
	if (!get_num(a, key, NULL, &d) || d < 0 || d > 9e15)
		return TL_NONE;
	return llround(d);
}

static int64_t add_tok(int64_t a, int64_t b)
{
	if (a == TL_NONE)
		return b;
	return b == TL_NONE ? a : a + b;
}

static int is_true(const struct tl_value *v)
{
	if (!v)
		return -1;
	if (v->kind == TL_V_BOOL)
		return v->u.b != 0;
	if (v->kind == TL_V_STR)
		return tl_str_eq_c(v->u.s, "true") ? 1 : tl_str_eq_c(v->u.s, "false") ? 0 : -1;
	if (v->kind == TL_V_INT)
		return v->u.i != 0;
	return -1;
}

/* Which tool an event name belongs to; *rest is the name after the prefix. */
static int tool_of_name(struct tl_str name, struct tl_str *rest)
{
	for (int t = T_CLAUDE; t <= T_CODEX; t++) {
		size_t n = strlen(tools[t].prefix);
		if (name.n > n && tl_str_has_prefix(name, tools[t].prefix)) {
			rest->p = name.p + n;
			rest->n = name.n - n;
			return t;
		}
	}
	return T_NONE;
}

/*
 * The tool and the short event name ("api_request"). Claude Code puts the short
 * name in the event.name attribute and the prefixed one in the body; other
 * clients put the prefixed name in event.name or the event_name field. A short
 * event.name alone counts for Claude Code when the service says so.
 */
static int classify(const struct tl_log_record *r, struct tl_str *name)
{
	struct tl_str cand[3] = {get_str(&r->attrs, "event.name", NULL), TL_STR_NULL, r->event_name};
	int t;
	if (r->body.kind == TL_V_STR)
		cand[1] = r->body.u.s;
	for (int i = 0; i < 3; i++)
		if ((t = tool_of_name(cand[i], name)) != T_NONE)
			return t;
	if (cand[0].n && tl_str_has_prefix(r->resource->service, "claude-code")) {
		*name = cand[0];
		return T_CLAUDE;
	}
	return T_NONE;
}

static int kind_of(int tool, struct tl_str name, const struct tl_attrs *a)
{
	if (tl_str_eq_c(name, "user_prompt"))
		return E_PROMPT;
	if (tool == T_CLAUDE) {
		if (tl_str_eq_c(name, "api_request"))
			return E_LLM;
		if (tl_str_eq_c(name, "api_error"))
			return E_LLM_ERROR;
		if (tl_str_eq_c(name, "tool_result"))
			return E_TOOL;
		if (tl_str_eq_c(name, "tool_decision"))
			return E_DECISION;
	} else if (tool == T_GEMINI) {
		if (tl_str_eq_c(name, "api_response"))
			return E_LLM;
		if (tl_str_eq_c(name, "api_error"))
			return E_LLM_ERROR;
		if (tl_str_eq_c(name, "tool_call"))
			return E_TOOL;
	} else if (tool == T_CODEX) {
		double status = 0;
		struct tl_str kind = get_str(a, "event.kind", NULL);
		/* A completed response carries the usage; a failed one or a failed
		 * HTTP request is an errored call. A successful codex.api_request is
		 * the same call as its response.completed and is not repeated. */
		if (tl_str_eq_c(name, "sse_event") && tl_str_eq_c(kind, "response.completed"))
			return E_LLM;
		if (tl_str_eq_c(name, "sse_event") && tl_str_eq_c(kind, "response.failed"))
			return E_LLM_ERROR;
		if (tl_str_eq_c(name, "api_request") &&
		    ((get_num(a, "http.response.status_code", "status_code", &status) && status >= 400) ||
		     get_str(a, "error.message", NULL).n))
			return E_LLM_ERROR;
		if (tl_str_eq_c(name, "tool_result"))
			return E_TOOL;
		if (tl_str_eq_c(name, "tool_decision"))
			return E_DECISION;
	}
	return E_NONE;
}

/* "2026-11-21T13:55:18.169Z" (UTC, optional fraction) to Unix nanoseconds; 0
 * when it does not parse. For records that carry neither time field. */
static uint64_t parse_iso_time(struct tl_str s)
{
	int64_t f[6];
	static const size_t at[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
	uint64_t frac = 0, scale = 1000000000ull;
	int64_t y, m, days;
	size_t i;
	if (s.n < 20 || s.p[4] != '-' || s.p[7] != '-' || (s.p[10] != 'T' && s.p[10] != ' ') || s.p[13] != ':' ||
	    s.p[16] != ':')
		return 0;
	for (int k = 0; k < 6; k++)
		if (tl_parse_i64(s.p + at[k], len[k], &f[k]) != 0 || f[k] < 0)
			return 0;
	i = 19;
	if (i < s.n && s.p[i] == '.')
		for (i++; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++)
			if (scale > 1)
				scale /= 10, frac += (uint64_t)(s.p[i] - '0') * scale;
	if (i + 1 != s.n || s.p[i] != 'Z' || f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31)
		return 0;
	/* days from civil (proleptic Gregorian) */
	y = f[0] - (f[1] <= 2), m = f[1];
	days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + f[2] - 1 - 719468;
	return ((uint64_t)days * 86400 + (uint64_t)(f[3] * 3600 + f[4] * 60 + f[5])) * 1000000000ull + frac;
}

/* ---- building spans ---------------------------------------------------------- */

struct sb {
	struct tl_kv *items;
	uint32_t n, cap;
	uint32_t mine; /* items set by this file; originals follow */
};

static void put(struct sb *b, const char *key, struct tl_value v)
{
	if (b->n < b->cap) {
		b->items[b->n].key = tl_str_c(key);
		b->items[b->n].v = v;
		b->n++;
	}
}

static void put_str(struct sb *b, const char *key, struct tl_str s)
{
	struct tl_value v;
	if (!s.n)
		return;
	memset(&v, 0, sizeof v);
	v.kind = TL_V_STR;
	v.u.s = s;
	put(b, key, v);
}

static void put_int(struct sb *b, const char *key, int64_t i)
{
	struct tl_value v;
	if (i == TL_NONE)
		return;
	memset(&v, 0, sizeof v);
	v.kind = TL_V_INT;
	v.u.i = i;
	put(b, key, v);
}

static void put_double(struct sb *b, const char *key, double d)
{
	struct tl_value v;
	memset(&v, 0, sizeof v);
	v.kind = TL_V_DOUBLE;
	v.u.d = d;
	put(b, key, v);
}

/* The event's own attributes follow, as sent, except keys this file set. */
static void put_originals(struct sb *b, const struct tl_attrs *a)
{
	b->mine = b->n;
	for (uint32_t i = 0; i < a->n; i++) {
		int dup = 0;
		for (uint32_t k = 0; k < b->mine && !dup; k++)
			dup = tl_str_eq(b->items[k].key, a->items[i].key);
		if (!dup && b->n < b->cap)
			b->items[b->n++] = a->items[i];
	}
}

/* "<a> <b>" in the arena, or a alone when b is empty. */
static struct tl_str join(struct tl_arena *arena, const char *a, struct tl_str b)
{
	size_t na = strlen(a);
	char *p;
	if (!b.n)
		return tl_str_c(a);
	if (!(p = tl_arena_alloc(arena, na + 1 + b.n + 1)))
		return TL_STR_NULL;
	memcpy(p, a, na);
	p[na] = ' ';
	memcpy(p + na + 1, b.p, b.n);
	p[na + 1 + b.n] = 0;
	return (struct tl_str){p, na + 1 + b.n};
}

/* "<prefix><name>" in the arena: the event's full name however it was sent. */
static struct tl_str join_name(struct tl_arena *arena, const char *prefix, struct tl_str name)
{
	size_t np = strlen(prefix);
	char *p = tl_arena_alloc(arena, np + name.n + 1);
	if (!p)
		return TL_STR_NULL;
	memcpy(p, prefix, np);
	memcpy(p + np, name.p, name.n);
	p[np + name.n] = 0;
	return (struct tl_str){p, np + name.n};
}

static struct tl_str dup_c(struct tl_arena *arena, const char *s)
{
	size_t n = strlen(s);
	char *p = tl_arena_strndup(arena, s, n);
	return p ? (struct tl_str){p, n} : TL_STR_NULL;
}

/* Everything one record needs while its span is built. */
struct rec {
	const struct tl_log_record *r;
	const struct tl_attrs *a;
	int tool, kind;
	struct tl_str name; /* short event name */
	struct tl_str session;
	uint64_t t;         /* event time, ns */
};

/* Grouping: one trace per (tool, session, prompt), or per (tool, session,
 * minute) for events without a prompt id (Codex). */
static void trace_id_of(const struct rec *e, uint8_t id[16])
{
	char minute[32];
	struct tl_str prompt = get_str(e->a, "prompt.id", "prompt_id");
	struct tl_str parts[4] = {TL_STR_LIT("tracelamp.agent.trace"), tl_str_c(tools[e->tool].agent), e->session,
				  prompt};
	if (!prompt.n) {
		snprintf(minute, sizeof minute, "minute:%llu", (unsigned long long)(e->t / 60000000000ull));
		parts[3] = tl_str_c(minute);
	}
	hash_id(id, 16, parts, 4);
}

static void root_id_of(const uint8_t trace[16], uint8_t id[8])
{
	struct tl_str parts[2] = {TL_STR_LIT("tracelamp.agent.root"), {(const char *)trace, 16}};
	hash_id(id, 8, parts, 2);
}

/* A child's id: the event's sequence number in its session when it has one
 * (Claude Code), else its time and call id. */
static void span_id_of(const struct rec *e, const uint8_t trace[16], uint8_t id[8])
{
	char disc[96];
	const struct tl_value *seq = get(e->a, "event.sequence");
	double d;
	if (seq && num_of(seq, &d) && d >= 0) {
		snprintf(disc, sizeof disc, "seq:%.0f", d);
	} else {
		struct tl_str call = get_str(e->a, "tool_use_id", "call_id");
		snprintf(disc, sizeof disc, "t:%llu:%.*s", (unsigned long long)e->t, (int)(call.n > 64 ? 64 : call.n),
			 call.p ? call.p : "");
	}
	struct tl_str parts[4] = {TL_STR_LIT("tracelamp.agent.span"), {(const char *)trace, 16}, e->name, tl_str_c(disc)};
	hash_id(id, 8, parts, 4);
}

/* Start = event time - duration (the events are logged when the work ends). */
static void set_times(struct tl_span *s, const struct rec *e, const char *k1, const char *k2)
{
	double ms;
	uint64_t dur = 0;
	if (k1 && get_num(e->a, k1, k2, &ms) && ms > 0 && ms < 1e12)
		dur = (uint64_t)llround(ms * 1e6);
	s->end_unix_nano = e->t;
	s->start_unix_nano = dur < e->t ? e->t - dur : e->t;
}

static void set_error(struct tl_span *s, struct sb *b, struct tl_str type, struct tl_str msg)
{
	s->status_code = TL_STATUS_ERROR;
	s->status_message = msg;
	put_str(b, "error.type", type.n ? type : TL_STR_LIT("_OTHER"));
}

static int is_rejection(struct tl_str d)
{
	return tl_str_eq_c(d, "reject") || tl_str_eq_c(d, "denied") || tl_str_eq_c(d, "abort");
}

/* A model request: usage in the OTel convention (input includes cache reads
 * and writes; output includes reasoning) and the tool's own cost. */
static void llm_attrs(const struct rec *e, struct sb *b, struct tl_str model)
{
	const struct tl_attrs *a = e->a;
	int64_t in = TL_NONE, out = TL_NONE, cr = TL_NONE, cw = TL_NONE, reas = TL_NONE;
	double cost;

	put_str(b, "gen_ai.operation.name", TL_STR_LIT("chat"));
	put_str(b, "gen_ai.provider.name", tl_str_c(tools[e->tool].provider));
	put_str(b, "gen_ai.request.model", model);
	switch (e->tool) {
	case T_CLAUDE:
		/* Anthropic accounting: input_tokens excludes the cache. */
		cr = get_tok(a, "cache_read_tokens");
		cw = get_tok(a, "cache_creation_tokens");
		in = get_tok(a, "input_tokens");
		if (in != TL_NONE)
			in = add_tok(add_tok(in, cr > 0 ? cr : 0), cw > 0 ? cw : 0);
		out = get_tok(a, "output_tokens");
		break;
	case T_GEMINI:
		/* promptTokenCount includes the cache; candidates exclude thoughts;
		 * tool-use prompt tokens are input of their own. */
		in = add_tok(get_tok(a, "input_token_count"), get_tok(a, "tool_token_count"));
		reas = get_tok(a, "thoughts_token_count");
		out = add_tok(get_tok(a, "output_token_count"), reas);
		cr = get_tok(a, "cached_content_token_count");
		break;
	case T_CODEX:
		/* Responses API usage: input includes cached, output reasoning. */
		in = get_tok(a, "input_token_count");
		out = get_tok(a, "output_token_count");
		cr = get_tok(a, "cached_token_count");
		reas = get_tok(a, "reasoning_token_count");
		break;
	default:
		break;
	}
	put_int(b, "gen_ai.usage.input_tokens", in);
	put_int(b, "gen_ai.usage.output_tokens", out);
	put_int(b, "gen_ai.usage.cache_read.input_tokens", cr);
	put_int(b, "gen_ai.usage.cache_creation.input_tokens", cw);
	put_int(b, "gen_ai.usage.reasoning.output_tokens", reas);
	/* The tool's own estimate wins over the price table: exact micro-USD
	 * first, then USD. */
	if (get_num(a, "cost_usd_micros", NULL, &cost) && cost >= 0)
		put_double(b, "gen_ai.usage.cost", cost / 1e6);
	else if (get_num(a, "cost_usd", NULL, &cost) && cost >= 0)
		put_double(b, "gen_ai.usage.cost", cost);
	{
		const struct tl_value *fr = get(a, "finish_reasons");
		if (fr && (fr->kind == TL_V_STR || fr->kind == TL_V_ARRAY))
			put(b, "gen_ai.response.finish_reasons", *fr);
	}
}

/* Builds the span for one recognised record. Returns 0 or TL_ENOMEM. */
static int build(struct tl_arena *arena, const struct rec *e, struct tl_span *s)
{
	const struct tl_attrs *a = e->a;
	struct sb b = {NULL, 0, 24 + a->n, 0};
	uint8_t root[8];
	struct tl_str agent = tl_str_c(tools[e->tool].agent);
	char code[24];

	if (!(b.items = tl_arena_alloc(arena, b.cap * sizeof *b.items)))
		return TL_ENOMEM;
	memset(s, 0, sizeof *s);
	s->resource = e->r->resource;
	s->flags = 1; /* sampled */
	trace_id_of(e, s->trace_id);
	root_id_of(s->trace_id, root);
	put_str(&b, "gen_ai.conversation.id", e->session);

	if (e->kind == E_PROMPT) {
		memcpy(s->span_id, root, 8);
		s->kind = TL_KIND_INTERNAL;
		s->name = join(arena, "invoke_agent", agent);
		s->start_unix_nano = s->end_unix_nano = e->t;
		put_str(&b, "gen_ai.operation.name", TL_STR_LIT("invoke_agent"));
		put_str(&b, "gen_ai.agent.name", agent);
	} else {
		span_id_of(e, s->trace_id, s->span_id);
		memcpy(s->parent_span_id, root, 8);
		s->has_parent = 1;
	}

	if (e->kind == E_LLM || e->kind == E_LLM_ERROR) {
		struct tl_str model = get_str(a, "model", e->tool == T_CODEX ? "slug" : "model_name");
		double status;
		s->kind = TL_KIND_CLIENT;
		s->name = join(arena, "chat", model);
		set_times(s, e, "duration_ms", "duration");
		llm_attrs(e, &b, model);
		if (e->kind == E_LLM_ERROR) {
			struct tl_str type = get_str(a, "error_type", NULL);
			if (!type.n && get_num(a, "status_code", "http.response.status_code", &status) && status > 0) {
				snprintf(code, sizeof code, "%.0f", status);
				type = dup_c(arena, code);
			}
			set_error(s, &b, type, get_str(a, "error", "error.message"));
		}
	} else if (e->kind == E_TOOL || e->kind == E_DECISION) {
		struct tl_str tool = get_str(a, "tool_name", "function_name");
		struct tl_str decision = get_str(a, "decision", "decision_type");
		struct tl_str source = get_str(a, "source", "decision_source");
		int ok = is_true(get(a, "success"));
		int rejected = is_rejection(decision);
		s->kind = TL_KIND_INTERNAL;
		set_times(s, e, e->kind == E_TOOL ? "duration_ms" : NULL, NULL);
		put_str(&b, "gen_ai.tool.name", tool);
		put_str(&b, "gen_ai.tool.call.id", get_str(a, "tool_use_id", "call_id"));
		put_str(&b, "tracelamp.tool.decision", decision);
		put_str(&b, "tracelamp.tool.decision.source", source);
		if (e->kind == E_DECISION && !rejected) {
			/* An accepted decision is a step of the call, not another call:
			 * the tool_result that follows is the execute_tool span. */
			s->name = join(arena, "tool_decision", tool);
		} else {
			s->name = join(arena, "execute_tool", tool);
			put_str(&b, "gen_ai.operation.name", TL_STR_LIT("execute_tool"));
			if (rejected)
				set_error(s, &b, TL_STR_LIT("tool_rejected"), join(arena, "rejected:", source));
			else if (ok == 0)
				set_error(s, &b, get_str(a, "error_type", NULL), get_str(a, "error", "error.message"));
		}
	}
	put_str(&b, "tracelamp.agent.event", join_name(arena, tools[e->tool].prefix, e->name));
	put_originals(&b, a);
	s->attrs.items = b.items;
	s->attrs.n = b.n;
	if (!s->name.n)
		return TL_ENOMEM;
	return 0;
}

int model_agent_spans_from_logs(const struct tl_logs_batch *logs, struct tl_arena *arena, struct tl_batch *out)
{
	struct tl_scope *scope = NULL;
	int rc = 0;

	memset(out, 0, sizeof *out);
	out->arena = arena;
	out->tenant = logs->tenant;
	out->resources = logs->resources;
	out->n_resources = logs->n_resources;
	if (!logs->n_records)
		goto out;
	if (!(scope = tl_arena_zalloc(arena, sizeof *scope)) ||
	    !(out->spans = tl_arena_alloc(arena, logs->n_records * sizeof *out->spans))) {
		rc = TL_ENOMEM;
		goto out;
	}
	scope->name = TL_STR_LIT("tracelamp.agent_events");
	scope->version = TL_STR_LIT("1");
	out->scopes = scope;
	out->n_scopes = 1;
	for (size_t i = 0; i < logs->n_records; i++) {
		const struct tl_log_record *r = &logs->records[i];
		struct rec e;
		memset(&e, 0, sizeof e);
		e.r = r;
		e.a = &r->attrs;
		if (!r->resource || (e.tool = classify(r, &e.name)) == T_NONE)
			continue;
		if ((e.kind = kind_of(e.tool, e.name, e.a)) == E_NONE)
			continue;
		/* Beta tracing (and an inherited TRACEPARENT) put a trace context on
		 * Claude Code's records; the calls then come as real spans. */
		if (e.tool == T_CLAUDE && r->has_trace_id)
			continue;
		e.t = model_log_time(r);
		if (!e.t)
			e.t = parse_iso_time(get_str(e.a, "event.timestamp", NULL));
		if (!e.t)
			continue; /* nowhere to place it */
		e.session = get_str(e.a, "session.id", "conversation.id");
		if ((rc = build(arena, &e, &out->spans[out->n_spans])) != 0)
			goto out;
		out->spans[out->n_spans].scope = scope;
		out->n_spans++;
	}
out:
	if (rc) {
		out->spans = NULL;
		out->n_spans = 0;
	}
	return rc;
}
