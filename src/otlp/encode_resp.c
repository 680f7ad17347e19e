/*
 * encode_resp.c - the OTLP metrics and logs export responses (protocols.md 2.2:
 * ExportMetricsServiceResponse / ExportLogsServiceResponse with their partial
 * success), in protobuf and OTLP/JSON. Nothing is written for full success in
 * protobuf (an empty message) and "{}" in JSON, like the trace response.
 */
#include "otlp/otlp.h"
#include "proto/proto.h"

#include <inttypes.h>
#include <string.h>

/* Both partial-success messages are {1: int64 rejected, 2: string message},
 * the same bytes as the trace response's. */
static int resp_pb(struct tl_buf *b, int64_t rejected, const char *msg)
{
	size_t m;
	int rc;
	if (rejected <= 0 && (!msg || !*msg))
		return 0;
	if ((rc = pb_begin(b, 1, &m)) || (rc = pb_put_int64(b, 1, rejected > 0 ? rejected : 0)) ||
	    (rc = pb_put_bytes(b, 2, msg, msg ? strlen(msg) : 0)))
		return rc;
	return pb_end(b, m);
}

/* A JSON string literal: quotes, backslashes and control characters escaped;
 * other bytes copied (callers pass UTF-8). */
static int put_json_string(struct tl_buf *b, const char *s)
{
	int rc = tl_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); !rc && *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			rc = tl_buf_append(b, e, 2);
		} else if (*p < 0x20) {
			rc = tl_buf_printf(b, "\\u%04x", *p);
		} else {
			rc = tl_buf_putc(b, (char)*p);
		}
	}
	return rc ? rc : tl_buf_putc(b, '"');
}

static int resp_json(struct tl_buf *b, const char *key, int64_t rejected, const char *msg)
{
	int rc;
	if (rejected <= 0 && (!msg || !*msg))
		return tl_buf_puts(b, "{}");
	if ((rc = tl_buf_printf(b, "{\"partialSuccess\":{\"%s\":\"%" PRId64 "\",\"errorMessage\":", key,
				rejected > 0 ? rejected : 0)) ||
	    (rc = put_json_string(b, msg)))
		return rc;
	return tl_buf_puts(b, "}}");
}

int otlp_encode_metrics_response_pb(struct tl_buf *b, int64_t rejected, const char *msg)
{
	return resp_pb(b, rejected, msg);
}

int otlp_encode_metrics_response_json(struct tl_buf *b, int64_t rejected, const char *msg)
{
	return resp_json(b, "rejectedDataPoints", rejected, msg);
}

int otlp_encode_logs_response_pb(struct tl_buf *b, int64_t rejected, const char *msg)
{
	return resp_pb(b, rejected, msg);
}

int otlp_encode_logs_response_json(struct tl_buf *b, int64_t rejected, const char *msg)
{
	return resp_json(b, "rejectedLogRecords", rejected, msg);
}
