/*
 * logrec.c - the two facts every consumer of a log record needs and real clients
 * make awkward (protocols.md 9): its time (Codex leaves time_unix_nano 0 and
 * sets only the observed time) and its event name (Claude Code puts it in the
 * event.name attribute and the body, OTel instrumentations in event_name).
 */
#include "model/model.h"

#include <string.h>

uint64_t model_log_time(const struct tl_log_record *r)
{
	return r->time_unix_nano ? r->time_unix_nano : r->observed_time_unix_nano;
}

/* A body string that names an event: "claude_code.api_request", not prose. */
static int looks_like_name(struct tl_str s)
{
	int dot = 0;
	if (s.n == 0 || s.n > 128)
		return 0;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c <= ' ' || c >= 0x7f)
			return 0;
		dot |= c == '.';
	}
	return dot;
}

struct tl_str model_log_event_name(const struct tl_log_record *r)
{
	const struct tl_value *v = tl_attrs_get(&r->attrs, "event.name");
	if (v && v->kind == TL_V_STR && v->u.s.n)
		return v->u.s;
	if (r->event_name.n)
		return r->event_name;
	if (r->body.kind == TL_V_STR && looks_like_name(r->body.u.s))
		return r->body.u.s;
	return TL_STR_NULL;
}
