/*
 * genai.c - helpers that start and fill spans per the OpenTelemetry GenAI
 * semantic conventions (v1.41): inference (chat, text_completion, embeddings),
 * execute_tool and invoke_agent spans, token usage, finish reasons, and the
 * opt-in content attributes.
 */
#include "sdk_int.h"

#include <stdio.h>
#include <string.h>

/* "{prefix} {suffix}" or "{prefix}" into buf (truncated at 255 bytes). */
static const char *span_name(char *buf, size_t n, const char *prefix, const char *suffix)
{
	if (suffix && *suffix)
		snprintf(buf, n, "%s %s", prefix, suffix);
	else
		snprintf(buf, n, "%s", prefix);
	return buf;
}

static void set_opt(struct tl_span_handle *s, const char *key, const char *v)
{
	if (v && *v)
		tl_span_set_str(s, key, v);
}

TL_EXPORT struct tl_span_handle *tl_genai_start(struct tl_span_handle *parent, const char *operation, const char *provider,
						const char *request_model)
{
	char name[256];
	struct tl_span_handle *s;
	if (!atomic_load_explicit(&sdk__on, memory_order_relaxed))
		return &tl__noop_span;
	if (!operation || !*operation)
		operation = "chat";
	s = tl_span_start(span_name(name, sizeof name, operation, request_model), TL_SPAN_KIND_CLIENT, parent);
	tl_span_set_str(s, "gen_ai.operation.name", operation);
	set_opt(s, "gen_ai.provider.name", provider);
	set_opt(s, "gen_ai.request.model", request_model);
	return s;
}

TL_EXPORT struct tl_span_handle *tl_genai_chat_start(struct tl_span_handle *parent, const char *provider, const char *request_model)
{
	return tl_genai_start(parent, "chat", provider, request_model);
}

TL_EXPORT struct tl_span_handle *tl_genai_completion_start(struct tl_span_handle *parent, const char *provider,
							   const char *request_model)
{
	return tl_genai_start(parent, "text_completion", provider, request_model);
}

TL_EXPORT struct tl_span_handle *tl_genai_embeddings_start(struct tl_span_handle *parent, const char *provider,
							   const char *request_model)
{
	return tl_genai_start(parent, "embeddings", provider, request_model);
}

TL_EXPORT struct tl_span_handle *tl_genai_tool_start(struct tl_span_handle *parent, const char *tool_name, const char *call_id,
						     const char *tool_type)
{
	char name[256];
	struct tl_span_handle *s;
	if (!atomic_load_explicit(&sdk__on, memory_order_relaxed))
		return &tl__noop_span;
	s = tl_span_start(span_name(name, sizeof name, "execute_tool", tool_name), TL_SPAN_KIND_INTERNAL, parent);
	tl_span_set_str(s, "gen_ai.operation.name", "execute_tool");
	set_opt(s, "gen_ai.tool.name", tool_name);
	set_opt(s, "gen_ai.tool.call.id", call_id);
	set_opt(s, "gen_ai.tool.type", tool_type);
	return s;
}

TL_EXPORT struct tl_span_handle *tl_genai_agent_start(struct tl_span_handle *parent, const char *agent_name, const char *agent_id,
						      const char *provider)
{
	char name[256];
	struct tl_span_handle *s;
	if (!atomic_load_explicit(&sdk__on, memory_order_relaxed))
		return &tl__noop_span;
	s = tl_span_start(span_name(name, sizeof name, "invoke_agent", agent_name), TL_SPAN_KIND_INTERNAL, parent);
	tl_span_set_str(s, "gen_ai.operation.name", "invoke_agent");
	set_opt(s, "gen_ai.agent.name", agent_name);
	set_opt(s, "gen_ai.agent.id", agent_id);
	set_opt(s, "gen_ai.provider.name", provider);
	return s;
}

TL_EXPORT int tl_genai_set_response(struct tl_span_handle *s, const char *response_model, const char *response_id)
{
	int rc = 0;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (response_model && *response_model)
		rc = tl_span_set_str(s, "gen_ai.response.model", response_model);
	if (!rc && response_id && *response_id)
		rc = tl_span_set_str(s, "gen_ai.response.id", response_id);
	return rc;
}

TL_EXPORT int tl_genai_set_usage(struct tl_span_handle *s, int64_t input, int64_t output, int64_t cache_read, int64_t cache_write,
				 int64_t reasoning)
{
	static const char *const keys[5] = {
		"gen_ai.usage.input_tokens",
		"gen_ai.usage.output_tokens",
		"gen_ai.usage.cache_read.input_tokens",
		"gen_ai.usage.cache_creation.input_tokens",
		"gen_ai.usage.reasoning.output_tokens",
	};
	int64_t v[5] = {input, output, cache_read, cache_write, reasoning};
	int rc = 0;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	for (int i = 0; i < 5 && !rc; i++)
		if (v[i] >= 0)
			rc = tl_span_set_int(s, keys[i], v[i]);
	return rc;
}

TL_EXPORT int tl_genai_set_finish_reasons(struct tl_span_handle *s, const char *const *reasons, size_t n)
{
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	return tl_span_set_str_array(s, "gen_ai.response.finish_reasons", reasons, n);
}

TL_EXPORT int tl_genai_set_conversation(struct tl_span_handle *s, const char *conversation_id)
{
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	return tl_span_set_str(s, "gen_ai.conversation.id", conversation_id);
}

TL_EXPORT int tl_genai_capture_enabled(void)
{
	int on = 0;
	if (!atomic_load_explicit(&sdk__on, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&sdk__mu);
	on = sdk__state && sdk__state->cfg.capture_content;
	pthread_mutex_unlock(&sdk__mu);
	return on;
}

TL_EXPORT int tl_genai_set_content(struct tl_span_handle *s, const char *attribute, const char *json)
{
	static const char *const allowed[] = {
		"gen_ai.input.messages",     "gen_ai.output.messages",    "gen_ai.system_instructions",
		"gen_ai.tool.call.arguments", "gen_ai.tool.call.result",  "gen_ai.tool.definitions",
	};
	size_t i;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (!s || !attribute)
		return TL_SDK_EINVAL;
	for (i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (strcmp(attribute, allowed[i]) == 0)
			break;
	if (i == sizeof allowed / sizeof allowed[0])
		return TL_SDK_EINVAL;
	if (!s->capture_content)
		return 0;
	return tl_span_set_str(s, attribute, json);
}
