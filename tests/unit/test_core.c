/*
 * test_core.c - unit tests for src/core (arena, buffers, hex, parsing, UTF-8)
 * and src/proto (varints, fields, nested writer).
 */
#include "core/core.h"
#include "proto/proto.h"
#include "tl_test.h"

#include <math.h>

TEST(arena_ceiling)
{
	struct tl_arena *a = tl_arena_create(1024, 4096);
	CHECK(a != NULL);
	void *p = tl_arena_alloc(a, 1000);
	CHECK(p != NULL);
	CHECK(((uintptr_t)p & 7) == 0);
	CHECK(tl_arena_alloc(a, 3000) != NULL);
	CHECK(tl_arena_alloc(a, 200) == NULL); /* 1000+3000+200 > 4096 */
	CHECK(tl_arena_used(a) == 4000);
	tl_arena_reset(a);
	CHECK_EQ_INT(tl_arena_used(a), 0);
	char *s = tl_arena_strndup(a, "abc\0def", 7);
	CHECK(s && memcmp(s, "abc\0def", 8) == 0);
	tl_arena_destroy(a);
	tl_arena_destroy(NULL);
}

TEST(buf_max)
{
	struct tl_buf b;
	tl_buf_init(&b, 10);
	CHECK_EQ_INT(tl_buf_puts(&b, "hello"), 0);
	CHECK_EQ_INT(tl_buf_printf(&b, "%d", 12345), 0);
	CHECK_EQ_INT(b.len, 10);
	CHECK_EQ_STR(b.data, "hello12345");
	CHECK_EQ_INT(tl_buf_putc(&b, 'x'), TL_ETOOBIG);
	tl_buf_cleanup(&b);
	tl_buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		tl_buf_printf(&b, "%04d", i);
	CHECK_EQ_INT(b.len, 4000);
	CHECK(memcmp(b.data + 3996, "0999", 4) == 0);
	tl_buf_cleanup(&b);
}

TEST(hex)
{
	uint8_t id[4] = {0xde, 0xad, 0x00, 0x0f}, back[4];
	char s[9];
	tl_hex_encode(id, 4, s);
	CHECK_EQ_STR(s, "dead000f");
	CHECK_EQ_INT(tl_hex_decode("DEAD000F", 8, back, 4), 0);
	CHECK(memcmp(id, back, 4) == 0);
	CHECK_EQ_INT(tl_hex_decode("dead000", 7, back, 4), TL_EINVAL);
	CHECK_EQ_INT(tl_hex_decode("dead00xg", 8, back, 4), TL_EINVAL);
	CHECK(tl_is_zero((const uint8_t *)"\0\0\0", 3));
	CHECK(!tl_is_zero(id, 4));
}

TEST(parse_numbers)
{
	int64_t i;
	uint64_t u;
	double d;
	CHECK_EQ_INT(tl_parse_i64("-9223372036854775808", 20, &i), 0);
	CHECK(i == INT64_MIN);
	CHECK_EQ_INT(tl_parse_i64("9223372036854775808", 19, &i), TL_EINVAL);
	CHECK_EQ_INT(tl_parse_u64("18446744073709551615", 20, &u), 0);
	CHECK(u == UINT64_MAX);
	CHECK_EQ_INT(tl_parse_u64("18446744073709551616", 20, &u), TL_EINVAL);
	CHECK_EQ_INT(tl_parse_u64("12a", 3, &u), TL_EINVAL);
	CHECK_EQ_INT(tl_parse_u64("", 0, &u), TL_EINVAL);
	CHECK_EQ_INT(tl_parse_double("1.5e3", 5, &d), 0);
	CHECK(d == 1500.0);
	CHECK_EQ_INT(tl_parse_double("1.5x", 4, &d), TL_EINVAL);
}

TEST(parse_size_duration)
{
	uint64_t v;
	CHECK_EQ_INT(tl_parse_size("16MiB", &v), 0);
	CHECK(v == 16u * 1024 * 1024);
	CHECK_EQ_INT(tl_parse_size("10GiB", &v), 0);
	CHECK(v == 10ull * 1024 * 1024 * 1024);
	CHECK_EQ_INT(tl_parse_size("64KB", &v), 0);
	CHECK(v == 64000);
	CHECK_EQ_INT(tl_parse_size("1024", &v), 0);
	CHECK(v == 1024);
	CHECK_EQ_INT(tl_parse_size("lots", &v), TL_EINVAL);
	CHECK_EQ_INT(tl_parse_size("12XB", &v), TL_EINVAL);
	CHECK_EQ_INT(tl_parse_duration("72h", &v), 0);
	CHECK(v == 72ull * 3600 * 1000000000ull);
	CHECK_EQ_INT(tl_parse_duration("500ms", &v), 0);
	CHECK(v == 500000000ull);
	CHECK_EQ_INT(tl_parse_duration("7d", &v), 0);
	CHECK_EQ_INT(tl_parse_duration("7 days", &v), TL_EINVAL);
	CHECK_EQ_INT(tl_parse_duration("h", &v), TL_EINVAL);
}

TEST(utf8)
{
	static const struct {
		const char *s;
		size_t n;
		int ok;
	} v[] = {
	    {"plain", 5, 1},
	    {"h\xc3\xa9llo", 6, 1},
	    {"\xe4\xb8\x96\xe7\x95\x8c", 6, 1},
	    {"\xf0\x9f\x9a\x80", 4, 1},
	    {"a\0b", 3, 1},
	    {"\xc3", 1, 0},             /* truncated */
	    {"\xc0\xaf", 2, 0},         /* overlong */
	    {"\xed\xa0\x80", 3, 0},     /* surrogate */
	    {"\xf4\x90\x80\x80", 4, 0}, /* > U+10FFFF */
	    {"\xff", 1, 0},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		CHECK_EQ_INT(tl_utf8_valid(v[i].s, v[i].n), v[i].ok);
}

TEST(varint_roundtrip)
{
	static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, (uint64_t)-1, (uint64_t)INT64_MIN, 1ull << 35};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		struct tl_buf b;
		uint64_t out;
		tl_buf_init(&b, 0);
		CHECK_EQ_INT(pb_put_varint(&b, vals[i]), 0);
		int n = pb_read_varint((const uint8_t *)b.data, (const uint8_t *)b.data + b.len, &out);
		CHECK_EQ_INT(n, (long long)b.len);
		CHECK(out == vals[i]);
		/* Every strict prefix is truncated, never a value. */
		for (size_t k = 0; k < b.len; k++)
			CHECK_EQ_INT(pb_read_varint((const uint8_t *)b.data, (const uint8_t *)b.data + k, &out), TL_ETRUNC);
		tl_buf_cleanup(&b);
	}
	static const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	uint64_t out;
	CHECK_EQ_INT(pb_read_varint(eleven, eleven + sizeof eleven, &out), TL_EVARINT);
	static const uint8_t tenth_big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	CHECK_EQ_INT(pb_read_varint(tenth_big, tenth_big + sizeof tenth_big, &out), TL_EVARINT);
}

TEST(fields_and_nesting)
{
	struct tl_buf b;
	size_t outer, inner;
	tl_buf_init(&b, 0);
	CHECK_EQ_INT(pb_put_uint(&b, 1, 150), 0);
	CHECK_EQ_INT(pb_begin(&b, 2, &outer), 0);
	CHECK_EQ_INT(pb_put_bytes(&b, 1, "hi", 2), 0);
	CHECK_EQ_INT(pb_begin(&b, 3, &inner), 0);
	CHECK_EQ_INT(pb_put_fixed64(&b, 1, 0x0102030405060708ull), 0);
	CHECK_EQ_INT(pb_end(&b, inner), 0);
	CHECK_EQ_INT(pb_end(&b, outer), 0);
	CHECK_EQ_INT(pb_put_fixed32(&b, 16, 0x301), 0);
	CHECK_EQ_INT(pb_put_double(&b, 4, 2.5), 0);
	/* 08 96 01 | 12 0e 0a 02 'h' 'i' 1a 09 09 <8> | 85 01 <4> | 21 <8> */
	CHECK_EQ_INT(b.len, 3 + 2 + 4 + 2 + 9 + 2 + 4 + 1 + 8);
	CHECK((uint8_t)b.data[3] == 0x12 && (uint8_t)b.data[4] == 15);

	struct pb_reader r;
	struct pb_field f;
	pb_reader_init(&r, b.data, b.len);
	CHECK_EQ_INT(pb_next(&r, &f), 1);
	CHECK(f.num == 1 && f.wire == PB_VARINT && f.u64 == 150);
	CHECK_EQ_INT(pb_next(&r, &f), 1);
	CHECK(f.num == 2 && f.wire == PB_LEN && f.len == 15);
	struct pb_reader r2;
	struct pb_field g;
	pb_reader_init(&r2, f.data, f.len);
	CHECK_EQ_INT(pb_next(&r2, &g), 1);
	CHECK(g.num == 1 && g.len == 2 && memcmp(g.data, "hi", 2) == 0);
	CHECK_EQ_INT(pb_next(&r2, &g), 1);
	CHECK(g.num == 3 && g.wire == PB_LEN && g.len == 9);
	CHECK_EQ_INT(pb_next(&r2, &g), 0);
	CHECK_EQ_INT(pb_next(&r, &f), 1);
	CHECK(f.num == 16 && f.wire == PB_I32 && f.u64 == 0x301);
	CHECK_EQ_INT(pb_next(&r, &f), 1);
	CHECK(f.num == 4 && f.wire == PB_I64 && pb_as_double(f.u64) == 2.5);
	CHECK_EQ_INT(pb_next(&r, &f), 0);

	/* Every truncation of the whole message is an error or a clean shorter parse. */
	for (size_t k = 1; k < b.len; k++) {
		pb_reader_init(&r, b.data, k);
		int rc;
		while ((rc = pb_next(&r, &f)) == 1)
			;
		CHECK(rc == 0 || rc == TL_ETRUNC);
	}
	tl_buf_cleanup(&b);
}

TEST(bad_wire)
{
	static const uint8_t group[] = {0x0b};      /* field 1, start group */
	static const uint8_t field0[] = {0x00, 0x01}; /* field number 0 */
	static const uint8_t wt7[] = {0x0f};        /* wire type 7 */
	static const uint8_t biglen[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
	struct pb_reader r;
	struct pb_field f;
	pb_reader_init(&r, group, sizeof group);
	CHECK_EQ_INT(pb_next(&r, &f), TL_EWIRE);
	pb_reader_init(&r, field0, sizeof field0);
	CHECK_EQ_INT(pb_next(&r, &f), TL_EWIRE);
	pb_reader_init(&r, wt7, sizeof wt7);
	CHECK_EQ_INT(pb_next(&r, &f), TL_EWIRE);
	pb_reader_init(&r, biglen, sizeof biglen);
	CHECK_EQ_INT(pb_next(&r, &f), TL_ETRUNC);
	CHECK_EQ_INT(pb_zigzag_decode(3), -2);
	CHECK_EQ_INT(pb_zigzag_decode(4), 2);
}

static const struct tl_test_case cases[] = {
    T(arena_ceiling), T(buf_max), T(hex), T(parse_numbers), T(parse_size_duration),
    T(utf8), T(varint_roundtrip), T(fields_and_nesting), T(bad_wire),
};
TEST_MAIN("test_core", cases)
