/*
 * otlp_int.h - internals shared by the OTLP decoders (protobuf and JSON): the
 * decoding context with its memory ceiling, error messages that grow a path
 * ("resourceSpans[0].scopeSpans[1].spans[3].traceId: ...") as an error travels
 * up, and the defaults every decoded span starts from. Not part of the module API.
 */
#ifndef TL_OTLP_INT_H
#define TL_OTLP_INT_H

#include "otlp/otlp.h"

/* The default AnyValue nesting limit when the caller passes none (or 0), and a
 * hard cap so a huge configured limit cannot exhaust the C stack. */
#define OTLP__DEFAULT_DEPTH 32
#define OTLP__MAX_DEPTH 256

struct otlp__dec {
	struct tl_arena *arena;
	size_t arena_limit;  /* tl_arena_used() may not pass this; SIZE_MAX = none */
	uint32_t max_depth;
	int ext;             /* read the OTLP_EXT_* span fields */
	struct otlp_error *err;
};

/* Sets up d from the caller's arguments (lim may be NULL) and clears err. */
void otlp__dec_init(struct otlp__dec *d, struct tl_arena *arena, const struct otlp_limits *lim,
		    int ext, struct otlp_error *err);

/* n * size bytes from the arena, zeroed; NULL when over the ceiling or on
 * overflow. n == 0 also returns NULL, which is not an error: callers check n. */
void *otlp__alloc(struct otlp__dec *d, size_t n, size_t size);

/* Records an error whose message is the leaf of a path: fmt should start with the
 * field name ("traceId: must be 16 bytes") or with ':' when the error is about the
 * message itself. Returns code. */
int otlp__fail(struct otlp__dec *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepends one path component ("spans[3]") to the recorded error message. */
void otlp__prefix(struct otlp__dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Final touch on an error at the request level ("request: ..."). */
void otlp__finish_error(struct otlp__dec *d);

/* Allocates the batch arrays (all zeroed, span defaults applied, resource and scope
 * pointers left for the caller). Returns 0 or TL_ETOOBIG. */
int otlp__batch_alloc(struct otlp__dec *d, struct tl_batch *out, size_t n_res, size_t n_scopes, size_t n_spans);
/* Fills r->service from the first string attribute "service.name". */
void otlp__set_service(struct tl_resource *r);

/* UTF-8 check with an ASCII fast path. */
int otlp__utf8_ok(const uint8_t *p, size_t n);

#endif
