/*
 * export.c - the standalone gateway's span exporter: OTLP/HTTP protobuf to
 * observability.traces.endpoint. The loop thread samples by trace id and
 * encodes each request's spans into a bounded queue; a background thread sends
 * batches with libcurl (concatenated ExportTraceServiceRequest messages are
 * one valid message: resource_spans is a repeated field). A full queue or a
 * failed export drops spans and counts them.
 *
 * The same queue feeds gateway_async_*, which hands spans to another sink
 * (serve's pipeline) on its own thread instead of POSTing them.
 */
#include "gateway/gateway_int.h"
#include "otlp/otlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX (8u << 20)
#define BATCH_MAX (1u << 20)

struct gateway_exporter {
	char url[1024];
	struct curl_slist *headers;
	double ratio;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int stop;
	struct tl_buf queue;     /* encoded requests waiting */
	uint64_t queued_spans;
	uint64_t exported, dropped;
};

static int sampled(const struct gateway_exporter *e, const uint8_t trace_id[16])
{
	uint64_t v = 0;
	if (e->ratio >= 1.0)
		return 1;
	if (e->ratio <= 0.0)
		return 0;
	/* The low 8 bytes of the trace id as the random part (W3C random flag). */
	for (int i = 8; i < 16; i++)
		v = v << 8 | trace_id[i];
	return (double)(v >> 11) / (double)(1ull << 53) < e->ratio;
}

static void submit(void *arg, const struct tl_batch *b)
{
	struct gateway_exporter *e = arg;
	const struct tl_span *ptrs[8];
	struct tl_buf enc;
	size_t n = 0;
	if (!b->n_spans || !sampled(e, b->spans[0].trace_id))
		return;
	for (size_t i = 0; i < b->n_spans && n < 8; i++)
		ptrs[n++] = &b->spans[i];
	tl_buf_init(&enc, BATCH_MAX);
	if (otlp_encode_traces(&enc, ptrs, n, 0) == 0) {
		pthread_mutex_lock(&e->mu);
		if (e->queue.len + enc.len > QUEUE_MAX || tl_buf_append(&e->queue, enc.data, enc.len)) {
			e->dropped += n;
		} else {
			e->queued_spans += n;
			pthread_cond_signal(&e->cv);
		}
		pthread_mutex_unlock(&e->mu);
	}
	tl_buf_cleanup(&enc);
}

static size_t discard(char *p, size_t s, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return s * n;
}

static int post(struct gateway_exporter *e, CURL *c, const char *data, size_t len)
{
	long code = 0;
	curl_easy_setopt(c, CURLOPT_URL, e->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) != CURLE_OK)
		return TL_EIO;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	return code >= 200 && code < 300 ? 0 : TL_EIO;
}

static void *export_main(void *arg)
{
	struct gateway_exporter *e = arg;
	CURL *c = curl_easy_init();
	struct tl_buf batch;
	tl_buf_init(&batch, 0);
	pthread_mutex_lock(&e->mu);
	for (;;) {
		while (!e->stop && e->queue.len == 0)
			pthread_cond_wait(&e->cv, &e->mu);
		if (e->queue.len == 0 && e->stop)
			break;
		/* Take everything queued; a short wait first lets a burst share one POST. */
		if (!e->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&e->cv, &e->mu, &ts);
		}
		struct tl_buf t = batch;
		batch = e->queue;
		e->queue = t;
		tl_buf_reset(&e->queue);
		uint64_t n = e->queued_spans;
		e->queued_spans = 0;
		pthread_mutex_unlock(&e->mu);
		int rc = c ? post(e, c, batch.data, batch.len) : TL_EIO;
		if (rc)
			tl_log(TL_LOG_WARN, "gateway: span export to %s failed; %llu span(s) dropped", e->url,
			       (unsigned long long)n);
		tl_buf_reset(&batch);
		pthread_mutex_lock(&e->mu);
		if (rc)
			e->dropped += n;
		else
			e->exported += n;
	}
	pthread_mutex_unlock(&e->mu);
	tl_buf_cleanup(&batch);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

int gateway_exporter_create(const struct gateway_traces *t, struct gateway_exporter **out)
{
	struct gateway_exporter *e = calloc(1, sizeof *e);
	char h[2048];
	if (!e)
		abort();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	size_t l = strlen(t->endpoint ? t->endpoint : "");
	while (l && t->endpoint[l - 1] == '/')
		l--;
	if (l >= 10 && !strncmp(t->endpoint + l - 10, "/v1/traces", 10))
		snprintf(e->url, sizeof e->url, "%.*s", (int)l, t->endpoint);
	else
		snprintf(e->url, sizeof e->url, "%.*s/v1/traces", (int)l, t->endpoint ? t->endpoint : "");
	e->ratio = t->ratio;
	e->headers = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	e->headers = curl_slist_append(e->headers, "Expect:");
	for (size_t i = 0; i < t->n_headers; i++) {
		snprintf(h, sizeof h, "%s: %s", t->headers[i].name, t->headers[i].value);
		e->headers = curl_slist_append(e->headers, h);
	}
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	tl_buf_init(&e->queue, QUEUE_MAX + BATCH_MAX);
	if (pthread_create(&e->thread, NULL, export_main, e)) {
		curl_slist_free_all(e->headers);
		free(e);
		return TL_EIO;
	}
	pthread_setname_np(e->thread, "tl-gw-export");
	*out = e;
	return 0;
}

void gateway_exporter_destroy(struct gateway_exporter *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = 1;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
	pthread_join(e->thread, NULL);
	tl_log(TL_LOG_INFO, "gateway: %llu span(s) exported, %llu dropped", (unsigned long long)e->exported,
	       (unsigned long long)e->dropped);
	tl_buf_cleanup(&e->queue);
	curl_slist_free_all(e->headers);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}

struct gateway_sink gateway_exporter_sink(struct gateway_exporter *e)
{
	struct gateway_sink s = {submit, e};
	return s;
}

void gateway_exporter_stats(struct gateway_exporter *e, uint64_t *exported, uint64_t *dropped)
{
	pthread_mutex_lock(&e->mu);
	*exported = e->exported;
	*dropped = e->dropped;
	pthread_mutex_unlock(&e->mu);
}

/* ---- asynchronous hand-off -------------------------------------------------- */

struct gateway_async {
	struct gateway_sink inner;
	const struct tl_price_table *prices;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int stop;
	struct tl_buf queue;
	uint64_t dropped;
};

static void async_submit(void *arg, const struct tl_batch *b)
{
	struct gateway_async *a = arg;
	const struct tl_span *ptrs[8];
	struct tl_buf enc;
	size_t n = 0;
	for (size_t i = 0; i < b->n_spans && n < 8; i++)
		ptrs[n++] = &b->spans[i];
	tl_buf_init(&enc, BATCH_MAX);
	if (n && otlp_encode_traces(&enc, ptrs, n, 0) == 0) {
		pthread_mutex_lock(&a->mu);
		if (a->queue.len + enc.len > QUEUE_MAX || tl_buf_append(&a->queue, enc.data, enc.len))
			a->dropped += n;
		else
			pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
	}
	tl_buf_cleanup(&enc);
}

static void *async_main(void *arg)
{
	struct gateway_async *a = arg;
	struct tl_buf work;
	struct otlp_limits lim = {32, 0};
	tl_buf_init(&work, 0);
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->stop && a->queue.len == 0)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->queue.len == 0 && a->stop)
			break;
		struct tl_buf t = work;
		work = a->queue;
		a->queue = t;
		tl_buf_reset(&a->queue);
		pthread_mutex_unlock(&a->mu);
		/* Concatenated requests decode as one: each queued piece is a
		 * repeated resource_spans field. */
		struct tl_arena *arena = tl_arena_create(64 * 1024, 0);
		struct tl_batch b;
		struct otlp_error oe;
		memset(&b, 0, sizeof b);
		if (arena && otlp_decode_traces_pb(work.data, work.len, arena, &lim, &b, &oe) == 0) {
			b.arena = arena;
			b.tenant = TL_STR_LIT("default");
			model_normalise_batch(&b, a->prices);
			a->inner.submit(a->inner.arg, &b);
		} else {
			tl_log(TL_LOG_WARN, "gateway: cannot re-read queued spans; dropped");
		}
		tl_arena_destroy(arena);
		tl_buf_reset(&work);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	tl_buf_cleanup(&work);
	return NULL;
}

int gateway_async_create(struct gateway_sink inner, const struct tl_price_table *prices, struct gateway_async **out)
{
	struct gateway_async *a = calloc(1, sizeof *a);
	if (!a)
		abort();
	a->inner = inner;
	a->prices = prices;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	tl_buf_init(&a->queue, QUEUE_MAX + BATCH_MAX);
	if (pthread_create(&a->thread, NULL, async_main, a)) {
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->cv);
		free(a);
		return TL_EIO;
	}
	pthread_setname_np(a->thread, "tl-gw-spans");
	*out = a;
	return 0;
}

void gateway_async_destroy(struct gateway_async *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	if (a->dropped)
		tl_log(TL_LOG_WARN, "gateway: %llu span(s) dropped (queue full)", (unsigned long long)a->dropped);
	tl_buf_cleanup(&a->queue);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}

struct gateway_sink gateway_async_sink(struct gateway_async *a)
{
	struct gateway_sink s = {async_submit, a};
	return s;
}
