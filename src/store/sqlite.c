/*
 * sqlite.c - the SQLite store: schema, open and replay, store_append, the writer
 * thread (group commit of the ingest log and rollups, writing assembled traces
 * as chunks, advancing the watermark), retention and metrics. See
 * docs/design/store.md for the format.
 *
 * Threads: one writer thread owns s->db and is the only thread that mutates the
 * assembler (always under s->mu). Callers of store_append only build an item
 * and enqueue it under s->mu. Queries use pooled read connections.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <zdict.h>

#include "store/store_int.h"

#define MS 1000000ULL
#define PENDING_MAX_AGE_NS (60ULL * 1000 * MS)   /* flush even busy traces after this */
#define FLUSH_BUDGET_BYTES ((size_t)16 << 20)    /* raw chunk bytes per commit */
#define FLUSH_BUDGET_TRACES 20000
#define RETENTION_EVERY_NS (10ULL * 1000 * MS)
#define RETENTION_BATCH 500
#define TICK_MS 50
#define DICT_SAMPLE_BYTES ((size_t)2 << 20)      /* chunk bytes sampled to train the dictionary */
#define DICT_SAMPLE_MAX ((size_t)16 << 10)       /* bytes sampled from one chunk */
#define DICT_SAMPLES 1000
#define DICT_MIN_SAMPLES 64
#define DICT_CAPACITY (32 << 10)

const double store_commit_bounds_ms[16] = {0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096,
					   INFINITY};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES ('schema', 2), ('watermark', 0);"
	"CREATE TABLE IF NOT EXISTS ingest_log(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS trace_chunks(id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, "
	" trace_id BLOB NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, "
	" span_count INTEGER NOT NULL, dict INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS zdict(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS traces(tenant TEXT NOT NULL, trace_id BLOB NOT NULL, "
	" start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, service TEXT, name TEXT, name_start INTEGER, "
	" has_root INTEGER, span_count INTEGER, error_count INTEGER, llm_calls INTEGER, tool_calls INTEGER, "
	" input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER, "
	" reasoning_tokens INTEGER, cost_nusd INTEGER, token_calls INTEGER, cost_calls INTEGER, "
	" price_unknown INTEGER, models TEXT, providers TEXT, session TEXT, run TEXT, agent TEXT, "
	" anomalies TEXT, search TEXT, chunks BLOB, UNIQUE(tenant, trace_id));"
	"CREATE INDEX IF NOT EXISTS traces_list ON traces(tenant, start_ns DESC, trace_id DESC);"
	"CREATE INDEX IF NOT EXISTS traces_end ON traces(end_ns);"
	"CREATE TABLE IF NOT EXISTS rollup_minute(minute INTEGER NOT NULL, tenant TEXT NOT NULL, "
	" service TEXT NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL, operation TEXT NOT NULL, "
	" agent TEXT NOT NULL, calls INTEGER NOT NULL, errors INTEGER NOT NULL, input_tokens INTEGER NOT NULL, "
	" output_tokens INTEGER NOT NULL, cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL, "
	" reasoning_tokens INTEGER NOT NULL, cost_nusd INTEGER NOT NULL, latency BLOB, "
	" PRIMARY KEY(minute, tenant, service, model, provider, operation, agent)) WITHOUT ROWID;" STORE_SIG_SCHEMA_SQL;

void store_config_defaults(struct store_config *c)
{
	memset(c, 0, sizeof *c);
	c->data_dir = "data";
	c->commit_interval_ms = 2;
	c->trace_idle_ms = 3000;
	c->trace_max_spans = 1000;
	c->root_grace_ms = 100;
	c->pending_max_bytes = (size_t)32 << 20;
}

/* ---- helpers ------------------------------------------------------------------ */

static void errf(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a, b ? b : "");
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : TL_ESTORE;
}

static int mkdirs(const char *dir)
{
	char tmp[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof tmp)
		return TL_EINVAL;
	memcpy(tmp, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == 0) {
			char c = tmp[i];
			tmp[i] = 0;
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return TL_EIO;
			tmp[i] = c;
		}
	}
	return 0;
}

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t = (uint64_t)ts.tv_nsec + ns;
	ts.tv_sec += (time_t)(t / 1000000000ULL);
	ts.tv_nsec = (long)(t % 1000000000ULL);
	pthread_cond_timedwait(cv, mu, &ts);
}

static int open_conn(const char *path, int create, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return TL_EIO;
	}
	sqlite3_busy_timeout(db, 10000);
	*out = db;
	return 0;
}

sqlite3 *store__reader_get(struct store *s)
{
	sqlite3 *db = NULL;
	pthread_mutex_lock(&s->pool_mu);
	if (s->npool > 0)
		db = s->pool[--s->npool];
	pthread_mutex_unlock(&s->pool_mu);
	if (db)
		return db;
	if (open_conn(s->db_path, 0, &db) < 0)
		return NULL;
	exec(db, "PRAGMA query_only=1; PRAGMA cache_size=-4096;");
	return db;
}

void store__reader_put(struct store *s, sqlite3 *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&s->pool_mu);
	if (s->npool < (int)(sizeof s->pool / sizeof s->pool[0])) {
		s->pool[s->npool++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	sqlite3_close(db);
}

/* Reads the summary row of (tenant, id) on the writer connection, and into
 * *chunks (when not NULL) its chunk ids. */
static int load_row(struct store *s, const char *tenant, const uint8_t id[16], struct store__sum *u,
		    struct tl_buf *chunks)
{
	sqlite3_stmt *st = s->st_getsum;
	int found = 0;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, id, 16, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		store__sum_read(st, 0, u);
		const void *c = sqlite3_column_blob(st, STORE_SUM_NCOLS);
		int cl = sqlite3_column_bytes(st, STORE_SUM_NCOLS);
		if (chunks && c && cl > 0 && tl_buf_append(chunks, c, (size_t)cl) < 0)
			abort();
		found = 1;
	}
	sqlite3_reset(st);
	return found;
}

/* Appends a chunk id to a chunk list (8-byte little-endian ids). */
static void chunks_add(struct tl_buf *b, int64_t id)
{
	uint8_t v[8];
	for (int i = 0; i < 8; i++)
		v[i] = (uint8_t)((uint64_t)id >> (8 * i));
	if (tl_buf_append(b, v, 8) < 0)
		abort();
}

/* Adds an item's logged segments to the assembler (direct ones are already in
 * trace_chunks), merging new traces with their table row (late spans).
 * Lookups run before taking the lock; the writer is the
 * only mutator, so what it sees unlocked stays true until it changes it. */
static void item_to_asm(struct store *s, struct store__item *it, int lock)
{
	struct store__sum *base = calloc(it->n_segs ? it->n_segs : 1, sizeof *base);
	struct tl_buf *chunks = calloc(it->n_segs ? it->n_segs : 1, sizeof *chunks);
	char *has = calloc(it->n_segs ? it->n_segs : 1, 1);
	uint64_t now = tl_mono_nano();
	if (!base || !has || !chunks)
		abort();
	for (size_t i = 0; i < it->n_segs; i++) {
		struct store__seg *sg = &it->segs[i];
		tl_buf_init(&chunks[i], (size_t)1 << 30);
		if (!sg->direct && !store__asm_find(&s->as, sg->tenant, sg->trace_id, sg->hash))
			has[i] = (char)load_row(s, sg->tenant, sg->trace_id, &base[i], &chunks[i]);
	}
	if (lock)
		pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < it->n_segs; i++) {
		if (it->segs[i].direct)
			continue;
		struct store__ptrace *t = store__asm_add(&s->as, &it->segs[i], it->raw, it->log_id, now,
							 s->cfg.trace_max_spans, has[i] ? &base[i] : NULL);
		/* Known from the start, so readers can always tell whether it is committed. */
		if (!t->chunk_id) {
			t->chunk_id = (int64_t)s->next_chunk_id++;
			t->chunks = chunks[i]; /* the row's chunks: the new one is added when written */
			tl_buf_init(&chunks[i], 0);
		}
	}
	if (lock) {
		/* In the same critical section, so no query sees these spans twice. */
		s->inflight = it->next;
		pthread_mutex_unlock(&s->mu);
	}
	for (size_t i = 0; i < it->n_segs; i++) {
		if (has[i])
			store__sum_cleanup(&base[i]);
		tl_buf_cleanup(&chunks[i]);
	}
	free(base);
	free(chunks);
	free(has);
}

/* ---- replay ------------------------------------------------------------------- */

static int replay(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	uint64_t rows = 0, spans = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT id, data FROM ingest_log WHERE id >= ? ORDER BY id", -1, &st, NULL)) {
		rc = TL_ESTORE;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (int64_t)s->watermark);
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
		const void *z = sqlite3_column_blob(st, 1);
		size_t zl = (size_t)sqlite3_column_bytes(st, 1);
		void *raw = NULL;
		size_t rl = 0;
		struct tl_arena *ar = NULL;
		struct tl_batch b;
		const struct tl_span **ptrs = NULL;
		struct store__item *it = NULL;

		if (zl && (rc = store__zstd_decompress(NULL, z, zl, (size_t)1 << 32, &raw, &rl)) < 0) {
			errf(err, errlen, "%s: ingest_log row %s cannot be decompressed", s->db_path, "");
			goto out;
		}
		ar = tl_arena_create(1 << 16, 0);
		if (!ar)
			abort();
		rc = store__decode(raw ? raw : "", rl, ar, NULL, &b);
		if (rc == 0) {
			ptrs = malloc((b.n_spans ? b.n_spans : 1) * sizeof *ptrs);
			if (!ptrs)
				abort();
			for (size_t i = 0; i < b.n_spans; i++)
				ptrs[i] = &b.spans[i];
			rc = store__item_build(ptrs, b.n_spans, NULL, 0, &it);
		}
		if (rc == 0) {
			it->log_id = id;
			item_to_asm(s, it, 0);
			spans += it->n_spans;
		}
		store__item_free(it);
		free(ptrs);
		tl_arena_destroy(ar);
		free(raw);
		if (rc < 0) {
			errf(err, errlen, "%s: ingest_log row cannot be decoded%s", s->db_path, "");
			goto out;
		}
		if (id >= s->next_log_id)
			s->next_log_id = id + 1;
		rows++;
	}
	if (rows)
		tl_log(TL_LOG_INFO, "store: replayed %llu ingest-log rows (%llu spans)", (unsigned long long)rows,
		       (unsigned long long)spans);
out:
	sqlite3_finalize(st);
	return rc;
}

/* ---- the writer ----------------------------------------------------------------- */

static uint64_t meta_get(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	uint64_t v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int fault(struct store *s, const char *op)
{
	return s->cfg.fault && s->cfg.fault(s->cfg.fault_arg, op) != 0;
}

static int commit(struct store *s)
{
	if (fault(s, "commit") || exec(s->db, "COMMIT") < 0) {
		exec(s->db, "ROLLBACK");
		return TL_EIO;
	}
	return 0;
}

static int step_done(sqlite3_stmt *st)
{
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE ? 0 : TL_ESTORE;
}

/* Picks the pending traces to write in this commit (under s->mu). */
static size_t select_flush(struct store *s, struct store__ptrace ***out, int all)
{
	struct store__asm *a = &s->as;
	uint64_t now = tl_mono_nano(), idle = (uint64_t)s->cfg.trace_idle_ms * MS;
	uint64_t grace = (uint64_t)s->cfg.root_grace_ms * MS;
	size_t n = 0, cap = 0, bytes = 0, pend = a->bytes;
	struct store__ptrace **sel = NULL;

#define PICK(t)                                                                       \
	do {                                                                          \
		if (n == cap) {                                                       \
			cap = cap ? cap * 2 : 64;                                     \
			sel = realloc(sel, cap * sizeof *sel);                        \
			if (!sel)                                                     \
				abort();                                              \
		}                                                                     \
		(t)->flushing = 1;                                                    \
		sel[n++] = (t);                                                       \
		bytes += (t)->data.len;                                               \
		pend -= (t)->bytes;                                                   \
	} while (0)
#define BUDGET_LEFT() (all || (bytes < FLUSH_BUDGET_BYTES && n < FLUSH_BUDGET_TRACES))

	for (struct store__ptrace *t = a->thead; t && BUDGET_LEFT(); t = t->tnext) {
		if (!(all || t->force || now - t->touched_ns >= idle))
			break;
		PICK(t);
	}
	/* Traces whose root arrived: agents end the root last, so little more is
	 * coming; late spans become another chunk. */
	for (struct store__ptrace *t = a->rhead; t && BUDGET_LEFT(); t = t->rnext) {
		if (t->flushing)
			continue;
		if (!all && now - t->touched_ns < grace)
			break;
		PICK(t);
	}
	for (struct store__ptrace *t = a->fhead; t && BUDGET_LEFT(); t = t->fnext) {
		if (t->flushing)
			continue;
		if (now - t->created_ns < PENDING_MAX_AGE_NS && pend <= s->cfg.pending_max_bytes)
			break;
		PICK(t);
	}
#undef PICK
#undef BUDGET_LEFT
	*out = sel;
	return n;
}

/* The ingest-log id below which every row is fully in chunks. */
static uint64_t new_watermark(struct store *s, struct store__item *items)
{
	for (struct store__ptrace *t = s->as.fhead; t; t = t->fnext)
		if (!t->flushing)
			return t->first_log_id;
	for (; items; items = items->next)
		if (items->log_id)
			return items->log_id;
	return s->next_log_id;
}

static int write_chunks(struct store *s, struct store__ptrace **sel, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct store__ptrace *t = sel[i];
		void *z = NULL;
		size_t zl = 0;
		int rc = store__zstd_compress(s->wcctx, s->cdict, t->data.data ? t->data.data : "", t->data.len,
					      STORE_CHUNK_LEVEL, &z, &zl);
		if (rc)
			return rc;
		sqlite3_stmt *st = s->st_chunk;
		sqlite3_bind_int64(st, 1, t->chunk_id);
		sqlite3_bind_text(st, 2, t->tenant, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, t->trace_id, 16, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (int64_t)t->start);
		sqlite3_bind_int64(st, 5, (int64_t)t->end);
		sqlite3_bind_int64(st, 6, t->n_spans);
		sqlite3_bind_int64(st, 7, s->cdict ? s->dict_id : 0);
		sqlite3_bind_blob(st, 8, z, (int)zl, free);
		if ((rc = step_done(st)) < 0)
			return rc;
		/* t->chunks is the writer's (readers never look at it). */
		chunks_add(&t->chunks, t->chunk_id);
		sqlite3_reset(s->st_sum);
		rc = store__sum_bind(s->st_sum, 1, &t->sum);
		if (rc == 0)
			rc = sqlite3_bind_blob(s->st_sum, STORE_SUM_NCOLS + 1, t->chunks.data, (int)t->chunks.len,
					       SQLITE_STATIC) == SQLITE_OK ? 0 : TL_ESTORE;
		if (rc == 0)
			rc = step_done(s->st_sum);
		t->chunks.len -= 8; /* written again in full if this commit fails */
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The direct segments of the cycle's items: the chunk compressed by the caller,
 * and the summary, merged with the table row if the trace has one (late spans,
 * or another direct segment of this transaction). */
static int write_direct(struct store *s, struct store__item *items, size_t *ntraces)
{
	int rc = 0;
	for (struct store__item *it = items; it; it = it->next) {
		for (size_t i = 0; i < it->n_segs; i++) {
			struct store__seg *sg = &it->segs[i];
			if (!sg->direct)
				continue;
			sqlite3_stmt *st = s->st_chunk;
			sqlite3_bind_int64(st, 1, sg->chunk_id);
			sqlite3_bind_text(st, 2, sg->tenant, -1, SQLITE_STATIC);
			sqlite3_bind_blob(st, 3, sg->trace_id, 16, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, (int64_t)sg->start);
			sqlite3_bind_int64(st, 5, (int64_t)sg->end);
			sqlite3_bind_int64(st, 6, sg->n_spans);
			sqlite3_bind_int64(st, 7, sg->zdict);
			sqlite3_bind_blob(st, 8, sg->z, (int)sg->zlen, SQLITE_STATIC);
			if ((rc = step_done(st)) < 0)
				return rc;
			/* Usually a new trace: insert, and merge only on conflict. */
			uint8_t one[8];
			for (int k = 0; k < 8; k++)
				one[k] = (uint8_t)((uint64_t)sg->chunk_id >> (8 * k));
			sqlite3_reset(s->st_sumnew);
			if ((rc = store__sum_bind(s->st_sumnew, 1, &sg->sum)) < 0 ||
			    sqlite3_bind_blob(s->st_sumnew, STORE_SUM_NCOLS + 1, one, 8, SQLITE_STATIC) != SQLITE_OK ||
			    (rc = step_done(s->st_sumnew)) < 0)
				return rc < 0 ? rc : TL_ESTORE;
			if (sqlite3_changes(s->db) == 0) {
				struct store__sum u;
				struct tl_buf chunks;
				store__sum_init(&u);
				tl_buf_init(&chunks, (size_t)1 << 30);
				if (!load_row(s, sg->tenant, sg->trace_id, &u, &chunks)) {
					tl_buf_cleanup(&chunks);
					return TL_ESTORE;
				}
				store__sum_merge(&u, &sg->sum);
				chunks_add(&chunks, sg->chunk_id);
				sqlite3_reset(s->st_sum);
				rc = store__sum_bind(s->st_sum, 1, &u);
				if (rc == 0 && sqlite3_bind_blob(s->st_sum, STORE_SUM_NCOLS + 1, chunks.data, (int)chunks.len,
								 SQLITE_STATIC) != SQLITE_OK)
					rc = TL_ESTORE;
				if (rc == 0)
					rc = step_done(s->st_sum);
				store__sum_cleanup(&u);
				tl_buf_cleanup(&chunks);
				if (rc < 0)
					return rc;
			}
			(*ntraces)++;
		}
	}
	return 0;
}

static void add_sample(struct store *s, const void *p, size_t len)
{
	if (len > DICT_SAMPLE_MAX)
		len = DICT_SAMPLE_MAX; /* the boilerplate is at the start; big traces must not crowd out others */
	if (!len || s->samples.len + len > DICT_SAMPLE_BYTES)
		return;
	if (tl_buf_append(&s->samples, p, len) < 0)
		abort();
	s->sample_sizes = realloc(s->sample_sizes, (s->nsamples + 1) * sizeof *s->sample_sizes);
	if (!s->sample_sizes)
		abort();
	s->sample_sizes[s->nsamples++] = len;
}

/* The trainer thread: owns the samples from its start; hands the dictionary
 * (or NULL on failure) to the writer under pool_mu. */
static void *trainer_main(void *arg)
{
	struct store *s = arg;
	void *dict = malloc(DICT_CAPACITY);
	if (!dict)
		abort();
	size_t dl = ZDICT_trainFromBuffer(dict, DICT_CAPACITY, s->samples.data, s->sample_sizes, s->nsamples);
	if (ZDICT_isError(dl)) {
		free(dict);
		dict = NULL;
		dl = 0;
	}
	tl_buf_cleanup(&s->samples); /* the 2 MB of samples are not needed any more */
	free(s->sample_sizes);
	s->sample_sizes = NULL;
	pthread_mutex_lock(&s->pool_mu);
	s->newdict = dict;
	s->newdict_len = dl;
	s->newdict_ready = 1;
	pthread_mutex_unlock(&s->pool_mu);
	return NULL;
}

/*
 * Chunks of one trace are small (a few KB), so most of what zstd would find in
 * them - attribute keys, resource and scope, model names - appears once per
 * chunk. A dictionary trained on the first chunks of this database removes that
 * cost (measured: 93 -> 56 bytes per span on the standard agent workload, 104
 * -> 63 on the bench workload). Training takes a few hundred ms, so it runs on
 * its own thread; the writer commits the dictionary with a later cycle and only
 * then hands it to the compressors (see take_dict).
 */
static void maybe_train(struct store *s, struct store__item *items, struct store__ptrace **sel, size_t n)
{
	if (s->cdict || s->no_train || s->trainer_started)
		return;
	for (size_t i = 0; i < n && s->nsamples < DICT_SAMPLES; i++)
		add_sample(s, sel[i]->data.data, sel[i]->data.len);
	for (struct store__item *it = items; it; it = it->next)
		for (size_t i = 0; i < it->n_segs && s->nsamples < DICT_SAMPLES; i++)
			if (it->segs[i].direct)
				add_sample(s, it->raw + it->segs[i].off, it->segs[i].len);
	if (s->nsamples < DICT_SAMPLES && s->samples.len < DICT_SAMPLE_BYTES * 3 / 4)
		return;
	if (s->nsamples < DICT_MIN_SAMPLES || pthread_create(&s->trainer, NULL, trainer_main, s) != 0) {
		s->no_train = 1;
		tl_buf_cleanup(&s->samples);
		free(s->sample_sizes);
		s->sample_sizes = NULL;
		return;
	}
	s->trainer_started = 1;
}

/* Writer, before a cycle: 1 if a trained dictionary waits to be committed
 * with this cycle (insert_dict), 0 otherwise. */
static int dict_pending(struct store *s)
{
	if (s->cdict || !s->trainer_started)
		return 0;
	pthread_mutex_lock(&s->pool_mu);
	int ready = s->newdict_ready;
	pthread_mutex_unlock(&s->pool_mu);
	if (ready && !s->newdict)
		s->no_train = 1;
	return ready && s->newdict;
}

static int insert_dict(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = TL_ESTORE;
	s->newdict_id = (int64_t)meta_get(s->db, "SELECT coalesce(max(id), 0) + 1 FROM zdict");
	if (sqlite3_prepare_v2(s->db, "INSERT INTO zdict(id, data) VALUES (?, ?)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, s->newdict_id);
		sqlite3_bind_blob(st, 2, s->newdict, (int)s->newdict_len, SQLITE_STATIC);
		rc = step_done(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* After the commit that stored the dictionary: compress with it from now on. */
static void take_dict(struct store *s)
{
	ZSTD_CDict *cd = ZSTD_createCDict(s->newdict, s->newdict_len, STORE_CHUNK_LEVEL);
	if (!cd) {
		s->no_train = 1;
		return;
	}
	pthread_mutex_lock(&s->pool_mu);
	s->cdict = cd;
	s->dict_id = s->newdict_id;
	pthread_mutex_unlock(&s->pool_mu);
	tl_log(TL_LOG_INFO, "store: trained chunk dictionary %lld (%zu bytes from %u traces)",
	       (long long)s->newdict_id, s->newdict_len, s->nsamples);
	free(s->newdict);
	s->newdict = NULL;
}

/* One group commit: ingest rows, direct chunks, rollups, assembled chunks and
 * the watermark together. */
static int run_cycle(struct store *s, struct store__item *items, struct store__ptrace **sel, size_t nsel,
		     uint64_t *wm_out, size_t *ndirect)
{
	struct store__roll *rolls = NULL;
	size_t nr = 0, rcap = 0;
	int rc = 0;

	maybe_train(s, items, sel, nsel);
	int with_dict = dict_pending(s);
	for (struct store__item *it = items; it; it = it->next)
		if (it->relog && (rc = store__item_log(it, s->wcctx)) < 0)
			return rc;
	if (exec(s->db, "BEGIN") < 0)
		return TL_EIO;
	if (with_dict && (rc = insert_dict(s)) < 0)
		goto out;
	for (struct store__item *it = items; it; it = it->next) {
		it->log_id = 0;
		if (it->n_log) {
			it->log_id = s->next_log_id++;
			sqlite3_bind_int64(s->st_log, 1, (int64_t)it->log_id);
			sqlite3_bind_blob(s->st_log, 2, it->zdata ? it->zdata : "", (int)it->zlen, SQLITE_STATIC);
			if ((rc = step_done(s->st_log)) < 0)
				goto out;
		}
		for (size_t i = 0; i < it->n_rolls; i++)
			store__roll_merge(&rolls, &nr, &rcap, &it->rolls[i]);
		if (it->sig && (rc = store__sig_write(&s->sigst, it->sig)) < 0)
			goto out;
	}
	if ((rc = write_direct(s, items, ndirect)) < 0)
		goto out;
	if ((rc = store__roll_write(s->db, s->st_roll, rolls, nr)) < 0)
		goto out;
	if ((rc = write_chunks(s, sel, nsel)) < 0)
		goto out;
	uint64_t wm = new_watermark(s, items);
	if (wm > s->watermark) {
		sqlite3_bind_int64(s->st_delog, 1, (int64_t)wm);
		sqlite3_bind_int64(s->st_wm, 1, (int64_t)wm);
		if ((rc = step_done(s->st_delog)) < 0 || (rc = step_done(s->st_wm)) < 0)
			goto out;
	}
	*wm_out = wm;
	rc = commit(s);
	if (rc == 0 && with_dict)
		take_dict(s);
	free(rolls);
	return rc;
out:
	exec(s->db, "ROLLBACK");
	free(rolls);
	return TL_EIO;
}

static void note_commit(struct store *s, uint64_t ns)
{
	double ms = (double)ns / 1e6;
	int b = 0;
	while (b < 15 && ms > store_commit_bounds_ms[b])
		b++;
	s->m.commits++;
	s->m.commit_latency_buckets[b]++;
	s->m.commit_latency_sum_s += ms / 1000.0;
}

/* ---- retention ------------------------------------------------------------------ */

static uint64_t db_used_bytes(sqlite3 *db)
{
	uint64_t pc = meta_get(db, "PRAGMA page_count"), fl = meta_get(db, "PRAGMA freelist_count");
	uint64_t ps = meta_get(db, "PRAGMA page_size");
	return (pc > fl ? pc - fl : 0) * ps;
}

/* Deletes up to RETENTION_BATCH traces chosen by sel_sql (bound to arg).
 * Returns the number deleted or a negative error. */
static int delete_batch(struct store *s, const char *sel_sql, int64_t arg, int bind)
{
	sqlite3_stmt *q = NULL, *dc = NULL, *dt = NULL;
	int n = 0, rc = 0;

	if (sqlite3_prepare_v2(s->db, sel_sql, -1, &q, NULL) ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM trace_chunks WHERE id = ?", -1, &dc, NULL) ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM traces WHERE rowid = ?", -1, &dt, NULL)) {
		rc = TL_ESTORE;
		goto out;
	}
	if (bind)
		sqlite3_bind_int64(q, 1, arg);
	/* Collect first: deleting under a running SELECT of the same table is undefined. */
	struct victim {
		int64_t rowid;
		struct tl_buf chunks;
	} *v = calloc(RETENTION_BATCH, sizeof *v);
	int nv = 0;
	if (!v)
		abort();
	while (nv < RETENTION_BATCH && sqlite3_step(q) == SQLITE_ROW) {
		const void *c = sqlite3_column_blob(q, 1);
		int cl = sqlite3_column_bytes(q, 1);
		v[nv].rowid = sqlite3_column_int64(q, 0);
		tl_buf_init(&v[nv].chunks, (size_t)1 << 30);
		if (c && cl > 0 && tl_buf_append(&v[nv].chunks, c, (size_t)cl) < 0)
			abort();
		nv++;
	}
	sqlite3_reset(q);
	if (nv == 0) {
		free(v);
		goto out;
	}
	if (exec(s->db, "BEGIN") < 0)
		rc = TL_EIO;
	for (int i = 0; i < nv && rc == 0; i++) {
		const uint8_t *c = (const uint8_t *)v[i].chunks.data;
		for (size_t k = 0; k + 8 <= v[i].chunks.len && rc == 0; k += 8) {
			sqlite3_bind_int64(dc, 1, store__chunk_at(c + k));
			if (step_done(dc) < 0)
				rc = TL_ESTORE;
		}
		sqlite3_bind_int64(dt, 1, v[i].rowid);
		if (rc == 0 && step_done(dt) < 0)
			rc = TL_ESTORE;
		if (rc == 0)
			n++;
	}
	for (int i = 0; i < nv; i++)
		tl_buf_cleanup(&v[i].chunks);
	free(v);
	if (rc == TL_EIO)
		goto out;
	if (rc < 0)
		exec(s->db, "ROLLBACK");
	else
		rc = commit(s);
out:
	sqlite3_finalize(q);
	sqlite3_finalize(dc);
	sqlite3_finalize(dt);
	return rc < 0 ? rc : n;
}

/* Writer thread only. full: run to completion; otherwise a few batches. */
static int retention(struct store *s, int full)
{
	char sql[256];
	int rc = 0, batches = 0, n;
	uint64_t deleted = 0;

	if (s->cfg.retention_ns) {
		uint64_t now = tl_now_unix_nano();
		int64_t cutoff = now > s->cfg.retention_ns ? (int64_t)(now - s->cfg.retention_ns) : 0;
		snprintf(sql, sizeof sql,
			 "SELECT rowid, chunks FROM traces WHERE end_ns < ? ORDER BY end_ns LIMIT %d",
			 RETENTION_BATCH);
		while ((n = delete_batch(s, sql, cutoff, 1)) > 0) {
			deleted += (uint64_t)n;
			if (!full && ++batches >= 4)
				break;
		}
		if (n < 0)
			rc = n;
		char del[128];
		snprintf(del, sizeof del, "DELETE FROM rollup_minute WHERE minute < %lld",
			 (long long)(cutoff / 60000000000LL));
		if (rc == 0 && exec(s->db, del) < 0)
			rc = TL_ESTORE;
		/* Log records, their resources and the metric rollups by the same age. */
		if (rc == 0 && (n = store__sig_retention(s->db, cutoff, full ? 0 : 4 * RETENTION_BATCH)) < 0)
			rc = n;
	}
	if (s->cfg.max_size_bytes && rc == 0) {
		snprintf(sql, sizeof sql, "SELECT rowid, chunks FROM traces ORDER BY end_ns LIMIT %d",
			 RETENTION_BATCH / 5);
		batches = 0;
		while (db_used_bytes(s->db) > s->cfg.max_size_bytes) {
			/* The oldest traces and the oldest log records, side by side. */
			n = delete_batch(s, sql, 0, 0);
			int nl = n < 0 ? 0 : store__logs_trim(s->db, RETENTION_BATCH);
			if (n < 0 || nl < 0 || (n == 0 && nl == 0)) {
				rc = n < 0 ? n : nl < 0 ? nl : 0;
				break;
			}
			deleted += (uint64_t)n;
			if (!full && ++batches >= 20)
				break;
		}
	}
	pthread_mutex_lock(&s->mu);
	s->m.retention_deleted += deleted;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Under s->mu, for the items the writer just took: a direct segment whose
 * trace is pending in the assembler is demoted to the ingest log (its spans
 * join the pending trace; its chunk id is never used). */
static void take_direct(struct store *s, struct store__item *items)
{
	for (struct store__item *it = items; it; it = it->next) {
		for (size_t i = 0; i < it->n_segs; i++) {
			struct store__seg *sg = &it->segs[i];
			if (sg->direct && store__asm_find(&s->as, sg->tenant, sg->trace_id, sg->hash)) {
				sg->direct = 0;
				it->relog = 1;
			}
		}
	}
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	uint64_t last_commit = 0, last_retention = tl_mono_nano();
	uint64_t interval = (uint64_t)s->cfg.commit_interval_ms * MS;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		uint64_t now = tl_mono_nano();
		int want_ret = s->retention_req != s->retention_done;
		if (!s->qhead && !s->closing && !want_ret) {
			/* Idle: wake on an append, a request, or the tick for idle traces. */
			timed_wait(&s->cv, &s->mu, (uint64_t)TICK_MS * MS);
			now = tl_mono_nano();
		}
		if (s->qhead && !s->closing && now - last_commit < interval) {
			pthread_mutex_unlock(&s->mu);
			struct timespec ts = {0, (long)(interval - (now - last_commit))};
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&s->mu);
		}
		int closing = s->closing;
		struct store__item *items = s->qhead;
		s->qhead = s->qtail = NULL;
		s->inflight = items;
		take_direct(s, items);
		struct store__ptrace **sel = NULL;
		size_t nsel = select_flush(s, &sel, closing);
		pthread_mutex_unlock(&s->mu);

		int rc = 0;
		size_t ndirect = 0;
		uint64_t wm = s->watermark, t0 = tl_mono_nano();
		if (items || nsel) {
			last_commit = t0;
			rc = run_cycle(s, items, sel, nsel, &wm, &ndirect);
		}
		uint64_t lat = tl_mono_nano() - t0;

		/* Lookups for new traces happen before the lock (item_to_asm). Flushed
		 * traces leave first so late spans of this cycle start a new pending trace. */
		pthread_mutex_lock(&s->mu);
		if (rc == 0) {
			for (size_t i = 0; i < nsel; i++)
				store__asm_remove(&s->as, sel[i]);
			s->m.traces_written += nsel + ndirect;
			s->watermark = wm;
		} else {
			for (size_t i = 0; i < nsel; i++)
				sel[i]->flushing = 0;
		}
		pthread_mutex_unlock(&s->mu);
		if (rc == 0)
			for (struct store__item *it = items; it; it = it->next)
				item_to_asm(s, it, 1);
		pthread_mutex_lock(&s->mu);
		size_t nspans = 0, nbytes = 0;
		for (struct store__item *it = items; it; it = it->next) {
			nspans += it->n_spans;
			nbytes += it->bytes;
		}
		s->inflight = NULL;
		s->queue_bytes -= nbytes;
		if (items || nsel)
			note_commit(s, lat);
		if (rc == 0)
			s->m.spans_committed += nspans;
		pthread_mutex_unlock(&s->mu);
		free(sel);

		while (items) {
			struct store__item *nx = items->next;
			if (items->done)
				items->done(items->arg, rc);
			store__item_free(items);
			items = nx;
		}
		if (rc < 0) {
			tl_log(TL_LOG_ERROR, "store: commit failed: %s", tl_strerror(rc));
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}

		pthread_mutex_lock(&s->mu);
		uint64_t req = s->retention_req;
		pthread_mutex_unlock(&s->mu);
		if (req != s->retention_done || (!closing && tl_mono_nano() - last_retention >= RETENTION_EVERY_NS)) {
			int full = req != s->retention_done;
			int rrc = retention(s, full);
			last_retention = tl_mono_nano();
			pthread_mutex_lock(&s->mu);
			if (full) {
				s->retention_rc = rrc;
				s->retention_done = req;
				pthread_cond_broadcast(&s->cv_done);
			}
			pthread_mutex_unlock(&s->mu);
		}

		pthread_mutex_lock(&s->mu);
		if (s->closing && !s->qhead && (s->as.count == 0 || rc < 0))
			break;
	}
	s->ready = 0;
	pthread_cond_broadcast(&s->cv_done);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- open / close ------------------------------------------------------------------ */

static int load_dict(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT id, data FROM zdict ORDER BY id DESC LIMIT 1", -1, &st, NULL))
		return TL_ESTORE;
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->dict_id = sqlite3_column_int64(st, 0);
		s->cdict = ZSTD_createCDict(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
					   STORE_CHUNK_LEVEL);
		if (!s->cdict)
			rc = TL_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

const ZSTD_DDict *store__ddict(struct store *s, sqlite3 *db, int64_t id)
{
	ZSTD_DDict *dd = NULL;
	sqlite3_stmt *st = NULL;
	pthread_mutex_lock(&s->pool_mu);
	for (int i = 0; i < s->nddicts; i++)
		if (s->ddicts[i].id == id)
			dd = s->ddicts[i].dd;
	pthread_mutex_unlock(&s->pool_mu);
	if (dd)
		return dd;
	if (sqlite3_prepare_v2(db, "SELECT data FROM zdict WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			dd = ZSTD_createDDict(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	}
	sqlite3_finalize(st);
	if (!dd)
		return NULL;
	pthread_mutex_lock(&s->pool_mu);
	for (int i = 0; i < s->nddicts; i++) {
		if (s->ddicts[i].id == id) { /* another thread loaded it first */
			ZSTD_freeDDict(dd);
			dd = s->ddicts[i].dd;
			pthread_mutex_unlock(&s->pool_mu);
			return dd;
		}
	}
	if (s->nddicts < (int)(sizeof s->ddicts / sizeof s->ddicts[0])) {
		s->ddicts[s->nddicts].id = id;
		s->ddicts[s->nddicts].dd = dd;
		s->nddicts++;
	} else {
		/* Never evicted (a reader may hold one); a database trains one
		 * dictionary, so the cache cannot fill in practice. */
		ZSTD_freeDDict(dd);
		dd = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	return dd;
}

static int prepare_all(struct store *s)
{
	struct tl_buf up, ins;
	int rc = 0;
	const char *cols = STORE_SUM_COLS ", chunks";

	/* The summary upsert overwrites every column with the merged summary;
	 * the insert of a direct trace does nothing if the row exists. */
	tl_buf_init(&up, 8192);
	tl_buf_init(&ins, 8192);
	tl_buf_printf(&up, "INSERT INTO traces(%s) VALUES (", cols);
	for (int i = 0; i < STORE_SUM_NCOLS + 1; i++)
		tl_buf_puts(&up, i ? ",?" : "?");
	tl_buf_puts(&up, ")");
	tl_buf_printf(&ins, "%s ON CONFLICT(tenant, trace_id) DO NOTHING", up.data);
	tl_buf_puts(&up, " ON CONFLICT(tenant, trace_id) DO UPDATE SET ");
	const char *p = cols;
	int first = 1;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		int len = (int)(e - p);
		if (len && !(len == 6 && !memcmp(p, "tenant", 6)) && !(len == 8 && !memcmp(p, "trace_id", 8))) {
			tl_buf_printf(&up, "%s%.*s = excluded.%.*s", first ? "" : ", ", len, p, len, p);
			first = 0;
		}
		p = e;
	}
	char get[1024];
	snprintf(get, sizeof get, "SELECT %s FROM traces WHERE tenant = ? AND trace_id = ?", cols);
	if (sqlite3_prepare_v2(s->db, "INSERT INTO ingest_log(id, data) VALUES (?, ?)", -1, &s->st_log, NULL) ||
	    sqlite3_prepare_v2(s->db,
			       "INSERT INTO trace_chunks(id, tenant, trace_id, start_ns, end_ns, span_count, dict, data) "
			       "VALUES (?,?,?,?,?,?,?,?)",
			       -1, &s->st_chunk, NULL) ||
	    sqlite3_prepare_v2(s->db, up.data, -1, &s->st_sum, NULL) ||
	    sqlite3_prepare_v2(s->db, ins.data, -1, &s->st_sumnew, NULL) ||
	    sqlite3_prepare_v2(s->db, STORE_ROLL_UPSERT_SQL, -1, &s->st_roll, NULL) ||
	    sqlite3_prepare_v2(s->db, get, -1, &s->st_getsum, NULL) ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM ingest_log WHERE id < ?", -1, &s->st_delog, NULL) ||
	    sqlite3_prepare_v2(s->db, "UPDATE meta SET v = ? WHERE k = 'watermark'", -1, &s->st_wm, NULL) ||
	    store__sig_prepare(s->db, &s->sigst) < 0)
		rc = TL_ESTORE;
	tl_buf_cleanup(&up);
	tl_buf_cleanup(&ins);
	return rc;
}

/*
 * Schema 1 found a trace's chunks through an index on trace_chunks(trace_id):
 * one random B-tree page per chunk written, about a quarter of the pages of a
 * commit. Schema 2 keeps the chunk ids in the trace's row instead. Upgrading
 * fills traces.chunks from that index and drops it, in one transaction.
 */
static int migrate_1_2(struct store *s)
{
	sqlite3_stmt *q = NULL, *up = NULL;
	struct tl_buf ids;
	char tenant[STORE_TENANT_MAX] = "";
	uint8_t tid[16] = {0};
	int rc = 0, have = 0, r;

	tl_buf_init(&ids, (size_t)1 << 30);
	if (exec(s->db, "BEGIN") < 0)
		return TL_ESTORE;
	if (exec(s->db, "ALTER TABLE traces ADD COLUMN chunks BLOB") < 0 ||
	    sqlite3_prepare_v2(s->db, "SELECT tenant, trace_id, id FROM trace_chunks ORDER BY tenant, trace_id, id", -1,
			       &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "UPDATE traces SET chunks = ? WHERE tenant = ? AND trace_id = ?", -1, &up,
			       NULL) != SQLITE_OK) {
		rc = TL_ESTORE;
		goto out;
	}
	for (;;) {
		r = sqlite3_step(q);
		const char *t = r == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
		const void *id = r == SQLITE_ROW ? sqlite3_column_blob(q, 1) : NULL;
		int same = t && id && sqlite3_column_bytes(q, 1) == 16 && have && strcmp(t, tenant) == 0 &&
			   memcmp(id, tid, 16) == 0;
		if (have && !same) {
			sqlite3_bind_blob(up, 1, ids.data, (int)ids.len, SQLITE_STATIC);
			sqlite3_bind_text(up, 2, tenant, -1, SQLITE_STATIC);
			sqlite3_bind_blob(up, 3, tid, 16, SQLITE_STATIC);
			if ((rc = step_done(up)) < 0)
				goto out;
			ids.len = 0;
			have = 0;
		}
		if (r != SQLITE_ROW)
			break;
		if (!have && t && id && sqlite3_column_bytes(q, 1) == 16) {
			snprintf(tenant, sizeof tenant, "%s", t);
			memcpy(tid, id, 16);
			have = 1;
		}
		if (have)
			chunks_add(&ids, sqlite3_column_int64(q, 2));
	}
	if (r != SQLITE_DONE || exec(s->db, "DROP INDEX IF EXISTS trace_chunks_trace") < 0 ||
	    exec(s->db, "UPDATE meta SET v = 2 WHERE k = 'schema'") < 0)
		rc = TL_ESTORE;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(up);
	tl_buf_cleanup(&ids);
	if (rc == 0 && exec(s->db, "COMMIT") < 0)
		rc = TL_ESTORE;
	if (rc < 0)
		exec(s->db, "ROLLBACK");
	else
		tl_log(TL_LOG_INFO, "store: upgraded %s to schema 2", s->db_path);
	return rc;
}

static void destroy(struct store *s)
{
	sqlite3_finalize(s->st_log);
	sqlite3_finalize(s->st_chunk);
	sqlite3_finalize(s->st_sum);
	sqlite3_finalize(s->st_sumnew);
	sqlite3_finalize(s->st_roll);
	sqlite3_finalize(s->st_getsum);
	sqlite3_finalize(s->st_delog);
	sqlite3_finalize(s->st_wm);
	store__sig_finalize(&s->sigst);
	if (s->db)
		sqlite3_close(s->db);
	for (int i = 0; i < s->npool; i++)
		sqlite3_close(s->pool[i]);
	for (int i = 0; i < s->ncpool; i++)
		ZSTD_freeCCtx(s->cpool[i]);
	for (int i = 0; i < s->nddicts; i++)
		ZSTD_freeDDict(s->ddicts[i].dd);
	if (s->trainer_started)
		pthread_join(s->trainer, NULL);
	free(s->newdict);
	ZSTD_freeCCtx(s->wcctx);
	ZSTD_freeCDict(s->cdict);
	tl_buf_cleanup(&s->samples);
	free(s->sample_sizes);
	while (s->qhead) {
		struct store__item *nx = s->qhead->next;
		store__item_free(s->qhead);
		s->qhead = nx;
	}
	store__asm_cleanup(&s->as);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->cv_done);
	free(s->data_dir);
	free(s->db_path);
	free(s);
}

int store_open(const struct store_config *cfg, struct store **out, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	pthread_condattr_t ca;
	int rc = 0;

	*out = NULL;
	if (!s)
		return TL_ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.commit_interval_ms)
		s->cfg.commit_interval_ms = 2;
	if (!s->cfg.trace_idle_ms)
		s->cfg.trace_idle_ms = 3000;
	if (!s->cfg.pending_max_bytes)
		s->cfg.pending_max_bytes = (size_t)32 << 20;
	s->data_dir = strdup(cfg->data_dir ? cfg->data_dir : "data");
	size_t pl = strlen(s->data_dir) + 16;
	s->db_path = malloc(pl);
	if (!s->data_dir || !s->db_path)
		abort();
	snprintf(s->db_path, pl, "%s/tracelamp.db", s->data_dir);
	s->cfg.data_dir = s->data_dir;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_cond_init(&s->cv_done, &ca);
	pthread_condattr_destroy(&ca);
	store__asm_init(&s->as);
	tl_buf_init(&s->samples, DICT_SAMPLE_BYTES + 1);
	s->wcctx = ZSTD_createCCtx();
	if (!s->wcctx)
		abort();

	if ((rc = mkdirs(s->data_dir)) < 0) {
		errf(err, errlen, "%s: cannot create directory: %s", s->data_dir, strerror(errno));
		goto out;
	}
	if ((rc = open_conn(s->db_path, 1, &s->db)) < 0) {
		errf(err, errlen, "%s: cannot open database%s", s->db_path, "");
		goto out;
	}
	/* synchronous=FULL: a commit is fsynced before done() reports success. */
	if (exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-4096;"
			"PRAGMA wal_autocheckpoint=4000;") < 0 ||
	    exec(s->db, schema_sql) < 0) {
		errf(err, errlen, "%s: cannot create schema: %s", s->db_path, sqlite3_errmsg(s->db));
		rc = TL_ESTORE;
		goto out;
	}
	if (meta_get(s->db, "SELECT v FROM meta WHERE k = 'schema'") == 1 && migrate_1_2(s) < 0) {
		errf(err, errlen, "%s: cannot upgrade the schema: %s", s->db_path, sqlite3_errmsg(s->db));
		rc = TL_ESTORE;
		goto out;
	}
	if (meta_get(s->db, "SELECT v FROM meta WHERE k = 'schema'") != 2) {
		errf(err, errlen, "%s: unknown schema version%s", s->db_path, "");
		rc = TL_ESTORE;
		goto out;
	}
	if ((rc = store__roll_register(s->db)) < 0 || (rc = prepare_all(s)) < 0) {
		errf(err, errlen, "%s: cannot prepare statements: %s", s->db_path, sqlite3_errmsg(s->db));
		goto out;
	}
	s->watermark = meta_get(s->db, "SELECT v FROM meta WHERE k = 'watermark'");
	s->next_log_id = meta_get(s->db, "SELECT coalesce(max(id), 0) + 1 FROM ingest_log");
	if (s->next_log_id < s->watermark)
		s->next_log_id = s->watermark;
	s->next_chunk_id = meta_get(s->db, "SELECT coalesce(max(id), 0) + 1 FROM trace_chunks");
	if ((rc = load_dict(s)) < 0) {
		errf(err, errlen, "%s: cannot load the chunk dictionary%s", s->db_path, "");
		goto out;
	}
	if ((rc = replay(s, err, errlen)) < 0)
		goto out;
	s->ready = 1;
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
		errf(err, errlen, "%s: cannot start the writer thread%s", s->db_path, "");
		rc = TL_ESTORE;
		goto out;
	}
	s->writer_started = 1;
	*out = s;
	s = NULL;
out:
	if (s)
		destroy(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	destroy(s);
}

/* store_append and store_append_signal: one item with the spans of b (may be
 * NULL) and the log records and usage facts of sig (may be NULL). */
static int append(struct store *s, const struct tl_batch *b, const struct store_signal *sig, store_done_fn done,
		  void *arg)
{
	struct tl_span *copies = NULL;
	const struct tl_span **ptrs = NULL;
	struct store__item *it = NULL;
	ZSTD_CCtx *cctx = NULL;
	struct store__zopt z;
	struct tl_str def = b && b->tenant.n ? b->tenant : TL_STR_LIT("default");
	size_t nsp = b ? b->n_spans : 0;
	int rc = 0;
	size_t limit = s->cfg.pending_max_bytes * 2;

	pthread_mutex_lock(&s->mu);
	rc = s->closing ? TL_ECLOSED : s->queue_bytes > limit ? TL_EBUSY : 0;
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	/* Shallow copies so the effective tenant is encoded with each span. */
	copies = malloc((nsp ? nsp : 1) * sizeof *copies);
	ptrs = malloc((nsp ? nsp : 1) * sizeof *ptrs);
	if (!copies || !ptrs) {
		rc = TL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nsp; i++) {
		copies[i] = b->spans[i];
		if (!copies[i].run.tenant.n)
			copies[i].run.tenant = def;
		ptrs[i] = &copies[i];
	}
	pthread_mutex_lock(&s->pool_mu);
	cctx = s->ncpool ? s->cpool[--s->ncpool] : NULL;
	z.cdict = s->cdict; /* set once, never freed before store_close */
	z.dict_id = s->dict_id;
	pthread_mutex_unlock(&s->pool_mu);
	if (!cctx && !(cctx = ZSTD_createCCtx())) {
		rc = TL_ENOMEM;
		goto out;
	}
	z.cctx = cctx;
	z.chunk_level = STORE_CHUNK_LEVEL;
	rc = store__item_build(ptrs, nsp, &z, 1, &it);
	if (rc == 0 && sig && ((sig->logs && sig->logs->n_records) || sig->n_usage)) {
		rc = store__sig_build(sig->logs, sig->usage, sig->n_usage, cctx, tl_now_unix_nano(), &it->sig);
		if (rc == 0)
			it->bytes += it->sig->bytes;
	}
	pthread_mutex_lock(&s->pool_mu);
	if (s->ncpool < (int)(sizeof s->cpool / sizeof s->cpool[0])) {
		s->cpool[s->ncpool++] = cctx;
		cctx = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	ZSTD_freeCCtx(cctx);
	if (rc < 0)
		goto out;
	it->done = done;
	it->arg = arg;
	pthread_mutex_lock(&s->mu);
	rc = s->closing ? TL_ECLOSED : s->queue_bytes > limit ? TL_EBUSY : 0;
	if (rc == 0) {
		/* Chunk ids of direct candidates are known from the start, so a
		 * reader can always tell whether such a segment is committed. */
		for (size_t i = 0; i < it->n_segs; i++)
			if (it->segs[i].direct)
				it->segs[i].chunk_id = (int64_t)s->next_chunk_id++;
		if (s->qtail)
			s->qtail->next = it;
		else
			s->qhead = it;
		s->qtail = it;
		s->queue_bytes += it->bytes;
		it = NULL;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
out:
	store__item_free(it);
	free(copies);
	free(ptrs);
	return rc;
}

int store_append(struct store *s, const struct tl_batch *b, store_done_fn done, void *arg)
{
	return append(s, b, NULL, done, arg);
}

int store_append_signal(struct store *s, const struct store_signal *sig, store_done_fn done, void *arg)
{
	return append(s, sig->spans, sig, done, arg);
}

/* ---- introspection ------------------------------------------------------------------ */

void store_get_metrics(struct store *s, struct store_metrics *m)
{
	pthread_mutex_lock(&s->mu);
	*m = s->m;
	m->pending_traces = s->as.count;
	m->pending_bytes = s->as.bytes;
	m->queue_bytes = s->queue_bytes;
	pthread_mutex_unlock(&s->mu);
	sqlite3 *db = store__reader_get(s);
	if (db) {
		m->db_bytes = meta_get(db, "PRAGMA page_count") * meta_get(db, "PRAGMA page_size");
		store__reader_put(s, db);
	}
}

int store_ready(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	int r = s->ready && !s->closing;
	pthread_mutex_unlock(&s->mu);
	return r;
}

int store_run_retention(struct store *s)
{
	int rc;
	pthread_mutex_lock(&s->mu);
	uint64_t req = ++s->retention_req;
	pthread_cond_signal(&s->cv);
	while (s->retention_done < req && s->ready)
		pthread_cond_wait(&s->cv_done, &s->mu);
	rc = s->retention_done >= req ? s->retention_rc : TL_ECLOSED;
	pthread_mutex_unlock(&s->mu);
	return rc;
}
