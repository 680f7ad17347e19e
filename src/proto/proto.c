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

int pb_put_varint(struct tl_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	int n = 0;
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		tmp[n++] = c | (v ? 0x80 : 0);
	} while (v);
	return tl_buf_append(b, tmp, (size_t)n);
}

int pb_put_tag(struct tl_buf *b, uint32_t field, int wire)
{
	return pb_put_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

int pb_put_uint(struct tl_buf *b, uint32_t field, uint64_t v)
{
	int rc;
	if (!v)
		return 0;
	if ((rc = pb_put_tag(b, field, PB_VARINT)))
		return rc;
	return pb_put_varint(b, v);
}

int pb_put_int64(struct tl_buf *b, uint32_t field, int64_t v)
{
	return pb_put_uint(b, field, (uint64_t)v);
}

int pb_put_bool(struct tl_buf *b, uint32_t field, int v)
{
	return pb_put_uint(b, field, v ? 1 : 0);
}

int pb_put_fixed64(struct tl_buf *b, uint32_t field, uint64_t v)
{
	int rc;
	if (!v)
		return 0;
	if ((rc = pb_put_tag(b, field, PB_I64)))
		return rc;
	return tl_buf_append(b, &v, 8);
}

int pb_put_fixed32(struct tl_buf *b, uint32_t field, uint32_t v)
{
	int rc;
	if (!v)
		return 0;
	if ((rc = pb_put_tag(b, field, PB_I32)))
		return rc;
	return tl_buf_append(b, &v, 4);
}

int pb_put_double(struct tl_buf *b, uint32_t field, double v)
{
	int rc;
	if ((rc = pb_put_tag(b, field, PB_I64)))
		return rc;
	return tl_buf_append(b, &v, 8);
}

int pb_put_bytes_always(struct tl_buf *b, uint32_t field, const void *p, size_t n)
{
	int rc;
	if ((rc = pb_put_tag(b, field, PB_LEN)) || (rc = pb_put_varint(b, n)))
		return rc;
	return n ? tl_buf_append(b, p, n) : 0;
}

int pb_put_bytes(struct tl_buf *b, uint32_t field, const void *p, size_t n)
{
	if (!n)
		return 0;
	return pb_put_bytes_always(b, field, p, n);
}

int pb_begin(struct tl_buf *b, uint32_t field, size_t *mark)
{
	int rc;
	if ((rc = pb_put_tag(b, field, PB_LEN)) || (rc = tl_buf_reserve(b, 5)))
		return rc;
	*mark = b->len;
	b->len += 5;
	return 0;
}

int pb_end(struct tl_buf *b, size_t mark)
{
	size_t payload = b->len - mark - 5;
	uint8_t tmp[10];
	int n = 0;
	uint64_t v = payload;
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		tmp[n++] = c | (v ? 0x80 : 0);
	} while (v);
	if (n > 5)
		return TL_ETOOBIG;
	memcpy(b->data + mark, tmp, (size_t)n);
	if (n < 5) {
		memmove(b->data + mark + n, b->data + mark + 5, payload);
		b->len -= (size_t)(5 - n);
	}
	return 0;
}
