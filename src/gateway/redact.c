/*
 * redact.c - redaction of captured prompts and completions: user rules are
 * POSIX extended regexes; built-ins cover e-mail addresses, API keys (OpenAI,
 * Anthropic, AWS, GitHub, Slack shapes) and card numbers (13-19 digits with
 * spaces or dashes, kept only when the Luhn check passes, so order numbers and
 * timestamps survive).
 */
#include "gateway/gateway_int.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule {
	regex_t re;
	int compiled;
	int luhn;            /* only replace matches that pass the Luhn check */
	const char *replace;
};

struct gateway_redactor {
	struct rule *rules;
	size_t n;
	char **owned;        /* replacement strings copied from the config */
};

static const char RE_EMAIL[] = "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}";
static const char RE_API_KEY[] = "(sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|"
				 "xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})";
static const char RE_CARD[] = "[0-9]([ -]?[0-9]){12,18}";

int gateway_luhn_valid(const char *s, size_t n)
{
	int sum = 0, digits = 0;
	/* From the right: every second digit doubled. */
	for (size_t i = n; i > 0; i--) {
		char ch = s[i - 1];
		if (ch == ' ' || ch == '-')
			continue;
		if (ch < '0' || ch > '9')
			return 0;
		int d = ch - '0';
		if (digits % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
		digits++;
	}
	return digits >= 13 && digits <= 19 && sum % 10 == 0;
}

void gateway_redactor_destroy(struct gateway_redactor *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->rules[i].compiled)
			regfree(&r->rules[i].re);
	for (size_t i = 0; r->owned && i < r->n; i++)
		free(r->owned[i]);
	free(r->owned);
	free(r->rules);
	free(r);
}

int gateway_redactor_create(const struct gateway_redact_rule *rules, size_t n, struct gateway_redactor **out,
			    char *err, size_t errlen)
{
	struct gateway_redactor *r = calloc(1, sizeof *r);
	int rc = 0;
	if (!r)
		abort();
	r->rules = calloc(n ? n : 1, sizeof *r->rules);
	r->owned = calloc(n ? n : 1, sizeof *r->owned);
	if (!r->rules || !r->owned)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct rule *ru = &r->rules[i];
		const char *re = rules[i].regex;
		switch (rules[i].kind) {
		case GATEWAY_REDACT_EMAIL:
			re = RE_EMAIL;
			ru->replace = "[REDACTED_EMAIL]";
			break;
		case GATEWAY_REDACT_API_KEY:
			re = RE_API_KEY;
			ru->replace = "[REDACTED_API_KEY]";
			break;
		case GATEWAY_REDACT_CARD:
			re = RE_CARD;
			ru->replace = "[REDACTED_CARD]";
			ru->luhn = 1;
			break;
		default:
			ru->replace = "[REDACTED]";
			break;
		}
		if (rules[i].replace) {
			size_t l = strlen(rules[i].replace);
			r->owned[i] = malloc(l + 1);
			if (!r->owned[i])
				abort();
			memcpy(r->owned[i], rules[i].replace, l + 1);
			ru->replace = r->owned[i];
		}
		int e = regcomp(&ru->re, re ? re : "", REG_EXTENDED);
		r->n = i + 1;
		if (e) {
			char msg[200];
			regerror(e, &ru->re, msg, sizeof msg);
			snprintf(err, errlen, "gateway.redact[%zu]: bad regex \"%s\": %s", i, re ? re : "", msg);
			rc = TL_ECONFIG;
			goto out;
		}
		ru->compiled = 1;
	}
	*out = r;
	r = NULL;
out:
	gateway_redactor_destroy(r);
	return rc;
}

/* Applies one rule to (s, n), appending to out. regexec needs a NUL-terminated
 * subject: the callers pass buffers that are. */
static int apply(const struct rule *ru, const char *s, size_t n, struct tl_buf *out)
{
	size_t pos = 0;
	regmatch_t m;
	int rc = 0, flags = 0;
	while (pos <= n && !rc) {
		if (regexec(&ru->re, s + pos, 1, &m, flags) != 0 || m.rm_so < 0)
			break;
		size_t so = pos + (size_t)m.rm_so, eo = pos + (size_t)m.rm_eo;
		if (eo == so) {
			/* An empty match: copy one byte and move on. */
			if (so >= n)
				break;
			rc = tl_buf_append(out, s + pos, so - pos + 1);
			pos = so + 1;
			flags = REG_NOTBOL;
			continue;
		}
		rc = tl_buf_append(out, s + pos, so - pos);
		if (!rc) {
			if (!ru->luhn || gateway_luhn_valid(s + so, eo - so))
				rc = tl_buf_puts(out, ru->replace);
			else
				rc = tl_buf_append(out, s + so, eo - so);
		}
		pos = eo;
		flags = REG_NOTBOL;
	}
	if (!rc && pos < n)
		rc = tl_buf_append(out, s + pos, n - pos);
	return rc;
}

int gateway_redact(const struct gateway_redactor *r, const char *s, size_t n, struct tl_buf *out)
{
	struct tl_buf a, b;
	int rc = 0;
	if (!r || r->n == 0)
		return tl_buf_append(out, s, n);
	tl_buf_init(&a, 0);
	tl_buf_init(&b, 0);
	if ((rc = tl_buf_append(&a, s, n)) || (rc = tl_buf_putc(&a, 0)))
		goto out;
	a.len--;
	for (size_t i = 0; i < r->n; i++) {
		tl_buf_reset(&b);
		if ((rc = apply(&r->rules[i], a.data, a.len, &b)) || (rc = tl_buf_putc(&b, 0)))
			goto out;
		b.len--;
		struct tl_buf t = a;
		a = b;
		b = t;
	}
	rc = tl_buf_append(out, a.data, a.len);
out:
	tl_buf_cleanup(&a);
	tl_buf_cleanup(&b);
	return rc;
}
