/*
 * usage.c - reads what a provider returned: response id, model, finish
 * reasons, error type and token usage, from a non-streaming JSON body or from
 * SSE events (OpenAI chat/completions chunks, Responses events, Anthropic
 * message events). Token counts are turned into the OTel convention (input
 * includes cache read and write, output includes reasoning); Anthropic stream
 * usage is overwritten, never summed (llm-apis.md 2.4). Pure.
 */
#include "gateway/gateway_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define TEXT_MAX (256u << 10)

void gateway_result_init(struct gateway_result *r, int capture)
{
	memset(r, 0, sizeof *r);
	r->input = r->output = r->cache_read = r->cache_write = r->reasoning = TL_NONE;
	r->a_input = r->a_cache_read = r->a_cache_write = TL_NONE;
	tl_buf_init(&r->text, TEXT_MAX);
	r->capture = capture;
}

void gateway_result_cleanup(struct gateway_result *r)
{
	tl_buf_cleanup(&r->text);
}

static int64_t ival(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : TL_NONE;
}

static void set_str(char *dst, size_t n, json_t *v)
{
	if (json_is_string(v))
		snprintf(dst, n, "%s", json_string_value(v));
}

static void add_finish(struct gateway_result *r, const char *s)
{
	if (!s || r->n_finish >= 8)
		return;
	snprintf(r->finish[r->n_finish++], sizeof r->finish[0], "%s", s);
}

/* Finish reason of choice index i (streams report one per choice, once). */
static void set_finish_at(struct gateway_result *r, size_t i, const char *s)
{
	if (!s || i >= 8)
		return;
	while (r->n_finish <= i)
		r->finish[r->n_finish++][0] = 0;
	snprintf(r->finish[i], sizeof r->finish[0], "%s", s);
}

static void add_text(struct gateway_result *r, json_t *v)
{
	if (r->capture && json_is_string(v))
		tl_buf_append(&r->text, json_string_value(v), json_string_length(v));
}

/* OpenAI usage object (chat/completions/embeddings: prompt_tokens...; Responses: input_tokens...). */
static void openai_usage(struct gateway_result *r, json_t *u)
{
	json_t *pd, *cd;
	int64_t in, out;
	if (!json_is_object(u))
		return;
	in = ival(u, "prompt_tokens");
	out = ival(u, "completion_tokens");
	pd = json_object_get(u, "prompt_tokens_details");
	cd = json_object_get(u, "completion_tokens_details");
	if (in == TL_NONE) {
		in = ival(u, "input_tokens");
		out = ival(u, "output_tokens");
		pd = json_object_get(u, "input_tokens_details");
		cd = json_object_get(u, "output_tokens_details");
	}
	if (in == TL_NONE && out == TL_NONE)
		return;
	r->have_usage = 1;
	r->input = in;
	r->output = out == TL_NONE && json_object_get(u, "total_tokens") ? 0 : out;
	r->cache_read = json_is_object(pd) ? ival(pd, "cached_tokens") : TL_NONE;
	r->cache_write = json_is_object(pd) ? ival(pd, "cache_write_tokens") : TL_NONE;
	r->reasoning = json_is_object(cd) ? ival(cd, "reasoning_tokens") : TL_NONE;
}

/* Anthropic usage: raw fields overwrite what was seen before when present. */
static void anthropic_usage(struct gateway_result *r, json_t *u)
{
	int64_t v;
	json_t *od;
	if (!json_is_object(u))
		return;
	r->have_usage = 1;
	if ((v = ival(u, "input_tokens")) != TL_NONE)
		r->a_input = v;
	if ((v = ival(u, "cache_read_input_tokens")) != TL_NONE)
		r->a_cache_read = v;
	if ((v = ival(u, "cache_creation_input_tokens")) != TL_NONE)
		r->a_cache_write = v;
	if ((v = ival(u, "output_tokens")) != TL_NONE)
		r->output = v;
	od = json_object_get(u, "output_tokens_details");
	if (json_is_object(od) && (v = ival(od, "thinking_tokens")) != TL_NONE)
		r->reasoning = v;
}

void gateway_result_finish(struct gateway_result *r, int api)
{
	if (api != GATEWAY_API_ANTHROPIC || !r->have_usage)
		return;
	int64_t in = r->a_input == TL_NONE ? 0 : r->a_input;
	in += r->a_cache_read == TL_NONE ? 0 : r->a_cache_read;
	in += r->a_cache_write == TL_NONE ? 0 : r->a_cache_write;
	r->input = in;
	r->cache_read = r->a_cache_read;
	r->cache_write = r->a_cache_write;
}

static void error_type(struct gateway_result *r, json_t *e)
{
	if (json_is_object(e)) {
		json_t *code = json_object_get(e, "code"), *type = json_object_get(e, "type");
		if (json_is_string(code))
			set_str(r->error_type, sizeof r->error_type, code);
		else
			set_str(r->error_type, sizeof r->error_type, type);
	} else if (json_is_string(e)) {
		set_str(r->error_type, sizeof r->error_type, e);
	}
}

/* A Responses API response object. */
static void responses_obj(struct gateway_result *r, json_t *o)
{
	json_t *st, *inc;
	if (!json_is_object(o))
		return;
	set_str(r->id, sizeof r->id, json_object_get(o, "id"));
	set_str(r->model, sizeof r->model, json_object_get(o, "model"));
	openai_usage(r, json_object_get(o, "usage"));
	st = json_object_get(o, "status");
	if (json_is_string(st)) {
		const char *s = json_string_value(st);
		r->n_finish = 0;
		if (!strcmp(s, "completed")) {
			add_finish(r, "stop");
		} else if (!strcmp(s, "incomplete")) {
			inc = json_object_get(o, "incomplete_details");
			json_t *why = json_is_object(inc) ? json_object_get(inc, "reason") : NULL;
			add_finish(r, json_is_string(why) ? json_string_value(why) : "length");
		} else if (!strcmp(s, "failed")) {
			add_finish(r, "error");
			json_t *e = json_object_get(o, "error");
			error_type(r, e);
		}
	}
	if (r->capture && r->text.len == 0) {
		json_t *out = json_object_get(o, "output"), *item, *part;
		size_t i, j;
		json_array_foreach(out, i, item) {
			json_array_foreach(json_object_get(item, "content"), j, part) {
				add_text(r, json_object_get(part, "text"));
			}
		}
	}
}

int gateway_usage_from_body(int api, int op, const char *body, size_t n, struct gateway_result *r)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, n, JSON_DECODE_ANY, &jerr), *choices, *c;
	size_t i;
	if (!root)
		return TL_EJSON;
	if (!json_is_object(root))
		goto out;
	if (json_object_get(root, "error")) {
		error_type(r, json_object_get(root, "error"));
		if (api == GATEWAY_API_ANTHROPIC && !r->error_type[0])
			set_str(r->error_type, sizeof r->error_type, json_object_get(root, "type"));
		goto out;
	}
	if (api == GATEWAY_API_ANTHROPIC) {
		set_str(r->id, sizeof r->id, json_object_get(root, "id"));
		set_str(r->model, sizeof r->model, json_object_get(root, "model"));
		json_t *sr = json_object_get(root, "stop_reason");
		if (json_is_string(sr))
			add_finish(r, json_string_value(sr));
		anthropic_usage(r, json_object_get(root, "usage"));
		if (r->capture) {
			json_array_foreach(json_object_get(root, "content"), i, c) {
				add_text(r, json_object_get(c, "text"));
			}
		}
		gateway_result_finish(r, api);
		goto out;
	}
	if (op == GATEWAY_OP_RESPONSES) {
		responses_obj(r, root);
		goto out;
	}
	set_str(r->id, sizeof r->id, json_object_get(root, "id"));
	set_str(r->model, sizeof r->model, json_object_get(root, "model"));
	choices = json_object_get(root, "choices");
	json_array_foreach(choices, i, c) {
		json_t *fr = json_object_get(c, "finish_reason");
		if (json_is_string(fr))
			add_finish(r, json_string_value(fr));
		if (r->capture && i == 0) {
			json_t *m = json_object_get(c, "message");
			add_text(r, json_is_object(m) ? json_object_get(m, "content") : json_object_get(c, "text"));
		}
	}
	openai_usage(r, json_object_get(root, "usage"));
	if (op == GATEWAY_OP_EMBEDDINGS && r->have_usage && r->output == TL_NONE)
		r->output = TL_NONE;
out:
	json_decref(root);
	return 0;
}

int gateway_usage_from_event(int api, int op, const char *event, size_t en, const char *data, size_t dn,
			     struct gateway_result *r)
{
	json_error_t jerr;
	json_t *root, *t;
	int strip = 0;
	size_t i;
	if (dn == 0 || (dn == 6 && !memcmp(data, "[DONE]", 6)))
		return 0;
	root = json_loadb(data, dn, 0, &jerr);
	if (!root)
		return 0;
	t = json_object_get(root, "type");
	const char *type = json_is_string(t) ? json_string_value(t) : "";
	if (api == GATEWAY_API_ANTHROPIC) {
		if (!strcmp(type, "message_start")) {
			json_t *m = json_object_get(root, "message");
			set_str(r->id, sizeof r->id, json_object_get(m, "id"));
			set_str(r->model, sizeof r->model, json_object_get(m, "model"));
			anthropic_usage(r, json_object_get(m, "usage"));
		} else if (!strcmp(type, "message_delta")) {
			json_t *d = json_object_get(root, "delta");
			json_t *sr = json_is_object(d) ? json_object_get(d, "stop_reason") : NULL;
			if (json_is_string(sr)) {
				r->n_finish = 0;
				add_finish(r, json_string_value(sr));
			}
			anthropic_usage(r, json_object_get(root, "usage"));
		} else if (!strcmp(type, "content_block_delta")) {
			json_t *d = json_object_get(root, "delta");
			add_text(r, json_is_object(d) ? json_object_get(d, "text") : NULL);
		} else if (!strcmp(type, "error")) {
			error_type(r, json_object_get(root, "error"));
		}
		goto out;
	}
	if (op == GATEWAY_OP_RESPONSES) {
		if (!strcmp(type, "response.created") || !strcmp(type, "response.completed") ||
		    !strcmp(type, "response.incomplete") || !strcmp(type, "response.failed") ||
		    !strcmp(type, "response.in_progress"))
			responses_obj(r, json_object_get(root, "response"));
		else if (!strcmp(type, "response.output_text.delta"))
			add_text(r, json_object_get(root, "delta"));
		else if (!strcmp(type, "error"))
			error_type(r, json_object_get(root, "code") ? json_object_get(root, "code") : t);
		goto out;
	}
	(void)event;
	(void)en;
	/* Chat completions and legacy completions chunks. */
	if (json_object_get(root, "error")) {
		error_type(r, json_object_get(root, "error"));
		goto out;
	}
	set_str(r->id, sizeof r->id, json_object_get(root, "id"));
	set_str(r->model, sizeof r->model, json_object_get(root, "model"));
	json_t *choices = json_object_get(root, "choices"), *c;
	json_array_foreach(choices, i, c) {
		json_t *fr = json_object_get(c, "finish_reason"), *ix = json_object_get(c, "index");
		size_t idx = json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;
		if (json_is_string(fr))
			set_finish_at(r, idx, json_string_value(fr));
		if (r->capture && idx == 0) {
			json_t *d = json_object_get(c, "delta");
			add_text(r, json_is_object(d) ? json_object_get(d, "content") : json_object_get(c, "text"));
		}
	}
	json_t *u = json_object_get(root, "usage");
	if (json_is_object(u)) {
		openai_usage(r, u);
		if (json_is_array(choices) && json_array_size(choices) == 0)
			strip = 1;
	}
out:
	json_decref(root);
	return strip;
}
