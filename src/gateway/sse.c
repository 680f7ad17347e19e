/*
 * sse.c - an incremental Server-Sent Events parser. It never holds more than
 * the event being read: the proxy forwards bytes as they come and uses the
 * parsed events only to read usage, finish reasons and ids (or, when it strips
 * the usage chunk it asked for, forwards event by event). Also the W3C
 * traceparent parser the proxy uses for inbound headers.
 */
#include "gateway/gateway_int.h"

#include <string.h>

void gateway_sse_init(struct gateway_sse *p, size_t max)
{
	memset(p, 0, sizeof *p);
	p->max = max ? max : (16u << 20);
	tl_buf_init(&p->raw, 0);
	tl_buf_init(&p->data, 0);
	tl_buf_init(&p->line, 0);
}

void gateway_sse_cleanup(struct gateway_sse *p)
{
	tl_buf_cleanup(&p->raw);
	tl_buf_cleanup(&p->data);
	tl_buf_cleanup(&p->line);
}

size_t gateway_sse_pending(const struct gateway_sse *p)
{
	return p->raw.len;
}

static void line_done(struct gateway_sse *p, gateway_sse_fn fn, void *arg)
{
	const char *l = p->line.data ? p->line.data : "";
	size_t n = p->line.len;
	if (n == 0) {
		/* Blank line: the event ends. */
		if (p->raw.len) {
			size_t dn = p->data.len;
			if (dn && p->data.data[dn - 1] == '\n')
				dn--;
			if (tl_buf_putc(&p->data, 0) == 0)
				p->data.len--;
			fn(arg, p->event, p->data.data ? p->data.data : "", dn, p->raw.data, p->raw.len, p->overflow);
		}
		tl_buf_reset(&p->raw);
		tl_buf_reset(&p->data);
		p->event[0] = 0;
		p->overflow = 0;
		return;
	}
	if (l[0] == ':')
		goto done;
	const char *colon = memchr(l, ':', n);
	size_t fl = colon ? (size_t)(colon - l) : n;
	const char *v = colon ? colon + 1 : l + n;
	size_t vl = (size_t)(l + n - v);
	if (vl && v[0] == ' ') {
		v++;
		vl--;
	}
	if (fl == 4 && !memcmp(l, "data", 4)) {
		if (p->data.len + vl + 1 > p->max) {
			p->overflow = 1;
		} else {
			tl_buf_append(&p->data, v, vl);
			tl_buf_putc(&p->data, '\n');
		}
	} else if (fl == 5 && !memcmp(l, "event", 5)) {
		size_t c = vl < sizeof p->event - 1 ? vl : sizeof p->event - 1;
		memcpy(p->event, v, c);
		p->event[c] = 0;
	}
done:
	tl_buf_reset(&p->line);
}

void gateway_sse_feed(struct gateway_sse *p, const char *buf, size_t n, gateway_sse_fn fn, void *arg)
{
	size_t i = 0;
	while (i < n) {
		char c = buf[i];
		if (p->pending_cr) {
			p->pending_cr = 0;
			if (c == '\n') {
				tl_buf_putc(&p->raw, c);
				i++;
				continue;
			}
		}
		if (c == '\r' || c == '\n') {
			tl_buf_putc(&p->raw, c);
			if (c == '\r')
				p->pending_cr = 1;
			i++;
			line_done(p, fn, arg);
			continue;
		}
		/* Copy a run of ordinary bytes at once. */
		size_t j = i;
		while (j < n && buf[j] != '\r' && buf[j] != '\n')
			j++;
		tl_buf_append(&p->raw, buf + i, j - i);
		if (p->line.len + (j - i) <= p->max)
			tl_buf_append(&p->line, buf + i, j - i);
		else
			p->overflow = 1;
		i = j;
	}
}

/* ---- traceparent ------------------------------------------------------------- */

static int lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int gateway_traceparent_parse(const char *s, uint8_t trace_id[16], uint8_t span_id[8], uint8_t *flags)
{
	size_t n = s ? strlen(s) : 0;
	uint8_t ver;
	if (n < 55 || !lower_hex(s, 2) || s[2] != '-' || tl_hex_decode(s, 2, &ver, 1) || ver == 0xff)
		return TL_EINVAL;
	if (ver == 0 && n != 55)
		return TL_EINVAL;
	if (ver > 0 && n > 55 && s[55] != '-')
		return TL_EINVAL;
	if (!lower_hex(s + 3, 32) || s[35] != '-' || !lower_hex(s + 36, 16) || s[52] != '-' || !lower_hex(s + 53, 2))
		return TL_EINVAL;
	tl_hex_decode(s + 3, 32, trace_id, 16);
	tl_hex_decode(s + 36, 16, span_id, 8);
	tl_hex_decode(s + 53, 2, flags, 1);
	if (tl_is_zero(trace_id, 16) || tl_is_zero(span_id, 8))
		return TL_EINVAL;
	return 0;
}
