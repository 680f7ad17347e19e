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

#endif
