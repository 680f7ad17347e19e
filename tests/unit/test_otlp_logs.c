/*
 * test_otlp_logs.c - unit tests for the OTLP logs decoders (src/otlp/
 * decode_logs.c) and the log helpers of src/model (model_log_time,
 * model_log_event_name): every LogRecord field, optional ids (absent, zero,
 * wrong length), Codex's zero time, Claude Code's event.name, truncation at
 * every offset, wrong wire types, JSON vectors (severity names, empty AnyValue,
 * numbers as strings) and JSON errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/otlp.h"
#include "proto/proto.h"
#include "tl_test.h"

static struct otlp_limits LIM = {32, 64u << 20};

static const uint8_t TID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t SID[8] = {1, 2, 3, 4, 5, 6, 7, 8};

struct dec {
	struct tl_arena *arena;
	struct tl_logs_batch b;
	struct otlp_error err;
	int rc;
};

static int dec_pb(struct dec *d, const void *p, size_t n)
{
	d->arena = tl_arena_create(4096, 0);
	d->rc = otlp_decode_logs_pb(p, n, d->arena, &LIM, &d->b, &d->err);
	return d->rc;
}

static int dec_json(struct dec *d, const char *s)
{
	d->arena = tl_arena_create(4096, 0);
	d->rc = otlp_decode_logs_json(s, strlen(s), d->arena, &LIM, &d->b, &d->err);
	return d->rc;
}

static void dec_free(struct dec *d)
{
	tl_arena_destroy(d->arena);
	d->arena = NULL;
}

static size_t beg(struct tl_buf *b, uint32_t f)
{
	size_t m = 0;
	pb_begin(b, f, &m);
	return m;
}

static void kv_str(struct tl_buf *b, uint32_t f, const char *k, const char *v)
{
	size_t m = beg(b, f), mv;
	pb_put_bytes(b, 1, k, strlen(k));
	mv = beg(b, 2);
	pb_put_bytes_always(b, 1, v, strlen(v));
	pb_end(b, mv);
	pb_end(b, m);
}

static void put_f64(struct tl_buf *b, uint32_t f, uint64_t v)
{
	pb_put_tag(b, f, PB_I64);
	tl_buf_append(b, &v, 8);
}

/* Wraps LogRecord payloads into a request (service.name=claude-code, scope lib). */
static void wrap(struct tl_buf *out, const struct tl_buf *records)
{
	size_t rl = beg(out, 1), r, sl, sc;
	r = beg(out, 1);
	kv_str(out, 1, "service.name", "claude-code");
	pb_end(out, r);
	sl = beg(out, 2);
	sc = beg(out, 1);
	pb_put_bytes(out, 1, "com.anthropic.claude_code.events", 32);
	pb_end(out, sc);
	tl_buf_append(out, records->data, records->len);
	pb_end(out, sl);
	pb_end(out, rl);
}

/* A full record as Claude Code sends it, plus ids and every other field. */
static void full_record(struct tl_buf *b)
{
	size_t lr = beg(b, 2), body, kvl;
	put_f64(b, 1, 0); /* time 0 is skipped by the writer: Codex shape */
	put_f64(b, 11, 1700000000000000000ull);
	pb_put_uint(b, 2, 9);
	pb_put_bytes(b, 3, "INFO", 4);
	body = beg(b, 5);
	kvl = beg(b, 6);
	kv_str(b, 1, "content", "hello");
	pb_end(b, kvl);
	pb_end(b, body);
	kv_str(b, 6, "event.name", "api_request");
	kv_str(b, 6, "input_tokens", "9");
	pb_put_uint(b, 7, 3);
	pb_put_tag(b, 8, PB_I32);
	tl_buf_append(b, "\x01\x00\x00\x00", 4);
	pb_put_bytes(b, 9, TID, 16);
	pb_put_bytes(b, 10, SID, 8);
	pb_put_bytes(b, 12, "gen_ai.choice", 13);
	pb_end(b, lr);
}

static void full_request(struct tl_buf *out)
{
	struct tl_buf r;
	tl_buf_init(&r, 0);
	full_record(&r);
	wrap(out, &r);
	tl_buf_cleanup(&r);
}

TEST(test_pb_full_record)
{
	struct tl_buf b;
	struct dec d;
	tl_buf_init(&b, 0);
	full_request(&b);
	CHECK_EQ_INT(dec_pb(&d, b.data, b.len), 0);
	CHECK_EQ_INT(d.b.n_records, 1);
	const struct tl_log_record *lr = &d.b.records[0];
	CHECK_EQ_INT(lr->time_unix_nano, 0);
	CHECK_EQ_INT(lr->observed_time_unix_nano, 1700000000000000000ull);
	CHECK_EQ_INT(model_log_time(lr), 1700000000000000000ull);
	CHECK_EQ_INT(lr->severity_number, 9);
	CHECK_STR(lr->severity_text, "INFO");
	CHECK_EQ_INT(lr->body.kind, TL_V_KVLIST);
	CHECK_EQ_INT(lr->body.u.kv.n, 1);
	CHECK_STR(lr->body.u.kv.items[0].v.u.s, "hello");
	CHECK_EQ_INT(lr->attrs.n, 2);
	CHECK_EQ_INT(lr->attrs.dropped, 3);
	CHECK_EQ_INT(lr->flags, 1);
	CHECK(lr->has_trace_id && !memcmp(lr->trace_id, TID, 16));
	CHECK(lr->has_span_id && !memcmp(lr->span_id, SID, 8));
	CHECK_STR(lr->event_name, "gen_ai.choice");
	/* the event.name attribute comes first */
	CHECK_STR(model_log_event_name(lr), "api_request");
	CHECK_STR(lr->resource->service, "claude-code");
	CHECK_STR(lr->scope->name, "com.anthropic.claude_code.events");
	dec_free(&d);
	tl_buf_cleanup(&b);
}

TEST(test_event_name_rules)
{
	struct tl_log_record r;
	struct tl_kv kv = {TL_STR_LIT("event.name"), {.kind = TL_V_STR, .u.s = TL_STR_LIT("user_prompt")}};
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(model_log_event_name(&r).n, 0);
	r.body.kind = TL_V_STR;
	r.body.u.s = TL_STR_LIT("claude_code.api_request");
	CHECK_STR(model_log_event_name(&r), "claude_code.api_request");
	r.body.u.s = TL_STR_LIT("a sentence. with spaces");
	CHECK_EQ_INT(model_log_event_name(&r).n, 0);
	r.event_name = TL_STR_LIT("gen_ai.client.inference.operation.details");
	CHECK_STR(model_log_event_name(&r), "gen_ai.client.inference.operation.details");
	r.attrs.items = &kv;
	r.attrs.n = 1;
	CHECK_STR(model_log_event_name(&r), "user_prompt");
	/* a non-string or empty event.name falls through */
	kv.v.u.s = TL_STR_NULL;
	CHECK_STR(model_log_event_name(&r), "gen_ai.client.inference.operation.details");
	r.time_unix_nano = 5;
	r.observed_time_unix_nano = 7;
	CHECK_EQ_INT(model_log_time(&r), 5);
	r.time_unix_nano = 0;
	CHECK_EQ_INT(model_log_time(&r), 7);
}

TEST(test_pb_ids)
{
	static const uint8_t zero[16];
	struct {
		const void *tid;
		size_t tn;
		const void *sid;
		size_t sn;
		int rc, has_t, has_s;
		const char *msg;
	} cases[] = {
	    {NULL, 0, NULL, 0, 0, 0, 0, NULL},
	    {TID, 16, NULL, 0, 0, 1, 0, NULL},
	    {zero, 16, zero, 8, 0, 0, 0, NULL},
	    {TID, 15, NULL, 0, TL_EID, 0, 0, "logRecords[0].traceId: must be 0 or 16 bytes, got 15"},
	    {NULL, 0, TID, 9, TL_EID, 0, 0, "logRecords[0].spanId: must be 0 or 8 bytes, got 9"},
	    {TID, 16, SID, 8, 0, 1, 1, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_buf r, b;
		struct dec d;
		tl_buf_init(&r, 0);
		tl_buf_init(&b, 0);
		size_t lr = beg(&r, 2);
		pb_put_bytes(&r, 3, "x", 1);
		if (cases[i].tid)
			pb_put_bytes_always(&r, 9, cases[i].tid, cases[i].tn);
		if (cases[i].sid)
			pb_put_bytes_always(&r, 10, cases[i].sid, cases[i].sn);
		pb_end(&r, lr);
		wrap(&b, &r);
		CHECK_EQ_INT(dec_pb(&d, b.data, b.len), cases[i].rc);
		if (!cases[i].rc) {
			CHECK_EQ_INT(d.b.records[0].has_trace_id, cases[i].has_t);
			CHECK_EQ_INT(d.b.records[0].has_span_id, cases[i].has_s);
			if (!cases[i].has_t)
				CHECK(tl_is_zero(d.b.records[0].trace_id, 16));
		} else {
			CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
			CHECK_EQ_INT(d.b.n_records, 0);
		}
		dec_free(&d);
		tl_buf_cleanup(&r);
		tl_buf_cleanup(&b);
	}
}

TEST(test_pb_truncation_every_offset)
{
	struct tl_buf b;
	size_t bad = 0;
	tl_buf_init(&b, 0);
	full_request(&b);
	for (size_t i = 1; i < b.len; i++) {
		struct dec d;
		uint8_t *cut = malloc(i);
		memcpy(cut, b.data, i);
		if (dec_pb(&d, cut, i) != TL_ETRUNC || !d.err.msg[0] || d.b.n_records)
			bad++;
		dec_free(&d);
		free(cut);
	}
	CHECK_EQ_INT(bad, 0);
	tl_buf_cleanup(&b);
}

TEST(test_pb_wrong_wire_types)
{
	struct {
		uint32_t field;
		int wire;
		const char *msg;
	} cases[] = {
	    {1, PB_VARINT, "timeUnixNano: unexpected wire type 0"},
	    {2, PB_LEN, "severityNumber: unexpected wire type 2"},
	    {8, PB_VARINT, "flags: unexpected wire type 0"},
	    {9, PB_VARINT, "traceId: unexpected wire type 0"},
	    {5, PB_VARINT, "body: unexpected wire type 0"},
	    {12, PB_I64, "eventName: unexpected wire type 1"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_buf r, b;
		struct dec d;
		tl_buf_init(&r, 0);
		tl_buf_init(&b, 0);
		size_t lr = beg(&r, 2);
		pb_put_tag(&r, cases[i].field, cases[i].wire);
		if (cases[i].wire == PB_VARINT)
			pb_put_varint(&r, 1);
		else if (cases[i].wire == PB_I64)
			tl_buf_append(&r, "12345678", 8);
		else
			pb_put_varint(&r, 0);
		pb_end(&r, lr);
		wrap(&b, &r);
		CHECK_EQ_INT(dec_pb(&d, b.data, b.len), TL_EWIRE);
		CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
		CHECK(strstr(d.err.msg, "resourceLogs[0].scopeLogs[0].logRecords[0].") == d.err.msg);
		dec_free(&d);
		tl_buf_cleanup(&r);
		tl_buf_cleanup(&b);
	}
}

TEST(test_pb_bad_utf8_and_depth)
{
	struct tl_buf r, b;
	struct dec d;
	tl_buf_init(&r, 0);
	tl_buf_init(&b, 0);
	size_t lr = beg(&r, 2);
	pb_put_bytes(&r, 3, "\xff", 1);
	pb_end(&r, lr);
	wrap(&b, &r);
	CHECK_EQ_INT(dec_pb(&d, b.data, b.len), TL_EUTF8);
	CHECK(strstr(d.err.msg, "logRecords[0].severityText: invalid UTF-8") != NULL);
	dec_free(&d);
	/* body nested 40 arrays deep */
	tl_buf_reset(&r);
	tl_buf_reset(&b);
	{
		struct tl_buf v;
		tl_buf_init(&v, 0);
		pb_put_bytes(&v, 1, "x", 1);
		for (int i = 0; i < 40; i++) {
			struct tl_buf w;
			size_t a, item;
			tl_buf_init(&w, 0);
			a = beg(&w, 5);
			item = beg(&w, 1);
			tl_buf_append(&w, v.data, v.len);
			pb_end(&w, item);
			pb_end(&w, a);
			tl_buf_reset(&v);
			tl_buf_append(&v, w.data, w.len);
			tl_buf_cleanup(&w);
		}
		lr = beg(&r, 2);
		pb_put_bytes(&r, 5, v.data, v.len);
		pb_end(&r, lr);
		tl_buf_cleanup(&v);
	}
	wrap(&b, &r);
	CHECK_EQ_INT(dec_pb(&d, b.data, b.len), TL_EDEPTH);
	/* the path is cut at the front; its end names the fault */
	CHECK(strstr(d.err.msg, "arrayValue: nesting deeper than 32") != NULL);
	dec_free(&d);
	tl_buf_cleanup(&r);
	tl_buf_cleanup(&b);
}

static const char JSON_CODEX[] =
    "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"codex_cli_rs\"}}]},"
    "\"scopeLogs\":[{\"scope\":{\"name\":\"codex\"},\"logRecords\":["
    "{\"timeUnixNano\":\"0\",\"observedTimeUnixNano\":\"1700000000000000001\",\"severityNumber\":\"SEVERITY_NUMBER_INFO\","
    "\"body\":{\"stringValue\":\"codex.sse_event\"},\"eventName\":\"codex_otel::otel_event_manager\","
    "\"attributes\":[{\"key\":\"event.name\",\"value\":{\"stringValue\":\"codex.sse_event\"}},"
    "{\"key\":\"input_token_count\",\"value\":{\"stringValue\":\"12\"}},{\"key\":\"empty\",\"value\":{}}],"
    "\"traceId\":\"\",\"spanId\":\"\",\"flags\":0,\"droppedAttributesCount\":0},"
    "{\"timeUnixNano\":1700000000000000000,\"severityNumber\":13,\"traceId\":\"0102030405060708090A0B0C0D0E0F10\","
    "\"spanId\":\"0102030405060708\",\"body\":{\"kvlistValue\":{\"values\":[{\"key\":\"role\",\"value\":{\"stringValue\":\"user\"}}]}}}"
    "]}]}]}";

TEST(test_json_records)
{
	struct dec d;
	CHECK_EQ_INT(dec_json(&d, JSON_CODEX), 0);
	CHECK_EQ_INT(d.b.n_records, 2);
	const struct tl_log_record *a = &d.b.records[0], *b = &d.b.records[1];
	CHECK_EQ_INT(a->time_unix_nano, 0);
	CHECK_EQ_INT(model_log_time(a), 1700000000000000001ull);
	CHECK_EQ_INT(a->severity_number, 9);
	CHECK_STR(model_log_event_name(a), "codex.sse_event");
	CHECK_STR(a->event_name, "codex_otel::otel_event_manager");
	CHECK_EQ_INT(a->attrs.n, 3);
	CHECK_EQ_INT(a->attrs.items[2].v.kind, TL_V_EMPTY);
	CHECK(!a->has_trace_id && !a->has_span_id);
	CHECK_STR(a->resource->service, "codex_cli_rs");
	CHECK_EQ_INT(b->severity_number, 13);
	CHECK(b->has_trace_id && !memcmp(b->trace_id, TID, 16));
	CHECK(b->has_span_id && !memcmp(b->span_id, SID, 8));
	CHECK_EQ_INT(b->body.kind, TL_V_KVLIST);
	CHECK_EQ_INT(model_log_time(b), 1700000000000000000ull);
	dec_free(&d);
}

TEST(test_json_errors)
{
	struct {
		const char *json;
		int rc;
		const char *msg;
	} cases[] = {
	    {"{", TL_EJSON, "request: invalid JSON"},
	    {"{\"resourceLogs\":1}", TL_EJSON, "resourceLogs: expected an array"},
	    {"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"traceId\":\"0102\"}]}]}]}", TL_EID,
	     "resourceLogs[0].scopeLogs[0].logRecords[0].traceId: must be 16 bytes"},
	    {"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"spanId\":\"zz02030405060708\"}]}]}]}", TL_EID,
	     "spanId: not a hex string"},
	    {"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"severityNumber\":\"LOUD\"}]}]}]}", TL_EJSON,
	     "severityNumber: unknown enum value"},
	    {"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":\"text\"}]}]}]}", TL_EJSON,
	     "logRecords[0].body: expected an AnyValue object"},
	    {"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"x\"}]}]}]}", TL_EJSON,
	     "timeUnixNano: not an unsigned decimal integer"},
	    {"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[1]}]}]}", TL_EJSON, "logRecords[0]: expected an object"},
	    {"{\"resourceLogs\":[{\"scopeLogs\":{}}]}", TL_EJSON, "resourceLogs[0].scopeLogs: expected an array"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dec d;
		CHECK_EQ_INT(dec_json(&d, cases[i].json), cases[i].rc);
		if (!strstr(d.err.msg, cases[i].msg))
			fprintf(stderr, "  case %zu: %s\n", i, d.err.msg);
		CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
		CHECK_EQ_INT(d.b.n_records, 0);
		dec_free(&d);
	}
}

TEST(test_json_matches_pb)
{
	struct tl_buf b;
	struct dec p, j;
	tl_buf_init(&b, 0);
	full_request(&b);
	CHECK_EQ_INT(dec_pb(&p, b.data, b.len), 0);
	CHECK_EQ_INT(dec_json(&j, "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
				  "{\"stringValue\":\"claude-code\"}}]},\"scopeLogs\":[{\"scope\":{\"name\":"
				  "\"com.anthropic.claude_code.events\"},\"logRecords\":[{\"observedTimeUnixNano\":"
				  "\"1700000000000000000\",\"severityNumber\":9,\"severityText\":\"INFO\",\"body\":{"
				  "\"kvlistValue\":{\"values\":[{\"key\":\"content\",\"value\":{\"stringValue\":\"hello\"}}]}},"
				  "\"attributes\":[{\"key\":\"event.name\",\"value\":{\"stringValue\":\"api_request\"}},"
				  "{\"key\":\"input_tokens\",\"value\":{\"stringValue\":\"9\"}}],\"droppedAttributesCount\":3,"
				  "\"flags\":1,\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
				  "\"eventName\":\"gen_ai.choice\"}]}]}]}"),
		     0);
	const struct tl_log_record *a = &p.b.records[0], *c = &j.b.records[0];
	CHECK_EQ_INT(a->observed_time_unix_nano, c->observed_time_unix_nano);
	CHECK_EQ_INT(a->severity_number, c->severity_number);
	CHECK_EQ_INT(a->attrs.n, c->attrs.n);
	CHECK_EQ_INT(a->attrs.dropped, c->attrs.dropped);
	CHECK_EQ_INT(a->flags, c->flags);
	CHECK(!memcmp(a->trace_id, c->trace_id, 16) && !memcmp(a->span_id, c->span_id, 8));
	CHECK_STR(c->event_name, "gen_ai.choice");
	CHECK_EQ_INT(c->body.kind, TL_V_KVLIST);
	dec_free(&p);
	dec_free(&j);
	tl_buf_cleanup(&b);
}

static const struct tl_test_case TESTS[] = {
    T(test_pb_full_record),   T(test_event_name_rules), T(test_pb_ids),
    T(test_pb_truncation_every_offset), T(test_pb_wrong_wire_types), T(test_pb_bad_utf8_and_depth),
    T(test_json_records),     T(test_json_errors),      T(test_json_matches_pb),
};

TEST_MAIN("otlp_logs", TESTS)
