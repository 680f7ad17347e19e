/*
 * model.h - the span model every module shares, GenAI normalisation and cost.
 *
 * A decoded request is a struct tl_batch: spans, resources and scopes whose
 * strings borrow from the request body (protobuf) or from the batch arena (JSON).
 * Normalisation fills each span's struct tl_genai and run identity from its
 * attributes and its resource's attributes; pricing fills the cost.
 */
#ifndef TL_MODEL_H
#define TL_MODEL_H

#include "core/core.h"

/* ---- values ------------------------------------------------------------- */

enum tl_vkind {
	TL_V_EMPTY = 0, /* AnyValue with no value set (Gemini sends these) */
	TL_V_STR,
	TL_V_BOOL,
	TL_V_INT,
	TL_V_DOUBLE,
	TL_V_ARRAY,
	TL_V_KVLIST,
	TL_V_BYTES,
};

struct tl_kv;

struct tl_value {
	int kind; /* enum tl_vkind */
	union {
		struct tl_str s; /* TL_V_STR, TL_V_BYTES */
		int b;
		int64_t i;
		double d;
		struct {
			struct tl_value *items;
			uint32_t n;
		} arr;
		struct {
			struct tl_kv *items;
			uint32_t n;
		} kv;
	} u;
};

struct tl_kv {
	struct tl_str key;
	struct tl_value v;
};

struct tl_attrs {
	struct tl_kv *items;
	uint32_t n;
	uint32_t dropped; /* dropped_attributes_count */
};

/* Returns the value for key or NULL. Borrows. */
const struct tl_value *tl_attrs_get(const struct tl_attrs *a, const char *key);

/* ---- OTLP entities ------------------------------------------------------ */

struct tl_resource {
	struct tl_attrs attrs;
	struct tl_str schema_url;
	struct tl_str service; /* service.name, filled by the decoder (empty if absent) */
};

struct tl_scope {
	struct tl_str name;
	struct tl_str version;
	struct tl_attrs attrs;
	struct tl_str schema_url;
};

struct tl_event {
	uint64_t time_unix_nano;
	struct tl_str name;
	struct tl_attrs attrs;
};

struct tl_link {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	struct tl_str trace_state;
	struct tl_attrs attrs;
	uint32_t flags;
};

enum tl_span_kind { TL_KIND_UNSPECIFIED = 0, TL_KIND_INTERNAL, TL_KIND_SERVER, TL_KIND_CLIENT, TL_KIND_PRODUCER, TL_KIND_CONSUMER };
enum tl_status_code { TL_STATUS_UNSET = 0, TL_STATUS_OK = 1, TL_STATUS_ERROR = 2 };

/* Sentinel for "not reported" token counts and costs. */
#define TL_NONE (-1)

/* Normalised GenAI view of a span (see docs/cost.md and normalise.c). */
struct tl_genai {
	int is_genai;                 /* 1 if any GenAI attribute was understood */
	struct tl_str operation;      /* chat, text_completion, embeddings, execute_tool, invoke_agent, ... */
	struct tl_str provider;       /* openai, anthropic, gcp.gemini, ... */
	struct tl_str request_model;
	struct tl_str response_model;
	/* Tokens per the OTel conventions: input includes cache read and write,
	 * output includes reasoning. TL_NONE when not reported. */
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_read_tokens;
	int64_t cache_write_tokens;
	int64_t reasoning_tokens;
	/* Cost in nano-USD; TL_NONE when unknown. cost_from_span = the span carried it. */
	int64_t cost_nusd;
	int cost_from_span;
	int price_unknown;            /* an LLM call with tokens whose model has no price */
	struct tl_str finish_reasons[8];
	uint32_t n_finish_reasons;
	struct tl_str tool_name;
	struct tl_str tool_call_id;
	struct tl_str agent_name;
	struct tl_str agent_id;
	struct tl_str conversation_id; /* gen_ai.conversation.id, session.id, ... */
	uint32_t unknown_genai_attrs;  /* attributes that looked GenAI but were not understood */
};

/* Run identity, from span attributes first, then resource attributes. */
struct tl_run_identity {
	struct tl_str tenant;         /* tracelamp.tenant; empty -> request tenant */
	struct tl_str run_id;         /* tracelamp.run.id */
	int64_t step;                 /* tracelamp.run.step; TL_NONE if absent */
	struct tl_str agent_instance; /* tracelamp.agent.instance */
};

struct tl_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	int has_parent;
	struct tl_str trace_state;
	uint32_t flags;
	struct tl_str name;
	int kind;                     /* enum tl_span_kind (unknown values kept as is) */
	uint64_t start_unix_nano;
	uint64_t end_unix_nano;
	struct tl_attrs attrs;
	struct tl_event *events;
	uint32_t n_events;
	uint32_t dropped_events;
	struct tl_link *links;
	uint32_t n_links;
	uint32_t dropped_links;
	int status_code;              /* enum tl_status_code */
	struct tl_str status_message;
	const struct tl_resource *resource; /* never NULL after decode */
	const struct tl_scope *scope;       /* never NULL after decode */
	struct tl_genai genai;        /* filled by model_normalise */
	struct tl_run_identity run;   /* filled by model_normalise */
};

/*
 * A decoded request. Strings borrow from the request body (which must outlive the
 * batch) or from the arena. Arrays are arena-allocated.
 */
struct tl_batch {
	struct tl_arena *arena;       /* owned by whoever created the batch */
	struct tl_span *spans;
	size_t n_spans;
	struct tl_resource *resources;
	size_t n_resources;
	struct tl_scope *scopes;
	size_t n_scopes;
	struct tl_str tenant;         /* request tenant (header), "default" if none */
};

/* ---- prices --------------------------------------------------------------- */

/* Prices in micro-USD per 1M tokens (USD per 1M tokens * 1e6), so 0.01875 USD/1M
 * is 18750 and integer arithmetic stays exact: cost_nusd = tokens * price / 1000. */
struct tl_price {
	char model[96];       /* exact model name, or a prefix pattern ending in '*' */
	char provider[32];
	int64_t input;        /* micro-USD per 1M tokens (USD/1M * 1e6); TL_NONE absent */
	int64_t cached_input; /* cache read */
	int64_t cache_write;
	int64_t output;
};

struct tl_price_table;

/* Loads the built-in table (compiled in from prices/prices.yaml) and, if path is
 * non-empty, merges the user's file over it. Returns owned (model_prices_destroy).
 * Errors: TL_ECONFIG with a message in err (size errlen) naming file/line/key. */
int model_prices_load(const char *user_path, struct tl_price_table **out, char *err, size_t errlen);
/* Parses a YAML price table from memory and merges it into t. */
int model_prices_merge_yaml(struct tl_price_table *t, const char *yaml, size_t len, const char *origin, char *err, size_t errlen);
void model_prices_destroy(struct tl_price_table *t);
/* Looks up a model: exact (case-insensitive), then without a "provider/" prefix,
 * then a dated suffix (-YYYYMMDD / -YYYY-MM-DD) stripped, then the longest
 * "prefix*" pattern. Returns borrowed or NULL. */
const struct tl_price *model_prices_find(const struct tl_price_table *t, struct tl_str model);
size_t model_prices_count(const struct tl_price_table *t);

/* ---- normalisation ----------------------------------------------------- */

/*
 * Fills span->genai and span->run for every span of the batch from span and
 * resource attributes (current gen_ai.* names and the older/vendor names of
 * protocols.md 3.11), and computes cost with the price table (may be NULL: cost
 * unknown). Strings in the result borrow from the batch. Never fails on odd input:
 * values of the wrong type are coerced or ignored.
 */
void model_normalise_batch(struct tl_batch *b, const struct tl_price_table *prices);
void model_normalise_span(struct tl_span *s, const struct tl_price_table *prices);

/* Cost of a call in nano-USD per docs/cost.md, or TL_NONE if the price is unknown.
 * Tokens use the OTel convention (input includes cache; TL_NONE = 0 here). */
int64_t model_cost_nusd(const struct tl_price *p, const struct tl_genai *g);

/* The span's service name (its resource's service.name) or "unknown_service". */
struct tl_str model_span_service(const struct tl_span *s);

/* ---- metrics (OTLP metrics signal) -------------------------------------- */

enum tl_metric_type {
	TL_METRIC_NONE = 0,    /* a Metric with no data field (kept, has no points) */
	TL_METRIC_GAUGE,
	TL_METRIC_SUM,
	TL_METRIC_HISTOGRAM,
	TL_METRIC_EXP_HISTOGRAM,
	TL_METRIC_SUMMARY,
};

/* AggregationTemporality (values as on the wire). */
enum tl_temporality { TL_TEMP_UNSPECIFIED = 0, TL_TEMP_DELTA = 1, TL_TEMP_CUMULATIVE = 2 };

/* NumberDataPoint value kinds. */
enum tl_point_value { TL_PV_NONE = 0, TL_PV_INT, TL_PV_DOUBLE };

/* DataPointFlags bit 0: the point is a staleness marker without a value. */
#define TL_POINT_NO_RECORDED_VALUE 1u

struct tl_quantile {
	double quantile;
	double value;
};

/* One side (positive or negative) of an exponential histogram point. */
struct tl_exp_buckets {
	int32_t offset;
	uint64_t *counts;
	uint32_t n;
};

/*
 * A data point of any metric type; only the fields of the metric's type are set
 * (the rest stay zero). Exemplars are validated and counted, not kept.
 */
struct tl_metric_point {
	struct tl_attrs attrs;
	uint64_t start_unix_nano;
	uint64_t time_unix_nano;
	uint32_t flags;               /* DataPointFlags */
	/* gauge, sum */
	int value_kind;               /* enum tl_point_value */
	int64_t as_int;
	double as_double;
	/* histogram, exponential histogram, summary */
	uint64_t count;
	double sum;
	int has_sum, has_min, has_max; /* sum is always present for summaries */
	double min, max;
	/* histogram: n_bounds finite bounds, n_bucket_counts == n_bounds + 1 (or both 0) */
	uint64_t *bucket_counts;
	uint32_t n_bucket_counts;
	double *bounds;
	uint32_t n_bounds;
	/* exponential histogram */
	int32_t scale;
	uint64_t zero_count;
	double zero_threshold;
	struct tl_exp_buckets positive, negative;
	/* summary */
	struct tl_quantile *quantiles;
	uint32_t n_quantiles;
	uint32_t n_exemplars;
};

struct tl_metric {
	struct tl_str name;
	struct tl_str description;
	struct tl_str unit;
	int type;                     /* enum tl_metric_type */
	int temporality;              /* enum tl_temporality (sum, histograms) */
	int monotonic;                /* Sum.is_monotonic */
	struct tl_attrs metadata;     /* Metric.metadata */
	struct tl_metric_point *points;
	uint32_t n_points;
	const struct tl_resource *resource; /* never NULL after decode */
	const struct tl_scope *scope;       /* never NULL after decode */
};

/* A decoded ExportMetricsServiceRequest; same ownership rules as struct tl_batch. */
struct tl_metrics_batch {
	struct tl_arena *arena;
	struct tl_metric *metrics;
	size_t n_metrics;
	size_t n_points;              /* over all metrics */
	struct tl_resource *resources;
	size_t n_resources;
	struct tl_scope *scopes;
	size_t n_scopes;
	struct tl_str tenant;         /* request tenant, "default" if none */
};

/* ---- logs (OTLP logs signal) ------------------------------------------------ */

struct tl_log_record {
	uint64_t time_unix_nano;          /* 0 when not set (Codex): see model_log_time */
	uint64_t observed_time_unix_nano;
	int severity_number;              /* SeverityNumber 0..24 (other values kept) */
	struct tl_str severity_text;
	struct tl_value body;             /* TL_V_EMPTY when absent */
	struct tl_attrs attrs;
	uint32_t flags;                   /* LogRecordFlags (low byte: W3C trace flags) */
	uint8_t trace_id[16];
	uint8_t span_id[8];
	int has_trace_id;                 /* 16 bytes, not all zero */
	int has_span_id;                  /* 8 bytes, not all zero */
	struct tl_str event_name;         /* LogRecord.event_name (field 12) */
	const struct tl_resource *resource; /* never NULL after decode */
	const struct tl_scope *scope;       /* never NULL after decode */
};

/* A decoded ExportLogsServiceRequest; same ownership rules as struct tl_batch. */
struct tl_logs_batch {
	struct tl_arena *arena;
	struct tl_log_record *records;
	size_t n_records;
	struct tl_resource *resources;
	size_t n_resources;
	struct tl_scope *scopes;
	size_t n_scopes;
	struct tl_str tenant;
};

/* The record's time: time_unix_nano, or the observed time when that is 0 (Codex
 * sends only the observed time). 0 when neither is set. */
uint64_t model_log_time(const struct tl_log_record *r);

/* The record's event name, by the first rule that gives one: the `event.name`
 * attribute (string), the event_name field, a string body that looks like an
 * event name (no spaces, at most 128 bytes, contains a '.'; Claude Code sends
 * "claude_code.api_request"). Empty when none. Borrows from the record. */
struct tl_str model_log_event_name(const struct tl_log_record *r);

/* ---- GenAI usage from metrics ---------------------------------------------- */

/*
 * One usage fact: what a metrics batch says about LLM calls of one (minute,
 * tenant, service, model, provider, operation). Token counts follow the OTel
 * convention of struct tl_genai (input includes cache read and write). Fields
 * not reported are 0; cost_nusd is TL_NONE when no cost metric was seen; calls
 * is 0 when the source has no call count (Claude Code token counters).
 *
 * Dedup rule (implemented by the store): facts from metrics go to rollup rows of
 * their own, with source = metrics. /api/v1/stats answers a (service, model)
 * minute from the span rollups when spans exist for it and from the metric
 * rollups otherwise, so a call sent both as a span and as a metric point is
 * never counted twice.
 */
struct tl_usage_fact {
	uint64_t minute_unix;         /* start of the minute, Unix seconds */
	struct tl_str tenant;
	struct tl_str service;
	struct tl_str model;
	struct tl_str provider;
	struct tl_str operation;
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_read_tokens;
	int64_t cache_write_tokens;
	int64_t reasoning_tokens;
	int64_t cost_nusd;
	int64_t calls;
};

/* Per-series memory for turning cumulative usage metrics into increments. Not
 * thread-safe: one owner (the store writer) uses it. */
struct model_usage_state;

/* max_series bounds the memory (about 48 bytes a series); series past it are
 * not tracked and their cumulative points are not counted. Returns owned (free
 * with model_usage_state_destroy), NULL on OOM. */
struct model_usage_state *model_usage_state_create(uint32_t max_series);
void model_usage_state_destroy(struct model_usage_state *st);

/*
 * Extracts usage facts from a decoded metrics batch:
 *  - gen_ai.client.token.usage histograms: the point's sum per gen_ai.token.type
 *    (input/output), its count as calls (from the input series); model from
 *    gen_ai.response.model, else gen_ai.request.model; provider from
 *    gen_ai.provider.name, else gen_ai.system; operation gen_ai.operation.name;
 *  - claude_code.token.usage (type input, output, cacheRead, cacheCreation;
 *    Anthropic counts input without cache, so cache tokens are added to input)
 *    and claude_code.cost.usage (USD), provider anthropic, operation chat;
 *  - gemini_cli.token.usage (type input, output, thought, cache; input already
 *    holds the cache, thoughts are added to output) and
 *    gemini_cli.api.request.count (calls), provider gcp.gemini;
 *  - codex.turn.token_usage (type/token_type input, output, cached, reasoning;
 *    best effort, the metric is not documented), provider openai.
 * Delta points count as they are. Cumulative points become increments against
 * st (NULL: cumulative points are skipped): the first point of a series counts
 * in full only when the series started within 2 minutes of it, else it only
 * sets the baseline, so a restart of tracelamp never counts a call twice; a
 * changed start time or a smaller value is a reset. Points without a time are
 * skipped. Facts with the same key are merged. *out comes from arena (NULL when
 * *n is 0); strings borrow from the batch. Returns 0 or TL_ENOMEM.
 */
int model_usage_from_metrics(const struct tl_metrics_batch *b, struct model_usage_state *st, struct tl_arena *arena,
			     struct tl_usage_fact **out, size_t *n);

/* ---- coding-agent telemetry (agents.c) --------------------------------------- */

/*
 * Turns the log events of coding agents (Claude Code claude_code.*, Gemini CLI
 * gemini_cli.*, Codex CLI codex.*; docs/integrations/) into synthetic spans that
 * the normal pipeline normalises, prices and stores: user prompts become
 * `invoke_agent <tool>` roots, model requests `chat <model>` CLIENT spans with
 * gen_ai.* usage (input includes cache) and the tool's own cost in
 * gen_ai.usage.cost, tool results and decisions `execute_tool <tool>` spans.
 * Trace id = SHA-256(tool, session, prompt) (per session and minute without a
 * prompt id), root span id = SHA-256(trace id), other span ids = SHA-256(trace
 * id, event, event.sequence or time), so events arriving in any batch and
 * events sent twice get the same ids. Claude Code records that carry a trace
 * id are skipped: its beta tracing sends those calls as real spans.
 * Records of other kinds are ignored. out is overwritten; its arrays and new
 * strings come from arena, other strings, resources and attribute values
 * borrow from logs (both must outlive out). Returns 0 or TL_ENOMEM. Pure.
 */
int model_agent_spans_from_logs(const struct tl_logs_batch *logs, struct tl_arena *arena, struct tl_batch *out);

#endif
