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

/* Allocates the batch arrays for the envelope walk (otlp__env_alloc_fn). */
static int env_alloc(struct otlp__dec *d, struct otlp__env *env, const size_t cnt[3])
{
	struct tl_logs_batch *out = env->ctx;
	void *items;
	int rc = otlp__env_arrays(d, env, cnt, sizeof *out->records, "log records", &items);
	out->resources = env->resources;
	out->scopes = env->scopes;
	out->records = items;
	return rc;
}

static struct tl_log_record *record_slot(void *ctx, size_t slot, const struct tl_resource *res,
					 const struct tl_scope *sc)
{
	struct tl_log_record *lr = &((struct tl_logs_batch *)ctx)->records[slot];
	lr->resource = res;
	lr->scope = sc;
	return lr;
}

static int pb_item(struct otlp__dec *d, const uint8_t *p, size_t n, size_t slot, const struct tl_resource *res,
		   const struct tl_scope *sc, void *ctx)
{
	return dec_record(d, p, n, record_slot(ctx, slot, res, sc));
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

static int js_item(struct otlp__dec *d, const json_t *v, size_t slot, const struct tl_resource *res,
		   const struct tl_scope *sc, void *ctx)
{
	return js_record(d, v, record_slot(ctx, slot, res, sc));
}

/* Either encoding: context, empty batch, envelope walk, counts. */
static int decode(int json, const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
		  struct tl_logs_batch *out, struct otlp_error *err)
{
	static const struct otlp__env proto = {.names = {"resourceLogs", "scopeLogs", "logRecords"},
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
	otlp__env_finish(&d, rc, &env, &out->n_resources, &out->n_scopes, &out->n_records);
	return rc;
}

int otlp_decode_logs_pb(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			struct tl_logs_batch *out, struct otlp_error *err)
{
	return decode(0, data, len, arena, lim, out, err);
}

int otlp_decode_logs_json(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			  struct tl_logs_batch *out, struct otlp_error *err)
{
	return decode(1, data, len, arena, lim, out, err);
}
