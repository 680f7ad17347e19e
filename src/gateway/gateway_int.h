/*
 * gateway_int.h - what the files of the gateway module share: the gateway
 * and per-request structs (proxy.c), the span builder (spans.c) and the
 * metrics table (metrics.c).
 */
#ifndef TL_GATEWAY_INT_H
#define TL_GATEWAY_INT_H

#include <pthread.h>

#include <curl/curl.h>
#include <jansson.h>

#include "gateway/gateway.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct evbuffer;
struct gateway__metrics;

#define GW_MAX_ESCAL 8

enum { MODE_BUFFER = 0, MODE_STREAM, MODE_DISCARD };

/* One client HTTP request through the gateway (lives on the loop thread). */
struct gw_req {
	struct gateway *g;
	struct gw_req *prev, *next;
	struct evhttp_request *req;      /* NULL once replied or the client is gone */
	struct event *watch;             /* notices the client hanging up while we wait */
	const char *method;
	char path[64];
	int op;                          /* enum gateway_op */
	int client_api;                  /* API family of the path */
	int api;                         /* API of the upstream called */
	json_t *json;                    /* parsed request body */
	char *body;                      /* body sent upstream (maybe with include_usage added) */
	size_t body_len;
	char model[128];
	int stream, strip_usage, capture;
	const struct gateway_key *key;
	struct gateway_budget_state *budget;
	const char *tenant;
	const struct gateway_route *route;
	size_t up_i;
	const struct gateway_upstream *up;
	/* trace context */
	uint8_t trace_id[16], parent_span[8], server_span[8], client_span[8];
	int has_parent;
	uint8_t flags;
	char tracestate[512];
	char run_id[128], agent_instance[128];
	int64_t step;
	/* times */
	uint64_t start_ns, end_ns, upstream_start_ns;
	uint64_t start_mono, end_mono, first_byte_mono;
	/* the current attempt */
	CURL *easy;
	struct curl_slist *hdrs;
	int mode, status, header_done, is_sse, reply_started, too_large;
	struct tl_buf resp;
	struct gateway_sse sse;
	struct evbuffer *chunk;
	/* outcome */
	struct gateway_result res;
	char escal[GW_MAX_ESCAL][96];
	int n_escal, attempts;
	int final_status, client_gone, counted_inflight;
	char error_type[64];
};

struct gateway {
	struct gateway_config cfg;
	const struct tl_price_table *prices;
	struct gateway_sink sink;
	struct gateway_redactor *redactor;
	struct gateway__metrics *metrics;
	struct gateway_budget_state *budgets; /* parallel to cfg.keys */
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	char bound_addr[300];
	CURLM *multi;
	CURL *easy_pool[64];             /* finished handles kept for reuse (curl_easy_reset) */
	int n_easy_pool;
	struct event *timer;
	pthread_t thread;
	int started;
	uint32_t inflight;
	struct gw_req *reqs;
	uint64_t rng;
	/* The resource and scope every gateway span points at. */
	struct tl_kv res_kv[2];
	struct tl_resource resource;
	struct tl_scope scope;
};

/* ---- spans (spans.c) ------------------------------------------------------- */

/* Fills g->resource and g->scope. */
void gateway__spans_init(struct gateway *g);
/* Builds the gateway.request span (and the CLIENT span when an upstream was
 * called), normalises and prices them, observes metrics and hands them to the
 * sink. Loop thread. */
void gateway__emit_spans(struct gateway *g, struct gw_req *r);

/* ---- metrics (metrics.c) ------------------------------------------------- */

struct gateway__metrics;

struct gateway__metrics *gateway__metrics_create(void);
void gateway__metrics_destroy(struct gateway__metrics *m);

/* One finished call: labels route, model, tenant; HTTP status returned to the
 * client; tokens (TL_NONE = unknown) and cost in nano-USD (TL_NONE unknown). */
struct gateway__call_obs {
	const char *route;
	const char *model;
	const char *tenant;
	int status;
	int64_t input, output, cache_read, cache_write, reasoning;
	int64_t cost_nusd;
	double seconds;
	double ttfc_seconds; /* < 0 when not streaming */
};
void gateway__metrics_call(struct gateway__metrics *m, const struct gateway__call_obs *o);
/* An upstream attempt failed (reason: "connect", "timeout", "429", "5xx", ...). */
void gateway__metrics_upstream_error(struct gateway__metrics *m, const char *upstream, const char *reason);
/* The route moved from one upstream to the next. */
void gateway__metrics_fallback(struct gateway__metrics *m, const char *route, const char *from, const char *to);
/* A request refused by the gateway itself (reason: "auth", "budget", "too_large", "bad_request", ...). */
void gateway__metrics_refused(struct gateway__metrics *m, const char *tenant, const char *reason);
void gateway__metrics_inflight(struct gateway__metrics *m, int delta);
int gateway__metrics_render(struct gateway__metrics *m, struct tl_buf *out);

#endif
