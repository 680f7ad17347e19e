/*
 * decode_pb.c - ExportTraceServiceRequest (protobuf) -> struct tl_batch, zero copy.
 *
 * Strings borrow from the request body; arrays come from the arena. Each message
 * with repeated children is read twice: a cheap pass that only counts the children
 * (so every array is allocated once, exactly), then the real pass. The whole
 * request is pre-scanned the same way for its resource, scope and span counts, so
 * the batch's arrays are contiguous. Validation errors name the path of the bad
 * field (see otlp_int.h). The value, attribute, resource and scope decoders are
 * shared with decode_metrics.c and decode_logs.c through otlp_int.h.
 */
#include "otlp/otlp_int.h"
#include "proto/proto.h"

#include <string.h>

static int pb_fail(struct otlp__dec *d, int rc)
{
	return otlp__fail(d, rc, ": %s", tl_strerror(rc));
}

static int wire_fail(struct otlp__dec *d, const char *name, int wire)
{
	return otlp__fail(d, TL_EWIRE, "%s: unexpected wire type %d", name, wire);
}

static int oom_fail(struct otlp__dec *d)
{
	return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit");
}

static int get_str(struct otlp__dec *d, const struct pb_field *f, const char *name, struct tl_str *out)
{
	if (f->wire != PB_LEN)
		return wire_fail(d, name, f->wire);
	if (!otlp__utf8_ok(f->data, f->len))
		return otlp__fail(d, TL_EUTF8, "%s: invalid UTF-8", name);
	out->p = (const char *)f->data;
	out->n = f->len;
	return 0;
}

/* Counts the LEN fields numbered a, b and c of a message. Stops quietly at bad
 * input: the real pass meets the same error at the same place, never having
 * needed more slots than were counted before it. */
static void count3(const uint8_t *p, size_t n, uint32_t a, uint32_t b, uint32_t c, size_t out[3])
{
	struct pb_reader r;
	struct pb_field f;
	out[0] = out[1] = out[2] = 0;
	pb_reader_init(&r, p, n);
	while (otlp__pb_next(&r, &f) > 0) {
		if (f.wire != PB_LEN)
			continue;
		if (f.num == a)
			out[0]++;
		else if (f.num == b)
			out[1]++;
		else if (f.num == c)
			out[2]++;
	}
}

/* ---- values --------------------------------------------------------------- */

static int dec_value(struct otlp__dec *d, const uint8_t *p, size_t n, uint32_t depth, struct tl_value *v);

static int dec_kv(struct otlp__dec *d, const uint8_t *p, size_t n, uint32_t depth, struct tl_kv *kv, int *skip)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;
	kv->key = TL_STR_NULL;
	kv->v.kind = TL_V_EMPTY;
	*skip = 0;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if ((rc = get_str(d, &f, "key", &kv->key)))
				return rc;
			break;
		case 2:
			if (f.wire != PB_LEN)
				return wire_fail(d, "value", f.wire);
			if ((rc = dec_value(d, f.data, f.len, depth, &kv->v))) {
				otlp__prefix(d, "value");
				return rc;
			}
			break;
		case 3: /* key_strindex: profiles only; the key counts as absent */
			if (f.wire != PB_VARINT)
				return wire_fail(d, "keyStrindex", f.wire);
			*skip = 1;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? pb_fail(d, rc) : 0;
}

/* Adds one KeyValue (field payload f) to attrs, whose items were sized by count3. */
static int add_kv(struct otlp__dec *d, const struct pb_field *f, const char *name, size_t cap,
		  uint32_t depth, struct tl_attrs *a, size_t *seen)
{
	int rc, skip;
	size_t idx = (*seen)++;
	if (f->wire != PB_LEN)
		return wire_fail(d, name, f->wire);
	if (a->n >= cap)
		return otlp__fail(d, TL_EINVAL, "%s: internal count mismatch", name);
	if ((rc = dec_kv(d, f->data, f->len, depth, &a->items[a->n], &skip))) {
		otlp__prefix(d, "%s[%zu]", name, idx);
		return rc;
	}
	if (!skip)
		a->n++;
	return 0;
}

static int dec_array(struct otlp__dec *d, const uint8_t *p, size_t n, uint32_t depth, struct tl_value *v)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], k = 0;
	int rc;
	count3(p, n, 1, 0, 0, cnt);
	v->kind = TL_V_ARRAY;
	v->u.arr.items = NULL;
	v->u.arr.n = 0;
	if (cnt[0] > UINT32_MAX)
		return oom_fail(d);
	if (cnt[0] && !(v->u.arr.items = otlp__alloc(d, cnt[0], sizeof(struct tl_value))))
		return oom_fail(d);
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (f.wire != PB_LEN)
			return wire_fail(d, "values", f.wire);
		if (k >= cnt[0])
			return otlp__fail(d, TL_EINVAL, "values: internal count mismatch");
		if ((rc = dec_value(d, f.data, f.len, depth, &v->u.arr.items[k]))) {
			otlp__prefix(d, "values[%zu]", k);
			return rc;
		}
		k++;
	}
	if (rc < 0)
		return pb_fail(d, rc);
	v->u.arr.n = (uint32_t)k;
	return 0;
}

static int dec_kvlist(struct otlp__dec *d, const uint8_t *p, size_t n, uint32_t depth, struct tl_value *v)
{
	struct pb_reader r;
	struct pb_field f;
	struct tl_attrs a = {NULL, 0, 0};
	size_t cnt[3], seen = 0;
	int rc;
	count3(p, n, 1, 0, 0, cnt);
	v->kind = TL_V_KVLIST;
	v->u.kv.items = NULL;
	v->u.kv.n = 0;
	if (cnt[0] > UINT32_MAX)
		return oom_fail(d);
	if (cnt[0] && !(a.items = otlp__alloc(d, cnt[0], sizeof(struct tl_kv))))
		return oom_fail(d);
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		if (f.num == 1 && (rc = add_kv(d, &f, "values", cnt[0], depth, &a, &seen)))
			return rc;
	}
	if (rc < 0)
		return pb_fail(d, rc);
	v->u.kv.items = a.items;
	v->u.kv.n = a.n;
	return 0;
}

/* depth = how many arrays/kvlists enclose this value. */
static int dec_value(struct otlp__dec *d, const uint8_t *p, size_t n, uint32_t depth, struct tl_value *v)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;
	memset(v, 0, sizeof *v);
	v->kind = TL_V_EMPTY;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if ((rc = get_str(d, &f, "stringValue", &v->u.s)))
				return rc;
			v->kind = TL_V_STR;
			break;
		case 2:
			if (f.wire != PB_VARINT)
				return wire_fail(d, "boolValue", f.wire);
			v->kind = TL_V_BOOL;
			v->u.b = f.u64 != 0;
			break;
		case 3:
			if (f.wire != PB_VARINT)
				return wire_fail(d, "intValue", f.wire);
			v->kind = TL_V_INT;
			v->u.i = (int64_t)f.u64;
			break;
		case 4:
			if (f.wire != PB_I64)
				return wire_fail(d, "doubleValue", f.wire);
			v->kind = TL_V_DOUBLE;
			v->u.d = pb_as_double(f.u64);
			break;
		case 5:
		case 6: {
			const char *name = f.num == 5 ? "arrayValue" : "kvlistValue";
			if (f.wire != PB_LEN)
				return wire_fail(d, name, f.wire);
			if (depth + 1 > d->max_depth)
				return otlp__fail(d, TL_EDEPTH, "%s: nesting deeper than %u", name, d->max_depth);
			rc = f.num == 5 ? dec_array(d, f.data, f.len, depth + 1, v) : dec_kvlist(d, f.data, f.len, depth + 1, v);
			if (rc) {
				otlp__prefix(d, "%s", name);
				return rc;
			}
			break;
		}
		case 7:
			if (f.wire != PB_LEN)
				return wire_fail(d, "bytesValue", f.wire);
			v->kind = TL_V_BYTES;
			v->u.s.p = (const char *)f.data;
			v->u.s.n = f.len;
			break;
		default: /* 8 string_value_strindex (profiles only) and unknown fields */
			break;
		}
	}
	return rc < 0 ? pb_fail(d, rc) : 0;
}

/* Sizes attrs->items for cap KeyValues. */
static int attrs_alloc(struct otlp__dec *d, struct tl_attrs *a, size_t cap)
{
	a->items = NULL;
	a->n = 0;
	if (cap > UINT32_MAX)
		return oom_fail(d);
	if (cap && !(a->items = otlp__alloc(d, cap, sizeof(struct tl_kv))))
		return oom_fail(d);
	return 0;
}

/* ---- resource and scope ------------------------------------------------------ */

static int dec_resource(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_resource *res)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], seen = 0;
	int rc;
	count3(p, n, 1, 0, 0, cnt);
	res->attrs.dropped = 0;
	if ((rc = attrs_alloc(d, &res->attrs, cnt[0])))
		return rc;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if ((rc = add_kv(d, &f, "attributes", cnt[0], 0, &res->attrs, &seen)))
				return rc;
			break;
		case 2:
			if (f.wire != PB_VARINT)
				return wire_fail(d, "droppedAttributesCount", f.wire);
			res->attrs.dropped = (uint32_t)f.u64;
			break;
		default: /* 3 entity_refs (development) and unknown fields */
			break;
		}
	}
	if (rc < 0)
		return pb_fail(d, rc);
	otlp__set_service(res);
	return 0;
}

static int dec_scope(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_scope *sc)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], seen = 0;
	int rc;
	count3(p, n, 3, 0, 0, cnt);
	sc->name = sc->version = TL_STR_NULL;
	sc->attrs.dropped = 0;
	if ((rc = attrs_alloc(d, &sc->attrs, cnt[0])))
		return rc;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if ((rc = get_str(d, &f, "name", &sc->name)))
				return rc;
			break;
		case 2:
			if ((rc = get_str(d, &f, "version", &sc->version)))
				return rc;
			break;
		case 3:
			if ((rc = add_kv(d, &f, "attributes", cnt[0], 0, &sc->attrs, &seen)))
				return rc;
			break;
		case 4:
			if (f.wire != PB_VARINT)
				return wire_fail(d, "droppedAttributesCount", f.wire);
			sc->attrs.dropped = (uint32_t)f.u64;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? pb_fail(d, rc) : 0;
}

/* ---- span ---------------------------------------------------------------- */

/* Copies an id field; the length is checked once the message is complete, as a
 * later occurrence of the field replaces an earlier one. */
static int get_id(struct otlp__dec *d, const struct pb_field *f, const char *name, uint8_t *out, size_t want, size_t *len)
{
	if (f->wire != PB_LEN)
		return wire_fail(d, name, f->wire);
	*len = f->len;
	if (f->len == want)
		memcpy(out, f->data, want);
	return 0;
}

static int check_id(struct otlp__dec *d, const char *name, const uint8_t *id, size_t want, size_t len)
{
	if (len != want)
		return otlp__fail(d, TL_EID, "%s: must be %zu bytes, got %zu", name, want, len);
	if (tl_is_zero(id, want))
		return otlp__fail(d, TL_EID, "%s: must not be all zero", name);
	return 0;
}

static int dec_event(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_event *ev)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], seen = 0;
	int rc;
	count3(p, n, 3, 0, 0, cnt);
	if ((rc = attrs_alloc(d, &ev->attrs, cnt[0])))
		return rc;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (f.wire != PB_I64)
				return wire_fail(d, "timeUnixNano", f.wire);
			ev->time_unix_nano = f.u64;
			break;
		case 2:
			if ((rc = get_str(d, &f, "name", &ev->name)))
				return rc;
			break;
		case 3:
			if ((rc = add_kv(d, &f, "attributes", cnt[0], 0, &ev->attrs, &seen)))
				return rc;
			break;
		case 4:
			if (f.wire != PB_VARINT)
				return wire_fail(d, "droppedAttributesCount", f.wire);
			ev->attrs.dropped = (uint32_t)f.u64;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? pb_fail(d, rc) : 0;
}

static int dec_link(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_link *l)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], seen = 0, tlen = 0, slen = 0;
	int rc;
	count3(p, n, 4, 0, 0, cnt);
	if ((rc = attrs_alloc(d, &l->attrs, cnt[0])))
		return rc;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if ((rc = get_id(d, &f, "traceId", l->trace_id, 16, &tlen)))
				return rc;
			break;
		case 2:
			if ((rc = get_id(d, &f, "spanId", l->span_id, 8, &slen)))
				return rc;
			break;
		case 3:
			if ((rc = get_str(d, &f, "traceState", &l->trace_state)))
				return rc;
			break;
		case 4:
			if ((rc = add_kv(d, &f, "attributes", cnt[0], 0, &l->attrs, &seen)))
				return rc;
			break;
		case 5:
			if (f.wire != PB_VARINT)
				return wire_fail(d, "droppedAttributesCount", f.wire);
			l->attrs.dropped = (uint32_t)f.u64;
			break;
		case 6:
			if (f.wire != PB_I32)
				return wire_fail(d, "flags", f.wire);
			l->flags = (uint32_t)f.u64;
			break;
		default:
			break;
		}
	}
	if (rc < 0)
		return pb_fail(d, rc);
	if ((rc = check_id(d, "traceId", l->trace_id, 16, tlen)) || (rc = check_id(d, "spanId", l->span_id, 8, slen)))
		return rc;
	return 0;
}

static int dec_status(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_span *s)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;
	s->status_code = 0;
	s->status_message = TL_STR_NULL;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 2:
			if ((rc = get_str(d, &f, "message", &s->status_message)))
				return rc;
			break;
		case 3:
			if (f.wire != PB_VARINT)
				return wire_fail(d, "code", f.wire);
			s->status_code = (int)(int32_t)f.u64;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? pb_fail(d, rc) : 0;
}

/* The span's numbered child (event or link) at index k: decodes and prefixes. */
static int dec_span_child(struct otlp__dec *d, const struct pb_field *f, struct tl_span *s, size_t cap)
{
	int rc;
	int is_event = f->num == 11;
	const char *name = is_event ? "events" : "links";
	size_t k = is_event ? s->n_events : s->n_links;
	if (f->wire != PB_LEN)
		return wire_fail(d, name, f->wire);
	if (k >= cap)
		return otlp__fail(d, TL_EINVAL, "%s: internal count mismatch", name);
	if (is_event) {
		rc = dec_event(d, f->data, f->len, &s->events[k]);
		s->n_events++;
	} else {
		rc = dec_link(d, f->data, f->len, &s->links[k]);
		s->n_links++;
	}
	if (rc)
		otlp__prefix(d, "%s[%zu]", name, k);
	return rc;
}

static int dec_span_ext(struct otlp__dec *d, const struct pb_field *f, struct tl_span *s)
{
	switch (f->num) {
	case OTLP_EXT_COST_NUSD:
		if (f->wire != PB_VARINT)
			return wire_fail(d, "tracelampCostNusd", f->wire);
		s->genai.cost_nusd = (int64_t)f->u64;
		return 0;
	case OTLP_EXT_PRICE_UNKNOWN:
		if (f->wire != PB_VARINT)
			return wire_fail(d, "tracelampPriceUnknown", f->wire);
		s->genai.price_unknown = f->u64 != 0;
		return 0;
	case OTLP_EXT_TENANT:
		return get_str(d, f, "tracelampTenant", &s->run.tenant);
	}
	return 0;
}

static int dec_span(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_span *s)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], seen = 0, tlen = 0, slen = 0, plen = 0;
	int rc;
	count3(p, n, 9, 11, 13, cnt);
	if ((rc = attrs_alloc(d, &s->attrs, cnt[0])))
		return rc;
	if (cnt[1] > UINT32_MAX || cnt[2] > UINT32_MAX)
		return oom_fail(d);
	if (cnt[1] && !(s->events = otlp__alloc(d, cnt[1], sizeof *s->events)))
		return oom_fail(d);
	if (cnt[2] && !(s->links = otlp__alloc(d, cnt[2], sizeof *s->links)))
		return oom_fail(d);
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		rc = 0;
		switch (f.num) {
		case 1:
			rc = get_id(d, &f, "traceId", s->trace_id, 16, &tlen);
			break;
		case 2:
			rc = get_id(d, &f, "spanId", s->span_id, 8, &slen);
			break;
		case 3:
			rc = get_str(d, &f, "traceState", &s->trace_state);
			break;
		case 4:
			rc = get_id(d, &f, "parentSpanId", s->parent_span_id, 8, &plen);
			break;
		case 5:
			rc = get_str(d, &f, "name", &s->name);
			break;
		case 6:
			if (f.wire != PB_VARINT)
				return wire_fail(d, "kind", f.wire);
			s->kind = (int)(int32_t)f.u64;
			break;
		case 7:
		case 8:
			if (f.wire != PB_I64)
				return wire_fail(d, f.num == 7 ? "startTimeUnixNano" : "endTimeUnixNano", f.wire);
			if (f.num == 7)
				s->start_unix_nano = f.u64;
			else
				s->end_unix_nano = f.u64;
			break;
		case 9:
			rc = add_kv(d, &f, "attributes", cnt[0], 0, &s->attrs, &seen);
			break;
		case 10:
		case 12:
		case 14: {
			static const char *const names[] = {"droppedAttributesCount", "droppedEventsCount", "droppedLinksCount"};
			uint32_t v = (uint32_t)f.u64;
			if (f.wire != PB_VARINT)
				return wire_fail(d, names[(f.num - 10) / 2], f.wire);
			if (f.num == 10)
				s->attrs.dropped = v;
			else if (f.num == 12)
				s->dropped_events = v;
			else
				s->dropped_links = v;
			break;
		}
		case 11:
			rc = dec_span_child(d, &f, s, cnt[1]);
			break;
		case 13:
			rc = dec_span_child(d, &f, s, cnt[2]);
			break;
		case 15:
			if (f.wire != PB_LEN)
				return wire_fail(d, "status", f.wire);
			if ((rc = dec_status(d, f.data, f.len, s)))
				otlp__prefix(d, "status");
			break;
		case 16:
			if (f.wire != PB_I32)
				return wire_fail(d, "flags", f.wire);
			s->flags = (uint32_t)f.u64;
			break;
		default:
			if (d->ext)
				rc = dec_span_ext(d, &f, s);
			break;
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return pb_fail(d, rc);
	if ((rc = check_id(d, "traceId", s->trace_id, 16, tlen)) || (rc = check_id(d, "spanId", s->span_id, 8, slen)))
		return rc;
	if (plen != 0 && plen != 8)
		return otlp__fail(d, TL_EID, "parentSpanId: must be 0 or 8 bytes, got %zu", plen);
	s->has_parent = plen == 8 && !tl_is_zero(s->parent_span_id, 8);
	if (!s->has_parent)
		memset(s->parent_span_id, 0, sizeof s->parent_span_id);
	return 0;
}

/* ---- envelope ------------------------------------------------------------------ */

static int span_item(struct otlp__dec *d, const uint8_t *p, size_t n, size_t slot, const struct tl_resource *res,
		     const struct tl_scope *sc, void *ctx)
{
	struct tl_span *s = &((struct tl_batch *)ctx)->spans[slot];
	s->resource = res;
	s->scope = sc;
	return dec_span(d, p, n, s);
}

static const struct otlp__env ENV = {.names = {"resourceSpans", "scopeSpans", "spans"}, .pb_item = span_item};

int otlp_decode_traces_pb(const void *data, size_t len, struct tl_arena *arena,
			  const struct otlp_limits *lim, struct tl_batch *out, struct otlp_error *err)
{
	return otlp__decode_traces(data, len, arena, lim, 0, &ENV, out, err);
}

int otlp_decode_traces_pb_ext(const void *data, size_t len, struct tl_arena *arena,
			      const struct otlp_limits *lim, struct tl_batch *out, struct otlp_error *err)
{
	return otlp__decode_traces(data, len, arena, lim, 1, &ENV, out, err);
}

/* ---- helpers shared with the metrics and logs decoders (otlp_int.h) ---------- */

int otlp__pb_fail(struct otlp__dec *d, int rc)
{
	return pb_fail(d, rc);
}

int otlp__pb_wire_fail(struct otlp__dec *d, const char *name, int wire)
{
	return wire_fail(d, name, wire);
}

int otlp__pb_oom(struct otlp__dec *d)
{
	return oom_fail(d);
}

int otlp__pb_str(struct otlp__dec *d, const struct pb_field *f, const char *name, struct tl_str *out)
{
	return get_str(d, f, name, out);
}

void otlp__pb_count(const uint8_t *p, size_t n, uint32_t a, uint32_t b, uint32_t c, size_t out[3])
{
	count3(p, n, a, b, c, out);
}

int otlp__pb_value(struct otlp__dec *d, const uint8_t *p, size_t n, uint32_t depth, struct tl_value *v)
{
	return dec_value(d, p, n, depth, v);
}

int otlp__pb_attrs_alloc(struct otlp__dec *d, struct tl_attrs *a, size_t cap)
{
	return attrs_alloc(d, a, cap);
}

int otlp__pb_add_kv(struct otlp__dec *d, const struct pb_field *f, const char *name, size_t cap, struct tl_attrs *a,
		    size_t *seen)
{
	return add_kv(d, f, name, cap, 0, a, seen);
}

int otlp__pb_resource(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_resource *res)
{
	return dec_resource(d, p, n, res);
}

int otlp__pb_scope(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_scope *sc)
{
	return dec_scope(d, p, n, sc);
}
