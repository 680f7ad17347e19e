/*
 * summary.c - trace summaries: built span by span from normalised spans, merged
 * when a trace arrives in pieces (late spans, several batches), matched against
 * list filters, and read from / bound to the `traces` table columns.
 */
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "store/store_int.h"

/* Operations that are model calls (OTel GenAI operation names). */
static const char *const llm_ops[] = {"chat", "text_completion", "generate_content", "embeddings"};

/* Attributes whose text feeds the q search (current and legacy conventions). */
static const char *const text_keys[] = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt",
					"gen_ai.completion"};

void store__sum_init(struct store__sum *u)
{
	memset(u, 0, sizeof *u);
	u->name_start = UINT64_MAX;
	u->s.cost_known = 1;
}

void store__sum_cleanup(struct store__sum *u)
{
	if (!u)
		return;
	free(u->search);
	u->search = NULL;
	u->search_len = 0;
}

void store__sum_copy(struct store__sum *dst, const struct store__sum *src)
{
	*dst = *src;
	dst->search = NULL;
	if (src->search) {
		dst->search = malloc(src->search_len + 1);
		if (!dst->search)
			abort();
		memcpy(dst->search, src->search, src->search_len + 1);
	}
}

static void copy_str(char *dst, size_t cap, struct tl_str s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = 0;
}

static int is_op(struct tl_str op, const char *const *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tl_str_eq_c(op, ops[i]))
			return 1;
	return 0;
}

static int has_tokens(const struct tl_genai *g)
{
	return g->input_tokens != TL_NONE || g->output_tokens != TL_NONE;
}

/*
 * An LLM call is a span whose operation is a model call, or a GenAI span with
 * token usage and no operation at all. Agent and tool spans that carry usage
 * totals of their children are not counted, so tokens are not summed twice.
 */
int store__span_is_llm(const struct tl_span *sp)
{
	const struct tl_genai *g = &sp->genai;
	if (!g->is_genai)
		return 0;
	if (is_op(g->operation, llm_ops, sizeof llm_ops / sizeof llm_ops[0]))
		return 1;
	return g->operation.n == 0 && has_tokens(g);
}

struct tl_str store__span_model(const struct tl_span *sp)
{
	return sp->genai.response_model.n ? sp->genai.response_model : sp->genai.request_model;
}

static void add_model(struct store_trace_summary *s, const char *m)
{
	if (!m[0])
		return;
	for (uint32_t i = 0; i < s->n_models; i++)
		if (strcmp(s->models[i], m) == 0)
			return;
	if (s->n_models < STORE_MAX_MODELS) {
		size_t n = strlen(m);
		if (n > sizeof s->models[0] - 1)
			n = sizeof s->models[0] - 1;
		memcpy(s->models[s->n_models], m, n);
		s->models[s->n_models][n] = 0;
		s->n_models++;
	}
}

static void add_provider(struct store__sum *u, const char *p)
{
	if (!p[0])
		return;
	for (uint32_t i = 0; i < u->n_providers; i++)
		if (strcmp(u->providers[i], p) == 0)
			return;
	if (u->n_providers < STORE_MAX_PROVIDERS) {
		size_t n = strlen(p);
		if (n > sizeof u->providers[0] - 1)
			n = sizeof u->providers[0] - 1;
		memcpy(u->providers[u->n_providers], p, n);
		u->providers[u->n_providers][n] = 0;
		u->n_providers++;
	}
}

static void add_anomaly(struct store_trace_summary *s, const char *a)
{
	if (!a[0])
		return;
	for (uint32_t i = 0; i < s->n_anomalies; i++)
		if (strcmp(s->anomalies[i], a) == 0)
			return;
	if (s->n_anomalies < STORE_MAX_ANOMALIES) {
		copy_str(s->anomalies[s->n_anomalies], sizeof s->anomalies[0], tl_str_c(a));
		s->n_anomalies++;
	}
}

static void search_append(struct store__sum *u, const char *p, size_t n)
{
	if (u->search_len >= STORE_SEARCH_MAX || n == 0)
		return;
	if (!u->search) {
		u->search = malloc(STORE_SEARCH_MAX + 1);
		if (!u->search)
			abort();
	}
	/* A separator keeps words of two texts from joining into a false match. */
	if (u->search_len && u->search_len < STORE_SEARCH_MAX)
		u->search[u->search_len++] = '\n';
	size_t room = STORE_SEARCH_MAX - u->search_len;
	if (n > room)
		n = room;
	for (size_t i = 0; i < n; i++)
		u->search[u->search_len + i] = (char)tolower((unsigned char)p[i]);
	u->search_len += n;
	u->search[u->search_len] = 0;
}

static void search_value(struct store__sum *u, const struct tl_value *v, int depth)
{
	if (depth > 8 || u->search_len >= STORE_SEARCH_MAX)
		return;
	switch (v->kind) {
	case TL_V_STR:
		search_append(u, v->u.s.p, v->u.s.n);
		break;
	case TL_V_ARRAY:
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			search_value(u, &v->u.arr.items[i], depth + 1);
		break;
	case TL_V_KVLIST:
		for (uint32_t i = 0; i < v->u.kv.n; i++)
			search_value(u, &v->u.kv.items[i].v, depth + 1);
		break;
	default:
		break;
	}
}

static void search_attrs(struct store__sum *u, const struct tl_attrs *a)
{
	for (size_t k = 0; k < sizeof text_keys / sizeof text_keys[0]; k++) {
		const struct tl_value *v = tl_attrs_get(a, text_keys[k]);
		if (v)
			search_value(u, v, 0);
	}
}

void store__sum_add_span(struct store__sum *u, const struct tl_span *sp)
{
	struct store_trace_summary *s = &u->s;
	const struct tl_genai *g = &sp->genai;
	char tmp[128];

	if (s->span_count == 0 || sp->start_unix_nano < s->start_unix_nano)
		s->start_unix_nano = sp->start_unix_nano;
	if (sp->end_unix_nano > s->end_unix_nano)
		s->end_unix_nano = sp->end_unix_nano;
	s->span_count++;
	if (sp->status_code == TL_STATUS_ERROR)
		s->error_count++;

	/* The root names the trace; until it arrives, the earliest span does. */
	int root = !sp->has_parent;
	if ((root && !s->has_root) || (root == s->has_root && sp->start_unix_nano < u->name_start)) {
		copy_str(s->service, sizeof s->service, model_span_service(sp));
		copy_str(s->name, sizeof s->name, sp->name);
		u->name_start = sp->start_unix_nano;
		s->has_root = s->has_root || root;
	}

	if (store__span_is_llm(sp)) {
		s->llm_calls++;
		if (g->input_tokens > 0)
			s->input_tokens += g->input_tokens;
		if (g->output_tokens > 0)
			s->output_tokens += g->output_tokens;
		if (g->cache_read_tokens > 0)
			s->cache_read_tokens += g->cache_read_tokens;
		if (g->cache_write_tokens > 0)
			s->cache_write_tokens += g->cache_write_tokens;
		if (g->reasoning_tokens > 0)
			s->reasoning_tokens += g->reasoning_tokens;
		if (has_tokens(g))
			u->token_calls++;
		if (g->cost_nusd != TL_NONE) {
			s->cost_nusd += g->cost_nusd;
			u->cost_calls++;
		}
		if (g->price_unknown)
			s->price_unknown = 1;
		copy_str(tmp, 96, g->request_model);
		add_model(s, tmp);
		copy_str(tmp, 96, g->response_model);
		add_model(s, tmp);
		copy_str(tmp, 32, g->provider);
		add_provider(u, tmp);
	} else if (g->is_genai && tl_str_eq_c(g->operation, "execute_tool")) {
		s->tool_calls++;
	}
	if (!s->session_id[0] && g->conversation_id.n)
		copy_str(s->session_id, sizeof s->session_id, g->conversation_id);
	if (!s->run_id[0] && sp->run.run_id.n)
		copy_str(s->run_id, sizeof s->run_id, sp->run.run_id);
	if (!s->agent[0] && g->agent_name.n)
		copy_str(s->agent, sizeof s->agent, g->agent_name);
	if (g->is_genai) {
		search_attrs(u, &sp->attrs);
		for (uint32_t i = 0; i < sp->n_events; i++)
			search_attrs(u, &sp->events[i].attrs);
	}
}

void store__sum_merge(struct store__sum *dst, const struct store__sum *src)
{
	struct store_trace_summary *d = &dst->s;
	const struct store_trace_summary *r = &src->s;

	if (r->span_count == 0)
		return;
	if (d->span_count == 0 || r->start_unix_nano < d->start_unix_nano)
		d->start_unix_nano = r->start_unix_nano;
	if (r->end_unix_nano > d->end_unix_nano)
		d->end_unix_nano = r->end_unix_nano;
	if ((r->has_root && !d->has_root) || (r->has_root == d->has_root && src->name_start < dst->name_start)) {
		memcpy(d->service, r->service, sizeof d->service);
		memcpy(d->name, r->name, sizeof d->name);
		dst->name_start = src->name_start;
		d->has_root = d->has_root || r->has_root;
	}
	d->span_count += r->span_count;
	d->error_count += r->error_count;
	d->llm_calls += r->llm_calls;
	d->tool_calls += r->tool_calls;
	d->input_tokens += r->input_tokens;
	d->output_tokens += r->output_tokens;
	d->cache_read_tokens += r->cache_read_tokens;
	d->cache_write_tokens += r->cache_write_tokens;
	d->reasoning_tokens += r->reasoning_tokens;
	d->cost_nusd += r->cost_nusd;
	dst->token_calls += src->token_calls;
	dst->cost_calls += src->cost_calls;
	d->price_unknown = d->price_unknown || r->price_unknown;
	for (uint32_t i = 0; i < r->n_models; i++)
		add_model(d, r->models[i]);
	for (uint32_t i = 0; i < src->n_providers; i++)
		add_provider(dst, src->providers[i]);
	for (uint32_t i = 0; i < r->n_anomalies; i++)
		add_anomaly(d, r->anomalies[i]);
	if (!d->session_id[0])
		memcpy(d->session_id, r->session_id, sizeof d->session_id);
	if (!d->run_id[0])
		memcpy(d->run_id, r->run_id, sizeof d->run_id);
	if (!d->agent[0])
		memcpy(d->agent, r->agent, sizeof d->agent);
	if (src->search_len)
		search_append(dst, src->search, src->search_len);
}

void store__sum_finish(struct store__sum *u)
{
	u->s.cost_known = !(u->token_calls > 0 && u->cost_calls == 0);
}

char *store__lower_dup(const char *s)
{
	size_t n = strlen(s);
	char *r = malloc(n + 1);
	if (!r)
		abort();
	for (size_t i = 0; i < n; i++)
		r[i] = (char)tolower((unsigned char)s[i]);
	r[n] = 0;
	return r;
}

static int ci_contains(const char *hay, const char *needle_lower)
{
	size_t nl = strlen(needle_lower);
	if (nl == 0)
		return 1;
	for (const char *p = hay; *p; p++) {
		size_t i = 0;
		while (i < nl && p[i] && tolower((unsigned char)p[i]) == needle_lower[i])
			i++;
		if (i == nl)
			return 1;
	}
	return 0;
}

int store__sum_match(const struct store__sum *u, const struct store_trace_filter *f, const char *q_lower)
{
	const struct store_trace_summary *s = &u->s;
	int64_t dur = (int64_t)(s->end_unix_nano - s->start_unix_nano);
	int ok;

	if (f->start_unix_nano && s->start_unix_nano < f->start_unix_nano)
		return 0;
	if (f->end_unix_nano && s->start_unix_nano > f->end_unix_nano)
		return 0;
	if (f->service && strcmp(s->service, f->service) != 0)
		return 0;
	if (f->name && strcmp(s->name, f->name) != 0)
		return 0;
	if (f->model) {
		ok = 0;
		for (uint32_t i = 0; i < s->n_models && !ok; i++)
			ok = strcmp(s->models[i], f->model) == 0;
		if (!ok)
			return 0;
	}
	if (f->provider) {
		ok = 0;
		for (uint32_t i = 0; i < u->n_providers && !ok; i++)
			ok = strcmp(u->providers[i], f->provider) == 0;
		if (!ok)
			return 0;
	}
	if (f->session && strcmp(s->session_id, f->session) != 0)
		return 0;
	if (f->run && strcmp(s->run_id, f->run) != 0)
		return 0;
	if (f->agent && strcmp(s->agent, f->agent) != 0)
		return 0;
	if (f->anomaly) {
		if (strcmp(f->anomaly, "any") == 0) {
			if (s->n_anomalies == 0)
				return 0;
		} else {
			ok = 0;
			for (uint32_t i = 0; i < s->n_anomalies && !ok; i++)
				ok = strcmp(s->anomalies[i], f->anomaly) == 0;
			if (!ok)
				return 0;
		}
	}
	if (f->status == 0 && s->error_count > 0)
		return 0;
	if (f->status == 1 && s->error_count == 0)
		return 0;
	if (f->min_duration_ns >= 0 && dur < f->min_duration_ns)
		return 0;
	if (f->max_duration_ns >= 0 && dur > f->max_duration_ns)
		return 0;
	if (f->min_cost_nusd >= 0 && s->cost_nusd < f->min_cost_nusd)
		return 0;
	if (q_lower && q_lower[0]) {
		if (!ci_contains(s->name, q_lower) && !(u->search && strstr(u->search, q_lower)))
			return 0;
	}
	return 1;
}

/* ---- table columns ---------------------------------------------------------- */

/* Lists are stored as "\na\nb\n" so SQL can test membership with instr(). */
static void join_list(char *out, size_t cap, const char *items, size_t stride, uint32_t n)
{
	size_t len = 0;
	out[len++] = '\n';
	for (uint32_t i = 0; i < n; i++) {
		const char *it = items + i * stride;
		size_t l = strlen(it);
		if (len + l + 2 > cap)
			break;
		memcpy(out + len, it, l);
		len += l;
		out[len++] = '\n';
	}
	out[len] = 0;
	if (len == 1)
		out[0] = 0;
}

static uint32_t split_list(const char *in, char *items, size_t stride, uint32_t max)
{
	uint32_t n = 0;
	if (!in)
		return 0;
	const char *p = in;
	while (*p && n < max) {
		if (*p == '\n') {
			p++;
			continue;
		}
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		size_t c = l < stride - 1 ? l : stride - 1;
		memcpy(items + n * stride, p, c);
		items[n * stride + c] = 0;
		n++;
		p += l;
	}
	return n;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

int store__sum_bind(sqlite3_stmt *st, int c, const struct store__sum *u)
{
	const struct store_trace_summary *s = &u->s;
	char models[STORE_MAX_MODELS * 97 + 2], providers[STORE_MAX_PROVIDERS * 33 + 2];
	char anomalies[STORE_MAX_ANOMALIES * 33 + 2];
	int rc = 0;

	join_list(models, sizeof models, &s->models[0][0], sizeof s->models[0], s->n_models);
	join_list(providers, sizeof providers, &u->providers[0][0], sizeof u->providers[0], u->n_providers);
	join_list(anomalies, sizeof anomalies, &s->anomalies[0][0], sizeof s->anomalies[0], s->n_anomalies);
	rc |= bind_text(st, c++, s->tenant);
	rc |= sqlite3_bind_blob(st, c++, s->trace_id, 16, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(st, c++, (int64_t)s->start_unix_nano);
	rc |= sqlite3_bind_int64(st, c++, (int64_t)s->end_unix_nano);
	rc |= bind_text(st, c++, s->service);
	rc |= bind_text(st, c++, s->name);
	rc |= sqlite3_bind_int64(st, c++, (int64_t)u->name_start);
	rc |= sqlite3_bind_int(st, c++, s->has_root);
	rc |= sqlite3_bind_int64(st, c++, s->span_count);
	rc |= sqlite3_bind_int64(st, c++, s->error_count);
	rc |= sqlite3_bind_int64(st, c++, s->llm_calls);
	rc |= sqlite3_bind_int64(st, c++, s->tool_calls);
	rc |= sqlite3_bind_int64(st, c++, s->input_tokens);
	rc |= sqlite3_bind_int64(st, c++, s->output_tokens);
	rc |= sqlite3_bind_int64(st, c++, s->cache_read_tokens);
	rc |= sqlite3_bind_int64(st, c++, s->cache_write_tokens);
	rc |= sqlite3_bind_int64(st, c++, s->reasoning_tokens);
	rc |= sqlite3_bind_int64(st, c++, s->cost_nusd);
	rc |= sqlite3_bind_int64(st, c++, u->token_calls);
	rc |= sqlite3_bind_int64(st, c++, u->cost_calls);
	rc |= sqlite3_bind_int(st, c++, s->price_unknown);
	rc |= bind_text(st, c++, models);
	rc |= bind_text(st, c++, providers);
	rc |= bind_text(st, c++, s->session_id);
	rc |= bind_text(st, c++, s->run_id);
	rc |= bind_text(st, c++, s->agent);
	rc |= bind_text(st, c++, anomalies);
	rc |= sqlite3_bind_text(st, c++, u->search ? u->search : "", (int)u->search_len, SQLITE_TRANSIENT);
	return rc ? TL_ESTORE : 0;
}

static void col_str(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	copy_str(out, cap, tl_str_c(t ? (const char *)t : ""));
}

void store__sum_read(sqlite3_stmt *st, int c, struct store__sum *u)
{
	struct store_trace_summary *s = &u->s;
	store__sum_init(u);
	col_str(st, c++, s->tenant, sizeof s->tenant);
	const void *id = sqlite3_column_blob(st, c);
	if (id && sqlite3_column_bytes(st, c) == 16)
		memcpy(s->trace_id, id, 16);
	c++;
	s->start_unix_nano = (uint64_t)sqlite3_column_int64(st, c++);
	s->end_unix_nano = (uint64_t)sqlite3_column_int64(st, c++);
	col_str(st, c++, s->service, sizeof s->service);
	col_str(st, c++, s->name, sizeof s->name);
	u->name_start = (uint64_t)sqlite3_column_int64(st, c++);
	s->has_root = sqlite3_column_int(st, c++);
	s->span_count = (uint32_t)sqlite3_column_int64(st, c++);
	s->error_count = (uint32_t)sqlite3_column_int64(st, c++);
	s->llm_calls = (uint32_t)sqlite3_column_int64(st, c++);
	s->tool_calls = (uint32_t)sqlite3_column_int64(st, c++);
	s->input_tokens = sqlite3_column_int64(st, c++);
	s->output_tokens = sqlite3_column_int64(st, c++);
	s->cache_read_tokens = sqlite3_column_int64(st, c++);
	s->cache_write_tokens = sqlite3_column_int64(st, c++);
	s->reasoning_tokens = sqlite3_column_int64(st, c++);
	s->cost_nusd = sqlite3_column_int64(st, c++);
	u->token_calls = (uint32_t)sqlite3_column_int64(st, c++);
	u->cost_calls = (uint32_t)sqlite3_column_int64(st, c++);
	s->price_unknown = sqlite3_column_int(st, c++);
	s->n_models = split_list((const char *)sqlite3_column_text(st, c++), &s->models[0][0], sizeof s->models[0],
				 STORE_MAX_MODELS);
	u->n_providers = split_list((const char *)sqlite3_column_text(st, c++), &u->providers[0][0],
				    sizeof u->providers[0], STORE_MAX_PROVIDERS);
	col_str(st, c++, s->session_id, sizeof s->session_id);
	col_str(st, c++, s->run_id, sizeof s->run_id);
	col_str(st, c++, s->agent, sizeof s->agent);
	s->n_anomalies = split_list((const char *)sqlite3_column_text(st, c++), &s->anomalies[0][0],
				    sizeof s->anomalies[0], STORE_MAX_ANOMALIES);
	const unsigned char *q = sqlite3_column_text(st, c);
	int ql = sqlite3_column_bytes(st, c);
	if (q && ql > 0)
		search_append(u, (const char *)q, (size_t)ql);
	store__sum_finish(u);
}
