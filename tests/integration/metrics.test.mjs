// metrics.test.mjs - /metrics after real traffic: the Prometheus text parses line
// by line, every family has HELP and TYPE, and the LLM and receiver counters match
// what was sent.

import { test, before, after } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { Daemon, parsePrometheus, familyOf, req1, toOtlpProto, chatSpan, mkSpan, newTraceId } from './lib.mjs';

let d;
before(async () => { d = await Daemon.start(); });
after(async () => {
	const e = await d.stop();
	assert.deepEqual(e, { code: 0, signal: null });
	await d.dispose();
});

const sumOf = (samples, name, pred = () => true) => samples.filter((s) => s.name === name && pred(s.labels)).reduce((a, s) => a + s.value, 0);
const hasValue = (labels, v) => Object.values(labels).includes(v);

test('metrics text parses and every family has HELP and TYPE', async () => {
	const text = await d.metricsText();
	const { samples, help, type } = parsePrometheus(text);
	assert.ok(samples.length > 0);
	for (const s of samples) {
		const fam = familyOf(s.name, type);
		assert.ok(type.has(fam), `TYPE for ${s.name}`);
		assert.ok(help.has(fam), `HELP for ${s.name}`);
	}
	// The reference checker of the format (Debian's prometheus package): it exits
	// non-zero on syntax errors and on lint problems (naming, units, HELP).
	const pt = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
	assert.equal(pt.error, undefined, 'promtool must be installed (scripts/install-deps.sh)');
	assert.equal(pt.status, 0, `promtool check metrics failed:\n${pt.stdout}${pt.stderr}`);
	const rss = samples.find((s) => s.name === 'process_resident_memory_bytes');
	assert.ok(rss && rss.value > 1e6 && rss.value < 4e9, `process_resident_memory_bytes ${rss?.value}`);
});

test('GenAI spans show up in token usage and accepted counters; bad requests in refused', async () => {
	const traceId = newTraceId();
	const root = mkSpan({ traceId, name: 'invoke_agent m', attributes: { 'gen_ai.operation.name': 'invoke_agent' } });
	const spans = [root,
		chatSpan(traceId, root.spanId, { model: 'gpt-4o-mini', input: 1200, output: 300 }),
		chatSpan(traceId, root.spanId, { model: 'gpt-4o-mini', input: 800, output: 100 }),
		chatSpan(traceId, root.spanId, { model: 'claude-sonnet-4-5', provider: 'anthropic', input: 50, output: 5 })];
	const r = await d.post(toOtlpProto(req1(spans)));
	assert.equal(r.status, 200);
	const r2 = await d.post(toOtlpProto(req1([mkSpan(), mkSpan()])));
	assert.equal(r2.status, 200);

	let { samples, type } = parsePrometheus(await d.metricsText());
	assert.equal(sumOf(samples, 'tracelamp_receiver_spans_accepted_total'), 6);
	assert.equal(type.get(familyOf('tracelamp_receiver_spans_accepted_total', type)), 'counter');
	assert.equal(type.get('gen_ai_client_token_usage'), 'histogram');
	const buckets = samples.filter((s) => s.name === 'gen_ai_client_token_usage_bucket' && hasValue(s.labels, 'gpt-4o-mini'));
	assert.ok(buckets.length > 0, 'token usage buckets with the model label');
	assert.ok(buckets.every((b) => 'le' in b.labels));
	const isInput = (l) => hasValue(l, 'gpt-4o-mini') && hasValue(l, 'input');
	const isOutput = (l) => hasValue(l, 'gpt-4o-mini') && hasValue(l, 'output');
	assert.equal(sumOf(samples, 'gen_ai_client_token_usage_sum', isInput), 2000);
	assert.equal(sumOf(samples, 'gen_ai_client_token_usage_sum', isOutput), 400);
	assert.equal(sumOf(samples, 'gen_ai_client_token_usage_count', isInput), 2);
	// The +Inf bucket equals the count.
	const inf = samples.filter((s) => s.name === 'gen_ai_client_token_usage_bucket' && isInput(s.labels) && s.labels.le === '+Inf');
	assert.equal(inf.reduce((a, s) => a + s.value, 0), 2);
	assert.equal(sumOf(samples, 'gen_ai_client_token_usage_sum', (l) => hasValue(l, 'claude-sonnet-4-5') && hasValue(l, 'input')), 50);

	// A malformed request (decodable spans, one with a bad id) and a garbage body.
	const bad = mkSpan();
	const badBody = toOtlpProto(req1([mkSpan(), { ...bad, spanId: Buffer.alloc(8, 0) }]));
	assert.equal((await d.post(badBody)).status, 400);
	assert.equal((await d.post(Buffer.from('garbage!'))).status, 400);
	({ samples } = parsePrometheus(await d.metricsText()));
	assert.equal(sumOf(samples, 'tracelamp_receiver_spans_accepted_total'), 6, 'accepted unchanged');
	// Refused requests are counted by response code; the refused-spans counter
	// has its reasons, but an undecodable request has no span count to add.
	assert.equal(sumOf(samples, 'tracelamp_receiver_requests_total', (l) => hasValue(l, '400')), 2);
	assert.equal(sumOf(samples, 'tracelamp_receiver_requests_total', (l) => hasValue(l, '200')), 2);
	const refused = samples.filter((s) => s.name === 'tracelamp_receiver_spans_refused_total');
	for (const reason of ['malformed', 'too_large', 'busy']) {
		assert.ok(refused.some((s) => s.labels.reason === reason), `spans_refused_total{reason="${reason}"} present`);
	}
});
