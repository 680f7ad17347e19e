/*
 * check.c - `tracelamp check`: trace integrity of a running daemon's stored
 * data over a time range, through GET /api/v1/integrity (so it never opens the
 * database itself). Prints a readable report (or the JSON with --json).
 * Exit 0 = clean, 1 = issues found, 2 = usage, connection or API error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"
#include "core/core.h"

struct check_opts {
	const char *api, *start, *end, *tenant;
	const char *max_examples, *skew_tolerance_ms, *settle_ms;
	int json;
};

static const char *const kinds[][2] = {
    {"orphan_spans", "orphan spans (parent missing)"},
    {"multiple_roots", "traces with several roots"},
    {"cross_trace_parents", "spans whose parent is in another trace"},
    {"clock_skew", "clock skew (child outside its parent)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tracelamp check [options]\n"
		   "\n"
		   "Checks trace integrity of stored data over a time range through the query API\n"
		   "(GET /api/v1/integrity): orphan spans, traces with several roots, parents in\n"
		   "another trace, clock skew. Exit 0 = clean, 1 = issues found, 2 = error.\n"
		   "\n"
		   "  --api=URL                query API base URL (default http://127.0.0.1:7070)\n"
		   "  --start=T, --end=T       time range of trace starts (Unix s/ms/ns or RFC 3339;\n"
		   "                           default: the last 24 hours)\n"
		   "  --tenant=T               tenant (default: default)\n"
		   "  --max-examples=N         examples per kind (default 10, at most 100)\n"
		   "  --skew-tolerance-ms=MS   ignore clock skew up to this (default 0)\n"
		   "  --settle-ms=MS           skip traces whose last span ended this recently (default 0)\n"
		   "  --json                   print the API's JSON instead of the report\n");
}

static int opt_value(const char *arg, const char *name, const char **out, int *i, int argc, char **argv)
{
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*out = arg + n + 1;
		return 1;
	}
	if (arg[n] == 0 && *i + 1 < argc) {
		*out = argv[++*i];
		return 1;
	}
	return 0;
}

/* Appends "&name=<escaped value>" when value is set. */
static void add_param(CURL *h, struct tl_buf *url, const char *name, const char *value)
{
	if (!value)
		return;
	char *e = curl_easy_escape(h, value, 0);
	tl_buf_printf(url, "%s%s=%s", url->data && memchr(url->data, '?', url->len) ? "&" : "?", name, e ? e : "");
	curl_free(e);
}

static void print_report(json_t *doc)
{
	json_int_t total = json_integer_value(json_object_get(doc, "issues"));
	printf("trace integrity: %lld traces, %lld spans scanned", (long long)json_integer_value(json_object_get(doc, "traces_scanned")),
	       (long long)json_integer_value(json_object_get(doc, "spans_scanned")));
	json_int_t unsettled = json_integer_value(json_object_get(doc, "traces_unsettled"));
	if (unsettled)
		printf(", %lld skipped as not settled", (long long)unsettled);
	printf("\n");
	if (json_is_true(json_object_get(doc, "truncated")))
		printf("warning: the scan stopped at its trace limit; later traces were not checked\n");
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		json_t *o = json_object_get(doc, kinds[k][0]);
		json_int_t n = json_integer_value(json_object_get(o, "count"));
		printf("  %-40s %lld\n", kinds[k][1], (long long)n);
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(o, "examples"), i, e) {
			printf("      trace %s span %s: %s\n", json_string_value(json_object_get(e, "trace_id")),
			       json_string_value(json_object_get(e, "span_id")),
			       json_string_value(json_object_get(e, "detail")));
		}
		if (n > (json_int_t)json_array_size(json_object_get(o, "examples")) && json_array_size(json_object_get(o, "examples")))
			printf("      ... and %lld more\n",
			       (long long)(n - (json_int_t)json_array_size(json_object_get(o, "examples"))));
	}
	printf("%s: %lld issue(s)\n", total ? "FAIL" : "OK", (long long)total);
}

int cli_check(int argc, char **argv)
{
	struct check_opts o;
	struct tl_buf url, body;
	CURL *esc = NULL;
	json_t *doc = NULL;
	long status = 0;
	char err[512];
	int rc = 2, have_body = 0;

	memset(&o, 0, sizeof o);
	o.api = "http://127.0.0.1:7070";
	tl_buf_init(&url, 16384);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			rc = 0;
			goto out;
		} else if (strcmp(a, "--json") == 0) {
			o.json = 1;
		} else if (!opt_value(a, "--api", &o.api, &i, argc, argv) &&
			   !opt_value(a, "--start", &o.start, &i, argc, argv) &&
			   !opt_value(a, "--end", &o.end, &i, argc, argv) &&
			   !opt_value(a, "--tenant", &o.tenant, &i, argc, argv) &&
			   !opt_value(a, "--max-examples", &o.max_examples, &i, argc, argv) &&
			   !opt_value(a, "--skew-tolerance-ms", &o.skew_tolerance_ms, &i, argc, argv) &&
			   !opt_value(a, "--settle-ms", &o.settle_ms, &i, argc, argv)) {
			fprintf(stderr, "tracelamp check: unknown option \"%s\"\n", a);
			usage(stderr);
			goto out;
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	esc = curl_easy_init();
	if (!esc) {
		fprintf(stderr, "tracelamp check: curl_easy_init failed\n");
		goto out;
	}
	size_t base_len = strlen(o.api);
	while (base_len && o.api[base_len - 1] == '/')
		base_len--;
	tl_buf_printf(&url, "%.*s/api/v1/integrity", (int)base_len, o.api);
	add_param(esc, &url, "start", o.start);
	add_param(esc, &url, "end", o.end);
	add_param(esc, &url, "tenant", o.tenant);
	add_param(esc, &url, "max_examples", o.max_examples);
	add_param(esc, &url, "skew_tolerance_ms", o.skew_tolerance_ms);
	add_param(esc, &url, "settle_ms", o.settle_ms);
	if (tl_buf_putc(&url, 0)) {
		fprintf(stderr, "tracelamp check: URL too long\n");
		goto out;
	}
	if (cli__http_get(url.data, NULL, 600000, &status, &body, err, sizeof err)) {
		fprintf(stderr, "tracelamp check: %s\n", err);
		goto out;
	}
	have_body = 1;
	doc = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
	if (status != 200) {
		json_t *m = json_object_get(json_object_get(doc, "error"), "message");
		fprintf(stderr, "tracelamp check: %s answered HTTP %ld%s%s\n", url.data, status, m ? ": " : "",
			m ? json_string_value(m) : "");
		goto out;
	}
	if (!json_is_object(doc) || !json_is_integer(json_object_get(doc, "issues"))) {
		fprintf(stderr, "tracelamp check: %s: not an integrity report\n", url.data);
		goto out;
	}
	if (o.json)
		printf("%.*s\n", (int)body.len, body.data);
	else
		print_report(doc);
	rc = json_integer_value(json_object_get(doc, "issues")) ? 1 : 0;
out:
	json_decref(doc);
	if (have_body)
		tl_buf_cleanup(&body);
	tl_buf_cleanup(&url);
	if (esc) {
		curl_easy_cleanup(esc);
		curl_global_cleanup();
	}
	return rc;
}
