/*
 * gateway.h - the LLM gateway: an HTTP proxy between agents and model providers
 * (OpenAI and Anthropic wire formats) that routes by model with ordered
 * fallbacks, authenticates clients with gateway keys mapped to tenants, enforces
 * per-tenant budgets, and emits one GenAI CLIENT span per call (under a
 * gateway.request SERVER span) plus Prometheus metrics.
 *
 * The listener is libevent evhttp on the gateway's own event_base; upstream
 * calls use the libcurl multi interface driven by the same loop, so streaming
 * replies (SSE) pass through chunk by chunk without a thread per request.
 *
 * Spans leave through a sink: the daemon's pipeline when embedded in serve
 * (src/cli wires it), or the OTLP/HTTP exporter of this module (gateway_exporter_*)
 * for the standalone `tracelamp gateway`.
 *
 * The pure parts (config parsing, route matching, SSE and usage extraction,
 * redaction, budgets) are declared here too so the unit tests can drive them.
 */
#ifndef TL_GATEWAY_H
#define TL_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "model/model.h"

/* ---- configuration ------------------------------------------------------ */

enum gateway_api { GATEWAY_API_OPENAI = 0, GATEWAY_API_ANTHROPIC = 1 };

struct gateway_header {
	char *name;
	char *value;
};

struct gateway_upstream {
	char *name;
	int api;                        /* enum gateway_api */
	char *base_url;                 /* scheme://host[:port][/prefix], no trailing slash */
	char *api_key_env;              /* environment variable holding the upstream key */
	char *api_key;                  /* resolved by gateway_config_resolve; never logged nor put on spans */
	struct gateway_header *headers; /* extra request headers */
	size_t n_headers;
	uint64_t timeout_ns;            /* whole upstream call; 0 = the gateway default */
};

struct gateway_route {
	char *match;                    /* "*", "prefix*" or an exact model name */
	struct gateway_upstream *upstreams; /* tried in order on connect error, 429, 5xx */
	size_t n_upstreams;
	int capture_content;            /* -1 = the gateway's capture_content, 0 off, 1 on */
};

/* Per-tenant limits; 0 = unlimited. */
struct gateway_budget {
	uint64_t requests_per_minute;
	uint64_t requests_per_day;
	uint64_t tokens_per_minute;
	uint64_t tokens_per_day;
};

struct gateway_key {
	char *key_env;                  /* environment variable holding the client key */
	char *key;                      /* resolved by gateway_config_resolve */
	char *tenant;
	struct gateway_budget budget;
};

enum gateway_redact_kind { GATEWAY_REDACT_REGEX = 0, GATEWAY_REDACT_EMAIL, GATEWAY_REDACT_API_KEY, GATEWAY_REDACT_CARD };

struct gateway_redact_rule {
	int kind;                       /* enum gateway_redact_kind */
	char *regex;                    /* POSIX extended regex (kind REGEX) */
	char *replace;                  /* replacement text; NULL = "[REDACTED]" */
};

/* observability.traces: where spans go when not embedded in serve. */
struct gateway_traces {
	int enabled;
	char *endpoint;                 /* base URL; "/v1/traces" is appended unless present */
	struct gateway_header *headers;
	size_t n_headers;
	double ratio;                   /* sampling ratio by trace id, 0..1 */
};

struct gateway_config {
	/* Scalars come from the settings table (src/cli/config.c). */
	char addr[512];                 /* host:port; port 0 = ephemeral */
	int capture_content;
	uint64_t max_request_bytes;     /* larger client bodies get 413 */
	uint64_t max_response_bytes;    /* non-streaming upstream bodies past this fail with 502 */
	uint32_t max_concurrent;        /* in-flight calls past this get 429 */
	uint64_t timeout_ns;            /* default upstream timeout */
	/* Lists come from the YAML file (gateway_config_parse_yaml). */
	struct gateway_key *keys;
	size_t n_keys;
	struct gateway_route *routes;
	size_t n_routes;
	struct gateway_redact_rule *redact;
	size_t n_redact;
	struct gateway_traces traces;
};

/* Zeroes c and sets defaults (traces.ratio 1, limits as documented). */
void gateway_config_init(struct gateway_config *c);
/* Frees every string and list. Accepts a half-built config. */
void gateway_config_cleanup(struct gateway_config *c);

/*
 * Reads the list-shaped parts of the top-level `gateway:` mapping of a YAML
 * document (keys, routes, redact, observability; scalars are skipped, the
 * settings table owns them). Pure. TL_ECONFIG with err naming origin:line and
 * the key on a bad shape or value. A document without `gateway:` is fine.
 */
int gateway_config_parse_yaml(struct gateway_config *c, const char *text, size_t len, const char *origin,
			      char *err, size_t errlen);

/*
 * Resolves key_env and api_key_env through envp (NULL-terminated "NAME=value";
 * NULL = no variables) and checks the whole: a key whose variable is unset or
 * empty is an error, an upstream key variable that is unset leaves api_key NULL
 * (the upstream is called without credentials: fakes and local models). An
 * empty key list is allowed only on a loopback addr. TL_ECONFIG with err.
 */
int gateway_config_resolve(struct gateway_config *c, char *const *envp, char *err, size_t errlen);

/* ---- pure helpers ------------------------------------------------------- */

/* 1 if model matches pattern: "*" anything, "prefix*" a prefix, else exact. */
int gateway_pattern_match(const char *pattern, const char *model, size_t model_len);
/* The first route matching model, or NULL. Borrows. */
const struct gateway_route *gateway_route_find(const struct gateway_config *c, const char *model, size_t n);

/* 1 if the 13-19 digits of s (spaces and dashes ignored) pass the Luhn check. */
int gateway_luhn_valid(const char *s, size_t n);

struct gateway_redactor;
/* Compiles the rules. Returns owned (gateway_redactor_destroy); TL_ECONFIG with err on a bad regex. */
int gateway_redactor_create(const struct gateway_redact_rule *rules, size_t n, struct gateway_redactor **out,
			    char *err, size_t errlen);
void gateway_redactor_destroy(struct gateway_redactor *r);
/* Appends s (n bytes, NUL-free text) to out with every match replaced. A NULL
 * redactor copies. Thread-safe (regexec on compiled patterns). */
int gateway_redact(const struct gateway_redactor *r, const char *s, size_t n, struct tl_buf *out);

/* Budget state of one tenant: fixed windows aligned to the minute and the UTC day. */
struct gateway_budget_state {
	uint64_t minute;        /* unix minute of the window */
	uint64_t day;           /* unix day of the window */
	uint64_t req_minute, req_day, tok_minute, tok_day;
};
enum gateway_budget_verdict {
	GATEWAY_BUDGET_OK = 0,
	GATEWAY_BUDGET_REQ_MINUTE,
	GATEWAY_BUDGET_REQ_DAY,
	GATEWAY_BUDGET_TOK_MINUTE,
	GATEWAY_BUDGET_TOK_DAY,
};
/* Admits one request at now_s (unix seconds): rolls the windows, refuses when a
 * request limit would be passed or a token limit is already used up, else counts
 * the request. Returns enum gateway_budget_verdict. Pure. */
int gateway_budget_admit(struct gateway_budget_state *s, const struct gateway_budget *b, uint64_t now_s);
/* Charges tokens used by a finished call. Pure. */
void gateway_budget_charge(struct gateway_budget_state *s, uint64_t tokens, uint64_t now_s);
/* Seconds until the window that refused (verdict) rolls over. */
uint64_t gateway_budget_retry_after(int verdict, uint64_t now_s);
/* A short English description of a verdict ("requests per minute"). */
const char *gateway_budget_what(int verdict);

/* What a call returned, read from the provider's usage (non-streaming body or
 * SSE events). Token counts follow the OTel conventions (input includes cache
 * read and write, output includes reasoning); TL_NONE when not reported. */
enum gateway_op { GATEWAY_OP_CHAT = 0, GATEWAY_OP_COMPLETIONS, GATEWAY_OP_EMBEDDINGS, GATEWAY_OP_RESPONSES,
		  GATEWAY_OP_MESSAGES, GATEWAY_OP_MODELS };

struct gateway_result {
	char id[128];
	char model[128];
	char finish[8][32];
	uint32_t n_finish;
	char error_type[64];            /* provider error type/code seen in the body or stream */
	int have_usage;
	int64_t input, output, cache_read, cache_write, reasoning;
	/* Anthropic streams overwrite raw fields; input is their sum (gateway_result_finish). */
	int64_t a_input, a_cache_read, a_cache_write;
	struct tl_buf text;             /* streamed output text, when capture is on (bounded) */
	int capture;
};
void gateway_result_init(struct gateway_result *r, int capture);
void gateway_result_cleanup(struct gateway_result *r);
/* Computes the OTel totals from the raw fields (Anthropic). Idempotent. */
void gateway_result_finish(struct gateway_result *r, int api);

/* Reads a non-streaming JSON body of operation op. Pure; ignores what it does
 * not understand. TL_EJSON if the body is not JSON. */
int gateway_usage_from_body(int api, int op, const char *body, size_t n, struct gateway_result *r);
/* Reads one SSE event (event name may be empty, data is the joined data lines).
 * Returns 1 if the event is an OpenAI usage-only chunk (choices empty, usage
 * set) that the proxy strips when the client did not ask for usage, else 0. */
int gateway_usage_from_event(int api, int op, const char *event, size_t en, const char *data, size_t dn,
			     struct gateway_result *r);

/*
 * Incremental SSE parser: feed bytes in any split; each complete event (ended by
 * a blank line; \n, \r\n or \r line ends; comment lines kept in raw) is reported
 * with its event name, joined data and its raw bytes. An event larger than max
 * bytes is reported with overflow set and data truncated.
 */
struct gateway_sse {
	struct tl_buf raw;   /* raw bytes of the event being read */
	struct tl_buf data;  /* joined data lines */
	struct tl_buf line;  /* current line */
	char event[64];
	int pending_cr;      /* the last byte was \r: a following \n belongs to it */
	int overflow;
	size_t max;
};
typedef void (*gateway_sse_fn)(void *arg, const char *event, const char *data, size_t dn, const char *raw,
			       size_t rn, int overflow);
void gateway_sse_init(struct gateway_sse *p, size_t max);
void gateway_sse_cleanup(struct gateway_sse *p);
void gateway_sse_feed(struct gateway_sse *p, const char *buf, size_t n, gateway_sse_fn fn, void *arg);
/* Bytes of an unfinished event still held (a stream cut mid-event). */
size_t gateway_sse_pending(const struct gateway_sse *p);

/* Parses a W3C traceparent (version 00 or later, per protocols.md 6.1). 0 ok. */
int gateway_traceparent_parse(const char *s, uint8_t trace_id[16], uint8_t span_id[8], uint8_t *flags);

/* ---- span sink ---------------------------------------------------------- */

/*
 * Where finished spans go. submit gets a normalised batch (spans of one HTTP
 * request) whose memory is valid only during the call: copy what you keep.
 * Called on the gateway's loop thread.
 */
struct gateway_sink {
	void (*submit)(void *arg, const struct tl_batch *b);
	void *arg;
};

/* OTLP/HTTP protobuf exporter: a background thread, a bounded queue, drops counted. */
struct gateway_exporter;
/* Returns owned (gateway_exporter_destroy). t is copied. */
int gateway_exporter_create(const struct gateway_traces *t, struct gateway_exporter **out);
/* Flushes what is queued (bounded wait), stops the thread, frees. Accepts NULL. */
void gateway_exporter_destroy(struct gateway_exporter *e);
/* A sink that samples by trace id and queues for export. */
struct gateway_sink gateway_exporter_sink(struct gateway_exporter *e);
/* Counters: spans exported, spans dropped (queue full or export failure). */
void gateway_exporter_stats(struct gateway_exporter *e, uint64_t *exported, uint64_t *dropped);

/*
 * A sink that moves the work off the gateway's loop: spans are encoded (OTLP
 * protobuf) into a bounded queue, and a background thread decodes what has
 * accumulated into one batch, normalises and prices it (prices borrowed, may
 * be NULL) and calls inner.submit there. Used by serve so that store and
 * pipeline work never delays a proxied call. A full queue drops spans.
 */
struct gateway_async;
/* Returns owned (gateway_async_destroy). */
int gateway_async_create(struct gateway_sink inner, const struct tl_price_table *prices, struct gateway_async **out);
/* Hands over what is queued, stops the thread, frees. Accepts NULL. */
void gateway_async_destroy(struct gateway_async *a);
struct gateway_sink gateway_async_sink(struct gateway_async *a);

/* ---- the proxy ---------------------------------------------------------- */

struct gateway;

/*
 * Builds the gateway: compiles redaction, binds the listener (TL_EIO with err
 * naming the address). cfg is taken over (moved: the caller's copy is zeroed).
 * prices is borrowed (may be NULL) and must outlive the gateway. Call
 * evthread_use_pthreads() first when another thread will call gateway_stop.
 * Returns owned (gateway_destroy).
 */
int gateway_create(struct gateway_config *cfg, const struct tl_price_table *prices, struct gateway_sink sink,
		   struct gateway **out, char *err, size_t errlen);
/* The bound address "host:port" (after port 0). */
const char *gateway_bound(const struct gateway *g);
/* Runs the loop on a new thread. */
int gateway_start(struct gateway *g);
/* Runs the loop on the calling thread until SIGINT/SIGTERM (standalone). */
int gateway_run(struct gateway *g);
/* Stops the loop (from any thread) and joins the thread if started. Idempotent. */
void gateway_stop(struct gateway *g);
/* Cancels what is in flight and frees. Accepts NULL. */
void gateway_destroy(struct gateway *g);
/* Appends the gateway metrics in Prometheus text format. Thread-safe. */
int gateway_metrics_render(struct gateway *g, struct tl_buf *out);

#endif
