/*
 * test_otlp.c - unit tests for src/otlp: the protobuf decoder (vectors built with
 * the pb writer and by hand), truncation at every offset, validation errors with
 * their codes and paths, the encoder round trip, the JSON decoder and the
 * response encoders.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/otlp.h"
#include "proto/proto.h"
#include "tl_test.h"
#include "../fuzz/fuzz_otlp_common.h"

/* ---- helpers --------------------------------------------------------------- */

static const uint8_t TID[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
static const uint8_t SID[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74};
static const uint8_t PID[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73};

/* One decode into a fresh arena; the caller frees with dec_free. */
struct dec {
	struct tl_arena *arena;
	struct tl_batch b;
	struct otlp_error err;
	int rc;
};

static void dec_free(struct dec *d)
{
	tl_arena_destroy(d->arena);
	d->arena = NULL;
}

static struct otlp_limits LIM = {32, 64u << 20};

static int dec_pb(struct dec *d, const void *p, size_t n)
{
	d->arena = tl_arena_create(4096, 0);
	d->rc = otlp_decode_traces_pb(p, n, d->arena, &LIM, &d->b, &d->err);
	return d->rc;
}

static int dec_pb_ext(struct dec *d, const void *p, size_t n)
{
	d->arena = tl_arena_create(4096, 0);
	d->rc = otlp_decode_traces_pb_ext(p, n, d->arena, &LIM, &d->b, &d->err);
	return d->rc;
}

static int dec_json(struct dec *d, const char *s)
{
	d->arena = tl_arena_create(4096, 0);
	d->rc = otlp_decode_traces_json(s, strlen(s), d->arena, &LIM, &d->b, &d->err);
	return d->rc;
}

/* Message builders over the pb writer. */
static size_t beg(struct tl_buf *b, uint32_t f)
{
	size_t m = 0;
	pb_begin(b, f, &m);
	return m;
}

static void kv_str(struct tl_buf *b, uint32_t f, const char *k, const char *v, size_t vn)
{
	size_t m = beg(b, f), mv;
	pb_put_bytes(b, 1, k, strlen(k));
	mv = beg(b, 2);
	pb_put_bytes_always(b, 1, v, vn);
	pb_end(b, mv);
	pb_end(b, m);
}

static void kv_int(struct tl_buf *b, uint32_t f, const char *k, int64_t v)
{
	size_t m = beg(b, f), mv;
	pb_put_bytes(b, 1, k, strlen(k));
	mv = beg(b, 2);
	pb_put_tag(b, 3, PB_VARINT);
	pb_put_varint(b, (uint64_t)v);
	pb_end(b, mv);
	pb_end(b, m);
}

/* Wraps span bytes (a complete Span payload) into a request with one resource
 * (service.name=svc) and one scope. */
static void wrap_span(struct tl_buf *out, const void *span, size_t n)
{
	size_t rs = beg(out, 1), r, ss, sc;
	r = beg(out, 1);
	kv_str(out, 1, "service.name", "svc", 3);
	pb_end(out, r);
	ss = beg(out, 2);
	sc = beg(out, 1);
	pb_put_bytes(out, 1, "lib", 3);
	pb_end(out, sc);
	pb_put_bytes_always(out, 2, span, n);
	pb_end(out, ss);
	pb_end(out, rs);
}

/* A minimal valid span body. */
static void span_min(struct tl_buf *b)
{
	pb_put_bytes(b, 1, TID, 16);
	pb_put_bytes(b, 2, SID, 8);
	pb_put_bytes(b, 5, "op", 2);
}

/* ---- rich batch, built in C ----------------------------------------------------- */

struct rich {
	struct tl_value arr_items[3], inner_items[2], deep_items[1];
	struct tl_kv kvl_items[2], span_attrs[12], res_attrs[2], scope_attrs[1], ev_attrs[1], link_attrs[1];
	struct tl_resource res[2];
	struct tl_scope scope[2];
	struct tl_event events[2];
	struct tl_link links[1];
	struct tl_span spans[4];
	const struct tl_span *ptrs[4];
};

static struct tl_str S(const char *s)
{
	return tl_str_c(s);
}

static struct tl_str SN(const char *s, size_t n)
{
	struct tl_str r = {s, n};
	return r;
}

static void rich_build(struct rich *r)
{
	memset(r, 0, sizeof *r);
	/* Values of every kind. */
	r->deep_items[0] = (struct tl_value){.kind = TL_V_INT, .u.i = -7};
	r->inner_items[0] = (struct tl_value){.kind = TL_V_ARRAY, .u.arr = {r->deep_items, 1}};
	r->inner_items[1] = (struct tl_value){.kind = TL_V_EMPTY};
	r->kvl_items[0] = (struct tl_kv){S("inner"), {.kind = TL_V_ARRAY, .u.arr = {r->inner_items, 2}}};
	r->kvl_items[1] = (struct tl_kv){S("b"), {.kind = TL_V_BOOL, .u.b = 0}};
	r->arr_items[0] = (struct tl_value){.kind = TL_V_STR, .u.s = S("")};
	r->arr_items[1] = (struct tl_value){.kind = TL_V_DOUBLE, .u.d = -0.0};
	r->arr_items[2] = (struct tl_value){.kind = TL_V_KVLIST, .u.kv = {r->kvl_items, 2}};
	struct tl_kv *a = r->span_attrs;
	a[0] = (struct tl_kv){S("str"), {.kind = TL_V_STR, .u.s = SN("h\xc3\xa9llo\0w\xe2\x82\xac", 11)}};
	a[1] = (struct tl_kv){S("t"), {.kind = TL_V_BOOL, .u.b = 1}};
	a[2] = (struct tl_kv){S("f"), {.kind = TL_V_BOOL, .u.b = 0}};
	a[3] = (struct tl_kv){S("zero"), {.kind = TL_V_INT, .u.i = 0}};
	a[4] = (struct tl_kv){S("neg"), {.kind = TL_V_INT, .u.i = -42}};
	a[5] = (struct tl_kv){S("big"), {.kind = TL_V_INT, .u.i = 9007199254740993LL}};
	a[6] = (struct tl_kv){S("min"), {.kind = TL_V_INT, .u.i = INT64_MIN}};
	a[7] = (struct tl_kv){S("dbl"), {.kind = TL_V_DOUBLE, .u.d = 3.25}};
	a[8] = (struct tl_kv){S("nan"), {.kind = TL_V_DOUBLE, .u.d = NAN}};
	a[9] = (struct tl_kv){S("arr"), {.kind = TL_V_ARRAY, .u.arr = {r->arr_items, 3}}};
	a[10] = (struct tl_kv){S("bytes"), {.kind = TL_V_BYTES, .u.s = SN("\0\1\xff", 3)}};
	a[11] = (struct tl_kv){S(""), {.kind = TL_V_EMPTY}};
	r->res_attrs[0] = (struct tl_kv){S("service.name"), {.kind = TL_V_STR, .u.s = S("agent")}};
	r->res_attrs[1] = (struct tl_kv){S("host"), {.kind = TL_V_STR, .u.s = S("h1")}};
	r->res[0].attrs = (struct tl_attrs){r->res_attrs, 2, 3};
	r->res[0].schema_url = S("https://opentelemetry.io/schemas/1.26.0");
	r->res[0].service = S("agent");
	/* res[1] is empty: no attributes, no service. */
	r->scope_attrs[0] = (struct tl_kv){S("scope.attr"), {.kind = TL_V_INT, .u.i = 1}};
	r->scope[0] = (struct tl_scope){S("openai-instr"), S("1.2.3"), {r->scope_attrs, 1, 1}, S("s-url")};
	r->ev_attrs[0] = (struct tl_kv){S("exception.type"), {.kind = TL_V_STR, .u.s = S("E")}};
	r->events[0] = (struct tl_event){1700000000000000001ULL, S("exception"), {r->ev_attrs, 1, 2}};
	r->events[1] = (struct tl_event){0, S(""), {NULL, 0, 0}};
	r->link_attrs[0] = (struct tl_kv){S("l"), {.kind = TL_V_BOOL, .u.b = 1}};
	memcpy(r->links[0].trace_id, TID, 16);
	memcpy(r->links[0].span_id, PID, 8);
	r->links[0].trace_state = S("k=v");
	r->links[0].attrs = (struct tl_attrs){r->link_attrs, 1, 4};
	r->links[0].flags = 0x301;
	for (int i = 0; i < 4; i++) {
		struct tl_span *s = &r->spans[i];
		memcpy(s->trace_id, TID, 16);
		memcpy(s->span_id, SID, 8);
		s->span_id[7] = (uint8_t)(0x10 + i);
		s->genai.cost_nusd = TL_NONE;
		r->ptrs[i] = s;
	}
	struct tl_span *s = &r->spans[0];
	memcpy(s->parent_span_id, PID, 8);
	s->has_parent = 1;
	s->trace_state = S("rojo=00f067aa0ba902b7");
	s->flags = 0x101;
	s->name = S("chat gpt-4o");
	s->kind = TL_KIND_CLIENT;
	s->start_unix_nano = 1700000000000000000ULL;
	s->end_unix_nano = UINT64_MAX;
	s->attrs = (struct tl_attrs){r->span_attrs, 12, 5};
	s->events = r->events;
	s->n_events = 2;
	s->dropped_events = 6;
	s->links = r->links;
	s->n_links = 1;
	s->dropped_links = 7;
	s->status_code = TL_STATUS_ERROR;
	s->status_message = S("boom \xe2\x9c\x93");
	s->resource = &r->res[0];
	s->scope = &r->scope[0];
	s->genai.cost_nusd = 0;
	s->genai.price_unknown = 1;
	s->run.tenant = S("acme");
	/* Span 1 shares resource and scope; span 2 same resource, other scope; span 3 other resource. */
	r->spans[1].resource = &r->res[0];
	r->spans[1].scope = &r->scope[0];
	r->spans[1].kind = -3; /* unknown enum values survive */
	r->spans[1].status_code = 99;
	r->spans[1].genai.cost_nusd = 123456789;
	r->spans[2].resource = &r->res[0];
	r->spans[2].scope = &r->scope[1];
	r->spans[2].status_message = S("only a message");
	r->spans[3].resource = &r->res[1];
	r->spans[3].scope = &r->scope[1];
	r->spans[3].genai.cost_nusd = -5;
}

TEST(test_roundtrip_rich)
{
	struct rich r;
	struct tl_buf b;
	struct dec d;
	struct tl_batch a = {0};
	rich_build(&r);
	a.spans = r.spans;
	a.n_spans = 4;
	for (int ext = 0; ext <= 1; ext++) {
		tl_buf_init(&b, 0);
		CHECK_EQ_INT(otlp_encode_traces(&b, r.ptrs, 4, ext), 0);
		CHECK_EQ_INT(ext ? dec_pb_ext(&d, b.data, b.len) : dec_pb(&d, b.data, b.len), 0);
		CHECK_EQ_INT(d.b.n_spans, 4);
		CHECK_EQ_INT(d.b.n_resources, 2);
		CHECK_EQ_INT(d.b.n_scopes, 3);
		CHECK(fz_batch_eq(&a, &d.b, ext));
		if (d.b.n_spans == 4) {
			CHECK_STR(d.b.spans[0].resource->service, "agent");
			CHECK_EQ_INT(d.b.spans[3].resource->service.n, 0);
			CHECK(d.b.spans[0].resource == d.b.spans[2].resource);
			CHECK(d.b.spans[0].scope != d.b.spans[2].scope);
			CHECK_EQ_INT(d.b.spans[1].kind, -3);
			CHECK_EQ_INT(d.b.spans[1].status_code, 99);
			if (ext) {
				CHECK_EQ_INT(d.b.spans[0].genai.cost_nusd, 0);
				CHECK_EQ_INT(d.b.spans[0].genai.price_unknown, 1);
				CHECK_STR(d.b.spans[0].run.tenant, "acme");
				CHECK_EQ_INT(d.b.spans[1].genai.cost_nusd, 123456789);
				CHECK_EQ_INT(d.b.spans[2].genai.cost_nusd, TL_NONE);
				CHECK_EQ_INT(d.b.spans[3].genai.cost_nusd, -5);
			} else {
				CHECK_EQ_INT(d.b.spans[0].genai.cost_nusd, TL_NONE);
				CHECK_EQ_INT(d.b.spans[0].genai.price_unknown, 0);
				CHECK_EQ_INT(d.b.spans[0].run.tenant.n, 0);
			}
		}
		/* The extension fields are unknown fields to the plain decoder. */
		if (ext) {
			struct dec d2;
			CHECK_EQ_INT(dec_pb(&d2, b.data, b.len), 0);
			CHECK(fz_batch_eq(&a, &d2.b, 0));
			CHECK_EQ_INT(d2.b.spans[1].genai.cost_nusd, TL_NONE);
			dec_free(&d2);
		}
		CHECK_EQ_INT(fz_roundtrip(&d.b, ext), 1);
		dec_free(&d);
		tl_buf_cleanup(&b);
	}
}



/* ---- protobuf decoding ------------------------------------------------------- */

/* Builds a one-span request from a span body and decodes it. */
static int dec_span_body(struct dec *d, struct tl_buf *span)
{
	struct tl_buf req;
	tl_buf_init(&req, 0);
	wrap_span(&req, span->data, span->len);
	/* The body must outlive the batch: keep it in a heap copy owned by the arena user. */
	d->arena = tl_arena_create(4096, 0);
	char *copy = tl_arena_alloc(d->arena, req.len ? req.len : 1);
	memcpy(copy, req.data, req.len);
	d->rc = otlp_decode_traces_pb(copy, req.len, d->arena, &LIM, &d->b, &d->err);
	tl_buf_cleanup(&req);
	return d->rc;
}

TEST(test_pb_hand_vector)
{
	/* A request written byte by byte: flags uses the two-byte tag 85 01. */
	static const uint8_t span[] = {
		0x0a, 0x10, 0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c, /* traceId */
		0x12, 0x08, 0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74,                                                 /* spanId */
		0x22, 0x08, 0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73,                                                 /* parent */
		0x2a, 0x02, 'o', 'p',                                                                                       /* name */
		0x30, 0x02,                                                                                                 /* kind SERVER */
		0x39, 0x00, 0x48, 0x59, 0xe3, 0xfa, 0xeb, 0x6f, 0x15,                                                       /* start */
		0x41, 0x00, 0x12, 0xf4, 0x1e, 0xfb, 0xeb, 0x6f, 0x15,                                                       /* end */
		0x4a, 0x0b, 0x0a, 0x01, 'k', 0x12, 0x06, 0x0a, 0x04, 't', 'e', 's', 't',                                    /* attr k="test" */
		0x50, 0x03,                                                                                                 /* dropped attrs */
		0x7a, 0x05, 0x12, 0x01, 'x', 0x18, 0x02,                                                                    /* status */
		0x85, 0x01, 0x01, 0x03, 0x00, 0x00,                                                                         /* flags 0x301 */
	};
	uint8_t req[sizeof span + 8];
	size_t n = 0;
	struct dec d;
	req[n++] = 0x0a;
	req[n++] = (uint8_t)(sizeof span + 4);
	req[n++] = 0x12;
	req[n++] = (uint8_t)(sizeof span + 2);
	req[n++] = 0x12;
	req[n++] = (uint8_t)sizeof span;
	memcpy(req + n, span, sizeof span);
	n += sizeof span;
	CHECK_EQ_INT(dec_pb(&d, req, n), 0);
	CHECK_EQ_INT(d.b.n_spans, 1);
	if (d.b.n_spans == 1) {
		const struct tl_span *s = &d.b.spans[0];
		CHECK(!memcmp(s->trace_id, TID, 16));
		CHECK(!memcmp(s->span_id, SID, 8));
		CHECK(!memcmp(s->parent_span_id, PID, 8));
		CHECK_EQ_INT(s->has_parent, 1);
		CHECK_STR(s->name, "op");
		CHECK_EQ_INT(s->kind, TL_KIND_SERVER);
		CHECK(s->start_unix_nano == 1544712660000000000ULL);
		CHECK(s->end_unix_nano == 1544712661000000000ULL);
		CHECK_EQ_INT(s->attrs.n, 1);
		CHECK_STR(s->attrs.items[0].key, "k");
		CHECK_EQ_INT(s->attrs.items[0].v.kind, TL_V_STR);
		CHECK_STR(s->attrs.items[0].v.u.s, "test");
		CHECK_EQ_INT(s->attrs.dropped, 3);
		CHECK_EQ_INT(s->status_code, TL_STATUS_ERROR);
		CHECK_STR(s->status_message, "x");
		CHECK_EQ_INT(s->flags, 0x301);
		CHECK(s->resource != NULL && s->scope != NULL);
		CHECK_EQ_INT(s->resource->attrs.n, 0);
		CHECK_EQ_INT(s->resource->service.n, 0);
		CHECK_EQ_INT(s->scope->name.n, 0);
		CHECK_EQ_INT(s->genai.cost_nusd, TL_NONE);
		/* Zero copy: strings point into the input. */
		CHECK(s->name.p >= (const char *)req && s->name.p < (const char *)req + n);
		CHECK(d.b.arena == d.arena);
		CHECK_STR(d.b.tenant, "default");
	}
	dec_free(&d);
}

TEST(test_pb_empty_requests)
{
	static const uint8_t empty_rs[] = {0x0a, 0x00};
	static const uint8_t empty_ss[] = {0x0a, 0x02, 0x12, 0x00};
	struct dec d;
	CHECK_EQ_INT(dec_pb(&d, "", 0), 0);
	CHECK_EQ_INT(d.b.n_spans, 0);
	dec_free(&d);
	CHECK_EQ_INT(dec_pb(&d, NULL, 0), 0);
	CHECK_EQ_INT(d.b.n_spans, 0);
	dec_free(&d);
	CHECK_EQ_INT(dec_pb(&d, empty_rs, sizeof empty_rs), 0);
	CHECK_EQ_INT(d.b.n_spans, 0);
	CHECK_EQ_INT(d.b.n_resources, 1);
	dec_free(&d);
	CHECK_EQ_INT(dec_pb(&d, empty_ss, sizeof empty_ss), 0);
	CHECK_EQ_INT(d.b.n_spans, 0);
	CHECK_EQ_INT(d.b.n_scopes, 1);
	dec_free(&d);
}

/* Every AnyValue kind, decoded from writer-built protobuf. */
TEST(test_pb_values)
{
	struct tl_buf sp;
	struct dec d;
	size_t m, mv, ma, mi;
	double dv = -2.5;
	tl_buf_init(&sp, 0);
	span_min(&sp);
	kv_str(&sp, 9, "s", "gr\xc3\xbc\xc3\x9f\0x", 7);
	kv_int(&sp, 9, "neg", -1);
	kv_int(&sp, 9, "big", (1LL << 53) + 1);
	kv_int(&sp, 9, "min", INT64_MIN);
	/* bool true and an explicit false */
	m = beg(&sp, 9);
	pb_put_bytes(&sp, 1, "bt", 2);
	mv = beg(&sp, 2);
	pb_put_tag(&sp, 2, PB_VARINT);
	pb_put_varint(&sp, 1);
	pb_end(&sp, mv);
	pb_end(&sp, m);
	m = beg(&sp, 9);
	pb_put_bytes(&sp, 1, "bf", 2);
	mv = beg(&sp, 2);
	pb_put_tag(&sp, 2, PB_VARINT);
	pb_put_varint(&sp, 0);
	pb_end(&sp, mv);
	pb_end(&sp, m);
	/* double */
	m = beg(&sp, 9);
	pb_put_bytes(&sp, 1, "d", 1);
	mv = beg(&sp, 2);
	pb_put_double(&sp, 4, dv);
	pb_end(&sp, mv);
	pb_end(&sp, m);
	/* array ["a", 7, {}] */
	m = beg(&sp, 9);
	pb_put_bytes(&sp, 1, "arr", 3);
	mv = beg(&sp, 2);
	ma = beg(&sp, 5);
	mi = beg(&sp, 1);
	pb_put_bytes_always(&sp, 1, "a", 1);
	pb_end(&sp, mi);
	mi = beg(&sp, 1);
	pb_put_uint(&sp, 3, 7);
	pb_end(&sp, mi);
	mi = beg(&sp, 1);
	pb_end(&sp, mi);
	pb_end(&sp, ma);
	pb_end(&sp, mv);
	pb_end(&sp, m);
	/* kvlist {x: {y: "z"}} */
	m = beg(&sp, 9);
	pb_put_bytes(&sp, 1, "kvl", 3);
	mv = beg(&sp, 2);
	ma = beg(&sp, 6);
	{
		size_t k1 = beg(&sp, 1), v1, kl2;
		pb_put_bytes(&sp, 1, "x", 1);
		v1 = beg(&sp, 2);
		kl2 = beg(&sp, 6);
		kv_str(&sp, 1, "y", "z", 1);
		pb_end(&sp, kl2);
		pb_end(&sp, v1);
		pb_end(&sp, k1);
	}
	pb_end(&sp, ma);
	pb_end(&sp, mv);
	pb_end(&sp, m);
	/* bytes with invalid UTF-8 are fine */
	m = beg(&sp, 9);
	pb_put_bytes(&sp, 1, "b", 1);
	mv = beg(&sp, 2);
	pb_put_bytes_always(&sp, 7, "\xff\x00\xfe", 3);
	pb_end(&sp, mv);
	pb_end(&sp, m);
	/* empty AnyValue and a KeyValue with no value at all */
	m = beg(&sp, 9);
	pb_put_bytes(&sp, 1, "e", 1);
	mv = beg(&sp, 2);
	pb_end(&sp, mv);
	pb_end(&sp, m);
	m = beg(&sp, 9);
	pb_put_bytes(&sp, 1, "novalue", 7);
	pb_end(&sp, m);
	CHECK_EQ_INT(dec_span_body(&d, &sp), 0);
	if (d.rc == 0 && d.b.n_spans == 1) {
		const struct tl_attrs *a = &d.b.spans[0].attrs;
		CHECK_EQ_INT(a->n, 12);
		if (a->n == 12) {
			CHECK_EQ_INT(a->items[0].v.kind, TL_V_STR);
			CHECK_EQ_INT(a->items[0].v.u.s.n, 7);
			CHECK(!memcmp(a->items[0].v.u.s.p, "gr\xc3\xbc\xc3\x9f\0x", 7));
			CHECK_EQ_INT(a->items[1].v.kind, TL_V_INT);
			CHECK_EQ_INT(a->items[1].v.u.i, -1);
			CHECK(a->items[2].v.u.i == (1LL << 53) + 1);
			CHECK(a->items[3].v.u.i == INT64_MIN);
			CHECK_EQ_INT(a->items[4].v.kind, TL_V_BOOL);
			CHECK_EQ_INT(a->items[4].v.u.b, 1);
			CHECK_EQ_INT(a->items[5].v.kind, TL_V_BOOL);
			CHECK_EQ_INT(a->items[5].v.u.b, 0);
			CHECK_EQ_INT(a->items[6].v.kind, TL_V_DOUBLE);
			CHECK(a->items[6].v.u.d == -2.5);
			CHECK_EQ_INT(a->items[7].v.kind, TL_V_ARRAY);
			CHECK_EQ_INT(a->items[7].v.u.arr.n, 3);
			if (a->items[7].v.u.arr.n == 3) {
				CHECK_STR(a->items[7].v.u.arr.items[0].u.s, "a");
				CHECK_EQ_INT(a->items[7].v.u.arr.items[1].u.i, 7);
				CHECK_EQ_INT(a->items[7].v.u.arr.items[2].kind, TL_V_EMPTY);
			}
			CHECK_EQ_INT(a->items[8].v.kind, TL_V_KVLIST);
			CHECK_EQ_INT(a->items[8].v.u.kv.n, 1);
			if (a->items[8].v.u.kv.n == 1) {
				const struct tl_kv *x = &a->items[8].v.u.kv.items[0];
				CHECK_STR(x->key, "x");
				CHECK_EQ_INT(x->v.kind, TL_V_KVLIST);
				CHECK_EQ_INT(x->v.u.kv.n, 1);
				if (x->v.u.kv.n == 1)
					CHECK_STR(x->v.u.kv.items[0].v.u.s, "z");
			}
			CHECK_EQ_INT(a->items[9].v.kind, TL_V_BYTES);
			CHECK_EQ_INT(a->items[9].v.u.s.n, 3);
			CHECK_EQ_INT(a->items[10].v.kind, TL_V_EMPTY);
			CHECK_STR(a->items[11].key, "novalue");
			CHECK_EQ_INT(a->items[11].v.kind, TL_V_EMPTY);
		}
		CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
	}
	dec_free(&d);
	tl_buf_cleanup(&sp);
}

/* Appends one unknown field of each wire type (numbers chosen unused at every level). */
static void put_unknown(struct tl_buf *b)
{
	uint64_t x = 0x1122334455667788ull;
	uint32_t y = 0xdeadbeef;
	pb_put_uint(b, 999, 12345);
	pb_put_tag(b, 998, PB_I64);
	tl_buf_append(b, &x, 8);
	pb_put_bytes(b, 997, "junk", 4);
	pb_put_tag(b, 996, PB_I32);
	tl_buf_append(b, &y, 4);
	pb_put_uint(b, 100000, 1); /* a multi-byte tag */
}

/* The rich batch, written by hand with unknown fields at every level when noise
 * is set, so the decoded result must not depend on them. */
static void build_noisy(struct tl_buf *b, int noise)
{
	size_t rs, r, ss, sc, s, ev, ln, st, kv, v, arr, it;
#define NOISE() \
	do { \
		if (noise) \
			put_unknown(b); \
	} while (0)
	NOISE();
	rs = beg(b, 1);
	NOISE();
	r = beg(b, 1);
	NOISE();
	kv_str(b, 1, "service.name", "svc", 3);
	pb_put_uint(b, 2, 4);
	pb_end(b, r);
	ss = beg(b, 2);
	NOISE();
	sc = beg(b, 1);
	NOISE();
	pb_put_bytes(b, 1, "scope", 5);
	pb_put_bytes(b, 2, "1.0", 3);
	kv_int(b, 3, "sa", 5);
	pb_put_uint(b, 4, 2);
	pb_end(b, sc);
	s = beg(b, 2);
	NOISE();
	pb_put_bytes(b, 1, TID, 16);
	pb_put_bytes(b, 2, SID, 8);
	pb_put_bytes(b, 3, "a=b", 3);
	pb_put_bytes(b, 4, PID, 8);
	pb_put_bytes(b, 5, "name", 4);
	pb_put_uint(b, 6, 3);
	pb_put_fixed64(b, 7, 100);
	pb_put_fixed64(b, 8, 200);
	kv = beg(b, 9);
	NOISE();
	pb_put_bytes(b, 1, "k", 1);
	v = beg(b, 2);
	NOISE();
	arr = beg(b, 5);
	NOISE();
	it = beg(b, 1);
	NOISE();
	pb_put_uint(b, 3, 9);
	pb_end(b, it);
	pb_end(b, arr);
	pb_end(b, v);
	pb_end(b, kv);
	pb_put_uint(b, 10, 1);
	ev = beg(b, 11);
	NOISE();
	pb_put_fixed64(b, 1, 150);
	pb_put_bytes(b, 2, "ev", 2);
	kv_str(b, 3, "ek", "ev", 2);
	pb_put_uint(b, 4, 8);
	pb_end(b, ev);
	pb_put_uint(b, 12, 2);
	ln = beg(b, 13);
	NOISE();
	pb_put_bytes(b, 1, TID, 16);
	pb_put_bytes(b, 2, PID, 8);
	pb_put_bytes(b, 3, "ts", 2);
	kv_int(b, 4, "lk", -1);
	pb_put_uint(b, 5, 9);
	pb_put_fixed32(b, 6, 0x100);
	pb_end(b, ln);
	pb_put_uint(b, 14, 3);
	st = beg(b, 15);
	NOISE();
	pb_put_bytes(b, 2, "bad", 3);
	pb_put_uint(b, 3, 2);
	pb_end(b, st);
	pb_put_fixed32(b, 16, 1);
	NOISE();
	pb_end(b, s);
	pb_put_bytes(b, 3, "scope-schema", 12);
	NOISE();
	pb_end(b, ss);
	pb_put_bytes(b, 3, "res-schema", 10);
	NOISE();
	pb_end(b, rs);
	NOISE();
#undef NOISE
}

TEST(test_pb_unknown_fields_skipped)
{
	struct tl_buf clean, noisy;
	struct dec a, b;
	tl_buf_init(&clean, 0);
	tl_buf_init(&noisy, 0);
	build_noisy(&clean, 0);
	build_noisy(&noisy, 1);
	CHECK(noisy.len > clean.len + 100);
	CHECK_EQ_INT(dec_pb(&a, clean.data, clean.len), 0);
	CHECK_EQ_INT(dec_pb(&b, noisy.data, noisy.len), 0);
	CHECK_EQ_INT(a.b.n_spans, 1);
	CHECK(fz_batch_eq(&a.b, &b.b, 0));
	if (a.b.n_spans == 1) {
		const struct tl_span *s = &a.b.spans[0];
		CHECK_STR(s->resource->service, "svc");
		CHECK_EQ_INT(s->resource->attrs.dropped, 4);
		CHECK_STR(s->resource->schema_url, "res-schema");
		CHECK_STR(s->scope->name, "scope");
		CHECK_STR(s->scope->version, "1.0");
		CHECK_STR(s->scope->schema_url, "scope-schema");
		CHECK_EQ_INT(s->scope->attrs.n, 1);
		CHECK_EQ_INT(s->scope->attrs.dropped, 2);
		CHECK_STR(s->trace_state, "a=b");
		CHECK_EQ_INT(s->kind, TL_KIND_CLIENT);
		CHECK_EQ_INT(s->start_unix_nano, 100);
		CHECK_EQ_INT(s->end_unix_nano, 200);
		CHECK_EQ_INT(s->attrs.n, 1);
		CHECK_EQ_INT(s->attrs.dropped, 1);
		CHECK_EQ_INT(s->attrs.items[0].v.kind, TL_V_ARRAY);
		CHECK_EQ_INT(s->n_events, 1);
		CHECK_EQ_INT(s->events[0].time_unix_nano, 150);
		CHECK_STR(s->events[0].name, "ev");
		CHECK_EQ_INT(s->events[0].attrs.n, 1);
		CHECK_EQ_INT(s->events[0].attrs.dropped, 8);
		CHECK_EQ_INT(s->dropped_events, 2);
		CHECK_EQ_INT(s->n_links, 1);
		CHECK(!memcmp(s->links[0].span_id, PID, 8));
		CHECK_STR(s->links[0].trace_state, "ts");
		CHECK_EQ_INT(s->links[0].attrs.n, 1);
		CHECK_EQ_INT(s->links[0].attrs.items[0].v.u.i, -1);
		CHECK_EQ_INT(s->links[0].attrs.dropped, 9);
		CHECK_EQ_INT(s->links[0].flags, 0x100);
		CHECK_EQ_INT(s->dropped_links, 3);
		CHECK_EQ_INT(s->status_code, 2);
		CHECK_STR(s->status_message, "bad");
		CHECK_EQ_INT(s->flags, 1);
	}
	dec_free(&a);
	dec_free(&b);
	tl_buf_cleanup(&clean);
	tl_buf_cleanup(&noisy);
}

/* Every proper prefix of a one-ResourceSpans request is truncated. */
TEST(test_pb_truncation_every_offset)
{
	struct tl_buf b;
	struct rich r;
	int bad = 0;
	rich_build(&r);
	tl_buf_init(&b, 0);
	/* Spans 0..2 share a resource: one top-level field. */
	CHECK_EQ_INT(otlp_encode_traces(&b, r.ptrs, 3, 1), 0);
	CHECK(b.len > 300);
	for (size_t i = 1; i < b.len; i++) {
		struct dec d;
		/* A heap copy of exactly i bytes so ASan sees any over-read. */
		uint8_t *cut = malloc(i);
		memcpy(cut, b.data, i);
		if (dec_pb_ext(&d, cut, i) != TL_ETRUNC)
			bad++;
		dec_free(&d);
		free(cut);
	}
	CHECK_EQ_INT(bad, 0);
	tl_buf_cleanup(&b);
}

/* Cutting the span itself at every offset (lengths above fixed up): each result is
 * an error or a span that survives a round trip, never garbage. */
TEST(test_pb_inner_truncation)
{
	struct tl_buf sp;
	size_t errors = 0, oks = 0;
	tl_buf_init(&sp, 0);
	pb_put_bytes(&sp, 1, TID, 16);
	pb_put_bytes(&sp, 2, SID, 8);
	pb_put_bytes(&sp, 5, "name", 4);
	kv_str(&sp, 9, "key", "value", 5);
	pb_put_fixed64(&sp, 7, 5);
	pb_put_fixed32(&sp, 16, 1);
	for (size_t i = 0; i <= sp.len; i++) {
		struct tl_buf cut;
		struct dec d;
		tl_buf_init(&cut, 0);
		tl_buf_append(&cut, sp.data, i);
		if (dec_span_body(&d, &cut) == 0) {
			oks++;
			CHECK_EQ_INT(d.b.n_spans, 1);
			CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
		} else {
			errors++;
			CHECK(d.rc == TL_ETRUNC || d.rc == TL_EID);
			CHECK(strstr(d.err.msg, "spans[0]") != NULL);
		}
		dec_free(&d);
		tl_buf_cleanup(&cut);
	}
	CHECK(errors > 20);
	CHECK(oks >= 3); /* after name, after the attribute, after start, the whole */
	tl_buf_cleanup(&sp);
}

TEST(test_pb_bad_varints)
{
	static const struct {
		const char *name;
		uint8_t bytes[16];
		size_t n;
		int rc;
	} cases[] = {
		{"11-byte tag", {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 11, TL_EVARINT},
		{"tenth byte too big", {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 11, TL_EVARINT},
		{"unterminated length", {0x0a, 0x80}, 2, TL_ETRUNC},
		{"length past end", {0x0a, 0x05, 0x00}, 3, TL_ETRUNC},
		{"field zero", {0x00, 0x00}, 2, TL_EWIRE},
		{"group start", {0x0b}, 1, TL_EWIRE},
		{"group end", {0x0c}, 1, TL_EWIRE},
		{"wire type 6", {0x0e}, 1, TL_EWIRE},
		{"wire type 7", {0x0f}, 1, TL_EWIRE},
		{"resourceSpans as varint", {0x08, 0x01}, 2, TL_EWIRE},
		{"short fixed64", {0x09, 0x01, 0x02}, 3, TL_ETRUNC},
		{"short fixed32", {0x0d, 0x01}, 2, TL_ETRUNC},
		{"nested bad varint", {0x0a, 0x03, 0x12, 0x01, 0x80}, 5, TL_ETRUNC},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dec d;
		int rc = dec_pb(&d, cases[i].bytes, cases[i].n);
		if (rc != cases[i].rc)
			fprintf(stderr, "  case %s: rc %d (%s)\n", cases[i].name, rc, d.err.msg);
		CHECK_EQ_INT(rc, cases[i].rc);
		CHECK_EQ_INT(d.err.code, cases[i].rc);
		CHECK(d.err.msg[0] != 0);
		CHECK_EQ_INT(d.b.n_spans, 0);
		dec_free(&d);
	}
}

/* Span fields written with a wrong wire type. */
TEST(test_pb_wrong_wire_types)
{
	static const struct {
		uint32_t field;
		int wire;
		const char *path;
	} cases[] = {
		{1, PB_VARINT, "traceId"}, {3, PB_I32, "traceState"}, {5, PB_VARINT, "name"}, {6, PB_LEN, "kind"},
		{7, PB_VARINT, "startTimeUnixNano"}, {8, PB_I32, "endTimeUnixNano"}, {9, PB_VARINT, "attributes"},
		{10, PB_I64, "droppedAttributesCount"}, {11, PB_VARINT, "events"}, {12, PB_LEN, "droppedEventsCount"},
		{13, PB_I64, "links"}, {14, PB_I32, "droppedLinksCount"}, {15, PB_VARINT, "status"}, {16, PB_I64, "flags"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_buf sp;
		struct dec d;
		uint64_t zero = 0;
		tl_buf_init(&sp, 0);
		span_min(&sp);
		pb_put_tag(&sp, cases[i].field, cases[i].wire);
		if (cases[i].wire == PB_VARINT)
			pb_put_varint(&sp, 1);
		else if (cases[i].wire == PB_I64)
			tl_buf_append(&sp, &zero, 8);
		else if (cases[i].wire == PB_I32)
			tl_buf_append(&sp, &zero, 4);
		else
			pb_put_varint(&sp, 0);
		CHECK_EQ_INT(dec_span_body(&d, &sp), TL_EWIRE);
		if (!strstr(d.err.msg, cases[i].path) || !strstr(d.err.msg, "resourceSpans[0].scopeSpans[0].spans[0]."))
			fprintf(stderr, "  field %u: message \"%s\"\n", cases[i].field, d.err.msg);
		CHECK(strstr(d.err.msg, cases[i].path) != NULL);
		dec_free(&d);
		tl_buf_cleanup(&sp);
	}
}

TEST(test_pb_ids)
{
	static const uint8_t Z16[16] = {0}, Z8[8] = {0};
	static const struct {
		const char *name;
		const uint8_t *tid;
		size_t tn;
		const uint8_t *sid;
		size_t sn;
		const uint8_t *pid;
		size_t pn;
		int rc;
		const char *msg;
		int has_parent;
	} cases[] = {
		{"valid root", TID, 16, SID, 8, NULL, 0, 0, NULL, 0},
		{"valid child", TID, 16, SID, 8, PID, 8, 0, NULL, 1},
		{"zero parent = root", TID, 16, SID, 8, Z8, 8, 0, NULL, 0},
		{"short trace", TID, 3, SID, 8, NULL, 0, TL_EID,
		 "resourceSpans[0].scopeSpans[0].spans[0].traceId: must be 16 bytes, got 3", 0},
		{"long trace", TID, 16, SID, 8, NULL, 0, 0, NULL, 0},
		{"missing trace", NULL, 0, SID, 8, NULL, 0, TL_EID, "traceId: must be 16 bytes, got 0", 0},
		{"zero trace", Z16, 16, SID, 8, NULL, 0, TL_EID, "traceId: must not be all zero", 0},
		{"short span", TID, 16, SID, 7, NULL, 0, TL_EID, "spanId: must be 8 bytes, got 7", 0},
		{"missing span", TID, 16, NULL, 0, NULL, 0, TL_EID, "spanId: must be 8 bytes, got 0", 0},
		{"zero span", TID, 16, Z8, 8, NULL, 0, TL_EID, "spanId: must not be all zero", 0},
		{"short parent", TID, 16, SID, 8, PID, 4, TL_EID, "parentSpanId: must be 0 or 8 bytes, got 4", 0},
		{"long parent", TID, 16, SID, 8, TID, 16, TL_EID, "parentSpanId: must be 0 or 8 bytes, got 16", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_buf sp;
		struct dec d;
		tl_buf_init(&sp, 0);
		if (cases[i].tid)
			pb_put_bytes_always(&sp, 1, cases[i].tid, cases[i].tn);
		if (cases[i].sid)
			pb_put_bytes_always(&sp, 2, cases[i].sid, cases[i].sn);
		if (cases[i].pid)
			pb_put_bytes_always(&sp, 4, cases[i].pid, cases[i].pn);
		int rc = dec_span_body(&d, &sp);
		if (rc != cases[i].rc || (cases[i].msg && !strstr(d.err.msg, cases[i].msg)))
			fprintf(stderr, "  case %s: rc %d \"%s\"\n", cases[i].name, rc, d.err.msg);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (cases[i].msg)
			CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
		if (rc == 0) {
			CHECK_EQ_INT(d.b.spans[0].has_parent, cases[i].has_parent);
			if (!cases[i].has_parent)
				CHECK(tl_is_zero(d.b.spans[0].parent_span_id, 8));
		}
		dec_free(&d);
		tl_buf_cleanup(&sp);
	}
}

TEST(test_pb_link_ids)
{
	static const struct {
		const uint8_t *tid;
		size_t tn;
		const uint8_t *sid;
		size_t sn;
		int rc;
		const char *msg;
	} cases[] = {
		{TID, 16, PID, 8, 0, NULL},
		{TID, 15, PID, 8, TL_EID, "spans[0].links[1].traceId: must be 16 bytes, got 15"},
		{TID, 16, PID, 0, TL_EID, "spans[0].links[1].spanId: must be 8 bytes, got 0"},
		{TID, 16, (const uint8_t *)"\0\0\0\0\0\0\0\0", 8, TL_EID, "links[1].spanId: must not be all zero"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_buf sp;
		struct dec d;
		size_t m;
		tl_buf_init(&sp, 0);
		span_min(&sp);
		m = beg(&sp, 13); /* a valid first link */
		pb_put_bytes(&sp, 1, TID, 16);
		pb_put_bytes(&sp, 2, SID, 8);
		pb_end(&sp, m);
		m = beg(&sp, 13);
		pb_put_bytes_always(&sp, 1, cases[i].tid, cases[i].tn);
		pb_put_bytes_always(&sp, 2, cases[i].sid, cases[i].sn);
		pb_end(&sp, m);
		CHECK_EQ_INT(dec_span_body(&d, &sp), cases[i].rc);
		if (cases[i].msg)
			CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
		else
			CHECK_EQ_INT(d.b.spans[0].n_links, 2);
		dec_free(&d);
		tl_buf_cleanup(&sp);
	}
}

/* Invalid UTF-8 in each kind of string field. */
TEST(test_pb_utf8)
{
	static const char *const bad[] = {"\xff", "a\xc0\xafz", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"};
	enum { NAME, KEY, VALUE, STATE, STATUS, EVENT, SCOPE, NESTED, N_WHERE };
	static const char *const where[] = {"spans[0].name", "attributes[0].key", "attributes[0].value.stringValue",
					    "traceState", "status.message", "events[0].name", "scope.name",
					    "arrayValue.values[0].stringValue"};
	for (size_t bi = 0; bi < sizeof bad / sizeof bad[0]; bi++) {
		for (int w = 0; w < N_WHERE; w++) {
			struct tl_buf sp, req;
			struct dec d;
			const char *s = bad[bi];
			size_t m, mv, ma, mi;
			tl_buf_init(&sp, 0);
			tl_buf_init(&req, 0);
			pb_put_bytes(&sp, 1, TID, 16);
			pb_put_bytes(&sp, 2, SID, 8);
			pb_put_bytes(&sp, 5, w == NAME ? s : "ok", strlen(w == NAME ? s : "ok"));
			if (w == KEY)
				kv_str(&sp, 9, s, "v", 1);
			if (w == VALUE)
				kv_str(&sp, 9, "k", s, strlen(s));
			if (w == STATE)
				pb_put_bytes(&sp, 3, s, strlen(s));
			if (w == STATUS) {
				m = beg(&sp, 15);
				pb_put_bytes(&sp, 2, s, strlen(s));
				pb_end(&sp, m);
			}
			if (w == EVENT) {
				m = beg(&sp, 11);
				pb_put_bytes(&sp, 2, s, strlen(s));
				pb_end(&sp, m);
			}
			if (w == NESTED) {
				m = beg(&sp, 9);
				pb_put_bytes(&sp, 1, "k", 1);
				mv = beg(&sp, 2);
				ma = beg(&sp, 5);
				mi = beg(&sp, 1);
				pb_put_bytes(&sp, 1, s, strlen(s));
				pb_end(&sp, mi);
				pb_end(&sp, ma);
				pb_end(&sp, mv);
				pb_end(&sp, m);
			}
			if (w == SCOPE) {
				size_t rs = beg(&req, 1), ss = beg(&req, 2), sc = beg(&req, 1);
				pb_put_bytes(&req, 1, s, strlen(s));
				pb_end(&req, sc);
				pb_put_bytes_always(&req, 2, sp.data, sp.len);
				pb_end(&req, ss);
				pb_end(&req, rs);
				CHECK_EQ_INT(dec_pb(&d, req.data, req.len), TL_EUTF8);
			} else {
				CHECK_EQ_INT(dec_span_body(&d, &sp), TL_EUTF8);
			}
			if (!strstr(d.err.msg, where[w]))
				fprintf(stderr, "  bad %zu where %d: \"%s\"\n", bi, w, d.err.msg);
			CHECK(strstr(d.err.msg, where[w]) != NULL);
			dec_free(&d);
			tl_buf_cleanup(&sp);
			tl_buf_cleanup(&req);
		}
	}
}

/* A value nested n arrays deep: [[[...[1]...]]]. */
static void nested_value(struct tl_buf *b, int n)
{
	/* Built inside out: each level wraps the previous AnyValue bytes. */
	struct tl_buf cur, next;
	tl_buf_init(&cur, 0);
	pb_put_uint(&cur, 3, 1);
	for (int i = 0; i < n; i++) {
		size_t ma, mi;
		tl_buf_init(&next, 0);
		ma = beg(&next, 5);
		mi = beg(&next, 1);
		tl_buf_append(&next, cur.data, cur.len);
		pb_end(&next, mi);
		pb_end(&next, ma);
		tl_buf_cleanup(&cur);
		cur = next;
	}
	size_t m = beg(b, 9);
	pb_put_bytes(b, 1, "deep", 4);
	pb_put_bytes_always(b, 2, cur.data, cur.len);
	pb_end(b, m);
	tl_buf_cleanup(&cur);
}

TEST(test_pb_depth)
{
	static const struct {
		int levels;
		int rc;
	} cases[] = {{1, 0}, {31, 0}, {32, 0}, {33, TL_EDEPTH}, {5000, TL_EDEPTH}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_buf sp;
		struct dec d;
		tl_buf_init(&sp, 0);
		span_min(&sp);
		nested_value(&sp, cases[i].levels);
		CHECK_EQ_INT(dec_span_body(&d, &sp), cases[i].rc);
		if (cases[i].rc)
			CHECK(strstr(d.err.msg, "nesting deeper than 32") != NULL);
		else
			CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
		dec_free(&d);
		tl_buf_cleanup(&sp);
	}
}

/* Many spans against a small decode ceiling, and against the arena's own. */
TEST(test_pb_arena_ceiling)
{
	struct tl_buf req, sp;
	struct otlp_limits lim = {32, 64 * 1024};
	struct tl_batch b;
	struct otlp_error e;
	struct tl_arena *a;
	size_t rs, ss;
	tl_buf_init(&req, 0);
	tl_buf_init(&sp, 0);
	span_min(&sp);
	kv_str(&sp, 9, "k", "v", 1);
	rs = beg(&req, 1);
	ss = beg(&req, 2);
	for (int i = 0; i < 1000; i++)
		pb_put_bytes(&req, 2, sp.data, sp.len);
	pb_end(&req, ss);
	pb_end(&req, rs);
	a = tl_arena_create(4096, 0);
	CHECK_EQ_INT(otlp_decode_traces_pb(req.data, req.len, a, &lim, &b, &e), TL_ETOOBIG);
	CHECK_EQ_INT(e.code, TL_ETOOBIG);
	CHECK_EQ_INT(b.n_spans, 0);
	tl_arena_destroy(a);
	/* The arena's own ceiling gives the same answer. */
	a = tl_arena_create(4096, 64 * 1024);
	CHECK_EQ_INT(otlp_decode_traces_pb(req.data, req.len, a, NULL, &b, &e), TL_ETOOBIG);
	tl_arena_destroy(a);
	/* And with room, all 1000 decode. */
	a = tl_arena_create(4096, 0);
	lim.max_arena_bytes = 16u << 20;
	CHECK_EQ_INT(otlp_decode_traces_pb(req.data, req.len, a, &lim, &b, &e), 0);
	CHECK_EQ_INT(b.n_spans, 1000);
	CHECK(b.spans[999].attrs.n == 1);
	tl_arena_destroy(a);
	tl_buf_cleanup(&req);
	tl_buf_cleanup(&sp);
}

TEST(test_pb_key_strindex_skipped)
{
	struct tl_buf sp;
	struct dec d;
	size_t m, mv;
	tl_buf_init(&sp, 0);
	span_min(&sp);
	kv_str(&sp, 9, "a", "1", 1);
	m = beg(&sp, 9);
	pb_put_uint(&sp, 3, 4); /* key_strindex */
	mv = beg(&sp, 2);
	pb_put_bytes(&sp, 1, "x", 1);
	pb_end(&sp, mv);
	pb_end(&sp, m);
	kv_str(&sp, 9, "b", "2", 1);
	CHECK_EQ_INT(dec_span_body(&d, &sp), 0);
	CHECK_EQ_INT(d.b.spans[0].attrs.n, 2);
	CHECK_STR(d.b.spans[0].attrs.items[0].key, "a");
	CHECK_STR(d.b.spans[0].attrs.items[1].key, "b");
	dec_free(&d);
	tl_buf_cleanup(&sp);
}

/* Paths name the failing span among several resources, scopes and spans. */
TEST(test_pb_error_path)
{
	struct tl_buf req, good, bad;
	struct dec d;
	size_t rs, ss;
	tl_buf_init(&req, 0);
	tl_buf_init(&good, 0);
	tl_buf_init(&bad, 0);
	span_min(&good);
	pb_put_bytes(&bad, 1, TID, 3);
	pb_put_bytes(&bad, 2, SID, 8);
	wrap_span(&req, good.data, good.len);
	rs = beg(&req, 1);
	ss = beg(&req, 2);
	pb_end(&req, ss);
	ss = beg(&req, 2);
	pb_put_bytes(&req, 2, good.data, good.len);
	pb_put_bytes(&req, 2, good.data, good.len);
	pb_put_bytes(&req, 2, bad.data, bad.len);
	pb_end(&req, ss);
	pb_end(&req, rs);
	CHECK_EQ_INT(dec_pb(&d, req.data, req.len), TL_EID);
	CHECK_EQ_STR(d.err.msg, "resourceSpans[1].scopeSpans[1].spans[2].traceId: must be 16 bytes, got 3");
	dec_free(&d);
	/* A request-level fault says so. */
	CHECK_EQ_INT(dec_pb(&d, "\x0a\x05", 2), TL_ETRUNC);
	CHECK(strncmp(d.err.msg, "request:", 8) == 0);
	dec_free(&d);
	tl_buf_cleanup(&req);
	tl_buf_cleanup(&good);
	tl_buf_cleanup(&bad);
}

TEST(test_pb_service_name_and_duplicates)
{
	struct tl_buf req, sp;
	struct dec d;
	size_t rs, r, ss;
	tl_buf_init(&req, 0);
	tl_buf_init(&sp, 0);
	span_min(&sp);
	pb_put_bytes(&sp, 5, "second", 6); /* a repeated scalar field: the last wins */
	rs = beg(&req, 1);
	r = beg(&req, 1);
	kv_int(&req, 1, "service.name", 5); /* not a string: ignored */
	kv_str(&req, 1, "service.name", "real", 4);
	kv_str(&req, 1, "service.name", "later", 5);
	pb_end(&req, r);
	ss = beg(&req, 2);
	pb_put_bytes(&req, 2, sp.data, sp.len);
	pb_end(&req, ss);
	pb_end(&req, rs);
	CHECK_EQ_INT(dec_pb(&d, req.data, req.len), 0);
	CHECK_STR(d.b.spans[0].resource->service, "real");
	CHECK_STR(d.b.spans[0].name, "second");
	dec_free(&d);
	tl_buf_cleanup(&req);
	tl_buf_cleanup(&sp);
}

TEST(test_pb_ext_fields)
{
	struct tl_buf sp;
	struct dec d;
	tl_buf_init(&sp, 0);
	span_min(&sp);
	pb_put_tag(&sp, OTLP_EXT_COST_NUSD, PB_LEN); /* wrong wire type for the extension */
	pb_put_varint(&sp, 0);
	CHECK_EQ_INT(dec_span_body(&d, &sp), 0); /* plain decoder: just an unknown field */
	dec_free(&d);
	{
		struct tl_buf req;
		tl_buf_init(&req, 0);
		wrap_span(&req, sp.data, sp.len);
		CHECK_EQ_INT(dec_pb_ext(&d, req.data, req.len), TL_EWIRE);
		dec_free(&d);
		tl_buf_cleanup(&req);
	}
	tl_buf_reset(&sp);
	span_min(&sp);
	pb_put_bytes(&sp, OTLP_EXT_TENANT, "\xff", 1);
	{
		struct tl_buf req;
		tl_buf_init(&req, 0);
		wrap_span(&req, sp.data, sp.len);
		CHECK_EQ_INT(dec_pb_ext(&d, req.data, req.len), TL_EUTF8);
		dec_free(&d);
		CHECK_EQ_INT(dec_pb(&d, req.data, req.len), 0);
		dec_free(&d);
		tl_buf_cleanup(&req);
	}
	tl_buf_cleanup(&sp);
}

/* Stress: many copies of the rich spans; round trip and a speed sanity line. */
TEST(test_pb_many_spans)
{
	struct rich r;
	const struct tl_span *ptrs[4000];
	struct tl_buf b;
	struct dec d;
	rich_build(&r);
	for (int i = 0; i < 4000; i++)
		ptrs[i] = &r.spans[i % 2]; /* spans 0 and 1 share resource and scope */
	tl_buf_init(&b, 0);
	CHECK_EQ_INT(otlp_encode_traces(&b, ptrs, 4000, 0), 0);
	CHECK_EQ_INT(dec_pb(&d, b.data, b.len), 0);
	CHECK_EQ_INT(d.b.n_spans, 4000);
	CHECK_EQ_INT(d.b.n_resources, 1);
	CHECK_EQ_INT(d.b.n_scopes, 1);
	if (d.b.n_spans == 4000) {
		CHECK(fz_span_eq(&d.b.spans[3998], &r.spans[0], 0));
		CHECK(fz_span_eq(&d.b.spans[3999], &r.spans[1], 0));
	}
	dec_free(&d);
	tl_buf_cleanup(&b);
}

/* ---- responses ------------------------------------------------------------------ */

TEST(test_responses)
{
	struct tl_buf b;
	tl_buf_init(&b, 0);
	CHECK_EQ_INT(otlp_encode_trace_response_pb(&b, 0, NULL), 0);
	CHECK_EQ_INT(b.len, 0);
	CHECK_EQ_INT(otlp_encode_trace_response_pb(&b, 0, ""), 0);
	CHECK_EQ_INT(b.len, 0);
	CHECK_EQ_INT(otlp_encode_trace_response_pb(&b, 3, "bad"), 0);
	CHECK_EQ_INT(b.len, 9);
	CHECK(!memcmp(b.data, "\x0a\x07\x08\x03\x12\x03" "bad", 9));
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_trace_response_pb(&b, 0, "warn"), 0);
	CHECK(b.len == 8 && !memcmp(b.data, "\x0a\x06\x12\x04warn", 8));
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_trace_response_json(&b, 0, NULL), 0);
	tl_buf_putc(&b, 0);
	CHECK_EQ_STR(b.data, "{}");
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_trace_response_json(&b, 3, "2 spans \"bad\"\n\\ \x01 \xc3\xa9 \xff"), 0);
	tl_buf_putc(&b, 0);
	CHECK_EQ_STR(b.data, "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"2 spans \\\"bad\\\"\\n\\\\ \\u0001 \xc3\xa9 \\ufffd\"}}");
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_status_pb(&b, 3, "no"), 0);
	CHECK(b.len == 6 && !memcmp(b.data, "\x08\x03\x12\x02no", 6));
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_status_json(&b, 3, "bad \"id\""), 0);
	tl_buf_putc(&b, 0);
	CHECK_EQ_STR(b.data, "{\"code\":3,\"message\":\"bad \\\"id\\\"\"}");
	tl_buf_reset(&b);
	/* A ceiling on the buffer is reported. */
	struct tl_buf small;
	tl_buf_init(&small, 4);
	CHECK_EQ_INT(otlp_encode_status_json(&small, 3, "a long message"), TL_ETOOBIG);
	tl_buf_cleanup(&small);
	tl_buf_cleanup(&b);
}


/* ---- JSON ------------------------------------------------------------------------ */

static const char EXAMPLE_JSON[] =
	"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"my.service\"}}]},"
	" \"scopeSpans\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\"},"
	"  \"spans\":[{\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\","
	"   \"parentSpanId\":\"EEE19B7EC3C1B173\",\"name\":\"I'm a server span\","
	"   \"startTimeUnixNano\":\"1544712660000000000\",\"endTimeUnixNano\":\"1544712661000000000\","
	"   \"kind\":2,\"attributes\":[{\"key\":\"my.span.attr\",\"value\":{\"stringValue\":\"some value\"}}]}]}]}]}";

TEST(test_json_example)
{
	struct dec d;
	CHECK_EQ_INT(dec_json(&d, EXAMPLE_JSON), 0);
	CHECK_EQ_INT(d.b.n_spans, 1);
	if (d.b.n_spans == 1) {
		const struct tl_span *s = &d.b.spans[0];
		CHECK(!memcmp(s->trace_id, TID, 16));
		CHECK(!memcmp(s->span_id, SID, 8));
		CHECK(!memcmp(s->parent_span_id, PID, 8));
		CHECK_EQ_INT(s->has_parent, 1);
		CHECK_STR(s->name, "I'm a server span");
		CHECK(s->start_unix_nano == 1544712660000000000ULL);
		CHECK(s->end_unix_nano == 1544712661000000000ULL);
		CHECK_EQ_INT(s->kind, TL_KIND_SERVER);
		CHECK_EQ_INT(s->attrs.n, 1);
		CHECK_STR(s->attrs.items[0].key, "my.span.attr");
		CHECK_STR(s->attrs.items[0].v.u.s, "some value");
		CHECK_STR(s->resource->service, "my.service");
		CHECK_STR(s->scope->name, "my.library");
		CHECK_STR(s->scope->version, "1.0.0");
		CHECK_EQ_INT(s->genai.cost_nusd, TL_NONE);
		CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
		/* Strings live in the arena, not in the JSON text. */
		CHECK(s->name.p < EXAMPLE_JSON || s->name.p >= EXAMPLE_JSON + sizeof EXAMPLE_JSON);
	}
	dec_free(&d);
}

/* Wraps span fields (besides the two ids) into a request and decodes it. */
static int dec_json_span(struct dec *d, const char *span_fields)
{
	struct tl_buf b;
	tl_buf_init(&b, 0);
	tl_buf_puts(&b, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\","
			"\"spanId\":\"eee19b7ec3c1b174\"");
	if (*span_fields)
		tl_buf_putc(&b, ',');
	tl_buf_puts(&b, span_fields);
	tl_buf_puts(&b, "}]}]}]}");
	tl_buf_putc(&b, 0);
	dec_json(d, b.data);
	tl_buf_cleanup(&b);
	return d->rc;
}

/* Wraps one attribute value object. */
static int dec_json_value(struct dec *d, const char *value)
{
	struct tl_buf b;
	tl_buf_init(&b, 0);
	tl_buf_puts(&b, "\"attributes\":[{\"key\":\"k\",\"value\":");
	tl_buf_puts(&b, value);
	tl_buf_puts(&b, "}]");
	tl_buf_putc(&b, 0);
	dec_json_span(d, b.data);
	tl_buf_cleanup(&b);
	return d->rc;
}

TEST(test_json_values)
{
	static const struct {
		const char *json;
		int rc;
		int kind;
		int64_t i;
		const char *s;
		size_t sn;
	} cases[] = {
		{"{\"stringValue\":\"h\\u00e9\\u0000x\"}", 0, TL_V_STR, 0, "h\xc3\xa9\0x", 5},
		{"{\"stringValue\":\"\"}", 0, TL_V_STR, 0, "", 0},
		{"{\"boolValue\":true}", 0, TL_V_BOOL, 1, NULL, 0},
		{"{\"boolValue\":false}", 0, TL_V_BOOL, 0, NULL, 0},
		{"{\"intValue\":\"10\"}", 0, TL_V_INT, 10, NULL, 0},
		{"{\"intValue\":10}", 0, TL_V_INT, 10, NULL, 0},
		{"{\"intValue\":\"-42\"}", 0, TL_V_INT, -42, NULL, 0},
		{"{\"intValue\":\"9007199254740993\"}", 0, TL_V_INT, 9007199254740993LL, NULL, 0},
		{"{\"intValue\":9007199254740993}", 0, TL_V_INT, 9007199254740993LL, NULL, 0},
		{"{\"intValue\":\"-9223372036854775808\"}", 0, TL_V_INT, INT64_MIN, NULL, 0},
		{"{\"intValue\":\"9223372036854775807\"}", 0, TL_V_INT, INT64_MAX, NULL, 0},
		{"{\"intValue\":2.0}", 0, TL_V_INT, 2, NULL, 0},
		{"{\"intValue\":\"9223372036854775808\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"intValue\":1.5}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"intValue\":\"1.5\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"intValue\":\"12a\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"intValue\":\"\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"intValue\":true}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"bytesValue\":\"AAH/\"}", 0, TL_V_BYTES, 0, "\0\1\xff", 3},
		{"{\"bytesValue\":\"aGk=\"}", 0, TL_V_BYTES, 0, "hi", 2},
		{"{\"bytesValue\":\"aA==\"}", 0, TL_V_BYTES, 0, "h", 1},
		{"{\"bytesValue\":\"\"}", 0, TL_V_BYTES, 0, "", 0},
		{"{\"bytesValue\":\"aGk\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"bytesValue\":\"a===\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"bytesValue\":\"aG=k\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"bytesValue\":\"aA==aA==\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"bytesValue\":\"a-_b\"}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"bytesValue\":5}", TL_EJSON, 0, 0, NULL, 0},
		{"{}", 0, TL_V_EMPTY, 0, NULL, 0},
		{"{\"unknownValue\":1}", 0, TL_V_EMPTY, 0, NULL, 0},
		{"{\"stringValue\":null}", 0, TL_V_EMPTY, 0, NULL, 0},
		{"{\"stringValue\":5}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"boolValue\":\"true\"}", TL_EJSON, 0, 0, NULL, 0},
		{"\"plain\"", TL_EJSON, 0, 0, NULL, 0},
		{"{\"arrayValue\":{}}", 0, TL_V_ARRAY, 0, NULL, 0},
		{"{\"arrayValue\":{\"values\":{}}}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"arrayValue\":[]}", TL_EJSON, 0, 0, NULL, 0},
		{"{\"kvlistValue\":{\"values\":[{\"key\":\"a\"}]}}", 0, TL_V_KVLIST, 0, NULL, 0},
		{"{\"kvlistValue\":{\"values\":[5]}}", TL_EJSON, 0, 0, NULL, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dec d;
		int rc = dec_json_value(&d, cases[i].json);
		if (rc != cases[i].rc)
			fprintf(stderr, "  case %s: rc %d \"%s\"\n", cases[i].json, rc, d.err.msg);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (rc == 0 && d.b.n_spans == 1 && d.b.spans[0].attrs.n == 1) {
			const struct tl_value *v = &d.b.spans[0].attrs.items[0].v;
			CHECK_EQ_INT(v->kind, cases[i].kind);
			if (v->kind == TL_V_INT || v->kind == TL_V_BOOL)
				CHECK(((v->kind == TL_V_INT) ? v->u.i : v->u.b) == cases[i].i);
			if (cases[i].s) {
				CHECK_EQ_INT(v->u.s.n, cases[i].sn);
				CHECK(v->u.s.n == cases[i].sn && !memcmp(v->u.s.p, cases[i].s, cases[i].sn));
			}
			CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
		} else if (rc) {
			CHECK(strstr(d.err.msg, "spans[0].attributes[0].value") != NULL);
		}
		dec_free(&d);
	}
}

TEST(test_json_doubles)
{
	static const struct {
		const char *json;
		int rc;
		double d;
		int nan;
	} cases[] = {
		{"637.704", 0, 637.704, 0}, {"3", 0, 3.0, 0}, {"-1e300", 0, -1e300, 0}, {"\"NaN\"", 0, 0, 1},
		{"\"Infinity\"", 0, INFINITY, 0}, {"\"-Infinity\"", 0, -INFINITY, 0}, {"\"2.5\"", 0, 2.5, 0},
		{"\"nan\"", TL_EJSON, 0, 0}, {"\"inf\"", TL_EJSON, 0, 0}, {"\"abc\"", TL_EJSON, 0, 0}, {"true", TL_EJSON, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char v[128];
		struct dec d;
		snprintf(v, sizeof v, "{\"doubleValue\":%s}", cases[i].json);
		CHECK_EQ_INT(dec_json_value(&d, v), cases[i].rc);
		if (d.rc == 0) {
			const struct tl_value *x = &d.b.spans[0].attrs.items[0].v;
			CHECK_EQ_INT(x->kind, TL_V_DOUBLE);
			if (cases[i].nan)
				CHECK(isnan(x->u.d));
			else
				CHECK(x->u.d == cases[i].d);
			CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
		}
		dec_free(&d);
	}
}

TEST(test_json_span_fields)
{
	static const char fields[] =
		"\"traceState\":\"k=v\",\"parentSpanId\":\"eee19b7ec3c1b173\",\"flags\":257,\"name\":\"n\","
		"\"kind\":\"SPAN_KIND_CLIENT\",\"startTimeUnixNano\":1544712660000000000,"
		"\"endTimeUnixNano\":\"18446744073709551615\",\"droppedAttributesCount\":\"3\","
		"\"events\":[{\"timeUnixNano\":\"5\",\"name\":\"e\",\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":1}}],"
		"\"droppedAttributesCount\":2},{}],\"droppedEventsCount\":4,"
		"\"links\":[{\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B173\",\"traceState\":\"x\","
		"\"attributes\":[],\"droppedAttributesCount\":1,\"flags\":768}],\"droppedLinksCount\":6,"
		"\"status\":{\"code\":\"STATUS_CODE_ERROR\",\"message\":\"boom\"},\"unknownField\":{\"x\":[1,2]},"
		"\"dropped_links_count\":99";
	struct dec d;
	CHECK_EQ_INT(dec_json_span(&d, fields), 0);
	if (d.rc == 0) {
		const struct tl_span *s = &d.b.spans[0];
		CHECK_STR(s->trace_state, "k=v");
		CHECK_EQ_INT(s->has_parent, 1);
		CHECK(!memcmp(s->parent_span_id, PID, 8));
		CHECK_EQ_INT(s->flags, 257);
		CHECK_STR(s->name, "n");
		CHECK_EQ_INT(s->kind, TL_KIND_CLIENT);
		CHECK(s->start_unix_nano == 1544712660000000000ULL);
		CHECK(s->end_unix_nano == UINT64_MAX);
		CHECK_EQ_INT(s->attrs.dropped, 3);
		CHECK_EQ_INT(s->n_events, 2);
		CHECK_EQ_INT(s->events[0].time_unix_nano, 5);
		CHECK_STR(s->events[0].name, "e");
		CHECK_EQ_INT(s->events[0].attrs.n, 1);
		CHECK_EQ_INT(s->events[0].attrs.dropped, 2);
		CHECK_EQ_INT(s->events[1].name.n, 0);
		CHECK_EQ_INT(s->dropped_events, 4);
		CHECK_EQ_INT(s->n_links, 1);
		CHECK(!memcmp(s->links[0].trace_id, TID, 16));
		CHECK(!memcmp(s->links[0].span_id, PID, 8));
		CHECK_STR(s->links[0].trace_state, "x");
		CHECK_EQ_INT(s->links[0].attrs.dropped, 1);
		CHECK_EQ_INT(s->links[0].flags, 768);
		CHECK_EQ_INT(s->dropped_links, 6); /* the snake_case key is not a key */
		CHECK_EQ_INT(s->status_code, TL_STATUS_ERROR);
		CHECK_STR(s->status_message, "boom");
		CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
	}
	dec_free(&d);
}

TEST(test_json_enums_and_numbers)
{
	static const struct {
		const char *fields;
		int rc;
		int kind, code;
		uint64_t start;
	} cases[] = {
		{"\"kind\":\"SPAN_KIND_SERVER\"", 0, 2, 0, 0},
		{"\"kind\":5", 0, 5, 0, 0},
		{"\"kind\":\"3\"", 0, 3, 0, 0},
		{"\"kind\":9", 0, 9, 0, 0}, /* unknown values kept */
		{"\"kind\":\"SPAN_KIND_BOGUS\"", TL_EJSON, 0, 0, 0},
		{"\"kind\":\"span_kind_server\"", TL_EJSON, 0, 0, 0},
		{"\"kind\":4294967296", TL_EJSON, 0, 0, 0},
		{"\"kind\":1.5", TL_EJSON, 0, 0, 0},
		{"\"status\":{\"code\":2}", 0, 0, 2, 0},
		{"\"status\":{\"code\":\"STATUS_CODE_OK\"}", 0, 0, 1, 0},
		{"\"status\":{\"code\":[]}", TL_EJSON, 0, 0, 0},
		{"\"status\":5", TL_EJSON, 0, 0, 0},
		{"\"startTimeUnixNano\":\"1544712660000000000\"", 0, 0, 0, 1544712660000000000ULL},
		{"\"startTimeUnixNano\":1544712660000000000", 0, 0, 0, 1544712660000000000ULL},
		{"\"startTimeUnixNano\":1.5e9", 0, 0, 0, 1500000000ULL},
		{"\"startTimeUnixNano\":\"18446744073709551616\"", TL_EJSON, 0, 0, 0},
		{"\"startTimeUnixNano\":18446744073709551615", TL_EJSON, 0, 0, 0}, /* over JSON int range */
		{"\"startTimeUnixNano\":-1", TL_EJSON, 0, 0, 0},
		{"\"startTimeUnixNano\":\"-1\"", TL_EJSON, 0, 0, 0},
		{"\"startTimeUnixNano\":\" 1\"", TL_EJSON, 0, 0, 0},
		{"\"startTimeUnixNano\":{}", TL_EJSON, 0, 0, 0},
		{"\"startTimeUnixNano\":null", 0, 0, 0, 0},
		{"\"flags\":4294967296", TL_EJSON, 0, 0, 0},
		{"\"droppedAttributesCount\":-1", TL_EJSON, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dec d;
		int rc = dec_json_span(&d, cases[i].fields);
		if (rc != cases[i].rc)
			fprintf(stderr, "  case %s: rc %d \"%s\"\n", cases[i].fields, rc, d.err.msg);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (rc == 0) {
			CHECK_EQ_INT(d.b.spans[0].kind, cases[i].kind);
			CHECK_EQ_INT(d.b.spans[0].status_code, cases[i].code);
			CHECK(d.b.spans[0].start_unix_nano == cases[i].start);
		} else {
			CHECK(d.err.msg[0] != 0);
		}
		dec_free(&d);
	}
}

TEST(test_json_ids)
{
	static const struct {
		const char *tid, *sid, *pid; /* NULL = absent */
		int rc;
		const char *msg;
		int has_parent;
	} cases[] = {
		{"5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", NULL, 0, NULL, 0},
		{"5B8EFFF798038103d269b633813fc60c", "EEE19b7ec3c1b174", "EEE19B7EC3C1B173", 0, NULL, 1},
		{"5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "", 0, NULL, 0},
		{"5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "0000000000000000", 0, NULL, 0},
		{NULL, "eee19b7ec3c1b174", NULL, TL_EID, "spans[0].traceId: required", 0},
		{"", "eee19b7ec3c1b174", NULL, TL_EID, "traceId: required", 0},
		{"5b8efff798038103d269b633813fc60", "eee19b7ec3c1b174", NULL, TL_EID, "traceId: must be 16 bytes", 0},
		{"5b8efff798038103d269b633813fc60cc", "eee19b7ec3c1b174", NULL, TL_EID, "traceId: must be 16 bytes", 0},
		{"5b8efff798038103d269b633813fc6zz", "eee19b7ec3c1b174", NULL, TL_EID, "traceId: not a hex string", 0},
		{"W4//95gDgQPSabYzgT/GDA==", "eee19b7ec3c1b174", NULL, TL_EID, "traceId", 0}, /* base64 is not accepted */
		{"00000000000000000000000000000000", "eee19b7ec3c1b174", NULL, TL_EID, "traceId: must not be all zero", 0},
		{"5b8efff798038103d269b633813fc60c", "0000000000000000", NULL, TL_EID, "spanId: must not be all zero", 0},
		{"5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b17", NULL, TL_EID, "spanId: must be 8 bytes", 0},
		{"5b8efff798038103d269b633813fc60c", NULL, NULL, TL_EID, "spanId: required", 0},
		{"5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7e", TL_EID, "parentSpanId: must be 8 bytes", 0},
		{"5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b17g", TL_EID, "parentSpanId: not a hex", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[1024];
		struct dec d;
		int n = snprintf(buf, sizeof buf, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"x\"");
		if (cases[i].tid)
			n += snprintf(buf + n, sizeof buf - n, ",\"traceId\":\"%s\"", cases[i].tid);
		if (cases[i].sid)
			n += snprintf(buf + n, sizeof buf - n, ",\"spanId\":\"%s\"", cases[i].sid);
		if (cases[i].pid)
			n += snprintf(buf + n, sizeof buf - n, ",\"parentSpanId\":\"%s\"", cases[i].pid);
		snprintf(buf + n, sizeof buf - n, "}]}]}]}");
		int rc = dec_json(&d, buf);
		if (rc != cases[i].rc || (cases[i].msg && !strstr(d.err.msg, cases[i].msg)))
			fprintf(stderr, "  case %zu: rc %d \"%s\"\n", i, rc, d.err.msg);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (cases[i].msg)
			CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
		if (rc == 0)
			CHECK_EQ_INT(d.b.spans[0].has_parent, cases[i].has_parent);
		dec_free(&d);
	}
	/* A wrong JSON type for an id is a JSON error. */
	struct dec d;
	CHECK_EQ_INT(dec_json(&d, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":5}]}]}]}"), TL_EJSON);
	dec_free(&d);
}

TEST(test_json_structure_errors)
{
	static const struct {
		const char *json;
		int rc;
		const char *msg;
	} cases[] = {
		{"", TL_EJSON, "request: invalid JSON"},
		{"{", TL_EJSON, "request: invalid JSON"},
		{"[]", TL_EJSON, "request: expected an object"},
		{"{} x", TL_EJSON, "invalid JSON"},
		{"{}", 0, NULL},
		{"{\"resourceSpans\":[]}", 0, NULL},
		{"{\"resourceSpans\":null}", 0, NULL},
		{"{\"resource_spans\":[{}]}", 0, NULL},
		{"{\"resourceSpans\":{}}", TL_EJSON, "resourceSpans: expected an array"},
		{"{\"resourceSpans\":[5]}", TL_EJSON, "resourceSpans[0]: expected an object"},
		{"{\"resourceSpans\":[{\"resource\":[]}]}", TL_EJSON, "resourceSpans[0].resource: expected an object"},
		{"{\"resourceSpans\":[{\"resource\":{\"attributes\":{}}}]}", TL_EJSON, "resource.attributes: expected an array"},
		{"{\"resourceSpans\":[{\"schemaUrl\":1}]}", TL_EJSON, "resourceSpans[0].schemaUrl: expected a string"},
		{"{\"resourceSpans\":[{\"scopeSpans\":{}}]}", TL_EJSON, "scopeSpans: expected an array"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"scope\":{\"name\":7}}]}]}", TL_EJSON, "scopeSpans[0].scope.name: expected a string"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":\"x\"}]}]}", TL_EJSON, "scopeSpans[0].spans: expected an array"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[[]]}]}]}", TL_EJSON, "spans[0]: expected an object"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{},{\"spans\":[{\"name\":5}]}]}]}", TL_EID, "scopeSpans[1].spans[0].traceId"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"name\":5}]}]}]}",
		 TL_EJSON, "spans[0].name: expected a string"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"events\":[1]}]}]}]}",
		 TL_EJSON, "spans[0].events[0]: expected an object"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"links\":[{}]}]}]}]}",
		 TL_EID, "spans[0].links[0].traceId: required"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"attributes\":[{\"key\":3}]}]}]}]}",
		 TL_EJSON, "spans[0].attributes[0].key: expected a string"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"attributes\":[{\"key\":\"x\",\"keyStrindex\":3},{\"key\":\"y\"}]}]}]}]}",
		 0, NULL},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"\\ud800\"}]}]}]}", TL_EJSON, "invalid JSON"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"\xff\"}]}]}]}", TL_EJSON, "invalid JSON"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dec d;
		int rc = dec_json(&d, cases[i].json);
		if (rc != cases[i].rc || (cases[i].msg && !strstr(d.err.msg, cases[i].msg)))
			fprintf(stderr, "  case %zu: rc %d \"%s\"\n", i, rc, d.err.msg);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (cases[i].msg)
			CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
		if (rc == 0 && d.b.n_spans == 1)
			CHECK_EQ_INT(d.b.spans[0].attrs.n, 1); /* the keyStrindex case */
		dec_free(&d);
	}
}

TEST(test_json_nul_and_depth)
{
	struct dec d;
	/* NUL inside a key and inside the span name. */
	const char j[] = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\","
			 "\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"a\\u0000b\",\"attributes\":[{\"key\":\"k\\u0000\",\"value\":{}}]}]}]}]}";
	CHECK_EQ_INT(dec_json(&d, j), 0);
	if (d.rc == 0) {
		CHECK_EQ_INT(d.b.spans[0].name.n, 3);
		CHECK(!memcmp(d.b.spans[0].name.p, "a\0b", 3));
		CHECK_EQ_INT(d.b.spans[0].attrs.items[0].key.n, 2);
		CHECK_EQ_INT(d.b.spans[0].attrs.items[0].v.kind, TL_V_EMPTY);
		CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
	}
	dec_free(&d);
	/* Nesting: 32 arrays deep decodes, 33 does not; kvlists count too. */
	/* jansson itself refuses JSON nested past 2048 levels (TL_EJSON). */
	static const int levels[] = {32, 33, 400, 5000}, want[] = {0, TL_EDEPTH, TL_EDEPTH, TL_EJSON};
	for (size_t i = 0; i < 4; i++) {
		struct tl_buf b;
		tl_buf_init(&b, 0);
		for (int k = 0; k < levels[i]; k++)
			tl_buf_puts(&b, k % 2 ? "{\"arrayValue\":{\"values\":[" : "{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":");
		tl_buf_puts(&b, "{\"intValue\":1}");
		for (int k = levels[i] - 1; k >= 0; k--)
			tl_buf_puts(&b, k % 2 ? "]}}" : "}]}}");
		tl_buf_putc(&b, 0);
		int rc = dec_json_value(&d, b.data);
		CHECK_EQ_INT(rc, want[i]);
		if (rc == 0)
			CHECK_EQ_INT(fz_roundtrip(&d.b, 0), 1);
		else if (rc == TL_EDEPTH)
			CHECK(strstr(d.err.msg, "nesting deeper than 32") != NULL);
		dec_free(&d);
		tl_buf_cleanup(&b);
	}
}

TEST(test_json_arena_ceiling)
{
	struct tl_buf b;
	struct otlp_limits lim = {32, 16 * 1024};
	struct tl_arena *a = tl_arena_create(4096, 0);
	struct tl_batch out;
	struct otlp_error e;
	tl_buf_init(&b, 0);
	tl_buf_puts(&b, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
	for (int i = 0; i < 200; i++)
		tl_buf_printf(&b, "%s{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b1%02x\"}", i ? "," : "", i + 1);
	tl_buf_puts(&b, "]}]}]}");
	CHECK_EQ_INT(otlp_decode_traces_json(b.data, b.len, a, &lim, &out, &e), TL_ETOOBIG);
	lim.max_arena_bytes = 0;
	CHECK_EQ_INT(otlp_decode_traces_json(b.data, b.len, a, &lim, &out, &e), 0);
	CHECK_EQ_INT(out.n_spans, 200);
	CHECK_EQ_INT(out.spans[199].span_id[7], 200);
	tl_arena_destroy(a);
	tl_buf_cleanup(&b);
}

/* The same request as JSON and as protobuf decodes to the same batch. */
TEST(test_json_matches_pb)
{
	struct tl_buf clean;
	struct dec p, j;
	tl_buf_init(&clean, 0);
	build_noisy(&clean, 0);
	CHECK_EQ_INT(dec_pb(&p, clean.data, clean.len), 0);
	CHECK_EQ_INT(dec_json(&j,
		"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}}],"
		"\"droppedAttributesCount\":4},\"schemaUrl\":\"res-schema\",\"scopeSpans\":[{\"scope\":{\"name\":\"scope\","
		"\"version\":\"1.0\",\"attributes\":[{\"key\":\"sa\",\"value\":{\"intValue\":\"5\"}}],\"droppedAttributesCount\":2},"
		"\"schemaUrl\":\"scope-schema\",\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\","
		"\"spanId\":\"eee19b7ec3c1b174\",\"traceState\":\"a=b\",\"parentSpanId\":\"eee19b7ec3c1b173\",\"name\":\"name\","
		"\"kind\":3,\"startTimeUnixNano\":\"100\",\"endTimeUnixNano\":200,\"attributes\":[{\"key\":\"k\",\"value\":"
		"{\"arrayValue\":{\"values\":[{\"intValue\":9}]}}}],\"droppedAttributesCount\":1,\"events\":[{\"timeUnixNano\":150,"
		"\"name\":\"ev\",\"attributes\":[{\"key\":\"ek\",\"value\":{\"stringValue\":\"ev\"}}],\"droppedAttributesCount\":8}],"
		"\"droppedEventsCount\":2,\"links\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b173\","
		"\"traceState\":\"ts\",\"attributes\":[{\"key\":\"lk\",\"value\":{\"intValue\":-1}}],\"droppedAttributesCount\":9,"
		"\"flags\":256}],\"droppedLinksCount\":3,\"status\":{\"message\":\"bad\",\"code\":2},\"flags\":1}]}]}]}"),
		0);
	CHECK(fz_batch_eq(&p.b, &j.b, 0));
	dec_free(&p);
	dec_free(&j);
	tl_buf_cleanup(&clean);
}

static const struct tl_test_case TESTS[] = {
	T(test_roundtrip_rich),
	T(test_pb_hand_vector),
	T(test_pb_empty_requests),
	T(test_pb_values),
	T(test_pb_unknown_fields_skipped),
	T(test_pb_truncation_every_offset),
	T(test_pb_inner_truncation),
	T(test_pb_bad_varints),
	T(test_pb_wrong_wire_types),
	T(test_pb_ids),
	T(test_pb_link_ids),
	T(test_pb_utf8),
	T(test_pb_depth),
	T(test_pb_arena_ceiling),
	T(test_pb_key_strindex_skipped),
	T(test_pb_error_path),
	T(test_pb_service_name_and_duplicates),
	T(test_pb_ext_fields),
	T(test_pb_many_spans),
	T(test_responses),
	T(test_json_example),
	T(test_json_values),
	T(test_json_doubles),
	T(test_json_span_fields),
	T(test_json_enums_and_numbers),
	T(test_json_ids),
	T(test_json_structure_errors),
	T(test_json_nul_and_depth),
	T(test_json_arena_ceiling),
	T(test_json_matches_pb),
};

TEST_MAIN("otlp", TESTS)
