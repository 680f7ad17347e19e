// otlp_sdk.test.mjs - end to end through the official OpenTelemetry JS exporters
// (OTLP/HTTP protobuf and JSON) and hand-built OTLP requests: what goes in comes
// back exactly from the query API (/api/v1/traces, /traces/{id}, /stats), with
// GenAI normalisation, cost, tenants, filters, pagination and error shapes.
// Each test uses its own tenant so list assertions see only its own traces.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	Daemon, req1, toOtlpJson, toOtlpProto, newTraceId, newSpanId, nowNs, chatSpan, mkSpan, sleep,
} from './lib.mjs';
import { makeSdk, child, hr, SpanKind, SpanStatusCode } from './sdk.mjs';

let d;
before(async () => { d = await Daemon.start(); });
after(async () => {
	const e = await d.stop();
	assert.deepEqual(e, { code: 0, signal: null }, `daemon exit\n${d.log.slice(-3000)}`);
	await d.dispose();
});

// Prices in USD per 1M tokens (llm-apis.md section 4).
const PRICES = {
	'gpt-4o-mini': { input: 0.15, cached: 0.075, output: 0.6 },
	'gpt-4.1': { input: 2, cached: 0.5, output: 8 },
	'claude-sonnet-4-5': { input: 3, cached: 0.3, write: 3.75, output: 15 },
};

// Expected cost in USD with the OTel token convention (input includes cache read
// and write, output includes reasoning), computed in integer nano-USD like the daemon.
function costUsd(model, { input = 0, output = 0, cacheRead = 0, cacheWrite = 0 }) {
	const p = PRICES[model];
	const micro = (usd) => Math.round((usd ?? 0) * 1e6);
	const nusd = ((input - cacheRead - cacheWrite) * micro(p.input) + cacheRead * micro(p.cached)
		+ cacheWrite * micro(p.write ?? p.input) + output * micro(p.output)) / 1000;
	return nusd / 1e9;
}

function assertCost(actual, expected, what) {
	assert.equal(typeof actual, 'number', `${what}: cost_usd is ${actual}`);
	assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: cost_usd ${actual} != ${expected}`);
}

async function postOk(body, opts) {
	const r = await d.post(body, opts);
	assert.equal(r.status, 200, `ingest -> ${r.status}: ${r.body.toString()}`);
	return r;
}

// The API may add fields; compare the ones the contract names.
const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));

const byId = (spans) => Object.fromEntries(spans.map((s) => [s.span_id, s]));

// ---- the agent trace through the SDK -------------------------------------------

// Builds invoke_agent -> chat x2, execute_tool with the SDK; returns what to expect.
async function sendAgentTrace(kind, processor, tenant) {
	const sdk = makeSdk(d, { kind, processor, tenant, resource: { 'service.version': '0.1.0' } });
	const t0 = nowNs() - 10000000000n;
	const root = sdk.tracer.startSpan('invoke_agent researcher', {
		kind: SpanKind.INTERNAL, startTime: hr(t0),
		attributes: {
			'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'researcher',
			'gen_ai.provider.name': 'openai', 'gen_ai.conversation.id': 'conv-42', 'tracelamp.run.id': 'run-7',
		},
	});
	const chat1 = child(sdk.tracer, root, 'chat gpt-4o-mini', {
		kind: SpanKind.CLIENT, startTime: hr(t0 + 1000000n),
		attributes: {
			'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
			'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
			'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300,
			'gen_ai.usage.cache_read.input_tokens': 1000, 'gen_ai.usage.reasoning.output_tokens': 100,
			'gen_ai.response.finish_reasons': ['tool_calls'], 'gen_ai.response.id': 'chatcmpl-1',
			'server.address': 'api.openai.com', 'server.port': 443,
		},
	});
	chat1.end(hr(t0 + 801000000n));
	const tool = child(sdk.tracer, root, 'execute_tool get_weather', {
		kind: SpanKind.INTERNAL, startTime: hr(t0 + 802000000n),
		attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'get_weather', 'gen_ai.tool.call.id': 'call_1' },
	});
	tool.end(hr(t0 + 852000000n));
	const chat2 = child(sdk.tracer, root, 'chat gpt-4o-mini', {
		kind: SpanKind.CLIENT, startTime: hr(t0 + 853000000n),
		attributes: {
			'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
			'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
			'gen_ai.usage.input_tokens': 500, 'gen_ai.usage.output_tokens': 50,
			'gen_ai.response.finish_reasons': ['stop'],
		},
	});
	chat2.end(hr(t0 + 1153000000n));
	root.end(hr(t0 + 1200000000n));
	const n = await sdk.flush();
	await sdk.shutdown();
	assert.equal(n, 4);
	return {
		traceId: root.spanContext().traceId, t0,
		ids: { root: root.spanContext().spanId, chat1: chat1.spanContext().spanId, tool: tool.spanContext().spanId, chat2: chat2.spanContext().spanId },
	};
}

async function assertAgentTrace(x, tenant) {
	const r = await d.trace(x.traceId, { tenant });
	assert.equal(r.status, 200, r.text);
	const body = r.json;
	assert.equal(body.trace_id, x.traceId);
	assert.equal(body.spans.length, 4);
	const s = byId(body.spans);
	const root = s[x.ids.root], c1 = s[x.ids.chat1], tool = s[x.ids.tool], c2 = s[x.ids.chat2];
	assert.ok(root && c1 && tool && c2, 'all four span ids present');

	assert.equal(root.name, 'invoke_agent researcher');
	assert.equal(root.parent_span_id, null);
	assert.equal(root.kind, 'internal');
	assert.deepEqual(root.status, { code: 'unset', message: '' });
	assert.equal(root.start_unix_nano, String(x.t0));
	assert.equal(root.end_unix_nano, String(x.t0 + 1200000000n));
	assert.equal(root.duration_ns, 1200000000);
	assert.equal(root.service, 'it-agent');
	assert.equal(root.resource['service.name'], 'it-agent');
	assert.equal(root.resource['service.version'], '0.1.0');
	assert.deepEqual(pick(root.scope, ['name', 'version']), { name: 'it-tracer', version: '1.2.3' });
	assert.equal(root.attributes['gen_ai.agent.name'], 'researcher');
	assert.equal(root.attributes['tracelamp.run.id'], 'run-7');
	assert.equal(root.genai.operation, 'invoke_agent');
	assert.equal(root.genai.agent_name, 'researcher');
	assert.equal(root.genai.conversation_id, 'conv-42');

	for (const c of [c1, tool, c2]) assert.equal(c.parent_span_id, x.ids.root);
	assert.equal(c1.name, 'chat gpt-4o-mini');
	assert.equal(c1.kind, 'client');
	assert.equal(c1.duration_ns, 800000000);
	assert.equal(c1.attributes['gen_ai.usage.input_tokens'], 1200);
	assert.equal(c1.attributes['server.port'], 443);
	assert.deepEqual(c1.attributes['gen_ai.response.finish_reasons'], ['tool_calls']);
	const g1 = c1.genai;
	assert.equal(g1.operation, 'chat');
	assert.equal(g1.provider, 'openai');
	assert.equal(g1.request_model, 'gpt-4o-mini');
	assert.equal(g1.response_model, 'gpt-4o-mini-2024-07-18');
	assert.equal(g1.input_tokens, 1200);
	assert.equal(g1.output_tokens, 300);
	assert.equal(g1.cache_read_tokens, 1000);
	assert.ok(g1.cache_write_tokens === null || g1.cache_write_tokens === 0, 'not reported: null (or 0)');
	assert.equal(g1.reasoning_tokens, 100);
	assert.deepEqual(g1.finish_reasons, ['tool_calls']);
	const cost1 = costUsd('gpt-4o-mini', { input: 1200, output: 300, cacheRead: 1000 });
	assert.ok(Math.abs(cost1 - 0.000285) < 1e-15);
	assertCost(g1.cost_usd, cost1, 'chat1');

	assert.equal(c2.genai.input_tokens, 500);
	assert.equal(c2.genai.output_tokens, 50);
	assert.deepEqual(c2.genai.finish_reasons, ['stop']);
	const cost2 = costUsd('gpt-4o-mini', { input: 500, output: 50 });
	assertCost(c2.genai.cost_usd, cost2, 'chat2');

	assert.equal(tool.kind, 'internal');
	assert.equal(tool.genai.operation, 'execute_tool');
	assert.equal(tool.genai.tool_name, 'get_weather');

	const sum = body.summary;
	assert.equal(sum.trace_id, x.traceId);
	assert.equal(sum.tenant, tenant || 'default');
	assert.equal(sum.service, 'it-agent');
	assert.equal(sum.name, 'invoke_agent researcher');
	assert.equal(sum.start_unix_nano, String(x.t0));
	assert.equal(sum.duration_ns, 1200000000);
	assert.equal(sum.span_count, 4);
	assert.equal(sum.error_count, 0);
	assert.equal(sum.llm_calls, 2);
	assert.equal(sum.tool_calls, 1);
	assert.equal(sum.input_tokens, 1700);
	assert.equal(sum.output_tokens, 350);
	assert.equal(sum.cache_read_tokens, 1000);
	assert.equal(sum.cache_write_tokens, 0);
	assert.equal(sum.reasoning_tokens, 100);
	assertCost(sum.cost_usd, cost1 + cost2, 'summary');
	// Request models, and possibly the (dated) response model as well.
	assert.ok(sum.models.includes('gpt-4o-mini'), `models ${sum.models}`);
	assert.ok(sum.models.every((m) => m === 'gpt-4o-mini' || m === 'gpt-4o-mini-2024-07-18'), `models ${sum.models}`);
	assert.equal(sum.session_id, 'conv-42');
	assert.equal(sum.run_id, 'run-7');
	assert.equal(sum.agent, 'researcher');

	// The list carries the same summary.
	const list = await d.apiOk('/api/v1/traces', { tenant });
	const item = list.traces.find((t) => t.trace_id === x.traceId);
	assert.ok(item, 'trace in the list');
	assert.deepEqual(item, sum);
}

test('SDK proto exporter + SimpleSpanProcessor: GenAI agent trace round trip', async () => {
	const x = await sendAgentTrace('proto', 'simple', 'sdk-proto');
	await assertAgentTrace(x, 'sdk-proto');
});

test('SDK JSON exporter + BatchSpanProcessor: GenAI agent trace round trip', async () => {
	const x = await sendAgentTrace('json', 'batch', 'sdk-json');
	await assertAgentTrace(x, 'sdk-json');
});

// ---- attribute types through the SDK ------------------------------------------

const TYPED = {
	s: 'héllo 世界 🚀', nul: 'a\u0000b', i: 42, neg: -7, max_safe: 9007199254740991, d: 3.25, b: true, f: false,
	sa: ['x', 'yé', ''], ia: [1, 2, 3], da: [1.5, 2.5], ba: [true, false],
};

for (const kind of ['proto', 'json']) {
	test(`SDK ${kind}: attribute types, events, links, error status survive`, async () => {
		const tenant = `types-${kind}`;
		const sdk = makeSdk(d, { kind, tenant, service: 'types-svc' });
		const t0 = nowNs() - 5000000000n;
		const linkTrace = newTraceId(), linkSpan = newSpanId();
		const span = sdk.tracer.startSpan('typed', {
			kind: SpanKind.SERVER, startTime: hr(t0), attributes: TYPED,
			links: [{ context: { traceId: linkTrace, spanId: linkSpan, traceFlags: 1 }, attributes: { lk: 'lv', ln: 5 } }],
		});
		span.addEvent('retry', { attempt: 2, reason: 'rate limited ⏳' }, hr(t0 + 1000n));
		span.addEvent('bare', {}, hr(t0 + 2000n));
		span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom 💥' });
		span.end(hr(t0 + 3000000n));
		assert.equal(await sdk.flush(), 1);
		await sdk.shutdown();

		const r = await d.trace(span.spanContext().traceId, { tenant });
		assert.equal(r.status, 200, r.text);
		const [s] = r.json.spans;
		assert.equal(r.json.spans.length, 1);
		assert.equal(s.kind, 'server');
		assert.deepEqual(s.attributes, TYPED);
		assert.deepEqual(s.status, { code: 'error', message: 'boom 💥' });
		assert.equal(s.genai, null);
		assert.deepEqual(s.events.map((e) => pick(e, ['name', 'time_unix_nano', 'attributes'])), [
			{ name: 'retry', time_unix_nano: String(t0 + 1000n), attributes: { attempt: 2, reason: 'rate limited ⏳' } },
			{ name: 'bare', time_unix_nano: String(t0 + 2000n), attributes: {} },
		]);
		assert.equal(s.links.length, 1);
		assert.equal(s.links[0].trace_id, linkTrace);
		assert.equal(s.links[0].span_id, linkSpan);
		assert.deepEqual(s.links[0].attributes, { lk: 'lv', ln: 5 });
		assert.equal(r.json.summary.error_count, 1);
		assert.equal(r.json.summary.service, 'types-svc');
		const errs = await d.apiOk('/api/v1/traces?status=error', { tenant });
		assert.deepEqual(errs.traces.map((t) => t.trace_id), [span.spanContext().traceId]);
	});
}

// ---- hand-built requests for what the SDK cannot send --------------------------

const BIG_ATTRS = [
	['big', { i: 9007199254740993n }],
	['neg_big', { i: -9007199254740993n }],
	['i64max', { i: 9223372036854775807n }],
	['small', { i: 12n }],
	['map', { kv: [['a', { s: 'x' }], ['n', { i: 1n }], ['inner', { kv: [['z', { b: true }], ['arr', { arr: [{ i: 2n }, { s: 'w' }] }]] }]] }],
	['mixed', { arr: [{ s: 'a' }, { i: 1n }, { d: 0.5 }, { b: false }] }],
	['bytes', { bytes: Buffer.from([0, 1, 2, 255]) }],
	['uni', { s: 'héllo 世界 🚀' }],
	['nul', { s: 'a\u0000b' }],
];
const BIG_EXPECT = {
	big: '9007199254740993', neg_big: '-9007199254740993', i64max: '9223372036854775807', small: 12,
	map: { a: 'x', n: 1, inner: { z: true, arr: [2, 'w'] } }, mixed: ['a', 1, 0.5, false], bytes: 'AAEC/w==',
	uni: 'héllo 世界 🚀', nul: 'a\u0000b',
};

for (const enc of ['json', 'proto']) {
	test(`hand-built OTLP/${enc}: int64 above 2^53, maps, bytes, resource attrs`, async () => {
		const tenant = `hand-${enc}`;
		const span = mkSpan({ name: 'hand', kind: 2, attributes: BIG_ATTRS });
		const req = req1([span], { service: 'hand-svc', resource: { 'deployment.environment': 'test', 'res.int': { i: 9007199254740993n } } });
		const body = enc === 'json' ? toOtlpJson(req) : toOtlpProto(req);
		await postOk(body, { contentType: enc === 'json' ? 'application/json' : 'application/x-protobuf', tenant });
		const r = await d.trace(span.traceId, { tenant });
		assert.equal(r.status, 200, r.text);
		const s = r.json.spans[0];
		assert.deepEqual(s.attributes, BIG_EXPECT);
		assert.equal(s.kind, 'server');
		assert.deepEqual(s.resource, { 'service.name': 'hand-svc', 'deployment.environment': 'test', 'res.int': '9007199254740993' });
		assert.equal(s.start_unix_nano, String(span.start));
	});
}

test('OTLP/JSON accepts an empty AnyValue and int64 given as a JSON number', async () => {
	const tenant = 'hand-empty';
	const traceId = newTraceId(), spanId = newSpanId();
	const t = nowNs();
	const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'e' } }] },
		scopeSpans: [{ scope: { name: 's' }, spans: [{ traceId, spanId, name: 'e', kind: 1, startTimeUnixNano: String(t), endTimeUnixNano: String(t + 10n),
			attributes: [{ key: 'empty', value: {} }, { key: 'num', value: { intValue: 77 } }] }] }] }] });
	await postOk(body, { contentType: 'application/json', tenant });
	const r = await d.trace(traceId, { tenant });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.spans[0].attributes.num, 77);
	assert.ok('empty' in r.json.spans[0].attributes, 'the empty value is kept');
});

// ---- normalisation of legacy and vendor names ------------------------------------

test('legacy gen_ai.system / prompt_tokens and OpenInference names are normalised', async () => {
	const tenant = 'legacy';
	const traceId = newTraceId();
	const t0 = nowNs() - 3000000000n;
	const root = mkSpan({ traceId, name: 'workflow', start: t0, end: t0 + 900000000n });
	const legacy = mkSpan({ traceId, parentSpanId: root.spanId, name: 'openai.chat', kind: 3, start: t0 + 1n, end: t0 + 100000000n,
		attributes: { 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.prompt_tokens': 100, 'gen_ai.usage.completion_tokens': 20 } });
	const oi = mkSpan({ traceId, parentSpanId: root.spanId, name: 'ChatOpenAI', kind: 1, start: t0 + 200000000n, end: t0 + 300000000n,
		attributes: { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-mini', 'llm.provider': 'openai',
			'llm.token_count.prompt': 1000, 'llm.token_count.completion': 200, 'llm.token_count.prompt_details.cache_read': 400 } });
	await postOk(toOtlpProto(req1([root, legacy, oi])), { tenant });
	const r = await d.trace(traceId, { tenant });
	assert.equal(r.status, 200, r.text);
	const s = byId(r.json.spans);
	const g = s[legacy.spanId].genai;
	assert.ok(g, 'legacy span is GenAI');
	assert.equal(g.provider, 'openai');
	assert.equal(g.request_model, 'gpt-4o-mini');
	assert.equal(g.input_tokens, 100);
	assert.equal(g.output_tokens, 20);
	assertCost(g.cost_usd, costUsd('gpt-4o-mini', { input: 100, output: 20 }), 'legacy');
	const o = s[oi.spanId].genai;
	assert.ok(o, 'OpenInference span is GenAI');
	assert.equal(o.provider, 'openai');
	assert.equal(o.request_model, 'gpt-4o-mini');
	assert.equal(o.input_tokens, 1000);
	assert.equal(o.output_tokens, 200);
	assert.equal(o.cache_read_tokens, 400);
	assertCost(o.cost_usd, costUsd('gpt-4o-mini', { input: 1000, output: 200, cacheRead: 400 }), 'openinference');
	assert.equal(s[root.spanId].genai, null);
	assert.equal(r.json.summary.llm_calls, 2);
	assert.equal(r.json.summary.input_tokens, 1100);
	assert.equal(r.json.summary.output_tokens, 220);
});

test('unknown model: cost_usd null and price_unknown true', async () => {
	const tenant = 'unknown-model';
	const traceId = newTraceId();
	const span = chatSpan(traceId, undefined, { model: 'totally-unknown-model-x', provider: 'acme', input: 100, output: 10 });
	await postOk(toOtlpProto(req1([span])), { tenant });
	const r = await d.trace(traceId, { tenant });
	assert.equal(r.status, 200, r.text);
	const g = r.json.spans[0].genai;
	assert.equal(g.request_model, 'totally-unknown-model-x');
	assert.equal(g.input_tokens, 100);
	assert.equal(g.cost_usd, null);
	assert.equal(g.price_unknown, true);
});

// ---- tenants ----------------------------------------------------------------

test('tenant header scopes ingest and queries', async () => {
	const sdk = makeSdk(d, { kind: 'proto', tenant: 'tenant-a', service: 'tenant-svc' });
	const span = sdk.tracer.startSpan('tenant-a-op');
	span.end();
	await sdk.flush();
	await sdk.shutdown();
	const id = span.spanContext().traceId;
	assert.equal((await d.trace(id, { tenant: 'tenant-a' })).status, 200);
	const other = await d.trace(id, { tenant: 'tenant-b' });
	assert.equal(other.status, 404);
	assert.equal(typeof other.json?.error?.code, 'string');
	assert.equal((await d.trace(id)).status, 404, 'not visible to the default tenant');
	const lb = await d.apiOk('/api/v1/traces', { tenant: 'tenant-b' });
	assert.ok(!lb.traces.some((t) => t.trace_id === id));
	const la = await d.apiOk('/api/v1/traces', { tenant: 'tenant-a' });
	assert.deepEqual(la.traces.map((t) => t.trace_id), [id]);
	assert.equal(la.traces[0].tenant, 'tenant-a');
	// The tenant query parameter works like the header.
	assert.equal((await d.api(`/api/v1/traces/${id}?tenant=tenant-a`)).status, 200);
});

// ---- list filters ----------------------------------------------------------------

test('list filters: model, service, provider, status, duration, session, run', async () => {
	const tenant = 'filters';
	const now = nowNs();
	const mk = ({ service, model, provider, error, durMs, session, run, ago }) => {
		const traceId = newTraceId();
		const start = now - BigInt(ago) * 1000000000n;
		const attrs = { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'a' };
		if (session) attrs['gen_ai.conversation.id'] = session;
		if (run) attrs['tracelamp.run.id'] = run;
		const root = mkSpan({ traceId, name: `invoke_agent ${service}`, start, end: start + BigInt(durMs) * 1000000n, attributes: attrs });
		if (error) root.status = { code: 2, message: 'failed' };
		const c = chatSpan(traceId, root.spanId, { model, provider, start: start + 1000000n, durMs: 10 });
		return { traceId, req: req1([root, c], { service }) };
	};
	const t1 = mk({ service: 'svc-a', model: 'gpt-4o-mini', provider: 'openai', durMs: 100, session: 's-1', run: 'r-1', ago: 30 });
	const t2 = mk({ service: 'svc-b', model: 'claude-sonnet-4-5', provider: 'anthropic', error: true, durMs: 2000, session: 's-2', run: 'r-2', ago: 20 });
	const t3 = mk({ service: 'svc-a', model: 'gpt-4.1', provider: 'openai', durMs: 500, run: 'r-1', ago: 10 });
	for (const t of [t1, t2, t3]) await postOk(toOtlpProto(t.req), { tenant });

	const ids = async (qs) => (await d.apiOk(`/api/v1/traces?${qs}`, { tenant })).traces.map((t) => t.trace_id);
	assert.deepEqual(await ids(''), [t3.traceId, t2.traceId, t1.traceId], 'newest first');
	assert.deepEqual(await ids('model=gpt-4o-mini'), [t1.traceId]);
	assert.deepEqual(await ids('model=claude-sonnet-4-5'), [t2.traceId]);
	assert.deepEqual(await ids('service=svc-a'), [t3.traceId, t1.traceId]);
	assert.deepEqual(await ids('provider=anthropic'), [t2.traceId]);
	assert.deepEqual(await ids('status=error'), [t2.traceId]);
	assert.deepEqual(await ids('status=ok'), [t3.traceId, t1.traceId]);
	assert.deepEqual(await ids('min_duration_ms=400'), [t3.traceId, t2.traceId]);
	assert.deepEqual(await ids('max_duration_ms=200'), [t1.traceId]);
	assert.deepEqual(await ids('session=s-1'), [t1.traceId]);
	assert.deepEqual(await ids('run=r-1'), [t3.traceId, t1.traceId]);
	assert.deepEqual(await ids('service=svc-a&model=gpt-4.1'), [t3.traceId]);
	assert.deepEqual(await ids('model=no-such-model'), []);
	const first = (await d.apiOk('/api/v1/traces?session=s-2', { tenant })).traces[0];
	assert.equal(first.session_id, 's-2');
	assert.equal(first.run_id, 'r-2');
	assert.equal(first.error_count, 1);
	assert.deepEqual(first.models, ['claude-sonnet-4-5']);
});

// ---- pagination -------------------------------------------------------------

test('cursor pagination over 120 traces with limit=50: no duplicates, no gaps', async () => {
	const tenant = 'paging';
	const now = nowNs() - 60000000000n;
	const all = [];
	for (let r = 0; r < 4; r++) {
		const spans = [];
		for (let i = 0; i < 30; i++) {
			const k = r * 30 + i;
			// Every three traces share a start time, so the cursor must break ties.
			const start = now - BigInt(Math.floor(k / 3)) * 1000000n;
			const s = mkSpan({ name: `page ${k}`, start, end: start + 1000n });
			spans.push(s);
			all.push(s.traceId);
		}
		await postOk(toOtlpProto(req1(spans)), { tenant });
	}
	const seen = [];
	let cursor = null;
	let pages = 0;
	let lastStart = null;
	for (;;) {
		const q = `/api/v1/traces?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
		const body = await d.apiOk(q, { tenant });
		pages++;
		assert.ok(body.traces.length <= 50);
		for (const t of body.traces) {
			const st = BigInt(t.start_unix_nano);
			if (lastStart !== null) assert.ok(st <= lastStart, 'newest first across pages');
			lastStart = st;
			seen.push(t.trace_id);
		}
		if (!body.next_cursor) break;
		cursor = body.next_cursor;
		assert.ok(pages < 10, 'pagination terminates');
	}
	assert.equal(pages, 3);
	assert.equal(seen.length, 120);
	assert.equal(new Set(seen).size, 120, 'no duplicates');
	assert.deepEqual([...seen].sort(), [...all].sort(), 'no gaps');
});

// ---- stats ----------------------------------------------------------------------

test('stats group_by=model, with and without step=1m: exact token sums', async () => {
	const tenant = 'stats';
	const MIN = 60000000000n;
	const base = (nowNs() / MIN) * MIN - 5n * MIN; // start of the minute 5 minutes ago
	const m1 = base + 10000000000n, m2 = base + 3n * MIN + 5000000000n;
	const spans = [];
	const traceId = newTraceId();
	const add = (model, provider, input, output, cacheRead, start) => {
		const s = chatSpan(traceId, undefined, { model, provider, input, output, start, durMs: 100,
			extra: cacheRead ? { 'gen_ai.usage.cache_read.input_tokens': cacheRead } : {} });
		spans.push(s);
	};
	add('gpt-4o-mini', 'openai', 1000, 100, 200, m1);
	add('gpt-4o-mini', 'openai', 2000, 300, 0, m1 + 1000000n);
	add('gpt-4o-mini', 'openai', 500, 50, 0, m2);
	add('gpt-4.1', 'openai', 4000, 400, 1000, m2 + 2000000n);
	await postOk(toOtlpProto(req1(spans, { service: 'stats-svc' })), { tenant });

	const expectTotals = {
		'gpt-4o-mini': { calls: 3, input_tokens: 3500, output_tokens: 450, cache_read_tokens: 200,
			cost: costUsd('gpt-4o-mini', { input: 1000, output: 100, cacheRead: 200 }) + costUsd('gpt-4o-mini', { input: 2000, output: 300 }) + costUsd('gpt-4o-mini', { input: 500, output: 50 }) },
		'gpt-4.1': { calls: 1, input_tokens: 4000, output_tokens: 400, cache_read_tokens: 1000, cost: costUsd('gpt-4.1', { input: 4000, output: 400, cacheRead: 1000 }) },
	};
	const start = String(base - 10n * MIN);
	// Rollups may lag the ingest acknowledgement slightly; poll for up to 10 s.
	let body;
	for (let i = 0; i < 100; i++) {
		body = await d.apiOk(`/api/v1/stats?group_by=model&start=${start}`, { tenant });
		const calls = body.series.reduce((a, s) => a + s.points.reduce((b, p) => b + p.calls, 0), 0);
		if (calls === 4) break;
		await sleep(100);
	}
	assert.equal(body.series.length, 2, JSON.stringify(body));
	for (const s of body.series) {
		const e = expectTotals[s.group.model];
		assert.ok(e, `unexpected group ${JSON.stringify(s.group)}`);
		assert.deepEqual(Object.keys(s.group), ['model']);
		assert.equal(s.points.length, 1);
		const p = s.points[0];
		assert.equal(p.calls, e.calls);
		assert.equal(p.errors, 0);
		assert.equal(p.input_tokens, e.input_tokens);
		assert.equal(p.output_tokens, e.output_tokens);
		assert.equal(p.cache_read_tokens, e.cache_read_tokens);
		assert.equal(p.cache_write_tokens, 0);
		assertCost(p.cost_usd, e.cost, `stats ${s.group.model}`);
		assert.equal(typeof p.latency_ms.p50, 'number');
		assert.equal(typeof p.latency_ms.p99, 'number');
	}

	const stepped = await d.apiOk(`/api/v1/stats?group_by=model&step=1m&start=${start}`, { tenant });
	const mini = stepped.series.find((s) => s.group.model === 'gpt-4o-mini');
	const nonEmpty = mini.points.filter((p) => p.calls > 0);
	assert.deepEqual(nonEmpty.map((p) => p.start_unix_nano), [String(base), String(base + 3n * MIN)]);
	assert.deepEqual(nonEmpty.map((p) => [p.calls, p.input_tokens, p.output_tokens]), [[2, 3000, 400], [1, 500, 50]]);
	const g41 = stepped.series.find((s) => s.group.model === 'gpt-4.1').points.filter((p) => p.calls > 0);
	assert.deepEqual(g41.map((p) => [p.start_unix_nano, p.input_tokens]), [[String(base + 3n * MIN), 4000]]);
	for (const s of stepped.series) for (const p of s.points) assert.equal(BigInt(p.start_unix_nano) % MIN, 0n);
});

// ---- API errors -----------------------------------------------------------------

test('API error shapes: unknown parameter, bad values, bad and missing trace ids', async () => {
	const expectErr = async (path, status) => {
		const r = await d.api(path);
		assert.equal(r.status, status, `${path}: ${r.text}`);
		assert.ok(r.json && r.json.error, `${path}: error body ${r.text}`);
		assert.equal(typeof r.json.error.code, 'string');
		assert.ok(r.json.error.code.length > 0);
		assert.equal(typeof r.json.error.message, 'string');
		assert.ok(r.json.error.message.length > 0);
		assert.match(r.headers.get('content-type') || '', /application\/json/);
		return r.json.error;
	};
	const e = await expectErr('/api/v1/traces?bogus=1', 400);
	assert.match(e.message, /bogus/);
	await expectErr('/api/v1/traces?limit=abc', 400);
	await expectErr('/api/v1/traces?status=maybe', 400);
	await expectErr('/api/v1/traces?min_duration_ms=-x', 400);
	await expectErr('/api/v1/traces?start=yesterday', 400);
	await expectErr('/api/v1/stats?group_by=color', 400);
	await expectErr('/api/v1/stats?step=fortnight', 400);
	await expectErr('/api/v1/traces/xyz', 400);
	await expectErr('/api/v1/traces/0123456789abcdef0123456789abcdeg', 400);
	await expectErr(`/api/v1/traces/${newTraceId()}`, 404);
	await expectErr('/api/v1/nothing-here', 404);
});
