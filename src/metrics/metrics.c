/*
 * metrics.c - the daemon's Prometheus metrics (docs/metrics.md): receiver
 * counters, LLM metrics observed from normalised batches (OTel GenAI metric
 * names after the OTLP->Prometheus translation of protocols.md 7.3), the store's
 * metrics and process metrics, rendered in text format 0.0.4.
 *
 * Plain counters are atomics. The LLM series live in one table under one mutex;
 * metrics_observe_batch scans the batch without the lock and takes it once for
 * the LLM spans. Label values are bounded: at most max_models models (first come
 * keeps its slot, later ones fold into "other"), and fixed caps for providers,
 * operations and error types.
 */
#include "metrics/metrics_int.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define N_BOUNDS 14
#define MAX_LABEL_BYTES 128
#define MAX_PROVIDERS 32
#define MAX_OPERATIONS 32
#define MAX_ERROR_TYPES 16
#define MAX_SERIES 20000
#define MAX_REQUEST_KEYS 64

static const double token_bounds[N_BOUNDS] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144,
					      1048576, 4194304, 16777216, 67108864};
static const double duration_bounds[N_BOUNDS] = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
						 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};

enum { TT_INPUT, TT_OUTPUT, TT_CACHE_READ, TT_CACHE_WRITE, TT_REASONING, TT__N };
static const char *const token_type_names[TT__N] = {"input", "output", "cache_read", "cache_write", "reasoning"};

static const char *const refuse_names[METRICS_REFUSE__N] = {
    "malformed", "too_large", "unsupported_media_type", "busy", "store_error", "shutdown",
};

/* Non-cumulative bucket counts; the last one is +Inf. */
struct hist {
	uint64_t b[N_BOUNDS + 1];
	double sum;
	uint64_t count;
};

/* Label values interned to small indices, with a cap and a fold-over value. */
struct interner {
	char **names;     /* cap + 1 slots; never moved, so render may borrow them */
	uint32_t n, cap;  /* cap excludes the fold slot */
	uint32_t fold;    /* index of the fold value, UINT32_MAX until first used */
	const char *fold_name;
	uint32_t *table;  /* open addressing: index + 1, 0 = empty */
	uint32_t tsize;   /* power of two */
};

struct llm_series {
	uint32_t model, provider, op, err; /* err: 0 = not an error, else error type + 1 */
	struct hist tokens[TT__N];
	struct hist duration;
	uint64_t calls;
	int64_t cost_nusd;
	uint64_t price_unknown;
};

struct request_key {
	char transport[16];
	char signal[16];
	int code;
	uint64_t n;
};

struct metrics {
	pthread_mutex_t mu;
	struct interner models, providers, ops, errs;
	struct llm_series *series;
	uint32_t n_series, cap_series;
	uint32_t *stable;  /* series hash: index + 1 */
	uint32_t stsize;
	struct request_key req[MAX_REQUEST_KEYS];
	uint32_t n_req;
	_Atomic uint64_t spans_accepted;
	_Atomic uint64_t spans_refused[METRICS_REFUSE__N];
	_Atomic uint64_t bytes;
	_Atomic uint64_t unknown_attrs;
	double start_time_s;
	struct otlp_series *otlp; /* OTLP metrics re-exposed (otlp_series.c) */
};

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		abort();
	return p;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t s = 16;
	while (s < n && s < (1u << 30))
		s <<= 1;
	return s;
}

static void interner_init(struct interner *in, uint32_t cap, const char *fold_name)
{
	in->cap = cap;
	in->n = 0;
	in->fold = UINT32_MAX;
	in->fold_name = fold_name;
	in->names = xcalloc((size_t)cap + 1, sizeof *in->names);
	in->tsize = pow2_at_least(2 * ((uint64_t)cap + 1));
	in->table = xcalloc(in->tsize, sizeof *in->table);
}

static void interner_cleanup(struct interner *in)
{
	for (uint32_t i = 0; in->names && i < in->n; i++)
		free(in->names[i]);
	free(in->names);
	free(in->table);
}

/* Cuts a label value to MAX_LABEL_BYTES without splitting a UTF-8 sequence. */
static size_t label_len(const char *p, size_t n)
{
	if (n <= MAX_LABEL_BYTES)
		return n;
	n = MAX_LABEL_BYTES;
	while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static uint32_t intern_raw(struct interner *in, const char *p, size_t n, int count)
{
	uint32_t mask = in->tsize - 1;
	uint32_t i = (uint32_t)hash_bytes(p, n) & mask;
	for (;;) {
		uint32_t slot = in->table[i];
		if (!slot)
			break;
		const char *s = in->names[slot - 1];
		if (strlen(s) == n && memcmp(s, p, n) == 0)
			return slot - 1;
		i = (i + 1) & mask;
	}
	if (count && in->n >= in->cap) {
		if (in->fold == UINT32_MAX)
			in->fold = intern_raw(in, in->fold_name, strlen(in->fold_name), 0);
		return in->fold;
	}
	char *copy = malloc(n + 1);
	if (!copy)
		abort();
	memcpy(copy, p, n);
	copy[n] = 0;
	in->names[in->n] = copy;
	in->table[i] = in->n + 1;
	return in->n++;
}

/* Returns the index of a label value: its own slot while there is room (the
 * fold value itself is always findable), else the fold value's. */
static uint32_t intern(struct interner *in, struct tl_str v, const char *if_empty)
{
	if (!v.n || !v.p)
		v = tl_str_c(if_empty);
	size_t n = label_len(v.p, v.n);
	if (n == strlen(in->fold_name) && memcmp(v.p, in->fold_name, n) == 0) {
		if (in->fold == UINT32_MAX)
			in->fold = intern_raw(in, in->fold_name, n, 0);
		return in->fold;
	}
	return intern_raw(in, v.p, n, 1);
}

struct metrics *metrics_create(uint32_t max_models)
{
	struct metrics *m = xcalloc(1, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
	interner_init(&m->models, max_models, "other");
	interner_init(&m->providers, MAX_PROVIDERS, "other");
	interner_init(&m->ops, MAX_OPERATIONS, "other");
	interner_init(&m->errs, MAX_ERROR_TYPES, "_OTHER");
	m->stsize = 1024;
	m->stable = xcalloc(m->stsize, sizeof *m->stable);
	m->otlp = metrics__series_create();

	/* Process start: /proc/self/stat starttime (clock ticks after boot) plus
	 * the boot time; the creation time when /proc is unavailable. */
	m->start_time_s = (double)tl_now_unix_nano() / 1e9;
	FILE *f = fopen("/proc/self/stat", "r");
	char line[1024];
	unsigned long long start_ticks = 0, btime = 0;
	if (f) {
		size_t n = fread(line, 1, sizeof line - 1, f);
		line[n] = 0;
		fclose(f);
		char *p = strrchr(line, ')');
		for (int field = 2; p && *p && field < 22; field++) {
			p = strchr(p + 1, ' ');
			if (p && field == 21)
				start_ticks = strtoull(p + 1, NULL, 10);
		}
	}
	f = fopen("/proc/stat", "r");
	if (f) {
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "btime ", 6) == 0)
				btime = strtoull(line + 6, NULL, 10);
		fclose(f);
	}
	long hz = sysconf(_SC_CLK_TCK);
	if (start_ticks && btime && hz > 0)
		m->start_time_s = (double)btime + (double)start_ticks / (double)hz;
	return m;
}

void metrics_destroy(struct metrics *m)
{
	if (!m)
		return;
	interner_cleanup(&m->models);
	interner_cleanup(&m->providers);
	interner_cleanup(&m->ops);
	interner_cleanup(&m->errs);
	free(m->series);
	free(m->stable);
	metrics__series_destroy(m->otlp);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

struct otlp_series *metrics__series(struct metrics *m)
{
	return m->otlp;
}

/* ---- receiver counters ---- */

void metrics_request(struct metrics *m, const char *transport, const char *signal, int status)
{
	pthread_mutex_lock(&m->mu);
	struct request_key *k = NULL;
	for (uint32_t i = 0; i < m->n_req && !k; i++)
		if (m->req[i].code == status && strcmp(m->req[i].transport, transport) == 0 &&
		    strcmp(m->req[i].signal, signal) == 0)
			k = &m->req[i];
	if (!k && m->n_req < MAX_REQUEST_KEYS) {
		k = &m->req[m->n_req++];
		snprintf(k->transport, sizeof k->transport, "%s", transport);
		snprintf(k->signal, sizeof k->signal, "%s", signal);
		k->code = status;
	}
	if (k)
		k->n++;
	pthread_mutex_unlock(&m->mu);
}

void metrics_spans_accepted(struct metrics *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->spans_accepted, n, memory_order_relaxed);
}

void metrics_spans_refused(struct metrics *m, int reason, uint64_t n)
{
	if (reason < 0 || reason >= METRICS_REFUSE__N)
		reason = METRICS_REFUSE_MALFORMED;
	atomic_fetch_add_explicit(&m->spans_refused[reason], n, memory_order_relaxed);
}

void metrics_bytes_received(struct metrics *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->bytes, n, memory_order_relaxed);
}

/* ---- LLM metrics ---- */

/* Inference operations are LLM calls; agents, tools, retrieval and workflows are
 * not (their token counts, if any, repeat their children's). A GenAI span with a
 * model and no operation counts as an LLM call. */
static int is_llm_span(const struct tl_span *s)
{
	static const char *const ops[] = {"chat", "text_completion", "generate_content", "embeddings"};
	const struct tl_genai *g = &s->genai;
	if (!g->is_genai)
		return 0;
	if (!g->operation.n)
		return g->request_model.n || g->response_model.n;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (tl_str_eq_c(g->operation, ops[i]))
			return 1;
	return 0;
}

static void hist_observe(struct hist *h, const double *bounds, double v)
{
	size_t i = 0;
	while (i < N_BOUNDS && v > bounds[i])
		i++;
	h->b[i]++;
	h->sum += v;
	h->count++;
}

static uint64_t series_hash(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15ull;
	h ^= (uint64_t)b * 0xC2B2AE3D27D4EB4Full + (h << 6);
	h ^= (uint64_t)c * 0x165667B19E3779F9ull + (h >> 3);
	h ^= (uint64_t)d * 0x27D4EB2F165667C5ull + (h << 7);
	return h ^ (h >> 29);
}

static void series_rehash(struct metrics *m)
{
	uint32_t size = m->stsize * 2;
	uint32_t *t = xcalloc(size, sizeof *t);
	for (uint32_t k = 0; k < m->n_series; k++) {
		const struct llm_series *s = &m->series[k];
		uint32_t i = (uint32_t)series_hash(s->model, s->provider, s->op, s->err) & (size - 1);
		while (t[i])
			i = (i + 1) & (size - 1);
		t[i] = k + 1;
	}
	free(m->stable);
	m->stable = t;
	m->stsize = size;
}

/* Finds or creates a series (under m->mu). Past MAX_SERIES new keys fold into
 * the all-"other" series so memory stays bounded. */
static struct llm_series *series_get(struct metrics *m, uint32_t model, uint32_t provider, uint32_t op, uint32_t err)
{
	for (int pass = 0; pass < 2; pass++) {
		uint32_t mask = m->stsize - 1;
		uint32_t i = (uint32_t)series_hash(model, provider, op, err) & mask;
		while (m->stable[i]) {
			struct llm_series *s = &m->series[m->stable[i] - 1];
			if (s->model == model && s->provider == provider && s->op == op && s->err == err)
				return s;
			i = (i + 1) & mask;
		}
		if (m->n_series >= MAX_SERIES && pass == 0) {
			model = intern(&m->models, TL_STR_LIT("other"), "");
			provider = intern(&m->providers, TL_STR_LIT("other"), "");
			op = intern(&m->ops, TL_STR_LIT("other"), "");
			err = err ? intern(&m->errs, TL_STR_LIT("_OTHER"), "") + 1 : 0;
			continue;
		}
		if (m->n_series == m->cap_series) {
			uint32_t cap = m->cap_series ? m->cap_series * 2 : 64;
			struct llm_series *ns = realloc(m->series, (size_t)cap * sizeof *ns);
			if (!ns)
				abort();
			m->series = ns;
			m->cap_series = cap;
		}
		struct llm_series *s = &m->series[m->n_series];
		memset(s, 0, sizeof *s);
		s->model = model;
		s->provider = provider;
		s->op = op;
		s->err = err;
		m->stable[i] = ++m->n_series;
		if ((uint64_t)m->n_series * 2 > m->stsize)
			series_rehash(m);
		return s;
	}
	return NULL; /* not reached: the fold series is created on the second pass */
}

/* error.type of an error span: the attribute when it is a string, else "_OTHER". */
static struct tl_str error_type(const struct tl_span *s)
{
	for (uint32_t i = 0; i < s->attrs.n; i++) {
		const struct tl_kv *kv = &s->attrs.items[i];
		if (tl_str_eq_c(kv->key, "error.type") && kv->v.kind == TL_V_STR && kv->v.u.s.n)
			return kv->v.u.s;
	}
	return TL_STR_LIT("_OTHER");
}

static void observe_span(struct metrics *m, const struct tl_span *sp)
{
	const struct tl_genai *g = &sp->genai;
	struct tl_str model = g->request_model.n ? g->request_model : g->response_model;
	uint32_t mi = intern(&m->models, model, "unknown");
	uint32_t pi = intern(&m->providers, g->provider, "unknown");
	uint32_t oi = intern(&m->ops, g->operation, "unknown");
	uint32_t ei = sp->status_code == TL_STATUS_ERROR ? intern(&m->errs, error_type(sp), "_OTHER") + 1 : 0;
	struct llm_series *s = series_get(m, mi, pi, oi, ei);
	const int64_t tok[TT__N] = {g->input_tokens, g->output_tokens, g->cache_read_tokens, g->cache_write_tokens,
				    g->reasoning_tokens};
	for (int t = 0; t < TT__N; t++)
		if (tok[t] >= 0) /* TL_NONE = not reported */
			hist_observe(&s->tokens[t], token_bounds, (double)tok[t]);
	if (sp->end_unix_nano >= sp->start_unix_nano && sp->start_unix_nano)
		hist_observe(&s->duration, duration_bounds, (double)(sp->end_unix_nano - sp->start_unix_nano) / 1e9);
	s->calls++;
	if (g->cost_nusd != TL_NONE)
		s->cost_nusd += g->cost_nusd;
	if (g->price_unknown)
		s->price_unknown++;
}

void metrics_observe_batch(struct metrics *m, const struct tl_batch *b)
{
	uint64_t unknown = 0;
	size_t llm = 0;
	for (size_t i = 0; i < b->n_spans; i++) {
		unknown += b->spans[i].genai.unknown_genai_attrs;
		llm += (size_t)is_llm_span(&b->spans[i]);
	}
	if (unknown)
		atomic_fetch_add_explicit(&m->unknown_attrs, unknown, memory_order_relaxed);
	if (!llm)
		return;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < b->n_spans; i++)
		if (is_llm_span(&b->spans[i]))
			observe_span(m, &b->spans[i]);
	pthread_mutex_unlock(&m->mu);
}

/* ---- rendering ---- */

struct render {
	struct tl_buf *out;
	int err;
};

static void emit(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct render *r, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	if (r->err)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		r->err = TL_EINVAL; /* only fixed-format text goes through here */
		return;
	}
	int rc = tl_buf_append(r->out, tmp, (size_t)n);
	if (rc)
		r->err = rc;
}

static void emit_raw(struct render *r, const char *p, size_t n)
{
	if (r->err)
		return;
	int rc = tl_buf_append(r->out, p, n);
	if (rc)
		r->err = rc;
}

static void family(struct render *r, const char *name, const char *type, const char *help)
{
	emit(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with the text format's escapes (backslash, quote, newline). */
static void emit_label_value(struct render *r, const char *v)
{
	const char *run = v;
	emit_raw(r, "\"", 1);
	for (const char *c = v; *c; c++) {
		const char *esc = *c == '\\' ? "\\\\" : *c == '"' ? "\\\"" : *c == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		emit_raw(r, run, (size_t)(c - run));
		emit_raw(r, esc, 2);
		run = c + 1;
	}
	emit_raw(r, run, strlen(run));
	emit_raw(r, "\"", 1);
}

/* Label sets are written as name/value pairs; NULL names end the list. */
struct label {
	const char *name, *value;
};

static void emit_labels(struct render *r, const struct label *l, size_t n, const char *le)
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		if (!l[i].name)
			continue;
		emit_raw(r, any ? "," : "{", 1);
		emit(r, "%s=", l[i].name);
		emit_label_value(r, l[i].value);
		any = 1;
	}
	if (le) {
		emit_raw(r, any ? "," : "{", 1);
		emit(r, "le=\"%s\"", le);
		any = 1;
	}
	if (any)
		emit_raw(r, "}", 1);
}

static void fmt_double(char *out, size_t outlen, double v)
{
	if (isnan(v)) {
		snprintf(out, outlen, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, outlen, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void emit_sample_u64(struct render *r, const char *name, const struct label *l, size_t n, uint64_t v)
{
	emit(r, "%s", name);
	emit_labels(r, l, n, NULL);
	emit(r, " %" PRIu64 "\n", v);
}

static void emit_sample_double(struct render *r, const char *name, const struct label *l, size_t n, double v)
{
	char num[40];
	fmt_double(num, sizeof num, v);
	emit(r, "%s", name);
	emit_labels(r, l, n, NULL);
	emit(r, " %s\n", num);
}

/* Nano-USD as a decimal with up to 9 fraction digits (exact, no float). */
static void emit_sample_nusd(struct render *r, const char *name, const struct label *l, size_t n, int64_t nusd)
{
	uint64_t mag = nusd < 0 ? (uint64_t)0 - (uint64_t)nusd : (uint64_t)nusd;
	char fr[16];
	snprintf(fr, sizeof fr, "%09" PRIu64, mag % 1000000000u);
	size_t fl = 9;
	while (fl > 1 && fr[fl - 1] == '0')
		fl--;
	fr[fl] = 0;
	emit(r, "%s", name);
	emit_labels(r, l, n, NULL);
	emit(r, " %s%" PRIu64 ".%s\n", nusd < 0 ? "-" : "", mag / 1000000000u, fr);
}

/* A histogram from non-cumulative bucket counts (n_bounds finite bounds + one
 * overflow bucket). The +Inf bucket equals _count. */
static void emit_histogram(struct render *r, const char *name, const struct label *l, size_t nl,
			   const double *bounds, size_t n_bounds, const uint64_t *b, double sum, uint64_t count,
			   int sum_integer)
{
	char line[160], le[40];
	uint64_t cum = 0;
	snprintf(line, sizeof line, "%s_bucket", name);
	for (size_t i = 0; i < n_bounds; i++) {
		cum += b[i];
		fmt_double(le, sizeof le, bounds[i]);
		emit(r, "%s", line);
		emit_labels(r, l, nl, le);
		emit(r, " %" PRIu64 "\n", cum);
	}
	cum += b[n_bounds];
	if (count < cum)
		count = cum;
	emit(r, "%s", line);
	emit_labels(r, l, nl, "+Inf");
	emit(r, " %" PRIu64 "\n", count);
	snprintf(line, sizeof line, "%s_sum", name);
	if (sum_integer)
		emit_sample_u64(r, line, l, nl, (uint64_t)sum);
	else
		emit_sample_double(r, line, l, nl, sum);
	snprintf(line, sizeof line, "%s_count", name);
	emit_sample_u64(r, line, l, nl, count);
}

static void hist_add(struct hist *a, const struct hist *b)
{
	for (size_t i = 0; i <= N_BOUNDS; i++)
		a->b[i] += b->b[i];
	a->sum += b->sum;
	a->count += b->count;
}

/* Sort context: qsort has no user pointer, so names travel in each element. */
struct sorted {
	const struct llm_series *s;
	const char *model, *provider, *op, *err;
};

static int cmp_sorted(const void *pa, const void *pb)
{
	const struct sorted *a = pa, *b = pb;
	int c = strcmp(a->model, b->model);
	if (!c)
		c = strcmp(a->provider, b->provider);
	if (!c)
		c = strcmp(a->op, b->op);
	if (!c)
		c = (a->s->err > 0) - (b->s->err > 0); /* ok before error */
	if (!c)
		c = strcmp(a->err, b->err);
	return c;
}

static void render_llm(struct render *r, struct sorted *v, size_t n)
{
	size_t i, j;

	family(r, "gen_ai_client_token_usage", "histogram",
	       "Tokens used per LLM call by token type (input, output; cache_read, cache_write, reasoning are "
	       "subsets of input/output).");
	for (i = 0; i < n; i = j) {
		struct hist agg[TT__N];
		memset(agg, 0, sizeof agg);
		for (j = i; j < n && v[j].model == v[i].model && v[j].provider == v[i].provider && v[j].op == v[i].op; j++)
			for (int t = 0; t < TT__N; t++)
				hist_add(&agg[t], &v[j].s->tokens[t]);
		for (int t = 0; t < TT__N; t++) {
			if (!agg[t].count)
				continue;
			struct label l[] = {{"gen_ai_operation_name", v[i].op}, {"gen_ai_provider_name", v[i].provider},
					    {"gen_ai_request_model", v[i].model}, {"gen_ai_token_type", token_type_names[t]}};
			emit_histogram(r, "gen_ai_client_token_usage", l, 4, token_bounds, N_BOUNDS, agg[t].b, agg[t].sum,
				       agg[t].count, 1);
		}
	}

	family(r, "gen_ai_client_operation_duration_seconds", "histogram",
	       "Duration of LLM calls in seconds (error_type set on failed calls).");
	for (i = 0; i < n; i++) {
		const struct hist *h = &v[i].s->duration;
		if (!h->count)
			continue;
		struct label l[] = {{v[i].s->err ? "error_type" : NULL, v[i].err}, {"gen_ai_operation_name", v[i].op},
				    {"gen_ai_provider_name", v[i].provider}, {"gen_ai_request_model", v[i].model}};
		emit_histogram(r, "gen_ai_client_operation_duration_seconds", l, 4, duration_bounds, N_BOUNDS, h->b,
			       h->sum, h->count, 0);
	}

	family(r, "tracelamp_llm_calls_total", "counter", "LLM calls by model, provider, operation and status.");
	for (i = 0; i < n; i = j) {
		uint64_t calls = 0;
		int is_err = v[i].s->err > 0;
		for (j = i; j < n && v[j].model == v[i].model && v[j].provider == v[i].provider && v[j].op == v[i].op &&
			    (v[j].s->err > 0) == is_err;
		     j++)
			calls += v[j].s->calls;
		struct label l[] = {{"model", v[i].model}, {"operation", v[i].op}, {"provider", v[i].provider},
				    {"status", is_err ? "error" : "ok"}};
		emit_sample_u64(r, "tracelamp_llm_calls_total", l, 4, calls);
	}

	family(r, "tracelamp_llm_cost_usd_total", "counter",
	       "Cost of LLM calls in USD, summed over calls whose cost is known.");
	for (i = 0; i < n; i = j) {
		int64_t cost = 0;
		for (j = i; j < n && v[j].model == v[i].model && v[j].provider == v[i].provider; j++)
			cost += v[j].s->cost_nusd;
		struct label l[] = {{"model", v[i].model}, {"provider", v[i].provider}};
		emit_sample_nusd(r, "tracelamp_llm_cost_usd_total", l, 2, cost);
	}

	family(r, "tracelamp_llm_price_unknown_total", "counter",
	       "LLM calls with token usage whose model has no price (cost unknown).");
	for (i = 0; i < n; i = j) {
		uint64_t c = 0;
		for (j = i; j < n && v[j].model == v[i].model; j++)
			c += v[j].s->price_unknown;
		if (!c)
			continue;
		struct label l[] = {{"model", v[i].model}};
		emit_sample_u64(r, "tracelamp_llm_price_unknown_total", l, 1, c);
	}
}

static void render_store(struct render *r, struct store *store)
{
	struct store_metrics sm;
	double bounds_s[16];
	uint64_t b[17];
	size_t nb = 0;

	memset(&sm, 0, sizeof sm);
	store_get_metrics(store, &sm);
	family(r, "tracelamp_queue_bytes", "gauge", "Bytes of accepted spans queued for the store, not yet committed.");
	emit_sample_u64(r, "tracelamp_queue_bytes", NULL, 0, sm.queue_bytes);
	family(r, "tracelamp_store_database_bytes", "gauge", "Size of the database files on disk.");
	emit_sample_u64(r, "tracelamp_store_database_bytes", NULL, 0, sm.db_bytes);
	family(r, "tracelamp_store_pending_traces", "gauge", "Traces assembled in memory, not yet written.");
	emit_sample_u64(r, "tracelamp_store_pending_traces", NULL, 0, sm.pending_traces);
	family(r, "tracelamp_store_pending_bytes", "gauge", "Memory held by pending traces.");
	emit_sample_u64(r, "tracelamp_store_pending_bytes", NULL, 0, sm.pending_bytes);
	family(r, "tracelamp_store_spans_committed_total", "counter", "Spans durably committed.");
	emit_sample_u64(r, "tracelamp_store_spans_committed_total", NULL, 0, sm.spans_committed);
	family(r, "tracelamp_store_traces_written_total", "counter", "Traces written from memory to their table.");
	emit_sample_u64(r, "tracelamp_store_traces_written_total", NULL, 0, sm.traces_written);
	family(r, "tracelamp_store_retention_deleted_total", "counter", "Traces deleted by retention (age or size).");
	emit_sample_u64(r, "tracelamp_store_retention_deleted_total", NULL, 0, sm.retention_deleted);

	/* Bounds must increase strictly and be finite; a bucket whose bound breaks
	 * that is merged into the next one (the overflow bucket at the end). */
	memset(b, 0, sizeof b);
	for (size_t i = 0; i < 16; i++) {
		double s = store_commit_bounds_ms[i] / 1000.0;
		if (isfinite(s) && (nb == 0 || s > bounds_s[nb - 1])) {
			bounds_s[nb] = s;
			b[nb++] += sm.commit_latency_buckets[i];
		} else {
			b[nb] += sm.commit_latency_buckets[i];
		}
	}
	family(r, "tracelamp_store_commit_duration_seconds", "histogram", "Duration of group commits in seconds.");
	emit_histogram(r, "tracelamp_store_commit_duration_seconds", NULL, 0, bounds_s, nb, b, sm.commit_latency_sum_s,
		       sm.commits, 0);
}

static void render_process(struct render *r, double start_time_s)
{
	uint64_t rss = 0;
	double cpu = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		unsigned long long size = 0, res = 0;
		if (fscanf(f, "%llu %llu", &size, &res) == 2)
			rss = (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	f = fopen("/proc/self/stat", "r");
	if (f) {
		char line[1024];
		size_t n = fread(line, 1, sizeof line - 1, f);
		line[n] = 0;
		fclose(f);
		/* After the ")" closing comm, utime and stime are fields 14 and 15. */
		char *p = strrchr(line, ')');
		unsigned long long ut = 0, st = 0;
		for (int field = 2; p && *p && field < 15; field++) {
			p = strchr(p + 1, ' ');
			if (p && field == 13)
				ut = strtoull(p + 1, NULL, 10);
			if (p && field == 14)
				st = strtoull(p + 1, NULL, 10);
		}
		long hz = sysconf(_SC_CLK_TCK);
		if (hz > 0)
			cpu = (double)(ut + st) / (double)hz;
	}
	family(r, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	emit_sample_u64(r, "process_resident_memory_bytes", NULL, 0, rss);
	family(r, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
	emit_sample_double(r, "process_start_time_seconds", NULL, 0, floor(start_time_s * 1000.0) / 1000.0);
	family(r, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
	emit_sample_double(r, "process_cpu_seconds_total", NULL, 0, cpu);
}

int metrics_render(struct metrics *m, struct store *store, const struct metrics_gauges *g, struct tl_buf *out)
{
	struct render r = {.out = out};
	struct llm_series *copy = NULL;
	struct sorted *v = NULL;
	struct request_key req[MAX_REQUEST_KEYS];
	uint32_t n = 0, n_req;

	/* Snapshot under the lock; format without it. Interned names are never
	 * freed or moved before metrics_destroy, so borrowing them is safe. */
	pthread_mutex_lock(&m->mu);
	n = m->n_series;
	if (n) {
		copy = malloc((size_t)n * sizeof *copy);
		if (!copy)
			abort();
		memcpy(copy, m->series, (size_t)n * sizeof *copy);
	}
	n_req = m->n_req;
	memcpy(req, m->req, sizeof req);
	v = xcalloc(n, sizeof *v);
	for (uint32_t i = 0; i < n; i++) {
		v[i].s = &copy[i];
		v[i].model = m->models.names[copy[i].model];
		v[i].provider = m->providers.names[copy[i].provider];
		v[i].op = m->ops.names[copy[i].op];
		v[i].err = copy[i].err ? m->errs.names[copy[i].err - 1] : "";
	}
	pthread_mutex_unlock(&m->mu);
	qsort(v, n, sizeof *v, cmp_sorted);
	/* Equal names are the same interned pointer, so the group walks in
	 * render_llm may compare pointers. */

	family(&r, "tracelamp_receiver_requests_total", "counter", "OTLP export requests by transport, signal and response code.");
	for (uint32_t i = 0; i < n_req; i++) {
		char code[16];
		snprintf(code, sizeof code, "%d", req[i].code);
		struct label l[] = {{"code", code}, {"signal", req[i].signal}, {"transport", req[i].transport}};
		emit_sample_u64(&r, "tracelamp_receiver_requests_total", l, 3, req[i].n);
	}
	family(&r, "tracelamp_receiver_spans_accepted_total", "counter", "Spans accepted (acknowledged after commit).");
	emit_sample_u64(&r, "tracelamp_receiver_spans_accepted_total", NULL, 0,
			atomic_load_explicit(&m->spans_accepted, memory_order_relaxed));
	family(&r, "tracelamp_receiver_spans_refused_total", "counter", "Spans refused, by reason.");
	for (int i = 0; i < METRICS_REFUSE__N; i++) {
		struct label l[] = {{"reason", refuse_names[i]}};
		emit_sample_u64(&r, "tracelamp_receiver_spans_refused_total", l, 1,
				atomic_load_explicit(&m->spans_refused[i], memory_order_relaxed));
	}
	family(&r, "tracelamp_receiver_bytes_total", "counter", "Bytes of OTLP request bodies received (as sent, before decompression).");
	emit_sample_u64(&r, "tracelamp_receiver_bytes_total", NULL, 0, atomic_load_explicit(&m->bytes, memory_order_relaxed));
	family(&r, "tracelamp_memory_in_use_bytes", "gauge", "Bytes of accepted requests not yet committed (admission).");
	emit_sample_u64(&r, "tracelamp_memory_in_use_bytes", NULL, 0, g ? g->memory_in_use : 0);
	family(&r, "tracelamp_memory_budget_bytes", "gauge", "The admission memory budget in bytes.");
	emit_sample_u64(&r, "tracelamp_memory_budget_bytes", NULL, 0, g ? g->memory_budget : 0);
	if (store)
		render_store(&r, store);
	render_llm(&r, v, n);
	family(&r, "tracelamp_genai_unknown_attributes_total", "counter",
	       "GenAI-looking attributes the normaliser did not understand.");
	emit_sample_u64(&r, "tracelamp_genai_unknown_attributes_total", NULL, 0,
			atomic_load_explicit(&m->unknown_attrs, memory_order_relaxed));
	render_process(&r, m->start_time_s);
	if (!r.err)
		r.err = metrics__series_render(m->otlp, tl_now_unix_nano(), out);
	free(v);
	free(copy);
	return r.err;
}
