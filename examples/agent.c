/*
 * agent.c - a tiny agent loop instrumented with libtracelamp: one root
 * invoke_agent span for the run, and per step a chat span (with token usage and
 * finish reasons) and, when the "model" asks for one, an execute_tool span. The
 * model and the tools are simulated so the example runs offline.
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 ./build/examples/agent [run-id] [tenant]
 *
 * Prints the run's trace id (hex) on stdout. Without the endpoint variable the
 * SDK is disabled and the program runs the same loop with no telemetry.
 */
#include "tracelamp.h"

#include <stdio.h>
#include <string.h>

/* What the simulated model answers at each step. */
struct reply {
	const char *tool;     /* NULL: final answer */
	const char *finish;
	int64_t input, output, cache_read, reasoning;
};

static const struct reply script[] = {
	{"search_docs", "tool_calls", 812, 64, 0, 16},
	{"read_file", "tool_calls", 1490, 48, 768, 0},
	{NULL, "stop", 2210, 230, 1408, 96},
};

static int run_tool(struct tl_span_handle *parent, const char *name, int step)
{
	char call_id[32];
	snprintf(call_id, sizeof call_id, "call_%d", step);
	struct tl_span_handle *tool = tl_genai_tool_start(parent, name, call_id, "function");
	/* Arguments and results are content: recorded only when capture is on. */
	tl_genai_set_content(tool, "gen_ai.tool.call.arguments", "{\"query\":\"retry policy\"}");
	int ok = strcmp(name, "read_file") != 0 || step < 5;
	if (!ok)
		tl_span_record_error(tool, "FileNotFound", "no such file");
	tl_genai_set_content(tool, "gen_ai.tool.call.result", ok ? "{\"hits\":3}" : "null");
	tl_span_end(tool);
	return ok;
}

int main(int argc, char **argv)
{
	const char *run_id = argc > 1 ? argv[1] : "demo-run-1";
	const char *tenant = argc > 2 ? argv[2] : "default";
	const char *const model = "gpt-4o-mini";
	uint8_t tid[16];
	char hex[33];
	int rc;

	if ((rc = tl_init()))
		fprintf(stderr, "agent: tracing off: %s\n", tl_sdk_strerror(rc));
	/* Every span of this run carries (tenant, run, step, agent instance), and
	 * the trace id is derived from (tenant, run id): a restarted process that
	 * resumes the run lands in the same trace. */
	tl_run_set(tenant, run_id, 0, "agent-example-1");

	struct tl_span_handle *run = tl_genai_agent_start(NULL, "example-agent", "example-agent-v1", "openai");
	tl_genai_set_conversation(run, run_id);
	tl_span_make_current(run); /* spans below default to it as parent */

	for (int step = 0; step < (int)(sizeof script / sizeof script[0]); step++) {
		const struct reply *r = &script[step];
		tl_run_set_step(step);

		struct tl_span_handle *chat = tl_genai_chat_start(NULL, "openai", model);
		tl_span_set_int(chat, "gen_ai.request.max_tokens", 1024);
		tl_span_set_double(chat, "gen_ai.request.temperature", 0.2);
		tl_genai_set_content(chat, "gen_ai.input.messages",
				     "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"fix the retry bug\"}]}]");
		/* ... the HTTP call to the model would happen here ... */
		tl_genai_set_response(chat, "gpt-4o-mini-2024-07-18", "chatcmpl-example");
		tl_genai_set_usage(chat, r->input, r->output, r->cache_read, 0, r->reasoning);
		tl_genai_set_finish_reasons(chat, &r->finish, 1);
		tl_span_end(chat);

		if (r->tool)
			run_tool(NULL, r->tool, step);
	}

	tl_span_set_status(run, TL_SPAN_STATUS_OK, NULL);
	tl_span_end(run); /* also pops it from this thread's current stack */

	tl_trace_id_for_run(tenant, run_id, tid);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", tid[i]);
	printf("%s\n", hex);

	/* Give the exporter up to 5 s to deliver, then stop. */
	if (tl_enabled() && (rc = tl_shutdown(5000)))
		fprintf(stderr, "agent: shutdown: %s\n", tl_sdk_strerror(rc));
	return 0;
}
