/*
 * metrics.c - the gateway's Prometheus metrics: requests, tokens, cost and
 * latency by route, model and tenant; upstream errors; fallbacks; refusals.
 * Series are found by linear search in small tables (bounded: past
 * SERIES_MAX a family folds new label sets into "other").
 * Thread-safe: updates come from the gateway loop, rendering from the API loop.
 */
#include "gateway/gateway_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_MAX 256
#define LABEL_MAX 96
#define N_BUCKETS 14

static const double buckets[N_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					   0.5,   1,     2.5,  5,     10,   30,  120};

struct call_series {
	char l[3][LABEL_MAX]; /* route, model, tenant */
	uint64_t tokens[5];   /* input, output, cache_read, cache_write, reasoning */
	int64_t cost_nusd;
	uint64_t dur_b[N_BUCKETS], dur_n;
	double dur_sum;
	uint64_t ttfc_b[N_BUCKETS], ttfc_n;
	double ttfc_sum;
};

struct count_series {
	char l[4][LABEL_MAX];
	uint64_t n;
};

struct count_family {
	struct count_series s[SERIES_MAX];
	size_t n;
	int nl;
};

struct gateway__metrics {
	pthread_mutex_t mu;
	struct call_series calls[SERIES_MAX];
	size_t n_calls;
	struct count_family requests;  /* route, model, tenant, status */
	struct count_family up_errors; /* upstream, reason */
	struct count_family fallbacks; /* route, from, to */
	struct count_family refused;   /* tenant, reason */
	int64_t inflight;
};

struct gateway__metrics *gateway__metrics_create(void)
{
	struct gateway__metrics *m = calloc(1, sizeof *m);
	if (!m)
		abort();
	pthread_mutex_init(&m->mu, NULL);
	m->requests.nl = 4;
	m->up_errors.nl = 2;
	m->fallbacks.nl = 3;
	m->refused.nl = 2;
	return m;
}

void gateway__metrics_destroy(struct gateway__metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static void copy_label(char *dst, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n >= LABEL_MAX)
		n = LABEL_MAX - 1;
	if (n)
		memcpy(dst, s, n);
	dst[n] = 0;
}

static int labels_eq(char (*a)[LABEL_MAX], const char *const *b, int n)
{
	for (int i = 0; i < n; i++)
		if (strncmp(a[i], b[i] ? b[i] : "", LABEL_MAX - 1) != 0)
			return 0;
	return 1;
}

static void count_add(struct count_family *f, const char *const *labels)
{
	static const char *other[4] = {"other", "other", "other", "other"};
	for (int pass = 0; pass < 2; pass++) {
		const char *const *ls = pass ? other : labels;
		for (size_t i = 0; i < f->n; i++) {
			if (labels_eq(f->s[i].l, ls, f->nl)) {
				f->s[i].n++;
				return;
			}
		}
		if (f->n < SERIES_MAX - 1 || (pass && f->n < SERIES_MAX)) {
			struct count_series *s = &f->s[f->n++];
			for (int k = 0; k < f->nl; k++)
				copy_label(s->l[k], ls[k]);
			s->n = 1;
			return;
		}
	}
}

static struct call_series *call_find(struct gateway__metrics *m, const char *const *labels)
{
	static const char *other[3] = {"other", "other", "other"};
	for (int pass = 0; pass < 2; pass++) {
		const char *const *ls = pass ? other : labels;
		for (size_t i = 0; i < m->n_calls; i++)
			if (labels_eq(m->calls[i].l, ls, 3))
				return &m->calls[i];
		if (m->n_calls < SERIES_MAX - 1 || (pass && m->n_calls < SERIES_MAX)) {
			struct call_series *s = &m->calls[m->n_calls++];
			for (int k = 0; k < 3; k++)
				copy_label(s->l[k], ls[k]);
			return s;
		}
	}
	return &m->calls[SERIES_MAX - 1];
}

static void observe(uint64_t *b, uint64_t *n, double *sum, double v)
{
	for (int i = 0; i < N_BUCKETS; i++)
		if (v <= buckets[i])
			b[i]++;
	(*n)++;
	*sum += v;
}

void gateway__metrics_call(struct gateway__metrics *m, const struct gateway__call_obs *o)
{
	char status[16];
	const char *cl[3] = {o->route, o->model, o->tenant};
	snprintf(status, sizeof status, "%d", o->status);
	const char *rl[4] = {o->route, o->model, o->tenant, status};
	int64_t t[5] = {o->input, o->output, o->cache_read, o->cache_write, o->reasoning};
	pthread_mutex_lock(&m->mu);
	count_add(&m->requests, rl);
	struct call_series *s = call_find(m, cl);
	for (int i = 0; i < 5; i++)
		if (t[i] > 0)
			s->tokens[i] += (uint64_t)t[i];
	if (o->cost_nusd > 0)
		s->cost_nusd += o->cost_nusd;
	observe(s->dur_b, &s->dur_n, &s->dur_sum, o->seconds);
	if (o->ttfc_seconds >= 0)
		observe(s->ttfc_b, &s->ttfc_n, &s->ttfc_sum, o->ttfc_seconds);
	pthread_mutex_unlock(&m->mu);
}

void gateway__metrics_upstream_error(struct gateway__metrics *m, const char *upstream, const char *reason)
{
	const char *l[2] = {upstream, reason};
	pthread_mutex_lock(&m->mu);
	count_add(&m->up_errors, l);
	pthread_mutex_unlock(&m->mu);
}

void gateway__metrics_fallback(struct gateway__metrics *m, const char *route, const char *from, const char *to)
{
	const char *l[3] = {route, from, to};
	pthread_mutex_lock(&m->mu);
	count_add(&m->fallbacks, l);
	pthread_mutex_unlock(&m->mu);
}

void gateway__metrics_refused(struct gateway__metrics *m, const char *tenant, const char *reason)
{
	const char *l[2] = {tenant, reason};
	pthread_mutex_lock(&m->mu);
	count_add(&m->refused, l);
	pthread_mutex_unlock(&m->mu);
}

void gateway__metrics_inflight(struct gateway__metrics *m, int delta)
{
	pthread_mutex_lock(&m->mu);
	m->inflight += delta;
	pthread_mutex_unlock(&m->mu);
}

/* Appends a label value with Prometheus escaping. */
static int put_label(struct tl_buf *b, const char *name, const char *v, int first)
{
	int rc = tl_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
	for (; !rc && *v; v++) {
		if (*v == '\\' || *v == '"')
			rc = tl_buf_putc(b, '\\');
		if (!rc)
			rc = *v == '\n' ? tl_buf_puts(b, "\\n") : tl_buf_putc(b, *v);
	}
	return rc ? rc : tl_buf_putc(b, '"');
}

static int put_labels(struct tl_buf *b, const char *const *names, char (*vals)[LABEL_MAX], int n, const char *extra_name,
		      const char *extra_val)
{
	int rc = tl_buf_putc(b, '{');
	for (int i = 0; !rc && i < n; i++)
		rc = put_label(b, names[i], vals[i], i == 0);
	if (!rc && extra_name)
		rc = put_label(b, extra_name, extra_val, n == 0);
	return rc ? rc : tl_buf_putc(b, '}');
}

static int render_counts(struct tl_buf *b, const char *name, const char *help, const struct count_family *f,
			 const char *const *names)
{
	int rc = tl_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t i = 0; !rc && i < f->n; i++) {
		rc = tl_buf_puts(b, name);
		if (!rc)
			rc = put_labels(b, names, (char (*)[LABEL_MAX])f->s[i].l, f->nl, NULL, NULL);
		if (!rc)
			rc = tl_buf_printf(b, " %llu\n", (unsigned long long)f->s[i].n);
	}
	return rc;
}

static int render_hist(struct tl_buf *b, const char *name, const struct call_series *s, const uint64_t *bk, uint64_t n,
		       double sum)
{
	static const char *cn[3] = {"route", "model", "tenant"};
	char le[32];
	int rc = 0;
	for (int i = 0; !rc && i <= N_BUCKETS; i++) {
		if (i < N_BUCKETS)
			snprintf(le, sizeof le, "%g", buckets[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		rc = tl_buf_printf(b, "%s_bucket", name);
		if (!rc)
			rc = put_labels(b, cn, (char (*)[LABEL_MAX])s->l, 3, "le", le);
		if (!rc)
			rc = tl_buf_printf(b, " %llu\n", (unsigned long long)(i < N_BUCKETS ? bk[i] : n));
	}
	if (!rc)
		rc = tl_buf_printf(b, "%s_sum", name);
	if (!rc)
		rc = put_labels(b, cn, (char (*)[LABEL_MAX])s->l, 3, NULL, NULL);
	if (!rc)
		rc = tl_buf_printf(b, " %.6f\n%s_count", sum, name);
	if (!rc)
		rc = put_labels(b, cn, (char (*)[LABEL_MAX])s->l, 3, NULL, NULL);
	if (!rc)
		rc = tl_buf_printf(b, " %llu\n", (unsigned long long)n);
	return rc;
}

int gateway__metrics_render(struct gateway__metrics *m, struct tl_buf *b)
{
	static const char *rn[4] = {"route", "model", "tenant", "status"};
	static const char *cn[3] = {"route", "model", "tenant"};
	static const char *un[2] = {"upstream", "reason"};
	static const char *fn[3] = {"route", "from", "to"};
	static const char *tn[2] = {"tenant", "reason"};
	static const char *types[5] = {"input", "output", "cache_read", "cache_write", "reasoning"};
	int rc;
	pthread_mutex_lock(&m->mu);
	rc = render_counts(b, "tracelamp_gateway_requests_total", "Calls proxied by the gateway, by HTTP status returned.",
			   &m->requests, rn);
	if (!rc)
		rc = tl_buf_puts(b, "# HELP tracelamp_gateway_tokens_total Tokens used through the gateway (OTel "
				    "convention: input includes cache, output includes reasoning).\n"
				    "# TYPE tracelamp_gateway_tokens_total counter\n");
	for (size_t i = 0; !rc && i < m->n_calls; i++) {
		for (int t = 0; !rc && t < 5; t++) {
			rc = tl_buf_puts(b, "tracelamp_gateway_tokens_total");
			if (!rc)
				rc = put_labels(b, cn, m->calls[i].l, 3, "type", types[t]);
			if (!rc)
				rc = tl_buf_printf(b, " %llu\n", (unsigned long long)m->calls[i].tokens[t]);
		}
	}
	if (!rc)
		rc = tl_buf_puts(b, "# HELP tracelamp_gateway_cost_usd_total Cost of the calls through the gateway.\n"
				    "# TYPE tracelamp_gateway_cost_usd_total counter\n");
	for (size_t i = 0; !rc && i < m->n_calls; i++) {
		rc = tl_buf_puts(b, "tracelamp_gateway_cost_usd_total");
		if (!rc)
			rc = put_labels(b, cn, m->calls[i].l, 3, NULL, NULL);
		if (!rc)
			rc = tl_buf_printf(b, " %.9f\n", (double)m->calls[i].cost_nusd / 1e9);
	}
	if (!rc)
		rc = tl_buf_puts(b, "# HELP tracelamp_gateway_request_duration_seconds Gateway call latency, request "
				    "received to reply finished.\n"
				    "# TYPE tracelamp_gateway_request_duration_seconds histogram\n");
	for (size_t i = 0; !rc && i < m->n_calls; i++)
		rc = render_hist(b, "tracelamp_gateway_request_duration_seconds", &m->calls[i], m->calls[i].dur_b,
				 m->calls[i].dur_n, m->calls[i].dur_sum);
	if (!rc)
		rc = tl_buf_puts(b, "# HELP tracelamp_gateway_time_to_first_chunk_seconds Streaming calls: request "
				    "received to first chunk forwarded.\n"
				    "# TYPE tracelamp_gateway_time_to_first_chunk_seconds histogram\n");
	for (size_t i = 0; !rc && i < m->n_calls; i++)
		if (m->calls[i].ttfc_n)
			rc = render_hist(b, "tracelamp_gateway_time_to_first_chunk_seconds", &m->calls[i],
					 m->calls[i].ttfc_b, m->calls[i].ttfc_n, m->calls[i].ttfc_sum);
	if (!rc)
		rc = render_counts(b, "tracelamp_gateway_upstream_errors_total",
				   "Failed upstream attempts (connect, timeout, 429, 5xx, ...).", &m->up_errors, un);
	if (!rc)
		rc = render_counts(b, "tracelamp_gateway_fallbacks_total", "Escalations from one upstream to the next.",
				   &m->fallbacks, fn);
	if (!rc)
		rc = render_counts(b, "tracelamp_gateway_refused_total",
				   "Requests the gateway answered itself (auth, budget, limits, bad requests).",
				   &m->refused, tn);
	if (!rc)
		rc = tl_buf_printf(b, "# HELP tracelamp_gateway_inflight Calls in flight.\n"
				      "# TYPE tracelamp_gateway_inflight gauge\ntracelamp_gateway_inflight %lld\n",
				   (long long)m->inflight);
	pthread_mutex_unlock(&m->mu);
	return rc;
}
