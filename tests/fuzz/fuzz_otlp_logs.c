/*
 * fuzz_otlp_logs.c - libFuzzer target for the OTLP logs decoders (protobuf and
 * JSON) and the log helpers. Any input must decode or fail with a TL_E* code
 * and a message within a bounded arena; a decoded record must have its
 * resource and scope, ids that are zero when marked absent, and an event name
 * that lies inside the record (abort otherwise).
 */
#include <stdint.h>
#include <stdlib.h>

#include "otlp/otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otlp_limits lim = {32, 8u << 20};
	struct tl_arena *a = tl_arena_create(64 * 1024, 16u << 20);
	if (!a)
		return 0;
	for (int json = 0; json <= 1; json++) {
		struct tl_logs_batch b;
		struct otlp_error e;
		int rc = (json ? otlp_decode_logs_json : otlp_decode_logs_pb)(data, size, a, &lim, &b, &e);
		if (rc == 0) {
			for (size_t i = 0; i < b.n_records; i++) {
				const struct tl_log_record *r = &b.records[i];
				struct tl_str ev = model_log_event_name(r);
				if (!r->resource || !r->scope)
					abort();
				if ((!r->has_trace_id && !tl_is_zero(r->trace_id, 16)) ||
				    (!r->has_span_id && !tl_is_zero(r->span_id, 8)))
					abort();
				if (ev.n > 0 && !ev.p)
					abort();
				if (model_log_time(r) == 0 && (r->time_unix_nano || r->observed_time_unix_nano))
					abort();
			}
		} else if (rc > 0 || e.code != rc || !e.msg[0] || b.n_records != 0) {
			abort();
		}
		tl_arena_reset(a);
	}
	tl_arena_destroy(a);
	return 0;
}
