/*
 * serve.c - `tracelamp serve` (the daemon) and `tracelamp config` (prints the
 * effective configuration). The only place the modules are wired together:
 * config -> prices -> store -> metrics -> pipeline -> receiver -> server.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "cli/cli.h"
#include "cli/config.h"
#include "gateway/gateway.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "pipeline/pipeline.h"
#include "receiver/receiver.h"
#include "server/server.h"
#include "store/store.h"

extern char **environ;

struct daemon {
	struct tl_config cfg;
	struct tl_price_table *prices;
	struct store *store;
	struct metrics *metrics;
	struct pipeline *pipeline;
	struct receiver *receiver;
	struct receiver_grpc *grpc;
	struct server *server;
	struct server_api api;
	struct gateway *gateway; /* NULL when gateway.routes is empty */
	struct gateway_async *gw_async; /* moves gateway spans to the pipeline off the gateway's loop */
};

/* ---- the embedded gateway ------------------------------------------------------ */

/* One batch of gateway spans on its way through the pipeline. */
struct gw_submit {
	struct pipeline *p;
	struct pipeline_ticket t;
};

static void gw_stored(void *arg, int status)
{
	struct gw_submit *s = arg;
	if (status)
		tl_log(TL_LOG_WARN, "gateway: the store refused gateway spans: %s", tl_strerror(status));
	pipeline_end(s->p, &s->t);
	free(s);
}

/* The gateway's sink in serve: its spans go into the local pipeline like any
 * OTLP request (admission, LLM metrics, store). Runs on the gateway_async
 * thread, never on the gateway's loop. */
static void gw_sink(void *arg, const struct tl_batch *b)
{
	struct daemon *d = arg;
	struct gw_submit *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->p = d->pipeline;
	if (pipeline_admit(d->pipeline, &s->t, 4096)) {
		free(s);
		return;
	}
	if (pipeline_submit(d->pipeline, &s->t, b, gw_stored, s)) {
		pipeline_end(d->pipeline, &s->t);
		free(s);
	}
}

/* The API port's handler: /metrics gains the gateway's series; the rest is the
 * server module's. */
static void http_handle(struct evhttp_request *req, struct server_loop *loop, void *arg)
{
	struct daemon *d = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (d->gateway && path && !strcmp(path, "/metrics") && evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		struct tl_buf b;
		struct metrics_gauges g;
		tl_buf_init(&b, 64u << 20);
		g.memory_in_use = pipeline_memory_in_use(d->pipeline);
		g.memory_budget = pipeline_memory_budget(d->pipeline);
		if (metrics_render(d->metrics, d->store, &g, &b) || gateway_metrics_render(d->gateway, &b)) {
			evhttp_send_error(req, 500, "cannot render metrics");
		} else {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
					  "text/plain; version=0.0.4; charset=utf-8");
			evbuffer_add(evhttp_request_get_output_buffer(req), b.data ? b.data : "", b.len);
			evhttp_send_reply(req, 200, "OK", NULL);
		}
		tl_buf_cleanup(&b);
		return;
	}
	server_api_handle(req, loop, &d->api);
}

static int has_flag(int argc, char **argv, const char *a, const char *b)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], a) == 0 || (b && strcmp(argv[i], b) == 0))
			return 1;
	return 0;
}

static void print_settings_help(FILE *f)
{
	struct tl_buf b;
	tl_buf_init(&b, 0);
	if (config_format_help(&b) == 0 && b.data)
		fputs(b.data, f);
	tl_buf_cleanup(&b);
}

static void drain_begin(void *arg)
{
	struct daemon *d = arg;
	pipeline_begin_drain(d->pipeline);
	tl_log(TL_LOG_INFO, "draining: %llu request(s) in flight; new OTLP requests get 503",
	       (unsigned long long)pipeline_inflight(d->pipeline));
}

static int drain_idle(void *arg)
{
	struct daemon *d = arg;
	return pipeline_inflight(d->pipeline) == 0;
}

static void on_ready(void *arg)
{
	struct daemon *d = arg;
	const char *o = server_otlp_bound(d->server), *h = server_http_bound(d->server);
	fprintf(stderr, "tracelamp: OTLP/HTTP on http://%s/v1/{traces,metrics,logs}, API on http://%s/api/v1, metrics on http://%s/metrics\n",
		o, h, h);
	fprintf(stderr, "tracelamp: OTLP/gRPC on %s (h2c)\n", server_grpc_bound(d->server));
	fprintf(stderr, "tracelamp: web UI on http://%s/\n", h);
	fprintf(stderr, "tracelamp: data in %s\n", d->cfg.data_dir);
	if (d->gateway) {
		fprintf(stderr, "tracelamp: LLM gateway on http://%s\n", gateway_bound(d->gateway));
		fprintf(stderr, "listening otlp_http=%s http=%s gateway=%s otlp_grpc=%s\n", o, h, gateway_bound(d->gateway),
			server_grpc_bound(d->server));
	} else {
		fprintf(stderr, "listening otlp_http=%s http=%s otlp_grpc=%s\n", o, h, server_grpc_bound(d->server));
	}
	fprintf(stderr, "tracelamp: ready\n");
	fflush(stderr);
}

int cli_serve(int argc, char **argv)
{
	struct daemon d;
	struct store_config sc;
	struct pipeline_config pc;
	struct receiver_config rc_cfg;
	struct server_config svc;
	struct gateway_config gc;
	char err[1024];
	int rc, exit_code = 1;

	memset(&d, 0, sizeof d);
	memset(&gc, 0, sizeof gc);
	if (has_flag(argc, argv, "--help", "-h")) {
		fprintf(stdout, "usage: tracelamp serve [--config=PATH] [--section.key=value ...]\n\n");
		print_settings_help(stdout);
		return 0;
	}
	if (config_load(&d.cfg, argc - 1, argv + 1, environ, err, sizeof err)) {
		fprintf(stderr, "tracelamp: %s\n", err);
		return 2;
	}
	tl_log_set_level(d.cfg.log_level);
	if (config_load_gateway(&d.cfg, environ, &gc, err, sizeof err)) {
		fprintf(stderr, "tracelamp: %s\n", err);
		return 2;
	}
	/* A client that hangs up mid-reply must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads()) {
		fprintf(stderr, "tracelamp: cannot enable libevent threading\n");
		return 1;
	}

	err[0] = 0;
	if (model_prices_load(d.cfg.pricing_file, &d.prices, err, sizeof err)) {
		fprintf(stderr, "tracelamp: pricing.file: %s\n", err[0] ? err : "cannot load prices");
		exit_code = 2;
		goto out;
	}

	store_config_defaults(&sc);
	sc.data_dir = d.cfg.data_dir;
	sc.retention_ns = d.cfg.retention_ns;
	sc.max_size_bytes = d.cfg.max_size_bytes;
	sc.commit_interval_ms = (uint32_t)(d.cfg.commit_interval_ns / 1000000);
	if (sc.commit_interval_ms == 0 && d.cfg.commit_interval_ns)
		sc.commit_interval_ms = 1;
	sc.trace_idle_ms = (uint32_t)(d.cfg.trace_idle_ns / 1000000);
	err[0] = 0;
	if (store_open(&sc, &d.store, err, sizeof err)) {
		fprintf(stderr, "tracelamp: cannot open the store in %s: %s\n", d.cfg.data_dir, err);
		goto out;
	}

	d.metrics = metrics_create(d.cfg.metrics_max_models);
	if (!d.metrics) {
		fprintf(stderr, "tracelamp: cannot create metrics\n");
		goto out;
	}
	metrics_set_namespace(d.metrics, d.cfg.metrics_namespace);
	metrics_set_series_ttl(d.metrics, d.cfg.metrics_series_ttl_ns);
	metrics_set_series_limit(d.metrics, d.cfg.metrics_series_limit);
	pc.store = d.store;
	pc.metrics = d.metrics;
	pc.memory_budget = d.cfg.memory_budget;
	if (pipeline_create(&pc, &d.pipeline))
		goto out;

	memset(&rc_cfg, 0, sizeof rc_cfg);
	rc_cfg.pipeline = d.pipeline;
	rc_cfg.metrics = d.metrics;
	rc_cfg.prices = d.prices;
	rc_cfg.max_request_bytes = (size_t)d.cfg.max_request_bytes;
	rc_cfg.memory_budget = d.cfg.memory_budget;
	if (receiver_create(&rc_cfg, &d.receiver))
		goto out;
	{
		struct receiver_grpc_config gcfg = {d.receiver, d.pipeline, d.metrics,
						    (size_t)d.cfg.grpc_max_message_bytes, 0, 0};
		if (receiver_grpc_create(&gcfg, &d.grpc))
			goto out;
		receiver_grpc_set_handler(d.grpc, RECEIVER_SIG_METRICS, receiver_export_metrics, d.receiver);
		receiver_grpc_set_handler(d.grpc, RECEIVER_SIG_LOGS, receiver_export_logs, d.receiver);
	}

	d.api.store = d.store;
	d.api.metrics = d.metrics;
	d.api.pipeline = d.pipeline;
	d.api.prices = d.prices;

	memset(&svc, 0, sizeof svc);
	svc.otlp_addr = d.cfg.otlp_http_addr;
	svc.http_addr = d.cfg.http_addr;
	svc.otlp_threads = d.cfg.otlp_threads;
	svc.otlp_max_body = (size_t)d.cfg.max_request_bytes;
	svc.http_max_body = 1 << 20;
	svc.timeout_s = 60;
	svc.otlp_handler = receiver_handle;
	svc.otlp_arg = d.receiver;
	svc.grpc_addr = d.cfg.otlp_grpc_addr;
	svc.grpc_accept = receiver_grpc_accept;
	svc.grpc_drain = receiver_grpc_drain;
	svc.grpc_close = receiver_grpc_close;
	svc.grpc_arg = d.grpc;
	svc.http_handler = http_handle;
	svc.http_arg = &d;
	svc.drain.begin = drain_begin;
	svc.drain.idle = drain_idle;
	svc.drain.arg = &d;
	svc.drain.timeout_ns = d.cfg.drain_timeout_ns;
	svc.ready = on_ready;
	svc.ready_arg = &d;
	err[0] = 0;
	if (server_create(&svc, &d.server, err, sizeof err)) {
		fprintf(stderr, "tracelamp: %s\n", err);
		goto out;
	}
	if (gc.n_routes) {
		struct gateway_sink sink = {gw_sink, &d};
		if (gateway_async_create(sink, d.prices, &d.gw_async)) {
			fprintf(stderr, "tracelamp: cannot start the gateway span thread\n");
			goto out;
		}
		err[0] = 0;
		if (gateway_create(&gc, d.prices, gateway_async_sink(d.gw_async), &d.gateway, err, sizeof err)) {
			fprintf(stderr, "tracelamp: %s\n", err[0] ? err : "cannot start the gateway");
			goto out;
		}
		if (gateway_start(d.gateway)) {
			fprintf(stderr, "tracelamp: cannot start the gateway thread\n");
			goto out;
		}
	}
	if (server_start(d.server)) {
		fprintf(stderr, "tracelamp: cannot start the OTLP threads\n");
		goto out;
	}
	rc = server_run(d.server);
	if (rc) {
		fprintf(stderr, "tracelamp: event loop failed: %s\n", tl_strerror(rc));
		goto out;
	}
	exit_code = 0;
out:
	/* Order matters: stop the loops (late store completions are then dropped),
	 * close the store (commits and writes pending traces), then free the
	 * connections and everything they point at. */
	/* The gateway first: it feeds the pipeline. */
	gateway_destroy(d.gateway);
	gateway_async_destroy(d.gw_async);
	gateway_config_cleanup(&gc);
	if (d.server)
		server_stop(d.server);
	store_close(d.store);
	server_destroy(d.server);
	receiver_grpc_destroy(d.grpc);
	receiver_destroy(d.receiver);
	pipeline_destroy(d.pipeline);
	metrics_destroy(d.metrics);
	if (d.prices)
		model_prices_destroy(d.prices);
	if (exit_code == 0)
		tl_log(TL_LOG_INFO, "stopped");
	return exit_code;
}

int cli_config(int argc, char **argv)
{
	struct tl_config cfg;
	struct tl_buf b;
	char err[1024];
	char *rest[256];
	int n = 0, rc = 0;

	if (has_flag(argc, argv, "--help", "-h")) {
		fprintf(stdout, "usage: tracelamp config [--markdown] [--config=PATH] [--section.key=value ...]\n"
				"Prints the effective configuration as YAML, each value commented with its source.\n"
				"--markdown prints the settings table of docs/configuration.md instead.\n\n");
		print_settings_help(stdout);
		return 0;
	}
	tl_buf_init(&b, 0);
	if (has_flag(argc, argv, "--markdown", NULL)) {
		rc = config_format_markdown(&b);
		goto print;
	}
	for (int i = 1; i < argc && n < 256; i++)
		rest[n++] = argv[i];
	if (config_load(&cfg, n, rest, environ, err, sizeof err)) {
		fprintf(stderr, "tracelamp: %s\n", err);
		tl_buf_cleanup(&b);
		return 2;
	}
	rc = config_format_yaml(&cfg, &b);
print:
	if (!rc && b.data)
		fputs(b.data, stdout);
	tl_buf_cleanup(&b);
	return rc ? 1 : 0;
}
