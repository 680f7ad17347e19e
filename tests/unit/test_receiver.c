/*
 * test_receiver.c - the OTLP receivers' pure helpers: Content-Type
 * classification, tenant validation, bounded gzip inflation, and for gRPC
 * grpc-message percent-encoding, base64 and google.rpc.Status details.
 */
#include "tl_test.h"

#include <zlib.h>

#include "proto/proto.h"
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

TEST(grpc_percent_encode)
{
	char out[64];
	receiver_grpc_percent_encode("plain text: ok", out, sizeof out);
	CHECK_EQ_STR(out, "plain text: ok");
	receiver_grpc_percent_encode("100% \xc3\xa9\n", out, sizeof out);
	CHECK_EQ_STR(out, "100%25 %C3%A9%0A");
	/* Truncates at a whole escape. */
	receiver_grpc_percent_encode("ab\xff", out, 5);
	CHECK_EQ_STR(out, "ab");
	receiver_grpc_percent_encode("", out, sizeof out);
	CHECK_EQ_STR(out, "");
}

TEST(base64)
{
	struct tl_buf b;
	tl_buf_init(&b, 1024);
	static const struct {
		const char *in, *out;
	} cases[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
		     {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"\xff\xfe", "//4="}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tl_buf_reset(&b);
		CHECK_EQ_INT(receiver_base64(cases[i].in, strlen(cases[i].in), &b), 0);
		tl_buf_putc(&b, 0);
		CHECK_EQ_STR(b.data, cases[i].out);
	}
	tl_buf_cleanup(&b);
}

TEST(grpc_status_details)
{
	struct tl_buf b;
	struct pb_reader r, any, info, dur;
	struct pb_field f;
	int64_t code = -1, secs = -1, nanos = -1;
	int n_details = 0;
	char msg[64] = "", type[64] = "";

	tl_buf_init(&b, 4096);
	CHECK_EQ_INT(receiver_grpc_status_details(&b, 8, "busy", 1500), 0);
	pb_reader_init(&r, b.data, b.len);
	while (pb_next(&r, &f) == 1) {
		if (f.num == 1)
			code = (int64_t)f.u64;
		else if (f.num == 2)
			snprintf(msg, sizeof msg, "%.*s", (int)f.len, (const char *)f.data);
		else if (f.num == 3) {
			n_details++;
			pb_reader_init(&any, f.data, f.len);
			while (pb_next(&any, &f) == 1) {
				if (f.num == 1)
					snprintf(type, sizeof type, "%.*s", (int)f.len, (const char *)f.data);
				if (f.num != 2)
					continue;
				pb_reader_init(&info, f.data, f.len);
				CHECK_EQ_INT(pb_next(&info, &f), 1);
				CHECK_EQ_INT(f.num, 1);
				pb_reader_init(&dur, f.data, f.len);
				while (pb_next(&dur, &f) == 1) {
					if (f.num == 1)
						secs = (int64_t)f.u64;
					if (f.num == 2)
						nanos = (int64_t)f.u64;
				}
			}
		}
	}
	CHECK_EQ_INT(code, 8);
	CHECK_EQ_STR(msg, "busy");
	CHECK_EQ_INT(n_details, 1);
	CHECK_EQ_STR(type, "type.googleapis.com/google.rpc.RetryInfo");
	CHECK_EQ_INT(secs, 1);
	CHECK_EQ_INT(nanos, 500000000);

	/* No retry: code and message only. */
	tl_buf_reset(&b);
	CHECK_EQ_INT(receiver_grpc_status_details(&b, 3, "bad", 0), 0);
	CHECK_EQ_INT(b.len, 7);
	CHECK(memcmp(b.data, "\x08\x03\x12\x03" "bad", 7) == 0);
	tl_buf_cleanup(&b);
}

static const struct tl_test_case tests[] = {
    T(content_types),
    T(tenants),
    T(gunzip_ok_and_concatenated),
    T(gunzip_limits_and_corruption),
    T(grpc_percent_encode),
    T(base64),
    T(grpc_status_details),
};

TEST_MAIN("receiver", tests)
