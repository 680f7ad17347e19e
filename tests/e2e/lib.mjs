// lib.mjs - helpers for the browser end-to-end tests: start the real tracelamp daemon
// on ephemeral loopback ports with a temp data dir, send demo agent runs to it over
// OTLP/HTTP (JSON built by hand), and (only while the daemon does not embed the UI
// yet) a small dev server that serves web/ and forwards /api/ to the daemon.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, normalize } from 'node:path';
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = process.env.TRACELAMP_BIN || join(ROOT, 'build/tracelamp');
export const WEB = join(ROOT, 'web');
const LISTEN_RE = /listening otlp_http=([0-9.]+):(\d+) http=([0-9.]+):(\d+)/;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- daemon

export async function startDaemon() {
	const dataDir = mkdtempSync(join(tmpdir(), 'tracelamp-e2e-'));
	const proc = spawn(BIN, ['serve', '--server.http_addr=127.0.0.1:0', '--server.otlp_http_addr=127.0.0.1:0', '--server.otlp_grpc_addr=127.0.0.1:0'], {
		// The daemon rejects unknown TRACELAMP_* variables: pass none of the test's own.
		env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRACELAMP_'))), TRACELAMP_DATA_DIR: dataDir },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const d = { proc, dataDir, log: '', exit: null };
	d.exited = new Promise((resolve) => proc.on('exit', (code, signal) => { d.exit = { code, signal }; resolve(d.exit); }));
	const onData = (b) => { d.log += b.toString(); if (d.log.length > 100000) d.log = d.log.slice(-50000); };
	proc.stdout.on('data', onData);
	proc.stderr.on('data', onData);
	const deadline = Date.now() + 15000;
	let m;
	while (!(m = LISTEN_RE.exec(d.log))) {
		if (d.exit) throw new Error(`tracelamp exited early: ${JSON.stringify(d.exit)}\n${d.log}`);
		if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`no listening line:\n${d.log}`); }
		await sleep(20);
	}
	d.otlpUrl = `http://127.0.0.1:${m[2]}`;
	d.apiUrl = `http://127.0.0.1:${m[4]}`;
	for (;;) {
		try { const r = await fetch(`${d.apiUrl}/readyz`); await r.arrayBuffer(); if (r.ok) break; } catch { /* not yet */ }
		if (d.exit || Date.now() > deadline) throw new Error(`not ready:\n${d.log}`);
		await sleep(20);
	}
	d.stop = async () => {
		if (!d.exit) {
			proc.kill('SIGTERM');
			const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
			await d.exited;
			clearTimeout(t);
		}
		rmSync(dataDir, { recursive: true, force: true });
	};
	return d;
}

// Does the daemon itself serve the embedded UI at "/"?
export async function daemonServesUi(apiUrl) {
	try {
		const r = await fetch(`${apiUrl}/`);
		const t = await r.text();
		return r.ok && /text\/html/.test(r.headers.get('content-type') || '') && t.includes('tracelamp');
	} catch { return false; }
}

// ---- dev server (fallback until the daemon embeds the UI)

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

export function startDevServer(apiUrl) {
	const srv = http.createServer(async (req, res) => {
		const url = new URL(req.url, 'http://x');
		const p = url.pathname;
		if (p.startsWith('/api/') || p === '/healthz' || p === '/readyz' || p === '/metrics') {
			try {
				const r = await fetch(`${apiUrl}${req.url}`, { headers: { 'X-Tracelamp-Tenant': req.headers['x-tracelamp-tenant'] || 'default' } });
				const body = Buffer.from(await r.arrayBuffer());
				res.writeHead(r.status, { 'Content-Type': r.headers.get('content-type') || 'application/json' });
				res.end(body);
			} catch (e) { res.writeHead(502); res.end(String(e)); }
			return;
		}
		let file;
		const m = /^\/assets\/[^/]+\/(.+)$/.exec(p);
		if (m) {
			const rel = normalize(m[1]);
			if (rel.startsWith('..')) { res.writeHead(400); res.end(); return; }
			file = rel.startsWith('vendor/') ? join(WEB, 'node_modules/uplot/dist', rel.slice(7)) : join(WEB, rel);
			if (!existsSync(file)) { res.writeHead(404); res.end('not found'); return; }
			res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
			res.end(readFileSync(file));
			return;
		}
		const html = readFileSync(join(WEB, 'index.html'), 'utf8').replaceAll('__BUILD__', 'dev');
		res.writeHead(200, { 'Content-Type': TYPES['.html'], 'Cache-Control': 'no-cache' });
		res.end(html);
	});
	return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
		resolve({ url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) });
	}));
}

// ---- OTLP/JSON

export const hex = (n) => randomBytes(n).toString('hex');

export function anyValue(v) {
	if (typeof v === 'string') return { stringValue: v };
	if (typeof v === 'boolean') return { boolValue: v };
	if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
	if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
	if (v && typeof v === 'object') return { kvlistValue: { values: Object.entries(v).map(([key, x]) => ({ key, value: anyValue(x) })) } };
	return {};
}

const attrs = (o) => Object.entries(o || {}).map(([key, value]) => ({ key, value: anyValue(value) }));

// span: {traceId, spanId, parentSpanId?, name, kind?, start (ms), end (ms), attributes?, error?: message, events?}
function otlpSpan(s) {
	const ns = (ms) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();
	return {
		traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || '', name: s.name, kind: s.kind ?? 1,
		startTimeUnixNano: ns(s.start), endTimeUnixNano: ns(s.end), attributes: attrs(s.attributes),
		events: (s.events || []).map((e) => ({ name: e.name, timeUnixNano: ns(e.time), attributes: attrs(e.attributes) })),
		status: s.error ? { code: 2, message: s.error } : { code: 0 },
	};
}

export async function sendSpans(otlpUrl, service, spans) {
	const body = {
		resourceSpans: [{
			resource: { attributes: attrs({ 'service.name': service, 'telemetry.sdk.language': 'nodejs' }) },
			scopeSpans: [{ scope: { name: 'tracelamp-e2e', version: '1.0.0' }, spans: spans.map(otlpSpan) }],
		}],
	};
	const r = await fetch(`${otlpUrl}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
	const text = await r.text();
	if (r.status !== 200) throw new Error(`OTLP POST -> ${r.status}: ${text}`);
}

// One agent run: root invoke_agent span, then chat and tool spans one after another.
// opts: {agent, model, provider, session, run, start (ms), steps: [{type:'chat'|'tool', ms, ...}], error}
export function agentRun(opts) {
	const traceId = hex(16);
	const rootId = hex(8);
	const spans = [];
	let t = opts.start + 5;
	for (const st of opts.steps) {
		const id = hex(8);
		if (st.type === 'chat') {
			spans.push({
				traceId, spanId: id, parentSpanId: rootId, name: `chat ${opts.model}`, kind: 3, start: t, end: t + st.ms,
				attributes: {
					'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': opts.provider, 'gen_ai.request.model': opts.model,
					'gen_ai.response.model': opts.model, 'gen_ai.usage.input_tokens': st.input ?? 1200, 'gen_ai.usage.output_tokens': st.output ?? 150,
					'gen_ai.usage.cache_read.input_tokens': st.cacheRead ?? 400, 'gen_ai.usage.reasoning.output_tokens': st.reasoning ?? 20,
					'gen_ai.response.finish_reasons': [st.finish || 'stop'], 'gen_ai.conversation.id': opts.session,
					...(st.attributes || {}),
				},
				error: st.error,
			});
		} else {
			spans.push({
				traceId, spanId: id, parentSpanId: rootId, name: `execute_tool ${st.tool}`, kind: 1, start: t, end: t + st.ms,
				attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': st.tool, 'gen_ai.tool.call.id': `call_${hex(6)}`, ...(st.attributes || {}), ...(st.error ? { 'error.type': 'timeout' } : {}) },
				error: st.error,
			});
		}
		t += st.ms + 5;
	}
	spans.unshift({
		traceId, spanId: rootId, name: `invoke_agent ${opts.agent}`, kind: 1, start: opts.start, end: t + 5,
		attributes: {
			'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': opts.agent, 'gen_ai.provider.name': opts.provider,
			'gen_ai.request.model': opts.model, 'gen_ai.conversation.id': opts.session, 'tracelamp.run.id': opts.run,
		},
		error: opts.error,
	});
	return { traceId, spans };
}

// The demo data set used by the tests. Returns ids of the notable runs.
export async function sendDemoData(otlpUrl) {
	const now = Date.now();
	const ids = { healthy: [], claude: [] };
	const sessions = ['sess-alpha', 'sess-beta', 'sess-gamma'];
	const runs = [];
	// 12 healthy support runs on gpt-4o-mini, ~3 s each.
	for (let i = 0; i < 12; i++) {
		const r = agentRun({
			agent: 'support', model: 'gpt-4o-mini', provider: 'openai', session: sessions[i % 3], run: `run-support-${i}`,
			start: now - 300000 + i * 15000,
			steps: [{ type: 'chat', ms: 900 + (i % 4) * 60 }, { type: 'tool', tool: 'lookup_order', ms: 250 }, { type: 'chat', ms: 1300 + (i % 3) * 40 }],
		});
		ids.healthy.push(r.traceId);
		runs.push(['support-bot', r]);
	}
	// 3 research runs on claude-sonnet-4-5.
	for (let i = 0; i < 3; i++) {
		const r = agentRun({
			agent: 'researcher', model: 'claude-sonnet-4-5', provider: 'anthropic', session: 'sess-research', run: `run-research-${i}`,
			start: now - 240000 + i * 20000,
			steps: [{ type: 'chat', ms: 2100, input: 8000, output: 900, cacheRead: 6000, reasoning: 300 }, { type: 'tool', tool: 'web_search', ms: 800 }, { type: 'chat', ms: 1800, input: 9500, output: 700 }],
		});
		ids.claude.push(r.traceId);
		runs.push(['research-bot', r]);
	}
	// A failing run: the payment tool times out and the agent gives up.
	const fail = agentRun({
		agent: 'support', model: 'gpt-4o-mini', provider: 'openai', session: 'sess-alpha', run: 'run-support-fail',
		start: now - 90000, error: 'agent gave up after tool failure',
		steps: [{ type: 'chat', ms: 950 }, { type: 'tool', tool: 'refund_payment', ms: 5000, error: 'payment API timed out' }, { type: 'chat', ms: 700 }],
	});
	ids.fail = fail.traceId;
	runs.push(['support-bot', fail]);
	// A slow run: same agent, ten times the usual duration.
	const slow = agentRun({
		agent: 'support', model: 'gpt-4o-mini', provider: 'openai', session: 'sess-beta', run: 'run-support-slow',
		start: now - 120000,
		steps: [{ type: 'chat', ms: 9000 }, { type: 'tool', tool: 'lookup_order', ms: 14000 }, { type: 'chat', ms: 8000 }],
	});
	ids.slow = slow.traceId;
	runs.push(['support-bot', slow]);
	// A run with a full chat transcript: structured gen_ai.input.messages (OTLP arrays
	// and maps), gen_ai.output.messages as a JSON string, and a legacy indexed span.
	const input = [
		{ role: 'system', parts: [{ type: 'text', content: 'You are a weather assistant. Answer briefly.' }] },
		{ role: 'user', parts: [{ type: 'text', content: "What's the weather in Paris?" }] },
		{ role: 'assistant', parts: [{ type: 'tool_call', id: 'call_w1', name: 'get_weather', arguments: { location: 'Paris' } }] },
		{ role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_w1', response: 'rainy, 14°C' }] },
	];
	const output = JSON.stringify([{ role: 'assistant', finish_reason: 'stop', parts: [{ type: 'text', content: 'It is rainy in Paris right now, about 14°C. Take an umbrella.' }] }]);
	const chat = agentRun({
		agent: 'weather', model: 'gpt-4o', provider: 'openai', session: 'sess-weather', run: 'run-weather-1',
		start: now - 60000,
		steps: [
			{ type: 'chat', ms: 700, attributes: { 'gen_ai.prompt.0.role': 'user', 'gen_ai.prompt.0.content': "What's the weather in Paris?", 'gen_ai.completion.0.role': 'assistant', 'gen_ai.completion.0.tool_calls.0.name': 'get_weather', 'gen_ai.completion.0.tool_calls.0.arguments': '{"location":"Paris"}', 'gen_ai.completion.0.finish_reason': 'tool_calls' } },
			{ type: 'tool', tool: 'get_weather', ms: 300, attributes: { 'gen_ai.tool.call.arguments': '{"location":"Paris"}', 'gen_ai.tool.call.result': 'rainy, 14°C' } },
			{ type: 'chat', ms: 1100, attributes: { 'gen_ai.input.messages': input, 'gen_ai.output.messages': output } },
		],
	});
	ids.chat = chat.traceId;
	runs.push(['weather-bot', chat]);
	for (const [svc, r] of runs) await sendSpans(otlpUrl, svc, r.spans);
	ids.total = runs.length;
	return ids;
}

// One trace of n spans: a root, n/100 children, each with up to 99 grandchildren.
export async function sendBigTrace(otlpUrl, n = 5000) {
	const traceId = hex(16);
	const t0 = Date.now() - 30000;
	const root = { traceId, spanId: hex(8), name: 'invoke_agent bulk', start: t0, end: t0 + 20000, attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'bulk' } };
	const spans = [root];
	let parent = null;
	for (let i = 1; i < n; i++) {
		if (i % 100 === 1) {
			const k = Math.floor(i / 100);
			parent = { traceId, spanId: hex(8), parentSpanId: root.spanId, name: `step ${k}`, start: t0 + k * 390, end: t0 + k * 390 + 380 };
			spans.push(parent);
		} else {
			const j = i % 100;
			spans.push({ traceId, spanId: hex(8), parentSpanId: parent.spanId, name: `work ${i}`, start: parent.start + j * 3, end: parent.start + j * 3 + 2, error: i === 2777 ? 'boom' : undefined });
		}
	}
	for (let i = 0; i < spans.length; i += 1000) await sendSpans(otlpUrl, 'bulk-svc', spans.slice(i, i + 1000));
	return traceId;
}
