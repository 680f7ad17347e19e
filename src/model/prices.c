/*
 * prices.c - the model price table. The built-in table is compiled in from
 * prices/prices.yaml (scripts/embed.sh); a user's file is merged over it, a
 * model of the same name replacing the built-in row whole. Prices are kept as
 * integers (micro-USD per 1M tokens) parsed straight from the decimal text.
 * Lookup runs once per LLM span, so it is a few hash probes on a stack copy of
 * the name; the table is read-only after loading and safe to share.
 */
#include "model/model_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

extern const unsigned char tl_builtin_prices[];
extern const size_t tl_builtin_prices_len;

#define LOOKUP_MAX 256                /* longer model names never match */
#define USER_FILE_MAX (16u << 20)     /* a price file is small; refuse silly ones */
#define PRICE_MAX_USD 1000000         /* per 1M tokens; keeps tokens * price in range */

struct entry {
	struct tl_price p; /* first, so find can hand out &e->p */
	char lower[sizeof(((struct tl_price *)0)->model)];
	size_t len;
	uint64_t hash;
	int pattern; /* model ends in '*' */
};

struct tl_price_table {
	struct entry *e;
	size_t n, cap;
	uint32_t *slots; /* open addressing over e: index + 1, 0 = empty */
	size_t nslots;   /* power of two, at least twice n */
	uint32_t *pats;  /* indices of pattern rows, longest pattern first */
	size_t npats;
};

/* ---- decimals ---------------------------------------------------------- */

int model__parse_decimal(const char *s, size_t n, int scale, int64_t max_int, int64_t *out)
{
	int64_t ip = 0, frac = 0;
	size_t i = 0;
	int ndig = 0, fdig = 0;
	if (n == 0)
		return -1;
	if (s[0] == '-') {
		/* "-0" is still a sign; prices and costs are never negative. */
		return n > 1 && ((s[1] >= '0' && s[1] <= '9') || s[1] == '.') ? -2 : -1;
	}
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, ndig++) {
		ip = ip * 10 + (s[i] - '0');
		if (ip > max_int)
			return -4;
	}
	if (i < n && s[i] == '.') {
		i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (fdig < scale) {
				frac = frac * 10 + (s[i] - '0');
				fdig++;
			} else if (s[i] != '0') {
				return -3;
			}
			ndig++;
		}
	}
	if (i != n || ndig == 0)
		return -1;
	for (; fdig < scale; fdig++)
		frac *= 10;
	for (int k = 0; k < scale; k++)
		ip *= 10;
	*out = ip + frac;
	return 0;
}

/* ---- names and hashing --------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static char lower_c(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return n > 0;
}

/* The exact row for a lower-case name, or NULL. */
static const struct entry *find_exact(const struct tl_price_table *t, const char *s, size_t n)
{
	uint64_t h;
	size_t mask, i;
	if (!t->nslots || n == 0)
		return NULL;
	h = hash_bytes(s, n);
	mask = t->nslots - 1;
	for (i = (size_t)h & mask;; i = (i + 1) & mask) {
		uint32_t v = t->slots[i];
		const struct entry *e;
		if (!v)
			return NULL;
		e = &t->e[v - 1];
		if (e->hash == h && e->len == n && memcmp(e->lower, s, n) == 0)
			return e;
	}
}

/* Length of s without a trailing date: -YYYYMMDD, -YYYY-MM-DD or @YYYYMMDD. */
static size_t strip_date(const char *s, size_t n)
{
	if (n > 9 && (s[n - 9] == '-' || s[n - 9] == '@') && all_digits(s + n - 8, 8) && s[n - 8] == '2')
		return n - 9;
	if (n > 11 && s[n - 11] == '-' && all_digits(s + n - 10, 4) && s[n - 6] == '-' &&
	    all_digits(s + n - 5, 2) && s[n - 3] == '-' && all_digits(s + n - 2, 2) && s[n - 10] == '2')
		return n - 11;
	return n;
}

/*
 * Bedrock ids wrap the vendor name: "us.anthropic.claude-sonnet-4-20250514-v1:0".
 * Returns the offset after "anthropic." (or 0) and shortens *n by a "-vN:M" tail.
 */
static size_t strip_bedrock(const char *s, size_t *n)
{
	static const char vendor[] = "anthropic.";
	size_t off = 0, m = *n;
	for (size_t i = 0; i + sizeof vendor - 1 <= m; i++) {
		if (memcmp(s + i, vendor, sizeof vendor - 1) == 0) {
			off = i + sizeof vendor - 1;
			break;
		}
	}
	if (!off)
		return 0;
	/* "-v1:0" or "-v2" at the end */
	for (size_t j = m; j > off + 2; j--) {
		if (s[j - 1] == '-' && s[j] == 'v') {
			size_t k = j + 1, d = 0;
			while (k < m && is_digit(s[k]))
				k++, d++;
			if (d && k < m && s[k] == ':') {
				k++;
				while (k < m && is_digit(s[k]))
					k++;
			}
			if (d && k == m)
				*n = j - 1;
			break;
		}
	}
	return off;
}

const struct tl_price *model_prices_find(const struct tl_price_table *t, struct tl_str model)
{
	char buf[LOOKUP_MAX];
	const struct entry *e = NULL;
	const char *b;
	size_t n, bn, dn;

	if (!t || !model.p || model.n == 0 || model.n >= sizeof buf)
		return NULL;
	for (size_t i = 0; i < model.n; i++)
		buf[i] = lower_c(model.p[i]);
	n = model.n;
	/* 1. exact, case-insensitive */
	if ((e = find_exact(t, buf, n)))
		goto out;
	/* 2. without "provider/" prefixes, one segment at a time */
	b = buf;
	bn = n;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '/') {
			b = buf + i + 1;
			bn = n - i - 1;
			if ((e = find_exact(t, b, bn)))
				goto out;
		}
	}
	/* Bedrock form, then 3. without a date suffix, then 4. without "-latest" */
	{
		size_t m = bn, off = strip_bedrock(b, &m);
		if (off || m != bn) {
			if ((e = find_exact(t, b + off, m - off)))
				goto out;
		}
		dn = strip_date(b + off, m - off);
		if (dn != m - off && (e = find_exact(t, b + off, dn)))
			goto out;
		if (dn > 7 && memcmp(b + off + dn - 7, "-latest", 7) == 0 &&
		    (e = find_exact(t, b + off, dn - 7)))
			goto out;
	}
	/* 5. the longest "prefix*" pattern matching the full name or the base name;
	 * the list is sorted longest first, so the first match is the longest. */
	for (size_t i = 0; i < t->npats; i++) {
		const struct entry *p = &t->e[t->pats[i]];
		size_t pl = p->len - 1;
		if ((pl <= n && memcmp(buf, p->lower, pl) == 0) || (pl <= bn && memcmp(b, p->lower, pl) == 0)) {
			e = p;
			break;
		}
	}
out:
	return e ? &e->p : NULL;
}

size_t model_prices_count(const struct tl_price_table *t)
{
	return t ? t->n : 0;
}

void model_prices_destroy(struct tl_price_table *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->slots);
	free(t->pats);
	free(t);
}

/* Rebuilds the hash index and the pattern list after rows changed. */
static int reindex(struct tl_price_table *t)
{
	size_t ns = 16;
	uint32_t *slots, *pats;
	while (ns < t->n * 2)
		ns <<= 1;
	slots = calloc(ns, sizeof *slots);
	pats = calloc(t->n ? t->n : 1, sizeof *pats);
	if (!slots || !pats) {
		free(slots);
		free(pats);
		return TL_ENOMEM;
	}
	free(t->slots);
	free(t->pats);
	t->slots = slots;
	t->nslots = ns;
	t->pats = pats;
	t->npats = 0;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = (size_t)t->e[i].hash & (ns - 1);
		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = (uint32_t)i + 1;
		if (t->e[i].pattern) {
			/* insertion keeps the (short) list longest first */
			size_t k = t->npats++;
			while (k > 0 && t->e[pats[k - 1]].len < t->e[i].len) {
				pats[k] = pats[k - 1];
				k--;
			}
			pats[k] = (uint32_t)i;
		}
	}
	return 0;
}

/* ---- YAML ---------------------------------------------------------------- */

struct pctx {
	const char *origin;
	char *err;
	size_t errlen;
};

static int fail(struct pctx *c, const yaml_node_t *at, const char *fmt, const char *what)
{
	if (c->err && c->errlen) {
		char msg[256];
		snprintf(msg, sizeof msg, fmt, what ? what : "");
		snprintf(c->err, c->errlen, "%s:%lu: %s", c->origin,
			 at ? (unsigned long)at->start_mark.line + 1 : 1ul, msg);
	}
	return TL_ECONFIG;
}

static int scalar_is(const yaml_node_t *n, const char *s)
{
	size_t l = strlen(s);
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == l &&
	       memcmp(n->data.scalar.value, s, l) == 0;
}

static int scalar_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE)
		return 0;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return n->data.scalar.length == 0 || scalar_is(n, "~") || scalar_is(n, "null") ||
	       scalar_is(n, "Null") || scalar_is(n, "NULL");
}

static int parse_price(struct pctx *c, const yaml_node_t *v, const char *key, int64_t *out)
{
	int rc;
	char what[64];
	if (v->type != YAML_SCALAR_NODE)
		return fail(c, v, "key '%s': expected a number", key);
	if (scalar_is_null(v)) {
		*out = TL_NONE;
		return 0;
	}
	rc = model__parse_decimal((const char *)v->data.scalar.value, v->data.scalar.length, 6, PRICE_MAX_USD, out);
	if (rc == 0)
		return 0;
	snprintf(what, sizeof what, "%s", key);
	if (rc == -2)
		return fail(c, v, "key '%s': negative price", what);
	if (rc == -3)
		return fail(c, v, "key '%s': more than 6 decimal places", what);
	if (rc == -4)
		return fail(c, v, "key '%s': price too large", what);
	return fail(c, v, "key '%s': not a plain decimal number (USD per 1M tokens)", what);
}

static int copy_name(struct pctx *c, const yaml_node_t *v, const char *key, char *dst, size_t cap)
{
	if (v->type != YAML_SCALAR_NODE || scalar_is_null(v))
		return fail(c, v, "key '%s': expected a string", key);
	if (v->data.scalar.length == 0 || v->data.scalar.length >= cap)
		return fail(c, v, "key '%s': empty or too long", key);
	memcpy(dst, v->data.scalar.value, v->data.scalar.length);
	dst[v->data.scalar.length] = 0;
	return 0;
}

/* Fills e from one "- model: ..." mapping. */
static int parse_row(struct pctx *c, yaml_document_t *doc, yaml_node_t *row, struct entry *e)
{
	int has_in = 0, has_out = 0, rc = 0;
	memset(e, 0, sizeof *e);
	e->p.input = e->p.cached_input = e->p.cache_write = e->p.output = TL_NONE;
	if (row->type != YAML_MAPPING_NODE)
		return fail(c, row, "a price row must be a mapping (model, provider, input, ...)%s", NULL);
	for (yaml_node_pair_t *pr = row->data.mapping.pairs.start; pr < row->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(doc, pr->value);
		const char *key;
		if (!k || !v || k->type != YAML_SCALAR_NODE)
			return fail(c, k ? k : row, "a key must be a plain string%s", NULL);
		key = (const char *)k->data.scalar.value;
		if (scalar_is(k, "model")) {
			rc = copy_name(c, v, "model", e->p.model, sizeof e->p.model);
		} else if (scalar_is(k, "provider")) {
			rc = copy_name(c, v, "provider", e->p.provider, sizeof e->p.provider);
		} else if (scalar_is(k, "input")) {
			rc = parse_price(c, v, "input", &e->p.input);
			has_in = e->p.input != TL_NONE;
		} else if (scalar_is(k, "cached_input")) {
			rc = parse_price(c, v, "cached_input", &e->p.cached_input);
		} else if (scalar_is(k, "cache_write")) {
			rc = parse_price(c, v, "cache_write", &e->p.cache_write);
		} else if (scalar_is(k, "output")) {
			rc = parse_price(c, v, "output", &e->p.output);
			has_out = e->p.output != TL_NONE;
		} else {
			char kb[64];
			snprintf(kb, sizeof kb, "%s", key);
			return fail(c, k, "key '%s': unknown key (expected model, provider, input, cached_input, cache_write, output)", kb);
		}
		if (rc)
			return rc;
	}
	if (!e->p.model[0])
		return fail(c, row, "key 'model': missing%s", NULL);
	if (!has_in)
		return fail(c, row, "key 'input': missing (model %s)", e->p.model);
	if (!has_out)
		return fail(c, row, "key 'output': missing (model %s)", e->p.model);
	e->len = strlen(e->p.model);
	for (size_t i = 0; i < e->len; i++)
		e->lower[i] = lower_c(e->p.model[i]);
	e->lower[e->len] = 0;
	e->pattern = e->len > 1 && e->lower[e->len - 1] == '*';
	e->hash = hash_bytes(e->lower, e->len);
	return 0;
}

static int put_row(struct tl_price_table *t, const struct entry *e)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].len == e->len && memcmp(t->e[i].lower, e->lower, e->len) == 0) {
			t->e[i] = *e;
			return 0;
		}
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		struct entry *ne = realloc(t->e, nc * sizeof *ne);
		if (!ne)
			return TL_ENOMEM;
		t->e = ne;
		t->cap = nc;
	}
	t->e[t->n++] = *e;
	return 0;
}

int model_prices_merge_yaml(struct tl_price_table *t, const char *yaml, size_t len, const char *origin,
			    char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct pctx c = {origin ? origin : "prices", err, errlen};
	struct entry *rows = NULL;
	size_t nrows = 0;
	int rc = 0, have_parser = 0, have_doc = 0;
	yaml_node_t *root, *seq = NULL;

	if (err && errlen)
		err[0] = 0;
	if (!t || (!yaml && len))
		return TL_EINVAL;
	if (!yaml_parser_initialize(&parser)) {
		rc = TL_ENOMEM;
		goto out;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)(yaml ? yaml : ""), len);
	if (!yaml_parser_load(&parser, &doc)) {
		if (err && errlen)
			snprintf(err, errlen, "%s:%lu: YAML error: %s", c.origin,
				 (unsigned long)parser.problem_mark.line + 1,
				 parser.problem ? parser.problem : "unreadable");
		rc = TL_ECONFIG;
		goto out;
	}
	have_doc = 1;
	root = yaml_document_get_root_node(&doc);
	if (!root || scalar_is_null(root))
		goto out; /* an empty file adds nothing */
	if (root->type != YAML_MAPPING_NODE) {
		rc = fail(&c, root, "expected a mapping with the key 'prices'%s", NULL);
		goto out;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
		if (!scalar_is(k, "prices")) {
			char kb[64];
			snprintf(kb, sizeof kb, "%s", k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?");
			rc = fail(&c, k ? k : root, "key '%s': unknown key (expected prices)", kb);
			goto out;
		}
		if (scalar_is_null(v))
			continue;
		if (v->type != YAML_SEQUENCE_NODE) {
			rc = fail(&c, v, "key 'prices': expected a list of price rows%s", NULL);
			goto out;
		}
		seq = v;
	}
	if (!seq)
		goto out;
	nrows = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	rows = calloc(nrows ? nrows : 1, sizeof *rows);
	if (!rows) {
		rc = TL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nrows; i++) {
		yaml_node_t *row = yaml_document_get_node(&doc, seq->data.sequence.items.start[i]);
		if (!row) {
			rc = fail(&c, seq, "bad price row%s", NULL);
			goto out;
		}
		if ((rc = parse_row(&c, &doc, row, &rows[i])))
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (rows[j].len == rows[i].len && memcmp(rows[j].lower, rows[i].lower, rows[i].len) == 0) {
				rc = fail(&c, row, "key 'model': duplicate model %s", rows[i].p.model);
				goto out;
			}
		}
	}
	/* The whole file parsed: only now touch the table. */
	for (size_t i = 0; i < nrows; i++)
		if ((rc = put_row(t, &rows[i])))
			goto out;
	rc = reindex(t);
out:
	free(rows);
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	return rc;
}

/* Reads a whole file into a malloc'd buffer. */
static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = 0;
	if (!f) {
		snprintf(err, errlen, "%s: cannot open pricing file: %s", path, strerror(errno));
		return TL_ECONFIG;
	}
	for (;;) {
		size_t got;
		if (n == cap) {
			char *nb;
			if (cap >= USER_FILE_MAX) {
				snprintf(err, errlen, "%s: pricing file larger than %u bytes", path, USER_FILE_MAX);
				rc = TL_ECONFIG;
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				rc = TL_ENOMEM;
				goto out;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: cannot read pricing file: %s", path, strerror(errno));
				rc = TL_ECONFIG;
			}
			break;
		}
	}
out:
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

int model_prices_load(const char *user_path, struct tl_price_table **out, char *err, size_t errlen)
{
	struct tl_price_table *t = calloc(1, sizeof *t);
	char *ubuf = NULL;
	size_t ulen = 0;
	char dummy[8];
	int rc;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = 0;
	*out = NULL;
	if (!t)
		return TL_ENOMEM;
	rc = model_prices_merge_yaml(t, (const char *)tl_builtin_prices, tl_builtin_prices_len,
				     "built-in prices.yaml", err, errlen);
	if (rc)
		goto out;
	if (user_path && user_path[0]) {
		if ((rc = read_file(user_path, &ubuf, &ulen, err, errlen)))
			goto out;
		if ((rc = model_prices_merge_yaml(t, ubuf, ulen, user_path, err, errlen)))
			goto out;
	}
	*out = t;
	t = NULL;
out:
	free(ubuf);
	model_prices_destroy(t);
	return rc;
}

/* ---- cost ---------------------------------------------------------------- */

static int64_t tok(int64_t v)
{
	return v > 0 ? v : 0;
}

int64_t model_cost_nusd(const struct tl_price *p, const struct tl_genai *g)
{
	__int128 pico; /* tokens * micro-USD per 1M tokens = pico-USD */
	int64_t in, cr, cw, out, unc, pr_cr, pr_cw;
	if (!p || !g || p->input < 0)
		return TL_NONE;
	in = tok(g->input_tokens);
	cr = tok(g->cache_read_tokens);
	cw = tok(g->cache_write_tokens);
	out = tok(g->output_tokens);
	if (out > 0 && p->output < 0)
		return TL_NONE;
	unc = in - cr - cw;
	if (unc < 0)
		unc = 0; /* normalisation makes input >= cache; guard anyway */
	pr_cr = p->cached_input >= 0 ? p->cached_input : p->input;
	pr_cw = p->cache_write >= 0 ? p->cache_write : p->input;
	pico = (__int128)unc * p->input + (__int128)cr * pr_cr + (__int128)cw * pr_cw;
	if (out > 0)
		pico += (__int128)out * p->output;
	pico = (pico + 500) / 1000; /* to nano-USD, rounded half up */
	return pico > INT64_MAX ? INT64_MAX : (int64_t)pico;
}
