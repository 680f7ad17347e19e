/*
 * cli.h - subcommands of the tracelamp binary. main.c dispatches on argv[1];
 * each subcommand gets argv without the program name (argv[0] is the
 * subcommand) and returns the process exit code.
 */
#ifndef TL_CLI_H
#define TL_CLI_H

int cli_serve(int argc, char **argv);  /* serve.c */
int cli_config(int argc, char **argv); /* serve.c: prints the effective config */
int cli_bench(int argc, char **argv);  /* bench.c: load generator */

#endif
