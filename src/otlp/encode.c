/*
 * encode.c - spans -> ExportTraceServiceRequest protobuf (full fidelity, so that
 * decoding the output gives back the same spans), plus the OTLP response bodies
 * (ExportTraceServiceResponse, google.rpc.Status) in protobuf and JSON.
 */
#include "otlp/otlp_int.h"
#include "proto/proto.h"

#include <string.h>

static int put_str(struct tl_buf *b, uint32_t field, struct tl_str s)
{
	return pb_put_bytes(b, field, s.p, s.n);
}

/* A varint field written even when zero (oneof members and the cost extension,
 * where zero differs from absent). */
static int put_varint_always(struct tl_buf *b, uint32_t field, uint64_t v)
{
	int rc;
	if ((rc = pb_put_tag(b, field, PB_VARINT)))
		return rc;
	return pb_put_varint(b, v);
}

static int enc_kv(struct tl_buf *b, uint32_t field, const struct tl_kv *kv);

static int enc_value(struct tl_buf *b, const struct tl_value *v)
{
	size_t m;
	int rc = 0;
	switch (v->kind) {
	case TL_V_STR:
		return pb_put_bytes_always(b, 1, v->u.s.p, v->u.s.n);
	case TL_V_BOOL:
		return put_varint_always(b, 2, v->u.b ? 1 : 0);
	case TL_V_INT:
		return put_varint_always(b, 3, (uint64_t)v->u.i);
	case TL_V_DOUBLE:
		return pb_put_double(b, 4, v->u.d);
	case TL_V_ARRAY:
		if ((rc = pb_begin(b, 5, &m)))
			return rc;
		for (uint32_t i = 0; i < v->u.arr.n; i++) {
			size_t mi;
			if ((rc = pb_begin(b, 1, &mi)) || (rc = enc_value(b, &v->u.arr.items[i])) || (rc = pb_end(b, mi)))
				return rc;
		}
		return pb_end(b, m);
	case TL_V_KVLIST:
		if ((rc = pb_begin(b, 6, &m)))
			return rc;
		for (uint32_t i = 0; i < v->u.kv.n; i++)
			if ((rc = enc_kv(b, 1, &v->u.kv.items[i])))
				return rc;
		return pb_end(b, m);
	case TL_V_BYTES:
		return pb_put_bytes_always(b, 7, v->u.s.p, v->u.s.n);
	default: /* TL_V_EMPTY: an AnyValue with nothing set */
		return 0;
	}
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A KeyValue with a scalar value, the common case, sized up front and written
 * in one go (the same bytes as the general path, without moving anything). */
static int enc_kv_scalar(struct tl_buf *b, uint32_t field, const struct tl_kv *kv)
{
	const struct tl_value *v = &kv->v;
	size_t any, kvp, total;
	int rc;
	switch (v->kind) {
	case TL_V_STR:
		any = 1 + varint_len(v->u.s.n) + v->u.s.n;
		break;
	case TL_V_BOOL:
		any = 2;
		break;
	case TL_V_INT:
		any = 1 + varint_len((uint64_t)v->u.i);
		break;
	default: /* TL_V_DOUBLE */
		any = 9;
		break;
	}
	kvp = (kv->key.n ? 1 + varint_len(kv->key.n) + kv->key.n : 0) + 1 + varint_len(any) + any;
	uint64_t tag = ((uint64_t)field << 3) | PB_LEN;
	total = varint_len(tag) + varint_len(kvp) + kvp;
	if ((rc = tl_buf_reserve(b, total)))
		return rc;
	uint8_t *p = (uint8_t *)b->data + b->len;
	p = varint_put(p, tag);
	p = varint_put(p, kvp);
	if (kv->key.n) {
		*p++ = (1 << 3) | PB_LEN;
		p = varint_put(p, kv->key.n);
		memcpy(p, kv->key.p, kv->key.n);
		p += kv->key.n;
	}
	*p++ = (2 << 3) | PB_LEN;
	p = varint_put(p, any);
	switch (v->kind) {
	case TL_V_STR:
		*p++ = (1 << 3) | PB_LEN;
		p = varint_put(p, v->u.s.n);
		if (v->u.s.n)
			memcpy(p, v->u.s.p, v->u.s.n);
		p += v->u.s.n;
		break;
	case TL_V_BOOL:
		*p++ = (2 << 3) | PB_VARINT;
		*p++ = v->u.b ? 1 : 0;
		break;
	case TL_V_INT:
		*p++ = (3 << 3) | PB_VARINT;
		p = varint_put(p, (uint64_t)v->u.i);
		break;
	default:
		*p++ = (4 << 3) | PB_I64;
		memcpy(p, &v->u.d, 8);
		p += 8;
		break;
	}
	b->len += total;
	b->data[b->len] = 0;
	return 0;
}

static int enc_kv(struct tl_buf *b, uint32_t field, const struct tl_kv *kv)
{
	size_t m, mv;
	int rc;
	if (kv->v.kind == TL_V_STR || kv->v.kind == TL_V_BOOL || kv->v.kind == TL_V_INT || kv->v.kind == TL_V_DOUBLE)
		return enc_kv_scalar(b, field, kv);
	if ((rc = pb_begin(b, field, &m)) || (rc = put_str(b, 1, kv->key)) || (rc = pb_begin(b, 2, &mv)) ||
	    (rc = enc_value(b, &kv->v)) || (rc = pb_end(b, mv)))
		return rc;
	return pb_end(b, m);
}

/* Writes attributes as repeated KeyValue field f_attrs and the dropped count as f_dropped. */
static int enc_attrs(struct tl_buf *b, uint32_t f_attrs, uint32_t f_dropped, const struct tl_attrs *a)
{
	int rc;
	for (uint32_t i = 0; i < a->n; i++)
		if ((rc = enc_kv(b, f_attrs, &a->items[i])))
			return rc;
	return pb_put_uint(b, f_dropped, a->dropped);
}

static int enc_event(struct tl_buf *b, const struct tl_event *e)
{
	size_t m;
	int rc;
	if ((rc = pb_begin(b, 11, &m)) || (rc = pb_put_fixed64(b, 1, e->time_unix_nano)) || (rc = put_str(b, 2, e->name)) ||
	    (rc = enc_attrs(b, 3, 4, &e->attrs)))
		return rc;
	return pb_end(b, m);
}

static int enc_link(struct tl_buf *b, const struct tl_link *l)
{
	size_t m;
	int rc;
	if ((rc = pb_begin(b, 13, &m)) || (rc = pb_put_bytes_always(b, 1, l->trace_id, 16)) ||
	    (rc = pb_put_bytes_always(b, 2, l->span_id, 8)) || (rc = put_str(b, 3, l->trace_state)) ||
	    (rc = enc_attrs(b, 4, 5, &l->attrs)) || (rc = pb_put_fixed32(b, 6, l->flags)))
		return rc;
	return pb_end(b, m);
}

static int enc_span(struct tl_buf *b, const struct tl_span *s, int with_ext)
{
	size_t m, ms;
	int rc;
	if ((rc = pb_begin(b, 2, &m)) || (rc = pb_put_bytes_always(b, 1, s->trace_id, 16)) ||
	    (rc = pb_put_bytes_always(b, 2, s->span_id, 8)) || (rc = put_str(b, 3, s->trace_state)))
		return rc;
	if (s->has_parent && (rc = pb_put_bytes_always(b, 4, s->parent_span_id, 8)))
		return rc;
	/* Enums are int32: a negative one sign-extends to a 10-byte varint. */
	if ((rc = put_str(b, 5, s->name)) || (rc = pb_put_int64(b, 6, (int64_t)s->kind)) ||
	    (rc = pb_put_fixed64(b, 7, s->start_unix_nano)) || (rc = pb_put_fixed64(b, 8, s->end_unix_nano)) ||
	    (rc = enc_attrs(b, 9, 10, &s->attrs)))
		return rc;
	for (uint32_t i = 0; i < s->n_events; i++)
		if ((rc = enc_event(b, &s->events[i])))
			return rc;
	if ((rc = pb_put_uint(b, 12, s->dropped_events)))
		return rc;
	for (uint32_t i = 0; i < s->n_links; i++)
		if ((rc = enc_link(b, &s->links[i])))
			return rc;
	if ((rc = pb_put_uint(b, 14, s->dropped_links)))
		return rc;
	if (s->status_code || s->status_message.n) {
		if ((rc = pb_begin(b, 15, &ms)) || (rc = put_str(b, 2, s->status_message)) ||
		    (rc = pb_put_int64(b, 3, (int64_t)s->status_code)) || (rc = pb_end(b, ms)))
			return rc;
	}
	if ((rc = pb_put_fixed32(b, 16, s->flags)))
		return rc;
	if (with_ext) {
		if (s->genai.cost_nusd != TL_NONE && (rc = put_varint_always(b, OTLP_EXT_COST_NUSD, (uint64_t)s->genai.cost_nusd)))
			return rc;
		if ((rc = pb_put_bool(b, OTLP_EXT_PRICE_UNKNOWN, s->genai.price_unknown)) ||
		    (rc = put_str(b, OTLP_EXT_TENANT, s->run.tenant)))
			return rc;
	}
	return pb_end(b, m);
}

static int enc_resource(struct tl_buf *b, const struct tl_resource *r)
{
	size_t m;
	int rc;
	if ((rc = pb_begin(b, 1, &m)) || (rc = enc_attrs(b, 1, 2, &r->attrs)))
		return rc;
	return pb_end(b, m);
}

static int enc_scope(struct tl_buf *b, const struct tl_scope *sc)
{
	size_t m;
	int rc;
	if ((rc = pb_begin(b, 1, &m)) || (rc = put_str(b, 1, sc->name)) || (rc = put_str(b, 2, sc->version)) ||
	    (rc = enc_attrs(b, 3, 4, &sc->attrs)))
		return rc;
	return pb_end(b, m);
}

int otlp_encode_traces(struct tl_buf *b, const struct tl_span *const *spans, size_t n, int with_ext)
{
	size_t i = 0, mr, ms;
	int rc;
	while (i < n) {
		const struct tl_resource *res = spans[i]->resource;
		if ((rc = pb_begin(b, 1, &mr)))
			return rc;
		if (res && (rc = enc_resource(b, res)))
			return rc;
		while (i < n && spans[i]->resource == res) {
			const struct tl_scope *sc = spans[i]->scope;
			if ((rc = pb_begin(b, 2, &ms)))
				return rc;
			if (sc && (rc = enc_scope(b, sc)))
				return rc;
			for (; i < n && spans[i]->resource == res && spans[i]->scope == sc; i++)
				if ((rc = enc_span(b, spans[i], with_ext)))
					return rc;
			if (sc && (rc = put_str(b, 3, sc->schema_url)))
				return rc;
			if ((rc = pb_end(b, ms)))
				return rc;
		}
		if (res && (rc = put_str(b, 3, res->schema_url)))
			return rc;
		if ((rc = pb_end(b, mr)))
			return rc;
	}
	return 0;
}

/* ---- responses ------------------------------------------------------------- */

/* Appends s as a JSON string literal. Control characters are escaped and bytes
 * that are not valid UTF-8 become U+FFFD, so the output is always valid JSON. */
static int json_put_string(struct tl_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int rc;
	if ((rc = tl_buf_putc(b, '"')))
		return rc;
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			rc = tl_buf_append(b, esc, 2);
			p++;
		} else if (c < 0x20) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			rc = c == '\n' ? tl_buf_append(b, "\\n", 2) : c == '\t' ? tl_buf_append(b, "\\t", 2) :
			     c == '\r' ? tl_buf_append(b, "\\r", 2) : tl_buf_append(b, esc, 6);
			p++;
		} else if (c < 0x80) {
			rc = tl_buf_putc(b, (char)c);
			p++;
		} else {
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2, k;
			for (k = 1; k < len && p[k]; k++)
				;
			if (k == len && tl_utf8_valid((const char *)p, len)) {
				rc = tl_buf_append(b, p, len);
				p += len;
			} else {
				rc = tl_buf_append(b, "\\ufffd", 6);
				p++;
			}
		}
		if (rc)
			return rc;
	}
	return tl_buf_putc(b, '"');
}

int otlp_encode_trace_response_pb(struct tl_buf *b, int64_t rejected, const char *msg)
{
	size_t m;
	int rc;
	if (rejected <= 0 && (!msg || !*msg))
		return 0;
	if ((rc = pb_begin(b, 1, &m)) || (rc = pb_put_int64(b, 1, rejected > 0 ? rejected : 0)) ||
	    (rc = pb_put_bytes(b, 2, msg, msg ? strlen(msg) : 0)))
		return rc;
	return pb_end(b, m);
}

int otlp_encode_trace_response_json(struct tl_buf *b, int64_t rejected, const char *msg)
{
	int rc;
	if (rejected <= 0 && (!msg || !*msg))
		return tl_buf_puts(b, "{}");
	if ((rc = tl_buf_printf(b, "{\"partialSuccess\":{\"rejectedSpans\":\"%lld\",\"errorMessage\":",
				(long long)(rejected > 0 ? rejected : 0))) ||
	    (rc = json_put_string(b, msg)))
		return rc;
	return tl_buf_puts(b, "}}");
}

int otlp_encode_status_pb(struct tl_buf *b, int32_t code, const char *msg)
{
	int rc;
	if ((rc = pb_put_int64(b, 1, code)))
		return rc;
	return pb_put_bytes(b, 2, msg, msg ? strlen(msg) : 0);
}

int otlp_encode_status_json(struct tl_buf *b, int32_t code, const char *msg)
{
	int rc;
	if ((rc = tl_buf_printf(b, "{\"code\":%d,\"message\":", (int)code)) || (rc = json_put_string(b, msg)))
		return rc;
	return tl_buf_putc(b, '}');
}
