/*
 * config.h - the daemon's configuration: one table of settings (key, type,
 * default, field offset, environment alias, help) that drives parsing, the
 * `--help` text, `tracelamp config` and docs/configuration.md.
 *
 * Precedence, lowest first: built-in defaults < YAML file (--config=PATH or
 * TRACELAMP_CONFIG; ./tracelamp.yaml only if it exists) < TRACELAMP_*
 * environment < flags --section.key=value. Unknown keys and bad values are
 * errors that name the key and where the value came from.
 *
 * The parsing functions are pure (no I/O) except config_load, which reads the
 * file. Lives in src/cli because only the CLI wires modules together.
 */
#ifndef TL_CLI_CONFIG_H
#define TL_CLI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "gateway/gateway.h"

#define CONFIG_STR_MAX 512
#define CONFIG_MAX_KEYS 32
#define CONFIG_ORIGIN_MAX 160

enum config_type {
	CONFIG_T_STR,      /* free text */
	CONFIG_T_ADDR,     /* host:port, [v6]:port; port 0 = ephemeral */
	CONFIG_T_SIZE,     /* bytes: 1024, 64KiB, 16MiB, 10GiB */
	CONFIG_T_DURATION, /* nanoseconds: 500ms, 30s, 5m, 72h, 7d */
	CONFIG_T_BOOL,     /* true/false, yes/no, on/off, 1/0 */
	CONFIG_T_U32,      /* decimal */
	CONFIG_T_LEVEL,    /* log level: debug, info, warn, error */
};

enum config_source { CONFIG_SRC_DEFAULT, CONFIG_SRC_FILE, CONFIG_SRC_ENV, CONFIG_SRC_FLAG };

/* The effective configuration. Plain values, no pointers: copy freely. */
struct tl_config {
	/* server */
	char otlp_http_addr[CONFIG_STR_MAX];
	char otlp_grpc_addr[CONFIG_STR_MAX];
	char http_addr[CONFIG_STR_MAX];
	uint64_t max_request_bytes;
	uint64_t memory_budget;
	uint32_t otlp_threads;
	int allow_public;
	uint64_t drain_timeout_ns;
	uint64_t grpc_max_message_bytes;
	/* store */
	char data_dir[CONFIG_STR_MAX];
	uint64_t retention_ns;
	uint64_t max_size_bytes;
	uint64_t commit_interval_ns;
	uint64_t trace_idle_ns;
	/* pricing */
	char pricing_file[CONFIG_STR_MAX];
	/* log */
	int log_level; /* enum tl_log_level */
	/* metrics */
	uint32_t metrics_max_models;
	char metrics_namespace[CONFIG_STR_MAX];
	uint64_t metrics_series_ttl_ns;
	uint32_t metrics_series_limit;
	/* gateway (its lists are read by config_load_gateway) */
	char gateway_addr[CONFIG_STR_MAX];
	int gateway_capture_content;
	uint64_t gateway_max_request_bytes;
	uint64_t gateway_max_response_bytes;
	uint32_t gateway_max_concurrent;
	uint64_t gateway_timeout_ns;

	/* Where each value came from, indexed like config_keys[]. */
	unsigned char source[CONFIG_MAX_KEYS];
	char origin[CONFIG_MAX_KEYS][CONFIG_ORIGIN_MAX]; /* "default", "file x.yaml:3", "env X", "flag --k" */
	char file_path[CONFIG_STR_MAX];                  /* the YAML file that was read; "" if none */
};

/* One setting. */
struct config_key {
	const char *key;   /* "section.name" */
	int type;          /* enum config_type */
	const char *def;   /* default, written as a user would write it */
	size_t off;        /* offsetof(struct tl_config, field) */
	size_t size;       /* sizeof the field (string capacity) */
	const char *alias; /* short environment name, or NULL */
	const char *help;  /* one sentence */
};

/* The table, in documentation order. Static, read-only. */
extern const struct config_key config_keys[];
extern const size_t config_n_keys;

/* Fills c with the defaults of the table (every source = default). */
void config_init(struct tl_config *c);

/* Returns the table index of key ("server.http_addr"), or -1. */
int config_find(const char *key);

/* The generic environment name of a key: TRACELAMP_<SECTION>_<NAME>, upper case. */
void config_env_name(const struct config_key *k, char *out, size_t n);

/*
 * Parses value for key and stores it with its provenance (source, origin text
 * such as "env TRACELAMP_HTTP_ADDR"). Errors: TL_ECONFIG with err naming the
 * key, the value and the origin (unknown key or bad value).
 */
int config_set(struct tl_config *c, const char *key, const char *value, int source, const char *origin,
	       char *err, size_t errlen);

/* Applies a YAML document (sections of scalar settings). origin names the file in
 * messages (with line numbers). Pure. TL_ECONFIG on syntax errors, unknown keys,
 * non-scalar values or bad values. */
int config_apply_yaml(struct tl_config *c, const char *text, size_t len, const char *origin, char *err,
		      size_t errlen);

/* Applies TRACELAMP_* variables from envp (NULL-terminated "NAME=value" array).
 * Short aliases are applied first, then generic names, so the generic name wins
 * when both are set. Variables that are not settings fail with TL_ECONFIG unless
 * allowed by config_env_ignored. Pure. */
int config_apply_env(struct tl_config *c, char *const *envp, char *err, size_t errlen);

/* 1 if a TRACELAMP_* variable belongs to something other than the daemon's
 * settings (TRACELAMP_CONFIG, TRACELAMP_BIN, TRACELAMP_OTEL_*, ...). */
int config_env_ignored(const char *name, size_t n);

/* Applies --section.key=value and --section.key value flags (dashes in the key
 * read as underscores). Skips --config=PATH / --config PATH. Anything else is an
 * error. Pure. */
int config_apply_args(struct tl_config *c, int argc, char **argv, char *err, size_t errlen);

/* Chooses the YAML file: --config in argv, else TRACELAMP_CONFIG in envp, else
 * ./tracelamp.yaml. Sets *explicit when the path was asked for (then a missing
 * file is an error). Returns TL_ECONFIG if --config has no value. */
int config_file_path(int argc, char **argv, char *const *envp, char *path, size_t n, int *explicit);

/* Whole load: defaults, file, environment, flags, then config_validate. Reads
 * the file (the only I/O here). */
int config_load(struct tl_config *c, int argc, char **argv, char *const *envp, char *err, size_t errlen);

/* Cross-field checks: addresses parse, non-loopback binds need
 * server.allow_public, otlp_threads in 1..64, non-zero sizes. */
int config_validate(const struct tl_config *c, char *err, size_t errlen);

/*
 * The gateway configuration: the gateway.* scalars of c plus the list-shaped
 * parts (keys, routes, redact, observability) read again from c->file_path,
 * with key and upstream-key environment variables resolved through envp.
 * out is initialised here; free it with gateway_config_cleanup (also on error:
 * it is left empty). The gateway is configured when out->n_routes > 0.
 * TL_ECONFIG with err naming file:line or the variable.
 */
int config_load_gateway(const struct tl_config *c, char *const *envp, struct gateway_config *out, char *err,
			size_t errlen);

/* Splits "host:port" or "[v6]:port". Host may be empty (all interfaces). */
int config_parse_addr(const char *s, char *host, size_t hostn, uint16_t *port);
/* 1 if host is a loopback name or address (localhost, 127.0.0.0/8, ::1). */
int config_host_is_loopback(const char *host);

/* Pure value parsers shared with the tests. */
int config_parse_bool(const char *s, int *out);
int config_parse_level(const char *s, int *out);

/* Formats a value of key index i as a user would write it (16MiB, 72h, true). */
void config_format_value(const struct tl_config *c, size_t i, char *out, size_t n);

/* The effective configuration as YAML, each value commented with its source. */
int config_format_yaml(const struct tl_config *c, struct tl_buf *out);
/* The settings table in Markdown (docs/configuration.md). */
int config_format_markdown(struct tl_buf *out);
/* Flag help for `tracelamp serve --help`. */
int config_format_help(struct tl_buf *out);

#endif
