/*
 * sdk_int.h - internals of libtracelamp shared by the files of sdk/src: configuration
 * read from the environment, the process-wide SDK state (exporter queue and
 * counters), span handles and records, ids and sampling. Never installed.
 *
 * Memory: a recording span owns a record (struct sdk_rec) whose strings and
 * arrays live in the record's own arena; tl_span_end hands the record to the
 * export queue, and the exporter thread destroys it after the HTTP request.
 */
#ifndef TL_SDK_INT_H
#define TL_SDK_INT_H

#include "tracelamp.h"
#include "model/model.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- configuration -------------------------------------------------------- */

struct sdk_pair {
	char *key;
	char *value;
};

enum sdk_sampler {
	SDK_SAMPLER_ALWAYS_ON,
	SDK_SAMPLER_ALWAYS_OFF,
	SDK_SAMPLER_RATIO,
	SDK_SAMPLER_PB_ALWAYS_ON,
	SDK_SAMPLER_PB_ALWAYS_OFF,
	SDK_SAMPLER_PB_RATIO,
};

struct sdk_config {
	int enabled;
	char *endpoint;              /* full URL of the traces endpoint */
	char *service_name;
	struct sdk_pair *resource;   /* OTEL_RESOURCE_ATTRIBUTES, decoded */
	size_t n_resource;
	struct sdk_pair *headers;    /* OTEL_EXPORTER_OTLP_HEADERS, decoded */
	size_t n_headers;
	uint32_t timeout_ms;         /* one HTTP request */
	int sampler;                 /* enum sdk_sampler */
	double ratio;
	uint32_t batch_size;
	uint32_t queue_size;
	uint32_t delay_ms;
	int gzip;
	int capture_content;
	uint32_t attr_limit, event_limit, link_limit;
	uint32_t retry_initial_ms;   /* first backoff */
	uint32_t retry_max_ms;       /* backoff ceiling */
	uint32_t retry_max_attempts; /* requests per batch, first one included */
	uint32_t retry_after_max_ms; /* ceiling on a server's Retry-After */
};

/* Reads a variable; returns NULL when unset. */
typedef const char *(*sdk_getenv_fn)(const char *name, void *ud);

/*
 * Fills c from the variables get returns (see docs/sdk.md). Defaults apply to
 * everything unset. Returns 0 (c->enabled tells whether export is on),
 * TL_SDK_EINVAL for an unusable value (the SDK then stays disabled), or
 * TL_SDK_ENOMEM. c owns its strings: sdk__config_cleanup.
 */
int sdk__config_load(struct sdk_config *c, sdk_getenv_fn get, void *ud);
void sdk__config_cleanup(struct sdk_config *c);

/*
 * Parses a W3C-baggage-like list "k=v,k2=v2" (OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_EXPORTER_OTLP_HEADERS): whitespace around members trimmed, keys and
 * values percent-decoded, members without '=' or with an empty key skipped.
 * Appends to (*out, *n); returns 0 or TL_SDK_ENOMEM / TL_SDK_EINVAL (a bad %).
 */
int sdk__parse_pairs(const char *s, struct sdk_pair **out, size_t *n);
void sdk__pairs_free(struct sdk_pair *p, size_t n);
/* Percent-decodes (s, n) into out (size >= n + 1). Returns the length or -1 on a
 * malformed escape. */
long sdk__percent_decode(const char *s, size_t n, char *out);

/* ---- ids, sampling -------------------------------------------------------- */

/* Random bytes from a per-thread generator seeded by getrandom(). Never zero
 * for ids: sdk__new_trace_id/span_id retry until non-zero. */
void sdk__random(void *out, size_t n);
void sdk__new_trace_id(uint8_t out[16]);
void sdk__new_span_id(uint8_t out[8]);
/* A uniform double in [0, 1). */
double sdk__random_unit(void);

/* The sampling decision for a new span: 1 sample, 0 drop. parent is NULL for
 * a root. Ratio: sampled iff the trace id's last 8 bytes, as a big-endian
 * integer, are below ratio * 2^64 (deterministic per trace id). */
int sdk__sample(int sampler, double ratio, const uint8_t trace_id[16], const struct tl_span_context *parent);
/* Parses OTEL_TRACES_SAMPLER / _ARG. Returns 0 or TL_SDK_EINVAL. */
int sdk__parse_sampler(const char *name, const char *arg, int *sampler, double *ratio);

/* SHA-256 of (p, n) into out. */
void sdk__sha256(const void *p, size_t n, uint8_t out[32]);

/* ---- run identity ---------------------------------------------------------- */

/*
 * A run snapshot: the identity tl_run_set or tl_span_set_run gives to spans.
 * Tenant, run id, agent instance and trace id are immutable after creation, so
 * every span of the run shares one snapshot by reference (a span start costs a
 * refcount bump, no string copy); records borrow its strings for their
 * tracelamp.* attributes and hold a reference until destroyed. The step is the
 * one mutable field (tl_run_set_step moves it for the spans started afterwards
 * in the run, including children of spans started before), hence atomic. The
 * snapshot and its strings live in its own arena.
 */
struct sdk_run {
	atomic_int refs;
	atomic_int_least64_t step;     /* < 0: no tracelamp.run.step */
	struct tl_arena *arena;        /* holds this struct and the strings */
	struct tl_str tenant, run_id;  /* UTF-8 repaired; tenant never empty */
	struct tl_str agent;
	int has_agent;                 /* agent_instance was not NULL */
	uint8_t trace_id[16];          /* tl_trace_id_for_run(tenant, run_id) */
};

/* Creates a snapshot (tenant NULL or "" = "default"; run_id non-empty).
 * Returns owned (one reference; sdk__run_unref) or NULL on OOM. */
struct sdk_run *sdk__run_create(const char *tenant, const char *run_id, int64_t step, const char *agent);
/* Adds a reference (accepts NULL) and returns run. */
struct sdk_run *sdk__run_ref(struct sdk_run *run);
/* Drops a reference; frees at zero. Accepts NULL. Any thread. */
void sdk__run_unref(struct sdk_run *run);
/* The process-wide run (tl_run_set) with a reference added, or NULL. */
struct sdk_run *sdk__run_current(void);

/* ---- spans ------------------------------------------------------------------- */

struct sdk_rec {
	struct tl_arena *arena;
	struct tl_span span;
	uint32_t attr_cap, event_cap, link_cap;
	uint32_t attr_limit, event_limit, link_limit; /* from the config at start */
	struct sdk_run *run;           /* a reference: the run attributes borrow its strings */
};

struct tl_span_handle {
	atomic_int refs;               /* owner + one per current-stack entry */
	pthread_mutex_t mu;            /* guards rec, ended, run, shared and ctx writes */
	/* Fixed at start, except that tl_span_set_run may replace a root's trace
	 * id (under mu) while shared is 0; readers set shared under mu first. */
	struct tl_span_context ctx;
	struct sdk_rec *rec;           /* NULL when not recording or ended */
	int ended;
	int is_root;                   /* started without a parent */
	int shared;                    /* ctx handed out: child, get_context, inject */
	struct sdk_run *run;           /* the run its children inherit (a reference) or NULL */
	int capture_content;           /* GenAI content capture, from the config */
	uint64_t gen;                  /* SDK generation that started it */
};

/* Destroys a record (accepts NULL); drops its run reference. */
void sdk__rec_destroy(struct sdk_rec *r);
/* Copies h's context into *out under h->mu and marks it shared, so that
 * tl_span_set_run can no longer change it. */
void sdk__handle_read_ctx(struct tl_span_handle *h, struct tl_span_context *out);
/* Copies a public attribute into a model value in arena a (UTF-8 repaired,
 * nesting limited). Returns 0 or TL_SDK_ENOMEM / TL_SDK_EINVAL. */
int sdk__copy_value(struct tl_arena *a, const struct tl_attribute *in, struct tl_value *out, int depth);
/* Sets (or replaces) one attribute on a record, honouring its limit. */
int sdk__rec_set_attr(struct sdk_rec *r, const struct tl_attribute *a);
/* Copies a C string into a with invalid UTF-8 replaced by U+FFFD. */
struct tl_str sdk__copy_str(struct tl_arena *a, const char *s, int *err);

/* ---- state (sdk.c) ------------------------------------------------------- */

struct sdk_state {
	struct sdk_config cfg;
	uint64_t gen;
	struct tl_arena *arena;       /* resource and scope */
	struct tl_resource resource;
	struct tl_scope scope;

	/* Guarded by sdk__mu. */
	struct sdk_rec **queue;       /* ring of queue_size */
	size_t q_head, q_len;
	uint64_t flush_req, flush_done;
	int closing;
	pthread_cond_t cv_work;       /* exporter waits: new spans, flush, close, abort */
	pthread_cond_t cv_done;       /* flushers wait */

	atomic_int abort;             /* stop now: abort the HTTP request */
	pthread_t thread;
	int thread_started;
	void *curl_multi;             /* CURLM *, owned by the exporter */

	atomic_uint_least64_t n_started, n_ended, n_dropped, n_exported, n_rejected, n_batches, n_retries, n_failures;
};

/*
 * The process-wide globals (the SDK's only mutable globals; all defined in
 * sdk.c):
 * - sdk__on: 1 while export is enabled. Written by tl_init/tl_shutdown only;
 *   read by every public call (the disabled fast path).
 * - sdk__mu: guards sdk__state, its queue and flush fields.
 * - sdk__state: the enabled SDK or NULL. Written by tl_init/tl_shutdown.
 * - the process-wide run snapshot (tl_run_set): static in sdk.c, under its
 *   own mutex; read through sdk__run_current.
 * - tl__noop_span: the static sentinel span returned when disabled (never written).
 * - tl__on: a plain-int mirror of sdk__on read by the header's inline fast path;
 *   written together with sdk__on (tl_init/tl_shutdown).
 * - per thread: the current-span stack and the id generator.
 */
/* Hidden: inside the shared library these are reached without the GOT, which
 * keeps the disabled fast path to one load and one branch. */
#define SDK_HIDDEN __attribute__((visibility("hidden")))
extern SDK_HIDDEN atomic_int sdk__on;
extern SDK_HIDDEN pthread_mutex_t sdk__mu;
extern SDK_HIDDEN struct sdk_state *sdk__state;
/* tl__noop_span and tl__on are declared (exported) in tracelamp.h for its inline fast path. */

#define SDK_STACK_DEPTH 64
struct sdk_stack {
	struct tl_span_handle *items[SDK_STACK_DEPTH];
	int n;
};
extern SDK_HIDDEN _Thread_local struct sdk_stack sdk__stack;

struct sdk_rng {
	uint64_t s[4];
	int seeded;
};
extern SDK_HIDDEN _Thread_local struct sdk_rng sdk__rng;

/* Starts the SDK with cfg (taken over on success). For tl_init and tests. */
int sdk__start(struct sdk_config *cfg);
/* Adds a span handle reference / drops one (frees at zero). */
void sdk__handle_ref(struct tl_span_handle *h);
void sdk__handle_unref(struct tl_span_handle *h);
/* Hands an ended record to the exporter queue (or drops it, counted). Takes
 * ownership. */
void sdk__enqueue(struct sdk_rec *r, uint64_t gen);

/* ---- exporter (export.c) -------------------------------------------------- */

/* Creates the HTTP client (curl multi handle) in st / frees it. */
int sdk__exporter_setup(struct sdk_state *st);
void sdk__exporter_teardown(struct sdk_state *st);
/* The exporter thread body; arg is the struct sdk_state. */
void *sdk__exporter_main(void *arg);
/* Interrupts a running HTTP request (after setting st->abort). */
void sdk__exporter_wake(struct sdk_state *st);
/* gzip (s, n) into a malloc'd buffer. Returns 0 or TL_SDK_ENOMEM. */
int sdk__gzip(const void *s, size_t n, uint8_t **out, size_t *out_len);
/* Parses a Retry-After value (delta seconds or HTTP-date) into milliseconds
 * from now; -1 when absent or unparseable. */
long sdk__parse_retry_after(const char *v, size_t n);

#endif
