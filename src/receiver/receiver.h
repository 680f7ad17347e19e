/*
 * receiver.h - the OTLP/HTTP endpoint: POST /v1/traces in protobuf or JSON,
 * optionally gzip-compressed. Decodes, normalises and passes each request to
 * the pipeline; replies 200 only after the store reported the batch durable.
 *
 * Status codes (bodies are google.rpc.Status in the request's encoding):
 * 400 undecodable or bad tenant header, 404 unknown path (and /v1/metrics,
 * /v1/logs for now), 405 not POST, 413 body or inflated body over
 * max_request_bytes or decoded form over the decode ceiling, 415 unsupported
 * Content-Type or Content-Encoding, 429 over the memory budget, 503 draining or
 * store failure (429 and 503 carry Retry-After).
 *
 * Threads: receiver_handle runs on an OTLP loop thread of src/server; several
 * loops share one receiver.
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

#endif
