// transcript.test.mjs - unit tests (node:test, no browser) of web/transcript.js: every
// GenAI content form the trace view turns into a chat transcript.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractTranscript, unflatten, maybeJson } from '../../web/transcript.js';

const roles = (r) => r.messages.map((m) => m.role);

test('gen_ai.input.messages / output.messages as structured arrays', () => {
	const r = extractTranscript({
		'gen_ai.system_instructions': [{ type: 'text', content: 'Be brief.' }],
		'gen_ai.input.messages': [
			{ role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
			{ role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'get_weather', arguments: { location: 'Paris' } }] },
			{ role: 'tool', parts: [{ type: 'tool_call_response', id: 'c1', response: 'rainy' }] },
		],
		'gen_ai.output.messages': [{ role: 'assistant', finish_reason: 'stop', parts: [{ type: 'text', content: 'Rainy.' }] }],
	});
	assert.deepEqual(roles(r), ['system', 'user', 'assistant', 'tool', 'assistant']);
	assert.deepEqual(r.messages[2].parts[0], { type: 'tool_call', id: 'c1', name: 'get_weather', arguments: { location: 'Paris' } });
	assert.equal(r.messages[3].parts[0].response, 'rainy');
	assert.equal(r.messages[4].finish_reason, 'stop');
	assert.equal(r.messages[4].source, 'output');
	assert.deepEqual(r.sources, ['gen_ai.system_instructions', 'gen_ai.input.messages', 'gen_ai.output.messages']);
});

test('messages as JSON strings, OpenAI and Anthropic content shapes', () => {
	const r = extractTranscript({
		'gen_ai.input.messages': JSON.stringify([
			{ role: 'system', content: 'sys' },
			{ role: 'user', content: [{ type: 'text', text: 'hi' }] },
			{ role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
			{ role: 'tool', tool_call_id: 't1', content: '42' },
			{ role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'tool_use', id: 'u1', name: 'g', input: { b: 2 } }] },
			{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'u1', content: [{ type: 'text', text: 'ok' }] }] },
		]),
		'gen_ai.output.messages': '[{"role":"assistant","parts":[{"type":"text","content":"done"}],"finish_reason":"stop"}]',
	});
	assert.deepEqual(roles(r), ['system', 'user', 'assistant', 'tool', 'assistant', 'user', 'assistant']);
	assert.deepEqual(r.messages[2].parts, [{ type: 'tool_call', id: 't1', name: 'f', arguments: { a: 1 } }]);
	assert.deepEqual(r.messages[3].parts, [{ type: 'tool_call_response', id: 't1', response: '42' }]);
	assert.equal(r.messages[4].parts[0].type, 'reasoning');
	assert.deepEqual(r.messages[4].parts[1], { type: 'tool_call', id: 'u1', name: 'g', arguments: { b: 2 } });
	assert.deepEqual(r.messages[5].parts[0], { type: 'tool_call_response', id: 'u1', response: 'ok' });
	assert.equal(r.messages[6].parts[0].content, 'done');
});

test('indexed gen_ai.prompt.N / gen_ai.completion.N with tool calls', () => {
	const r = extractTranscript({
		'gen_ai.prompt.0.role': 'system', 'gen_ai.prompt.0.content': 'S',
		'gen_ai.prompt.1.role': 'user', 'gen_ai.prompt.1.content': 'U',
		'gen_ai.prompt.10.role': 'user', 'gen_ai.prompt.10.content': 'U10',
		'gen_ai.completion.0.role': 'assistant', 'gen_ai.completion.0.finish_reason': 'tool_calls',
		'gen_ai.completion.0.tool_calls.0.id': 'x', 'gen_ai.completion.0.tool_calls.0.name': 'lookup',
		'gen_ai.completion.0.tool_calls.0.arguments': '{"q":"z"}',
	});
	assert.deepEqual(r.messages.map((m) => m.parts[0].content ?? m.parts[0].name), ['S', 'U', 'U10', 'lookup']);
	assert.deepEqual(r.messages[3].parts[0], { type: 'tool_call', id: 'x', name: 'lookup', arguments: { q: 'z' } });
	assert.equal(r.messages[3].finish_reason, 'tool_calls');
});

test('OpenInference llm.input_messages / llm.output_messages', () => {
	const r = extractTranscript({
		'llm.input_messages.0.message.role': 'user',
		'llm.input_messages.0.message.contents.0.message_content.type': 'text',
		'llm.input_messages.0.message.contents.0.message_content.text': 'hello',
		'llm.input_messages.1.message.role': 'tool', 'llm.input_messages.1.message.tool_call_id': 'k', 'llm.input_messages.1.message.content': 'res',
		'llm.output_messages.0.message.role': 'assistant',
		'llm.output_messages.0.message.tool_calls.0.tool_call.id': 'k2',
		'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'fn',
		'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"x":1}',
	});
	assert.deepEqual(roles(r), ['user', 'tool', 'assistant']);
	assert.equal(r.messages[0].parts[0].content, 'hello');
	assert.deepEqual(r.messages[1].parts[0], { type: 'tool_call_response', id: 'k', response: 'res' });
	assert.deepEqual(r.messages[2].parts[0], { type: 'tool_call', id: 'k2', name: 'fn', arguments: { x: 1 } });
});

test('gen_ai.prompt / gen_ai.completion JSON strings, on the span and on events', () => {
	const a = extractTranscript({ 'gen_ai.prompt': '[{"role":"user","content":"q"}]', 'gen_ai.completion': '[{"role":"assistant","content":"a"}]' });
	assert.deepEqual(a.messages.map((m) => [m.role, m.parts[0].content]), [['user', 'q'], ['assistant', 'a']]);
	const b = extractTranscript({}, [
		{ name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': '[{"role":"user","content":"q2"}]' } },
		{ name: 'gen_ai.content.completion', attributes: { 'gen_ai.completion': '[{"role":"assistant","content":"a2"}]' } },
	]);
	assert.deepEqual(b.messages.map((m) => m.parts[0].content), ['q2', 'a2']);
	const c = extractTranscript({ 'gen_ai.prompt': 'just text' });
	assert.deepEqual(c.messages[0], { role: 'user', parts: [{ type: 'text', content: 'just text' }], source: 'input' });
});

test('per-message events, tool spans, nothing at all', () => {
	const r = extractTranscript({}, [
		{ name: 'gen_ai.user.message', attributes: { content: 'u' } },
		{ name: 'gen_ai.choice', attributes: { index: 0, finish_reason: 'stop', message: '{"role":"assistant","content":"c"}' } },
	]);
	assert.deepEqual(r.messages.map((m) => [m.role, m.parts[0].content]), [['user', 'u'], ['assistant', 'c']]);
	const t = extractTranscript({ 'gen_ai.tool.name': 'w', 'gen_ai.tool.call.id': 'i', 'gen_ai.tool.call.arguments': '{"l":"P"}', 'gen_ai.tool.call.result': 'r' });
	assert.deepEqual(t.messages.map((m) => m.parts[0].type), ['tool_call', 'tool_call_response']);
	assert.deepEqual(extractTranscript({ 'http.method': 'GET' }).messages, []);
	assert.deepEqual(extractTranscript({ 'gen_ai.input.messages': '{not json' }).messages[0].parts[0].content, '{not json');
});

test('helpers', () => {
	assert.deepEqual(unflatten({ 'p.1.a.b': 1, 'p.0.c': 2, 'p.x': 3, q: 4 }, 'p'), [{ c: 2 }, { a: { b: 1 } }]);
	assert.equal(maybeJson('[1'), '[1');
	assert.deepEqual(maybeJson(' {"a":1}'), { a: 1 });
});

test('GenAI events sent as OTLP log records (span.logs)', () => {
	// The deprecated per-message events: the fields are in the body.
	const logs = [
		{ event_name: 'gen_ai.system.message', body: { content: 'be brief' }, attributes: { 'gen_ai.system': 'openai' } },
		{ event_name: 'gen_ai.user.message', body: { content: 'Plan a trip' }, attributes: {} },
		{ event_name: 'gen_ai.choice', body: { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Three days.' } }, attributes: {} },
		{ event_name: 'other.event', body: 'ignored', attributes: {} },
	];
	const r = extractTranscript({}, [], logs);
	assert.deepEqual(r.messages.map((m) => [m.role, m.parts[0].content]), [['system', 'be brief'], ['user', 'Plan a trip'], ['assistant', 'Three days.']]);
	assert.equal(r.messages[2].finish_reason, 'stop');
	assert.deepEqual(r.sources, ['events gen_ai.*.message', 'events gen_ai.choice']);
	// gen_ai.client.inference.operation.details: its message attributes, when the span has none.
	const det = [{ event_name: 'gen_ai.client.inference.operation.details', body: null, attributes: {
		'gen_ai.input.messages': [{ role: 'user', parts: [{ type: 'text', content: 'from details' }] }],
		'gen_ai.output.messages': [{ role: 'assistant', parts: [{ type: 'text', content: 'answer' }], finish_reason: 'stop' }],
	} }];
	assert.deepEqual(extractTranscript({}, [], det).messages.map((m) => m.parts[0].content), ['from details', 'answer']);
	// The span's own message attributes win.
	const own = extractTranscript({ 'gen_ai.input.messages': '[{"role":"user","content":"own"}]' }, [], det);
	assert.deepEqual(own.messages.map((m) => m.parts[0].content), ['own', 'answer']);
});
