/*
 * propagate.c - W3C Trace Context (traceparent with strict validation,
 * tracestate) and W3C Baggage, per protocols.md section 6. Pure string work:
 * usable whether or not the SDK is enabled (except inject from a span).
 */
#include "sdk_int.h"

#include <stdlib.h>
#include <string.h>

static int is_lhex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Decodes n lowercase-hex bytes at s; -1 if any char is not lowercase hex. */
static int lhex_decode(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < 2 * n; i++)
		if (!is_lhex((unsigned char)s[i]))
			return -1;
	return tl_hex_decode(s, 2 * n, out, n) ? -1 : 0;
}

TL_EXPORT int tl_traceparent_format(const struct tl_span_context *ctx, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t flags;
	if (!ctx || !out || outlen < 56)
		return TL_SDK_EINVAL;
	if (tl_is_zero(ctx->trace_id, 16) || tl_is_zero(ctx->span_id, 8)) {
		out[0] = '\0';
		return TL_SDK_EINVAL;
	}
	/* Only the sampled and random-trace-id bits are defined; the others must
	 * be sent as zero. */
	flags = ctx->trace_flags & 0x03;
	memcpy(out, "00-", 3);
	tl_hex_encode(ctx->trace_id, 16, out + 3);
	out[35] = '-';
	tl_hex_encode(ctx->span_id, 8, out + 36);
	out[52] = '-';
	out[53] = hex[flags >> 4];
	out[54] = hex[flags & 15];
	out[55] = '\0';
	return 0;
}

/* ---- tracestate ------------------------------------------------------------- */

static int ts_key_ok(const char *k, size_t n)
{
	if (n == 0 || n > 256)
		return 0;
	if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/' ||
		      c == '@'))
			return 0;
	}
	return 1;
}

static int ts_value_ok(const char *v, size_t n)
{
	if (n == 0 || n > 256 || v[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return 0;
	}
	return 1;
}

struct ts_member {
	const char *p;
	size_t n; /* whole "key=value" */
	size_t klen;
};

/*
 * Validates a tracestate and writes it normalised ("k=v,k2=v2", no OWS) into
 * out (size outlen). Invalid -> out = "" and -1. When the result does not fit,
 * whole members are removed: those over 128 chars first, then from the right.
 */
static int tracestate_normalise(const char *in, char *out, size_t outlen)
{
	struct ts_member m[32];
	size_t nm = 0, len, total = 0;
	const char *p = in;
	out[0] = '\0';
	if (!in)
		return 0;
	while (*p) {
		const char *end = strchr(p, ',');
		const char *b = p, *e;
		if (!end)
			end = p + strlen(p);
		e = end;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b) {
			const char *eq = memchr(b, '=', (size_t)(e - b));
			if (!eq || nm == 32 || !ts_key_ok(b, (size_t)(eq - b)) || !ts_value_ok(eq + 1, (size_t)(e - eq - 1)))
				return -1;
			for (size_t i = 0; i < nm; i++)
				if (m[i].klen == (size_t)(eq - b) && memcmp(m[i].p, b, m[i].klen) == 0)
					return -1; /* a key must not appear twice */
			m[nm].p = b;
			m[nm].n = (size_t)(e - b);
			m[nm].klen = (size_t)(eq - b);
			nm++;
		}
		p = *end ? end + 1 : end;
	}
	for (size_t i = 0; i < nm; i++)
		total += m[i].n + (i ? 1 : 0);
	/* Too long: drop members longer than 128 chars, then from the right. */
	for (size_t i = nm; total + 1 > outlen && i-- > 0;) {
		if (m[i].n > 128) {
			total -= m[i].n + (nm > 1 ? 1 : 0);
			memmove(&m[i], &m[i + 1], (nm - i - 1) * sizeof m[0]);
			nm--;
		}
	}
	while (total + 1 > outlen && nm) {
		nm--;
		total -= m[nm].n + (nm ? 1 : 0);
	}
	len = 0;
	for (size_t i = 0; i < nm; i++) {
		if (i)
			out[len++] = ',';
		memcpy(out + len, m[i].p, m[i].n);
		len += m[i].n;
	}
	out[len] = '\0';
	return 0;
}

TL_EXPORT int tl_traceparent_extract(const char *traceparent, const char *tracestate, struct tl_span_context *out)
{
	const char *s = traceparent;
	size_t n;
	uint8_t ver, flags;

	if (!out)
		return TL_SDK_EINVAL;
	memset(out, 0, sizeof *out);
	if (!s)
		return TL_SDK_EINVAL;
	/* Surrounding optional whitespace is not part of an HTTP field value. */
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n < 55 || lhex_decode(s, 1, &ver) || s[2] != '-' || ver == 0xff)
		return TL_SDK_EINVAL;
	if (ver == 0 && n != 55)
		return TL_SDK_EINVAL;
	if (s[35] != '-' || s[52] != '-' || (n > 55 && s[55] != '-'))
		return TL_SDK_EINVAL;
	if (lhex_decode(s + 3, 16, out->trace_id) || lhex_decode(s + 36, 8, out->span_id) || lhex_decode(s + 53, 1, &flags) ||
	    tl_is_zero(out->trace_id, 16) || tl_is_zero(out->span_id, 8)) {
		memset(out, 0, sizeof *out);
		return TL_SDK_EINVAL;
	}
	/* Flags are a bit field; keep the two defined bits. */
	out->trace_flags = flags & 0x03;
	out->is_remote = 1;
	/* A bad tracestate is dropped and does not affect the traceparent. */
	if (tracestate_normalise(tracestate, out->trace_state, sizeof out->trace_state))
		out->trace_state[0] = '\0';
	return 0;
}

TL_EXPORT int tl_traceparent_inject(const struct tl_span_handle *s, char *traceparent, size_t tplen, char *tracestate, size_t tslen)
{
	if (!s || s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (!traceparent || tplen < 56 || (tracestate && !tslen))
		return TL_SDK_EINVAL;
	struct tl_span_context ctx;
	sdk__handle_read_ctx((struct tl_span_handle *)s, &ctx);
	if (tl_traceparent_format(&ctx, traceparent, tplen))
		return TL_SDK_EINVAL;
	if (tracestate) {
		size_t n = strnlen(ctx.trace_state, sizeof ctx.trace_state - 1);
		if (n >= tslen)
			n = 0; /* whole or nothing: a cut tracestate is invalid */
		memcpy(tracestate, ctx.trace_state, n);
		tracestate[n] = '\0';
	}
	return 0;
}

/* ---- baggage ---------------------------------------------------------------- */

#define BAGGAGE_MAX_MEMBERS 64
#define BAGGAGE_MAX_BYTES 8192

struct tl_baggage {
	char *key[BAGGAGE_MAX_MEMBERS];
	char *value[BAGGAGE_MAX_MEMBERS];
	size_t n;
};

static int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int token_ok(const char *k, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)k[i]))
			return 0;
	return 1;
}

static int baggage_octet(int c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e);
}

TL_EXPORT struct tl_baggage *tl_baggage_create(void)
{
	return calloc(1, sizeof(struct tl_baggage));
}

TL_EXPORT void tl_baggage_destroy(struct tl_baggage *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->key[i]);
		free(b->value[i]);
	}
	free(b);
}

static long find(const struct tl_baggage *b, const char *k, size_t kn)
{
	for (size_t i = 0; i < b->n; i++)
		if (strlen(b->key[i]) == kn && memcmp(b->key[i], k, kn) == 0)
			return (long)i;
	return -1;
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Sets (k, kn) = value (taken over). */
static int put(struct tl_baggage *b, const char *k, size_t kn, char *value)
{
	long i = find(b, k, kn);
	if (i >= 0) {
		free(b->value[i]);
		b->value[i] = value;
		return 0;
	}
	if (b->n == BAGGAGE_MAX_MEMBERS) {
		free(value);
		return TL_SDK_EFULL;
	}
	if (!(b->key[b->n] = dupn(k, kn))) {
		free(value);
		return TL_SDK_ENOMEM;
	}
	b->value[b->n++] = value;
	return 0;
}

TL_EXPORT int tl_baggage_set(struct tl_baggage *b, const char *key, const char *value)
{
	char *v;
	if (!b || !key || !token_ok(key, strlen(key)))
		return TL_SDK_EINVAL;
	if (!(v = dupn(value ? value : "", value ? strlen(value) : 0)))
		return TL_SDK_ENOMEM;
	return put(b, key, strlen(key), v);
}

TL_EXPORT const char *tl_baggage_get(const struct tl_baggage *b, const char *key)
{
	long i;
	if (!b || !key)
		return NULL;
	i = find(b, key, strlen(key));
	return i >= 0 ? b->value[i] : NULL;
}

TL_EXPORT int tl_baggage_remove(struct tl_baggage *b, const char *key)
{
	long i;
	if (!b || !key || (i = find(b, key, strlen(key))) < 0)
		return TL_SDK_EINVAL;
	free(b->key[i]);
	free(b->value[i]);
	memmove(&b->key[i], &b->key[i + 1], (b->n - (size_t)i - 1) * sizeof b->key[0]);
	memmove(&b->value[i], &b->value[i + 1], (b->n - (size_t)i - 1) * sizeof b->value[0]);
	b->n--;
	return 0;
}

TL_EXPORT size_t tl_baggage_count(const struct tl_baggage *b)
{
	return b ? b->n : 0;
}

static void ows(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

TL_EXPORT int tl_baggage_extract(struct tl_baggage *b, const char *header)
{
	const char *p = header;
	int added = 0;
	if (!b || !header)
		return TL_SDK_EINVAL;
	if (strlen(header) > BAGGAGE_MAX_BYTES)
		return TL_SDK_EINVAL;
	while (*p) {
		const char *end = strchr(p, ','), *semi, *eq, *kb, *ke, *vb, *ve;
		if (!end)
			end = p + strlen(p);
		semi = memchr(p, ';', (size_t)(end - p));
		ve = semi ? semi : end;
		eq = memchr(p, '=', (size_t)(ve - p));
		if (eq) {
			kb = p, ke = eq, vb = eq + 1;
			ows(&kb, &ke);
			ows(&vb, &ve);
			int ok = token_ok(kb, (size_t)(ke - kb));
			for (const char *q = vb; ok && q < ve; q++)
				ok = baggage_octet((unsigned char)*q);
			if (ok) {
				size_t vn = (size_t)(ve - vb);
				char *raw = malloc(vn + 1), *fixed = NULL;
				long dn = raw ? sdk__percent_decode(vb, vn, raw) : -1;
				if (raw && dn >= 0) {
					/* Invalid UTF-8 after decoding becomes U+FFFD. */
					if (!(fixed = malloc((size_t)dn * 3 + 1))) {
						free(raw);
						return added ? added : TL_SDK_ENOMEM;
					}
					size_t j = 0;
					for (long i = 0; i < dn;) {
						unsigned char c = (unsigned char)raw[i];
						long len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
						if (i + len <= dn && tl_utf8_valid(raw + i, (size_t)len) && (c < 0x80 || c >= 0xc2)) {
							memcpy(fixed + j, raw + i, (size_t)len);
							j += (size_t)len;
							i += len;
						} else {
							memcpy(fixed + j, "\xef\xbf\xbd", 3);
							j += 3;
							i++;
						}
					}
					fixed[j] = '\0';
					if (put(b, kb, (size_t)(ke - kb), fixed) == 0)
						added++;
				}
				free(raw);
			}
		}
		p = *end ? end + 1 : end;
	}
	return added;
}

TL_EXPORT int tl_baggage_inject(const struct tl_baggage *b, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = 0;
	if (!b || !out || !outlen)
		return TL_SDK_EINVAL;
	for (size_t i = 0; i < b->n; i++) {
		size_t kn = strlen(b->key[i]);
		if (len + (i ? 1 : 0) + kn + 1 >= outlen)
			goto full;
		if (i)
			out[len++] = ',';
		memcpy(out + len, b->key[i], kn);
		len += kn;
		out[len++] = '=';
		for (const unsigned char *v = (const unsigned char *)b->value[i]; *v; v++) {
			if (baggage_octet(*v) && *v != '%') {
				if (len + 1 >= outlen)
					goto full;
				out[len++] = (char)*v;
			} else {
				if (len + 3 >= outlen)
					goto full;
				out[len++] = '%';
				out[len++] = hex[*v >> 4];
				out[len++] = hex[*v & 15];
			}
		}
	}
	out[len] = '\0';
	return 0;
full:
	out[0] = '\0';
	return TL_SDK_ENOMEM;
}
