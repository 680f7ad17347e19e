/*
 * decode_metrics.c - ExportMetricsServiceRequest (protobuf and OTLP/JSON) ->
 * struct tl_metrics_batch (protocols.md 2.2 message tables, 1.3 JSON rules).
 *
 * Same shape as the trace decoders: protobuf strings borrow from the body and
 * every array is counted before it is allocated once from the arena; JSON is
 * walked from a jansson tree with strings copied into the arena. Values,
 * attributes, resources and scopes go through the shared helpers of otlp_int.h.
 * Repeated numerics (bucket counts, bounds) are accepted packed and unpacked.
 * Histogram points are checked for consistency (bucket count = bounds + 1, bounds
 * finite and strictly increasing); exemplars are checked for wire format and
 * counted, not kept.
 */
#include "otlp/otlp_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Field names for error paths, by enum tl_metric_type. */
static const char *const TYPE_KEYS[] = {"", "gauge", "sum", "histogram", "exponentialHistogram", "summary"};

/* Histogram consistency, shared by both encodings. */
static int check_histogram(struct otlp__dec *d, const struct tl_metric_point *pt)
{
	if (pt->n_bucket_counts || pt->n_bounds) {
		if (pt->n_bucket_counts != pt->n_bounds + 1)
			return otlp__fail(d, TL_EINVAL, "bucketCounts: %u buckets for %u bounds (must be bounds + 1)",
					  pt->n_bucket_counts, pt->n_bounds);
	}
	for (uint32_t i = 0; i < pt->n_bounds; i++) {
		if (!isfinite(pt->bounds[i]))
			return otlp__fail(d, TL_EINVAL, "explicitBounds[%u]: must be finite", i);
		if (i && !(pt->bounds[i] > pt->bounds[i - 1]))
			return otlp__fail(d, TL_EINVAL, "explicitBounds[%u]: bounds must be strictly increasing", i);
	}
	return 0;
}

/* Allocates the batch arrays for the envelope walk (otlp__env_alloc_fn). */
static int env_alloc(struct otlp__dec *d, struct otlp__env *env, const size_t cnt[3])
{
	struct tl_metrics_batch *out = env->ctx;
	void *items;
	int rc = otlp__env_arrays(d, env, cnt, sizeof *out->metrics, "metrics", &items);
	out->resources = env->resources;
	out->scopes = env->scopes;
	out->metrics = items;
	return rc;
}

/* The end of both decoders: counts filled on success, all cleared on error. */
static void batch_finish(struct otlp__dec *d, int rc, const struct otlp__env *env, struct tl_metrics_batch *out)
{
	otlp__env_finish(d, rc, env, &out->n_resources, &out->n_scopes, &out->n_metrics);
	out->n_points = 0;
	for (size_t i = 0; i < out->n_metrics; i++)
		out->n_points += out->metrics[i].n_points;
}

static struct tl_metric *metric_slot(void *ctx, size_t slot, const struct tl_resource *res, const struct tl_scope *sc)
{
	struct tl_metric *m = &((struct tl_metrics_batch *)ctx)->metrics[slot];
	m->resource = res;
	m->scope = sc;
	return m;
}

/* ==== protobuf ================================================================= */

/* Counts the values of a repeated 8-byte field (packed LEN or unpacked I64). */
static size_t count_fixed(const uint8_t *p, size_t n, uint32_t num)
{
	struct pb_reader r;
	struct pb_field f;
	size_t c = 0;
	pb_reader_init(&r, p, n);
	while (otlp__pb_next(&r, &f) > 0) {
		if (f.num != num)
			continue;
		if (f.wire == PB_LEN)
			c += f.len / 8;
		else if (f.wire == PB_I64)
			c++;
	}
	return c;
}

/* Counts the values of a repeated varint field (packed LEN or unpacked). */
static size_t count_varints(const uint8_t *p, size_t n, uint32_t num)
{
	struct pb_reader r;
	struct pb_field f;
	size_t c = 0;
	pb_reader_init(&r, p, n);
	while (otlp__pb_next(&r, &f) > 0) {
		if (f.num != num)
			continue;
		if (f.wire == PB_LEN) {
			for (size_t i = 0; i < f.len; i++)
				c += f.data[i] < 0x80;
		} else if (f.wire == PB_VARINT) {
			c++;
		}
	}
	return c;
}

/* Appends the values of one occurrence of a repeated fixed64/double field to
 * arr (room for cap, *n used). */
static int add_fixed(struct otlp__dec *d, const struct pb_field *f, const char *name, void *arr, size_t cap,
		     uint32_t *n)
{
	if (f->wire == PB_I64) {
		if (*n >= cap)
			return otlp__fail(d, TL_EINVAL, "%s: internal count mismatch", name);
		memcpy((char *)arr + (size_t)(*n)++ * 8, &f->u64, 8);
		return 0;
	}
	if (f->wire != PB_LEN)
		return otlp__pb_wire_fail(d, name, f->wire);
	if (f->len % 8)
		return otlp__fail(d, TL_EWIRE, "%s: packed length %zu is not a multiple of 8", name, f->len);
	for (size_t i = 0; i < f->len; i += 8) {
		uint64_t v = 0;
		if (*n >= cap)
			return otlp__fail(d, TL_EINVAL, "%s: internal count mismatch", name);
		for (int k = 7; k >= 0; k--)
			v = v << 8 | f->data[i + (size_t)k];
		memcpy((char *)arr + (size_t)(*n)++ * 8, &v, 8);
	}
	return 0;
}

static int add_varints(struct otlp__dec *d, const struct pb_field *f, const char *name, uint64_t *arr, size_t cap,
		       uint32_t *n)
{
	if (f->wire == PB_VARINT) {
		if (*n >= cap)
			return otlp__fail(d, TL_EINVAL, "%s: internal count mismatch", name);
		arr[(*n)++] = f->u64;
		return 0;
	}
	if (f->wire != PB_LEN)
		return otlp__pb_wire_fail(d, name, f->wire);
	for (const uint8_t *p = f->data, *end = f->data + f->len; p < end;) {
		uint64_t v;
		int used = pb_read_varint(p, end, &v);
		if (used < 0)
			return otlp__fail(d, used, "%s: %s", name, tl_strerror(used));
		if (*n >= cap)
			return otlp__fail(d, TL_EINVAL, "%s: internal count mismatch", name);
		arr[(*n)++] = v;
		p += used;
	}
	return 0;
}

static int want_wire(struct otlp__dec *d, const struct pb_field *f, int wire, const char *name)
{
	return f->wire == wire ? 0 : otlp__pb_wire_fail(d, name, f->wire);
}

/* An exemplar: checked for wire types and truncation, then ignored. */
static int skip_exemplar(struct otlp__dec *d, const struct pb_field *f)
{
	struct pb_reader r;
	struct pb_field g;
	int rc;
	if (f->wire != PB_LEN)
		return otlp__pb_wire_fail(d, "exemplars", f->wire);
	pb_reader_init(&r, f->data, f->len);
	while ((rc = otlp__pb_next(&r, &g)) > 0) {
		switch (g.num) {
		case 2:
		case 3:
		case 6:
			if ((rc = want_wire(d, &g, PB_I64, g.num == 2 ? "timeUnixNano" : g.num == 3 ? "asDouble" : "asInt")))
				return rc;
			break;
		case 4:
		case 5:
		case 7:
			if ((rc = want_wire(d, &g, PB_LEN, g.num == 4 ? "spanId" : g.num == 5 ? "traceId" : "filteredAttributes")))
				return rc;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

static int dec_quantile(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_quantile *q)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		if (f.num == 1 || f.num == 2) {
			if ((rc = want_wire(d, &f, PB_I64, f.num == 1 ? "quantile" : "value")))
				return rc;
			if (f.num == 1)
				q->quantile = pb_as_double(f.u64);
			else
				q->value = pb_as_double(f.u64);
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

static int dec_buckets(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_exp_buckets *bk)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cap = count_varints(p, n, 2);
	int rc;
	memset(bk, 0, sizeof *bk);
	if (cap > UINT32_MAX || (cap && !(bk->counts = otlp__alloc(d, cap, sizeof *bk->counts))))
		return otlp__pb_oom(d);
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		if (f.num == 1) {
			if ((rc = want_wire(d, &f, PB_VARINT, "offset")))
				return rc;
			bk->offset = (int32_t)pb_zigzag_decode(f.u64);
		} else if (f.num == 2) {
			if ((rc = add_varints(d, &f, "bucketCounts", bk->counts, cap, &bk->n)))
				return rc;
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

/* Field numbers that differ between the point messages (0 = not in this type). */
struct point_fields {
	uint32_t attrs, exemplars, flags, count, sum, min, max;
};

static const struct point_fields PF[] = {
	[TL_METRIC_GAUGE] = {7, 5, 8, 0, 0, 0, 0},
	[TL_METRIC_SUM] = {7, 5, 8, 0, 0, 0, 0},
	[TL_METRIC_HISTOGRAM] = {9, 8, 10, 4, 5, 11, 12},
	[TL_METRIC_EXP_HISTOGRAM] = {1, 11, 10, 4, 5, 12, 13},
	[TL_METRIC_SUMMARY] = {7, 0, 8, 4, 5, 0, 0},
};

/* The fields only one point type has; returns 1 when f was one of them. */
static int dec_point_special(struct otlp__dec *d, int type, const struct pb_field *f, struct tl_metric_point *pt,
			     size_t cap_counts, size_t cap_bounds, size_t cap_q, int *rc)
{
	*rc = 0;
	switch (type) {
	case TL_METRIC_GAUGE:
	case TL_METRIC_SUM:
		if (f->num != 4 && f->num != 6)
			return 0;
		if ((*rc = want_wire(d, f, PB_I64, f->num == 4 ? "asDouble" : "asInt")))
			return 1;
		if (f->num == 4) {
			pt->value_kind = TL_PV_DOUBLE;
			pt->as_double = pb_as_double(f->u64);
		} else {
			pt->value_kind = TL_PV_INT;
			pt->as_int = (int64_t)f->u64;
		}
		return 1;
	case TL_METRIC_HISTOGRAM:
		if (f->num == 6)
			*rc = add_fixed(d, f, "bucketCounts", pt->bucket_counts, cap_counts, &pt->n_bucket_counts);
		else if (f->num == 7)
			*rc = add_fixed(d, f, "explicitBounds", pt->bounds, cap_bounds, &pt->n_bounds);
		else
			return 0;
		return 1;
	case TL_METRIC_EXP_HISTOGRAM:
		switch (f->num) {
		case 6:
			if (!(*rc = want_wire(d, f, PB_VARINT, "scale")))
				pt->scale = (int32_t)pb_zigzag_decode(f->u64);
			return 1;
		case 7:
		case 14:
			if ((*rc = want_wire(d, f, PB_I64, f->num == 7 ? "zeroCount" : "zeroThreshold")))
				return 1;
			if (f->num == 7)
				pt->zero_count = f->u64;
			else
				pt->zero_threshold = pb_as_double(f->u64);
			return 1;
		case 8:
		case 9: {
			const char *name = f->num == 8 ? "positive" : "negative";
			if ((*rc = want_wire(d, f, PB_LEN, name)))
				return 1;
			if ((*rc = dec_buckets(d, f->data, f->len, f->num == 8 ? &pt->positive : &pt->negative)))
				otlp__prefix(d, "%s", name);
			return 1;
		}
		}
		return 0;
	case TL_METRIC_SUMMARY:
		if (f->num != 6)
			return 0;
		if ((*rc = want_wire(d, f, PB_LEN, "quantileValues")))
			return 1;
		if (pt->n_quantiles >= cap_q) {
			*rc = otlp__fail(d, TL_EINVAL, "quantileValues: internal count mismatch");
			return 1;
		}
		if ((*rc = dec_quantile(d, f->data, f->len, &pt->quantiles[pt->n_quantiles])))
			otlp__prefix(d, "quantileValues[%u]", pt->n_quantiles);
		pt->n_quantiles++;
		return 1;
	}
	return 0;
}

static int dec_point(struct otlp__dec *d, int type, const uint8_t *p, size_t n, struct tl_metric_point *pt)
{
	const struct point_fields *pf = &PF[type];
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], seen = 0, cap_counts = 0, cap_bounds = 0;
	int rc;
	otlp__pb_count(p, n, pf->attrs, type == TL_METRIC_SUMMARY ? 6 : 0, 0, cnt);
	if ((rc = otlp__pb_attrs_alloc(d, &pt->attrs, cnt[0])))
		return rc;
	if (type == TL_METRIC_HISTOGRAM) {
		cap_counts = count_fixed(p, n, 6);
		cap_bounds = count_fixed(p, n, 7);
		if (cap_counts > UINT32_MAX || cap_bounds > UINT32_MAX ||
		    (cap_counts && !(pt->bucket_counts = otlp__alloc(d, cap_counts, sizeof(uint64_t)))) ||
		    (cap_bounds && !(pt->bounds = otlp__alloc(d, cap_bounds, sizeof(double)))))
			return otlp__pb_oom(d);
	}
	if (cnt[1] && (cnt[1] > UINT32_MAX || !(pt->quantiles = otlp__alloc(d, cnt[1], sizeof *pt->quantiles))))
		return otlp__pb_oom(d);
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		rc = 0;
		if (f.num == pf->attrs) {
			rc = otlp__pb_add_kv(d, &f, "attributes", cnt[0], &pt->attrs, &seen);
		} else if (f.num == 2 || f.num == 3) {
			if ((rc = want_wire(d, &f, PB_I64, f.num == 2 ? "startTimeUnixNano" : "timeUnixNano")))
				return rc;
			if (f.num == 2)
				pt->start_unix_nano = f.u64;
			else
				pt->time_unix_nano = f.u64;
		} else if (f.num == pf->flags) {
			if (!(rc = want_wire(d, &f, PB_VARINT, "flags")))
				pt->flags = (uint32_t)f.u64;
		} else if (pf->exemplars && f.num == pf->exemplars) {
			if (!(rc = skip_exemplar(d, &f)))
				pt->n_exemplars++;
			else
				otlp__prefix(d, "exemplars[%u]", pt->n_exemplars);
		} else if (pf->count && f.num == pf->count) {
			if (!(rc = want_wire(d, &f, PB_I64, "count")))
				pt->count = f.u64;
		} else if (pf->sum && f.num == pf->sum) {
			if (!(rc = want_wire(d, &f, PB_I64, "sum"))) {
				pt->sum = pb_as_double(f.u64);
				pt->has_sum = 1;
			}
		} else if (pf->min && (f.num == pf->min || f.num == pf->max)) {
			int is_min = f.num == pf->min;
			if (!(rc = want_wire(d, &f, PB_I64, is_min ? "min" : "max"))) {
				if (is_min) {
					pt->min = pb_as_double(f.u64);
					pt->has_min = 1;
				} else {
					pt->max = pb_as_double(f.u64);
					pt->has_max = 1;
				}
			}
		} else {
			dec_point_special(d, type, &f, pt, cap_counts, cap_bounds, cnt[1], &rc);
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return otlp__pb_fail(d, rc);
	if (type == TL_METRIC_SUMMARY)
		pt->has_sum = 1;
	if (type == TL_METRIC_HISTOGRAM)
		return check_histogram(d, pt);
	return 0;
}

/* A Gauge / Sum / Histogram / ExponentialHistogram / Summary message. */
static int dec_data(struct otlp__dec *d, int type, const uint8_t *p, size_t n, struct tl_metric *m)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3];
	int rc;
	m->type = type;
	m->temporality = TL_TEMP_UNSPECIFIED;
	m->monotonic = 0;
	m->points = NULL;
	m->n_points = 0;
	otlp__pb_count(p, n, 1, 0, 0, cnt);
	if (cnt[0] > UINT32_MAX || (cnt[0] && !(m->points = otlp__alloc(d, cnt[0], sizeof *m->points))))
		return otlp__pb_oom(d);
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if ((rc = want_wire(d, &f, PB_LEN, "dataPoints")))
				return rc;
			if (m->n_points >= cnt[0])
				return otlp__fail(d, TL_EINVAL, "dataPoints: internal count mismatch");
			if ((rc = dec_point(d, type, f.data, f.len, &m->points[m->n_points]))) {
				otlp__prefix(d, "dataPoints[%u]", m->n_points);
				return rc;
			}
			m->n_points++;
			break;
		case 2:
			if (type == TL_METRIC_GAUGE || type == TL_METRIC_SUMMARY)
				break;
			if ((rc = want_wire(d, &f, PB_VARINT, "aggregationTemporality")))
				return rc;
			m->temporality = (int)(int32_t)f.u64;
			break;
		case 3:
			if (type != TL_METRIC_SUM)
				break;
			if ((rc = want_wire(d, &f, PB_VARINT, "isMonotonic")))
				return rc;
			m->monotonic = f.u64 != 0;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

static int dec_metric(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_metric *m)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], seen = 0;
	int rc;
	otlp__pb_count(p, n, 12, 0, 0, cnt);
	if ((rc = otlp__pb_attrs_alloc(d, &m->metadata, cnt[0])))
		return rc;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		int type = TL_METRIC_NONE;
		rc = 0;
		switch (f.num) {
		case 1:
			rc = otlp__pb_str(d, &f, "name", &m->name);
			break;
		case 2:
			rc = otlp__pb_str(d, &f, "description", &m->description);
			break;
		case 3:
			rc = otlp__pb_str(d, &f, "unit", &m->unit);
			break;
		case 5:
			type = TL_METRIC_GAUGE;
			break;
		case 7:
			type = TL_METRIC_SUM;
			break;
		case 9:
			type = TL_METRIC_HISTOGRAM;
			break;
		case 10:
			type = TL_METRIC_EXP_HISTOGRAM;
			break;
		case 11:
			type = TL_METRIC_SUMMARY;
			break;
		case 12:
			rc = otlp__pb_add_kv(d, &f, "metadata", cnt[0], &m->metadata, &seen);
			break;
		default:
			break;
		}
		if (rc)
			return rc;
		if (type != TL_METRIC_NONE) {
			/* oneof data: a later occurrence replaces an earlier one */
			if ((rc = want_wire(d, &f, PB_LEN, TYPE_KEYS[type])))
				return rc;
			if ((rc = dec_data(d, type, f.data, f.len, m))) {
				otlp__prefix(d, "%s", TYPE_KEYS[type]);
				return rc;
			}
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

static int pb_item(struct otlp__dec *d, const uint8_t *p, size_t n, size_t slot, const struct tl_resource *res,
		   const struct tl_scope *sc, void *ctx)
{
	return dec_metric(d, p, n, metric_slot(ctx, slot, res, sc));
}

/* ==== JSON ====================================================================== */

static const json_t *js_array(struct otlp__dec *d, const json_t *obj, const char *key, int *rc)
{
	const json_t *a = otlp__js_get(obj, key);
	*rc = 0;
	if (a && !json_is_array(a)) {
		*rc = otlp__js_type_fail(d, key, "an array");
		return NULL;
	}
	return a;
}

static int js_time(struct otlp__dec *d, const json_t *v, struct tl_metric_point *pt)
{
	int rc;
	if ((rc = otlp__js_u64(d, v, "startTimeUnixNano", UINT64_MAX, &pt->start_unix_nano)) ||
	    (rc = otlp__js_u64(d, v, "timeUnixNano", UINT64_MAX, &pt->time_unix_nano)))
		return rc;
	return 0;
}

/* An optional double field; *has is set when present. */
static int js_opt_double(struct otlp__dec *d, const json_t *obj, const char *key, double *out, int *has)
{
	const json_t *v = otlp__js_get(obj, key);
	int rc;
	if (!v)
		return 0;
	if ((rc = otlp__js_num_double(d, v, key, out)))
		return rc;
	if (has)
		*has = 1;
	return 0;
}

/* bucketCounts: array of unsigned integers into an arena array. */
static int js_u64_array(struct otlp__dec *d, const json_t *obj, const char *key, uint64_t **arr, uint32_t *n)
{
	int rc;
	const json_t *a = js_array(d, obj, key, &rc);
	size_t cnt;
	*arr = NULL;
	*n = 0;
	if (!a)
		return rc;
	cnt = json_array_size(a);
	if (cnt > UINT32_MAX || (cnt && !(*arr = otlp__alloc(d, cnt, sizeof **arr))))
		return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit");
	for (size_t i = 0; i < cnt; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s[%zu]", key, i);
		if ((rc = otlp__js_num_u64(d, json_array_get(a, i), name, UINT64_MAX, &(*arr)[i])))
			return rc;
	}
	*n = (uint32_t)cnt;
	return 0;
}

static int js_double_array(struct otlp__dec *d, const json_t *obj, const char *key, double **arr, uint32_t *n)
{
	int rc;
	const json_t *a = js_array(d, obj, key, &rc);
	size_t cnt;
	*arr = NULL;
	*n = 0;
	if (!a)
		return rc;
	cnt = json_array_size(a);
	if (cnt > UINT32_MAX || (cnt && !(*arr = otlp__alloc(d, cnt, sizeof **arr))))
		return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit");
	for (size_t i = 0; i < cnt; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s[%zu]", key, i);
		if ((rc = otlp__js_num_double(d, json_array_get(a, i), name, &(*arr)[i])))
			return rc;
	}
	*n = (uint32_t)cnt;
	return 0;
}

static int js_int32(struct otlp__dec *d, const json_t *obj, const char *key, int32_t *out)
{
	const json_t *v = otlp__js_get(obj, key);
	int64_t i;
	int rc;
	if (!v)
		return 0;
	if ((rc = otlp__js_num_i64(d, v, key, &i)))
		return rc;
	if (i < INT32_MIN || i > INT32_MAX)
		return otlp__fail(d, TL_EJSON, "%s: out of range", key);
	*out = (int32_t)i;
	return 0;
}

static int js_buckets(struct otlp__dec *d, const json_t *obj, const char *key, struct tl_exp_buckets *bk)
{
	const json_t *v = otlp__js_get(obj, key);
	int rc;
	memset(bk, 0, sizeof *bk);
	if (!v)
		return 0;
	if (!json_is_object(v))
		return otlp__js_type_fail(d, key, "an object");
	if ((rc = js_int32(d, v, "offset", &bk->offset)) || (rc = js_u64_array(d, v, "bucketCounts", &bk->counts, &bk->n))) {
		otlp__prefix(d, "%s", key);
		return rc;
	}
	return 0;
}

static int js_point(struct otlp__dec *d, int type, const json_t *v, struct tl_metric_point *pt)
{
	const json_t *x;
	int rc;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = otlp__js_attrs(d, v, "attributes", &pt->attrs)) || (rc = js_time(d, v, pt)) ||
	    (rc = otlp__js_u32(d, v, "flags", &pt->flags)))
		return rc;
	if ((x = otlp__js_get(v, "exemplars"))) {
		if (!json_is_array(x))
			return otlp__js_type_fail(d, "exemplars", "an array");
		pt->n_exemplars = (uint32_t)json_array_size(x);
	}
	switch (type) {
	case TL_METRIC_GAUGE:
	case TL_METRIC_SUM:
		if ((x = otlp__js_get(v, "asDouble"))) {
			pt->value_kind = TL_PV_DOUBLE;
			return otlp__js_num_double(d, x, "asDouble", &pt->as_double);
		}
		if ((x = otlp__js_get(v, "asInt"))) {
			pt->value_kind = TL_PV_INT;
			return otlp__js_num_i64(d, x, "asInt", &pt->as_int);
		}
		return 0;
	case TL_METRIC_HISTOGRAM:
	case TL_METRIC_EXP_HISTOGRAM:
		if ((rc = otlp__js_u64(d, v, "count", UINT64_MAX, &pt->count)) ||
		    (rc = js_opt_double(d, v, "sum", &pt->sum, &pt->has_sum)) ||
		    (rc = js_opt_double(d, v, "min", &pt->min, &pt->has_min)) ||
		    (rc = js_opt_double(d, v, "max", &pt->max, &pt->has_max)))
			return rc;
		if (type == TL_METRIC_HISTOGRAM) {
			if ((rc = js_u64_array(d, v, "bucketCounts", &pt->bucket_counts, &pt->n_bucket_counts)) ||
			    (rc = js_double_array(d, v, "explicitBounds", &pt->bounds, &pt->n_bounds)))
				return rc;
			return check_histogram(d, pt);
		}
		if ((rc = js_int32(d, v, "scale", &pt->scale)) ||
		    (rc = otlp__js_u64(d, v, "zeroCount", UINT64_MAX, &pt->zero_count)) ||
		    (rc = js_opt_double(d, v, "zeroThreshold", &pt->zero_threshold, NULL)) ||
		    (rc = js_buckets(d, v, "positive", &pt->positive)) || (rc = js_buckets(d, v, "negative", &pt->negative)))
			return rc;
		return 0;
	case TL_METRIC_SUMMARY: {
		const json_t *qs;
		size_t nq;
		pt->has_sum = 1;
		if ((rc = otlp__js_u64(d, v, "count", UINT64_MAX, &pt->count)) ||
		    (rc = js_opt_double(d, v, "sum", &pt->sum, NULL)))
			return rc;
		if (!(qs = js_array(d, v, "quantileValues", &rc)))
			return rc;
		nq = json_array_size(qs);
		if (nq > UINT32_MAX || (nq && !(pt->quantiles = otlp__alloc(d, nq, sizeof *pt->quantiles))))
			return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit");
		for (size_t i = 0; i < nq; i++) {
			const json_t *q = json_array_get(qs, i);
			if (!json_is_object(q))
				rc = otlp__fail(d, TL_EJSON, ": expected an object");
			else if (!(rc = js_opt_double(d, q, "quantile", &pt->quantiles[i].quantile, NULL)))
				rc = js_opt_double(d, q, "value", &pt->quantiles[i].value, NULL);
			if (rc) {
				otlp__prefix(d, "quantileValues[%zu]", i);
				return rc;
			}
		}
		pt->n_quantiles = (uint32_t)nq;
		return 0;
	}
	}
	return 0;
}

static const char *const TEMP_NAMES[] = {"AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA",
					 "AGGREGATION_TEMPORALITY_CUMULATIVE"};

static int js_data(struct otlp__dec *d, int type, const json_t *v, struct tl_metric *m)
{
	const json_t *pts, *x;
	size_t n;
	int rc;
	m->type = type;
	m->temporality = TL_TEMP_UNSPECIFIED;
	m->monotonic = 0;
	m->points = NULL;
	m->n_points = 0;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if (type != TL_METRIC_GAUGE && type != TL_METRIC_SUMMARY &&
	    (rc = otlp__js_enum(d, v, "aggregationTemporality", TEMP_NAMES, 3, &m->temporality)))
		return rc;
	if (type == TL_METRIC_SUM && (x = otlp__js_get(v, "isMonotonic"))) {
		if (!json_is_boolean(x))
			return otlp__js_type_fail(d, "isMonotonic", "true or false");
		m->monotonic = json_is_true(x);
	}
	if (!(pts = js_array(d, v, "dataPoints", &rc)))
		return rc;
	n = json_array_size(pts);
	if (n > UINT32_MAX || (n && !(m->points = otlp__alloc(d, n, sizeof *m->points))))
		return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit");
	for (size_t i = 0; i < n; i++) {
		if ((rc = js_point(d, type, json_array_get(pts, i), &m->points[i]))) {
			otlp__prefix(d, "dataPoints[%zu]", i);
			return rc;
		}
	}
	m->n_points = (uint32_t)n;
	return 0;
}

static int js_metric(struct otlp__dec *d, const json_t *v, struct tl_metric *m)
{
	int rc;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = otlp__js_str(d, v, "name", &m->name)) || (rc = otlp__js_str(d, v, "description", &m->description)) ||
	    (rc = otlp__js_str(d, v, "unit", &m->unit)) || (rc = otlp__js_attrs(d, v, "metadata", &m->metadata)))
		return rc;
	for (int t = TL_METRIC_GAUGE; t <= TL_METRIC_SUMMARY; t++) {
		const json_t *x = otlp__js_get(v, TYPE_KEYS[t]);
		if (!x)
			continue;
		if ((rc = js_data(d, t, x, m))) {
			otlp__prefix(d, "%s", TYPE_KEYS[t]);
			return rc;
		}
		break; /* oneof: the first present member */
	}
	return 0;
}

static int js_item(struct otlp__dec *d, const json_t *v, size_t slot, const struct tl_resource *res,
		   const struct tl_scope *sc, void *ctx)
{
	return js_metric(d, v, metric_slot(ctx, slot, res, sc));
}


/* Either encoding: context, empty batch, envelope walk, counts. */
static int decode(int json, const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
		  struct tl_metrics_batch *out, struct otlp_error *err)
{
	static const struct otlp__env proto = {.names = {"resourceMetrics", "scopeMetrics", "metrics"},
					       .pb_item = pb_item,
					       .js_item = js_item};
	struct otlp__dec d;
	struct otlp__env env = proto;
	int rc;
	otlp__dec_init(&d, arena, lim, 0, err);
	memset(out, 0, sizeof *out);
	out->arena = arena;
	out->tenant = TL_STR_LIT("default");
	env.ctx = out;
	if (json)
		rc = otlp__js_request(&d, data, len, &env, env_alloc);
	else
		rc = otlp__pb_request(&d, data, len, &env, env_alloc);
	batch_finish(&d, rc, &env, out);
	return rc;
}

int otlp_decode_metrics_pb(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			   struct tl_metrics_batch *out, struct otlp_error *err)
{
	return decode(0, data, len, arena, lim, out, err);
}

int otlp_decode_metrics_json(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			     struct tl_metrics_batch *out, struct otlp_error *err)
{
	return decode(1, data, len, arena, lim, out, err);
}
