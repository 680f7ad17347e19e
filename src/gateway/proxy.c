/*
 * proxy.c - the gateway's HTTP side: an evhttp listener on the gateway's own
 * event_base and the libcurl multi interface driven by the same loop
 * (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION -> libevent events), so every call is
 * a state machine on one thread:
 *
 *   request -> auth -> limits -> parse -> route -> budget -> attempt(upstream i)
 *     attempt: headers arrive -> 429/5xx with a fallback left: discard, next upstream
 *                             -> text/event-stream: reply starts, chunks forwarded as they come
 *                             -> anything else: buffered (bounded), replied whole at the end
 *   -> spans (spans.c) -> metrics, budget charge, free.
 *
 * A client that hangs up cancels its upstream transfer (the connection's close
 * callback removes the easy handle).
 */
#include "gateway/gateway_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

/* ---- small helpers ------------------------------------------------------------ */

static uint64_t rng_next(struct gateway *g)
{
	/* splitmix64: ids need uniqueness, not secrecy; the seed comes from getrandom. */
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void new_id(struct gateway *g, uint8_t *out, size_t n)
{
	do {
		for (size_t i = 0; i < n; i += 8) {
			uint64_t v = rng_next(g);
			memcpy(out + i, &v, n - i < 8 ? n - i : 8);
		}
	} while (tl_is_zero(out, n));
}

static int ct_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return NULL;
}

/* ---- request lifecycle ------------------------------------------------------------ */

static void attempt_start(struct gw_req *r);

static void req_unlink(struct gw_req *r)
{
	struct gateway *g = r->g;
	if (r->prev)
		r->prev->next = r->next;
	else if (g->reqs == r)
		g->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void easy_release(struct gw_req *r)
{
	struct gateway *g = r->g;
	if (r->easy) {
		curl_multi_remove_handle(g->multi, r->easy);
		if (g->n_easy_pool < (int)(sizeof g->easy_pool / sizeof g->easy_pool[0]))
			g->easy_pool[g->n_easy_pool++] = r->easy;
		else
			curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
}

static void req_free(struct gw_req *r)
{
	if (r->watch) {
		event_free(r->watch);
		r->watch = NULL;
	}
	easy_release(r);
	req_unlink(r);
	if (r->counted_inflight) {
		r->g->inflight--;
		gateway__metrics_inflight(r->g->metrics, -1);
	}
	if (r->json)
		json_decref(r->json);
	free(r->body);
	tl_buf_cleanup(&r->resp);
	gateway_sse_cleanup(&r->sse);
	gateway_result_cleanup(&r->res);
	if (r->chunk)
		evbuffer_free(r->chunk);
	free(r);
}

/* Detaches our callbacks from the client connection: after this libevent owns
 * the request (the final reply frees it). */
static void detach_client(struct gw_req *r)
{
	if (r->watch) {
		event_free(r->watch);
		r->watch = NULL;
	}
	if (r->req) {
		struct evhttp_connection *c = evhttp_request_get_connection(r->req);
		if (c)
			evhttp_connection_set_closecb(c, NULL, NULL);
		evhttp_request_set_on_complete_cb(r->req, NULL, NULL);
	}
}

/* Everything after the reply: metrics, budget, spans, free. */
static void req_finish(struct gw_req *r)
{
	struct gateway *g = r->g;
	r->end_ns = tl_now_unix_nano();
	r->end_mono = tl_mono_nano();
	gateway_result_finish(&r->res, r->api);
	if (r->budget && r->res.have_usage) {
		uint64_t t = 0;
		if (r->res.input > 0)
			t += (uint64_t)r->res.input;
		if (r->res.output > 0)
			t += (uint64_t)r->res.output;
		gateway_budget_charge(r->budget, t, r->end_ns / 1000000000ull);
	}
	gateway__emit_spans(g, r);
	req_free(r);
}

static void add_out_header(struct gw_req *r, const char *k, const char *v)
{
	if (r->req)
		evhttp_add_header(evhttp_request_get_output_headers(r->req), k, v);
}

/* Replies with an error in the provider's shape and finishes. */
static void reply_error(struct gw_req *r, int status, const char *type, const char *code, const char *msg,
			const char *refused)
{
	json_t *o;
	char *s;
	if (refused)
		gateway__metrics_refused(r->g->metrics, r->tenant ? r->tenant : "unknown", refused);
	snprintf(r->error_type, sizeof r->error_type, "%s", code ? code : type);
	r->final_status = status;
	if (r->client_api == GATEWAY_API_ANTHROPIC)
		o = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", type, "message", msg);
	else
		o = json_pack("{s:{s:s, s:s, s:n, s:s?}}", "error", "message", msg, "type", type, "param", "code", code);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (r->req) {
		detach_client(r);
		add_out_header(r, "Content-Type", "application/json");
		if (s)
			evbuffer_add(evhttp_request_get_output_buffer(r->req), s, strlen(s));
		evhttp_send_reply(r->req, status, reason_phrase(status), NULL);
		r->req = NULL;
	}
	free(s);
	req_finish(r);
}

/* ---- client connection events ----------------------------------------------------- */

static void client_gone(struct gw_req *r)
{
	r->client_gone = 1;
	/* 499 (nginx's "client closed request") unless a reply had started. */
	if (!r->final_status)
		r->final_status = r->reply_started ? r->status : 499;
	snprintf(r->error_type, sizeof r->error_type, "client_disconnected");
	easy_release(r);
	req_finish(r);
}

static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct gw_req *r = arg;
	(void)conn;
	if (r->req && evhttp_request_get_connection(r->req) == NULL) {
		/* libevent detached the request on EOF: it is ours to free. */
		evhttp_request_free(r->req);
	}
	r->req = NULL;
	client_gone(r);
}

/*
 * libevent 2.1 does not read from a connection while its request is being
 * handled, so a client that hangs up before the reply is only noticed at the
 * next write. This one-shot read event peeks at the socket: end of file or
 * an error means the client is gone; pipelined bytes mean it is not (and we
 * stop watching).
 */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct gw_req *r = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	(void)what;
	if (n > 0)
		return;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(r->watch, NULL);
		return;
	}
	struct evhttp_connection *conn = r->req ? evhttp_request_get_connection(r->req) : NULL;
	event_free(r->watch);
	r->watch = NULL;
	if (conn) {
		evhttp_connection_set_closecb(conn, NULL, NULL);
		evhttp_request_set_on_complete_cb(r->req, NULL, NULL);
		r->req = NULL;
		/* Frees the request too. */
		evhttp_connection_free(conn);
	}
	client_gone(r);
}

static void on_complete(struct evhttp_request *req, void *arg)
{
	/* Only reached when libevent answers by itself (a write error while
	 * streaming): the request is about to be freed. */
	struct gw_req *r = arg;
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	if (c)
		evhttp_connection_set_closecb(c, NULL, NULL);
	r->req = NULL;
	client_gone(r);
}

/* ---- curl callbacks (run inside curl_multi_socket_action) --------------------------- */

static int retryable(int status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

static int api_ok(const struct gw_req *r, const struct gateway_upstream *u)
{
	return r->op == GATEWAY_OP_MODELS || u->api == r->client_api;
}

static int next_upstream(const struct gw_req *r)
{
	for (size_t i = r->up_i + 1; i < r->route->n_upstreams; i++)
		if (api_ok(r, &r->route->upstreams[i]))
			return (int)i;
	return -1;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct gw_req *r = arg;
	size_t len = size * n, l = len;
	char name[128], value[1024];
	while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
		l--;
	if (l >= 5 && !strncmp(buf, "HTTP/", 5)) {
		const char *sp = memchr(buf, ' ', l);
		r->status = sp ? (int)strtol(sp + 1, NULL, 10) : 0;
		r->header_done = 0;
		if (r->req)
			evhttp_clear_headers(evhttp_request_get_output_headers(r->req));
		return len;
	}
	if (l == 0) {
		if (r->status < 200)
			return len; /* 1xx: another header block follows */
		r->header_done = 1;
		if (retryable(r->status) && next_upstream(r) >= 0) {
			r->mode = MODE_DISCARD;
		} else if (r->is_sse && r->status == 200 && r->req) {
			r->mode = MODE_STREAM;
			r->reply_started = 1;
			evhttp_send_reply_start(r->req, r->status, reason_phrase(r->status));
		} else {
			r->mode = MODE_BUFFER;
		}
		return len;
	}
	const char *colon = memchr(buf, ':', l);
	if (!colon)
		return len;
	size_t nl = (size_t)(colon - buf);
	const char *v = colon + 1;
	while (v < buf + l && (*v == ' ' || *v == '\t'))
		v++;
	size_t vl = (size_t)(buf + l - v);
	if (nl == 0 || nl >= sizeof name || vl >= sizeof value)
		return len;
	memcpy(name, buf, nl);
	name[nl] = 0;
	memcpy(value, v, vl);
	value[vl] = 0;
	if (!strcasecmp(name, "content-type"))
		r->is_sse = !strncasecmp(value, "text/event-stream", 17);
	/* Hop-by-hop and framing headers are the gateway's own business. */
	if (!strcasecmp(name, "content-length") || !strcasecmp(name, "transfer-encoding") ||
	    !strcasecmp(name, "connection") || !strcasecmp(name, "keep-alive") || !strcasecmp(name, "set-cookie") ||
	    !strcasecmp(name, "date") || !strcasecmp(name, "server") || !strcasecmp(name, "alt-svc"))
		return len;
	add_out_header(r, name, value);
	return len;
}

static void forward(struct gw_req *r, const char *p, size_t n)
{
	if (!r->req || !n)
		return;
	evbuffer_add(r->chunk, p, n);
	evhttp_send_reply_chunk(r->req, r->chunk);
}

static void on_event(void *arg, const char *event, const char *data, size_t dn, const char *raw, size_t rn,
		     int overflow)
{
	struct gw_req *r = arg;
	int strip = 0;
	if (!overflow)
		strip = gateway_usage_from_event(r->api, r->op, event, strlen(event), data, dn, &r->res);
	if (r->strip_usage && !strip) {
		/* Asking for usage made the upstream add "usage":null to every chunk;
		 * take it out again so the client gets what it asked for. */
		static const char *forms[] = {",\"usage\":null", ", \"usage\": null"};
		for (size_t i = 0; i < 2; i++) {
			size_t fl = strlen(forms[i]);
			const char *at = memmem(raw, rn, forms[i], fl);
			if (at && !memmem(at + fl, rn - (size_t)(at + fl - raw), forms[i], fl)) {
				evbuffer_add(r->chunk, raw, (size_t)(at - raw));
				forward(r, at + fl, rn - (size_t)(at - raw) - fl);
				return;
			}
		}
		forward(r, raw, rn);
	}
}

static size_t on_write(char *buf, size_t size, size_t n, void *arg)
{
	struct gw_req *r = arg;
	size_t len = size * n;
	if (!r->first_byte_mono)
		r->first_byte_mono = tl_mono_nano();
	switch (r->mode) {
	case MODE_DISCARD:
		return len;
	case MODE_STREAM:
		/* Forward first, parse after: the parse never delays the client. */
		if (!r->strip_usage)
			forward(r, buf, len);
		gateway_sse_feed(&r->sse, buf, len, on_event, r);
		return len;
	default:
		if (tl_buf_append(&r->resp, buf, len)) {
			r->too_large = 1;
			return 0;
		}
		return len;
	}
}

/* ---- attempts ---------------------------------------------------------------------- */

static void escalate(struct gw_req *r, const char *reason)
{
	const struct gateway_upstream *from = r->up;
	int nx = next_upstream(r);
	gateway__metrics_upstream_error(r->g->metrics, from->name, reason);
	if (r->n_escal < GW_MAX_ESCAL)
		snprintf(r->escal[r->n_escal++], sizeof r->escal[0], "%s:%s", from->name, reason);
	r->up_i = (size_t)nx;
	r->up = &r->route->upstreams[nx];
	gateway__metrics_fallback(r->g->metrics, r->route->match, from->name, r->up->name);
	attempt_start(r);
}

/* Sends the buffered upstream reply to the client. */
static void reply_buffered(struct gw_req *r)
{
	if (r->resp.len)
		gateway_usage_from_body(r->api, r->op, r->resp.data, r->resp.len, &r->res);
	r->final_status = r->status;
	if (r->status >= 400 && !r->error_type[0])
		snprintf(r->error_type, sizeof r->error_type, "%s",
			 r->res.error_type[0] ? r->res.error_type : "http_error");
	if (r->req) {
		detach_client(r);
		if (r->resp.len)
			evbuffer_add(evhttp_request_get_output_buffer(r->req), r->resp.data, r->resp.len);
		evhttp_send_reply(r->req, r->status, reason_phrase(r->status), NULL);
		r->req = NULL;
	}
	req_finish(r);
}

static void attempt_done(struct gw_req *r, CURLcode cc)
{
	char reason[32];
	easy_release(r);
	if (r->reply_started) {
		/* A stream: whatever was read has been forwarded; end it. */
		if (r->strip_usage && gateway_sse_pending(&r->sse))
			forward(r, r->sse.raw.data, r->sse.raw.len);
		r->final_status = r->status;
		if (cc != CURLE_OK)
			snprintf(r->error_type, sizeof r->error_type, "%s",
				 cc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "stream_interrupted");
		else if (r->res.error_type[0])
			snprintf(r->error_type, sizeof r->error_type, "%s", r->res.error_type);
		if (cc != CURLE_OK)
			gateway__metrics_upstream_error(r->g->metrics, r->up->name,
							cc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "interrupted");
		if (r->req) {
			detach_client(r);
			evhttp_send_reply_end(r->req);
			r->req = NULL;
		}
		req_finish(r);
		return;
	}
	if (r->mode == MODE_DISCARD && cc == CURLE_OK) {
		snprintf(reason, sizeof reason, "%d", r->status);
		escalate(r, reason);
		return;
	}
	if (cc != CURLE_OK) {
		const char *why = r->too_large ? "too_large"
				  : cc == CURLE_OPERATION_TIMEDOUT ? "timeout"
				  : r->status == 0 ? "connect" : "interrupted";
		if (!r->too_large && next_upstream(r) >= 0) {
			escalate(r, why);
			return;
		}
		gateway__metrics_upstream_error(r->g->metrics, r->up->name, why);
		if (r->req)
			evhttp_clear_headers(evhttp_request_get_output_headers(r->req));
		if (r->too_large)
			reply_error(r, 502, r->client_api == GATEWAY_API_ANTHROPIC ? "api_error" : "server_error",
				    "upstream_response_too_large", "the upstream reply exceeds gateway.max_response_bytes",
				    NULL);
		else if (cc == CURLE_OPERATION_TIMEDOUT)
			reply_error(r, 504, r->client_api == GATEWAY_API_ANTHROPIC ? "timeout_error" : "server_error",
				    "timeout", "the upstream did not answer in time", NULL);
		else
			reply_error(r, 502, r->client_api == GATEWAY_API_ANTHROPIC ? "api_error" : "server_error",
				    r->status == 0 ? "connect_error" : "upstream_interrupted",
				    "the upstream could not be reached or broke off its reply", NULL);
		return;
	}
	reply_buffered(r);
}

static void attempt_start(struct gw_req *r)
{
	struct gateway *g = r->g;
	const struct gateway_upstream *u = r->up;
	char url[2048], h[4096], tp[96], tid[33], sid[17];
	const char *v;
	struct evkeyvalq *in = r->req ? evhttp_request_get_input_headers(r->req) : NULL;
	uint64_t timeout = u->timeout_ns ? u->timeout_ns : g->cfg.timeout_ns;

	r->attempts++;
	r->status = 0;
	r->header_done = 0;
	r->mode = MODE_BUFFER;
	r->is_sse = 0;
	r->too_large = 0;
	tl_buf_reset(&r->resp);
	gateway_sse_cleanup(&r->sse);
	gateway_sse_init(&r->sse, 16u << 20);
	gateway_result_cleanup(&r->res);
	gateway_result_init(&r->res, r->capture);
	if (!r->upstream_start_ns)
		r->upstream_start_ns = tl_now_unix_nano();

	snprintf(url, sizeof url, "%s%s", u->base_url, r->path);
	if (g->n_easy_pool) {
		r->easy = g->easy_pool[--g->n_easy_pool];
		curl_easy_reset(r->easy);
	} else if (!(r->easy = curl_easy_init())) {
		abort();
	}
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(timeout / 1000000));
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout / 1000000 < 10000 ? timeout / 1000000 : 10000));
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (r->op == GATEWAY_OP_MODELS) {
		curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/json");
	}
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	if (u->api_key) {
		if (u->api == GATEWAY_API_ANTHROPIC)
			snprintf(h, sizeof h, "x-api-key: %s", u->api_key);
		else
			snprintf(h, sizeof h, "Authorization: Bearer %s", u->api_key);
		r->hdrs = curl_slist_append(r->hdrs, h);
	}
	if (u->api == GATEWAY_API_ANTHROPIC) {
		v = in ? evhttp_find_header(in, "anthropic-version") : NULL;
		snprintf(h, sizeof h, "anthropic-version: %s", v ? v : "2023-06-01");
		r->hdrs = curl_slist_append(r->hdrs, h);
	}
	/* Client headers that change what the provider does, never its credentials. */
	static const char *pass[] = {"anthropic-beta", "openai-organization", "openai-project", "openai-beta",
				     "accept", "user-agent", "idempotency-key"};
	for (size_t i = 0; in && i < sizeof pass / sizeof pass[0]; i++) {
		v = evhttp_find_header(in, pass[i]);
		if (v && !strpbrk(v, "\r\n")) {
			snprintf(h, sizeof h, "%s: %s", pass[i], v);
			r->hdrs = curl_slist_append(r->hdrs, h);
		}
	}
	for (size_t i = 0; i < u->n_headers; i++) {
		snprintf(h, sizeof h, "%s: %s", u->headers[i].name, u->headers[i].value);
		r->hdrs = curl_slist_append(r->hdrs, h);
	}
	tl_hex_encode(r->trace_id, 16, tid);
	tl_hex_encode(r->client_span, 8, sid);
	snprintf(tp, sizeof tp, "traceparent: 00-%s-%s-%02x", tid, sid, r->flags);
	r->hdrs = curl_slist_append(r->hdrs, tp);
	if (r->tracestate[0]) {
		snprintf(h, sizeof h, "tracestate: %s", r->tracestate);
		r->hdrs = curl_slist_append(r->hdrs, h);
	}
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	if (curl_multi_add_handle(g->multi, r->easy) != CURLM_OK) {
		easy_release(r);
		reply_error(r, 500, "server_error", "internal_error", "cannot start the upstream call", NULL);
	}
}

/* ---- curl multi <-> libevent ------------------------------------------------------------ */

struct sockinfo {
	struct event *ev;
};

static void check_done(struct gateway *g)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(g->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct gw_req *r = NULL;
		CURLcode cc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			attempt_done(r, cc);
	}
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct gateway *g = arg;
	int running = 0, action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(g->multi, fd, action, &running);
	check_done(g);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct gateway *g = arg;
	int running = 0;
	(void)fd;
	(void)what;
	curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(g);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct gateway *g = userp;
	struct sockinfo *si = socketp;
	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (si) {
			event_free(si->ev);
			free(si);
			curl_multi_assign(g->multi, s, NULL);
		}
		return 0;
	}
	if (!si) {
		si = calloc(1, sizeof *si);
		if (!si)
			abort();
		curl_multi_assign(g->multi, s, si);
	} else {
		event_free(si->ev);
	}
	short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
	si->ev = event_new(g->base, s, kind, on_sock_event, g);
	event_add(si->ev, NULL);
	return 0;
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
	struct gateway *g = userp;
	(void)m;
	if (ms < 0) {
		evtimer_del(g->timer);
	} else {
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		evtimer_add(g->timer, &tv);
	}
	return 0;
}

/* ---- request handling --------------------------------------------------------------------- */

static const char *op_name_for_path(const char *path, int *op, int *api, int *is_get)
{
	static const struct {
		const char *path;
		int op, api, get;
	} routes[] = {
	    {"/v1/chat/completions", GATEWAY_OP_CHAT, GATEWAY_API_OPENAI, 0},
	    {"/v1/completions", GATEWAY_OP_COMPLETIONS, GATEWAY_API_OPENAI, 0},
	    {"/v1/embeddings", GATEWAY_OP_EMBEDDINGS, GATEWAY_API_OPENAI, 0},
	    {"/v1/responses", GATEWAY_OP_RESPONSES, GATEWAY_API_OPENAI, 0},
	    {"/v1/messages", GATEWAY_OP_MESSAGES, GATEWAY_API_ANTHROPIC, 0},
	    {"/v1/models", GATEWAY_OP_MODELS, GATEWAY_API_OPENAI, 1},
	};
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (!strcmp(path, routes[i].path)) {
			*op = routes[i].op;
			*api = routes[i].api;
			*is_get = routes[i].get;
			return routes[i].path;
		}
	}
	return NULL;
}

static void reply_plain(struct evhttp_request *req, int status, const char *ctype, const char *body, size_t n)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, n);
	evhttp_send_reply(req, status, reason_phrase(status), NULL);
}

/* Authenticates: Authorization: Bearer <key> (OpenAI clients) or x-api-key (Anthropic clients). */
static int authenticate(struct gw_req *r, struct evkeyvalq *in)
{
	struct gateway *g = r->g;
	const char *a = evhttp_find_header(in, "Authorization"), *k = evhttp_find_header(in, "x-api-key");
	const char *key = NULL;
	if (g->cfg.n_keys == 0) {
		r->tenant = "default";
		return 0;
	}
	if (a && !strncasecmp(a, "Bearer ", 7))
		key = a + 7;
	else if (k)
		key = k;
	if (!key)
		return -1;
	for (size_t i = 0; i < g->cfg.n_keys; i++) {
		if (ct_equal(g->cfg.keys[i].key, key)) {
			r->key = &g->cfg.keys[i];
			r->budget = &g->budgets[i];
			r->tenant = g->cfg.keys[i].tenant;
			return 0;
		}
	}
	return -1;
}

static void read_trace_headers(struct gw_req *r, struct evkeyvalq *in)
{
	const char *tp = evhttp_find_header(in, "traceparent"), *ts = evhttp_find_header(in, "tracestate");
	const char *run = evhttp_find_header(in, "X-Tracelamp-Run"), *step = evhttp_find_header(in, "X-Tracelamp-Step");
	const char *ai = evhttp_find_header(in, "X-Tracelamp-Agent-Instance");
	int64_t st;
	r->flags = 1;
	if (tp && gateway_traceparent_parse(tp, r->trace_id, r->parent_span, &r->flags) == 0) {
		r->has_parent = 1;
		r->flags &= 0x03;
		if (ts && strlen(ts) < sizeof r->tracestate && !strpbrk(ts, "\r\n"))
			snprintf(r->tracestate, sizeof r->tracestate, "%s", ts);
	} else {
		new_id(r->g, r->trace_id, 16);
	}
	new_id(r->g, r->server_span, 8);
	new_id(r->g, r->client_span, 8);
	if (run)
		snprintf(r->run_id, sizeof r->run_id, "%s", run);
	if (ai)
		snprintf(r->agent_instance, sizeof r->agent_instance, "%s", ai);
	r->step = TL_NONE;
	if (step && tl_parse_i64(step, strlen(step), &st) == 0)
		r->step = st;
}

/* Asks OpenAI-style streams for usage when the client did not (stripped on the way back). */
static int want_usage(struct gw_req *r)
{
	json_t *so = json_object_get(r->json, "stream_options"), *iu;
	if (r->op != GATEWAY_OP_CHAT && r->op != GATEWAY_OP_COMPLETIONS)
		return 0;
	if (!r->stream)
		return 0;
	iu = json_is_object(so) ? json_object_get(so, "include_usage") : NULL;
	if (json_is_true(iu))
		return 0;
	if (!json_is_object(so)) {
		so = json_object();
		json_object_set_new(r->json, "stream_options", so);
	}
	json_object_set_new(so, "include_usage", json_true());
	return 1;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct gateway *g = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	int op = 0, api = 0, is_get = 0, verdict;
	const char *known;
	struct gw_req *r;
	char msg[512];
	json_error_t jerr;
	json_t *model;

	if (!path)
		path = "/";
	if (!strcmp(path, "/metrics") && m == EVHTTP_REQ_GET) {
		struct tl_buf b;
		tl_buf_init(&b, 64u << 20);
		gateway_metrics_render(g, &b);
		reply_plain(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
		tl_buf_cleanup(&b);
		return;
	}
	if (!strcmp(path, "/healthz")) {
		reply_plain(req, 200, "text/plain", "ok\n", 3);
		return;
	}

	r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->g = g;
	r->req = req;
	r->start_ns = tl_now_unix_nano();
	r->start_mono = tl_mono_nano();
	r->chunk = evbuffer_new();
	tl_buf_init(&r->resp, (size_t)g->cfg.max_response_bytes);
	gateway_sse_init(&r->sse, 16u << 20);
	gateway_result_init(&r->res, 0);
	r->next = g->reqs;
	if (g->reqs)
		g->reqs->prev = r;
	g->reqs = r;
	r->method = m == EVHTTP_REQ_GET ? "GET" : m == EVHTTP_REQ_POST ? "POST" : "OTHER";
	snprintf(r->path, sizeof r->path, "%.*s", (int)(sizeof r->path - 1), path);
	known = op_name_for_path(path, &op, &api, &is_get);
	r->op = op;
	r->client_api = api;
	r->api = api;
	read_trace_headers(r, in);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, r);
	evhttp_request_set_on_complete_cb(req, on_complete, r);
	{
		struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
		if (fd >= 0) {
			/* Streamed chunks are small: without this, Nagle holds each one
			 * until the previous is acknowledged. */
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			r->watch = event_new(g->base, fd, EV_READ, on_watch, r);
			event_add(r->watch, NULL);
		}
	}

	if (!known) {
		r->client_api = strncmp(path, "/v1/messages", 12) ? GATEWAY_API_OPENAI : GATEWAY_API_ANTHROPIC;
		snprintf(msg, sizeof msg, "Unknown request URL: %s %.200s", r->method, path);
		reply_error(r, 404, r->client_api == GATEWAY_API_ANTHROPIC ? "not_found_error" : "invalid_request_error",
			    "unknown_url", msg, "not_found");
		return;
	}
	if ((is_get && m != EVHTTP_REQ_GET) || (!is_get && m != EVHTTP_REQ_POST)) {
		snprintf(msg, sizeof msg, "use %s for %s", is_get ? "GET" : "POST", path);
		reply_error(r, 405, "invalid_request_error", "method_not_allowed", msg, "bad_request");
		return;
	}
	if (authenticate(r, in)) {
		reply_error(r, 401, api == GATEWAY_API_ANTHROPIC ? "authentication_error" : "invalid_request_error",
			    "invalid_api_key", "Incorrect or missing gateway API key.", "auth");
		return;
	}
	if (evbuffer_get_length(body) > g->cfg.max_request_bytes) {
		snprintf(msg, sizeof msg, "request body of %zu bytes exceeds the gateway limit of %llu bytes",
			 evbuffer_get_length(body), (unsigned long long)g->cfg.max_request_bytes);
		reply_error(r, 413, api == GATEWAY_API_ANTHROPIC ? "request_too_large" : "invalid_request_error",
			    "request_too_large", msg, "too_large");
		return;
	}
	if (g->inflight >= g->cfg.max_concurrent) {
		reply_error(r, 429, api == GATEWAY_API_ANTHROPIC ? "rate_limit_error" : "requests", "too_many_concurrent",
			    "too many concurrent requests through the gateway; retry shortly", "concurrency");
		return;
	}
	r->counted_inflight = 1;
	g->inflight++;
	gateway__metrics_inflight(g->metrics, 1);

	if (!is_get) {
		size_t n = evbuffer_get_length(body);
		const char *p = n ? (const char *)evbuffer_pullup(body, -1) : "";
		r->json = json_loadb(p, n, 0, &jerr);
		if (!json_is_object(r->json)) {
			snprintf(msg, sizeof msg, "We could not parse the JSON body of your request: %s", jerr.text);
			reply_error(r, 400, "invalid_request_error", "invalid_json", msg, "bad_request");
			return;
		}
		model = json_object_get(r->json, "model");
		if (!json_is_string(model) || !json_string_length(model)) {
			reply_error(r, 400, "invalid_request_error", "missing_model",
				    "you must provide a model parameter", "bad_request");
			return;
		}
		snprintf(r->model, sizeof r->model, "%s", json_string_value(model));
		r->stream = json_is_true(json_object_get(r->json, "stream"));
		r->body = malloc(n + 1);
		if (!r->body)
			abort();
		memcpy(r->body, p, n);
		r->body_len = n;
	}
	/* GET /v1/models goes where a catch-all route ("*") points, else to the first route. */
	if (is_get)
		r->route = gateway_route_find(&g->cfg, "", 0) ? gateway_route_find(&g->cfg, "", 0)
			   : g->cfg.n_routes ? &g->cfg.routes[0] : NULL;
	else
		r->route = gateway_route_find(&g->cfg, r->model, strlen(r->model));
	if (r->route) {
		/* The first upstream of the route that speaks the client's API. */
		r->up_i = (size_t)-1;
		int first = next_upstream(r);
		if (first < 0) {
			r->route = NULL;
		} else {
			r->up_i = (size_t)first;
			r->up = &r->route->upstreams[first];
		}
	}
	if (!r->route) {
		snprintf(msg, sizeof msg, "The model `%.200s` does not exist or no gateway route serves it for %s.",
			 r->model, path);
		reply_error(r, 404, api == GATEWAY_API_ANTHROPIC ? "not_found_error" : "invalid_request_error",
			    "model_not_found", msg, "no_route");
		return;
	}
	if (r->budget) {
		uint64_t now_s = r->start_ns / 1000000000ull;
		verdict = gateway_budget_admit(r->budget, &r->key->budget, now_s);
		if (verdict != GATEWAY_BUDGET_OK) {
			char ra[24];
			snprintf(ra, sizeof ra, "%llu", (unsigned long long)gateway_budget_retry_after(verdict, now_s));
			add_out_header(r, "Retry-After", ra);
			snprintf(msg, sizeof msg, "Tenant %s is over its gateway budget of %s. Retry after %s s.", r->tenant,
				 gateway_budget_what(verdict), ra);
			reply_error(r, 429,
				    api == GATEWAY_API_ANTHROPIC ? "rate_limit_error"
				    : (verdict == GATEWAY_BUDGET_TOK_MINUTE || verdict == GATEWAY_BUDGET_TOK_DAY) ? "tokens"
														      : "requests",
				    "budget_exceeded", msg, "budget");
			return;
		}
	}
	r->capture = r->route->capture_content >= 0 ? r->route->capture_content : g->cfg.capture_content;
	if (r->json && want_usage(r)) {
		char *nb = json_dumps(r->json, JSON_COMPACT);
		if (!nb)
			abort();
		free(r->body);
		r->body = nb;
		r->body_len = strlen(nb);
		r->strip_usage = 1;
	}
	r->api = r->up->api;
	evbuffer_drain(body, evbuffer_get_length(body));
	attempt_start(r);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int gateway_create(struct gateway_config *cfg, const struct tl_price_table *prices, struct gateway_sink sink,
		   struct gateway **out, char *err, size_t errlen)
{
	struct gateway *g = calloc(1, sizeof *g);
	char host[256];
	const char *colon;
	uint16_t port;
	int rc = TL_EIO, timeout_s = 0;
	if (!g)
		abort();
	g->cfg = *cfg;
	memset(cfg, 0, sizeof *cfg);
	g->prices = prices;
	g->sink = sink;
	if (getrandom(&g->rng, sizeof g->rng, 0) != (ssize_t)sizeof g->rng)
		g->rng = tl_now_unix_nano() ^ (uint64_t)(uintptr_t)g;
	g->metrics = gateway__metrics_create();
	g->budgets = calloc(g->cfg.n_keys ? g->cfg.n_keys : 1, sizeof *g->budgets);
	if (!g->budgets)
		abort();
	rc = gateway_redactor_create(g->cfg.redact, g->cfg.n_redact, &g->redactor, err, errlen);
	if (rc)
		goto out;
	rc = TL_EIO;
	gateway__spans_init(g);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	g->base = event_base_new();
	g->multi = curl_multi_init();
	if (!g->base || !g->multi)
		abort();
	g->timer = evtimer_new(g->base, on_timer, g);
	curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
	curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
	curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, 256L);
	g->http = evhttp_new(g->base);
	if (!g->http)
		abort();
	/* Bodies a bit over the limit still get a provider-shaped 413 from us;
	 * far larger ones are cut off by libevent. */
	evhttp_set_max_body_size(g->http, (ev_ssize_t)(g->cfg.max_request_bytes * 2 + 65536));
	evhttp_set_allowed_methods(g->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	/* The connection timeout must outlast the slowest upstream call. */
	timeout_s = (int)(g->cfg.timeout_ns / 1000000000ull);
	for (size_t i = 0; i < g->cfg.n_routes; i++)
		for (size_t j = 0; j < g->cfg.routes[i].n_upstreams; j++)
			if ((int)(g->cfg.routes[i].upstreams[j].timeout_ns / 1000000000ull) > timeout_s)
				timeout_s = (int)(g->cfg.routes[i].upstreams[j].timeout_ns / 1000000000ull);
	evhttp_set_timeout(g->http, timeout_s + 30);
	evhttp_set_gencb(g->http, on_request, g);

	colon = strrchr(g->cfg.addr, ':');
	if (!colon || (size_t)(colon - g->cfg.addr) >= sizeof host) {
		snprintf(err, errlen, "gateway.addr: bad address \"%s\"", g->cfg.addr);
		goto out;
	}
	memcpy(host, g->cfg.addr, (size_t)(colon - g->cfg.addr));
	host[colon - g->cfg.addr] = 0;
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		if (strlen(host) && host[strlen(host) - 1] == ']')
			host[strlen(host) - 1] = 0;
	}
	port = (uint16_t)strtoul(colon + 1, NULL, 10);
	g->bound = evhttp_bind_socket_with_handle(g->http, host[0] ? host : "0.0.0.0", port);
	if (!g->bound) {
		snprintf(err, errlen, "gateway.addr: cannot listen on %s", g->cfg.addr);
		goto out;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char h[128];
		evutil_socket_t fd = evhttp_bound_socket_get_fd(g->bound);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET6) {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
				evutil_inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof h);
				snprintf(g->bound_addr, sizeof g->bound_addr, "[%s]:%u", h, ntohs(s6->sin6_port));
			} else {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
				evutil_inet_ntop(AF_INET, &s4->sin_addr, h, sizeof h);
				snprintf(g->bound_addr, sizeof g->bound_addr, "%s:%u", h, ntohs(s4->sin_port));
			}
		}
	}
	*out = g;
	g = NULL;
	rc = 0;
out:
	gateway_destroy(g);
	return rc;
}

const char *gateway_bound(const struct gateway *g)
{
	return g->bound_addr;
}

static void *loop_main(void *arg)
{
	struct gateway *g = arg;
	event_base_dispatch(g->base);
	return NULL;
}

int gateway_start(struct gateway *g)
{
	if (pthread_create(&g->thread, NULL, loop_main, g))
		return TL_EIO;
	/* Named so that top -H, perf sched and gdb tell it from the store's threads. */
	pthread_setname_np(g->thread, "tl-gateway");
	g->started = 1;
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct gateway *g = arg;
	(void)what;
	tl_log(TL_LOG_INFO, "gateway: signal %d, stopping", (int)sig);
	event_base_loopexit(g->base, NULL);
}

int gateway_run(struct gateway *g)
{
	struct event *si = evsignal_new(g->base, SIGINT, on_signal, g);
	struct event *st = evsignal_new(g->base, SIGTERM, on_signal, g);
	event_add(si, NULL);
	event_add(st, NULL);
	int rc = event_base_dispatch(g->base);
	event_free(si);
	event_free(st);
	return rc < 0 ? TL_EIO : 0;
}

void gateway_stop(struct gateway *g)
{
	if (!g || !g->base)
		return;
	event_base_loopbreak(g->base);
	if (g->started) {
		pthread_join(g->thread, NULL);
		g->started = 0;
	}
}

void gateway_destroy(struct gateway *g)
{
	if (!g)
		return;
	gateway_stop(g);
	/* Requests still in flight: forget the client side (evhttp_free frees the
	 * connections and their requests) and cancel the upstream side. */
	while (g->reqs) {
		struct gw_req *r = g->reqs;
		if (r->req) {
			struct evhttp_connection *c = evhttp_request_get_connection(r->req);
			if (c)
				evhttp_connection_set_closecb(c, NULL, NULL);
			evhttp_request_set_on_complete_cb(r->req, NULL, NULL);
			if (!c)
				evhttp_request_free(r->req);
			r->req = NULL;
		}
		req_free(r);
	}
	if (g->http)
		evhttp_free(g->http);
	while (g->n_easy_pool)
		curl_easy_cleanup(g->easy_pool[--g->n_easy_pool]);
	if (g->multi)
		curl_multi_cleanup(g->multi);
	if (g->timer)
		event_free(g->timer);
	if (g->base)
		event_base_free(g->base);
	gateway_redactor_destroy(g->redactor);
	gateway__metrics_destroy(g->metrics);
	gateway_config_cleanup(&g->cfg);
	free(g->budgets);
	free(g);
}

int gateway_metrics_render(struct gateway *g, struct tl_buf *out)
{
	return gateway__metrics_render(g->metrics, out);
}
