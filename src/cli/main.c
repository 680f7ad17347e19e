/*
 * main.c - the tracelamp binary: dispatches on the subcommand (cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define TRACELAMP_VERSION "0.1.0-dev"

static void usage(FILE *f)
{
	fprintf(f, "usage: tracelamp <command> [options]\n"
		   "\n"
		   "commands:\n"
		   "  serve     run the daemon: OTLP/HTTP receiver, store, query API, /metrics\n"
		   "  config    print the effective configuration (--markdown: the settings table)\n"
		   "  bench     load generator: GenAI agent traces over OTLP/HTTP\n"
		   "  verify    deploy gate: send one GenAI trace, wait until it is queryable\n"
		   "  check     trace integrity of stored data (orphans, roots, skew)\n"
		   "  gateway   the LLM gateway alone (OpenAI/Anthropic proxy; spans over OTLP)\n"
		   "  bench-gateway  gateway overhead: latency and throughput, direct vs through the gateway\n"
		   "  version   print the version\n"
		   "  help      this text\n"
		   "\n"
		   "`tracelamp <command> --help` lists a command's options.\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "serve") == 0)
		return cli_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "config") == 0)
		return cli_config(argc - 1, argv + 1);
	if (strcmp(cmd, "bench") == 0)
		return cli_bench(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cli_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cli_check(argc - 1, argv + 1);
	if (strcmp(cmd, "gateway") == 0)
		return cli_gateway(argc - 1, argv + 1);
	if (strcmp(cmd, "bench-gateway") == 0)
		return cli_bench_gateway(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("tracelamp %s\n", TRACELAMP_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "tracelamp: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return 2;
}
