/*
 * sdk.c - the SDK's lifecycle (tl_init, tl_flush, tl_shutdown), its counters,
 * the process-wide run identity, the hand-off of ended spans to the export
 * queue, and every mutable global of the SDK (listed in sdk_int.h).
 */
#include "sdk_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the globals (see sdk_int.h for who writes them) ------------------- */

atomic_int sdk__on;
pthread_mutex_t sdk__mu = PTHREAD_MUTEX_INITIALIZER;
struct sdk_state *sdk__state;
TL_EXPORT struct tl_span_handle tl__noop_span;
TL_EXPORT int tl__on;
_Thread_local struct sdk_stack sdk__stack;
_Thread_local struct sdk_rng sdk__rng;

/* Generation counter (under sdk__mu), so a span started before a shutdown and
 * ended after the next tl_init is dropped rather than exported by the wrong
 * configuration. */
static uint64_t sdk_gen;

/* The counters of the last SDK instance, kept by tl_shutdown so the final
 * figures stay readable (under sdk__mu). */
static struct tl_stats last_stats;

/* The process-wide run snapshot (tl_run_set) or NULL, under run_mu. Spans
 * hold their own references, so replacing it never frees one in use. */
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sdk_run *run_cur;

TL_EXPORT const char *tl_version(void)
{
	return TRACELAMP_VERSION_STRING;
}

TL_EXPORT const char *tl_sdk_strerror(int err)
{
	switch (err) {
	case TL_SDK_OK:
		return "ok";
	case TL_SDK_ENOMEM:
		return "out of memory or over a size limit";
	case TL_SDK_EINVAL:
		return "invalid argument";
	case TL_SDK_EDISABLED:
		return "tracelamp SDK is disabled";
	case TL_SDK_ETIMEDOUT:
		return "deadline passed";
	case TL_SDK_EENDED:
		return "span already ended";
	case TL_SDK_ESTATE:
		return "wrong SDK state";
	case TL_SDK_EFULL:
		return "table full";
	case TL_SDK_EEXPORT:
		return "export failed";
	default:
		return "unknown error";
	}
}

TL_EXPORT int tl_enabled(void)
{
	return atomic_load_explicit(&sdk__on, memory_order_acquire);
}

static const char *real_getenv(const char *name, void *ud)
{
	(void)ud;
	return getenv(name);
}

static int res_attr(struct tl_arena *a, struct tl_kv *kv, const char *k, const char *v)
{
	int err = 0;
	kv->key = sdk__copy_str(a, k, &err);
	kv->v.kind = TL_V_STR;
	kv->v.u.s = sdk__copy_str(a, v, &err);
	return err;
}

static void state_destroy(struct sdk_state *st)
{
	if (!st)
		return;
	sdk__exporter_teardown(st);
	if (st->queue) {
		for (size_t i = 0; i < st->q_len; i++)
			sdk__rec_destroy(st->queue[(st->q_head + i) % st->cfg.queue_size]);
		free(st->queue);
	}
	pthread_cond_destroy(&st->cv_work);
	pthread_cond_destroy(&st->cv_done);
	tl_arena_destroy(st->arena);
	sdk__config_cleanup(&st->cfg);
	free(st);
}

int sdk__start(struct sdk_config *cfg)
{
	struct sdk_state *st = NULL;
	sigset_t all, old;
	size_t n = 0;
	int rc = 0;

	if (atomic_load(&sdk__on) || sdk__state)
		return TL_SDK_ESTATE;
	if (!(st = calloc(1, sizeof *st)))
		return TL_SDK_ENOMEM;
	pthread_mutex_lock(&sdk__mu);
	memset(&last_stats, 0, sizeof last_stats);
	pthread_mutex_unlock(&sdk__mu);
	pthread_cond_init(&st->cv_work, NULL);
	pthread_cond_init(&st->cv_done, NULL);
	st->cfg = *cfg;
	memset(cfg, 0, sizeof *cfg); /* taken over: st->cfg frees it */
	if (!(st->queue = calloc(st->cfg.queue_size, sizeof *st->queue)) || !(st->arena = tl_arena_create(4096, 0))) {
		rc = TL_SDK_ENOMEM;
		goto out;
	}
	/* The resource: service.name, the SDK's telemetry.sdk.*, then the user's
	 * OTEL_RESOURCE_ATTRIBUTES (service.name there is superseded). */
	st->resource.attrs.items = tl_arena_zalloc(st->arena, (4 + st->cfg.n_resource) * sizeof(struct tl_kv));
	if (!st->resource.attrs.items) {
		rc = TL_SDK_ENOMEM;
		goto out;
	}
	struct tl_kv *kv = st->resource.attrs.items;
	if (res_attr(st->arena, &kv[n++], "service.name", st->cfg.service_name) ||
	    res_attr(st->arena, &kv[n++], "telemetry.sdk.name", "tracelamp") ||
	    res_attr(st->arena, &kv[n++], "telemetry.sdk.language", "c") ||
	    res_attr(st->arena, &kv[n++], "telemetry.sdk.version", TRACELAMP_VERSION_STRING)) {
		rc = TL_SDK_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < st->cfg.n_resource; i++) {
		const char *k = st->cfg.resource[i].key;
		if (strcmp(k, "service.name") == 0 || strncmp(k, "telemetry.sdk.", 14) == 0)
			continue;
		if (res_attr(st->arena, &kv[n++], k, st->cfg.resource[i].value)) {
			rc = TL_SDK_ENOMEM;
			goto out;
		}
	}
	st->resource.attrs.n = (uint32_t)n;
	st->resource.service = kv[0].v.u.s;
	st->scope.name = TL_STR_LIT("tracelamp");
	st->scope.version = TL_STR_LIT(TRACELAMP_VERSION_STRING);
	if ((rc = sdk__exporter_setup(st)))
		goto out;

	pthread_mutex_lock(&sdk__mu);
	st->gen = ++sdk_gen;
	pthread_mutex_unlock(&sdk__mu);
	/* The exporter must not take the host's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&st->thread, NULL, sdk__exporter_main, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		rc = TL_SDK_ENOMEM;
		goto out;
	}
	st->thread_started = 1;
	pthread_mutex_lock(&sdk__mu);
	sdk__state = st;
	pthread_mutex_unlock(&sdk__mu);
	atomic_store_explicit(&sdk__on, 1, memory_order_release);
	__atomic_store_n(&tl__on, 1, __ATOMIC_RELEASE);
	st = NULL;
out:
	state_destroy(st);
	return rc;
}

TL_EXPORT int tl_init(void)
{
	struct sdk_config cfg;
	int rc;
	if (atomic_load(&sdk__on) || sdk__state)
		return TL_SDK_ESTATE;
	if ((rc = sdk__config_load(&cfg, real_getenv, NULL)))
		return rc;
	if (!cfg.enabled)
		return 0;
	rc = sdk__start(&cfg);
	sdk__config_cleanup(&cfg);
	return rc;
}

static void deadline_ts(uint32_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits (holding sdk__mu) until the exporter has drained everything queued
 * before the request. Returns 0 or TL_SDK_ETIMEDOUT. */
static int wait_flushed(struct sdk_state *st, uint32_t deadline_ms)
{
	struct timespec ts;
	uint64_t my = ++st->flush_req;
	deadline_ts(deadline_ms, &ts);
	pthread_cond_signal(&st->cv_work);
	while (st->flush_done < my)
		if (pthread_cond_timedwait(&st->cv_done, &sdk__mu, &ts) == ETIMEDOUT && st->flush_done < my)
			return TL_SDK_ETIMEDOUT;
	return 0;
}

TL_EXPORT int tl_flush(uint32_t deadline_ms)
{
	struct sdk_state *st;
	uint64_t failures;
	int rc;
	if (!atomic_load_explicit(&sdk__on, memory_order_acquire))
		return TL_SDK_EDISABLED;
	pthread_mutex_lock(&sdk__mu);
	if (!(st = sdk__state)) {
		pthread_mutex_unlock(&sdk__mu);
		return TL_SDK_EDISABLED;
	}
	failures = atomic_load(&st->n_failures);
	rc = wait_flushed(st, deadline_ms);
	if (!rc && atomic_load(&st->n_failures) != failures)
		rc = TL_SDK_EEXPORT;
	pthread_mutex_unlock(&sdk__mu);
	return rc;
}

static void run_clear(void);
static void read_stats(struct sdk_state *st, struct tl_stats *out);

TL_EXPORT int tl_shutdown(uint32_t deadline_ms)
{
	struct sdk_state *st;
	int rc;

	pthread_mutex_lock(&sdk__mu);
	if (!(st = sdk__state)) {
		pthread_mutex_unlock(&sdk__mu);
		return TL_SDK_EDISABLED;
	}
	__atomic_store_n(&tl__on, 0, __ATOMIC_RELEASE);
	atomic_store_explicit(&sdk__on, 0, memory_order_release);
	st->closing = 1;
	rc = wait_flushed(st, deadline_ms);
	/* Past the deadline (or done): stop the exporter now. */
	atomic_store(&st->abort, 1);
	pthread_cond_broadcast(&st->cv_work);
	pthread_mutex_unlock(&sdk__mu);
	sdk__exporter_wake(st);
	if (st->thread_started)
		pthread_join(st->thread, NULL);

	atomic_fetch_add(&st->n_dropped, st->q_len);
	pthread_mutex_lock(&sdk__mu);
	sdk__state = NULL;
	read_stats(st, &last_stats);
	pthread_mutex_unlock(&sdk__mu);
	state_destroy(st);
	run_clear();
	return rc;
}

static void read_stats(struct sdk_state *st, struct tl_stats *out)
{
	out->spans_started = atomic_load(&st->n_started);
	out->spans_ended = atomic_load(&st->n_ended);
	out->spans_dropped = atomic_load(&st->n_dropped);
	out->spans_exported = atomic_load(&st->n_exported);
	out->spans_rejected = atomic_load(&st->n_rejected);
	out->batches_sent = atomic_load(&st->n_batches);
	out->export_retries = atomic_load(&st->n_retries);
	out->export_failures = atomic_load(&st->n_failures);
}

TL_EXPORT int tl_get_stats(struct tl_stats *out)
{
	if (!out)
		return TL_SDK_EINVAL;
	pthread_mutex_lock(&sdk__mu);
	if (sdk__state)
		read_stats(sdk__state, out);
	else
		*out = last_stats;
	pthread_mutex_unlock(&sdk__mu);
	return 0;
}

void sdk__enqueue(struct sdk_rec *r, uint64_t gen)
{
	struct sdk_state *st;
	pthread_mutex_lock(&sdk__mu);
	st = sdk__state;
	if (!st || st->gen != gen || atomic_load(&st->abort)) {
		pthread_mutex_unlock(&sdk__mu);
		sdk__rec_destroy(r);
		return;
	}
	atomic_fetch_add(&st->n_ended, 1);
	if (st->q_len == st->cfg.queue_size) {
		atomic_fetch_add(&st->n_dropped, 1);
		pthread_mutex_unlock(&sdk__mu);
		sdk__rec_destroy(r);
		return;
	}
	st->queue[(st->q_head + st->q_len) % st->cfg.queue_size] = r;
	st->q_len++;
	if (st->q_len >= st->cfg.batch_size)
		pthread_cond_signal(&st->cv_work);
	pthread_mutex_unlock(&sdk__mu);
}

/* ---- run identity ------------------------------------------------------- */

struct sdk_run *sdk__run_create(const char *tenant, const char *run_id, int64_t step, const char *agent)
{
	struct tl_arena *a;
	struct sdk_run *run = NULL;
	int err = 0;

	if (!run_id || !*run_id || !(a = tl_arena_create(256, 0)))
		return NULL;
	if (!tenant || !*tenant)
		tenant = "default";
	if (!(run = tl_arena_zalloc(a, sizeof *run))) {
		err = TL_SDK_ENOMEM;
		goto out;
	}
	run->arena = a;
	atomic_init(&run->refs, 1);
	atomic_init(&run->step, step);
	/* The trace id hashes the caller's bytes, as tl_trace_id_for_run does;
	 * only the attribute strings are UTF-8 repaired. */
	tl_trace_id_for_run(tenant, run_id, run->trace_id);
	run->tenant = sdk__copy_str(a, tenant, &err);
	run->run_id = sdk__copy_str(a, run_id, &err);
	if (agent) {
		run->has_agent = 1;
		run->agent = sdk__copy_str(a, agent, &err);
	}
out:
	if (err) {
		tl_arena_destroy(a);
		return NULL;
	}
	return run;
}

struct sdk_run *sdk__run_ref(struct sdk_run *run)
{
	if (run)
		atomic_fetch_add_explicit(&run->refs, 1, memory_order_relaxed);
	return run;
}

void sdk__run_unref(struct sdk_run *run)
{
	if (!run || atomic_fetch_sub_explicit(&run->refs, 1, memory_order_acq_rel) != 1)
		return;
	tl_arena_destroy(run->arena); /* run itself lives in it */
}

struct sdk_run *sdk__run_current(void)
{
	struct sdk_run *run;
	pthread_mutex_lock(&run_mu);
	run = sdk__run_ref(run_cur);
	pthread_mutex_unlock(&run_mu);
	return run;
}

TL_EXPORT int tl_run_set(const char *tenant, const char *run_id, int64_t step, const char *agent_instance)
{
	struct sdk_run *run = NULL, *old;

	if (!atomic_load_explicit(&sdk__on, memory_order_acquire))
		return TL_SDK_EDISABLED;
	if (run_id && *run_id && !(run = sdk__run_create(tenant, run_id, step, agent_instance)))
		return TL_SDK_ENOMEM;
	pthread_mutex_lock(&run_mu);
	old = run_cur;
	run_cur = run;
	pthread_mutex_unlock(&run_mu);
	sdk__run_unref(old); /* spans that use it keep their own references */
	return 0;
}

static void run_clear(void)
{
	struct sdk_run *old;
	pthread_mutex_lock(&run_mu);
	old = run_cur;
	run_cur = NULL;
	pthread_mutex_unlock(&run_mu);
	sdk__run_unref(old);
}

TL_EXPORT int tl_run_set_step(int64_t step)
{
	if (!atomic_load_explicit(&sdk__on, memory_order_acquire))
		return TL_SDK_EDISABLED;
	pthread_mutex_lock(&run_mu);
	if (run_cur)
		atomic_store_explicit(&run_cur->step, step, memory_order_relaxed);
	pthread_mutex_unlock(&run_mu);
	return 0;
}
