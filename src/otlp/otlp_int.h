/*
 * otlp_int.h - internals shared by the OTLP decoders (protobuf and JSON): the
 * decoding context with its memory ceiling, error messages that grow a path
 * ("resourceSpans[0].scopeSpans[1].spans[3].traceId: ...") as an error travels
 * up, and the defaults every decoded span starts from. Not part of the module API.
 */
#ifndef TL_OTLP_INT_H
#define TL_OTLP_INT_H

#include "otlp/otlp.h"
#include "proto/proto.h"

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

/* ---- protobuf helpers shared by the signal decoders (decode_pb.c) ---------- */

/* pb_next with an inlined fast path for the common shapes (a one-byte tag and a
 * one-byte varint or length); anything else, errors included, goes to pb_next. */
static inline int otlp__pb_next(struct pb_reader *r, struct pb_field *f)
{
	const uint8_t *p = r->p;
	if (p >= r->end)
		return 0;
	if (r->end - p >= 9 && p[0] >= 8 && p[0] < 0x80 && (p[0] & 7) == PB_I64) {
		f->num = p[0] >> 3;
		f->wire = PB_I64;
		memcpy(&f->u64, p + 1, 8); /* little-endian hosts, as in proto.c */
		f->data = NULL;
		f->len = 0;
		r->p = p + 9;
		return 1;
	}
	if (r->end - p >= 2 && p[0] >= 8 && p[0] < 0x80 && p[1] < 0x80) {
		int wire = p[0] & 7;
		if (wire == PB_LEN && (size_t)p[1] <= (size_t)(r->end - p - 2)) {
			f->num = p[0] >> 3;
			f->wire = PB_LEN;
			f->u64 = 0;
			f->data = p + 2;
			f->len = p[1];
			r->p = p + 2 + p[1];
			return 1;
		}
		if (wire == PB_VARINT) {
			f->num = p[0] >> 3;
			f->wire = PB_VARINT;
			f->u64 = p[1];
			f->data = NULL;
			f->len = 0;
			r->p = p + 2;
			return 1;
		}
	}
	return pb_next(r, f);
}

/* Error helpers: a wire-format error rc (": <strerror>"), a field with the wrong
 * wire type, and the arena ceiling. Each records the error and returns its code. */
int otlp__pb_fail(struct otlp__dec *d, int rc);
int otlp__pb_wire_fail(struct otlp__dec *d, const char *name, int wire);
int otlp__pb_oom(struct otlp__dec *d);
/* A string field (LEN, valid UTF-8), borrowed from the input. */
int otlp__pb_str(struct otlp__dec *d, const struct pb_field *f, const char *name, struct tl_str *out);
/* Counts the LEN fields numbered a, b and c of a message (0 = none) into out;
 * stops quietly at bad input (the real pass reports it). */
void otlp__pb_count(const uint8_t *p, size_t n, uint32_t a, uint32_t b, uint32_t c, size_t out[3]);
/* An AnyValue message; depth = arrays/kvlists enclosing it. */
int otlp__pb_value(struct otlp__dec *d, const uint8_t *p, size_t n, uint32_t depth, struct tl_value *v);
/* Sizes a->items for cap KeyValues (n = 0). */
int otlp__pb_attrs_alloc(struct otlp__dec *d, struct tl_attrs *a, size_t cap);
/* Adds the KeyValue in field f to a (sized by otlp__pb_attrs_alloc for cap items);
 * *seen counts occurrences for the error path ("attributes[3]"). */
int otlp__pb_add_kv(struct otlp__dec *d, const struct pb_field *f, const char *name, size_t cap, struct tl_attrs *a,
		    size_t *seen);
/* Resource (fills service) and InstrumentationScope messages. */
int otlp__pb_resource(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_resource *res);
int otlp__pb_scope(struct otlp__dec *d, const uint8_t *p, size_t n, struct tl_scope *sc);

/* ---- JSON helpers shared by the signal decoders (decode_json.c) ------------ */

/* jansson's json_t (a typedef of this struct tag), kept out of this header. */
struct json_t;

/* obj[key] unless absent or null. */
const struct json_t *otlp__js_get(const struct json_t *obj, const char *key);
/* Records "<name>: expected <what>" (TL_EJSON). */
int otlp__js_type_fail(struct otlp__dec *d, const char *name, const char *what);
/* Optional fields of obj, copied into the arena / range-checked; absent leaves
 * *out untouched. */
int otlp__js_str(struct otlp__dec *d, const struct json_t *obj, const char *key, struct tl_str *out);
int otlp__js_u64(struct otlp__dec *d, const struct json_t *obj, const char *key, uint64_t max, uint64_t *out);
int otlp__js_u32(struct otlp__dec *d, const struct json_t *obj, const char *key, uint32_t *out);
int otlp__js_enum(struct otlp__dec *d, const struct json_t *obj, const char *key, const char *const *names,
		  size_t n_names, int *out);
/* A JSON value as an unsigned integer (number or decimal string) up to max, a
 * signed 64-bit integer, or a double (number, "NaN", "Infinity", "-Infinity"). */
int otlp__js_num_u64(struct otlp__dec *d, const struct json_t *v, const char *name, uint64_t max, uint64_t *out);
int otlp__js_num_i64(struct otlp__dec *d, const struct json_t *v, const char *name, int64_t *out);
int otlp__js_num_double(struct otlp__dec *d, const struct json_t *v, const char *name, double *out);
/* A hex id of n bytes at obj[key]; *len = decoded length (0 when absent or ""). */
int otlp__js_id(struct otlp__dec *d, const struct json_t *obj, const char *key, uint8_t *out, size_t n, size_t *len);
/* An AnyValue object. */
int otlp__js_value(struct otlp__dec *d, const struct json_t *v, uint32_t depth, struct tl_value *out);
/* KeyValues at obj[key] (plus droppedAttributesCount of obj) into a. */
int otlp__js_attrs(struct otlp__dec *d, const struct json_t *obj, const char *key, struct tl_attrs *a);
/* Resource (fills service) and InstrumentationScope objects. */
int otlp__js_resource(struct otlp__dec *d, const struct json_t *v, struct tl_resource *res);
int otlp__js_scope(struct otlp__dec *d, const struct json_t *v, struct tl_scope *sc);
/* Parses the request body; NULL with the error recorded on bad JSON or a root
 * that is not an object. Returns owned (free with json_decref). */
struct json_t *otlp__js_load(struct otlp__dec *d, const void *data, size_t len);

/* ---- the request envelope shared by the signals (envelope.c) --------------- */

/*
 * Export<X>ServiceRequest { repeated Resource<X> = 1 { resource = 1, repeated
 * Scope<X> = 2 { scope = 1, repeated <item> = 2, schemaUrl = 3 }, schemaUrl = 3 } }
 * in both encodings. The caller counts (prescan), allocates the arrays, fills
 * this in and walks; the walk fills resources and scopes and hands each item to
 * the signal's callback with its slot index (0 .. cap[2]-1).
 */
struct otlp__env {
	const char *names[3];          /* "resourceSpans", "scopeSpans", "spans" */
	struct tl_resource *resources; /* cap[0] slots */
	struct tl_scope *scopes;       /* cap[1] slots */
	size_t cap[3];                 /* resources, scopes, items allocated */
	size_t used[3];                /* ... filled so far (start at 0) */
	/* Decodes one item into slot, setting its resource and scope. */
	int (*pb_item)(struct otlp__dec *d, const uint8_t *p, size_t n, size_t slot, const struct tl_resource *res,
		       const struct tl_scope *sc, void *ctx);
	int (*js_item)(struct otlp__dec *d, const struct json_t *v, size_t slot, const struct tl_resource *res,
		       const struct tl_scope *sc, void *ctx);
	void *ctx;
};

/* Allocates the signal's batch arrays for cnt[3] (resources, scopes, items) and
 * points env->resources, env->scopes and env->cap at them. Returns 0 or an error
 * code (recorded). */
typedef int (*otlp__env_alloc_fn)(struct otlp__dec *d, struct otlp__env *env, const size_t cnt[3]);

/* A whole request, either encoding: checks/parses data, counts, calls alloc and
 * walks. Errors are recorded with their path; the caller finishes them. */
int otlp__pb_request(struct otlp__dec *d, const void *data, size_t len, struct otlp__env *env,
		     otlp__env_alloc_fn alloc);
int otlp__js_request(struct otlp__dec *d, const void *data, size_t len, struct otlp__env *env,
		     otlp__env_alloc_fn alloc);

/* Allocates a batch's arrays for cnt (resources, scopes, items of item_size
 * bytes) into env and *items (NULL where not allocated; env->cap = cnt).
 * TL_ETOOBIG ("... (<cnt[2]> <what>)") when over the ceiling. */
int otlp__env_arrays(struct otlp__dec *d, struct otlp__env *env, const size_t cnt[3], size_t item_size,
		     const char *what, void **items);
/* Ends a decode: on error finishes the message and zeroes the counts, else
 * stores the filled counts (env->used). */
void otlp__env_finish(struct otlp__dec *d, int rc, const struct otlp__env *env, size_t *n_res, size_t *n_scopes,
		      size_t *n_items);

/* A trace request into out (otlp_decode_traces_*): proto names the envelope and
 * sets pb_item (protobuf) or js_item (JSON); its ctx is replaced by out. */
int otlp__decode_traces(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim, int ext,
			const struct otlp__env *proto, struct tl_batch *out, struct otlp_error *err);

/* Counts resources, scopes and items of a protobuf request into out; stops
 * quietly at bad input (the walk reports it). */
void otlp__pb_prescan(const uint8_t *p, size_t n, size_t out[3]);
/* Walks a protobuf request; errors are recorded with their path. */
int otlp__pb_envelope(struct otlp__dec *d, const uint8_t *p, size_t n, struct otlp__env *env);
/* Finds root[names[0]] (*top; NULL when absent) and counts into out; TL_EJSON
 * when it is not an array. Nested type errors are left to the walk. */
int otlp__js_prescan(struct otlp__dec *d, const struct json_t *root, const char *const names[3],
		     const struct json_t **top, size_t out[3]);
/* Walks the resource array top (may be NULL). */
int otlp__js_envelope(struct otlp__dec *d, const struct json_t *top, struct otlp__env *env);

#endif
