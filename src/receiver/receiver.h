/*
 * receiver.h - the OTLP/HTTP endpoint: POST /v1/traces, /v1/metrics and
 * /v1/logs in protobuf or JSON, optionally gzip-compressed. Decodes,
 * normalises and passes each request to the pipeline; replies 200 only after
 * the store reported what it keeps of the request durable (spans; log
 * records; GenAI usage facts from metrics). A metrics request without GenAI
 * usage is only folded into the re-exposed series (memory) and answered at once.
 *
 * Status codes (bodies are google.rpc.Status in the request's encoding):
 * 400 undecodable or bad tenant header, 404 unknown path, 405 not POST, 413 body or inflated body over
 * max_request_bytes or decoded form over the decode ceiling, 415 unsupported
 * Content-Type or Content-Encoding, 429 over the memory budget, 503 draining or
 * store failure (429 and 503 carry Retry-After).
 *
 * Threads: receiver_handle runs on an OTLP loop thread of src/server; several
 * loops share one receiver.
 *
 * The OTLP/gRPC endpoint (otlp_grpc.c, declarations at the end) is HTTP/2 with
 * prior knowledge (h2c) run by nghttp2 on the same loops; it shares the decode
 * and submit path (receiver_ingest_traces) and the durability rule: grpc-status
 * 0 only after the store's commit.
 */
#ifndef TL_RECEIVER_H
#define TL_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"
#include "model/model.h"
#include "pipeline/pipeline.h"
#include "server/server.h"

struct receiver_config {
	struct pipeline *pipeline;           /* borrowed */
	struct metrics *metrics;             /* borrowed; may be NULL */
	const struct tl_price_table *prices; /* borrowed; may be NULL (costs unknown) */
	size_t max_request_bytes;            /* wire and inflated body limit */
	uint64_t memory_budget;              /* sets the decode ceiling (see docs/operations.md) */
	uint32_t max_depth;                  /* AnyValue nesting; 0 = 32 */
	uint32_t usage_series;               /* cumulative usage series tracked; 0 = 10000 */
};

struct receiver;

/* Returns owned (receiver_destroy). */
int receiver_create(const struct receiver_config *cfg, struct receiver **out);
/* Accepts NULL. Every request must have been answered. */
void receiver_destroy(struct receiver *r);

/* server_handler_fn for the OTLP port; arg is the struct receiver. */
void receiver_handle(struct evhttp_request *req, struct server_loop *loop, void *arg);

/* ---- pure helpers (exposed for tests) -------------------------------------- */

enum receiver_ctype { RECEIVER_CT_UNKNOWN = 0, RECEIVER_CT_PROTOBUF, RECEIVER_CT_JSON };

/* Classifies a Content-Type value, ignoring parameters (";charset=utf-8"),
 * case and surrounding spaces. NULL -> UNKNOWN. */
int receiver_content_type(const char *v);

/* 1 if the tenant is 1-64 characters of [A-Za-z0-9._-]. */
int receiver_tenant_valid(const char *t);

/* Inflates a gzip stream (concatenated members allowed) of n bytes, appending to
 * out; the output may not exceed max bytes. TL_ETOOBIG past max, TL_EGZIP on a
 * corrupt or truncated stream. */
int receiver_gunzip(const void *in, size_t n, size_t max, struct tl_buf *out);

/* ---- shared by the OTLP/HTTP and OTLP/gRPC endpoints ------------------------ */

/* The outcome of decoding and submitting one Export request. */
struct receiver_result {
	/* 200 (accepted, or nothing to store), 400 malformed, 413 decoded form too
	 * large, 429 over the memory budget, 503 the store refused or draining. */
	int status;
	int submitted;    /* 1: the batch went to the store; done(arg, status) will be called */
	uint64_t n_items; /* spans (data points, log records) in the request */
	int64_t rejected; /* items refused although status is 200: partial success */
	char msg[300];    /* the error, or the partial-success message; "" if none */
};

/*
 * Decodes an ExportTraceServiceRequest (protobuf, or OTLP/JSON when json is
 * set), charges its decoded form to the open ticket t, normalises it and
 * submits it to the pipeline with done/arg. Fills res. On a loop thread; data
 * may be freed once this returns. Does not reply or count metrics.
 */
void receiver_ingest_traces(struct receiver *r, struct pipeline_ticket *t, const void *data, size_t len, int json,
			    const char *tenant, store_done_fn done, void *arg, struct receiver_result *res);

/*
 * Metrics (otlp_signals.c): decodes an ExportMetricsServiceRequest, rejects
 * data points without time_unix_nano (a partial success: res->rejected and
 * res->msg), folds the rest into the re-exposed series (metrics_ingest_otlp,
 * after the store accepted the request), and submits the GenAI usage facts
 * (model_usage_from_metrics, priced from the price table when the metric has
 * no cost) to the store. res->submitted is 0 when there were no usage facts.
 */
void receiver_ingest_metrics(struct receiver *r, struct pipeline_ticket *t, const void *data, size_t len, int json,
			     const char *tenant, store_done_fn done, void *arg, struct receiver_result *res);

/*
 * Logs (otlp_signals.c): decodes an ExportLogsServiceRequest and submits its
 * records (with the spans made from coding-agent events, if any) to the store
 * in one commit.
 */
void receiver_ingest_logs(struct receiver *r, struct pipeline_ticket *t, const void *data, size_t len, int json,
			  const char *tenant, store_done_fn done, void *arg, struct receiver_result *res);

/* ---- OTLP/gRPC (otlp_grpc.c) ------------------------------------------------- */

enum receiver_signal { RECEIVER_SIG_TRACES = 0, RECEIVER_SIG_METRICS, RECEIVER_SIG_LOGS, RECEIVER_SIG__N };

/*
 * A signal's Export handler: the same contract as receiver_ingest_traces for
 * one protobuf Export<Signal>ServiceRequest (arg is the handler's own). The
 * reply is Export<Signal>ServiceResponse, whose partial_success shares the
 * trace response's field numbers, so res->rejected and res->msg (status 200)
 * become partial_success.{rejected_*, error_message}.
 */
typedef void (*receiver_export_fn)(void *arg, struct pipeline_ticket *t, const void *data, size_t len,
				   const char *tenant, store_done_fn done, void *done_arg, struct receiver_result *res);

struct receiver_grpc_config {
	struct receiver *receiver;  /* borrowed: traces go through receiver_ingest_traces */
	struct pipeline *pipeline;  /* borrowed */
	struct metrics *metrics;    /* borrowed; may be NULL */
	size_t max_message_bytes;   /* one request message, after gzip inflation */
	uint32_t max_streams;       /* SETTINGS_MAX_CONCURRENT_STREAMS; 0 = 256 */
	uint64_t goaway_delay_ns;   /* drain: shutdown notice -> final GOAWAY; 0 = 100ms */
};

struct receiver_grpc;

/* Returns owned (receiver_grpc_destroy); traces are served from the start,
 * metrics and logs answer UNIMPLEMENTED until a handler is set. */
int receiver_grpc_create(const struct receiver_grpc_config *cfg, struct receiver_grpc **out);
/* Accepts NULL. After server_destroy (every connection closed). */
void receiver_grpc_destroy(struct receiver_grpc *g);

/* Serves sig's Export with fn (NULL: UNIMPLEMENTED). Before the server starts. */
void receiver_grpc_set_handler(struct receiver_grpc *g, int sig, receiver_export_fn fn, void *arg);

/* receiver_export_fn for MetricsService/Export and LogsService/Export (arg is
 * the struct receiver): receiver_ingest_metrics / _logs on protobuf. */
void receiver_export_metrics(void *arg, struct pipeline_ticket *t, const void *data, size_t len, const char *tenant,
			     store_done_fn done, void *done_arg, struct receiver_result *res);
void receiver_export_logs(void *arg, struct pipeline_ticket *t, const void *data, size_t len, const char *tenant,
			  store_done_fn done, void *done_arg, struct receiver_result *res);

/* The server hooks (struct server_config grpc_accept, grpc_drain, grpc_close);
 * arg is the struct receiver_grpc. */
void receiver_grpc_accept(int fd, struct server_loop *loop, void *arg);
void receiver_grpc_drain(struct server_loop *loop, void *arg);
void receiver_grpc_close(struct server_loop *loop, void *arg);

/* ---- pure helpers (exposed for tests) -------------------------------------- */

/* Percent-encodes a grpc-message value (bytes outside 0x20-0x7e and '%') into
 * out (NUL-terminated, truncated at a whole escape). */
void receiver_grpc_percent_encode(const char *in, char *out, size_t n);

/* Appends the base64 (standard alphabet, padded) of n bytes to out. */
int receiver_base64(const void *in, size_t n, struct tl_buf *out);

/* A google.rpc.Status {code, message, details: [RetryInfo{retry_delay}]}
 * (the RetryInfo only when retry_ms > 0), serialized into out. */
int receiver_grpc_status_details(struct tl_buf *out, int code, const char *msg, uint32_t retry_ms);

#endif
