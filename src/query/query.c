/*
 * query.c - routing and handlers of the query API v1 (../shared/reference/api.md):
 * GET /api/v1/traces, /api/v1/traces/{id}, /api/v1/stats, /api/v1/logs and
 * /api/v1/integrity (trace integrity, src/integrity). Each handler checks
 * its parameters strictly (unknown or malformed ones are a 400 naming the
 * parameter), maps them to a store filter, and renders the store's answer.
 * Stateless: safe to call from several threads at once.
 */
#include "query/query_int.h"
#include "integrity/integrity.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define QUERY_MAX_BODY ((size_t)256 << 20)   /* ceiling of one response body */
#define NS_PER_MS 1000000ull
#define NS_PER_MIN (60ull * 1000000000ull)
#define DEFAULT_WINDOW_NS (24ull * 3600 * 1000000000ull)
/* The default window ends a little after now so a trace whose clock runs ahead of
 * ours (skew) is still listed. */
#define FUTURE_SKEW_NS (10ull * NS_PER_MIN)
#define DEFAULT_LIMIT 50
#define MAX_LIMIT 1000
#define MAX_FILTER_LEN 1024
#define MAX_STATS_BUCKETS 100000
#define DEFAULT_INTEGRITY_EXAMPLES 10
#define DEFAULT_INTEGRITY_TRACES 100000
#define MAX_INTEGRITY_TRACES 1000000

enum endpoint { EP_LIST, EP_TRACE, EP_STATS, EP_INTEGRITY, EP_LOGS };

struct handler {
	const struct query_ctx *ctx;
	const struct query_request *req;
	struct query_response *resp;
	const struct query__params *params;
	uint64_t now;
	const char *tenant;
	char err[256];
};

static int fail(struct query_response *resp, int status, const char *code, const char *msg)
{
	resp->status = status;
	query__render_error(&resp->body, code, msg);
	return 0;
}

static int bad_request(struct handler *h)
{
	return fail(h->resp, 400, "bad_request", h->err);
}

static int store_failed(struct handler *h, int rc)
{
	char msg[128];
	snprintf(msg, sizeof msg, "store: %s", tl_strerror(rc));
	if (rc == TL_ECLOSED || rc == TL_EBUSY)
		return fail(h->resp, 503, "unavailable", msg);
	return fail(h->resp, 500, "internal", msg);
}

/* Finishes a rendered body: a writer error (the body ceiling) becomes a 500. */
static int finish(struct handler *h, const struct query__jw *w)
{
	if (w->err)
		return fail(h->resp, 500, "internal", w->err == TL_ETOOBIG ? "response too large" : tl_strerror(w->err));
	h->resp->status = 200;
	return 0;
}

/* A plain string filter: optional, at most MAX_FILTER_LEN bytes. */
static int get_filter(struct handler *h, const char *name, const char **out)
{
	const char *v = query__params_get(h->params, name);
	if (v && strlen(v) > MAX_FILTER_LEN) {
		snprintf(h->err, sizeof h->err, "parameter %s: longer than %d bytes", name, MAX_FILTER_LEN);
		return TL_EINVAL;
	}
	*out = v;
	return 0;
}

/* start/end with the api.md defaults (the last 24 hours). */
static int get_window(struct handler *h, uint64_t *start, uint64_t *end)
{
	const char *s = query__params_get(h->params, "start");
	const char *e = query__params_get(h->params, "end");
	uint64_t now = h->now;
	if (s && query_parse_time(s, start)) {
		snprintf(h->err, sizeof h->err, "parameter start: not Unix seconds/nanoseconds or RFC 3339: \"%.64s\"", s);
		return TL_EINVAL;
	}
	if (e && query_parse_time(e, end)) {
		snprintf(h->err, sizeof h->err, "parameter end: not Unix seconds/nanoseconds or RFC 3339: \"%.64s\"", e);
		return TL_EINVAL;
	}
	if (!e)
		*end = now > UINT64_MAX - FUTURE_SKEW_NS ? UINT64_MAX : now + FUTURE_SKEW_NS;
	if (!s) {
		uint64_t ref = e ? *end : now;
		*start = ref > DEFAULT_WINDOW_NS ? ref - DEFAULT_WINDOW_NS : 0;
	}
	if (*start > *end) {
		snprintf(h->err, sizeof h->err, "parameter start: after end");
		return TL_EINVAL;
	}
	return 0;
}

static int get_duration_ms(struct handler *h, const char *name, int64_t *out)
{
	const char *v = query__params_get(h->params, name);
	*out = -1;
	if (!v)
		return 0;
	if (query__parse_decimal(v, 6, out)) {
		snprintf(h->err, sizeof h->err, "parameter %s: not a non-negative number of milliseconds: \"%.64s\"",
			 name, v);
		return TL_EINVAL;
	}
	return 0;
}

static int parse_list_filter(struct handler *h, struct store_trace_filter *f)
{
	static const char *const allowed[] = {"tenant", "service", "name", "model", "provider", "status",
					      "min_duration_ms", "max_duration_ms", "min_cost_usd", "session",
					      "run", "agent", "anomaly", "q", "start", "end", "limit", "cursor", NULL};
	const char *v;
	memset(f, 0, sizeof *f);
	if (query__params_check(h->params, allowed, h->err, sizeof h->err))
		return TL_EINVAL;
	f->tenant = h->tenant;
	f->status = -1;
	f->min_duration_ns = f->max_duration_ns = f->min_cost_nusd = -1;
	f->limit = DEFAULT_LIMIT;
	if (get_window(h, &f->start_unix_nano, &f->end_unix_nano) || get_filter(h, "service", &f->service) ||
	    get_filter(h, "name", &f->name) || get_filter(h, "model", &f->model) ||
	    get_filter(h, "provider", &f->provider) || get_filter(h, "session", &f->session) ||
	    get_filter(h, "run", &f->run) || get_filter(h, "agent", &f->agent) || get_filter(h, "q", &f->q) ||
	    get_duration_ms(h, "min_duration_ms", &f->min_duration_ns) ||
	    get_duration_ms(h, "max_duration_ms", &f->max_duration_ns))
		return TL_EINVAL;
	if (f->min_duration_ns >= 0 && f->max_duration_ns >= 0 && f->min_duration_ns > f->max_duration_ns) {
		snprintf(h->err, sizeof h->err, "parameter min_duration_ms: greater than max_duration_ms");
		return TL_EINVAL;
	}
	if ((v = query__params_get(h->params, "status"))) {
		if (strcmp(v, "ok") == 0) {
			f->status = 0;
		} else if (strcmp(v, "error") == 0) {
			f->status = 1;
		} else {
			snprintf(h->err, sizeof h->err, "parameter status: must be ok or error, not \"%.64s\"", v);
			return TL_EINVAL;
		}
	}
	if ((v = query__params_get(h->params, "anomaly"))) {
		/* "any" or a detector name (as stored: at most 31 bytes) */
		int ok = strlen(v) < 32;
		for (const char *c = v; ok && *c; c++)
			ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			     *c == '_' || *c == '-' || *c == '.';
		if (!ok) {
			snprintf(h->err, sizeof h->err, "parameter anomaly: not \"any\" or a detector name: \"%.64s\"", v);
			return TL_EINVAL;
		}
		f->anomaly = v;
	}
	if ((v = query__params_get(h->params, "min_cost_usd")) && query__parse_decimal(v, 9, &f->min_cost_nusd)) {
		snprintf(h->err, sizeof h->err, "parameter min_cost_usd: not a non-negative number: \"%.64s\"", v);
		return TL_EINVAL;
	}
	if ((v = query__params_get(h->params, "limit"))) {
		uint64_t l;
		if (tl_parse_u64(v, strlen(v), &l) || l < 1 || l > MAX_LIMIT) {
			snprintf(h->err, sizeof h->err, "parameter limit: must be an integer from 1 to %d, not \"%.64s\"",
				 MAX_LIMIT, v);
			return TL_EINVAL;
		}
		f->limit = (uint32_t)l;
	}
	if ((v = query__params_get(h->params, "cursor"))) {
		if (query__cursor_decode(v, &f->cursor_start, f->cursor_id)) {
			snprintf(h->err, sizeof h->err, "parameter cursor: not a cursor from next_cursor");
			return TL_EINVAL;
		}
		f->has_cursor = 1;
	}
	return 0;
}

static int handle_list(struct handler *h)
{
	struct store_trace_filter f;
	struct store_trace_summary *sums = NULL;
	size_t n = 0;
	int more = 0, rc;
	struct query__jw w;

	if (parse_list_filter(h, &f)) {
		rc = bad_request(h);
		goto out;
	}
	rc = store_list_traces(h->ctx->store, &f, &sums, &n, &more);
	if (rc) {
		if (rc == TL_EINVAL) {
			snprintf(h->err, sizeof h->err, "invalid filter");
			rc = bad_request(h);
		} else {
			rc = store_failed(h, rc);
		}
		goto out;
	}
	query__jw_init(&w, &h->resp->body);
	query__jw_obj_begin(&w);
	query__jw_key(&w, "traces");
	query__jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		query__render_summary(&w, &sums[i]);
	query__jw_arr_end(&w);
	query__jw_key(&w, "next_cursor");
	if (more && n > 0) {
		char cur[QUERY__CURSOR_LEN + 1];
		query__cursor_encode(sums[n - 1].start_unix_nano, sums[n - 1].trace_id, cur);
		query__jw_str(&w, cur);
	} else {
		query__jw_null(&w);
	}
	query__jw_obj_end(&w);
	rc = finish(h, &w);
out:
	free(sums);
	return rc;
}

static int handle_trace(struct handler *h, const char *id_hex)
{
	static const char *const allowed[] = {"tenant", NULL};
	uint8_t id[16];
	struct store_trace t;
	struct store_logs logs;
	struct query__jw w;
	int rc, have = 0;

	memset(&logs, 0, sizeof logs);

	if (query__params_check(h->params, allowed, h->err, sizeof h->err)) {
		rc = bad_request(h);
		goto out;
	}
	if (strlen(id_hex) != 32 || tl_hex_decode(id_hex, 32, id, 16) || tl_is_zero(id, 16)) {
		snprintf(h->err, sizeof h->err, "trace id: must be 32 hex characters, not all zero");
		rc = bad_request(h);
		goto out;
	}
	memset(&t, 0, sizeof t);
	rc = store_get_trace(h->ctx->store, h->tenant, id, h->ctx->prices, &t);
	if (rc == TL_ENOTFOUND) {
		rc = fail(h->resp, 404, "not_found", "trace not found");
		goto out;
	}
	if (rc) {
		rc = store_failed(h, rc);
		goto out;
	}
	have = 1;
	rc = store_trace_logs(h->ctx->store, h->tenant, id, &logs);
	if (rc) {
		rc = store_failed(h, rc);
		goto out;
	}
	query__jw_init(&w, &h->resp->body);
	query__render_trace(&w, &t, h->tenant, &logs);
	rc = finish(h, &w);
out:
	store_logs_cleanup(&logs);
	if (have)
		store_trace_cleanup(&t);
	return rc;
}

/* ---- logs ---- */

/* severity: a SeverityNumber 1-24 or a level name (its lowest number). */
static int parse_severity(const char *v, int *out)
{
	static const struct {
		const char *name;
		int n;
	} names[] = {{"trace", 1}, {"debug", 5}, {"info", 9}, {"warn", 13}, {"warning", 13}, {"error", 17},
		     {"fatal", 21}};
	uint64_t n;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(v, names[i].name) == 0) {
			*out = names[i].n;
			return 0;
		}
	}
	if (tl_parse_u64(v, strlen(v), &n) || n < 1 || n > 24)
		return TL_EINVAL;
	*out = (int)n;
	return 0;
}

static int parse_logs_filter(struct handler *h, struct store_log_filter *f)
{
	static const char *const allowed[] = {"tenant", "start", "end", "service", "severity", "event", "trace_id",
					      "span_id", "q", "limit", "cursor", NULL};
	const char *v;
	memset(f, 0, sizeof *f);
	if (query__params_check(h->params, allowed, h->err, sizeof h->err))
		return TL_EINVAL;
	f->tenant = h->tenant;
	f->limit = DEFAULT_LIMIT;
	if (get_window(h, &f->start_unix_nano, &f->end_unix_nano) || get_filter(h, "service", &f->service) ||
	    get_filter(h, "event", &f->event) || get_filter(h, "q", &f->q))
		return TL_EINVAL;
	if ((v = query__params_get(h->params, "severity")) && parse_severity(v, &f->min_severity)) {
		snprintf(h->err, sizeof h->err,
			 "parameter severity: a number 1-24 or trace, debug, info, warn, error, fatal, not \"%.64s\"", v);
		return TL_EINVAL;
	}
	if ((v = query__params_get(h->params, "trace_id"))) {
		if (strlen(v) != 32 || tl_hex_decode(v, 32, f->trace_id, 16) || tl_is_zero(f->trace_id, 16)) {
			snprintf(h->err, sizeof h->err, "parameter trace_id: must be 32 hex characters, not all zero");
			return TL_EINVAL;
		}
		f->has_trace_id = 1;
	}
	if ((v = query__params_get(h->params, "span_id"))) {
		if (strlen(v) != 16 || tl_hex_decode(v, 16, f->span_id, 8) || tl_is_zero(f->span_id, 8)) {
			snprintf(h->err, sizeof h->err, "parameter span_id: must be 16 hex characters, not all zero");
			return TL_EINVAL;
		}
		f->has_span_id = 1;
	}
	if ((v = query__params_get(h->params, "limit"))) {
		uint64_t l;
		if (tl_parse_u64(v, strlen(v), &l) || l < 1 || l > MAX_LIMIT) {
			snprintf(h->err, sizeof h->err, "parameter limit: must be an integer from 1 to %d, not \"%.64s\"",
				 MAX_LIMIT, v);
			return TL_EINVAL;
		}
		f->limit = (uint32_t)l;
	}
	if ((v = query__params_get(h->params, "cursor"))) {
		uint8_t id[16];
		uint64_t rowid = 0;
		if (query__cursor_decode(v, &f->cursor_time, id) || !tl_is_zero(id + 8, 8)) {
			snprintf(h->err, sizeof h->err, "parameter cursor: not a cursor from next_cursor");
			return TL_EINVAL;
		}
		for (int i = 0; i < 8; i++)
			rowid = rowid << 8 | id[i];
		f->cursor_id = (int64_t)rowid;
		f->has_cursor = 1;
	}
	return 0;
}

static int handle_logs(struct handler *h)
{
	struct store_log_filter f;
	struct store_logs logs;
	struct query__jw w;
	int more = 0, rc;

	memset(&logs, 0, sizeof logs);
	if (parse_logs_filter(h, &f)) {
		rc = bad_request(h);
		goto out;
	}
	rc = store_list_logs(h->ctx->store, &f, &logs, &more);
	if (rc) {
		rc = store_failed(h, rc);
		goto out;
	}
	query__jw_init(&w, &h->resp->body);
	query__jw_obj_begin(&w);
	query__jw_key(&w, "logs");
	query__jw_arr_begin(&w);
	for (size_t i = 0; i < logs.n; i++)
		query__render_log(&w, &logs.items[i]);
	query__jw_arr_end(&w);
	query__jw_key(&w, "next_cursor");
	if (more && logs.n > 0) {
		char cur[QUERY__CURSOR_LEN + 1];
		uint8_t id[16] = {0};
		uint64_t rowid = (uint64_t)logs.items[logs.n - 1].id;
		for (int i = 0; i < 8; i++)
			id[i] = (uint8_t)(rowid >> (56 - 8 * i));
		query__cursor_encode(logs.items[logs.n - 1].time_unix_nano, id, cur);
		query__jw_str(&w, cur);
	} else {
		query__jw_null(&w);
	}
	query__jw_obj_end(&w);
	rc = finish(h, &w);
out:
	store_logs_cleanup(&logs);
	return rc;
}

/* ---- stats ---- */

static const struct {
	const char *name;
	unsigned bit;
} group_names[] = {
    {"model", STORE_G_MODEL}, {"provider", STORE_G_PROVIDER}, {"service", STORE_G_SERVICE},
    {"operation", STORE_G_OPERATION}, {"agent", STORE_G_AGENT},
};
#define N_GROUPS (sizeof group_names / sizeof group_names[0])

static int parse_group_by(struct handler *h, const char *v, unsigned *out)
{
	*out = 0;
	const char *s = v;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		unsigned bit = 0;
		for (size_t i = 0; i < N_GROUPS; i++)
			if (strlen(group_names[i].name) == len && memcmp(group_names[i].name, s, len) == 0)
				bit = group_names[i].bit;
		if (!bit) {
			snprintf(h->err, sizeof h->err,
				 "parameter group_by: \"%.*s\" is not one of model, provider, service, operation, agent",
				 (int)(len > 64 ? 64 : len), s);
			return TL_EINVAL;
		}
		*out |= bit;
		if (!comma)
			break;
		s = comma + 1;
	}
	return 0;
}

static const char *group_value(const struct store_stats_point *p, unsigned bit)
{
	switch (bit) {
	case STORE_G_MODEL: return p->model;
	case STORE_G_PROVIDER: return p->provider;
	case STORE_G_SERVICE: return p->service;
	case STORE_G_OPERATION: return p->operation;
	default: return p->agent;
	}
}

/* Length of a group value field (each is a NUL-terminated array unless full). */
static size_t group_len(const struct store_stats_point *p, unsigned bit)
{
	switch (bit) {
	case STORE_G_MODEL: return strnlen(p->model, sizeof p->model);
	case STORE_G_PROVIDER: return strnlen(p->provider, sizeof p->provider);
	case STORE_G_SERVICE: return strnlen(p->service, sizeof p->service);
	case STORE_G_OPERATION: return strnlen(p->operation, sizeof p->operation);
	default: return strnlen(p->agent, sizeof p->agent);
	}
}

static int same_group(const struct store_stats_point *a, const struct store_stats_point *b, unsigned group_by)
{
	for (size_t i = 0; i < N_GROUPS; i++) {
		unsigned bit = group_names[i].bit;
		if (!(group_by & bit))
			continue;
		size_t la = group_len(a, bit), lb = group_len(b, bit);
		if (la != lb || memcmp(group_value(a, bit), group_value(b, bit), la))
			return 0;
	}
	return 1;
}

static void render_point(struct query__jw *w, const struct store_stats_point *p)
{
	query__jw_obj_begin(w);
	query__jw_key(w, "start_unix_nano");
	query__jw_u64_str(w, p->bucket_start);
	query__jw_key(w, "calls");
	query__jw_u64(w, p->calls);
	query__jw_key(w, "errors");
	query__jw_u64(w, p->errors);
	query__jw_key(w, "input_tokens");
	query__jw_i64(w, p->input_tokens);
	query__jw_key(w, "output_tokens");
	query__jw_i64(w, p->output_tokens);
	query__jw_key(w, "cache_read_tokens");
	query__jw_i64(w, p->cache_read_tokens);
	query__jw_key(w, "cache_write_tokens");
	query__jw_i64(w, p->cache_write_tokens);
	query__jw_key(w, "reasoning_tokens");
	query__jw_i64(w, p->reasoning_tokens);
	query__jw_key(w, "cost_usd");
	query__jw_nusd(w, p->cost_nusd);
	query__jw_key(w, "latency_ms");
	query__jw_obj_begin(w);
	query__jw_key(w, "p50");
	query__jw_double(w, p->p50_ms);
	query__jw_key(w, "p95");
	query__jw_double(w, p->p95_ms);
	query__jw_key(w, "p99");
	query__jw_double(w, p->p99_ms);
	query__jw_obj_end(w);
	query__jw_obj_end(w);
}

static int parse_stats_filter(struct handler *h, struct store_stats_filter *f)
{
	static const char *const allowed[] = {"tenant", "group_by", "step", "service", "model", "provider",
					      "agent", "operation", "start", "end", NULL};
	const char *v;

	memset(f, 0, sizeof *f);
	f->tenant = h->tenant;
	if (query__params_check(h->params, allowed, h->err, sizeof h->err) ||
	    get_window(h, &f->start_unix_nano, &f->end_unix_nano) || get_filter(h, "service", &f->service) ||
	    get_filter(h, "model", &f->model) || get_filter(h, "provider", &f->provider) ||
	    get_filter(h, "agent", &f->agent) || get_filter(h, "operation", &f->operation) ||
	    ((v = query__params_get(h->params, "group_by")) && parse_group_by(h, v, &f->group_by)))
		return TL_EINVAL;
	if ((v = query__params_get(h->params, "step"))) {
		if (query__parse_step(v, &f->step_ns) || f->step_ns < NS_PER_MIN || f->step_ns % NS_PER_MIN) {
			snprintf(h->err, sizeof h->err,
				 "parameter step: must be a duration of whole minutes (1m, 5m, 1h, 1d), not \"%.32s\"", v);
			return TL_EINVAL;
		}
		if ((f->end_unix_nano - f->start_unix_nano) / f->step_ns > MAX_STATS_BUCKETS) {
			snprintf(h->err, sizeof h->err, "parameter step: more than %d buckets in the range",
				 MAX_STATS_BUCKETS);
			return TL_EINVAL;
		}
	}
	return 0;
}

static int handle_stats(struct handler *h)
{
	struct store_stats_filter f;
	struct store_stats_point *pts = NULL;
	size_t n = 0;
	struct query__jw w;
	int rc;

	if (parse_stats_filter(h, &f)) {
		rc = bad_request(h);
		goto out;
	}
	rc = store_stats(h->ctx->store, &f, &pts, &n);
	if (rc) {
		rc = store_failed(h, rc);
		goto out;
	}
	query__jw_init(&w, &h->resp->body);
	query__jw_obj_begin(&w);
	query__jw_key(&w, "series");
	query__jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !same_group(&pts[i - 1], &pts[i], f.group_by)) {
			if (i > 0) {
				query__jw_arr_end(&w);
				query__jw_obj_end(&w);
			}
			query__jw_obj_begin(&w);
			query__jw_key(&w, "group");
			query__jw_obj_begin(&w);
			for (size_t g = 0; g < N_GROUPS; g++) {
				if (!(f.group_by & group_names[g].bit))
					continue;
				query__jw_key(&w, group_names[g].name);
				query__jw_strn(&w, group_value(&pts[i], group_names[g].bit),
					       group_len(&pts[i], group_names[g].bit));
			}
			query__jw_obj_end(&w);
			query__jw_key(&w, "points");
			query__jw_arr_begin(&w);
		}
		render_point(&w, &pts[i]);
	}
	if (n > 0) {
		query__jw_arr_end(&w);
		query__jw_obj_end(&w);
	}
	query__jw_arr_end(&w);
	query__jw_key(&w, "start_unix_nano");
	query__jw_u64_str(&w, f.start_unix_nano);
	query__jw_key(&w, "end_unix_nano");
	query__jw_u64_str(&w, f.end_unix_nano);
	query__jw_key(&w, "step_ns");
	query__jw_u64(&w, f.step_ns);
	query__jw_obj_end(&w);
	rc = finish(h, &w);
out:
	free(pts);
	return rc;
}

/* ---- integrity ---- */

/* An integer parameter in [lo, hi], or def when absent. */
static int get_uint(struct handler *h, const char *name, uint64_t lo, uint64_t hi, uint64_t def, uint64_t *out)
{
	const char *v = query__params_get(h->params, name);
	*out = def;
	if (!v)
		return 0;
	if (tl_parse_u64(v, strlen(v), out) || *out < lo || *out > hi) {
		snprintf(h->err, sizeof h->err, "parameter %s: must be an integer from %llu to %llu, not \"%.64s\"", name,
			 (unsigned long long)lo, (unsigned long long)hi, v);
		return TL_EINVAL;
	}
	return 0;
}

static int parse_integrity_params(struct handler *h, struct integrity_params *p)
{
	static const char *const allowed[] = {"tenant", "start", "end", "max_examples", "skew_tolerance_ms",
					      "settle_ms", "max_traces", NULL};
	int64_t tol_ns, settle_ns;
	uint64_t examples, traces;

	memset(p, 0, sizeof *p);
	p->tenant = h->tenant;
	p->now_unix_nano = h->now;
	if (query__params_check(h->params, allowed, h->err, sizeof h->err) ||
	    get_window(h, &p->start_unix_nano, &p->end_unix_nano) ||
	    get_duration_ms(h, "skew_tolerance_ms", &tol_ns) || get_duration_ms(h, "settle_ms", &settle_ns) ||
	    get_uint(h, "max_examples", 0, INTEGRITY_MAX_EXAMPLES, DEFAULT_INTEGRITY_EXAMPLES, &examples) ||
	    get_uint(h, "max_traces", 1, MAX_INTEGRITY_TRACES, DEFAULT_INTEGRITY_TRACES, &traces))
		return TL_EINVAL;
	p->skew_tolerance_ns = tol_ns < 0 ? 0 : (uint64_t)tol_ns;
	p->settle_ns = settle_ns < 0 ? 0 : (uint64_t)settle_ns;
	p->max_examples = (uint32_t)examples;
	p->max_traces = traces;
	return 0;
}

static void render_integrity(struct query__jw *w, const struct integrity_params *p, const struct integrity_report *r)
{
	query__jw_obj_begin(w);
	query__jw_key(w, "start_unix_nano");
	query__jw_u64_str(w, p->start_unix_nano);
	query__jw_key(w, "end_unix_nano");
	query__jw_u64_str(w, p->end_unix_nano);
	query__jw_key(w, "traces_scanned");
	query__jw_u64(w, r->traces_scanned);
	query__jw_key(w, "spans_scanned");
	query__jw_u64(w, r->spans_scanned);
	query__jw_key(w, "traces_unsettled");
	query__jw_u64(w, r->traces_unsettled);
	query__jw_key(w, "truncated");
	query__jw_bool(w, r->truncated);
	query__jw_key(w, "issues");
	query__jw_u64(w, integrity_report_total(r));
	for (int k = 0; k < INTEGRITY_NKINDS; k++) {
		const struct integrity_issue *is = &r->kinds[k];
		query__jw_key(w, integrity_kind_name(k));
		query__jw_obj_begin(w);
		query__jw_key(w, "count");
		query__jw_u64(w, is->count);
		query__jw_key(w, "examples");
		query__jw_arr_begin(w);
		for (uint32_t i = 0; i < is->n_examples; i++) {
			const struct integrity_example *e = &is->examples[i];
			query__jw_obj_begin(w);
			query__jw_key(w, "trace_id");
			query__jw_hex(w, e->trace_id, 16);
			query__jw_key(w, "span_id");
			query__jw_hex(w, e->span_id, 8);
			query__jw_key(w, "parent_span_id");
			if (e->has_parent)
				query__jw_hex(w, e->parent_span_id, 8);
			else
				query__jw_null(w);
			if (e->has_other_trace) {
				query__jw_key(w, "parent_trace_id");
				query__jw_hex(w, e->other_trace_id, 16);
			}
			query__jw_key(w, "detail");
			query__jw_str(w, e->detail);
			query__jw_obj_end(w);
		}
		query__jw_arr_end(w);
		query__jw_obj_end(w);
	}
	query__jw_obj_end(w);
}

static int handle_integrity(struct handler *h)
{
	struct integrity_params p;
	struct integrity_report *r = NULL;
	struct query__jw w;
	int rc;

	if (parse_integrity_params(h, &p)) {
		rc = bad_request(h);
		goto out;
	}
	r = malloc(sizeof *r); /* about 100 KiB of examples: not on the stack */
	if (!r)
		abort();
	rc = integrity_check(h->ctx->store, h->ctx->prices, &p, r);
	if (rc) {
		rc = store_failed(h, rc);
		goto out;
	}
	query__jw_init(&w, &h->resp->body);
	render_integrity(&w, &p, r);
	rc = finish(h, &w);
out:
	free(r);
	return rc;
}

/* ---- entry points for tests ---- */

int query__list_filter(const struct query__params *p, const char *tenant, uint64_t now,
		       struct store_trace_filter *f, char *err, size_t errlen)
{
	struct handler h;
	memset(&h, 0, sizeof h);
	h.params = p;
	h.now = now;
	h.tenant = tenant;
	int rc = parse_list_filter(&h, f);
	if (rc)
		snprintf(err, errlen, "%s", h.err);
	return rc;
}

int query__stats_filter(const struct query__params *p, const char *tenant, uint64_t now,
			struct store_stats_filter *f, char *err, size_t errlen)
{
	struct handler h;
	memset(&h, 0, sizeof h);
	h.params = p;
	h.now = now;
	h.tenant = tenant;
	int rc = parse_stats_filter(&h, f);
	if (rc)
		snprintf(err, errlen, "%s", h.err);
	return rc;
}

/* ---- routing ---- */

static int is_api_path(const char *p)
{
	return strncmp(p, "/api/v1", 7) == 0 && (p[7] == 0 || p[7] == '/');
}

int query_handle(const struct query_ctx *ctx, const struct query_request *req, struct query_response *resp)
{
	struct handler h;
	struct query__params params;
	enum endpoint ep;
	const char *id = NULL;
	int rc = 0;

	memset(&h, 0, sizeof h);
	memset(&params, 0, sizeof params);
	h.params = &params;
	h.now = req->now_unix_nano;
	tl_buf_init(&resp->body, QUERY_MAX_BODY);
	resp->content_type = "application/json";
	resp->status = 200;
	h.ctx = ctx;
	h.req = req;
	h.resp = resp;
	if (!req->path || !is_api_path(req->path)) {
		resp->status = 404;
		rc = TL_ENOTFOUND;
		goto out;
	}
	const char *rest = req->path + 7;
	if (strcmp(rest, "/traces") == 0 || strcmp(rest, "/traces/") == 0) {
		ep = EP_LIST;
	} else if (strncmp(rest, "/traces/", 8) == 0 && !strchr(rest + 8, '/')) {
		ep = EP_TRACE;
		id = rest + 8;
	} else if (strcmp(rest, "/stats") == 0 || strcmp(rest, "/stats/") == 0) {
		ep = EP_STATS;
	} else if (strcmp(rest, "/integrity") == 0 || strcmp(rest, "/integrity/") == 0) {
		ep = EP_INTEGRITY;
	} else if (strcmp(rest, "/logs") == 0 || strcmp(rest, "/logs/") == 0) {
		ep = EP_LOGS;
	} else {
		fail(resp, 404, "not_found", "unknown API path");
		goto out;
	}
	if (!req->method || (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)) {
		fail(resp, 405, "method_not_allowed", "only GET is allowed here");
		goto out;
	}
	if (query__params_parse(req->query, &params, h.err, sizeof h.err)) {
		bad_request(&h);
		goto out;
	}
	const char *tp = query__params_get(&params, "tenant");
	if (req->tenant_header && req->tenant_header[0])
		h.tenant = req->tenant_header;
	else if (tp)
		h.tenant = tp;
	else
		h.tenant = "default";
	if (!query__tenant_valid(h.tenant)) {
		snprintf(h.err, sizeof h.err, "tenant: must be 1-64 characters of A-Z a-z 0-9 . _ -");
		bad_request(&h);
		goto out;
	}
	switch (ep) {
	case EP_LIST: handle_list(&h); break;
	case EP_TRACE: handle_trace(&h, id); break;
	case EP_STATS: handle_stats(&h); break;
	case EP_INTEGRITY: handle_integrity(&h); break;
	case EP_LOGS: handle_logs(&h); break;
	}
out:
	query__params_cleanup(&params);
	return rc;
}
