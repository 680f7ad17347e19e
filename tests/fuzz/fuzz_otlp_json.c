/*
 * fuzz_otlp_json.c - libFuzzer target for the OTLP/JSON trace decoder. Any input
 * must decode or fail with a TL_E* code and a message, within a bounded arena;
 * whatever decodes must encode to protobuf and decode back unchanged (abort
 * otherwise).
 */
#include <stdint.h>
#include <stdlib.h>

#include "otlp/otlp.h"
#include "fuzz_otlp_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otlp_limits lim = {32, 8u << 20};
	struct tl_arena *a = tl_arena_create(64 * 1024, 16u << 20);
	struct tl_batch b;
	struct otlp_error e;
	int rc;
	if (!a)
		return 0;
	rc = otlp_decode_traces_json(data, size, a, &lim, &b, &e);
	if (rc == 0) {
		if (fz_roundtrip(&b, 0) != 1)
			abort();
	} else if (rc > 0 || e.code != rc || !e.msg[0] || b.n_spans != 0) {
		abort();
	}
	tl_arena_destroy(a);
	return 0;
}
