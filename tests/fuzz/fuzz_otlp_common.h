/*
 * fuzz_otlp_common.h - deep equality of decoded spans, shared by the OTLP fuzz
 * targets and tests/unit/test_otlp.c to check that decode(encode(x)) == x.
 * Header-only; compares contents, never pointers (except that NULL and empty
 * strings are equal). Doubles compare by bits so NaN equals itself.
 */
#ifndef FUZZ_OTLP_COMMON_H
#define FUZZ_OTLP_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "otlp/otlp.h"

static int fz_str_eq(struct tl_str a, struct tl_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int fz_value_eq(const struct tl_value *a, const struct tl_value *b);

static int fz_kv_eq(const struct tl_kv *a, const struct tl_kv *b)
{
	return fz_str_eq(a->key, b->key) && fz_value_eq(&a->v, &b->v);
}

static int fz_value_eq(const struct tl_value *a, const struct tl_value *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case TL_V_STR:
	case TL_V_BYTES:
		return fz_str_eq(a->u.s, b->u.s);
	case TL_V_BOOL:
		return !a->u.b == !b->u.b;
	case TL_V_INT:
		return a->u.i == b->u.i;
	case TL_V_DOUBLE:
		return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
	case TL_V_ARRAY:
		if (a->u.arr.n != b->u.arr.n)
			return 0;
		for (uint32_t i = 0; i < a->u.arr.n; i++)
			if (!fz_value_eq(&a->u.arr.items[i], &b->u.arr.items[i]))
				return 0;
		return 1;
	case TL_V_KVLIST:
		if (a->u.kv.n != b->u.kv.n)
			return 0;
		for (uint32_t i = 0; i < a->u.kv.n; i++)
			if (!fz_kv_eq(&a->u.kv.items[i], &b->u.kv.items[i]))
				return 0;
		return 1;
	default:
		return 1;
	}
}

static int fz_attrs_eq(const struct tl_attrs *a, const struct tl_attrs *b)
{
	if (a->n != b->n || a->dropped != b->dropped)
		return 0;
	for (uint32_t i = 0; i < a->n; i++)
		if (!fz_kv_eq(&a->items[i], &b->items[i]))
			return 0;
	return 1;
}

/* with_ext: also compare the fields the extension carries. */
static int fz_span_eq(const struct tl_span *a, const struct tl_span *b, int with_ext)
{
	if (memcmp(a->trace_id, b->trace_id, 16) || memcmp(a->span_id, b->span_id, 8) || a->has_parent != b->has_parent ||
	    (a->has_parent && memcmp(a->parent_span_id, b->parent_span_id, 8)) || !fz_str_eq(a->trace_state, b->trace_state) ||
	    a->flags != b->flags || !fz_str_eq(a->name, b->name) || a->kind != b->kind ||
	    a->start_unix_nano != b->start_unix_nano || a->end_unix_nano != b->end_unix_nano ||
	    !fz_attrs_eq(&a->attrs, &b->attrs) || a->n_events != b->n_events || a->dropped_events != b->dropped_events ||
	    a->n_links != b->n_links || a->dropped_links != b->dropped_links || a->status_code != b->status_code ||
	    !fz_str_eq(a->status_message, b->status_message))
		return 0;
	for (uint32_t i = 0; i < a->n_events; i++) {
		const struct tl_event *x = &a->events[i], *y = &b->events[i];
		if (x->time_unix_nano != y->time_unix_nano || !fz_str_eq(x->name, y->name) || !fz_attrs_eq(&x->attrs, &y->attrs))
			return 0;
	}
	for (uint32_t i = 0; i < a->n_links; i++) {
		const struct tl_link *x = &a->links[i], *y = &b->links[i];
		if (memcmp(x->trace_id, y->trace_id, 16) || memcmp(x->span_id, y->span_id, 8) ||
		    !fz_str_eq(x->trace_state, y->trace_state) || !fz_attrs_eq(&x->attrs, &y->attrs) || x->flags != y->flags)
			return 0;
	}
	if (!a->resource || !b->resource || !a->scope || !b->scope)
		return 0;
	if (!fz_attrs_eq(&a->resource->attrs, &b->resource->attrs) || !fz_str_eq(a->resource->schema_url, b->resource->schema_url) ||
	    !fz_str_eq(a->resource->service, b->resource->service))
		return 0;
	if (!fz_str_eq(a->scope->name, b->scope->name) || !fz_str_eq(a->scope->version, b->scope->version) ||
	    !fz_attrs_eq(&a->scope->attrs, &b->scope->attrs) || !fz_str_eq(a->scope->schema_url, b->scope->schema_url))
		return 0;
	if (with_ext && (a->genai.cost_nusd != b->genai.cost_nusd || !a->genai.price_unknown != !b->genai.price_unknown ||
			 !fz_str_eq(a->run.tenant, b->run.tenant)))
		return 0;
	return 1;
}

/* 1 if both batches hold equal spans in the same order, with the same grouping:
 * neighbours share a resource, and under it a scope, in a exactly when they do in b. */
static int fz_batch_eq(const struct tl_batch *a, const struct tl_batch *b, int with_ext)
{
	if (a->n_spans != b->n_spans)
		return 0;
	for (size_t i = 0; i < a->n_spans; i++) {
		if (!fz_span_eq(&a->spans[i], &b->spans[i], with_ext))
			return 0;
		if (i) {
			const struct tl_span *x = &a->spans[i], *px = x - 1, *y = &b->spans[i], *py = y - 1;
			int rx = x->resource == px->resource, ry = y->resource == py->resource;
			if (rx != ry || (rx && (x->scope == px->scope) != (y->scope == py->scope)))
				return 0;
		}
	}
	return 1;
}

/* Encodes a's spans, decodes them again (with or without extensions) and compares.
 * Returns 1 when equal, 0 when not, -1 when encoding or decoding failed. */
static int fz_roundtrip(const struct tl_batch *a, int with_ext)
{
	struct tl_buf buf;
	struct tl_arena *ar2 = tl_arena_create(64 * 1024, 0);
	const struct tl_span **ptrs = NULL;
	struct tl_batch b2;
	struct otlp_error e2;
	int ret = -1;
	tl_buf_init(&buf, 0);
	if (!ar2)
		goto out;
	ptrs = malloc((a->n_spans ? a->n_spans : 1) * sizeof *ptrs);
	if (!ptrs)
		goto out;
	for (size_t i = 0; i < a->n_spans; i++)
		ptrs[i] = &a->spans[i];
	if (otlp_encode_traces(&buf, ptrs, a->n_spans, with_ext))
		goto out;
	if ((with_ext ? otlp_decode_traces_pb_ext : otlp_decode_traces_pb)(buf.data, buf.len, ar2, NULL, &b2, &e2))
		goto out;
	ret = fz_batch_eq(a, &b2, with_ext);
out:
	free(ptrs);
	tl_buf_cleanup(&buf);
	tl_arena_destroy(ar2);
	return ret;
}

#endif
