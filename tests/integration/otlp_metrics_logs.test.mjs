// otlp_metrics_logs.test.mjs - the OTLP metrics and logs signals end to end:
// the official OpenTelemetry JS metrics exporters (HTTP protobuf, HTTP JSON,
// gRPC) with exact values re-exposed on /metrics and /api/v1/stats answering
// from metrics; the official logs exporters (HTTP protobuf, JSON, gRPC) sending
// GenAI events inside a span, read back from GET /api/v1/logs and the span's
// logs array; stats never counting a call twice; partial success; bad input on
// both transports; kill -9 durability of acknowledged log records; many
// concurrent gRPC streams mixing the three signals, all stored exactly once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { trace, context, ROOT_CONTEXT } from '@opentelemetry/api';
import {
	Daemon, PbWriter, pbAnyValue, req1, toOtlpProto, newTraceId, newSpanId, nowNs, chatSpan, mkSpan, sleep, parsePrometheus,
} from './lib.mjs';

const GRPC = {
	traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
	metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
	logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};
const LIMIT = 256 * 1024;

let d;
before(async () => {
	d = await Daemon.start({ args: [`--server.max_request_bytes=${LIMIT}`, `--server.grpc_max_message_bytes=${LIMIT}`] });
});
after(async () => {
	const e = await d.stop();
	assert.deepEqual(e, { code: 0, signal: null }, `daemon exit\n${d.log.slice(-3000)}`);
	await d.dispose();
});

// ---- helpers ----------------------------------------------------------------------

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

// One unary gRPC call: { status, grpcStatus, grpcMessage, data }.
function call(session, path, body, headers = {}) {
	return new Promise((resolve) => {
		const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
		let resp = {};
		let trailers = {};
		const chunks = [];
		req.on('response', (h) => { resp = h; });
		req.on('trailers', (h) => { trailers = h; });
		req.on('data', (c) => chunks.push(c));
		req.on('error', () => { /* grpcStatus null tells */ });
		req.on('close', () => {
			const src = trailers['grpc-status'] !== undefined ? trailers : resp;
			const gs = src['grpc-status'];
			resolve({
				status: resp[':status'], grpcStatus: gs === undefined ? null : Number(gs),
				grpcMessage: src['grpc-message'] ? decodeURIComponent(src['grpc-message']) : '', data: Buffer.concat(chunks),
			});
		});
		req.end(body);
	});
}

async function oneCall(path, msg, headers) {
	const s = connect(d.grpcPort);
	try { return await call(s, path, frame(msg), headers); } finally { s.close(); }
}

const post = (path, body, opts = {}) => d.post(body, { path, ...opts });
const json = (o) => JSON.stringify(o);
const kv = (o) => Object.entries(o).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v } }));

// OTLP/JSON logs request: records [{ time, severity, text, event, body, attrs, traceId, spanId }].
function logsJson(service, records, scope = { name: 'it-logs' }) {
	return json({
		resourceLogs: [{
			resource: { attributes: kv({ 'service.name': service }) },
			scopeLogs: [{
				scope,
				logRecords: records.map((r) => ({
					timeUnixNano: String(r.time ?? nowNs()), severityNumber: r.severity ?? 9, severityText: r.text ?? 'INFO',
					...(r.event ? { eventName: r.event } : {}),
					body: r.body === undefined ? { stringValue: 'hello' } : r.body,
					attributes: kv(r.attrs || {}),
					...(r.traceId ? { traceId: r.traceId } : {}), ...(r.spanId ? { spanId: r.spanId } : {}),
				})),
			}],
		}],
	});
}

// ExportLogsServiceRequest protobuf, same record shape (body a string).
function logsProto(service, records) {
	const w = new PbWriter();
	w.msg(1, (rl) => {
		rl.msg(1, (res) => res.msg(1, (a) => { a.bytes(1, 'service.name'); a.msg(2, (v) => pbAnyValue(v, service)); }));
		rl.msg(2, (sl) => {
			sl.msg(1, (sc) => sc.bytes(1, 'it-logs'));
			for (const r of records) {
				sl.msg(2, (lr) => {
					lr.fixed64(1, r.time ?? nowNs());
					lr.uint(2, r.severity ?? 9);
					lr.msg(5, (v) => pbAnyValue(v, r.bodyText ?? 'hello'));
					for (const [k, v] of Object.entries(r.attrs || {})) lr.msg(6, (a) => { a.bytes(1, k); a.msg(2, (x) => pbAnyValue(x, v)); });
					if (r.traceId) lr.bytes(9, Buffer.from(r.traceId, 'hex'));
					if (r.spanId) lr.bytes(10, Buffer.from(r.spanId, 'hex'));
					if (r.event) lr.bytes(12, r.event);
				});
			}
		});
	});
	return w.finish();
}

// ExportMetricsServiceRequest protobuf: one delta histogram gen_ai.client.token.usage
// point per token type for `calls` calls of model at time t.
function usageProto(service, model, calls, input, output, t, { bounds = [1000], counts } = {}) {
	const w = new PbWriter();
	w.msg(1, (rm) => {
		rm.msg(1, (res) => res.msg(1, (a) => { a.bytes(1, 'service.name'); a.msg(2, (v) => pbAnyValue(v, service)); }));
		rm.msg(2, (sm) => {
			sm.msg(1, (sc) => sc.bytes(1, 'it-metrics'));
			sm.msg(2, (m) => {
				m.bytes(1, 'gen_ai.client.token.usage');
				m.bytes(3, '{token}');
				m.msg(9, (h) => {
					for (const [type, sum] of [['input', input], ['output', output]]) {
						h.msg(1, (p) => {
							for (const [k, v] of Object.entries({ 'gen_ai.token.type': type, 'gen_ai.request.model': model, 'gen_ai.provider.name': 'openai', 'gen_ai.operation.name': 'chat' })) {
								p.msg(9, (a) => { a.bytes(1, k); a.msg(2, (x) => pbAnyValue(x, v)); });
							}
							p.fixed64(2, t - 1000000000n);
							p.fixed64(3, t);
							p.fixed64(4, calls);
							p.double(5, sum);
							for (const c of counts || [calls, ...bounds.map(() => 0)].slice(0, bounds.length + 1)) p.fixed64(6, c);
							for (const b of bounds) p.double(7, b);
						});
					}
					h.uint(2, 1); // DELTA
				});
			});
		});
	});
	return w.finish();
}

// A metrics exporter wrapper that records results (and keeps the reader's
// temporality and aggregation choices).
function recording(inner) {
	const results = [];
	return {
		results,
		export: (m, cb) => inner.export(m, (r) => { results.push(r); cb(r); }),
		forceFlush: () => inner.forceFlush(),
		shutdown: () => inner.shutdown(),
		selectAggregationTemporality: inner.selectAggregationTemporality?.bind(inner),
		selectAggregation: inner.selectAggregation?.bind(inner),
	};
}

function sample(samples, name, labels) {
	const hit = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
	assert.equal(hit.length, 1, `${name} ${JSON.stringify(labels)}: ${hit.length} samples`);
	return hit[0].value;
}

async function allLogs(qs) {
	const out = [];
	let cursor = null;
	for (;;) {
		const body = await d.apiOk(`/api/v1/logs?${qs}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
		out.push(...body.logs);
		if (!body.next_cursor) return out;
		cursor = body.next_cursor;
	}
}

// ---- metrics with the official exporters -------------------------------------------

for (const kind of ['proto', 'json', 'grpc']) {
	test(`metrics: official ${kind} exporter -> exact series on /metrics and /api/v1/stats from metrics`, async () => {
		const service = `metrics-${kind}`;
		const url = kind === 'grpc' ? d.grpcUrl : `${d.otlpUrl}/v1/metrics`;
		const inner = kind === 'proto' ? new MetricsProto({ url }) : kind === 'json' ? new MetricsJson({ url }) : new MetricsGrpc({ url });
		const exporter = recording(inner);
		const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
		const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': service }), readers: [reader] });
		const meter = provider.getMeter('it-meter', '0.1.0');
		const usage = meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}', advice: { explicitBucketBoundaries: [100, 1000] } });
		const requests = meter.createCounter('llm.requests');
		const a = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini' };
		usage.record(120, { ...a, 'gen_ai.token.type': 'input' });
		usage.record(800, { ...a, 'gen_ai.token.type': 'input' });
		usage.record(30, { ...a, 'gen_ai.token.type': 'output' });
		usage.record(50, { ...a, 'gen_ai.token.type': 'output' });
		requests.add(3, { route: 'a' });
		await reader.forceFlush();
		// A second export of the same cumulative state adds nothing.
		await reader.forceFlush();
		await provider.shutdown();
		assert.ok(exporter.results.length >= 2);
		assert.deepEqual(exporter.results.filter((r) => r.code !== 0), []);

		const { samples, type } = parsePrometheus(await d.metricsText());
		const l = { job: service, gen_ai_token_type: 'input', gen_ai_request_model: 'gpt-4o-mini' };
		assert.equal(type.get('gen_ai_client_token_usage_otlp'), 'histogram');
		assert.equal(sample(samples, 'gen_ai_client_token_usage_otlp_bucket', { ...l, le: '100' }), 0);
		assert.equal(sample(samples, 'gen_ai_client_token_usage_otlp_bucket', { ...l, le: '1000' }), 2);
		assert.equal(sample(samples, 'gen_ai_client_token_usage_otlp_bucket', { ...l, le: '+Inf' }), 2);
		assert.equal(sample(samples, 'gen_ai_client_token_usage_otlp_sum', l), 920);
		assert.equal(sample(samples, 'gen_ai_client_token_usage_otlp_count', l), 2);
		assert.equal(sample(samples, 'gen_ai_client_token_usage_otlp_sum', { ...l, gen_ai_token_type: 'output' }), 80);
		assert.equal(type.get('llm_requests_total'), 'counter');
		assert.equal(sample(samples, 'llm_requests_total', { job: service, route: 'a', otel_scope_name: 'it-meter' }), 3);

		// No spans were sent: stats answer from the metric usage, counted once.
		const st = await d.apiOk(`/api/v1/stats?service=${service}&group_by=model`);
		assert.equal(st.series.length, 1);
		assert.deepEqual(st.series[0].group, { model: 'gpt-4o-mini' });
		const p = st.series[0].points[0];
		assert.equal(p.calls, 2);
		assert.equal(p.input_tokens, 920);
		assert.equal(p.output_tokens, 80);
		// gpt-4o-mini: 0.15 USD/1M input, 0.6 USD/1M output.
		assert.equal(p.cost_usd, 0.000186);
	});
}

test('stats: spans and metrics for the same calls are counted once; metrics-only models still count', async () => {
	const service = 'dedup-svc';
	const minute = (nowNs() / 60000000000n - 10n) * 60000000000n;
	const t = minute + 5000000000n;
	// Two calls as spans ...
	const tid = newTraceId();
	const spans = [chatSpan(tid, undefined, { model: 'gpt-4.1', input: 100, output: 10, start: t }),
		chatSpan(tid, undefined, { model: 'gpt-4.1', input: 200, output: 20, start: t + 1000000n })];
	assert.equal((await d.post(toOtlpProto(req1(spans, { service })))).status, 200);
	// ... and the same two calls as metrics, plus one call of another model only as a metric.
	assert.equal((await post('/v1/metrics', usageProto(service, 'gpt-4.1', 2, 300, 30, t + 2000000000n))).status, 200);
	assert.equal((await post('/v1/metrics', usageProto(service, 'o3', 1, 50, 5, t + 2000000000n))).status, 200);
	const st = await d.apiOk(`/api/v1/stats?service=${service}&group_by=model&start=${minute}&end=${minute + 60000000000n}`);
	const by = Object.fromEntries(st.series.map((s) => [s.group.model, s.points[0]]));
	assert.deepEqual(Object.keys(by).sort(), ['gpt-4.1', 'o3']);
	assert.equal(by['gpt-4.1'].calls, 2);
	assert.equal(by['gpt-4.1'].input_tokens, 300);
	assert.equal(by['gpt-4.1'].output_tokens, 30);
	assert.equal(by.o3.calls, 1);
	assert.equal(by.o3.input_tokens, 50);
	// Without grouping, the total is still 3 calls.
	const all = await d.apiOk(`/api/v1/stats?service=${service}&start=${minute}&end=${minute + 60000000000n}`);
	assert.equal(all.series[0].points[0].calls, 3);
});

test('metrics: data points without a time are rejected as a partial success (HTTP JSON and gRPC)', async () => {
	const body = json({
		resourceMetrics: [{
			resource: { attributes: kv({ 'service.name': 'partial-svc' }) },
			scopeMetrics: [{
				metrics: [{
					name: 'queue.depth', gauge: {
						dataPoints: [{ timeUnixNano: String(nowNs()), asInt: '7' }, { asInt: '9' }, { timeUnixNano: '0', asInt: '11' }],
					},
				}],
			}],
		}],
	});
	const r = await post('/v1/metrics', body, { contentType: 'application/json' });
	assert.equal(r.status, 200);
	assert.deepEqual(JSON.parse(r.body.toString()), {
		partialSuccess: { rejectedDataPoints: '2', errorMessage: '2 data point(s) without time_unix_nano were rejected' },
	});
	const { samples } = parsePrometheus(await d.metricsText());
	assert.equal(sample(samples, 'queue_depth', { job: 'partial-svc' }), 7);

	// gRPC: ExportMetricsServiceResponse.partial_success {1: rejected_data_points, 2: error_message}.
	const pb = usageProto('partial-grpc', 'gpt-4o-mini', 1, 10, 1, 0n);
	const g = await oneCall(GRPC.metrics, pb);
	assert.equal(g.grpcStatus, 0);
	const msg = g.data.subarray(5);
	assert.ok(msg.includes(Buffer.from('2 data point(s) without time_unix_nano were rejected')), msg.toString('hex'));
});

// ---- logs with the official exporters ------------------------------------------------

for (const kind of ['proto', 'json', 'grpc']) {
	test(`logs: official ${kind} exporter, GenAI events in a span -> /api/v1/logs and the span's logs`, async () => {
		const service = `logs-${kind}`;
		// The span, through the trace exporter.
		const tp = new BasicTracerProvider({
			resource: resourceFromAttributes({ 'service.name': service }),
			spanProcessors: [new SimpleSpanProcessor(new TracesProto({ url: `${d.otlpUrl}/v1/traces` }))],
		});
		const tracer = tp.getTracer('it-tracer');
		const span = tracer.startSpan('chat gpt-4o-mini', {
			attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini' },
		});
		const ctx = trace.setSpan(ROOT_CONTEXT, span);
		const { traceId, spanId } = span.spanContext();

		const url = kind === 'grpc' ? d.grpcUrl : `${d.otlpUrl}/v1/logs`;
		const inner = kind === 'proto' ? new LogsProto({ url }) : kind === 'json' ? new LogsJson({ url }) : new LogsGrpc({ url });
		const results = [];
		const exporter = { export: (l, cb) => inner.export(l, (r) => { results.push(r); cb(r); }), shutdown: () => inner.shutdown() };
		const lp = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': service }), processors: [new SimpleLogRecordProcessor({ exporter })] });
		const logger = lp.getLogger('it-genai', '0.2.0');
		const t0 = nowNs() - 3000000000n;
		// Emitted inside the span's context: the SDK fills trace and span ids.
		context.with(ctx, () => {
			logger.emit({ context: ctx, eventName: 'gen_ai.user.message', timestamp: [Number(t0 / 1000000000n), Number(t0 % 1000000000n)], severityNumber: 9, severityText: 'INFO', body: { content: `Plan a trip to Lisbon (${kind})` }, attributes: { 'gen_ai.system': 'openai' } });
			logger.emit({ context: ctx, eventName: 'gen_ai.choice', timestamp: [Number(t0 / 1000000000n), Number(t0 % 1000000000n) + 1000], severityNumber: 9, severityText: 'INFO', body: { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Three days in Alfama.' } } });
			logger.emit({ context: ctx, eventName: 'gen_ai.client.inference.operation.details', timestamp: [Number(t0 / 1000000000n), Number(t0 % 1000000000n) + 2000], severityNumber: 13, severityText: 'WARN', attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': 12 } });
		});
		// The simple processor's forceFlush does not wait for exports in flight.
		for (let i = 0; i < 500 && results.length < 3; i++) await sleep(10);
		await lp.shutdown();
		span.end();
		await tp.forceFlush();
		await tp.shutdown();
		assert.equal(results.length, 3);
		assert.deepEqual(results.filter((r) => r.code !== 0), []);

		const body = await d.apiOk(`/api/v1/logs?trace_id=${traceId}`);
		assert.equal(body.next_cursor, null);
		assert.deepEqual(body.logs.map((l) => l.event_name), ['gen_ai.client.inference.operation.details', 'gen_ai.choice', 'gen_ai.user.message']);
		const user = body.logs[2];
		assert.equal(user.time_unix_nano, String(t0));
		assert.equal(user.severity_number, 9);
		assert.equal(user.severity_text, 'INFO');
		assert.deepEqual(user.body, { content: `Plan a trip to Lisbon (${kind})` });
		assert.deepEqual(user.attributes, { 'gen_ai.system': 'openai' });
		assert.equal(user.trace_id, traceId);
		assert.equal(user.span_id, spanId);
		assert.equal(user.service, service);
		assert.equal(user.resource['service.name'], service);
		assert.deepEqual({ name: user.scope.name, version: user.scope.version }, { name: 'it-genai', version: '0.2.0' });
		assert.deepEqual(body.logs[1].body, { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Three days in Alfama.' } });
		assert.equal(body.logs[0].body, null);
		assert.equal(body.logs[0].attributes['gen_ai.usage.input_tokens'], 12);

		// Filters.
		const ids = async (qs) => (await d.apiOk(`/api/v1/logs?${qs}`)).logs.map((l) => l.event_name);
		assert.deepEqual(await ids(`service=${service}&severity=warn`), ['gen_ai.client.inference.operation.details']);
		assert.deepEqual(await ids(`service=${service}&severity=13`), ['gen_ai.client.inference.operation.details']);
		assert.deepEqual(await ids(`service=${service}&event=gen_ai.choice`), ['gen_ai.choice']);
		assert.deepEqual(await ids(`service=${service}&q=ALFAMA`), ['gen_ai.choice']);
		assert.deepEqual(await ids(`service=${service}&q=lisbon%20(${kind})`), ['gen_ai.user.message']);
		assert.deepEqual(await ids(`span_id=${spanId}&limit=1`), ['gen_ai.client.inference.operation.details']);
		assert.deepEqual(await ids(`service=${service}&start=${t0 + 500n}&end=${t0 + 1500n}`), ['gen_ai.choice']);
		assert.deepEqual(await ids(`service=${service}&tenant=nobody`), []);

		// The trace view: the records in the span's logs, none at trace level.
		const tr = await d.apiOk(`/api/v1/traces/${traceId}`);
		assert.equal(tr.spans.length, 1);
		assert.deepEqual(tr.logs, []);
		assert.deepEqual(tr.spans[0].logs.map((l) => l.event_name), ['gen_ai.user.message', 'gen_ai.choice', 'gen_ai.client.inference.operation.details']);
		assert.deepEqual(tr.spans[0].logs[0], user);
	});
}

test('logs: a record with the trace id but no known span goes to the trace-level logs; cursor pages', async () => {
	const tid = newTraceId();
	const s = mkSpan({ traceId: tid, name: 'root' });
	assert.equal((await d.post(toOtlpProto(req1([s], { service: 'trace-level' })))).status, 200);
	const recs = [
		{ traceId: tid, body: { stringValue: 'no span' }, time: s.start + 1n },
		{ traceId: tid, spanId: newSpanId(), body: { stringValue: 'unknown span' }, time: s.start + 2n },
		{ traceId: tid, spanId: s.spanId, body: { stringValue: 'on the span' }, time: s.start + 3n },
	];
	const r = await post('/v1/logs', logsJson('trace-level', recs), { contentType: 'application/json' });
	assert.equal(r.status, 200);
	assert.equal(r.body.toString(), '{}');
	const tr = await d.apiOk(`/api/v1/traces/${tid}`);
	assert.deepEqual(tr.logs.map((l) => l.body), ['no span', 'unknown span']);
	assert.deepEqual(tr.spans[0].logs.map((l) => l.body), ['on the span']);
	// Pages of one through the cursor, newest first, each once.
	const seen = [];
	let cursor = null;
	for (let i = 0; i < 5; i++) {
		const b = await d.apiOk(`/api/v1/logs?trace_id=${tid}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
		seen.push(...b.logs.map((l) => l.body));
		cursor = b.next_cursor;
		if (!cursor) break;
	}
	assert.deepEqual(seen, ['on the span', 'unknown span', 'no span']);
	// Bad parameters.
	for (const qs of ['severity=loud', 'trace_id=xyz', 'span_id=00', 'limit=0', 'cursor=abc', 'bogus=1', 'start=yesterday']) {
		const b = await d.api(`/api/v1/logs?${qs}`);
		assert.equal(b.status, 400, qs);
		assert.equal(b.json.error.code, 'bad_request');
	}
});

// ---- bad input ----------------------------------------------------------------------

test('bad input: /v1/metrics and /v1/logs over HTTP and gRPC store nothing and keep the daemon alive', async () => {
	const before = (await allLogs('service=bad-svc')).length;
	const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]);
	for (const path of ['/v1/metrics', '/v1/logs']) {
		let r = await post(path, garbage);
		assert.equal(r.status, 400, path);
		r = await post(path, '{"resourceLogs": [', { contentType: 'application/json' });
		assert.equal(r.status, 400, path);
		r = await post(path, Buffer.alloc(LIMIT + 1, 0x41));
		assert.equal(r.status, 413, path);
		r = await post(path, garbage, { contentType: 'text/plain' });
		assert.equal(r.status, 415, path);
		r = await post(path, garbage, { method: 'GET' });
		assert.equal(r.status, 405, path);
	}
	// A histogram whose bucket counts do not match its bounds.
	const bad = usageProto('bad-svc', 'gpt-4o-mini', 1, 10, 1, nowNs(), { bounds: [10, 100], counts: [1, 0] });
	let r = await post('/v1/metrics', bad);
	assert.equal(r.status, 400);
	// A log record with a 3-byte span id.
	const badLog = logsJson('bad-svc', [{ spanId: 'abcdef', traceId: newTraceId() }]);
	r = await post('/v1/logs', badLog, { contentType: 'application/json' });
	assert.equal(r.status, 400);
	assert.match(JSON.parse(r.body.toString()).message, /spanId/);

	for (const sig of ['metrics', 'logs']) {
		let g = await oneCall(GRPC[sig], garbage);
		assert.equal(g.grpcStatus, 3, `${sig}: ${g.grpcMessage}`);
		g = await oneCall(GRPC[sig], Buffer.alloc(LIMIT + 1, 0x41));
		assert.equal(g.grpcStatus, 8, sig);
	}
	const g = await oneCall(GRPC.metrics, bad);
	assert.equal(g.grpcStatus, 3);
	assert.equal((await oneCall(GRPC.logs, logsProto('bad-svc', [{ spanId: 'abcd' }]))).grpcStatus, 3);

	assert.equal((await allLogs('service=bad-svc')).length, before);
	const st = await d.apiOk('/api/v1/stats?service=bad-svc');
	assert.deepEqual(st.series, []);
	assert.equal((await d.api('/readyz')).status, 200);
});

// ---- load: many concurrent gRPC streams ------------------------------------------------

test('load: 300 concurrent gRPC streams over 6 connections mixing traces, metrics and logs, all stored once', async () => {
	const N = 300;
	const sessions = Array.from({ length: 6 }, () => connect(d.grpcPort));
	const t = nowNs() - 60000000000n;
	const traceIds = [];
	let metricCalls = 0;
	let logRecords = 0;
	const calls = [];
	for (let i = 0; i < N; i++) {
		const s = sessions[i % sessions.length];
		if (i % 3 === 0) {
			const tid = newTraceId();
			traceIds.push(tid);
			calls.push(call(s, GRPC.traces, frame(toOtlpProto(req1([mkSpan({ traceId: tid, name: `load-${i}` })], { service: 'load-traces' })))));
		} else if (i % 3 === 1) {
			metricCalls += 2;
			calls.push(call(s, GRPC.metrics, frame(usageProto('load-metrics', 'gpt-4o-mini', 2, 100, 10, t))));
		} else {
			const recs = Array.from({ length: 5 }, (_, k) => ({ attrs: { seq: `${i}-${k}` }, time: t + BigInt(i * 10 + k) }));
			logRecords += recs.length;
			calls.push(call(s, GRPC.logs, frame(logsProto('load-logs', recs))));
		}
	}
	const res = await Promise.all(calls);
	for (const s of sessions) s.close();
	assert.deepEqual(res.filter((r) => r.grpcStatus !== 0).map((r) => `${r.grpcStatus} ${r.grpcMessage}`), []);

	const traces = await d.listAll('service=load-traces&limit=1000');
	assert.equal(traces.length, traceIds.length);
	assert.equal(new Set(traces.map((x) => x.trace_id)).size, traceIds.length);
	const logs = await allLogs('service=load-logs&start=0');
	assert.equal(logs.length, logRecords);
	assert.equal(new Set(logs.map((l) => l.attributes.seq)).size, logRecords);
	const st = await d.apiOk(`/api/v1/stats?service=load-metrics&start=${t - 60000000000n}`);
	assert.equal(st.series[0].points[0].calls, metricCalls);
	assert.equal(st.series[0].points[0].input_tokens, metricCalls / 2 * 100);
});

// ---- durability ---------------------------------------------------------------------

test('durability: acknowledged log records are present exactly once after kill -9', async () => {
	const d2 = await Daemon.start();
	try {
		const acked = new Set();
		const sent = [];
		let stop = false;
		const t = nowNs() - 10000000000n;
		const writers = Array.from({ length: 8 }, async (_, w) => {
			for (let b = 0; !stop; b++) {
				const recs = Array.from({ length: 20 }, (_, k) => ({ attrs: { seq: `${w}-${b}-${k}` }, time: t + BigInt(b) }));
				sent.push(...recs.map((x) => x.attrs.seq));
				try {
					const r = await d2.post(logsProto('durable-logs', recs), { path: '/v1/logs' });
					if (r.status === 200) for (const x of recs) acked.add(x.attrs.seq);
				} catch { return; }
			}
		});
		await sleep(700);
		await d2.kill9();
		stop = true;
		await Promise.all(writers);
		assert.ok(acked.size >= 200, `only ${acked.size} acknowledged`);
		await d2.restart();
		const out = [];
		let cursor = null;
		for (;;) {
			const b = await d2.apiOk(`/api/v1/logs?service=durable-logs&start=0&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
			out.push(...b.logs.map((l) => l.attributes.seq));
			if (!b.next_cursor) break;
			cursor = b.next_cursor;
		}
		const counts = new Map();
		for (const s of out) counts.set(s, (counts.get(s) || 0) + 1);
		assert.deepEqual([...counts].filter(([, n]) => n !== 1), [], 'every stored record once');
		assert.deepEqual([...acked].filter((s) => !counts.has(s)), [], 'every acknowledged record present');
	} finally {
		await d2.dispose();
	}
});
