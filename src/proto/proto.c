/*
 * proto.c - protobuf wire reader and writer (see proto.h).
 */
#include "proto/proto.h"

#include <string.h>

int pb_read_varint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	int i;
	for (i = 0; i < 10; i++) {
		if (p + i >= end)
			return TL_ETRUNC;
		uint8_t c = p[i];
		/* The tenth byte may carry only the top bit of a 64-bit value. */
		if (i == 9 && (c & 0xfe))
			return TL_EVARINT;
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*out = v;
			return i + 1;
		}
	}
	return TL_EVARINT;
}

int pb_next(struct pb_reader *r, struct pb_field *f)
{
	uint64_t tag;
	int n;
	if (r->p >= r->end)
		return 0;
	n = pb_read_varint(r->p, r->end, &tag);
	if (n < 0)
		return n;
	r->p += n;
	if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
		return TL_EWIRE;
	f->num = (uint32_t)(tag >> 3);
	f->wire = (int)(tag & 7);
	f->data = NULL;
	f->len = 0;
	f->u64 = 0;
	switch (f->wire) {
	case PB_VARINT:
		n = pb_read_varint(r->p, r->end, &f->u64);
		if (n < 0)
			return n;
		r->p += n;
		return 1;
	case PB_I64:
		if (r->end - r->p < 8)
			return TL_ETRUNC;
		memcpy(&f->u64, r->p, 8); /* little-endian hosts only; checked in tests */
		r->p += 8;
		return 1;
	case PB_I32: {
		uint32_t v;
		if (r->end - r->p < 4)
			return TL_ETRUNC;
		memcpy(&v, r->p, 4);
		f->u64 = v;
		r->p += 4;
		return 1;
	}
	case PB_LEN: {
		uint64_t len;
		n = pb_read_varint(r->p, r->end, &len);
		if (n < 0)
			return n;
		r->p += n;
		if (len > (uint64_t)(r->end - r->p))
			return TL_ETRUNC;
		f->data = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 1;
	}
	default:
		return TL_EWIRE;
	}
}

/* Writes n bytes without the call into tl_buf_append when they fit (keeping
 * tl_buf's NUL terminator and its max). */
static inline int put_raw(struct tl_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len > n && b->max - b->len >= n) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = 0;
		return 0;
	}
	return tl_buf_append(b, p, n);
}

static inline int varint_enc(uint8_t *tmp, uint64_t v)
{
	int n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	return n;
}

static inline uint64_t tag_of(uint32_t field, int wire)
{
	return ((uint64_t)field << 3) | (uint64_t)wire;
}

int pb_put_varint(struct tl_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	return put_raw(b, tmp, (size_t)varint_enc(tmp, v));
}

int pb_put_tag(struct tl_buf *b, uint32_t field, int wire)
{
	return pb_put_varint(b, tag_of(field, wire));
}

int pb_put_uint(struct tl_buf *b, uint32_t field, uint64_t v)
{
	uint8_t tmp[20];
	int n;
	if (!v)
		return 0;
	n = varint_enc(tmp, tag_of(field, PB_VARINT));
	n += varint_enc(tmp + n, v);
	return put_raw(b, tmp, (size_t)n);
}

int pb_put_int64(struct tl_buf *b, uint32_t field, int64_t v)
{
	return pb_put_uint(b, field, (uint64_t)v);
}

int pb_put_bool(struct tl_buf *b, uint32_t field, int v)
{
	return pb_put_uint(b, field, v ? 1 : 0);
}

static int put_fixed(struct tl_buf *b, uint32_t field, int wire, const void *v, size_t len)
{
	uint8_t tmp[18];
	int n = varint_enc(tmp, tag_of(field, wire));
	memcpy(tmp + n, v, len);
	return put_raw(b, tmp, (size_t)n + len);
}

int pb_put_fixed64(struct tl_buf *b, uint32_t field, uint64_t v)
{
	if (!v)
		return 0;
	return put_fixed(b, field, PB_I64, &v, 8);
}

int pb_put_fixed32(struct tl_buf *b, uint32_t field, uint32_t v)
{
	if (!v)
		return 0;
	return put_fixed(b, field, PB_I32, &v, 4);
}

int pb_put_double(struct tl_buf *b, uint32_t field, double v)
{
	return put_fixed(b, field, PB_I64, &v, 8);
}

int pb_put_bytes_always(struct tl_buf *b, uint32_t field, const void *p, size_t n)
{
	uint8_t hdr[20];
	int rc, h = varint_enc(hdr, tag_of(field, PB_LEN));
	h += varint_enc(hdr + h, n);
	if ((rc = tl_buf_reserve(b, (size_t)h + n)))
		return rc;
	memcpy(b->data + b->len, hdr, (size_t)h);
	if (n)
		memcpy(b->data + b->len + h, p, n);
	b->len += (size_t)h + n;
	b->data[b->len] = 0;
	return 0;
}

int pb_put_bytes(struct tl_buf *b, uint32_t field, const void *p, size_t n)
{
	if (!n)
		return 0;
	return pb_put_bytes_always(b, field, p, n);
}

/*
 * Nested messages reserve two bytes for the length, which fit every payload
 * from 128 bytes to 16 KB (a span, the spans of one scope): those are never
 * moved. A payload under 128 bytes (a key-value) moves down one byte, a bigger
 * one than 16 KB moves up; so a byte is moved at most about once instead of
 * once per nesting level.
 */
#define PB_LEN_RESERVE 2

int pb_begin(struct tl_buf *b, uint32_t field, size_t *mark)
{
	uint8_t tmp[10 + PB_LEN_RESERVE];
	int rc, n = varint_enc(tmp, tag_of(field, PB_LEN));
	if ((rc = tl_buf_reserve(b, (size_t)n + PB_LEN_RESERVE)))
		return rc;
	memcpy(b->data + b->len, tmp, (size_t)n);
	b->len += (size_t)n;
	*mark = b->len;
	b->len += PB_LEN_RESERVE;
	b->data[b->len] = 0;
	return 0;
}

int pb_end(struct tl_buf *b, size_t mark)
{
	size_t payload = b->len - mark - PB_LEN_RESERVE;
	uint8_t tmp[10];
	int n = varint_enc(tmp, payload), rc;
	if (n > 5)
		return TL_ETOOBIG;
	if (n > PB_LEN_RESERVE) {
		size_t up = (size_t)n - PB_LEN_RESERVE;
		if ((rc = tl_buf_reserve(b, up)))
			return rc;
		memmove(b->data + mark + n, b->data + mark + PB_LEN_RESERVE, payload);
		b->len += up;
	} else if (n < PB_LEN_RESERVE) {
		memmove(b->data + mark + n, b->data + mark + PB_LEN_RESERVE, payload);
		b->len -= (size_t)(PB_LEN_RESERVE - n);
	}
	memcpy(b->data + mark, tmp, (size_t)n);
	b->data[b->len] = 0;
	return 0;
}
