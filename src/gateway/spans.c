/*
 * spans.c - the telemetry of one gateway request: a gateway.request SERVER
 * span (tenant, HTTP outcome) and, when an upstream was called, one GenAI
 * CLIENT span named "{operation} {model}" with the attributes of the GenAI
 * conventions (protocols.md 3.2/3.5): request parameters, response id/model,
 * finish reasons, usage, time to first chunk, error.type, server address, plus
 * the gateway's route, upstream and escalations. Optional content capture
 * (gen_ai.input.messages / gen_ai.output.messages, redacted). Spans are
 * normalised and priced here, counted in the gateway metrics, then given to the
 * sink.
 */
#include "gateway/gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTRS 64

struct ab {
	struct tl_arena *a;
	struct tl_kv *kv;
	uint32_t n;
};

static struct tl_str dup_str(struct tl_arena *a, const char *s, size_t n)
{
	struct tl_str r = {tl_arena_strndup(a, s, n), n};
	if (!r.p)
		abort();
	return r;
}

static struct tl_value *add(struct ab *b, const char *k)
{
	if (b->n >= MAX_ATTRS)
		return NULL;
	struct tl_kv *kv = &b->kv[b->n++];
	kv->key = tl_str_c(k);
	return &kv->v;
}

static void a_str(struct ab *b, const char *k, const char *v)
{
	struct tl_value *x;
	if (!v || !v[0] || !(x = add(b, k)))
		return;
	x->kind = TL_V_STR;
	x->u.s = dup_str(b->a, v, strlen(v));
}

static void a_int(struct ab *b, const char *k, int64_t v)
{
	struct tl_value *x;
	if (v == TL_NONE || !(x = add(b, k)))
		return;
	x->kind = TL_V_INT;
	x->u.i = v;
}

static void a_double(struct ab *b, const char *k, double v)
{
	struct tl_value *x = add(b, k);
	if (!x)
		return;
	x->kind = TL_V_DOUBLE;
	x->u.d = v;
}

static void a_bool(struct ab *b, const char *k, int v)
{
	struct tl_value *x = add(b, k);
	if (!x)
		return;
	x->kind = TL_V_BOOL;
	x->u.b = v;
}

static void a_strs(struct ab *b, const char *k, const char *const *v, size_t n)
{
	struct tl_value *x;
	if (!n || !(x = add(b, k)))
		return;
	x->kind = TL_V_ARRAY;
	x->u.arr.items = tl_arena_zalloc(b->a, n * sizeof *x->u.arr.items);
	if (!x->u.arr.items)
		abort();
	x->u.arr.n = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		x->u.arr.items[i].kind = TL_V_STR;
		x->u.arr.items[i].u.s = dup_str(b->a, v[i], strlen(v[i]));
	}
}

/* A request parameter copied when present with the right JSON type. */
static void a_param(struct ab *b, const char *k, json_t *v, int as_int)
{
	if (json_is_integer(v)) {
		if (as_int)
			a_int(b, k, (int64_t)json_integer_value(v));
		else
			a_double(b, k, (double)json_integer_value(v));
	} else if (json_is_real(v) && !as_int) {
		a_double(b, k, json_real_value(v));
	}
}

/* ---- content capture ------------------------------------------------------------ */

static json_t *redacted(struct gateway *g, const char *s, size_t n)
{
	struct tl_buf o;
	json_t *j;
	tl_buf_init(&o, 0);
	gateway_redact(g->redactor, s, n, &o);
	j = json_stringn(o.data ? o.data : "", o.len);
	tl_buf_cleanup(&o);
	return j ? j : json_string("");
}

static json_t *text_part(struct gateway *g, json_t *text)
{
	return json_pack("{s:s, s:o}", "type", "text", "content",
			 redacted(g, json_string_value(text), json_string_length(text)));
}

/* Content (a string or an array of blocks, OpenAI or Anthropic) -> parts. */
static void add_parts(struct gateway *g, json_t *parts, json_t *content)
{
	size_t i;
	json_t *blk;
	if (json_is_string(content)) {
		json_array_append_new(parts, text_part(g, content));
		return;
	}
	json_array_foreach(content, i, blk) {
		json_t *t = json_object_get(blk, "type"), *txt = json_object_get(blk, "text");
		const char *ts = json_is_string(t) ? json_string_value(t) : "";
		if (json_is_string(txt)) {
			json_array_append_new(parts, text_part(g, txt));
		} else if (!strcmp(ts, "tool_use")) {
			json_array_append_new(parts, json_pack("{s:s, s:O?, s:O?, s:O?}", "type", "tool_call", "id",
							       json_object_get(blk, "id"), "name",
							       json_object_get(blk, "name"), "arguments",
							       json_object_get(blk, "input")));
		} else if (!strcmp(ts, "tool_result")) {
			json_t *c = json_object_get(blk, "content");
			json_t *resp = json_is_string(c) ? redacted(g, json_string_value(c), json_string_length(c))
							 : json_string("");
			json_array_append_new(parts, json_pack("{s:s, s:O?, s:o}", "type", "tool_call_response", "id",
							       json_object_get(blk, "tool_use_id"), "response", resp));
		} else if (ts[0]) {
			json_array_append_new(parts, json_pack("{s:s}", "type", ts));
		}
	}
}

static json_t *message(struct gateway *g, json_t *m)
{
	json_t *role = json_object_get(m, "role"), *parts = json_array(), *tc, *c;
	size_t i;
	add_parts(g, parts, json_object_get(m, "content"));
	/* OpenAI assistant tool calls and tool results. */
	json_array_foreach(json_object_get(m, "tool_calls"), i, tc) {
		json_t *fn = json_object_get(tc, "function");
		json_array_append_new(parts, json_pack("{s:s, s:O?, s:O?, s:O?}", "type", "tool_call", "id",
						       json_object_get(tc, "id"), "name", json_object_get(fn, "name"),
						       "arguments", json_object_get(fn, "arguments")));
	}
	if (json_is_string(json_object_get(m, "tool_call_id")) && json_array_size(parts) == 1 &&
	    (c = json_array_get(parts, 0)) && json_is_string(json_object_get(c, "content"))) {
		json_t *resp = json_object_get(c, "content");
		json_array_set_new(parts, 0, json_pack("{s:s, s:O, s:O}", "type", "tool_call_response", "id",
						       json_object_get(m, "tool_call_id"), "response", resp));
	}
	return json_pack("{s:s, s:o}", "role", json_is_string(role) ? json_string_value(role) : "user", "parts", parts);
}

static char *input_messages(struct gateway *g, struct gw_req *r, char **system)
{
	json_t *msgs = json_array(), *in, *m, *sys;
	size_t i;
	char *s;
	*system = NULL;
	if (r->op == GATEWAY_OP_RESPONSES) {
		in = json_object_get(r->json, "input");
		if (json_is_string(in))
			json_array_append_new(msgs, json_pack("{s:s, s:[o]}", "role", "user", "parts",
							      text_part(g, in)));
		else
			json_array_foreach(in, i, m) json_array_append_new(msgs, message(g, m));
		sys = json_object_get(r->json, "instructions");
	} else if (r->op == GATEWAY_OP_COMPLETIONS) {
		in = json_object_get(r->json, "prompt");
		if (json_is_string(in))
			json_array_append_new(msgs, json_pack("{s:s, s:[o]}", "role", "user", "parts",
							      text_part(g, in)));
		sys = NULL;
	} else {
		json_array_foreach(json_object_get(r->json, "messages"), i, m) json_array_append_new(msgs, message(g, m));
		sys = json_object_get(r->json, "system");
	}
	if (sys) {
		json_t *parts = json_array();
		add_parts(g, parts, sys);
		*system = json_dumps(parts, JSON_COMPACT);
		json_decref(parts);
	}
	s = json_dumps(msgs, JSON_COMPACT);
	json_decref(msgs);
	return s;
}

static char *output_messages(struct gateway *g, struct gw_req *r)
{
	json_t *o = json_pack("[{s:s, s:[o], s:s}]", "role", "assistant", "parts",
			      json_pack("{s:s, s:o}", "type", "text", "content",
					redacted(g, r->res.text.data ? r->res.text.data : "", r->res.text.len)),
			      "finish_reason", r->res.n_finish && r->res.finish[0][0] ? r->res.finish[0] : "stop");
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* ---- spans ---------------------------------------------------------------------- */

void gateway__spans_init(struct gateway *g)
{
	g->res_kv[0].key = TL_STR_LIT("service.name");
	g->res_kv[0].v.kind = TL_V_STR;
	g->res_kv[0].v.u.s = TL_STR_LIT("tracelamp-gateway");
	g->res_kv[1].key = TL_STR_LIT("telemetry.sdk.name");
	g->res_kv[1].v.kind = TL_V_STR;
	g->res_kv[1].v.u.s = TL_STR_LIT("tracelamp");
	g->resource.attrs.items = g->res_kv;
	g->resource.attrs.n = 2;
	g->resource.service = TL_STR_LIT("tracelamp-gateway");
	g->scope.name = TL_STR_LIT("tracelamp.gateway");
	g->scope.version = TL_STR_LIT("0.1.0");
}

static const char *op_name(int op)
{
	switch (op) {
	case GATEWAY_OP_COMPLETIONS: return "text_completion";
	case GATEWAY_OP_EMBEDDINGS: return "embeddings";
	default: return "chat";
	}
}

/* host and port of a base URL. */
static void url_host_port(const char *url, char *host, size_t hn, int64_t *port)
{
	const char *p = strstr(url, "://");
	int https = !strncmp(url, "https", 5);
	p = p ? p + 3 : url;
	const char *end = p + strcspn(p, "/");
	const char *colon = NULL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		colon = rb && rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
	}
	size_t hl = (size_t)((colon ? colon : end) - p);
	snprintf(host, hn, "%.*s", (int)hl, p);
	*port = colon ? strtol(colon + 1, NULL, 10) : (https ? 443 : 80);
}

static void run_attrs(struct ab *b, struct gw_req *r)
{
	a_str(b, "tracelamp.tenant", r->tenant ? r->tenant : "default");
	a_str(b, "tracelamp.run.id", r->run_id);
	a_int(b, "tracelamp.run.step", r->step);
	a_str(b, "tracelamp.agent.instance", r->agent_instance);
}

static void client_attrs(struct gateway *g, struct ab *b, struct gw_req *r, struct tl_span *sp)
{
	json_t *j = r->json;
	char host[256];
	int64_t port;
	const char *fin[8];
	const char *esc[GW_MAX_ESCAL];
	struct gateway_result *res = &r->res;

	a_str(b, "gen_ai.operation.name", op_name(r->op));
	a_str(b, "gen_ai.provider.name", r->up->api == GATEWAY_API_ANTHROPIC ? "anthropic" : "openai");
	a_str(b, "gen_ai.request.model", r->model);
	if (r->op == GATEWAY_OP_CHAT)
		a_str(b, "openai.api.type", "chat_completions");
	else if (r->op == GATEWAY_OP_RESPONSES)
		a_str(b, "openai.api.type", "responses");
	if (r->stream)
		a_bool(b, "gen_ai.request.stream", 1);
	a_param(b, "gen_ai.request.temperature", json_object_get(j, "temperature"), 0);
	a_param(b, "gen_ai.request.top_p", json_object_get(j, "top_p"), 0);
	a_param(b, "gen_ai.request.top_k", json_object_get(j, "top_k"), 0);
	a_param(b, "gen_ai.request.frequency_penalty", json_object_get(j, "frequency_penalty"), 0);
	a_param(b, "gen_ai.request.presence_penalty", json_object_get(j, "presence_penalty"), 0);
	a_param(b, "gen_ai.request.seed", json_object_get(j, "seed"), 1);
	json_t *mt = json_object_get(j, "max_completion_tokens");
	if (!mt)
		mt = json_object_get(j, "max_tokens");
	if (!mt)
		mt = json_object_get(j, "max_output_tokens");
	a_param(b, "gen_ai.request.max_tokens", mt, 1);
	json_t *n = json_object_get(j, "n");
	if (json_is_integer(n) && json_integer_value(n) != 1)
		a_int(b, "gen_ai.request.choice.count", (int64_t)json_integer_value(n));
	json_t *stop = json_object_get(j, "stop");
	if (!stop)
		stop = json_object_get(j, "stop_sequences");
	if (json_is_string(stop)) {
		const char *s1 = json_string_value(stop);
		a_strs(b, "gen_ai.request.stop_sequences", &s1, 1);
	} else if (json_is_array(stop)) {
		const char *ss[8];
		size_t k = 0, i;
		json_t *e;
		json_array_foreach(stop, i, e) if (json_is_string(e) && k < 8) ss[k++] = json_string_value(e);
		a_strs(b, "gen_ai.request.stop_sequences", ss, k);
	}
	json_t *ef = json_object_get(j, "encoding_format");
	if (r->op == GATEWAY_OP_EMBEDDINGS && json_is_string(ef)) {
		const char *s1 = json_string_value(ef);
		a_strs(b, "gen_ai.request.encoding_formats", &s1, 1);
	}
	a_str(b, "gen_ai.response.id", res->id);
	a_str(b, "gen_ai.response.model", res->model);
	for (uint32_t i = 0; i < res->n_finish; i++)
		fin[i] = res->finish[i];
	a_strs(b, "gen_ai.response.finish_reasons", fin, res->n_finish);
	if (res->have_usage) {
		a_int(b, "gen_ai.usage.input_tokens", res->input);
		a_int(b, "gen_ai.usage.output_tokens", res->output);
		a_int(b, "gen_ai.usage.cache_read.input_tokens", res->cache_read);
		a_int(b, "gen_ai.usage.cache_creation.input_tokens", res->cache_write);
		a_int(b, "gen_ai.usage.reasoning.output_tokens", res->reasoning);
	}
	if (r->stream && r->first_byte_mono)
		a_double(b, "gen_ai.response.time_to_first_chunk",
			 (double)(r->first_byte_mono - r->start_mono) / 1e9);
	if (r->error_type[0])
		a_str(b, "error.type", r->error_type);
	url_host_port(r->up->base_url, host, sizeof host, &port);
	a_str(b, "server.address", host);
	a_int(b, "server.port", port);
	if (r->final_status)
		a_int(b, "http.response.status_code", r->final_status);
	a_str(b, "tracelamp.gateway.route", r->route->match);
	a_str(b, "tracelamp.gateway.upstream", r->up->name);
	a_int(b, "tracelamp.gateway.attempts", r->attempts);
	for (int i = 0; i < r->n_escal; i++)
		esc[i] = r->escal[i];
	a_strs(b, "tracelamp.gateway.escalations", esc, (size_t)r->n_escal);
	run_attrs(b, r);
	if (r->capture && r->json) {
		char *sys = NULL, *in = input_messages(g, r, &sys), *out = NULL;
		a_str(b, "gen_ai.input.messages", in);
		a_str(b, "gen_ai.system_instructions", sys);
		if (r->final_status && r->final_status < 400 && r->op != GATEWAY_OP_EMBEDDINGS) {
			out = output_messages(g, r);
			a_str(b, "gen_ai.output.messages", out);
		}
		free(in);
		free(sys);
		free(out);
	}
	(void)sp;
}

void gateway__emit_spans(struct gateway *g, struct gw_req *r)
{
	struct tl_arena *a = tl_arena_create(16 * 1024, 0);
	struct tl_span *sp;
	struct tl_batch batch;
	struct ab b;
	char name[192];
	size_t n = 1;
	int called = r->up && r->attempts > 0 && r->op != GATEWAY_OP_MODELS;

	if (!a)
		abort();
	sp = tl_arena_zalloc(a, 2 * sizeof *sp);
	if (!sp)
		abort();
	/* gateway.request (SERVER) */
	memcpy(sp[0].trace_id, r->trace_id, 16);
	memcpy(sp[0].span_id, r->server_span, 8);
	if (r->has_parent) {
		memcpy(sp[0].parent_span_id, r->parent_span, 8);
		sp[0].has_parent = 1;
	}
	sp[0].trace_state = tl_str_c(r->tracestate);
	sp[0].flags = r->flags;
	sp[0].name = TL_STR_LIT("gateway.request");
	sp[0].kind = TL_KIND_SERVER;
	sp[0].start_unix_nano = r->start_ns;
	sp[0].end_unix_nano = r->end_ns > r->start_ns ? r->end_ns : r->start_ns;
	sp[0].status_code = r->final_status >= 400 ? TL_STATUS_ERROR : TL_STATUS_UNSET;
	b.a = a;
	b.kv = tl_arena_zalloc(a, MAX_ATTRS * sizeof *b.kv);
	b.n = 0;
	if (!b.kv)
		abort();
	a_str(&b, "http.request.method", r->method);
	a_str(&b, "url.path", r->path);
	a_int(&b, "http.response.status_code", r->final_status);
	if (r->route) {
		a_str(&b, "tracelamp.gateway.route", r->route->match);
		if (r->up)
			a_str(&b, "tracelamp.gateway.upstream", r->up->name);
	}
	/* The model under the gateway's own name: gen_ai.* here would count the
	 * request as a second LLM call. */
	if (r->model[0])
		a_str(&b, "tracelamp.gateway.model", r->model);
	if (r->error_type[0] && r->final_status >= 400)
		a_str(&b, "error.type", r->error_type);
	run_attrs(&b, r);
	sp[0].attrs.items = b.kv;
	sp[0].attrs.n = b.n;

	if (called) {
		n = 2;
		memcpy(sp[1].trace_id, r->trace_id, 16);
		memcpy(sp[1].span_id, r->client_span, 8);
		memcpy(sp[1].parent_span_id, r->server_span, 8);
		sp[1].has_parent = 1;
		sp[1].trace_state = sp[0].trace_state;
		sp[1].flags = r->flags;
		snprintf(name, sizeof name, "%s %s", op_name(r->op), r->model);
		sp[1].name = dup_str(a, name, strlen(name));
		sp[1].kind = TL_KIND_CLIENT;
		sp[1].start_unix_nano = r->upstream_start_ns ? r->upstream_start_ns : r->start_ns;
		sp[1].end_unix_nano = r->end_ns > sp[1].start_unix_nano ? r->end_ns : sp[1].start_unix_nano;
		sp[1].status_code = r->error_type[0] ? TL_STATUS_ERROR : TL_STATUS_UNSET;
		b.kv = tl_arena_zalloc(a, MAX_ATTRS * sizeof *b.kv);
		b.n = 0;
		if (!b.kv)
			abort();
		client_attrs(g, &b, r, &sp[1]);
		sp[1].attrs.items = b.kv;
		sp[1].attrs.n = b.n;
	}
	for (size_t i = 0; i < n; i++) {
		sp[i].resource = &g->resource;
		sp[i].scope = &g->scope;
		model_normalise_span(&sp[i], g->prices);
	}
	if (called && sp[1].genai.cost_nusd != TL_NONE && !sp[1].genai.cost_from_span) {
		/* The cost travels on the span too, so an OTLP receiver downstream
		 * (another tracelamp) keeps the gateway's price. */
		a_double(&b, "gen_ai.usage.cost", (double)sp[1].genai.cost_nusd / 1e9);
		sp[1].attrs.n = b.n;
	}
	if (r->route) {
		struct gateway__call_obs o;
		memset(&o, 0, sizeof o);
		o.route = r->route->match;
		o.model = r->model;
		o.tenant = r->tenant ? r->tenant : "default";
		o.status = r->final_status;
		o.input = r->res.have_usage ? r->res.input : TL_NONE;
		o.output = r->res.have_usage ? r->res.output : TL_NONE;
		o.cache_read = r->res.have_usage ? r->res.cache_read : TL_NONE;
		o.cache_write = r->res.have_usage ? r->res.cache_write : TL_NONE;
		o.reasoning = r->res.have_usage ? r->res.reasoning : TL_NONE;
		o.cost_nusd = called ? sp[1].genai.cost_nusd : TL_NONE;
		o.seconds = (double)(r->end_mono - r->start_mono) / 1e9;
		o.ttfc_seconds = r->stream && r->first_byte_mono ? (double)(r->first_byte_mono - r->start_mono) / 1e9 : -1;
		gateway__metrics_call(g->metrics, &o);
	}
	memset(&batch, 0, sizeof batch);
	batch.arena = a;
	batch.spans = sp;
	batch.n_spans = n;
	batch.resources = &g->resource;
	batch.n_resources = 1;
	batch.scopes = &g->scope;
	batch.n_scopes = 1;
	batch.tenant = tl_str_c(r->tenant ? r->tenant : "default");
	if (g->sink.submit)
		g->sink.submit(g->sink.arg, &batch);
	tl_arena_destroy(a);
}
