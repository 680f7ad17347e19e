/*
 * pipeline.h - what happens to a decoded, normalised batch between the receiver
 * and the store: admission against the memory budget, LLM metrics, then the
 * store append. It also counts in-flight requests so shutdown can drain.
 *
 * A request's life: pipeline_admit (charge the body) -> pipeline_charge (charge
 * the decoded form) -> pipeline_submit (store_append; the charge is released
 * when the store's done fires) -> the receiver replies -> pipeline_end.
 *
 * Threads: every function is thread-safe. The done callback given to
 * pipeline_submit runs on the store's writer thread.
 */
#ifndef TL_PIPELINE_H
#define TL_PIPELINE_H

#include "metrics/metrics.h"
#include "store/store.h"

struct pipeline_config {
	struct store *store;      /* borrowed; must outlive the pipeline */
	struct metrics *metrics;  /* borrowed; may be NULL */
	uint64_t memory_budget;   /* bytes of admitted, uncommitted requests */
};

struct pipeline;

/*
 * One admitted request. Embedded in the caller's request context; the pipeline
 * uses it to find the charge at release time. Valid from pipeline_admit until
 * pipeline_end returns.
 */
struct pipeline_ticket {
	struct pipeline *p;
	uint64_t charged;        /* bytes currently charged to the budget */
	store_done_fn done;      /* the caller's completion (set by pipeline_submit) */
	void *done_arg;
	int open;                /* 1 between admit and end */
};

/* Returns owned (pipeline_destroy); TL_EINVAL without a store. */
int pipeline_create(const struct pipeline_config *cfg, struct pipeline **out);
/* Accepts NULL. Every ticket must have ended. */
void pipeline_destroy(struct pipeline *p);

/*
 * Admits a request and charges n bytes. Returns 0 (the ticket is open and must
 * end with pipeline_end), TL_EBUSY when the charge would pass the memory budget,
 * TL_ECLOSED when draining. On error the ticket is left closed.
 */
int pipeline_admit(struct pipeline *p, struct pipeline_ticket *t, uint64_t n);

/* Charges n more bytes to an open ticket; TL_EBUSY past the budget (the
 * ticket stays open with its earlier charge). */
int pipeline_charge(struct pipeline *p, struct pipeline_ticket *t, uint64_t n);

/*
 * Appends a normalised batch to the store and observes its LLM metrics. The
 * store copies the batch: the caller may free it once this returns. On 0,
 * done(arg, status) is called exactly once on the store's writer thread after
 * the commit (status 0) or its failure, and the ticket's charge is released
 * just before. On error (TL_ECLOSED, ...) done is not called and the charge
 * stays until pipeline_end.
 */
int pipeline_submit(struct pipeline *p, struct pipeline_ticket *t, const struct tl_batch *b, store_done_fn done,
		    void *arg);

/*
 * Like pipeline_submit for what a logs or metrics request stores
 * (store_append_signal): the same ticket, charge and done rules; the LLM
 * metrics of sig->spans, if any, are observed after the append.
 */
int pipeline_submit_signal(struct pipeline *p, struct pipeline_ticket *t, const struct store_signal *sig,
			   store_done_fn done, void *arg);

/* Ends an open ticket (after the reply was sent): releases any remaining charge
 * and the in-flight count. Accepts a closed ticket (no-op). */
void pipeline_end(struct pipeline *p, struct pipeline_ticket *t);

/* Starts draining: from now on pipeline_admit returns TL_ECLOSED. */
void pipeline_begin_drain(struct pipeline *p);
int pipeline_draining(struct pipeline *p);
/* Open tickets (admitted requests not yet ended). */
uint64_t pipeline_inflight(struct pipeline *p);
/* Bytes charged now, and the budget. */
uint64_t pipeline_memory_in_use(struct pipeline *p);
uint64_t pipeline_memory_budget(struct pipeline *p);

#endif
