/*
 * integrity.h - trace integrity over a time range of stored data: orphan spans
 * (the parent is in no scanned trace), traces with several roots, spans whose
 * parent lives in another trace, and clock skew (a child outside its parent's
 * time span). Built on the public store API only (store_list_traces paged with
 * its cursor, then store_get_trace per trace); the query API serves it as
 * GET /api/v1/integrity and `tracelamp check` prints it.
 *
 * Pending traces are visible through the store API, so a check that runs right
 * after ingest can see a trace whose children have not all arrived yet (a child
 * whose parent is still in flight looks like an orphan). settle_ns skips traces
 * that changed too recently; see docs/operations.md.
 */
#ifndef TL_INTEGRITY_H
#define TL_INTEGRITY_H

#include "store/store.h"

enum integrity_kind {
	INTEGRITY_ORPHAN = 0,      /* parent_span_id set, no such span in any scanned trace */
	INTEGRITY_MULTI_ROOT,      /* a trace with more than one root span (counted per trace) */
	INTEGRITY_CROSS_TRACE,     /* the parent span id belongs to another scanned trace */
	INTEGRITY_CLOCK_SKEW,      /* child starts before its parent or ends after it */
	INTEGRITY_NKINDS
};

#define INTEGRITY_MAX_EXAMPLES 100   /* ceiling of max_examples */
#define INTEGRITY_DETAIL_LEN 192

struct integrity_params {
	const char *tenant;          /* required; borrowed */
	uint64_t start_unix_nano;    /* traces whose start is in [start, end] */
	uint64_t end_unix_nano;
	uint32_t max_examples;       /* examples kept per kind (capped at INTEGRITY_MAX_EXAMPLES) */
	uint64_t skew_tolerance_ns;  /* clock skew counts only beyond this; 0 = any */
	uint64_t settle_ns;          /* skip traces whose newest span ended after now - settle; 0 = none */
	uint64_t now_unix_nano;      /* reference for settle_ns (tests pin it) */
	uint64_t max_traces;         /* scan at most this many traces (0 = 100000); then truncated = 1 */
};

/* One example of an issue. other_trace_id is set for INTEGRITY_CROSS_TRACE. */
struct integrity_example {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	int has_parent;
	uint8_t other_trace_id[16];
	int has_other_trace;
	char detail[INTEGRITY_DETAIL_LEN];
};

struct integrity_issue {
	uint64_t count;
	struct integrity_example examples[INTEGRITY_MAX_EXAMPLES];
	uint32_t n_examples;
};

struct integrity_report {
	uint64_t traces_scanned;
	uint64_t spans_scanned;
	uint64_t traces_unsettled;   /* skipped because of settle_ns */
	int truncated;               /* max_traces was reached; later traces were not scanned */
	struct integrity_issue kinds[INTEGRITY_NKINDS];
};

/*
 * Scans the range and fills *out (which need not be initialised; no cleanup is
 * needed: the report owns no memory). prices is borrowed and may be NULL.
 * Returns 0, TL_EINVAL (no tenant, start after end), or a store error.
 * Thread: any; runs concurrently with ingest.
 */
int integrity_check(struct store *s, const struct tl_price_table *prices, const struct integrity_params *p,
		    struct integrity_report *out);

/* The stable name of a kind as used in JSON: "orphan_spans", "multiple_roots",
 * "cross_trace_parents", "clock_skew". */
const char *integrity_kind_name(int kind);

/* Sum of the counts of every kind (0 = clean). */
uint64_t integrity_report_total(const struct integrity_report *r);

#endif
