/*
 * gateway.c - `tracelamp gateway`: the LLM gateway on its own, without the
 * store. Reads the same configuration as serve (the gateway: section), and
 * sends its spans over OTLP/HTTP to gateway.observability.traces.endpoint.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/thread.h>

#include "cli/cli.h"
#include "cli/config.h"
#include "gateway/gateway.h"
#include "model/model.h"

extern char **environ;

static void usage(FILE *f)
{
	fprintf(f, "usage: tracelamp gateway [--config=PATH] [--gateway.addr=HOST:PORT] [--section.key=value ...]\n"
		   "Runs the LLM gateway alone: routes, keys, budgets and telemetry come from the gateway:\n"
		   "section of the config file (see docs/gateway.md). Spans go to\n"
		   "gateway.observability.traces.endpoint over OTLP/HTTP when enabled.\n");
}

int cli_gateway(int argc, char **argv)
{
	struct tl_config cfg;
	struct gateway_config gc;
	struct tl_price_table *prices = NULL;
	struct gateway_exporter *exp = NULL;
	struct gateway *gw = NULL;
	struct gateway_sink sink = {NULL, NULL};
	char err[1024];
	int exit_code = 1;

	memset(&gc, 0, sizeof gc);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	}
	if (config_load(&cfg, argc - 1, argv + 1, environ, err, sizeof err)) {
		fprintf(stderr, "tracelamp: %s\n", err);
		return 2;
	}
	tl_log_set_level(cfg.log_level);
	if (config_load_gateway(&cfg, environ, &gc, err, sizeof err)) {
		fprintf(stderr, "tracelamp: %s\n", err);
		return 2;
	}
	if (gc.n_routes == 0) {
		fprintf(stderr, "tracelamp: the gateway has no routes: add gateway.routes to the config file%s%s\n",
			cfg.file_path[0] ? " " : "", cfg.file_path);
		exit_code = 2;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads()) {
		fprintf(stderr, "tracelamp: cannot enable libevent threading\n");
		goto out;
	}
	err[0] = 0;
	if (model_prices_load(cfg.pricing_file, &prices, err, sizeof err)) {
		fprintf(stderr, "tracelamp: pricing.file: %s\n", err[0] ? err : "cannot load prices");
		exit_code = 2;
		goto out;
	}
	if (gc.traces.enabled) {
		if (gateway_exporter_create(&gc.traces, &exp)) {
			fprintf(stderr, "tracelamp: cannot start the span exporter\n");
			goto out;
		}
		sink = gateway_exporter_sink(exp);
	}
	err[0] = 0;
	if (gateway_create(&gc, prices, sink, &gw, err, sizeof err)) {
		fprintf(stderr, "tracelamp: %s\n", err[0] ? err : "cannot start the gateway");
		goto out;
	}
	fprintf(stderr, "tracelamp: gateway on http://%s (OpenAI /v1/chat/completions, /v1/completions, "
			"/v1/embeddings, /v1/responses, /v1/models; Anthropic /v1/messages), metrics on /metrics\n",
		gateway_bound(gw));
	fprintf(stderr, "listening gateway=%s\n", gateway_bound(gw));
	fprintf(stderr, "tracelamp: ready\n");
	fflush(stderr);
	if (gateway_run(gw)) {
		fprintf(stderr, "tracelamp: gateway loop failed\n");
		goto out;
	}
	exit_code = 0;
out:
	gateway_destroy(gw);
	gateway_exporter_destroy(exp);
	gateway_config_cleanup(&gc);
	if (prices)
		model_prices_destroy(prices);
	return exit_code;
}
