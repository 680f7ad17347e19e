/*
 * ids.c - trace and span ids, the samplers, SHA-256 and the deterministic
 * trace id of a run. Ids come from a per-thread xoshiro256** generator seeded
 * from getrandom(), so generating one takes no lock and no system call.
 */
#include "sdk_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void seed(struct sdk_rng *r)
{
	ssize_t got = getrandom(r->s, sizeof r->s, GRND_NONBLOCK);
	if (got != (ssize_t)sizeof r->s) {
		/* No entropy yet: fall back to the clock and the stack address so two
		 * threads still differ. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&ts;
		for (int i = 0; i < 4; i++) {
			/* splitmix64 */
			x += 0x9e3779b97f4a7c15ull;
			uint64_t z = x;
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
			r->s[i] = z ^ (z >> 31);
		}
	}
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
	r->seeded = 1;
}

static uint64_t next(void)
{
	struct sdk_rng *r = &sdk__rng;
	if (!r->seeded)
		seed(r);
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

void sdk__random(void *out, size_t n)
{
	uint8_t *p = out;
	while (n) {
		uint64_t v = next();
		size_t k = n < 8 ? n : 8;
		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
}

void sdk__new_trace_id(uint8_t out[16])
{
	do
		sdk__random(out, 16);
	while (tl_is_zero(out, 16));
}

void sdk__new_span_id(uint8_t out[8])
{
	do
		sdk__random(out, 8);
	while (tl_is_zero(out, 8));
}

double sdk__random_unit(void)
{
	return (double)(next() >> 11) * (1.0 / 9007199254740992.0);
}

static int ratio_sample(double ratio, const uint8_t id[16])
{
	uint64_t v = 0;
	if (ratio >= 1.0)
		return 1;
	if (ratio <= 0.0)
		return 0;
	for (int i = 8; i < 16; i++)
		v = v << 8 | id[i];
	/* ratio * 2^64, computed in long double to keep the low bits honest. */
	long double bound = (long double)ratio * 18446744073709551616.0L;
	return (long double)v < bound;
}

int sdk__sample(int sampler, double ratio, const uint8_t trace_id[16], const struct tl_span_context *parent)
{
	switch (sampler) {
	case SDK_SAMPLER_ALWAYS_ON:
		return 1;
	case SDK_SAMPLER_ALWAYS_OFF:
		return 0;
	case SDK_SAMPLER_RATIO:
		return ratio_sample(ratio, trace_id);
	case SDK_SAMPLER_PB_ALWAYS_ON:
		return parent ? (parent->trace_flags & TL_TRACE_FLAG_SAMPLED) != 0 : 1;
	case SDK_SAMPLER_PB_ALWAYS_OFF:
		return parent ? (parent->trace_flags & TL_TRACE_FLAG_SAMPLED) != 0 : 0;
	case SDK_SAMPLER_PB_RATIO:
		return parent ? (parent->trace_flags & TL_TRACE_FLAG_SAMPLED) != 0 : ratio_sample(ratio, trace_id);
	default:
		return 1;
	}
}

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------- */

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int k)
{
	return (x >> k) | (x << (32 - k));
}

static void block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void sdk__sha256(const void *data, size_t n, uint8_t out[32])
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const uint8_t *p = data;
	uint8_t tail[128];
	size_t full = n / 64 * 64, rest = n - full, tn;
	uint64_t bits = (uint64_t)n * 8;

	for (size_t i = 0; i < full; i += 64)
		block(h, p + i);
	memset(tail, 0, sizeof tail);
	if (rest)
		memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tn = rest + 1 + 8 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tn - 1 - i] = (uint8_t)(bits >> (8 * i));
	block(h, tail);
	if (tn == 128)
		block(h, tail + 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

TL_EXPORT int tl_trace_id_for_run(const char *tenant, const char *run_id, uint8_t out[16])
{
	static const char prefix[] = "tracelamp.run.v1";
	uint8_t digest[32];
	char stack[512], *buf = stack;
	size_t tn, rn, n;
	int rc = 0;

	if (!run_id || !*run_id || !out)
		return TL_SDK_EINVAL;
	if (!tenant || !*tenant)
		tenant = "default";
	tn = strlen(tenant);
	rn = strlen(run_id);
	n = sizeof prefix + tn + 1 + rn; /* sizeof prefix counts its NUL separator */
	if (n > sizeof stack && !(buf = malloc(n)))
		return TL_SDK_ENOMEM;
	memcpy(buf, prefix, sizeof prefix);
	memcpy(buf + sizeof prefix, tenant, tn);
	buf[sizeof prefix + tn] = '\0';
	memcpy(buf + sizeof prefix + tn + 1, run_id, rn);
	sdk__sha256(buf, n, digest);
	memcpy(out, digest, 16);
	if (tl_is_zero(out, 16))
		out[15] = 1;
	if (buf != stack)
		free(buf);
	return rc;
}
