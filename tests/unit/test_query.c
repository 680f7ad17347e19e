/*
 * test_query.c - unit tests of src/query: percent-decoding and parameter
 * parsing, time/step/decimal parsing, the cursor, parameter -> store filter
 * mapping, every 400/404/405 error shape, the JSON writer (escaping, numbers,
 * base64) and the rendering of hand-built summaries and spans (checked by
 * parsing the output with jansson). The end-to-end tests at the bottom go
 * through a real store (store_open in a temp dir, store_append, query_handle);
 * build with -DTL_TEST_STUB_STORE to run against a canned stand-in store instead.
 */
#include "tl_test.h"

#include "query/query_int.h"

#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#define NOW 1732190400000000000ull /* 2024-11-21T12:00:00Z */
#define SEC 1000000000ull

/* ---- helpers ---- */

struct reply {
	int rc;
	int status;
	char *body; /* owned, NUL-terminated */
	json_t *json;
};

static struct reply call(const struct query_ctx *ctx, const char *method, const char *path, const char *query,
			 const char *tenant)
{
	struct query_request req = {method, path, query, tenant, NOW};
	struct query_response resp;
	struct reply r;
	memset(&r, 0, sizeof r);
	r.rc = query_handle(ctx, &req, &resp);
	r.status = resp.status;
	tl_buf_putc(&resp.body, 0);
	r.body = resp.body.data;
	json_error_t e;
	r.json = r.body && r.body[0] ? json_loads(r.body, JSON_ALLOW_NUL, &e) : NULL;
	CHECK(resp.content_type != NULL && strcmp(resp.content_type, "application/json") == 0);
	return r;
}

static void reply_free(struct reply *r)
{
	json_decref(r->json);
	free(r->body);
}

static const char *jstr(json_t *o, const char *path)
{
	/* path: dot-separated object keys */
	json_t *cur = o;
	const char *k = path;
	while (cur && k) {
		const char *dot = strchr(k, '.');
		size_t n = dot ? (size_t)(dot - k) : strlen(k);
		cur = json_object_getn(cur, k, n);
		k = dot ? dot + 1 : NULL;
	}
	return json_is_string(cur) ? json_string_value(cur) : NULL;
}

/* Checks an error reply: status, code, and that the message names `mentions`. */
static void check_error(const struct reply *r, int status, const char *code, const char *mentions)
{
	CHECK_EQ_INT(r->rc, 0);
	CHECK_EQ_INT(r->status, status);
	CHECK(r->json != NULL);
	CHECK_EQ_STR(jstr(r->json, "error.code"), code);
	const char *msg = jstr(r->json, "error.message");
	CHECK(msg != NULL);
	if (msg && mentions && !strstr(msg, mentions)) {
		fprintf(stderr, "  message \"%s\" does not mention \"%s\"\n", msg, mentions);
		tl_test_failed_now = 1;
	}
}

static char *jw_render(void (*fn)(struct query__jw *, const void *), const void *arg)
{
	struct tl_buf b;
	struct query__jw w;
	tl_buf_init(&b, 0);
	query__jw_init(&w, &b);
	fn(&w, arg);
	CHECK_EQ_INT(w.err, 0);
	tl_buf_putc(&b, 0);
	return b.data;
}

/* ---- percent-decoding and parameters ---- */

TEST(test_pct_decode)
{
	static const struct {
		const char *in, *out; /* out NULL = error */
	} cases[] = {
	    {"abc", "abc"}, {"a%20b", "a b"}, {"a+b", "a b"}, {"%41%42c", "ABc"}, {"%e2%82%ac", "\xe2\x82\xac"},
	    {"%2B", "+"}, {"", ""}, {"%zz", NULL}, {"%4", NULL}, {"%", NULL}, {"a%", NULL}, {"%g1", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[64];
		size_t n;
		int rc = query__pct_decode(cases[i].in, strlen(cases[i].in), out, &n);
		if (cases[i].out) {
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_STR(out, cases[i].out);
		} else {
			CHECK_EQ_INT(rc, TL_EINVAL);
		}
	}
}

TEST(test_params_parse)
{
	struct query__params p;
	char err[256] = "";
	CHECK_EQ_INT(query__params_parse("a=1&&b=&c&d=x%20y+z", &p, err, sizeof err), 0);
	CHECK_EQ_INT(p.n, 4);
	CHECK_EQ_STR(query__params_get(&p, "a"), "1");
	CHECK(query__params_get(&p, "b") == NULL); /* empty = absent */
	CHECK(query__params_get(&p, "c") == NULL);
	CHECK_EQ_STR(query__params_get(&p, "d"), "x y z");
	CHECK(query__params_get(&p, "e") == NULL);
	static const char *const allowed[] = {"a", "b", "c", "d", NULL};
	CHECK_EQ_INT(query__params_check(&p, allowed, err, sizeof err), 0);
	static const char *const fewer[] = {"a", "b", NULL};
	CHECK_EQ_INT(query__params_check(&p, fewer, err, sizeof err), TL_EINVAL);
	CHECK(strstr(err, "\"c\"") != NULL);
	query__params_cleanup(&p);

	CHECK_EQ_INT(query__params_parse(NULL, &p, err, sizeof err), 0);
	CHECK_EQ_INT(p.n, 0);
	query__params_cleanup(&p);

	static const struct {
		const char *q, *mention;
	} bad[] = {
	    {"limit=1&limit=2", "limit"},       {"x=%zz", "x"},     {"x=%00", "x"}, {"x=%ff", "x"},
	    {"%zz=1", "malformed parameter name"}, {"service=a&service=", "service"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		CHECK_EQ_INT(query__params_parse(bad[i].q, &p, err, sizeof err), TL_EINVAL);
		CHECK(strstr(err, bad[i].mention) != NULL);
		query__params_cleanup(&p);
	}
	/* too many parameters */
	char many[512] = "";
	for (int i = 0; i < QUERY__MAX_PARAMS + 1; i++) {
		char piece[16];
		snprintf(piece, sizeof piece, "%sp%d=1", i ? "&" : "", i);
		strncat(many, piece, sizeof many - strlen(many) - 1);
	}
	CHECK_EQ_INT(query__params_parse(many, &p, err, sizeof err), TL_EINVAL);
	CHECK(strstr(err, "too many") != NULL);
	query__params_cleanup(&p);
}

TEST(test_tenant_valid)
{
	CHECK(query__tenant_valid("default"));
	CHECK(query__tenant_valid("team-a.prod_1"));
	CHECK(!query__tenant_valid(""));
	CHECK(!query__tenant_valid("a b"));
	CHECK(!query__tenant_valid("a/b"));
	CHECK(!query__tenant_valid("\xc3\xa9"));
	char t[70];
	memset(t, 'a', 64);
	t[64] = 0;
	CHECK(query__tenant_valid(t));
	t[64] = 'a';
	t[65] = 0;
	CHECK(!query__tenant_valid(t));
}

/* ---- time, step, decimals, cursor ---- */

TEST(test_parse_time)
{
	static const struct {
		const char *in;
		uint64_t want;
		int ok;
	} cases[] = {
	    {"0", 0, 1},
	    {"1732190400", 1732190400ull * SEC, 1},
	    {"1732190400123", 1732190400123000000ull, 1},        /* milliseconds */
	    {"1732190400123456", 1732190400123456000ull, 1},     /* microseconds */
	    {"1732190400123456789", 1732190400123456789ull, 1},  /* nanoseconds */
	    {"1732190400.5", 1732190400500000000ull, 1},         /* fractional seconds */
	    {"2024-11-21T12:00:00Z", 1732190400ull * SEC, 1},
	    {"2024-11-21t12:00:00z", 1732190400ull * SEC, 1},
	    {"2024-11-21 12:00:00Z", 1732190400ull * SEC, 1},
	    {"2024-11-21T13:30:00+01:30", 1732190400ull * SEC, 1},
	    {"2024-11-21T10:00:00.25-02:00", 1732190400ull * SEC + 250000000ull, 1},
	    {"2024-11-21T12:00:00.123456789Z", 1732190400123456789ull, 1},
	    {"2024-11-21T12:00:00.1234567891Z", 1732190400123456789ull, 1}, /* extra digits truncated */
	    {"2024-02-29T00:00:00Z", 1709164800ull * SEC, 1},
	    {"2000-01-01T00:00:00-05:00", 946702800ull * SEC, 1},
	    {"2024-11-21", 1732147200ull * SEC, 1},
	    {"1970-01-01T00:00:00Z", 0, 1},
	    {"", 0, 0},
	    {"abc", 0, 0},
	    {"-5", 0, 0},
	    {"1e9", 0, 0},
	    {" 1", 0, 0},
	    {"99999999999999999999999", 0, 0},
	    {"2024-11-21T12:00:00", 0, 0},      /* no zone */
	    {"2024-11-21T12:00Z", 0, 0},
	    {"2024-13-01T00:00:00Z", 0, 0},
	    {"2024-02-30T00:00:00Z", 0, 0},
	    {"2023-02-29T00:00:00Z", 0, 0},
	    {"2024-11-21T24:00:00Z", 0, 0},
	    {"2024-11-21T12:60:00Z", 0, 0},
	    {"2024-11-21T12:00:00.Z", 0, 0},
	    {"2024-11-21T12:00:00+0100", 0, 0},
	    {"2024-11-21T12:00:00Zjunk", 0, 0},
	    {"1969-12-31T23:59:59Z", 0, 0},
	    {"2024-1-21T12:00:00Z", 0, 0},
	    {"1732190400.", 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = 12345;
		int rc = query_parse_time(cases[i].in, &v);
		if (cases[i].ok) {
			if (rc != 0 || v != cases[i].want)
				fprintf(stderr, "  time \"%s\": rc %d value %llu\n", cases[i].in, rc, (unsigned long long)v);
			CHECK_EQ_INT(rc, 0);
			CHECK(v == cases[i].want);
		} else {
			if (rc == 0)
				fprintf(stderr, "  time \"%s\" accepted\n", cases[i].in);
			CHECK_EQ_INT(rc, TL_EINVAL);
		}
	}
}

TEST(test_parse_step)
{
	uint64_t v;
	CHECK_EQ_INT(query__parse_step("1m", &v), 0);
	CHECK(v == 60 * SEC);
	CHECK_EQ_INT(query__parse_step("30s", &v), 0);
	CHECK(v == 30 * SEC);
	CHECK_EQ_INT(query__parse_step("1h30m", &v), 0);
	CHECK(v == 5400 * SEC);
	CHECK_EQ_INT(query__parse_step("1d", &v), 0);
	CHECK(v == 86400 * SEC);
	CHECK_EQ_INT(query__parse_step("500ms", &v), 0);
	CHECK(v == 500000000ull);
	CHECK_EQ_INT(query__parse_step("", &v), TL_EINVAL);
	CHECK_EQ_INT(query__parse_step("m", &v), TL_EINVAL);
	CHECK_EQ_INT(query__parse_step("5", &v), TL_EINVAL);
	CHECK_EQ_INT(query__parse_step("5x", &v), TL_EINVAL);
	CHECK_EQ_INT(query__parse_step("-1m", &v), TL_EINVAL);
	CHECK_EQ_INT(query__parse_step("1.5h", &v), TL_EINVAL);
	CHECK_EQ_INT(query__parse_step("99999999999999999999d", &v), TL_EINVAL);
}

TEST(test_parse_decimal)
{
	int64_t v;
	CHECK_EQ_INT(query__parse_decimal("0.000123", 9, &v), 0);
	CHECK_EQ_INT(v, 123000);
	CHECK_EQ_INT(query__parse_decimal("1", 9, &v), 0);
	CHECK_EQ_INT(v, 1000000000);
	CHECK_EQ_INT(query__parse_decimal("1.5", 6, &v), 0);
	CHECK_EQ_INT(v, 1500000);
	CHECK_EQ_INT(query__parse_decimal(".5", 3, &v), 0);
	CHECK_EQ_INT(v, 500);
	CHECK_EQ_INT(query__parse_decimal("2.0000000019", 9, &v), 0); /* truncated */
	CHECK_EQ_INT(v, 2000000001);
	CHECK_EQ_INT(query__parse_decimal("0", 9, &v), 0);
	CHECK_EQ_INT(v, 0);
	static const char *const bad[] = {"", ".", "-1", "+1", "1e3", "abc", "1.2.3", "nan", "inf", "0x10",
					  "1 ", "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(query__parse_decimal(bad[i], 9, &v), TL_EINVAL);
	CHECK_EQ_INT(query__parse_decimal("9200000000000", 6, &v), 0);
	CHECK_EQ_INT(query__parse_decimal("9300000000000000", 6, &v), TL_EINVAL); /* overflow after scaling */
}

TEST(test_cursor)
{
	uint8_t id[16], id2[16];
	uint64_t st;
	char c[QUERY__CURSOR_LEN + 1];
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(0xf0 + i * 7);
	query__cursor_encode(1732190400123456789ull, id, c);
	CHECK_EQ_INT(strlen(c), QUERY__CURSOR_LEN);
	CHECK(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == QUERY__CURSOR_LEN);
	CHECK_EQ_INT(query__cursor_decode(c, &st, id2), 0);
	CHECK(st == 1732190400123456789ull);
	CHECK(memcmp(id, id2, 16) == 0);
	/* extremes */
	memset(id, 0xff, 16);
	query__cursor_encode(UINT64_MAX, id, c);
	CHECK_EQ_INT(query__cursor_decode(c, &st, id2), 0);
	CHECK(st == UINT64_MAX && memcmp(id, id2, 16) == 0);
	CHECK_EQ_INT(query__cursor_decode("", &st, id2), TL_EINVAL);
	CHECK_EQ_INT(query__cursor_decode("abc", &st, id2), TL_EINVAL);
	char bad[QUERY__CURSOR_LEN + 2];
	memcpy(bad, c, sizeof c);
	bad[3] = '=';
	CHECK_EQ_INT(query__cursor_decode(bad, &st, id2), TL_EINVAL);
	memcpy(bad, c, sizeof c);
	bad[QUERY__CURSOR_LEN] = 'A';
	bad[QUERY__CURSOR_LEN + 1] = 0;
	CHECK_EQ_INT(query__cursor_decode(bad, &st, id2), TL_EINVAL);
}

/* ---- parameter -> filter mapping ---- */

TEST(test_list_filter_defaults)
{
	struct query__params p;
	struct store_trace_filter f;
	char err[256];
	CHECK_EQ_INT(query__params_parse("", &p, err, sizeof err), 0);
	CHECK_EQ_INT(query__list_filter(&p, "default", NOW, &f, err, sizeof err), 0);
	CHECK_EQ_STR(f.tenant, "default");
	CHECK_EQ_INT(f.limit, 50);
	CHECK_EQ_INT(f.status, -1);
	CHECK_EQ_INT(f.min_duration_ns, -1);
	CHECK_EQ_INT(f.max_duration_ns, -1);
	CHECK_EQ_INT(f.min_cost_nusd, -1);
	CHECK(f.start_unix_nano == NOW - 24 * 3600 * SEC);
	CHECK(f.end_unix_nano >= NOW && f.end_unix_nano <= NOW + 3600 * SEC); /* small skew allowance */
	CHECK(!f.has_cursor);
	CHECK(!f.service && !f.name && !f.model && !f.provider && !f.session && !f.run && !f.agent && !f.anomaly && !f.q);
	query__params_cleanup(&p);
}

TEST(test_list_filter_all)
{
	struct query__params p;
	struct store_trace_filter f;
	char err[256], q[512], cur[QUERY__CURSOR_LEN + 1];
	uint8_t id[16];
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)i;
	query__cursor_encode(1700000000000000000ull, id, cur);
	snprintf(q, sizeof q,
		 "service=api&name=agent+run&model=gpt-4o-mini&provider=openai&status=error&min_duration_ms=1.5"
		 "&max_duration_ms=2000&min_cost_usd=0.000123&session=s1&run=r%%2F1&agent=planner&anomaly=any"
		 "&q=hello%%20world&start=1700000000&end=2024-11-21T12:00:00Z&limit=1000&cursor=%s&tenant=x",
		 cur);
	CHECK_EQ_INT(query__params_parse(q, &p, err, sizeof err), 0);
	int rc = query__list_filter(&p, "t1", NOW, &f, err, sizeof err);
	if (rc)
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_STR(f.tenant, "t1");
	CHECK_EQ_STR(f.service, "api");
	CHECK_EQ_STR(f.name, "agent run");
	CHECK_EQ_STR(f.model, "gpt-4o-mini");
	CHECK_EQ_STR(f.provider, "openai");
	CHECK_EQ_INT(f.status, 1);
	CHECK_EQ_INT(f.min_duration_ns, 1500000);
	CHECK_EQ_INT(f.max_duration_ns, 2000000000);
	CHECK_EQ_INT(f.min_cost_nusd, 123000);
	CHECK_EQ_STR(f.session, "s1");
	CHECK_EQ_STR(f.run, "r/1");
	CHECK_EQ_STR(f.agent, "planner");
	CHECK_EQ_STR(f.anomaly, "any");
	CHECK_EQ_STR(f.q, "hello world");
	CHECK(f.start_unix_nano == 1700000000ull * SEC);
	CHECK(f.end_unix_nano == NOW);
	CHECK_EQ_INT(f.limit, 1000);
	CHECK_EQ_INT(f.has_cursor, 1);
	CHECK(f.cursor_start == 1700000000000000000ull);
	CHECK(memcmp(f.cursor_id, id, 16) == 0);
	query__params_cleanup(&p);

	CHECK_EQ_INT(query__params_parse("status=ok&end=1732190400", &p, err, sizeof err), 0);
	CHECK_EQ_INT(query__list_filter(&p, "t1", NOW + 1000 * SEC, &f, err, sizeof err), 0);
	CHECK_EQ_INT(f.status, 0);
	CHECK(f.end_unix_nano == NOW);
	CHECK(f.start_unix_nano == NOW - 24 * 3600 * SEC); /* 24 h before the given end */
	query__params_cleanup(&p);
}

TEST(test_stats_filter)
{
	struct query__params p;
	struct store_stats_filter f;
	char err[256];
	CHECK_EQ_INT(query__params_parse("group_by=model,provider,agent&step=5m&service=s&model=m&provider=p"
					 "&agent=a&operation=chat&start=1732100000&end=1732190000",
					 &p, err, sizeof err),
		     0);
	CHECK_EQ_INT(query__stats_filter(&p, "default", NOW, &f, err, sizeof err), 0);
	CHECK_EQ_INT(f.group_by, STORE_G_MODEL | STORE_G_PROVIDER | STORE_G_AGENT);
	CHECK(f.step_ns == 300 * SEC);
	CHECK_EQ_STR(f.service, "s");
	CHECK_EQ_STR(f.model, "m");
	CHECK_EQ_STR(f.provider, "p");
	CHECK_EQ_STR(f.agent, "a");
	CHECK_EQ_STR(f.operation, "chat");
	CHECK(f.start_unix_nano == 1732100000ull * SEC && f.end_unix_nano == 1732190000ull * SEC);
	query__params_cleanup(&p);
	CHECK_EQ_INT(query__params_parse("", &p, err, sizeof err), 0);
	CHECK_EQ_INT(query__stats_filter(&p, "default", NOW, &f, err, sizeof err), 0);
	CHECK_EQ_INT(f.group_by, 0);
	CHECK(f.step_ns == 0);
	query__params_cleanup(&p);
}

/* ---- error shapes through query_handle (no store is reached) ---- */

TEST(test_bad_requests)
{
	static const struct {
		const char *path, *query, *tenant, *mention;
	} cases[] = {
	    {"/api/v1/traces", "foo=1", NULL, "foo"},
	    {"/api/v1/traces", "limit=0", NULL, "limit"},
	    {"/api/v1/traces", "limit=1001", NULL, "limit"},
	    {"/api/v1/traces", "limit=abc", NULL, "limit"},
	    {"/api/v1/traces", "limit=-1", NULL, "limit"},
	    {"/api/v1/traces", "limit=1&limit=2", NULL, "limit"},
	    {"/api/v1/traces", "status=failed", NULL, "status"},
	    {"/api/v1/traces", "min_duration_ms=abc", NULL, "min_duration_ms"},
	    {"/api/v1/traces", "min_duration_ms=-1", NULL, "min_duration_ms"},
	    {"/api/v1/traces", "max_duration_ms=1e3", NULL, "max_duration_ms"},
	    {"/api/v1/traces", "min_duration_ms=5&max_duration_ms=4", NULL, "min_duration_ms"},
	    {"/api/v1/traces", "min_cost_usd=nan", NULL, "min_cost_usd"},
	    {"/api/v1/traces", "min_cost_usd=-0.1", NULL, "min_cost_usd"},
	    {"/api/v1/traces", "start=yesterday", NULL, "start"},
	    {"/api/v1/traces", "end=2024-13-01T00:00:00Z", NULL, "end"},
	    {"/api/v1/traces", "start=1732190400&end=1732190399", NULL, "start"},
	    {"/api/v1/traces", "cursor=bogus", NULL, "cursor"},
	    {"/api/v1/traces", "anomaly=bad%20name", NULL, "anomaly"},
	    {"/api/v1/traces", "service=%zz", NULL, "service"},
	    {"/api/v1/traces", "q=%00", NULL, "q"},
	    {"/api/v1/traces", "tenant=bad!", NULL, "tenant"},
	    {"/api/v1/traces", NULL, "has space", "tenant"},
	    {"/api/v1/traces", "step=1m", NULL, "step"},
	    {"/api/v1/stats", "group_by=color", NULL, "group_by"},
	    {"/api/v1/stats", "group_by=model,", NULL, "group_by"},
	    {"/api/v1/stats", "step=30s", NULL, "step"},
	    {"/api/v1/stats", "step=90s", NULL, "step"},
	    {"/api/v1/stats", "step=abc", NULL, "step"},
	    {"/api/v1/stats", "step=1m&start=0&end=1732190400", NULL, "step"}, /* too many buckets */
	    {"/api/v1/stats", "status=ok", NULL, "status"},
	    {"/api/v1/stats", "start=2&end=1", NULL, "start"},
	    {"/api/v1/traces/xyz", NULL, NULL, "trace id"},
	    {"/api/v1/traces/00000000000000000000000000000000", NULL, NULL, "trace id"},
	    {"/api/v1/traces/0123456789abcdef0123456789abcdeg", NULL, NULL, "trace id"},
	    {"/api/v1/traces/0123456789abcdef0123456789abcdef0", NULL, NULL, "trace id"},
	    {"/api/v1/traces/0123456789abcdef0123456789abcdef", "limit=5", NULL, "limit"},
	};
	struct query_ctx ctx = {NULL, NULL};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct reply r = call(&ctx, "GET", cases[i].path, cases[i].query, cases[i].tenant);
		int before = tl_test_failed_now;
		tl_test_failed_now = 0;
		check_error(&r, 400, "bad_request", cases[i].mention);
		if (tl_test_failed_now)
			fprintf(stderr, "  case %zu: %s?%s -> %d %s\n", i, cases[i].path, cases[i].query ? cases[i].query : "",
				r.status, r.body);
		tl_test_failed_now |= before;
		reply_free(&r);
	}
	/* a long filter value */
	char q[1200] = "q=";
	memset(q + 2, 'x', 1025);
	q[1027] = 0;
	struct reply r = call(&ctx, "GET", "/api/v1/traces", q, NULL);
	check_error(&r, 400, "bad_request", "q");
	reply_free(&r);
}

TEST(test_404_405_shapes)
{
	struct query_ctx ctx = {NULL, NULL};
	struct reply r = call(&ctx, "POST", "/api/v1/traces", NULL, NULL);
	check_error(&r, 405, "method_not_allowed", NULL);
	CHECK_EQ_STR(r.body, "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"only GET is allowed here\"}}");
	reply_free(&r);
	r = call(&ctx, "DELETE", "/api/v1/traces/0123456789abcdef0123456789abcdef", NULL, NULL);
	check_error(&r, 405, "method_not_allowed", NULL);
	reply_free(&r);
	r = call(&ctx, "PUT", "/api/v1/stats", NULL, NULL);
	check_error(&r, 405, "method_not_allowed", NULL);
	reply_free(&r);
	static const char *const unknown[] = {"/api/v1/nope", "/api/v1", "/api/v1/", "/api/v1/traces/abc/def",
					      "/api/v1/statsx"};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		r = call(&ctx, "GET", unknown[i], NULL, NULL);
		check_error(&r, 404, "not_found", NULL);
		reply_free(&r);
	}
	r = call(&ctx, "POST", "/api/v1/nope", NULL, NULL); /* unknown path wins over method */
	check_error(&r, 404, "not_found", NULL);
	reply_free(&r);
	static const char *const outside[] = {"/metrics", "/", "/api/v1x", "/api/v2/traces", "/healthz"};
	for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
		struct query_request req = {"GET", outside[i], NULL, NULL, NOW};
		struct query_response resp;
		CHECK_EQ_INT(query_handle(&ctx, &req, &resp), TL_ENOTFOUND);
		tl_buf_cleanup(&resp.body);
	}
}

/* ---- JSON writer ---- */

static void w_escapes(struct query__jw *w, const void *arg)
{
	(void)arg;
	static const char s[] = "a\"b\\c\n\r\t\b\f\x01\x1f\0z\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/";
	query__jw_arr_begin(w);
	query__jw_strn(w, s, sizeof s - 1);
	query__jw_strn(w, "\xff" "a\xc3" "b\xed\xa0\x80" "c\xe2\x82", 10); /* invalid UTF-8 */
	query__jw_arr_end(w);
}

TEST(test_jw_escaping)
{
	char *out = jw_render(w_escapes, NULL);
	CHECK_EQ_STR(out, "[\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u0000z\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/\","
			  "\"\xef\xbf\xbd" "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\"]");
	json_error_t e;
	json_t *j = json_loads(out, JSON_ALLOW_NUL, &e);
	CHECK(j != NULL);
	if (j) {
		size_t n = json_string_length(json_array_get(j, 0));
		CHECK_EQ_INT(n, 24); /* the NUL survives the round trip */
		json_decref(j);
	}
	free(out);
}

static void w_numbers(struct query__jw *w, const void *arg)
{
	(void)arg;
	query__jw_obj_begin(w);
	query__jw_key(w, "d1");
	query__jw_double(w, 1.0);
	query__jw_key(w, "d2");
	query__jw_double(w, 0.1);
	query__jw_key(w, "d3");
	query__jw_double(w, 1e300);
	query__jw_key(w, "d4");
	query__jw_double(w, -2.5);
	query__jw_key(w, "nan");
	query__jw_double(w, 0.0 / 0.0);
	query__jw_key(w, "inf");
	query__jw_double(w, -1.0 / 0.0);
	query__jw_key(w, "i1");
	query__jw_int_safe(w, 9007199254740992ll); /* 2^53 */
	query__jw_key(w, "i2");
	query__jw_int_safe(w, 9007199254740993ll);
	query__jw_key(w, "i3");
	query__jw_int_safe(w, -9007199254740993ll);
	query__jw_key(w, "i4");
	query__jw_int_safe(w, INT64_MIN);
	query__jw_key(w, "u");
	query__jw_u64_str(w, UINT64_MAX);
	query__jw_key(w, "e");
	query__jw_arr_begin(w);
	query__jw_arr_end(w);
	query__jw_key(w, "o");
	query__jw_obj_begin(w);
	query__jw_obj_end(w);
	query__jw_key(w, "n");
	query__jw_str_or_null(w, "", 0);
	query__jw_obj_end(w);
}

TEST(test_jw_numbers)
{
	char *out = jw_render(w_numbers, NULL);
	CHECK_EQ_STR(out, "{\"d1\":1.0,\"d2\":0.1,\"d3\":1e+300,\"d4\":-2.5,\"nan\":\"NaN\",\"inf\":\"-Infinity\","
			  "\"i1\":9007199254740992,\"i2\":\"9007199254740993\",\"i3\":\"-9007199254740993\","
			  "\"i4\":\"-9223372036854775808\",\"u\":\"18446744073709551615\",\"e\":[],\"o\":{},\"n\":null}");
	free(out);
}

TEST(test_nusd_and_base64)
{
	static const struct {
		int64_t v;
		const char *s;
	} m[] = {{0, "0.0"}, {123, "0.000000123"}, {123000, "0.000123"}, {1500000000, "1.5"},
		 {2000000000, "2.0"}, {-5, "-0.000000005"}, {1234567890123, "1234.567890123"}};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		char buf[40];
		query__fmt_nusd(m[i].v, buf, sizeof buf);
		CHECK_EQ_STR(buf, m[i].s);
	}
	static const char *const b64[][2] = {{"", "\"\""}, {"f", "\"Zg==\""}, {"fo", "\"Zm8=\""}, {"foo", "\"Zm9v\""},
					     {"foob", "\"Zm9vYg==\""}, {"fooba", "\"Zm9vYmE=\""}, {"foobar", "\"Zm9vYmFy\""}};
	for (size_t i = 0; i < sizeof b64 / sizeof b64[0]; i++) {
		struct tl_buf b;
		struct query__jw w;
		tl_buf_init(&b, 0);
		query__jw_init(&w, &b);
		query__jw_base64(&w, (const uint8_t *)b64[i][0], strlen(b64[i][0]));
		tl_buf_putc(&b, 0);
		CHECK_EQ_STR(b.data, b64[i][1]);
		tl_buf_cleanup(&b);
	}
}

TEST(test_jw_ceiling)
{
	struct tl_buf b;
	struct query__jw w;
	tl_buf_init(&b, 16);
	query__jw_init(&w, &b);
	query__jw_arr_begin(&w);
	query__jw_str(&w, "this string is longer than sixteen bytes");
	query__jw_arr_end(&w);
	CHECK_EQ_INT(w.err, TL_ETOOBIG);
	tl_buf_cleanup(&b);
}

/* ---- rendering of hand-built structs ---- */

static void fill_summary(struct store_trace_summary *s)
{
	memset(s, 0, sizeof *s);
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(0xa0 + i);
	snprintf(s->tenant, sizeof s->tenant, "default");
	snprintf(s->service, sizeof s->service, "checkout");
	snprintf(s->name, sizeof s->name, "agent \"run\"");
	s->start_unix_nano = 1732190400000000001ull;
	s->end_unix_nano = 1732190401500000001ull;
	s->span_count = 12;
	s->error_count = 1;
	s->llm_calls = 5;
	s->tool_calls = 4;
	s->input_tokens = 1000;
	s->output_tokens = 200;
	s->cache_read_tokens = 300;
	s->reasoning_tokens = 50;
	s->cost_nusd = 123000;
	s->cost_known = 1;
	snprintf(s->models[0], sizeof s->models[0], "gpt-4o-mini");
	snprintf(s->models[1], sizeof s->models[1], "claude-sonnet-4");
	s->n_models = 2;
	snprintf(s->run_id, sizeof s->run_id, "run-7");
	snprintf(s->anomalies[0], sizeof s->anomalies[0], "cost_spike");
	s->n_anomalies = 1;
	s->has_root = 1;
}

static void w_summary(struct query__jw *w, const void *arg)
{
	query__render_summary(w, arg);
}

TEST(test_render_summary)
{
	struct store_trace_summary s;
	fill_summary(&s);
	char *out = jw_render(w_summary, &s);
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	CHECK(j != NULL);
	CHECK_EQ_STR(jstr(j, "trace_id"), "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
	CHECK_EQ_STR(jstr(j, "tenant"), "default");
	CHECK_EQ_STR(jstr(j, "service"), "checkout");
	CHECK_EQ_STR(jstr(j, "name"), "agent \"run\"");
	CHECK_EQ_STR(jstr(j, "start_unix_nano"), "1732190400000000001");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "duration_ns")), 1500000000);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "span_count")), 12);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "error_count")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "llm_calls")), 5);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "tool_calls")), 4);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "input_tokens")), 1000);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "output_tokens")), 200);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "cache_read_tokens")), 300);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "cache_write_tokens")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "reasoning_tokens")), 50);
	CHECK(json_is_real(json_object_get(j, "cost_usd")));
	CHECK(json_real_value(json_object_get(j, "cost_usd")) == 0.000123);
	CHECK(json_is_false(json_object_get(j, "price_unknown")));
	CHECK_EQ_INT(json_array_size(json_object_get(j, "models")), 2);
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(j, "models"), 1)), "claude-sonnet-4");
	CHECK(json_is_null(json_object_get(j, "session_id")));
	CHECK_EQ_STR(jstr(j, "run_id"), "run-7");
	CHECK(json_is_null(json_object_get(j, "agent")));
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(j, "anomalies"), 0)), "cost_spike");
	CHECK(strstr(out, "\"cost_usd\":0.000123,") != NULL);
	json_decref(j);
	free(out);

	/* unknown cost: null, with price_unknown */
	s.cost_known = 0;
	s.price_unknown = 1;
	s.n_models = 0;
	out = jw_render(w_summary, &s);
	CHECK(strstr(out, "\"cost_usd\":null,\"price_unknown\":true,\"models\":[]") != NULL);
	free(out);
}

struct span_fixture {
	struct tl_resource res;
	struct tl_scope scope;
	struct tl_span span;
	struct tl_kv res_kv[1], kv[12], inner_kv[2], ev_kv[1];
	struct tl_value arr[3];
	struct tl_event ev;
	struct tl_link link;
};

static void fill_span(struct span_fixture *f)
{
	memset(f, 0, sizeof *f);
	f->res_kv[0].key = TL_STR_LIT("service.name");
	f->res_kv[0].v.kind = TL_V_STR;
	f->res_kv[0].v.u.s = TL_STR_LIT("checkout");
	f->res.attrs.items = f->res_kv;
	f->res.attrs.n = 1;
	f->res.service = TL_STR_LIT("checkout");
	f->scope.name = TL_STR_LIT("opentelemetry.instrumentation.openai");
	f->scope.version = TL_STR_LIT("0.1.0");

	struct tl_span *s = &f->span;
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(i + 1);
	for (int i = 0; i < 8; i++)
		s->span_id[i] = (uint8_t)(0x10 + i);
	s->name = TL_STR_LIT("chat gpt-4o-mini");
	s->kind = TL_KIND_CLIENT;
	s->start_unix_nano = 1732190400000000000ull;
	s->end_unix_nano = 1732190400250000000ull;
	s->status_code = TL_STATUS_ERROR;
	s->status_message = TL_STR_LIT("rate limited");
	s->trace_state = TL_STR_LIT("k=v");
	s->flags = 1;
	s->resource = &f->res;
	s->scope = &f->scope;

	struct tl_kv *kv = f->kv;
	kv[0].key = TL_STR_LIT("gen_ai.request.model");
	kv[0].v.kind = TL_V_STR;
	kv[0].v.u.s = TL_STR_LIT("gpt-4o-mini");
	kv[1].key = TL_STR_LIT("k");
	kv[1].v.kind = TL_V_INT;
	kv[1].v.u.i = 1;
	kv[2].key = TL_STR_LIT("big");
	kv[2].v.kind = TL_V_INT;
	kv[2].v.u.i = 9007199254740993ll;
	kv[3].key = TL_STR_LIT("b");
	kv[3].v.kind = TL_V_BOOL;
	kv[3].v.u.b = 1;
	kv[4].key = TL_STR_LIT("d");
	kv[4].v.kind = TL_V_DOUBLE;
	kv[4].v.u.d = 0.5;
	kv[5].key = TL_STR_LIT("a");
	kv[5].v.kind = TL_V_ARRAY;
	f->arr[0].kind = TL_V_INT;
	f->arr[0].u.i = 1;
	f->arr[1].kind = TL_V_INT;
	f->arr[1].u.i = 2;
	f->arr[2].kind = TL_V_STR;
	f->arr[2].u.s = TL_STR_LIT("x");
	kv[5].v.u.arr.items = f->arr;
	kv[5].v.u.arr.n = 3;
	kv[6].key = TL_STR_LIT("m");
	kv[6].v.kind = TL_V_KVLIST;
	f->inner_kv[0].key = TL_STR_LIT("inner");
	f->inner_kv[0].v.kind = TL_V_DOUBLE;
	f->inner_kv[0].v.u.d = 2.0;
	f->inner_kv[1].key = TL_STR_LIT("nested_empty");
	f->inner_kv[1].v.kind = TL_V_EMPTY;
	kv[6].v.u.kv.items = f->inner_kv;
	kv[6].v.u.kv.n = 2;
	kv[7].key = TL_STR_LIT("bytes");
	kv[7].v.kind = TL_V_BYTES;
	kv[7].v.u.s = TL_STR_LIT("foob");
	kv[8].key = TL_STR_LIT("empty");
	kv[8].v.kind = TL_V_EMPTY;
	kv[9].key = TL_STR_LIT("nul\x01key");
	kv[9].v.kind = TL_V_STR;
	kv[9].v.u.s = (struct tl_str){"x\0y\xc3\xa9", 5};
	kv[10].key = TL_STR_LIT("neg");
	kv[10].v.kind = TL_V_INT;
	kv[10].v.u.i = -42;
	s->attrs.items = kv;
	s->attrs.n = 11;
	s->attrs.dropped = 2;

	f->ev_kv[0].key = TL_STR_LIT("exception.type");
	f->ev_kv[0].v.kind = TL_V_STR;
	f->ev_kv[0].v.u.s = TL_STR_LIT("RateLimitError");
	f->ev.name = TL_STR_LIT("exception");
	f->ev.time_unix_nano = 1732190400200000000ull;
	f->ev.attrs.items = f->ev_kv;
	f->ev.attrs.n = 1;
	s->events = &f->ev;
	s->n_events = 1;
	memset(f->link.trace_id, 0xab, 16);
	memset(f->link.span_id, 0xcd, 8);
	s->links = &f->link;
	s->n_links = 1;
	s->dropped_links = 3;

	struct tl_genai *g = &s->genai;
	g->is_genai = 1;
	g->operation = TL_STR_LIT("chat");
	g->provider = TL_STR_LIT("openai");
	g->request_model = TL_STR_LIT("gpt-4o-mini");
	g->response_model = TL_STR_LIT("gpt-4o-mini-2024-07-18");
	g->input_tokens = 100;
	g->output_tokens = 20;
	g->cache_read_tokens = 10;
	g->cache_write_tokens = TL_NONE;
	g->reasoning_tokens = TL_NONE;
	g->cost_nusd = 27000;
	g->finish_reasons[0] = TL_STR_LIT("stop");
	g->n_finish_reasons = 1;
	s->run.run_id = TL_STR_LIT("run-1");
	s->run.step = 3;
	s->run.agent_instance = TL_STR_LIT("planner-0");
}

static void w_span(struct query__jw *w, const void *arg)
{
	query__render_span(w, arg, "default");
}

TEST(test_render_span)
{
	struct span_fixture f;
	fill_span(&f);
	char *out = jw_render(w_span, &f.span);
	json_error_t e;
	json_t *j = json_loads(out, JSON_ALLOW_NUL, &e);
	CHECK(j != NULL);
	if (!j) {
		fprintf(stderr, "  %s\n  %s\n", e.text, out);
		free(out);
		return;
	}
	CHECK_EQ_STR(jstr(j, "span_id"), "1011121314151617");
	CHECK_EQ_STR(jstr(j, "trace_id"), "0102030405060708090a0b0c0d0e0f10");
	CHECK(json_is_null(json_object_get(j, "parent_span_id")));
	CHECK_EQ_STR(jstr(j, "name"), "chat gpt-4o-mini");
	CHECK_EQ_STR(jstr(j, "kind"), "client");
	CHECK_EQ_STR(jstr(j, "start_unix_nano"), "1732190400000000000");
	CHECK_EQ_STR(jstr(j, "end_unix_nano"), "1732190400250000000");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "duration_ns")), 250000000);
	CHECK_EQ_STR(jstr(j, "status.code"), "error");
	CHECK_EQ_STR(jstr(j, "status.message"), "rate limited");
	CHECK_EQ_STR(jstr(j, "service"), "checkout");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "resource"), "service.name")), "checkout");
	CHECK_EQ_STR(jstr(j, "scope.name"), "opentelemetry.instrumentation.openai");
	CHECK_EQ_STR(jstr(j, "scope.version"), "0.1.0");
	CHECK_EQ_STR(jstr(j, "trace_state"), "k=v");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "flags")), 1);
	json_t *a = json_object_get(j, "attributes");
	CHECK_EQ_STR(json_string_value(json_object_get(a, "gen_ai.request.model")), "gpt-4o-mini");
	CHECK(json_is_integer(json_object_get(a, "k")) && json_integer_value(json_object_get(a, "k")) == 1);
	CHECK_EQ_STR(json_string_value(json_object_get(a, "big")), "9007199254740993");
	CHECK(json_is_true(json_object_get(a, "b")));
	CHECK(json_is_real(json_object_get(a, "d")) && json_real_value(json_object_get(a, "d")) == 0.5);
	json_t *arr = json_object_get(a, "a");
	CHECK_EQ_INT(json_array_size(arr), 3);
	CHECK_EQ_INT(json_integer_value(json_array_get(arr, 1)), 2);
	CHECK_EQ_STR(json_string_value(json_array_get(arr, 2)), "x");
	json_t *m = json_object_get(a, "m");
	CHECK(json_is_real(json_object_get(m, "inner")) && json_real_value(json_object_get(m, "inner")) == 2.0);
	CHECK(json_is_null(json_object_get(m, "nested_empty")));
	CHECK_EQ_STR(json_string_value(json_object_get(a, "bytes")), "Zm9vYg==");
	CHECK(json_is_null(json_object_get(a, "empty")));
	CHECK_EQ_INT(json_integer_value(json_object_get(a, "neg")), -42);
	json_t *nul = json_object_get(a, "nul\x01key");
	CHECK(nul != NULL && json_string_length(nul) == 5 && memcmp(json_string_value(nul), "x\0y\xc3\xa9", 5) == 0);
	CHECK(strstr(out, "\"nul\\u0001key\":\"x\\u0000y\xc3\xa9\"") != NULL);
	CHECK(strstr(out, "\"d\":0.5,") != NULL);
	CHECK(strstr(out, "\"inner\":2.0,") != NULL);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "dropped_attributes_count")), 2);
	json_t *ev = json_array_get(json_object_get(j, "events"), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(ev, "name")), "exception");
	CHECK_EQ_STR(json_string_value(json_object_get(ev, "time_unix_nano")), "1732190400200000000");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(ev, "attributes"), "exception.type")), "RateLimitError");
	json_t *ln = json_array_get(json_object_get(j, "links"), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(ln, "trace_id")), "abababababababababababababababab");
	CHECK_EQ_STR(json_string_value(json_object_get(ln, "span_id")), "cdcdcdcdcdcdcdcd");
	CHECK(json_is_object(json_object_get(ln, "attributes")));
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "dropped_links_count")), 3);
	json_t *g = json_object_get(j, "genai");
	CHECK_EQ_STR(json_string_value(json_object_get(g, "operation")), "chat");
	CHECK_EQ_STR(json_string_value(json_object_get(g, "provider")), "openai");
	CHECK_EQ_STR(json_string_value(json_object_get(g, "request_model")), "gpt-4o-mini");
	CHECK_EQ_STR(json_string_value(json_object_get(g, "response_model")), "gpt-4o-mini-2024-07-18");
	CHECK_EQ_INT(json_integer_value(json_object_get(g, "input_tokens")), 100);
	CHECK_EQ_INT(json_integer_value(json_object_get(g, "output_tokens")), 20);
	CHECK_EQ_INT(json_integer_value(json_object_get(g, "cache_read_tokens")), 10);
	/* Not reported on a call that reported usage: 0, per the contract's numbers. */
	CHECK(json_is_integer(json_object_get(g, "cache_write_tokens")) && json_integer_value(json_object_get(g, "cache_write_tokens")) == 0);
	CHECK(json_real_value(json_object_get(g, "cost_usd")) == 0.000027);
	CHECK(json_is_false(json_object_get(g, "price_unknown")));
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(g, "finish_reasons"), 0)), "stop");
	CHECK(json_is_null(json_object_get(g, "tool_name")));
	CHECK(json_is_null(json_object_get(g, "agent_name")));
	CHECK(json_is_null(json_object_get(g, "conversation_id")));
	CHECK_EQ_STR(jstr(j, "tenant"), "default");
	CHECK_EQ_STR(jstr(j, "run_id"), "run-1");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "step")), 3);
	CHECK_EQ_STR(jstr(j, "agent_instance"), "planner-0");
	json_decref(j);
	free(out);

	/* a child span that is not GenAI; unknown cost; kinds */
	f.span.has_parent = 1;
	memset(f.span.parent_span_id, 0x22, 8);
	f.span.genai.is_genai = 0;
	f.span.kind = 9;
	f.span.run.step = TL_NONE;
	f.span.run.tenant = TL_STR_LIT("acme");
	out = jw_render(w_span, &f.span);
	j = json_loads(out, JSON_ALLOW_NUL, &e);
	CHECK(j != NULL);
	CHECK_EQ_STR(jstr(j, "parent_span_id"), "2222222222222222");
	CHECK(json_is_null(json_object_get(j, "genai")));
	CHECK_EQ_STR(jstr(j, "kind"), "unspecified");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "kind_code")), 9);
	CHECK(json_is_null(json_object_get(j, "step")));
	CHECK_EQ_STR(jstr(j, "tenant"), "acme");
	json_decref(j);
	free(out);

	static const char *const kinds[] = {"unspecified", "internal", "server", "client", "producer", "consumer"};
	for (int k = 0; k < 6; k++) {
		f.span.kind = k;
		out = jw_render(w_span, &f.span);
		char want[64];
		snprintf(want, sizeof want, "\"kind\":\"%s\"", kinds[k]);
		CHECK(strstr(out, want) != NULL);
		free(out);
	}
	f.span.genai.is_genai = 1;
	f.span.genai.cost_nusd = TL_NONE;
	f.span.genai.price_unknown = 1;
	f.span.status_code = TL_STATUS_OK;
	out = jw_render(w_span, &f.span);
	CHECK(strstr(out, "\"cost_usd\":null") != NULL);
	CHECK(strstr(out, "\"price_unknown\":true") != NULL);
	CHECK(strstr(out, "\"status\":{\"code\":\"ok\"") != NULL);
	free(out);
}

TEST(test_render_deep_value)
{
	/* a self-referencing array would recurse forever; the depth limit stops it */
	struct tl_value v;
	v.kind = TL_V_ARRAY;
	v.u.arr.items = &v;
	v.u.arr.n = 1;
	struct tl_buf b;
	struct query__jw w;
	tl_buf_init(&b, 0);
	query__jw_init(&w, &b);
	query__render_value(&w, &v, 0);
	CHECK_EQ_INT(w.err, 0);
	tl_buf_putc(&b, 0);
	json_error_t e;
	json_t *j = json_loads(b.data, 0, &e);
	CHECK(j != NULL);
	json_decref(j);
	tl_buf_cleanup(&b);
}

#ifdef TL_TEST_STUB_STORE
/* ---- a canned stand-in store ---- */

static struct store_trace_filter last_filter;
static char last_tenant[64], last_service[64];
static int stub_dummy;

int store_list_traces(struct store *s, const struct store_trace_filter *f, struct store_trace_summary **out,
		      size_t *n, int *more)
{
	(void)s;
	/* the filter's strings die with the request: keep copies */
	last_filter = *f;
	snprintf(last_tenant, sizeof last_tenant, "%s", f->tenant);
	snprintf(last_service, sizeof last_service, "%s", f->service ? f->service : "");
	last_filter.tenant = last_tenant;
	last_filter.service = last_service;
	*out = calloc(2, sizeof **out);
	fill_summary(&(*out)[0]);
	fill_summary(&(*out)[1]);
	(*out)[1].trace_id[15] = 0x01;
	(*out)[1].start_unix_nano = 1732190300000000000ull;
	*n = f->limit < 2 ? f->limit : 2;
	*more = f->limit <= 2;
	return 0;
}

static struct span_fixture stub_span;

int store_get_trace(struct store *s, const char *tenant, const uint8_t trace_id[16],
		    const struct tl_price_table *prices, struct store_trace *out)
{
	(void)s;
	(void)prices;
	fill_span(&stub_span);
	if (strcmp(tenant, "default") || memcmp(trace_id, stub_span.span.trace_id, 16))
		return TL_ENOTFOUND;
	memset(out, 0, sizeof *out);
	out->spans = &stub_span.span;
	out->n_spans = 1;
	fill_summary(&out->summary);
	memcpy(out->summary.trace_id, trace_id, 16);
	return 0;
}

void store_trace_cleanup(struct store_trace *t)
{
	t->spans = NULL;
}

int store_stats(struct store *s, const struct store_stats_filter *f, struct store_stats_point **out, size_t *n)
{
	(void)s;
	struct store_stats_point *p = calloc(3, sizeof *p);
	snprintf(p[0].model, sizeof p[0].model, "a");
	snprintf(p[1].model, sizeof p[1].model, "a");
	snprintf(p[2].model, sizeof p[2].model, "b");
	for (int i = 0; i < 3; i++) {
		p[i].bucket_start = f->start_unix_nano + (uint64_t)i * 60 * SEC;
		p[i].calls = (uint64_t)i + 1;
		p[i].cost_nusd = 1000;
		p[i].p50_ms = 12.5;
	}
	*out = p;
	*n = 3;
	return 0;
}

TEST(test_stub_list)
{
	struct query_ctx ctx = {(struct store *)&stub_dummy, NULL};
	struct reply r = call(&ctx, "GET", "/api/v1/traces", "limit=2&service=x", "team");
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(last_filter.tenant, "team");
	CHECK_EQ_STR(last_filter.service, "x");
	json_t *t = json_object_get(r.json, "traces");
	CHECK_EQ_INT(json_array_size(t), 2);
	const char *cur = jstr(r.json, "next_cursor");
	CHECK(cur != NULL);
	uint64_t st;
	uint8_t id[16];
	CHECK_EQ_INT(query__cursor_decode(cur, &st, id), 0);
	CHECK(st == 1732190300000000000ull && id[15] == 0x01);
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces", "limit=5", NULL);
	CHECK(json_is_null(json_object_get(r.json, "next_cursor")));
	CHECK_EQ_STR(last_filter.tenant, "default");
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces", "tenant=byparam", NULL);
	CHECK_EQ_STR(last_filter.tenant, "byparam");
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces", "tenant=byparam", "byheader");
	CHECK_EQ_STR(last_filter.tenant, "byheader");
	reply_free(&r);
}

TEST(test_stub_trace_and_stats)
{
	struct query_ctx ctx = {(struct store *)&stub_dummy, NULL};
	struct reply r = call(&ctx, "GET", "/api/v1/traces/0102030405060708090A0B0C0D0E0F10", NULL, NULL);
	CHECK_EQ_INT(r.status, 200);
	if (!r.json)
		fprintf(stderr, "  body: %s\n", r.body);
	CHECK_EQ_STR(jstr(r.json, "trace_id"), "0102030405060708090a0b0c0d0e0f10");
	CHECK_EQ_INT(json_array_size(json_object_get(r.json, "spans")), 1);
	CHECK_EQ_STR(jstr(r.json, "summary.service"), "checkout");
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces/0102030405060708090a0b0c0d0e0f10", NULL, "other");
	check_error(&r, 404, "not_found", NULL);
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/stats", "group_by=model&step=1m", NULL);
	CHECK_EQ_INT(r.status, 200);
	json_t *series = json_object_get(r.json, "series");
	CHECK_EQ_INT(json_array_size(series), 2);
	CHECK_EQ_STR(jstr(json_array_get(series, 0), "group.model"), "a");
	CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(series, 0), "points")), 2);
	CHECK_EQ_STR(jstr(json_array_get(series, 1), "group.model"), "b");
	json_t *pt = json_array_get(json_object_get(json_array_get(series, 1), "points"), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(pt, "calls")), 3);
	CHECK(json_real_value(json_object_get(json_object_get(pt, "latency_ms"), "p50")) == 12.5);
	CHECK(json_is_string(json_object_get(pt, "start_unix_nano")));
	reply_free(&r);
	/* without group_by: one series, group {} */
	r = call(&ctx, "GET", "/api/v1/stats", NULL, NULL);
	series = json_object_get(r.json, "series");
	CHECK_EQ_INT(json_array_size(series), 1);
	CHECK_EQ_INT(json_object_size(json_object_get(json_array_get(series, 0), "group")), 0);
	CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(series, 0), "points")), 3);
	reply_free(&r);
}

#define E2E_TESTS T(test_stub_list), T(test_stub_trace_and_stats)
#else
/* ---- end to end through the real store ---- */

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, status;
};

static void on_done(void *arg, int status)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	w->status = status;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

struct e2e_batch {
	struct tl_resource res;
	struct tl_scope scope;
	struct tl_span spans[3];
	struct tl_kv res_kv[1];
	struct tl_kv llm_kv[6];
	struct tl_batch b;
};

static void set_str(struct tl_kv *kv, const char *k, const char *v)
{
	kv->key = tl_str_c(k);
	kv->v.kind = TL_V_STR;
	kv->v.u.s = tl_str_c(v);
}

static void set_int(struct tl_kv *kv, const char *k, int64_t v)
{
	kv->key = tl_str_c(k);
	kv->v.kind = TL_V_INT;
	kv->v.u.i = v;
}

/* Two traces: T1 (root "agent run" + an LLM child, newer) and T2 (one error span, older). */
static void e2e_fill(struct e2e_batch *e, uint64_t t0)
{
	memset(e, 0, sizeof *e);
	set_str(&e->res_kv[0], "service.name", "checkout");
	e->res.attrs.items = e->res_kv;
	e->res.attrs.n = 1;
	e->res.service = TL_STR_LIT("checkout");
	e->scope.name = TL_STR_LIT("test");
	set_str(&e->llm_kv[0], "gen_ai.operation.name", "chat");
	set_str(&e->llm_kv[1], "gen_ai.provider.name", "openai");
	set_str(&e->llm_kv[2], "gen_ai.request.model", "gpt-4o-mini");
	set_int(&e->llm_kv[3], "gen_ai.usage.input_tokens", 100);
	set_int(&e->llm_kv[4], "gen_ai.usage.output_tokens", 20);
	e->llm_kv[5].key = TL_STR_LIT("gen_ai.usage.cost");
	e->llm_kv[5].v.kind = TL_V_DOUBLE;
	e->llm_kv[5].v.u.d = 0.0015;
	for (int i = 0; i < 3; i++) {
		struct tl_span *s = &e->spans[i];
		s->resource = &e->res;
		s->scope = &e->scope;
		s->span_id[0] = (uint8_t)(i + 1);
		s->span_id[7] = 0x77;
		s->kind = TL_KIND_INTERNAL;
	}
	/* T1 */
	memset(e->spans[0].trace_id, 0x11, 16);
	e->spans[0].name = TL_STR_LIT("agent run");
	e->spans[0].start_unix_nano = t0;
	e->spans[0].end_unix_nano = t0 + 2 * SEC;
	memset(e->spans[1].trace_id, 0x11, 16);
	e->spans[1].has_parent = 1;
	memcpy(e->spans[1].parent_span_id, e->spans[0].span_id, 8);
	e->spans[1].name = TL_STR_LIT("chat gpt-4o-mini");
	e->spans[1].kind = TL_KIND_CLIENT;
	e->spans[1].start_unix_nano = t0 + SEC / 2;
	e->spans[1].end_unix_nano = t0 + SEC;
	e->spans[1].attrs.items = e->llm_kv;
	e->spans[1].attrs.n = 6;
	/* T2 */
	memset(e->spans[2].trace_id, 0x22, 16);
	e->spans[2].name = TL_STR_LIT("failing job");
	e->spans[2].start_unix_nano = t0 - 60 * SEC;
	e->spans[2].end_unix_nano = t0 - 59 * SEC;
	e->spans[2].status_code = TL_STATUS_ERROR;
	e->spans[2].status_message = TL_STR_LIT("boom");
	e->b.spans = e->spans;
	e->b.n_spans = 3;
	e->b.resources = &e->res;
	e->b.n_resources = 1;
	e->b.scopes = &e->scope;
	e->b.n_scopes = 1;
	e->b.tenant = TL_STR_LIT("default");
	model_normalise_batch(&e->b, NULL);
}

TEST(test_e2e)
{
	char dir[] = "/tmp/tl_query_XXXXXX";
	char err[256], cmd[128];
	struct store_config cfg;
	struct store *st = NULL;
	struct e2e_batch e;
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	const uint64_t t0 = NOW - 3600 * SEC;

	CHECK(mkdtemp(dir) != NULL);
	store_config_defaults(&cfg);
	cfg.data_dir = dir;
	int rc = store_open(&cfg, &st, err, sizeof err);
	CHECK_EQ_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "  store_open: %s\n", err);
		goto out;
	}
	e2e_fill(&e, t0);
	CHECK_EQ_INT(store_append(st, &e.b, on_done, &w), 0);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	CHECK_EQ_INT(w.status, 0);

	struct query_ctx ctx = {st, NULL};
	struct reply r = call(&ctx, "GET", "/api/v1/traces", NULL, NULL);
	CHECK_EQ_INT(r.status, 200);
	json_t *tr = json_object_get(r.json, "traces");
	CHECK_EQ_INT(json_array_size(tr), 2);
	CHECK_EQ_STR(jstr(json_array_get(tr, 0), "trace_id"), "11111111111111111111111111111111"); /* newest first */
	CHECK_EQ_STR(jstr(json_array_get(tr, 1), "trace_id"), "22222222222222222222222222222222");
	CHECK_EQ_STR(jstr(json_array_get(tr, 0), "name"), "agent run");
	CHECK_EQ_STR(jstr(json_array_get(tr, 0), "service"), "checkout");
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(tr, 0), "span_count")), 2);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(tr, 0), "llm_calls")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(tr, 0), "input_tokens")), 100);
	CHECK(json_real_value(json_object_get(json_array_get(tr, 0), "cost_usd")) == 0.0015);
	CHECK(json_is_null(json_object_get(r.json, "next_cursor")));
	if (r.status != 200)
		fprintf(stderr, "  %s\n", r.body);
	reply_free(&r);

	/* pagination */
	r = call(&ctx, "GET", "/api/v1/traces", "limit=1", NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(r.json, "traces")), 1);
	const char *cur = jstr(r.json, "next_cursor");
	CHECK(cur != NULL);
	char q[128];
	snprintf(q, sizeof q, "limit=1&cursor=%s", cur ? cur : "");
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces", q, NULL);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(jstr(json_array_get(json_object_get(r.json, "traces"), 0), "trace_id"),
		     "22222222222222222222222222222222");
	reply_free(&r);

	/* filters */
	r = call(&ctx, "GET", "/api/v1/traces", "status=error", NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(r.json, "traces")), 1);
	CHECK_EQ_STR(jstr(json_array_get(json_object_get(r.json, "traces"), 0), "trace_id"),
		     "22222222222222222222222222222222");
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces", "model=gpt-4o-mini", NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(r.json, "traces")), 1);
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces", NULL, "someone-else");
	CHECK_EQ_INT(json_array_size(json_object_get(r.json, "traces")), 0);
	reply_free(&r);

	/* one trace */
	r = call(&ctx, "GET", "/api/v1/traces/11111111111111111111111111111111", NULL, NULL);
	CHECK_EQ_INT(r.status, 200);
	json_t *spans = json_object_get(r.json, "spans");
	CHECK_EQ_INT(json_array_size(spans), 2);
	CHECK_EQ_STR(jstr(json_array_get(spans, 0), "name"), "agent run");
	CHECK(json_is_null(json_object_get(json_array_get(spans, 0), "parent_span_id")));
	CHECK(json_is_null(json_object_get(json_array_get(spans, 0), "genai")));
	CHECK_EQ_STR(jstr(json_array_get(spans, 1), "genai.request_model"), "gpt-4o-mini");
	CHECK_EQ_STR(jstr(json_array_get(spans, 1), "kind"), "client");
	CHECK_EQ_STR(jstr(r.json, "summary.trace_id"), "11111111111111111111111111111111");
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces/11111111111111111111111111111111", NULL, "someone-else");
	check_error(&r, 404, "not_found", NULL);
	reply_free(&r);
	r = call(&ctx, "GET", "/api/v1/traces/33333333333333333333333333333333", NULL, NULL);
	check_error(&r, 404, "not_found", NULL);
	reply_free(&r);

	/* stats */
	r = call(&ctx, "GET", "/api/v1/stats", "group_by=model", NULL);
	CHECK_EQ_INT(r.status, 200);
	json_t *series = json_object_get(r.json, "series");
	CHECK_EQ_INT(json_array_size(series), 1);
	CHECK_EQ_STR(jstr(json_array_get(series, 0), "group.model"), "gpt-4o-mini");
	json_t *pt = json_array_get(json_object_get(json_array_get(series, 0), "points"), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(pt, "calls")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(pt, "input_tokens")), 100);
	reply_free(&r);
	store_close(st);
out:
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

#define E2E_TESTS T(test_e2e)
#endif

static const struct tl_test_case tests[] = {
    T(test_pct_decode),       T(test_params_parse),      T(test_tenant_valid),  T(test_parse_time),
    T(test_parse_step),       T(test_parse_decimal),     T(test_cursor),        T(test_list_filter_defaults),
    T(test_list_filter_all),  T(test_stats_filter),      T(test_bad_requests),  T(test_404_405_shapes),
    T(test_jw_escaping),      T(test_jw_numbers),        T(test_nusd_and_base64), T(test_jw_ceiling),
    T(test_render_summary),   T(test_render_span),       T(test_render_deep_value), E2E_TESTS,
};

TEST_MAIN("query", tests)
