/*
 * test_sdk.c - unit tests of libtracelamp (sdk/): W3C traceparent/tracestate
 * and baggage, samplers, run trace ids, environment parsing, the disabled path
 * (no allocation: malloc is wrapped with -Wl,--wrap), and the exporter against
 * a tiny HTTP server on 127.0.0.1:0 run in a thread (batching, queue drops,
 * retry with Retry-After, gzip, flush and shutdown deadlines). Bodies the server
 * receives are decoded with the daemon's otlp_decode_traces_pb.
 *
 * Build: the sdk/src files plus the daemon's core, proto and otlp, linked with
 * -lcurl -lz -pthread -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc.
 */
#include "tl_test.h"
#include "../../sdk/src/sdk_int.h"
#include "otlp/otlp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- counting allocator (link with --wrap) ------------------------------- */

static atomic_long allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
	atomic_fetch_add(&allocs, 1);
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
	atomic_fetch_add(&allocs, 1);
	return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
	atomic_fetch_add(&allocs, 1);
	return __real_realloc(p, n);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- fake environment ---------------------------------------------------- */

struct fake_env {
	const char *kv[32][2];
};

static const char *fake_get(const char *name, void *ud)
{
	struct fake_env *e = ud;
	for (int i = 0; i < 32 && e->kv[i][0]; i++)
		if (strcmp(e->kv[i][0], name) == 0)
			return e->kv[i][1];
	return NULL;
}

/* ---- traceparent ---------------------------------------------------------- */

TEST(traceparent_vectors)
{
	static const struct {
		const char *in;
		int ok;
		uint8_t flags;
	} v[] = {
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1, 1},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1, 0},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", 1, 3},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", 1, 3},  /* reserved bits dropped */
		{"  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ", 1, 1}, /* OWS */
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 0, 0}, /* uppercase trace id */
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", 0, 0}, /* uppercase parent */
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", 0, 0}, /* uppercase flags */
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", 0, 0}, /* zero trace id */
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 0, 0}, /* zero parent */
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, 0}, /* version ff */
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", 0, 0}, /* 00 must be 55 */
		{"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", 0, 0}, /* short */
		{"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", 0, 0},
		{"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, 0},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", 0, 0},
		{"", 0, 0},
		/* Future versions: parsed by prefix, trailing fields ignored. */
		{"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1, 1},
		{"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", 1, 1},
		{"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.future", 0, 0},
		{"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", 0, 0},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct tl_span_context c;
		int rc = tl_traceparent_extract(v[i].in, NULL, &c);
		if ((rc == 0) != v[i].ok)
			fprintf(stderr, "  vector %zu: %s\n", i, v[i].in);
		CHECK_EQ_INT(rc == 0, v[i].ok);
		if (v[i].ok && rc == 0) {
			CHECK_EQ_INT(c.trace_flags, v[i].flags);
			CHECK_EQ_INT(c.is_remote, 1);
			CHECK_EQ_INT(c.trace_id[0], 0x4b);
			CHECK_EQ_INT(c.span_id[7], 0xb7);
		}
	}
}

TEST(traceparent_roundtrip_and_format)
{
	struct tl_span_context c;
	char out[64];
	CHECK_EQ_INT(tl_traceparent_extract("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", NULL, &c), 0);
	CHECK_EQ_INT(tl_traceparent_format(&c, out, sizeof out), 0);
	/* Re-emitted as version 00. */
	CHECK_EQ_STR(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	CHECK_EQ_INT(tl_traceparent_format(&c, out, 55), TL_SDK_EINVAL);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(tl_traceparent_format(&c, out, sizeof out), TL_SDK_EINVAL);
}

TEST(tracestate_rules)
{
	struct tl_span_context c;
	const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	CHECK_EQ_INT(tl_traceparent_extract(tp, " rojo=00f067aa0ba902b7 ,, congo=t61rcWkgMzE ", &c), 0);
	CHECK_EQ_STR(c.trace_state, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	CHECK_EQ_INT(tl_traceparent_extract(tp, "tenant@vendor=x,a-b_c*d/e=1", &c), 0);
	CHECK_EQ_STR(c.trace_state, "tenant@vendor=x,a-b_c*d/e=1");
	/* Invalid tracestate: dropped, traceparent still accepted. */
	static const char *bad[] = {"Rojo=1", "rojo", "rojo=a=b", "rojo=1,rojo=2", "rojo=bad\tvalue", "=x", "rojo=caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(tl_traceparent_extract(tp, bad[i], &c), 0);
		CHECK_EQ_STR(c.trace_state, "");
	}
	/* 33 members: too many. */
	char many[33 * 6 + 1] = "";
	size_t len = 0;
	for (int i = 0; i < 33; i++)
		len += (size_t)snprintf(many + len, sizeof many - len, "%sk%02d=v", i ? "," : "", i);
	CHECK_EQ_INT(tl_traceparent_extract(tp, many, &c), 0);
	CHECK_EQ_STR(c.trace_state, "");
	/* Too long for 512: the member over 128 chars goes first. */
	char longts[800];
	char big[200];
	memset(big, 'x', 150);
	big[150] = '\0';
	snprintf(longts, sizeof longts, "a=1,big=%s,b=1,c=%0100d,d=%0100d,e=%0100d,f=%0100d", big, 0, 0, 0, 0);
	CHECK_EQ_INT(tl_traceparent_extract(tp, longts, &c), 0);
	CHECK(strstr(c.trace_state, "big=") == NULL);
	CHECK(strncmp(c.trace_state, "a=1,b=1,c=", 10) == 0);
	CHECK(strstr(c.trace_state, ",f=") != NULL);
	/* A bad traceparent clears everything, tracestate is not parsed. */
	CHECK_EQ_INT(tl_traceparent_extract("garbage", "rojo=1", &c), TL_SDK_EINVAL);
	CHECK_EQ_STR(c.trace_state, "");
}

/* ---- baggage ------------------------------------------------------------- */

TEST(baggage_extract_inject)
{
	struct tl_baggage *b = tl_baggage_create();
	char out[256];
	CHECK(b != NULL);
	CHECK_EQ_INT(tl_baggage_extract(b, "userId=Am%C3%A9lie, serverNode = DF%2028 ;prop=1,isProduction=false,bad key=1,k=%zz"), 3);
	CHECK_EQ_STR(tl_baggage_get(b, "userId"), "Am\xc3\xa9lie");
	CHECK_EQ_STR(tl_baggage_get(b, "serverNode"), "DF 28");
	CHECK_EQ_STR(tl_baggage_get(b, "isProduction"), "false");
	CHECK(tl_baggage_get(b, "k") == NULL);
	CHECK_EQ_INT(tl_baggage_set(b, "note", "a,b;c=d%"), 0);
	CHECK_EQ_INT(tl_baggage_set(b, "bad key", "x"), TL_SDK_EINVAL);
	CHECK_EQ_INT(tl_baggage_inject(b, out, sizeof out), 0);
	CHECK_EQ_STR(out, "userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false,note=a%2Cb%3Bc=d%25");
	CHECK_EQ_INT(tl_baggage_inject(b, out, 10), TL_SDK_ENOMEM);
	CHECK_EQ_INT(tl_baggage_remove(b, "serverNode"), 0);
	CHECK_EQ_INT(tl_baggage_count(b), 3);
	/* Invalid UTF-8 after decoding becomes U+FFFD. */
	CHECK_EQ_INT(tl_baggage_extract(b, "x=%FF"), 1);
	CHECK_EQ_STR(tl_baggage_get(b, "x"), "\xef\xbf\xbd");
	tl_baggage_destroy(b);
	tl_baggage_destroy(NULL);
}

/* ---- samplers, ids ----------------------------------------------------------- */

TEST(sampler_decisions)
{
	uint8_t lo[16] = {0}, hi[16], mid[16] = {0};
	struct tl_span_context ps = {.trace_flags = 1}, pn = {.trace_flags = 0};
	int s;
	double r;
	memset(hi, 0xff, 16);
	lo[15] = 1;
	mid[8] = 0x80; /* exactly 2^63 */
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_ALWAYS_ON, 1, lo, &pn), 1);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_ALWAYS_OFF, 1, lo, &ps), 0);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_RATIO, 0.5, lo, NULL), 1);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_RATIO, 0.5, hi, NULL), 0);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_RATIO, 0.5, mid, NULL), 0); /* bound is exclusive */
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_RATIO, 0.50001, mid, NULL), 1);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_RATIO, 0.0, lo, NULL), 0);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_RATIO, 1.0, hi, NULL), 1);
	/* Ratio ignores a parent; parent-based follows it. */
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_RATIO, 0.5, lo, &pn), 1);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_PB_ALWAYS_ON, 1, lo, NULL), 1);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_PB_ALWAYS_ON, 1, lo, &pn), 0);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_PB_ALWAYS_OFF, 1, lo, NULL), 0);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_PB_ALWAYS_OFF, 1, lo, &ps), 1);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_PB_RATIO, 0.5, hi, NULL), 0);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_PB_RATIO, 0.5, hi, &ps), 1);
	CHECK_EQ_INT(sdk__sample(SDK_SAMPLER_PB_RATIO, 0.5, lo, &pn), 0);
	/* Ratio over many random ids: close to the ratio, and deterministic. */
	int hits = 0;
	for (int i = 0; i < 20000; i++) {
		uint8_t id[16];
		sdk__new_trace_id(id);
		int a = sdk__sample(SDK_SAMPLER_RATIO, 0.25, id, NULL);
		CHECK_EQ_INT(a, sdk__sample(SDK_SAMPLER_RATIO, 0.25, id, NULL));
		hits += a;
	}
	CHECK(hits > 4500 && hits < 5500);
	/* Parsing. */
	CHECK_EQ_INT(sdk__parse_sampler(NULL, NULL, &s, &r), 0);
	CHECK_EQ_INT(s, SDK_SAMPLER_PB_ALWAYS_ON);
	CHECK_EQ_INT(sdk__parse_sampler("parentbased_traceidratio", "0.1", &s, &r), 0);
	CHECK_EQ_INT(s, SDK_SAMPLER_PB_RATIO);
	CHECK(r == 0.1);
	CHECK_EQ_INT(sdk__parse_sampler("traceidratio", "1.5", &s, &r), TL_SDK_EINVAL);
	CHECK_EQ_INT(sdk__parse_sampler("traceidratio", "abc", &s, &r), TL_SDK_EINVAL);
	CHECK_EQ_INT(sdk__parse_sampler("always_off", NULL, &s, &r), 0);
	CHECK_EQ_INT(s, SDK_SAMPLER_ALWAYS_OFF);
	CHECK_EQ_INT(sdk__parse_sampler("jaeger_remote", NULL, &s, &r), TL_SDK_EINVAL);
}

TEST(run_trace_id)
{
	uint8_t a[16], b[16], c[16], d[16], dig[32];
	char hex[65];
	/* SHA-256("abc"), FIPS 180-2 appendix B.1, and a two-block message. */
	sdk__sha256("abc", 3, dig);
	tl_hex_encode(dig, 32, hex);
	CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sdk__sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, dig);
	tl_hex_encode(dig, 32, hex);
	CHECK_EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	CHECK_EQ_INT(tl_trace_id_for_run("acme", "run-42", a), 0);
	CHECK_EQ_INT(tl_trace_id_for_run("acme", "run-42", b), 0);
	CHECK_EQ_INT(tl_trace_id_for_run("acme", "run-43", c), 0);
	CHECK_EQ_INT(tl_trace_id_for_run(NULL, "run-42", d), 0);
	CHECK(memcmp(a, b, 16) == 0);
	CHECK(memcmp(a, c, 16) != 0);
	CHECK(memcmp(a, d, 16) != 0);
	/* The documented derivation, computed here independently. */
	static const char msg[] = "tracelamp.run.v1\0acme\0run-42";
	sdk__sha256(msg, sizeof msg - 1, dig);
	CHECK(memcmp(a, dig, 16) == 0);
	CHECK_EQ_INT(tl_trace_id_for_run("default", "run-42", c), 0);
	CHECK(memcmp(c, d, 16) == 0);
	CHECK_EQ_INT(tl_trace_id_for_run("acme", "", a), TL_SDK_EINVAL);
	CHECK_EQ_INT(tl_trace_id_for_run("acme", NULL, a), TL_SDK_EINVAL);
}

/* ---- environment --------------------------------------------------------- */

TEST(env_parsing)
{
	struct sdk_config c;
	struct fake_env off = {{{NULL, NULL}}};
	CHECK_EQ_INT(sdk__config_load(&c, fake_get, &off), 0);
	CHECK_EQ_INT(c.enabled, 0);

	struct fake_env e1 = {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/base/"},
			       {"OTEL_SERVICE_NAME", "svc"},
			       {"OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored, deployment.environment = prod%20eu ,team=a%2Cb,=x,novalue"},
			       {"OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20tok,x-tenant=acme"},
			       {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
			       {"OTEL_TRACES_SAMPLER", "traceidratio"},
			       {"OTEL_TRACES_SAMPLER_ARG", "0.25"},
			       {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
			       {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1000"},
			       {NULL, NULL}}};
	CHECK_EQ_INT(sdk__config_load(&c, fake_get, &e1), 0);
	CHECK_EQ_INT(c.enabled, 1);
	CHECK_EQ_STR(c.endpoint, "http://collector:4318/base/v1/traces");
	CHECK_EQ_STR(c.service_name, "svc");
	CHECK_EQ_INT(c.n_resource, 3);
	if (c.n_resource == 3) {
		CHECK_EQ_STR(c.resource[1].key, "deployment.environment");
		CHECK_EQ_STR(c.resource[1].value, "prod eu");
		CHECK_EQ_STR(c.resource[2].value, "a,b");
	}
	CHECK_EQ_INT(c.n_headers, 2);
	if (c.n_headers == 2) {
		CHECK_EQ_STR(c.headers[0].key, "Authorization");
		CHECK_EQ_STR(c.headers[0].value, "Bearer tok");
	}
	CHECK_EQ_INT(c.timeout_ms, 2500);
	CHECK_EQ_INT(c.sampler, SDK_SAMPLER_RATIO);
	CHECK(c.ratio == 0.25);
	CHECK_EQ_INT(c.batch_size, 100); /* clamped to the queue */
	CHECK_EQ_INT(c.capture_content, 0);
	CHECK_EQ_INT(c.gzip, 1);
	sdk__config_cleanup(&c);

	/* The traces endpoint is used as is and wins; service.name from resource. */
	struct fake_env e2 = {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"},
			       {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://b:2/custom"},
			       {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-res"},
			       {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true"},
			       {"OTEL_EXPORTER_OTLP_COMPRESSION", "none"},
			       {NULL, NULL}}};
	CHECK_EQ_INT(sdk__config_load(&c, fake_get, &e2), 0);
	CHECK_EQ_STR(c.endpoint, "https://b:2/custom");
	CHECK_EQ_STR(c.service_name, "from-res");
	CHECK_EQ_INT(c.capture_content, 1);
	CHECK_EQ_INT(c.gzip, 0);
	sdk__config_cleanup(&c);

	struct fake_env e3 = {{{"TRACELAMP_OTEL_ENABLED", "1"}, {NULL, NULL}}};
	CHECK_EQ_INT(sdk__config_load(&c, fake_get, &e3), 0);
	CHECK_EQ_STR(c.endpoint, "http://127.0.0.1:4318/v1/traces");
	CHECK_EQ_STR(c.service_name, "unknown_service:c");
	sdk__config_cleanup(&c);

	struct fake_env e4 = {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"}, {"OTEL_SDK_DISABLED", "true"}, {NULL, NULL}}};
	CHECK_EQ_INT(sdk__config_load(&c, fake_get, &e4), 0);
	CHECK_EQ_INT(c.enabled, 0);

	static const char *bad[][2] = {{"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"},
				       {"OTEL_TRACES_SAMPLER", "nope"},
				       {"OTEL_EXPORTER_OTLP_COMPRESSION", "br"},
				       {"OTEL_RESOURCE_ATTRIBUTES", "a=%G1"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct fake_env eb = {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"}, {bad[i][0], bad[i][1]}, {NULL, NULL}}};
		CHECK_EQ_INT(sdk__config_load(&c, fake_get, &eb), TL_SDK_EINVAL);
		CHECK_EQ_INT(c.enabled, 0);
	}
	struct fake_env e5 = {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://a:1"}, {NULL, NULL}}};
	CHECK_EQ_INT(sdk__config_load(&c, fake_get, &e5), TL_SDK_EINVAL);
}

TEST(percent_decode)
{
	char out[32];
	CHECK_EQ_INT(sdk__percent_decode("a%20b%2c", 8, out), 4);
	CHECK_EQ_STR(out, "a b,");
	CHECK_EQ_INT(sdk__percent_decode("a%2", 3, out), -1);
	CHECK_EQ_INT(sdk__percent_decode("%", 1, out), -1);
	CHECK_EQ_INT(sdk__percent_decode("%zz", 3, out), -1);
}

/* ---- the disabled path ------------------------------------------------------ */

static void clear_env(void)
{
	static const char *vars[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "TRACELAMP_OTEL_ENABLED"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

TEST(disabled_is_noop_and_allocates_nothing)
{
	clear_env();
	CHECK_EQ_INT(tl_init(), 0);
	CHECK_EQ_INT(tl_enabled(), 0);
	long before = atomic_load(&allocs);
	int64_t ints[2] = {1, 2};
	struct tl_attribute ev = {.key = "k", .type = TL_ATTR_INT, .v.i = 1};
	for (int i = 0; i < 10000; i++) {
		struct tl_span_handle *s = tl_span_start("op", TL_SPAN_KIND_INTERNAL, NULL);
		tl_span_set_str(s, "k", "v");
		tl_span_set_int(s, "n", i);
		tl_span_set_int_array(s, "a", ints, 2);
		tl_span_add_event(s, "e", &ev, 1);
		tl_span_set_status(s, TL_SPAN_STATUS_OK, NULL);
		struct tl_span_handle *c = tl_genai_chat_start(s, "openai", "gpt-4o");
		tl_genai_set_usage(c, 10, 5, 1, 0, 2);
		tl_span_end(c);
		tl_span_end(s);
	}
	CHECK_EQ_INT(atomic_load(&allocs) - before, 0);
	struct tl_span_handle *s = tl_span_start("op", TL_SPAN_KIND_INTERNAL, NULL);
	CHECK(s != NULL);
	CHECK_EQ_INT(tl_span_is_recording(s), 0);
	CHECK_EQ_INT(tl_span_set_str(s, "k", "v"), TL_SDK_EDISABLED);
	CHECK_EQ_INT(tl_flush(10), TL_SDK_EDISABLED);
	CHECK_EQ_INT(tl_shutdown(10), TL_SDK_EDISABLED);
	tl_span_end(s);
}

/* ---- a tiny OTLP/HTTP server -------------------------------------------------- */

#define MAX_REQS 64

struct req {
	char *body;
	size_t len;
	int gzip;
	char ctype[64];
	char path[128];
	char tenant[64];
};

struct srv {
	int fd, port;
	pthread_t th;
	atomic_int stop;
	int hang;                   /* read requests but never answer */
	int statuses[8];            /* per request, the last repeats */
	const char *retry_after[8]; /* per request, NULL = none */
	int n_statuses;
	pthread_mutex_t mu;
	struct req reqs[MAX_REQS];
	int n_reqs;
	int held[MAX_REQS];
	int n_held;
};

static int read_request(int c, struct req *r)
{
	char buf[1 << 16], *hdr_end = NULL;
	size_t len = 0, clen = 0;
	while (!hdr_end) {
		ssize_t k = recv(c, buf + len, sizeof buf - 1 - len, 0);
		if (k <= 0)
			return -1;
		len += (size_t)k;
		buf[len] = '\0';
		hdr_end = strstr(buf, "\r\n\r\n");
	}
	*hdr_end = '\0';
	sscanf(buf, "POST %127s", r->path);
	for (char *line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		char *l = line + 2;
		if (strncasecmp(l, "content-length:", 15) == 0)
			clen = strtoul(l + 15, NULL, 10);
		else if (strncasecmp(l, "content-encoding:", 17) == 0)
			r->gzip = strstr(l, "gzip") != NULL;
		else if (strncasecmp(l, "content-type:", 13) == 0)
			sscanf(l + 13, " %63[^\r]", r->ctype);
		else if (strncasecmp(l, "x-tenant:", 9) == 0)
			sscanf(l + 9, " %63[^\r]", r->tenant);
	}
	size_t have = len - (size_t)(hdr_end + 4 - buf);
	r->body = malloc(clen + 1);
	r->len = clen;
	memcpy(r->body, hdr_end + 4, have < clen ? have : clen);
	while (have < clen) {
		ssize_t k = recv(c, r->body + have, clen - have, 0);
		if (k <= 0)
			return -1;
		have += (size_t)k;
	}
	return 0;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		struct req r;
		memset(&r, 0, sizeof r);
		if (read_request(c, &r)) {
			free(r.body);
			close(c);
			continue;
		}
		pthread_mutex_lock(&s->mu);
		int i = s->n_reqs;
		if (i < MAX_REQS)
			s->reqs[s->n_reqs++] = r;
		else
			free(r.body);
		if (s->hang) {
			if (s->n_held < MAX_REQS)
				s->held[s->n_held++] = c;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		int k = i < s->n_statuses ? i : s->n_statuses - 1;
		int status = s->n_statuses ? s->statuses[k] : 200;
		const char *ra = s->n_statuses ? s->retry_after[k] : NULL;
		pthread_mutex_unlock(&s->mu);
		char resp[256];
		int n = snprintf(resp, sizeof resp,
				 "HTTP/1.1 %d X\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n%s%s%sConnection: close\r\n\r\n",
				 status, ra ? "Retry-After: " : "", ra ? ra : "", ra ? "\r\n" : "");
		if (send(c, resp, (size_t)n, MSG_NOSIGNAL) < 0)
			perror("send");
		close(c);
	}
	return NULL;
}

static void srv_start(struct srv *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	bind(s->fd, (struct sockaddr *)&a, sizeof a);
	listen(s->fd, 64);
	getsockname(s->fd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	pthread_mutex_init(&s->mu, NULL);
	pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_stop(struct srv *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	close(s->fd);
	for (int i = 0; i < s->n_held; i++)
		close(s->held[i]);
	for (int i = 0; i < s->n_reqs; i++)
		free(s->reqs[i].body);
}

static int srv_count(struct srv *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->n_reqs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Decodes request i (gunzipping when needed) into b; the buffer is kept in
 * *raw for the caller to free (the batch borrows from it). */
static int srv_decode(struct srv *s, int i, struct tl_arena *a, struct tl_batch *b, char **raw)
{
	struct req *r = &s->reqs[i];
	struct otlp_error err;
	size_t n = r->len;
	char *data = malloc(r->len + 1);
	memcpy(data, r->body, r->len);
	if (r->gzip) {
		size_t cap = 1 << 24;
		char *out = malloc(cap);
		z_stream z;
		memset(&z, 0, sizeof z);
		inflateInit2(&z, 15 + 32);
		z.next_in = (Bytef *)data;
		z.avail_in = (uInt)r->len;
		z.next_out = (Bytef *)out;
		z.avail_out = (uInt)cap;
		int zr = inflate(&z, Z_FINISH);
		n = cap - z.avail_out;
		inflateEnd(&z);
		free(data);
		data = out;
		if (zr != Z_STREAM_END) {
			*raw = data;
			return -1;
		}
	}
	*raw = data;
	int rc = otlp_decode_traces_pb(data, n, a, NULL, b, &err);
	if (rc)
		fprintf(stderr, "  decode: %s\n", err.msg);
	return rc;
}

/* A config pointing at the test server, with fast retries and a long delay so
 * only size and flush trigger exports. */
static void test_config(struct sdk_config *c, struct srv *s, const char *extra_k, const char *extra_v)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", s->port);
	struct fake_env e = {{{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url},
			      {"OTEL_SERVICE_NAME", "test-svc"},
			      {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"},
			      {"OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme"},
			      {"OTEL_BSP_SCHEDULE_DELAY", "60000"},
			      {extra_k, extra_v},
			      {NULL, NULL}}};
	if (sdk__config_load(c, fake_get, &e))
		fprintf(stderr, "  config failed\n");
	c->retry_initial_ms = 50;
	c->retry_max_ms = 200;
}

static const struct tl_kv *find_attr(const struct tl_attrs *a, const char *k)
{
	for (uint32_t i = 0; i < a->n; i++)
		if (tl_str_eq_c(a->items[i].key, k))
			return &a->items[i];
	return NULL;
}

static const struct tl_span *find_span(const struct tl_batch *b, const char *name)
{
	for (size_t i = 0; i < b->n_spans; i++)
		if (tl_str_eq_c(b->spans[i].name, name))
			return &b->spans[i];
	return NULL;
}

TEST(export_full_fidelity)
{
	struct srv s = {0};
	struct sdk_config c;
	srv_start(&s);
	test_config(&c, &s, NULL, NULL);
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	CHECK_EQ_INT(tl_enabled(), 1);

	struct tl_span_handle *root = tl_span_start("root", TL_SPAN_KIND_SERVER, NULL);
	CHECK_EQ_INT(tl_span_is_recording(root), 1);
	CHECK_EQ_INT(tl_span_make_current(root), 0);
	CHECK(tl_current_span() == root);
	struct tl_span_handle *child = tl_span_start("child", TL_SPAN_KIND_INTERNAL, NULL); /* parent = current */
	const char *strs[] = {"a", "b"};
	int64_t ints[] = {1, -2};
	double dbls[] = {0.5};
	int bools[] = {1, 0};
	CHECK_EQ_INT(tl_span_set_str(child, "s", "v"), 0);
	CHECK_EQ_INT(tl_span_set_str(child, "s", "v2"), 0); /* replaces */
	CHECK_EQ_INT(tl_span_set_int(child, "i", -42), 0);
	CHECK_EQ_INT(tl_span_set_double(child, "d", 1.25), 0);
	CHECK_EQ_INT(tl_span_set_bool(child, "b", 1), 0);
	CHECK_EQ_INT(tl_span_set_bytes(child, "by", "\x00\x01\x02", 3), 0);
	CHECK_EQ_INT(tl_span_set_str_array(child, "sa", strs, 2), 0);
	CHECK_EQ_INT(tl_span_set_int_array(child, "ia", ints, 2), 0);
	CHECK_EQ_INT(tl_span_set_double_array(child, "da", dbls, 1), 0);
	CHECK_EQ_INT(tl_span_set_bool_array(child, "ba", bools, 2), 0);
	CHECK_EQ_INT(tl_span_set_str(child, "bad.utf8", "caf\xe9"), 0);
	struct tl_attribute inner[] = {{.key = "x", .type = TL_ATTR_INT, .v.i = 7}, {.key = "y", .type = TL_ATTR_STR, .v.s = "z"}};
	struct tl_attribute kvl = {.key = "kv", .type = TL_ATTR_KVLIST, .v.list = {inner, 2}};
	CHECK_EQ_INT(tl_span_set_attr(child, &kvl), 0);
	CHECK_EQ_INT(tl_span_set_str(child, NULL, "x"), TL_SDK_EINVAL);
	struct tl_attribute eva = {.key = "exception.type", .type = TL_ATTR_STR, .v.s = "E"};
	CHECK_EQ_INT(tl_span_add_event(child, "exception", &eva, 1), 0);
	struct tl_span_context remote;
	CHECK_EQ_INT(tl_traceparent_extract("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=1", &remote), 0);
	CHECK_EQ_INT(tl_span_add_link(child, &remote, &eva, 1), 0);
	CHECK_EQ_INT(tl_span_record_error(child, "timeout", "took too long"), 0);
	struct tl_span_context cc, rc_;
	tl_span_get_context(child, &cc);
	tl_span_get_context(root, &rc_);
	char tp[64];
	CHECK_EQ_INT(tl_traceparent_inject(child, tp, sizeof tp, NULL, 0), 0);
	CHECK_EQ_INT(strlen(tp), 55);
	tl_span_end(child);
	/* A remote parent: a server span continuing a trace. */
	struct tl_span_handle *srvspan = tl_span_start_ctx("from-remote", TL_SPAN_KIND_SERVER, &remote);
	tl_span_end(srvspan);
	tl_span_end(root); /* also pops it */
	CHECK(tl_current_span() == NULL);
	CHECK_EQ_INT(tl_flush(5000), 0);

	CHECK_EQ_INT(srv_count(&s), 1);
	if (srv_count(&s) >= 1) {
		struct tl_arena *a = tl_arena_create(4096, 0);
		struct tl_batch b;
		char *raw = NULL;
		CHECK_EQ_INT(s.reqs[0].gzip, 1);
		CHECK_EQ_STR(s.reqs[0].ctype, "application/x-protobuf");
		CHECK_EQ_STR(s.reqs[0].path, "/v1/traces");
		CHECK_EQ_STR(s.reqs[0].tenant, "acme");
		CHECK_EQ_INT(srv_decode(&s, 0, a, &b, &raw), 0);
		CHECK_EQ_INT(b.n_spans, 3);
		const struct tl_span *ch = find_span(&b, "child"), *ro = find_span(&b, "root"), *fr = find_span(&b, "from-remote");
		CHECK(ch && ro && fr);
		if (ch && ro && fr) {
			CHECK_STR(ch->resource->service, "test-svc");
			CHECK(find_attr(&ch->resource->attrs, "deployment.environment") != NULL);
			CHECK(find_attr(&ch->resource->attrs, "telemetry.sdk.language") != NULL);
			CHECK_STR(ch->scope->name, "tracelamp");
			CHECK(memcmp(ch->trace_id, ro->trace_id, 16) == 0);
			CHECK(memcmp(ch->trace_id, cc.trace_id, 16) == 0);
			CHECK_EQ_INT(ch->has_parent, 1);
			CHECK(memcmp(ch->parent_span_id, ro->span_id, 8) == 0);
			CHECK_EQ_INT(ro->has_parent, 0);
			CHECK_EQ_INT(ro->kind, TL_SPAN_KIND_SERVER);
			CHECK(ch->end_unix_nano >= ch->start_unix_nano && ch->start_unix_nano > 0);
			const struct tl_kv *kv;
			CHECK((kv = find_attr(&ch->attrs, "s")) && kv->v.kind == TL_V_STR && tl_str_eq_c(kv->v.u.s, "v2"));
			CHECK((kv = find_attr(&ch->attrs, "i")) && kv->v.kind == TL_V_INT && kv->v.u.i == -42);
			CHECK((kv = find_attr(&ch->attrs, "d")) && kv->v.kind == TL_V_DOUBLE && kv->v.u.d == 1.25);
			CHECK((kv = find_attr(&ch->attrs, "b")) && kv->v.kind == TL_V_BOOL && kv->v.u.b == 1);
			CHECK((kv = find_attr(&ch->attrs, "by")) && kv->v.kind == TL_V_BYTES && kv->v.u.s.n == 3);
			CHECK((kv = find_attr(&ch->attrs, "sa")) && kv->v.kind == TL_V_ARRAY && kv->v.u.arr.n == 2 &&
			      tl_str_eq_c(kv->v.u.arr.items[1].u.s, "b"));
			CHECK((kv = find_attr(&ch->attrs, "ia")) && kv->v.u.arr.n == 2 && kv->v.u.arr.items[1].u.i == -2);
			CHECK((kv = find_attr(&ch->attrs, "da")) && kv->v.u.arr.n == 1 && kv->v.u.arr.items[0].kind == TL_V_DOUBLE);
			CHECK((kv = find_attr(&ch->attrs, "ba")) && kv->v.u.arr.n == 2 && kv->v.u.arr.items[0].kind == TL_V_BOOL);
			CHECK((kv = find_attr(&ch->attrs, "kv")) && kv->v.kind == TL_V_KVLIST && kv->v.u.kv.n == 2 &&
			      tl_str_eq_c(kv->v.u.kv.items[1].key, "y"));
			CHECK((kv = find_attr(&ch->attrs, "bad.utf8")) && tl_str_eq_c(kv->v.u.s, "caf\xef\xbf\xbd"));
			CHECK((kv = find_attr(&ch->attrs, "error.type")) && tl_str_eq_c(kv->v.u.s, "timeout"));
			CHECK_EQ_INT(ch->status_code, TL_SPAN_STATUS_ERROR);
			CHECK_STR(ch->status_message, "took too long");
			CHECK_EQ_INT(ch->n_events, 1);
			CHECK(ch->n_events == 1 && tl_str_eq_c(ch->events[0].name, "exception") && ch->events[0].attrs.n == 1);
			CHECK_EQ_INT(ch->n_links, 1);
			CHECK(ch->n_links == 1 && memcmp(ch->links[0].trace_id, remote.trace_id, 16) == 0 &&
			      tl_str_eq_c(ch->links[0].trace_state, "rojo=1"));
			CHECK_EQ_INT(ch->flags & 0xff, 1);
			/* The remote-parent span: same trace, parent = remote span, is_remote bit. */
			CHECK(memcmp(fr->trace_id, remote.trace_id, 16) == 0);
			CHECK(memcmp(fr->parent_span_id, remote.span_id, 8) == 0);
			CHECK_EQ_INT(fr->flags & 0x300, 0x300);
			CHECK_STR(fr->trace_state, "rojo=1");
		}
		free(raw);
		tl_arena_destroy(a);
	}
	struct tl_stats st;
	tl_get_stats(&st);
	CHECK_EQ_INT(st.spans_exported, 3);
	CHECK_EQ_INT(st.batches_sent, 1);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	CHECK_EQ_INT(tl_enabled(), 0);
	srv_stop(&s);
}

TEST(batching_by_size)
{
	struct srv s = {0};
	struct sdk_config c;
	srv_start(&s);
	test_config(&c, &s, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "3");
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	for (int i = 0; i < 7; i++)
		tl_span_end(tl_span_start("s", TL_SPAN_KIND_INTERNAL, NULL));
	CHECK_EQ_INT(tl_flush(5000), 0);
	int total = 0, n = srv_count(&s);
	CHECK(n >= 3);
	for (int i = 0; i < n; i++) {
		struct tl_arena *a = tl_arena_create(4096, 0);
		struct tl_batch b;
		char *raw = NULL;
		CHECK_EQ_INT(srv_decode(&s, i, a, &b, &raw), 0);
		CHECK(b.n_spans >= 1 && b.n_spans <= 3);
		total += (int)b.n_spans;
		free(raw);
		tl_arena_destroy(a);
	}
	CHECK_EQ_INT(total, 7);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);
}

TEST(retry_after_honoured_on_503_then_429)
{
	struct srv s = {.statuses = {503, 429, 200}, .retry_after = {"1", NULL, NULL}, .n_statuses = 3};
	struct sdk_config c;
	srv_start(&s);
	test_config(&c, &s, "OTEL_EXPORTER_OTLP_COMPRESSION", "none");
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	tl_span_end(tl_span_start("retried", TL_SPAN_KIND_INTERNAL, NULL));
	double t0 = now_s();
	CHECK_EQ_INT(tl_flush(10000), 0);
	double dt = now_s() - t0;
	/* Retry-After: 1 second, then a jittered 25-50 ms backoff. */
	CHECK(dt >= 0.95 && dt < 3.0);
	CHECK_EQ_INT(srv_count(&s), 3);
	struct tl_stats st;
	tl_get_stats(&st);
	CHECK_EQ_INT(st.export_retries, 2);
	CHECK_EQ_INT(st.spans_exported, 1);
	CHECK_EQ_INT(st.export_failures, 0);
	/* The same body each time, uncompressed, decodable. */
	if (srv_count(&s) == 3) {
		CHECK_EQ_INT(s.reqs[0].gzip, 0);
		CHECK(s.reqs[0].len == s.reqs[2].len && memcmp(s.reqs[0].body, s.reqs[2].body, s.reqs[0].len) == 0);
		struct tl_arena *a = tl_arena_create(4096, 0);
		struct tl_batch b;
		char *raw = NULL;
		CHECK_EQ_INT(srv_decode(&s, 2, a, &b, &raw), 0);
		CHECK(b.n_spans == 1 && tl_str_eq_c(b.spans[0].name, "retried"));
		free(raw);
		tl_arena_destroy(a);
	}
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);
}

TEST(no_retry_on_400_and_give_up_after_attempts)
{
	struct srv s = {.statuses = {400}, .n_statuses = 1};
	struct sdk_config c;
	srv_start(&s);
	test_config(&c, &s, NULL, NULL);
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	tl_span_end(tl_span_start("rejected", TL_SPAN_KIND_INTERNAL, NULL));
	CHECK_EQ_INT(tl_flush(5000), TL_SDK_EEXPORT);
	CHECK_EQ_INT(srv_count(&s), 1);
	struct tl_stats st;
	tl_get_stats(&st);
	CHECK_EQ_INT(st.export_failures, 1);
	CHECK_EQ_INT(st.spans_dropped, 1);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);

	/* 502 forever: retried up to the attempt limit (5 requests), then dropped. */
	struct srv s2 = {.statuses = {502}, .n_statuses = 1};
	srv_start(&s2);
	test_config(&c, &s2, NULL, NULL);
	c.retry_initial_ms = 10;
	c.retry_max_ms = 20;
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	tl_span_end(tl_span_start("x", TL_SPAN_KIND_INTERNAL, NULL));
	CHECK_EQ_INT(tl_flush(5000), TL_SDK_EEXPORT);
	CHECK_EQ_INT(srv_count(&s2), 5);
	tl_get_stats(&st);
	CHECK_EQ_INT(st.export_retries, 4);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s2);
}

TEST(hanging_server_queue_drops_and_deadlines)
{
	struct srv s = {.hang = 1};
	struct sdk_config c;
	srv_start(&s);
	test_config(&c, &s, "OTEL_BSP_MAX_QUEUE_SIZE", "4");
	c.batch_size = 2;
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	/* The first batch goes out and hangs; then the queue (4) fills. */
	tl_span_end(tl_span_start("a", TL_SPAN_KIND_INTERNAL, NULL));
	tl_span_end(tl_span_start("b", TL_SPAN_KIND_INTERNAL, NULL));
	for (int i = 0; i < 200 && srv_count(&s) < 1; i++)
		usleep(5000);
	CHECK_EQ_INT(srv_count(&s), 1);
	double t0 = now_s();
	for (int i = 0; i < 10; i++)
		tl_span_end(tl_span_start("q", TL_SPAN_KIND_INTERNAL, NULL));
	CHECK(now_s() - t0 < 0.5); /* ending spans never blocks */
	struct tl_stats st;
	tl_get_stats(&st);
	CHECK_EQ_INT(st.spans_ended, 12);
	CHECK_EQ_INT(st.spans_dropped, 6);
	t0 = now_s();
	CHECK_EQ_INT(tl_flush(200), TL_SDK_ETIMEDOUT);
	double dt = now_s() - t0;
	CHECK(dt >= 0.19 && dt < 1.0);
	t0 = now_s();
	CHECK_EQ_INT(tl_shutdown(300), TL_SDK_ETIMEDOUT);
	dt = now_s() - t0;
	CHECK(dt >= 0.29 && dt < 1.5);
	tl_get_stats(&st);
	CHECK_EQ_INT(st.spans_dropped, 12); /* 6 by the queue, 2 in flight, 4 queued */
	CHECK_EQ_INT(st.spans_exported, 0);
	srv_stop(&s);
}

TEST(run_identity_and_genai)
{
	struct srv s = {0};
	struct sdk_config c;
	uint8_t want[16];
	srv_start(&s);
	test_config(&c, &s, NULL, NULL);
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	CHECK_EQ_INT(tl_run_set("acme", "run-7", 0, "worker-1"), 0);
	tl_trace_id_for_run("acme", "run-7", want);
	struct tl_span_handle *agent = tl_genai_agent_start(NULL, "planner", "agt-1", "openai");
	tl_span_make_current(agent);
	tl_run_set_step(3);
	struct tl_span_handle *chat = tl_genai_chat_start(NULL, "openai", "gpt-4o");
	const char *fr[] = {"stop"};
	CHECK_EQ_INT(tl_genai_set_response(chat, "gpt-4o-2024-08-06", "chatcmpl-1"), 0);
	CHECK_EQ_INT(tl_genai_set_usage(chat, 100, 20, 60, 10, 5), 0);
	CHECK_EQ_INT(tl_genai_set_finish_reasons(chat, fr, 1), 0);
	CHECK_EQ_INT(tl_genai_capture_enabled(), 0);
	CHECK_EQ_INT(tl_genai_set_content(chat, "gen_ai.input.messages", "[]"), 0); /* not recorded */
	CHECK_EQ_INT(tl_genai_set_content(chat, "not.content", "[]"), TL_SDK_EINVAL);
	tl_span_end(chat);
	struct tl_span_handle *tool = tl_genai_tool_start(NULL, "search", "call_1", "function");
	tl_span_end(tool);
	struct tl_span_handle *emb = tl_genai_embeddings_start(NULL, "openai", "text-embedding-3-small");
	tl_genai_set_usage(emb, 8, -1, -1, -1, -1);
	tl_span_end(emb);
	tl_span_end(agent);
	CHECK_EQ_INT(tl_flush(5000), 0);
	if (srv_count(&s) == 1) {
		struct tl_arena *a = tl_arena_create(4096, 0);
		struct tl_batch b;
		char *raw = NULL;
		CHECK_EQ_INT(srv_decode(&s, 0, a, &b, &raw), 0);
		const struct tl_span *ag = find_span(&b, "invoke_agent planner"), *ch = find_span(&b, "chat gpt-4o"),
				     *to = find_span(&b, "execute_tool search"), *em = find_span(&b, "embeddings text-embedding-3-small");
		CHECK(ag && ch && to && em);
		if (ag && ch && to && em) {
			const struct tl_kv *kv;
			CHECK(memcmp(ag->trace_id, want, 16) == 0);
			CHECK(memcmp(ch->trace_id, want, 16) == 0);
			CHECK(memcmp(ch->parent_span_id, ag->span_id, 8) == 0);
			CHECK((kv = find_attr(&ag->attrs, "tracelamp.run.step")) && kv->v.u.i == 0);
			CHECK((kv = find_attr(&ch->attrs, "tracelamp.run.step")) && kv->v.u.i == 3);
			CHECK((kv = find_attr(&ch->attrs, "tracelamp.tenant")) && tl_str_eq_c(kv->v.u.s, "acme"));
			CHECK((kv = find_attr(&ch->attrs, "tracelamp.run.id")) && tl_str_eq_c(kv->v.u.s, "run-7"));
			CHECK((kv = find_attr(&ch->attrs, "tracelamp.agent.instance")) && tl_str_eq_c(kv->v.u.s, "worker-1"));
			CHECK_EQ_INT(ch->kind, TL_SPAN_KIND_CLIENT);
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.operation.name")) && tl_str_eq_c(kv->v.u.s, "chat"));
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.provider.name")) && tl_str_eq_c(kv->v.u.s, "openai"));
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.request.model")) && tl_str_eq_c(kv->v.u.s, "gpt-4o"));
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.response.model")) && tl_str_eq_c(kv->v.u.s, "gpt-4o-2024-08-06"));
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.usage.input_tokens")) && kv->v.u.i == 100);
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.usage.output_tokens")) && kv->v.u.i == 20);
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.usage.cache_read.input_tokens")) && kv->v.u.i == 60);
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.usage.cache_creation.input_tokens")) && kv->v.u.i == 10);
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.usage.reasoning.output_tokens")) && kv->v.u.i == 5);
			CHECK((kv = find_attr(&ch->attrs, "gen_ai.response.finish_reasons")) && kv->v.kind == TL_V_ARRAY);
			CHECK(find_attr(&ch->attrs, "gen_ai.input.messages") == NULL);
			CHECK((kv = find_attr(&to->attrs, "gen_ai.tool.call.id")) && tl_str_eq_c(kv->v.u.s, "call_1"));
			CHECK_EQ_INT(to->kind, TL_SPAN_KIND_INTERNAL);
			CHECK(find_attr(&em->attrs, "gen_ai.usage.output_tokens") == NULL);
			CHECK((kv = find_attr(&ag->attrs, "gen_ai.agent.id")) && tl_str_eq_c(kv->v.u.s, "agt-1"));
		}
		free(raw);
		tl_arena_destroy(a);
	}
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);
}

TEST(content_capture_opt_in_and_sampling_off)
{
	struct srv s = {0};
	struct sdk_config c;
	srv_start(&s);
	test_config(&c, &s, "TRACELAMP_CAPTURE_CONTENT", "1");
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	CHECK_EQ_INT(tl_genai_capture_enabled(), 1);
	struct tl_span_handle *ch = tl_genai_chat_start(NULL, "anthropic", "claude-sonnet-4");
	CHECK_EQ_INT(tl_genai_set_content(ch, "gen_ai.input.messages", "[{\"role\":\"user\"}]"), 0);
	tl_span_end(ch);
	CHECK_EQ_INT(tl_flush(5000), 0);
	CHECK_EQ_INT(srv_count(&s), 1);
	if (srv_count(&s) == 1) {
		struct tl_arena *a = tl_arena_create(4096, 0);
		struct tl_batch b;
		char *raw = NULL;
		CHECK_EQ_INT(srv_decode(&s, 0, a, &b, &raw), 0);
		CHECK(b.n_spans == 1 && find_attr(&b.spans[0].attrs, "gen_ai.input.messages") != NULL);
		free(raw);
		tl_arena_destroy(a);
	}
	CHECK_EQ_INT(tl_shutdown(2000), 0);

	/* always_off: spans carry context but record and export nothing. */
	test_config(&c, &s, "OTEL_TRACES_SAMPLER", "always_off");
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	struct tl_span_handle *x = tl_span_start("x", TL_SPAN_KIND_INTERNAL, NULL);
	struct tl_span_context xc;
	CHECK_EQ_INT(tl_span_is_recording(x), 0);
	CHECK_EQ_INT(tl_span_get_context(x, &xc), 0);
	CHECK_EQ_INT(xc.trace_flags & 1, 0);
	CHECK(!tl_is_zero(xc.trace_id, 16));
	CHECK_EQ_INT(tl_span_set_str(x, "k", "v"), 0);
	char tp[64];
	CHECK_EQ_INT(tl_traceparent_inject(x, tp, sizeof tp, NULL, 0), 0);
	CHECK(strcmp(tp + 53, "00") == 0);
	tl_span_end(x);
	CHECK_EQ_INT(tl_flush(1000), 0);
	CHECK_EQ_INT(srv_count(&s), 1);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);
}

struct worker_arg {
	struct tl_span_handle *shared;
	int id;
};

static void *worker(void *p)
{
	struct worker_arg *w = p;
	char key[32];
	for (int i = 0; i < 250; i++) {
		struct tl_span_handle *sp = tl_span_start("work", TL_SPAN_KIND_INTERNAL, w->shared);
		tl_span_set_int(sp, "i", i);
		tl_span_end(sp);
		snprintf(key, sizeof key, "w%d", w->id);
		tl_span_set_int(w->shared, key, i);
	}
	return NULL;
}

TEST(threads_share_a_span)
{
	struct srv s = {0};
	struct sdk_config c;
	srv_start(&s);
	test_config(&c, &s, "OTEL_BSP_MAX_QUEUE_SIZE", "4096");
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	struct tl_span_handle *shared = tl_span_start("shared", TL_SPAN_KIND_INTERNAL, NULL);
	pthread_t th[4];
	struct worker_arg wa[4];
	for (int i = 0; i < 4; i++) {
		wa[i] = (struct worker_arg){shared, i};
		pthread_create(&th[i], NULL, worker, &wa[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	tl_span_end(shared);
	CHECK_EQ_INT(tl_flush(10000), 0);
	struct tl_stats st;
	tl_get_stats(&st);
	CHECK_EQ_INT(st.spans_exported, 1001);
	CHECK_EQ_INT(st.spans_dropped, 0);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);
}

TEST(init_from_environment)
{
	struct srv s = {0};
	char url[64];
	srv_start(&s);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
	clear_env();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url, 1);
	CHECK_EQ_INT(tl_init(), 0);
	CHECK_EQ_INT(tl_enabled(), 1);
	CHECK_EQ_INT(tl_init(), TL_SDK_ESTATE);
	tl_span_end(tl_span_start("env", TL_SPAN_KIND_INTERNAL, NULL));
	CHECK_EQ_INT(tl_shutdown(5000), 0); /* shutdown flushes */
	CHECK_EQ_INT(srv_count(&s), 1);
	if (srv_count(&s) == 1)
		CHECK_EQ_STR(s.reqs[0].path, "/v1/traces");
	clear_env();
	srv_stop(&s);
}

/* ---- run inheritance ------------------------------------------------------- */

/* Every request the server received, decoded (the batches borrow from raw). */
struct all_spans {
	struct tl_arena *a;
	struct tl_batch b[MAX_REQS];
	char *raw[MAX_REQS];
	int n;
	size_t n_spans;
};

static void all_decode(struct srv *s, struct all_spans *d)
{
	memset(d, 0, sizeof *d);
	d->a = tl_arena_create(4096, 0);
	for (int i = 0; i < srv_count(s); i++) {
		if (srv_decode(s, i, d->a, &d->b[d->n], &d->raw[d->n]) == 0)
			d->n_spans += d->b[d->n].n_spans;
		d->n++;
	}
}

static void all_free(struct all_spans *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->raw[i]);
	tl_arena_destroy(d->a);
}

static const struct tl_span *all_find(const struct all_spans *d, const char *name)
{
	for (int i = 0; i < d->n; i++) {
		const struct tl_span *sp = find_span(&d->b[i], name);
		if (sp)
			return sp;
	}
	return NULL;
}

/* 1 if sp carries exactly this run (step < 0 / agent NULL: attribute absent). */
static int has_run(const struct tl_span *sp, const char *tenant, const char *run_id, int64_t step, const char *agent)
{
	const struct tl_kv *t = find_attr(&sp->attrs, "tracelamp.tenant"), *r = find_attr(&sp->attrs, "tracelamp.run.id"),
			   *st = find_attr(&sp->attrs, "tracelamp.run.step"),
			   *ag = find_attr(&sp->attrs, "tracelamp.agent.instance");
	if (!run_id)
		return !t && !r && !st && !ag;
	if (!t || !tl_str_eq_c(t->v.u.s, tenant) || !r || !tl_str_eq_c(r->v.u.s, run_id))
		return 0;
	if (step < 0 ? st != NULL : !st || st->v.kind != TL_V_INT || st->v.u.i != step)
		return 0;
	return agent ? ag && tl_str_eq_c(ag->v.u.s, agent) : ag == NULL;
}

TEST(child_inherits_parent_run)
{
	struct srv s = {0};
	struct sdk_config c;
	uint8_t tid_a[16], tid_b[16];
	struct tl_span_context remote;
	srv_start(&s);
	test_config(&c, &s, NULL, NULL);
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	tl_trace_id_for_run("acme", "run-a", tid_a);
	tl_trace_id_for_run("beta", "run-b", tid_b);
	CHECK_EQ_INT(tl_traceparent_extract("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL, &remote), 0);

	CHECK_EQ_INT(tl_run_set("acme", "run-a", 1, "agent-a"), 0);
	struct tl_span_handle *root = tl_span_start("root-a", TL_SPAN_KIND_INTERNAL, NULL);
	CHECK_EQ_INT(tl_run_set(NULL, NULL, -1, NULL), 0); /* cleared */
	tl_span_end(tl_span_start("child-after-clear", TL_SPAN_KIND_INTERNAL, root));
	CHECK_EQ_INT(tl_span_make_current(root), 0);
	tl_span_end(tl_span_start("current-child", TL_SPAN_KIND_INTERNAL, NULL)); /* parent = current */
	CHECK_EQ_INT(tl_span_pop_current(root), 0);
	tl_span_end(tl_span_start("root-none", TL_SPAN_KIND_INTERNAL, NULL));
	tl_span_end(tl_span_start_ctx("remote-none", TL_SPAN_KIND_SERVER, &remote));

	CHECK_EQ_INT(tl_run_set("beta", "run-b", -1, NULL), 0); /* another run */
	struct tl_span_handle *mid = tl_span_start("child-after-change", TL_SPAN_KIND_INTERNAL, root);
	tl_span_end(tl_span_start("grandchild", TL_SPAN_KIND_INTERNAL, mid));
	tl_span_end(mid);
	tl_span_end(tl_span_start("root-b", TL_SPAN_KIND_INTERNAL, NULL));
	/* A remote parent carries no run: the process-wide one applies, the
	 * trace stays the remote one; its local children keep run-b. */
	struct tl_span_handle *srvspan = tl_span_start_ctx("remote-b", TL_SPAN_KIND_SERVER, &remote);
	CHECK_EQ_INT(tl_run_set(NULL, NULL, -1, NULL), 0);
	tl_span_end(tl_span_start("remote-b-child", TL_SPAN_KIND_INTERNAL, srvspan));
	tl_span_end(srvspan);
	tl_span_end(root);
	CHECK_EQ_INT(tl_flush(5000), 0);

	struct all_spans d;
	all_decode(&s, &d);
	CHECK_EQ_INT(d.n_spans, 10);
	const struct tl_span *ra = all_find(&d, "root-a"), *cac = all_find(&d, "child-after-clear"),
			     *cc = all_find(&d, "current-child"), *rn = all_find(&d, "root-none"),
			     *ren = all_find(&d, "remote-none"), *cch = all_find(&d, "child-after-change"),
			     *gc = all_find(&d, "grandchild"), *rb = all_find(&d, "root-b"), *reb = all_find(&d, "remote-b"),
			     *rebc = all_find(&d, "remote-b-child");
	CHECK(ra && cac && cc && rn && ren && cch && gc && rb && reb && rebc);
	if (ra && cac && cc && rn && ren && cch && gc && rb && reb && rebc) {
		CHECK(memcmp(ra->trace_id, tid_a, 16) == 0);
		CHECK(has_run(ra, "acme", "run-a", 1, "agent-a"));
		CHECK(has_run(cac, "acme", "run-a", 1, "agent-a"));
		CHECK(memcmp(cac->trace_id, tid_a, 16) == 0);
		CHECK(has_run(cc, "acme", "run-a", 1, "agent-a"));
		CHECK(has_run(cch, "acme", "run-a", 1, "agent-a"));
		CHECK(has_run(gc, "acme", "run-a", 1, "agent-a"));
		CHECK(memcmp(gc->trace_id, tid_a, 16) == 0);
		CHECK(memcmp(gc->parent_span_id, cch->span_id, 8) == 0);
		CHECK(has_run(rn, NULL, NULL, -1, NULL));
		CHECK(memcmp(rn->trace_id, tid_a, 16) != 0);
		CHECK(has_run(ren, NULL, NULL, -1, NULL));
		CHECK(has_run(rb, "beta", "run-b", -1, NULL));
		CHECK(memcmp(rb->trace_id, tid_b, 16) == 0);
		CHECK(has_run(reb, "beta", "run-b", -1, NULL));
		CHECK(memcmp(reb->trace_id, remote.trace_id, 16) == 0);
		CHECK(memcmp(reb->parent_span_id, remote.span_id, 8) == 0);
		CHECK(has_run(rebc, "beta", "run-b", -1, NULL));
		CHECK(memcmp(rebc->trace_id, remote.trace_id, 16) == 0);
	}
	all_free(&d);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);
}

TEST(span_set_run_rules)
{
	struct srv s = {0};
	struct sdk_config c;
	uint8_t tid_x[16], tid_p[16];
	struct tl_span_context ctx, remote;
	char tp[64];
	srv_start(&s);
	test_config(&c, &s, NULL, NULL);
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	tl_trace_id_for_run(NULL, "run-x", tid_x);
	tl_trace_id_for_run("p", "proc", tid_p);
	CHECK_EQ_INT(tl_span_set_run(&tl__noop_span, "t", "r", 0, NULL), TL_SDK_EDISABLED);
	CHECK_EQ_INT(tl_span_set_run(NULL, "t", "r", 0, NULL), TL_SDK_EDISABLED);

	/* A root in the process-wide run moves to the explicit run: attributes
	 * replaced (agent and step removed), the user's own attribute kept, trace
	 * id re-derived; its child inherits the explicit run. */
	CHECK_EQ_INT(tl_run_set("p", "proc", 4, "proc-agent"), 0);
	struct tl_span_handle *root = tl_span_start("explicit-root", TL_SPAN_KIND_INTERNAL, NULL);
	CHECK_EQ_INT(tl_span_set_str(root, "mine", "kept"), 0);
	CHECK_EQ_INT(tl_span_set_run(root, NULL, "run-x", -1, NULL), 0);
	CHECK_EQ_INT(tl_span_get_context(root, &ctx), 0);
	CHECK(memcmp(ctx.trace_id, tid_x, 16) == 0);
	CHECK_EQ_INT(tl_span_set_run(root, NULL, "run-y", 0, NULL), TL_SDK_ESTATE); /* context handed out */
	tl_span_end(tl_span_start("explicit-child", TL_SPAN_KIND_INTERNAL, root));
	tl_span_end(root);

	/* A root whose child started already: too late, nothing changes. */
	struct tl_span_handle *late = tl_span_start("late-root", TL_SPAN_KIND_INTERNAL, NULL);
	struct tl_span_handle *lc = tl_span_start("late-child", TL_SPAN_KIND_INTERNAL, late);
	CHECK_EQ_INT(tl_span_set_run(late, NULL, "run-x", 0, NULL), TL_SDK_ESTATE);
	tl_span_end(lc);
	struct tl_span_handle *inj = tl_span_start("injected", TL_SPAN_KIND_INTERNAL, NULL);
	CHECK_EQ_INT(tl_traceparent_inject(inj, tp, sizeof tp, NULL, 0), 0);
	CHECK_EQ_INT(tl_span_set_run(inj, NULL, "run-x", 0, NULL), TL_SDK_ESTATE);
	tl_span_end(inj);
	tl_span_end(late);

	/* Under a remote parent the trace id stays the parent's. */
	CHECK_EQ_INT(tl_traceparent_extract("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL, &remote), 0);
	struct tl_span_handle *srvspan = tl_span_start_ctx("remote-explicit", TL_SPAN_KIND_SERVER, &remote);
	CHECK_EQ_INT(tl_span_set_run(srvspan, "w", "run-w", 2, "w-1"), 0);
	tl_span_end(tl_span_start("remote-explicit-child", TL_SPAN_KIND_INTERNAL, srvspan));
	tl_span_end(srvspan);

	/* run_id NULL removes the span's run; the trace id stays. */
	struct tl_span_handle *cl = tl_span_start("cleared-root", TL_SPAN_KIND_INTERNAL, NULL);
	CHECK_EQ_INT(tl_span_set_run(cl, NULL, NULL, -1, NULL), 0);
	tl_span_end(tl_span_start("cleared-child", TL_SPAN_KIND_INTERNAL, cl));
	tl_span_end(cl);
	CHECK_EQ_INT(tl_run_set(NULL, NULL, -1, NULL), 0);
	CHECK_EQ_INT(tl_flush(5000), 0);

	struct all_spans d;
	all_decode(&s, &d);
	CHECK_EQ_INT(d.n_spans, 9);
	const struct tl_span *er = all_find(&d, "explicit-root"), *ec = all_find(&d, "explicit-child"),
			     *lr = all_find(&d, "late-root"), *lch = all_find(&d, "late-child"),
			     *re = all_find(&d, "remote-explicit"), *rec = all_find(&d, "remote-explicit-child"),
			     *cr = all_find(&d, "cleared-root"), *cch = all_find(&d, "cleared-child");
	CHECK(er && ec && lr && lch && re && rec && cr && cch);
	if (er && ec && lr && lch && re && rec && cr && cch) {
		const struct tl_kv *kv;
		CHECK(has_run(er, "default", "run-x", -1, NULL));
		CHECK((kv = find_attr(&er->attrs, "mine")) && tl_str_eq_c(kv->v.u.s, "kept"));
		CHECK(memcmp(er->trace_id, tid_x, 16) == 0);
		CHECK(has_run(ec, "default", "run-x", -1, NULL));
		CHECK(memcmp(ec->trace_id, tid_x, 16) == 0);
		CHECK(memcmp(ec->parent_span_id, er->span_id, 8) == 0);
		CHECK(has_run(lr, "p", "proc", 4, "proc-agent"));
		CHECK(memcmp(lr->trace_id, tid_p, 16) == 0);
		CHECK(has_run(lch, "p", "proc", 4, "proc-agent"));
		CHECK(has_run(re, "w", "run-w", 2, "w-1"));
		CHECK(memcmp(re->trace_id, remote.trace_id, 16) == 0);
		CHECK(has_run(rec, "w", "run-w", 2, "w-1"));
		CHECK(has_run(cr, NULL, NULL, -1, NULL));
		CHECK(memcmp(cr->trace_id, tid_p, 16) == 0);
		CHECK(has_run(cch, NULL, NULL, -1, NULL));
	}
	all_free(&d);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);
}

struct run_thread {
	int id;
	char tenant[16], run_id[16], agent[16], root_name[16], child_name[16], leaf_name[16];
	int rc;
};

/* One task per thread with its own explicit run; 20 children, each with a
 * grandchild started through the current-span stack. */
static void *run_thread_main(void *p)
{
	struct run_thread *t = p;
	struct tl_span_handle *root = tl_genai_agent_start(NULL, t->root_name, NULL, NULL);
	t->rc = tl_span_set_run(root, t->tenant, t->run_id, t->id, t->agent);
	for (int i = 0; i < 20; i++) {
		struct tl_span_handle *ch = tl_span_start(t->child_name, TL_SPAN_KIND_INTERNAL, root);
		tl_span_make_current(ch);
		tl_span_end(tl_span_start(t->leaf_name, TL_SPAN_KIND_INTERNAL, NULL));
		tl_span_end(ch);
	}
	tl_span_end(root);
	return NULL;
}

TEST(threads_with_explicit_runs)
{
	struct srv s = {0};
	struct sdk_config c;
	struct run_thread t[2];
	pthread_t th[2];
	srv_start(&s);
	test_config(&c, &s, "OTEL_BSP_MAX_QUEUE_SIZE", "4096");
	CHECK_EQ_INT(sdk__start(&c), 0);
	sdk__config_cleanup(&c);
	for (int i = 0; i < 2; i++) {
		memset(&t[i], 0, sizeof t[i]);
		t[i].id = i + 1;
		snprintf(t[i].tenant, sizeof t[i].tenant, "tenant-%d", i + 1);
		snprintf(t[i].run_id, sizeof t[i].run_id, "run-%d", i + 1);
		snprintf(t[i].agent, sizeof t[i].agent, "agent-%d", i + 1);
		snprintf(t[i].root_name, sizeof t[i].root_name, "root%d", i + 1);
		snprintf(t[i].child_name, sizeof t[i].child_name, "child-%d", i + 1);
		snprintf(t[i].leaf_name, sizeof t[i].leaf_name, "leaf-%d", i + 1);
		pthread_create(&th[i], NULL, run_thread_main, &t[i]);
	}
	/* Meanwhile the process-wide run keeps changing: it must not leak in. */
	for (int k = 0; k < 200; k++)
		tl_run_set("noise", k % 2 ? "noise-run" : NULL, k, "noise-agent");
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	tl_run_set(NULL, NULL, -1, NULL);
	CHECK_EQ_INT(t[0].rc, 0);
	CHECK_EQ_INT(t[1].rc, 0);
	CHECK_EQ_INT(tl_flush(10000), 0);

	struct all_spans d;
	all_decode(&s, &d);
	CHECK_EQ_INT(d.n_spans, 2 * 41);
	int per[2] = {0, 0}, bad = 0;
	uint8_t tid[2][16];
	for (int i = 0; i < 2; i++)
		tl_trace_id_for_run(t[i].tenant, t[i].run_id, tid[i]);
	for (int r = 0; r < d.n; r++) {
		for (size_t k = 0; k < d.b[r].n_spans; k++) {
			const struct tl_span *sp = &d.b[r].spans[k];
			int i = -1;
			for (int j = 0; j < 2; j++)
				if (tl_str_eq_c(sp->name, t[j].child_name) || tl_str_eq_c(sp->name, t[j].leaf_name) ||
				    (sp->name.n > 13 && memcmp(sp->name.p + 13, t[j].root_name, 5) == 0))
					i = j;
			if (i < 0) {
				bad++;
				continue;
			}
			per[i]++;
			if (!has_run(sp, t[i].tenant, t[i].run_id, t[i].id, t[i].agent) || memcmp(sp->trace_id, tid[i], 16))
				bad++;
		}
	}
	CHECK_EQ_INT(per[0], 41);
	CHECK_EQ_INT(per[1], 41);
	CHECK_EQ_INT(bad, 0);
	all_free(&d);
	CHECK_EQ_INT(tl_shutdown(2000), 0);
	srv_stop(&s);
}

static const struct tl_test_case tests[] = {
	T(traceparent_vectors),
	T(traceparent_roundtrip_and_format),
	T(tracestate_rules),
	T(baggage_extract_inject),
	T(sampler_decisions),
	T(run_trace_id),
	T(env_parsing),
	T(percent_decode),
	T(disabled_is_noop_and_allocates_nothing),
	T(export_full_fidelity),
	T(batching_by_size),
	T(retry_after_honoured_on_503_then_429),
	T(no_retry_on_400_and_give_up_after_attempts),
	T(hanging_server_queue_drops_and_deadlines),
	T(run_identity_and_genai),
	T(content_capture_opt_in_and_sampling_off),
	T(threads_share_a_span),
	T(child_inherits_parent_run),
	T(span_set_run_rules),
	T(threads_with_explicit_runs),
	T(init_from_environment),
};

TEST_MAIN("test_sdk", tests)
