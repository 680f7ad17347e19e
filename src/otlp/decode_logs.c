/*
 * decode_logs.c - ExportLogsServiceRequest (protobuf and OTLP/JSON) ->
 * struct tl_logs_batch (protocols.md 2.2 LogRecord table, 1.3 JSON rules).
 *
 * Built like the trace decoders, with their shared value, attribute, resource
 * and scope helpers (otlp_int.h). Trace and span ids are optional on log
 * records: a length of 0 (or, in JSON, "") means absent, any length other than
 * 0/16 or 0/8 is an error, and an all-zero id counts as absent.
 */
#include "otlp/otlp_int.h"

#include <jansson.h>
#include <string.h>

static int batch_alloc(struct otlp__dec *d, struct tl_logs_batch *out, size_t n_res, size_t n_scopes, size_t n_rec)
{
	out->resources = otlp__alloc(d, n_res, sizeof *out->resources);
	out->scopes = otlp__alloc(d, n_scopes, sizeof *out->scopes);
	out->records = otlp__alloc(d, n_rec, sizeof *out->records);
	if ((n_res && !out->resources) || (n_scopes && !out->scopes) || (n_rec && !out->records))
		return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit (%zu log records)", n_rec);
	out->n_resources = n_res;
	out->n_scopes = n_scopes;
	out->n_records = n_rec;
	return 0;
}

static void batch_start(struct otlp__dec *d, struct tl_arena *arena, const struct otlp_limits *lim,
			struct otlp_error *err, struct tl_logs_batch *out)
{
	otlp__dec_init(d, arena, lim, 0, err);
	memset(out, 0, sizeof *out);
	out->arena = arena;
	out->tenant = TL_STR_LIT("default");
}

/* Checks an optional id's decoded length and sets *has. */
static int check_opt_id(struct otlp__dec *d, const char *name, const uint8_t *id, size_t want, size_t len, int *has)
{
	*has = 0;
	if (len == 0)
		return 0;
	if (len != want)
		return otlp__fail(d, TL_EID, "%s: must be 0 or %zu bytes, got %zu", name, want, len);
	*has = !tl_is_zero(id, want);
	return 0;
}

static void finish_ids(struct tl_log_record *lr)
{
	if (!lr->has_trace_id)
		memset(lr->trace_id, 0, sizeof lr->trace_id);
	if (!lr->has_span_id)
		memset(lr->span_id, 0, sizeof lr->span_id);
}

/* ==== protobuf ================================================================= */

static int dec_record(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_log_record *lr)
{
	struct pb_reader r;
	struct pb_field f;
	size_t cnt[3], seen = 0, tlen = 0, slen = 0;
	int rc;
	otlp__pb_count(p, n, 6, 0, 0, cnt);
	if ((rc = otlp__pb_attrs_alloc(d, &lr->attrs, cnt[0])))
		return rc;
	lr->body.kind = TL_V_EMPTY;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		rc = 0;
		switch (f.num) {
		case 1:
		case 11:
			if (f.wire != PB_I64)
				return otlp__pb_wire_fail(d, f.num == 1 ? "timeUnixNano" : "observedTimeUnixNano", f.wire);
			if (f.num == 1)
				lr->time_unix_nano = f.u64;
			else
				lr->observed_time_unix_nano = f.u64;
			break;
		case 2:
			if (f.wire != PB_VARINT)
				return otlp__pb_wire_fail(d, "severityNumber", f.wire);
			lr->severity_number = (int)(int32_t)f.u64;
			break;
		case 3:
			rc = otlp__pb_str(d, &f, "severityText", &lr->severity_text);
			break;
		case 5:
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, "body", f.wire);
			if ((rc = otlp__pb_value(d, f.data, f.len, 0, &lr->body)))
				otlp__prefix(d, "body");
			break;
		case 6:
			rc = otlp__pb_add_kv(d, &f, "attributes", cnt[0], &lr->attrs, &seen);
			break;
		case 7:
			if (f.wire != PB_VARINT)
				return otlp__pb_wire_fail(d, "droppedAttributesCount", f.wire);
			lr->attrs.dropped = (uint32_t)f.u64;
			break;
		case 8:
			if (f.wire != PB_I32)
				return otlp__pb_wire_fail(d, "flags", f.wire);
			lr->flags = (uint32_t)f.u64;
			break;
		case 9:
		case 10: {
			int is_trace = f.num == 9;
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, is_trace ? "traceId" : "spanId", f.wire);
			/* a later occurrence replaces an earlier one: check the last */
			if (is_trace) {
				tlen = f.len;
				if (f.len == 16)
					memcpy(lr->trace_id, f.data, 16);
			} else {
				slen = f.len;
				if (f.len == 8)
					memcpy(lr->span_id, f.data, 8);
			}
			break;
		}
		case 12:
			rc = otlp__pb_str(d, &f, "eventName", &lr->event_name);
			break;
		default:
			break;
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return otlp__pb_fail(d, rc);
	if ((rc = check_opt_id(d, "traceId", lr->trace_id, 16, tlen, &lr->has_trace_id)) ||
	    (rc = check_opt_id(d, "spanId", lr->span_id, 8, slen, &lr->has_span_id)))
		return rc;
	finish_ids(lr);
	return 0;
}

struct fill {
	struct tl_logs_batch *b;
	size_t n_res, n_scopes, n_rec;
};

static int dec_scope_logs(struct otlp__dec *d, const uint8_t *p, size_t n, struct fill *fl, const struct tl_resource *res)
{
	struct pb_reader r;
	struct pb_field f;
	struct tl_scope *sc;
	size_t k = 0;
	int rc;
	if (fl->n_scopes >= fl->b->n_scopes)
		return otlp__fail(d, TL_EINVAL, ": internal count mismatch");
	sc = &fl->b->scopes[fl->n_scopes++];
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, "scope", f.wire);
			if ((rc = otlp__pb_scope(d, f.data, f.len, sc))) {
				otlp__prefix(d, "scope");
				return rc;
			}
			break;
		case 2: {
			struct tl_log_record *lr;
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, "logRecords", f.wire);
			if (fl->n_rec >= fl->b->n_records)
				return otlp__fail(d, TL_EINVAL, "logRecords: internal count mismatch");
			lr = &fl->b->records[fl->n_rec++];
			lr->resource = res;
			lr->scope = sc;
			if ((rc = dec_record(d, f.data, f.len, lr))) {
				otlp__prefix(d, "logRecords[%zu]", k);
				return rc;
			}
			k++;
			break;
		}
		case 3:
			if ((rc = otlp__pb_str(d, &f, "schemaUrl", &sc->schema_url)))
				return rc;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

static int dec_resource_logs(struct otlp__dec *d, const uint8_t *p, size_t n, struct fill *fl)
{
	struct pb_reader r;
	struct pb_field f;
	struct tl_resource *res;
	size_t k = 0;
	int rc;
	if (fl->n_res >= fl->b->n_resources)
		return otlp__fail(d, TL_EINVAL, ": internal count mismatch");
	res = &fl->b->resources[fl->n_res++];
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, "resource", f.wire);
			if ((rc = otlp__pb_resource(d, f.data, f.len, res))) {
				otlp__prefix(d, "resource");
				return rc;
			}
			break;
		case 2:
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, "scopeLogs", f.wire);
			if ((rc = dec_scope_logs(d, f.data, f.len, fl, res))) {
				otlp__prefix(d, "scopeLogs[%zu]", k);
				return rc;
			}
			k++;
			break;
		case 3:
			if ((rc = otlp__pb_str(d, &f, "schemaUrl", &res->schema_url)))
				return rc;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

static void prescan_pb(const uint8_t *p, size_t n, size_t *n_res, size_t *n_scopes, size_t *n_rec)
{
	struct pb_reader r1, r2, r3;
	struct pb_field f1, f2, f3;
	*n_res = *n_scopes = *n_rec = 0;
	pb_reader_init(&r1, p, n);
	while (otlp__pb_next(&r1, &f1) > 0) {
		if (f1.num != 1 || f1.wire != PB_LEN)
			continue;
		(*n_res)++;
		pb_reader_init(&r2, f1.data, f1.len);
		while (otlp__pb_next(&r2, &f2) > 0) {
			if (f2.num != 2 || f2.wire != PB_LEN)
				continue;
			(*n_scopes)++;
			pb_reader_init(&r3, f2.data, f2.len);
			while (otlp__pb_next(&r3, &f3) > 0)
				if (f3.num == 2 && f3.wire == PB_LEN)
					(*n_rec)++;
		}
	}
}

int otlp_decode_logs_pb(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			struct tl_logs_batch *out, struct otlp_error *err)
{
	struct otlp__dec d;
	struct pb_reader r;
	struct pb_field f;
	struct fill fl = {out, 0, 0, 0};
	size_t n_res, n_scopes, n_rec, k = 0;
	int rc;
	batch_start(&d, arena, lim, err, out);
	if (!data && len) {
		rc = otlp__fail(&d, TL_EINVAL, "request: no data");
		goto out;
	}
	prescan_pb(data, len, &n_res, &n_scopes, &n_rec);
	if ((rc = batch_alloc(&d, out, n_res, n_scopes, n_rec)))
		goto out;
	pb_reader_init(&r, data, len);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (f.wire != PB_LEN) {
			rc = otlp__pb_wire_fail(&d, "resourceLogs", f.wire);
			goto out;
		}
		if ((rc = dec_resource_logs(&d, f.data, f.len, &fl))) {
			otlp__prefix(&d, "resourceLogs[%zu]", k);
			goto out;
		}
		k++;
	}
	if (rc < 0) {
		rc = otlp__pb_fail(&d, rc);
		goto out;
	}
	out->n_resources = fl.n_res;
	out->n_scopes = fl.n_scopes;
	out->n_records = fl.n_rec;
	rc = 0;
out:
	if (rc) {
		otlp__finish_error(&d);
		out->n_records = out->n_resources = out->n_scopes = 0;
	}
	return rc;
}

/* ==== JSON ====================================================================== */

static const char *const SEVERITY_NAMES[] = {
    "SEVERITY_NUMBER_UNSPECIFIED", "SEVERITY_NUMBER_TRACE",  "SEVERITY_NUMBER_TRACE2", "SEVERITY_NUMBER_TRACE3",
    "SEVERITY_NUMBER_TRACE4",      "SEVERITY_NUMBER_DEBUG",  "SEVERITY_NUMBER_DEBUG2", "SEVERITY_NUMBER_DEBUG3",
    "SEVERITY_NUMBER_DEBUG4",      "SEVERITY_NUMBER_INFO",   "SEVERITY_NUMBER_INFO2",  "SEVERITY_NUMBER_INFO3",
    "SEVERITY_NUMBER_INFO4",       "SEVERITY_NUMBER_WARN",   "SEVERITY_NUMBER_WARN2",  "SEVERITY_NUMBER_WARN3",
    "SEVERITY_NUMBER_WARN4",       "SEVERITY_NUMBER_ERROR",  "SEVERITY_NUMBER_ERROR2", "SEVERITY_NUMBER_ERROR3",
    "SEVERITY_NUMBER_ERROR4",      "SEVERITY_NUMBER_FATAL",  "SEVERITY_NUMBER_FATAL2", "SEVERITY_NUMBER_FATAL3",
    "SEVERITY_NUMBER_FATAL4",
};

static int js_record(struct otlp__dec *d, const json_t *v, struct tl_log_record *lr)
{
	const json_t *x;
	size_t tlen, slen;
	int rc;
	lr->body.kind = TL_V_EMPTY;
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((rc = otlp__js_u64(d, v, "timeUnixNano", UINT64_MAX, &lr->time_unix_nano)) ||
	    (rc = otlp__js_u64(d, v, "observedTimeUnixNano", UINT64_MAX, &lr->observed_time_unix_nano)) ||
	    (rc = otlp__js_enum(d, v, "severityNumber", SEVERITY_NAMES, 25, &lr->severity_number)) ||
	    (rc = otlp__js_str(d, v, "severityText", &lr->severity_text)) ||
	    (rc = otlp__js_attrs(d, v, "attributes", &lr->attrs)) || (rc = otlp__js_u32(d, v, "flags", &lr->flags)) ||
	    (rc = otlp__js_str(d, v, "eventName", &lr->event_name)) ||
	    (rc = otlp__js_id(d, v, "traceId", lr->trace_id, 16, &tlen)) ||
	    (rc = otlp__js_id(d, v, "spanId", lr->span_id, 8, &slen)) ||
	    (rc = check_opt_id(d, "traceId", lr->trace_id, 16, tlen, &lr->has_trace_id)) ||
	    (rc = check_opt_id(d, "spanId", lr->span_id, 8, slen, &lr->has_span_id)))
		return rc;
	finish_ids(lr);
	if ((x = otlp__js_get(v, "body")) && (rc = otlp__js_value(d, x, 0, &lr->body))) {
		otlp__prefix(d, "body");
		return rc;
	}
	return 0;
}

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

static const json_t *arr_or_null(const json_t *obj, const char *key)
{
	const json_t *a = json_is_object(obj) ? otlp__js_get(obj, key) : NULL;
	return a && json_is_array(a) ? a : NULL;
}

int otlp_decode_logs_json(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			  struct tl_logs_batch *out, struct otlp_error *err)
{
	struct otlp__dec d;
	json_t *root = NULL;
	const json_t *rls;
	size_t n_res = 0, n_scopes = 0, n_rec = 0, us = 0, ur = 0;
	int rc;
	batch_start(&d, arena, lim, err, out);
	if (!(root = otlp__js_load(&d, data, len))) {
		rc = err->code;
		goto out;
	}
	if (!(rls = js_array(&d, root, "resourceLogs", &rc))) {
		if (rc)
			goto out;
	} else {
		n_res = json_array_size(rls);
		for (size_t i = 0; i < n_res; i++) {
			const json_t *sls = arr_or_null(json_array_get(rls, i), "scopeLogs");
			for (size_t j = 0; sls && j < json_array_size(sls); j++) {
				const json_t *lrs = arr_or_null(json_array_get(sls, j), "logRecords");
				n_scopes++;
				n_rec += lrs ? json_array_size(lrs) : 0;
			}
		}
	}
	if ((rc = batch_alloc(&d, out, n_res, n_scopes, n_rec)))
		goto out;
	for (size_t i = 0; i < n_res; i++) {
		const json_t *rl = json_array_get(rls, i), *x, *sls = NULL;
		struct tl_resource *res = &out->resources[i];
		rc = 0;
		if (!json_is_object(rl))
			rc = otlp__fail(&d, TL_EJSON, ": expected an object");
		else if ((x = otlp__js_get(rl, "resource")) && (rc = otlp__js_resource(&d, x, res)))
			otlp__prefix(&d, "resource");
		else if (!(rc = otlp__js_str(&d, rl, "schemaUrl", &res->schema_url)))
			sls = js_array(&d, rl, "scopeLogs", &rc);
		for (size_t j = 0; !rc && sls && j < json_array_size(sls); j++) {
			const json_t *sl = json_array_get(sls, j), *lrs = NULL;
			struct tl_scope *sc = &out->scopes[us++];
			if (!json_is_object(sl))
				rc = otlp__fail(&d, TL_EJSON, ": expected an object");
			else if ((x = otlp__js_get(sl, "scope")) && (rc = otlp__js_scope(&d, x, sc)))
				otlp__prefix(&d, "scope");
			else if (!(rc = otlp__js_str(&d, sl, "schemaUrl", &sc->schema_url)))
				lrs = js_array(&d, sl, "logRecords", &rc);
			for (size_t k = 0; !rc && lrs && k < json_array_size(lrs); k++) {
				struct tl_log_record *lr = &out->records[ur++];
				lr->resource = res;
				lr->scope = sc;
				if ((rc = js_record(&d, json_array_get(lrs, k), lr)))
					otlp__prefix(&d, "logRecords[%zu]", k);
			}
			if (rc)
				otlp__prefix(&d, "scopeLogs[%zu]", j);
		}
		if (rc) {
			otlp__prefix(&d, "resourceLogs[%zu]", i);
			goto out;
		}
	}
	out->n_scopes = us;
	out->n_records = ur;
	rc = 0;
out:
	if (rc) {
		otlp__finish_error(&d);
		out->n_records = out->n_resources = out->n_scopes = 0;
	}
	json_decref(root);
	return rc;
}
