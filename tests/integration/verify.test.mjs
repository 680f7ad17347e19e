// verify.test.mjs - `tracelamp verify` (the deploy gate) and `tracelamp check`
// (trace integrity through GET /api/v1/integrity) against the real daemon, plus
// small fakes: a query API that answers 404 to everything (timeout case), a
// Tempo-style API (/api/traces/{id} with base64 ids) in front of the daemon, and
// an OTLP/gRPC server (node:http2, cleartext HTTP/2) that unframes the messages,
// forwards traces to the daemon and checks the token-usage metrics payload.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import { BIN, Daemon, req1, toOtlpProto, newTraceId, newSpanId, nowNs } from './lib.mjs';

let d;
before(async () => { d = await Daemon.start(); });
after(async () => {
	const e = await d.stop();
	assert.deepEqual(e, { code: 0, signal: null }, `daemon exit\n${d.log.slice(-3000)}`);
	await d.dispose();
});

// Runs the binary without blocking the event loop (the fakes live in this process).
function run(args, timeoutMs = 30000) {
	return new Promise((resolve) => {
		const p = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '', stderr = '';
		p.stdout.on('data', (b) => { stdout += b; });
		p.stderr.on('data', (b) => { stderr += b; });
		const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
		p.on('exit', (status, signal) => { clearTimeout(t); resolve({ status, signal, stdout, stderr }); });
	});
}

function listen(server) {
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

const closeServer = (s) => new Promise((r) => s.close(() => r()));

// ---- a minimal protobuf reader for asserting the metrics payload ----------------

function readVarint(buf, pos) {
	let x = 0n, shift = 0n;
	for (;;) {
		const b = buf[pos++];
		x |= BigInt(b & 0x7f) << shift;
		if (!(b & 0x80)) return [x, pos];
		shift += 7n;
	}
}

// Returns [{num, wire, v}] where v is a BigInt (varint/fixed) or a Buffer (LEN).
function pbFields(buf) {
	const out = [];
	let pos = 0;
	while (pos < buf.length) {
		let key;
		[key, pos] = readVarint(buf, pos);
		const num = Number(key >> 3n), wire = Number(key & 7n);
		if (wire === 0) { let v; [v, pos] = readVarint(buf, pos); out.push({ num, wire, v }); }
		else if (wire === 1) { out.push({ num, wire, v: buf.readBigUInt64LE(pos), raw: buf.subarray(pos, pos + 8) }); pos += 8; }
		else if (wire === 2) { let n; [n, pos] = readVarint(buf, pos); out.push({ num, wire, v: buf.subarray(pos, pos + Number(n)) }); pos += Number(n); }
		else if (wire === 5) { out.push({ num, wire, v: BigInt(buf.readUInt32LE(pos)) }); pos += 4; }
		else throw new Error(`wire type ${wire}`);
	}
	return out;
}
const one = (fs, n) => fs.find((f) => f.num === n);
const all = (fs, n) => fs.filter((f) => f.num === n);
const str = (f) => f.v.toString('utf8');
function kvs(fs, n) {
	const o = {};
	for (const f of all(fs, n)) {
		const kv = pbFields(f.v);
		const val = pbFields(one(kv, 2).v);
		o[str(one(kv, 1))] = str(one(val, 1));
	}
	return o;
}

// Decodes an ExportMetricsServiceRequest down to the token-usage points.
function decodeTokenUsage(body) {
	const rm = pbFields(one(pbFields(body), 1).v);
	const resource = kvs(pbFields(one(rm, 1).v), 1);
	const sm = pbFields(one(rm, 2).v);
	const scope = str(one(pbFields(one(sm, 1).v), 1));
	const metric = pbFields(one(sm, 2).v);
	const hist = pbFields(one(metric, 9).v);
	const points = all(hist, 1).map((p) => {
		const f = pbFields(p.v);
		const counts = one(f, 6).v, bounds = one(f, 7).v;
		return {
			attrs: kvs(f, 9),
			count: one(f, 4).v,
			sum: one(f, 5).raw.readDoubleLE(0),
			buckets: Array.from({ length: counts.length / 8 }, (_, i) => counts.readBigUInt64LE(i * 8)),
			bounds: Array.from({ length: bounds.length / 8 }, (_, i) => bounds.readDoubleLE(i * 8)),
			min: one(f, 11).raw.readDoubleLE(0),
			max: one(f, 12).raw.readDoubleLE(0),
		};
	});
	return {
		resource, scope, name: str(one(metric, 1)), unit: str(one(metric, 3)),
		temporality: Number(one(hist, 2).v), points,
	};
}

// ---- verify over OTLP/HTTP -------------------------------------------------------

test('verify: sends a GenAI trace, prints its id first, polls until complete (exit 0)', async () => {
	const r = await run(['verify', `--endpoint=${d.otlpUrl}`, `--api=${d.apiUrl}`, '--timeout=10s', '--tenant=verify-ok']);
	assert.equal(r.status, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
	const lines = r.stdout.trim().split('\n');
	assert.match(lines[0], /^[0-9a-f]{32}$/);
	const id = lines[0];
	assert.match(lines[lines.length - 1], new RegExp(`^verify: OK trace ${id} complete: 2 spans`));
	// the daemon's /v1/metrics accepts the token-usage histogram
	assert.match(r.stderr, /metrics: accepted \(HTTP 200/);
	// the trace really is there, in the tenant asked for, with the right shape
	const t = await d.apiOk(`/api/v1/traces/${id}`, { tenant: 'verify-ok' });
	assert.equal(t.spans.length, 2);
	const root = t.spans.find((s) => s.parent_span_id === null);
	const chat = t.spans.find((s) => s.parent_span_id !== null);
	assert.equal(root.genai.operation, 'invoke_agent');
	assert.equal(chat.parent_span_id, root.span_id);
	assert.equal(chat.genai.operation, 'chat');
	assert.equal(chat.genai.input_tokens, 1234);
	assert.equal(chat.genai.output_tokens, 56);
	assert.equal(t.summary.llm_calls, 1);
	assert.equal((await d.trace(id)).status, 404, 'not visible in the default tenant');
});

test('verify: --require-metrics passes against the daemon\'s /v1/metrics (exit 0)', async () => {
	const r = await run(['verify', `--endpoint=${d.otlpUrl}`, `--api=${d.apiUrl}`, '--timeout=5s', '--require-metrics']);
	assert.equal(r.status, 0, r.stdout + r.stderr);
	assert.match(r.stdout.split('\n')[0], /^[0-9a-f]{32}$/);
	assert.match(r.stderr, /metrics: accepted \(HTTP 200/);
});

test('verify: --require-metrics fails on a 404 of /v1/metrics (exit 1)', async () => {
	// An OTLP endpoint without a metrics receiver: traces go to the daemon, /v1/metrics is 404.
	const fake = http.createServer(async (req, res) => {
		const chunks = [];
		for await (const c of req) chunks.push(c);
		if (req.url === '/v1/traces') {
			const r = await d.post(Buffer.concat(chunks), { tenant: req.headers['x-tracelamp-tenant'] });
			res.writeHead(r.status, { 'Content-Type': 'application/x-protobuf' });
			res.end(r.body);
			return;
		}
		res.writeHead(404, { 'Content-Type': 'text/plain' });
		res.end('404 page not found\n');
	});
	const port = await listen(fake);
	try {
		const r = await run(['verify', `--endpoint=http://127.0.0.1:${port}`, `--api=${d.apiUrl}`, '--timeout=5s', '--require-metrics']);
		assert.equal(r.status, 1, r.stdout + r.stderr);
		assert.match(r.stdout.split('\n')[0], /^[0-9a-f]{32}$/);
		assert.match(r.stdout, /verify: FAIL metrics not accepted: .*HTTP 404/);
	} finally { await closeServer(fake); }
});

test('verify: an API that answers 404 to everything times out (exit 1)', async () => {
	let hits = 0;
	const fake = http.createServer((req, res) => { hits++; res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('404 page not found\n'); });
	const port = await listen(fake);
	try {
		const t0 = Date.now();
		const r = await run(['verify', `--endpoint=${d.otlpUrl}`, `--api=http://127.0.0.1:${port}`, '--timeout=1500ms', '--interval=100ms']);
		const took = Date.now() - t0;
		assert.equal(r.status, 1, r.stdout + r.stderr);
		assert.match(r.stdout, /verify: FAIL trace [0-9a-f]{32} not complete after 1\.5s; last: .*\/api\/traces\/[0-9a-f]{32}: HTTP 404/);
		assert.ok(took >= 1400 && took < 10000, `took ${took} ms`);
		assert.ok(hits >= 3, `polled ${hits} times`);
	} finally { await closeServer(fake); }
});

test('verify: nothing listening on the endpoint fails at once (exit 1)', async () => {
	const fake = http.createServer();
	const port = await listen(fake);
	await closeServer(fake); // a port that was just free
	const r = await run(['verify', `--endpoint=http://127.0.0.1:${port}`, `--api=${d.apiUrl}`, '--timeout=5s']);
	assert.equal(r.status, 1);
	assert.match(r.stdout, /verify: FAIL trace [0-9a-f]{32} not sent: traces: .*(refused|connect)/i);
});

test('verify: usage errors exit 2', async () => {
	for (const args of [['--protocol=http/json'], ['--timeout=soon'], ['--bogus'], ['--api-mode=jaeger'], ['--endpoint=127.0.0.1:4318']]) {
		const r = await run(['verify', ...args]);
		assert.equal(r.status, 2, `${args}: ${r.stderr}`);
		assert.equal(r.stdout, '');
	}
});

// ---- Tempo-style API fallback -------------------------------------------------------

// A Tempo-like query API in front of the daemon: /api/v1/* is an unknown path
// (plain-text 404, as Tempo answers), /api/traces/{id} returns {"batches": [...]}
// with base64 ids and OTLP/JSON attributes, built from the daemon's trace.
function tempoFake() {
	const b64 = (hex) => Buffer.from(hex, 'hex').toString('base64');
	const anyValue = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v }) : typeof v === 'boolean' ? { boolValue: v } : { stringValue: String(v) });
	return http.createServer(async (req, res) => {
		const m = /^\/api\/traces\/([0-9a-f]{32})$/.exec(req.url);
		if (!m) { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('404 page not found\n'); return; }
		const r = await d.api(`/api/v1/traces/${m[1]}`);
		if (r.status !== 200) { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('trace not found\n'); return; }
		const spans = r.json.spans.map((s) => ({
			traceId: b64(s.trace_id), spanId: b64(s.span_id), parentSpanId: s.parent_span_id ? b64(s.parent_span_id) : '',
			name: s.name, startTimeUnixNano: s.start_unix_nano, endTimeUnixNano: s.end_unix_nano,
			attributes: Object.entries(s.attributes).map(([key, v]) => ({ key, value: anyValue(v) })),
		}));
		res.writeHead(200, { 'Content-Type': 'application/json' });
		res.end(JSON.stringify({ batches: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'x' }, spans }] }] }));
	});
}

test('verify: falls back to a Tempo-style /api/traces/{id} (base64 ids)', async () => {
	const fake = tempoFake();
	const port = await listen(fake);
	try {
		const r = await run(['verify', `--endpoint=${d.otlpUrl}`, `--api=http://127.0.0.1:${port}`, '--timeout=10s']);
		assert.equal(r.status, 0, r.stdout + r.stderr);
		assert.match(r.stdout, /verify: OK trace [0-9a-f]{32} complete: 2 spans, .* via \/api\/traces /);
		const forced = await run(['verify', `--endpoint=${d.otlpUrl}`, `--api=http://127.0.0.1:${port}`, '--api-mode=tracelamp', '--timeout=1s']);
		assert.equal(forced.status, 1, 'tracelamp mode does not fall back');
	} finally { await closeServer(fake); }
});

// ---- OTLP/gRPC ----------------------------------------------------------------------

// A cleartext HTTP/2 gRPC server: checks the framing and headers, forwards
// trace requests to the daemon's OTLP/HTTP receiver, keeps metrics requests,
// and answers grpc-status in trailers (metricsStatus for the metrics service).
function grpcFake(metricsStatus) {
	const seen = { traces: 0, metrics: [], errors: [] };
	const server = http2.createServer();
	server.on('stream', (stream, headers) => {
		const chunks = [];
		stream.on('data', (c) => chunks.push(c));
		stream.on('end', async () => {
			const body = Buffer.concat(chunks);
			let status = '0', message = '';
			try {
				assert.equal(headers[':method'], 'POST');
				assert.equal(headers['content-type'], 'application/grpc');
				assert.equal(headers.te, 'trailers');
				assert.equal(body[0], 0, 'not compressed');
				assert.equal(body.readUInt32BE(1), body.length - 5, 'length prefix');
				const msg = body.subarray(5);
				if (headers[':path'] === '/opentelemetry.proto.collector.trace.v1.TraceService/Export') {
					const r = await d.post(msg, { tenant: headers['x-tracelamp-tenant'] });
					if (r.status !== 200) { status = '13'; message = `daemon said ${r.status}`; }
					seen.traces++;
				} else if (headers[':path'] === '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export') {
					seen.metrics.push({ msg, headers });
					status = String(metricsStatus);
					if (metricsStatus) message = 'unknown service opentelemetry.proto.collector.metrics.v1.MetricsService';
				} else {
					status = '12';
				}
			} catch (e) { seen.errors.push(e.message); status = '13'; message = e.message; }
			stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
			stream.on('wantTrailers', () => {
				const t = { 'grpc-status': status };
				if (message) t['grpc-message'] = encodeURIComponent(message);
				stream.sendTrailers(t);
			});
			// ExportTraceServiceResponse / ExportMetricsServiceResponse: empty message
			stream.end(status === '0' ? Buffer.from([0, 0, 0, 0, 0]) : undefined);
		});
	});
	return { server, seen };
}

test('verify --protocol=grpc: length-prefixed messages, trailers, token-usage metrics payload', async () => {
	const { server, seen } = grpcFake(0);
	const port = await listen(server);
	try {
		const r = await run(['verify', '--protocol=grpc', `--endpoint=http://127.0.0.1:${port}`, `--api=${d.apiUrl}`,
			'--timeout=10s', '--tenant=verify-grpc', '--headers=x-team=evals,authorization=Bearer t0k']);
		assert.equal(r.status, 0, r.stdout + r.stderr);
		assert.deepEqual(seen.errors, []);
		assert.equal(seen.traces, 1);
		assert.equal(seen.metrics.length, 1);
		assert.match(r.stderr, /metrics: accepted \(grpc-status 0/);
		const { msg, headers } = seen.metrics[0];
		assert.equal(headers['x-team'], 'evals');
		assert.equal(headers.authorization, 'Bearer t0k');
		assert.equal(headers['x-tracelamp-tenant'], 'verify-grpc');
		// the ExportMetricsServiceRequest, decoded field by field
		const m = decodeTokenUsage(msg);
		assert.equal(m.name, 'gen_ai.client.token.usage');
		assert.equal(m.unit, '{token}');
		assert.equal(m.temporality, 2);
		assert.equal(m.resource['service.name'], 'tracelamp-verify');
		assert.equal(m.scope, 'tracelamp.verify');
		assert.equal(m.points.length, 2);
		const byType = Object.fromEntries(m.points.map((p) => [p.attrs['gen_ai.token.type'], p]));
		assert.deepEqual(Object.keys(byType).sort(), ['input', 'output']);
		const bounds = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
		for (const [type, tokens, bucket] of [['input', 1234, 6], ['output', 56, 3]]) {
			const p = byType[type];
			assert.equal(p.attrs['gen_ai.operation.name'], 'chat');
			assert.equal(p.attrs['gen_ai.provider.name'], 'openai');
			assert.equal(p.attrs['gen_ai.request.model'], 'gpt-4o-mini');
			assert.equal(p.count, 1n);
			assert.equal(p.sum, tokens);
			assert.equal(p.min, tokens);
			assert.equal(p.max, tokens);
			assert.deepEqual(p.bounds, bounds);
			assert.equal(p.buckets.length, bounds.length + 1);
			assert.deepEqual(p.buckets.map((c, i) => (c ? i : -1)).filter((i) => i >= 0), [bucket], `${type} bucket`);
		}
		// and the trace made it through the gRPC hop into the daemon
		const id = r.stdout.split('\n')[0];
		const t = await d.apiOk(`/api/v1/traces/${id}`, { tenant: 'verify-grpc' });
		assert.equal(t.spans.length, 2);
	} finally { await closeServer(server); }
});

test('verify --protocol=grpc: UNIMPLEMENTED metrics is a warning, or a failure with --require-metrics', async () => {
	const { server } = grpcFake(12);
	const port = await listen(server);
	try {
		const args = ['verify', '--protocol=grpc', `--endpoint=http://127.0.0.1:${port}`, `--api=${d.apiUrl}`, '--timeout=10s'];
		const r = await run(args);
		assert.equal(r.status, 0, r.stdout + r.stderr);
		assert.match(r.stderr, /warning: metrics not accepted.*grpc-status 12/);
		const strict = await run([...args, '--require-metrics']);
		assert.equal(strict.status, 1);
		assert.match(strict.stdout, /FAIL metrics not accepted: metrics: grpc-status 12: unknown service/);
	} finally { await closeServer(server); }
});

test('verify --protocol=grpc against a plain HTTP/1 port fails (exit 1)', async () => {
	const r = await run(['verify', '--protocol=grpc', `--endpoint=${d.otlpUrl}`, `--api=${d.apiUrl}`, '--timeout=3s']);
	assert.equal(r.status, 1, r.stdout + r.stderr);
	assert.match(r.stdout, /FAIL trace [0-9a-f]{32} not sent/);
});

// ---- check / GET /api/v1/integrity ------------------------------------------------

test('check: clean tenant exits 0; broken traces are counted with examples and exit 1', async () => {
	const tenant = 'integrity-it';
	const base = nowNs() - 60000000000n;
	const ms = 1000000n;
	// a clean trace
	const clean = newTraceId(), root = newSpanId();
	let r = await d.post(toOtlpProto(req1([
		{ traceId: clean, spanId: root, name: 'invoke_agent a', start: base, end: base + 100n * ms },
		{ traceId: clean, spanId: newSpanId(), parentSpanId: root, name: 'chat m', start: base + 10n * ms, end: base + 90n * ms },
	])), { tenant });
	assert.equal(r.status, 200);
	let c = await run(['check', `--api=${d.apiUrl}`, `--tenant=${tenant}`]);
	assert.equal(c.status, 0, c.stdout + c.stderr);
	assert.match(c.stdout, /trace integrity: 1 traces, 2 spans scanned/);
	assert.match(c.stdout, /OK: 0 issue\(s\)/);

	// an orphan, a second root, a child 20 ms before its parent, a parent in another trace
	const bad = newTraceId(), badRoot = newSpanId(), orphan = newSpanId(), early = newSpanId(), cross = newSpanId();
	r = await d.post(toOtlpProto(req1([
		{ traceId: bad, spanId: badRoot, name: 'root 1', start: base, end: base + 100n * ms },
		{ traceId: bad, spanId: newSpanId(), name: 'root 2', start: base, end: base + 100n * ms },
		{ traceId: bad, spanId: orphan, parentSpanId: newSpanId(), name: 'lost', start: base, end: base + 5n * ms },
		{ traceId: bad, spanId: early, parentSpanId: badRoot, name: 'early', start: base - 20n * ms, end: base + 5n * ms },
		{ traceId: bad, spanId: cross, parentSpanId: root, name: 'wrong trace', start: base, end: base + 5n * ms },
	])), { tenant });
	assert.equal(r.status, 200);
	const j = await d.apiOk(`/api/v1/integrity?tenant=${tenant}&max_examples=5`);
	assert.equal(j.traces_scanned, 2);
	assert.equal(j.spans_scanned, 7);
	assert.equal(j.issues, 4);
	assert.equal(j.orphan_spans.count, 1);
	assert.equal(j.orphan_spans.examples[0].span_id, orphan);
	assert.equal(j.orphan_spans.examples[0].trace_id, bad);
	assert.equal(j.multiple_roots.count, 1);
	assert.equal(j.multiple_roots.examples[0].trace_id, bad);
	assert.equal(j.cross_trace_parents.count, 1);
	assert.equal(j.cross_trace_parents.examples[0].span_id, cross);
	assert.equal(j.cross_trace_parents.examples[0].parent_trace_id, clean);
	assert.equal(j.clock_skew.count, 1);
	assert.equal(j.clock_skew.examples[0].span_id, early);
	assert.match(j.clock_skew.examples[0].detail, /starts 20\.000 ms before its parent "root 1"/);
	// a tolerance forgives the skew
	const tol = await d.apiOk(`/api/v1/integrity?tenant=${tenant}&skew_tolerance_ms=25`);
	assert.equal(tol.clock_skew.count, 0);
	assert.equal(tol.issues, 3);

	c = await run(['check', `--api=${d.apiUrl}`, `--tenant=${tenant}`]);
	assert.equal(c.status, 1, c.stdout + c.stderr);
	assert.match(c.stdout, /orphan spans \(parent missing\)\s+1/);
	assert.match(c.stdout, /traces with several roots\s+1/);
	assert.match(c.stdout, /spans whose parent is in another trace\s+1/);
	assert.match(c.stdout, /clock skew \(child outside its parent\)\s+1/);
	assert.match(c.stdout, new RegExp(`trace ${bad} span ${orphan}: "lost": parent [0-9a-f]{16} not found`));
	assert.match(c.stdout, /FAIL: 4 issue\(s\)/);
	const cj = await run(['check', `--api=${d.apiUrl}`, `--tenant=${tenant}`, '--json', '--skew-tolerance-ms=25']);
	assert.equal(cj.status, 1);
	assert.equal(JSON.parse(cj.stdout).issues, 3);
	// a range that ends before these traces is clean
	const past = await run(['check', `--api=${d.apiUrl}`, `--tenant=${tenant}`, '--start=2020-01-01', '--end=2020-01-02']);
	assert.equal(past.status, 0, past.stdout + past.stderr);
	// settle: traces that ended within the last hour are skipped
	const settled = await d.apiOk(`/api/v1/integrity?tenant=${tenant}&settle_ms=3600000`);
	assert.equal(settled.traces_scanned, 0);
	assert.equal(settled.traces_unsettled, 2);
});

test('check and /api/v1/integrity: errors', async () => {
	for (const [qs, param] of [['max_examples=101', 'max_examples'], ['skew_tolerance_ms=-1', 'skew_tolerance_ms'],
		['start=yesterday', 'start'], ['settle_ms=x', 'settle_ms'], ['limit=5', 'limit'], ['max_traces=0', 'max_traces']]) {
		const r = await d.api(`/api/v1/integrity?${qs}`);
		assert.equal(r.status, 400, qs);
		assert.equal(r.json.error.code, 'bad_request');
		assert.match(r.json.error.message, new RegExp(param));
	}
	assert.equal((await d.api('/api/v1/integrity', { method: 'POST' })).status, 405);
	let c = await run(['check', `--api=${d.apiUrl}`, '--start=yesterday']);
	assert.equal(c.status, 2);
	assert.match(c.stderr, /HTTP 400: parameter start/);
	c = await run(['check', '--bogus']);
	assert.equal(c.status, 2);
	const fake = http.createServer();
	const port = await listen(fake);
	await closeServer(fake);
	c = await run(['check', `--api=http://127.0.0.1:${port}`]);
	assert.equal(c.status, 2);
	assert.match(c.stderr, /tracelamp check: .*(refused|connect)/i);
});
