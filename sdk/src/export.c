/*
 * export.c - the exporter thread: takes ended spans off the queue in batches
 * (by size or after the schedule delay), encodes them with the daemon's OTLP
 * encoder (otlp_encode_traces), gzips, and POSTs them with libcurl. Retries
 * 429/502/503/504 and network errors with exponential backoff and jitter,
 * honouring Retry-After. An abort flag (set by tl_shutdown at its deadline)
 * interrupts waits and the HTTP request at once.
 */
#include "sdk_int.h"
#include "otlp/otlp.h"
#include "proto/proto.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#define BODY_MAX (64u << 20)    /* OTLP: clients should not send more */
#define RESPONSE_MAX (4u << 20) /* OTLP: clients must limit what they parse */

int sdk__gzip(const void *s, size_t n, uint8_t **out, size_t *out_len)
{
	z_stream z;
	uint8_t *buf = NULL;
	int rc = TL_SDK_ENOMEM;
	memset(&z, 0, sizeof z);
	*out = NULL;
	*out_len = 0;
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return TL_SDK_ENOMEM;
	size_t cap = deflateBound(&z, (uLong)n) + 32;
	if (!(buf = malloc(cap)))
		goto out;
	z.next_in = (Bytef *)(uintptr_t)s;
	z.avail_in = (uInt)n;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		goto out;
	*out = buf;
	*out_len = cap - z.avail_out;
	buf = NULL;
	rc = 0;
out:
	deflateEnd(&z);
	free(buf);
	return rc;
}

long sdk__parse_retry_after(const char *v, size_t n)
{
	char tmp[128];
	uint64_t secs;
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (!n || n >= sizeof tmp)
		return -1;
	if (tl_parse_u64(v, n, &secs) == 0)
		return secs > 86400 ? 86400L * 1000 : (long)secs * 1000;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	time_t when = curl_getdate(tmp, NULL);
	if (when == (time_t)-1)
		return -1;
	time_t now = time(NULL);
	return when <= now ? 0 : (long)(when - now > 86400 ? 86400 : when - now) * 1000;
}

int sdk__exporter_setup(struct sdk_state *st)
{
	/* Idempotent from 7.84 on and reference-counted before that. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return TL_SDK_ENOMEM;
	if (!(st->curl_multi = curl_multi_init())) {
		curl_global_cleanup();
		return TL_SDK_ENOMEM;
	}
	return 0;
}

void sdk__exporter_teardown(struct sdk_state *st)
{
	if (st && st->curl_multi) {
		curl_multi_cleanup(st->curl_multi);
		st->curl_multi = NULL;
		curl_global_cleanup();
	}
}

void sdk__exporter_wake(struct sdk_state *st)
{
	if (st->curl_multi)
		curl_multi_wakeup(st->curl_multi);
}

/* ---- one HTTP request ------------------------------------------------------ */

struct response {
	struct tl_buf body;
	long retry_after_ms; /* -1 = none */
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct response *r = ud;
	size_t n = size * nmemb;
	/* Past the limit the rest is ignored (not an error: the status matters). */
	tl_buf_append(&r->body, p, n);
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct response *r = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0)
		r->retry_after_ms = sdk__parse_retry_after(p + sizeof name - 1, n - (sizeof name - 1));
	return n;
}

/*
 * POSTs body; returns the HTTP status, 0 for a network error or timeout, -1 when
 * aborted, or a negative TL_SDK_E* when the request could not be built.
 */
static long http_post(struct sdk_state *st, const uint8_t *body, size_t len, struct response *resp)
{
	CURLM *multi = st->curl_multi;
	struct curl_slist *hdrs = NULL, *h;
	CURL *e = NULL;
	long status = TL_SDK_ENOMEM;
	int running = 1, added = 0;
	char line[2048];

	if (!(e = curl_easy_init()))
		goto out;
	/* Content-Type first, then the user's headers (which may override it only
	 * for names other than these). */
	if (!(h = curl_slist_append(hdrs, "Content-Type: application/x-protobuf")))
		goto out;
	hdrs = h;
	if (st->cfg.gzip) {
		if (!(h = curl_slist_append(hdrs, "Content-Encoding: gzip")))
			goto out;
		hdrs = h;
	}
	if (!(h = curl_slist_append(hdrs, "Expect:")))
		goto out;
	hdrs = h;
	for (size_t i = 0; i < st->cfg.n_headers; i++) {
		const char *k = st->cfg.headers[i].key, *v = st->cfg.headers[i].value;
		/* A header value must not smuggle in a line break. */
		if (strpbrk(k, "\r\n:") || strpbrk(v, "\r\n"))
			continue;
		if ((size_t)snprintf(line, sizeof line, "%s: %s", k, v) >= sizeof line)
			continue;
		if (!(h = curl_slist_append(hdrs, line)))
			goto out;
		hdrs = h;
	}
	curl_easy_setopt(e, CURLOPT_URL, st->cfg.endpoint);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "tracelamp-c/" TRACELAMP_VERSION_STRING);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)st->cfg.timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)st->cfg.timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
	if (curl_multi_add_handle(multi, e) != CURLM_OK)
		goto out;
	added = 1;
	while (running) {
		if (atomic_load(&st->abort)) {
			status = -1;
			goto out;
		}
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK)
			break;
	}
	status = 0;
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == e && msg->data.result == CURLE_OK)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
out:
	if (added)
		curl_multi_remove_handle(multi, e);
	if (e)
		curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	return status;
}

/* rejected_spans from an ExportTraceServiceResponse (0 when absent or bad). */
static int64_t rejected_spans(const struct tl_buf *b)
{
	struct pb_reader r, pr;
	struct pb_field f;
	pb_reader_init(&r, b->data, b->len);
	while (pb_next(&r, &f) == 1) {
		if (f.num != 1 || f.wire != PB_LEN)
			continue;
		pb_reader_init(&pr, f.data, f.len);
		while (pb_next(&pr, &f) == 1)
			if (f.num == 1 && f.wire == PB_VARINT)
				return (int64_t)f.u64;
	}
	return 0;
}

/* Sleeps ms unless aborted (holding nothing). Returns -1 when aborted. */
static int wait_ms(struct sdk_state *st, long ms)
{
	struct timespec ts;
	int rc = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sdk__mu);
	while (!atomic_load(&st->abort))
		if (pthread_cond_timedwait(&st->cv_work, &sdk__mu, &ts) == ETIMEDOUT)
			break;
	rc = atomic_load(&st->abort) ? -1 : 0;
	pthread_mutex_unlock(&sdk__mu);
	return rc;
}

/* Exports one batch with retries. Returns 0, TL_SDK_EEXPORT or TL_SDK_ECLOSED-like -1 on abort. */
static int export_batch(struct sdk_state *st, struct sdk_rec **recs, size_t n)
{
	const struct tl_span **spans = NULL;
	struct tl_buf pb;
	struct response resp;
	uint8_t *gz = NULL;
	const uint8_t *body;
	size_t body_len, gz_len = 0;
	long backoff = st->cfg.retry_initial_ms;
	int rc = TL_SDK_EEXPORT;

	tl_buf_init(&pb, BODY_MAX);
	tl_buf_init(&resp.body, RESPONSE_MAX);
	if (!(spans = malloc(n * sizeof *spans)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		recs[i]->span.resource = &st->resource;
		recs[i]->span.scope = &st->scope;
		spans[i] = &recs[i]->span;
	}
	if (otlp_encode_traces(&pb, spans, n, 0))
		goto out;
	body = (const uint8_t *)pb.data;
	body_len = pb.len;
	if (st->cfg.gzip) {
		if (sdk__gzip(pb.data, pb.len, &gz, &gz_len))
			goto out;
		body = gz;
		body_len = gz_len;
	}
	for (uint32_t attempt = 1;; attempt++) {
		resp.retry_after_ms = -1;
		tl_buf_reset(&resp.body);
		long status = http_post(st, body, body_len, &resp);
		if (status == -1) {
			rc = -1;
			goto out;
		}
		if (status >= 200 && status < 300) {
			int64_t rej = rejected_spans(&resp.body);
			atomic_fetch_add(&st->n_batches, 1);
			atomic_fetch_add(&st->n_exported, n - (rej > 0 && (uint64_t)rej <= n ? (size_t)rej : 0));
			if (rej > 0)
				atomic_fetch_add(&st->n_rejected, (uint64_t)rej);
			rc = 0;
			goto out;
		}
		int retryable = status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
		if (!retryable || attempt >= st->cfg.retry_max_attempts)
			goto out;
		long delay;
		if (resp.retry_after_ms >= 0) {
			delay = resp.retry_after_ms < (long)st->cfg.retry_after_max_ms ? resp.retry_after_ms
										      : (long)st->cfg.retry_after_max_ms;
		} else {
			/* Jitter: a uniform draw in [backoff/2, backoff). */
			delay = backoff / 2 + (long)(sdk__random_unit() * (double)(backoff - backoff / 2));
			backoff = backoff * 2 > (long)st->cfg.retry_max_ms ? (long)st->cfg.retry_max_ms : backoff * 2;
		}
		atomic_fetch_add(&st->n_retries, 1);
		if (wait_ms(st, delay)) {
			rc = -1;
			goto out;
		}
	}
out:
	if (rc) {
		atomic_fetch_add(&st->n_dropped, n);
		if (rc != -1)
			atomic_fetch_add(&st->n_failures, 1);
	}
	free(spans);
	free(gz);
	tl_buf_cleanup(&pb);
	tl_buf_cleanup(&resp.body);
	return rc;
}

/* ---- the thread ----------------------------------------------------------- */

void *sdk__exporter_main(void *arg)
{
	struct sdk_state *st = arg;
	struct sdk_rec **batch = calloc(st->cfg.batch_size, sizeof *batch);
	uint64_t next_due = tl_mono_nano() + (uint64_t)st->cfg.delay_ms * 1000000ull;

	pthread_mutex_lock(&sdk__mu);
	for (;;) {
		if (atomic_load(&st->abort))
			break;
		if (st->q_len == 0) {
			/* Everything queued before any pending flush is out. */
			if (st->flush_done != st->flush_req) {
				st->flush_done = st->flush_req;
				pthread_cond_broadcast(&st->cv_done);
			}
			if (st->closing)
				break;
		}
		uint64_t now = tl_mono_nano();
		int due = st->q_len >= st->cfg.batch_size || (st->q_len && (st->flush_req != st->flush_done || st->closing ||
									     now >= next_due));
		if (!due) {
			struct timespec ts;
			uint64_t wait_ns = st->q_len && next_due > now ? next_due - now : (uint64_t)st->cfg.delay_ms * 1000000ull;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(wait_ns / 1000000000ull);
			ts.tv_nsec += (long)(wait_ns % 1000000000ull);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (!st->q_len)
				next_due = now + (uint64_t)st->cfg.delay_ms * 1000000ull;
			pthread_cond_timedwait(&st->cv_work, &sdk__mu, &ts);
			continue;
		}
		size_t n = 0;
		if (!batch) {
			/* No memory for the batch array: drop what is queued rather
			 * than spin. */
			while (st->q_len) {
				sdk__rec_destroy(st->queue[st->q_head]);
				st->q_head = (st->q_head + 1) % st->cfg.queue_size;
				st->q_len--;
				atomic_fetch_add(&st->n_dropped, 1);
			}
			continue;
		}
		while (n < st->cfg.batch_size && st->q_len) {
			batch[n++] = st->queue[st->q_head];
			st->q_head = (st->q_head + 1) % st->cfg.queue_size;
			st->q_len--;
		}
		pthread_mutex_unlock(&sdk__mu);
		export_batch(st, batch, n);
		for (size_t i = 0; i < n; i++)
			sdk__rec_destroy(batch[i]);
		next_due = tl_mono_nano() + (uint64_t)st->cfg.delay_ms * 1000000ull;
		pthread_mutex_lock(&sdk__mu);
	}
	pthread_mutex_unlock(&sdk__mu);
	free(batch);
	return NULL;
}
