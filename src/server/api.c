/*
 * api.c - routes of the API port: /healthz, /readyz, /metrics and the JSON
 * query API under /api/v1 (adapted to query_handle). Runs on the API loop.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "metrics/metrics.h"
#include "pipeline/pipeline.h"
#include "query/query.h"
#include "ui/ui.h"

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "GET";
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return NULL;
}

static void reply(struct evhttp_request *req, int status, const char *ctype, const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (len)
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, status, reason(status), NULL);
}

static void reply_text(struct evhttp_request *req, int status, const char *text)
{
	reply(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void reply_error(struct evhttp_request *req, int status, const char *code, const char *msg)
{
	struct tl_buf b;
	tl_buf_init(&b, 4096);
	/* code and msg are our own constants: no JSON escaping needed. */
	tl_buf_printf(&b, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
	reply(req, status, "application/json", b.data ? b.data : "", b.len);
	tl_buf_cleanup(&b);
}

static void serve_metrics(struct evhttp_request *req, struct server_api *api)
{
	struct tl_buf b;
	struct metrics_gauges g;
	tl_buf_init(&b, 64u << 20);
	g.memory_in_use = api->pipeline ? pipeline_memory_in_use(api->pipeline) : 0;
	g.memory_budget = api->pipeline ? pipeline_memory_budget(api->pipeline) : 0;
	if (!api->metrics || metrics_render(api->metrics, api->store, &g, &b)) {
		reply_text(req, 500, "cannot render metrics\n");
	} else {
		reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
	}
	tl_buf_cleanup(&b);
}

static void serve_query(struct evhttp_request *req, struct server_api *api, const char *path, const char *query)
{
	struct query_ctx qc = {api->store, api->prices};
	struct query_request qr;
	struct query_response resp;
	int rc;

	memset(&resp, 0, sizeof resp);
	qr.method = method_name(evhttp_request_get_command(req));
	qr.path = path;
	qr.query = query;
	qr.tenant_header = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Tracelamp-Tenant");
	qr.now_unix_nano = tl_now_unix_nano();
	rc = query_handle(&qc, &qr, &resp);
	if (rc == TL_ENOTFOUND && resp.body.len == 0) {
		reply_error(req, 404, "not_found", "no such API path");
	} else {
		reply(req, resp.status ? resp.status : 500, resp.content_type ? resp.content_type : "application/json",
		      resp.body.data ? resp.body.data : "", resp.body.len);
	}
	tl_buf_cleanup(&resp.body);
}

void server_api_handle(struct evhttp_request *req, struct server_loop *loop, void *arg)
{
	struct server_api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	char *path = NULL;
	int is_get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;

	if (!raw || !raw[0])
		raw = "/";
	path = evhttp_uridecode(raw, 0, NULL);
	if (!path) {
		reply_error(req, 400, "bad_request", "malformed path");
		return;
	}
	if (strncmp(path, "/api/v1/", 8) == 0 || strcmp(path, "/api/v1") == 0) {
		serve_query(req, api, path, query);
	} else if (strcmp(path, "/healthz") == 0) {
		if (is_get)
			reply_text(req, 200, "ok\n");
		else
			reply_error(req, 405, "method_not_allowed", "use GET");
	} else if (strcmp(path, "/readyz") == 0) {
		if (!is_get)
			reply_error(req, 405, "method_not_allowed", "use GET");
		else if (api->pipeline && pipeline_draining(api->pipeline))
			reply_text(req, 503, "draining\n");
		else if (!api->store || !store_ready(api->store))
			reply_text(req, 503, "store not ready\n");
		else
			reply_text(req, 200, "ready\n");
	} else if (strcmp(path, "/metrics") == 0) {
		if (is_get)
			serve_metrics(req, api);
		else
			reply_error(req, 405, "method_not_allowed", "use GET");
	} else if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0) {
		ui_serve(req, path); /* the web UI, embedded in the binary */
	} else {
		reply_error(req, 404, "not_found", "no such path");
	}
	free(path);
}
