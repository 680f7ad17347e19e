/*
 * common.c - helpers shared by the OTLP protobuf and JSON decoders (otlp_int.h):
 * the decoding context, the arena ceiling, path-building error messages and the
 * batch layout.
 */
#include "otlp/otlp_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void otlp__dec_init(struct otlp__dec *d, struct tl_arena *arena, const struct otlp_limits *lim,
		    int ext, struct otlp_error *err)
{
	size_t max = lim ? lim->max_arena_bytes : 0;
	size_t used = tl_arena_used(arena);
	d->arena = arena;
	d->arena_limit = max && used <= SIZE_MAX - max ? used + max : SIZE_MAX;
	d->max_depth = lim && lim->max_depth ? lim->max_depth : OTLP__DEFAULT_DEPTH;
	if (d->max_depth > OTLP__MAX_DEPTH)
		d->max_depth = OTLP__MAX_DEPTH;
	d->ext = ext;
	d->err = err;
	err->code = 0;
	err->msg[0] = 0;
}

void *otlp__alloc(struct otlp__dec *d, size_t n, size_t size)
{
	void *p;
	size_t bytes;
	if (n == 0)
		return NULL;
	if (n > SIZE_MAX / size)
		return NULL;
	bytes = n * size;
	if (bytes > d->arena_limit - tl_arena_used(d->arena) || tl_arena_used(d->arena) > d->arena_limit)
		return NULL;
	p = tl_arena_alloc(d->arena, bytes);
	if (p)
		memset(p, 0, bytes);
	return p;
}

int otlp__fail(struct otlp__dec *d, int code, const char *fmt, ...)
{
	va_list ap;
	d->err->code = code;
	va_start(ap, fmt);
	vsnprintf(d->err->msg, sizeof d->err->msg, fmt, ap);
	va_end(ap);
	return code;
}

void otlp__prefix(struct otlp__dec *d, const char *fmt, ...)
{
	char tmp[sizeof d->err->msg + 100];
	size_t cap = sizeof d->err->msg, n, ml;
	int k;
	va_list ap;
	va_start(ap, fmt);
	k = vsnprintf(tmp, 96, fmt, ap);
	va_end(ap);
	n = k < 0 ? 0 : (size_t)k < 96 ? (size_t)k : 95;
	/* A message starting with ':' is about this node itself: no dot. */
	if (d->err->msg[0] != ':')
		tmp[n++] = '.';
	ml = strlen(d->err->msg);
	memcpy(tmp + n, d->err->msg, ml + 1);
	n += ml;
	/* Too long (deep nesting): keep the end, which names the fault. */
	if (n >= cap) {
		memcpy(d->err->msg, "...", 3);
		memcpy(d->err->msg + 3, tmp + n - (cap - 4), cap - 3);
	} else {
		memcpy(d->err->msg, tmp, n + 1);
	}
}

void otlp__finish_error(struct otlp__dec *d)
{
	if (d->err->msg[0] == ':')
		otlp__prefix(d, "request");
}

static void span_defaults(struct tl_span *s)
{
	s->genai.input_tokens = TL_NONE;
	s->genai.output_tokens = TL_NONE;
	s->genai.cache_read_tokens = TL_NONE;
	s->genai.cache_write_tokens = TL_NONE;
	s->genai.reasoning_tokens = TL_NONE;
	s->genai.cost_nusd = TL_NONE;
	s->run.step = TL_NONE;
}

int otlp__batch_alloc(struct otlp__dec *d, struct tl_batch *out, size_t n_res, size_t n_scopes, size_t n_spans)
{
	out->resources = otlp__alloc(d, n_res, sizeof *out->resources);
	out->scopes = otlp__alloc(d, n_scopes, sizeof *out->scopes);
	out->spans = otlp__alloc(d, n_spans, sizeof *out->spans);
	if ((n_res && !out->resources) || (n_scopes && !out->scopes) || (n_spans && !out->spans))
		return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit (%zu spans)", n_spans);
	out->n_resources = n_res;
	out->n_scopes = n_scopes;
	out->n_spans = n_spans;
	for (size_t i = 0; i < n_spans; i++)
		span_defaults(&out->spans[i]);
	return 0;
}

void otlp__set_service(struct tl_resource *r)
{
	static const char key[] = "service.name";
	r->service = TL_STR_NULL;
	for (uint32_t i = 0; i < r->attrs.n; i++) {
		const struct tl_kv *kv = &r->attrs.items[i];
		if (kv->v.kind == TL_V_STR && kv->key.n == sizeof key - 1 && !memcmp(kv->key.p, key, sizeof key - 1)) {
			r->service = kv->v.u.s;
			return;
		}
	}
}

int otlp__utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;
	/* Attribute values are mostly ASCII: check eight bytes at a time first. */
	while (i + 8 <= n) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w & 0x8080808080808080ull)
			break;
		i += 8;
	}
	while (i < n && p[i] < 0x80)
		i++;
	return i == n || tl_utf8_valid((const char *)p + i, n - i);
}
