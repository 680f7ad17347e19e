/*
 * fuzz_otlp_pb.c - libFuzzer target for the OTLP protobuf trace decoder, plain and
 * with the store's extension fields. Any input must decode or fail with a TL_E*
 * code and a message, within a bounded arena; whatever decodes must survive an
 * encode/decode round trip unchanged (abort otherwise).
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
	if (!a)
		return 0;
	for (int ext = 0; ext <= 1; ext++) {
		struct tl_batch b;
		struct otlp_error e;
		int rc = (ext ? otlp_decode_traces_pb_ext : otlp_decode_traces_pb)(data, size, a, &lim, &b, &e);
		if (rc == 0) {
			if (fz_roundtrip(&b, ext) != 1)
				abort();
			for (size_t i = 0; i < b.n_spans; i++)
				if (!b.spans[i].resource || !b.spans[i].scope)
					abort();
		} else if (rc > 0 || e.code != rc || !e.msg[0] || b.n_spans != 0) {
			abort();
		}
		tl_arena_reset(a);
	}
	tl_arena_destroy(a);
	return 0;
}
