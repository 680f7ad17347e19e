/*
 * test_otlp_metrics.c - unit tests for the OTLP metrics decoders
 * (src/otlp/decode_metrics.c): the protocols.md 2.3 hand vector, every point
 * type built with the pb writer, packed and unpacked repeated numerics, bad
 * histograms, truncation at every offset, wrong wire types, exemplars, the
 * arena ceiling, JSON vectors (int64 as strings and numbers, NaN/Infinity, enum
 * names) and the response encoders.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/otlp.h"
#include "proto/proto.h"
#include "tl_test.h"

static struct otlp_limits LIM = {32, 64u << 20};

struct dec {
	struct tl_arena *arena;
	struct tl_metrics_batch b;
	struct otlp_error err;
	int rc;
};

static int dec_pb(struct dec *d, const void *p, size_t n)
{
	d->arena = tl_arena_create(4096, 0);
	d->rc = otlp_decode_metrics_pb(p, n, d->arena, &LIM, &d->b, &d->err);
	return d->rc;
}

static int dec_json(struct dec *d, const char *s)
{
	d->arena = tl_arena_create(4096, 0);
	d->rc = otlp_decode_metrics_json(s, strlen(s), d->arena, &LIM, &d->b, &d->err);
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

static void put_dbl(struct tl_buf *b, uint32_t f, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	put_f64(b, f, u);
}

/* Wraps metric payloads (complete Metric messages) into a request with one
 * resource (service.name=svc) and one scope (lib 1.0). */
static void wrap(struct tl_buf *out, const struct tl_buf *metrics)
{
	size_t rm = beg(out, 1), r, sm, sc;
	r = beg(out, 1);
	kv_str(out, 1, "service.name", "svc");
	pb_end(out, r);
	sm = beg(out, 2);
	sc = beg(out, 1);
	pb_put_bytes(out, 1, "lib", 3);
	pb_put_bytes(out, 2, "1.0", 3);
	pb_end(out, sc);
	tl_buf_append(out, metrics->data, metrics->len);
	pb_end(out, sm);
	pb_end(out, rm);
}

/* Metric{name, unit, <type field>{points..., temporality, monotonic}}. The
 * caller writes the points between metric_begin and metric_end. */
struct mb {
	size_t m, data;
};

static struct mb metric_begin(struct tl_buf *b, const char *name, const char *unit, uint32_t type_field)
{
	struct mb x;
	x.m = beg(b, 2);
	pb_put_bytes(b, 1, name, strlen(name));
	pb_put_bytes(b, 2, "desc", 4);
	pb_put_bytes(b, 3, unit, strlen(unit));
	x.data = beg(b, type_field);
	return x;
}

static void metric_end(struct tl_buf *b, struct mb x, int temporality, int monotonic)
{
	pb_put_uint(b, 2, (uint64_t)temporality);
	pb_put_bool(b, 3, monotonic);
	pb_end(b, x.data);
	pb_end(b, x.m);
}

/* A histogram point: bounds and counts packed or unpacked. */
static void hist_point(struct tl_buf *b, const double *bounds, size_t nb, const uint64_t *counts, size_t nc, int packed)
{
	size_t p = beg(b, 1);
	kv_str(b, 9, "gen_ai.token.type", "input");
	put_f64(b, 2, 100);
	put_f64(b, 3, 200);
	uint64_t total = 0;
	for (size_t i = 0; i < nc; i++)
		total += counts[i];
	put_f64(b, 4, total);
	put_dbl(b, 5, 25);
	if (packed) {
		size_t m = beg(b, 6);
		tl_buf_append(b, counts, nc * 8);
		pb_end(b, m);
		m = beg(b, 7);
		tl_buf_append(b, bounds, nb * 8);
		pb_end(b, m);
	} else {
		for (size_t i = 0; i < nc; i++)
			put_f64(b, 6, counts[i]);
		for (size_t i = 0; i < nb; i++)
			put_dbl(b, 7, bounds[i]);
	}
	put_dbl(b, 11, 1);
	put_dbl(b, 12, 20);
	pb_end(b, p);
}

/* A request holding one histogram metric. */
static void hist_request(struct tl_buf *out, const double *bounds, size_t nb, const uint64_t *counts, size_t nc,
			 int packed)
{
	struct tl_buf m;
	tl_buf_init(&m, 0);
	struct mb x = metric_begin(&m, "gen_ai.client.token.usage", "{token}", 9);
	hist_point(&m, bounds, nb, counts, nc, packed);
	metric_end(&m, x, 2, 0);
	wrap(out, &m);
	tl_buf_cleanup(&m);
}

/* ---- tests ----------------------------------------------------------------------- */

static const char HAND_VECTOR[] =
    "0A AF 01 12 AC 01 12 A9 01 0A 19 67 65 6E 5F 61 69 2E 63 6C 69 65 6E 74 2E 74 6F 6B 65 6E 2E 75 73 61 67 65 "
    "1A 07 7B 74 6F 6B 65 6E 7D 4A 82 01 0A 7E 4A 1C 0A 11 67 65 6E 5F 61 69 2E 74 6F 6B 65 6E 2E 74 79 70 65 12 07 "
    "0A 05 69 6E 70 75 74 11 00 00 2A 36 FE 9C 97 17 19 00 58 71 2E 0C 9D 97 17 21 03 00 00 00 00 00 00 00 29 00 00 "
    "00 00 00 00 39 40 32 20 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00 00 "
    "00 00 00 3A 18 00 00 00 00 00 00 F0 3F 00 00 00 00 00 00 10 40 00 00 00 00 00 00 30 40 10 02";

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	unsigned v;
	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

TEST(test_hand_vector)
{
	uint8_t buf[256];
	size_t n = unhex(HAND_VECTOR, buf);
	struct dec d;
	CHECK_EQ_INT(dec_pb(&d, buf, n), 0);
	CHECK_EQ_INT(d.b.n_metrics, 1);
	CHECK_EQ_INT(d.b.n_points, 1);
	const struct tl_metric *m = &d.b.metrics[0];
	CHECK_STR(m->name, "gen_ai.client.token.usage");
	CHECK_STR(m->unit, "{token}");
	CHECK_EQ_INT(m->type, TL_METRIC_HISTOGRAM);
	CHECK_EQ_INT(m->temporality, TL_TEMP_CUMULATIVE);
	CHECK(m->resource && m->scope);
	const struct tl_metric_point *p = &m->points[0];
	CHECK_EQ_INT(p->count, 3);
	CHECK(p->has_sum && p->sum == 25);
	CHECK_EQ_INT(p->n_bounds, 3);
	CHECK_EQ_INT(p->n_bucket_counts, 4);
	CHECK(p->bounds[0] == 1 && p->bounds[1] == 4 && p->bounds[2] == 16);
	CHECK(p->bucket_counts[0] == 0 && p->bucket_counts[1] == 1 && p->bucket_counts[2] == 2 && p->bucket_counts[3] == 0);
	CHECK_EQ_INT(p->attrs.n, 1);
	CHECK_STR(p->attrs.items[0].v.u.s, "input");
	CHECK(p->start_unix_nano > 1500000000000000000ull && p->time_unix_nano > p->start_unix_nano);
	dec_free(&d);
}

/* Every point type in one request. */
static void all_types(struct tl_buf *out)
{
	struct tl_buf m;
	struct mb x;
	size_t p, q, bk;
	tl_buf_init(&m, 0);
	/* gauge, double */
	x = metric_begin(&m, "temp", "Cel", 5);
	p = beg(&m, 1);
	kv_str(&m, 7, "room", "a");
	put_f64(&m, 3, 1000);
	put_dbl(&m, 4, 21.5);
	pb_end(&m, p);
	metric_end(&m, x, 0, 0);
	/* sum, int, delta, monotonic, two points */
	x = metric_begin(&m, "prompt_tokens", "{token}", 7);
	for (int i = 0; i < 2; i++) {
		p = beg(&m, 1);
		put_f64(&m, 2, 1000);
		put_f64(&m, 3, 2000);
		put_f64(&m, 6, (uint64_t)(int64_t)(i ? -5 : 42));
		pb_put_uint(&m, 8, 1);
		pb_end(&m, p);
	}
	metric_end(&m, x, 1, 1);
	/* histogram */
	x = metric_begin(&m, "lat", "s", 9);
	{
		double bounds[] = {0.1, 1};
		uint64_t counts[] = {1, 2, 3};
		hist_point(&m, bounds, 2, counts, 3, 1);
	}
	metric_end(&m, x, 1, 0);
	/* exponential histogram */
	x = metric_begin(&m, "size", "By", 10);
	p = beg(&m, 1);
	kv_str(&m, 1, "k", "v");
	put_f64(&m, 3, 5);
	put_f64(&m, 4, 10);
	put_dbl(&m, 5, 123.5);
	pb_put_tag(&m, 6, PB_VARINT);
	pb_put_varint(&m, 1); /* zigzag(-1) */
	put_f64(&m, 7, 2);
	bk = beg(&m, 8);
	pb_put_tag(&m, 1, PB_VARINT);
	pb_put_varint(&m, 6); /* zigzag(3) */
	{
		size_t pk = beg(&m, 2);
		pb_put_varint(&m, 3);
		pb_put_varint(&m, 300);
		pb_end(&m, pk);
	}
	pb_end(&m, bk);
	bk = beg(&m, 9);
	pb_put_tag(&m, 2, PB_VARINT);
	pb_put_varint(&m, 4);
	pb_put_tag(&m, 2, PB_VARINT);
	pb_put_varint(&m, 1);
	pb_end(&m, bk);
	put_dbl(&m, 14, 0.001);
	pb_end(&m, p);
	metric_end(&m, x, 2, 0);
	/* summary */
	x = metric_begin(&m, "rt", "ms", 11);
	p = beg(&m, 1);
	put_f64(&m, 3, 7);
	put_f64(&m, 4, 4);
	put_dbl(&m, 5, 10);
	for (int i = 0; i < 2; i++) {
		q = beg(&m, 6);
		put_dbl(&m, 1, i ? 0.99 : 0.5);
		put_dbl(&m, 2, i ? 9 : 2);
		pb_end(&m, q);
	}
	pb_end(&m, p);
	metric_end(&m, x, 0, 0);
	wrap(out, &m);
	tl_buf_cleanup(&m);
}

TEST(test_every_point_type)
{
	struct tl_buf b;
	struct dec d;
	tl_buf_init(&b, 0);
	all_types(&b);
	CHECK_EQ_INT(dec_pb(&d, b.data, b.len), 0);
	CHECK_EQ_INT(d.b.n_metrics, 5);
	CHECK_EQ_INT(d.b.n_points, 6);
	CHECK_EQ_INT(d.b.n_resources, 1);
	CHECK_STR(d.b.resources[0].service, "svc");
	const struct tl_metric *m = d.b.metrics;
	CHECK_EQ_INT(m[0].type, TL_METRIC_GAUGE);
	CHECK_STR(m[0].description, "desc");
	CHECK_STR(m[0].scope->name, "lib");
	CHECK_STR(m[0].scope->version, "1.0");
	CHECK_EQ_INT(m[0].points[0].value_kind, TL_PV_DOUBLE);
	CHECK(m[0].points[0].as_double == 21.5);
	CHECK_STR(m[0].points[0].attrs.items[0].key, "room");
	CHECK_EQ_INT(m[1].type, TL_METRIC_SUM);
	CHECK_EQ_INT(m[1].temporality, TL_TEMP_DELTA);
	CHECK_EQ_INT(m[1].monotonic, 1);
	CHECK_EQ_INT(m[1].n_points, 2);
	CHECK_EQ_INT(m[1].points[0].value_kind, TL_PV_INT);
	CHECK_EQ_INT(m[1].points[0].as_int, 42);
	CHECK_EQ_INT(m[1].points[1].as_int, -5);
	CHECK_EQ_INT(m[1].points[1].flags, 1);
	CHECK_EQ_INT(m[2].type, TL_METRIC_HISTOGRAM);
	CHECK_EQ_INT(m[2].points[0].n_bucket_counts, 3);
	CHECK(m[2].points[0].bounds[1] == 1);
	CHECK(m[2].points[0].has_min && m[2].points[0].min == 1 && m[2].points[0].has_max && m[2].points[0].max == 20);
	const struct tl_metric_point *e = &m[3].points[0];
	CHECK_EQ_INT(m[3].type, TL_METRIC_EXP_HISTOGRAM);
	CHECK_EQ_INT(e->scale, -1);
	CHECK_EQ_INT(e->count, 10);
	CHECK(e->sum == 123.5);
	CHECK_EQ_INT(e->zero_count, 2);
	CHECK(e->zero_threshold == 0.001);
	CHECK_EQ_INT(e->positive.offset, 3);
	CHECK_EQ_INT(e->positive.n, 2);
	CHECK_EQ_INT(e->positive.counts[1], 300);
	CHECK_EQ_INT(e->negative.n, 2);
	CHECK_EQ_INT(e->negative.counts[0], 4);
	CHECK_EQ_INT(m[4].type, TL_METRIC_SUMMARY);
	CHECK_EQ_INT(m[4].points[0].n_quantiles, 2);
	CHECK(m[4].points[0].quantiles[1].quantile == 0.99 && m[4].points[0].quantiles[1].value == 9);
	CHECK(m[4].points[0].has_sum && m[4].points[0].sum == 10);
	dec_free(&d);
	tl_buf_cleanup(&b);
}

TEST(test_packed_and_unpacked)
{
	double bounds[] = {1, 4, 16};
	uint64_t counts[] = {0, 1, 2, 7};
	for (int packed = 0; packed <= 1; packed++) {
		struct tl_buf b;
		struct dec d;
		tl_buf_init(&b, 0);
		hist_request(&b, bounds, 3, counts, 4, packed);
		CHECK_EQ_INT(dec_pb(&d, b.data, b.len), 0);
		const struct tl_metric_point *p = &d.b.metrics[0].points[0];
		CHECK_EQ_INT(p->n_bounds, 3);
		CHECK_EQ_INT(p->n_bucket_counts, 4);
		CHECK(p->bounds[2] == 16);
		CHECK_EQ_INT(p->bucket_counts[3], 7);
		CHECK_EQ_INT(p->count, 10);
		dec_free(&d);
		tl_buf_cleanup(&b);
	}
}

TEST(test_bad_histograms)
{
	struct {
		double bounds[3];
		size_t nb;
		uint64_t counts[4];
		size_t nc;
		const char *msg;
	} cases[] = {
	    {{1, 4}, 2, {1, 1}, 2, "bucketCounts: 2 buckets for 2 bounds"},
	    {{1}, 1, {0}, 0, "bucketCounts: 0 buckets for 1 bounds"},
	    {{0}, 0, {5, 1}, 2, "bucketCounts: 2 buckets for 0 bounds"},
	    {{4, 1}, 2, {1, 1, 1}, 3, "explicitBounds[1]: bounds must be strictly increasing"},
	    {{1, 1}, 2, {1, 1, 1}, 3, "explicitBounds[1]: bounds must be strictly increasing"},
	    {{1, NAN}, 2, {1, 1, 1}, 3, "explicitBounds[1]: must be finite"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int packed = 0; packed <= 1; packed++) {
			struct tl_buf b;
			struct dec d;
			tl_buf_init(&b, 0);
			hist_request(&b, cases[i].bounds, cases[i].nb, cases[i].counts, cases[i].nc, packed);
			CHECK_EQ_INT(dec_pb(&d, b.data, b.len), TL_EINVAL);
			CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
			CHECK(strstr(d.err.msg, "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].") ==
			      d.err.msg);
			CHECK_EQ_INT(d.b.n_metrics, 0);
			dec_free(&d);
			tl_buf_cleanup(&b);
		}
	}
	/* empty histogram point (no buckets, no bounds) is fine */
	{
		struct tl_buf b;
		struct dec d;
		tl_buf_init(&b, 0);
		hist_request(&b, NULL, 0, NULL, 0, 1);
		CHECK_EQ_INT(dec_pb(&d, b.data, b.len), 0);
		dec_free(&d);
		tl_buf_cleanup(&b);
	}
	/* packed fixed64 whose length is not a multiple of 8 */
	{
		struct tl_buf m, b;
		struct dec d;
		tl_buf_init(&m, 0);
		tl_buf_init(&b, 0);
		struct mb x = metric_begin(&m, "h", "", 9);
		size_t p = beg(&m, 1);
		pb_put_bytes(&m, 6, "1234567", 7);
		pb_end(&m, p);
		metric_end(&m, x, 2, 0);
		wrap(&b, &m);
		CHECK_EQ_INT(dec_pb(&d, b.data, b.len), TL_EWIRE);
		CHECK(strstr(d.err.msg, "bucketCounts: packed length 7") != NULL);
		dec_free(&d);
		tl_buf_cleanup(&m);
		tl_buf_cleanup(&b);
	}
}

TEST(test_truncation_every_offset)
{
	struct tl_buf b;
	size_t bad = 0;
	tl_buf_init(&b, 0);
	all_types(&b);
	for (size_t i = 1; i < b.len; i++) {
		struct dec d;
		uint8_t *cut = malloc(i);
		memcpy(cut, b.data, i);
		if (dec_pb(&d, cut, i) != TL_ETRUNC || !d.err.msg[0] || d.b.n_metrics)
			bad++;
		dec_free(&d);
		free(cut);
	}
	CHECK_EQ_INT(bad, 0);
	tl_buf_cleanup(&b);
}

/* Cutting one metric at every offset with lengths fixed up: an error or a
 * consistent batch, never a crash (ASan builds check the reads). */
TEST(test_inner_truncation)
{
	struct tl_buf m;
	size_t oks = 0, errs = 0;
	tl_buf_init(&m, 0);
	struct mb x = metric_begin(&m, "size", "By", 10);
	size_t p = beg(&m, 1);
	put_f64(&m, 4, 10);
	size_t bk = beg(&m, 8);
	pb_put_tag(&m, 2, PB_VARINT);
	pb_put_varint(&m, 300);
	pb_end(&m, bk);
	pb_end(&m, p);
	metric_end(&m, x, 2, 0);
	/* m holds field 2 (metrics) of ScopeMetrics: cut its payload */
	for (size_t cut = 0; cut + 3 <= m.len; cut++) {
		struct tl_buf inner, b, one;
		struct dec d;
		tl_buf_init(&inner, 0);
		tl_buf_init(&b, 0);
		tl_buf_init(&one, 0);
		/* payload starts after tag and 1-byte length */
		pb_put_bytes_always(&one, 2, m.data + 2, cut);
		wrap(&b, &one);
		if (dec_pb(&d, b.data, b.len) == 0)
			oks++;
		else
			errs++;
		dec_free(&d);
		tl_buf_cleanup(&inner);
		tl_buf_cleanup(&b);
		tl_buf_cleanup(&one);
	}
	CHECK(oks > 0 && errs > 0);
	tl_buf_cleanup(&m);
}

TEST(test_wrong_wire_types)
{
	struct {
		uint32_t field;
		int wire;
		const char *msg;
	} cases[] = {
	    {3, PB_VARINT, "timeUnixNano: unexpected wire type 0"},
	    {4, PB_VARINT, "asDouble: unexpected wire type 0"},
	    {6, PB_LEN, "asInt: unexpected wire type 2"},
	    {8, PB_I64, "flags: unexpected wire type 1"},
	    {7, PB_VARINT, "attributes: unexpected wire type 0"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_buf m, b;
		struct dec d;
		tl_buf_init(&m, 0);
		tl_buf_init(&b, 0);
		struct mb x = metric_begin(&m, "g", "", 5);
		size_t p = beg(&m, 1);
		pb_put_tag(&m, cases[i].field, cases[i].wire);
		if (cases[i].wire == PB_VARINT)
			pb_put_varint(&m, 1);
		else if (cases[i].wire == PB_I64)
			tl_buf_append(&m, "12345678", 8);
		else
			pb_put_varint(&m, 0);
		pb_end(&m, p);
		metric_end(&m, x, 0, 0);
		wrap(&b, &m);
		CHECK_EQ_INT(dec_pb(&d, b.data, b.len), TL_EWIRE);
		CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
		CHECK(strstr(d.err.msg, "metrics[0].gauge.dataPoints[0].") != NULL);
		dec_free(&d);
		tl_buf_cleanup(&m);
		tl_buf_cleanup(&b);
	}
}

TEST(test_unknown_fields_and_exemplars)
{
	struct tl_buf m, b;
	struct dec d;
	tl_buf_init(&m, 0);
	tl_buf_init(&b, 0);
	struct mb x = metric_begin(&m, "g", "", 7);
	size_t p = beg(&m, 1);
	put_f64(&m, 3, 9);
	put_dbl(&m, 4, 1.5);
	size_t e = beg(&m, 5); /* exemplar */
	put_f64(&m, 2, 9);
	put_dbl(&m, 3, 2.5);
	pb_put_bytes(&m, 4, "12345678", 8);
	pb_put_bytes(&m, 5, "1234567890123456", 16);
	kv_str(&m, 7, "a", "b");
	pb_end(&m, e);
	pb_put_uint(&m, 99, 5); /* unknown */
	pb_put_bytes(&m, 98, "xyz", 3);
	pb_end(&m, p);
	pb_put_uint(&m, 77, 1); /* unknown in Sum */
	metric_end(&m, x, 2, 1);
	wrap(&b, &m);
	CHECK_EQ_INT(dec_pb(&d, b.data, b.len), 0);
	CHECK_EQ_INT(d.b.metrics[0].points[0].n_exemplars, 1);
	CHECK(d.b.metrics[0].points[0].as_double == 1.5);
	dec_free(&d);
	/* an exemplar with a wrong wire type is an error */
	tl_buf_reset(&m);
	tl_buf_reset(&b);
	x = metric_begin(&m, "g", "", 7);
	p = beg(&m, 1);
	e = beg(&m, 5);
	pb_put_uint(&m, 3, 1);
	pb_end(&m, e);
	pb_end(&m, p);
	metric_end(&m, x, 2, 1);
	wrap(&b, &m);
	CHECK_EQ_INT(dec_pb(&d, b.data, b.len), TL_EWIRE);
	CHECK(strstr(d.err.msg, "dataPoints[0].exemplars[0].asDouble") != NULL);
	dec_free(&d);
	tl_buf_cleanup(&m);
	tl_buf_cleanup(&b);
}

TEST(test_arena_ceiling)
{
	struct tl_buf b;
	struct otlp_limits small = {32, 2048};
	struct tl_metrics_batch mb;
	struct otlp_error err;
	struct tl_arena *a = tl_arena_create(4096, 0);
	tl_buf_init(&b, 0);
	all_types(&b);
	CHECK_EQ_INT(otlp_decode_metrics_pb(b.data, b.len, a, &small, &mb, &err), TL_ETOOBIG);
	CHECK(strstr(err.msg, "memory limit") != NULL);
	tl_arena_destroy(a);
	tl_buf_cleanup(&b);
}

TEST(test_empty_requests)
{
	struct dec d;
	CHECK_EQ_INT(dec_pb(&d, "", 0), 0);
	CHECK_EQ_INT(d.b.n_metrics, 0);
	dec_free(&d);
	CHECK_EQ_INT(dec_json(&d, "{}"), 0);
	CHECK_EQ_INT(d.b.n_metrics, 0);
	dec_free(&d);
	CHECK_EQ_INT(dec_json(&d, "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\"}]}]}]}"), 0);
	CHECK_EQ_INT(d.b.n_metrics, 1);
	CHECK_EQ_INT(d.b.metrics[0].type, TL_METRIC_NONE);
	dec_free(&d);
}

static const char JSON_ALL[] =
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}}]},"
    "\"scopeMetrics\":[{\"scope\":{\"name\":\"lib\",\"version\":\"1.0\"},\"metrics\":["
    "{\"name\":\"temp\",\"unit\":\"Cel\",\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":\"1000\",\"asDouble\":\"NaN\"},"
    "{\"timeUnixNano\":1000,\"asDouble\":\"-Infinity\"}]}},"
    "{\"name\":\"prompt_tokens\",\"sum\":{\"aggregationTemporality\":\"AGGREGATION_TEMPORALITY_DELTA\",\"isMonotonic\":true,"
    "\"dataPoints\":[{\"startTimeUnixNano\":\"1000\",\"timeUnixNano\":\"2000\",\"asInt\":\"42\","
    "\"attributes\":[{\"key\":\"model\",\"value\":{\"stringValue\":\"m\"}}],\"exemplars\":[{\"asDouble\":1}]}]}},"
    "{\"name\":\"lat\",\"unit\":\"s\",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[{\"count\":\"6\","
    "\"sum\":2.5,\"bucketCounts\":[\"1\",2,\"3\"],\"explicitBounds\":[0.1,1],\"min\":0.05,\"max\":\"Infinity\"}]}},"
    "{\"name\":\"size\",\"exponentialHistogram\":{\"aggregationTemporality\":1,\"dataPoints\":[{\"count\":\"10\","
    "\"scale\":-1,\"zeroCount\":\"2\",\"positive\":{\"offset\":3,\"bucketCounts\":[\"3\",\"300\"]},"
    "\"negative\":{\"bucketCounts\":[4,1]}}]}},"
    "{\"name\":\"rt\",\"summary\":{\"dataPoints\":[{\"count\":4,\"sum\":10,\"quantileValues\":["
    "{\"quantile\":0.5,\"value\":2},{\"quantile\":0.99,\"value\":9}]}]}}"
    "]}]}]}";

TEST(test_json_all_types)
{
	struct dec d;
	CHECK_EQ_INT(dec_json(&d, JSON_ALL), 0);
	CHECK_EQ_INT(d.b.n_metrics, 5);
	CHECK_EQ_INT(d.b.n_points, 6);
	const struct tl_metric *m = d.b.metrics;
	CHECK_STR(m[0].resource->service, "svc");
	CHECK_STR(m[0].scope->version, "1.0");
	CHECK(isnan(m[0].points[0].as_double));
	CHECK(isinf(m[0].points[1].as_double) && m[0].points[1].as_double < 0);
	CHECK_EQ_INT(m[0].points[1].time_unix_nano, 1000);
	CHECK_EQ_INT(m[1].temporality, TL_TEMP_DELTA);
	CHECK_EQ_INT(m[1].monotonic, 1);
	CHECK_EQ_INT(m[1].points[0].as_int, 42);
	CHECK_EQ_INT(m[1].points[0].n_exemplars, 1);
	CHECK_STR(m[1].points[0].attrs.items[0].v.u.s, "m");
	CHECK_EQ_INT(m[2].temporality, TL_TEMP_CUMULATIVE);
	CHECK_EQ_INT(m[2].points[0].count, 6);
	CHECK_EQ_INT(m[2].points[0].bucket_counts[1], 2);
	CHECK(isinf(m[2].points[0].max));
	CHECK_EQ_INT(m[3].points[0].scale, -1);
	CHECK_EQ_INT(m[3].points[0].positive.offset, 3);
	CHECK_EQ_INT(m[3].points[0].positive.counts[1], 300);
	CHECK_EQ_INT(m[3].points[0].negative.counts[0], 4);
	CHECK_EQ_INT(m[4].points[0].n_quantiles, 2);
	CHECK(m[4].points[0].quantiles[0].value == 2);
	dec_free(&d);
}

TEST(test_json_errors)
{
	struct {
		const char *json;
		int rc;
		const char *msg;
	} cases[] = {
	    {"[", TL_EJSON, "request: invalid JSON"},
	    {"[]", TL_EJSON, "request: expected an object"},
	    {"{\"resourceMetrics\":{}}", TL_EJSON, "resourceMetrics: expected an array"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"histogram\":{\"dataPoints\":[{\"bucketCounts\":[1,2,3],"
	     "\"explicitBounds\":[2,1]}]}}]}]}]}",
	     TL_EINVAL, "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].explicitBounds[1]: bounds"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"histogram\":{\"dataPoints\":[{\"bucketCounts\":[1,2,3],"
	     "\"explicitBounds\":[1]}]}}]}]}]}",
	     TL_EINVAL, "bucketCounts: 3 buckets for 1 bounds"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"histogram\":{\"dataPoints\":[{\"bucketCounts\":[\"x\"]}]}}]}]}]}",
	     TL_EJSON, "dataPoints[0].bucketCounts[0]: not an unsigned decimal integer"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"dataPoints\":[{\"asInt\":\"1.5\"}]}}]}]}]}",
	     TL_EJSON, "sum.dataPoints[0].asInt: not a decimal 64-bit integer"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"aggregationTemporality\":\"BAD\"}}]}]}]}",
	     TL_EJSON, "sum.aggregationTemporality: unknown enum value"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"asDouble\":true}]}}]}]}]}",
	     TL_EJSON, "asDouble: expected a number"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":-1}]}}]}]}]}",
	     TL_EJSON, "timeUnixNano: must not be negative"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"exponentialHistogram\":{\"dataPoints\":[{\"scale\":"
	     "99999999999}]}}]}]}]}",
	     TL_EJSON, "scale: out of range"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"summary\":{\"dataPoints\":[{\"quantileValues\":[1]}]}}]}]}]}",
	     TL_EJSON, "quantileValues[0]: expected an object"},
	    {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"isMonotonic\":1}}]}]}]}", TL_EJSON,
	     "isMonotonic: expected true or false"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dec d;
		CHECK_EQ_INT(dec_json(&d, cases[i].json), cases[i].rc);
		if (!strstr(d.err.msg, cases[i].msg))
			fprintf(stderr, "  case %zu: %s\n", i, d.err.msg);
		CHECK(strstr(d.err.msg, cases[i].msg) != NULL);
		CHECK_EQ_INT(d.b.n_metrics, 0);
		dec_free(&d);
	}
}

TEST(test_responses)
{
	struct tl_buf b;
	tl_buf_init(&b, 0);
	CHECK_EQ_INT(otlp_encode_metrics_response_pb(&b, 0, NULL), 0);
	CHECK_EQ_INT(b.len, 0);
	CHECK_EQ_INT(otlp_encode_metrics_response_pb(&b, 3, "bad \"x\""), 0);
	{
		const uint8_t want[] = {0x0a, 0x0b, 0x08, 0x03, 0x12, 0x07, 'b', 'a', 'd', ' ', '"', 'x', '"'};
		CHECK_EQ_INT(b.len, sizeof want);
		CHECK(!memcmp(b.data, want, sizeof want));
	}
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_metrics_response_json(&b, 0, ""), 0);
	CHECK_EQ_STR(b.data, "{}");
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_metrics_response_json(&b, 3, "bad \"x\"\n"), 0);
	CHECK_EQ_STR(b.data, "{\"partialSuccess\":{\"rejectedDataPoints\":\"3\",\"errorMessage\":\"bad \\\"x\\\"\\u000a\"}}");
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_logs_response_json(&b, 2, "m"), 0);
	CHECK_EQ_STR(b.data, "{\"partialSuccess\":{\"rejectedLogRecords\":\"2\",\"errorMessage\":\"m\"}}");
	tl_buf_reset(&b);
	CHECK_EQ_INT(otlp_encode_logs_response_pb(&b, 0, "warn"), 0);
	{
		const uint8_t want[] = {0x0a, 0x06, 0x12, 0x04, 'w', 'a', 'r', 'n'};
		CHECK_EQ_INT(b.len, sizeof want);
		CHECK(!memcmp(b.data, want, sizeof want));
	}
	tl_buf_cleanup(&b);
}

static const struct tl_test_case TESTS[] = {
    T(test_hand_vector),       T(test_every_point_type), T(test_packed_and_unpacked),
    T(test_bad_histograms),    T(test_truncation_every_offset), T(test_inner_truncation),
    T(test_wrong_wire_types),  T(test_unknown_fields_and_exemplars), T(test_arena_ceiling),
    T(test_empty_requests),    T(test_json_all_types),   T(test_json_errors),
    T(test_responses),
};

TEST_MAIN("otlp_metrics", TESTS)
