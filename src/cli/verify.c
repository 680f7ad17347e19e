/*
 * verify.c - `tracelamp verify`: a deploy gate. Sends one GenAI trace (an
 * invoke_agent root with a chat child carrying token usage) and the matching
 * gen_ai.client.token.usage metrics to an OTLP endpoint (HTTP/protobuf, or gRPC
 * over HTTP/2 with prior knowledge), prints the trace id, then polls a query API
 * (tracelamp's /api/v1/traces/{id}, or a Tempo-style /api/traces/{id}) until the
 * trace is there with both spans and the expected usage, or a timeout.
 * Exit 0 = verified, 1 = failed, 2 = usage error.
 *
 * Also home of the small libcurl helper that check.c shares (cli.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"
#include "core/core.h"
#include "model/model.h"
#include "otlp/otlp.h"

#define VERIFY_RESP_MAX (64u << 20)
#define VERIFY_MAX_HEADERS 32
#define VERIFY_INPUT_TOKENS 1234
#define VERIFY_OUTPUT_TOKENS 56
#define VERIFY_MODEL "gpt-4o-mini"
#define VERIFY_PROVIDER "openai"
#define VERIFY_SERVICE "tracelamp-verify"
#define VERIFY_SCOPE "tracelamp.verify"
#define GRPC_TRACES_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define GRPC_METRICS_PATH "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
#define GRPC_UNIMPLEMENTED 12

enum api_mode { API_AUTO, API_TRACELAMP, API_TEMPO };

struct verify_opts {
	const char *endpoint;
	int grpc;
	const char *api;
	int api_mode;
	uint64_t timeout_ns;
	uint64_t interval_ns;
	const char *tenant;
	const char *headers;      /* "k=v,k2=v2" */
	int require_metrics;
	int quiet;
};

/* ---- HTTP (libcurl) --------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct tl_buf *b = arg;
	return tl_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

struct hdr_state {
	char grpc_status[16];
	char grpc_message[256];
};

/* Sees response headers and, for HTTP/2, the trailers (libcurl passes both). */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct hdr_state *h = arg;
	size_t len = size * n;
	const char *names[2] = {"grpc-status:", "grpc-message:"};
	char *outs[2] = {h->grpc_status, h->grpc_message};
	size_t outlens[2] = {sizeof h->grpc_status, sizeof h->grpc_message};
	for (int i = 0; i < 2; i++) {
		size_t nl = strlen(names[i]);
		if (len <= nl || strncasecmp(p, names[i], nl) != 0)
			continue;
		const char *v = p + nl;
		size_t vl = len - nl;
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		/* grpc-message is percent-encoded (PROTOCOL-HTTP2.md); decode while copying */
		size_t o = 0;
		for (size_t j = 0; j < vl && o + 1 < outlens[i]; j++) {
			uint8_t byte;
			if (v[j] == '%' && j + 2 < vl && tl_hex_decode(v + j + 1, 2, &byte, 1) == 0) {
				outs[i][o++] = (char)byte;
				j += 2;
			} else {
				outs[i][o++] = v[j];
			}
		}
		outs[i][o] = 0;
	}
	return len;
}

/* Appends "k: v" headers from a "k=v,k2=v2" list. */
static int add_user_headers(struct curl_slist **l, const char *list, char *err, size_t errlen)
{
	const char *s = list;
	while (s && *s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		const char *eq = memchr(s, '=', n);
		if (!eq || eq == s) {
			snprintf(err, errlen, "--headers: \"%.*s\" is not key=value", (int)(n > 64 ? 64 : n), s);
			return TL_EINVAL;
		}
		char line[1024];
		int kl = (int)(eq - s), vl = (int)(n - (size_t)kl - 1);
		if (snprintf(line, sizeof line, "%.*s: %.*s", kl, s, vl, eq + 1) >= (int)sizeof line) {
			snprintf(err, errlen, "--headers: entry too long");
			return TL_EINVAL;
		}
		*l = curl_slist_append(*l, line);
		s = comma ? comma + 1 : NULL;
	}
	return 0;
}

struct http_call {
	const char *url;
	const char *method;        /* "GET" or "POST" */
	const void *body;
	size_t body_len;
	const char *content_type;
	const char *tenant;
	const char *user_headers;
	int grpc;                  /* HTTP/2 prior knowledge + gRPC headers */
	long timeout_ms;
	/* results */
	long status;
	struct tl_buf resp;
	struct hdr_state hdr;
	char err[256];
};

/* Performs the call. Returns 0 when a response arrived (any status), else
 * TL_EIO with err filled (connection refused, timeout, ...). */
static int http_perform(struct http_call *c)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	char line[300];
	int rc = 0;

	c->status = 0;
	memset(&c->hdr, 0, sizeof c->hdr);
	tl_buf_init(&c->resp, VERIFY_RESP_MAX);
	if (!h) {
		snprintf(c->err, sizeof c->err, "curl_easy_init failed");
		rc = TL_ENOMEM;
		goto out;
	}
	if (c->content_type) {
		snprintf(line, sizeof line, "Content-Type: %s", c->content_type);
		hl = curl_slist_append(hl, line);
	}
	if (c->tenant) {
		snprintf(line, sizeof line, "X-Tracelamp-Tenant: %s", c->tenant);
		hl = curl_slist_append(hl, line);
	}
	if (c->grpc)
		hl = curl_slist_append(hl, "TE: trailers");
	hl = curl_slist_append(hl, "Expect:");
	if (c->user_headers && add_user_headers(&hl, c->user_headers, c->err, sizeof c->err)) {
		rc = TL_EINVAL;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tracelamp-verify/0.1");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->resp);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->hdr);
	if (c->grpc)
		curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	if (strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	}
	CURLcode cr = curl_easy_perform(h);
	if (cr != CURLE_OK) {
		snprintf(c->err, sizeof c->err, "%s: %s", c->url, curl_easy_strerror(cr));
		rc = TL_EIO;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
out:
	curl_slist_free_all(hl);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

int cli__http_get(const char *url, const char *tenant, long timeout_ms, long *status, struct tl_buf *body,
		  char *err, size_t errlen)
{
	struct http_call c;
	memset(&c, 0, sizeof c);
	c.url = url;
	c.method = "GET";
	c.tenant = tenant;
	c.timeout_ms = timeout_ms;
	int rc = http_perform(&c);
	if (rc) {
		snprintf(err, errlen, "%s", c.err);
		tl_buf_cleanup(&c.resp);
		return rc;
	}
	*status = c.status;
	*body = c.resp;
	return 0;
}

/* ---- the trace and metrics sent ----------------------------------------------- */

struct sent {
	uint8_t trace_id[16];
	uint8_t root_id[8];
	uint8_t chat_id[8];
	char trace_hex[33];
	struct tl_buf traces;  /* ExportTraceServiceRequest */
	struct tl_buf metrics; /* ExportMetricsServiceRequest */
};

static void random_bytes(uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n) {
		/* no entropy source: time and address bits still make a one-off id unique enough */
		uint64_t x = tl_now_unix_nano() ^ (uint64_t)(uintptr_t)p;
		for (size_t i = got; i < n; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
			p[i] = (uint8_t)(x >> 56);
	}
	if (tl_is_zero(p, n))
		p[n - 1] = 1;
}

static void set_str_attr(struct tl_kv *kv, const char *k, const char *v)
{
	kv->key = tl_str_c(k);
	kv->v.kind = TL_V_STR;
	kv->v.u.s = tl_str_c(v);
}

static void set_int_attr(struct tl_kv *kv, const char *k, int64_t v)
{
	kv->key = tl_str_c(k);
	kv->v.kind = TL_V_INT;
	kv->v.u.i = v;
}

static int build_payloads(struct sent *s)
{
	struct tl_resource res;
	struct tl_scope scope;
	struct tl_kv res_attrs[1], root_attrs[3], chat_attrs[7];
	struct tl_span spans[2];
	const struct tl_span *ptrs[2] = {&spans[0], &spans[1]};
	uint64_t now = tl_now_unix_nano();
	int rc;

	random_bytes(s->trace_id, 16);
	random_bytes(s->root_id, 8);
	random_bytes(s->chat_id, 8);
	tl_hex_encode(s->trace_id, 16, s->trace_hex);

	memset(&res, 0, sizeof res);
	memset(&scope, 0, sizeof scope);
	memset(spans, 0, sizeof spans);
	set_str_attr(&res_attrs[0], "service.name", VERIFY_SERVICE);
	res.attrs.items = res_attrs;
	res.attrs.n = 1;
	res.service = tl_str_c(VERIFY_SERVICE);
	scope.name = tl_str_c(VERIFY_SCOPE);
	scope.version = tl_str_c("1");

	set_str_attr(&root_attrs[0], "gen_ai.operation.name", "invoke_agent");
	set_str_attr(&root_attrs[1], "gen_ai.agent.name", "tracelamp-verify");
	set_str_attr(&root_attrs[2], "gen_ai.provider.name", VERIFY_PROVIDER);
	set_str_attr(&chat_attrs[0], "gen_ai.operation.name", "chat");
	set_str_attr(&chat_attrs[1], "gen_ai.provider.name", VERIFY_PROVIDER);
	set_str_attr(&chat_attrs[2], "gen_ai.request.model", VERIFY_MODEL);
	set_str_attr(&chat_attrs[3], "gen_ai.response.model", VERIFY_MODEL);
	set_int_attr(&chat_attrs[4], "gen_ai.usage.input_tokens", VERIFY_INPUT_TOKENS);
	set_int_attr(&chat_attrs[5], "gen_ai.usage.output_tokens", VERIFY_OUTPUT_TOKENS);
	set_str_attr(&chat_attrs[6], "tracelamp.verify", "1");

	for (int i = 0; i < 2; i++) {
		memcpy(spans[i].trace_id, s->trace_id, 16);
		spans[i].resource = &res;
		spans[i].scope = &scope;
		spans[i].flags = 1;
		spans[i].status_code = TL_STATUS_OK;
	}
	memcpy(spans[0].span_id, s->root_id, 8);
	spans[0].name = tl_str_c("invoke_agent tracelamp-verify");
	spans[0].kind = TL_KIND_INTERNAL;
	spans[0].start_unix_nano = now - 200 * 1000000ull;
	spans[0].end_unix_nano = now;
	spans[0].attrs.items = root_attrs;
	spans[0].attrs.n = 3;
	memcpy(spans[1].span_id, s->chat_id, 8);
	memcpy(spans[1].parent_span_id, s->root_id, 8);
	spans[1].has_parent = 1;
	spans[1].name = tl_str_c("chat " VERIFY_MODEL);
	spans[1].kind = TL_KIND_CLIENT;
	spans[1].start_unix_nano = now - 150 * 1000000ull;
	spans[1].end_unix_nano = now - 50 * 1000000ull;
	spans[1].attrs.items = chat_attrs;
	spans[1].attrs.n = 7;

	tl_buf_init(&s->traces, 1 << 20);
	tl_buf_init(&s->metrics, 1 << 20);
	if ((rc = otlp_encode_traces(&s->traces, ptrs, 2, 0)))
		return rc;
	struct otlp_token_usage u = {"chat", VERIFY_PROVIDER, VERIFY_MODEL, VERIFY_MODEL, VERIFY_INPUT_TOKENS,
				     VERIFY_OUTPUT_TOKENS};
	return otlp_encode_token_usage_metrics(&s->metrics, VERIFY_SERVICE, VERIFY_SCOPE, &u, 1,
					       now - 200 * 1000000ull, now);
}

/* ---- sending -------------------------------------------------------------------- */

enum send_result { SEND_OK, SEND_UNSUPPORTED, SEND_FAILED };

/* Sends one OTLP request; fills msg with a one-line description. */
static int send_otlp(const struct verify_opts *o, const char *signal, const struct tl_buf *payload, char *msg,
		     size_t msglen)
{
	char url[2048];
	struct tl_buf framed;
	struct http_call c;
	size_t base_len = strlen(o->endpoint);
	int res = SEND_FAILED;

	while (base_len && o->endpoint[base_len - 1] == '/')
		base_len--;
	memset(&c, 0, sizeof c);
	tl_buf_init(&framed, (size_t)payload->len + 16);
	if (o->grpc) {
		/* Length-Prefixed-Message: flag 0, 4-byte big-endian length, message */
		uint8_t pre[5] = {0, (uint8_t)(payload->len >> 24), (uint8_t)(payload->len >> 16),
				  (uint8_t)(payload->len >> 8), (uint8_t)payload->len};
		tl_buf_append(&framed, pre, 5);
		tl_buf_append(&framed, payload->data, payload->len);
		snprintf(url, sizeof url, "%.*s%s", (int)base_len, o->endpoint,
			 strcmp(signal, "traces") == 0 ? GRPC_TRACES_PATH : GRPC_METRICS_PATH);
		c.body = framed.data;
		c.body_len = framed.len;
		c.content_type = "application/grpc";
		c.grpc = 1;
	} else {
		snprintf(url, sizeof url, "%.*s/v1/%s", (int)base_len, o->endpoint, signal);
		c.body = payload->data;
		c.body_len = payload->len;
		c.content_type = "application/x-protobuf";
	}
	c.url = url;
	c.method = "POST";
	c.tenant = o->tenant;
	c.user_headers = o->headers;
	c.timeout_ms = 10000;
	if (http_perform(&c)) {
		snprintf(msg, msglen, "%s: %s", signal, c.err);
		goto out;
	}
	if (o->grpc) {
		if (c.status != 200) {
			snprintf(msg, msglen, "%s: %.300s answered HTTP %ld (not a gRPC server?)", signal, url, c.status);
			goto out;
		}
		if (!c.hdr.grpc_status[0]) {
			snprintf(msg, msglen, "%s: %.300s sent no grpc-status trailer", signal, url);
			goto out;
		}
		long st = strtol(c.hdr.grpc_status, NULL, 10);
		if (st != 0) {
			snprintf(msg, msglen, "%s: grpc-status %ld%s%s", signal, st, c.hdr.grpc_message[0] ? ": " : "",
				 c.hdr.grpc_message);
			res = st == GRPC_UNIMPLEMENTED ? SEND_UNSUPPORTED : SEND_FAILED;
			goto out;
		}
		snprintf(msg, msglen, "%s: accepted (grpc-status 0, %zu bytes)", signal, payload->len);
		res = SEND_OK;
		goto out;
	}
	if (c.status >= 200 && c.status < 300) {
		snprintf(msg, msglen, "%s: accepted (HTTP %ld, %zu bytes)", signal, c.status, payload->len);
		res = SEND_OK;
	} else {
		snprintf(msg, msglen, "%s: %.300s answered HTTP %ld", signal, url, c.status);
		res = c.status == 404 ? SEND_UNSUPPORTED : SEND_FAILED;
	}
out:
	tl_buf_cleanup(&c.resp);
	tl_buf_cleanup(&framed);
	return res;
}

/* ---- checking what the API returns ---------------------------------------------- */

/* What one poll saw. */
struct seen {
	int found;         /* the API knows the trace */
	int spans;
	int have_root, have_chat, chat_parent_ok;
	int64_t in, out;
};

static int64_t json_int(const json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v)) {
		int64_t x;
		const char *s = json_string_value(v);
		if (!tl_parse_i64(s, strlen(s), &x))
			return x;
	}
	return TL_NONE;
}

static int hex_is(const json_t *v, const uint8_t *id, size_t n)
{
	char hex[33];
	tl_hex_encode(id, n, hex);
	return json_is_string(v) && strcasecmp(json_string_value(v), hex) == 0;
}

/* tracelamp /api/v1/traces/{id}: spans[] with span_id, parent_span_id and genai. */
static void inspect_tracelamp(const struct sent *s, json_t *doc, struct seen *w)
{
	json_t *spans = json_object_get(doc, "spans");
	size_t i;
	json_t *sp;
	w->found = 1;
	json_array_foreach(spans, i, sp) {
		w->spans++;
		if (hex_is(json_object_get(sp, "span_id"), s->root_id, 8))
			w->have_root = 1;
		if (hex_is(json_object_get(sp, "span_id"), s->chat_id, 8)) {
			json_t *g = json_object_get(sp, "genai");
			w->have_chat = 1;
			w->chat_parent_ok = hex_is(json_object_get(sp, "parent_span_id"), s->root_id, 8);
			w->in = json_int(json_object_get(g, "input_tokens"));
			w->out = json_int(json_object_get(g, "output_tokens"));
		}
	}
}

/* An id in Tempo JSON: hex (OTLP/JSON) or base64 (Tempo's gogo jsonpb). */
static int id_matches(const json_t *v, const uint8_t *id, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (!json_is_string(v))
		return 0;
	if (hex_is(v, id, n))
		return 1;
	const char *s = json_string_value(v);
	uint8_t out[16];
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		const char *p = strchr(b64, *s == '-' ? '+' : *s == '_' ? '/' : *s);
		if (!p || !*s)
			return 0;
		acc = (acc << 6) | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == sizeof out)
				return 0;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == n && memcmp(out, id, n) == 0;
}

static int64_t otlp_attr_int(const json_t *attrs, const char *key)
{
	size_t i;
	json_t *kv;
	json_array_foreach(attrs, i, kv) {
		json_t *k = json_object_get(kv, "key");
		if (json_is_string(k) && strcmp(json_string_value(k), key) == 0) {
			json_t *val = json_object_get(kv, "value");
			json_t *iv = json_object_get(val, "intValue");
			return json_int(iv ? iv : json_object_get(val, "doubleValue"));
		}
	}
	return TL_NONE;
}

/* Tempo /api/traces/{id}: {"batches": [ResourceSpans]} (or "resourceSpans"). */
static void inspect_tempo(const struct sent *s, json_t *doc, struct seen *w)
{
	json_t *batches = json_object_get(doc, "batches");
	size_t i, j, k;
	json_t *rs, *ss, *sp;
	if (!batches)
		batches = json_object_get(doc, "resourceSpans");
	if (!json_is_array(batches))
		return;
	w->found = 1;
	json_array_foreach(batches, i, rs) {
		json_t *scopes = json_object_get(rs, "scopeSpans");
		if (!scopes)
			scopes = json_object_get(rs, "instrumentationLibrarySpans");
		json_array_foreach(scopes, j, ss) {
			json_array_foreach(json_object_get(ss, "spans"), k, sp) {
				w->spans++;
				if (id_matches(json_object_get(sp, "spanId"), s->root_id, 8))
					w->have_root = 1;
				if (id_matches(json_object_get(sp, "spanId"), s->chat_id, 8)) {
					json_t *attrs = json_object_get(sp, "attributes");
					w->have_chat = 1;
					w->chat_parent_ok = id_matches(json_object_get(sp, "parentSpanId"), s->root_id, 8);
					w->in = otlp_attr_int(attrs, "gen_ai.usage.input_tokens");
					w->out = otlp_attr_int(attrs, "gen_ai.usage.output_tokens");
				}
			}
		}
	}
}

static int complete(const struct seen *w)
{
	return w->found && w->have_root && w->have_chat && w->chat_parent_ok && w->in == VERIFY_INPUT_TOKENS &&
	       w->out == VERIFY_OUTPUT_TOKENS;
}

/* A 404 in tracelamp's error shape means "no such trace (yet)", anything else
 * on /api/v1 means the API is not tracelamp's. */
static int is_tracelamp_404(long status, const struct tl_buf *b)
{
	if (status != 404)
		return 0;
	json_t *doc = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
	json_t *code = json_object_get(json_object_get(doc, "error"), "code");
	int yes = json_is_string(code) && strcmp(json_string_value(code), "not_found") == 0;
	json_decref(doc);
	return yes;
}

/* One poll. Returns 1 when complete; describes what it saw in last. */
static int poll_once(const struct verify_opts *o, const struct sent *s, int *mode, struct seen *w, char *last,
		     size_t lastlen)
{
	char url[2048];
	struct tl_buf body;
	long status = 0;
	size_t base_len = strlen(o->api);
	char err[256];
	int done = 0;

	while (base_len && o->api[base_len - 1] == '/')
		base_len--;
	memset(w, 0, sizeof *w);
	w->in = w->out = TL_NONE;
	for (int attempt = 0; attempt < 2 && !done; attempt++) {
		int tempo = *mode == API_TEMPO;
		snprintf(url, sizeof url, "%.*s%s%s", (int)base_len, o->api, tempo ? "/api/traces/" : "/api/v1/traces/",
			 s->trace_hex);
		if (cli__http_get(url, o->tenant, 5000, &status, &body, err, sizeof err)) {
			snprintf(last, lastlen, "%s", err);
			return 0;
		}
		if (status == 200) {
			json_t *doc = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
			if (!doc) {
				snprintf(last, lastlen, "%.300s: 200 but not JSON", url);
			} else {
				if (tempo)
					inspect_tempo(s, doc, w);
				else
					inspect_tracelamp(s, doc, w);
				json_decref(doc);
				snprintf(last, lastlen, "%.300s: %d span(s), root %s, chat %s, input_tokens %lld, output_tokens %lld",
					 url, w->spans, w->have_root ? "seen" : "missing",
					 !w->have_chat ? "missing" : w->chat_parent_ok ? "seen" : "seen under the wrong parent",
					 (long long)w->in, (long long)w->out);
			}
			done = 1;
		} else if (!tempo && is_tracelamp_404(status, &body)) {
			snprintf(last, lastlen, "%.300s: not found yet", url);
			done = 1;
		} else if (!tempo && *mode == API_AUTO) {
			/* not tracelamp's API: try the Tempo-style path (and stay with it) */
			*mode = API_TEMPO;
		} else {
			snprintf(last, lastlen, "%.300s: HTTP %ld", url, status);
			done = 1;
		}
		tl_buf_cleanup(&body);
	}
	return complete(w);
}

/* ---- options ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: tracelamp verify [options]\n"
		   "\n"
		   "Sends one GenAI trace (invoke_agent root + chat child with token usage) and\n"
		   "gen_ai.client.token.usage metrics, prints the trace id, then polls the query API\n"
		   "until the trace is complete. Exit 0 = verified, 1 = failed, 2 = usage error.\n"
		   "\n"
		   "  --endpoint=URL        OTLP base URL (default http://127.0.0.1:4318; 4317 with grpc)\n"
		   "  --protocol=P          http/protobuf (default) or grpc\n"
		   "  --api=URL             query API base URL (default http://127.0.0.1:7070)\n"
		   "  --api-mode=M          auto (default: /api/v1/traces/{id}, else Tempo /api/traces/{id}),\n"
		   "                        tracelamp or tempo\n"
		   "  --timeout=D           give up after D (default 30s; 500ms, 2m, ...)\n"
		   "  --interval=D          poll interval (default 250ms)\n"
		   "  --tenant=T            X-Tracelamp-Tenant for sending and querying\n"
		   "  --headers=k=v,...     extra headers on the OTLP requests\n"
		   "  --require-metrics     fail when the metrics export is not accepted\n"
		   "                        (default: a 404 / UNIMPLEMENTED there is a warning)\n"
		   "  --quiet               print only the trace id and the verdict\n");
}

static int opt_value(const char *arg, const char *name, const char **out, int *i, int argc, char **argv)
{
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*out = arg + n + 1;
		return 1;
	}
	if (arg[n] == 0 && *i + 1 < argc) {
		*out = argv[++*i];
		return 1;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct verify_opts *o)
{
	const char *v, *protocol = "http/protobuf", *timeout = "30s", *interval = "250ms", *mode = "auto";
	memset(o, 0, sizeof *o);
	o->api = "http://127.0.0.1:7070";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		} else if (opt_value(a, "--endpoint", &v, &i, argc, argv)) {
			o->endpoint = v;
		} else if (opt_value(a, "--protocol", &v, &i, argc, argv)) {
			protocol = v;
		} else if (opt_value(a, "--api-mode", &v, &i, argc, argv)) {
			mode = v;
		} else if (opt_value(a, "--api", &v, &i, argc, argv)) {
			o->api = v;
		} else if (opt_value(a, "--timeout", &v, &i, argc, argv)) {
			timeout = v;
		} else if (opt_value(a, "--interval", &v, &i, argc, argv)) {
			interval = v;
		} else if (opt_value(a, "--tenant", &v, &i, argc, argv)) {
			o->tenant = v;
		} else if (opt_value(a, "--headers", &v, &i, argc, argv)) {
			o->headers = v;
		} else if (strcmp(a, "--require-metrics") == 0) {
			o->require_metrics = 1;
		} else if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1;
		} else {
			fprintf(stderr, "tracelamp verify: unknown option \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(protocol, "grpc") == 0) {
		o->grpc = 1;
	} else if (strcmp(protocol, "http/protobuf") != 0) {
		fprintf(stderr, "tracelamp verify: --protocol must be http/protobuf or grpc, not \"%s\"\n", protocol);
		return 2;
	}
	if (!o->endpoint)
		o->endpoint = o->grpc ? "http://127.0.0.1:4317" : "http://127.0.0.1:4318";
	if (strcmp(mode, "auto") == 0) {
		o->api_mode = API_AUTO;
	} else if (strcmp(mode, "tracelamp") == 0) {
		o->api_mode = API_TRACELAMP;
	} else if (strcmp(mode, "tempo") == 0) {
		o->api_mode = API_TEMPO;
	} else {
		fprintf(stderr, "tracelamp verify: --api-mode must be auto, tracelamp or tempo, not \"%s\"\n", mode);
		return 2;
	}
	if (tl_parse_duration(timeout, &o->timeout_ns) || o->timeout_ns == 0) {
		fprintf(stderr, "tracelamp verify: --timeout: not a duration: \"%s\"\n", timeout);
		return 2;
	}
	if (tl_parse_duration(interval, &o->interval_ns) || o->interval_ns == 0) {
		fprintf(stderr, "tracelamp verify: --interval: not a duration: \"%s\"\n", interval);
		return 2;
	}
	if (strncmp(o->endpoint, "http://", 7) != 0 && strncmp(o->endpoint, "https://", 8) != 0) {
		fprintf(stderr, "tracelamp verify: --endpoint must start with http:// or https://\n");
		return 2;
	}
	return 0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	nanosleep(&ts, NULL);
}

int cli_verify(int argc, char **argv)
{
	struct verify_opts o;
	struct sent s;
	struct seen w;
	char msg[512], last[768] = "no poll yet";
	int rc = 1, r, mode;

	memset(&s, 0, sizeof s);
	r = parse_opts(argc, argv, &o);
	if (r)
		return r == 1 ? 0 : 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (build_payloads(&s)) {
		printf("verify: FAIL could not encode the payloads\n");
		goto out;
	}
	/* the trace id first, alone on its line, so scripts can pick it up */
	printf("%s\n", s.trace_hex);
	fflush(stdout);
	uint64_t t0 = tl_mono_nano();

	r = send_otlp(&o, "traces", &s.traces, msg, sizeof msg);
	if (!o.quiet)
		fprintf(stderr, "verify: %s\n", msg);
	if (r != SEND_OK) {
		printf("verify: FAIL trace %s not sent: %s\n", s.trace_hex, msg);
		goto out;
	}
	r = send_otlp(&o, "metrics", &s.metrics, msg, sizeof msg);
	if (r == SEND_OK) {
		if (!o.quiet)
			fprintf(stderr, "verify: %s\n", msg);
	} else if (r == SEND_UNSUPPORTED && !o.require_metrics) {
		fprintf(stderr, "verify: warning: metrics not accepted (endpoint has no metrics receiver?): %s\n", msg);
	} else {
		printf("verify: FAIL metrics not accepted: %s\n", msg);
		goto out;
	}

	mode = o.api_mode;
	for (;;) {
		if (poll_once(&o, &s, &mode, &w, last, sizeof last)) {
			printf("verify: OK trace %s complete: %d spans, input_tokens=%d output_tokens=%d via %s (%.2fs)\n",
			       s.trace_hex, w.spans, VERIFY_INPUT_TOKENS, VERIFY_OUTPUT_TOKENS,
			       mode == API_TEMPO ? "/api/traces" : "/api/v1/traces",
			       (double)(tl_mono_nano() - t0) / 1e9);
			rc = 0;
			goto out;
		}
		if (tl_mono_nano() - t0 >= o.timeout_ns)
			break;
		sleep_ns(o.interval_ns);
	}
	printf("verify: FAIL trace %s not complete after %.1fs; last: %s\n", s.trace_hex, (double)o.timeout_ns / 1e9,
	       last);
out:
	fflush(stdout);
	tl_buf_cleanup(&s.traces);
	tl_buf_cleanup(&s.metrics);
	curl_global_cleanup();
	return rc;
}
