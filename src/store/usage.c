/*
 * usage.c - GenAI usage facts from OTLP metrics in the store (see
 * signals_int.h): copied into the ingest item on the caller's thread, summed
 * into rollup_minute_metrics by the writer in the group commit. /api/v1/stats
 * reads them through STORE_STATS_SOURCE_SQL, which prefers the span rollups
 * of the same (minute, tenant, service, model) so nothing counts twice.
 */
#include "store/signals_int.h"

#include <stdlib.h>
#include <string.h>

static void copy_str(char *dst, size_t cap, struct tl_str s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	/* Do not cut a UTF-8 sequence in half. */
	while (n < s.n && n > 0 && ((unsigned char)s.p[n] & 0xc0) == 0x80)
		n--;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = 0;
}

static int64_t nz(int64_t v)
{
	return v > 0 ? v : 0;
}

int store__usage_copy(struct store__sig *g, const struct tl_usage_fact *u, size_t n)
{
	g->usage = calloc(n ? n : 1, sizeof *g->usage);
	if (!g->usage)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct store__ufact *f = &g->usage[i];
		f->minute = u[i].minute_unix / 60;
		copy_str(f->tenant, sizeof f->tenant, u[i].tenant.n ? u[i].tenant : TL_STR_LIT("default"));
		copy_str(f->service, sizeof f->service, u[i].service.n ? u[i].service : TL_STR_LIT("unknown_service"));
		copy_str(f->model, sizeof f->model, u[i].model);
		copy_str(f->provider, sizeof f->provider, u[i].provider);
		copy_str(f->operation, sizeof f->operation, u[i].operation);
		f->calls = nz(u[i].calls);
		f->tokens[0] = nz(u[i].input_tokens);
		f->tokens[1] = nz(u[i].output_tokens);
		f->tokens[2] = nz(u[i].cache_read_tokens);
		f->tokens[3] = nz(u[i].cache_write_tokens);
		f->tokens[4] = nz(u[i].reasoning_tokens);
		f->cost_nusd = nz(u[i].cost_nusd);
	}
	g->n_usage = n;
	return 0;
}

int store__usage_write(sqlite3_stmt *st, const struct store__sig *g)
{
	for (size_t i = 0; i < g->n_usage; i++) {
		const struct store__ufact *f = &g->usage[i];
		int c = 1, rc;
		sqlite3_bind_int64(st, c++, (int64_t)f->minute);
		sqlite3_bind_text(st, c++, f->tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, f->service, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, f->model, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, f->provider, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, c++, f->operation, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, c++, f->calls);
		for (int k = 0; k < 5; k++)
			sqlite3_bind_int64(st, c++, f->tokens[k]);
		sqlite3_bind_int64(st, c++, f->cost_nusd);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return TL_ESTORE;
	}
	sqlite3_clear_bindings(st);
	return 0;
}
