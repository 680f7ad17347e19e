/*
 * normalise.c - GenAI normalisation: reads a span's attributes (current
 * gen_ai.* names, the older OTel names and the OpenLLMetry, OpenInference,
 * Vercel AI SDK and Claude Code vendor names; see docs/genai-normalisation.md),
 * then its resource's, and fills span->genai and span->run; then prices the
 * call (docs/cost.md).
 *
 * This runs for every span on the ingest path, so it makes one pass over the
 * attributes, classifies each key with a binary search over a sorted table,
 * keeps the best candidate per field by rank, and allocates nothing: strings in
 * the result borrow from the span, its resource or static storage.
 */
#include "model/model_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The fields a key can feed. */
enum slot {
	S_OP,
	S_TL_KIND,     /* traceloop.span.kind (raw; also decides traceloop.entity.name) */
	S_VERCEL_OP,   /* ai.operationId (raw) */
	S_PROVIDER,
	S_REQ_MODEL,
	S_RESP_MODEL,
	S_IN,
	S_OUT,
	S_CR,
	S_CW,
	S_REASON,
	S_TOTAL,
	S_COST,
	S_FINISH,
	S_TOOL_NAME,
	S_TOOL_CALL_ID,
	S_AGENT_NAME,
	S_AGENT_ID,
	S_ENTITY,      /* traceloop.entity.name */
	S_CONV,
	S_TENANT,
	S_RUN,
	S_STEP,
	S_AGENT_INST,
	S_NSLOTS,
	S_KNOWN = S_NSLOTS, /* understood but not used: never counted as unknown */
};

/* How a key's value is read. */
enum vkind {
	V_STR,        /* non-empty string, borrowed */
	V_TOK,        /* token count: int, double or numeric string, >= 0 */
	V_INT,        /* same coercion as V_TOK */
	V_USD,        /* cost in USD -> nano-USD */
	V_MICROS,     /* cost in micro-USD -> nano-USD */
	V_OP,         /* gen_ai.operation.name, verbatim */
	V_OP_LLMREQ,  /* OpenLLMetry llm.request.type */
	V_OP_OI,      /* openinference.span.kind */
	V_PROV,       /* provider, old spellings mapped */
	V_PROV_VERCEL, /* ai.model.provider: "openai.chat" */
	V_FINISH,     /* string, string[] or a JSON-array string */
};

/* Key flags. */
#define F_PLAIN 1  /* unprefixed Claude Code / Anthropic key: only in that context */
#define F_RAW 2    /* input count uses Anthropic accounting (excludes cache) */
#define F_VERCEL 4 /* ai.usage.*: only on the inner doGenerate/doStream/doEmbed spans */

/* Rank bands: lower wins. Span keys use their rank; gated vendor keys sort
 * after every ordinary span key; resource keys after all span keys. */
#define R_VERCEL 20
#define R_PLAIN 40
#define R_RESOURCE 100
#define R_NONE 1000

struct key {
	const char *k;
	uint8_t len;
	uint8_t slot;
	uint8_t rank;
	uint8_t vk;
	uint8_t flags;
};

#define KEY(s) s, sizeof(s) - 1

/* Every key tracelamp understands (any order; see key_slots below). The first
 * bytes must stay within the set find_key lets through. */
static const struct key keys[] = {
	{KEY("model"), S_REQ_MODEL, 9, V_STR, F_PLAIN},
	{KEY("tool.id"), S_TOOL_CALL_ID, 3, V_STR, 0},
	{KEY("agent.id"), S_AGENT_ID, 1, V_STR, 0},
	{KEY("agent_id"), S_AGENT_ID, 9, V_STR, F_PLAIN},
	{KEY("cost_usd"), S_COST, 9, V_USD, F_PLAIN},
	{KEY("llm.user"), S_KNOWN, 0, V_STR, 0},
	{KEY("tool.name"), S_TOOL_NAME, 2, V_STR, 0},
	{KEY("tool_name"), S_TOOL_NAME, 9, V_STR, F_PLAIN},
	{KEY("llm.top_k"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.top_p"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.tools"), S_KNOWN, 0, V_STR, 0},
	{KEY("session.id"), S_CONV, 1, V_STR, 0},
	{KEY("agent.name"), S_AGENT_NAME, 1, V_STR, 0},
	{KEY("llm.system"), S_PROVIDER, 3, V_PROV, 0},
	{KEY("llm.vendor"), S_PROVIDER, 4, V_PROV, 0},
	{KEY("ai.model.id"), S_REQ_MODEL, 4, V_STR, 0},
	{KEY("tool_use_id"), S_TOOL_CALL_ID, 9, V_STR, F_PLAIN},
	{KEY("stop_reason"), S_FINISH, 9, V_FINISH, F_PLAIN},
	{KEY("gen_ai.user"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.headers"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.prompts"), S_KNOWN, 0, V_STR, 0},
	{KEY("tool_call.id"), S_TOOL_CALL_ID, 2, V_STR, 0},
	{KEY("llm.provider"), S_PROVIDER, 2, V_PROV, 0},
	{KEY("input_tokens"), S_IN, 9, V_TOK, F_PLAIN|F_RAW},
	{KEY("gen_ai.system"), S_PROVIDER, 1, V_PROV, 0},
	{KEY("output_tokens"), S_OUT, 9, V_TOK, F_PLAIN},
	{KEY("gen_ai.prompt"), S_KNOWN, 0, V_STR, 0},
	{KEY("ai.usage.cost"), S_COST, 2, V_USD, F_VERCEL},
	{KEY("ai.operationId"), S_VERCEL_OP, 0, V_STR, 0},
	{KEY("ai.toolCall.id"), S_TOOL_CALL_ID, 1, V_STR, 0},
	{KEY("llm.model_name"), S_REQ_MODEL, 3, V_STR, 0},
	{KEY("llm.cost.total"), S_COST, 1, V_USD, 0},
	{KEY("conversation.id"), S_CONV, 4, V_STR, 0},
	{KEY("gen_ai.agent.id"), S_AGENT_ID, 0, V_STR, 0},
	{KEY("llm.temperature"), S_KNOWN, 0, V_STR, 0},
	{KEY("ai.usage.tokens"), S_TOTAL, 4, V_TOK, F_VERCEL},
	{KEY("llm.completions"), S_KNOWN, 0, V_STR, 0},
	{KEY("cost_usd_micros"), S_COST, 8, V_MICROS, F_PLAIN},
	{KEY("llm.cost.prompt"), S_KNOWN, 0, V_STR, 0},
	{KEY("tracelamp.run.id"), S_RUN, 0, V_STR, 0},
	{KEY("ai.toolCall.name"), S_TOOL_NAME, 1, V_STR, 0},
	{KEY("gen_ai.tool.name"), S_TOOL_NAME, 0, V_STR, 0},
	{KEY("gen_ai.tool.type"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.request.type"), S_OP, 1, V_OP_LLMREQ, 0},
	{KEY("llm.is_streaming"), S_KNOWN, 0, V_STR, 0},
	{KEY("tracelamp.tenant"), S_TENANT, 0, V_STR, 0},
	{KEY("gen_ai.agent.name"), S_AGENT_NAME, 0, V_STR, 0},
	{KEY("gen_ai.token.type"), S_KNOWN, 0, V_STR, 0},
	{KEY("ai.response.model"), S_RESP_MODEL, 3, V_STR, 0},
	{KEY("llm.request.model"), S_REQ_MODEL, 1, V_STR, 0},
	{KEY("llm.function_call"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.completion"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.finish_reason"), S_FINISH, 4, V_FINISH, 0},
	{KEY("ai.model.provider"), S_PROVIDER, 5, V_PROV_VERCEL, 0},
	{KEY("cache_read_tokens"), S_CR, 9, V_TOK, F_PLAIN},
	{KEY("gen_ai.usage.cost"), S_COST, 0, V_USD, 0},
	{KEY("gen_ai.response.id"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.token.cache"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.prompt.name"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.output.type"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.token.phase"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.response.model"), S_RESP_MODEL, 1, V_STR, 0},
	{KEY("tracelamp.run.step"), S_STEP, 0, V_INT, 0},
	{KEY("llm.input_messages"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.seed"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.tool.call.id"), S_TOOL_CALL_ID, 0, V_STR, 0},
	{KEY("langfuse.session.id"), S_CONV, 2, V_STR, 0},
	{KEY("traceloop.span.kind"), S_TL_KIND, 0, V_STR, 0},
	{KEY("llm.cost.completion"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.finishReason"), S_FINISH, 6, V_FINISH, 0},
	{KEY("llm.output_messages"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.provider.name"), S_PROVIDER, 0, V_PROV, 0},
	{KEY("gen_ai.workflow.name"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.top_k"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.model"), S_REQ_MODEL, 0, V_STR, 0},
	{KEY("gen_ai.agent.version"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.top_p"), S_KNOWN, 0, V_STR, 0},
	{KEY("ai.usage.totalTokens"), S_TOTAL, 3, V_TOK, F_VERCEL},
	{KEY("ai.usage.inputTokens"), S_IN, 4, V_TOK, F_VERCEL},
	{KEY("llm.presence_penalty"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.data_source.id"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.operation.name"), S_OP, 0, V_OP, 0},
	{KEY("traceloop.entity.name"), S_ENTITY, 0, V_STR, 0},
	{KEY("llm.token_count.total"), S_TOTAL, 2, V_TOK, 0},
	{KEY("gen_ai.response.model"), S_RESP_MODEL, 0, V_STR, 0},
	{KEY("gen_ai.request.stream"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.input.messages"), S_KNOWN, 0, V_STR, 0},
	{KEY("ai.usage.promptTokens"), S_IN, 5, V_TOK, F_VERCEL},
	{KEY("ai.usage.outputTokens"), S_OUT, 4, V_TOK, F_VERCEL},
	{KEY("cache_creation_tokens"), S_CW, 9, V_TOK, F_PLAIN},
	{KEY("llm.request.functions"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.token.modality"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.frequency_penalty"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.conversation.id"), S_CONV, 0, V_STR, 0},
	{KEY("gen_ai.evaluation.name"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.request.model_name"), S_REQ_MODEL, 2, V_STR, 0},
	{KEY("gen_ai.output.messages"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.usage.total_tokens"), S_TOTAL, 1, V_TOK, 0},
	{KEY("llm.request.max_tokens"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.attempt"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.token_count.prompt"), S_IN, 3, V_TOK, 0},
	{KEY("openinference.span.kind"), S_OP, 2, V_OP_OI, 0},
	{KEY("llm.response.model_name"), S_RESP_MODEL, 2, V_STR, 0},
	{KEY("gen_ai.tool.description"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.chat.stop_sequences"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.usage.prompt_tokens"), S_IN, 2, V_TOK, 0},
	{KEY("cache_read_input_tokens"), S_CR, 10, V_TOK, F_PLAIN},
	{KEY("gen_ai.tool.definitions"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.tool.call.result"), S_KNOWN, 0, V_STR, 0},
	{KEY("tracelamp.agent.instance"), S_AGENT_INST, 0, V_STR, 0},
	{KEY("gen_ai.agent.description"), S_KNOWN, 0, V_STR, 0},
	{KEY("ai.response.finishReason"), S_FINISH, 5, V_FINISH, 0},
	{KEY("llm.response.stop_reason"), S_FINISH, 3, V_FINISH, 0},
	{KEY("ai.usage.reasoningTokens"), S_REASON, 4, V_TOK, F_VERCEL},
	{KEY("ai.usage.completionTokens"), S_OUT, 5, V_TOK, F_VERCEL},
	{KEY("gen_ai.usage.total_tokens"), S_TOTAL, 0, V_TOK, 0},
	{KEY("gen_ai.usage.input_tokens"), S_IN, 0, V_TOK, 0},
	{KEY("gen_ai.request.max_tokens"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.invocation_parameters"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.openai.request.seed"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.temperature"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.token_count.completion"), S_OUT, 3, V_TOK, 0},
	{KEY("llm.response.finish_reason"), S_FINISH, 2, V_FINISH, 0},
	{KEY("ai.usage.cachedInputTokens"), S_CR, 5, V_TOK, F_VERCEL},
	{KEY("llm.usage.reasoning_tokens"), S_REASON, 2, V_TOK, 0},
	{KEY("gen_ai.usage.prompt_tokens"), S_IN, 1, V_TOK, 0},
	{KEY("gen_ai.usage.output_tokens"), S_OUT, 0, V_TOK, 0},
	{KEY("gen_ai.system_instructions"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.retrieval.documents"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.tool.call.arguments"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.usage.completion_tokens"), S_OUT, 2, V_TOK, 0},
	{KEY("cache_creation_input_tokens"), S_CW, 10, V_TOK, F_PLAIN},
	{KEY("gen_ai.request.choice.count"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.retrieval.query.text"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.evaluation.score.value"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.evaluation.score.label"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.evaluation.explanation"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.response.finish_reason"), S_FINISH, 1, V_FINISH, 0},
	{KEY("gen_ai.request.stop_sequences"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.usage.reasoning_tokens"), S_REASON, 1, V_TOK, 0},
	{KEY("gen_ai.usage.completion_tokens"), S_OUT, 1, V_TOK, 0},
	{KEY("gen_ai.usage.text.input_tokens"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.response.finish_reasons"), S_FINISH, 0, V_FINISH, 0},
	{KEY("llm.request.repetition_penalty"), S_KNOWN, 0, V_STR, 0},
	{KEY("ai.telemetry.metadata.sessionId"), S_CONV, 3, V_STR, 0},
	{KEY("gen_ai.usage.image.input_tokens"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.usage.video.input_tokens"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.usage.audio.input_tokens"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.usage.text.output_tokens"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.encoding_formats"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.presence_penalty"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.usage.audio.output_tokens"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.request.frequency_penalty"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.usage.cache_read_input_tokens"), S_CR, 2, V_TOK, 0},
	{KEY("gen_ai.embeddings.dimension.count"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.openai.request.service_tier"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.response.time_to_first_chunk"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.openai.response.service_tier"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.token_count.prompt_details.audio"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.usage.cache_read.input_tokens"), S_CR, 0, V_TOK, 0},
	{KEY("gen_ai.usage.cache_read_input_tokens"), S_CR, 1, V_TOK, 0},
	{KEY("gen_ai.usage.reasoning.output_tokens"), S_REASON, 0, V_TOK, 0},
	{KEY("gen_ai.usage.cache_write.input_tokens"), S_CW, 1, V_TOK, 0},
	{KEY("llm.usage.cache_creation_input_tokens"), S_CW, 3, V_TOK, 0},
	{KEY("gen_ai.openai.request.response_format"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.token_count.completion_details.audio"), S_KNOWN, 0, V_STR, 0},
	{KEY("gen_ai.usage.cache_creation.input_tokens"), S_CW, 0, V_TOK, 0},
	{KEY("gen_ai.usage.cache_creation_input_tokens"), S_CW, 2, V_TOK, 0},
	{KEY("llm.token_count.prompt_details.cache_read"), S_CR, 3, V_TOK, 0},
	{KEY("gen_ai.openai.response.system_fingerprint"), S_KNOWN, 0, V_STR, 0},
	{KEY("llm.token_count.prompt_details.cache_write"), S_CW, 4, V_TOK, 0},
	{KEY("llm.token_count.prompt_details.cache_input"), S_CR, 4, V_TOK, 0},
	{KEY("llm.token_count.completion_details.reasoning"), S_REASON, 3, V_TOK, 0},
};

#define NKEYS (sizeof keys / sizeof keys[0])

/*
 * Keys are found through a static open-addressing table over a cheap hash of
 * the length and six bytes (no loop over the whole key): about 1.3 probes per
 * key. key_slots holds index + 1 into keys[], 0 for empty; it is generated by
 * model__check_keys (run the unit test with TL_PRINT_KEY_SLOTS=1 after
 * changing keys[]), and the unit test fails while it is stale.
 */
#define SLOT_BITS 9
#define KEY_MIN 5
#define KEY_MAX 44

static inline uint32_t key_hash(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t x = (uint32_t)n;
	x = x * 33 + u[n - 1];
	x = x * 33 + u[n - 2];
	x = x * 33 + u[n - 4];
	x = x * 33 + u[n / 2];
	x = x * 33 + u[n / 3];
	x = x * 33 + u[4];
	return (x * 0x9E3779B1u) >> (32 - SLOT_BITS);
}

static const uint16_t key_slots[1 << SLOT_BITS] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 92, 0, 101, 67,
	0, 112, 0, 0, 0, 0, 166, 0, 0, 0, 0, 0, 0, 0, 0, 50,
	81, 0, 0, 0, 0, 111, 0, 47, 17, 94, 157, 76, 0, 0, 0, 5,
	114, 0, 0, 65, 0, 0, 0, 0, 0, 0, 165, 60, 93, 107, 153, 0,
	0, 87, 0, 136, 134, 173, 0, 0, 0, 0, 106, 0, 27, 135, 0, 14,
	100, 0, 156, 6, 121, 97, 7, 0, 0, 0, 0, 37, 0, 0, 0, 0,
	0, 0, 0, 0, 41, 0, 0, 0, 0, 0, 0, 116, 117, 0, 160, 161,
	30, 131, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 70, 120, 0, 26,
	23, 159, 0, 0, 0, 0, 25, 0, 0, 0, 141, 0, 0, 0, 0, 113,
	0, 103, 0, 0, 0, 0, 0, 46, 0, 0, 0, 0, 0, 0, 170, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 34, 129, 0, 0, 90,
	110, 137, 0, 0, 0, 0, 72, 0, 98, 0, 8, 0, 38, 118, 149, 151,
	0, 0, 0, 0, 0, 24, 95, 77, 144, 0, 35, 0, 125, 0, 0, 132,
	0, 0, 0, 0, 122, 127, 0, 55, 57, 164, 15, 0, 44, 0, 58, 155,
	0, 0, 0, 96, 0, 0, 0, 75, 126, 152, 0, 80, 154, 0, 130, 0,
	0, 146, 0, 0, 0, 0, 0, 0, 0, 51, 0, 0, 0, 0, 0, 0,
	99, 53, 0, 0, 0, 0, 0, 0, 83, 0, 0, 40, 0, 0, 0, 0,
	0, 0, 0, 0, 104, 0, 0, 0, 0, 105, 82, 0, 0, 3, 4, 109,
	48, 0, 0, 0, 0, 167, 168, 0, 0, 169, 0, 0, 128, 147, 74, 148,
	0, 0, 133, 0, 0, 139, 0, 0, 0, 28, 62, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 150, 158, 33, 0, 32, 0, 115, 0, 0, 0, 172,
	0, 0, 0, 0, 0, 0, 143, 0, 0, 0, 0, 0, 36, 56, 0, 0,
	0, 0, 0, 68, 108, 0, 54, 142, 0, 0, 12, 0, 16, 0, 0, 52,
	42, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 59, 79, 0,
	71, 0, 0, 0, 0, 0, 0, 0, 61, 0, 0, 0, 69, 0, 0, 0,
	88, 0, 78, 0, 29, 0, 85, 0, 0, 162, 123, 0, 0, 0, 19, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 22,
	138, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 86, 0, 0, 163, 124, 0, 13, 18, 119, 43, 145, 89, 0, 11, 0,
	0, 49, 0, 0, 0, 0, 140, 0, 0, 0, 45, 73, 171, 0, 0, 0,
	9, 0, 0, 66, 0, 0, 0, 0, 0, 63, 102, 84, 0, 0, 2, 0,
	0, 0, 64, 0, 0, 20, 0, 0, 21, 39, 31, 91, 0, 0, 0, 0,
};

int model__check_keys(FILE *print_fixed)
{
	uint16_t want[1 << SLOT_BITS];
	int bad = -1;
	memset(want, 0, sizeof want);
	for (size_t i = 0; i < NKEYS; i++) {
		uint32_t j = key_hash(keys[i].k, keys[i].len);
		if (strlen(keys[i].k) != keys[i].len || keys[i].len < KEY_MIN || keys[i].len > KEY_MAX)
			return (int)i;
		while (want[j])
			j = (j + 1) & ((1u << SLOT_BITS) - 1);
		want[j] = (uint16_t)(i + 1);
	}
	for (size_t j = 0; j < (1u << SLOT_BITS); j++) {
		if (want[j] != key_slots[j]) {
			bad = (int)j;
			break;
		}
	}
	if (bad >= 0 && print_fixed) {
		for (size_t j = 0; j < (1u << SLOT_BITS); j++)
			fprintf(print_fixed, "%s%u,%s", j % 16 ? " " : "\t", want[j], j % 16 == 15 ? "\n" : "");
	}
	return bad;
}

static const struct key *find_key(const char *s, size_t n)
{
	uint32_t j;
	uint16_t v;
	/* Most attributes of a span are not ours (http.*, url.*, server.*, ...):
	 * reject them on the length and first byte before hashing. */
	if (n < KEY_MIN || n > KEY_MAX)
		return NULL;
	switch (s[0]) {
	case 'a': case 'c': case 'g': case 'i': case 'l': case 'm': case 'o': case 's': case 't':
		break;
	default:
		return NULL;
	}
	for (j = key_hash(s, n); (v = key_slots[j]) != 0; j = (j + 1) & ((1u << SLOT_BITS) - 1)) {
		const struct key *k = &keys[v - 1];
		if (k->len == n && memcmp(k->k, s, n) == 0)
			return k;
	}
	return NULL;
}

/* Families of indexed or open-ended keys that are known (content, tools,
 * memory); anything else under gen_ai. or llm. not in the table is unknown. */
static const char *const known_prefixes[] = {
	"gen_ai.prompt.", "gen_ai.completion.", "gen_ai.memory.",
	"llm.input_messages.", "llm.output_messages.", "llm.prompts.", "llm.completions.",
	"llm.tools.", "llm.request.functions.", "llm.cost.", "llm.prompt_template.",
	"llm.invocation_parameters.",
};

static int has_prefix(const char *s, size_t n, const char *p)
{
	size_t l = strlen(p);
	return n >= l && memcmp(s, p, l) == 0;
}

static int is_unknown_genai(const char *s, size_t n)
{
	if (!has_prefix(s, n, "gen_ai.") && !has_prefix(s, n, "llm."))
		return 0;
	for (size_t i = 0; i < sizeof known_prefixes / sizeof known_prefixes[0]; i++)
		if (has_prefix(s, n, known_prefixes[i]))
			return 0;
	return 1;
}

/* ---- value coercion ------------------------------------------------------ */

static int eq_nocase(struct tl_str a, const char *b)
{
	size_t n = strlen(b);
	if (a.n != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = a.p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (c != b[i])
			return 0;
	}
	return 1;
}

static struct tl_str trim(struct tl_str s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
		s.p++, s.n--;
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

static int str_of(const struct tl_value *v, struct tl_str *out)
{
	if (v->kind != TL_V_STR || v->u.s.n == 0)
		return 0;
	*out = v->u.s;
	return 1;
}

/* Non-negative integer from int, double or a numeric string; 0 if junk. */
static int int_of(const struct tl_value *v, int64_t *out)
{
	switch (v->kind) {
	case TL_V_INT:
		if (v->u.i < 0)
			return 0;
		*out = v->u.i;
		return 1;
	case TL_V_DOUBLE:
		if (!isfinite(v->u.d) || v->u.d < 0 || v->u.d > 9e15)
			return 0;
		*out = llround(v->u.d);
		return 1;
	case TL_V_STR: {
		struct tl_str s = trim(v->u.s);
		double d;
		if (model__parse_decimal(s.p, s.n, 0, 1000000000000000ll, out) == 0)
			return 1;
		/* "1e3", "12.5" and the like: accept what a double can say. */
		if (s.n && s.p[0] != '-' && tl_parse_double(s.p, s.n, &d) == 0 && isfinite(d) && d >= 0 && d <= 9e15) {
			*out = llround(d);
			return 1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* Cost in USD (int, double or decimal string) to nano-USD. */
static int usd_of(const struct tl_value *v, int64_t *out)
{
	switch (v->kind) {
	case TL_V_INT:
		if (v->u.i < 0 || v->u.i > 9000000000ll)
			return 0;
		*out = v->u.i * 1000000000ll;
		return 1;
	case TL_V_DOUBLE:
		if (!isfinite(v->u.d) || v->u.d < 0 || v->u.d > 9e9)
			return 0;
		*out = llround(v->u.d * 1e9);
		return 1;
	case TL_V_STR: {
		struct tl_str s = trim(v->u.s);
		double d;
		if (model__parse_decimal(s.p, s.n, 9, 9000000000ll, out) == 0)
			return 1;
		if (s.n && s.p[0] != '-' && tl_parse_double(s.p, s.n, &d) == 0 && isfinite(d) && d >= 0 && d <= 9e9) {
			*out = llround(d * 1e9);
			return 1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* ---- value mapping ------------------------------------------------------- */

struct map {
	const char *from;
	const char *to;
};

/* Provider spellings seen in gen_ai.system, llm.provider, llm.system and the
 * heads of ai.model.provider, to the gen_ai.provider.name values. */
static const struct map providers[] = {
	{"openai", "openai"},
	{"anthropic", "anthropic"},
	{"cohere", "cohere"},
	{"deepseek", "deepseek"},
	{"groq", "groq"},
	{"perplexity", "perplexity"},
	{"mistral_ai", "mistral_ai"},
	{"mistralai", "mistral_ai"},
	{"mistral", "mistral_ai"},
	{"gcp.gemini", "gcp.gemini"},
	{"gemini", "gcp.gemini"},
	{"gcp.vertex_ai", "gcp.vertex_ai"},
	{"vertex_ai", "gcp.vertex_ai"},
	{"vertexai", "gcp.vertex_ai"},
	{"vertex", "gcp.vertex_ai"},
	{"gcp.gen_ai", "gcp.gen_ai"},
	{"google", "gcp.gen_ai"},
	{"azure.ai.inference", "azure.ai.inference"},
	{"az.ai.inference", "azure.ai.inference"},
	{"azure.ai.openai", "azure.ai.openai"},
	{"az.ai.openai", "azure.ai.openai"},
	{"azure", "azure.ai.openai"},
	{"azure-openai", "azure.ai.openai"},
	{"aws.bedrock", "aws.bedrock"},
	{"aws", "aws.bedrock"},
	{"bedrock", "aws.bedrock"},
	{"amazon-bedrock", "aws.bedrock"},
	{"ibm.watsonx.ai", "ibm.watsonx.ai"},
	{"watsonx", "ibm.watsonx.ai"},
	{"x_ai", "x_ai"},
	{"xai", "x_ai"},
	{"moonshot_ai", "moonshot_ai"},
	{"moonshot", "moonshot_ai"},
};

static struct tl_str map_provider(struct tl_str s)
{
	for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
		if (eq_nocase(s, providers[i].from))
			return tl_str_c(providers[i].to);
	return s; /* a value we do not know is kept as sent */
}

/* ai.model.provider is "<provider>.<api>": "openai.chat", "google.vertex.chat". */
static struct tl_str map_vercel_provider(struct tl_str s)
{
	struct tl_str head = s;
	if (tl_str_has_prefix(s, "google.vertex"))
		return TL_STR_LIT("gcp.vertex_ai");
	if (tl_str_has_prefix(s, "google.generative-ai"))
		return TL_STR_LIT("gcp.gemini");
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] == '.') {
			head.n = i;
			break;
		}
	}
	return map_provider(head);
}

static const struct map ops_llmreq[] = {
	{"chat", "chat"},
	{"completion", "text_completion"},
	{"embedding", "embeddings"},
	{"rerank", "rerank"},
};

static const struct map ops_openinference[] = {
	{"llm", "chat"},
	{"embedding", "embeddings"},
	{"retriever", "retrieval"},
	{"reranker", "rerank"},
	{"tool", "execute_tool"},
	{"agent", "invoke_agent"},
};

static const struct map ops_traceloop[] = {
	{"workflow", "invoke_workflow"},
	{"agent", "invoke_agent"},
	{"tool", "execute_tool"},
};

/* Span names that imply an operation (Vercel AI SDK, Claude Code beta). */
static const struct map ops_span_name[] = {
	{"ai.generatetext.dogenerate", "chat"},
	{"ai.streamtext.dostream", "chat"},
	{"ai.generateobject.dogenerate", "chat"},
	{"ai.streamobject.dostream", "chat"},
	{"ai.embed.doembed", "embeddings"},
	{"ai.embedmany.doembed", "embeddings"},
	{"ai.toolcall", "execute_tool"},
	{"ai.generatetext", "invoke_agent"},
	{"ai.streamtext", "invoke_agent"},
	{"ai.generateobject", "invoke_agent"},
	{"ai.streamobject", "invoke_agent"},
	{"claude_code.llm_request", "chat"},
	{"claude_code.tool", "execute_tool"},
	{"claude_code.interaction", "invoke_agent"},
};

static struct tl_str map_op(const struct map *m, size_t n, struct tl_str s)
{
	for (size_t i = 0; i < n; i++)
		if (eq_nocase(s, m[i].from))
			return tl_str_c(m[i].to);
	return TL_STR_NULL;
}

#define MAP_OP(tab, s) map_op(tab, sizeof tab / sizeof tab[0], s)

/* "ai.generateText.doGenerate", "ai.streamText.doStream", "ai.embed.doEmbed"... */
static int is_vercel_inner(struct tl_str s)
{
	if (!tl_str_has_prefix(s, "ai."))
		return 0;
	for (size_t i = 3; i + 3 <= s.n; i++)
		if (s.p[i] == '.' && s.p[i + 1] == 'd' && s.p[i + 2] == 'o')
			return 1;
	return 0;
}

/* ---- the scan --------------------------------------------------------------- */

struct cand {
	int rank;
	int flags;
	struct tl_str s;
	int64_t i;
	const struct tl_value *v;
};

static int finish_usable(const struct tl_value *v)
{
	if (v->kind == TL_V_STR)
		return v->u.s.n > 0;
	if (v->kind == TL_V_ARRAY)
		return v->u.arr.n > 0;
	return 0;
}

/* Offers one attribute value to its field; keeps it if it outranks the current
 * candidate and can be read. */
static void offer(struct cand *c, const struct key *k, const struct tl_value *v, int rank)
{
	struct cand n = {0, 0, {NULL, 0}, 0, NULL};
	struct tl_str t;
	if (rank >= c->rank)
		return;
	switch (k->vk) {
	case V_STR:
	case V_OP:
		if (!str_of(v, &n.s))
			return;
		break;
	case V_TOK:
	case V_INT:
		if (!int_of(v, &n.i))
			return;
		break;
	case V_USD:
		if (!usd_of(v, &n.i))
			return;
		break;
	case V_MICROS:
		if (!int_of(v, &n.i) || n.i > INT64_MAX / 1000)
			return;
		n.i *= 1000;
		break;
	case V_OP_LLMREQ:
		if (!str_of(v, &t) || !(n.s = MAP_OP(ops_llmreq, t)).n)
			return;
		break;
	case V_OP_OI:
		if (!str_of(v, &t) || !(n.s = MAP_OP(ops_openinference, t)).n)
			return;
		break;
	case V_PROV:
		if (!str_of(v, &t))
			return;
		n.s = map_provider(t);
		break;
	case V_PROV_VERCEL:
		if (!str_of(v, &t))
			return;
		n.s = map_vercel_provider(t);
		break;
	case V_FINISH:
		if (!finish_usable(v))
			return;
		n.v = v;
		break;
	default:
		return;
	}
	n.rank = rank;
	n.flags = k->flags;
	*c = n;
}

/* Fields a resource attribute may fill (never usage, cost or per-call data). */
static int resource_slot(int slot)
{
	switch (slot) {
	case S_PROVIDER:
	case S_REQ_MODEL:
	case S_AGENT_NAME:
	case S_AGENT_ID:
	case S_CONV:
	case S_TENANT:
	case S_RUN:
	case S_STEP:
	case S_AGENT_INST:
		return 1;
	default:
		return 0;
	}
}

static void add_finish(struct tl_genai *g, struct tl_str s)
{
	s = trim(s);
	if (s.n >= 2 && (s.p[0] == '"' || s.p[0] == '\'') && s.p[s.n - 1] == s.p[0]) {
		s.p++;
		s.n -= 2;
	}
	if (s.n && g->n_finish_reasons < sizeof g->finish_reasons / sizeof g->finish_reasons[0])
		g->finish_reasons[g->n_finish_reasons++] = s;
}

/* A string, a string array, or a string holding a JSON array of strings. */
static void fill_finish(struct tl_genai *g, const struct tl_value *v)
{
	if (v->kind == TL_V_ARRAY) {
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			if (v->u.arr.items[i].kind == TL_V_STR)
				add_finish(g, v->u.arr.items[i].u.s);
		return;
	}
	if (v->kind != TL_V_STR)
		return;
	{
		struct tl_str s = trim(v->u.s);
		size_t start;
		if (!(s.n >= 2 && s.p[0] == '[' && s.p[s.n - 1] == ']')) {
			add_finish(g, s);
			return;
		}
		/* Reasons are plain words, so splitting on commas is enough. */
		start = 1;
		for (size_t i = 1; i < s.n; i++) {
			if (s.p[i] == ',' || i == s.n - 1) {
				struct tl_str part = {s.p + start, i - start};
				add_finish(g, part);
				start = i + 1;
			}
		}
	}
}

static int64_t val(const struct cand *c)
{
	return c->rank < R_NONE ? c->i : TL_NONE;
}

static struct tl_str sval(const struct cand *c)
{
	return c->rank < R_NONE ? c->s : TL_STR_NULL;
}

struct tl_str model_span_service(const struct tl_span *s)
{
	if (s && s->resource) {
		const struct tl_value *v;
		if (s->resource->service.n)
			return s->resource->service;
		v = tl_attrs_get(&s->resource->attrs, "service.name");
		if (v && v->kind == TL_V_STR && v->u.s.n)
			return v->u.s;
	}
	return TL_STR_LIT("unknown_service");
}

void model_normalise_span(struct tl_span *s, const struct tl_price_table *prices)
{
	struct cand c[S_NSLOTS];
	struct tl_genai *g = &s->genai;
	struct tl_run_identity *r = &s->run;
	struct tl_str service, op, tlk;
	int plain_ok, vercel_ok, has_tokens;
	int64_t in, out, cr, cw, reas, total;

	for (int i = 0; i < S_NSLOTS; i++)
		c[i].rank = R_NONE;
	memset(g, 0, sizeof *g);

	/* 1. span attributes */
	for (uint32_t i = 0; i < s->attrs.n; i++) {
		const struct tl_kv *kv = &s->attrs.items[i];
		const struct key *k = find_key(kv->key.p, kv->key.n);
		int rank;
		if (!k) {
			g->unknown_genai_attrs += (uint32_t)is_unknown_genai(kv->key.p, kv->key.n);
			continue;
		}
		if (k->slot == S_KNOWN)
			continue;
		rank = k->rank + (k->flags & F_PLAIN ? R_PLAIN : k->flags & F_VERCEL ? R_VERCEL : 0);
		offer(&c[k->slot], k, &kv->v, rank);
	}

	/* 2. the gated vendor keys: usage on Vercel's outer spans repeats the sum
	 * of its inner calls, and unprefixed keys mean something only in Claude
	 * Code (or Anthropic) telemetry. */
	service = model_span_service(s);
	vercel_ok = is_vercel_inner(s->name) || is_vercel_inner(sval(&c[S_VERCEL_OP]));
	plain_ok = tl_str_has_prefix(s->name, "claude_code.") || tl_str_has_prefix(service, "claude-code") ||
		   tl_str_eq_c(sval(&c[S_PROVIDER]), "anthropic");
	for (int i = 0; i < S_NSLOTS; i++) {
		if (c[i].rank >= R_NONE)
			continue;
		if (((c[i].flags & F_VERCEL) && !vercel_ok) || ((c[i].flags & F_PLAIN) && !plain_ok))
			c[i].rank = R_NONE;
	}

	/* 3. resource attributes fill what the span left empty */
	if (s->resource) {
		const struct tl_attrs *ra = &s->resource->attrs;
		for (uint32_t i = 0; i < ra->n; i++) {
			const struct key *k = find_key(ra->items[i].key.p, ra->items[i].key.n);
			if (!k || k->slot == S_KNOWN || (k->flags & (F_PLAIN | F_VERCEL)) || !resource_slot(k->slot))
				continue;
			offer(&c[k->slot], k, &ra->items[i].v, R_RESOURCE + k->rank);
		}
	}

	/* 4. operation: the attribute, else the traceloop kind, else the span name */
	op = sval(&c[S_OP]);
	tlk = sval(&c[S_TL_KIND]);
	if (!op.n && tlk.n)
		op = MAP_OP(ops_traceloop, tlk);
	if (!op.n && c[S_VERCEL_OP].rank < R_NONE)
		op = MAP_OP(ops_span_name, c[S_VERCEL_OP].s);
	if (!op.n)
		op = MAP_OP(ops_span_name, s->name);
	g->operation = op;

	g->provider = sval(&c[S_PROVIDER]);
	g->request_model = sval(&c[S_REQ_MODEL]);
	g->response_model = sval(&c[S_RESP_MODEL]);
	g->tool_name = sval(&c[S_TOOL_NAME]);
	g->tool_call_id = sval(&c[S_TOOL_CALL_ID]);
	g->agent_name = sval(&c[S_AGENT_NAME]);
	g->agent_id = sval(&c[S_AGENT_ID]);
	g->conversation_id = sval(&c[S_CONV]);
	if (c[S_ENTITY].rank < R_NONE) {
		if (!g->tool_name.n && eq_nocase(tlk, "tool"))
			g->tool_name = c[S_ENTITY].s;
		if (!g->agent_name.n && eq_nocase(tlk, "agent"))
			g->agent_name = c[S_ENTITY].s;
	}
	if (c[S_FINISH].rank < R_NONE)
		fill_finish(g, c[S_FINISH].v);

	/* 5. tokens, per docs/cost.md: input includes cache, output includes reasoning */
	in = val(&c[S_IN]);
	out = val(&c[S_OUT]);
	cr = val(&c[S_CR]);
	cw = val(&c[S_CW]);
	reas = val(&c[S_REASON]);
	total = val(&c[S_TOTAL]);
	if (in != TL_NONE) {
		int64_t cache = (cr > 0 ? cr : 0) + (cw > 0 ? cw : 0);
		if ((c[S_IN].flags & F_RAW) || cache > in)
			in += cache;
	}
	if (out != TL_NONE && reas > out)
		out += reas; /* a source that left reasoning out of output */
	if (total != TL_NONE) {
		if (in == TL_NONE && out != TL_NONE && total >= out)
			in = total - out;
		else if (out == TL_NONE && in != TL_NONE && total >= in)
			out = total - in;
	}
	g->input_tokens = in;
	g->output_tokens = out;
	g->cache_read_tokens = cr;
	g->cache_write_tokens = cw;
	g->reasoning_tokens = reas;
	has_tokens = in != TL_NONE || out != TL_NONE || cr != TL_NONE || cw != TL_NONE || reas != TL_NONE;

	/* 6. cost: the span's own figure wins, else the price table */
	g->cost_nusd = TL_NONE;
	if (c[S_COST].rank < R_NONE) {
		g->cost_nusd = c[S_COST].i;
		g->cost_from_span = 1;
	} else if (has_tokens) {
		const struct tl_price *p = NULL;
		if (prices && g->response_model.n)
			p = model_prices_find(prices, g->response_model);
		if (!p && prices && g->request_model.n)
			p = model_prices_find(prices, g->request_model);
		if (p)
			g->cost_nusd = model_cost_nusd(p, g);
		g->price_unknown = g->cost_nusd == TL_NONE;
	}

	g->is_genai = g->operation.n || g->request_model.n || g->response_model.n || has_tokens ||
		      total != TL_NONE || g->cost_from_span;

	/* 7. run identity */
	r->tenant = sval(&c[S_TENANT]);
	r->run_id = sval(&c[S_RUN]);
	r->step = val(&c[S_STEP]);
	r->agent_instance = sval(&c[S_AGENT_INST]);
}

void model_normalise_batch(struct tl_batch *b, const struct tl_price_table *prices)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_spans; i++)
		model_normalise_span(&b->spans[i], prices);
}
