/*
 * test_integrity.c - unit tests for src/integrity: a real store in a temp dir
 * fed hand-built normalised batches, then integrity_check over the range. One
 * test per issue kind (orphan, several roots, cross-trace parent, clock skew
 * with and without tolerance), a clean trace, the settle time, example limits,
 * paging past one list page, the time range and argument errors.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tl_test.h"
#include "integrity/integrity.h"

#define SEC 1000000000ULL
#define MSEC 1000000ULL

/* ---- store and batch helpers ------------------------------------------------ */

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls, failed;
};

static void on_done(void *arg, int status)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->calls++;
	if (status)
		w->failed++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static char *make_tmpdir(void)
{
	char *d = strdup("/tmp/tl_integrity_XXXXXX");
	if (!d || !mkdtemp(d))
		abort();
	return d;
}

static void remove_dir(const char *d)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", d);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static struct store *open_store(const char *dir)
{
	struct store_config c;
	struct store *s = NULL;
	char err[256];
	store_config_defaults(&c);
	c.data_dir = dir;
	c.trace_idle_ms = 20;
	if (store_open(&c, &s, err, sizeof err) != 0)
		fprintf(stderr, "store_open: %s\n", err);
	return s;
}

/* A batch under construction: one resource and one scope. */
struct tb {
	struct tl_arena *ar;
	struct tl_batch b;
	size_t cap;
};

static struct tl_str dup_str(struct tl_arena *ar, const char *s)
{
	struct tl_str r = {tl_arena_strndup(ar, s, strlen(s)), strlen(s)};
	return r;
}

static void tb_init(struct tb *t, size_t cap)
{
	memset(t, 0, sizeof *t);
	t->ar = tl_arena_create(1 << 16, 0);
	t->cap = cap;
	t->b.arena = t->ar;
	t->b.spans = tl_arena_zalloc(t->ar, cap * sizeof *t->b.spans);
	t->b.resources = tl_arena_zalloc(t->ar, sizeof *t->b.resources);
	t->b.scopes = tl_arena_zalloc(t->ar, sizeof *t->b.scopes);
	t->b.n_resources = t->b.n_scopes = 1;
	struct tl_resource *r = &t->b.resources[0];
	r->attrs.items = tl_arena_zalloc(t->ar, sizeof *r->attrs.items);
	r->attrs.items[0].key = dup_str(t->ar, "service.name");
	r->attrs.items[0].v.kind = TL_V_STR;
	r->attrs.items[0].v.u.s = dup_str(t->ar, "integrity-test");
	r->attrs.n = 1;
	r->service = dup_str(t->ar, "integrity-test");
	t->b.scopes[0].name = dup_str(t->ar, "test");
	t->b.tenant = dup_str(t->ar, "default");
}

static void trace_id_of(uint8_t id[16], unsigned n)
{
	memset(id, 0, 16);
	id[0] = 0x1e;
	id[14] = (uint8_t)(n >> 8);
	id[15] = (uint8_t)n;
}

static void span_id_of(uint8_t id[8], unsigned n)
{
	memset(id, 0, 8);
	id[0] = 0x5a;
	id[6] = (uint8_t)(n >> 8);
	id[7] = (uint8_t)n;
}

/* Adds a span; parent 0 = root. Times are offsets in ms from base. */
static struct tl_span *tb_span(struct tb *t, unsigned trace, unsigned sid, unsigned parent, const char *name,
			       uint64_t base, int64_t start_ms, int64_t end_ms)
{
	if (t->b.n_spans == t->cap)
		abort();
	struct tl_span *sp = &t->b.spans[t->b.n_spans++];
	memset(sp, 0, sizeof *sp);
	trace_id_of(sp->trace_id, trace);
	span_id_of(sp->span_id, sid);
	if (parent) {
		sp->has_parent = 1;
		span_id_of(sp->parent_span_id, parent);
	}
	sp->name = dup_str(t->ar, name);
	sp->kind = TL_KIND_INTERNAL;
	sp->start_unix_nano = base + (uint64_t)(start_ms * (int64_t)MSEC);
	sp->end_unix_nano = base + (uint64_t)(end_ms * (int64_t)MSEC);
	sp->resource = &t->b.resources[0];
	sp->scope = &t->b.scopes[0];
	sp->genai.input_tokens = sp->genai.output_tokens = TL_NONE;
	sp->genai.cache_read_tokens = sp->genai.cache_write_tokens = sp->genai.reasoning_tokens = TL_NONE;
	sp->genai.cost_nusd = TL_NONE;
	sp->run.step = TL_NONE;
	return sp;
}

/* Appends the batch, waits for its commit, frees it. Returns 1 on success. */
static int tb_commit(struct store *s, struct tb *t)
{
	struct waiter w;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.calls = w.failed = 0;
	int rc = store_append(s, &t->b, on_done, &w);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&w.mu);
	while (rc == 0 && w.calls < 1)
		if (pthread_cond_timedwait(&w.cv, &w.mu, &ts) != 0)
			break;
	int ok = rc == 0 && w.calls == 1 && w.failed == 0;
	pthread_mutex_unlock(&w.mu);
	tl_arena_destroy(t->ar);
	return ok;
}

static void params_for(struct integrity_params *p, uint64_t base)
{
	memset(p, 0, sizeof *p);
	p->tenant = "default";
	p->start_unix_nano = base - 60 * SEC;
	p->end_unix_nano = base + 60 * SEC;
	p->max_examples = 10;
	p->now_unix_nano = base + 3600 * SEC;
}

/* A fixed base time a little in the past (whole seconds). */
static uint64_t base_time(void)
{
	return (tl_now_unix_nano() / SEC - 600) * SEC;
}

/* ---- tests -------------------------------------------------------------------- */

TEST(clean_trace)
{
	char *dir = make_tmpdir();
	struct store *s = open_store(dir);
	uint64_t base = base_time();
	struct tb t;
	struct integrity_params p;
	struct integrity_report *r = malloc(sizeof *r);
	CHECK(s != NULL);
	tb_init(&t, 8);
	tb_span(&t, 1, 1, 0, "invoke_agent planner", base, 0, 100);
	tb_span(&t, 1, 2, 1, "chat gpt-4o", base, 10, 50);
	tb_span(&t, 1, 3, 1, "execute_tool search", base, 50, 100); /* touching the end is fine */
	tb_span(&t, 1, 4, 3, "chat gpt-4o", base, 60, 90);
	CHECK(tb_commit(s, &t));
	params_for(&p, base);
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->traces_scanned, 1);
	CHECK_EQ_INT(r->spans_scanned, 4);
	CHECK_EQ_INT(integrity_report_total(r), 0);
	for (int k = 0; k < INTEGRITY_NKINDS; k++)
		CHECK_EQ_INT(r->kinds[k].n_examples, 0);
	CHECK_EQ_INT(r->truncated, 0);
	/* once written out of the pending set the answer is the same */
	sleep_ms(300);
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->traces_scanned, 1);
	CHECK_EQ_INT(integrity_report_total(r), 0);
	store_close(s);
	remove_dir(dir);
	free(dir);
	free(r);
}

TEST(orphan_span)
{
	char *dir = make_tmpdir();
	struct store *s = open_store(dir);
	uint64_t base = base_time();
	struct tb t;
	struct integrity_params p;
	struct integrity_report *r = malloc(sizeof *r);
	uint8_t tid[16], sid[8], pid[8];
	tb_init(&t, 8);
	tb_span(&t, 2, 1, 0, "root", base, 0, 100);
	tb_span(&t, 2, 2, 99, "lost child", base, 10, 20);
	CHECK(tb_commit(s, &t));
	params_for(&p, base);
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->kinds[INTEGRITY_ORPHAN].count, 1);
	CHECK_EQ_INT(r->kinds[INTEGRITY_CROSS_TRACE].count, 0);
	CHECK_EQ_INT(r->kinds[INTEGRITY_MULTI_ROOT].count, 0);
	CHECK_EQ_INT(r->kinds[INTEGRITY_ORPHAN].n_examples, 1);
	const struct integrity_example *e = &r->kinds[INTEGRITY_ORPHAN].examples[0];
	trace_id_of(tid, 2);
	span_id_of(sid, 2);
	span_id_of(pid, 99);
	CHECK(memcmp(e->trace_id, tid, 16) == 0);
	CHECK(memcmp(e->span_id, sid, 8) == 0);
	CHECK(e->has_parent && memcmp(e->parent_span_id, pid, 8) == 0);
	CHECK(strstr(e->detail, "lost child") != NULL);
	CHECK(strstr(e->detail, "not found") != NULL);
	CHECK_EQ_INT(integrity_report_total(r), 1);
	store_close(s);
	remove_dir(dir);
	free(dir);
	free(r);
}

TEST(multiple_roots)
{
	char *dir = make_tmpdir();
	struct store *s = open_store(dir);
	uint64_t base = base_time();
	struct tb t;
	struct integrity_params p;
	struct integrity_report *r = malloc(sizeof *r);
	tb_init(&t, 8);
	tb_span(&t, 3, 1, 0, "first root", base, 0, 100);
	tb_span(&t, 3, 2, 0, "second root", base, 5, 50);
	tb_span(&t, 3, 3, 0, "third root", base, 5, 50);
	tb_span(&t, 3, 4, 1, "child", base, 10, 20);
	CHECK(tb_commit(s, &t));
	params_for(&p, base);
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->kinds[INTEGRITY_MULTI_ROOT].count, 1); /* counted per trace */
	CHECK_EQ_INT(r->kinds[INTEGRITY_ORPHAN].count, 0);
	CHECK_EQ_INT(r->kinds[INTEGRITY_MULTI_ROOT].n_examples, 1);
	CHECK(strstr(r->kinds[INTEGRITY_MULTI_ROOT].examples[0].detail, "3 root spans") != NULL);
	CHECK_EQ_INT(r->kinds[INTEGRITY_MULTI_ROOT].examples[0].has_parent, 0);
	store_close(s);
	remove_dir(dir);
	free(dir);
	free(r);
}

TEST(cross_trace_parent)
{
	char *dir = make_tmpdir();
	struct store *s = open_store(dir);
	uint64_t base = base_time();
	struct tb t;
	struct integrity_params p;
	struct integrity_report *r = malloc(sizeof *r);
	uint8_t other[16];
	tb_init(&t, 8);
	/* trace 4 holds span 40; trace 5's child points at span 40 */
	tb_span(&t, 4, 40, 0, "root a", base, 0, 100);
	tb_span(&t, 5, 50, 0, "root b", base, 0, 100);
	tb_span(&t, 5, 51, 40, "misparented", base, 10, 20);
	CHECK(tb_commit(s, &t));
	params_for(&p, base);
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->traces_scanned, 2);
	CHECK_EQ_INT(r->kinds[INTEGRITY_CROSS_TRACE].count, 1);
	CHECK_EQ_INT(r->kinds[INTEGRITY_ORPHAN].count, 0);
	const struct integrity_example *e = &r->kinds[INTEGRITY_CROSS_TRACE].examples[0];
	trace_id_of(other, 4);
	CHECK(e->has_other_trace && memcmp(e->other_trace_id, other, 16) == 0);
	trace_id_of(other, 5);
	CHECK(memcmp(e->trace_id, other, 16) == 0);
	CHECK(strstr(e->detail, "1e000000000000000000000000000004") != NULL);
	store_close(s);
	remove_dir(dir);
	free(dir);
	free(r);
}

TEST(clock_skew_and_tolerance)
{
	char *dir = make_tmpdir();
	struct store *s = open_store(dir);
	uint64_t base = base_time();
	struct tb t;
	struct integrity_params p;
	struct integrity_report *r = malloc(sizeof *r);
	tb_init(&t, 8);
	tb_span(&t, 6, 1, 0, "root", base, 0, 100);
	tb_span(&t, 6, 2, 1, "early child", base, -5, 50);  /* 5 ms before */
	tb_span(&t, 6, 3, 1, "late child", base, 50, 108);  /* 8 ms after */
	tb_span(&t, 6, 4, 1, "fine child", base, 0, 100);
	CHECK(tb_commit(s, &t));
	params_for(&p, base);
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->kinds[INTEGRITY_CLOCK_SKEW].count, 2);
	CHECK_EQ_INT(r->kinds[INTEGRITY_CLOCK_SKEW].n_examples, 2);
	int saw_early = 0, saw_late = 0;
	for (uint32_t i = 0; i < r->kinds[INTEGRITY_CLOCK_SKEW].n_examples; i++) {
		const char *d = r->kinds[INTEGRITY_CLOCK_SKEW].examples[i].detail;
		saw_early |= strstr(d, "starts 5.000 ms before its parent \"root\"") != NULL;
		saw_late |= strstr(d, "ends 8.000 ms after its parent \"root\"") != NULL;
	}
	CHECK(saw_early);
	CHECK(saw_late);
	p.skew_tolerance_ns = 6 * MSEC; /* forgives the 5 ms, not the 8 ms */
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->kinds[INTEGRITY_CLOCK_SKEW].count, 1);
	p.skew_tolerance_ns = 10 * MSEC;
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(integrity_report_total(r), 0);
	store_close(s);
	remove_dir(dir);
	free(dir);
	free(r);
}

TEST(settle_time_skips_recent_traces)
{
	char *dir = make_tmpdir();
	struct store *s = open_store(dir);
	uint64_t base = base_time();
	struct tb t;
	struct integrity_params p;
	struct integrity_report *r = malloc(sizeof *r);
	tb_init(&t, 8);
	tb_span(&t, 7, 2, 77, "child before its parent arrived", base, 10, 20);
	tb_span(&t, 8, 1, 0, "old root", base - 30 * SEC, 0, 100);
	CHECK(tb_commit(s, &t));
	params_for(&p, base);
	p.now_unix_nano = base + 2 * SEC;
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->kinds[INTEGRITY_ORPHAN].count, 1);
	p.settle_ns = 5 * SEC; /* trace 7 ended 2 s before "now": not settled */
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->traces_scanned, 1);
	CHECK_EQ_INT(r->traces_unsettled, 1);
	CHECK_EQ_INT(integrity_report_total(r), 0);
	store_close(s);
	remove_dir(dir);
	free(dir);
	free(r);
}

TEST(example_limit_paging_and_range)
{
	char *dir = make_tmpdir();
	struct store *s = open_store(dir);
	uint64_t base = base_time();
	struct tb t;
	struct integrity_params p;
	struct integrity_report *r = malloc(sizeof *r);
	/* 620 traces (more than one list page of 500), 7 of them with an orphan */
	tb_init(&t, 700);
	for (unsigned i = 0; i < 620; i++) {
		tb_span(&t, 100 + i, 1000 + i * 2, 0, "root", base + i * MSEC, 0, 10);
		if (i % 100 == 3)
			tb_span(&t, 100 + i, 1001 + i * 2, 5, "orphan", base + i * MSEC, 1, 2);
	}
	/* one trace outside the range */
	tb_span(&t, 900, 3000, 0, "old root", base - 3600 * SEC, 0, 10);
	tb_span(&t, 900, 3001, 7, "old orphan", base - 3600 * SEC, 1, 2);
	CHECK(tb_commit(s, &t));
	params_for(&p, base);
	p.max_examples = 2;
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->traces_scanned, 620);
	CHECK_EQ_INT(r->spans_scanned, 627);
	CHECK_EQ_INT(r->kinds[INTEGRITY_ORPHAN].count, 7);
	CHECK_EQ_INT(r->kinds[INTEGRITY_ORPHAN].n_examples, 2);
	CHECK_EQ_INT(r->truncated, 0);
	/* the ceiling on traces */
	p.max_traces = 100;
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->traces_scanned, 100);
	CHECK_EQ_INT(r->truncated, 1);
	/* a wider range takes the old trace in */
	params_for(&p, base);
	p.start_unix_nano = base - 7200 * SEC;
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->traces_scanned, 621);
	CHECK_EQ_INT(r->kinds[INTEGRITY_ORPHAN].count, 8);
	store_close(s);
	remove_dir(dir);
	free(dir);
	free(r);
}

TEST(bad_arguments)
{
	char *dir = make_tmpdir();
	struct store *s = open_store(dir);
	struct integrity_params p;
	struct integrity_report *r = malloc(sizeof *r);
	params_for(&p, base_time());
	p.start_unix_nano = p.end_unix_nano + 1;
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), TL_EINVAL);
	params_for(&p, base_time());
	p.tenant = NULL;
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), TL_EINVAL);
	/* an empty store is clean */
	params_for(&p, base_time());
	CHECK_EQ_INT(integrity_check(s, NULL, &p, r), 0);
	CHECK_EQ_INT(r->traces_scanned, 0);
	CHECK_EQ_INT(integrity_report_total(r), 0);
	CHECK_EQ_STR(integrity_kind_name(INTEGRITY_ORPHAN), "orphan_spans");
	CHECK_EQ_STR(integrity_kind_name(INTEGRITY_MULTI_ROOT), "multiple_roots");
	CHECK_EQ_STR(integrity_kind_name(INTEGRITY_CROSS_TRACE), "cross_trace_parents");
	CHECK_EQ_STR(integrity_kind_name(INTEGRITY_CLOCK_SKEW), "clock_skew");
	store_close(s);
	remove_dir(dir);
	free(dir);
	free(r);
}

static const struct tl_test_case tests[] = {
	T(clean_trace),
	T(orphan_span),
	T(multiple_roots),
	T(cross_trace_parent),
	T(clock_skew_and_tolerance),
	T(settle_time_skips_recent_traces),
	T(example_limit_paging_and_range),
	T(bad_arguments),
};

TEST_MAIN("integrity", tests)
