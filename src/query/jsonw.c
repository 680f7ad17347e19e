/*
 * jsonw.c - a small streaming JSON writer over tl_buf for the query API. It
 * inserts commas itself, escapes strings (control characters, NUL, quotes) and
 * repairs invalid UTF-8 with U+FFFD so the output is always valid JSON, and has
 * the number forms the API needs (safe integers, round-tripping doubles, USD
 * from nano-USD).
 */
#include "query/query_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void query__jw_init(struct query__jw *w, struct tl_buf *b)
{
	memset(w, 0, sizeof *w);
	w->b = b;
	w->first[0] = 1;
}

static void put(struct query__jw *w, const char *p, size_t n)
{
	if (w->err)
		return;
	int rc = tl_buf_append(w->b, p, n);
	if (rc)
		w->err = rc;
}

static void putc1(struct query__jw *w, char c)
{
	put(w, &c, 1);
}

/* Emits the comma before a value or key when the level already has a member. */
static void sep(struct query__jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (!w->first[w->depth])
		putc1(w, ',');
	w->first[w->depth] = 0;
}

static void open_level(struct query__jw *w, char c)
{
	sep(w);
	if (w->depth + 1 >= QUERY__JW_MAX_DEPTH) {
		if (!w->err)
			w->err = TL_EDEPTH;
		return;
	}
	putc1(w, c);
	w->depth++;
	w->first[w->depth] = 1;
}

static void close_level(struct query__jw *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	putc1(w, c);
}

void query__jw_obj_begin(struct query__jw *w)
{
	open_level(w, '{');
}

void query__jw_obj_end(struct query__jw *w)
{
	close_level(w, '}');
}

void query__jw_arr_begin(struct query__jw *w)
{
	open_level(w, '[');
}

void query__jw_arr_end(struct query__jw *w)
{
	close_level(w, ']');
}

/* Length of a valid UTF-8 sequence starting at s[0] (lead byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static void put_escaped(struct query__jw *w, const char *p, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)p;
	size_t run = 0; /* start of the pending run of bytes copied as is */
	putc1(w, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t l = utf8_seq(s + i, n - i);
			if (l) {
				i += l;
				continue;
			}
		}
		put(w, p + run, i - run);
		switch (c) {
		case '"': put(w, "\\\"", 2); break;
		case '\\': put(w, "\\\\", 2); break;
		case '\n': put(w, "\\n", 2); break;
		case '\r': put(w, "\\r", 2); break;
		case '\t': put(w, "\\t", 2); break;
		case '\b': put(w, "\\b", 2); break;
		case '\f': put(w, "\\f", 2); break;
		default:
			if (c < 0x20) {
				char u[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
				put(w, u, 6);
			} else {
				put(w, "\xEF\xBF\xBD", 3); /* invalid UTF-8 byte */
			}
			break;
		}
		i++;
		run = i;
	}
	put(w, p + run, n - run);
	putc1(w, '"');
}

void query__jw_keyn(struct query__jw *w, const char *k, size_t n)
{
	sep(w);
	put_escaped(w, k, n);
	putc1(w, ':');
	w->after_key = 1;
}

void query__jw_key(struct query__jw *w, const char *k)
{
	query__jw_keyn(w, k, strlen(k));
}

void query__jw_strn(struct query__jw *w, const char *s, size_t n)
{
	sep(w);
	put_escaped(w, s ? s : "", s ? n : 0);
}

void query__jw_str(struct query__jw *w, const char *s)
{
	query__jw_strn(w, s, s ? strlen(s) : 0);
}

void query__jw_str_or_null(struct query__jw *w, const char *s, size_t n)
{
	if (!s || !n)
		query__jw_null(w);
	else
		query__jw_strn(w, s, n);
}

void query__jw_null(struct query__jw *w)
{
	sep(w);
	put(w, "null", 4);
}

void query__jw_bool(struct query__jw *w, int v)
{
	sep(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void query__jw_i64(struct query__jw *w, int64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
	sep(w);
	put(w, tmp, (size_t)n);
}

void query__jw_u64(struct query__jw *w, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
	sep(w);
	put(w, tmp, (size_t)n);
}

void query__jw_u64_str(struct query__jw *w, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "\"%" PRIu64 "\"", v);
	sep(w);
	put(w, tmp, (size_t)n);
}

void query__jw_int_safe(struct query__jw *w, int64_t v)
{
	const int64_t lim = (int64_t)1 << 53;
	if (v >= -lim && v <= lim) {
		query__jw_i64(w, v);
	} else {
		char tmp[32];
		int n = snprintf(tmp, sizeof tmp, "\"%" PRId64 "\"", v);
		sep(w);
		put(w, tmp, (size_t)n);
	}
}

void query__jw_double(struct query__jw *w, double v)
{
	char tmp[40];
	if (isnan(v)) {
		query__jw_str(w, "NaN");
		return;
	}
	if (isinf(v)) {
		query__jw_str(w, v > 0 ? "Infinity" : "-Infinity");
		return;
	}
	/* The shortest of 15..17 significant digits that reads back as the same value. */
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	if (!memchr(tmp, '.', (size_t)n) && !memchr(tmp, 'e', (size_t)n) && (size_t)n + 2 < sizeof tmp) {
		tmp[n++] = '.';
		tmp[n++] = '0';
		tmp[n] = 0;
	}
	sep(w);
	put(w, tmp, (size_t)n);
}

size_t query__fmt_nusd(int64_t nusd, char *out, size_t outlen)
{
	uint64_t mag = nusd < 0 ? (uint64_t)0 - (uint64_t)nusd : (uint64_t)nusd;
	uint64_t whole = mag / 1000000000u, frac = mag % 1000000000u;
	char fr[16];
	snprintf(fr, sizeof fr, "%09" PRIu64, frac);
	size_t fl = 9;
	while (fl > 1 && fr[fl - 1] == '0')
		fl--;
	fr[fl] = 0;
	int n = snprintf(out, outlen, "%s%" PRIu64 ".%s", nusd < 0 ? "-" : "", whole, fr);
	return n < 0 ? 0 : (size_t)n < outlen ? (size_t)n : outlen - 1;
}

void query__jw_nusd(struct query__jw *w, int64_t nusd)
{
	char tmp[40];
	size_t n = query__fmt_nusd(nusd, tmp, sizeof tmp);
	sep(w);
	put(w, tmp, n);
}

void query__jw_base64(struct query__jw *w, const uint8_t *p, size_t n)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	sep(w);
	putc1(w, '"');
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tbl[(v >> 18) & 63];
		q[1] = tbl[(v >> 12) & 63];
		q[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tbl[v & 63] : '=';
		put(w, q, 4);
	}
	putc1(w, '"');
}

void query__jw_hex(struct query__jw *w, const uint8_t *p, size_t n)
{
	char tmp[2 * 32 + 1];
	if (n > 32)
		n = 32;
	tl_hex_encode(p, n, tmp);
	query__jw_strn(w, tmp, 2 * n);
}
