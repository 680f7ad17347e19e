/*
 * pipeline.c - admission, metrics and store hand-off (see pipeline.h).
 *
 * One mutex guards the budget, the in-flight count and the draining flag: a
 * request takes it a few times, which is cheap next to decoding, and it makes
 * "draining is set, then no new ticket opens" trivially true.
 */
#include "pipeline/pipeline.h"

#include <pthread.h>
#include <stdlib.h>

struct pipeline {
	struct store *store;
	struct metrics *metrics;
	uint64_t budget;
	pthread_mutex_t mu;
	uint64_t in_use;
	uint64_t inflight;
	int draining;
};

int pipeline_create(const struct pipeline_config *cfg, struct pipeline **out)
{
	struct pipeline *p;
	*out = NULL;
	if (!cfg->store)
		return TL_EINVAL;
	p = calloc(1, sizeof *p);
	if (!p)
		abort();
	p->store = cfg->store;
	p->metrics = cfg->metrics;
	p->budget = cfg->memory_budget;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return 0;
}

void pipeline_destroy(struct pipeline *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int pipeline_admit(struct pipeline *p, struct pipeline_ticket *t, uint64_t n)
{
	int rc = 0;
	t->p = p;
	t->charged = 0;
	t->done = NULL;
	t->done_arg = NULL;
	t->open = 0;
	pthread_mutex_lock(&p->mu);
	if (p->draining) {
		rc = TL_ECLOSED;
	} else if (n > p->budget || p->in_use > p->budget - n) {
		rc = TL_EBUSY;
	} else {
		p->in_use += n;
		p->inflight++;
		t->charged = n;
		t->open = 1;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int pipeline_charge(struct pipeline *p, struct pipeline_ticket *t, uint64_t n)
{
	int rc = 0;
	pthread_mutex_lock(&p->mu);
	if (n > p->budget || p->in_use > p->budget - n) {
		rc = TL_EBUSY;
	} else {
		p->in_use += n;
		t->charged += n;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static void release(struct pipeline *p, struct pipeline_ticket *t)
{
	pthread_mutex_lock(&p->mu);
	p->in_use -= t->charged;
	t->charged = 0;
	pthread_mutex_unlock(&p->mu);
}

/* Store completion on the writer thread: the batch is durable (or failed), so
 * its memory no longer counts; then the caller hands the reply to its loop. */
static void on_store_done(void *arg, int status)
{
	struct pipeline_ticket *t = arg;
	release(t->p, t);
	t->done(t->done_arg, status);
}

int pipeline_submit(struct pipeline *p, struct pipeline_ticket *t, const struct tl_batch *b, store_done_fn done,
		    void *arg)
{
	int rc;
	t->done = done;
	t->done_arg = arg;
	/* The store copies the batch before returning; metrics read it afterwards
	 * while the caller still owns it. Observing only after a successful append
	 * keeps refused batches out of the LLM metrics. */
	rc = store_append(p->store, b, on_store_done, t);
	if (rc)
		return rc;
	if (p->metrics)
		metrics_observe_batch(p->metrics, b);
	return 0;
}

int pipeline_submit_signal(struct pipeline *p, struct pipeline_ticket *t, const struct store_signal *sig,
			   store_done_fn done, void *arg)
{
	int rc;
	t->done = done;
	t->done_arg = arg;
	rc = store_append_signal(p->store, sig, on_store_done, t);
	if (rc)
		return rc;
	if (p->metrics && sig->spans && sig->spans->n_spans)
		metrics_observe_batch(p->metrics, sig->spans);
	return 0;
}

void pipeline_end(struct pipeline *p, struct pipeline_ticket *t)
{
	if (!t->open)
		return;
	pthread_mutex_lock(&p->mu);
	p->in_use -= t->charged;
	t->charged = 0;
	t->open = 0;
	p->inflight--;
	pthread_mutex_unlock(&p->mu);
}

void pipeline_begin_drain(struct pipeline *p)
{
	pthread_mutex_lock(&p->mu);
	p->draining = 1;
	pthread_mutex_unlock(&p->mu);
}

int pipeline_draining(struct pipeline *p)
{
	int d;
	pthread_mutex_lock(&p->mu);
	d = p->draining;
	pthread_mutex_unlock(&p->mu);
	return d;
}

uint64_t pipeline_inflight(struct pipeline *p)
{
	uint64_t n;
	pthread_mutex_lock(&p->mu);
	n = p->inflight;
	pthread_mutex_unlock(&p->mu);
	return n;
}

uint64_t pipeline_memory_in_use(struct pipeline *p)
{
	uint64_t n;
	pthread_mutex_lock(&p->mu);
	n = p->in_use;
	pthread_mutex_unlock(&p->mu);
	return n;
}

uint64_t pipeline_memory_budget(struct pipeline *p)
{
	return p->budget;
}
