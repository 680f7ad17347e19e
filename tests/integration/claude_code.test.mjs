// claude_code.test.mjs - the real Claude Code CLI against a fake Anthropic API
// (fake_anthropic.mjs) and a real tracelamp: its OTLP log events become a
// trace per prompt with the LLM calls, tokens, cost and tool calls
// (src/model/agents.c, docs/integrations/claude-code.md), visible through
// /api/v1/traces, /api/v1/stats and /metrics. Over http/protobuf and gRPC.
//
// The CLI is not an npm dependency of these tests (a 380 MB native binary).
// The test looks for it in $CLAUDE_CODE_BIN, node_modules/.bin/claude, then
// `claude` on PATH, and skips with a message when none is there. Install:
//   npm install --prefix /opt/cc @anthropic-ai/claude-code@2.1.330
//   CLAUDE_CODE_BIN=/opt/cc/node_modules/.bin/claude npm test

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, parsePrometheus, removeDir, sleep } from './lib.mjs';
import { startFakeAnthropic } from './fake_anthropic.mjs';

function findClaude() {
	const cands = [process.env.CLAUDE_CODE_BIN, new URL('./node_modules/.bin/claude', import.meta.url).pathname];
	for (const c of cands)
		if (c && existsSync(c)) return c;
	const w = spawnSync('sh', ['-c', 'command -v claude'], { encoding: 'utf8' });
	return w.status === 0 ? w.stdout.trim() : null;
}

const CLAUDE = findClaude();
const version = CLAUDE ? spawnSync(CLAUDE, ['--version'], { encoding: 'utf8', timeout: 20000, env: { ...process.env, HOME: tmpdir() } }) : null;
const runnable = version && version.status === 0;
const skip = runnable ? false : `Claude Code CLI not found or not runnable (set CLAUDE_CODE_BIN; see the header of this file)`;

let d, api, dir;
before(async () => {
	if (skip) return;
	d = await Daemon.start();
	api = await startFakeAnthropic();
	dir = mkdtempSync(join(tmpdir(), 'tracelamp-cc-'));
	writeFileSync(join(dir, 'note.txt'), 'hello from the file\n');
});
after(async () => {
	if (skip) return;
	await api.close();
	await d.dispose();
	removeDir(dir);
});

// Runs `claude -p` to completion; resolves its parsed JSON result.
function runClaude(prompt, env) {
	return new Promise((resolve, reject) => {
		const p = spawn(CLAUDE, ['-p', prompt, '--output-format', 'json', '--model', 'claude-sonnet-4-5'], {
			cwd: dir,
			env: {
				PATH: process.env.PATH, HOME: dir,
				ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-ant-test-dummy',
				CLAUDE_CODE_ENABLE_TELEMETRY: '1', OTEL_LOGS_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'otlp',
				OTEL_LOGS_EXPORT_INTERVAL: '500', OTEL_METRIC_EXPORT_INTERVAL: '1000',
				DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
				...env,
			},
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let out = '', err = '';
		p.stdout.on('data', (b) => { out += b; });
		p.stderr.on('data', (b) => { err += b; });
		const t = setTimeout(() => p.kill('SIGKILL'), 60000);
		p.on('exit', (code) => {
			clearTimeout(t);
			if (code !== 0) return reject(new Error(`claude exited ${code}: ${err}${out}`));
			try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`claude output not JSON: ${out}`)); }
		});
	});
}

// The trace of a session, once it holds n LLM calls (events arrive in batches).
async function traceOfSession(session, n) {
	const deadline = Date.now() + 20000;
	for (;;) {
		const list = await d.apiOk(`/api/v1/traces?session=${encodeURIComponent(session)}`);
		const t = list.traces.find((x) => x.llm_calls >= n);
		if (t) return t;
		if (Date.now() > deadline) throw new Error(`no trace with ${n} LLM calls for session ${session}: ${JSON.stringify(list)}`);
		await sleep(200);
	}
}

// Keeps the run away from a minute boundary, so the metric points and the
// spans of the run share their minute (the stats dedup is per minute).
async function awayFromMinuteEdge() {
	const s = (Date.now() / 1000) % 60;
	if (s > 45) await sleep((61 - s) * 1000);
}

const close = (a, b) => Math.abs(a - b) < 1e-9;

test('claude -p over http/protobuf: trace, tool call, stats and /metrics', { skip, timeout: 90000 }, async () => {
	await awayFromMinuteEdge();
	const res = await runClaude(`Please READ:${join(dir, 'note.txt')}`, {
		OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: d.otlpUrl,
	});
	assert.equal(res.result, 'The file says hello.');
	assert.equal(api.messages().length >= 2, true);
	const t = await traceOfSession(res.session_id, 2);
	// two model requests (the tool_use turn and the answer), one Read
	assert.equal(t.name, 'invoke_agent claude-code');
	assert.equal(t.service, 'claude-code');
	assert.equal(t.llm_calls, 2);
	assert.equal(t.tool_calls, 1);
	assert.equal(t.error_count, 0);
	// 25 input + 300 cache read + 100 cache write per call; OTel input includes cache
	assert.equal(t.input_tokens, 850);
	assert.equal(t.output_tokens, 30);
	assert.equal(t.cache_read_tokens, 600);
	assert.equal(t.cache_write_tokens, 200);
	// Claude Code's own cost (its total_cost_usd), not the price table's
	assert.ok(close(t.cost_usd, res.total_cost_usd), `${t.cost_usd} vs ${res.total_cost_usd}`);

	const full = await d.apiOk(`/api/v1/traces/${t.trace_id}`);
	const root = full.spans.find((s) => s.parent_span_id === null);
	assert.equal(root.name, 'invoke_agent claude-code');
	const chats = full.spans.filter((s) => s.name === 'chat claude-sonnet-4-5');
	assert.equal(chats.length, 2);
	for (const c of chats) {
		assert.equal(c.kind, 'client');
		assert.equal(c.parent_span_id, root.span_id);
		assert.equal(c.genai.provider, 'anthropic');
		assert.equal(c.genai.cost_from_span, true);
		assert.ok(c.duration_ns > 0);
	}
	const tool = full.spans.find((s) => s.name === 'execute_tool Read');
	assert.ok(tool, `spans: ${full.spans.map((s) => s.name)}`);
	assert.equal(tool.parent_span_id, root.span_id);
	assert.equal(tool.status.code, 'unset');

	const stats = await d.apiOk('/api/v1/stats?service=claude-code&group_by=model');
	const ser = stats.series.find((s) => s.group.model === 'claude-sonnet-4-5');
	assert.ok(ser, JSON.stringify(stats));
	const p = ser.points.reduce((a, x) => ({ calls: a.calls + x.calls, input: a.input + x.input_tokens, cost: a.cost + x.cost_usd }), { calls: 0, input: 0, cost: 0 });
	assert.equal(p.calls, 2);
	assert.equal(p.input, 850);
	assert.ok(close(p.cost, res.total_cost_usd));

	// the CLI's own counters on /metrics (delta points summed)
	const deadline = Date.now() + 15000;
	let samples = [];
	for (;;) {
		({ samples } = parsePrometheus(await d.metricsText()));
		if (samples.some((s) => s.name === 'claude_code_token_usage_tokens_total') || Date.now() > deadline) break;
		await sleep(200);
	}
	const mine = (s) => s.labels.session_id === res.session_id;
	const tok = (type) => samples.filter((s) => s.name === 'claude_code_token_usage_tokens_total' && mine(s) && s.labels.type === type).reduce((a, s) => a + s.value, 0);
	assert.equal(tok('input'), 50);
	assert.equal(tok('cacheRead'), 600);
	assert.equal(tok('cacheCreation'), 200);
	assert.equal(tok('output'), 30);
	const cost = samples.find((s) => s.name === 'claude_code_cost_usage_USD_total' && mine(s));
	assert.ok(cost && close(cost.value, res.total_cost_usd));
	assert.ok(samples.some((s) => s.name === 'claude_code_session_count_total' && mine(s) && s.value === 1));
});

test('claude -p over gRPC: the same trace', { skip, timeout: 90000 }, async () => {
	if (!d.grpcUrl) return;
	const res = await runClaude('hi', {
		OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: d.grpcUrl, OTEL_METRICS_EXPORTER: 'none',
	});
	assert.equal(res.result, 'hello');
	const t = await traceOfSession(res.session_id, 1);
	assert.equal(t.name, 'invoke_agent claude-code');
	assert.equal(t.llm_calls, 1);
	assert.equal(t.input_tokens, 425);
	assert.ok(close(t.cost_usd, res.total_cost_usd));
});
