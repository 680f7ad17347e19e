/*
 * tracelamp.h - libtracelamp, the C SDK of tracelamp: OpenTelemetry spans with
 * GenAI helpers, run identity, W3C trace context and baggage, exported over
 * OTLP/HTTP protobuf from a background thread. The only installed header.
 *
 * Enabling. tl_init() reads the environment once. Export is on when
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), OTEL_EXPORTER_OTLP_ENDPOINT
 * (+ "/v1/traces") or TRACELAMP_OTEL_ENABLED=1 (http://127.0.0.1:4318/v1/traces)
 * is set and OTEL_SDK_DISABLED is not "true". Otherwise, and before tl_init,
 * every call is a no-op costing one branch: tl_span_start returns a static
 * sentinel span and setters return at once, allocating nothing.
 *
 * Errors. Functions that can fail return int: 0, or a negative TL_SDK_E* code
 * (tl_sdk_strerror). Nothing in the SDK aborts, exits or blocks the caller for
 * longer than a mutex hold, except tl_flush and tl_shutdown, which wait at most
 * their deadline.
 *
 * Strings passed in are borrowed for the duration of the call and copied; they
 * need not outlive it. Strings that are not valid UTF-8 are repaired (invalid
 * bytes become U+FFFD) because OTLP requires UTF-8.
 *
 * Threads. Every function is thread-safe, including calls on the same span
 * from several threads, except tl_init and tl_shutdown, which must not race
 * with each other (call them from main).
 */
#ifndef TRACELAMP_H
#define TRACELAMP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRACELAMP_VERSION_MAJOR 0
#define TRACELAMP_VERSION_MINOR 1
#define TRACELAMP_VERSION_PATCH 0
#define TRACELAMP_VERSION_STRING "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define TL_EXPORT __attribute__((visibility("default")))
#else
#define TL_EXPORT
#endif

/* ---- results ----------------------------------------------------------- */

#define TL_SDK_OK 0
#define TL_SDK_ENOMEM (-1)     /* an allocation failed or a size limit was hit */
#define TL_SDK_EINVAL (-2)     /* bad argument or malformed header */
#define TL_SDK_EDISABLED (-20) /* the SDK is disabled (not an error for callers to act on) */
#define TL_SDK_ETIMEDOUT (-21) /* a deadline passed before the work was done */
#define TL_SDK_EENDED (-22)    /* the span has already ended */
#define TL_SDK_ESTATE (-23)    /* wrong lifecycle state (tl_init twice, ...) */
#define TL_SDK_EFULL (-24)     /* a fixed-size table is full (current-span stack) */
#define TL_SDK_EEXPORT (-25)   /* the export failed (HTTP or network error) */

/* Returns a static English description of a TL_SDK_* code. */
TL_EXPORT const char *tl_sdk_strerror(int err);
/* Returns TRACELAMP_VERSION_STRING of the library actually loaded. */
TL_EXPORT const char *tl_version(void);

/* ---- lifecycle ---------------------------------------------------------- */

/*
 * Reads the environment (see docs/sdk.md) and, when export is enabled, starts
 * the exporter thread. Returns 0 both when enabled and when disabled (check
 * tl_enabled), TL_SDK_ESTATE if already initialised, TL_SDK_EINVAL on a bad
 * variable (the SDK then stays disabled), TL_SDK_ENOMEM.
 */
TL_EXPORT int tl_init(void);
/* 1 if tl_init enabled export, else 0. */
TL_EXPORT int tl_enabled(void);
/*
 * Exports every span ended before the call; waits at most deadline_ms.
 * Returns 0, TL_SDK_ETIMEDOUT, TL_SDK_EEXPORT if a batch failed for good,
 * TL_SDK_EDISABLED.
 */
TL_EXPORT int tl_flush(uint32_t deadline_ms);
/*
 * Flushes within deadline_ms, then stops the exporter (an HTTP request still
 * running at the deadline is aborted) and frees everything. Spans still open
 * become no-ops. Afterwards tl_init may be called again. Returns 0 or
 * TL_SDK_ETIMEDOUT (the spans not exported are counted as dropped).
 */
TL_EXPORT int tl_shutdown(uint32_t deadline_ms);

/* Counters since tl_init (monotonic; read without stopping anything). */
struct tl_stats {
	uint64_t spans_started;   /* recording spans started */
	uint64_t spans_ended;     /* recording spans ended and queued or dropped */
	uint64_t spans_dropped;   /* queue full, export failed for good, or shutdown */
	uint64_t spans_exported;  /* acknowledged by the server with 2xx */
	uint64_t spans_rejected;  /* reported rejected in a partial success */
	uint64_t batches_sent;    /* HTTP requests answered 2xx */
	uint64_t export_retries;  /* requests repeated after 429/502/503/504/network error */
	uint64_t export_failures; /* batches given up on */
};
/* Fills *out; all zero when disabled. Returns 0 or TL_SDK_EINVAL. */
TL_EXPORT int tl_get_stats(struct tl_stats *out);

/* ---- span context -------------------------------------------------------- */

/* The propagated part of a span, a plain value (copy it freely). */
struct tl_span_context {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t trace_flags;   /* W3C flags; bit 0 = sampled */
	uint8_t is_remote;     /* 1 if it came from tl_traceparent_extract */
	char trace_state[512]; /* W3C tracestate, NUL-terminated, may be empty */
};

#define TL_TRACE_FLAG_SAMPLED 0x01

/* ---- spans --------------------------------------------------------------- */

/* A span handle. Opaque. Started by tl_span_start*, released by tl_span_end. */
struct tl_span_handle;

enum tl_span_kind_public {
	TL_SPAN_KIND_INTERNAL = 1,
	TL_SPAN_KIND_SERVER = 2,
	TL_SPAN_KIND_CLIENT = 3,
	TL_SPAN_KIND_PRODUCER = 4,
	TL_SPAN_KIND_CONSUMER = 5,
};

enum tl_span_status_public { TL_SPAN_STATUS_UNSET = 0, TL_SPAN_STATUS_OK = 1, TL_SPAN_STATUS_ERROR = 2 };

/*
 * Starts a span. parent: a live local span, or NULL for the calling thread's
 * current span (tl_span_make_current), or a new root when there is none.
 * Run identity (see tl_run_set): a span with a local parent inherits the
 * parent's run, whatever the process-wide run is now (none if the parent has
 * none); a root takes the process-wide run set at this moment and, when there
 * is one, the run's deterministic trace id.
 * Returns owned (release with tl_span_end); never NULL: when disabled, not
 * sampled or out of memory, a non-recording span (the static sentinel when
 * disabled) on which every call is a cheap no-op. A non-recording span still
 * passes its run on to its children.
 */
static inline struct tl_span_handle *tl_span_start(const char *name, int kind, struct tl_span_handle *parent);
/* Same with a parent given as a context (e.g. from tl_traceparent_extract);
 * parent NULL starts a new root, ignoring the thread's current span. A context
 * carries no run: the span takes the process-wide run set at this moment (its
 * trace id stays the parent's; a root gets the run's, as with tl_span_start). */
TL_EXPORT struct tl_span_handle *tl_span_start_ctx(const char *name, int kind, const struct tl_span_context *parent);
/*
 * Ends the span (end time = now), queues it for export and releases the
 * caller's handle: s must not be used afterwards, except that a span still
 * current on some thread stays readable until popped. If s is the top of the
 * calling thread's current stack it is popped. NULL is accepted.
 */
static inline void tl_span_end(struct tl_span_handle *s);
/* 1 if the span records (enabled and sampled), else 0. */
TL_EXPORT int tl_span_is_recording(const struct tl_span_handle *s);
/* Copies the span's context into *out. TL_SDK_EDISABLED for the sentinel.
 * The context is then fixed (see tl_span_set_run). */
TL_EXPORT int tl_span_get_context(const struct tl_span_handle *s, struct tl_span_context *out);
/* Renames the span. */
TL_EXPORT int tl_span_set_name(struct tl_span_handle *s, const char *name);

/* Attribute setters. Setting an existing key replaces its value (OpenTelemetry
 * semantics). Past the attribute limit (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, 128)
 * new keys are counted as dropped. All return 0, TL_SDK_EDISABLED (no-op span),
 * TL_SDK_EENDED, TL_SDK_EINVAL (NULL key) or TL_SDK_ENOMEM. */
TL_EXPORT int tl_span_set_str(struct tl_span_handle *s, const char *key, const char *value);
TL_EXPORT int tl_span_set_int(struct tl_span_handle *s, const char *key, int64_t value);
TL_EXPORT int tl_span_set_double(struct tl_span_handle *s, const char *key, double value);
TL_EXPORT int tl_span_set_bool(struct tl_span_handle *s, const char *key, int value);
TL_EXPORT int tl_span_set_bytes(struct tl_span_handle *s, const char *key, const void *data, size_t n);
TL_EXPORT int tl_span_set_str_array(struct tl_span_handle *s, const char *key, const char *const *values, size_t n);
TL_EXPORT int tl_span_set_int_array(struct tl_span_handle *s, const char *key, const int64_t *values, size_t n);
TL_EXPORT int tl_span_set_double_array(struct tl_span_handle *s, const char *key, const double *values, size_t n);
TL_EXPORT int tl_span_set_bool_array(struct tl_span_handle *s, const char *key, const int *values, size_t n);

/*
 * A general attribute for nested values (arrays of mixed values, key-value
 * lists) and for events and links. For array and kvlist the items borrow for
 * the call; array items' keys are ignored, kvlist items' keys are required.
 */
enum tl_attr_type {
	TL_ATTR_STR = 1,
	TL_ATTR_BOOL,
	TL_ATTR_INT,
	TL_ATTR_DOUBLE,
	TL_ATTR_ARRAY,
	TL_ATTR_KVLIST,
	TL_ATTR_BYTES,
};

struct tl_attribute {
	const char *key;
	int type; /* enum tl_attr_type */
	union {
		const char *s;
		int b;
		int64_t i;
		double d;
		struct {
			const struct tl_attribute *items;
			size_t n;
		} list; /* TL_ATTR_ARRAY, TL_ATTR_KVLIST */
		struct {
			const void *p;
			size_t n;
		} bytes;
	} v;
};

/* Sets one attribute of any type (deep copy; nesting limited to 8 levels). */
TL_EXPORT int tl_span_set_attr(struct tl_span_handle *s, const struct tl_attribute *a);
/* Adds an event (time = now) with n attributes (attrs may be NULL when n is 0).
 * Past OTEL_SPAN_EVENT_COUNT_LIMIT (128) events are counted as dropped. */
TL_EXPORT int tl_span_add_event(struct tl_span_handle *s, const char *name, const struct tl_attribute *attrs, size_t n);
/* Adds a link to ctx with n attributes (OTEL_SPAN_LINK_COUNT_LIMIT, 128). */
TL_EXPORT int tl_span_add_link(struct tl_span_handle *s, const struct tl_span_context *ctx, const struct tl_attribute *attrs, size_t n);
/* Sets the status (TL_SPAN_STATUS_*); the message is kept only for ERROR.
 * OK is final: a later ERROR or UNSET does not replace it. */
TL_EXPORT int tl_span_set_status(struct tl_span_handle *s, int code, const char *message);
/* Status ERROR with message, plus attribute error.type = error_type. */
TL_EXPORT int tl_span_record_error(struct tl_span_handle *s, const char *error_type, const char *message);

/* ---- per-thread current span ------------------------------------------- */

/* Pushes s on the calling thread's current-span stack (depth 64) and keeps it
 * alive until popped. Returns 0, TL_SDK_EFULL, TL_SDK_EDISABLED. */
TL_EXPORT int tl_span_make_current(struct tl_span_handle *s);
/* Pops s if it is the top of the calling thread's stack; TL_SDK_EINVAL if not. */
TL_EXPORT int tl_span_pop_current(struct tl_span_handle *s);
/* The top of the calling thread's stack, or NULL. Borrowed: valid until popped. */
TL_EXPORT struct tl_span_handle *tl_current_span(void);

/* ---- run identity -------------------------------------------------------- */

/*
 * A run is (tenant, run id, step, agent instance). A span in a run carries
 * tracelamp.tenant, tracelamp.run.id, tracelamp.run.step (when step >= 0) and
 * tracelamp.agent.instance (when agent_instance was not NULL). A span gets its
 * run at start and keeps it: from its local parent (tl_span_start with a
 * parent handle or the thread's current span), otherwise, for a root or a
 * span under a remote context, from the process-wide run. Spans share one
 * immutable copy of the run's strings.
 *
 * tl_run_set sets the process-wide run for roots and remote-parent spans
 * started afterwards; spans already started, and their children started
 * later, keep theirs. A root started in a run uses tl_trace_id_for_run(tenant,
 * run_id) as trace id, so a process resuming the run after a crash joins the
 * same trace. tenant NULL or "" means "default". run_id NULL or "" clears the
 * process-wide run. Threads running different runs at once should use
 * tl_span_set_run on their roots instead. Returns 0, TL_SDK_ENOMEM (the
 * previous run stays), TL_SDK_EDISABLED (nothing is kept).
 */
TL_EXPORT int tl_run_set(const char *tenant, const char *run_id, int64_t step, const char *agent_instance);
/*
 * Changes the step of the process-wide run. The step belongs to the run, not
 * to a span: every span started afterwards in this run carries the new step,
 * including children of spans started earlier (a long-lived root whose steps
 * are child spans). Spans already started keep the step they have. No effect
 * when no process-wide run is set; a run given by tl_span_set_run is not
 * affected. Returns 0 or TL_SDK_EDISABLED.
 */
TL_EXPORT int tl_run_set_step(int64_t step);
/*
 * Sets s's run explicitly, independently of the process-wide run: s carries
 * the run's attributes (replacing those of any run it had) and the spans
 * started afterwards under s inherit it. If s is a root (started without a
 * parent), its trace id becomes tl_trace_id_for_run(tenant, run_id), exactly as
 * if it had been started under tl_run_set; the sampling decision made at start
 * is kept. Call it right after starting s: once s's context has been handed out
 * (a child started under s, tl_span_get_context, tl_traceparent_inject) it
 * returns TL_SDK_ESTATE and changes nothing. tenant NULL or "" means
 * "default"; run_id NULL or "" removes s's run (attributes removed, trace id
 * kept). The step is fixed for this run (tl_run_set_step does not move it).
 * Returns 0, TL_SDK_ESTATE, TL_SDK_EENDED, TL_SDK_EDISABLED (no-op span) or
 * TL_SDK_ENOMEM (s keeps the run its children inherit and its trace id, but
 * may have lost its tracelamp.* run attributes).
 */
TL_EXPORT int tl_span_set_run(struct tl_span_handle *s, const char *tenant, const char *run_id, int64_t step,
			      const char *agent_instance);
/*
 * The deterministic trace id of a run: the first 16 bytes of
 * SHA-256("tracelamp.run.v1" 0x00 tenant 0x00 run_id) (tenant NULL = "default").
 * Works when disabled. Returns 0 or TL_SDK_EINVAL.
 */
TL_EXPORT int tl_trace_id_for_run(const char *tenant, const char *run_id, uint8_t out[16]);

/* ---- GenAI helpers (OpenTelemetry GenAI conventions v1.41) -------------- */

/*
 * Starts an inference span "{operation} {request_model}", kind CLIENT, with
 * gen_ai.operation.name, gen_ai.provider.name and gen_ai.request.model.
 * operation: "chat", "text_completion", "generate_content", "embeddings".
 * provider/request_model may be NULL. Returns owned like tl_span_start.
 */
TL_EXPORT struct tl_span_handle *tl_genai_start(struct tl_span_handle *parent, const char *operation, const char *provider, const char *request_model);
TL_EXPORT struct tl_span_handle *tl_genai_chat_start(struct tl_span_handle *parent, const char *provider, const char *request_model);
TL_EXPORT struct tl_span_handle *tl_genai_completion_start(struct tl_span_handle *parent, const char *provider, const char *request_model);
TL_EXPORT struct tl_span_handle *tl_genai_embeddings_start(struct tl_span_handle *parent, const char *provider, const char *request_model);
/* "execute_tool {tool_name}", INTERNAL; call_id and tool_type may be NULL. */
TL_EXPORT struct tl_span_handle *tl_genai_tool_start(struct tl_span_handle *parent, const char *tool_name, const char *call_id, const char *tool_type);
/* "invoke_agent {agent_name}" (or "invoke_agent"), INTERNAL; any may be NULL. */
TL_EXPORT struct tl_span_handle *tl_genai_agent_start(struct tl_span_handle *parent, const char *agent_name, const char *agent_id, const char *provider);
/* gen_ai.response.model and gen_ai.response.id (either may be NULL). */
TL_EXPORT int tl_genai_set_response(struct tl_span_handle *s, const char *response_model, const char *response_id);
/*
 * Token usage per the conventions: input includes cache read and cache write,
 * output includes reasoning. A negative count is "not reported" and not set.
 */
TL_EXPORT int tl_genai_set_usage(struct tl_span_handle *s, int64_t input, int64_t output, int64_t cache_read,
				 int64_t cache_write, int64_t reasoning);
/* gen_ai.response.finish_reasons (string array). */
TL_EXPORT int tl_genai_set_finish_reasons(struct tl_span_handle *s, const char *const *reasons, size_t n);
/* gen_ai.conversation.id. */
TL_EXPORT int tl_genai_set_conversation(struct tl_span_handle *s, const char *conversation_id);
/* 1 if content capture is on (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
 * =true or TRACELAMP_CAPTURE_CONTENT=1; off by default). */
TL_EXPORT int tl_genai_capture_enabled(void);
/*
 * Content (opt-in): JSON text for gen_ai.input.messages, gen_ai.output.messages,
 * gen_ai.system_instructions, gen_ai.tool.call.arguments, gen_ai.tool.call.result.
 * Recorded only when capture is on; otherwise return 0 and record nothing.
 */
TL_EXPORT int tl_genai_set_content(struct tl_span_handle *s, const char *attribute, const char *json);

/* ---- W3C trace context -------------------------------------------------- */

/* Formats ctx as a version-00 traceparent into out (outlen >= 56). */
TL_EXPORT int tl_traceparent_format(const struct tl_span_context *ctx, char *out, size_t outlen);
/*
 * Parses traceparent strictly (W3C Trace Context: lowercase hex, version ff
 * invalid, version 00 exactly 55 chars, zero ids invalid, higher versions parsed
 * by prefix) and, only if that succeeded, tracestate (may be NULL; an invalid
 * tracestate is dropped without failing). Returns 0 (out filled, is_remote = 1)
 * or TL_SDK_EINVAL (out cleared).
 */
TL_EXPORT int tl_traceparent_extract(const char *traceparent, const char *tracestate, struct tl_span_context *out);
/* Writes s's context as traceparent (tplen >= 56) and tracestate (tracestate
 * may be NULL; else tslen >= 1). The context is then fixed (tl_span_set_run).
 * Returns 0, TL_SDK_EDISABLED, TL_SDK_EINVAL. */
TL_EXPORT int tl_traceparent_inject(const struct tl_span_handle *s, char *traceparent, size_t tplen, char *tracestate,
				    size_t tslen);

/* ---- W3C baggage -------------------------------------------------------- */

/* A baggage set (list of key/value entries). Opaque; not tied to the SDK state,
 * usable when disabled. Not thread-safe: one thread at a time. */
struct tl_baggage;

/* Returns owned (tl_baggage_destroy) or NULL on OOM. */
TL_EXPORT struct tl_baggage *tl_baggage_create(void);
/* Accepts NULL. */
TL_EXPORT void tl_baggage_destroy(struct tl_baggage *b);
/* Sets key (an RFC 7230 token) to value (any UTF-8; percent-encoded on output).
 * Replaces an existing key. TL_SDK_EINVAL for a bad key, TL_SDK_EFULL past 64. */
TL_EXPORT int tl_baggage_set(struct tl_baggage *b, const char *key, const char *value);
/* Returns the value (borrowed, valid until the next change) or NULL. */
TL_EXPORT const char *tl_baggage_get(const struct tl_baggage *b, const char *key);
/* Removes key; 0 or TL_SDK_EINVAL when absent. */
TL_EXPORT int tl_baggage_remove(struct tl_baggage *b, const char *key);
/* Number of entries. */
TL_EXPORT size_t tl_baggage_count(const struct tl_baggage *b);
/* Parses a baggage header and adds its members (values percent-decoded,
 * properties dropped). Malformed members are skipped; returns the number added
 * or TL_SDK_EINVAL when the header is over 8192 bytes. */
TL_EXPORT int tl_baggage_extract(struct tl_baggage *b, const char *header);
/* Writes the header value "k=v,k2=v2" into out. TL_SDK_ENOMEM if outlen is too
 * small (out then holds ""). */
TL_EXPORT int tl_baggage_inject(const struct tl_baggage *b, char *out, size_t outlen);

/* ---- the disabled fast path ----------------------------------------------- */

/*
 * Not API: what the inline tl_span_start/tl_span_end below read, so that a
 * disabled SDK costs one load and one branch in the caller, with no call into
 * the library. tl__on is written only by tl_init/tl_shutdown; tl__noop_span is
 * the sentinel every disabled start returns (never written).
 */
TL_EXPORT extern int tl__on;
TL_EXPORT extern struct tl_span_handle tl__noop_span;
TL_EXPORT struct tl_span_handle *tl__span_start(const char *name, int kind, struct tl_span_handle *parent);
TL_EXPORT void tl__span_end(struct tl_span_handle *s);

static inline struct tl_span_handle *tl_span_start(const char *name, int kind, struct tl_span_handle *parent)
{
	if (__builtin_expect(!__atomic_load_n(&tl__on, __ATOMIC_RELAXED), 1))
		return &tl__noop_span;
	return tl__span_start(name, kind, parent);
}

static inline void tl_span_end(struct tl_span_handle *s)
{
	if (s != &tl__noop_span)
		tl__span_end(s);
}

#ifdef __cplusplus
}
#endif

#endif
