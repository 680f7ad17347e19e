/*
 * encode_metrics.c - the one metrics payload tracelamp writes: an
 * ExportMetricsServiceRequest with a gen_ai.client.token.usage histogram
 * (protocols.md 2.2 message tables, 2.3 path, 3.8 conventions). Used by
 * `tracelamp verify` to check that an endpoint accepts GenAI metrics. Pure.
 */
#include "otlp/otlp.h"
#include "proto/proto.h"

#include <string.h>

/* gen_ai.client.token.usage recommended explicit bucket bounds (3.8). */
static const double token_bounds[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
				      4194304, 16777216, 67108864};
#define N_BOUNDS (sizeof token_bounds / sizeof token_bounds[0])

/* KeyValue{key=1, value=2 AnyValue{string_value=1}} as field f. */
static int put_str_kv(struct tl_buf *b, uint32_t f, const char *key, const char *val)
{
	size_t m, mv;
	int rc;
	if ((rc = pb_begin(b, f, &m)) || (rc = pb_put_bytes(b, 1, key, strlen(key))) || (rc = pb_begin(b, 2, &mv)) ||
	    (rc = pb_put_bytes_always(b, 1, val, strlen(val))) || (rc = pb_end(b, mv)))
		return rc;
	return pb_end(b, m);
}

static int put_le64(struct tl_buf *b, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	return tl_buf_append(b, x, 8);
}

/* HistogramDataPoint (field 1 of Histogram) for one observation. */
static int put_point(struct tl_buf *b, const struct otlp_token_usage *u, const char *type, int64_t tokens,
		     uint64_t start, uint64_t time)
{
	size_t m, mc, mb;
	double v = (double)tokens;
	int rc;

	if ((rc = pb_begin(b, 1, &m)) || (rc = put_str_kv(b, 9, "gen_ai.operation.name", u->operation)) ||
	    (rc = put_str_kv(b, 9, "gen_ai.provider.name", u->provider)) ||
	    (rc = put_str_kv(b, 9, "gen_ai.token.type", type)))
		return rc;
	if (u->request_model && (rc = put_str_kv(b, 9, "gen_ai.request.model", u->request_model)))
		return rc;
	if (u->response_model && (rc = put_str_kv(b, 9, "gen_ai.response.model", u->response_model)))
		return rc;
	if ((rc = pb_put_fixed64(b, 2, start)) || (rc = pb_put_fixed64(b, 3, time)) ||
	    (rc = pb_put_fixed64(b, 4, 1)) || (rc = pb_put_double(b, 5, v)))
		return rc;
	/* bucket i covers (bounds[i-1], bounds[i]]; the last one is open-ended */
	size_t bucket = N_BOUNDS;
	for (size_t i = 0; i < N_BOUNDS; i++) {
		if (v <= token_bounds[i]) {
			bucket = i;
			break;
		}
	}
	if ((rc = pb_begin(b, 6, &mc)))
		return rc;
	for (size_t i = 0; i <= N_BOUNDS; i++)
		if ((rc = put_le64(b, i == bucket ? 1 : 0)))
			return rc;
	if ((rc = pb_end(b, mc)) || (rc = pb_begin(b, 7, &mb)))
		return rc;
	for (size_t i = 0; i < N_BOUNDS; i++) {
		uint64_t bits;
		memcpy(&bits, &token_bounds[i], 8);
		if ((rc = put_le64(b, bits)))
			return rc;
	}
	if ((rc = pb_end(b, mb)) || (rc = pb_put_double(b, 11, v)) || (rc = pb_put_double(b, 12, v)))
		return rc;
	return pb_end(b, m);
}

int otlp_encode_token_usage_metrics(struct tl_buf *b, const char *service, const char *scope,
				    const struct otlp_token_usage *calls, size_t n, uint64_t start_unix_nano,
				    uint64_t time_unix_nano)
{
	size_t m_rm, m_res, m_sm, m_scope, m_metric, m_hist;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (!calls[i].operation || !calls[i].provider) {
			rc = TL_EINVAL;
			goto out;
		}
	}
	/* ResourceMetrics(1) { Resource(1) { attributes(1) }, ScopeMetrics(2) { scope(1), Metric(2) } } */
	if ((rc = pb_begin(b, 1, &m_rm)) || (rc = pb_begin(b, 1, &m_res)))
		goto out;
	if (service && (rc = put_str_kv(b, 1, "service.name", service)))
		goto out;
	if ((rc = pb_end(b, m_res)) || (rc = pb_begin(b, 2, &m_sm)) || (rc = pb_begin(b, 1, &m_scope)) ||
	    (rc = pb_put_bytes(b, 1, scope ? scope : "", scope ? strlen(scope) : 0)) || (rc = pb_end(b, m_scope)))
		goto out;
	if ((rc = pb_begin(b, 2, &m_metric)) ||
	    (rc = pb_put_bytes(b, 1, "gen_ai.client.token.usage", strlen("gen_ai.client.token.usage"))) ||
	    (rc = pb_put_bytes(b, 2, "Number of input and output tokens used",
			       strlen("Number of input and output tokens used"))) ||
	    (rc = pb_put_bytes(b, 3, "{token}", 7)) || (rc = pb_begin(b, 9, &m_hist)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct otlp_token_usage *u = &calls[i];
		if (u->input_tokens >= 0 &&
		    (rc = put_point(b, u, "input", u->input_tokens, start_unix_nano, time_unix_nano)))
			goto out;
		if (u->output_tokens >= 0 &&
		    (rc = put_point(b, u, "output", u->output_tokens, start_unix_nano, time_unix_nano)))
			goto out;
	}
	/* aggregation_temporality = CUMULATIVE (2) */
	if ((rc = pb_put_uint(b, 2, 2)) || (rc = pb_end(b, m_hist)) || (rc = pb_end(b, m_metric)) ||
	    (rc = pb_end(b, m_sm)) || (rc = pb_end(b, m_rm)))
		goto out;
out:
	return rc;
}
