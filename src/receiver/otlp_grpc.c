/*
 * otlp_grpc.c - OTLP/gRPC: HTTP/2 with prior knowledge (h2c) served by nghttp2
 * on the OTLP worker loops (see receiver.h).
 *
 * One struct conn per connection (a bufferevent and an nghttp2 server session),
 * one struct gstream per request stream. A stream opens its pipeline ticket
 * when its request headers are accepted, buffers its DATA (one length-prefixed
 * message of at most max_message_bytes, charged to the memory budget as it
 * arrives), decodes and submits it at END_STREAM, and replies once the store
 * reported the batch durable. Its ticket ends when the stream closes, so a
 * drain waits until the replies have been handed to the socket.
 *
 * A stream waiting for the store may lose its client (RST_STREAM or a closed
 * connection): it is then detached (c = NULL) and freed by its completion,
 * which never touches the connection again.
 *
 * Everything here runs on the connection's loop thread, except the store's
 * done callback (writer thread), which only posts to the loop.
 */
#include "receiver/receiver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "otlp/otlp.h"
#include "proto/proto.h"

/* gRPC status codes (google/rpc/code.proto). */
enum { GS_OK = 0, GS_INVALID_ARGUMENT = 3, GS_RESOURCE_EXHAUSTED = 8, GS_UNIMPLEMENTED = 12, GS_INTERNAL = 13,
       GS_UNAVAILABLE = 14 };

/* RetryInfo.retry_delay for back-pressure and draining. */
#define RETRY_MS 1000

static const char *const signal_paths[RECEIVER_SIG__N] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};
static const char *const signal_names[RECEIVER_SIG__N] = {"traces", "metrics", "logs"};

struct handler {
	receiver_export_fn fn;
	void *arg;
};

struct conn;

struct receiver_grpc {
	struct receiver_grpc_config cfg;
	struct handler h[RECEIVER_SIG__N];
	pthread_mutex_t mu; /* guards conns (connections of every loop) */
	struct conn *conns;
};

struct gstream;

struct conn {
	struct conn *prev, *next; /* g->conns */
	struct receiver_grpc *g;
	struct server_loop *loop;
	struct bufferevent *bev;
	nghttp2_session *ses;
	struct event *goaway_ev; /* drain: the final GOAWAY */
	struct gstream *streams; /* attached streams */
	int draining;
};

/* ST_DISCARD: refused at the headers; the body is read and dropped and the
 * refusal sent at END_STREAM (answering before the client finished sending
 * trips some clients, e.g. curl 7.88, on the RST_STREAM that follows). */
enum { ST_HEADERS, ST_DISCARD, ST_RECEIVING, ST_WAITING, ST_DONE };

struct gstream {
	struct server_task task; /* first: the completion posted from the store */
	struct pipeline_ticket ticket;
	struct gstream *prev, *next; /* c->streams */
	struct conn *c;              /* NULL once detached */
	struct receiver_grpc *g;
	struct server_loop *loop;
	int32_t id;
	int state;
	int admitted;   /* the ticket is open */
	int sig;        /* enum receiver_signal; -1 for an unknown path */
	int post;       /* :method POST */
	int ctype;      /* 0 absent, 1 gRPC protobuf, -1 something else */
	int enc;        /* grpc-encoding: 0 identity/absent, 1 gzip, -1 other */
	int tenant_bad;
	char path[128];
	char ctype_text[64];
	char enc_text[32];
	char tenant[72];
	struct tl_buf in;  /* the request body: prefix + message */
	struct tl_buf out; /* the response body: prefix + message */
	size_t out_off;
	int store_status;
	struct receiver_result res;
	/* The refusal held back in ST_DISCARD. */
	int pend_http, pend_code, pend_reason;
	uint32_t pend_retry;
	char pend_msg[300];
};

/* ---- pure helpers ---------------------------------------------------------- */

void receiver_grpc_percent_encode(const char *in, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	if (!n)
		return;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
			if (o + 1 >= n)
				break;
			out[o++] = (char)*p;
		} else {
			if (o + 3 >= n)
				break;
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = 0;
}

int receiver_base64(const void *in, size_t n, struct tl_buf *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	char q[4];
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = a[v >> 18];
		q[1] = a[(v >> 12) & 63];
		q[2] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? a[v & 63] : '=';
		rc = tl_buf_append(out, q, 4);
	}
	return rc;
}

int receiver_grpc_status_details(struct tl_buf *out, int code, const char *msg, uint32_t retry_ms)
{
	static const char any_type[] = "type.googleapis.com/google.rpc.RetryInfo";
	size_t any, val, delay;
	int rc = pb_put_uint(out, 1, (uint64_t)(uint32_t)code);
	if (!rc && msg)
		rc = pb_put_bytes(out, 2, msg, strlen(msg));
	if (rc || !retry_ms)
		return rc;
	/* details: Any{type_url, value: RetryInfo{retry_delay: Duration{seconds, nanos}}} */
	rc = pb_begin(out, 3, &any);
	if (!rc)
		rc = pb_put_bytes(out, 1, any_type, sizeof any_type - 1);
	if (!rc)
		rc = pb_begin(out, 2, &val);
	if (!rc)
		rc = pb_begin(out, 1, &delay);
	if (!rc)
		rc = pb_put_uint(out, 1, retry_ms / 1000);
	if (!rc)
		rc = pb_put_uint(out, 2, (uint64_t)(retry_ms % 1000) * 1000000u);
	if (!rc)
		rc = pb_end(out, delay);
	if (!rc)
		rc = pb_end(out, val);
	if (!rc)
		rc = pb_end(out, any);
	return rc;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static void traces_export(void *arg, struct pipeline_ticket *t, const void *data, size_t len, const char *tenant,
			  store_done_fn done, void *done_arg, struct receiver_result *res)
{
	receiver_ingest_traces(arg, t, data, len, 0, tenant, done, done_arg, res);
}

int receiver_grpc_create(const struct receiver_grpc_config *cfg, struct receiver_grpc **out)
{
	struct receiver_grpc *g = calloc(1, sizeof *g);
	if (!g)
		abort();
	g->cfg = *cfg;
	if (!g->cfg.max_streams)
		g->cfg.max_streams = 256;
	if (!g->cfg.goaway_delay_ns)
		g->cfg.goaway_delay_ns = 100000000ull;
	if (!g->cfg.max_message_bytes)
		g->cfg.max_message_bytes = 4u << 20;
	g->h[RECEIVER_SIG_TRACES].fn = traces_export;
	g->h[RECEIVER_SIG_TRACES].arg = cfg->receiver;
	pthread_mutex_init(&g->mu, NULL);
	*out = g;
	return 0;
}

void receiver_grpc_destroy(struct receiver_grpc *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void receiver_grpc_set_handler(struct receiver_grpc *g, int sig, receiver_export_fn fn, void *arg)
{
	if (sig < 0 || sig >= RECEIVER_SIG__N)
		return;
	g->h[sig].fn = fn;
	g->h[sig].arg = arg;
}

/* ---- streams --------------------------------------------------------------------- */

static void stream_unlink(struct gstream *s)
{
	struct conn *c = s->c;
	if (!c)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	s->c = NULL;
}

/* Ends the ticket and frees the stream (already unlinked). */
static void stream_free(struct gstream *s)
{
	if (s->admitted)
		pipeline_end(s->g->cfg.pipeline, &s->ticket);
	tl_buf_cleanup(&s->in);
	tl_buf_cleanup(&s->out);
	free(s);
}

static int refuse_reason(int code, int busy)
{
	switch (code) {
	case GS_INVALID_ARGUMENT: return METRICS_REFUSE_MALFORMED;
	case GS_RESOURCE_EXHAUSTED: return busy ? METRICS_REFUSE_BUSY : METRICS_REFUSE_TOO_LARGE;
	case GS_UNAVAILABLE: return busy ? METRICS_REFUSE_SHUTDOWN : METRICS_REFUSE_STORE;
	case 415: return METRICS_REFUSE_UNSUPPORTED;
	}
	return -1;
}

/* Metrics for one answered request of a known signal. code is the gRPC status,
 * or the HTTP status when the request was refused at the HTTP level (405, 415). */
static void count(struct gstream *s, int code, int reason)
{
	struct metrics *m = s->g->cfg.metrics;
	if (!m || s->sig < 0)
		return;
	metrics_request(m, "grpc", signal_names[s->sig], code);
	if (s->sig != RECEIVER_SIG_TRACES)
		return;
	if (code == GS_OK)
		metrics_spans_accepted(m, s->res.n_items);
	else if (reason >= 0)
		metrics_spans_refused(m, reason, s->res.n_items);
}

#define NV(n, v) {(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

/*
 * A reply in one HEADERS frame with END_STREAM: the gRPC Trailers-Only form
 * (http_status 200) or an HTTP-level refusal (405, 415) that still carries
 * grpc-status for gRPC clients. retry_ms > 0 adds grpc-status-details-bin with
 * a RetryInfo.
 */
static void reply_status(struct gstream *s, int http_status, int code, const char *msg, uint32_t retry_ms, int reason)
{
	char status[8], gs[8], pmsg[600];
	struct tl_buf det, b64;
	nghttp2_nv nv[7];
	size_t n = 0;

	s->state = ST_DONE;
	count(s, http_status == 200 ? code : http_status, reason);
	if (!s->c)
		return;
	tl_buf_init(&det, 4096);
	tl_buf_init(&b64, 8192);
	snprintf(status, sizeof status, "%d", http_status);
	snprintf(gs, sizeof gs, "%d", code);
	receiver_grpc_percent_encode(msg ? msg : "", pmsg, sizeof pmsg);
	nv[n++] = (nghttp2_nv)NV(":status", status);
	nv[n++] = (nghttp2_nv)NV("content-type", http_status == 200 ? "application/grpc" : "text/plain");
	nv[n++] = (nghttp2_nv)NV("grpc-accept-encoding", "identity,gzip");
	nv[n++] = (nghttp2_nv)NV("grpc-status", gs);
	if (pmsg[0])
		nv[n++] = (nghttp2_nv)NV("grpc-message", pmsg);
	if (retry_ms && receiver_grpc_status_details(&det, code, msg, retry_ms) == 0 &&
	    receiver_base64(det.data, det.len, &b64) == 0 && tl_buf_putc(&b64, 0) == 0)
		nv[n++] = (nghttp2_nv)NV("grpc-status-details-bin", b64.data);
	/* nghttp2 copies the header block. */
	nghttp2_submit_response(s->c->ses, s->id, nv, n, NULL);
	tl_buf_cleanup(&det);
	tl_buf_cleanup(&b64);
}

/* The response message, then the OK trailers from inside the read callback. */
static ssize_t read_response(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			     nghttp2_data_source *src, void *user)
{
	struct gstream *s = src->ptr;
	size_t left = s->out.len - s->out_off, n = left < len ? left : len;
	if (n)
		memcpy(buf, s->out.data + s->out_off, n);
	s->out_off += n;
	if (s->out_off == s->out.len) {
		nghttp2_nv tr[1] = {NV("grpc-status", "0")};
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (nghttp2_submit_trailer(ses, id, tr, 1))
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return (ssize_t)n;
}

/* grpc-status 0 with Export<Signal>ServiceResponse (partial_success when some
 * items were rejected or a message is set). */
static void reply_ok(struct gstream *s)
{
	nghttp2_nv nv[3] = {NV(":status", "200"), NV("content-type", "application/grpc"),
			    NV("grpc-accept-encoding", "identity,gzip")};
	nghttp2_data_provider dp;
	uint8_t *p;
	size_t mlen;

	s->state = ST_DONE;
	if (!s->c) {
		count(s, GS_OK, -1);
		return;
	}
	tl_buf_init(&s->out, 64 * 1024);
	tl_buf_append(&s->out, "\0\0\0\0\0", 5);
	otlp_encode_trace_response_pb(&s->out, s->res.rejected, s->res.rejected || s->res.msg[0] ? s->res.msg : NULL);
	if (!s->out.data || s->out.len < 5) {
		reply_status(s, 200, GS_INTERNAL, "cannot encode the response", 0, -1);
		return;
	}
	p = (uint8_t *)s->out.data;
	mlen = s->out.len - 5;
	p[1] = (uint8_t)(mlen >> 24);
	p[2] = (uint8_t)(mlen >> 16);
	p[3] = (uint8_t)(mlen >> 8);
	p[4] = (uint8_t)mlen;
	count(s, GS_OK, -1);
	dp.source.ptr = s;
	dp.read_callback = read_response;
	nghttp2_submit_response(s->c->ses, s->id, nv, 3, &dp);
}

/* Replies to a request that went through receiver_result (not submitted). */
static void reply_result(struct gstream *s)
{
	struct receiver_result *r = &s->res;
	switch (r->status) {
	case 200: reply_ok(s); break;
	case 400: reply_status(s, 200, GS_INVALID_ARGUMENT, r->msg, 0, METRICS_REFUSE_MALFORMED); break;
	case 413: reply_status(s, 200, GS_RESOURCE_EXHAUSTED, r->msg, 0, METRICS_REFUSE_TOO_LARGE); break;
	case 429: reply_status(s, 200, GS_RESOURCE_EXHAUSTED, r->msg, RETRY_MS, METRICS_REFUSE_BUSY); break;
	default:
		reply_status(s, 200, GS_UNAVAILABLE, r->msg, RETRY_MS,
			     pipeline_draining(s->g->cfg.pipeline) ? METRICS_REFUSE_SHUTDOWN : METRICS_REFUSE_STORE);
		break;
	}
}

static void conn_io(struct conn *c);

/* On the loop thread, after the store's done. */
static void on_stored(struct server_task *t)
{
	struct gstream *s = (struct gstream *)t;
	struct conn *c = s->c;
	if (s->store_status == 0)
		reply_ok(s);
	else
		reply_status(s, 200, GS_UNAVAILABLE, "the store could not commit the batch; retry later", RETRY_MS,
			     METRICS_REFUSE_STORE);
	if (!c) {
		/* Detached: the client went away while we waited. */
		stream_free(s);
		return;
	}
	conn_io(c);
}

/* On the store's writer thread. */
static void on_store_done(void *arg, int status)
{
	struct gstream *s = arg;
	s->store_status = status;
	server_loop_post(s->loop, &s->task);
}

static void refuse_later(struct gstream *s, int http_status, int code, const char *msg, uint32_t retry_ms, int reason)
{
	s->state = ST_DISCARD;
	s->pend_http = http_status;
	s->pend_code = code;
	s->pend_retry = retry_ms;
	s->pend_reason = reason;
	snprintf(s->pend_msg, sizeof s->pend_msg, "%s", msg);
}

/* The request headers are complete: refuse (at END_STREAM) or open the ticket. */
static void stream_headers_done(struct gstream *s)
{
	struct receiver_grpc *g = s->g;
	char msg[300];
	int rc;

	if (!s->post) {
		refuse_later(s, 405, GS_UNIMPLEMENTED, "gRPC requires POST", 0, -1);
		return;
	}
	if (s->ctype <= 0) {
		snprintf(msg, sizeof msg, "unsupported content-type \"%s\": use application/grpc", s->ctype_text);
		refuse_later(s, 415, GS_INTERNAL, msg, 0, refuse_reason(415, 0));
		return;
	}
	if (s->sig < 0) {
		snprintf(msg, sizeof msg, "unknown method %s: OTLP services are opentelemetry.proto.collector.{trace,metrics,logs}.v1",
			 s->path);
		refuse_later(s, 200, GS_UNIMPLEMENTED, msg, 0, -1);
		return;
	}
	if (!g->h[s->sig].fn) {
		snprintf(msg, sizeof msg, "%s are not supported yet: only traces are", signal_names[s->sig]);
		refuse_later(s, 200, GS_UNIMPLEMENTED, msg, 0, -1);
		return;
	}
	if (s->tenant_bad) {
		refuse_later(s, 200, GS_INVALID_ARGUMENT,
			     "x-tracelamp-tenant: must be 1-64 characters of A-Z a-z 0-9 . _ -", 0, METRICS_REFUSE_MALFORMED);
		return;
	}
	rc = pipeline_admit(g->cfg.pipeline, &s->ticket, 0);
	if (rc == TL_EBUSY) {
		refuse_later(s, 200, GS_RESOURCE_EXHAUSTED, "over the memory budget (server.memory_budget); retry later",
			     RETRY_MS, METRICS_REFUSE_BUSY);
		return;
	}
	if (rc) {
		refuse_later(s, 200, GS_UNAVAILABLE, "shutting down; retry later", RETRY_MS, METRICS_REFUSE_SHUTDOWN);
		return;
	}
	s->admitted = 1;
	s->state = ST_RECEIVING;
	tl_buf_init(&s->in, g->cfg.max_message_bytes + 5);
}

static uint32_t prefix_len(const struct tl_buf *b)
{
	const uint8_t *p = (const uint8_t *)b->data;
	return (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
}

static void too_large(struct gstream *s)
{
	char msg[200];
	snprintf(msg, sizeof msg, "message larger than server.grpc_max_message_bytes (%zu bytes)",
		 s->g->cfg.max_message_bytes);
	/* Non-retryable: no RetryInfo. */
	reply_status(s, 200, GS_RESOURCE_EXHAUSTED, msg, 0, METRICS_REFUSE_TOO_LARGE);
}

static void stream_data(struct gstream *s, const uint8_t *data, size_t len)
{
	struct receiver_grpc *g = s->g;
	size_t max = g->cfg.max_message_bytes;
	if (s->state != ST_RECEIVING || !len)
		return;
	if (s->in.len + len > max + 5) {
		/* More than one message fits only if the first one is small. */
		if (s->in.len >= 5 && prefix_len(&s->in) <= max)
			reply_status(s, 200, GS_INVALID_ARGUMENT, "unary Export takes exactly one message", 0,
				     METRICS_REFUSE_MALFORMED);
		else
			too_large(s);
		return;
	}
	if (pipeline_charge(g->cfg.pipeline, &s->ticket, len)) {
		reply_status(s, 200, GS_RESOURCE_EXHAUSTED, "over the memory budget (server.memory_budget); retry later",
			     RETRY_MS, METRICS_REFUSE_BUSY);
		return;
	}
	if (tl_buf_append(&s->in, data, len)) {
		too_large(s);
		return;
	}
	/* Refuse as soon as the prefix announces too much. */
	if (s->in.len >= 5 && prefix_len(&s->in) > max)
		too_large(s);
}

/* END_STREAM: check the framing, inflate, decode and submit. */
static void stream_process(struct gstream *s)
{
	struct receiver_grpc *g = s->g;
	struct handler *h = &g->h[s->sig];
	const uint8_t *p = (const uint8_t *)s->in.data;
	struct tl_buf inflated;
	const void *msg;
	size_t mlen;
	uint32_t declared;
	char text[200];
	int rc;

	tl_buf_init(&inflated, g->cfg.max_message_bytes + 1);
	if (s->in.len < 5) {
		reply_status(s, 200, GS_INVALID_ARGUMENT,
			     s->in.len ? "truncated gRPC message prefix" : "no request message", 0, METRICS_REFUSE_MALFORMED);
		goto out;
	}
	declared = prefix_len(&s->in);
	if ((size_t)declared + 5 > s->in.len) {
		reply_status(s, 200, GS_INVALID_ARGUMENT, "request message shorter than its length prefix", 0,
			     METRICS_REFUSE_MALFORMED);
		goto out;
	}
	if ((size_t)declared + 5 < s->in.len) {
		reply_status(s, 200, GS_INVALID_ARGUMENT, "unary Export takes exactly one message", 0,
			     METRICS_REFUSE_MALFORMED);
		goto out;
	}
	msg = p + 5;
	mlen = declared;
	if (p[0] > 1) {
		reply_status(s, 200, GS_INVALID_ARGUMENT, "bad compressed-flag byte in the message prefix", 0,
			     METRICS_REFUSE_MALFORMED);
		goto out;
	}
	if (p[0] == 1) {
		if (s->enc == 0) {
			reply_status(s, 200, GS_INVALID_ARGUMENT, "compressed message without grpc-encoding", 0,
				     METRICS_REFUSE_MALFORMED);
			goto out;
		}
		if (s->enc < 0) {
			snprintf(text, sizeof text, "grpc-encoding \"%s\" is not supported: use gzip or identity",
				 s->enc_text);
			reply_status(s, 200, GS_UNIMPLEMENTED, text, 0, METRICS_REFUSE_UNSUPPORTED);
			goto out;
		}
		rc = receiver_gunzip(msg, mlen, g->cfg.max_message_bytes, &inflated);
		if (rc == TL_ETOOBIG) {
			too_large(s);
			goto out;
		}
		if (rc) {
			reply_status(s, 200, GS_INVALID_ARGUMENT, "grpc-encoding gzip: corrupt or truncated gzip stream", 0,
				     METRICS_REFUSE_MALFORMED);
			goto out;
		}
		if (pipeline_charge(g->cfg.pipeline, &s->ticket, inflated.len)) {
			reply_status(s, 200, GS_RESOURCE_EXHAUSTED,
				     "over the memory budget (server.memory_budget); retry later", RETRY_MS,
				     METRICS_REFUSE_BUSY);
			goto out;
		}
		msg = inflated.data ? inflated.data : "";
		mlen = inflated.len;
	}
	if (g->cfg.metrics)
		metrics_bytes_received(g->cfg.metrics, s->in.len);
	h->fn(h->arg, &s->ticket, msg, mlen, s->tenant[0] ? s->tenant : NULL, on_store_done, s, &s->res);
	/* The store copied the batch (or refused it): the body is no longer needed. */
	tl_buf_cleanup(&s->in);
	if (s->res.submitted)
		s->state = ST_WAITING;
	else
		reply_result(s);
out:
	tl_buf_cleanup(&inflated);
}

/* ---- nghttp2 callbacks -------------------------------------------------------------- */

static ssize_t on_send(nghttp2_session *ses, const uint8_t *data, size_t len, int flags, void *user)
{
	struct conn *c = user;
	if (evbuffer_add(bufferevent_get_output(c->bev), data, len))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)len;
}

static int on_begin_headers(nghttp2_session *ses, const nghttp2_frame *frame, void *user)
{
	struct conn *c = user;
	struct gstream *s;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->g = c->g;
	s->c = c;
	s->loop = c->loop;
	s->id = frame->hd.stream_id;
	s->sig = -1;
	s->task.fn = on_stored;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	nghttp2_session_set_stream_user_data(ses, s->id, s);
	return 0;
}

static int name_is(const uint8_t *name, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(name, want, n) == 0;
}

/* The gRPC content types we take: application/grpc, +proto, with parameters. */
static int grpc_ctype(const uint8_t *v, size_t n)
{
	static const char base[] = "application/grpc";
	size_t bl = sizeof base - 1;
	if (n < bl || strncasecmp((const char *)v, base, bl) != 0)
		return -1;
	if (n == bl || v[bl] == ';')
		return 1;
	if (n >= bl + 6 && strncasecmp((const char *)v + bl, "+proto", 6) == 0 && (n == bl + 6 || v[bl + 6] == ';'))
		return 1;
	return -1;
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct gstream *s;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = nghttp2_session_get_stream_user_data(ses, frame->hd.stream_id);
	if (!s)
		return 0;
	if (name_is(name, namelen, ":method")) {
		s->post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
	} else if (name_is(name, namelen, ":path")) {
		snprintf(s->path, sizeof s->path, "%.*s", (int)(valuelen < 120 ? valuelen : 120), (const char *)value);
		s->sig = -1;
		for (int i = 0; i < RECEIVER_SIG__N; i++)
			if (name_is(value, valuelen, signal_paths[i]))
				s->sig = i;
	} else if (name_is(name, namelen, "content-type")) {
		snprintf(s->ctype_text, sizeof s->ctype_text, "%.*s", (int)(valuelen < 60 ? valuelen : 60),
			 (const char *)value);
		s->ctype = grpc_ctype(value, valuelen);
	} else if (name_is(name, namelen, "grpc-encoding")) {
		snprintf(s->enc_text, sizeof s->enc_text, "%.*s", (int)(valuelen < 30 ? valuelen : 30),
			 (const char *)value);
		if (valuelen == 4 && strncasecmp((const char *)value, "gzip", 4) == 0)
			s->enc = 1;
		else if (valuelen == 8 && strncasecmp((const char *)value, "identity", 8) == 0)
			s->enc = 0;
		else
			s->enc = -1;
	} else if (name_is(name, namelen, "x-tracelamp-tenant")) {
		if (valuelen >= sizeof s->tenant) {
			s->tenant_bad = 1;
		} else {
			memcpy(s->tenant, value, valuelen);
			s->tenant[valuelen] = 0;
			s->tenant_bad = !receiver_tenant_valid(s->tenant);
		}
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *frame, void *user)
{
	struct gstream *s;
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	s = nghttp2_session_get_stream_user_data(ses, frame->hd.stream_id);
	if (!s)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST && s->state == ST_HEADERS)
		stream_headers_done(s);
	if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	if (s->state == ST_RECEIVING)
		stream_process(s);
	else if (s->state == ST_DISCARD)
		reply_status(s, s->pend_http, s->pend_code, s->pend_msg, s->pend_retry, s->pend_reason);
	return 0;
}

static int on_data_chunk(nghttp2_session *ses, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
			 void *user)
{
	struct gstream *s = nghttp2_session_get_stream_user_data(ses, id);
	if (s)
		stream_data(s, data, len);
	return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t error_code, void *user)
{
	struct gstream *s = nghttp2_session_get_stream_user_data(ses, id);
	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(ses, id, NULL);
	stream_unlink(s);
	/* Waiting for the store (the client reset the stream): its completion frees it. */
	if (s->state != ST_WAITING)
		stream_free(s);
	return 0;
}

/* ---- connections ------------------------------------------------------------------- */

/* Frees the connection. final: the loops have stopped and the store is closed,
 * so streams waiting for a completion will never get one: free them too. */
static void conn_free(struct conn *c, int final)
{
	struct receiver_grpc *g = c->g;
	struct gstream *s;
	pthread_mutex_lock(&g->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&g->mu);
	/* The session first (should it report closes, the streams unlink
	 * themselves), then whatever is still attached. */
	nghttp2_session_del(c->ses);
	c->ses = NULL;
	while ((s = c->streams)) {
		int waiting = s->state == ST_WAITING;
		stream_unlink(s);
		if (!waiting || final)
			stream_free(s);
	}
	if (c->goaway_ev)
		event_free(c->goaway_ev);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

/* After input was processed or replies were submitted: send, then close the
 * connection if the session is over and everything was written. */
static void conn_io(struct conn *c)
{
	if (nghttp2_session_send(c->ses)) {
		conn_free(c, 0);
		return;
	}
	if (!nghttp2_session_want_read(c->ses) && !nghttp2_session_want_write(c->ses) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c, 0);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	unsigned char *data = evbuffer_pullup(in, -1);
	ssize_t rv = n ? nghttp2_session_mem_recv(c->ses, data, n) : 0;
	if (rv < 0) {
		tl_log(TL_LOG_DEBUG, "grpc: closing a connection: %s", nghttp2_strerror((int)rv));
		conn_free(c, 0);
		return;
	}
	evbuffer_drain(in, n);
	conn_io(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (!nghttp2_session_want_read(c->ses) && !nghttp2_session_want_write(c->ses))
		conn_free(c, 0);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_free(c, 0);
}

static void on_goaway_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	nghttp2_submit_goaway(c->ses, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->ses),
			      NGHTTP2_NO_ERROR, NULL, 0);
	conn_io(c);
}

void receiver_grpc_accept(int fd, struct server_loop *loop, void *arg)
{
	struct receiver_grpc *g = arg;
	struct event_base *base = server_loop_base(loop);
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_settings_entry iv[2];
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->g = g;
	c->loop = loop;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->goaway_ev = evtimer_new(base, on_goaway_timer, c);
	if (!c->bev || !c->goaway_ev || nghttp2_session_callbacks_new(&cbs))
		abort();
	nghttp2_session_callbacks_set_send_callback(cbs, on_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	if (nghttp2_session_server_new(&c->ses, cbs, c))
		abort();
	nghttp2_session_callbacks_del(cbs);

	pthread_mutex_lock(&g->mu);
	c->next = g->conns;
	if (g->conns)
		g->conns->prev = c;
	g->conns = c;
	pthread_mutex_unlock(&g->mu);

	iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
	iv[0].value = g->cfg.max_streams;
	iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
	iv[1].value = 1u << 20;
	/* Larger windows than HTTP/2's 64 KiB default: messages run to MiBs. */
	if (nghttp2_submit_settings(c->ses, NGHTTP2_FLAG_NONE, iv, 2) ||
	    nghttp2_session_set_local_window_size(c->ses, NGHTTP2_FLAG_NONE, 0, 16 << 20)) {
		conn_free(c, 0);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_io(c);
}

void receiver_grpc_drain(struct server_loop *loop, void *arg)
{
	struct receiver_grpc *g = arg;
	uint64_t ns = g->cfg.goaway_delay_ns;
	struct timeval tv = {(time_t)(ns / 1000000000ull), (suseconds_t)(ns % 1000000000ull / 1000)};
	/* Submitting and sending only append to output buffers: no connection is
	 * freed while the list is walked. */
	pthread_mutex_lock(&g->mu);
	for (struct conn *c = g->conns; c; c = c->next) {
		if (c->loop != loop || c->draining)
			continue;
		c->draining = 1;
		nghttp2_submit_shutdown_notice(c->ses);
		nghttp2_session_send(c->ses);
		evtimer_add(c->goaway_ev, &tv);
	}
	pthread_mutex_unlock(&g->mu);
}

void receiver_grpc_close(struct server_loop *loop, void *arg)
{
	struct receiver_grpc *g = arg;
	for (;;) {
		struct conn *c;
		pthread_mutex_lock(&g->mu);
		for (c = g->conns; c && c->loop != loop; c = c->next)
			;
		pthread_mutex_unlock(&g->mu);
		if (!c)
			break;
		/* Best effort: hand what is queued (final replies, GOAWAY) to the socket. */
		if (c->ses)
			nghttp2_session_send(c->ses);
		struct evbuffer *out = bufferevent_get_output(c->bev);
		for (int i = 0; i < 16 && evbuffer_get_length(out); i++)
			if (evbuffer_write(out, bufferevent_getfd(c->bev)) <= 0)
				break;
		conn_free(c, 1);
	}
}
