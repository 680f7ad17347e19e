/*
 * metrics.h - the daemon's Prometheus metrics: receiver counters, LLM metrics
 * derived from normalised spans, and the exposition in text format 0.0.4.
 *
 * Threads: every function is thread-safe (counters are atomics or under one
 * mutex); metrics_render may run concurrently with updates.
 */
#ifndef TL_METRICS_H
#define TL_METRICS_H

#include "model/model.h"
#include "store/store.h"

struct metrics;

/* max_models: distinct model label values kept before folding rare ones into
 * "other" (bounded label cardinality). Returns owned (metrics_destroy). */
struct metrics *metrics_create(uint32_t max_models);
void metrics_destroy(struct metrics *m);

/* Why spans were refused (label reason="..."). */
enum metrics_refuse {
	METRICS_REFUSE_MALFORMED,  /* 400 */
	METRICS_REFUSE_TOO_LARGE,  /* 413 */
	METRICS_REFUSE_UNSUPPORTED,/* 415 */
	METRICS_REFUSE_BUSY,       /* 429 */
	METRICS_REFUSE_STORE,      /* 5xx from the store */
	METRICS_REFUSE_SHUTDOWN,   /* 503 while draining */
	METRICS_REFUSE__N
};

/* One OTLP request finished: transport "http"/"grpc", signal "traces", status code. */
void metrics_request(struct metrics *m, const char *transport, const char *signal, int status);
void metrics_spans_accepted(struct metrics *m, uint64_t n);
void metrics_spans_refused(struct metrics *m, int reason, uint64_t n);
void metrics_bytes_received(struct metrics *m, uint64_t n);

/* Observes the LLM metrics of an accepted, normalised batch: token usage
 * histogram by token type/model/provider/operation, operation duration, cost and
 * call counters, unknown GenAI attribute count. */
void metrics_observe_batch(struct metrics *m, const struct tl_batch *b);

/* Extra gauges sampled at render time. */
struct metrics_gauges {
	uint64_t memory_in_use;    /* admission: bytes of accepted, uncommitted requests */
	uint64_t memory_budget;
};

/* Renders everything (including the store's metrics and process RSS) in
 * Prometheus text format into out. store may be NULL. */
int metrics_render(struct metrics *m, struct store *store, const struct metrics_gauges *g, struct tl_buf *out);

#endif
