/*
 * config.c - the settings table and its parsers (see config.h). The table is
 * the one declaration of every setting; defaults are parsed from their text
 * with the same code that parses user input, so a bad default fails the tests.
 */
#include "cli/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define F(field) offsetof(struct tl_config, field), sizeof(((struct tl_config *)0)->field)

const struct config_key config_keys[] = {
    {"server.otlp_http_addr", CONFIG_T_ADDR, "127.0.0.1:4318", F(otlp_http_addr), "TRACELAMP_OTLP_HTTP_ADDR",
     "Address of the OTLP/HTTP receiver (POST /v1/traces, /v1/metrics, /v1/logs). Port 0 picks a free port."},
    {"server.otlp_grpc_addr", CONFIG_T_ADDR, "127.0.0.1:4317", F(otlp_grpc_addr), "TRACELAMP_OTLP_GRPC_ADDR",
     "Address of the OTLP/gRPC receiver (h2c: HTTP/2 without TLS). Port 0 picks a free port."},
    {"server.http_addr", CONFIG_T_ADDR, "127.0.0.1:7070", F(http_addr), "TRACELAMP_HTTP_ADDR",
     "Address of the query API (/api/v1), /metrics, /healthz and /readyz. Port 0 picks a free port."},
    {"server.max_request_bytes", CONFIG_T_SIZE, "16MiB", F(max_request_bytes), NULL,
     "Largest OTLP request body, checked on the wire and again after gzip inflation (413 past it)."},
    {"server.grpc_max_message_bytes", CONFIG_T_SIZE, "4MiB", F(grpc_max_message_bytes), NULL,
     "Largest OTLP/gRPC request message, on the wire and after gzip inflation (RESOURCE_EXHAUSTED past it)."},
    {"server.memory_budget", CONFIG_T_SIZE, "256MiB", F(memory_budget), NULL,
     "Memory for accepted requests not yet committed (body plus decoded form); past it, 429 with Retry-After."},
    {"server.otlp_threads", CONFIG_T_U32, "2", F(otlp_threads), NULL,
     "Event-loop threads serving the OTLP/HTTP port (1-64)."},
    {"server.allow_public", CONFIG_T_BOOL, "false", F(allow_public), NULL,
     "Allow binding non-loopback addresses. There is no authentication yet: only open this behind a firewall."},
    {"server.drain_timeout", CONFIG_T_DURATION, "30s", F(drain_timeout_ns), NULL,
     "On SIGTERM/SIGINT, how long to wait for in-flight requests to commit and be answered."},
    {"store.data_dir", CONFIG_T_STR, "./tracelamp-data", F(data_dir), "TRACELAMP_DATA_DIR",
     "Directory of the SQLite database (created if missing)."},
    {"store.retention", CONFIG_T_DURATION, "72h", F(retention_ns), NULL,
     "Delete traces older than this (0 keeps everything)."},
    {"store.max_size", CONFIG_T_SIZE, "10GiB", F(max_size_bytes), NULL,
     "Delete the oldest traces when the database grows past this (0 = no limit)."},
    {"store.commit_interval", CONFIG_T_DURATION, "1ms", F(commit_interval_ns), NULL,
     "Group-commit window: accepted batches are committed together at most this often."},
    {"store.trace_idle", CONFIG_T_DURATION, "3s", F(trace_idle_ns), NULL,
     "A trace is assembled and written once it has been quiet this long."},
    {"pricing.file", CONFIG_T_STR, "", F(pricing_file), NULL,
     "YAML price file merged over the built-in table (empty = built-in only)."},
    {"log.level", CONFIG_T_LEVEL, "info", F(log_level), NULL, "Log level: debug, info, warn or error."},
    {"metrics.max_models", CONFIG_T_U32, "50", F(metrics_max_models), NULL,
     "Distinct model label values in /metrics before rare ones fold into \"other\"."},
    {"metrics.namespace", CONFIG_T_STR, "", F(metrics_namespace), NULL,
     "Prefix of OTLP metrics re-exposed on /metrics (\"llm\" makes llm_prompt_tokens_total; empty = none)."},
    {"metrics.series_ttl", CONFIG_T_DURATION, "5m", F(metrics_series_ttl_ns), NULL,
     "Re-exposed OTLP series not updated for this long are dropped (0 = never)."},
    {"metrics.series_limit", CONFIG_T_U32, "10000", F(metrics_series_limit), NULL,
     "Most re-exposed OTLP series kept; points of new series past it are dropped and counted."},
    /* The gateway's lists (keys, routes, redact, observability) are read from
     * the same file by config_load_gateway; these are its scalars. */
    {"gateway.addr", CONFIG_T_ADDR, "127.0.0.1:8080", F(gateway_addr), NULL,
     "Address of the LLM gateway (OpenAI and Anthropic APIs). The gateway is off when gateway.routes is empty."},
    {"gateway.capture_content", CONFIG_T_BOOL, "false", F(gateway_capture_content), NULL,
     "Record prompts and completions on gateway spans (redacted); routes may override."},
    {"gateway.max_request_bytes", CONFIG_T_SIZE, "4MiB", F(gateway_max_request_bytes), NULL,
     "Largest client request body the gateway forwards (413 past it)."},
    {"gateway.max_response_bytes", CONFIG_T_SIZE, "64MiB", F(gateway_max_response_bytes), NULL,
     "Largest non-streaming upstream reply the gateway relays (502 past it)."},
    {"gateway.max_concurrent", CONFIG_T_U32, "1024", F(gateway_max_concurrent), NULL,
     "Calls in flight through the gateway; past it, 429."},
    {"gateway.timeout", CONFIG_T_DURATION, "120s", F(gateway_timeout_ns), NULL,
     "Default upstream timeout for a whole call (routes' upstreams may set their own)."},
};
const size_t config_n_keys = sizeof config_keys / sizeof config_keys[0];

static const char *type_name(int t)
{
	switch (t) {
	case CONFIG_T_STR: return "string";
	case CONFIG_T_ADDR: return "address";
	case CONFIG_T_SIZE: return "size";
	case CONFIG_T_DURATION: return "duration";
	case CONFIG_T_BOOL: return "bool";
	case CONFIG_T_U32: return "integer";
	case CONFIG_T_LEVEL: return "level";
	}
	return "?";
}

int config_find(const char *key)
{
	for (size_t i = 0; i < config_n_keys; i++)
		if (strcmp(config_keys[i].key, key) == 0)
			return (int)i;
	return -1;
}

void config_env_name(const struct config_key *k, char *out, size_t n)
{
	int w = snprintf(out, n, "TRACELAMP_%s", k->key);
	if (w < 0 || (size_t)w >= n)
		return;
	for (char *p = out; *p; p++) {
		if (*p == '.')
			*p = '_';
		else if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
}

int config_parse_bool(const char *s, int *out)
{
	static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return TL_EINVAL;
}

int config_parse_level(const char *s, int *out)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"debug", TL_LOG_DEBUG}, {"info", TL_LOG_INFO}, {"warn", TL_LOG_WARN},
		      {"warning", TL_LOG_WARN}, {"error", TL_LOG_ERROR}};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		if (strcasecmp(s, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	}
	return TL_EINVAL;
}

int config_parse_addr(const char *s, char *host, size_t hostn, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	uint64_t p;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return TL_EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
		if (hl == 0)
			return TL_EINVAL;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return TL_EINVAL;
		hl = (size_t)(colon - s);
		/* A bare IPv6 address without brackets is ambiguous. */
		if (memchr(s, ':', hl))
			return TL_EINVAL;
	}
	if (tl_parse_u64(colon + 1, strlen(colon + 1), &p) || p > 65535)
		return TL_EINVAL;
	for (size_t i = 0; i < hl; i++)
		if (h[i] == ' ' || h[i] == '/' || h[i] == '\t')
			return TL_EINVAL;
	if (hl + 1 > hostn)
		return TL_EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (uint16_t)p;
	return 0;
}

int config_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static int set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return TL_ECONFIG;
}

/* Parses text into the field of key k inside c; TL_EINVAL with *why set on error. */
static int parse_into(struct tl_config *c, const struct config_key *k, const char *v, const char **why)
{
	char *field = (char *)c + k->off;
	char host[CONFIG_STR_MAX];
	uint16_t port;
	uint64_t u;
	int b;
	switch (k->type) {
	case CONFIG_T_ADDR:
		if (config_parse_addr(v, host, sizeof host, &port)) {
			*why = "expected host:port (for example 127.0.0.1:4318 or [::1]:4318)";
			return TL_EINVAL;
		}
		/* An address is stored as its text. */
		/* fall through */
	case CONFIG_T_STR:
		if (strlen(v) >= k->size) {
			*why = "too long";
			return TL_EINVAL;
		}
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case CONFIG_T_SIZE:
		if (tl_parse_size(v, &u)) {
			*why = "expected a size such as 1024, 64KiB, 16MiB or 10GiB";
			return TL_EINVAL;
		}
		memcpy(field, &u, sizeof u);
		return 0;
	case CONFIG_T_DURATION:
		if (strcmp(v, "0") == 0) {
			u = 0;
		} else if (tl_parse_duration(v, &u)) {
			*why = "expected a duration such as 500ms, 30s, 5m, 72h or 7d";
			return TL_EINVAL;
		}
		memcpy(field, &u, sizeof u);
		return 0;
	case CONFIG_T_BOOL:
		if (config_parse_bool(v, &b)) {
			*why = "expected true or false";
			return TL_EINVAL;
		}
		memcpy(field, &b, sizeof b);
		return 0;
	case CONFIG_T_U32: {
		uint32_t u32;
		if (tl_parse_u64(v, strlen(v), &u) || u > UINT32_MAX) {
			*why = "expected a non-negative integer";
			return TL_EINVAL;
		}
		u32 = (uint32_t)u;
		memcpy(field, &u32, sizeof u32);
		return 0;
	}
	case CONFIG_T_LEVEL:
		if (config_parse_level(v, &b)) {
			*why = "expected debug, info, warn or error";
			return TL_EINVAL;
		}
		memcpy(field, &b, sizeof b);
		return 0;
	}
	*why = "unknown type";
	return TL_EINVAL;
}

void config_init(struct tl_config *c)
{
	const char *why = NULL;
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < config_n_keys; i++) {
		/* The defaults are part of the program: a bad one is a bug (the unit
		 * tests parse every default). */
		if (parse_into(c, &config_keys[i], config_keys[i].def, &why))
			abort();
		c->source[i] = CONFIG_SRC_DEFAULT;
		snprintf(c->origin[i], sizeof c->origin[i], "default");
	}
}

int config_set(struct tl_config *c, const char *key, const char *value, int source, const char *origin,
	       char *err, size_t errlen)
{
	const char *why = NULL;
	int i = config_find(key);
	if (i < 0)
		return set_err(err, errlen, "unknown setting \"%s\" (%s); run `tracelamp config --help` for the list",
			       key, origin);
	if (parse_into(c, &config_keys[i], value, &why))
		return set_err(err, errlen, "%s: bad value \"%s\" (%s): %s", key, value, origin, why);
	c->source[i] = (unsigned char)source;
	snprintf(c->origin[i], sizeof c->origin[i], "%s", origin);
	return 0;
}

/* ---- YAML ---------------------------------------------------------------- */

/* The scalar's text; plain ~, null and empty read as "". */
static const char *scalar_text(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0))
		return "";
	return v;
}

/* 1 for the gateway keys whose values are lists or mappings (parsed by the
 * gateway module, not by the settings table). */
static int is_gateway_list(const char *section, const char *key)
{
	return !strcmp(section, "gateway") && (!strcmp(key, "keys") || !strcmp(key, "routes") ||
					       !strcmp(key, "redact") || !strcmp(key, "observability"));
}

int config_apply_yaml(struct tl_config *c, const char *text, size_t len, const char *origin, char *err,
		      size_t errlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0, have_ev = 0, depth = 0, done = 0;
	char section[128] = "", key[256] = "", where[CONFIG_ORIGIN_MAX];
	/* state: 0 expect section key, 1 expect section mapping, 2 expect setting key, 3 expect value */
	int state = 0;
	/* Nesting depth inside a value that another parser reads (gateway lists); 0 = not skipping. */
	int skip = 0;

	if (!yaml_parser_initialize(&parser))
		return set_err(err, errlen, "%s: cannot initialise the YAML parser", origin);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = set_err(err, errlen, "%s:%zu: YAML syntax error: %s", origin,
				     (size_t)parser.problem_mark.line + 1,
				     parser.problem ? parser.problem : "unknown");
			goto out;
		}
		have_ev = 1;
		size_t line = (size_t)ev.start_mark.line + 1;
		if (state == 3 && !skip && is_gateway_list(section, key) &&
		    (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT))
			skip = 1;
		else if (skip && (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT))
			skip++;
		else if (skip && (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT))
			skip--;
		if (skip || (state == 3 && is_gateway_list(section, key))) {
			/* config_load_gateway reads these from the same text. */
			if (!skip) {
				key[0] = 0;
				state = 2;
			}
			yaml_event_delete(&ev);
			have_ev = 0;
			continue;
		}
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_ALIAS_EVENT:
			rc = set_err(err, errlen, "%s:%zu: YAML aliases are not supported", origin, line);
			goto out;
		case YAML_MAPPING_START_EVENT:
			if (depth == 0 && state == 0) {
				depth = 1;
			} else if (depth == 1 && state == 1) {
				depth = 2;
				state = 2;
			} else {
				rc = set_err(err, errlen, "%s:%zu: %s%s%s: expected a single value, not a mapping",
					     origin, line, section, key[0] ? "." : "", key);
				goto out;
			}
			break;
		case YAML_MAPPING_END_EVENT:
			if (depth == 2) {
				depth = 1;
				state = 0;
			} else {
				depth = 0;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = set_err(err, errlen, "%s:%zu: %s%s%s: lists are not supported here", origin, line,
				     section[0] ? section : "(top level)", key[0] ? "." : "", key);
			goto out;
		case YAML_SEQUENCE_END_EVENT:
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			if (depth == 0) {
				/* A document that is a lone scalar: only an empty one is fine. */
				if (scalar_text(&ev)[0]) {
					rc = set_err(err, errlen, "%s:%zu: expected a mapping of sections", origin, line);
					goto out;
				}
			} else if (state == 0) {
				snprintf(section, sizeof section, "%s", v);
				key[0] = 0;
				state = 1;
			} else if (state == 1) {
				/* "section:" with no mapping under it. */
				if (scalar_text(&ev)[0]) {
					rc = set_err(err, errlen, "%s:%zu: %s: expected a mapping of settings", origin,
						     line, section);
					goto out;
				}
				state = 0;
			} else if (state == 2) {
				snprintf(key, sizeof key, "%s", v);
				state = 3;
			} else {
				char full[400];
				snprintf(full, sizeof full, "%s.%s", section, key);
				snprintf(where, sizeof where, "file %s:%zu", origin, line);
				rc = config_set(c, full, scalar_text(&ev), CONFIG_SRC_FILE, where, err, errlen);
				if (rc)
					goto out;
				key[0] = 0;
				state = 2;
			}
			break;
		}
		case YAML_NO_EVENT:
			done = 1;
			break;
		}
		yaml_event_delete(&ev);
		have_ev = 0;
	}
out:
	if (have_ev)
		yaml_event_delete(&ev);
	yaml_parser_delete(&parser);
	return rc;
}

/* ---- environment ------------------------------------------------------------ */

int config_env_ignored(const char *name, size_t n)
{
	/* Variables read by tools around the daemon (tests, bench, SDK), not settings. */
	static const char *exact[] = {"TRACELAMP_CONFIG", "TRACELAMP_BIN"};
	static const char *prefix[] = {"TRACELAMP_OTEL_", "TRACELAMP_TEST_", "TRACELAMP_BENCH_", "TRACELAMP_SDK_"};
	for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
		if (strlen(exact[i]) == n && memcmp(name, exact[i], n) == 0)
			return 1;
	for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++) {
		size_t pl = strlen(prefix[i]);
		if (n >= pl && memcmp(name, prefix[i], pl) == 0)
			return 1;
	}
	return 0;
}

/* Index of the setting named by environment variable (name, n), or -1.
 * *generic is set when it is the TRACELAMP_<SECTION>_<KEY> form. */
static int env_key(const char *name, size_t n, int *generic)
{
	char g[128];
	for (size_t i = 0; i < config_n_keys; i++) {
		const char *a = config_keys[i].alias;
		if (a && strlen(a) == n && memcmp(a, name, n) == 0) {
			*generic = 0;
			return (int)i;
		}
		config_env_name(&config_keys[i], g, sizeof g);
		if (strlen(g) == n && memcmp(g, name, n) == 0) {
			*generic = 1;
			return (int)i;
		}
	}
	return -1;
}

int config_apply_env(struct tl_config *c, char *const *envp, char *err, size_t errlen)
{
	char origin[CONFIG_ORIGIN_MAX];
	if (!envp)
		return 0;
	/* Pass 0: aliases, pass 1: generic names (so the generic name wins). */
	for (int pass = 0; pass < 2; pass++) {
		for (char *const *e = envp; *e; e++) {
			const char *eq = strchr(*e, '=');
			int generic = 0, i;
			if (strncmp(*e, "TRACELAMP_", 10) != 0 || !eq)
				continue;
			size_t n = (size_t)(eq - *e);
			if (config_env_ignored(*e, n))
				continue;
			i = env_key(*e, n, &generic);
			if (i < 0) {
				if (pass == 0)
					return set_err(err, errlen,
						       "unknown environment variable %.*s (no such setting; run "
						       "`tracelamp config --help` for the list)",
						       (int)n, *e);
				continue;
			}
			if (generic != pass)
				continue;
			snprintf(origin, sizeof origin, "env %.*s", (int)n, *e);
			int rc = config_set(c, config_keys[i].key, eq + 1, CONFIG_SRC_ENV, origin, err, errlen);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- flags ------------------------------------------------------------------ */

int config_apply_args(struct tl_config *c, int argc, char **argv, char *err, size_t errlen)
{
	char key[96], origin[CONFIG_ORIGIN_MAX];
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		if (strncmp(a, "--", 2) != 0 || a[2] == 0)
			return set_err(err, errlen, "unexpected argument \"%s\" (settings are --section.key=value)", a);
		a += 2;
		eq = strchr(a, '=');
		size_t kl = eq ? (size_t)(eq - a) : strlen(a);
		if (kl >= sizeof key)
			return set_err(err, errlen, "unknown flag --%.*s", (int)kl, a);
		memcpy(key, a, kl);
		key[kl] = 0;
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return set_err(err, errlen, "flag --%s needs a value", key);
		}
		if (strcmp(key, "config") == 0)
			continue;
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		if (config_find(key) < 0)
			return set_err(err, errlen, "unknown flag --%s; run `tracelamp serve --help` for the list", key);
		snprintf(origin, sizeof origin, "flag --%s", key);
		int rc = config_set(c, key, val, CONFIG_SRC_FLAG, origin, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int config_file_path(int argc, char **argv, char *const *envp, char *path, size_t n, int *explicit)
{
	*explicit = 0;
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		if (strncmp(argv[i], "--config=", 9) == 0) {
			v = argv[i] + 9;
		} else if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc)
				return TL_ECONFIG;
			v = argv[i + 1];
		}
		if (v) {
			if (!v[0])
				return TL_ECONFIG;
			snprintf(path, n, "%s", v);
			*explicit = 1;
		}
	}
	if (*explicit)
		return 0;
	for (char *const *e = envp; e && *e; e++) {
		if (strncmp(*e, "TRACELAMP_CONFIG=", 17) == 0 && (*e)[17]) {
			snprintf(path, n, "%s", *e + 17);
			*explicit = 1;
			return 0;
		}
	}
	snprintf(path, n, "./tracelamp.yaml");
	return 0;
}

/* Reads a whole file into a malloc'd buffer, bounded (config files are small). */
static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct tl_buf b;
	char chunk[4096];
	size_t n;
	int rc = 0;
	tl_buf_init(&b, 4 << 20);
	if (!f)
		return errno == ENOENT ? TL_ENOTFOUND : TL_EIO;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		rc = tl_buf_append(&b, chunk, n);
		if (rc)
			goto out;
	}
	if (ferror(f))
		rc = TL_EIO;
out:
	fclose(f);
	if (rc) {
		tl_buf_cleanup(&b);
		return rc;
	}
	*out = tl_buf_steal(&b, len);
	return 0;
}

int config_load(struct tl_config *c, int argc, char **argv, char *const *envp, char *err, size_t errlen)
{
	char path[CONFIG_STR_MAX];
	char *text = NULL;
	size_t len = 0;
	int explicit = 0, rc;

	config_init(c);
	rc = config_file_path(argc, argv, envp, path, sizeof path, &explicit);
	if (rc) {
		rc = set_err(err, errlen, "--config needs a file path");
		goto out;
	}
	rc = read_file(path, &text, &len);
	if (rc == TL_ENOTFOUND && !explicit) {
		rc = 0;
	} else if (rc) {
		rc = set_err(err, errlen, "cannot read config file %s: %s", path,
			     rc == TL_ENOTFOUND ? "no such file" : tl_strerror(rc));
		goto out;
	} else {
		snprintf(c->file_path, sizeof c->file_path, "%s", path);
		rc = config_apply_yaml(c, text ? text : "", len, path, err, errlen);
		if (rc)
			goto out;
	}
	rc = config_apply_env(c, envp, err, errlen);
	if (rc)
		goto out;
	rc = config_apply_args(c, argc, argv, err, errlen);
	if (rc)
		goto out;
	rc = config_validate(c, err, errlen);
out:
	free(text);
	return rc;
}

int config_validate(const struct tl_config *c, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		size_t off;
	} addrs[] = {
	    {"server.otlp_http_addr", offsetof(struct tl_config, otlp_http_addr)},
	    {"server.otlp_grpc_addr", offsetof(struct tl_config, otlp_grpc_addr)},
	    {"server.http_addr", offsetof(struct tl_config, http_addr)},
	};
	char host[CONFIG_STR_MAX];
	uint16_t port;
	for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
		const char *a = (const char *)c + addrs[i].off;
		int k = config_find(addrs[i].key);
		if (config_parse_addr(a, host, sizeof host, &port))
			return set_err(err, errlen, "%s: bad address \"%s\" (%s)", addrs[i].key, a, c->origin[k]);
		if (!c->allow_public && !config_host_is_loopback(host))
			return set_err(err, errlen,
				       "%s: \"%s\" (%s) is not a loopback address; tracelamp has no authentication "
				       "yet, so set server.allow_public: true to listen on it anyway",
				       addrs[i].key, a, c->origin[k]);
	}
	/* The gateway authenticates its clients with gateway.keys, so any address
	 * may be used; config_load_gateway refuses a non-loopback one without keys. */
	if (config_parse_addr(c->gateway_addr, host, sizeof host, &port))
		return set_err(err, errlen, "gateway.addr: bad address \"%s\" (%s)", c->gateway_addr,
			       c->origin[config_find("gateway.addr")]);
	if (c->gateway_max_concurrent < 1)
		return set_err(err, errlen, "gateway.max_concurrent: must be at least 1 (%s)",
			       c->origin[config_find("gateway.max_concurrent")]);
	if (c->gateway_max_request_bytes < 1024)
		return set_err(err, errlen, "gateway.max_request_bytes: must be at least 1KiB (%s)",
			       c->origin[config_find("gateway.max_request_bytes")]);
	if (c->otlp_threads < 1 || c->otlp_threads > 64)
		return set_err(err, errlen, "server.otlp_threads: %u (%s) must be between 1 and 64",
			       c->otlp_threads, c->origin[config_find("server.otlp_threads")]);
	if (c->max_request_bytes < 1024)
		return set_err(err, errlen, "server.max_request_bytes: must be at least 1KiB (%s)",
			       c->origin[config_find("server.max_request_bytes")]);
	if (c->max_request_bytes > (uint64_t)1 << 31)
		return set_err(err, errlen, "server.max_request_bytes: must be at most 2GiB (%s)",
			       c->origin[config_find("server.max_request_bytes")]);
	if (c->grpc_max_message_bytes < 1024 || c->grpc_max_message_bytes > (uint64_t)1 << 31)
		return set_err(err, errlen, "server.grpc_max_message_bytes: must be between 1KiB and 2GiB (%s)",
			       c->origin[config_find("server.grpc_max_message_bytes")]);
	if (c->memory_budget == 0)
		return set_err(err, errlen, "server.memory_budget: must not be 0 (%s)",
			       c->origin[config_find("server.memory_budget")]);
	if (c->commit_interval_ns > 10ull * 1000000000ull)
		return set_err(err, errlen, "store.commit_interval: must be at most 10s (%s)",
			       c->origin[config_find("store.commit_interval")]);
	if (c->trace_idle_ns > 3600ull * 1000000000ull)
		return set_err(err, errlen, "store.trace_idle: must be at most 1h (%s)",
			       c->origin[config_find("store.trace_idle")]);
	if (!c->data_dir[0])
		return set_err(err, errlen, "store.data_dir: must not be empty (%s)",
			       c->origin[config_find("store.data_dir")]);
	return 0;
}

/* ---- output ------------------------------------------------------------------ */

static void format_size(uint64_t v, char *out, size_t n)
{
	static const struct {
		const char *suf;
		uint64_t mul;
	} u[] = {{"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		if (v && v % u[i].mul == 0) {
			snprintf(out, n, "%llu%s", (unsigned long long)(v / u[i].mul), u[i].suf);
			return;
		}
	}
	snprintf(out, n, "%llu", (unsigned long long)v);
}

static void format_duration(uint64_t v, char *out, size_t n)
{
	/* Hours rather than days: people write retention as 72h. */
	static const struct {
		const char *suf;
		uint64_t mul;
	} u[] = {{"h", 3600000000000ull}, {"m", 60000000000ull}, {"s", 1000000000ull},
		 {"ms", 1000000ull},      {"us", 1000ull},       {"ns", 1}};
	if (v == 0) {
		snprintf(out, n, "0");
		return;
	}
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		if (v % u[i].mul == 0) {
			snprintf(out, n, "%llu%s", (unsigned long long)(v / u[i].mul), u[i].suf);
			return;
		}
	}
}

void config_format_value(const struct tl_config *c, size_t i, char *out, size_t n)
{
	static const char *levels[] = {"debug", "info", "warn", "error"};
	const struct config_key *k = &config_keys[i];
	const char *field = (const char *)c + k->off;
	uint64_t u;
	uint32_t u32;
	int b;
	switch (k->type) {
	case CONFIG_T_STR:
	case CONFIG_T_ADDR:
		snprintf(out, n, "%s", field);
		return;
	case CONFIG_T_SIZE:
		memcpy(&u, field, sizeof u);
		format_size(u, out, n);
		return;
	case CONFIG_T_DURATION:
		memcpy(&u, field, sizeof u);
		format_duration(u, out, n);
		return;
	case CONFIG_T_BOOL:
		memcpy(&b, field, sizeof b);
		snprintf(out, n, "%s", b ? "true" : "false");
		return;
	case CONFIG_T_U32:
		memcpy(&u32, field, sizeof u32);
		snprintf(out, n, "%u", u32);
		return;
	case CONFIG_T_LEVEL:
		memcpy(&b, field, sizeof b);
		snprintf(out, n, "%s", levels[b < 0 ? 0 : b > 3 ? 3 : b]);
		return;
	}
	snprintf(out, n, "?");
}

/* Appends s as a double-quoted YAML string. */
static int put_quoted(struct tl_buf *out, const char *s)
{
	int rc = tl_buf_putc(out, '"');
	for (; !rc && *s; s++) {
		if (*s == '"' || *s == '\\')
			rc = tl_buf_putc(out, '\\');
		if (!rc)
			rc = tl_buf_putc(out, *s);
	}
	return rc ? rc : tl_buf_putc(out, '"');
}

int config_format_yaml(const struct tl_config *c, struct tl_buf *out)
{
	char v[CONFIG_STR_MAX + 32];
	char section[64] = "";
	int rc = tl_buf_printf(out, "# tracelamp effective configuration\n# config file: %s\n",
			       c->file_path[0] ? c->file_path : "(none)");
	for (size_t i = 0; !rc && i < config_n_keys; i++) {
		const struct config_key *k = &config_keys[i];
		const char *dot = strchr(k->key, '.');
		size_t sl = (size_t)(dot - k->key);
		if (strlen(section) != sl || strncmp(section, k->key, sl) != 0) {
			snprintf(section, sizeof section, "%.*s", (int)sl, k->key);
			rc = tl_buf_printf(out, "%s:\n", section);
		}
		config_format_value(c, i, v, sizeof v);
		if (!rc)
			rc = tl_buf_printf(out, "  %s: ", dot + 1);
		if (!rc)
			rc = (k->type == CONFIG_T_STR || k->type == CONFIG_T_ADDR) ? put_quoted(out, v)
										   : tl_buf_puts(out, v);
		if (!rc)
			rc = tl_buf_printf(out, "  # %s\n", c->origin[i]);
	}
	return rc;
}

int config_format_markdown(struct tl_buf *out)
{
	char env[128];
	int rc = tl_buf_puts(out, "| key | type | default | environment | description |\n"
				  "|---|---|---|---|---|\n");
	for (size_t i = 0; !rc && i < config_n_keys; i++) {
		const struct config_key *k = &config_keys[i];
		config_env_name(k, env, sizeof env);
		rc = tl_buf_printf(out, "| `%s` | %s | `%s` | ", k->key, type_name(k->type),
				   k->def[0] ? k->def : "\"\"");
		if (!rc && k->alias)
			rc = tl_buf_printf(out, "`%s`, ", k->alias);
		if (!rc)
			rc = tl_buf_printf(out, "`%s` | %s |\n", env, k->help);
	}
	return rc;
}

int config_format_help(struct tl_buf *out)
{
	char env[128];
	int rc = tl_buf_puts(out, "Settings (flag --section.key=value; environment in brackets):\n");
	for (size_t i = 0; !rc && i < config_n_keys; i++) {
		const struct config_key *k = &config_keys[i];
		config_env_name(k, env, sizeof env);
		rc = tl_buf_printf(out, "  --%s=<%s> (default %s) [%s%s%s]\n      %s\n", k->key,
				   type_name(k->type), k->def[0] ? k->def : "\"\"",
				   k->alias ? k->alias : "", k->alias ? ", " : "", env, k->help);
	}
	if (!rc)
		rc = tl_buf_puts(out, "  --config=PATH  YAML file [TRACELAMP_CONFIG]; default ./tracelamp.yaml if it exists\n"
				      "Precedence: defaults < file < environment < flags.\n");
	return rc;
}

/* ---- gateway ------------------------------------------------------------------- */

int config_load_gateway(const struct tl_config *c, char *const *envp, struct gateway_config *out, char *err,
			size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	gateway_config_init(out);
	snprintf(out->addr, sizeof out->addr, "%s", c->gateway_addr);
	out->capture_content = c->gateway_capture_content;
	out->max_request_bytes = c->gateway_max_request_bytes;
	out->max_response_bytes = c->gateway_max_response_bytes;
	out->max_concurrent = c->gateway_max_concurrent;
	out->timeout_ns = c->gateway_timeout_ns;
	if (c->file_path[0]) {
		rc = read_file(c->file_path, &text, &len);
		if (rc) {
			rc = set_err(err, errlen, "cannot read config file %s: %s", c->file_path, tl_strerror(rc));
			goto out;
		}
		rc = gateway_config_parse_yaml(out, text ? text : "", len, c->file_path, err, errlen);
		if (rc)
			goto out;
	}
	if (out->n_routes)
		rc = gateway_config_resolve(out, envp, err, errlen);
out:
	free(text);
	if (rc)
		gateway_config_cleanup(out);
	return rc;
}
