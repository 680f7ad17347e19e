/*
 * test_receiver.c - the OTLP/HTTP receiver's pure helpers: Content-Type
 * classification, tenant validation and bounded gzip inflation.
 */
#include "tl_test.h"

#include <zlib.h>

#include "receiver/receiver.h"

TEST(content_types)
{
	static const struct {
		const char *v;
		int want;
	} cases[] = {
	    {"application/x-protobuf", RECEIVER_CT_PROTOBUF},
	    {"application/protobuf", RECEIVER_CT_PROTOBUF},
	    {"Application/X-Protobuf", RECEIVER_CT_PROTOBUF},
	    {"application/json", RECEIVER_CT_JSON},
	    {"application/json; charset=utf-8", RECEIVER_CT_JSON},
	    {"application/json;charset=UTF-8", RECEIVER_CT_JSON},
	    {"  application/json ; q=1", RECEIVER_CT_JSON},
	    {"application/jsonx", RECEIVER_CT_UNKNOWN},
	    {"text/plain", RECEIVER_CT_UNKNOWN},
	    {"application/grpc", RECEIVER_CT_UNKNOWN},
	    {"", RECEIVER_CT_UNKNOWN},
	    {NULL, RECEIVER_CT_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_EQ_INT(receiver_content_type(cases[i].v), cases[i].want);
}

TEST(tenants)
{
	char long65[66];
	memset(long65, 'a', 65);
	long65[65] = 0;
	CHECK(receiver_tenant_valid("default"));
	CHECK(receiver_tenant_valid("team-a.prod_1"));
	CHECK(receiver_tenant_valid(long65 + 1)); /* 64 characters */
	CHECK(!receiver_tenant_valid(long65));
	CHECK(!receiver_tenant_valid(""));
	CHECK(!receiver_tenant_valid("a b"));
	CHECK(!receiver_tenant_valid("a/b"));
	CHECK(!receiver_tenant_valid("caf\xc3\xa9"));
}

/* gzip-compresses in into out (a member per call). */
static size_t gz(const void *in, size_t n, unsigned char *out, size_t cap)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	deflate(&zs, Z_FINISH);
	size_t w = cap - zs.avail_out;
	deflateEnd(&zs);
	return w;
}

TEST(gunzip_ok_and_concatenated)
{
	unsigned char z[4096];
	struct tl_buf out;
	const char *a = "hello ", *b = "world";
	size_t n1 = gz(a, strlen(a), z, sizeof z);
	size_t n2 = gz(b, strlen(b), z + n1, sizeof z - n1);
	tl_buf_init(&out, 0);
	CHECK_EQ_INT(receiver_gunzip(z, n1, 1024, &out), 0);
	CHECK_EQ_INT(out.len, 6);
	tl_buf_reset(&out);
	CHECK_EQ_INT(receiver_gunzip(z, n1 + n2, 1024, &out), 0);
	CHECK_EQ_INT(out.len, 11);
	CHECK(memcmp(out.data, "hello world", 11) == 0);
	tl_buf_cleanup(&out);
}

TEST(gunzip_limits_and_corruption)
{
	static unsigned char zeros[1 << 20];
	static unsigned char z[1 << 16];
	struct tl_buf out;
	size_t n = gz(zeros, sizeof zeros, z, sizeof z);
	tl_buf_init(&out, 0);
	/* Exactly at the limit is fine; one byte less is a bomb. */
	CHECK_EQ_INT(receiver_gunzip(z, n, sizeof zeros, &out), 0);
	CHECK_EQ_INT(out.len, sizeof zeros);
	tl_buf_reset(&out);
	CHECK_EQ_INT(receiver_gunzip(z, n, sizeof zeros - 1, &out), TL_ETOOBIG);
	CHECK(out.len <= sizeof zeros);
	/* Truncated stream. */
	tl_buf_reset(&out);
	CHECK_EQ_INT(receiver_gunzip(z, n / 2, sizeof zeros, &out), TL_EGZIP);
	/* Not gzip at all. */
	tl_buf_reset(&out);
	CHECK_EQ_INT(receiver_gunzip("{\"resourceSpans\":[]}", 20, 1024, &out), TL_EGZIP);
	/* Empty input is not a gzip stream. */
	tl_buf_reset(&out);
	CHECK_EQ_INT(receiver_gunzip("", 0, 1024, &out), TL_EGZIP);
	/* Garbage after a complete member. */
	{
		unsigned char zz[256];
		size_t m = gz("abc", 3, zz, sizeof zz);
		memcpy(zz + m, "junkjunk", 8);
		tl_buf_reset(&out);
		CHECK_EQ_INT(receiver_gunzip(zz, m + 8, 1024, &out), TL_EGZIP);
	}
	tl_buf_cleanup(&out);
}

static const struct tl_test_case tests[] = {
    T(content_types),
    T(tenants),
    T(gunzip_ok_and_concatenated),
    T(gunzip_limits_and_corruption),
};

TEST_MAIN("receiver", tests)
