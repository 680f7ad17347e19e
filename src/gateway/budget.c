/*
 * budget.c - per-tenant request and token budgets over fixed windows (the
 * current UTC minute and day). Requests are counted at admission; tokens when
 * a call finishes, so a call in flight can overshoot a token budget once, and
 * the next request is refused until the window rolls over.
 */
#include "gateway/gateway_int.h"

static void roll(struct gateway_budget_state *s, uint64_t now_s)
{
	uint64_t minute = now_s / 60, day = now_s / 86400;
	if (s->minute != minute) {
		s->minute = minute;
		s->req_minute = 0;
		s->tok_minute = 0;
	}
	if (s->day != day) {
		s->day = day;
		s->req_day = 0;
		s->tok_day = 0;
	}
}

int gateway_budget_admit(struct gateway_budget_state *s, const struct gateway_budget *b, uint64_t now_s)
{
	roll(s, now_s);
	if (b->requests_per_minute && s->req_minute >= b->requests_per_minute)
		return GATEWAY_BUDGET_REQ_MINUTE;
	if (b->requests_per_day && s->req_day >= b->requests_per_day)
		return GATEWAY_BUDGET_REQ_DAY;
	if (b->tokens_per_minute && s->tok_minute >= b->tokens_per_minute)
		return GATEWAY_BUDGET_TOK_MINUTE;
	if (b->tokens_per_day && s->tok_day >= b->tokens_per_day)
		return GATEWAY_BUDGET_TOK_DAY;
	s->req_minute++;
	s->req_day++;
	return GATEWAY_BUDGET_OK;
}

void gateway_budget_charge(struct gateway_budget_state *s, uint64_t tokens, uint64_t now_s)
{
	roll(s, now_s);
	s->tok_minute += tokens;
	s->tok_day += tokens;
}

uint64_t gateway_budget_retry_after(int verdict, uint64_t now_s)
{
	if (verdict == GATEWAY_BUDGET_REQ_DAY || verdict == GATEWAY_BUDGET_TOK_DAY)
		return 86400 - now_s % 86400;
	return 60 - now_s % 60;
}

const char *gateway_budget_what(int verdict)
{
	switch (verdict) {
	case GATEWAY_BUDGET_REQ_MINUTE: return "requests per minute";
	case GATEWAY_BUDGET_REQ_DAY: return "requests per day";
	case GATEWAY_BUDGET_TOK_MINUTE: return "tokens per minute";
	case GATEWAY_BUDGET_TOK_DAY: return "tokens per day";
	}
	return "none";
}
