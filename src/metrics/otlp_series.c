/*
 * otlp_series.c - OTLP metrics re-exposed on /metrics (docs/metrics.md, "OTLP
 * metrics"): a bounded table of series, one per (Prometheus family, label set),
 * holding cumulative state, rendered after the daemon's own families.
 *
 * Translation (protocols.md 7.3): names sanitised to [a-zA-Z0-9_:] with runs
 * of '_' collapsed, an optional namespace prefix, a unit suffix from the UCUM
 * unit (braces dropped, "1" -> ratio for gauges), _total on counters; point
 * attributes become labels (sanitised, colliding keys joined with ';'), the
 * resource gives job (service.namespace/service.name) and instance
 * (service.instance.id) and its other attributes go to target_info; scope name
 * and version become otel_scope_name / otel_scope_version. Delta points are
 * added to a running total; cumulative points and gauges replace the value.
 * Exponential histograms are exposed as histograms with only the +Inf bucket,
 * _sum and _count (their bucket layout changes scale over time; converting it
 * to fixed classic buckets would misplace counts).
 *
 * One mutex guards the table; ingest and render take it once each.
 */
#include "metrics/metrics_int.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TTL_NS (300ull * 1000000000ull)
#define DEFAULT_LIMIT 10000u
#define MAX_NAME 200
#define MAX_LABELS 64
#define MAX_VALUE 256
#define MAX_HELP 300

enum ftype { FT_COUNTER, FT_GAUGE, FT_HISTOGRAM, FT_SUMMARY };
static const char *const FT_NAMES[] = {"counter", "gauge", "histogram", "summary"};

enum drop_reason { DROP_LIMIT, DROP_NAME, DROP_TYPE, DROP__N };
static const char *const DROP_NAMES[] = {"limit", "name_collision", "type_conflict"};

struct fam {
	char *name;
	char *help;
	int type; /* enum ftype */
	uint32_t n_series;
};

struct ser {
	struct fam *fam;
	char *labels;      /* rendered: a="x",b="y" (may be empty) */
	uint64_t hash;
	uint64_t last_seen;
	uint64_t start, time;
	uint64_t delta_start, delta_time; /* last delta applied (retry detection) */
	int is_double;
	int64_t ival;
	double dval;
	uint32_t nb;       /* histogram: finite bounds; counts has nb + 1 */
	double *bounds;
	uint64_t *counts;
	double sum;
	uint64_t count;
	uint32_t nq;
	struct tl_quantile *q;
};

struct otlp_series {
	pthread_mutex_t mu;
	char ns[64];
	uint64_t ttl_ns;
	uint32_t limit;
	struct ser *v;
	uint32_t n, cap;
	uint32_t *index;   /* open addressing: series index + 1 */
	uint32_t isize;
	struct fam **fams;
	uint32_t n_fams, cap_fams;
	uint64_t dropped[DROP__N];
	uint64_t next_expiry;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s);
	char *p = xmalloc(n + 1);
	memcpy(p, s, n + 1);
	return p;
}

struct otlp_series *metrics__series_create(void)
{
	struct otlp_series *t = xcalloc(1, sizeof *t);
	pthread_mutex_init(&t->mu, NULL);
	t->ttl_ns = DEFAULT_TTL_NS;
	t->limit = DEFAULT_LIMIT;
	return t;
}

static void ser_free(struct ser *s)
{
	free(s->labels);
	free(s->bounds);
	free(s->counts);
	free(s->q);
}

void metrics__series_destroy(struct otlp_series *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n; i++)
		ser_free(&t->v[i]);
	for (uint32_t i = 0; i < t->n_fams; i++) {
		free(t->fams[i]->name);
		free(t->fams[i]->help);
		free(t->fams[i]);
	}
	free(t->fams);
	free(t->v);
	free(t->index);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void metrics_set_namespace(struct metrics *m, const char *ns)
{
	struct otlp_series *t = metrics__series(m);
	size_t k = 0;
	pthread_mutex_lock(&t->mu);
	for (const char *c = ns ? ns : ""; *c && k + 1 < sizeof t->ns; c++) {
		int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_';
		t->ns[k++] = ok ? *c : '_';
	}
	t->ns[k] = 0;
	pthread_mutex_unlock(&t->mu);
}

void metrics_set_series_ttl(struct metrics *m, uint64_t ttl_ns)
{
	struct otlp_series *t = metrics__series(m);
	pthread_mutex_lock(&t->mu);
	t->ttl_ns = ttl_ns;
	t->next_expiry = 0;
	pthread_mutex_unlock(&t->mu);
}

void metrics_set_series_limit(struct metrics *m, uint32_t max)
{
	struct otlp_series *t = metrics__series(m);
	pthread_mutex_lock(&t->mu);
	t->limit = max;
	pthread_mutex_unlock(&t->mu);
}

/* ---- names ------------------------------------------------------------------ */

/* Appends src (n bytes) sanitised to [a-zA-Z0-9_:] (labels: no ':'), collapsing
 * runs of '_'. */
static void sanitise_into(char *out, size_t cap, size_t *len, const char *src, size_t n, int label)
{
	for (size_t i = 0; i < n && *len + 1 < cap; i++) {
		char c = src[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (!label && c == ':');
		if (!ok)
			c = '_';
		if (c == '_' && *len && out[*len - 1] == '_')
			continue;
		out[(*len)++] = c;
	}
	out[*len] = 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !memcmp(s + a - b, suffix, b);
}

static const struct {
	const char *ucum, *word;
} UNITS[] = {
    {"d", "days"},        {"h", "hours"},         {"min", "minutes"},   {"s", "seconds"},     {"ms", "milliseconds"},
    {"us", "microseconds"}, {"ns", "nanoseconds"}, {"By", "bytes"},     {"KiBy", "kibibytes"}, {"MiBy", "mebibytes"},
    {"GiBy", "gibibytes"}, {"TiBy", "tebibytes"}, {"KBy", "kilobytes"}, {"MBy", "megabytes"}, {"GBy", "gigabytes"},
    {"TBy", "terabytes"},  {"m", "meters"},       {"V", "volts"},       {"A", "amperes"},     {"J", "joules"},
    {"W", "watts"},        {"g", "grams"},        {"Cel", "celsius"},   {"Hz", "hertz"},      {"%", "percent"},
};

static const struct {
	const char *ucum, *word;
} PER_UNITS[] = {
    {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"}, {"w", "week"}, {"mo", "month"}, {"y", "year"},
};

/* The word for one unit term (braces already removed), sanitised. */
static void unit_word(const char *u, size_t n, int per, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	if (per) {
		for (size_t i = 0; i < sizeof PER_UNITS / sizeof PER_UNITS[0]; i++)
			if (strlen(PER_UNITS[i].ucum) == n && !memcmp(PER_UNITS[i].ucum, u, n)) {
				snprintf(out, cap, "%s", PER_UNITS[i].word);
				return;
			}
	}
	for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
		if (strlen(UNITS[i].ucum) == n && !memcmp(UNITS[i].ucum, u, n)) {
			snprintf(out, cap, "%s", UNITS[i].word);
			return;
		}
	sanitise_into(out, cap, &len, u, n, 1);
	/* trim '_' at either end ("{x}.y" leftovers) */
	while (len && out[len - 1] == '_')
		out[--len] = 0;
	if (out[0] == '_')
		memmove(out, out + 1, len);
}

/* The unit suffix for a UCUM unit: "s" -> seconds, "{token}" -> "", "By/s" ->
 * bytes_per_second, "1" -> ratio for gauges (nothing otherwise). */
static void unit_suffix(struct tl_str unit, int gauge, char *out, size_t cap)
{
	char u[128], a[64], b[64];
	size_t n = 0;
	const char *slash;
	out[0] = 0;
	/* drop {annotations} */
	for (size_t i = 0, depth = 0; i < unit.n && n + 1 < sizeof u; i++) {
		if (unit.p[i] == '{')
			depth++;
		else if (unit.p[i] == '}' && depth)
			depth--;
		else if (!depth)
			u[n++] = unit.p[i];
	}
	u[n] = 0;
	if (!n)
		return;
	if (!strcmp(u, "1")) {
		if (gauge)
			snprintf(out, cap, "ratio");
		return;
	}
	if ((slash = strchr(u, '/'))) {
		unit_word(u, (size_t)(slash - u), 0, a, sizeof a);
		unit_word(slash + 1, strlen(slash + 1), 1, b, sizeof b);
		if (!b[0])
			snprintf(out, cap, "%s", a);
		else
			snprintf(out, cap, "%s%sper_%s", a, a[0] ? "_" : "", b);
		return;
	}
	unit_word(u, n, 0, out, cap);
}

/* The daemon's own families (metrics.c): no OTLP family may produce their
 * sample names. Every tracelamp_ name is reserved as well. */
static const char *const RESERVED[] = {
    "gen_ai_client_token_usage",     "gen_ai_client_operation_duration_seconds",
    "process_resident_memory_bytes", "process_start_time_seconds",
    "process_cpu_seconds_total",     "target_info",
};

/* The sample names a family of type ft renders (up to 4). */
static int sample_names(const char *fam, int ft, char out[4][MAX_NAME + 16])
{
	int k = 0;
	snprintf(out[k++], MAX_NAME + 16, "%s", fam);
	if (ft == FT_HISTOGRAM)
		snprintf(out[k++], MAX_NAME + 16, "%s_bucket", fam);
	if (ft == FT_HISTOGRAM || ft == FT_SUMMARY) {
		snprintf(out[k++], MAX_NAME + 16, "%s_sum", fam);
		snprintf(out[k++], MAX_NAME + 16, "%s_count", fam);
	}
	return k;
}

/* 1 if a family named name of type ft would render a sample name that
 * another family (fam of type fft) renders. */
static int clashes(const char *name, int ft, const char *other, int oft)
{
	char a[4][MAX_NAME + 16], b[4][MAX_NAME + 16];
	int na = sample_names(name, ft, a), nb = sample_names(other, oft, b);
	for (int i = 0; i < na; i++)
		for (int j = 0; j < nb; j++)
			if (!strcmp(a[i], b[j]))
				return 1;
	return 0;
}

static int clashes_reserved(const char *name, int ft, int allow_target_info)
{
	if (!strncmp(name, "tracelamp_", 10))
		return 1;
	for (size_t i = 0; i < sizeof RESERVED / sizeof RESERVED[0]; i++) {
		if (allow_target_info && !strcmp(RESERVED[i], "target_info"))
			continue;
		if (clashes(name, ft, RESERVED[i], FT_HISTOGRAM))
			return 1;
	}
	return 0;
}

/* The Prometheus family name of a metric; ft is its family type. */
static void family_name(const struct otlp_series *t, const struct tl_metric *mt, int ft, char *out, size_t cap)
{
	char unit[160];
	size_t len = 0;
	out[0] = 0;
	if (t->ns[0]) {
		sanitise_into(out, cap, &len, t->ns, strlen(t->ns), 0);
		if (len && out[len - 1] != '_')
			sanitise_into(out, cap, &len, "_", 1, 0);
	}
	sanitise_into(out, cap, &len, mt->name.p, mt->name.n, 0);
	if (len && out[0] >= '0' && out[0] <= '9' && len + 1 < cap) {
		memmove(out + 1, out, len + 1);
		out[0] = '_';
		len++;
	}
	if (ft == FT_COUNTER && ends_with(out, "_total"))
		out[len -= 6] = 0;
	unit_suffix(mt->unit, ft == FT_GAUGE, unit, sizeof unit);
	if (unit[0]) {
		char tail[170];
		snprintf(tail, sizeof tail, "_%s", unit);
		if (!ends_with(out, tail) && strcmp(out, unit))
			sanitise_into(out, cap, &len, tail, strlen(tail), 0);
	}
	if (ft == FT_COUNTER)
		sanitise_into(out, cap, &len, "_total", 6, 0);
}

static int family_type(const struct tl_metric *mt)
{
	switch (mt->type) {
	case TL_METRIC_GAUGE:
		return FT_GAUGE;
	case TL_METRIC_SUM:
		return mt->monotonic ? FT_COUNTER : FT_GAUGE;
	case TL_METRIC_HISTOGRAM:
	case TL_METRIC_EXP_HISTOGRAM:
		return FT_HISTOGRAM;
	case TL_METRIC_SUMMARY:
		return FT_SUMMARY;
	}
	return -1;
}

/* Finds or creates the family; NULL (and a drop reason) on a clash. */
static struct fam *family_get(struct otlp_series *t, const char *wanted, int ft, struct tl_str desc, struct tl_str oname,
			      int system, int *reason)
{
	char name[MAX_NAME + 8];
	snprintf(name, sizeof name, "%s", wanted);
	if (!system && clashes_reserved(name, ft, 0)) {
		/* rename: tracelamp_x -> otlp_tracelamp_x, foo_total -> foo_otlp_total,
		 * bar -> bar_otlp */
		if (!strncmp(wanted, "tracelamp_", 10))
			snprintf(name, sizeof name, "otlp_%s", wanted);
		else if (ft == FT_COUNTER && ends_with(wanted, "_total"))
			snprintf(name, sizeof name, "%.*s_otlp_total", (int)(strlen(wanted) - 6), wanted);
		else
			snprintf(name, sizeof name, "%s_otlp", wanted);
		if (clashes_reserved(name, ft, 0)) {
			*reason = DROP_NAME;
			return NULL;
		}
	}
	for (uint32_t i = 0; i < t->n_fams; i++) {
		struct fam *f = t->fams[i];
		if (!strcmp(f->name, name)) {
			if (f->type != ft) {
				*reason = DROP_TYPE;
				return NULL;
			}
			return f;
		}
	}
	for (uint32_t i = 0; i < t->n_fams; i++) {
		if (clashes(name, ft, t->fams[i]->name, t->fams[i]->type)) {
			*reason = DROP_NAME;
			return NULL;
		}
	}
	struct fam *f = xcalloc(1, sizeof *f);
	char help[MAX_HELP + 1];
	struct tl_str h = desc.n ? desc : oname;
	size_t hl = 0;
	if (!desc.n)
		hl = (size_t)snprintf(help, sizeof help, "OTLP metric ");
	for (size_t i = 0; i < h.n && hl + 2 < sizeof help; i++) {
		char c = h.p[i];
		if (c == '\\' || c == '\n') {
			help[hl++] = '\\';
			c = c == '\n' ? 'n' : '\\';
		}
		help[hl++] = c;
	}
	help[hl] = 0;
	f->name = xstrdup(name);
	f->help = xstrdup(help);
	f->type = ft;
	if (t->n_fams == t->cap_fams) {
		t->cap_fams = t->cap_fams ? 2 * t->cap_fams : 16;
		struct fam **nf = realloc(t->fams, t->cap_fams * sizeof *nf);
		if (!nf)
			abort();
		t->fams = nf;
	}
	t->fams[t->n_fams++] = f;
	return f;
}

/* ---- labels ------------------------------------------------------------------ */

struct label {
	char name[MAX_NAME];
	struct tl_str key; /* original key, for ordering joined values */
	char value[MAX_VALUE + 1];
};

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

/* Appends to a bounded string; silently stops at the end. */
struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n && b->n + 1 < b->cap; i++)
		b->p[b->n++] = s[i];
	b->p[b->n] = 0;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* An AnyValue as label text: scalars plainly, arrays and maps as JSON. */
static void value_text(struct sbuf *b, const struct tl_value *v, int quoted, int depth)
{
	char num[48];
	if (depth > 8)
		return;
	switch (v->kind) {
	case TL_V_STR:
		if (quoted) {
			sb_puts(b, "\"");
			for (size_t i = 0; i < v->u.s.n; i++) {
				char c = v->u.s.p[i];
				if (c == '"' || c == '\\')
					sb_put(b, "\\", 1);
				sb_put(b, &c, 1);
			}
			sb_puts(b, "\"");
		} else {
			sb_put(b, v->u.s.p, v->u.s.n);
		}
		break;
	case TL_V_BOOL:
		sb_puts(b, v->u.b ? "true" : "false");
		break;
	case TL_V_INT:
		snprintf(num, sizeof num, "%" PRId64, v->u.i);
		sb_puts(b, num);
		break;
	case TL_V_DOUBLE:
		fmt_double(num, sizeof num, v->u.d);
		sb_puts(b, num);
		break;
	case TL_V_BYTES: {
		char hx[3];
		for (size_t i = 0; i < v->u.s.n; i++) {
			snprintf(hx, sizeof hx, "%02x", (unsigned char)v->u.s.p[i]);
			sb_put(b, hx, 2);
		}
		break;
	}
	case TL_V_ARRAY:
		sb_puts(b, "[");
		for (uint32_t i = 0; i < v->u.arr.n; i++) {
			if (i)
				sb_puts(b, ",");
			value_text(b, &v->u.arr.items[i], 1, depth + 1);
		}
		sb_puts(b, "]");
		break;
	case TL_V_KVLIST:
		sb_puts(b, "{");
		for (uint32_t i = 0; i < v->u.kv.n; i++) {
			struct tl_value k = {.kind = TL_V_STR, .u.s = v->u.kv.items[i].key};
			if (i)
				sb_puts(b, ",");
			value_text(b, &k, 1, depth + 1);
			sb_puts(b, ":");
			value_text(b, &v->u.kv.items[i].v, 1, depth + 1);
		}
		sb_puts(b, "}");
		break;
	default:
		break;
	}
}

/* Cuts a value at MAX_VALUE bytes without splitting a UTF-8 sequence. */
static void cut_utf8(char *v)
{
	size_t n = strlen(v);
	if (n < MAX_VALUE)
		return;
	n = MAX_VALUE;
	while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
		n--;
	v[n] = 0;
}

static int add_label(struct label *ls, int n, const char *name, struct tl_str key, const struct tl_value *v,
		     const char *text)
{
	struct sbuf b;
	if (n >= MAX_LABELS)
		return n;
	b.p = ls[n].value;
	b.n = 0;
	b.cap = sizeof ls[n].value;
	b.p[0] = 0;
	if (v)
		value_text(&b, v, 0, 0);
	else
		sb_puts(&b, text);
	cut_utf8(ls[n].value);
	if (!ls[n].value[0]) /* empty value = no label */
		return n;
	snprintf(ls[n].name, sizeof ls[n].name, "%s", name);
	ls[n].key = key;
	return n + 1;
}

/* Label names the translation sets itself; attributes that sanitise to one get
 * an exported_ prefix. */
static int reserved_label(const char *name)
{
	static const char *const r[] = {"job", "instance", "le", "quantile", "otel_scope_name", "otel_scope_version"};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
		if (!strcmp(name, r[i]))
			return 1;
	return 0;
}

static int add_attr_labels(struct label *ls, int n, const struct tl_attrs *a, int skip_service)
{
	for (uint32_t i = 0; i < a->n; i++) {
		const struct tl_kv *kv = &a->items[i];
		char name[MAX_NAME];
		size_t len = 0;
		if (skip_service && (tl_str_eq_c(kv->key, "service.name") || tl_str_eq_c(kv->key, "service.namespace") ||
				     tl_str_eq_c(kv->key, "service.instance.id")))
			continue;
		if (kv->key.n && kv->key.p[0] >= '0' && kv->key.p[0] <= '9')
			sanitise_into(name, sizeof name, &len, "key_", 4, 1);
		sanitise_into(name, sizeof name, &len, kv->key.p, kv->key.n, 1);
		if (!len)
			continue;
		if (reserved_label(name)) {
			char tmp[40]; /* reserved names are short */
			snprintf(tmp, sizeof tmp, "exported_%.24s", name);
			memcpy(name, tmp, strlen(tmp) + 1);
		}
		n = add_label(ls, n, name, kv->key, &kv->v, NULL);
	}
	return n;
}

static int cmp_label(const void *pa, const void *pb)
{
	const struct label *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	size_t m = a->key.n < b->key.n ? a->key.n : b->key.n;
	c = m ? memcmp(a->key.p, b->key.p, m) : 0;
	return c ? c : (a->key.n > b->key.n) - (a->key.n < b->key.n);
}

/* Sorts, joins colliding names with ';' and renders name="value",... into out. */
static void render_labels(struct label *ls, int n, struct tl_buf *out)
{
	qsort(ls, (size_t)n, sizeof *ls, cmp_label);
	for (int i = 0; i < n;) {
		int j = i;
		if (out->len)
			tl_buf_putc(out, ',');
		tl_buf_printf(out, "%s=\"", ls[i].name);
		for (; j < n && !strcmp(ls[j].name, ls[i].name); j++) {
			if (j > i)
				tl_buf_putc(out, ';');
			for (const char *c = ls[j].value; *c; c++) {
				if (*c == '\\' || *c == '"')
					tl_buf_putc(out, '\\');
				if (*c == '\n')
					tl_buf_puts(out, "\\n");
				else
					tl_buf_putc(out, *c);
			}
		}
		tl_buf_putc(out, '"');
		i = j;
	}
}

/* job and instance from the resource (OTel's Prometheus compatibility rules). */
static int resource_labels(struct label *ls, int n, const struct tl_resource *r)
{
	const struct tl_value *name = tl_attrs_get(&r->attrs, "service.name");
	const struct tl_value *nsv = tl_attrs_get(&r->attrs, "service.namespace");
	const struct tl_value *inst = tl_attrs_get(&r->attrs, "service.instance.id");
	char job[MAX_VALUE + 1];
	struct sbuf b = {job, 0, sizeof job};
	job[0] = 0;
	if (nsv && nsv->kind != TL_V_EMPTY && name && name->kind != TL_V_EMPTY) {
		value_text(&b, nsv, 0, 0);
		sb_puts(&b, "/");
	}
	if (name)
		value_text(&b, name, 0, 0);
	n = add_label(ls, n, "job", TL_STR_LIT("service.name"), NULL, job);
	if (inst)
		n = add_label(ls, n, "instance", TL_STR_LIT("service.instance.id"), inst, NULL);
	return n;
}

/* ---- the table ----------------------------------------------------------------- */

static uint64_t hash_key(const struct fam *f, const char *labels, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *c = f->name; *c; c++) {
		h ^= (unsigned char)*c;
		h *= 1099511628211ull;
	}
	h ^= 0xff;
	h *= 1099511628211ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)labels[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void reindex(struct otlp_series *t)
{
	uint32_t need = 64;
	while (need < 2 * (uint64_t)t->cap && need < (1u << 30))
		need <<= 1;
	if (need != t->isize) {
		free(t->index);
		t->index = xcalloc(need, sizeof *t->index);
		t->isize = need;
	} else {
		memset(t->index, 0, (size_t)t->isize * sizeof *t->index);
	}
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t k = (uint32_t)t->v[i].hash & (t->isize - 1);
		while (t->index[k])
			k = (k + 1) & (t->isize - 1);
		t->index[k] = i + 1;
	}
}

/* The series for (f, labels): found, created, or NULL (limit; counted). */
static struct ser *series_get(struct otlp_series *t, struct fam *f, const char *labels, size_t n, int *fresh)
{
	uint64_t h = hash_key(f, labels, n);
	uint32_t k;
	*fresh = 0;
	if (t->isize) {
		for (k = (uint32_t)h & (t->isize - 1); t->index[k]; k = (k + 1) & (t->isize - 1)) {
			struct ser *s = &t->v[t->index[k] - 1];
			if (s->hash == h && s->fam == f && strlen(s->labels) == n && !memcmp(s->labels, labels, n))
				return s;
		}
	}
	if (t->n >= t->limit) {
		t->dropped[DROP_LIMIT]++;
		return NULL;
	}
	if (t->n == t->cap) {
		uint32_t nc = t->cap ? 2 * t->cap : 64;
		struct ser *nv = realloc(t->v, (size_t)nc * sizeof *nv);
		if (!nv)
			abort();
		t->v = nv;
		t->cap = nc;
		reindex(t);
	}
	struct ser *s = &t->v[t->n];
	memset(s, 0, sizeof *s);
	s->fam = f;
	s->labels = xmalloc(n + 1);
	memcpy(s->labels, labels, n);
	s->labels[n] = 0;
	s->hash = h;
	k = (uint32_t)h & (t->isize - 1);
	while (t->index[k])
		k = (k + 1) & (t->isize - 1);
	t->index[k] = ++t->n;
	f->n_series++;
	*fresh = 1;
	return s;
}

static void expire(struct otlp_series *t, uint64_t now)
{
	uint32_t w = 0;
	int removed = 0;
	if (!t->ttl_ns || now < t->next_expiry)
		return;
	t->next_expiry = now + (t->ttl_ns / 10 ? t->ttl_ns / 10 : 1);
	for (uint32_t i = 0; i < t->n; i++) {
		struct ser *s = &t->v[i];
		if (s->last_seen + t->ttl_ns < now) {
			s->fam->n_series--;
			ser_free(s);
			removed = 1;
			continue;
		}
		if (w != i)
			t->v[w] = *s;
		w++;
	}
	t->n = w;
	if (!removed)
		return;
	reindex(t);
	w = 0;
	for (uint32_t i = 0; i < t->n_fams; i++) {
		struct fam *f = t->fams[i];
		if (!f->n_series) {
			free(f->name);
			free(f->help);
			free(f);
			continue;
		}
		t->fams[w++] = f;
	}
	t->n_fams = w;
}

/* ---- point updates ---------------------------------------------------------- */

static void set_number(struct ser *s, const struct tl_metric_point *pt)
{
	s->is_double = pt->value_kind == TL_PV_DOUBLE;
	s->ival = pt->as_int;
	s->dval = pt->as_double;
}

static void add_number(struct ser *s, const struct tl_metric_point *pt)
{
	if (pt->value_kind == TL_PV_DOUBLE && !s->is_double) {
		s->is_double = 1;
		s->dval = (double)s->ival;
	}
	if (s->is_double)
		s->dval += pt->value_kind == TL_PV_DOUBLE ? pt->as_double : (double)pt->as_int;
	else
		s->ival += pt->as_int;
}

static void set_histogram(struct ser *s, const struct tl_metric *mt, const struct tl_metric_point *pt)
{
	uint32_t nb = mt->type == TL_METRIC_HISTOGRAM ? pt->n_bounds : 0;
	if (!s->counts || s->nb != nb) {
		free(s->bounds);
		free(s->counts);
		s->nb = nb;
		s->bounds = xcalloc(nb, sizeof *s->bounds);
		s->counts = xcalloc((size_t)nb + 1, sizeof *s->counts);
	}
	if (nb)
		memcpy(s->bounds, pt->bounds, nb * sizeof *s->bounds);
	memset(s->counts, 0, ((size_t)nb + 1) * sizeof *s->counts);
	if (nb)
		memcpy(s->counts, pt->bucket_counts, ((size_t)nb + 1) * sizeof *s->counts);
	else
		s->counts[0] = pt->count;
	s->sum = pt->has_sum ? pt->sum : 0;
	s->count = pt->count;
}

static int same_layout(const struct ser *s, const struct tl_metric *mt, const struct tl_metric_point *pt)
{
	uint32_t nb = mt->type == TL_METRIC_HISTOGRAM ? pt->n_bounds : 0;
	return s->counts && s->nb == nb && (!nb || !memcmp(s->bounds, pt->bounds, nb * sizeof *s->bounds));
}

static void update(struct ser *s, int fresh, const struct tl_metric *mt, const struct tl_metric_point *pt)
{
	int delta = mt->temporality == TL_TEMP_DELTA && mt->type != TL_METRIC_GAUGE && mt->type != TL_METRIC_SUMMARY;
	if (delta) {
		/* a retried export repeats the interval it already added */
		if (!fresh && pt->start_unix_nano == s->delta_start && pt->time_unix_nano == s->delta_time)
			return;
		s->delta_start = pt->start_unix_nano;
		s->delta_time = pt->time_unix_nano;
		if (fresh)
			s->start = pt->start_unix_nano;
	} else if (!fresh && pt->time_unix_nano && pt->time_unix_nano < s->time) {
		return; /* older than what we have: out of order */
	} else {
		s->start = pt->start_unix_nano;
	}
	if (pt->time_unix_nano > s->time)
		s->time = pt->time_unix_nano;
	switch (mt->type) {
	case TL_METRIC_GAUGE:
	case TL_METRIC_SUM:
		if (delta && !fresh)
			add_number(s, pt);
		else
			set_number(s, pt);
		break;
	case TL_METRIC_HISTOGRAM:
	case TL_METRIC_EXP_HISTOGRAM:
		if (delta && !fresh && same_layout(s, mt, pt)) {
			for (uint32_t i = 0; i < s->nb; i++)
				s->counts[i] += pt->bucket_counts[i];
			s->counts[s->nb] += s->nb ? pt->bucket_counts[s->nb] : pt->count;
			s->sum += pt->has_sum ? pt->sum : 0;
			s->count += pt->count;
		} else {
			set_histogram(s, mt, pt);
		}
		break;
	case TL_METRIC_SUMMARY:
		free(s->q);
		s->nq = pt->n_quantiles;
		s->q = xcalloc(s->nq, sizeof *s->q);
		if (s->nq)
			memcpy(s->q, pt->quantiles, s->nq * sizeof *s->q);
		s->sum = pt->sum;
		s->count = pt->count;
		break;
	}
}

/* A point a counter cannot take: no value, or a negative delta. */
static int point_ok(const struct tl_metric *mt, int ft, const struct tl_metric_point *pt)
{
	if (pt->flags & TL_POINT_NO_RECORDED_VALUE)
		return 0;
	if (mt->type == TL_METRIC_GAUGE || mt->type == TL_METRIC_SUM) {
		if (pt->value_kind == TL_PV_NONE)
			return 0;
		if (ft == FT_COUNTER && mt->temporality == TL_TEMP_DELTA &&
		    (pt->value_kind == TL_PV_INT ? pt->as_int < 0 : !(pt->as_double >= 0)))
			return 0;
	}
	return 1;
}

static void ingest_resource_info(struct otlp_series *t, const struct tl_resource *r, uint64_t now, struct tl_buf *lb,
				 struct label *ls)
{
	static const struct tl_metric_point one = {.value_kind = TL_PV_INT, .as_int = 1};
	static const struct tl_metric info = {.type = TL_METRIC_GAUGE};
	struct fam *f;
	struct ser *s;
	int n = 0, reason = 0, fresh;
	n = resource_labels(ls, n, r);
	int before = n;
	n = add_attr_labels(ls, n, &r->attrs, 1);
	if (n == before)
		return;
	if (!(f = family_get(t, "target_info", FT_GAUGE, TL_STR_LIT("Target metadata (OTLP resource attributes)"),
			     TL_STR_NULL, 1, &reason))) {
		t->dropped[reason]++;
		return;
	}
	tl_buf_reset(lb);
	render_labels(ls, n, lb);
	if (!(s = series_get(t, f, lb->data ? lb->data : "", lb->len, &fresh)))
		return;
	s->last_seen = now;
	update(s, 1, &info, &one);
}

void metrics_ingest_otlp(struct metrics *m, const struct tl_metrics_batch *b, uint64_t now_ns)
{
	struct otlp_series *t = metrics__series(m);
	struct label *ls = xmalloc(MAX_LABELS * sizeof *ls);
	struct tl_buf lb;
	tl_buf_init(&lb, 1u << 20);
	pthread_mutex_lock(&t->mu);
	expire(t, now_ns);
	for (size_t i = 0; i < b->n_resources; i++)
		ingest_resource_info(t, &b->resources[i], now_ns, &lb, ls);
	for (size_t i = 0; i < b->n_metrics; i++) {
		const struct tl_metric *mt = &b->metrics[i];
		char name[MAX_NAME];
		struct fam *f;
		int ft = family_type(mt), reason = 0;
		if (ft < 0 || !mt->n_points)
			continue;
		family_name(t, mt, ft, name, sizeof name);
		if (!name[0])
			continue;
		if (!(f = family_get(t, name, ft, mt->description, mt->name, 0, &reason))) {
			t->dropped[reason] += mt->n_points;
			continue;
		}
		for (uint32_t k = 0; k < mt->n_points; k++) {
			const struct tl_metric_point *pt = &mt->points[k];
			struct ser *s;
			int n = 0, fresh;
			if (!point_ok(mt, ft, pt))
				continue;
			n = resource_labels(ls, n, mt->resource);
			if (mt->scope->name.n) {
				struct tl_value v = {.kind = TL_V_STR, .u.s = mt->scope->name};
				n = add_label(ls, n, "otel_scope_name", TL_STR_NULL, &v, NULL);
			}
			if (mt->scope->version.n) {
				struct tl_value v = {.kind = TL_V_STR, .u.s = mt->scope->version};
				n = add_label(ls, n, "otel_scope_version", TL_STR_NULL, &v, NULL);
			}
			n = add_attr_labels(ls, n, &pt->attrs, 0);
			tl_buf_reset(&lb);
			render_labels(ls, n, &lb);
			if (!(s = series_get(t, f, lb.data ? lb.data : "", lb.len, &fresh)))
				continue;
			s->last_seen = now_ns;
			update(s, fresh, mt, pt);
		}
	}
	pthread_mutex_unlock(&t->mu);
	tl_buf_cleanup(&lb);
	free(ls);
}

/* ---- rendering ----------------------------------------------------------------- */

static int cmp_ser(const void *pa, const void *pb)
{
	const struct ser *a = *(const struct ser *const *)pa, *b = *(const struct ser *const *)pb;
	int c = strcmp(a->fam->name, b->fam->name);
	return c ? c : strcmp(a->labels, b->labels);
}

static int cmp_q(const void *pa, const void *pb)
{
	const struct tl_quantile *a = pa, *b = pb;
	return (a->quantile > b->quantile) - (a->quantile < b->quantile);
}

/* name{labels[,extra]} value */
static int sample(struct tl_buf *o, const char *name, const char *suffix, const char *labels, const char *extra,
		  const char *value)
{
	int rc = tl_buf_printf(o, "%s%s", name, suffix);
	if (!rc && (labels[0] || extra))
		rc = tl_buf_printf(o, "{%s%s%s}", labels, labels[0] && extra ? "," : "", extra ? extra : "");
	if (!rc)
		rc = tl_buf_printf(o, " %s\n", value);
	return rc;
}

static int render_ser(struct tl_buf *o, const struct ser *s)
{
	const char *name = s->fam->name;
	char v[48], le[64];
	int rc = 0;
	switch (s->fam->type) {
	case FT_COUNTER:
	case FT_GAUGE:
		if (s->is_double)
			fmt_double(v, sizeof v, s->dval);
		else
			snprintf(v, sizeof v, "%" PRId64, s->ival);
		return sample(o, name, "", s->labels, NULL, v);
	case FT_HISTOGRAM: {
		uint64_t cum = 0;
		for (uint32_t i = 0; !rc && i < s->nb; i++) {
			char b[48];
			cum += s->counts[i];
			fmt_double(b, sizeof b, s->bounds[i]);
			snprintf(le, sizeof le, "le=\"%s\"", b);
			snprintf(v, sizeof v, "%" PRIu64, cum);
			rc = sample(o, name, "_bucket", s->labels, le, v);
		}
		cum += s->counts[s->nb];
		if (cum < s->count)
			cum = s->count;
		snprintf(v, sizeof v, "%" PRIu64, cum);
		if (!rc)
			rc = sample(o, name, "_bucket", s->labels, "le=\"+Inf\"", v);
		fmt_double(le, sizeof le, s->sum);
		if (!rc)
			rc = sample(o, name, "_sum", s->labels, NULL, le);
		if (!rc)
			rc = sample(o, name, "_count", s->labels, NULL, v);
		return rc;
	}
	case FT_SUMMARY: {
		struct tl_quantile *q = xcalloc(s->nq, sizeof *q);
		if (s->nq)
			memcpy(q, s->q, s->nq * sizeof *q);
		qsort(q, s->nq, sizeof *q, cmp_q);
		for (uint32_t i = 0; !rc && i < s->nq; i++) {
			char b[48];
			if (isnan(q[i].quantile))
				continue;
			fmt_double(b, sizeof b, q[i].quantile);
			snprintf(le, sizeof le, "quantile=\"%s\"", b);
			fmt_double(v, sizeof v, q[i].value);
			rc = sample(o, name, "", s->labels, le, v);
		}
		free(q);
		fmt_double(v, sizeof v, s->sum);
		if (!rc)
			rc = sample(o, name, "_sum", s->labels, NULL, v);
		snprintf(v, sizeof v, "%" PRIu64, s->count);
		if (!rc)
			rc = sample(o, name, "_count", s->labels, NULL, v);
		return rc;
	}
	}
	return 0;
}

int metrics__series_render(struct otlp_series *t, uint64_t now_ns, struct tl_buf *o)
{
	const struct ser **v = NULL;
	const struct fam *prev = NULL;
	int rc;
	pthread_mutex_lock(&t->mu);
	expire(t, now_ns);
	rc = tl_buf_printf(o,
			   "# HELP tracelamp_otlp_series Series re-exposed from OTLP metrics.\n"
			   "# TYPE tracelamp_otlp_series gauge\ntracelamp_otlp_series %u\n"
			   "# HELP tracelamp_otlp_series_dropped_total OTLP data points not re-exposed, by reason.\n"
			   "# TYPE tracelamp_otlp_series_dropped_total counter\n",
			   t->n);
	for (int i = 0; !rc && i < DROP__N; i++)
		rc = tl_buf_printf(o, "tracelamp_otlp_series_dropped_total{reason=\"%s\"} %" PRIu64 "\n", DROP_NAMES[i],
				   t->dropped[i]);
	if (rc)
		goto out;
	v = xcalloc(t->n, sizeof *v);
	for (uint32_t i = 0; i < t->n; i++)
		v[i] = &t->v[i];
	qsort(v, t->n, sizeof *v, cmp_ser);
	for (uint32_t i = 0; !rc && i < t->n; i++) {
		if (v[i]->fam != prev) {
			prev = v[i]->fam;
			rc = tl_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", prev->name, prev->help, prev->name,
					   FT_NAMES[prev->type]);
		}
		if (!rc)
			rc = render_ser(o, v[i]);
	}
out:
	pthread_mutex_unlock(&t->mu);
	free(v);
	return rc;
}

int metrics_render_otlp(struct metrics *m, uint64_t now_ns, struct tl_buf *out)
{
	return metrics__series_render(metrics__series(m), now_ns, out);
}
