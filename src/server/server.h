/*
 * server.h - listeners and event-loop threads (libevent 2.1 evhttp).
 *
 * Three listeners: the OTLP/HTTP port, served by N worker threads that each run
 * their own event_base + evhttp and accept from one shared listening socket;
 * the optional OTLP/gRPC port, accepted on the same worker loops and handed
 * over as raw sockets (the receiver runs HTTP/2 on them); and the API port
 * (query API, /metrics, /healthz, /readyz), served on the thread that calls
 * server_run, which also handles SIGTERM/SIGINT and drains.
 *
 * A handler runs on its loop's thread. Work finishing on another thread (the
 * store's writer) comes back with server_loop_post.
 *
 * Call evthread_use_pthreads() before server_create (serve.c does).
 */
#ifndef TL_SERVER_H
#define TL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct evhttp_request;
struct event_base;
struct server;
struct server_loop;

/* Handles one request on the loop's thread. The handler must eventually reply
 * (evhttp_send_reply), possibly later from a posted task on the same loop. */
typedef void (*server_handler_fn)(struct evhttp_request *req, struct server_loop *loop, void *arg);

/* Takes over one accepted, non-blocking connection (fd is the callee's to
 * close) on the loop's thread. */
typedef void (*server_conn_fn)(int fd, struct server_loop *loop, void *arg);

/* A unit of work handed to a loop from any thread. Embedded in the caller's
 * object (no allocation); must stay valid until fn runs. */
struct server_task {
	struct server_task *next;
	void (*fn)(struct server_task *t);
};

/*
 * Runs t->fn(t) soon on loop's thread. Thread-safe. Tasks posted after the loop
 * stopped (server_stop) are dropped: fn never runs.
 */
void server_loop_post(struct server_loop *loop, struct server_task *t);

/* Drain hooks, called on the server_run thread. */
struct server_drain {
	/* Called once when SIGTERM/SIGINT arrives, after new OTLP connections stop
	 * being accepted; the receiver should refuse new requests from now on. */
	void (*begin)(void *arg);
	/* Polled until it returns 1 (no request in flight) or the timeout passes. */
	int (*idle)(void *arg);
	void *arg;
	uint64_t timeout_ns;
};

struct server_config {
	const char *otlp_addr;       /* host:port; port 0 = ephemeral */
	const char *http_addr;
	uint32_t otlp_threads;       /* >= 1 */
	size_t otlp_max_body;        /* evhttp body limit on the OTLP port (413 past it) */
	size_t http_max_body;        /* same for the API port */
	int timeout_s;               /* connection read/write timeout */
	server_handler_fn otlp_handler;
	void *otlp_arg;
	server_handler_fn http_handler;
	void *http_arg;
	/* The OTLP/gRPC port: none when grpc_addr is NULL or "". Connections are
	 * spread over the OTLP worker loops like OTLP/HTTP ones. */
	const char *grpc_addr;
	server_conn_fn grpc_accept;
	/* On each worker loop's thread once draining begins, after its listeners
	 * closed (send GOAWAY); may be NULL. */
	void (*grpc_drain)(struct server_loop *loop, void *arg);
	/* Once per worker loop after the loops stopped (server_stop) and before
	 * their event bases are freed, on the thread calling server_destroy: free
	 * every connection of that loop. May be NULL. */
	void (*grpc_close)(struct server_loop *loop, void *arg);
	void *grpc_arg;
	struct server_drain drain;
	/* Called by server_run once signal handlers are installed, just before the
	 * loop starts (where serve prints "ready"); may be NULL. */
	void (*ready)(void *arg);
	void *ready_arg;
};

/*
 * Binds both listening sockets and builds the loops (threads not started yet).
 * Returns owned (server_destroy). TL_EIO with a message in err when an address
 * cannot be resolved or bound (naming the address).
 */
int server_create(const struct server_config *cfg, struct server **out, char *err, size_t errlen);

/* The bound addresses as "host:port" with the actual port (after port 0). */
const char *server_otlp_bound(const struct server *s);
const char *server_http_bound(const struct server *s);
/* "" when there is no gRPC port. */
const char *server_grpc_bound(const struct server *s);

/* The loop's event_base, for connections run by a server_conn_fn (use it only
 * on the loop's thread). */
struct event_base *server_loop_base(struct server_loop *loop);

/* Starts the OTLP worker threads. */
int server_start(struct server *s);

/*
 * Runs the API loop on the calling thread until a signal has been handled:
 * on SIGTERM/SIGINT it closes the OTLP listeners (HTTP and gRPC; grpc_drain runs
 * on each worker loop), calls drain.begin, then waits
 * for drain.idle or the timeout (a second signal stops waiting), and returns 0.
 */
int server_run(struct server *s);

/* Stops and joins the worker threads; later posts are dropped. Idempotent. */
void server_stop(struct server *s);

/* Stops, closes every connection and frees. Accepts NULL. */
void server_destroy(struct server *s);

/* Number of OTLP worker loops (for tests and metrics). */
uint32_t server_otlp_loops(const struct server *s);

/* ---- the API listener's routes (server/api.c) ------------------------------ */

struct store;
struct metrics;
struct pipeline;
struct tl_price_table;

struct server_api {
	struct store *store;                 /* borrowed */
	struct metrics *metrics;             /* borrowed */
	struct pipeline *pipeline;           /* borrowed: readiness and memory gauges */
	const struct tl_price_table *prices; /* borrowed */
};

/*
 * Handler for the API port: GET /healthz, /readyz, /metrics and everything under /api/v1
 * (query_handle); anything else is a JSON 404. arg is a struct server_api.
 */
void server_api_handle(struct evhttp_request *req, struct server_loop *loop, void *arg);

#endif
