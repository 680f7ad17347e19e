/*
 * query_int.h - private interface shared by the files of src/query: the streaming
 * JSON writer (jsonw.c), request parameter parsing (params.c) and the rendering
 * of summaries, spans and traces into JSON (render.c). Unit tests include it to
 * test these pieces without a store; nothing outside src/query may use it.
 */
#ifndef TL_QUERY_INT_H
#define TL_QUERY_INT_H

#include "query/query.h"

/* ---- streaming JSON writer (jsonw.c) ------------------------------------- */

#define QUERY__JW_MAX_DEPTH 64

/*
 * Writes JSON into a borrowed tl_buf. Commas between members are inserted
 * automatically; inside an object, call query__jw_key before every value.
 * Errors are sticky: after the first failed append (buffer ceiling) every call
 * is a no-op and w->err holds the error (check it once at the end).
 */
struct query__jw {
	struct tl_buf *b;   /* borrowed */
	int err;
	int depth;
	unsigned char first[QUERY__JW_MAX_DEPTH]; /* 1 until the level has a member */
	int after_key;
};

void query__jw_init(struct query__jw *w, struct tl_buf *b);
void query__jw_obj_begin(struct query__jw *w);
void query__jw_obj_end(struct query__jw *w);
void query__jw_arr_begin(struct query__jw *w);
void query__jw_arr_end(struct query__jw *w);
/* An object key (escaped like a string). */
void query__jw_key(struct query__jw *w, const char *k);
void query__jw_keyn(struct query__jw *w, const char *k, size_t n);
/* A string value; bytes that are not valid UTF-8 become U+FFFD, control chars
 * and NUL are escaped (\u0000). */
void query__jw_strn(struct query__jw *w, const char *s, size_t n);
void query__jw_str(struct query__jw *w, const char *s);
/* A string, or null when it is empty. */
void query__jw_str_or_null(struct query__jw *w, const char *s, size_t n);
void query__jw_null(struct query__jw *w);
void query__jw_bool(struct query__jw *w, int v);
void query__jw_i64(struct query__jw *w, int64_t v);
void query__jw_u64(struct query__jw *w, uint64_t v);
/* A uint64 written as a JSON string (times in nanoseconds). */
void query__jw_u64_str(struct query__jw *w, uint64_t v);
/* An int64 as a number when |v| <= 2^53, else as a string. */
void query__jw_int_safe(struct query__jw *w, int64_t v);
/* A double, shortest form that round-trips, always with a '.' or exponent;
 * NaN and infinities as the strings "NaN", "Infinity", "-Infinity". */
void query__jw_double(struct query__jw *w, double v);
/* Nano-USD as USD with up to 9 decimals, trailing zeros trimmed (0.000123, 1.0). */
void query__jw_nusd(struct query__jw *w, int64_t nusd);
/* Bytes as standard base64 in a string. */
void query__jw_base64(struct query__jw *w, const uint8_t *p, size_t n);
/* Raw hex of an id as a string. */
void query__jw_hex(struct query__jw *w, const uint8_t *p, size_t n);

/* Formats nano-USD as above into out (size >= 32). Returns the length. */
size_t query__fmt_nusd(int64_t nusd, char *out, size_t outlen);

/* ---- parameters (params.c) ----------------------------------------------- */

#define QUERY__MAX_PARAMS 32

struct query__param {
	char *name;   /* percent-decoded, NUL-terminated; owned by the param list */
	char *value;
};

struct query__params {
	struct query__param items[QUERY__MAX_PARAMS];
	size_t n;
};

/*
 * Splits and percent-decodes a raw query string ('+' is a space). Empty pieces
 * ("a=1&&b=2") are skipped. Fails with TL_EINVAL and a message in err naming the
 * parameter on a bad escape, a NUL byte, invalid UTF-8, a duplicate name or too
 * many parameters. Free with query__params_cleanup (also after failure).
 */
int query__params_parse(const char *raw, struct query__params *p, char *err, size_t errlen);
void query__params_cleanup(struct query__params *p);
/* Returns the value of name (borrowed), or NULL when absent or empty. */
const char *query__params_get(const struct query__params *p, const char *name);
/* Checks every name is in the NULL-terminated allowed list; TL_EINVAL naming the
 * first unknown one otherwise. */
int query__params_check(const struct query__params *p, const char *const *allowed, char *err, size_t errlen);

/* Percent-decodes s[0..n) into out (size >= n+1). TL_EINVAL on a bad escape. */
int query__pct_decode(const char *s, size_t n, char *out, size_t *outlen);

/* 1 if the tenant name is 1-64 chars of [A-Za-z0-9._-]. */
int query__tenant_valid(const char *t);

/* Cursor: opaque base64url of (start, trace id). */
#define QUERY__CURSOR_LEN 32
void query__cursor_encode(uint64_t start, const uint8_t id[16], char out[QUERY__CURSOR_LEN + 1]);
int query__cursor_decode(const char *s, uint64_t *start, uint8_t id[16]);

/* "30s", "1m", "1h", "1d" (a Go-like duration: number+unit, several parts such
 * as "1h30m" allowed; units ns us ms s m h d). */
int query__parse_step(const char *s, uint64_t *out_ns);

/* Non-negative decimal ("12", "1.5") scaled by 10^scale_digits into *out
 * (fraction digits past that are truncated). TL_EINVAL on junk or overflow. */
int query__parse_decimal(const char *s, int scale_digits, int64_t *out);

/* ---- filters (query.c) ---------------------------------------------------- */

/* The store filter of GET /api/v1/traces (resp. /stats) from its parameters,
 * with the defaults of api.md; now is the request time. TL_EINVAL with a
 * message naming the parameter in err. Strings in *f borrow from p. */
int query__list_filter(const struct query__params *p, const char *tenant, uint64_t now,
		       struct store_trace_filter *f, char *err, size_t errlen);
int query__stats_filter(const struct query__params *p, const char *tenant, uint64_t now,
			struct store_stats_filter *f, char *err, size_t errlen);

/* ---- rendering (render.c) ------------------------------------------------ */

/* The api.md list item of a summary. */
void query__render_summary(struct query__jw *w, const struct store_trace_summary *s);
/* One span of GET /api/v1/traces/{id}; tenant is the request tenant (used when
 * the span carries none). */
void query__render_span(struct query__jw *w, const struct tl_span *s, const char *tenant);
/* The whole GET /api/v1/traces/{id} body: each span with a "logs" array (the
 * records with its span id), and a trace-level "logs" array (records without a
 * span id or with one not in the trace). logs may be NULL (none). */
void query__render_trace(struct query__jw *w, const struct store_trace *t, const char *tenant,
			 const struct store_logs *logs);
/* One log record of GET /api/v1/logs and of the trace view. */
void query__render_log(struct query__jw *w, const struct store_log *l);
/* An attribute value keeping its OTLP type; depth-limited. */
void query__render_value(struct query__jw *w, const struct tl_value *v, int depth);
void query__render_attrs(struct query__jw *w, const struct tl_attrs *a);
/* Writes {"error":{"code":code,"message":msg}} into a reset buffer. */
void query__render_error(struct tl_buf *b, const char *code, const char *msg);

#endif
