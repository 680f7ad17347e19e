/*
 * render.c - the JSON shapes of ../shared/reference/api.md: trace summaries,
 * spans with their attributes (OTLP value types kept), events, links, the
 * normalised GenAI view and their log records, log records, and the error
 * object. Writes through query__jw.
 */
#include "query/query_int.h"

#include <stdio.h>

#define MAX_VALUE_DEPTH 32

/* A fixed-size char array field of the store structs, which is NUL-terminated
 * unless full. */
#define FIELD(w, arr) query__jw_strn((w), (arr), strnlen((arr), sizeof(arr)))
#define FIELD_OR_NULL(w, arr) query__jw_str_or_null((w), (arr), strnlen((arr), sizeof(arr)))

void query__render_summary(struct query__jw *w, const struct store_trace_summary *s)
{
	query__jw_obj_begin(w);
	query__jw_key(w, "trace_id");
	query__jw_hex(w, s->trace_id, 16);
	query__jw_key(w, "tenant");
	FIELD(w, s->tenant);
	query__jw_key(w, "service");
	FIELD(w, s->service);
	query__jw_key(w, "name");
	FIELD(w, s->name);
	query__jw_key(w, "start_unix_nano");
	query__jw_u64_str(w, s->start_unix_nano);
	query__jw_key(w, "end_unix_nano");
	query__jw_u64_str(w, s->end_unix_nano);
	query__jw_key(w, "duration_ns");
	query__jw_u64(w, s->end_unix_nano >= s->start_unix_nano ? s->end_unix_nano - s->start_unix_nano : 0);
	query__jw_key(w, "span_count");
	query__jw_u64(w, s->span_count);
	query__jw_key(w, "error_count");
	query__jw_u64(w, s->error_count);
	query__jw_key(w, "llm_calls");
	query__jw_u64(w, s->llm_calls);
	query__jw_key(w, "tool_calls");
	query__jw_u64(w, s->tool_calls);
	query__jw_key(w, "input_tokens");
	query__jw_i64(w, s->input_tokens);
	query__jw_key(w, "output_tokens");
	query__jw_i64(w, s->output_tokens);
	query__jw_key(w, "cache_read_tokens");
	query__jw_i64(w, s->cache_read_tokens);
	query__jw_key(w, "cache_write_tokens");
	query__jw_i64(w, s->cache_write_tokens);
	query__jw_key(w, "reasoning_tokens");
	query__jw_i64(w, s->reasoning_tokens);
	query__jw_key(w, "cost_usd");
	if (s->cost_known)
		query__jw_nusd(w, s->cost_nusd);
	else
		query__jw_null(w);
	query__jw_key(w, "price_unknown");
	query__jw_bool(w, s->price_unknown);
	query__jw_key(w, "models");
	query__jw_arr_begin(w);
	for (uint32_t i = 0; i < s->n_models && i < STORE_MAX_MODELS; i++)
		FIELD(w, s->models[i]);
	query__jw_arr_end(w);
	query__jw_key(w, "session_id");
	FIELD_OR_NULL(w, s->session_id);
	query__jw_key(w, "run_id");
	FIELD_OR_NULL(w, s->run_id);
	query__jw_key(w, "agent");
	FIELD_OR_NULL(w, s->agent);
	query__jw_key(w, "anomalies");
	query__jw_arr_begin(w);
	for (uint32_t i = 0; i < s->n_anomalies && i < STORE_MAX_ANOMALIES; i++)
		FIELD(w, s->anomalies[i]);
	query__jw_arr_end(w);
	query__jw_key(w, "has_root");
	query__jw_bool(w, s->has_root);
	query__jw_obj_end(w);
}

void query__render_value(struct query__jw *w, const struct tl_value *v, int depth)
{
	if (depth > MAX_VALUE_DEPTH) {
		query__jw_null(w);
		return;
	}
	switch (v->kind) {
	case TL_V_STR:
		query__jw_strn(w, v->u.s.p, v->u.s.n);
		break;
	case TL_V_BOOL:
		query__jw_bool(w, v->u.b);
		break;
	case TL_V_INT:
		query__jw_int_safe(w, v->u.i);
		break;
	case TL_V_DOUBLE:
		query__jw_double(w, v->u.d);
		break;
	case TL_V_ARRAY:
		query__jw_arr_begin(w);
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			query__render_value(w, &v->u.arr.items[i], depth + 1);
		query__jw_arr_end(w);
		break;
	case TL_V_KVLIST:
		query__jw_obj_begin(w);
		for (uint32_t i = 0; i < v->u.kv.n; i++) {
			const struct tl_kv *kv = &v->u.kv.items[i];
			query__jw_keyn(w, kv->key.p ? kv->key.p : "", kv->key.n);
			query__render_value(w, &kv->v, depth + 1);
		}
		query__jw_obj_end(w);
		break;
	case TL_V_BYTES:
		query__jw_base64(w, (const uint8_t *)v->u.s.p, v->u.s.n);
		break;
	default: /* TL_V_EMPTY and unknown kinds */
		query__jw_null(w);
		break;
	}
}

void query__render_attrs(struct query__jw *w, const struct tl_attrs *a)
{
	query__jw_obj_begin(w);
	for (uint32_t i = 0; a && i < a->n; i++) {
		const struct tl_kv *kv = &a->items[i];
		query__jw_keyn(w, kv->key.p ? kv->key.p : "", kv->key.n);
		query__render_value(w, &kv->v, 0);
	}
	query__jw_obj_end(w);
}

static void str_or_null(struct query__jw *w, struct tl_str s)
{
	query__jw_str_or_null(w, s.p, s.n);
}

/* A call that reported usage at all reports the kinds it left out as 0 (the
 * contract's numbers); a span with no usage has null tokens. */
static void tokens(struct query__jw *w, const char *key, int64_t v, int has_usage)
{
	query__jw_key(w, key);
	if (v == TL_NONE && has_usage)
		query__jw_i64(w, 0);
	else if (v == TL_NONE)
		query__jw_null(w);
	else
		query__jw_i64(w, v);
}

static void render_genai(struct query__jw *w, const struct tl_genai *g)
{
	if (!g->is_genai) {
		query__jw_null(w);
		return;
	}
	query__jw_obj_begin(w);
	query__jw_key(w, "operation");
	str_or_null(w, g->operation);
	query__jw_key(w, "provider");
	str_or_null(w, g->provider);
	query__jw_key(w, "request_model");
	str_or_null(w, g->request_model);
	query__jw_key(w, "response_model");
	str_or_null(w, g->response_model);
	int has_usage = g->input_tokens != TL_NONE || g->output_tokens != TL_NONE ||
			g->cache_read_tokens != TL_NONE || g->cache_write_tokens != TL_NONE ||
			g->reasoning_tokens != TL_NONE;
	tokens(w, "input_tokens", g->input_tokens, has_usage);
	tokens(w, "output_tokens", g->output_tokens, has_usage);
	tokens(w, "cache_read_tokens", g->cache_read_tokens, has_usage);
	tokens(w, "cache_write_tokens", g->cache_write_tokens, has_usage);
	tokens(w, "reasoning_tokens", g->reasoning_tokens, has_usage);
	query__jw_key(w, "cost_usd");
	if (g->cost_nusd == TL_NONE)
		query__jw_null(w);
	else
		query__jw_nusd(w, g->cost_nusd);
	query__jw_key(w, "cost_from_span");
	query__jw_bool(w, g->cost_from_span);
	query__jw_key(w, "price_unknown");
	query__jw_bool(w, g->price_unknown);
	query__jw_key(w, "finish_reasons");
	query__jw_arr_begin(w);
	for (uint32_t i = 0; i < g->n_finish_reasons && i < 8; i++)
		query__jw_strn(w, g->finish_reasons[i].p, g->finish_reasons[i].n);
	query__jw_arr_end(w);
	query__jw_key(w, "tool_name");
	str_or_null(w, g->tool_name);
	query__jw_key(w, "tool_call_id");
	str_or_null(w, g->tool_call_id);
	query__jw_key(w, "agent_name");
	str_or_null(w, g->agent_name);
	query__jw_key(w, "agent_id");
	str_or_null(w, g->agent_id);
	query__jw_key(w, "conversation_id");
	str_or_null(w, g->conversation_id);
	query__jw_key(w, "unknown_attributes");
	query__jw_u64(w, g->unknown_genai_attrs);
	query__jw_obj_end(w);
}

static const char *kind_name(int kind)
{
	static const char *const names[] = {"unspecified", "internal", "server", "client", "producer", "consumer"};
	return kind >= 0 && kind <= TL_KIND_CONSUMER ? names[kind] : "unspecified";
}

static const char *status_name(int code)
{
	return code == TL_STATUS_OK ? "ok" : code == TL_STATUS_ERROR ? "error" : "unset";
}

/* Records of logs whose span id is the span's (NULL: no "logs" key). */
static void render_span_logs(struct query__jw *w, const struct tl_span *s, const struct store_logs *logs)
{
	query__jw_key(w, "logs");
	query__jw_arr_begin(w);
	for (size_t i = 0; i < logs->n; i++) {
		const struct tl_log_record *r = &logs->items[i].rec;
		if (r->has_span_id && memcmp(r->span_id, s->span_id, 8) == 0)
			query__render_log(w, &logs->items[i]);
	}
	query__jw_arr_end(w);
}

static void render_span(struct query__jw *w, const struct tl_span *s, const char *tenant, const struct store_logs *logs)
{
	query__jw_obj_begin(w);
	query__jw_key(w, "trace_id");
	query__jw_hex(w, s->trace_id, 16);
	query__jw_key(w, "span_id");
	query__jw_hex(w, s->span_id, 8);
	query__jw_key(w, "parent_span_id");
	if (s->has_parent && !tl_is_zero(s->parent_span_id, 8))
		query__jw_hex(w, s->parent_span_id, 8);
	else
		query__jw_null(w);
	query__jw_key(w, "name");
	query__jw_strn(w, s->name.p, s->name.n);
	query__jw_key(w, "kind");
	query__jw_str(w, kind_name(s->kind));
	if (s->kind < 0 || s->kind > TL_KIND_CONSUMER) {
		/* an out-of-range kind is kept as its number (full fidelity) */
		query__jw_key(w, "kind_code");
		query__jw_i64(w, s->kind);
	}
	query__jw_key(w, "start_unix_nano");
	query__jw_u64_str(w, s->start_unix_nano);
	query__jw_key(w, "end_unix_nano");
	query__jw_u64_str(w, s->end_unix_nano);
	query__jw_key(w, "duration_ns");
	query__jw_u64(w, s->end_unix_nano >= s->start_unix_nano ? s->end_unix_nano - s->start_unix_nano : 0);
	query__jw_key(w, "trace_state");
	query__jw_strn(w, s->trace_state.p, s->trace_state.n);
	query__jw_key(w, "flags");
	query__jw_u64(w, s->flags);
	query__jw_key(w, "status");
	query__jw_obj_begin(w);
	query__jw_key(w, "code");
	query__jw_str(w, status_name(s->status_code));
	query__jw_key(w, "message");
	query__jw_strn(w, s->status_message.p, s->status_message.n);
	query__jw_obj_end(w);

	const struct tl_resource *r = s->resource;
	query__jw_key(w, "service");
	if (r && r->service.n)
		query__jw_strn(w, r->service.p, r->service.n);
	else
		query__jw_str(w, "unknown_service");
	query__jw_key(w, "resource");
	query__render_attrs(w, r ? &r->attrs : NULL);
	query__jw_key(w, "resource_schema_url");
	query__jw_strn(w, r ? r->schema_url.p : "", r ? r->schema_url.n : 0);
	query__jw_key(w, "resource_dropped_attributes_count");
	query__jw_u64(w, r ? r->attrs.dropped : 0);

	const struct tl_scope *sc = s->scope;
	query__jw_key(w, "scope");
	query__jw_obj_begin(w);
	query__jw_key(w, "name");
	query__jw_strn(w, sc ? sc->name.p : "", sc ? sc->name.n : 0);
	query__jw_key(w, "version");
	query__jw_strn(w, sc ? sc->version.p : "", sc ? sc->version.n : 0);
	query__jw_key(w, "attributes");
	query__render_attrs(w, sc ? &sc->attrs : NULL);
	query__jw_key(w, "schema_url");
	query__jw_strn(w, sc ? sc->schema_url.p : "", sc ? sc->schema_url.n : 0);
	query__jw_obj_end(w);

	query__jw_key(w, "attributes");
	query__render_attrs(w, &s->attrs);
	query__jw_key(w, "dropped_attributes_count");
	query__jw_u64(w, s->attrs.dropped);

	query__jw_key(w, "events");
	query__jw_arr_begin(w);
	for (uint32_t i = 0; i < s->n_events; i++) {
		const struct tl_event *e = &s->events[i];
		query__jw_obj_begin(w);
		query__jw_key(w, "name");
		query__jw_strn(w, e->name.p, e->name.n);
		query__jw_key(w, "time_unix_nano");
		query__jw_u64_str(w, e->time_unix_nano);
		query__jw_key(w, "attributes");
		query__render_attrs(w, &e->attrs);
		query__jw_key(w, "dropped_attributes_count");
		query__jw_u64(w, e->attrs.dropped);
		query__jw_obj_end(w);
	}
	query__jw_arr_end(w);
	query__jw_key(w, "dropped_events_count");
	query__jw_u64(w, s->dropped_events);

	query__jw_key(w, "links");
	query__jw_arr_begin(w);
	for (uint32_t i = 0; i < s->n_links; i++) {
		const struct tl_link *l = &s->links[i];
		query__jw_obj_begin(w);
		query__jw_key(w, "trace_id");
		query__jw_hex(w, l->trace_id, 16);
		query__jw_key(w, "span_id");
		query__jw_hex(w, l->span_id, 8);
		query__jw_key(w, "trace_state");
		query__jw_strn(w, l->trace_state.p, l->trace_state.n);
		query__jw_key(w, "flags");
		query__jw_u64(w, l->flags);
		query__jw_key(w, "attributes");
		query__render_attrs(w, &l->attrs);
		query__jw_key(w, "dropped_attributes_count");
		query__jw_u64(w, l->attrs.dropped);
		query__jw_obj_end(w);
	}
	query__jw_arr_end(w);
	query__jw_key(w, "dropped_links_count");
	query__jw_u64(w, s->dropped_links);

	query__jw_key(w, "genai");
	render_genai(w, &s->genai);

	query__jw_key(w, "tenant");
	if (s->run.tenant.n)
		query__jw_strn(w, s->run.tenant.p, s->run.tenant.n);
	else
		query__jw_str(w, tenant);
	query__jw_key(w, "run_id");
	str_or_null(w, s->run.run_id);
	query__jw_key(w, "step");
	if (s->run.step == TL_NONE)
		query__jw_null(w);
	else
		query__jw_int_safe(w, s->run.step);
	query__jw_key(w, "agent_instance");
	str_or_null(w, s->run.agent_instance);
	if (logs)
		render_span_logs(w, s, logs);
	query__jw_obj_end(w);
}

void query__render_span(struct query__jw *w, const struct tl_span *s, const char *tenant)
{
	render_span(w, s, tenant, NULL);
}

void query__render_log(struct query__jw *w, const struct store_log *l)
{
	const struct tl_log_record *r = &l->rec;
	const struct tl_resource *res = r->resource;
	const struct tl_scope *sc = r->scope;
	struct tl_str ev = model_log_event_name(r);

	query__jw_obj_begin(w);
	query__jw_key(w, "time_unix_nano");
	query__jw_u64_str(w, r->time_unix_nano ? r->time_unix_nano : l->time_unix_nano);
	query__jw_key(w, "observed_time_unix_nano");
	query__jw_u64_str(w, r->observed_time_unix_nano);
	query__jw_key(w, "severity_number");
	query__jw_i64(w, r->severity_number);
	query__jw_key(w, "severity_text");
	query__jw_strn(w, r->severity_text.p, r->severity_text.n);
	query__jw_key(w, "event_name");
	str_or_null(w, ev);
	query__jw_key(w, "body");
	query__render_value(w, &r->body, 0);
	query__jw_key(w, "attributes");
	query__render_attrs(w, &r->attrs);
	query__jw_key(w, "dropped_attributes_count");
	query__jw_u64(w, r->attrs.dropped);
	query__jw_key(w, "flags");
	query__jw_u64(w, r->flags);
	query__jw_key(w, "trace_id");
	if (r->has_trace_id)
		query__jw_hex(w, r->trace_id, 16);
	else
		query__jw_null(w);
	query__jw_key(w, "span_id");
	if (r->has_span_id)
		query__jw_hex(w, r->span_id, 8);
	else
		query__jw_null(w);
	query__jw_key(w, "service");
	if (res && res->service.n)
		query__jw_strn(w, res->service.p, res->service.n);
	else
		query__jw_str(w, "unknown_service");
	query__jw_key(w, "resource");
	query__render_attrs(w, res ? &res->attrs : NULL);
	query__jw_key(w, "scope");
	query__jw_obj_begin(w);
	query__jw_key(w, "name");
	query__jw_strn(w, sc ? sc->name.p : "", sc ? sc->name.n : 0);
	query__jw_key(w, "version");
	query__jw_strn(w, sc ? sc->version.p : "", sc ? sc->version.n : 0);
	query__jw_key(w, "attributes");
	query__render_attrs(w, sc ? &sc->attrs : NULL);
	query__jw_obj_end(w);
	query__jw_obj_end(w);
}

/* 1 if the record belongs to no span of the trace (no span id or an unknown one). */
static int trace_level(const struct store_trace *t, const struct tl_log_record *r)
{
	if (!r->has_span_id)
		return 1;
	for (size_t i = 0; i < t->n_spans; i++)
		if (memcmp(t->spans[i].span_id, r->span_id, 8) == 0)
			return 0;
	return 1;
}

void query__render_trace(struct query__jw *w, const struct store_trace *t, const char *tenant,
			 const struct store_logs *logs)
{
	static const struct store_logs none;
	if (!logs)
		logs = &none;
	query__jw_obj_begin(w);
	query__jw_key(w, "trace_id");
	query__jw_hex(w, t->summary.trace_id, 16);
	query__jw_key(w, "summary");
	query__render_summary(w, &t->summary);
	query__jw_key(w, "logs");
	query__jw_arr_begin(w);
	for (size_t i = 0; i < logs->n; i++)
		if (trace_level(t, &logs->items[i].rec))
			query__render_log(w, &logs->items[i]);
	query__jw_arr_end(w);
	query__jw_key(w, "spans");
	query__jw_arr_begin(w);
	for (size_t i = 0; i < t->n_spans; i++)
		render_span(w, &t->spans[i], tenant, logs);
	query__jw_arr_end(w);
	query__jw_obj_end(w);
}

void query__render_error(struct tl_buf *b, const char *code, const char *msg)
{
	struct query__jw w;
	tl_buf_reset(b);
	query__jw_init(&w, b);
	query__jw_obj_begin(&w);
	query__jw_key(&w, "error");
	query__jw_obj_begin(&w);
	query__jw_key(&w, "code");
	query__jw_str(&w, code);
	query__jw_key(&w, "message");
	query__jw_str(&w, msg);
	query__jw_obj_end(&w);
	query__jw_obj_end(&w);
}
