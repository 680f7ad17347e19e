/*
 * core.c - errors, strings, arena, buffers, hex, numbers, time, log (see core.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *tl_strerror(int err)
{
	switch (err) {
	case TL_OK: return "ok";
	case TL_ENOMEM: return "out of memory or over a size ceiling";
	case TL_EINVAL: return "invalid input";
	case TL_ETRUNC: return "truncated input";
	case TL_EVARINT: return "malformed varint";
	case TL_EWIRE: return "bad protobuf wire type or field number";
	case TL_EUTF8: return "string is not valid UTF-8";
	case TL_EID: return "trace or span id of wrong length or all zero";
	case TL_EDEPTH: return "nesting too deep";
	case TL_ETOOBIG: return "over the size limit";
	case TL_EJSON: return "malformed JSON";
	case TL_EIO: return "I/O error";
	case TL_ESTORE: return "store error";
	case TL_EBUSY: return "over the memory budget";
	case TL_ENOTFOUND: return "not found";
	case TL_ECLOSED: return "shutting down";
	case TL_ECONFIG: return "bad configuration";
	case TL_EGZIP: return "bad gzip stream";
	}
	return "unknown error";
}

/* ---- strings ---- */

int tl_str_eq(struct tl_str a, struct tl_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

int tl_str_eq_c(struct tl_str a, const char *c)
{
	size_t n = strlen(c);
	return a.n == n && (n == 0 || memcmp(a.p, c, n) == 0);
}

int tl_str_has_prefix(struct tl_str a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.n >= n && memcmp(a.p, prefix, n) == 0;
}

int tl_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str, *e = s + n;
	while (s < e) {
		unsigned c = *s;
		if (c < 0x80) {
			s++;
			continue;
		}
		size_t need;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if ((size_t)(e - s) <= need)
			return 0;
		for (size_t i = 1; i <= need; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		s += need + 1;
	}
	return 1;
}

/* ---- arena ---- */

struct arena_block {
	struct arena_block *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

struct tl_arena {
	struct arena_block *head;
	size_t block_size;
	size_t max_bytes;
	size_t used;
};

struct tl_arena *tl_arena_create(size_t block_size, size_t max_bytes)
{
	struct tl_arena *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->block_size = block_size ? block_size : 16384;
	a->max_bytes = max_bytes;
	return a;
}

void tl_arena_destroy(struct tl_arena *a)
{
	if (!a)
		return;
	struct arena_block *b = a->head;
	while (b) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	free(a);
}

void tl_arena_reset(struct tl_arena *a)
{
	/* Keep the first (most recent) block to avoid a malloc on reuse. */
	struct arena_block *b = a->head, *keep = NULL;
	if (b) {
		keep = b;
		b = b->next;
		keep->next = NULL;
		keep->used = 0;
	}
	while (b) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	a->head = keep;
	a->used = 0;
}

void *tl_arena_alloc(struct tl_arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (n == 0)
		n = 8;
	if (a->max_bytes && (n > a->max_bytes || a->used > a->max_bytes - n))
		return NULL;
	struct arena_block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t sz = n > a->block_size / 2 ? n : a->block_size;
		struct arena_block *nb = malloc(sizeof *nb + sz);
		if (!nb)
			return NULL;
		nb->size = sz;
		nb->used = 0;
		if (b && n > a->block_size / 2) {
			/* A big allocation gets its own block behind the current one so the
			 * current block's free space is not wasted. */
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		b = nb;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	a->used += n;
	return p;
}

void *tl_arena_zalloc(struct tl_arena *a, size_t n)
{
	void *p = tl_arena_alloc(a, n);
	if (p)
		memset(p, 0, n);
	return p;
}

char *tl_arena_strndup(struct tl_arena *a, const char *s, size_t n)
{
	char *p = tl_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = 0;
	return p;
}

size_t tl_arena_used(const struct tl_arena *a)
{
	return a->used;
}

/* ---- buffers ---- */

void tl_buf_init(struct tl_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

void tl_buf_cleanup(struct tl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void tl_buf_reset(struct tl_buf *b)
{
	b->len = 0;
}

int tl_buf_reserve(struct tl_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return TL_ETOOBIG;
	size_t need = b->len + extra + 1; /* room for a NUL terminator */
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return TL_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int tl_buf_append(struct tl_buf *b, const void *p, size_t n)
{
	int rc = tl_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int tl_buf_putc(struct tl_buf *b, char c)
{
	if (b->len + 1 < b->cap && b->len < b->max) {
		b->data[b->len++] = c;
		b->data[b->len] = 0;
		return 0;
	}
	return tl_buf_append(b, &c, 1);
}

int tl_buf_puts(struct tl_buf *b, const char *s)
{
	return tl_buf_append(b, s, strlen(s));
}

int tl_buf_printf(struct tl_buf *b, const char *fmt, ...)
{
	va_list ap;
	char tmp[256];
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return TL_EINVAL;
	if ((size_t)n < sizeof tmp)
		return tl_buf_append(b, tmp, (size_t)n);
	int rc = tl_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *tl_buf_steal(struct tl_buf *b, size_t *len)
{
	char *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---- hex ---- */

void tl_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tl_hex_decode(const char *in, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return TL_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)in[2 * i]), lo = hexval((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return TL_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int tl_is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ---- time ---- */

uint64_t tl_now_unix_nano(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t tl_mono_nano(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- numbers ---- */

int tl_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return TL_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return TL_EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return TL_EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int tl_parse_i64(const char *s, size_t n, int64_t *out)
{
	int neg = 0;
	uint64_t v;
	if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		s++;
		n--;
	}
	if (tl_parse_u64(s, n, &v))
		return TL_EINVAL;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return TL_EINVAL;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return TL_EINVAL;
		*out = (int64_t)v;
	}
	return 0;
}

int tl_parse_double(const char *s, size_t n, double *out)
{
	char tmp[64];
	char *end;
	if (n == 0 || n >= sizeof tmp)
		return TL_EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	if (isspace((unsigned char)tmp[0]))
		return TL_EINVAL;
	errno = 0;
	double d = strtod(tmp, &end);
	if (*end || errno == ERANGE)
		return TL_EINVAL;
	*out = d;
	return 0;
}

int tl_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suf;
		uint64_t mul;
	} units[] = {
	    {"", 1},           {"b", 1},
	    {"k", 1000},       {"kb", 1000},       {"kib", 1024},
	    {"m", 1000000},    {"mb", 1000000},    {"mib", 1024 * 1024},
	    {"g", 1000000000}, {"gb", 1000000000}, {"gib", 1024ull * 1024 * 1024},
	    {"t", 1000000000000ull}, {"tb", 1000000000000ull}, {"tib", 1024ull * 1024 * 1024 * 1024},
	};
	size_t n = strlen(s), i = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	uint64_t v;
	if (tl_parse_u64(s, i, &v))
		return TL_EINVAL;
	const char *suf = s + i;
	while (*suf == ' ')
		suf++;
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		if (strcasecmp(suf, units[u].suf) == 0) {
			if (units[u].mul > 1 && v > UINT64_MAX / units[u].mul)
				return TL_EINVAL;
			*out = v * units[u].mul;
			return 0;
		}
	}
	return TL_EINVAL;
}

int tl_parse_duration(const char *s, uint64_t *out_ns)
{
	static const struct {
		const char *suf;
		uint64_t mul;
	} units[] = {
	    {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000ull},
	    {"m", 60ull * 1000000000ull}, {"h", 3600ull * 1000000000ull}, {"d", 86400ull * 1000000000ull},
	};
	size_t n = strlen(s), i = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	uint64_t v;
	if (tl_parse_u64(s, i, &v))
		return TL_EINVAL;
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		if (strcmp(s + i, units[u].suf) == 0) {
			if (v > UINT64_MAX / units[u].mul)
				return TL_EINVAL;
			*out_ns = v * units[u].mul;
			return 0;
		}
	}
	return TL_EINVAL;
}

/* ---- log ---- */

/* The log level is one of the few globals (see src/core/globals.c in STYLE terms):
 * written once at start-up by main, read by every thread. */
static int log_level = TL_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void tl_log_set_level(int level)
{
	log_level = level;
}

void tl_log(int level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	if (level < log_level)
		return;
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 names[level < 0 ? 0 : level > 3 ? 3 : level]);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&log_mu);
}
