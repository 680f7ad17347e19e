/*
 * store_int.h - private structures shared by the SQLite store's files:
 * sqlite.c (open, writer thread, group commit, retention), assembler.c (pending
 * traces in memory), summary.c (trace summaries and filters), rollup.c (per-minute
 * rollups and stats) and query.c (list and get). Nothing outside src/store
 * includes this header.
 */
#ifndef TL_STORE_INT_H
#define TL_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <zstd.h>

#include "store/store.h"
#include "store/signals_int.h"

#define STORE_SEARCH_MAX 4096     /* bytes of LLM text kept per trace for q */
#define STORE_MAX_PROVIDERS 4
#define STORE_TENANT_MAX 64
#define STORE_CHUNK_LEVEL 1       /* zstd level of trace chunks (see docs/design/store.md) */

/* A trace summary under construction: the public summary plus what is needed
 * to merge two partial summaries of the same trace. */
struct store__sum {
	struct store_trace_summary s;
	uint64_t name_start;          /* start of the span that gave service/name; UINT64_MAX none */
	uint32_t token_calls;         /* LLM calls that reported tokens */
	uint32_t cost_calls;          /* LLM calls with a known cost */
	char providers[STORE_MAX_PROVIDERS][32];
	uint32_t n_providers;
	char *search;                 /* malloc'd, lowercase LLM text, NUL-terminated; may be NULL */
	size_t search_len;
};

void store__sum_init(struct store__sum *u);
void store__sum_cleanup(struct store__sum *u);
/* Deep copy: dst is initialised by the call. */
void store__sum_copy(struct store__sum *dst, const struct store__sum *src);
/* Adds one normalised span (its tenant decided by the caller). */
void store__sum_add_span(struct store__sum *u, const struct tl_span *sp);
/* Merges src into dst (both describe the same trace). */
void store__sum_merge(struct store__sum *dst, const struct store__sum *src);
/* Derives cost_known from the counters; call before handing a summary out. */
void store__sum_finish(struct store__sum *u);
/* 1 if the summary passes every filter of f (tenant is not checked here).
 * q_lower is f->q lowercased (or NULL). */
int store__sum_match(const struct store__sum *u, const struct store_trace_filter *f, const char *q_lower);
/* Lowercases ASCII into a new malloc'd string. */
char *store__lower_dup(const char *s);
/* 1 if the span is an LLM call (see summary.c for the rule). */
int store__span_is_llm(const struct tl_span *sp);
/* The span's model for rollups: response model, else request model. */
struct tl_str store__span_model(const struct tl_span *sp);

/* Bind / read the summary columns (see sqlite.c SUM_COLS). */
int store__sum_bind(sqlite3_stmt *st, int first, const struct store__sum *u);
void store__sum_read(sqlite3_stmt *st, int first, struct store__sum *u);
#define STORE_SUM_COLS \
	"tenant, trace_id, start_ns, end_ns, service, name, name_start, has_root, " \
	"span_count, error_count, llm_calls, tool_calls, input_tokens, output_tokens, " \
	"cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, token_calls, " \
	"cost_calls, price_unknown, models, providers, session, run, agent, anomalies, search"
#define STORE_SUM_NCOLS 28

/* traces.chunks: the ids of the trace's trace_chunks rows, 8 bytes each,
 * little-endian (there is no index on trace_chunks.trace_id). */
static inline int64_t store__chunk_at(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return (int64_t)v;
}

/* ---- rollups ------------------------------------------------------------ */

struct store__roll {
	uint64_t minute;              /* unix minutes */
	char tenant[STORE_TENANT_MAX];
	char service[128];
	char model[96];
	char provider[32];
	char operation[32];
	char agent[128];
	uint64_t hash;
	uint64_t calls, errors;
	int64_t tokens[5];            /* input, output, cache read, cache write, reasoning */
	int64_t cost_nusd;
	uint32_t hist[STORE_LAT_BUCKETS];
};

/* Adds one LLM-call span's facts to the array *rolls (grown with realloc). */
void store__roll_add_span(struct store__roll **rolls, size_t *n, size_t *cap,
			  const char *tenant, const struct tl_span *sp);
/* Merges src into the array (same key -> summed). */
void store__roll_merge(struct store__roll **rolls, size_t *n, size_t *cap, const struct store__roll *src);
/* Upserts the rollups inside the open transaction of db. */
int store__roll_write(sqlite3 *db, sqlite3_stmt *upsert, const struct store__roll *rolls, size_t n);
/* Registers tl_hist_add(a, b) on a connection. */
int store__roll_register(sqlite3 *db);
int store__stats_query(sqlite3 *db, const struct store_stats_filter *f, struct store_stats_point **out, size_t *n);
#define STORE_ROLL_UPSERT_SQL \
	"INSERT INTO rollup_minute(minute, tenant, service, model, provider, operation, agent, calls, errors, " \
	"input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, latency) " \
	"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(minute, tenant, service, model, provider, operation, agent) " \
	"DO UPDATE SET calls = calls + excluded.calls, errors = errors + excluded.errors, " \
	"input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, " \
	"cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens, " \
	"cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, " \
	"reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, cost_nusd = cost_nusd + excluded.cost_nusd, " \
	"latency = tl_hist_add(latency, excluded.latency)"

/* ---- ingest items (one accepted batch) ---------------------------------- */

/* The spans of one trace inside an item. A segment holding its trace's root
 * span is a candidate for the direct path: the caller compresses it as a chunk
 * (z), and the writer writes it straight to trace_chunks unless its trace is
 * pending in the assembler (then it is demoted to the ingest log). */
struct store__seg {
	char tenant[STORE_TENANT_MAX];
	uint8_t trace_id[16];
	uint64_t hash;
	size_t off, len;              /* bytes of item->raw: a TracesData of these spans */
	uint32_t n_spans;
	uint64_t start, end;
	struct store__sum sum;
	int direct;                   /* goes to trace_chunks, not to the ingest log */
	void *z;                      /* direct: the compressed chunk */
	size_t zlen;
	int64_t zdict;                /* dictionary id z was compressed with (0 = none) */
	int64_t chunk_id;             /* direct candidates: the trace_chunks id it is written as
				       * (set under s->mu when queued; unused if demoted) */
};

struct store__item {
	struct store__item *next;
	uint64_t log_id;              /* ingest_log id, assigned by the writer; 0 = no log row */
	void *zdata;                  /* zstd of the non-direct segments: the ingest_log row */
	size_t zlen;
	size_t n_log;                 /* segments that go to the ingest log */
	int relog;                    /* a direct segment was demoted: zdata must be rebuilt */
	char *raw;                    /* concatenated segments (each a TracesData) */
	size_t raw_len;
	struct store__seg *segs;
	size_t n_segs;
	struct store__roll *rolls;
	size_t n_rolls;
	size_t n_spans;
	size_t bytes;                 /* memory charged to the queue */
	struct store__sig *sig;       /* log records and usage facts (store_append_signal); may be NULL */
	store_done_fn done;
	void *arg;
};

/* Compression for store__item_build: level-1 ingest-log row, and chunks of
 * root segments at chunk_level or with cdict (then dict_id is recorded). */
struct store__zopt {
	ZSTD_CCtx *cctx;
	const ZSTD_CDict *cdict;      /* may be NULL */
	int64_t dict_id;
	int chunk_level;
};

/* Builds an item from spans (normalised; span->run.tenant is the effective
 * tenant). With z (not NULL), segments holding a root span become direct
 * candidates with their compressed chunk, and the other segments form the zstd
 * ingest-log row; without z (replay) nothing is compressed and no segment is
 * direct. With rollups, the rollup facts. Returns owned. */
int store__item_build(const struct tl_span *const *spans, size_t n, const struct store__zopt *z, int rollups,
		      struct store__item **out);
/* (Re)builds it->zdata (level 1) from the segments that are not direct. */
int store__item_log(struct store__item *it, ZSTD_CCtx *cctx);
void store__item_free(struct store__item *it);

uint64_t store__hash(const char *tenant, const uint8_t id[16]);

/* ---- assembler ------------------------------------------------------------ */

struct store__ptrace {
	struct store__ptrace *hnext;
	struct store__ptrace *fprev, *fnext;  /* creation order = first_log_id order */
	struct store__ptrace *tprev, *tnext;  /* least recently touched first */
	struct store__ptrace *rprev, *rnext;  /* traces whose root arrived, least recently touched first */
	int in_rlist;
	char tenant[STORE_TENANT_MAX];
	uint8_t trace_id[16];
	uint64_t hash;
	struct tl_buf data;           /* concatenated TracesData of the pending spans */
	struct tl_buf chunks;         /* writer only: chunk ids already in the table row */
	uint32_t n_spans;
	uint64_t start, end;
	struct store__sum sum;        /* merged with the table row, if any */
	uint64_t first_log_id;
	uint64_t created_ns, touched_ns;  /* monotonic */
	int force;                    /* full: flush at the next cycle */
	int flushing;                 /* selected for the commit in progress */
	int64_t chunk_id;             /* the trace_chunks id it will be written as (set at creation) */
	size_t bytes;
};

struct store__asm {
	struct store__ptrace **buckets;
	size_t nbuckets;
	size_t count;
	size_t bytes;
	struct store__ptrace *fhead, *ftail;
	struct store__ptrace *thead, *ttail;
	struct store__ptrace *rhead, *rtail;
};

void store__asm_init(struct store__asm *a);
void store__asm_cleanup(struct store__asm *a);
struct store__ptrace *store__asm_find(const struct store__asm *a, const char *tenant, const uint8_t id[16], uint64_t hash);
/* Adds a segment; base (may be NULL) is the table row's summary for a trace not
 * yet pending. Returns the trace. */
struct store__ptrace *store__asm_add(struct store__asm *a, const struct store__seg *sg, const char *raw,
				     uint64_t log_id, uint64_t now_ns, uint32_t max_spans,
				     const struct store__sum *base);
void store__asm_remove(struct store__asm *a, struct store__ptrace *t);

/* ---- the store ------------------------------------------------------------ */

struct store {
	struct store_config cfg;
	char *data_dir;
	char *db_path;
	sqlite3 *db;                  /* writer connection, writer thread only (and open/close) */
	sqlite3_stmt *st_log, *st_chunk, *st_sum, *st_sumnew, *st_roll, *st_getsum, *st_delog, *st_wm;
	struct store__sigst sigst;    /* logs, log_res and metric-rollup inserts */

	pthread_mutex_t mu;           /* guards everything below */
	pthread_cond_t cv;            /* wakes the writer */
	pthread_cond_t cv_done;       /* retention requests finished */
	pthread_t writer;
	int writer_started;
	int closing;
	int ready;
	struct store__item *qhead, *qtail;   /* accepted, not yet taken by the writer */
	struct store__item *inflight;        /* taken by the writer, not yet committed */
	size_t queue_bytes;
	struct store__asm as;
	uint64_t next_log_id, next_chunk_id, watermark;
	uint64_t retention_req, retention_done;
	int retention_rc;
	struct store_metrics m;

	/* Chunk dictionary: trained once by the writer from the first chunks,
	 * stored in zdict, used for every later chunk. cdict and dict_id are set
	 * once, under pool_mu (callers of store_append compress with them). */
	ZSTD_CCtx *wcctx;
	ZSTD_CDict *cdict;
	int64_t dict_id;
	int no_train;
	struct tl_buf samples;        /* owned by the trainer thread once it started */
	size_t *sample_sizes;
	unsigned nsamples;
	pthread_t trainer;
	int trainer_started;
	void *newdict;                /* trained, not yet committed (pool_mu until newdict_ready) */
	size_t newdict_len;
	int newdict_ready;
	int64_t newdict_id;

	pthread_mutex_t pool_mu;      /* read connections, compression contexts, dictionaries */
	sqlite3 *pool[8];
	int npool;
	ZSTD_CCtx *cpool[4];          /* idle compression contexts of store_append callers */
	int ncpool;
	struct {
		int64_t id;
		ZSTD_DDict *dd;
	} ddicts[8];
	int nddicts;
};

/* Returns the decompression dictionary id (loaded through db and cached), or
 * NULL if it does not exist. */
const ZSTD_DDict *store__ddict(struct store *s, sqlite3 *db, int64_t id);

/* Read connections: take one (opens if none idle), give it back. */
sqlite3 *store__reader_get(struct store *s);
void store__reader_put(struct store *s, sqlite3 *db);

/* cctx / dctx may be NULL (a temporary context is made); cd / dd may be NULL. */
int store__zstd_compress(ZSTD_CCtx *cctx, const ZSTD_CDict *cd, const void *src, size_t n, int level, void **out,
			 size_t *outlen);
int store__zstd_decompress(const ZSTD_DDict *dd, const void *src, size_t n, size_t max, void **out, size_t *outlen);

/* Decodes a TracesData with extensions into arena and normalises each span
 * (restoring the stored cost, price_unknown and tenant). */
int store__decode(const void *data, size_t len, struct tl_arena *arena,
		  const struct tl_price_table *prices, struct tl_batch *out);

#endif
