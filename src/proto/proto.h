/*
 * proto.h - protobuf wire format: a zero-copy reader over a byte range and a
 * writer into a tl_buf. No allocation in the reader, no generated code, no I/O.
 */
#ifndef TL_PROTO_H
#define TL_PROTO_H

#include "core/core.h"

enum pb_wire { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_SGROUP = 3, PB_EGROUP = 4, PB_I32 = 5 };

/* A cursor over a protobuf message. Borrows the bytes. */
struct pb_reader {
	const uint8_t *p;
	const uint8_t *end;
};

/* One field as read by pb_next. For PB_LEN, (data, len) borrow the payload. */
struct pb_field {
	uint32_t num;
	int wire;
	uint64_t u64;        /* PB_VARINT value, PB_I64 / PB_I32 raw bits */
	const uint8_t *data; /* PB_LEN payload */
	size_t len;
};

static inline void pb_reader_init(struct pb_reader *r, const void *p, size_t n)
{
	/* An empty message may come as (NULL, 0): no pointer arithmetic on NULL. */
	r->p = (const uint8_t *)p;
	r->end = p ? r->p + n : r->p;
}

/*
 * Reads the next field. Returns 1 when a field was read, 0 at the clean end of the
 * message, or a negative TL_E* (TL_ETRUNC, TL_EVARINT, TL_EWIRE) on bad input.
 * Groups (wire types 3/4) and field number 0 are rejected as TL_EWIRE.
 */
int pb_next(struct pb_reader *r, struct pb_field *f);

/* Reads a varint at *p (not past end); returns bytes used or TL_ETRUNC/TL_EVARINT. */
int pb_read_varint(const uint8_t *p, const uint8_t *end, uint64_t *out);

static inline double pb_as_double(uint64_t bits)
{
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

static inline int64_t pb_zigzag_decode(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- writer ---------------------------------------------------------------- */

/* All writers append to b and return 0 or TL_ETOOBIG/TL_ENOMEM. */
int pb_put_varint(struct tl_buf *b, uint64_t v);
int pb_put_tag(struct tl_buf *b, uint32_t field, int wire);
int pb_put_uint(struct tl_buf *b, uint32_t field, uint64_t v);   /* skips 0 */
int pb_put_int64(struct tl_buf *b, uint32_t field, int64_t v);   /* skips 0 */
int pb_put_bool(struct tl_buf *b, uint32_t field, int v);        /* skips false */
int pb_put_fixed64(struct tl_buf *b, uint32_t field, uint64_t v); /* skips 0 */
int pb_put_fixed32(struct tl_buf *b, uint32_t field, uint32_t v); /* skips 0 */
int pb_put_double(struct tl_buf *b, uint32_t field, double v);   /* always written */
int pb_put_bytes(struct tl_buf *b, uint32_t field, const void *p, size_t n); /* skips empty */
int pb_put_bytes_always(struct tl_buf *b, uint32_t field, const void *p, size_t n);

/*
 * Nested messages: pb_begin reserves room for the length and returns
 * a mark; pb_end writes the length and moves the payload down if the varint is
 * shorter than the reserve. Marks nest naturally.
 */
int pb_begin(struct tl_buf *b, uint32_t field, size_t *mark);
int pb_end(struct tl_buf *b, size_t mark);

#endif
