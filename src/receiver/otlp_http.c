/*
 * otlp_http.c - POST /v1/traces, /v1/metrics and /v1/logs (see receiver.h).
 * The three signals share one path: content type, encoding, tenant,
 * admission, inflation, then the signal's ingest function (traces here,
 * metrics and logs in otlp_signals.c) and the reply after the store's commit.
 *
 * A request is handled in one go on its loop thread up to store_append; the
 * reply waits for the store's commit, which comes back through
 * server_loop_post. The connection's close callback and the request's
 * completion callback tell us when the reply has left (or never will), which
 * is when the pipeline ticket ends; shutdown waits for that.
 */
#include "receiver/receiver_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "otlp/otlp.h"

/* gRPC status codes carried in google.rpc.Status.code. */
enum { GRPC_INVALID_ARGUMENT = 3, GRPC_NOT_FOUND = 5, GRPC_RESOURCE_EXHAUSTED = 8, GRPC_UNIMPLEMENTED = 12,
       GRPC_INTERNAL = 13, GRPC_UNAVAILABLE = 14 };

enum { ST_WAITING, ST_REPLIED };

/* One admitted request, from admission until its reply has been written. */
struct req_ctx {
	struct server_task task; /* first: the completion posted from the store */
	struct pipeline_ticket ticket;
	struct receiver *r;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct server_loop *loop;
	int json;
	int sig;                 /* enum receiver_signal */
	uint64_t n_spans;
	int64_t rejected;        /* partial success, sent with the 200 */
	char pmsg[300];
	int store_status;
	int state;
};

int receiver_create(const struct receiver_config *cfg, struct receiver **out)
{
	struct receiver *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->cfg = *cfg;
	if (!r->cfg.max_depth)
		r->cfg.max_depth = 32;
	r->usage = model_usage_state_create(cfg->usage_series ? cfg->usage_series : 10000);
	if (!r->usage)
		abort();
	pthread_mutex_init(&r->usage_mu, NULL);
	/* The decoded form of one request may take up to the memory budget, and
	 * never less than 8x the body limit (small spans decode to several times
	 * their wire size): past it the request is too large, whatever the load. */
	r->decode_ceiling = (size_t)cfg->memory_budget;
	if (r->decode_ceiling < 8 * cfg->max_request_bytes)
		r->decode_ceiling = 8 * cfg->max_request_bytes;
	*out = r;
	return 0;
}

void receiver_destroy(struct receiver *r)
{
	if (!r)
		return;
	model_usage_state_destroy(r->usage);
	pthread_mutex_destroy(&r->usage_mu);
	free(r);
}

/* ---- pure helpers ---------------------------------------------------------- */

int receiver_content_type(const char *v)
{
	size_t n;
	if (!v)
		return RECEIVER_CT_UNKNOWN;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strcspn(v, ";");
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if ((n == 22 && strncasecmp(v, "application/x-protobuf", n) == 0) ||
	    (n == 20 && strncasecmp(v, "application/protobuf", n) == 0))
		return RECEIVER_CT_PROTOBUF;
	if (n == 16 && strncasecmp(v, "application/json", n) == 0)
		return RECEIVER_CT_JSON;
	return RECEIVER_CT_UNKNOWN;
}

int receiver_tenant_valid(const char *t)
{
	size_t n = 0;
	for (; t[n]; n++) {
		char c = t[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= 64;
}

struct gunzip {
	z_stream zs;
	size_t max;
	int ended; /* the current member ended; more input starts a new one */
	struct tl_buf *out;
};

static int gunzip_init(struct gunzip *g, size_t max, struct tl_buf *out)
{
	memset(g, 0, sizeof *g);
	g->max = max;
	g->out = out;
	return inflateInit2(&g->zs, 16 + MAX_WBITS) == Z_OK ? 0 : TL_ENOMEM;
}

static int gunzip_feed(struct gunzip *g, const void *in, size_t n)
{
	z_stream *zs = &g->zs;
	zs->next_in = (Bytef *)(uintptr_t)in;
	zs->avail_in = (uInt)n;
	do {
		if (g->ended) {
			if (!zs->avail_in)
				break;
			inflateReset(zs);
			g->ended = 0;
		}
		/* Room for one byte past the limit, so going over is detected. */
		size_t room = g->max + 1 - g->out->len;
		size_t chunk = room < 65536 ? room : 65536;
		if (tl_buf_reserve(g->out, chunk))
			return TL_ETOOBIG;
		zs->next_out = (Bytef *)g->out->data + g->out->len;
		zs->avail_out = (uInt)chunk;
		int zrc = inflate(zs, Z_NO_FLUSH);
		g->out->len += chunk - zs->avail_out;
		if (g->out->len > g->max)
			return TL_ETOOBIG;
		if (zrc == Z_STREAM_END) {
			g->ended = 1;
		} else if (zrc == Z_BUF_ERROR) {
			if (zs->avail_out)
				break; /* needs more input */
		} else if (zrc != Z_OK) {
			return TL_EGZIP;
		}
	} while (zs->avail_in > 0 || zs->avail_out == 0);
	return 0;
}

static int gunzip_finish(struct gunzip *g)
{
	int ended = g->ended;
	inflateEnd(&g->zs);
	return ended ? 0 : TL_EGZIP;
}

int receiver_gunzip(const void *in, size_t n, size_t max, struct tl_buf *out)
{
	struct gunzip g;
	int rc = gunzip_init(&g, max, out);
	if (rc)
		return rc;
	rc = gunzip_feed(&g, in, n);
	if (rc) {
		inflateEnd(&g.zs);
		return rc;
	}
	return gunzip_finish(&g);
}

/* Inflates an evbuffer chunk by chunk (no pullup of the compressed body). */
static int gunzip_evbuffer(struct evbuffer *in, size_t max, struct tl_buf *out)
{
	struct evbuffer_iovec vs[16];
	struct evbuffer_ptr pos;
	struct gunzip g;
	int rc = gunzip_init(&g, max, out);
	if (rc)
		return rc;
	evbuffer_ptr_set(in, &pos, 0, EVBUFFER_PTR_SET);
	for (;;) {
		int nv = evbuffer_peek(in, -1, &pos, vs, 16);
		int take = nv < 16 ? nv : 16;
		size_t moved = 0;
		for (int i = 0; i < take; i++) {
			rc = gunzip_feed(&g, vs[i].iov_base, vs[i].iov_len);
			if (rc) {
				inflateEnd(&g.zs);
				return rc;
			}
			moved += vs[i].iov_len;
		}
		if (nv <= 16 || !moved)
			break;
		evbuffer_ptr_set(in, &pos, moved, EVBUFFER_PTR_ADD);
	}
	return gunzip_finish(&g);
}

/* ---- replies ------------------------------------------------------------------- */

static void add_common_headers(struct receiver *r, struct evhttp_request *req, int json)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", json ? "application/json" : "application/x-protobuf");
	/* While draining, ask keep-alive clients to reconnect (to the next instance). */
	if (pipeline_draining(r->cfg.pipeline))
		evhttp_add_header(h, "Connection", "close");
}

/* Builds a google.rpc.Status reply into req (does not send). */
static void fill_status(struct receiver *r, struct evhttp_request *req, int json, int status, const char *msg)
{
	struct tl_buf b;
	int grpc;
	switch (status) {
	case 400: case 415: grpc = GRPC_INVALID_ARGUMENT; break;
	case 404: grpc = GRPC_NOT_FOUND; break;
	case 405: grpc = GRPC_UNIMPLEMENTED; break;
	case 413: case 429: grpc = GRPC_RESOURCE_EXHAUSTED; break;
	case 503: grpc = GRPC_UNAVAILABLE; break;
	default: grpc = GRPC_INTERNAL; break;
	}
	tl_buf_init(&b, 64 * 1024);
	if (json)
		otlp_encode_status_json(&b, grpc, msg);
	else
		otlp_encode_status_pb(&b, grpc, msg);
	add_common_headers(r, req, json);
	if (status == 429 || status == 503)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
	if (status == 405)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
	if (b.len)
		evbuffer_add(evhttp_request_get_output_buffer(req), b.data, b.len);
	tl_buf_cleanup(&b);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	}
	return NULL;
}

static int refuse_reason(int status)
{
	switch (status) {
	case 400: return METRICS_REFUSE_MALFORMED;
	case 413: return METRICS_REFUSE_TOO_LARGE;
	case 415: return METRICS_REFUSE_UNSUPPORTED;
	case 429: return METRICS_REFUSE_BUSY;
	}
	return METRICS_REFUSE_STORE;
}

static const char *const sig_names[RECEIVER_SIG__N] = {"traces", "metrics", "logs"};
static const char *const sig_paths[RECEIVER_SIG__N] = {"/v1/traces", "/v1/metrics", "/v1/logs"};

/* Request counters for every signal; span counters for traces. */
static void count(struct receiver *r, int sig, int status, uint64_t n_spans, int shutdown)
{
	struct metrics *m = r->cfg.metrics;
	if (!m || sig < 0)
		return;
	metrics_request(m, "http", sig_names[sig], status);
	if (sig != RECEIVER_SIG_TRACES)
		return;
	if (status == 200)
		metrics_spans_accepted(m, n_spans);
	else if (status != 404 && status != 405)
		metrics_spans_refused(m, shutdown ? METRICS_REFUSE_SHUTDOWN : refuse_reason(status), n_spans);
}

/* A reply with no ticket (refused before admission). */
/* sig < 0: a request for no signal (unknown path), not counted. */
static void reply_plain(struct receiver *r, struct evhttp_request *req, int json, int status, const char *msg,
			int sig)
{
	fill_status(r, req, json, status, msg);
	evhttp_send_reply(req, status, reason_phrase(status), NULL);
	count(r, sig, status, 0, status == 503);
}

/* The success body of a signal's Export response. */
static void encode_ok(struct tl_buf *b, int sig, int json, int64_t rejected, const char *msg)
{
	switch (sig) {
	case RECEIVER_SIG_METRICS:
		if (json)
			otlp_encode_metrics_response_json(b, rejected, msg);
		else
			otlp_encode_metrics_response_pb(b, rejected, msg);
		break;
	case RECEIVER_SIG_LOGS:
		if (json)
			otlp_encode_logs_response_json(b, rejected, msg);
		else
			otlp_encode_logs_response_pb(b, rejected, msg);
		break;
	default:
		if (json)
			otlp_encode_trace_response_json(b, rejected, msg);
		else
			otlp_encode_trace_response_pb(b, rejected, msg);
		break;
	}
}

static void ctx_finish(struct req_ctx *c)
{
	pipeline_end(c->r->cfg.pipeline, &c->ticket);
	free(c);
}

static void on_reply_complete(struct evhttp_request *req, void *arg)
{
	struct req_ctx *c = arg;
	evhttp_connection_set_closecb(c->conn, NULL, NULL);
	ctx_finish(c);
}

/* The connection is going away. While we wait for the store the request is
 * detached from it by libevent (and freed by our later send); after our reply
 * was queued, the request goes with the connection and no completion comes. */
static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct req_ctx *c = arg;
	if (c->state == ST_REPLIED)
		ctx_finish(c);
	else
		c->conn = NULL;
}

/* The final reply of an admitted request; ends its ticket once written. */
static void reply_ctx(struct req_ctx *c, int status, const char *msg)
{
	struct evhttp_request *req = c->req;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	if (status == 200) {
		struct tl_buf b;
		tl_buf_init(&b, 4096);
		encode_ok(&b, c->sig, c->json, c->rejected, c->rejected || c->pmsg[0] ? c->pmsg : NULL);
		add_common_headers(c->r, req, c->json);
		if (b.len)
			evbuffer_add(evhttp_request_get_output_buffer(req), b.data, b.len);
		tl_buf_cleanup(&b);
	} else {
		fill_status(c->r, req, c->json, status, msg);
	}
	count(c->r, c->sig, status, c->n_spans, status == 503 && pipeline_draining(c->r->cfg.pipeline));
	if (!conn || !c->conn) {
		/* The client is gone: libevent frees the request on send. */
		evhttp_send_reply(req, status, reason_phrase(status), NULL);
		ctx_finish(c);
		return;
	}
	c->state = ST_REPLIED;
	evhttp_request_set_on_complete_cb(req, on_reply_complete, c);
	evhttp_send_reply(req, status, reason_phrase(status), NULL);
}

/* On the loop thread, after the store's done. */
static void on_stored(struct server_task *t)
{
	struct req_ctx *c = (struct req_ctx *)t;
	if (c->store_status == 0)
		reply_ctx(c, 200, NULL);
	else
		reply_ctx(c, 503, "the store could not commit the batch; retry later");
}

/* On the store's writer thread. */
static void on_store_done(void *arg, int status)
{
	struct req_ctx *c = arg;
	c->store_status = status;
	server_loop_post(c->loop, &c->task);
}

/* ---- decode and submit (shared with otlp_grpc.c) -------------------------------- */

void receiver_ingest_traces(struct receiver *r, struct pipeline_ticket *t, const void *data, size_t len, int json,
			    const char *tenant, store_done_fn done, void *arg, struct receiver_result *res)
{
	struct tl_arena *arena = tl_arena_create(64 * 1024, r->decode_ceiling);
	struct otlp_limits lim;
	struct otlp_error oerr;
	struct tl_batch batch;
	int rc;

	memset(res, 0, sizeof *res);
	if (!arena)
		abort();
	lim.max_depth = r->cfg.max_depth;
	lim.max_arena_bytes = r->decode_ceiling;
	memset(&batch, 0, sizeof batch);
	memset(&oerr, 0, sizeof oerr);
	if (json)
		rc = otlp_decode_traces_json(data, len, arena, &lim, &batch, &oerr);
	else
		rc = otlp_decode_traces_pb(data, len, arena, &lim, &batch, &oerr);
	if (rc == TL_ENOMEM || rc == TL_ETOOBIG) {
		res->status = 413;
		snprintf(res->msg, sizeof res->msg, "decoded request exceeds the decode ceiling (%zu bytes)",
			 r->decode_ceiling);
		goto out;
	}
	if (rc) {
		res->status = 400;
		snprintf(res->msg, sizeof res->msg, "%s", oerr.msg[0] ? oerr.msg : tl_strerror(rc));
		goto out;
	}
	if (pipeline_charge(r->cfg.pipeline, t, tl_arena_used(arena))) {
		res->status = 429;
		snprintf(res->msg, sizeof res->msg, "over the memory budget (server.memory_budget); retry later");
		goto out;
	}
	batch.arena = arena;
	batch.tenant = tenant ? tl_str_c(tenant) : TL_STR_LIT("default");
	res->n_items = batch.n_spans;
	res->status = 200;
	if (batch.n_spans == 0)
		goto out; /* nothing to store: the spec asks for success */
	model_normalise_batch(&batch, r->cfg.prices);
	rc = pipeline_submit(r->cfg.pipeline, t, &batch, done, arg);
	if (rc) {
		res->status = 503;
		snprintf(res->msg, sizeof res->msg, "%s",
			 rc == TL_ECLOSED ? "shutting down; retry later" : "the store refused the batch; retry later");
		goto out;
	}
	res->submitted = 1;
out:
	tl_arena_destroy(arena);
}

/* ---- the endpoint ------------------------------------------------------------ */

/* Decodes and submits one request of a signal (the receiver_result contract). */
static void ingest(struct receiver *r, int sig, struct pipeline_ticket *t, const void *data, size_t len, int json,
		   const char *tenant, store_done_fn done, void *arg, struct receiver_result *res)
{
	if (sig == RECEIVER_SIG_METRICS)
		receiver_ingest_metrics(r, t, data, len, json, tenant, done, arg, res);
	else if (sig == RECEIVER_SIG_LOGS)
		receiver_ingest_logs(r, t, data, len, json, tenant, done, arg, res);
	else
		receiver_ingest_traces(r, t, data, len, json, tenant, done, arg, res);
}

static void handle_signal(struct receiver *r, int sig, struct evhttp_request *req, struct server_loop *loop)
{
	struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(in_h, "Content-Type");
	const char *ce = evhttp_find_header(in_h, "Content-Encoding");
	const char *tenant = evhttp_find_header(in_h, "X-Tracelamp-Tenant");
	int type = receiver_content_type(ct), json = type == RECEIVER_CT_JSON, gzip = 0, rc;
	size_t body_len = evbuffer_get_length(body);
	struct tl_buf inflated;
	struct receiver_result res;
	struct req_ctx *c = NULL;
	const void *data;
	size_t data_len;
	char msg[300];

	tl_buf_init(&inflated, r->cfg.max_request_bytes + 1);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		snprintf(msg, sizeof msg, "use POST for %s", sig_paths[sig]);
		reply_plain(r, req, json, 405, msg, sig);
		goto out;
	}
	if (type == RECEIVER_CT_UNKNOWN) {
		snprintf(msg, sizeof msg, "unsupported Content-Type \"%.100s\": use application/x-protobuf or application/json",
			 ct ? ct : "");
		reply_plain(r, req, 0, 415, msg, sig);
		goto out;
	}
	if (ce && ce[0] && strcasecmp(ce, "identity") != 0) {
		if (strcasecmp(ce, "gzip") == 0 || strcasecmp(ce, "x-gzip") == 0) {
			gzip = 1;
		} else {
			snprintf(msg, sizeof msg, "unsupported Content-Encoding \"%.100s\": use gzip or none", ce);
			reply_plain(r, req, json, 415, msg, sig);
			goto out;
		}
	}
	if (tenant && !receiver_tenant_valid(tenant)) {
		reply_plain(r, req, json, 400, "X-Tracelamp-Tenant: must be 1-64 characters of A-Z a-z 0-9 . _ -", sig);
		goto out;
	}
	if (r->cfg.metrics)
		metrics_bytes_received(r->cfg.metrics, body_len);

	c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->r = r;
	c->req = req;
	c->loop = loop;
	c->json = json;
	c->sig = sig;
	c->task.fn = on_stored;
	rc = pipeline_admit(r->cfg.pipeline, &c->ticket, body_len);
	if (rc) {
		free(c);
		c = NULL;
		if (rc == TL_EBUSY)
			reply_plain(r, req, json, 429, "over the memory budget (server.memory_budget); retry later", sig);
		else
			reply_plain(r, req, json, 503, "shutting down; retry later", sig);
		goto out;
	}
	/* From here the ticket is open: every path ends in reply_ctx. */
	c->conn = evhttp_request_get_connection(req);
	if (c->conn)
		evhttp_connection_set_closecb(c->conn, on_conn_close, c);

	if (gzip && body_len) {
		rc = gunzip_evbuffer(body, r->cfg.max_request_bytes, &inflated);
		if (rc == TL_ETOOBIG) {
			snprintf(msg, sizeof msg, "inflated body exceeds server.max_request_bytes (%zu bytes)",
				 r->cfg.max_request_bytes);
			reply_ctx(c, 413, msg);
			goto out;
		}
		if (rc) {
			reply_ctx(c, 400, "Content-Encoding gzip: corrupt or truncated gzip stream");
			goto out;
		}
		evbuffer_drain(body, body_len);
		if (pipeline_charge(r->cfg.pipeline, &c->ticket, inflated.len)) {
			reply_ctx(c, 429, "over the memory budget (server.memory_budget); retry later");
			goto out;
		}
		data = inflated.data;
		data_len = inflated.len;
	} else {
		data = body_len ? (const void *)evbuffer_pullup(body, -1) : (const void *)"";
		data_len = body_len;
	}

	ingest(r, sig, &c->ticket, data, data_len, json, tenant, on_store_done, c, &res);
	c->n_spans = res.n_items;
	if (res.status == 200) {
		c->rejected = res.rejected;
		snprintf(c->pmsg, sizeof c->pmsg, "%s", res.msg);
	}
	if (!res.submitted) {
		reply_ctx(c, res.status, res.msg);
		goto out;
	}
	/* The store copied the batch; free the body now (the request object lives
	 * on until on_stored replies). Only here is req known to be alive: the
	 * error paths above may have handed it back to libevent. */
	evbuffer_drain(body, evbuffer_get_length(body));
out:
	tl_buf_cleanup(&inflated);
}

void receiver_handle(struct evhttp_request *req, struct server_loop *loop, void *arg)
{
	struct receiver *r = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	int json = receiver_content_type(evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type")) ==
		   RECEIVER_CT_JSON;

	for (int sig = 0; sig < RECEIVER_SIG__N; sig++) {
		if (path && strcmp(path, sig_paths[sig]) == 0) {
			handle_signal(r, sig, req, loop);
			return;
		}
	}
	reply_plain(r, req, json, 404, "unknown path: OTLP/HTTP goes to POST /v1/traces, /v1/metrics or /v1/logs", -1);
}
