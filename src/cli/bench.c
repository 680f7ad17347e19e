/*
 * bench.c - `tracelamp bench`: a load generator that sends realistic GenAI agent
 * traces over OTLP/HTTP protobuf (one thread per connection, blocking sockets,
 * HTTP/1.1 keep-alive) and reports accepted spans/s, request latency percentiles
 * and errors; and `tracelamp bench query`, which measures query API latencies.
 *
 * The workload: each agent run is one invoke_agent root (INTERNAL) with about ten
 * `chat <model>` CLIENT spans carrying full token usage and about eight
 * `execute_tool <name>` INTERNAL spans. Spans are built as struct tl_span values
 * and encoded with otlp_encode_traces, the same encoder the daemon uses.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"
#include "model/model.h"
#include "otlp/otlp.h"

#define BENCH_MAX_CONNS 256
#define BENCH_MAX_STATUS 600
#define BENCH_RESP_MAX (4u << 20)
#define BENCH_BODY_MAX (256u << 20)
#define BENCH_CHATS 10
#define BENCH_TOOLS 8
#define BENCH_SPANS_PER_TRACE (1 + BENCH_CHATS + BENCH_TOOLS)
#define BENCH_TEXT_BYTES (1u << 20)
/* Attribute slots per span (chat spans use the most). */
#define BENCH_MAX_ATTRS 24

/* ---- options ---------------------------------------------------------------- */

struct bench_opts {
	char host[256];
	char port[16];
	char base_path[256]; /* endpoint path prefix, without trailing slash */
	char tenant[128];
	uint32_t conns;
	uint64_t duration_ns;
	double rate;          /* spans/s, 0 = flat out */
	uint32_t batch_traces;
	uint32_t content_bytes;
	uint64_t seed;
	/* query mode */
	uint32_t n;
};

/* Splits "http://host:port/path" into host, port and path. */
static int parse_url(const char *url, struct bench_opts *o)
{
	const char *p = url, *hend, *pend;
	size_t n;
	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else if (strstr(p, "://"))
		return TL_EINVAL;
	pend = strchr(p, '/');
	if (!pend)
		pend = p + strlen(p);
	hend = memchr(p, ':', (size_t)(pend - p));
	if (hend) {
		n = (size_t)(pend - hend - 1);
		if (n == 0 || n >= sizeof o->port)
			return TL_EINVAL;
		memcpy(o->port, hend + 1, n);
		o->port[n] = 0;
	} else {
		hend = pend;
		snprintf(o->port, sizeof o->port, "80");
	}
	n = (size_t)(hend - p);
	if (n == 0 || n >= sizeof o->host)
		return TL_EINVAL;
	memcpy(o->host, p, n);
	o->host[n] = 0;
	n = strlen(pend);
	while (n > 0 && pend[n - 1] == '/')
		n--;
	if (n >= sizeof o->base_path)
		return TL_EINVAL;
	memcpy(o->base_path, pend, n);
	o->base_path[n] = 0;
	return 0;
}

/* Matches "--name=value" or "--name value"; sets *val and advances *i. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] == 0 && *i + 1 < argc) {
		*val = argv[++*i];
		return 1;
	}
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	if (tl_parse_u64(s, strlen(s), &v) || v > UINT32_MAX)
		return TL_EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: tracelamp bench [--endpoint http://127.0.0.1:4318] [--connections 4] [--duration 10s]\n"
	      "                       [--rate SPANS_PER_S (0 = flat out)] [--batch-traces 5] [--content-bytes 0]\n"
	      "                       [--tenant T] [--seed N]\n"
	      "       tracelamp bench query [--api http://127.0.0.1:7070] [--n 1000] [--tenant T]\n",
	      f);
}

/* ---- random numbers (xorshift64*, per thread) ------------------------------- */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t rnd_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd_next(s) % (uint64_t)(hi - lo + 1));
}

static void rnd_bytes(uint64_t *s, uint8_t *out, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(rnd_next(s) >> 56);
	if (tl_is_zero(out, n))
		out[0] = 1;
}

/* ---- HTTP/1.1 client (blocking, keep-alive) ----------------------------------- */

struct conn {
	int fd;
	uint64_t reused; /* requests sent on this socket (a stale one may fail once) */
	char err[128];   /* why the last call failed */
	const struct bench_opts *o;
	struct tl_buf in; /* bytes read and not yet consumed */
};

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	tl_buf_reset(&c->in);
}

static int conn_open(struct conn *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc = TL_EIO;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(c->o->host, c->o->port, &hints, &res) != 0)
		goto out;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		goto out;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	c->reused = 0;
	tl_buf_reset(&c->in);
	rc = 0;
out:
	if (res)
		freeaddrinfo(res);
	return rc;
}

static int write_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t w = writev(fd, iov, cnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return TL_EIO;
		}
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Reads more bytes into c->in; TL_EIO on error or EOF. */
static int conn_fill(struct conn *c)
{
	ssize_t r;
	int rc;
	if ((rc = tl_buf_reserve(&c->in, 65536)))
		return rc;
	do
		r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = 0; /* EOF: the peer closed the connection */
	if (r <= 0)
		return TL_EIO;
	c->in.len += (size_t)r;
	return 0;
}

/* Case-insensitive header lookup inside the header block [h, end). */
static const char *find_header(const char *h, const char *end, const char *name, size_t *vlen)
{
	size_t n = strlen(name);
	const char *line = h;
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			const char *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		line = eol + 1;
	}
	return NULL;
}

/*
 * Sends one request and reads the whole response. *status gets the HTTP status;
 * the body goes into resp (may be NULL to discard). Returns 0 or TL_EIO on a
 * transport failure (the connection is then closed).
 */
static int http_call(struct conn *c, const char *method, const char *path, const char *ctype,
		     const void *body, size_t blen, int *status, struct tl_buf *resp)
{
	char head[1024];
	struct iovec iov[2];
	int hl, rc = TL_EIO, keep = 1, chunked = 0;
	const char *hend = NULL, *v;
	size_t vlen, hsize, clen = 0;
	uint64_t cl64;
	const char *stage = "connect";
	if (c->fd < 0 && conn_open(c))
		goto out;
	c->reused++;
	stage = "write request";
	hl = snprintf(head, sizeof head,
		      "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: tracelamp-bench\r\n%s%s%s%s%s%s"
		      "Content-Length: %zu\r\n\r\n",
		      method, path, c->o->host, c->o->port, ctype ? "Content-Type: " : "", ctype ? ctype : "",
		      ctype ? "\r\n" : "", c->o->tenant[0] ? "X-Tracelamp-Tenant: " : "", c->o->tenant,
		      c->o->tenant[0] ? "\r\n" : "", blen);
	if (hl < 0 || (size_t)hl >= sizeof head)
		goto out;
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)hl;
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = blen;
	if (write_all(c->fd, iov, blen ? 2 : 1))
		goto out;
	/* Header block. */
	stage = "read response headers";
	for (;;) {
		if (c->in.len >= 4) {
			const char *p = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
			if (p) {
				hend = p + 4;
				break;
			}
		}
		if (c->in.len > 65536 || conn_fill(c))
			goto out;
	}
	hsize = (size_t)(hend - c->in.data);
	stage = "parse status line";
	errno = 0;
	if (hsize < 12 || strncmp(c->in.data, "HTTP/1.", 7) != 0)
		goto out;
	*status = (c->in.data[9] - '0') * 100 + (c->in.data[10] - '0') * 10 + (c->in.data[11] - '0');
	if ((v = find_header(c->in.data, hend, "Connection", &vlen)) && vlen == 5 && strncasecmp(v, "close", 5) == 0)
		keep = 0;
	if ((v = find_header(c->in.data, hend, "Transfer-Encoding", &vlen)) && vlen >= 7 && strncasecmp(v, "chunked", 7) == 0)
		chunked = 1;
	else if ((v = find_header(c->in.data, hend, "Content-Length", &vlen)) && tl_parse_u64(v, vlen, &cl64) == 0)
		clen = cl64 > BENCH_RESP_MAX ? BENCH_RESP_MAX : (size_t)cl64;
	else if (!keep)
		clen = SIZE_MAX; /* body until EOF */
	if (resp)
		tl_buf_reset(resp);
	/* Drop the header block, keep what follows. */
	memmove(c->in.data, c->in.data + hsize, c->in.len - hsize);
	c->in.len -= hsize;
	stage = "read response body";
	if (chunked) {
		for (;;) {
			const char *eol;
			uint64_t n = 0;
			size_t i, linelen;
			while (!(eol = memmem(c->in.data, c->in.len, "\r\n", 2)))
				if (conn_fill(c))
					goto out;
			linelen = (size_t)(eol - c->in.data);
			for (i = 0; i < linelen; i++) {
				char ch = c->in.data[i];
				int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
					: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
				if (d < 0)
					break;
				n = n * 16 + (uint64_t)d;
			}
			if (n > BENCH_RESP_MAX)
				goto out;
			while (c->in.len < linelen + 2 + n + 2)
				if (conn_fill(c))
					goto out;
			if (resp && n && tl_buf_append(resp, c->in.data + linelen + 2, n))
				goto out;
			memmove(c->in.data, c->in.data + linelen + 2 + n + 2, c->in.len - (linelen + 2 + n + 2));
			c->in.len -= linelen + 2 + n + 2;
			if (n == 0)
				break;
		}
	} else if (clen == SIZE_MAX) {
		while (conn_fill(c) == 0)
			;
		if (resp && tl_buf_append(resp, c->in.data, c->in.len))
			goto out;
		c->in.len = 0;
		keep = 0;
	} else {
		while (c->in.len < clen)
			if (conn_fill(c))
				goto out;
		if (resp && clen && tl_buf_append(resp, c->in.data, clen))
			goto out;
		memmove(c->in.data, c->in.data + clen, c->in.len - clen);
		c->in.len -= clen;
	}
	if (!keep)
		conn_close(c);
	rc = 0;
out:
	if (rc) {
		snprintf(c->err, sizeof c->err, "%s: %s", stage, errno ? strerror(errno) : "connection closed by peer");
		conn_close(c);
	}
	return rc;
}

/* ---- latency statistics ----------------------------------------------------- */

struct lat {
	uint32_t *us; /* request latencies in microseconds */
	size_t n, cap;
};

static void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint32_t *p = realloc(l->us, cap * sizeof *p);
		if (!p)
			return; /* drop the sample rather than the run */
		l->us = p;
		l->cap = cap;
	}
	l->us[l->n++] = ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ns / 1000);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Percentile q (0..1) in milliseconds of a sorted sample. */
static double lat_pct(const struct lat *l, double q)
{
	size_t i;
	if (l->n == 0)
		return 0;
	i = (size_t)(q * (double)(l->n - 1) + 0.5);
	return l->us[i] / 1000.0;
}

/* ---- the workload -------------------------------------------------------------- */

struct model_info {
	const char *request;
	const char *response;
	const char *provider;
	const char *server;
	const char *span_name;
	uint32_t weight; /* percent */
	int reasoning;   /* reports reasoning tokens */
	int cache_write; /* reports cache creation tokens */
};

static const struct model_info models[] = {
	{"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai", "api.openai.com", "chat gpt-4o-mini", 40, 0, 0},
	{"gpt-4.1", "gpt-4.1-2025-04-14", "openai", "api.openai.com", "chat gpt-4.1", 20, 1, 0},
	{"claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "anthropic", "api.anthropic.com", "chat claude-sonnet-4-5", 25, 1, 1},
	{"gemini-2.5-flash", "gemini-2.5-flash", "gcp.gemini", "generativelanguage.googleapis.com", "chat gemini-2.5-flash", 15, 1, 0},
};

static const char *const tools[] = {"get_weather", "search_web", "read_file", "run_sql",
				     "send_email", "calculator", "fetch_url", "list_directory"};
static const char *const tool_span_names[] = {
	"execute_tool get_weather", "execute_tool search_web", "execute_tool read_file", "execute_tool run_sql",
	"execute_tool send_email", "execute_tool calculator", "execute_tool fetch_url", "execute_tool list_directory"};
static const char *const agents[] = {"researcher", "planner", "coder", "support"};
static const char *const agent_span_names[] = {"invoke_agent researcher", "invoke_agent planner",
					      "invoke_agent coder", "invoke_agent support"};
static const char *const finish_reasons[] = {"stop", "tool_calls", "length"};

/* Everything one sender thread needs; no state is shared but the rate limiter. */
struct shared;

struct worker {
	pthread_t th;
	struct shared *sh;
	uint32_t idx;
	uint64_t rng;
	struct conn conn;
	struct tl_arena *arena;
	struct tl_buf body;
	struct tl_resource resource;
	struct tl_scope scope;
	struct tl_kv res_attrs[6];
	const char *text;  /* BENCH_TEXT_BYTES of filler words for content */
	/* results */
	struct lat lat;
	uint64_t requests, ok_requests, accepted_spans, transport_errors;
	uint64_t status_count[BENCH_MAX_STATUS];
	char first_err[128];
};

struct shared {
	struct bench_opts o;
	uint64_t deadline_mono;
	/* rate limiter: a token bucket shared by all senders */
	pthread_mutex_t mu;
	double tokens;
	uint64_t last_refill;
	char path[300];
};

static struct tl_str s_c(const char *s)
{
	return tl_str_c(s);
}

static void kv_str(struct tl_kv *kv, const char *k, struct tl_str v)
{
	kv->key = tl_str_c(k);
	kv->v.kind = TL_V_STR;
	kv->v.u.s = v;
}

static void kv_int(struct tl_kv *kv, const char *k, int64_t v)
{
	kv->key = tl_str_c(k);
	kv->v.kind = TL_V_INT;
	kv->v.u.i = v;
}

static void kv_double(struct tl_kv *kv, const char *k, double v)
{
	kv->key = tl_str_c(k);
	kv->v.kind = TL_V_DOUBLE;
	kv->v.u.d = v;
}

/* A formatted string in the request arena. */
static struct tl_str arena_hex(struct tl_arena *a, const char *prefix, uint64_t *rng, size_t nbytes)
{
	uint8_t raw[16];
	size_t pl = strlen(prefix);
	char *p = tl_arena_alloc(a, pl + 2 * nbytes + 1);
	struct tl_str r = {NULL, 0};
	if (!p)
		return r;
	rnd_bytes(rng, raw, nbytes);
	memcpy(p, prefix, pl);
	tl_hex_encode(raw, nbytes, p + pl);
	r.p = p;
	r.n = pl + 2 * nbytes;
	return r;
}

/* A JSON messages string with about n bytes of text from the filler. */
static struct tl_str content_json(struct worker *w, const char *role, uint32_t n)
{
	static const char pre_fmt[] = "[{\"role\":\"%s\",\"parts\":[{\"type\":\"text\",\"content\":\"";
	static const char post[] = "\"}]}]";
	char pre[96];
	int pl = snprintf(pre, sizeof pre, pre_fmt, role);
	size_t off = rnd_next(&w->rng) % (BENCH_TEXT_BYTES - n);
	char *p = tl_arena_alloc(w->arena, (size_t)pl + n + sizeof post);
	struct tl_str r = {NULL, 0};
	if (!p || pl < 0)
		return r;
	memcpy(p, pre, (size_t)pl);
	memcpy(p + pl, w->text + off, n);
	memcpy(p + pl + n, post, sizeof post);
	r.p = p;
	r.n = (size_t)pl + n + sizeof post - 1;
	return r;
}

static const struct model_info *pick_model(uint64_t *rng)
{
	uint32_t r = rnd_range(rng, 1, 100), acc = 0;
	size_t i;
	for (i = 0; i < sizeof models / sizeof models[0]; i++) {
		acc += models[i].weight;
		if (r <= acc)
			return &models[i];
	}
	return &models[0];
}

/*
 * Builds one agent run into spans[0..BENCH_SPANS_PER_TRACE) (arena memory).
 * Times end at `now`; the run lasts the sum of its children.
 */
static int build_trace(struct worker *w, struct tl_span *spans, uint64_t now)
{
	uint8_t trace_id[16], root_id[8];
	const struct model_info *m = pick_model(&w->rng);
	uint32_t agent = rnd_range(&w->rng, 0, 3);
	struct tl_str conv = arena_hex(w->arena, "conv_", &w->rng, 8);
	struct tl_str run = arena_hex(w->arena, "run_", &w->rng, 8);
	uint64_t t, durs[BENCH_SPANS_PER_TRACE], total = 0;
	uint32_t i, chat = 0, tool = 0;
	int64_t context_tokens = rnd_range(&w->rng, 800, 4000);
	struct tl_kv *kv;
	uint32_t nkv;
	uint32_t cb = w->sh->o.content_bytes;

	rnd_bytes(&w->rng, trace_id, 16);
	rnd_bytes(&w->rng, root_id, 8);
	/* Order of children: chat, then tool/chat alternating, ending with chat. */
	for (i = 1; i < BENCH_SPANS_PER_TRACE; i++) {
		int is_chat = (i % 2 == 1) || tool >= BENCH_TOOLS;
		durs[i] = is_chat ? rnd_range(&w->rng, 300, 3000) * 1000000ull : rnd_range(&w->rng, 5, 500) * 1000000ull;
		total += durs[i] + 1000000ull;
		if (!is_chat)
			tool++;
	}
	tool = 0;
	t = now - total - 2000000ull;

	for (i = 0; i < BENCH_SPANS_PER_TRACE; i++) {
		struct tl_span *s = &spans[i];
		memset(s, 0, sizeof *s);
		memcpy(s->trace_id, trace_id, 16);
		s->resource = &w->resource;
		s->scope = &w->scope;
		s->flags = 0x101;
		s->status_code = TL_STATUS_UNSET;
		kv = tl_arena_zalloc(w->arena, BENCH_MAX_ATTRS * sizeof *kv);
		if (!kv)
			return TL_ENOMEM;
		nkv = 0;
		if (i == 0) {
			memcpy(s->span_id, root_id, 8);
			s->name = s_c(agent_span_names[agent]);
			s->kind = TL_KIND_INTERNAL;
			s->start_unix_nano = t;
			s->end_unix_nano = now;
			kv_str(&kv[nkv++], "gen_ai.operation.name", s_c("invoke_agent"));
			kv_str(&kv[nkv++], "gen_ai.agent.name", s_c(agents[agent]));
			kv_str(&kv[nkv++], "gen_ai.agent.id", s_c(agents[agent]));
			kv_str(&kv[nkv++], "gen_ai.provider.name", s_c(m->provider));
			kv_str(&kv[nkv++], "gen_ai.request.model", s_c(m->request));
			kv_str(&kv[nkv++], "gen_ai.conversation.id", conv);
			kv_str(&kv[nkv++], "tracelamp.run.id", run);
			t += 1000000ull;
		} else {
			int is_chat = (i % 2 == 1) || tool >= BENCH_TOOLS;
			rnd_bytes(&w->rng, s->span_id, 8);
			memcpy(s->parent_span_id, root_id, 8);
			s->has_parent = 1;
			s->start_unix_nano = t;
			s->end_unix_nano = t + durs[i];
			t += durs[i] + 1000000ull;
			if (is_chat) {
				int64_t in = context_tokens, out = rnd_range(&w->rng, 50, 1500);
				int64_t cache_read = chat > 0 ? in * rnd_range(&w->rng, 50, 90) / 100 : 0;
				int64_t cache_write = m->cache_write && chat == 0 ? in * 8 / 10 : 0;
				int64_t reasoning = m->reasoning ? out * rnd_range(&w->rng, 0, 40) / 100 : 0;
				const char *fr = chat + 1 == BENCH_CHATS ? finish_reasons[0] : finish_reasons[rnd_range(&w->rng, 1, 20) == 1 ? 2 : 1];
				struct tl_value *arr = tl_arena_zalloc(w->arena, sizeof *arr);
				if (!arr)
					return TL_ENOMEM;
				s->name = s_c(m->span_name);
				s->kind = TL_KIND_CLIENT;
				kv_str(&kv[nkv++], "gen_ai.operation.name", s_c("chat"));
				kv_str(&kv[nkv++], "gen_ai.provider.name", s_c(m->provider));
				kv_str(&kv[nkv++], "gen_ai.request.model", s_c(m->request));
				kv_str(&kv[nkv++], "gen_ai.response.model", s_c(m->response));
				kv_str(&kv[nkv++], "gen_ai.response.id", arena_hex(w->arena, "chatcmpl-", &w->rng, 12));
				arr->kind = TL_V_STR;
				arr->u.s = s_c(fr);
				kv[nkv].key = s_c("gen_ai.response.finish_reasons");
				kv[nkv].v.kind = TL_V_ARRAY;
				kv[nkv].v.u.arr.items = arr;
				kv[nkv].v.u.arr.n = 1;
				nkv++;
				kv_int(&kv[nkv++], "gen_ai.usage.input_tokens", in);
				kv_int(&kv[nkv++], "gen_ai.usage.output_tokens", out);
				kv_int(&kv[nkv++], "gen_ai.usage.cache_read.input_tokens", cache_read);
				kv_int(&kv[nkv++], "gen_ai.usage.cache_creation.input_tokens", cache_write);
				kv_int(&kv[nkv++], "gen_ai.usage.reasoning.output_tokens", reasoning);
				kv_int(&kv[nkv++], "gen_ai.request.max_tokens", 4096);
				kv_double(&kv[nkv++], "gen_ai.request.temperature", 0.2);
				kv_str(&kv[nkv++], "gen_ai.conversation.id", conv);
				kv_str(&kv[nkv++], "server.address", s_c(m->server));
				kv_int(&kv[nkv++], "server.port", 443);
				if (cb) {
					kv_str(&kv[nkv++], "gen_ai.input.messages", content_json(w, "user", cb));
					kv_str(&kv[nkv++], "gen_ai.output.messages", content_json(w, "assistant", cb / 2 + 1));
				}
				context_tokens += out + rnd_range(&w->rng, 100, 1200);
				chat++;
			} else {
				uint32_t k = rnd_range(&w->rng, 0, BENCH_TOOLS - 1);
				s->name = s_c(tool_span_names[k]);
				s->kind = TL_KIND_INTERNAL;
				kv_str(&kv[nkv++], "gen_ai.operation.name", s_c("execute_tool"));
				kv_str(&kv[nkv++], "gen_ai.tool.name", s_c(tools[k]));
				kv_str(&kv[nkv++], "gen_ai.tool.type", s_c("function"));
				kv_str(&kv[nkv++], "gen_ai.tool.call.id", arena_hex(w->arena, "call_", &w->rng, 12));
				if (rnd_range(&w->rng, 1, 50) == 1) {
					s->status_code = TL_STATUS_ERROR;
					s->status_message = s_c("tool timed out");
					kv_str(&kv[nkv++], "error.type", s_c("timeout"));
				}
				tool++;
			}
		}
		s->attrs.items = kv;
		s->attrs.n = nkv;
	}
	return 0;
}

/* Builds and encodes one request of batch_traces runs into w->body. */
static int build_request(struct worker *w, uint32_t *nspans)
{
	uint32_t bt = w->sh->o.batch_traces, i, n = bt * BENCH_SPANS_PER_TRACE;
	struct tl_span *spans;
	const struct tl_span **ptrs;
	uint64_t now = tl_now_unix_nano();
	int rc;
	tl_arena_reset(w->arena);
	tl_buf_reset(&w->body);
	spans = tl_arena_alloc(w->arena, n * sizeof *spans);
	ptrs = tl_arena_alloc(w->arena, n * sizeof *ptrs);
	if (!spans || !ptrs)
		return TL_ENOMEM;
	for (i = 0; i < bt; i++)
		if ((rc = build_trace(w, spans + i * BENCH_SPANS_PER_TRACE, now)))
			return rc;
	for (i = 0; i < n; i++)
		ptrs[i] = &spans[i];
	*nspans = n;
	return otlp_encode_traces(&w->body, ptrs, n, 0);
}

/* Waits until the shared token bucket has n spans' worth of tokens. */
static void rate_wait(struct shared *sh, uint32_t n)
{
	double rate = sh->o.rate, burst;
	if (rate <= 0)
		return;
	/* Allow a burst of a tenth of a second, and always at least one request. */
	burst = rate / 10 > (double)n ? rate / 10 : (double)n;
	for (;;) {
		double wait_s;
		uint64_t now;
		/* Read the clock under the lock so last_refill never moves backwards. */
		pthread_mutex_lock(&sh->mu);
		now = tl_mono_nano();
		sh->tokens += (double)(now - sh->last_refill) / 1e9 * rate;
		if (sh->tokens > burst)
			sh->tokens = burst;
		sh->last_refill = now;
		if (sh->tokens >= n) {
			sh->tokens -= n;
			pthread_mutex_unlock(&sh->mu);
			return;
		}
		wait_s = ((double)n - sh->tokens) / rate;
		pthread_mutex_unlock(&sh->mu);
		{
			struct timespec ts = {(time_t)wait_s, (long)((wait_s - (double)(time_t)wait_s) * 1e9)};
			nanosleep(&ts, NULL);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	while (tl_mono_nano() < sh->deadline_mono) {
		uint32_t nspans = 0;
		int status = 0;
		uint64_t t0;
		if (build_request(w, &nspans)) {
			w->transport_errors++;
			break;
		}
		rate_wait(sh, nspans);
		if (tl_mono_nano() >= sh->deadline_mono)
			break;
		t0 = tl_mono_nano();
		w->requests++;
		if (http_call(&w->conn, "POST", sh->path, "application/x-protobuf", w->body.data, w->body.len, &status, NULL) &&
		    (w->conn.reused <= 1 ||
		     http_call(&w->conn, "POST", sh->path, "application/x-protobuf", w->body.data, w->body.len, &status, NULL))) {
			w->transport_errors++;
			if (!w->first_err[0])
				snprintf(w->first_err, sizeof w->first_err, "%s", w->conn.err);
			/* Back off briefly so a dead server does not spin the CPU. */
			usleep(10000);
			continue;
		}
		lat_add(&w->lat, tl_mono_nano() - t0);
		if (status > 0 && status < BENCH_MAX_STATUS)
			w->status_count[status]++;
		if (status == 200) {
			w->ok_requests++;
			w->accepted_spans += nspans;
		} else if (status == 429 || status == 503) {
			usleep(20000);
		}
	}
	conn_close(&w->conn);
	return NULL;
}

/* Pseudo-English filler for message content (compresses like real text). */
static char *make_text(uint64_t seed)
{
	static const char *const words[] = {"the", "model", "agent", "returns", "a", "tool", "call", "with", "weather",
		"data", "for", "Paris", "and", "then", "summarises", "results", "in", "JSON", "user", "asked", "about",
		"quarterly", "revenue", "figures", "please", "check", "file", "report", "contains", "error", "retry",
		"latency", "tokens", "context", "window", "function", "arguments", "city", "temperature", "forecast"};
	char *t = malloc(BENCH_TEXT_BYTES);
	size_t off = 0;
	uint64_t rng = seed | 1;
	if (!t)
		return NULL;
	while (off < BENCH_TEXT_BYTES) {
		const char *wd = words[rnd_next(&rng) % (sizeof words / sizeof words[0])];
		size_t n = strlen(wd);
		if (off + n + 1 > BENCH_TEXT_BYTES) {
			memset(t + off, ' ', BENCH_TEXT_BYTES - off);
			break;
		}
		memcpy(t + off, wd, n);
		t[off + n] = (rnd_next(&rng) % 12 == 0) ? '.' : ' ';
		off += n + 1;
	}
	return t;
}

static void worker_init_resource(struct worker *w)
{
	struct tl_kv *a = w->res_attrs;
	kv_str(&a[0], "service.name", s_c("bench-agent"));
	kv_str(&a[1], "service.version", s_c("1.4.2"));
	kv_str(&a[2], "telemetry.sdk.name", s_c("opentelemetry"));
	kv_str(&a[3], "telemetry.sdk.language", s_c("python"));
	kv_str(&a[4], "telemetry.sdk.version", s_c("1.38.0"));
	kv_str(&a[5], "deployment.environment.name", s_c("bench"));
	w->resource.attrs.items = a;
	w->resource.attrs.n = 6;
	w->resource.service = s_c("bench-agent");
	w->scope.name = s_c("opentelemetry.instrumentation.openai_v2");
	w->scope.version = s_c("2.1b0");
}

static int bench_ingest(struct shared *sh)
{
	struct worker *ws = NULL;
	struct lat all = {NULL, 0, 0};
	uint64_t t_start, t_end, requests = 0, ok = 0, spans = 0, terr = 0;
	uint64_t status[BENCH_MAX_STATUS];
	uint32_t i, started = 0;
	char *text = NULL;
	int rc = 1, s;
	double secs;

	memset(status, 0, sizeof status);
	ws = calloc(sh->o.conns, sizeof *ws);
	if (sh->o.content_bytes)
		text = make_text(sh->o.seed);
	if (!ws || (sh->o.content_bytes && !text)) {
		fprintf(stderr, "bench: out of memory\n");
		goto out;
	}
	printf("bench: endpoint=http://%s:%s%s connections=%u duration=%.1fs rate=%s batch_traces=%u "
	       "(%u spans/request) content_bytes=%u\n",
	       sh->o.host, sh->o.port, sh->path, sh->o.conns, (double)sh->o.duration_ns / 1e9,
	       sh->o.rate > 0 ? "limited" : "flat-out", sh->o.batch_traces, sh->o.batch_traces * BENCH_SPANS_PER_TRACE,
	       sh->o.content_bytes);
	if (sh->o.rate > 0)
		printf("bench: rate limit %.0f spans/s\n", sh->o.rate);
	fflush(stdout);
	t_start = tl_mono_nano();
	sh->deadline_mono = t_start + sh->o.duration_ns;
	sh->last_refill = t_start;
	for (i = 0; i < sh->o.conns; i++) {
		struct worker *w = &ws[i];
		w->sh = sh;
		w->idx = i;
		w->rng = (sh->o.seed + 0x9E3779B97F4A7C15ULL * (i + 1)) | 1;
		w->conn.fd = -1;
		w->conn.o = &sh->o;
		w->text = text;
		tl_buf_init(&w->conn.in, BENCH_RESP_MAX + 65536);
		tl_buf_init(&w->body, BENCH_BODY_MAX);
		w->arena = tl_arena_create(4u << 20, 0);
		if (!w->arena)
			break;
		worker_init_resource(w);
		if (pthread_create(&w->th, NULL, worker_main, w))
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(ws[i].th, NULL);
	t_end = tl_mono_nano();
	for (i = 0; i < started; i++) {
		struct worker *w = &ws[i];
		requests += w->requests;
		ok += w->ok_requests;
		spans += w->accepted_spans;
		terr += w->transport_errors;
		for (s = 0; s < BENCH_MAX_STATUS; s++)
			status[s] += w->status_count[s];
		if (w->lat.n) {
			uint32_t *p = realloc(all.us, (all.n + w->lat.n) * sizeof *p);
			if (p) {
				memcpy(p + all.n, w->lat.us, w->lat.n * sizeof *p);
				all.us = p;
				all.n += w->lat.n;
			}
		}
	}
	if (all.n)
		qsort(all.us, all.n, sizeof *all.us, cmp_u32);
	secs = (double)(t_end - t_start) / 1e9;
	printf("requests: %llu (ok %llu, failed %llu)\n", (unsigned long long)requests, (unsigned long long)ok,
	       (unsigned long long)(requests - ok));
	printf("accepted spans: %llu\n", (unsigned long long)spans);
	printf("accepted spans/s: %.0f\n", secs > 0 ? (double)spans / secs : 0.0);
	printf("request latency ms: p50 %.2f p99 %.2f max %.2f\n", lat_pct(&all, 0.50), lat_pct(&all, 0.99),
	       lat_pct(&all, 1.0));
	printf("errors:");
	if (terr)
		printf(" transport=%llu", (unsigned long long)terr);
	for (s = 0; s < BENCH_MAX_STATUS; s++)
		if (s != 200 && status[s])
			printf(" %d=%llu", s, (unsigned long long)status[s]);
	if (!terr && requests == ok)
		printf(" none");
	printf("\n");
	for (i = 0; i < started; i++) {
		if (ws[i].first_err[0]) {
			printf("first transport error: %s\n", ws[i].first_err);
			break;
		}
	}
	/* One machine-readable line for bench/run.sh. */
	printf("RESULT ingest requests=%llu ok=%llu spans=%llu seconds=%.3f spans_per_s=%.0f p50_ms=%.3f p99_ms=%.3f "
	       "errors=%llu\n",
	       (unsigned long long)requests, (unsigned long long)ok, (unsigned long long)spans, secs,
	       secs > 0 ? (double)spans / secs : 0.0, lat_pct(&all, 0.50), lat_pct(&all, 0.99),
	       (unsigned long long)(requests - ok));
	rc = ok > 0 ? 0 : 1;
out:
	if (ws) {
		for (i = 0; i < sh->o.conns; i++) {
			tl_buf_cleanup(&ws[i].conn.in);
			tl_buf_cleanup(&ws[i].body);
			tl_arena_destroy(ws[i].arena);
			free(ws[i].lat.us);
		}
	}
	free(ws);
	free(all.us);
	free(text);
	return rc;
}

/* ---- query mode ------------------------------------------------------------------ */

/* Measures n GETs of paths produced by next_path; prints and returns 0 if all 200. */
static int measure(struct conn *c, const char *label, uint32_t n, char (*ids)[33], size_t nids, uint64_t *rng,
		   const char *fixed_path)
{
	struct lat l = {NULL, 0, 0};
	struct tl_buf resp;
	uint32_t i, bad = 0;
	int rc = 0;
	char path[512];
	tl_buf_init(&resp, BENCH_RESP_MAX * 8);
	for (i = 0; i < n; i++) {
		int status = 0;
		uint64_t t0;
		if (fixed_path)
			snprintf(path, sizeof path, "%s", fixed_path);
		else
			snprintf(path, sizeof path, "%s/api/v1/traces/%s", c->o->base_path, ids[rnd_next(rng) % nids]);
		t0 = tl_mono_nano();
		if (http_call(c, "GET", path, NULL, NULL, 0, &status, &resp) || status != 200) {
			if (bad++ == 0)
				fprintf(stderr, "bench: %s: GET %s -> %d %.*s\n", label, path, status,
					(int)(resp.len > 200 ? 200 : resp.len), resp.data ? resp.data : "");
			continue;
		}
		lat_add(&l, tl_mono_nano() - t0);
	}
	if (l.n)
		qsort(l.us, l.n, sizeof *l.us, cmp_u32);
	printf("%-14s n=%u errors=%u p50 %.3f ms p99 %.3f ms max %.3f ms\n", label, n, bad, lat_pct(&l, 0.5),
	       lat_pct(&l, 0.99), lat_pct(&l, 1.0));
	printf("RESULT query %s n=%u errors=%u p50_ms=%.3f p99_ms=%.3f\n", label, n, bad, lat_pct(&l, 0.5),
	       lat_pct(&l, 0.99));
	if (bad)
		rc = 1;
	free(l.us);
	tl_buf_cleanup(&resp);
	return rc;
}

static int bench_query(struct bench_opts *o)
{
	struct conn c;
	struct tl_buf resp;
	char (*ids)[33] = NULL;
	size_t nids = 0, cap = 1000;
	char path[512];
	int status = 0, rc = 1;
	const char *p, *end;
	uint64_t rng = o->seed | 1;
	uint64_t now_s = tl_now_unix_nano() / 1000000000ull;
	uint64_t start_s = now_s - 24 * 3600;
	unsigned k;

	memset(&c, 0, sizeof c);
	c.fd = -1;
	c.o = o;
	tl_buf_init(&c.in, BENCH_RESP_MAX * 8);
	tl_buf_init(&resp, BENCH_RESP_MAX * 8);
	ids = calloc(cap, sizeof *ids);
	if (!ids)
		goto out;
	/* Known ids spread over the store's age: windows ending 1 s, 2 s, 4 s, ...
	 * 18 h ago, so trace-by-id also reads old traces, not only recent ones. */
	for (k = 0; k <= 16 && nids < cap; k++) {
		uint64_t end_s = now_s - (1ull << k);
		snprintf(path, sizeof path, "%s/api/v1/traces?limit=60&start=%llu&end=%llu", o->base_path,
			 (unsigned long long)start_s, (unsigned long long)end_s);
		if (http_call(&c, "GET", path, NULL, NULL, 0, &status, &resp) || status != 200) {
			fprintf(stderr, "bench query: GET %s -> %d\n", path, status);
			goto out;
		}
		p = resp.data;
		end = resp.data + resp.len;
		while (p && nids < cap) {
			p = memmem(p, (size_t)(end - p), "\"trace_id\":\"", 12);
			if (!p || end - p < 12 + 32)
				break;
			memcpy(ids[nids], p + 12, 32);
			ids[nids][32] = 0;
			nids++;
			p += 12 + 32;
		}
	}
	if (nids == 0) {
		fprintf(stderr, "bench query: no traces stored; run the ingest bench first\n");
		goto out;
	}
	printf("bench query: api=http://%s:%s%s n=%u (%zu known trace ids, from windows ending 1 s to 18 h ago)\n",
	       o->host, o->port, o->base_path, o->n, nids);
	rc = 0;
	rc |= measure(&c, "trace_by_id", o->n, ids, nids, &rng, NULL);
	snprintf(path, sizeof path, "%s/api/v1/traces?limit=50", o->base_path);
	rc |= measure(&c, "list_newest50", o->n, ids, nids, &rng, path);
	snprintf(path, sizeof path, "%s/api/v1/stats?group_by=model&start=%llu", o->base_path,
		 (unsigned long long)start_s);
	rc |= measure(&c, "stats_by_model", o->n, ids, nids, &rng, path);
out:
	conn_close(&c);
	tl_buf_cleanup(&c.in);
	tl_buf_cleanup(&resp);
	free(ids);
	return rc;
}

/* ---- entry point ----------------------------------------------------------------- */

/* Parses the option at argv[*i] (advancing *i past its value). Returns 0, 1 for an
 * unknown option, or -1 for a bad value. */
static int parse_opt(struct bench_opts *o, int argc, char **argv, int *i, const char **url)
{
	const char *v;
	if (opt_value(argc, argv, i, "--endpoint", &v) || opt_value(argc, argv, i, "--api", &v)) {
		*url = v;
		return 0;
	}
	if (opt_value(argc, argv, i, "--connections", &v))
		return parse_u32(v, &o->conns) || o->conns == 0 || o->conns > BENCH_MAX_CONNS ? -1 : 0;
	if (opt_value(argc, argv, i, "--duration", &v))
		return tl_parse_duration(v, &o->duration_ns) || o->duration_ns == 0 ? -1 : 0;
	if (opt_value(argc, argv, i, "--rate", &v))
		return tl_parse_double(v, strlen(v), &o->rate) || o->rate < 0 ? -1 : 0;
	if (opt_value(argc, argv, i, "--batch-traces", &v))
		return parse_u32(v, &o->batch_traces) || o->batch_traces == 0 || o->batch_traces > 10000 ? -1 : 0;
	if (opt_value(argc, argv, i, "--content-bytes", &v))
		return parse_u32(v, &o->content_bytes) || o->content_bytes > BENCH_TEXT_BYTES / 2 ? -1 : 0;
	if (opt_value(argc, argv, i, "--seed", &v))
		return tl_parse_u64(v, strlen(v), &o->seed) ? -1 : 0;
	if (opt_value(argc, argv, i, "--n", &v))
		return parse_u32(v, &o->n) || o->n == 0 ? -1 : 0;
	if (opt_value(argc, argv, i, "--tenant", &v)) {
		if (strlen(v) >= sizeof o->tenant || strpbrk(v, "\r\n"))
			return -1;
		snprintf(o->tenant, sizeof o->tenant, "%s", v);
		return 0;
	}
	return 1;
}

int cli_bench(int argc, char **argv)
{
	struct shared *sh = NULL;
	struct bench_opts *o;
	int i, query = 0, rc = 2, i0 = 1, r;
	const char *url = NULL;

	sh = calloc(1, sizeof *sh);
	if (!sh)
		return 1;
	o = &sh->o;
	o->conns = 4;
	o->duration_ns = 10000000000ull;
	o->batch_traces = 5;
	o->n = 1000;
	o->seed = (uint64_t)time(NULL);
	if (argc > 1 && strcmp(argv[1], "query") == 0) {
		query = 1;
		i0 = 2;
	}
	for (i = i0; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		if ((r = parse_opt(o, argc, argv, &i, &url)) != 0) {
			fprintf(stderr, "bench: %s %s\n", r > 0 ? "unknown argument" : "bad value in", argv[i]);
			usage(stderr);
			goto out;
		}
	}
	if (!url)
		url = query ? "http://127.0.0.1:7070" : "http://127.0.0.1:4318";
	if (parse_url(url, o)) {
		fprintf(stderr, "bench: bad URL %s (want http://host:port)\n", url);
		goto out;
	}
	if (query) {
		rc = bench_query(o);
		goto out;
	}
	snprintf(sh->path, sizeof sh->path, "%s/v1/traces", o->base_path);
	pthread_mutex_init(&sh->mu, NULL);
	rc = bench_ingest(sh);
	pthread_mutex_destroy(&sh->mu);
out:
	free(sh);
	return rc;
}
