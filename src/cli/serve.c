/*
 * serve.c - `tracelamp serve` (the daemon) and `tracelamp config` (prints the
 * effective configuration). The only place the modules are wired together:
 * config -> prices -> store -> metrics -> pipeline -> receiver -> server.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/thread.h>

#include "cli/cli.h"
#include "cli/config.h"
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
	struct server *server;
	struct server_api api;
};

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
	fprintf(stderr, "tracelamp: OTLP/HTTP on http://%s/v1/traces, API on http://%s/api/v1, metrics on http://%s/metrics\n",
		o, h, h);
	fprintf(stderr, "tracelamp: data in %s\n", d->cfg.data_dir);
	fprintf(stderr, "listening otlp_http=%s http=%s\n", o, h);
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
	char err[1024];
	int rc, exit_code = 1;

	memset(&d, 0, sizeof d);
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
	svc.http_handler = server_api_handle;
	svc.http_arg = &d.api;
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
	if (d.server)
		server_stop(d.server);
	store_close(d.store);
	server_destroy(d.server);
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
