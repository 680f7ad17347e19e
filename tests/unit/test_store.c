/*
 * test_store.c - unit tests for the SQLite store (src/store): durable append
 * with done() after commit, pending and flushed reads, late spans, list filters
 * and cursors, stats, retention, crash replay (fork + _exit), the fault seam, the
 * chunk dictionary, and the direct path of traces complete on arrival (exactly
 * once after a crash, root-triggered flush, late spans merging, reads while a
 * commit is in progress).
 * Every test works in its own directory under /tmp.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tl_test.h"
#include "store/store.h"

#define SEC 1000000000ULL
#define MSEC 1000000ULL

/* ---- helpers --------------------------------------------------------------- */

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls, ok, failed;
};

static void waiter_init(struct waiter *w)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->calls = w->ok = w->failed = 0;
}

static void on_done(void *arg, int status)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->calls++;
	if (status == 0)
		w->ok++;
	else
		w->failed++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int waiter_wait(struct waiter *w, int n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&w->mu);
	while (w->calls < n)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
			break;
	int c = w->calls;
	pthread_mutex_unlock(&w->mu);
	return c >= n;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/tl_store_XXXXXX");
	if (!mkdtemp(d))
		abort();
	return d;
}

static void rmdir_all(const char *d)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", d);
}

static struct store *open_store(const char *dir, uint32_t idle_ms)
{
	struct store_config c;
	struct store *s = NULL;
	char err[256];
	store_config_defaults(&c);
	c.data_dir = dir;
	c.trace_idle_ms = idle_ms;
	if (store_open(&c, &s, err, sizeof err) != 0)
		fprintf(stderr, "store_open: %s\n", err);
	return s;
}

/* A batch under construction: one resource (service) and one scope. */
struct tb {
	struct tl_arena *ar;
	struct tl_batch b;
	size_t cap;
};

static struct tl_str S(struct tl_arena *ar, const char *s)
{
	struct tl_str r = {tl_arena_strndup(ar, s, strlen(s)), strlen(s)};
	return r;
}

static void tb_init(struct tb *t, const char *service, const char *tenant)
{
	memset(t, 0, sizeof *t);
	t->ar = tl_arena_create(1 << 16, 0);
	t->cap = 256;
	t->b.arena = t->ar;
	t->b.spans = tl_arena_zalloc(t->ar, t->cap * sizeof *t->b.spans);
	t->b.resources = tl_arena_zalloc(t->ar, sizeof *t->b.resources);
	t->b.scopes = tl_arena_zalloc(t->ar, sizeof *t->b.scopes);
	t->b.n_resources = t->b.n_scopes = 1;
	struct tl_resource *r = &t->b.resources[0];
	r->attrs.items = tl_arena_zalloc(t->ar, 2 * sizeof *r->attrs.items);
	r->attrs.items[0].key = S(t->ar, "service.name");
	r->attrs.items[0].v.kind = TL_V_STR;
	r->attrs.items[0].v.u.s = S(t->ar, service);
	r->attrs.items[1].key = S(t->ar, "telemetry.sdk.language");
	r->attrs.items[1].v.kind = TL_V_STR;
	r->attrs.items[1].v.u.s = S(t->ar, "python");
	r->attrs.n = 2;
	r->service = S(t->ar, service);
	t->b.scopes[0].name = S(t->ar, "opentelemetry.instrumentation.openai");
	t->b.scopes[0].version = S(t->ar, "0.40.0");
	t->b.tenant = S(t->ar, tenant);
}

static void tb_free(struct tb *t)
{
	tl_arena_destroy(t->ar);
}

static void make_id(uint8_t id[16], unsigned n)
{
	memset(id, 0, 16);
	id[0] = 0xab;
	id[12] = (uint8_t)(n >> 24);
	id[13] = (uint8_t)(n >> 16);
	id[14] = (uint8_t)(n >> 8);
	id[15] = (uint8_t)n;
}

static void add_attr(struct tb *t, struct tl_span *sp, const char *k, const char *sv, int64_t iv)
{
	struct tl_kv *kv = &sp->attrs.items[sp->attrs.n++];
	kv->key = S(t->ar, k);
	if (sv) {
		kv->v.kind = TL_V_STR;
		kv->v.u.s = S(t->ar, sv);
	} else {
		kv->v.kind = TL_V_INT;
		kv->v.u.i = iv;
	}
}

static struct tl_span *tb_span(struct tb *t, unsigned trace, unsigned sid, unsigned parent, const char *name,
			       uint64_t start, uint64_t end)
{
	if (t->b.n_spans == t->cap)
		abort();
	struct tl_span *sp = &t->b.spans[t->b.n_spans++];
	memset(sp, 0, sizeof *sp);
	make_id(sp->trace_id, trace);
	sp->span_id[0] = 1;
	sp->span_id[6] = (uint8_t)(sid >> 8);
	sp->span_id[7] = (uint8_t)sid;
	if (parent) {
		sp->has_parent = 1;
		sp->parent_span_id[0] = 1;
		sp->parent_span_id[6] = (uint8_t)(parent >> 8);
		sp->parent_span_id[7] = (uint8_t)parent;
	}
	sp->name = S(t->ar, name);
	sp->kind = TL_KIND_INTERNAL;
	sp->start_unix_nano = start;
	sp->end_unix_nano = end;
	sp->resource = &t->b.resources[0];
	sp->scope = &t->b.scopes[0];
	sp->attrs.items = tl_arena_zalloc(t->ar, 12 * sizeof *sp->attrs.items);
	sp->genai.input_tokens = sp->genai.output_tokens = TL_NONE;
	sp->genai.cache_read_tokens = sp->genai.cache_write_tokens = sp->genai.reasoning_tokens = TL_NONE;
	sp->genai.cost_nusd = TL_NONE;
	sp->run.step = TL_NONE;
	return sp;
}

/* Marks a span as an LLM chat call, in attributes and in the normalised view. */
static void set_chat(struct tb *t, struct tl_span *sp, const char *model, int64_t in, int64_t out, int64_t cost,
		     const char *prompt)
{
	add_attr(t, sp, "gen_ai.operation.name", "chat", 0);
	add_attr(t, sp, "gen_ai.provider.name", "openai", 0);
	add_attr(t, sp, "gen_ai.request.model", model, 0);
	add_attr(t, sp, "gen_ai.usage.input_tokens", NULL, in);
	add_attr(t, sp, "gen_ai.usage.output_tokens", NULL, out);
	if (prompt)
		add_attr(t, sp, "gen_ai.input.messages", prompt, 0);
	sp->kind = TL_KIND_CLIENT;
	sp->genai.is_genai = 1;
	sp->genai.operation = TL_STR_LIT("chat");
	sp->genai.provider = TL_STR_LIT("openai");
	sp->genai.request_model = S(t->ar, model);
	sp->genai.input_tokens = in;
	sp->genai.output_tokens = out;
	sp->genai.cost_nusd = cost;
	sp->genai.price_unknown = cost == TL_NONE;
}

static void set_tool(struct tb *t, struct tl_span *sp, const char *tool)
{
	add_attr(t, sp, "gen_ai.operation.name", "execute_tool", 0);
	add_attr(t, sp, "gen_ai.tool.name", tool, 0);
	sp->genai.is_genai = 1;
	sp->genai.operation = TL_STR_LIT("execute_tool");
	sp->genai.tool_name = S(t->ar, tool);
}

static void set_agent(struct tb *t, struct tl_span *sp, const char *agent, const char *session)
{
	add_attr(t, sp, "gen_ai.operation.name", "invoke_agent", 0);
	add_attr(t, sp, "gen_ai.agent.name", agent, 0);
	if (session) {
		add_attr(t, sp, "gen_ai.conversation.id", session, 0);
		sp->genai.conversation_id = S(t->ar, session);
	}
	sp->genai.is_genai = 1;
	sp->genai.operation = TL_STR_LIT("invoke_agent");
	sp->genai.agent_name = S(t->ar, agent);
}

/* An agent trace: root invoke_agent, n_chat chat spans, n_tool tool spans. */
static void agent_trace(struct tb *t, unsigned trace, uint64_t start, int n_chat, int n_tool, const char *model,
			int64_t cost_each, const char *session)
{
	unsigned sid = 1;
	struct tl_span *root = tb_span(t, trace, sid++, 0, "invoke_agent planner", start, start + 5 * SEC);
	set_agent(t, root, "planner", session);
	for (int i = 0; i < n_chat; i++) {
		struct tl_span *c = tb_span(t, trace, sid++, 1, "chat", start + (uint64_t)(i + 1) * 10 * MSEC,
					    start + (uint64_t)(i + 1) * 10 * MSEC + 400 * MSEC);
		set_chat(t, c, model, 100, 20, cost_each, NULL);
	}
	for (int i = 0; i < n_tool; i++) {
		struct tl_span *c = tb_span(t, trace, sid++, 1, "execute_tool search", start + 20 * MSEC,
					    start + 30 * MSEC);
		set_tool(t, c, "search");
	}
}

static struct store_trace_filter filter(const char *tenant)
{
	struct store_trace_filter f;
	memset(&f, 0, sizeof f);
	f.tenant = tenant;
	f.status = -1;
	f.min_duration_ns = f.max_duration_ns = f.min_cost_nusd = -1;
	f.limit = 100;
	return f;
}

static int append_wait(struct store *s, struct tb *t)
{
	struct waiter w;
	waiter_init(&w);
	if (store_append(s, &t->b, on_done, &w) != 0)
		return -1;
	if (!waiter_wait(&w, 1))
		return -2;
	return w.ok == 1 ? 0 : -3;
}

static int wait_written(struct store *s, uint64_t n)
{
	struct store_metrics m;
	for (int i = 0; i < 400; i++) {
		store_get_metrics(s, &m);
		if (m.traces_written >= n)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

static int count_span(const struct store_trace *tr, unsigned sid)
{
	int n = 0;
	for (size_t i = 0; i < tr->n_spans; i++)
		if (tr->spans[i].span_id[6] == (uint8_t)(sid >> 8) && tr->spans[i].span_id[7] == (uint8_t)sid)
			n++;
	return n;
}

/* ---- tests ------------------------------------------------------------------- */

TEST(append_done_and_get)
{
	char *dir = tmpdir();
	struct store *s = open_store(dir, 60000);
	struct tb t;
	struct waiter w;
	uint8_t id[16];
	struct store_trace tr;
	uint64_t t0 = tl_now_unix_nano() - 60 * SEC;

	CHECK(s != NULL);
	CHECK(store_ready(s));
	tb_init(&t, "svc-a", "default");
	agent_trace(&t, 1, t0, 3, 2, "gpt-4o-mini", 1500, "sess-1");
	waiter_init(&w);
	CHECK_EQ_INT(store_append(s, &t.b, on_done, &w), 0);
	tb_free(&t); /* the store copied what it needs */
	CHECK(waiter_wait(&w, 1));
	CHECK_EQ_INT(w.ok, 1);

	make_id(id, 1);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 6);
	CHECK_EQ_INT(tr.summary.span_count, 6);
	CHECK_EQ_INT(tr.summary.llm_calls, 3);
	CHECK_EQ_INT(tr.summary.tool_calls, 2);
	CHECK_EQ_INT(tr.summary.input_tokens, 300);
	CHECK_EQ_INT(tr.summary.cost_nusd, 4500);
	CHECK_EQ_STR(tr.summary.name, "invoke_agent planner");
	CHECK_EQ_STR(tr.summary.service, "svc-a");
	CHECK_EQ_STR(tr.summary.session_id, "sess-1");
	CHECK_EQ_INT(tr.spans[0].start_unix_nano, t0);
	CHECK_EQ_INT(tr.spans[1].genai.cost_nusd, 1500);
	store_trace_cleanup(&tr);
	/* Another tenant does not see it. */
	CHECK_EQ_INT(store_get_trace(s, "other", id, NULL, &tr), TL_ENOTFOUND);

	struct store_metrics m;
	store_get_metrics(s, &m);
	CHECK_EQ_INT(m.spans_committed, 6);
	CHECK(m.commits >= 1);
	/* Complete on arrival (it has its root): written in the acknowledging commit. */
	CHECK_EQ_INT(m.pending_traces, 0);
	CHECK_EQ_INT(m.traces_written, 1);
	store_close(s);

	/* After close (which writes pending traces) the trace comes from its chunk. */
	s = open_store(dir, 60000);
	CHECK(s != NULL);
	store_get_metrics(s, &m);
	CHECK_EQ_INT(m.pending_traces, 0);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 6);
	CHECK_EQ_INT(tr.summary.cost_nusd, 4500);
	CHECK_EQ_INT(tr.summary.n_models, 1);
	CHECK_EQ_STR(tr.summary.models[0], "gpt-4o-mini");
	CHECK_STR(tr.spans[0].name, "invoke_agent planner");
	CHECK_STR(model_span_service(&tr.spans[0]), "svc-a");
	store_trace_cleanup(&tr);

	struct store_trace_filter f = filter("default");
	struct store_trace_summary *out;
	size_t n;
	int more;
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_INT(out[0].span_count, 6);
		CHECK_EQ_INT(out[0].llm_calls, 3);
		CHECK_EQ_INT(out[0].output_tokens, 60);
		CHECK_EQ_INT(out[0].cost_known, 1);
		CHECK_EQ_STR(out[0].agent, "planner");
		CHECK(out[0].has_root);
	}
	free(out);
	store_close(s);
	rmdir_all(dir);
	free(dir);
}

TEST(pending_then_flush_and_late_spans)
{
	char *dir = tmpdir();
	struct store *s = open_store(dir, 50);
	struct tb t;
	uint8_t id[16];
	struct store_trace tr;
	uint64_t t0 = tl_now_unix_nano() - 30 * SEC;
	struct store_trace_filter f = filter("default");
	struct store_trace_summary *out;
	size_t n;
	int more;

	CHECK(s != NULL);
	make_id(id, 7);
	/* Children first: no root yet, the earliest span names the trace. */
	tb_init(&t, "svc", "default");
	struct tl_span *a = tb_span(&t, 7, 3, 1, "chat late", t0 + 2 * SEC, t0 + 3 * SEC);
	set_chat(&t, a, "gpt-4o", 10, 5, 100, NULL);
	struct tl_span *b = tb_span(&t, 7, 2, 1, "execute_tool x", t0 + 1 * SEC, t0 + 2 * SEC);
	set_tool(&t, b, "x");
	CHECK_EQ_INT(append_wait(s, &t), 0);
	tb_free(&t);
	CHECK(wait_written(s, 1));
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_STR(out[0].name, "execute_tool x");
		CHECK_EQ_INT(out[0].has_root, 0);
		CHECK_EQ_INT(out[0].span_count, 2);
	}
	free(out);

	/* The root and another chat arrive late: merged with the stored row. */
	tb_init(&t, "svc", "default");
	struct tl_span *r = tb_span(&t, 7, 1, 0, "invoke_agent root", t0, t0 + 10 * SEC);
	set_agent(&t, r, "root-agent", NULL);
	struct tl_span *c = tb_span(&t, 7, 4, 1, "chat 2", t0 + 4 * SEC, t0 + 5 * SEC);
	set_chat(&t, c, "claude-x", 20, 5, TL_NONE, NULL);
	struct waiter w;
	waiter_init(&w);
	CHECK_EQ_INT(store_append(s, &t.b, on_done, &w), 0);
	tb_free(&t);
	/* Visible as soon as store_append returned, merged with the row. */
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_STR(out[0].name, "invoke_agent root");
		CHECK_EQ_INT(out[0].span_count, 4);
		CHECK_EQ_INT(out[0].llm_calls, 2);
		CHECK_EQ_INT(out[0].start_unix_nano, t0);
		CHECK_EQ_INT(out[0].n_models, 2);
		CHECK_EQ_INT(out[0].price_unknown, 1);
		CHECK_EQ_INT(out[0].cost_nusd, 100);
	}
	free(out);
	CHECK(waiter_wait(&w, 1));
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 4);
	store_trace_cleanup(&tr);
	CHECK(wait_written(s, 2));
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 4);
	for (unsigned k = 1; k <= 4; k++)
		CHECK_EQ_INT(count_span(&tr, k), 1);
	CHECK_EQ_STR(tr.summary.name, "invoke_agent root");
	store_trace_cleanup(&tr);
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_INT(out[0].span_count, 4);
		CHECK_EQ_STR(out[0].agent, "root-agent");
		CHECK_EQ_INT(out[0].end_unix_nano, t0 + 10 * SEC);
	}
	free(out);
	store_close(s);
	rmdir_all(dir);
	free(dir);
}

TEST(list_filters_and_cursor)
{
	char *dir = tmpdir();
	struct store *s = open_store(dir, 50);
	struct tb t;
	uint64_t t0 = tl_now_unix_nano() - 3600 * SEC;
	struct store_trace_filter f;
	struct store_trace_summary *out;
	size_t n;
	int more;

	CHECK(s != NULL);
	/* 25 traces, one second apart; every 5th uses claude, every 4th fails. */
	for (unsigned i = 0; i < 25; i++) {
		tb_init(&t, i % 2 ? "odd" : "even", "default");
		uint64_t st = t0 + i * SEC;
		struct tl_span *r = tb_span(&t, 100 + i, 1, 0, "run", st, st + (i + 1) * 100 * MSEC);
		set_agent(&t, r, "bot", i == 3 ? "session-3" : NULL);
		struct tl_span *c = tb_span(&t, 100 + i, 2, 1, "chat", st, st + 50 * MSEC);
		char prompt[64];
		snprintf(prompt, sizeof prompt, "[{\"role\":\"user\",\"content\":\"Question NUMBER %u\"}]", i);
		set_chat(&t, c, i % 5 == 0 ? "claude-3" : "gpt-4o", 10, 10, (int64_t)i * 1000, prompt);
		if (i % 4 == 0)
			c->status_code = TL_STATUS_ERROR;
		CHECK_EQ_INT(append_wait(s, &t), 0);
		tb_free(&t);
		/* Half of them written to the table, the rest still pending. */
		if (i == 12)
			CHECK(wait_written(s, 13));
	}
	/* Pages of 10, newest first, every trace once. */
	f = filter("default");
	f.limit = 10;
	int seen[25] = {0}, pages = 0;
	uint64_t prev = UINT64_MAX;
	for (;;) {
		CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
		pages++;
		for (size_t i = 0; i < n; i++) {
			unsigned k = out[i].trace_id[15] - 100;
			if (k < 25)
				seen[k]++;
			CHECK(out[i].start_unix_nano < prev);
			prev = out[i].start_unix_nano;
		}
		if (!more || n == 0) {
			free(out);
			break;
		}
		f.has_cursor = 1;
		f.cursor_start = out[n - 1].start_unix_nano;
		memcpy(f.cursor_id, out[n - 1].trace_id, 16);
		free(out);
		if (pages > 5)
			break;
	}
	CHECK_EQ_INT(pages, 3);
	for (int i = 0; i < 25; i++)
		CHECK_EQ_INT(seen[i], 1);

	struct {
		const char *what;
		void (*set)(struct store_trace_filter *);
		size_t want;
	} cases[] = {
		{"model", NULL, 5}, {"status error", NULL, 7}, {"status ok", NULL, 18}, {"min cost", NULL, 5},
		{"session", NULL, 1}, {"q", NULL, 1}, {"service", NULL, 12}, {"min duration", NULL, 5},
		{"provider", NULL, 25}, {"window", NULL, 3},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		f = filter("default");
		switch (k) {
		case 0: f.model = "claude-3"; break;
		case 1: f.status = 1; break;
		case 2: f.status = 0; break;
		case 3: f.min_cost_nusd = 20000; break;
		case 4: f.session = "session-3"; break;
		case 5: f.q = "question number 17"; break;
		case 6: f.service = "odd"; break;
		case 7: f.min_duration_ns = (int64_t)(2050 * MSEC); break;
		case 8: f.provider = "openai"; break;
		case 9: f.start_unix_nano = t0 + 10 * SEC; f.end_unix_nano = t0 + 12 * SEC; break;
		}
		CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
		if (n != cases[k].want)
			fprintf(stderr, "  filter %s: got %zu want %zu\n", cases[k].what, n, cases[k].want);
		CHECK_EQ_INT(n, cases[k].want);
		free(out);
	}
	/* The same answers once everything is in the table. */
	store_close(s);
	s = open_store(dir, 50);
	f = filter("default");
	f.model = "claude-3";
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 5);
	free(out);
	f = filter("default");
	f.q = "QUESTION number 17";
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_EQ_INT(out[0].trace_id[15], 117);
	free(out);
	f = filter("nobody");
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 0);
	free(out);
	store_close(s);
	rmdir_all(dir);
	free(dir);
}

TEST(stats_by_model_with_step)
{
	char *dir = tmpdir();
	struct store *s = open_store(dir, 60000);
	struct tb t;
	uint64_t base = (tl_now_unix_nano() / (60 * SEC) - 10) * 60 * SEC;

	CHECK(s != NULL);
	tb_init(&t, "svc", "default");
	/* Minute 0: 3 gpt calls of 100 ms; minute 1: 1 gpt call of 2 s and 2 claude calls. */
	for (unsigned i = 0; i < 3; i++) {
		struct tl_span *c = tb_span(&t, 500, i + 1, 0, "chat", base + i * SEC, base + i * SEC + 100 * MSEC);
		set_chat(&t, c, "gpt-4o", 100, 10, 1000, NULL);
	}
	struct tl_span *c = tb_span(&t, 501, 1, 0, "chat", base + 61 * SEC, base + 63 * SEC);
	set_chat(&t, c, "gpt-4o", 50, 5, 500, NULL);
	c->status_code = TL_STATUS_ERROR;
	for (unsigned i = 0; i < 2; i++) {
		c = tb_span(&t, 502, i + 1, 0, "chat", base + 62 * SEC, base + 62 * SEC + 10 * MSEC);
		set_chat(&t, c, "claude-3", 7, 3, TL_NONE, NULL);
	}
	struct tl_span *tool = tb_span(&t, 502, 9, 1, "execute_tool", base + 62 * SEC, base + 63 * SEC);
	set_tool(&t, tool, "calc");
	CHECK_EQ_INT(append_wait(s, &t), 0);
	tb_free(&t);

	struct store_stats_filter f;
	memset(&f, 0, sizeof f);
	f.tenant = "default";
	f.start_unix_nano = base;
	f.end_unix_nano = base + 5 * 60 * SEC;
	f.step_ns = 60 * SEC;
	f.group_by = STORE_G_MODEL;
	struct store_stats_point *p;
	size_t n;
	CHECK_EQ_INT(store_stats(s, &f, &p, &n), 0);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		/* Ordered by group then bucket: claude@1, gpt@0, gpt@1. */
		CHECK_EQ_STR(p[0].model, "claude-3");
		CHECK_EQ_INT(p[0].calls, 2);
		CHECK_EQ_INT(p[0].bucket_start, base + 60 * SEC);
		CHECK_EQ_INT(p[0].cost_nusd, 0);
		CHECK_EQ_STR(p[1].model, "gpt-4o");
		CHECK_EQ_INT(p[1].bucket_start, base);
		CHECK_EQ_INT(p[1].calls, 3);
		CHECK_EQ_INT(p[1].input_tokens, 300);
		CHECK_EQ_INT(p[1].cost_nusd, 3000);
		CHECK(p[1].p50_ms > 60 && p[1].p50_ms <= 160);
		CHECK_EQ_INT(p[2].calls, 1);
		CHECK_EQ_INT(p[2].errors, 1);
		CHECK(p[2].p99_ms > 1000 && p[2].p99_ms <= 3000);
	}
	free(p);
	/* One bucket, no grouping, filtered by provider. */
	f.step_ns = 0;
	f.group_by = 0;
	f.provider = "openai";
	CHECK_EQ_INT(store_stats(s, &f, &p, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_INT(p[0].calls, 6);
		CHECK_EQ_INT(p[0].errors, 1);
		CHECK_EQ_INT(p[0].output_tokens, 41);
		CHECK_EQ_INT(p[0].cost_nusd, 3500);
	}
	free(p);
	store_close(s);
	/* Rollups are not applied twice by a reopen. */
	s = open_store(dir, 60000);
	f.provider = NULL;
	CHECK_EQ_INT(store_stats(s, &f, &p, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_EQ_INT(p[0].calls, 6);
	free(p);
	store_close(s);
	rmdir_all(dir);
	free(dir);
}

TEST(retention_by_age_and_size)
{
	char *dir = tmpdir();
	struct store_config c;
	struct store *s = NULL;
	char err[256];
	struct tb t;
	uint64_t now = tl_now_unix_nano();

	store_config_defaults(&c);
	c.data_dir = dir;
	c.trace_idle_ms = 20;
	c.retention_ns = 3600 * SEC;
	CHECK_EQ_INT(store_open(&c, &s, err, sizeof err), 0);
	for (unsigned i = 0; i < 6; i++) {
		tb_init(&t, "svc", "default");
		uint64_t st = i < 4 ? now - 3 * 3600 * SEC + i * SEC : now - 60 * SEC + i * SEC;
		agent_trace(&t, 900 + i, st, 2, 1, "gpt-4o", 10, NULL);
		CHECK_EQ_INT(append_wait(s, &t), 0);
		tb_free(&t);
	}
	CHECK(wait_written(s, 6));
	CHECK_EQ_INT(store_run_retention(s), 0);
	struct store_trace_filter f = filter("default");
	struct store_trace_summary *out;
	size_t n;
	int more;
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 2);
	free(out);
	uint8_t id[16];
	struct store_trace tr;
	make_id(id, 900);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), TL_ENOTFOUND);
	make_id(id, 905);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	store_trace_cleanup(&tr);
	struct store_metrics m;
	store_get_metrics(s, &m);
	CHECK_EQ_INT(m.retention_deleted, 4);
	CHECK(m.db_bytes > 0);
	/* Old rollups went with them. */
	struct store_stats_filter sf;
	memset(&sf, 0, sizeof sf);
	sf.tenant = "default";
	struct store_stats_point *p;
	CHECK_EQ_INT(store_stats(s, &sf, &p, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_EQ_INT(p[0].calls, 4);
	free(p);
	store_close(s);

	/* By size: a tiny limit deletes the oldest traces first. */
	c.retention_ns = 0;
	c.max_size_bytes = 1;
	CHECK_EQ_INT(store_open(&c, &s, err, sizeof err), 0);
	CHECK_EQ_INT(store_run_retention(s), 0);
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 0);
	free(out);
	store_close(s);
	rmdir_all(dir);
	free(dir);
}

/* Child: appends, waits for every done(), then dies without store_close. */
static void crash_child(const char *dir)
{
	struct store *s = open_store(dir, 100);
	struct tb t;
	uint64_t t0 = tl_now_unix_nano() - 120 * SEC;
	struct waiter w;
	int n = 0;
	if (!s)
		_exit(2);
	waiter_init(&w);
	/* Trace 1: first part, written as a chunk before the crash. */
	tb_init(&t, "svc", "default");
	agent_trace(&t, 1, t0, 4, 2, "gpt-4o", 10, NULL);
	if (store_append(s, &t.b, on_done, &w) != 0)
		_exit(3);
	n++;
	tb_free(&t);
	if (!waiter_wait(&w, n) || !wait_written(s, 1))
		_exit(4);
	/* Late spans of trace 1 and 20 more traces, left pending (or half written). */
	for (unsigned i = 0; i < 21; i++) {
		tb_init(&t, "svc", i % 3 || i == 0 ? "default" : "acme");
		if (i == 0) {
			struct tl_span *sp = tb_span(&t, 1, 50, 1, "chat late", t0 + SEC, t0 + 2 * SEC);
			set_chat(&t, sp, "gpt-4o", 1, 1, 5, NULL);
		} else {
			agent_trace(&t, 10 + i, t0 + i * SEC, 3, 2, "gpt-4o", 10, NULL);
		}
		if (store_append(s, &t.b, on_done, &w) != 0)
			_exit(5);
		n++;
		tb_free(&t);
	}
	if (!waiter_wait(&w, n) || w.ok != n)
		_exit(6);
	_exit(0);
}

TEST(replay_after_crash)
{
	char *dir = tmpdir();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		crash_child(dir);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	struct store *s = open_store(dir, 60000);
	struct store_trace tr;
	uint8_t id[16];
	CHECK(s != NULL);
	make_id(id, 1);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 8);
	for (unsigned k = 1; k <= 7; k++)
		CHECK_EQ_INT(count_span(&tr, k), 1);
	CHECK_EQ_INT(count_span(&tr, 50), 1);
	CHECK_EQ_INT(tr.summary.llm_calls, 5);
	store_trace_cleanup(&tr);
	for (unsigned i = 1; i < 21; i++) {
		const char *tenant = i % 3 ? "default" : "acme";
		make_id(id, 10 + i);
		CHECK_EQ_INT(store_get_trace(s, tenant, id, NULL, &tr), 0);
		CHECK_EQ_INT(tr.n_spans, 6);
		for (unsigned k = 1; k <= 6; k++)
			CHECK_EQ_INT(count_span(&tr, k), 1);
		store_trace_cleanup(&tr);
		CHECK_EQ_INT(store_get_trace(s, i % 3 ? "acme" : "default", id, NULL, &tr), TL_ENOTFOUND);
	}
	struct store_trace_filter f = filter("default");
	struct store_trace_summary *out;
	size_t n;
	int more;
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 15); /* trace 1 plus 14 of the 20 */
	for (size_t i = 0; i < n; i++)
		if (out[i].trace_id[15] == 1)
			CHECK_EQ_INT(out[i].span_count, 8);
	free(out);
	/* Replay again after a clean close: still exactly once, nothing left to replay. */
	store_close(s);
	s = open_store(dir, 60000);
	make_id(id, 1);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 8);
	store_trace_cleanup(&tr);
	struct store_metrics m;
	store_get_metrics(s, &m);
	CHECK_EQ_INT(m.pending_traces, 0);
	/* Rollups were committed once with the ingest log, not re-applied on replay. */
	struct store_stats_filter sf;
	memset(&sf, 0, sizeof sf);
	sf.tenant = "default";
	struct store_stats_point *p;
	CHECK_EQ_INT(store_stats(s, &sf, &p, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_EQ_INT(p[0].calls, 4 + 1 + 14 * 3);
	free(p);
	store_close(s);
	rmdir_all(dir);
	free(dir);
}

static int fault_fn(void *arg, const char *op)
{
	return *(int *)arg && strcmp(op, "commit") == 0;
}

TEST(fault_seam)
{
	char *dir = tmpdir();
	struct store_config c;
	struct store *s = NULL;
	char err[256];
	int fail = 1;
	struct tb t;
	struct waiter w;
	uint8_t id[16];
	struct store_trace tr;

	store_config_defaults(&c);
	c.data_dir = dir;
	c.fault = fault_fn;
	c.fault_arg = &fail;
	CHECK_EQ_INT(store_open(&c, &s, err, sizeof err), 0);
	tb_init(&t, "svc", "default");
	agent_trace(&t, 77, tl_now_unix_nano() - SEC, 1, 1, "gpt-4o", 1, NULL);
	waiter_init(&w);
	CHECK_EQ_INT(store_append(s, &t.b, on_done, &w), 0);
	CHECK(waiter_wait(&w, 1));
	CHECK_EQ_INT(w.failed, 1);
	make_id(id, 77);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), TL_ENOTFOUND);
	struct store_trace_filter f = filter("default");
	struct store_trace_summary *out;
	size_t n;
	int more;
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 0);
	free(out);
	/* Healthy again: the next append is stored. */
	fail = 0;
	CHECK_EQ_INT(append_wait(s, &t), 0);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 3);
	store_trace_cleanup(&tr);
	tb_free(&t);
	store_close(s);
	/* Nothing of the failed batch survived a reopen either. */
	c.fault = NULL;
	CHECK_EQ_INT(store_open(&c, &s, err, sizeof err), 0);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 3);
	store_trace_cleanup(&tr);
	store_close(s);
	rmdir_all(dir);
	free(dir);
}

static long long db_count(const char *dir, const char *sql)
{
	char path[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;
	snprintf(path, sizeof path, "%s/tracelamp.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Enough traces to train the chunk dictionary; later chunks use it and read back. */
TEST(chunk_dictionary)
{
	char *dir = tmpdir();
	struct store *s = open_store(dir, 10);
	struct tb t;
	uint64_t t0 = tl_now_unix_nano() - 600 * SEC;
	uint8_t id[16];
	struct store_trace tr;

	CHECK(s != NULL);
	/* The dictionary is trained on its own thread and committed with a later
	 * cycle: keep appending until it is there, then a few batches more. */
	unsigned nb = 0, extra = 0;
	for (unsigned b = 0; b < 200 && extra < 5; b++) {
		tb_init(&t, "svc", "default");
		for (unsigned k = 0; k < 12; k++)
			agent_trace(&t, 2000 + b * 12 + k, t0 + (b * 12 + k) * SEC, 8, 6, "gpt-4o-mini", 25, NULL);
		CHECK_EQ_INT(append_wait(s, &t), 0);
		tb_free(&t);
		nb++;
		if (b % 10 == 9)
			CHECK(wait_written(s, (b + 1) * 12));
		if (extra || db_count(dir, "SELECT count(*) FROM zdict") == 1)
			extra++;
		else if (b >= 50)
			sleep_ms(20);
	}
	CHECK_EQ_INT(extra, 5);
	store_close(s);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM zdict"), 1);
	CHECK(db_count(dir, "SELECT count(*) FROM trace_chunks WHERE dict > 0") > 0);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM ingest_log"), 0);
	s = open_store(dir, 10);
	CHECK(s != NULL);
	for (unsigned i = 0; i < nb * 12; i += 7) {
		make_id(id, 2000 + i);
		CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
		CHECK_EQ_INT(tr.n_spans, 15);
		CHECK_EQ_INT(tr.summary.cost_nusd, 8 * 25);
		store_trace_cleanup(&tr);
	}
	store_close(s);
	rmdir_all(dir);
	free(dir);
}

/* Child: complete traces (direct path) and incomplete ones (ingest log), every
 * done() seen, then death without store_close. */
static void crash_child_direct(const char *dir)
{
	struct store *s = open_store(dir, 60000);
	struct tb t;
	uint64_t t0 = tl_now_unix_nano() - 300 * SEC;
	struct waiter w;
	int n = 0;
	if (!s)
		_exit(2);
	waiter_init(&w);
	for (unsigned i = 0; i < 10; i++) {
		tb_init(&t, "svc", "default");
		/* Traces 3000..3009 complete; 3100..3109 children only. */
		agent_trace(&t, 3000 + i, t0 + i * SEC, 2, 1, "gpt-4o", 7, NULL);
		struct tl_span *c = tb_span(&t, 3100 + i, 2, 1, "chat", t0 + i * SEC, t0 + i * SEC + SEC);
		set_chat(&t, c, "gpt-4o", 3, 3, 9, NULL);
		if (store_append(s, &t.b, on_done, &w) != 0)
			_exit(3);
		n++;
		tb_free(&t);
	}
	if (!waiter_wait(&w, n) || w.ok != n)
		_exit(4);
	_exit(0);
}

TEST(direct_write_exactly_once_after_crash)
{
	char *dir = tmpdir();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		crash_child_direct(dir);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Complete traces were committed as chunks with their acknowledgement;
	 * only the incomplete ones are in the ingest log. */
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM trace_chunks"), 10);
	CHECK_EQ_INT(db_count(dir, "SELECT sum(span_count) FROM trace_chunks"), 40);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM traces"), 10);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM ingest_log"), 10);

	struct store *s = open_store(dir, 60000);
	struct store_trace tr;
	uint8_t id[16];
	CHECK(s != NULL);
	for (unsigned i = 0; i < 10; i++) {
		make_id(id, 3000 + i);
		CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
		CHECK_EQ_INT(tr.n_spans, 4);
		for (unsigned k = 1; k <= 4; k++)
			CHECK_EQ_INT(count_span(&tr, k), 1);
		CHECK_EQ_INT(tr.summary.cost_nusd, 14);
		store_trace_cleanup(&tr);
		make_id(id, 3100 + i);
		CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
		CHECK_EQ_INT(tr.n_spans, 1);
		store_trace_cleanup(&tr);
	}
	struct store_trace_filter f = filter("default");
	struct store_trace_summary *out;
	size_t n;
	int more;
	CHECK_EQ_INT(store_list_traces(s, &f, &out, &n, &more), 0);
	CHECK_EQ_INT(n, 20);
	for (size_t i = 0; i < n; i++) {
		unsigned k = (unsigned)out[i].trace_id[14] << 8 | out[i].trace_id[15];
		CHECK_EQ_INT(out[i].span_count, k < 3100 ? 4 : 1);
	}
	free(out);
	/* Rollups once: 10 x 2 chats + 10 chats. */
	struct store_stats_filter sf;
	memset(&sf, 0, sizeof sf);
	sf.tenant = "default";
	struct store_stats_point *p;
	CHECK_EQ_INT(store_stats(s, &sf, &p, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_EQ_INT(p[0].calls, 30);
	free(p);
	store_close(s);
	/* Reopen: nothing replayed twice, nothing left in the log. */
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM ingest_log"), 0);
	CHECK_EQ_INT(db_count(dir, "SELECT sum(span_count) FROM trace_chunks"), 50);
	CHECK_EQ_INT(db_count(dir, "SELECT sum(span_count) FROM traces"), 50);
	rmdir_all(dir);
	free(dir);
}

/* The root arrives while its trace is pending: the trace is written after the
 * short root grace, long before the idle timeout. */
TEST(root_triggers_flush)
{
	char *dir = tmpdir();
	struct store_config c;
	struct store *s = NULL;
	char err[256];
	struct tb t;
	uint64_t t0 = tl_now_unix_nano() - 30 * SEC;
	struct store_metrics m;
	uint8_t id[16];
	struct store_trace tr;

	store_config_defaults(&c);
	c.data_dir = dir;
	c.trace_idle_ms = 600000;
	c.root_grace_ms = 50;
	CHECK_EQ_INT(store_open(&c, &s, err, sizeof err), 0);
	tb_init(&t, "svc", "default");
	for (unsigned k = 2; k <= 4; k++) {
		struct tl_span *sp = tb_span(&t, 40, k, 1, "chat", t0 + k * SEC, t0 + k * SEC + SEC);
		set_chat(&t, sp, "gpt-4o", 10, 1, 3, NULL);
	}
	CHECK_EQ_INT(append_wait(s, &t), 0);
	tb_free(&t);
	sleep_ms(300);
	store_get_metrics(s, &m);
	CHECK_EQ_INT(m.pending_traces, 1); /* no root: waits for the idle timeout */
	CHECK_EQ_INT(m.traces_written, 0);

	tb_init(&t, "svc", "default");
	struct tl_span *r = tb_span(&t, 40, 1, 0, "invoke_agent a", t0, t0 + 10 * SEC);
	set_agent(&t, r, "a", NULL);
	CHECK_EQ_INT(append_wait(s, &t), 0);
	tb_free(&t);
	CHECK(wait_written(s, 1));
	store_get_metrics(s, &m);
	CHECK_EQ_INT(m.pending_traces, 0);
	CHECK_EQ_INT(m.traces_written, 1);
	/* One chunk for the whole trace (the root joined the pending spans). */
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM trace_chunks"), 1);
	CHECK_EQ_INT(db_count(dir, "SELECT span_count FROM traces"), 4);
	CHECK_EQ_INT(db_count(dir, "SELECT has_root FROM traces"), 1);
	make_id(id, 40);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 4);
	CHECK_EQ_STR(tr.summary.name, "invoke_agent a");
	store_trace_cleanup(&tr);
	store_close(s);
	/* The watermark passed the trace's log rows: they are gone. */
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM ingest_log"), 0);
	rmdir_all(dir);
	free(dir);
}

/* Blocks the writer just before a commit, so the test can look at a cycle in
 * progress (direct chunks inserted, not committed). */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int armed, entered, open;
};

static int gate_fn(void *arg, const char *op)
{
	struct gate *g = arg;
	pthread_mutex_lock(&g->mu);
	if (g->armed && strcmp(op, "commit") == 0) {
		g->armed = 0;
		g->entered = 1;
		pthread_cond_broadcast(&g->cv);
		while (!g->open)
			pthread_cond_wait(&g->cv, &g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return 0;
}

static int list_one(struct store *s, struct store_trace_summary *one)
{
	struct store_trace_filter f = filter("default");
	struct store_trace_summary *out;
	size_t n;
	int more;
	if (store_list_traces(s, &f, &out, &n, &more) != 0 || n != 1) {
		if (n != 1)
			free(out);
		return -1;
	}
	*one = out[0];
	free(out);
	return 0;
}

/* Late spans after a trace was written on arrival merge into its summary,
 * whether they come without a root (assembler) or with one (direct, merged
 * with the row in SQL's transaction), and are never counted twice while a
 * commit is in progress. */
TEST(late_spans_after_direct_write)
{
	char *dir = tmpdir();
	struct store_config c;
	struct store *s = NULL;
	char err[256];
	struct tb t;
	uint64_t t0 = tl_now_unix_nano() - 30 * SEC;
	uint8_t id[16];
	struct store_trace tr;
	struct store_trace_summary one;
	struct gate g;

	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	g.armed = g.entered = g.open = 0;
	store_config_defaults(&c);
	c.data_dir = dir;
	c.trace_idle_ms = 50;
	c.fault = gate_fn;
	c.fault_arg = &g;
	CHECK_EQ_INT(store_open(&c, &s, err, sizeof err), 0);
	make_id(id, 60);
	tb_init(&t, "svc", "default");
	agent_trace(&t, 60, t0, 2, 1, "gpt-4o", 100, "s-60");
	CHECK_EQ_INT(append_wait(s, &t), 0);
	tb_free(&t);
	CHECK(wait_written(s, 1));
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM ingest_log"), 0);
	CHECK_EQ_INT(list_one(s, &one), 0);
	CHECK_EQ_INT(one.span_count, 4);

	/* A late child: pending in the assembler, merged with the row. */
	tb_init(&t, "svc", "default");
	struct tl_span *a = tb_span(&t, 60, 9, 1, "chat late", t0 + 6 * SEC, t0 + 8 * SEC);
	set_chat(&t, a, "claude-x", 5, 5, 50, NULL);
	CHECK_EQ_INT(append_wait(s, &t), 0);
	tb_free(&t);
	CHECK_EQ_INT(list_one(s, &one), 0);
	CHECK_EQ_INT(one.span_count, 5);
	CHECK_EQ_INT(one.cost_nusd, 250);
	CHECK_EQ_INT(one.end_unix_nano, t0 + 8 * SEC);
	CHECK(wait_written(s, 2));
	CHECK_EQ_INT(list_one(s, &one), 0);
	CHECK_EQ_INT(one.span_count, 5);
	CHECK_EQ_INT(one.n_models, 2);
	CHECK_EQ_STR(one.name, "invoke_agent planner");

	/* A late segment with a parentless span goes the direct way; hold its
	 * commit open and look at the trace meanwhile. */
	pthread_mutex_lock(&g.mu);
	g.armed = 1;
	pthread_mutex_unlock(&g.mu);
	tb_init(&t, "svc2", "default");
	struct tl_span *r2 = tb_span(&t, 60, 20, 0, "background job", t0 + 20 * SEC, t0 + 21 * SEC);
	(void)r2;
	struct waiter w;
	waiter_init(&w);
	CHECK_EQ_INT(store_append(s, &t.b, on_done, &w), 0);
	tb_free(&t);
	pthread_mutex_lock(&g.mu);
	while (!g.entered)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	CHECK_EQ_INT(list_one(s, &one), 0);
	CHECK_EQ_INT(one.span_count, 6);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 6);
	store_trace_cleanup(&tr);
	pthread_mutex_lock(&g.mu);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	CHECK(waiter_wait(&w, 1));
	CHECK_EQ_INT(w.ok, 1);
	CHECK_EQ_INT(list_one(s, &one), 0);
	CHECK_EQ_INT(one.span_count, 6);
	CHECK_EQ_INT(one.end_unix_nano, t0 + 21 * SEC);
	CHECK_EQ_STR(one.name, "invoke_agent planner"); /* the earliest root names the trace */
	CHECK_EQ_STR(one.session_id, "s-60");
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 6);
	CHECK_EQ_INT(count_span(&tr, 20), 1);
	CHECK_EQ_INT(count_span(&tr, 9), 1);
	store_trace_cleanup(&tr);
	store_close(s);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM trace_chunks"), 3);
	CHECK_EQ_INT(db_count(dir, "SELECT span_count FROM traces"), 6);
	CHECK_EQ_INT(db_count(dir, "SELECT cost_nusd FROM traces"), 250);
	rmdir_all(dir);
	free(dir);
}

static int db_exec(const char *dir, const char *sql)
{
	char path[512];
	sqlite3 *db = NULL;
	int rc;
	snprintf(path, sizeof path, "%s/tracelamp.db", dir);
	rc = sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_close(db);
	return rc;
}

/* A schema-1 database (chunks found through an index on trace_id) is upgraded
 * on open: chunk ids move into the trace rows and the index goes. */
TEST(schema_upgrade_from_1)
{
	char *dir = tmpdir();
	struct store *s = open_store(dir, 20);
	struct tb t;
	uint64_t t0 = tl_now_unix_nano() - 100 * SEC;
	uint8_t id[16];
	struct store_trace tr;

	CHECK(s != NULL);
	for (unsigned i = 0; i < 5; i++) {
		tb_init(&t, "svc", i == 4 ? "acme" : "default");
		agent_trace(&t, 700 + i, t0 + i * SEC, 2, 1, "gpt-4o", 3, NULL);
		CHECK_EQ_INT(append_wait(s, &t), 0);
		tb_free(&t);
	}
	/* A late span: trace 700 gets a second chunk. */
	tb_init(&t, "svc", "default");
	struct tl_span *a = tb_span(&t, 700, 9, 1, "chat late", t0 + 7 * SEC, t0 + 8 * SEC);
	set_chat(&t, a, "gpt-4o", 1, 1, 3, NULL);
	CHECK_EQ_INT(append_wait(s, &t), 0);
	tb_free(&t);
	store_close(s);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM trace_chunks"), 6);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'trace_chunks_trace'"), 0);
	/* Turn it into what schema 1 looked like. */
	CHECK_EQ_INT(db_exec(dir, "CREATE INDEX trace_chunks_trace ON trace_chunks(trace_id);"
				  "ALTER TABLE traces DROP COLUMN chunks; UPDATE meta SET v = 1 WHERE k = 'schema';"),
		     0);

	s = open_store(dir, 20);
	CHECK(s != NULL);
	CHECK_EQ_INT(db_count(dir, "SELECT v FROM meta WHERE k = 'schema'"), 2);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'trace_chunks_trace'"), 0);
	CHECK_EQ_INT(db_count(dir, "SELECT sum(length(chunks)) FROM traces"), 6 * 8);
	make_id(id, 700);
	CHECK_EQ_INT(store_get_trace(s, "default", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 5);
	CHECK_EQ_INT(count_span(&tr, 9), 1);
	store_trace_cleanup(&tr);
	make_id(id, 704);
	CHECK_EQ_INT(store_get_trace(s, "acme", id, NULL, &tr), 0);
	CHECK_EQ_INT(tr.n_spans, 4);
	store_trace_cleanup(&tr);
	/* Retention finds the chunks through the rows too. */
	store_close(s);
	struct store_config c;
	char err[256];
	store_config_defaults(&c);
	c.data_dir = dir;
	c.max_size_bytes = 1;
	CHECK_EQ_INT(store_open(&c, &s, err, sizeof err), 0);
	CHECK_EQ_INT(store_run_retention(s), 0);
	store_close(s);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM trace_chunks"), 0);
	CHECK_EQ_INT(db_count(dir, "SELECT count(*) FROM traces"), 0);
	rmdir_all(dir);
	free(dir);
}

static const struct tl_test_case tests[] = {
	T(append_done_and_get),
	T(pending_then_flush_and_late_spans),
	T(list_filters_and_cursor),
	T(stats_by_model_with_step),
	T(retention_by_age_and_size),
	T(replay_after_crash),
	T(fault_seam),
	T(chunk_dictionary),
	T(direct_write_exactly_once_after_crash),
	T(root_triggers_flush),
	T(late_spans_after_direct_write),
	T(schema_upgrade_from_1),
};

TEST_MAIN("store", tests)
