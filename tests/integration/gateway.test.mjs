// gateway.test.mjs - the LLM gateway end to end: the official `openai` npm client
// (and raw HTTP for Anthropic and edge cases) through `tracelamp serve` with a
// gateway section, against fake_upstream.mjs. Asserts replies byte-identical to
// what the upstream sent, the exact spans (queried back through /api/v1), the
// caller's traceparent, budgets, fallbacks, auth, limits, disconnects, content
// capture with redaction, metrics, and the standalone `tracelamp gateway`
// exporting over OTLP.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import OpenAI from 'openai';
import { Daemon, BIN, freshDataDir, removeDir, sleep, newTraceId, newSpanId, parsePrometheus } from './lib.mjs';
import { startFakeUpstream, sentBytes } from './fake_upstream.mjs';

const KEY_A = 'gw-key-team-a-0123456789';
const KEY_B = 'gw-key-team-b-abcdefghij';
const UPSTREAM_SECRET = 'sk-upstream-secret-do-not-leak-42';

let fakeA, fakeB, d, gw, dir;

function config(a, b) {
	return `
store:
  trace_idle: 200ms
gateway:
  addr: 127.0.0.1:0
  max_request_bytes: 64KiB
  keys:
    - key_env: GW_TEST_KEY_A
      tenant: team-a
      budget: {requests_per_minute: 1000}
    - key_env: GW_TEST_KEY_B
      tenant: team-b
      budget: {requests_per_minute: 2, tokens_per_day: 5000000}
  routes:
    - match: "esc-*"
      upstreams:
        - {name: dead, api: openai, base_url: "http://127.0.0.1:9", timeout: 5s}
        - {name: flaky, api: openai, base_url: "${a}", headers: {x-fake-mode: fail429}}
        - {name: backup, api: openai, base_url: "${b}", api_key_env: GW_TEST_UPSTREAM_KEY}
    - match: "allfail-*"
      upstreams:
        - {name: flaky, api: openai, base_url: "${a}", headers: {x-fake-mode: fail500}}
    - match: "hangshort-*"
      upstreams:
        - {name: slowpoke, api: openai, base_url: "${a}", timeout: 300ms}
    - match: "capture-*"
      capture_content: true
      upstreams:
        - {name: primary, api: openai, base_url: "${a}", api_key_env: GW_TEST_UPSTREAM_KEY}
    - match: "claude-*"
      upstreams:
        - {name: anthropic, api: anthropic, base_url: "${a}", api_key_env: GW_TEST_UPSTREAM_KEY}
    - match: "*"
      upstreams:
        - {name: primary, api: openai, base_url: "${a}", api_key_env: GW_TEST_UPSTREAM_KEY, timeout: 30s}
  redact: [email, api_key, card, {regex: "secret-[0-9]+", replace: "[SECRET]"}]
`;
}

before(async () => {
	fakeA = await startFakeUpstream();
	fakeB = await startFakeUpstream();
	dir = freshDataDir('gw');
	const cfg = join(dir, 'tracelamp.yaml');
	writeFileSync(cfg, config(fakeA.url, fakeB.url));
	d = await Daemon.start({
		args: [`--config=${cfg}`],
		env: { GW_TEST_KEY_A: KEY_A, GW_TEST_KEY_B: KEY_B, GW_TEST_UPSTREAM_KEY: UPSTREAM_SECRET },
	});
	const m = /gateway=127\.0\.0\.1:(\d+)/.exec(d.log);
	assert.ok(m, `no gateway= in the listening line:\n${d.log}`);
	gw = `http://127.0.0.1:${m[1]}`;
});

after(async () => {
	if (d) {
		const e = await d.stop();
		assert.deepEqual(e, { code: 0, signal: null });
		await d.dispose();
	}
	await fakeA?.close();
	await fakeB?.close();
	removeDir(dir);
});

// An openai client whose fetch records the exact bytes the gateway sent back.
function client(key = KEY_A, seen = []) {
	const rec = async (url, init) => {
		const r = await fetch(url, init);
		const body = Buffer.from(await r.arrayBuffer());
		seen.push({ url: String(url), status: r.status, headers: r.headers, body });
		return new Response(body, { status: r.status, statusText: r.statusText, headers: r.headers });
	};
	return new OpenAI({ apiKey: key, baseURL: `${gw}/v1`, maxRetries: 0, fetch: rec });
}

function traceHeaders() {
	const traceId = newTraceId(), spanId = newSpanId();
	return { traceId, spanId, headers: { traceparent: `00-${traceId}-${spanId}-01` } };
}

// Waits for the trace of the gateway's spans (tenant-scoped query API).
async function spansOf(traceId, tenant = 'team-a', want = 2) {
	const deadline = Date.now() + 10000;
	for (;;) {
		const r = await fetch(`${d.apiUrl}/api/v1/traces/${traceId}`, { headers: { 'X-Tracelamp-Tenant': tenant } });
		const j = await r.json();
		if (r.status === 200 && j.spans.length >= want) {
			const server = j.spans.find((s) => s.name === 'gateway.request');
			const cl = j.spans.find((s) => s.kind === 'client');
			return { server, client: cl, all: j.spans };
		}
		if (Date.now() > deadline) throw new Error(`trace ${traceId} not found for ${tenant}: ${JSON.stringify(j)}`);
		await sleep(50);
	}
}

async function raw(path, { method = 'POST', headers = {}, body } = {}) {
	const r = await fetch(`${gw}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body });
	return { status: r.status, headers: r.headers, text: await r.text() };
}

test('chat completion: reply byte-identical, spans exact, caller trace joined, upstream key hidden', async () => {
	const seen = [];
	const { traceId, spanId, headers } = traceHeaders();
	const n0 = fakeA.requests.length;
	const c = client(KEY_A, seen);
	const res = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], temperature: 0.5, max_tokens: 64, top_p: 0.9, seed: 7, stop: ['END'] },
		{ headers: { ...headers, 'X-Tracelamp-Run': 'run-77', 'X-Tracelamp-Step': '3', 'X-Tracelamp-Agent-Instance': 'agent-a#1' } });
	assert.equal(res.choices[0].message.content, 'Hello from the fake. Contact bob@example.com');
	assert.equal(fakeA.requests.length, n0 + 1);
	const up = fakeA.last();
	assert.deepEqual(seen[0].body, sentBytes(up), 'reply bytes differ from the upstream');
	assert.match(seen[0].headers.get('x-request-id'), /^req_fake_\d+$/, 'provider headers are passed through');
	// Upstream got the upstream key, never the gateway key; and the gateway's own traceparent.
	assert.equal(up.headers.authorization, `Bearer ${UPSTREAM_SECRET}`);
	assert.ok(!JSON.stringify(up.headers).includes(KEY_A));
	const tp = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(up.headers.traceparent);
	assert.ok(tp, `traceparent ${up.headers.traceparent}`);
	assert.equal(tp[1], traceId);

	const { server, client: cl, all } = await spansOf(traceId);
	assert.equal(all.length, 2);
	assert.equal(server.parent_span_id, spanId, 'gateway.request joins the caller span');
	assert.equal(server.kind, 'server');
	assert.equal(cl.parent_span_id, server.span_id);
	assert.equal(cl.span_id, tp[2], 'upstream traceparent carries the CLIENT span');
	assert.equal(cl.name, 'chat gpt-4o-mini');
	assert.deepEqual(server.attributes, {
		'http.request.method': 'POST', 'url.path': '/v1/chat/completions', 'http.response.status_code': 200,
		'tracelamp.gateway.route': '*', 'tracelamp.gateway.upstream': 'primary', 'tracelamp.gateway.model': 'gpt-4o-mini',
		'tracelamp.tenant': 'team-a', 'tracelamp.run.id': 'run-77', 'tracelamp.run.step': 3, 'tracelamp.agent.instance': 'agent-a#1',
	});
	const a = { ...cl.attributes };
	assert.ok(a['gen_ai.usage.cost'] > 0);
	delete a['gen_ai.usage.cost'];
	assert.deepEqual(a, {
		'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
		'openai.api.type': 'chat_completions',
		'gen_ai.request.temperature': 0.5, 'gen_ai.request.top_p': 0.9, 'gen_ai.request.seed': 7,
		'gen_ai.request.max_tokens': 64, 'gen_ai.request.stop_sequences': ['END'],
		'gen_ai.response.id': res.id, 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
		'gen_ai.response.finish_reasons': ['stop'],
		'gen_ai.usage.input_tokens': 50, 'gen_ai.usage.output_tokens': 20,
		'gen_ai.usage.cache_read.input_tokens': 10, 'gen_ai.usage.reasoning.output_tokens': 5,
		'server.address': '127.0.0.1', 'server.port': fakeA.port, 'http.response.status_code': 200,
		'tracelamp.gateway.route': '*', 'tracelamp.gateway.upstream': 'primary', 'tracelamp.gateway.attempts': 1,
		'tracelamp.tenant': 'team-a', 'tracelamp.run.id': 'run-77', 'tracelamp.run.step': 3, 'tracelamp.agent.instance': 'agent-a#1',
	});
	assert.equal(cl.genai.input_tokens, 50);
	assert.equal(cl.genai.cache_read_tokens, 10);
	assert.equal(cl.genai.reasoning_tokens, 5);
	assert.equal(cl.run_id, 'run-77');
	// Content capture is off by default.
	assert.equal(a['gen_ai.input.messages'], undefined);
	assert.ok(!JSON.stringify(all).includes(UPSTREAM_SECRET), 'upstream key leaked into spans');
	assert.ok(!JSON.stringify(all).includes(KEY_A), 'gateway key leaked into spans');
});

test('streaming without include_usage: usage asked upstream, stripped from the reply, recorded on the span', async () => {
	const seen = [];
	const { traceId, headers } = traceHeaders();
	const c = client(KEY_A, seen);
	const stream = await c.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { headers });
	let text = '', chunks = 0;
	for await (const ch of stream) {
		chunks++;
		assert.equal(ch.usage, undefined, 'no usage field reaches a client that did not ask');
		text += ch.choices[0]?.delta?.content || '';
	}
	assert.equal(text, 'Hello from the fake.');
	const up = fakeA.last();
	assert.equal(up.body.stream_options.include_usage, true, 'the gateway asks for usage');
	// Expected reply: what the upstream sent, minus the usage-only event and the "usage":null members.
	const expected = sentBytes(up).toString().split('\n\n').filter((e) => e && !e.includes('"choices":[]'))
		.map((e) => `${e.replace(',"usage":null', '')}\n\n`).join('');
	assert.equal(seen[0].body.toString(), expected);
	assert.equal(chunks, 8);
	const { client: cl } = await spansOf(traceId);
	assert.equal(cl.attributes['gen_ai.request.stream'], true);
	assert.equal(cl.attributes['gen_ai.usage.input_tokens'], 50);
	assert.equal(cl.attributes['gen_ai.usage.output_tokens'], 20);
	assert.deepEqual(cl.attributes['gen_ai.response.finish_reasons'], ['stop']);
	assert.ok(cl.attributes['gen_ai.response.time_to_first_chunk'] > 0);
	assert.equal(cl.attributes['error.type'], undefined);
});

test('streaming with include_usage: byte-identical including the usage chunk', async () => {
	const seen = [];
	const { traceId, headers } = traceHeaders();
	const c = client(KEY_A, seen);
	const stream = await c.chat.completions.create({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }, { headers });
	let usage = null;
	for await (const ch of stream) if (ch.usage) usage = ch.usage;
	assert.equal(usage.prompt_tokens, 50);
	assert.deepEqual(seen[0].body, sentBytes(fakeA.last()));
	const { client: cl } = await spansOf(traceId);
	assert.equal(cl.attributes['gen_ai.usage.reasoning.output_tokens'], 5);
});

test('embeddings and responses (JSON and stream) through the openai client', async () => {
	let seen = [];
	let t = traceHeaders();
	const emb = await client(KEY_A, seen).embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'], encoding_format: 'float' }, { headers: t.headers });
	assert.equal(emb.data.length, 2);
	assert.deepEqual(seen[0].body, sentBytes(fakeA.last()));
	let s = await spansOf(t.traceId);
	assert.equal(s.client.name, 'embeddings text-embedding-3-small');
	assert.equal(s.client.attributes['gen_ai.operation.name'], 'embeddings');
	assert.equal(s.client.attributes['gen_ai.usage.input_tokens'], 8);
	assert.deepEqual(s.client.attributes['gen_ai.request.encoding_formats'], ['float']);

	seen = [];
	t = traceHeaders();
	const r = await client(KEY_A, seen).responses.create({ model: 'gpt-4.1-mini', input: 'hello', max_output_tokens: 99 }, { headers: t.headers });
	assert.equal(r.output_text, 'Hi from responses.');
	assert.deepEqual(seen[0].body, sentBytes(fakeA.last()));
	s = await spansOf(t.traceId);
	assert.equal(s.client.attributes['openai.api.type'], 'responses');
	assert.equal(s.client.attributes['gen_ai.response.id'], r.id);
	assert.equal(s.client.attributes['gen_ai.request.max_tokens'], 99);
	assert.equal(s.client.attributes['gen_ai.usage.input_tokens'], 40);
	assert.equal(s.client.attributes['gen_ai.usage.cache_read.input_tokens'], 8);
	assert.equal(s.client.attributes['gen_ai.usage.reasoning.output_tokens'], 12);

	seen = [];
	t = traceHeaders();
	const st = await client(KEY_A, seen).responses.create({ model: 'gpt-4.1-mini', input: 'hello', stream: true }, { headers: t.headers });
	const types = [];
	for await (const ev of st) types.push(ev.type);
	assert.deepEqual(types.at(-1), 'response.completed');
	assert.deepEqual(seen[0].body, sentBytes(fakeA.last()), 'Responses streams are passed through unchanged');
	assert.equal(fakeA.last().body.stream_options, undefined, 'no include_usage for the Responses API');
	s = await spansOf(t.traceId);
	assert.equal(s.client.attributes['gen_ai.usage.output_tokens'], 30);
	assert.equal(s.client.attributes['gen_ai.request.stream'], true);
});

test('GET /v1/models is forwarded', async () => {
	const seen = [];
	const list = await client(KEY_A, seen).models.list();
	const ids = [];
	for await (const m of list) ids.push(m.id);
	assert.deepEqual(ids, ['gpt-4o-mini']);
	assert.equal(fakeA.last().path, '/v1/models');
	assert.equal(fakeA.last().method, 'GET');
});

test('Anthropic messages, JSON and SSE: x-api-key auth, usage summed per the conventions', async () => {
	let t = traceHeaders();
	let r = await raw('/v1/messages', { headers: { 'x-api-key': KEY_A, 'anthropic-version': '2023-06-01', ...t.headers },
		body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }) });
	assert.equal(r.status, 200);
	assert.equal(r.text, sentBytes(fakeA.last()).toString());
	const up = fakeA.last();
	assert.equal(up.headers['x-api-key'], UPSTREAM_SECRET);
	assert.equal(up.headers['anthropic-version'], '2023-06-01');
	let s = await spansOf(t.traceId);
	assert.equal(s.client.attributes['gen_ai.provider.name'], 'anthropic');
	assert.equal(s.client.attributes['gen_ai.usage.input_tokens'], 425);
	assert.equal(s.client.attributes['gen_ai.usage.cache_read.input_tokens'], 300);
	assert.equal(s.client.attributes['gen_ai.usage.cache_creation.input_tokens'], 100);
	assert.equal(s.client.attributes['gen_ai.usage.output_tokens'], 15);
	assert.deepEqual(s.client.attributes['gen_ai.response.finish_reasons'], ['end_turn']);

	t = traceHeaders();
	r = await raw('/v1/messages', { headers: { 'x-api-key': KEY_A, ...t.headers },
		body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
	assert.equal(r.status, 200);
	assert.equal(r.text, sentBytes(fakeA.last()).toString());
	s = await spansOf(t.traceId);
	// message_delta usage is cumulative: the last value wins, never the sum (7 + 15).
	assert.equal(s.client.attributes['gen_ai.usage.output_tokens'], 15);
	assert.equal(s.client.attributes['gen_ai.usage.input_tokens'], 425);
	assert.match(s.client.attributes['gen_ai.response.id'], /^msg_fake\d+$/);

	// An Anthropic client's errors come back in Anthropic's shape.
	r = await raw('/v1/messages', { headers: { 'x-api-key': 'wrong' }, body: '{}' });
	assert.equal(r.status, 401);
	assert.deepEqual(JSON.parse(r.text), { type: 'error', error: { type: 'authentication_error', message: 'Incorrect or missing gateway API key.' } });
});

test('fallbacks: connect error then 429 escalate to the backup, recorded on the span', async () => {
	const { traceId, headers } = traceHeaders();
	const seen = [];
	const nB = fakeB.requests.length;
	const res = await client(KEY_A, seen).chat.completions.create({ model: 'esc-model', messages: [{ role: 'user', content: 'hi' }] }, { headers });
	assert.equal(res.object, 'chat.completion');
	assert.equal(fakeB.requests.length, nB + 1);
	assert.deepEqual(seen[0].body, sentBytes(fakeB.last()));
	const { client: cl } = await spansOf(traceId);
	assert.equal(cl.attributes['tracelamp.gateway.upstream'], 'backup');
	assert.equal(cl.attributes['tracelamp.gateway.attempts'], 3);
	assert.deepEqual(cl.attributes['tracelamp.gateway.escalations'], ['dead:connect', 'flaky:429']);
	assert.equal(cl.attributes['error.type'], undefined);

	// The last upstream's error is what the client gets when all fail.
	const r = await raw('/v1/chat/completions', { headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify({ model: 'allfail-x', messages: [] }) });
	assert.equal(r.status, 500);
	assert.equal(r.text, sentBytes(fakeA.last()).toString());
});

test('budgets: requests per minute answer 429 in the provider error shape', async () => {
	const c = client(KEY_B);
	await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '1' }] });
	await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '2' }] });
	const n = fakeA.requests.length;
	await assert.rejects(c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '3' }] }), (e) => {
		assert.ok(e instanceof OpenAI.RateLimitError);
		assert.equal(e.status, 429);
		assert.equal(e.error.code, 'budget_exceeded');
		assert.equal(e.error.type, 'requests');
		assert.match(e.error.message, /team-b.*requests per minute/);
		assert.ok(Number(e.headers.get('retry-after')) >= 1);
		return true;
	});
	assert.equal(fakeA.requests.length, n, 'refused calls never reach the upstream');
});

test('auth failures, oversized, malformed and unroutable requests', async () => {
	await assert.rejects(client('not-a-key').chat.completions.create({ model: 'gpt-4o-mini', messages: [] }), (e) => {
		assert.ok(e instanceof OpenAI.AuthenticationError);
		assert.equal(e.error.code, 'invalid_api_key');
		return true;
	});
	let r = await raw('/v1/chat/completions', { body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }) });
	assert.equal(r.status, 401);
	const big = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
	r = await raw('/v1/chat/completions', { headers: { authorization: `Bearer ${KEY_A}` }, body: big });
	assert.equal(r.status, 413);
	assert.equal(JSON.parse(r.text).error.code, 'request_too_large');
	r = await raw('/v1/chat/completions', { headers: { authorization: `Bearer ${KEY_A}` }, body: '{"model": "gpt-4o-mini", ' });
	assert.equal(r.status, 400);
	assert.equal(JSON.parse(r.text).error.type, 'invalid_request_error');
	assert.equal(JSON.parse(r.text).error.code, 'invalid_json');
	r = await raw('/v1/chat/completions', { headers: { authorization: `Bearer ${KEY_A}` }, body: '{"messages": []}' });
	assert.equal(r.status, 400);
	assert.equal(JSON.parse(r.text).error.code, 'missing_model');
	r = await raw('/v1/messages', { headers: { 'x-api-key': KEY_A }, body: '{"model": "gpt-4o-mini", "max_tokens": 1, "messages": []}' });
	assert.equal(r.status, 404, 'no anthropic upstream serves gpt-* models');
	assert.equal(JSON.parse(r.text).error.type, 'not_found_error');
	r = await raw('/v1/nothing', { headers: { authorization: `Bearer ${KEY_A}` }, body: '{}' });
	assert.equal(r.status, 404);
	r = await raw('/v1/chat/completions', { method: 'GET', headers: { authorization: `Bearer ${KEY_A}` } });
	assert.equal(r.status, 405);
});

test('upstream timeout answers 504 in the provider shape', async () => {
	const { traceId, headers } = traceHeaders();
	const t0 = Date.now();
	const r = await raw('/v1/chat/completions', { headers: { authorization: `Bearer ${KEY_A}`, ...headers }, body: JSON.stringify({ model: 'hangshort-x', messages: [] }) });
	assert.equal(r.status, 504);
	assert.ok(Date.now() - t0 < 3000);
	assert.deepEqual(JSON.parse(r.text), { error: { message: 'the upstream did not answer in time', type: 'server_error', param: null, code: 'timeout' } });
	const s = await spansOf(traceId);
	assert.equal(s.client.attributes['error.type'], 'timeout');
	assert.equal(s.client.status.code, 'error');
});

test('content capture per route, with built-in and custom redaction', async () => {
	const { traceId, headers } = traceHeaders();
	const secretText = 'mail alice@example.org, card 4111 1111 1111 1111, not a card 1234 5678 9012 3456, key sk-abcdefghijklmnopqrstuvwx, secret-12345';
	await client(KEY_A).chat.completions.create({ model: 'capture-model', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: secretText }] }, { headers });
	const { client: cl } = await spansOf(traceId);
	const input = JSON.parse(cl.attributes['gen_ai.input.messages']);
	assert.deepEqual(input, [
		{ role: 'system', parts: [{ type: 'text', content: 'be brief' }] },
		{ role: 'user', parts: [{ type: 'text', content: 'mail [REDACTED_EMAIL], card [REDACTED_CARD], not a card 1234 5678 9012 3456, key [REDACTED_API_KEY], [SECRET]' }] },
	]);
	const output = JSON.parse(cl.attributes['gen_ai.output.messages']);
	assert.deepEqual(output, [{ role: 'assistant', parts: [{ type: 'text', content: 'Hello from the fake. Contact [REDACTED_EMAIL]' }], finish_reason: 'stop' }]);
	// The upstream still got the original text: redaction is for telemetry only.
	assert.equal(fakeA.last().body.messages[1].content, secretText);
});

test('a client that hangs up cancels the upstream call', async () => {
	const { traceId, headers } = traceHeaders();
	const n = fakeA.requests.length;
	await new Promise((resolve, reject) => {
		const req = http.request(`${gw}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json', ...headers } });
		req.on('error', () => resolve());
		req.end(JSON.stringify({ model: 'hang-model', messages: [] }));
		setTimeout(() => { req.destroy(); resolve(); }, 300);
		setTimeout(() => reject(new Error('timeout')), 5000);
	});
	const deadline = Date.now() + 3000;
	while (!(fakeA.requests.length > n && fakeA.requests[n].closedEarly) && Date.now() < deadline) await sleep(20);
	assert.ok(fakeA.requests[n].closedEarly, 'upstream connection was not closed after the client left');
	const s = await spansOf(traceId);
	assert.equal(s.client.attributes['error.type'], 'client_disconnected');
	assert.equal(s.server.attributes['http.response.status_code'], 499);

	// Mid-stream: the client reads the first chunk of a slow stream, then leaves.
	const t2 = traceHeaders();
	const n2 = fakeA.requests.length;
	await new Promise((resolve, reject) => {
		const req = http.request(`${gw}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json', ...t2.headers } }, (res) => {
			res.once('data', () => { req.destroy(); resolve(); });
		});
		req.on('error', () => {});
		req.end(JSON.stringify({ model: 'slow-model', stream: true, messages: [] }));
		setTimeout(() => reject(new Error('no first chunk')), 5000);
	});
	const deadline2 = Date.now() + 3000;
	while (!(fakeA.requests.length > n2 && fakeA.requests[n2].closedEarly) && Date.now() < deadline2) await sleep(20);
	assert.ok(fakeA.requests[n2].closedEarly, 'upstream stream was not cancelled after the client left');
	const s2 = await spansOf(t2.traceId);
	assert.equal(s2.client.attributes['error.type'], 'client_disconnected');
	assert.equal(s2.client.attributes['http.response.status_code'], 200, 'the reply had started');
});

test('streams pass through chunk by chunk; a dropped upstream stream is recorded', async () => {
	// Slow stream: the first event arrives long before the last.
	const t0 = Date.now();
	const times = [];
	await new Promise((resolve, reject) => {
		const req = http.request(`${gw}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' } }, (res) => {
			res.on('data', () => times.push(Date.now() - t0));
			res.on('end', resolve);
			res.on('error', reject);
		});
		req.end(JSON.stringify({ model: 'slow-model', stream: true, stream_options: { include_usage: true }, messages: [] }));
	});
	assert.ok(times.length >= 8, `chunks seen: ${times.length}`);
	assert.ok(times.at(-1) - times[0] > 1000, `chunks were buffered: ${times}`);

	const { traceId, headers } = traceHeaders();
	const r = await raw('/v1/chat/completions', { headers: { authorization: `Bearer ${KEY_A}`, ...headers }, body: JSON.stringify({ model: 'drop-model', stream: true, stream_options: { include_usage: true }, messages: [] }) });
	assert.equal(r.status, 200);
	assert.equal(r.text, sentBytes(fakeA.last()).toString(), 'what was read before the drop is forwarded');
	const s = await spansOf(traceId);
	assert.equal(s.client.attributes['error.type'], 'stream_interrupted');
	assert.equal(s.client.attributes['gen_ai.usage.input_tokens'], undefined, 'usage unknown, not estimated');
});

test('gateway metrics on /metrics', async () => {
	const text = await (await fetch(`${d.apiUrl}/metrics`)).text();
	const { samples } = parsePrometheus(text);
	const pt = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
	assert.equal(pt.status, 0, `promtool check metrics failed:\n${pt.stdout}${pt.stderr}`);
	const get = (name, pred) => samples.filter((s) => s.name === name && pred(s.labels)).reduce((a, s) => a + s.value, 0);
	assert.ok(get('tracelamp_gateway_requests_total', (l) => l.route === '*' && l.tenant === 'team-a' && l.status === '200') >= 5);
	assert.ok(get('tracelamp_gateway_tokens_total', (l) => l.model === 'gpt-4o-mini' && l.type === 'input') >= 150);
	assert.ok(get('tracelamp_gateway_cost_usd_total', (l) => l.model === 'gpt-4o-mini') > 0);
	assert.ok(get('tracelamp_gateway_request_duration_seconds_count', (l) => l.route === '*') >= 5);
	assert.equal(get('tracelamp_gateway_fallbacks_total', (l) => l.route === 'esc-*' && l.from === 'dead' && l.to === 'flaky'), 1);
	assert.ok(get('tracelamp_gateway_upstream_errors_total', (l) => l.upstream === 'flaky' && l.reason === '429') >= 1);
	assert.ok(get('tracelamp_gateway_refused_total', (l) => l.tenant === 'team-b' && l.reason === 'budget') >= 1);
	assert.ok(get('tracelamp_gateway_refused_total', (l) => l.reason === 'auth') >= 1);
});

test('standalone `tracelamp gateway` exports spans over OTLP/HTTP to a configured endpoint', async () => {
	const sink = await Daemon.start();
	const gdir = freshDataDir('gw-alone');
	const cfg = join(gdir, 'gw.yaml');
	writeFileSync(cfg, `
gateway:
  addr: 127.0.0.1:0
  routes:
    - match: "*"
      upstreams:
        - {name: primary, api: openai, base_url: "${fakeA.url}"}
  observability:
    traces:
      enabled: true
      endpoint: ${sink.otlpUrl}
      headers: {X-Tracelamp-Tenant: exported}
      sampling: {ratio: 1.0}
`);
	const proc = spawn(BIN, ['gateway', `--config=${cfg}`], { stdio: ['ignore', 'pipe', 'pipe'] });
	let log = '';
	proc.stderr.on('data', (b) => { log += b; });
	try {
		const deadline = Date.now() + 10000;
		let m;
		while (!(m = /listening gateway=127\.0\.0\.1:(\d+)/.exec(log))) {
			if (Date.now() > deadline) throw new Error(log);
			await sleep(20);
		}
		const { traceId, headers } = traceHeaders();
		const c = new OpenAI({ apiKey: 'none', baseURL: `http://127.0.0.1:${m[1]}/v1`, maxRetries: 0 });
		await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers });
		assert.equal(fakeA.last().headers.authorization, undefined, 'no upstream key configured: none sent');
		const deadline2 = Date.now() + 10000;
		let j;
		for (;;) {
			const r = await fetch(`${sink.apiUrl}/api/v1/traces/${traceId}`, { headers: { 'X-Tracelamp-Tenant': 'default' } });
			j = await r.json();
			if (r.status === 200 && j.spans.length === 2) break;
			if (Date.now() > deadline2) throw new Error(`not exported: ${JSON.stringify(j)}\n${log}`);
			await sleep(50);
		}
		const cl = j.spans.find((s) => s.kind === 'client');
		assert.equal(cl.attributes['gen_ai.usage.input_tokens'], 50);
		assert.equal(cl.service, 'tracelamp-gateway');
		assert.ok(cl.genai.cost_usd > 0);
	} finally {
		proc.kill('SIGTERM');
		await new Promise((r) => proc.on('exit', r));
		await sink.stop();
		await sink.dispose();
		removeDir(gdir);
	}
});
