/*
 * otlp_signals.c - the metrics and logs signals of the OTLP receivers (see
 * receiver.h): decode, check, and submit what the store keeps. Shared by
 * OTLP/HTTP (/v1/metrics, /v1/logs) and OTLP/gRPC (MetricsService/Export,
 * LogsService/Export), like receiver_ingest_traces.
 */
#include "receiver/receiver_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/otlp.h"

static struct tl_arena *new_arena(struct receiver *r, struct otlp_limits *lim)
{
	struct tl_arena *a = tl_arena_create(64 * 1024, r->decode_ceiling);
	if (!a)
		abort();
	lim->max_depth = r->cfg.max_depth;
	lim->max_arena_bytes = r->decode_ceiling;
	return a;
}

/* Maps a decode result to res; 0 when the request decoded. */
static int decode_status(struct receiver *r, int rc, const struct otlp_error *oerr, struct receiver_result *res)
{
	if (rc == TL_ENOMEM || rc == TL_ETOOBIG) {
		res->status = 413;
		snprintf(res->msg, sizeof res->msg, "decoded request exceeds the decode ceiling (%zu bytes)",
			 r->decode_ceiling);
		return rc;
	}
	if (rc) {
		res->status = 400;
		snprintf(res->msg, sizeof res->msg, "%s", oerr->msg[0] ? oerr->msg : tl_strerror(rc));
		return rc;
	}
	return 0;
}

static int charge(struct receiver *r, struct pipeline_ticket *t, struct tl_arena *a, struct receiver_result *res)
{
	if (pipeline_charge(r->cfg.pipeline, t, tl_arena_used(a))) {
		res->status = 429;
		snprintf(res->msg, sizeof res->msg, "over the memory budget (server.memory_budget); retry later");
		return TL_EBUSY;
	}
	return 0;
}

static void submit_failed(int rc, struct receiver_result *res)
{
	res->status = 503;
	snprintf(res->msg, sizeof res->msg, "%s",
		 rc == TL_ECLOSED ? "shutting down; retry later" : "the store refused the batch; retry later");
}

/* ---- metrics ----------------------------------------------------------------- */

/* Drops the data points without time_unix_nano (required by OTLP: nothing can
 * be placed in time without it). Returns how many were dropped. */
static int64_t drop_timeless(struct tl_metrics_batch *b)
{
	int64_t dropped = 0;
	for (size_t i = 0; i < b->n_metrics; i++) {
		struct tl_metric *m = &b->metrics[i];
		uint32_t k = 0;
		for (uint32_t j = 0; j < m->n_points; j++) {
			if (m->points[j].time_unix_nano)
				m->points[k++] = m->points[j];
		}
		dropped += m->n_points - k;
		m->n_points = k;
	}
	b->n_points -= (size_t)dropped;
	return dropped;
}

/* Prices facts that carry tokens but no cost, like the spans of the same calls. */
static void price_facts(const struct tl_price_table *prices, struct tl_usage_fact *f, size_t n)
{
	for (size_t i = 0; prices && i < n; i++) {
		const struct tl_price *p;
		struct tl_genai g;
		if (f[i].cost_nusd != TL_NONE || !f[i].model.n || (!f[i].input_tokens && !f[i].output_tokens))
			continue;
		p = model_prices_find(prices, f[i].model);
		if (!p)
			continue;
		memset(&g, 0, sizeof g);
		g.input_tokens = f[i].input_tokens;
		g.output_tokens = f[i].output_tokens;
		g.cache_read_tokens = f[i].cache_read_tokens;
		g.cache_write_tokens = f[i].cache_write_tokens;
		g.reasoning_tokens = f[i].reasoning_tokens;
		g.cost_nusd = TL_NONE;
		f[i].cost_nusd = model_cost_nusd(p, &g);
	}
}

void receiver_ingest_metrics(struct receiver *r, struct pipeline_ticket *t, const void *data, size_t len, int json,
			     const char *tenant, store_done_fn done, void *arg, struct receiver_result *res)
{
	struct otlp_limits lim;
	struct tl_arena *arena = new_arena(r, &lim);
	struct otlp_error oerr;
	struct tl_metrics_batch batch;
	struct tl_usage_fact *facts = NULL;
	size_t nf = 0;
	int rc;

	memset(res, 0, sizeof *res);
	memset(&oerr, 0, sizeof oerr);
	memset(&batch, 0, sizeof batch);
	if (json)
		rc = otlp_decode_metrics_json(data, len, arena, &lim, &batch, &oerr);
	else
		rc = otlp_decode_metrics_pb(data, len, arena, &lim, &batch, &oerr);
	if (decode_status(r, rc, &oerr, res) || charge(r, t, arena, res))
		goto out;
	batch.arena = arena;
	batch.tenant = tenant ? tl_str_c(tenant) : TL_STR_LIT("default");
	res->status = 200;
	res->rejected = drop_timeless(&batch);
	res->n_items = batch.n_points;
	if (res->rejected)
		snprintf(res->msg, sizeof res->msg, "%lld data point(s) without time_unix_nano were rejected",
			 (long long)res->rejected);
	pthread_mutex_lock(&r->usage_mu);
	rc = model_usage_from_metrics(&batch, r->usage, arena, &facts, &nf);
	pthread_mutex_unlock(&r->usage_mu);
	if (rc) {
		res->status = 413;
		snprintf(res->msg, sizeof res->msg, "decoded request exceeds the decode ceiling (%zu bytes)",
			 r->decode_ceiling);
		goto out;
	}
	if (nf) {
		struct store_signal sig;
		memset(&sig, 0, sizeof sig);
		price_facts(r->cfg.prices, facts, nf);
		sig.usage = facts;
		sig.n_usage = nf;
		rc = pipeline_submit_signal(r->cfg.pipeline, t, &sig, done, arg);
		if (rc) {
			submit_failed(rc, res);
			goto out;
		}
		res->submitted = 1;
	}
	/* Only what the store accepted is re-exposed: a refused request comes
	 * again, and its delta points must not be added twice. */
	if (r->cfg.metrics)
		metrics_ingest_otlp(r->cfg.metrics, &batch, tl_now_unix_nano());
out:
	tl_arena_destroy(arena);
}

/* ---- logs -------------------------------------------------------------------- */

void receiver_ingest_logs(struct receiver *r, struct pipeline_ticket *t, const void *data, size_t len, int json,
			  const char *tenant, store_done_fn done, void *arg, struct receiver_result *res)
{
	struct otlp_limits lim;
	struct tl_arena *arena = new_arena(r, &lim);
	struct otlp_error oerr;
	struct tl_logs_batch batch;
	struct tl_batch spans;
	struct store_signal sig;
	int rc;

	memset(res, 0, sizeof *res);
	memset(&oerr, 0, sizeof oerr);
	memset(&batch, 0, sizeof batch);
	memset(&spans, 0, sizeof spans);
	memset(&sig, 0, sizeof sig);
	if (json)
		rc = otlp_decode_logs_json(data, len, arena, &lim, &batch, &oerr);
	else
		rc = otlp_decode_logs_pb(data, len, arena, &lim, &batch, &oerr);
	if (decode_status(r, rc, &oerr, res))
		goto out;
	batch.arena = arena;
	batch.tenant = tenant ? tl_str_c(tenant) : TL_STR_LIT("default");
	res->n_items = batch.n_records;
	/* Coding-agent events (Claude Code, Gemini CLI, Codex) also become spans,
	 * stored in the same commit as the records (model/agents.c). */
	rc = model_agent_spans_from_logs(&batch, arena, &spans);
	if (rc) {
		decode_status(r, TL_ENOMEM, &oerr, res);
		goto out;
	}
	if (charge(r, t, arena, res))
		goto out;
	res->status = 200;
	if (batch.n_records == 0)
		goto out; /* nothing to store: the spec asks for success */
	spans.arena = arena;
	spans.tenant = batch.tenant;
	if (spans.n_spans) {
		model_normalise_batch(&spans, r->cfg.prices);
		sig.spans = &spans;
	}
	sig.logs = &batch;
	rc = pipeline_submit_signal(r->cfg.pipeline, t, &sig, done, arg);
	if (rc) {
		submit_failed(rc, res);
		goto out;
	}
	res->submitted = 1;
out:
	tl_arena_destroy(arena);
}

/* ---- gRPC handlers --------------------------------------------------------------- */

void receiver_export_metrics(void *arg, struct pipeline_ticket *t, const void *data, size_t len, const char *tenant,
			     store_done_fn done, void *done_arg, struct receiver_result *res)
{
	receiver_ingest_metrics(arg, t, data, len, 0, tenant, done, done_arg, res);
}

void receiver_export_logs(void *arg, struct pipeline_ticket *t, const void *data, size_t len, const char *tenant,
			  store_done_fn done, void *done_arg, struct receiver_result *res)
{
	receiver_ingest_logs(arg, t, data, len, 0, tenant, done, done_arg, res);
}
