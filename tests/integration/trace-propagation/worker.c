/*
 * worker.c - the worker of the trace-propagation test (see README.md). Reads
 * its task from stdin, one "key value" line each: "task <run id>",
 * "traceparent <W3C traceparent>", "attempt <n>", "hang <0|1>", then an empty
 * line. Joins the propagated trace with a worker span (SERVER) holding two chat
 * calls and a tool call. With "hang 1" it stops in the middle of the first chat
 * call, before ending any span, and waits to be killed (the crash case). Says
 * "busy" on stdout once its spans are open and "done <trace id>" at the end.
 * Exports with libtracelamp (OTEL_EXPORTER_OTLP_ENDPOINT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tracelamp.h"

#define LINE_MAX_LEN 1024

struct task {
	char run_id[128];
	char traceparent[128];
	long attempt;
	int hang;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Copies a value into a fixed field; 0 or -1 when too long. */
static int set_field(char *dst, size_t n, const char *v)
{
	size_t len = strlen(v);
	if (len >= n)
		return -1;
	memcpy(dst, v, len + 1);
	return 0;
}

static int read_task(struct task *t)
{
	char line[LINE_MAX_LEN];
	memset(t, 0, sizeof *t);
	t->attempt = 1;
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			break;
		char *sp = strchr(line, ' ');
		if (!sp)
			return -1;
		*sp = 0;
		const char *v = sp + 1;
		if (strcmp(line, "task") == 0 && set_field(t->run_id, sizeof t->run_id, v))
			return -1;
		if (strcmp(line, "traceparent") == 0 && set_field(t->traceparent, sizeof t->traceparent, v))
			return -1;
		if (strcmp(line, "attempt") == 0)
			t->attempt = strtol(v, NULL, 10);
		if (strcmp(line, "hang") == 0)
			t->hang = strcmp(v, "1") == 0;
	}
	return t->run_id[0] && t->traceparent[0] ? 0 : -1;
}

static void chat(struct tl_span_handle *parent, int64_t in, int64_t out)
{
	struct tl_span_handle *c = tl_genai_chat_start(parent, "openai", "gpt-4o-mini");
	tl_genai_set_response(c, "gpt-4o-mini", NULL);
	sleep_ms(5);
	tl_genai_set_usage(c, in, out, -1, -1, -1);
	tl_span_end(c);
}

int main(void)
{
	struct task t;
	struct tl_span_context parent;
	char hex[33];
	int rc = 1;

	if (tl_init() != 0 || !tl_enabled()) {
		fprintf(stderr, "worker: SDK not enabled (set OTEL_EXPORTER_OTLP_ENDPOINT)\n");
		return 2;
	}
	if (read_task(&t) != 0) {
		fprintf(stderr, "worker: bad task on stdin\n");
		goto out;
	}
	if (tl_traceparent_extract(t.traceparent, NULL, &parent) != 0) {
		fprintf(stderr, "worker: bad traceparent \"%s\"\n", t.traceparent);
		goto out;
	}
	/* The run identity: if the traceparent were lost, a new root would still
	 * land in the run's trace (tl_trace_id_for_run). */
	tl_run_set(NULL, t.run_id, t.attempt, NULL);

	char name[160];
	snprintf(name, sizeof name, "worker.task %s", t.run_id);
	struct tl_span_handle *w = tl_span_start_ctx(name, TL_SPAN_KIND_SERVER, &parent);
	tl_span_set_int(w, "worker.attempt", t.attempt);
	tl_span_set_int(w, "worker.pid", (int64_t)getpid());

	struct tl_span_handle *c1 = tl_genai_chat_start(w, "openai", "gpt-4o-mini");
	printf("busy\n");
	fflush(stdout);
	if (t.hang) {
		/* mid-task: the chat call never returns; the orchestrator kills us */
		for (;;)
			sleep_ms(1000);
	}
	sleep_ms(5);
	tl_genai_set_usage(c1, 100, 20, -1, -1, -1);
	tl_span_end(c1);

	struct tl_span_handle *tool = tl_genai_tool_start(w, "lookup", "call_1", "function");
	sleep_ms(2);
	tl_span_end(tool);

	chat(w, 150, 30);
	tl_span_set_status(w, TL_SPAN_STATUS_OK, NULL);
	tl_span_end(w);

	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", parent.trace_id[i]);
	printf("done %s\n", hex);
	fflush(stdout);
	rc = 0;
out:
	if (tl_shutdown(10000) != 0) {
		fprintf(stderr, "worker: export did not finish\n");
		rc = 1;
	}
	return rc;
}
