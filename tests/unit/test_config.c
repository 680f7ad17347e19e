/*
 * test_config.c - the configuration table and its pure parsers (src/cli/config.c):
 * defaults, YAML, environment, flags, precedence, validation and output.
 *
 * src/cli is not part of libtl.a, so the module is compiled in here.
 */
#include "tl_test.h"

#include <unistd.h>

#include "cli/config.h"

static char err[512];

TEST(defaults_parse_and_match_contract)
{
	struct tl_config c;
	config_init(&c);
	CHECK_EQ_STR(c.otlp_http_addr, "127.0.0.1:4318");
	CHECK_EQ_STR(c.otlp_grpc_addr, "127.0.0.1:4317");
	CHECK_EQ_STR(c.http_addr, "127.0.0.1:7070");
	CHECK_EQ_INT(c.max_request_bytes, 16ull << 20);
	CHECK_EQ_INT(c.memory_budget, 256ull << 20);
	CHECK_EQ_INT(c.otlp_threads, 2);
	CHECK_EQ_INT(c.allow_public, 0);
	CHECK_EQ_STR(c.data_dir, "./tracelamp-data");
	CHECK_EQ_INT(c.retention_ns, 72ull * 3600 * 1000000000ull);
	CHECK_EQ_INT(c.max_size_bytes, 10ull << 30);
	CHECK_EQ_INT(c.commit_interval_ns, 1000000);
	CHECK_EQ_INT(c.trace_idle_ns, 3000000000ull);
	CHECK_EQ_STR(c.pricing_file, "");
	CHECK_EQ_INT(c.log_level, TL_LOG_INFO);
	CHECK_EQ_INT(c.metrics_max_models, 50);
	CHECK_EQ_STR(c.origin[0], "default");
	CHECK(config_n_keys <= CONFIG_MAX_KEYS);
	CHECK_EQ_INT(config_validate(&c, err, sizeof err), 0);
}

TEST(env_names)
{
	char n[128];
	config_env_name(&config_keys[config_find("store.retention")], n, sizeof n);
	CHECK_EQ_STR(n, "TRACELAMP_STORE_RETENTION");
	config_env_name(&config_keys[config_find("server.memory_budget")], n, sizeof n);
	CHECK_EQ_STR(n, "TRACELAMP_SERVER_MEMORY_BUDGET");
	CHECK_EQ_INT(config_find("nope.key"), -1);
}

TEST(addr_parse_table)
{
	static const struct {
		const char *in;
		int ok;
		const char *host;
		int port;
		int loopback;
	} cases[] = {
	    {"127.0.0.1:4318", 1, "127.0.0.1", 4318, 1},
	    {"127.1.2.3:0", 1, "127.1.2.3", 0, 1},
	    {"localhost:7070", 1, "localhost", 7070, 1},
	    {"[::1]:4318", 1, "::1", 4318, 1},
	    {"0.0.0.0:4318", 1, "0.0.0.0", 4318, 0},
	    {"[::]:80", 1, "::", 80, 0},
	    {":4318", 1, "", 4318, 0},
	    {"example.com:443", 1, "example.com", 443, 0},
	    {"10.0.0.1:65535", 1, "10.0.0.1", 65535, 0},
	    {"127.0.0.1", 0, NULL, 0, 0},
	    {"127.0.0.1:", 0, NULL, 0, 0},
	    {"127.0.0.1:65536", 0, NULL, 0, 0},
	    {"127.0.0.1:-1", 0, NULL, 0, 0},
	    {"127.0.0.1:43x", 0, NULL, 0, 0},
	    {"::1:4318", 0, NULL, 0, 0},
	    {"[::1]4318", 0, NULL, 0, 0},
	    {"[]:4318", 0, NULL, 0, 0},
	    {"a b:1", 0, NULL, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char host[64] = "";
		uint16_t port = 0;
		int rc = config_parse_addr(cases[i].in, host, sizeof host, &port);
		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "  case %s\n", cases[i].in);
		CHECK_EQ_INT(rc == 0, cases[i].ok);
		if (cases[i].ok && rc == 0) {
			CHECK_EQ_STR(host, cases[i].host);
			CHECK_EQ_INT(port, cases[i].port);
			CHECK_EQ_INT(config_host_is_loopback(host), cases[i].loopback);
		}
	}
}

TEST(set_values_and_errors)
{
	static const struct {
		const char *key, *val;
		int ok;
		const char *formatted;
	} cases[] = {
	    {"server.max_request_bytes", "4MiB", 1, "4MiB"},
	    {"server.max_request_bytes", "1000", 1, "1000"},
	    {"server.max_request_bytes", "2048", 1, "2KiB"},
	    {"server.max_request_bytes", "12XB", 0, NULL},
	    {"server.max_request_bytes", "", 0, NULL},
	    {"server.memory_budget", "1gib", 1, "1GiB"},
	    {"store.retention", "7d", 1, "168h"},
	    {"store.retention", "0", 1, "0"},
	    {"store.retention", "90m", 1, "90m"},
	    {"store.retention", "1.5h", 0, NULL},
	    {"store.retention", "10", 0, NULL},
	    {"store.commit_interval", "500us", 1, "500us"},
	    {"server.allow_public", "yes", 1, "true"},
	    {"server.allow_public", "FALSE", 1, "false"},
	    {"server.allow_public", "maybe", 0, NULL},
	    {"server.otlp_threads", "4", 1, "4"},
	    {"server.otlp_threads", "-1", 0, NULL},
	    {"server.otlp_threads", "4294967296", 0, NULL},
	    {"log.level", "DEBUG", 1, "debug"},
	    {"log.level", "warning", 1, "warn"},
	    {"log.level", "loud", 0, NULL},
	    {"server.http_addr", "127.0.0.1:0", 1, "127.0.0.1:0"},
	    {"server.http_addr", "7070", 0, NULL},
	    {"store.data_dir", "/var/lib/tracelamp", 1, "/var/lib/tracelamp"},
	    {"pricing.file", "", 1, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_config c;
		char v[600];
		config_init(&c);
		err[0] = 0;
		int rc = config_set(&c, cases[i].key, cases[i].val, CONFIG_SRC_FLAG, "flag --x", err, sizeof err);
		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "  case %s=%s: %s\n", cases[i].key, cases[i].val, err);
		CHECK_EQ_INT(rc == 0, cases[i].ok);
		if (rc == 0 && cases[i].ok) {
			config_format_value(&c, (size_t)config_find(cases[i].key), v, sizeof v);
			CHECK_EQ_STR(v, cases[i].formatted);
		} else if (rc) {
			CHECK_EQ_INT(rc, TL_ECONFIG);
			/* The message names the key and where the value came from. */
			CHECK(strstr(err, cases[i].key) != NULL);
			CHECK(strstr(err, "flag --x") != NULL);
		}
	}
}

TEST(unknown_key_is_error)
{
	struct tl_config c;
	config_init(&c);
	CHECK_EQ_INT(config_set(&c, "server.bogus", "1", CONFIG_SRC_FLAG, "flag --server.bogus", err, sizeof err),
		     TL_ECONFIG);
	CHECK(strstr(err, "server.bogus") != NULL);
}

TEST(yaml_file)
{
	static const char y[] = "# comment\n"
				"server:\n"
				"  http_addr: 127.0.0.1:9999\n"
				"  memory_budget: 64MiB\n"
				"  allow_public: false\n"
				"store:\n"
				"  data_dir: \"/tmp/tl data\"\n"
				"  retention: 24h\n"
				"pricing:\n"
				"  file: ~\n"
				"log:\n"
				"  level: debug\n"
				"metrics:\n";
	struct tl_config c;
	config_init(&c);
	CHECK_EQ_INT(config_apply_yaml(&c, y, sizeof y - 1, "t.yaml", err, sizeof err), 0);
	CHECK_EQ_STR(c.http_addr, "127.0.0.1:9999");
	CHECK_EQ_INT(c.memory_budget, 64ull << 20);
	CHECK_EQ_STR(c.data_dir, "/tmp/tl data");
	CHECK_EQ_INT(c.retention_ns, 24ull * 3600 * 1000000000ull);
	CHECK_EQ_STR(c.pricing_file, "");
	CHECK_EQ_INT(c.log_level, TL_LOG_DEBUG);
	int i = config_find("server.http_addr");
	CHECK_EQ_INT(c.source[i], CONFIG_SRC_FILE);
	CHECK_EQ_STR(c.origin[i], "file t.yaml:3");
	CHECK_EQ_INT(c.source[config_find("store.max_size")], CONFIG_SRC_DEFAULT);
}

TEST(yaml_errors)
{
	static const struct {
		const char *y;
		const char *needle;
	} cases[] = {
	    {"server:\n  bogus: 1\n", "server.bogus"},
	    {"serverx:\n  http_addr: 127.0.0.1:1\n", "serverx.http_addr"},
	    {"server:\n  memory_budget: lots\n", "t.yaml:2"},
	    {"server:\n  http_addr: [1, 2]\n", "lists"},
	    {"server:\n  http_addr:\n    a: b\n", "mapping"},
	    {"server: 5\n", "expected a mapping"},
	    {"server:\n  http_addr: \"unterminated\n", "syntax"},
	    {"just a scalar\n", "mapping"},
	    {"a: &x 1\nb: *x\n", "t.yaml"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tl_config c;
		config_init(&c);
		err[0] = 0;
		int rc = config_apply_yaml(&c, cases[i].y, strlen(cases[i].y), "t.yaml", err, sizeof err);
		CHECK_EQ_INT(rc, TL_ECONFIG);
		if (!strstr(err, cases[i].needle))
			fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err, cases[i].needle);
		CHECK(strstr(err, cases[i].needle) != NULL);
	}
	/* An empty file is fine. */
	struct tl_config c;
	config_init(&c);
	CHECK_EQ_INT(config_apply_yaml(&c, "", 0, "t.yaml", err, sizeof err), 0);
	CHECK_EQ_INT(config_apply_yaml(&c, "# only a comment\n", 17, "t.yaml", err, sizeof err), 0);
}

TEST(env_aliases_generic_and_unknown)
{
	struct tl_config c;
	char *env1[] = {"PATH=/bin", "TRACELAMP_HTTP_ADDR=127.0.0.1:1", "TRACELAMP_STORE_RETENTION=1h",
			"TRACELAMP_BIN=/x/tracelamp", "TRACELAMP_CONFIG=/nope.yaml", "TRACELAMP_OTEL_ENABLED=1", NULL};
	config_init(&c);
	CHECK_EQ_INT(config_apply_env(&c, env1, err, sizeof err), 0);
	CHECK_EQ_STR(c.http_addr, "127.0.0.1:1");
	CHECK_EQ_INT(c.retention_ns, 3600000000000ull);
	CHECK_EQ_STR(c.origin[config_find("server.http_addr")], "env TRACELAMP_HTTP_ADDR");
	CHECK_EQ_INT(c.source[config_find("store.retention")], CONFIG_SRC_ENV);

	/* Generic name beats the alias whatever the order. */
	char *env2[] = {"TRACELAMP_SERVER_HTTP_ADDR=127.0.0.1:2", "TRACELAMP_HTTP_ADDR=127.0.0.1:1", NULL};
	config_init(&c);
	CHECK_EQ_INT(config_apply_env(&c, env2, err, sizeof err), 0);
	CHECK_EQ_STR(c.http_addr, "127.0.0.1:2");

	char *env3[] = {"TRACELAMP_RETENTION=1h", NULL};
	config_init(&c);
	CHECK_EQ_INT(config_apply_env(&c, env3, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "TRACELAMP_RETENTION") != NULL);

	char *env4[] = {"TRACELAMP_SERVER_MEMORY_BUDGET=huge", NULL};
	config_init(&c);
	CHECK_EQ_INT(config_apply_env(&c, env4, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "server.memory_budget") != NULL);
	CHECK(strstr(err, "env TRACELAMP_SERVER_MEMORY_BUDGET") != NULL);
}

TEST(flags)
{
	struct tl_config c;
	char *a1[] = {"--server.http_addr=127.0.0.1:0", "--store.data-dir", "/tmp/d", "--config=x.yaml",
		      "--log.level=error"};
	config_init(&c);
	CHECK_EQ_INT(config_apply_args(&c, 5, a1, err, sizeof err), 0);
	CHECK_EQ_STR(c.http_addr, "127.0.0.1:0");
	CHECK_EQ_STR(c.data_dir, "/tmp/d");
	CHECK_EQ_INT(c.log_level, TL_LOG_ERROR);
	CHECK_EQ_STR(c.origin[config_find("store.data_dir")], "flag --store.data_dir");

	char *a2[] = {"--server.nope=1"};
	CHECK_EQ_INT(config_apply_args(&c, 1, a2, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "server.nope") != NULL);
	char *a3[] = {"positional"};
	CHECK_EQ_INT(config_apply_args(&c, 1, a3, err, sizeof err), TL_ECONFIG);
	char *a4[] = {"--store.retention"};
	CHECK_EQ_INT(config_apply_args(&c, 1, a4, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "needs a value") != NULL);
}

TEST(file_path_choice)
{
	char p[256];
	int ex;
	char *a1[] = {"--config", "a.yaml"};
	char *env[] = {"TRACELAMP_CONFIG=b.yaml", NULL};
	CHECK_EQ_INT(config_file_path(2, a1, env, p, sizeof p, &ex), 0);
	CHECK_EQ_STR(p, "a.yaml");
	CHECK_EQ_INT(ex, 1);
	CHECK_EQ_INT(config_file_path(0, NULL, env, p, sizeof p, &ex), 0);
	CHECK_EQ_STR(p, "b.yaml");
	CHECK_EQ_INT(ex, 1);
	CHECK_EQ_INT(config_file_path(0, NULL, NULL, p, sizeof p, &ex), 0);
	CHECK_EQ_STR(p, "./tracelamp.yaml");
	CHECK_EQ_INT(ex, 0);
	char *a2[] = {"--config"};
	CHECK_EQ_INT(config_file_path(1, a2, NULL, p, sizeof p, &ex), TL_ECONFIG);
}

TEST(precedence_full_load)
{
	/* defaults < file < env < flags, through config_load with a real file. */
	char path[] = "/tmp/tl_test_config_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	static const char y[] = "server:\n  http_addr: 127.0.0.1:1001\n  otlp_http_addr: 127.0.0.1:1002\n"
				"store:\n  retention: 1h\n  max_size: 1GiB\n";
	CHECK_EQ_INT(write(fd, y, sizeof y - 1), (long)(sizeof y - 1));
	close(fd);
	char cfgflag[300];
	snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
	char *argv[] = {cfgflag, "--store.retention=3h"};
	char *env[] = {"TRACELAMP_OTLP_HTTP_ADDR=127.0.0.1:2002", "TRACELAMP_STORE_RETENTION=2h", NULL};
	struct tl_config c;
	CHECK_EQ_INT(config_load(&c, 2, argv, env, err, sizeof err), 0);
	CHECK_EQ_STR(c.http_addr, "127.0.0.1:1001");       /* file */
	CHECK_EQ_STR(c.otlp_http_addr, "127.0.0.1:2002");  /* env over file */
	CHECK_EQ_INT(c.retention_ns, 3ull * 3600000000000ull); /* flag over env over file */
	CHECK_EQ_INT(c.max_size_bytes, 1ull << 30);          /* file */
	CHECK_EQ_INT(c.memory_budget, 256ull << 20);         /* default */
	CHECK_EQ_STR(c.file_path, path);

	struct tl_buf b;
	tl_buf_init(&b, 0);
	CHECK_EQ_INT(config_format_yaml(&c, &b), 0);
	CHECK(strstr(b.data, "  http_addr: \"127.0.0.1:1001\"  # file ") != NULL);
	CHECK(strstr(b.data, "  otlp_http_addr: \"127.0.0.1:2002\"  # env TRACELAMP_OTLP_HTTP_ADDR") != NULL);
	CHECK(strstr(b.data, "  retention: 3h  # flag --store.retention") != NULL);
	CHECK(strstr(b.data, "  memory_budget: 256MiB  # default") != NULL);
	/* The printed configuration reads back to the same values. */
	struct tl_config c2;
	config_init(&c2);
	CHECK_EQ_INT(config_apply_yaml(&c2, b.data, b.len, "printed", err, sizeof err), 0);
	CHECK_EQ_STR(c2.otlp_http_addr, c.otlp_http_addr);
	CHECK_EQ_INT(c2.retention_ns, c.retention_ns);
	CHECK_EQ_INT(c2.max_size_bytes, c.max_size_bytes);
	tl_buf_cleanup(&b);

	/* An explicit file that does not exist is an error; the default one is not. */
	char *argv2[] = {"--config=/nonexistent/tracelamp.yaml"};
	CHECK_EQ_INT(config_load(&c, 1, argv2, NULL, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "/nonexistent/tracelamp.yaml") != NULL);
	unlink(path);
}

TEST(validate_public_bind)
{
	struct tl_config c;
	config_init(&c);
	CHECK_EQ_INT(config_set(&c, "server.http_addr", "0.0.0.0:7070", CONFIG_SRC_ENV, "env TRACELAMP_HTTP_ADDR",
				err, sizeof err), 0);
	CHECK_EQ_INT(config_validate(&c, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "server.http_addr") != NULL);
	CHECK(strstr(err, "server.allow_public") != NULL);
	CHECK(strstr(err, "env TRACELAMP_HTTP_ADDR") != NULL);
	c.allow_public = 1;
	CHECK_EQ_INT(config_validate(&c, err, sizeof err), 0);
	c.otlp_threads = 0;
	CHECK_EQ_INT(config_validate(&c, err, sizeof err), TL_ECONFIG);
	CHECK(strstr(err, "server.otlp_threads") != NULL);
}

TEST(markdown_and_help_list_every_key)
{
	struct tl_buf md, help;
	tl_buf_init(&md, 0);
	tl_buf_init(&help, 0);
	CHECK_EQ_INT(config_format_markdown(&md), 0);
	CHECK_EQ_INT(config_format_help(&help), 0);
	for (size_t i = 0; i < config_n_keys; i++) {
		char n[128];
		CHECK(strstr(md.data, config_keys[i].key) != NULL);
		CHECK(strstr(help.data, config_keys[i].key) != NULL);
		config_env_name(&config_keys[i], n, sizeof n);
		CHECK(strstr(md.data, n) != NULL);
	}
	CHECK(strstr(md.data, "`TRACELAMP_DATA_DIR`") != NULL);
	tl_buf_cleanup(&md);
	tl_buf_cleanup(&help);
}

static const struct tl_test_case tests[] = {
    T(defaults_parse_and_match_contract),
    T(env_names),
    T(addr_parse_table),
    T(set_values_and_errors),
    T(unknown_key_is_error),
    T(yaml_file),
    T(yaml_errors),
    T(env_aliases_generic_and_unknown),
    T(flags),
    T(file_path_choice),
    T(precedence_full_load),
    T(validate_public_bind),
    T(markdown_and_help_list_every_key),
};

TEST_MAIN("config", tests)
