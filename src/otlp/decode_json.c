/*
 * decode_json.c - OTLP/JSON ExportTraceServiceRequest -> struct tl_batch.
 *
 * Parsed with jansson (NUL allowed inside strings), then walked into the same
 * model the protobuf decoder fills; every string is copied into the arena so the
 * batch does not depend on the JSON tree, which is freed before returning. The
 * rules are those of OTLP/JSON with the leniency real exporters need: camelCase
 * keys only, unknown keys ignored, null treated as absent, hex ids of either case,
 * 64-bit integers as numbers or decimal strings, enums as integers or names.
 * The value, attribute, resource and scope decoders are shared with the metrics
 * and logs decoders through otlp_int.h.
 */
#include "otlp/otlp_int.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

static const json_t *jget(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return v && !json_is_null(v) ? v : NULL;
}

static int type_fail(struct otlp__dec *d, const char *name, const char *what)
{
	return otlp__fail(d, TL_EJSON, "%s: expected %s", name, what);
}

static int oom_fail(struct otlp__dec *d)
{
	return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit");
}

/* Copies a JSON string into the arena (jansson has already checked its UTF-8). */
static int copy_str(struct otlp__dec *d, const json_t *v, struct tl_str *out)
{
	size_t n = json_string_length(v);
	char *p = otlp__alloc(d, n + 1, 1);
	if (!p)
		return oom_fail(d);
	memcpy(p, json_string_value(v), n);
	out->p = p;
	out->n = n;
	return 0;
}

static int get_str(struct otlp__dec *d, const json_t *obj, const char *key, struct tl_str *out)
{
	const json_t *v = jget(obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return type_fail(d, key, "a string");
	return copy_str(d, v, out);
}

/* An unsigned integer no larger than max: a JSON integer, an integral real or a
 * decimal string. Numbers above INT64_MAX can only come as strings (jansson holds
 * integers as long long and refuses larger literals when parsing). */
static int num_u64(struct otlp__dec *d, const json_t *v, const char *name, uint64_t max, uint64_t *out)
{
	uint64_t u;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return otlp__fail(d, TL_EJSON, "%s: must not be negative", name);
		u = (uint64_t)i;
	} else if (json_is_real(v)) {
		double r = json_real_value(v);
		if (!(r >= 0 && r < 18446744073709551616.0) || r != floor(r))
			return otlp__fail(d, TL_EJSON, "%s: expected a non-negative integer", name);
		u = (uint64_t)r;
	} else if (json_is_string(v)) {
		if (tl_parse_u64(json_string_value(v), json_string_length(v), &u))
			return otlp__fail(d, TL_EJSON, "%s: not an unsigned decimal integer", name);
	} else {
		return type_fail(d, name, "an integer");
	}
	if (u > max)
		return otlp__fail(d, TL_EJSON, "%s: out of range", name);
	*out = u;
	return 0;
}

static int num_i64(struct otlp__dec *d, const json_t *v, const char *name, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
	} else if (json_is_real(v)) {
		double r = json_real_value(v);
		if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0) || r != floor(r))
			return otlp__fail(d, TL_EJSON, "%s: expected an integer", name);
		*out = (int64_t)r;
	} else if (json_is_string(v)) {
		if (tl_parse_i64(json_string_value(v), json_string_length(v), out))
			return otlp__fail(d, TL_EJSON, "%s: not a decimal 64-bit integer", name);
	} else {
		return type_fail(d, name, "an integer");
	}
	return 0;
}

static int get_u64(struct otlp__dec *d, const json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
	const json_t *v = jget(obj, key);
	return v ? num_u64(d, v, key, max, out) : 0;
}

static int get_u32(struct otlp__dec *d, const json_t *obj, const char *key, uint32_t *out)
{
	uint64_t u = *out;
	int rc = get_u64(d, obj, key, UINT32_MAX, &u);
	*out = (uint32_t)u;
	return rc;
}

/* An enum: an int32 number (or decimal string) or one of the value names. */
static int get_enum(struct otlp__dec *d, const json_t *obj, const char *key, const char *const *names,
		    size_t n_names, int *out)
{
	const json_t *v = jget(obj, key);
	int64_t i;
	int rc;
	if (!v)
		return 0;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		for (size_t k = 0; k < n_names; k++) {
			if (strlen(names[k]) == len && !memcmp(names[k], s, len)) {
				*out = (int)k;
				return 0;
			}
		}
		if (tl_parse_i64(s, len, &i))
			return otlp__fail(d, TL_EJSON, "%s: unknown enum value", key);
	} else if ((rc = num_i64(d, v, key, &i))) {
		return rc;
	}
	if (i < INT32_MIN || i > INT32_MAX)
		return otlp__fail(d, TL_EJSON, "%s: out of range", key);
	*out = (int)i;
	return 0;
}

/* A hex id of n bytes. *len is set to the decoded length (0 when absent or ""). */
static int get_id(struct otlp__dec *d, const json_t *obj, const char *key, uint8_t *out, size_t n, size_t *len)
{
	const json_t *v = jget(obj, key);
	size_t sl;
	*len = 0;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return type_fail(d, key, "a hex string");
	sl = json_string_length(v);
	if (sl == 0)
		return 0;
	if (sl != 2 * n)
		return otlp__fail(d, TL_EID, "%s: must be %zu bytes (%zu hex digits), got %zu characters", key, n, 2 * n, sl);
	if (tl_hex_decode(json_string_value(v), sl, out, n))
		return otlp__fail(d, TL_EID, "%s: not a hex string", key);
	*len = n;
	return 0;
}

static int check_id(struct otlp__dec *d, const char *key, const uint8_t *id, size_t n, size_t len)
{
	if (len != n)
		return otlp__fail(d, TL_EID, "%s: required (%zu bytes as %zu hex digits)", key, n, 2 * n);
	if (tl_is_zero(id, n))
		return otlp__fail(d, TL_EID, "%s: must not be all zero", key);
	return 0;
}

/* Standard base64 with padding, strictly. */
static int b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int get_base64(struct otlp__dec *d, const json_t *v, const char *name, struct tl_str *out)
{
	const unsigned char *s = (const unsigned char *)json_string_value(v);
	size_t n = json_string_length(v), o = 0;
	uint8_t *p;
	if (n % 4)
		return otlp__fail(d, TL_EJSON, "%s: base64 length is not a multiple of 4", name);
	p = otlp__alloc(d, n / 4 * 3 + 1, 1);
	if (!p)
		return oom_fail(d);
	for (size_t i = 0; i < n; i += 4) {
		int q[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			int c = s[i + k];
			if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
				q[k] = 0;
				pad++;
			} else if ((q[k] = b64_val(c)) < 0 || pad) {
				return otlp__fail(d, TL_EJSON, "%s: invalid base64", name);
			}
		}
		uint32_t w = (uint32_t)q[0] << 18 | (uint32_t)q[1] << 12 | (uint32_t)q[2] << 6 | (uint32_t)q[3];
		p[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			p[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			p[o++] = (uint8_t)w;
	}
	out->p = (const char *)p;
	out->n = o;
	return 0;
}

static int get_double(struct otlp__dec *d, const json_t *v, const char *name, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (n == 3 && !memcmp(s, "NaN", 3))
			*out = NAN;
		else if (n == 8 && !memcmp(s, "Infinity", 8))
			*out = INFINITY;
		else if (n == 9 && !memcmp(s, "-Infinity", 9))
			*out = -INFINITY;
		else if (tl_parse_double(s, n, out) || !isfinite(*out))
			return otlp__fail(d, TL_EJSON, "%s: not a number", name);
		return 0;
	}
	return type_fail(d, name, "a number");
}

/* ---- values ----------------------------------------------------------------- */

static int dec_value(struct otlp__dec *d, const json_t *v, uint32_t depth, struct tl_value *out);

static int dec_kv(struct otlp__dec *d, const json_t *v, uint32_t depth, struct tl_kv *kv, int *skip)
{
	const json_t *val;
	int rc;
	kv->key = TL_STR_NULL;
	kv->v.kind = TL_V_EMPTY;
	*skip = jget(v, "keyStrindex") != NULL; /* profiles only: the key counts as absent */
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = get_str(d, v, "key", &kv->key)))
		return rc;
	if ((val = jget(v, "value")) && (rc = dec_value(d, val, depth, &kv->v))) {
		otlp__prefix(d, "value");
		return rc;
	}
	return 0;
}

/* Fills a from a JSON array of KeyValue objects at obj[key]. */
static int dec_kv_array(struct otlp__dec *d, const json_t *obj, const char *key, uint32_t depth, struct tl_attrs *a)
{
	const json_t *arr = jget(obj, key);
	size_t n;
	int rc, skip;
	a->items = NULL;
	a->n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return type_fail(d, key, "an array");
	n = json_array_size(arr);
	if (n > UINT32_MAX)
		return oom_fail(d);
	if (n && !(a->items = otlp__alloc(d, n, sizeof *a->items)))
		return oom_fail(d);
	for (size_t i = 0; i < n; i++) {
		if ((rc = dec_kv(d, json_array_get(arr, i), depth, &a->items[a->n], &skip))) {
			otlp__prefix(d, "%s[%zu]", key, i);
			return rc;
		}
		if (!skip)
			a->n++;
	}
	return 0;
}

static int dec_attrs(struct otlp__dec *d, const json_t *obj, const char *key, struct tl_attrs *a)
{
	int rc;
	if ((rc = dec_kv_array(d, obj, key, 0, a)))
		return rc;
	return get_u32(d, obj, "droppedAttributesCount", &a->dropped);
}

static int dec_array(struct otlp__dec *d, const json_t *obj, uint32_t depth, struct tl_value *out)
{
	const json_t *arr = jget(obj, "values");
	size_t n;
	int rc;
	out->kind = TL_V_ARRAY;
	out->u.arr.items = NULL;
	out->u.arr.n = 0;
	if (!json_is_object(obj))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return type_fail(d, "values", "an array");
	n = json_array_size(arr);
	if (n > UINT32_MAX)
		return oom_fail(d);
	if (n && !(out->u.arr.items = otlp__alloc(d, n, sizeof *out->u.arr.items)))
		return oom_fail(d);
	for (size_t i = 0; i < n; i++) {
		if ((rc = dec_value(d, json_array_get(arr, i), depth, &out->u.arr.items[i]))) {
			otlp__prefix(d, "values[%zu]", i);
			return rc;
		}
	}
	out->u.arr.n = (uint32_t)n;
	return 0;
}

/* depth = how many arrays/kvlists enclose this value. */
static int dec_value(struct otlp__dec *d, const json_t *v, uint32_t depth, struct tl_value *out)
{
	const json_t *x;
	int rc = 0;
	memset(out, 0, sizeof *out);
	out->kind = TL_V_EMPTY;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an AnyValue object");
	if ((x = jget(v, "stringValue"))) {
		if (!json_is_string(x))
			return type_fail(d, "stringValue", "a string");
		out->kind = TL_V_STR;
		return copy_str(d, x, &out->u.s);
	}
	if ((x = jget(v, "boolValue"))) {
		if (!json_is_boolean(x))
			return type_fail(d, "boolValue", "true or false");
		out->kind = TL_V_BOOL;
		out->u.b = json_is_true(x);
		return 0;
	}
	if ((x = jget(v, "intValue"))) {
		out->kind = TL_V_INT;
		return num_i64(d, x, "intValue", &out->u.i);
	}
	if ((x = jget(v, "doubleValue"))) {
		out->kind = TL_V_DOUBLE;
		return get_double(d, x, "doubleValue", &out->u.d);
	}
	if ((x = jget(v, "arrayValue")) || (x = jget(v, "kvlistValue"))) {
		int is_arr = x == json_object_get(v, "arrayValue");
		const char *name = is_arr ? "arrayValue" : "kvlistValue";
		if (depth + 1 > d->max_depth)
			return otlp__fail(d, TL_EDEPTH, "%s: nesting deeper than %u", name, d->max_depth);
		if (is_arr) {
			rc = dec_array(d, x, depth + 1, out);
		} else if (!json_is_object(x)) {
			rc = otlp__fail(d, TL_EJSON, ": expected an object");
		} else {
			struct tl_attrs a;
			out->kind = TL_V_KVLIST;
			rc = dec_kv_array(d, x, "values", depth + 1, &a);
			out->u.kv.items = a.items;
			out->u.kv.n = a.n;
		}
		if (rc)
			otlp__prefix(d, "%s", name);
		return rc;
	}
	if ((x = jget(v, "bytesValue"))) {
		if (!json_is_string(x))
			return type_fail(d, "bytesValue", "a base64 string");
		out->kind = TL_V_BYTES;
		return get_base64(d, x, "bytesValue", &out->u.s);
	}
	return 0;
}

/* ---- resource, scope, span ---------------------------------------------------- */

static int dec_resource(struct otlp__dec *d, const json_t *v, struct tl_resource *res)
{
	int rc;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = dec_attrs(d, v, "attributes", &res->attrs)))
		return rc;
	otlp__set_service(res);
	return 0;
}

static int dec_scope(struct otlp__dec *d, const json_t *v, struct tl_scope *sc)
{
	int rc;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = get_str(d, v, "name", &sc->name)) || (rc = get_str(d, v, "version", &sc->version)))
		return rc;
	return dec_attrs(d, v, "attributes", &sc->attrs);
}

static int dec_event(struct otlp__dec *d, const json_t *v, struct tl_event *ev)
{
	int rc;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = get_u64(d, v, "timeUnixNano", UINT64_MAX, &ev->time_unix_nano)) || (rc = get_str(d, v, "name", &ev->name)))
		return rc;
	return dec_attrs(d, v, "attributes", &ev->attrs);
}

static int dec_link(struct otlp__dec *d, const json_t *v, struct tl_link *l)
{
	size_t tlen, slen;
	int rc;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = get_id(d, v, "traceId", l->trace_id, 16, &tlen)) || (rc = get_id(d, v, "spanId", l->span_id, 8, &slen)) ||
	    (rc = check_id(d, "traceId", l->trace_id, 16, tlen)) || (rc = check_id(d, "spanId", l->span_id, 8, slen)) ||
	    (rc = get_str(d, v, "traceState", &l->trace_state)) || (rc = dec_attrs(d, v, "attributes", &l->attrs)) ||
	    (rc = get_u32(d, v, "flags", &l->flags)))
		return rc;
	return 0;
}

/* events / links: a JSON array decoded into an arena array. */
static int dec_children(struct otlp__dec *d, const json_t *span, const char *key, size_t elem, void **items, uint32_t *n,
			int (*fn)(struct otlp__dec *, const json_t *, void *))
{
	const json_t *arr = jget(span, key);
	size_t cnt;
	int rc;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return type_fail(d, key, "an array");
	cnt = json_array_size(arr);
	if (cnt > UINT32_MAX)
		return oom_fail(d);
	if (cnt && !(*items = otlp__alloc(d, cnt, elem)))
		return oom_fail(d);
	for (size_t i = 0; i < cnt; i++) {
		if ((rc = fn(d, json_array_get(arr, i), (char *)*items + i * elem))) {
			otlp__prefix(d, "%s[%zu]", key, i);
			return rc;
		}
	}
	*n = (uint32_t)cnt;
	return 0;
}

static int event_fn(struct otlp__dec *d, const json_t *v, void *p)
{
	return dec_event(d, v, p);
}

static int link_fn(struct otlp__dec *d, const json_t *v, void *p)
{
	return dec_link(d, v, p);
}

static const char *const KIND_NAMES[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
					 "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};
static const char *const STATUS_NAMES[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};

static int dec_span(struct otlp__dec *d, const json_t *v, struct tl_span *s)
{
	const json_t *st;
	size_t tlen, slen, plen;
	void *ev = NULL, *ln = NULL;
	int rc;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = get_id(d, v, "traceId", s->trace_id, 16, &tlen)) || (rc = get_id(d, v, "spanId", s->span_id, 8, &slen)) ||
	    (rc = check_id(d, "traceId", s->trace_id, 16, tlen)) || (rc = check_id(d, "spanId", s->span_id, 8, slen)) ||
	    (rc = get_id(d, v, "parentSpanId", s->parent_span_id, 8, &plen)))
		return rc;
	s->has_parent = plen == 8 && !tl_is_zero(s->parent_span_id, 8);
	if (!s->has_parent)
		memset(s->parent_span_id, 0, sizeof s->parent_span_id);
	if ((rc = get_str(d, v, "traceState", &s->trace_state)) || (rc = get_u32(d, v, "flags", &s->flags)) ||
	    (rc = get_str(d, v, "name", &s->name)) || (rc = get_enum(d, v, "kind", KIND_NAMES, 6, &s->kind)) ||
	    (rc = get_u64(d, v, "startTimeUnixNano", UINT64_MAX, &s->start_unix_nano)) ||
	    (rc = get_u64(d, v, "endTimeUnixNano", UINT64_MAX, &s->end_unix_nano)) ||
	    (rc = dec_attrs(d, v, "attributes", &s->attrs)) ||
	    (rc = dec_children(d, v, "events", sizeof *s->events, &ev, &s->n_events, event_fn)) ||
	    (rc = get_u32(d, v, "droppedEventsCount", &s->dropped_events)) ||
	    (rc = dec_children(d, v, "links", sizeof *s->links, &ln, &s->n_links, link_fn)) ||
	    (rc = get_u32(d, v, "droppedLinksCount", &s->dropped_links)))
		return rc;
	s->events = ev;
	s->links = ln;
	if ((st = jget(v, "status"))) {
		if (!json_is_object(st))
			return type_fail(d, "status", "an object");
		if ((rc = get_str(d, st, "message", &s->status_message)) ||
		    (rc = get_enum(d, st, "code", STATUS_NAMES, 3, &s->status_code))) {
			otlp__prefix(d, "status");
			return rc;
		}
	}
	return 0;
}

/* ---- envelope ------------------------------------------------------------------ */

static int span_item(struct otlp__dec *d, const json_t *v, size_t slot, const struct tl_resource *res,
		     const struct tl_scope *sc, void *ctx)
{
	struct tl_span *s = &((struct tl_batch *)ctx)->spans[slot];
	s->resource = res;
	s->scope = sc;
	return dec_span(d, v, s);
}

int otlp_decode_traces_json(const void *data, size_t len, struct tl_arena *arena,
			    const struct otlp_limits *lim, struct tl_batch *out, struct otlp_error *err)
{
	static const struct otlp__env env = {.names = {"resourceSpans", "scopeSpans", "spans"}, .js_item = span_item};
	return otlp__decode_traces(data, len, arena, lim, 0, &env, out, err);
}

/* ---- helpers shared with the metrics and logs decoders (otlp_int.h) ---------- */

const json_t *otlp__js_get(const json_t *obj, const char *key)
{
	return jget(obj, key);
}

int otlp__js_type_fail(struct otlp__dec *d, const char *name, const char *what)
{
	return type_fail(d, name, what);
}

int otlp__js_str(struct otlp__dec *d, const json_t *obj, const char *key, struct tl_str *out)
{
	return get_str(d, obj, key, out);
}

int otlp__js_u64(struct otlp__dec *d, const json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
	return get_u64(d, obj, key, max, out);
}

int otlp__js_u32(struct otlp__dec *d, const json_t *obj, const char *key, uint32_t *out)
{
	return get_u32(d, obj, key, out);
}

int otlp__js_enum(struct otlp__dec *d, const json_t *obj, const char *key, const char *const *names, size_t n_names,
		  int *out)
{
	return get_enum(d, obj, key, names, n_names, out);
}

int otlp__js_num_u64(struct otlp__dec *d, const json_t *v, const char *name, uint64_t max, uint64_t *out)
{
	return num_u64(d, v, name, max, out);
}

int otlp__js_num_i64(struct otlp__dec *d, const json_t *v, const char *name, int64_t *out)
{
	return num_i64(d, v, name, out);
}

int otlp__js_num_double(struct otlp__dec *d, const json_t *v, const char *name, double *out)
{
	return get_double(d, v, name, out);
}

int otlp__js_id(struct otlp__dec *d, const json_t *obj, const char *key, uint8_t *out, size_t n, size_t *len)
{
	return get_id(d, obj, key, out, n, len);
}

int otlp__js_value(struct otlp__dec *d, const json_t *v, uint32_t depth, struct tl_value *out)
{
	return dec_value(d, v, depth, out);
}

int otlp__js_attrs(struct otlp__dec *d, const json_t *obj, const char *key, struct tl_attrs *a)
{
	return dec_attrs(d, obj, key, a);
}

int otlp__js_resource(struct otlp__dec *d, const json_t *v, struct tl_resource *res)
{
	return dec_resource(d, v, res);
}

int otlp__js_scope(struct otlp__dec *d, const json_t *v, struct tl_scope *sc)
{
	return dec_scope(d, v, sc);
}

json_t *otlp__js_load(struct otlp__dec *d, const void *data, size_t len)
{
	json_error_t je;
	json_t *root = json_loadb(data ? data : "", data ? len : 0, JSON_ALLOW_NUL, &je);
	if (!root) {
		otlp__fail(d, TL_EJSON, ": invalid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		otlp__fail(d, TL_EJSON, ": expected an object");
		return NULL;
	}
	return root;
}
