// grpc.test.mjs - the OTLP/gRPC receiver (h2c on server.otlp_grpc_addr): the
// official OpenTelemetry gRPC trace exporter end to end (plain and gzip), then raw
// HTTP/2 calls with node's http2 module for framing, compression, content types,
// unknown methods, size limits, the memory budget, many concurrent streams,
// client resets, and GOAWAY + drain on SIGTERM with acknowledged spans durable.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { Daemon, req1, toOtlpProto, newTraceId, newSpanId, nowNs, chatSpan, mkSpan, sleep, parsePrometheus } from './lib.mjs';
import { child, hr, SpanKind } from './sdk.mjs';

const TRACES = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

let d;
before(async () => { d = await Daemon.start(); });
after(async () => {
	const e = await d.stop();
	assert.deepEqual(e, { code: 0, signal: null }, `daemon exit\n${d.log.slice(-3000)}`);
	await d.dispose();
});

// ---- raw gRPC over node:http2 -------------------------------------------------

// Length-Prefixed-Message: flag, 4-byte big-endian length, message.
function frame(msg, flag = 0) {
	const h = Buffer.alloc(5);
	h[0] = flag;
	h.writeUInt32BE(msg.length, 1);
	return Buffer.concat([h, msg]);
}

function connect(port) {
	const s = http2.connect(`http://127.0.0.1:${port}`);
	s.on('error', () => { /* surfaced through the calls */ });
	return s;
}

// One unary call. Resolves { status, headers, trailers, grpcStatus, grpcMessage,
// details, data, rstCode } once the stream closed. body: the whole request body
// (already framed); headers override the defaults.
function call(session, path, body, headers = {}) {
	return new Promise((resolve) => {
		const req = session.request({
			':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers,
		});
		let resp = {};
		let trailers = {};
		const chunks = [];
		req.on('response', (h) => { resp = h; });
		req.on('trailers', (h) => { trailers = h; });
		req.on('data', (c) => chunks.push(c));
		req.on('error', () => { /* rstCode tells */ });
		req.on('close', () => {
			const src = trailers['grpc-status'] !== undefined ? trailers : resp;
			const gs = src['grpc-status'];
			resolve({
				status: resp[':status'], headers: resp, trailers,
				grpcStatus: gs === undefined ? null : Number(gs),
				grpcMessage: src['grpc-message'] ? decodeURIComponent(src['grpc-message']) : '',
				details: src['grpc-status-details-bin'] || null,
				data: Buffer.concat(chunks), rstCode: req.rstCode,
			});
		});
		req.end(body);
	});
}

async function oneCall(port, path, body, headers) {
	const s = connect(port);
	try { return await call(s, path, body, headers); } finally { s.close(); }
}

// A tiny protobuf reader: { field: [values] } (varints as Number, LEN as Buffer).
function pbFields(buf) {
	const out = {};
	let i = 0;
	const varint = () => {
		let v = 0n, shift = 0n;
		for (;;) {
			const b = buf[i++];
			v |= BigInt(b & 0x7f) << shift;
			if (!(b & 0x80)) return v;
			shift += 7n;
		}
	};
	while (i < buf.length) {
		const key = Number(varint());
		const f = key >> 3, w = key & 7;
		let val;
		if (w === 0) val = Number(varint());
		else if (w === 2) { const n = Number(varint()); val = buf.subarray(i, i + n); i += n; }
		else if (w === 1) { val = buf.subarray(i, i + 8); i += 8; }
		else if (w === 5) { val = buf.subarray(i, i + 4); i += 4; }
		else throw new Error(`wire type ${w}`);
		(out[f] ||= []).push(val);
	}
	return out;
}

const OK_EMPTY = Buffer.from([0, 0, 0, 0, 0]); // one empty ExportTraceServiceResponse

// ---- the official exporter ------------------------------------------------------

async function sendAgentTrace(port, compression) {
	const results = [];
	const inner = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}`, compression, timeoutMillis: 10000 });
	const exporter = {
		export: (spans, cb) => inner.export(spans, (r) => { results.push({ n: spans.length, ...r }); cb(r); }),
		forceFlush: () => inner.forceFlush(),
		shutdown: () => inner.shutdown(),
	};
	const provider = new BasicTracerProvider({
		resource: resourceFromAttributes({ 'service.name': 'grpc-agent', 'service.version': '2.0.0' }),
		spanProcessors: [new SimpleSpanProcessor(exporter)],
	});
	const tracer = provider.getTracer('grpc-tracer', '0.9.0');
	const t0 = nowNs() - 5000000000n;
	const root = tracer.startSpan('invoke_agent planner', {
		kind: SpanKind.INTERNAL, startTime: hr(t0),
		attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner', 'gen_ai.conversation.id': 'conv-g1' },
	});
	const chat = child(tracer, root, 'chat claude-sonnet-4-5', {
		kind: SpanKind.CLIENT, startTime: hr(t0 + 1000000n),
		attributes: {
			'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic',
			'gen_ai.request.model': 'claude-sonnet-4-5', 'gen_ai.usage.input_tokens': 2000, 'gen_ai.usage.output_tokens': 400,
			'gen_ai.usage.cache_read.input_tokens': 1500, 'gen_ai.response.finish_reasons': ['end_turn'],
		},
	});
	chat.end(hr(t0 + 701000000n));
	root.end(hr(t0 + 900000000n));
	await provider.forceFlush();
	await provider.shutdown();
	const bad = results.filter((r) => r.code !== 0);
	assert.equal(bad.length, 0, `export failed: ${bad.map((r) => String(r.error)).join('; ')}`);
	assert.equal(results.reduce((a, r) => a + r.n, 0), 2);
	return { traceId: root.spanContext().traceId, root: root.spanContext().spanId, chat: chat.spanContext().spanId, t0 };
}

async function assertAgentTrace(x) {
	const r = await d.trace(x.traceId);
	assert.equal(r.status, 200, r.text);
	const body = r.json;
	assert.equal(body.spans.length, 2);
	const root = body.spans.find((s) => s.span_id === x.root);
	const chat = body.spans.find((s) => s.span_id === x.chat);
	assert.ok(root && chat);
	assert.equal(root.name, 'invoke_agent planner');
	assert.equal(root.parent_span_id, null);
	assert.equal(root.start_unix_nano, String(x.t0));
	assert.equal(root.duration_ns, 900000000);
	assert.equal(root.service, 'grpc-agent');
	assert.equal(root.resource['service.version'], '2.0.0');
	assert.equal(root.scope.name, 'grpc-tracer');
	assert.equal(root.scope.version, '0.9.0');
	assert.equal(root.genai.agent_name, 'planner');
	assert.equal(chat.parent_span_id, x.root);
	assert.equal(chat.kind, 'client');
	assert.equal(chat.duration_ns, 700000000);
	assert.equal(chat.genai.provider, 'anthropic');
	assert.equal(chat.genai.request_model, 'claude-sonnet-4-5');
	assert.equal(chat.genai.input_tokens, 2000);
	assert.equal(chat.genai.output_tokens, 400);
	assert.equal(chat.genai.cache_read_tokens, 1500);
	assert.deepEqual(chat.genai.finish_reasons, ['end_turn']);
	// claude-sonnet-4-5: input 3, cached 0.3, output 15 USD per 1M tokens.
	const expected = (500 * 3 + 1500 * 0.3 + 400 * 15) / 1e6;
	assert.ok(Math.abs(chat.genai.cost_usd - expected) < 1e-12, `cost ${chat.genai.cost_usd} != ${expected}`);
	assert.equal(body.summary.span_count, 2);
	assert.equal(body.summary.llm_calls, 1);
	assert.equal(body.summary.session_id, 'conv-g1');
}

test('the official OTLP gRPC exporter: GenAI trace round trip (plain and gzip)', async () => {
	assert.ok(d.grpcPort, 'otlp_grpc in the listening line');
	const plain = await sendAgentTrace(d.grpcPort, 'none');
	await assertAgentTrace(plain);
	const gz = await sendAgentTrace(d.grpcPort, 'gzip');
	await assertAgentTrace(gz);
});

test('raw: OK reply shape, tenant metadata, gzip message', async () => {
	const s = connect(d.grpcPort);
	try {
		const traceId = newTraceId();
		const msg = toOtlpProto(req1([chatSpan(traceId, undefined, { input: 11, output: 7 })], { service: 'raw-grpc' }));
		const r = await call(s, TRACES, frame(msg), { 'x-tracelamp-tenant': 'grpc-t1' });
		assert.equal(r.status, 200);
		assert.equal(r.headers['content-type'], 'application/grpc');
		assert.equal(r.grpcStatus, 0);
		assert.equal(r.trailers['grpc-status'], '0', 'status in trailers, not Trailers-Only');
		assert.deepEqual(r.data, OK_EMPTY);
		const t = await d.trace(traceId, { tenant: 'grpc-t1' });
		assert.equal(t.status, 200, t.text);
		assert.equal(t.json.summary.tenant, 'grpc-t1');
		assert.equal(t.json.spans[0].genai.input_tokens, 11);
		assert.equal((await d.trace(traceId)).status, 404, 'not in the default tenant');

		const traceId2 = newTraceId();
		const msg2 = toOtlpProto(req1([chatSpan(traceId2, undefined, { input: 5, output: 3 })]));
		const g = await call(s, TRACES, frame(gzipSync(msg2), 1), { 'grpc-encoding': 'gzip' });
		assert.equal(g.grpcStatus, 0, g.grpcMessage);
		assert.deepEqual(g.data, OK_EMPTY);
		const t2 = await d.trace(traceId2);
		assert.equal(t2.status, 200);
		assert.equal(t2.json.spans[0].genai.output_tokens, 3);

		const bad = await call(s, TRACES, frame(msg2), { 'x-tracelamp-tenant': 'no spaces allowed' });
		assert.equal(bad.grpcStatus, 3);
	} finally { s.close(); }
});

test('raw: malformed, corrupt gzip, bad framing -> INVALID_ARGUMENT with a message', async () => {
	const s = connect(d.grpcPort);
	try {
		// resource_spans (field 1) announces 5 bytes, 1 follows.
		const r = await call(s, TRACES, frame(Buffer.from([0x0a, 0x05, 0x01])));
		assert.equal(r.status, 200);
		assert.equal(r.grpcStatus, 3);
		assert.ok(r.grpcMessage.length > 5, `message: ${r.grpcMessage}`);
		assert.equal(r.headers['grpc-status'], '3', 'Trailers-Only');
		assert.equal(r.details, null);

		const gz = await call(s, TRACES, frame(Buffer.from('not gzip at all'), 1), { 'grpc-encoding': 'gzip' });
		assert.equal(gz.grpcStatus, 3);
		assert.match(gz.grpcMessage, /gzip/);

		const noenc = await call(s, TRACES, frame(gzipSync(Buffer.alloc(0)), 1));
		assert.equal(noenc.grpcStatus, 3, 'compressed flag without grpc-encoding');

		const twoMsgs = await call(s, TRACES, Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0))]));
		assert.equal(twoMsgs.grpcStatus, 3);
		assert.match(twoMsgs.grpcMessage, /exactly one message/);

		const short = await call(s, TRACES, Buffer.from([0, 0, 0, 0, 9, 1, 2]));
		assert.equal(short.grpcStatus, 3);
		const none = await call(s, TRACES, Buffer.alloc(0));
		assert.equal(none.grpcStatus, 3);

		// A message with non-ASCII text survives percent-encoding.
		const weird = await call(s, TRACES, frame(Buffer.from([0x0a, 0x02, 0x0a, 0x80])));
		assert.equal(weird.grpcStatus, 3);
	} finally { s.close(); }
});

test('raw: content type, unknown methods and services, unsupported encoding', async () => {
	const s = connect(d.grpcPort);
	try {
		const ct = await call(s, TRACES, frame(Buffer.alloc(0)), { 'content-type': 'application/json' });
		assert.equal(ct.status, 415);
		const ct2 = await call(s, TRACES, frame(Buffer.alloc(0)), { 'content-type': 'application/grpc+proto' });
		assert.equal(ct2.grpcStatus, 0);

		const m = await call(s, '/opentelemetry.proto.collector.trace.v1.TraceService/Import', frame(Buffer.alloc(0)));
		assert.equal(m.status, 200);
		assert.equal(m.grpcStatus, 12);
		assert.match(m.grpcMessage, /unknown method/);
		const svc = await call(s, '/grpc.health.v1.Health/Check', frame(Buffer.alloc(0)));
		assert.equal(svc.grpcStatus, 12);

		const enc = await call(s, TRACES, frame(Buffer.from([1, 2, 3]), 1), { 'grpc-encoding': 'snappy' });
		assert.equal(enc.grpcStatus, 12);
		assert.match(enc.grpcMessage, /snappy/);
	} finally { s.close(); }
});

test('raw: many concurrent streams over several connections, each span stored once', async () => {
	const CONNS = 4, PER = 50;
	const sessions = Array.from({ length: CONNS }, () => connect(d.grpcPort));
	const traces = Array.from({ length: CONNS }, () => ({ traceId: newTraceId(), ids: [] }));
	const calls = [];
	const t0 = nowNs() - 3000000000n;
	for (let c = 0; c < CONNS; c++) {
		for (let i = 0; i < PER; i++) {
			const span = mkSpan({ traceId: traces[c].traceId, spanId: newSpanId(), name: `op ${c}/${i}`, start: t0 + BigInt(i) * 1000n });
			traces[c].ids.push(span.spanId);
			calls.push(call(sessions[c], TRACES, frame(toOtlpProto(req1([span], { service: 'fanout' })))));
		}
	}
	const res = await Promise.all(calls);
	for (const s of sessions) s.close();
	const bad = res.filter((r) => r.grpcStatus !== 0);
	assert.equal(bad.length, 0, `${bad.length} failed: ${bad.slice(0, 3).map((r) => `${r.grpcStatus} ${r.grpcMessage} rst=${r.rstCode}`).join('; ')}`);
	for (const t of traces) {
		const r = await d.trace(t.traceId);
		assert.equal(r.status, 200);
		const got = r.json.spans.map((s) => s.span_id).sort();
		assert.deepEqual(got, [...t.ids].sort(), 'every span exactly once');
	}
	const m = parsePrometheus(await d.metricsText());
	const ok = m.samples.find((x) => x.name === 'tracelamp_receiver_requests_total' &&
		x.labels.transport === 'grpc' && x.labels.signal === 'traces' && x.labels.code === '0');
	assert.ok(ok && ok.value >= CONNS * PER, 'grpc requests counted with code 0');
});

test('raw: client resets mid-request and while waiting for the store do not hurt the daemon', async () => {
	const s = connect(d.grpcPort);
	const kept = [];
	for (let i = 0; i < 20; i++) {
		const msg = toOtlpProto(req1([mkSpan()]));
		const body = frame(msg);
		const req = s.request({ ':method': 'POST', ':path': TRACES, 'content-type': 'application/grpc', te: 'trailers' });
		req.on('error', () => {});
		if (i % 2) {
			req.write(body.subarray(0, 7)); // half a message, then cancel
			req.close(http2.constants.NGHTTP2_CANCEL);
		} else {
			req.end(body); // complete: the reset lands while the store commits
			setImmediate(() => req.close(http2.constants.NGHTTP2_CANCEL));
		}
		kept.push(new Promise((r) => req.on('close', r)));
	}
	await Promise.all(kept);
	// Then a connection that just drops mid-request.
	const s2 = connect(d.grpcPort);
	const req = s2.request({ ':method': 'POST', ':path': TRACES, 'content-type': 'application/grpc', te: 'trailers' });
	req.on('error', () => {});
	req.write(Buffer.from([0, 0, 0, 1, 0, 1, 2]));
	await sleep(20);
	s2.destroy();
	// The same session and a new one still work.
	const traceId = newTraceId();
	const r = await call(s, TRACES, frame(toOtlpProto(req1([mkSpan({ traceId })]))));
	assert.equal(r.grpcStatus, 0);
	s.close();
	assert.equal((await d.trace(traceId)).status, 200);
	assert.equal((await d.api('/healthz')).status, 200);
	// Every ticket ended: nothing is left charged to the memory budget.
	await sleep(200);
	const m = parsePrometheus(await d.metricsText());
	const inUse = m.samples.find((x) => x.name === 'tracelamp_memory_in_use_bytes');
	if (inUse) assert.equal(inUse.value, 0, 'memory in use back to 0');
});

test('limits: oversize message -> RESOURCE_EXHAUSTED without RetryInfo; memory budget -> with RetryInfo', async () => {
	const small = await Daemon.start({ args: ['--server.grpc_max_message_bytes=16KiB', '--server.memory_budget=48KiB'] });
	try {
		const s = connect(small.grpcPort);
		// Oversize by the prefix alone, and by the gzip-inflated size.
		const big = await call(s, TRACES, frame(Buffer.alloc(20000, 0x41)));
		assert.equal(big.grpcStatus, 8);
		assert.match(big.grpcMessage, /grpc_max_message_bytes/);
		assert.equal(big.details, null, 'message size: non-retryable (no RetryInfo)');
		const bomb = await call(s, TRACES, frame(gzipSync(Buffer.alloc(200000)), 1), { 'grpc-encoding': 'gzip' });
		assert.equal(bomb.grpcStatus, 8);
		assert.equal(bomb.details, null);

		// Under the memory budget: hold streams open with 12 KiB each until the
		// budget (48 KiB) is spent; the next one is refused with RetryInfo.
		const held = [];
		const chunk = frame(Buffer.alloc(15000, 0x41)).subarray(0, 12000);
		for (let i = 0; i < 3; i++) {
			const req = s.request({ ':method': 'POST', ':path': TRACES, 'content-type': 'application/grpc', te: 'trailers' });
			req.on('error', () => {});
			req.write(chunk);
			held.push(req);
		}
		await sleep(100);
		const r = await call(s, TRACES, frame(Buffer.alloc(15000, 0x0)));
		assert.equal(r.grpcStatus, 8, `${r.grpcStatus} ${r.grpcMessage}`);
		assert.match(r.grpcMessage, /memory budget/);
		assert.ok(r.details, 'grpc-status-details-bin present');
		const st = pbFields(Buffer.from(r.details, 'base64'));
		assert.equal(st[1][0], 8, 'google.rpc.Status.code');
		assert.match(st[2][0].toString(), /memory budget/);
		const any = pbFields(st[3][0]);
		assert.equal(any[1][0].toString(), 'type.googleapis.com/google.rpc.RetryInfo');
		const delay = pbFields(pbFields(any[2][0])[1][0]);
		assert.equal(delay[1][0], 1, 'retry_delay 1s');
		for (const req of held) req.close(http2.constants.NGHTTP2_CANCEL);
		await sleep(100);
		// The budget is free again.
		const ok = await call(s, TRACES, frame(toOtlpProto(req1([mkSpan()]))));
		assert.equal(ok.grpcStatus, 0, ok.grpcMessage);
		s.close();
	} finally {
		const e = await small.stop();
		assert.deepEqual(e, { code: 0, signal: null }, small.log.slice(-2000));
		await small.dispose();
	}
});

test('drain: SIGTERM sends GOAWAY, in-flight calls finish OK and are durable after restart', async () => {
	const slow = await Daemon.start();
	try {
		const s = connect(slow.grpcPort);
		let goaway = null;
		s.on('goaway', (code, last) => { goaway = { code, last }; });
		const ids = [];
		const calls = [];
		const rest = [];
		// 20 calls in flight: headers and half of each message sent, the rest after SIGTERM.
		for (let i = 0; i < 20; i++) {
			const traceId = newTraceId();
			ids.push(traceId);
			const body = frame(toOtlpProto(req1([chatSpan(traceId, undefined, { input: i + 1 })])));
			const half = body.length >> 1;
			const req = s.request({ ':method': 'POST', ':path': TRACES, 'content-type': 'application/grpc', te: 'trailers' });
			calls.push(new Promise((resolve) => {
				let resp = {}, trailers = {};
				req.on('response', (h) => { resp = h; });
				req.on('trailers', (h) => { trailers = h; });
				req.on('data', () => {});
				req.on('error', () => {});
				req.on('close', () => resolve(Number(trailers['grpc-status'] ?? resp['grpc-status'] ?? -1)));
			}));
			req.write(body.subarray(0, half));
			rest.push(() => req.end(body.subarray(half)));
		}
		await sleep(150);
		slow.proc.kill('SIGTERM');
		await sleep(300); // past the final GOAWAY
		assert.ok(goaway, 'GOAWAY received');
		assert.equal(goaway.code, 0, 'NO_ERROR');
		for (const f of rest) f();
		const codes = await Promise.all(calls);
		assert.deepEqual(codes, ids.map(() => 0));
		const e = await slow.exited;
		assert.deepEqual(e, { code: 0, signal: null }, slow.log.slice(-2000));
		const inflight = /draining: (\d+) request\(s\) in flight/.exec(slow.log);
		assert.ok(inflight && Number(inflight[1]) === 20, `calls in flight at SIGTERM: ${inflight && inflight[0]}`);
		s.destroy();
		await slow.restart();
		for (let i = 0; i < ids.length; i++) {
			const t = await slow.trace(ids[i]);
			assert.equal(t.status, 200, `trace ${i} durable`);
			assert.equal(t.json.spans[0].genai.input_tokens, i + 1);
		}
		// A new call after the restart works on a new connection.
		const r = await oneCall(slow.grpcPort, TRACES, frame(toOtlpProto(req1([mkSpan()]))));
		assert.equal(r.grpcStatus, 0);
	} finally {
		await slow.dispose();
	}
});
