/*
 * cli.h - subcommands of the tracelamp binary. main.c dispatches on argv[1];
 * each subcommand gets argv without the program name (argv[0] is the
 * subcommand) and returns the process exit code.
 */
#ifndef TL_CLI_H
#define TL_CLI_H

#include <stddef.h>

int cli_serve(int argc, char **argv);  /* serve.c */
int cli_config(int argc, char **argv); /* serve.c: prints the effective config */
int cli_bench(int argc, char **argv);  /* bench.c: load generator */
int cli_verify(int argc, char **argv); /* verify.c: send a GenAI trace, poll until stored (deploy gate) */
int cli_check(int argc, char **argv);  /* check.c: trace integrity via GET /api/v1/integrity */
int cli_gateway(int argc, char **argv); /* gateway.c: the LLM gateway alone (spans over OTLP) */
int cli_bench_gateway(int argc, char **argv); /* bench_gateway.c: gateway overhead load generator */

struct tl_buf;

/* GET url with libcurl (X-Tracelamp-Tenant: tenant when not NULL), waiting at
 * most timeout_ms. On 0, *status is the HTTP status and *body the response,
 * owned by the caller (tl_buf_cleanup). On a transport error returns TL_EIO
 * with err filled. Defined in verify.c; the caller has run curl_global_init. */
int cli__http_get(const char *url, const char *tenant, long timeout_ms, long *status, struct tl_buf *body,
		  char *err, size_t errlen);

#endif
