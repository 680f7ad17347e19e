/*
 * bench_gateway.c - `tracelamp bench-gateway`: what the gateway adds. Sends the
 * same chat completions at a fixed rate to an upstream directly and through
 * the gateway, in alternating half-second rounds (libcurl multi, keep-alive
 * connections, one thread), and reports, for each, requests/s and latency
 * p50/p99, the difference, and how busy the machine was (CPU use and time
 * stolen by the hypervisor, which decide the tails on a small VM). With
 * --stream it also measures how late each streamed chunk arrives relative to
 * the first one, so the added delay per chunk can be compared.
 *
 * `tracelamp bench-gateway --fake-upstream [--port=N]` is the upstream of the
 * bench: a minimal OpenAI chat completions server (JSON, or SSE with 9 events
 * 2 ms apart, the usage chunk right after the last content chunk) in C, so the
 * numbers are not a JavaScript runtime's garbage collector. The wire format is
 * the same as tests/integration/fake_upstream.mjs; the tests use that one.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cli/cli.h"
#include "core/core.h"

#define MAX_CHUNKS 64

struct slot {
	CURL *easy;
	struct curl_slist *hdrs;
	uint64_t start;
	uint64_t chunk_t[MAX_CHUNKS];
	int n_chunks;
	int busy;
};

struct run {
	const char *label;
	uint64_t *lat;      /* total latency per request, ns */
	uint64_t *per_chunk; /* (last chunk - first chunk) / (chunks - 1) per streamed request, ns */
	uint64_t *ttfb;
	size_t n, cap, n_stream;
	uint64_t errors, skipped;
	double seconds;
};

static size_t on_data(char *p, size_t s, size_t n, void *arg)
{
	struct slot *sl = arg;
	(void)p;
	if (sl->n_chunks < MAX_CHUNKS)
		sl->chunk_t[sl->n_chunks++] = tl_mono_nano();
	return s * n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof *v, cmp_u64);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

static void record(struct run *r, struct slot *sl, uint64_t end)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4096;
		r->lat = realloc(r->lat, r->cap * sizeof *r->lat);
		r->per_chunk = realloc(r->per_chunk, r->cap * sizeof *r->per_chunk);
		r->ttfb = realloc(r->ttfb, r->cap * sizeof *r->ttfb);
		if (!r->lat || !r->per_chunk || !r->ttfb)
			abort();
	}
	r->lat[r->n] = end - sl->start;
	r->ttfb[r->n] = sl->n_chunks ? sl->chunk_t[0] - sl->start : end - sl->start;
	if (sl->n_chunks > 2)
		r->per_chunk[r->n_stream++] =
		    (sl->chunk_t[sl->n_chunks - 1] - sl->chunk_t[0]) / (uint64_t)(sl->n_chunks - 1);
	r->n++;
}

/* One target (direct or gateway): its multi handle and keep-alive connections,
 * kept across rounds. */
struct path {
	CURLM *m;
	struct slot *slots;
	int conns;
	char url[1024], auth[512];
};

static void path_open(struct path *p, const char *base, const char *key, const char *body, int conns)
{
	p->m = curl_multi_init();
	p->slots = calloc((size_t)conns, sizeof *p->slots);
	p->conns = conns;
	if (!p->m || !p->slots)
		abort();
	snprintf(p->url, sizeof p->url, "%s/v1/chat/completions", base);
	snprintf(p->auth, sizeof p->auth, "Authorization: Bearer %s", key ? key : "none");
	for (int i = 0; i < conns; i++) {
		struct slot *s = &p->slots[i];
		s->easy = curl_easy_init();
		s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
		s->hdrs = curl_slist_append(s->hdrs, p->auth);
		s->hdrs = curl_slist_append(s->hdrs, "Expect:");
		curl_easy_setopt(s->easy, CURLOPT_URL, p->url);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 30000L);
	}
	curl_multi_setopt(p->m, CURLMOPT_MAXCONNECTS, (long)conns);
}

static void path_close(struct path *p)
{
	for (int i = 0; i < p->conns; i++) {
		curl_easy_cleanup(p->slots[i].easy);
		curl_slist_free_all(p->slots[i].hdrs);
	}
	free(p->slots);
	curl_multi_cleanup(p->m);
}

/* Sends at `rate` for `seconds` on p (at most p->conns in flight; a send with
 * no free connection is counted as skipped), waits for the last replies and
 * adds the results to r. */
static void run_load(struct run *r, struct path *p, double rate, double seconds)
{
	CURLM *m = p->m;
	struct slot *slots = p->slots;
	int conns = p->conns;
	uint64_t t0, end, next, interval = (uint64_t)(1e9 / rate);
	int running = 0, busy = 0;
	t0 = tl_mono_nano();
	end = t0 + (uint64_t)(seconds * 1e9);
	next = t0;
	for (;;) {
		uint64_t now = tl_mono_nano();
		while (now >= next && next < end) {
			int found = 0;
			for (int i = 0; i < conns; i++) {
				if (!slots[i].busy) {
					slots[i].busy = 1;
					slots[i].n_chunks = 0;
					slots[i].start = tl_mono_nano();
					curl_multi_add_handle(m, slots[i].easy);
					busy++;
					found = 1;
					break;
				}
			}
			if (!found)
				r->skipped++;
			next += interval;
		}
		if (now >= end && busy == 0)
			break;
		if (now > end + 30000000000ull)
			break;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct slot *s = NULL;
			long code = 0;
			uint64_t t = tl_mono_nano();
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != 200)
				r->errors++;
			else
				record(r, s, t);
			curl_multi_remove_handle(m, msg->easy_handle);
			s->busy = 0;
			busy--;
		}
		/* Sleep until a socket is ready or the next send is due, rounded up
		 * to the next millisecond: rounding down made the wait 0 at 1000 req/s,
		 * and the client spun on a whole CPU, which on a 2-CPU machine left
		 * the upstream, the gateway and the store to share the other one.
		 * Latency is timed from the actual send, so a late send does not
		 * count against either path. */
		now = tl_mono_nano();
		uint64_t due = next < end ? next : busy ? now + 1000000000ull : end;
		if (due > now)
			curl_multi_poll(m, NULL, 0, (int)((due - now + 999999) / 1000000), NULL);
	}
	r->seconds += (double)(tl_mono_nano() - t0) / 1e9;
}

/* CPU time from /proc/stat (jiffies): all, idle+iowait, steal. Zeros when unreadable. */
struct cpu_sample {
	unsigned long long total, idle, steal;
};

static void cpu_read(struct cpu_sample *c)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "r");
	memset(c, 0, sizeof *c);
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		for (int i = 0; i < 8; i++)
			c->total += v[i];
		c->idle = v[3] + v[4];
		c->steal = v[7];
	}
	fclose(f);
}

/* ---- the fake upstream ------------------------------------------------------- */

static const char FAKE_JSON[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
    "\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"Hello from the fake.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":50,"
    "\"completion_tokens\":20,\"total_tokens\":70,\"prompt_tokens_details\":{\"cached_tokens\":10},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":5}}}";

struct fake_stream {
	struct evhttp_request *req;
	struct event *timer;
	int sent;
	int usage;
};

static void fake_tick(evutil_socket_t fd, short what, void *arg)
{
	struct fake_stream *fs = arg;
	struct evbuffer *b = evbuffer_new();
	static const char *pieces[] = {"Hel", "lo", " from", " the", " fake", ".", "", ""};
	(void)fd;
	(void)what;
	if (fs->sent < 8) {
		evbuffer_add_printf(b,
				    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":"
				    "1700000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":"
				    "{\"content\":\"%s\"},\"finish_reason\":%s}]%s}\n\n",
				    pieces[fs->sent], fs->sent == 7 ? "\"stop\"" : "null", fs->usage ? ",\"usage\":null" : "");
		/* Like OpenAI, the usage chunk follows the last choice chunk at once:
		 * a tick of its own would make every stream through the gateway (which
		 * asks for usage) one tick longer than the same stream sent direct. */
		if (fs->sent == 7 && fs->usage)
			evbuffer_add_printf(b, "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
					       "\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":20,"
					       "\"total_tokens\":70}}\n\n");
	} else {
		evbuffer_add_printf(b, "data: [DONE]\n\n");
		evhttp_send_reply_chunk(fs->req, b);
		evhttp_send_reply_end(fs->req);
		evbuffer_free(b);
		event_free(fs->timer);
		free(fs);
		return;
	}
	fs->sent++;
	evhttp_send_reply_chunk(fs->req, b);
	evbuffer_free(b);
	struct timeval tv = {0, 2000};
	evtimer_add(fs->timer, &tv);
}

static void fake_handle(struct evhttp_request *req, void *arg)
{
	struct event_base *base = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	const char *body = n ? (const char *)evbuffer_pullup(in, -1) : "";
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd >= 0) {
		/* Small SSE events 2 ms apart: without this, Nagle holds each one
		 * until the client's (delayed) ACK of the previous. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (n && memmem(body, n, "\"stream\":true", 13)) {
		struct fake_stream *fs = calloc(1, sizeof *fs);
		if (!fs)
			abort();
		fs->req = req;
		fs->usage = memmem(body, n, "\"include_usage\":true", 20) != NULL;
		fs->timer = evtimer_new(base, fake_tick, fs);
		evhttp_add_header(out, "Content-Type", "text/event-stream");
		evhttp_send_reply_start(req, 200, "OK");
		fake_tick(-1, 0, fs);
		return;
	}
	evhttp_add_header(out, "Content-Type", "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), FAKE_JSON, sizeof FAKE_JSON - 1);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void fake_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static int fake_upstream(int port)
{
	struct event_base *base = event_base_new();
	struct evhttp *http = base ? evhttp_new(base) : NULL;
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	if (!http)
		return 1;
	evhttp_set_gencb(http, fake_handle, base);
	bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", (uint16_t)port);
	if (!bs || getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl)) {
		fprintf(stderr, "tracelamp: fake upstream: cannot listen on port %d\n", port);
		return 1;
	}
	struct event *si = evsignal_new(base, SIGINT, fake_stop, base), *st = evsignal_new(base, SIGTERM, fake_stop, base);
	event_add(si, NULL);
	event_add(st, NULL);
	printf("fake_upstream listening %u\n", ntohs(sa.sin_port));
	fflush(stdout);
	event_base_dispatch(base);
	event_free(si);
	event_free(st);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
	size_t n = strlen(name);
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], name, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	return def;
}

int cli_bench_gateway(int argc, char **argv)
{
	const char *direct = opt(argc, argv, "--direct", NULL), *gw = opt(argc, argv, "--gateway", NULL);
	const char *key = opt(argc, argv, "--key", "none"), *model = opt(argc, argv, "--model", "gpt-4o-mini");
	double rate = strtod(opt(argc, argv, "--rate", "1000"), NULL);
	double secs = strtod(opt(argc, argv, "--duration", "5"), NULL);
	int conns = (int)strtol(opt(argc, argv, "--connections", "64"), NULL, 10);
	int stream = !strcmp(opt(argc, argv, "--stream", "false"), "true");
	char body[512];
	struct run runs[2];
	double p50[2], p99[2], c50[2], c99[2], f50[2], steal = -1, busy = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--fake-upstream"))
			return fake_upstream((int)strtol(opt(argc, argv, "--port", "0"), NULL, 10));
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: tracelamp bench-gateway --direct=URL --gateway=URL [--key=K] [--rate=1000]\n"
			       "         [--duration=5] [--connections=64] [--stream=true] [--model=gpt-4o-mini]\n"
			       "Runs the same load against the upstream directly and through the gateway, in\n"
			       "alternating half-second rounds, and prints the latency the gateway adds.\n"
			       "       tracelamp bench-gateway --fake-upstream [--port=N]\n"
			       "Serves canned OpenAI chat completions (JSON and SSE) for the bench.\n");
			return 0;
		}
	}
	if (!direct || !gw || rate <= 0 || secs <= 0 || conns < 1) {
		fprintf(stderr, "tracelamp: bench-gateway needs --direct=URL and --gateway=URL (see --help)\n");
		return 2;
	}
	snprintf(body, sizeof body,
		 "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]%s}", model,
		 stream ? ",\"stream\":true" : "");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(runs, 0, sizeof runs);
	runs[0].label = "direct";
	runs[1].label = "gateway";
	/* A short warm-up of each path opens the connections; then the two paths
	 * take turns in rounds of half a second (the first to go alternates), so
	 * that a burst of other work on the machine hits both alike instead of
	 * whichever one was running at the time. */
	{
		struct path paths[2];
		struct cpu_sample c0, c1;
		int rounds = secs >= 1 ? (int)(secs / 0.5 + 0.5) : 1;
		path_open(&paths[0], direct, key, body, conns);
		path_open(&paths[1], gw, key, body, conns);
		for (int i = 0; i < 2; i++) {
			struct run w;
			memset(&w, 0, sizeof w);
			run_load(&w, &paths[i], rate, secs < 1 ? secs : 1);
			free(w.lat);
			free(w.per_chunk);
			free(w.ttfb);
		}
		cpu_read(&c0);
		for (int k = 0; k < rounds; k++)
			for (int j = 0; j < 2; j++) {
				int i = (j + k) % 2;
				run_load(&runs[i], &paths[i], rate, secs / rounds);
			}
		cpu_read(&c1);
		path_close(&paths[0]);
		path_close(&paths[1]);
		if (c1.total > c0.total) {
			double all = (double)(c1.total - c0.total);
			steal = 100.0 * (double)(c1.steal - c0.steal) / all;
			busy = 100.0 * (1.0 - (double)(c1.idle - c0.idle) / all) - steal;
		}
	}
	printf("%-8s %9s %8s %8s %9s %9s %7s %7s", "path", "req/s", "p50_ms", "p99_ms", "errors", "skipped", "", "");
	printf(stream ? " %10s %10s %10s\n" : "\n", "ttfb_p50", "chunk_p50", "chunk_p99");
	for (int i = 0; i < 2; i++) {
		struct run *r = &runs[i];
		p50[i] = pct(r->lat, r->n, 0.50);
		p99[i] = pct(r->lat, r->n, 0.99);
		f50[i] = pct(r->ttfb, r->n, 0.50);
		c50[i] = pct(r->per_chunk, r->n_stream, 0.50);
		c99[i] = pct(r->per_chunk, r->n_stream, 0.99);
		printf("%-8s %9.0f %8.3f %8.3f %9llu %9llu %7s %7s", r->label, (double)r->n / r->seconds, p50[i], p99[i],
		       (unsigned long long)r->errors, (unsigned long long)r->skipped, "", "");
		if (stream)
			printf(" %10.3f %10.3f %10.3f\n", f50[i], c50[i], c99[i]);
		else
			printf("\n");
	}
	printf("added by the gateway: p50 %.3f ms, p99 %.3f ms%s", p50[1] - p50[0], p99[1] - p99[0],
	       stream ? "" : "\n");
	if (stream)
		printf(", time to first chunk p50 %.3f ms, per chunk p50 %.3f ms, p99 %.3f ms\n", f50[1] - f50[0],
		       c50[1] - c50[0], c99[1] - c99[0]);
	if (steal >= 0) {
		/* The added latency is only meaningful on a machine with CPU to spare:
		 * say what the machine was doing (this bench's own processes included). */
		printf("machine during the run: CPU busy %.0f%%, stolen by the hypervisor %.1f%%%s\n", busy, steal,
		       steal > 5 || busy > 85 ? " (contended: tails reflect the machine, not the gateway)" : "");
	}
	for (int i = 0; i < 2; i++) {
		free(runs[i].lat);
		free(runs[i].per_chunk);
		free(runs[i].ttfb);
	}
	curl_global_cleanup();
	return runs[0].errors || runs[1].errors ? 1 : 0;
}
