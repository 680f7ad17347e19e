/*
 * core.h - the building blocks every other module uses: error codes, borrowed
 * strings, the per-request arena, growable byte buffers with a ceiling, hex,
 * time and logging. Nothing here knows about OTLP, SQLite or HTTP.
 */
#ifndef TL_CORE_H
#define TL_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* ---- errors ----------------------------------------------------------- */

/* Every function that can fail returns int: 0 ok, or one of these (negative). */
enum tl_err {
	TL_OK = 0,
	TL_ENOMEM = -1,     /* allocation failed or a configured ceiling was hit */
	TL_EINVAL = -2,     /* bad argument or bad input */
	TL_ETRUNC = -3,     /* input ended inside a value */
	TL_EVARINT = -4,    /* varint longer than 10 bytes */
	TL_EWIRE = -5,      /* wire type not allowed for the field / unknown wire type */
	TL_EUTF8 = -6,      /* a string is not valid UTF-8 */
	TL_EID = -7,        /* trace or span id of wrong length or all zero */
	TL_EDEPTH = -8,     /* nesting deeper than the decoder allows */
	TL_ETOOBIG = -9,    /* over a configured size limit */
	TL_EJSON = -10,     /* malformed JSON or wrong JSON type for a field */
	TL_EIO = -11,       /* I/O error (store, file) */
	TL_ESTORE = -12,    /* the store refused or failed */
	TL_EBUSY = -13,     /* over the memory budget: try again later */
	TL_ENOTFOUND = -14, /* no such object */
	TL_ECLOSED = -15,   /* shutting down */
	TL_ECONFIG = -16,   /* bad configuration */
	TL_EGZIP = -17,     /* bad gzip stream */
};

/* Returns a static English description of a TL_E* code. */
const char *tl_strerror(int err);

/* ---- borrowed strings --------------------------------------------------- */

/* A borrowed byte range; not NUL-terminated; may contain NUL bytes. */
struct tl_str {
	const char *p;
	size_t n;
};

#define TL_STR_LIT(s) ((struct tl_str){(s), sizeof(s) - 1})
#define TL_STR_NULL ((struct tl_str){NULL, 0})

static inline struct tl_str tl_str_c(const char *s);
int tl_str_eq(struct tl_str a, struct tl_str b);
int tl_str_eq_c(struct tl_str a, const char *c);
int tl_str_has_prefix(struct tl_str a, const char *prefix);
/* 1 if s is valid UTF-8 (NUL bytes allowed, overlongs and surrogates rejected). */
int tl_utf8_valid(const char *s, size_t n);

/* ---- arena -------------------------------------------------------------- */

/*
 * A bump allocator for per-request and per-batch memory. Everything is freed at
 * once by tl_arena_destroy/tl_arena_reset. An arena has a ceiling (bytes); an
 * allocation past it returns NULL so decoders can reject oversized input.
 */
struct tl_arena;

/* Returns owned (free with tl_arena_destroy); NULL on OOM. max_bytes 0 = no ceiling. */
struct tl_arena *tl_arena_create(size_t block_size, size_t max_bytes);
void tl_arena_destroy(struct tl_arena *a);
void tl_arena_reset(struct tl_arena *a);
/* 8-byte aligned; NULL when the ceiling is hit or malloc fails. */
void *tl_arena_alloc(struct tl_arena *a, size_t n);
void *tl_arena_zalloc(struct tl_arena *a, size_t n);
/* Copies n bytes (plus a NUL terminator) into the arena. */
char *tl_arena_strndup(struct tl_arena *a, const char *s, size_t n);
/* Bytes handed out so far (what the memory budget charges). */
size_t tl_arena_used(const struct tl_arena *a);

/* ---- growable byte buffer ---------------------------------------------- */

/* A growable buffer with a mandatory maximum. Embedded: tl_buf_init/cleanup. */
struct tl_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* appends past this fail with TL_ETOOBIG */
};

void tl_buf_init(struct tl_buf *b, size_t max);
void tl_buf_cleanup(struct tl_buf *b);
void tl_buf_reset(struct tl_buf *b);
int tl_buf_reserve(struct tl_buf *b, size_t extra);
int tl_buf_append(struct tl_buf *b, const void *p, size_t n);
int tl_buf_putc(struct tl_buf *b, char c);
int tl_buf_puts(struct tl_buf *b, const char *s);
int tl_buf_printf(struct tl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the data out (returns owned, free with free()); the buffer is left empty. */
char *tl_buf_steal(struct tl_buf *b, size_t *len);

/* ---- hex ---------------------------------------------------------------- */

/* Writes 2*n lowercase hex chars plus NUL into out (size >= 2n+1). */
void tl_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2*n hex chars (either case) into out; TL_EINVAL otherwise. */
int tl_hex_decode(const char *in, size_t len, uint8_t *out, size_t n);
/* 1 if all n bytes are zero. */
int tl_is_zero(const uint8_t *p, size_t n);

/* ---- time ------------------------------------------------------------- */

uint64_t tl_now_unix_nano(void);
/* Monotonic clock in nanoseconds (for latencies). */
uint64_t tl_mono_nano(void);

/* ---- numbers ---------------------------------------------------------- */

/* Strict decimal parse of the whole string; TL_EINVAL on junk or overflow. */
int tl_parse_i64(const char *s, size_t n, int64_t *out);
int tl_parse_u64(const char *s, size_t n, uint64_t *out);
int tl_parse_double(const char *s, size_t n, double *out);
/* "16MiB", "64KB", "10GiB", "1024" -> bytes. */
int tl_parse_size(const char *s, uint64_t *out);
/* "72h", "5m", "30s", "500ms", "7d" -> nanoseconds. */
int tl_parse_duration(const char *s, uint64_t *out_ns);

/* ---- logging ------------------------------------------------------------ */

enum tl_log_level { TL_LOG_DEBUG, TL_LOG_INFO, TL_LOG_WARN, TL_LOG_ERROR };
/* Thread-safe; writes one line to stderr with a timestamp. */
void tl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tl_log_set_level(int level);

/* ---- inline definitions ------------------------------------------------- */
#include <string.h>
static inline struct tl_str tl_str_c(const char *s)
{
	struct tl_str r = {s, s ? strlen(s) : 0};
	return r;
}

#endif
