// bad_input.test.mjs - hostile and malformed OTLP/HTTP requests against the real
// daemon: each gets the right status with a body, nothing of it is stored, and the
// daemon keeps serving (/healthz 200, a valid request still accepted afterwards).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import {
	Daemon, PbWriter, pbSpan, req1, mkSpan, toOtlpJson, toOtlpProto, newTraceId, newSpanId, nowNs,
} from './lib.mjs';

const TENANT = 'bad';
let d;
const posted = []; // trace ids sent in rejected requests: none may be stored

before(async () => { d = await Daemon.start(); });
after(async () => {
	const e = await d.stop();
	assert.deepEqual(e, { code: 0, signal: null }, `daemon exit\n${d.log.slice(-3000)}`);
	await d.dispose();
});

async function healthy() {
	const r = await fetch(`${d.apiUrl}/healthz`);
	await r.arrayBuffer();
	assert.equal(r.status, 200, '/healthz after a bad request');
}

// Sends a request that must be refused with `status`; checks body, health, and
// that nothing was stored for the tenant.
async function refused(status, body, opts = {}) {
	const r = await d.post(body, { tenant: TENANT, ...opts });
	assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.body.toString().slice(0, 300)}`);
	assert.ok(r.body.length > 0, 'the refusal has a body');
	if ((opts.contentType || '').startsWith('application/json')) {
		const j = JSON.parse(r.body.toString());
		assert.equal(typeof j.message, 'string', `JSON Status body: ${r.body}`);
	}
	await healthy();
	const list = await d.apiOk('/api/v1/traces', { tenant: TENANT });
	assert.deepEqual(list.traces, [], 'nothing stored');
	return r;
}

// A valid one-span request whose trace id is remembered as "must not exist".
function validSpan() {
	const s = mkSpan({ name: 'valid' });
	posted.push(s.traceId);
	return s;
}

test('garbage bytes as protobuf -> 400', async () => {
	await refused(400, Buffer.from('this is not protobuf at all \xff\xfe', 'latin1'));
	// A length prefix that points far past the end.
	await refused(400, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]));
	// A varint that never ends.
	await refused(400, Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
});

test('truncated valid protobuf -> 400', async () => {
	const buf = toOtlpProto(req1([validSpan(), validSpan()]));
	for (const cut of [1, 5, Math.floor(buf.length / 2)]) await refused(400, buf.subarray(0, buf.length - cut));
});

test('JSON garbage -> 400', async () => {
	const json = { contentType: 'application/json' };
	await refused(400, 'not json at all', json);
	await refused(400, '{"resourceSpans": [', json);
	await refused(400, '{"resourceSpans": "nope"}', json);
	const s = validSpan();
	await refused(400, toOtlpJson(req1([s])).replace(`"${s.traceId}"`, '"zz-not-hex"'), json);
});

test('gzip bomb (1 GiB of zeros in ~1 MB) -> 413', async () => {
	const z = zlib.createGzip({ level: 9, strategy: zlib.constants.Z_RLE });
	const out = [];
	z.on('data', (c) => out.push(c));
	const zeros = Buffer.alloc(1 << 20);
	for (let i = 0; i < 1024; i++) if (!z.write(zeros)) await new Promise((r) => z.once('drain', r));
	z.end();
	await new Promise((r) => z.on('end', r));
	const bomb = Buffer.concat(out);
	assert.ok(bomb.length < 2 << 20);
	await refused(413, bomb, { encoding: 'gzip' });
});

test('100 MB body -> 413 (Content-Length and chunked)', async (t) => {
	const big = Buffer.alloc(100 << 20, 0x41);
	await refused(413, big);
	// Chunked with no Content-Length (as the JS exporters send): the limit still
	// holds and nothing is stored. Known gap: libevent's lingering close drains only
	// the current chunk, so the server may close with unread data and the client
	// then sees a reset instead of the 413 (about 1 run in 4 here). Accept either,
	// and say which happened.
	let r;
	try {
		r = await d.post(big.subarray(0, 40 << 20), { chunked: true, tenant: TENANT });
	} catch (e) {
		t.diagnostic(`chunked 40 MB: connection reset before the 413 could be read (${e.message})`);
	}
	if (r) assert.equal(r.status, 413, r.body.toString());
	await healthy();
	assert.deepEqual((await d.apiOk('/api/v1/traces', { tenant: TENANT })).traces, []);
});

test('deeply nested AnyValue (depth 10000) -> 400', async () => {
	// Innermost value, then wrap it 10000 times in ArrayValue.
	let v = new PbWriter().bytes(1, 'leaf').finish();
	for (let i = 0; i < 10000; i++) {
		const arr = new PbWriter().bytes(1, v).finish();  // ArrayValue.values = [v]
		v = new PbWriter().bytes(5, arr).finish();        // AnyValue.array_value
	}
	const s = validSpan();
	const kv = new PbWriter().bytes(1, 'deep').bytes(2, v).finish();
	const spanBytes = pbSpan(new PbWriter(), s).bytes(9, kv).finish();
	const body = new PbWriter().msg(1, (rs) => rs.msg(2, (ss) => ss.bytes(2, spanBytes))).finish();
	await refused(400, body);
	// The same in OTLP/JSON.
	let j = '{"stringValue":"leaf"}';
	for (let i = 0; i < 10000; i++) j = `{"arrayValue":{"values":[${j}]}}`;
	const s2 = validSpan();
	const js = toOtlpJson(req1([s2])).replace('"attributes":[]', `"attributes":[{"key":"deep","value":${j}}]`);
	assert.ok(js.includes('"deep"'));
	await refused(400, js, { contentType: 'application/json' });
});

test('invalid UTF-8 in protobuf strings -> 400', async () => {
	const bad = (name, attrs) => {
		const s = validSpan();
		const w = new PbWriter();
		w.bytes(1, Buffer.from(s.traceId, 'hex')).bytes(2, Buffer.from(s.spanId, 'hex'));
		w.bytes(5, name).uint(6, 1).fixed64(7, s.start).fixed64(8, s.end);
		for (const [k, v] of attrs) w.msg(9, (kv) => { kv.bytes(1, k); kv.msg(2, (a) => a.bytes(1, v)); });
		return new PbWriter().msg(1, (rs) => rs.msg(2, (ss) => ss.bytes(2, w.finish()))).finish();
	};
	await refused(400, bad(Buffer.from([0x6f, 0xff, 0xfe]), []));                 // span name
	await refused(400, bad('ok', [['k', Buffer.from([0xc0, 0x80])]]));            // overlong NUL in a value
	await refused(400, bad('ok', [[Buffer.from([0xed, 0xa0, 0x80]), 'v']]));      // surrogate in a key
	await refused(400, bad('ok', [['k', Buffer.from([0xe4, 0xb8])]]));            // cut multibyte sequence
});

test('bad ids: 15-byte trace id, 7-byte span id, all-zero ids -> 400', async () => {
	const withIds = (traceId, spanId, parent) => {
		const s = validSpan();
		return toOtlpProto(req1([{ ...s, traceId, spanId, ...(parent ? { parentSpanId: parent } : {}) }]));
	};
	await refused(400, withIds(Buffer.alloc(15, 1), Buffer.alloc(8, 1)));
	await refused(400, withIds(Buffer.alloc(17, 1), Buffer.alloc(8, 1)));
	await refused(400, withIds(Buffer.alloc(16, 1), Buffer.alloc(7, 1)));
	await refused(400, withIds(Buffer.alloc(16, 0), Buffer.alloc(8, 1)));
	await refused(400, withIds(Buffer.alloc(16, 1), Buffer.alloc(8, 0)));
	await refused(400, withIds(Buffer.alloc(16, 1), Buffer.alloc(8, 1), Buffer.alloc(5, 1)));
	// JSON: empty and short hex ids.
	const s = validSpan();
	const j = toOtlpJson(req1([s]));
	await refused(400, j.replace(`"${s.traceId}"`, '""'), { contentType: 'application/json' });
	await refused(400, j.replace(`"${s.spanId}"`, '"abcdef"'), { contentType: 'application/json' });
});

test('wrong method -> 405, wrong content type -> 415, unknown encoding -> 415', async () => {
	const body = toOtlpProto(req1([validSpan()]));
	for (const method of ['GET', 'PUT', 'DELETE']) {
		const r = await d.post(method === 'GET' ? null : body, { method, tenant: TENANT });
		assert.equal(r.status, 405, `${method} /v1/traces -> ${r.status}`);
	}
	await refused(415, body, { contentType: 'text/plain' });
	await refused(415, body, { contentType: null });
	await refused(415, body, { encoding: 'br' });
	await refused(415, body, { encoding: 'compress' });
	await healthy();
});

test('a request mixing valid spans and one bad span is rejected whole', async () => {
	const good1 = validSpan(), good2 = validSpan(), bad = validSpan();
	const body = toOtlpProto({ resourceSpans: [
		{ resource: { attributes: { 'service.name': 'mix' } }, scopeSpans: [{ spans: [good1, good2] }] },
		{ resource: { attributes: { 'service.name': 'mix' } }, scopeSpans: [{ spans: [{ ...bad, spanId: Buffer.alloc(8, 0) }] }] },
	] });
	await refused(400, body);
	const jbody = toOtlpJson(req1([good1, good2, { ...bad, traceId: 'abc' }]));
	await refused(400, jbody, { contentType: 'application/json' });
});

test('nothing from any rejected request was stored; a valid request still works', async () => {
	for (const id of posted) {
		const r = await d.trace(id, { tenant: TENANT });
		assert.equal(r.status, 404, `trace ${id} from a rejected request is absent`);
	}
	const s = mkSpan({ name: 'after' });
	const r = await d.post(toOtlpProto(req1([s])), { tenant: TENANT });
	assert.equal(r.status, 200, r.body.toString());
	assert.equal((await d.trace(s.traceId, { tenant: TENANT })).status, 200);
	// A gzip body that is fine is accepted too.
	const s2 = mkSpan({ name: 'gz' });
	const r2 = await d.post(zlib.gzipSync(toOtlpProto(req1([s2]))), { tenant: TENANT, encoding: 'gzip' });
	assert.equal(r2.status, 200, r2.body.toString());
	assert.equal((await d.trace(s2.traceId, { tenant: TENANT })).status, 200);
});

test('over the memory budget -> 429 with Retry-After', async () => {
	const small = await Daemon.start({ args: ['--server.memory_budget=64KiB'] });
	try {
		const spans = [];
		const traceId = newTraceId();
		for (let i = 0; i < 300; i++) spans.push(mkSpan({ traceId, spanId: newSpanId(), start: nowNs(), attributes: { pad: 'x'.repeat(600), i } }));
		const body = toOtlpProto(req1(spans));
		assert.ok(body.length > 150000);
		const r = await small.post(body);
		assert.equal(r.status, 429, `${r.status}: ${r.body.toString().slice(0, 200)}`);
		assert.ok(r.headers['retry-after'], 'Retry-After header');
		assert.match(r.headers['retry-after'], /^\d+$/);
		assert.ok(r.body.length > 0);
		assert.equal((await small.trace(traceId)).status, 404);
		const h = await fetch(`${small.apiUrl}/healthz`);
		assert.equal(h.status, 200);
		// A small request fits.
		const one = mkSpan();
		assert.equal((await small.post(toOtlpProto(req1([one])))).status, 200);
	} finally {
		const e = await small.stop();
		await small.dispose();
		assert.deepEqual(e, { code: 0, signal: null });
	}
});
