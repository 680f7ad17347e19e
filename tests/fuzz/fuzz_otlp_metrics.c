/*
 * fuzz_otlp_metrics.c - libFuzzer target for the OTLP metrics decoders
 * (protobuf and JSON) and what consumes their output: the /metrics series
 * table and the usage extraction. Any input must decode or fail with a TL_E*
 * code and a message within a bounded arena; a decoded batch must hold the
 * decoder's promises (resource and scope set, point counts add up, histogram
 * buckets = bounds + 1 with increasing bounds), and ingesting and rendering it
 * must not crash (abort otherwise).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "metrics/metrics.h"
#include "otlp/otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_batch(const struct tl_metrics_batch *b)
{
	size_t pts = 0;
	for (size_t i = 0; i < b->n_metrics; i++) {
		const struct tl_metric *m = &b->metrics[i];
		if (!m->resource || !m->scope || (m->n_points && !m->points))
			abort();
		pts += m->n_points;
		for (uint32_t k = 0; m->type == TL_METRIC_HISTOGRAM && k < m->n_points; k++) {
			const struct tl_metric_point *p = &m->points[k];
			if ((p->n_bucket_counts || p->n_bounds) && p->n_bucket_counts != p->n_bounds + 1)
				abort();
			for (uint32_t j = 1; j < p->n_bounds; j++)
				if (!(p->bounds[j] > p->bounds[j - 1]))
					abort();
		}
	}
	if (pts != b->n_points)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otlp_limits lim = {32, 8u << 20};
	struct tl_arena *a = tl_arena_create(64 * 1024, 16u << 20);
	struct metrics *m = metrics_create(8);
	struct model_usage_state *st = model_usage_state_create(64);
	struct tl_buf out;
	tl_buf_init(&out, 0);
	if (!a || !st)
		abort();
	metrics_set_namespace(m, "fz");
	metrics_set_series_limit(m, 500);
	for (int json = 0; json <= 1; json++) {
		struct tl_metrics_batch b;
		struct otlp_error e;
		int rc = (json ? otlp_decode_metrics_json : otlp_decode_metrics_pb)(data, size, a, &lim, &b, &e);
		if (rc == 0) {
			struct tl_usage_fact *f;
			size_t n;
			check_batch(&b);
			metrics_ingest_otlp(m, &b, 1000);
			if (model_usage_from_metrics(&b, st, a, &f, &n))
				abort();
		} else if (rc > 0 || e.code != rc || !e.msg[0] || b.n_metrics != 0) {
			abort();
		}
		tl_arena_reset(a);
	}
	if (metrics_render_otlp(m, 2000, &out))
		abort();
	tl_buf_cleanup(&out);
	model_usage_state_destroy(st);
	metrics_destroy(m);
	tl_arena_destroy(a);
	return 0;
}
