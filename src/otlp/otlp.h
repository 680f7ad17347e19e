/*
 * otlp.h - OTLP traces: decode ExportTraceServiceRequest from protobuf (zero copy)
 * and from OTLP/JSON into a struct tl_batch; encode spans back to protobuf (for
 * the store's chunks, the bench load generator and, later, the SDK); encode the
 * OTLP responses (ExportTraceServiceResponse, google.rpc.Status) in both encodings.
 * Metrics and logs: decode their export requests (both encodings) into
 * struct tl_metrics_batch / struct tl_logs_batch and encode their responses.
 * Pure: no I/O, no logging.
 */
#ifndef TL_OTLP_H
#define TL_OTLP_H

#include "model/model.h"

/* Limits applied while decoding; exceeding one fails the whole request. */
struct otlp_limits {
	uint32_t max_depth;     /* AnyValue nesting (arrays/kvlists), e.g. 32 */
	size_t max_arena_bytes; /* decoded-structure memory ceiling */
};

/* A decode error: a TL_E* code plus a human message naming what was wrong,
 * e.g. "resourceSpans[0].scopeSpans[1].spans[3].traceId: must be 16 bytes". */
struct otlp_error {
	int code;
	char msg[256];
};

/*
 * Decodes an ExportTraceServiceRequest (protobuf). Strings in *out borrow from
 * (data, len), which must outlive the batch; arrays come from arena. out->arena is
 * set to arena. Rejects: bad wire format, truncation, trace id not 16 bytes or all
 * zero, span id not 8 bytes or zero, parent span id of a length other than 0 or 8,
 * invalid UTF-8 in string fields (names, keys, string values), nesting over
 * max_depth. Unknown fields are skipped. Returns 0 or a TL_E* with err filled.
 */
int otlp_decode_traces_pb(const void *data, size_t len, struct tl_arena *arena,
			  const struct otlp_limits *lim, struct tl_batch *out, struct otlp_error *err);

/* Same for OTLP/JSON (camelCase keys, hex ids, int64 as string or number, enums as
 * integers or enum names). Strings are copied into the arena. */
int otlp_decode_traces_json(const void *data, size_t len, struct tl_arena *arena,
			    const struct otlp_limits *lim, struct tl_batch *out, struct otlp_error *err);

/*
 * Encodes spans as an ExportTraceServiceRequest / TracesData (field 1 repeated
 * ResourceSpans), grouping consecutive spans that share a resource and scope
 * pointer. Every span field and attribute is written (full fidelity). Appends to b.
 * The spans' tl_genai is not encoded except cost: when with_ext is set, each span
 * also carries tracelamp extension fields (see otlp_ext below) so a stored chunk
 * keeps the cost computed at ingest and the tenant.
 */
int otlp_encode_traces(struct tl_buf *b, const struct tl_span *const *spans, size_t n, int with_ext);

/* Extension fields written into Span messages inside stored chunks only (field
 * numbers far above OTLP's): never sent to other systems. */
#define OTLP_EXT_COST_NUSD 1001    /* varint int64 (absent = unknown) */
#define OTLP_EXT_PRICE_UNKNOWN 1002 /* varint bool */
#define OTLP_EXT_TENANT 1003       /* string */

/* Decode with extensions (for chunks read back from the store): like the pb decoder
 * but also reads OTLP_EXT_* into span->genai.cost_nusd / price_unknown / run.tenant. */
int otlp_decode_traces_pb_ext(const void *data, size_t len, struct tl_arena *arena,
			      const struct otlp_limits *lim, struct tl_batch *out, struct otlp_error *err);

/* Response bodies. JSON forms follow the OTLP/JSON rules. */
int otlp_encode_trace_response_pb(struct tl_buf *b, int64_t rejected, const char *msg);
int otlp_encode_trace_response_json(struct tl_buf *b, int64_t rejected, const char *msg);
/* google.rpc.Status {code, message} */
int otlp_encode_status_pb(struct tl_buf *b, int32_t code, const char *msg);
int otlp_encode_status_json(struct tl_buf *b, int32_t code, const char *msg);

/* ---- metrics (tracelamp verify) ------------------------------------------ */

/* One LLM call's token usage, recorded as one observation per token type. */
struct otlp_token_usage {
	const char *operation;      /* gen_ai.operation.name, e.g. "chat" (required) */
	const char *provider;       /* gen_ai.provider.name (required) */
	const char *request_model;  /* gen_ai.request.model, NULL = absent */
	const char *response_model; /* gen_ai.response.model, NULL = absent */
	int64_t input_tokens;       /* gen_ai.token.type=input observation; < 0 = none */
	int64_t output_tokens;      /* gen_ai.token.type=output observation; < 0 = none */
};

/*
 * Encodes an ExportMetricsServiceRequest holding one gen_ai.client.token.usage
 * histogram (unit {token}, CUMULATIVE, the GenAI conventions' recommended bucket
 * bounds) with, for every call, one data point per reported token type (count 1,
 * sum = min = max = the tokens). The resource carries service.name = service;
 * the scope is named scope. Data points span [start, time]. Appends to b.
 * Returns 0, TL_EINVAL (missing operation or provider), or a tl_buf error.
 */
int otlp_encode_token_usage_metrics(struct tl_buf *b, const char *service, const char *scope,
				    const struct otlp_token_usage *calls, size_t n, uint64_t start_unix_nano,
				    uint64_t time_unix_nano);

/* ---- metrics and logs signals -------------------------------------------- */

/*
 * Decodes an ExportMetricsServiceRequest (protobuf) into *out, with the rules of
 * otlp_decode_traces_pb (strings borrow from data; arrays from arena; unknown
 * fields skipped; limits applied). Repeated bucket counts and bounds are
 * accepted packed and unpacked. Rejects bad wire format and truncation, invalid
 * UTF-8, nesting over max_depth, and histogram points whose bucket count is not
 * bounds + 1 (both empty is fine) or whose bounds are not finite and strictly
 * increasing (TL_EINVAL). Exemplars are checked and ignored. Returns 0 or a
 * TL_E* with err filled ("resourceMetrics[0].scopeMetrics[0].metrics[2]
 * .histogram.dataPoints[0].explicitBounds[1]: ...").
 */
int otlp_decode_metrics_pb(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			   struct tl_metrics_batch *out, struct otlp_error *err);
/* Same for OTLP/JSON: int64 as strings or numbers, doubles as numbers or
 * "NaN"/"Infinity"/"-Infinity", enums as integers or names; strings copied into
 * the arena. */
int otlp_decode_metrics_json(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			     struct tl_metrics_batch *out, struct otlp_error *err);

/*
 * Decodes an ExportLogsServiceRequest (protobuf) into *out, with the rules of
 * otlp_decode_traces_pb. trace_id and span_id are optional: a length other
 * than 0/16 (0/8) is TL_EID; all-zero ids count as absent (has_* = 0).
 */
int otlp_decode_logs_pb(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			struct tl_logs_batch *out, struct otlp_error *err);
/* Same for OTLP/JSON (hex ids, "" = absent). */
int otlp_decode_logs_json(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim,
			  struct tl_logs_batch *out, struct otlp_error *err);

/* Export responses: partial success with rejected_data_points /
 * rejected_log_records and error_message; nothing (protobuf) or "{}" (JSON)
 * when rejected <= 0 and msg is empty. Append to b. */
int otlp_encode_metrics_response_pb(struct tl_buf *b, int64_t rejected, const char *msg);
int otlp_encode_metrics_response_json(struct tl_buf *b, int64_t rejected, const char *msg);
int otlp_encode_logs_response_pb(struct tl_buf *b, int64_t rejected, const char *msg);
int otlp_encode_logs_response_json(struct tl_buf *b, int64_t rejected, const char *msg);

#endif
