/*
 * metrics.h - the daemon's Prometheus metrics: receiver counters, LLM metrics
 * derived from normalised spans, OTLP metrics re-exposed from a bounded series
 * table, and the exposition in text format 0.0.4.
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

/* ---- OTLP metrics re-exposed (otlp_series.c, docs/metrics.md) ------------- */

/*
 * Prefix for the names of re-exposed OTLP metrics ("llm" turns prompt_tokens
 * into llm_prompt_tokens_total); NULL or "" = none. Copied; sanitised to
 * [a-zA-Z0-9_]. Set it before the first metrics_ingest_otlp (series already
 * kept keep their names until they expire).
 */
void metrics_set_namespace(struct metrics *m, const char *ns);
/* Series not updated for ttl_ns are dropped (default 5 minutes; 0 = never). */
void metrics_set_series_ttl(struct metrics *m, uint64_t ttl_ns);
/* At most max series (default 10000); points of new series past it are dropped
 * and counted in tracelamp_otlp_series_dropped_total{reason="limit"}. */
void metrics_set_series_limit(struct metrics *m, uint32_t max);

/*
 * Folds a decoded metrics batch into the series table with the OTel-to-Prometheus
 * rules of protocols.md 7.3: sanitised names with unit suffixes and _total for
 * monotonic sums, attributes as labels, job/instance from service.namespace,
 * service.name and service.instance.id, otel_scope_name/version, target_info for
 * the other resource attributes. Delta sums and histograms are accumulated into
 * cumulative ones; gauges and cumulative points replace the value; exponential
 * histograms keep _count and _sum only. now_ns stamps the series for expiry.
 * Names that would clash with the daemon's own families get an _otlp suffix;
 * type clashes between OTLP metrics drop the later one (counted). Thread-safe.
 */
void metrics_ingest_otlp(struct metrics *m, const struct tl_metrics_batch *b, uint64_t now_ns);

/* Renders only the OTLP series part of /metrics at now_ns (what metrics_render
 * appends, at the current time). For tests and tools. */
int metrics_render_otlp(struct metrics *m, uint64_t now_ns, struct tl_buf *out);

#endif
