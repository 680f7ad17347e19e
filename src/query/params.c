/*
 * params.c - query-string handling for the API: splitting and percent-decoding
 * parameters, strict parsing of times (Unix s/ms/us/ns or RFC 3339), steps,
 * decimals and tenants, and the opaque pagination cursor. Pure functions; no I/O.
 */
#include "query/query_int.h"

#include <stdio.h>
#include <stdlib.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int query__pct_decode(const char *s, size_t n, char *out, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			out[o++] = ' ';
		} else if (c == '%') {
			if (i + 2 >= n)
				return TL_EINVAL;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return TL_EINVAL;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = c;
		}
	}
	out[o] = 0;
	*outlen = o;
	return 0;
}

/* Decodes one name or value into a fresh string; NUL and invalid UTF-8 refused. */
static int decode_piece(const char *s, size_t n, char **out)
{
	size_t len;
	char *d = malloc(n + 1);
	if (!d)
		abort();
	if (query__pct_decode(s, n, d, &len) || memchr(d, 0, len) || !tl_utf8_valid(d, len)) {
		free(d);
		return TL_EINVAL;
	}
	*out = d;
	return 0;
}

int query__params_parse(const char *raw, struct query__params *p, char *err, size_t errlen)
{
	int rc = 0;
	memset(p, 0, sizeof *p);
	if (!raw)
		goto out;
	const char *s = raw;
	while (*s) {
		const char *amp = strchr(s, '&');
		size_t len = amp ? (size_t)(amp - s) : strlen(s);
		if (len > 0) {
			const char *eq = memchr(s, '=', len);
			size_t nl = eq ? (size_t)(eq - s) : len;
			char *name = NULL, *value = NULL;
			if (decode_piece(s, nl, &name)) {
				snprintf(err, errlen, "malformed parameter name \"%.*s\"", (int)(nl > 64 ? 64 : nl), s);
				rc = TL_EINVAL;
				goto out;
			}
			if (decode_piece(eq ? eq + 1 : s + len, eq ? len - nl - 1 : 0, &value)) {
				snprintf(err, errlen, "parameter %.64s: malformed percent-encoding or UTF-8", name);
				free(name);
				rc = TL_EINVAL;
				goto out;
			}
			for (size_t i = 0; i < p->n && !rc; i++) {
				if (strcmp(p->items[i].name, name) == 0) {
					snprintf(err, errlen, "parameter %.64s: given more than once", name);
					rc = TL_EINVAL;
				}
			}
			if (!rc && p->n == QUERY__MAX_PARAMS) {
				snprintf(err, errlen, "too many parameters (at most %d)", QUERY__MAX_PARAMS);
				rc = TL_EINVAL;
			}
			if (rc) {
				free(name);
				free(value);
				goto out;
			}
			p->items[p->n].name = name;
			p->items[p->n].value = value;
			p->n++;
		}
		if (!amp)
			break;
		s = amp + 1;
	}
out:
	return rc;
}

void query__params_cleanup(struct query__params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].name);
		free(p->items[i].value);
	}
	p->n = 0;
}

const char *query__params_get(const struct query__params *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->items[i].name, name) == 0)
			return p->items[i].value[0] ? p->items[i].value : NULL;
	return NULL;
}

int query__params_check(const struct query__params *p, const char *const *allowed, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->n; i++) {
		int ok = 0;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, p->items[i].name) == 0;
		if (!ok) {
			snprintf(err, errlen, "unknown parameter \"%.64s\"", p->items[i].name);
			return TL_EINVAL;
		}
	}
	return 0;
}

int query__tenant_valid(const char *t)
{
	size_t n = strlen(t);
	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* ---- cursor: base64url (no padding) of start (8 bytes BE) + trace id ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void query__cursor_encode(uint64_t start, const uint8_t id[16], char out[QUERY__CURSOR_LEN + 1])
{
	uint8_t raw[24];
	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(start >> (56 - 8 * i));
	memcpy(raw + 8, id, 16);
	size_t o = 0;
	for (size_t i = 0; i < sizeof raw; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	out[o] = 0;
}

int query__cursor_decode(const char *s, uint64_t *start, uint8_t id[16])
{
	uint8_t raw[24];
	if (strlen(s) != QUERY__CURSOR_LEN)
		return TL_EINVAL;
	for (size_t i = 0, o = 0; i < QUERY__CURSOR_LEN; i += 4) {
		uint32_t v = 0;
		for (size_t j = 0; j < 4; j++) {
			const char *c = strchr(b64url, s[i + j]);
			if (!c || !s[i + j])
				return TL_EINVAL;
			v = v << 6 | (uint32_t)(c - b64url);
		}
		raw[o++] = (uint8_t)(v >> 16);
		raw[o++] = (uint8_t)(v >> 8);
		raw[o++] = (uint8_t)v;
	}
	uint64_t st = 0;
	for (int i = 0; i < 8; i++)
		st = st << 8 | raw[i];
	*start = st;
	memcpy(id, raw + 8, 16);
	return 0;
}

/* ---- numbers and durations ---- */

int query__parse_decimal(const char *s, int scale_digits, int64_t *out)
{
	uint64_t v = 0;
	int seen = 0, frac = -1; /* frac: digits taken after '.', -1 before it */
	for (const char *c = s; *c; c++) {
		if (*c == '.') {
			if (frac >= 0)
				return TL_EINVAL;
			frac = 0;
			continue;
		}
		if (*c < '0' || *c > '9')
			return TL_EINVAL;
		seen = 1;
		if (frac >= scale_digits)
			continue; /* truncate extra fraction digits */
		if (v > (uint64_t)INT64_MAX / 10)
			return TL_EINVAL;
		v = v * 10 + (uint64_t)(*c - '0');
		if (frac >= 0)
			frac++;
	}
	if (!seen || (frac >= 0 && s[strlen(s) - 1] == '.'))
		return TL_EINVAL; /* no digits, or "1." */
	for (int i = frac < 0 ? 0 : frac; i < scale_digits; i++) {
		if (v > (uint64_t)INT64_MAX / 10)
			return TL_EINVAL;
		v *= 10;
	}
	if (v > (uint64_t)INT64_MAX)
		return TL_EINVAL;
	*out = (int64_t)v;
	return 0;
}

int query__parse_step(const char *s, uint64_t *out_ns)
{
	static const struct {
		const char *suf;
		uint64_t mul;
	} units[] = {
	    {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000ull},
	    {"m", 60ull * 1000000000ull}, {"h", 3600ull * 1000000000ull}, {"d", 86400ull * 1000000000ull},
	};
	uint64_t total = 0;
	const char *c = s;
	if (!*c)
		return TL_EINVAL;
	while (*c) {
		uint64_t v = 0;
		const char *d = c;
		while (*c >= '0' && *c <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return TL_EINVAL;
			v = v * 10 + (uint64_t)(*c - '0');
			c++;
		}
		if (c == d)
			return TL_EINVAL;
		size_t ul = 0;
		while (c[ul] && !(c[ul] >= '0' && c[ul] <= '9'))
			ul++;
		uint64_t mul = 0;
		for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
			if (strlen(units[u].suf) == ul && memcmp(units[u].suf, c, ul) == 0)
				mul = units[u].mul;
		if (!mul || v > (UINT64_MAX - total) / mul)
			return TL_EINVAL;
		total += v * mul;
		c += ul;
	}
	*out_ns = total;
	return 0;
}

/* ---- time ---- */

#define NS_PER_S 1000000000ull
#define MAX_UNIX_S (UINT64_MAX / NS_PER_S)

/* Days since 1970-01-01 of a proleptic Gregorian date (valid for year >= 1). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return TL_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_rfc3339(const char *s, uint64_t *out)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0, sign = 0;
	uint64_t frac_ns = 0;
	size_t n = strlen(s);
	if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d))
		return TL_EINVAL;
	if (mo < 1 || mo > 12)
		return TL_EINVAL;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
		return TL_EINVAL;
	const char *c = s + 10;
	if (*c) {
		/* date-time: the time part and a zone are both required */
		if ((*c != 'T' && *c != 't' && *c != ' ') || strlen(c) < 9 || digits(c + 1, 2, &h) || c[3] != ':' ||
		    digits(c + 4, 2, &mi) || c[6] != ':' || digits(c + 7, 2, &se))
			return TL_EINVAL;
		if (h > 23 || mi > 59 || se > 60)
			return TL_EINVAL;
		c += 9;
		if (*c == '.') {
			int nd = 0;
			c++;
			while (*c >= '0' && *c <= '9') {
				if (nd < 9) {
					frac_ns = frac_ns * 10 + (uint64_t)(*c - '0');
					nd++;
				}
				c++;
			}
			if (nd == 0)
				return TL_EINVAL;
			for (; nd < 9; nd++)
				frac_ns *= 10;
		}
		if (*c == 'Z' || *c == 'z') {
			c++;
		} else if (*c == '+' || *c == '-') {
			sign = *c == '-' ? -1 : 1;
			if (strlen(c) != 6 || digits(c + 1, 2, &oh) || c[3] != ':' || digits(c + 4, 2, &om) || oh > 23 ||
			    om > 59)
				return TL_EINVAL;
			c += 6;
		} else {
			return TL_EINVAL;
		}
		if (*c)
			return TL_EINVAL;
	}
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	secs -= (int64_t)sign * (oh * 3600 + om * 60);
	if (secs < 0 || (uint64_t)secs >= MAX_UNIX_S)
		return TL_EINVAL;
	*out = (uint64_t)secs * NS_PER_S + frac_ns;
	return 0;
}

int query_parse_time(const char *s, uint64_t *out_unix_nano)
{
	size_t n = strlen(s), nd = 0;
	while (nd < n && s[nd] >= '0' && s[nd] <= '9')
		nd++;
	if (nd == n) {
		/* An integer: the unit follows from its magnitude. Seconds up to year
		 * 2286, then milliseconds, microseconds, nanoseconds. */
		uint64_t v;
		if (tl_parse_u64(s, n, &v))
			return TL_EINVAL;
		if (v < 10000000000ull)
			*out_unix_nano = v * NS_PER_S;
		else if (v < 10000000000000ull)
			*out_unix_nano = v * 1000000ull;
		else if (v < 10000000000000000ull)
			*out_unix_nano = v * 1000ull;
		else
			*out_unix_nano = v;
		return 0;
	}
	if (nd > 0 && nd < 11 && s[nd] == '.') {
		/* fractional Unix seconds */
		int64_t ns;
		if (query__parse_decimal(s, 9, &ns))
			return TL_EINVAL;
		*out_unix_nano = (uint64_t)ns;
		return 0;
	}
	return parse_rfc3339(s, out_unix_nano);
}
