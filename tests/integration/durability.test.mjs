// durability.test.mjs - "2xx means durable": concurrent senders post batches flat
// out, the daemon is killed with SIGKILL at a random moment, restarted on the same
// data dir, and every span of every acknowledged request must be there exactly
// once. Also: a SIGTERM drain exits 0 and keeps what was acknowledged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Daemon, freshDataDir, removeDir, req1, toOtlpProto, newTraceId, newSpanId, nowNs, sleep } from './lib.mjs';

const TRACES_PER_REQ = 5;
const SPANS_PER_TRACE = 8;

// One request: TRACES_PER_REQ fresh traces of SPANS_PER_TRACE spans each.
function makeBatch(tag) {
	const traces = [];
	const spans = [];
	const t0 = nowNs();
	for (let t = 0; t < TRACES_PER_REQ; t++) {
		const traceId = newTraceId();
		const rootId = newSpanId();
		const ids = [rootId];
		spans.push({ traceId, spanId: rootId, name: `run ${tag}`, kind: 1, start: t0, end: t0 + 9000000n, attributes: { 'tracelamp.run.id': tag } });
		for (let i = 1; i < SPANS_PER_TRACE; i++) {
			const id = newSpanId();
			ids.push(id);
			spans.push({ traceId, spanId: id, parentSpanId: rootId, name: `chat gpt-4o-mini`, kind: 3, start: t0 + BigInt(i), end: t0 + 5000000n,
				attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
					'gen_ai.usage.input_tokens': 100 + i, 'gen_ai.usage.output_tokens': 10 + i } });
		}
		traces.push({ traceId, ids: ids.sort() });
	}
	return { traces, body: toOtlpProto(req1(spans, { service: 'durability' })) };
}

// POST over a keep-alive agent; resolves the status code or null on a transport error.
function post(agent, port, body) {
	return new Promise((resolve) => {
		const req = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent,
			headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length } }, (res) => {
			res.on('data', () => {});
			res.on('end', () => resolve(res.statusCode));
			res.on('error', () => resolve(null));
		});
		req.on('error', () => resolve(null));
		req.end(body);
	});
}

// Runs `senders` loops posting batches until stop() or a transport error; returns
// { acked: [batch], unacked: [batch], stop }.
function startSenders(d, senders, tag) {
	const state = { acked: [], unacked: [], other: 0, stopped: false };
	const agent = new http.Agent({ keepAlive: true, maxSockets: senders });
	const port = d.otlpPort;
	const loops = [];
	for (let s = 0; s < senders; s++) {
		loops.push((async () => {
			while (!state.stopped) {
				const b = makeBatch(tag);
				const st = await post(agent, port, b.body);
				if (st === 200) state.acked.push(b);
				else if (st === null) { state.unacked.push(b); return; }
				else { state.unacked.push(b); state.other++; await sleep(5); }
			}
		})());
	}
	state.done = Promise.all(loops).then(() => agent.destroy());
	state.stop = async () => { state.stopped = true; await state.done; };
	return state;
}

// Runs fn over items with limited concurrency.
async function pool(items, n, fn) {
	let i = 0;
	await Promise.all(Array.from({ length: n }, async () => {
		while (i < items.length) { const k = i++; await fn(items[k], k); }
	}));
}

// Asserts every trace of every batch is present with exactly its span ids.
async function assertPresent(d, batches, what) {
	const traces = batches.flatMap((b) => b.traces);
	let spans = 0;
	const problems = [];
	await pool(traces, 8, async (t) => {
		const r = await d.trace(t.traceId);
		if (r.status !== 200) { problems.push(`${t.traceId}: ${r.status}`); return; }
		const got = r.json.spans.map((s) => s.span_id).sort();
		if (JSON.stringify(got) !== JSON.stringify(t.ids)) problems.push(`${t.traceId}: ${got.length} spans, want ${t.ids.length}`);
		if (r.json.summary.span_count !== t.ids.length) problems.push(`${t.traceId}: span_count ${r.json.summary.span_count}`);
		spans += got.length;
	});
	assert.deepEqual(problems.slice(0, 10), [], `${what}: ${problems.length} traces wrong`);
	assert.equal(spans, traces.length * SPANS_PER_TRACE, `${what}: total acknowledged spans`);
}

// A request that was in flight at the crash is all or nothing.
async function assertAtomic(d, batches) {
	for (const b of batches) {
		const present = [];
		for (const t of b.traces) {
			const r = await d.trace(t.traceId);
			present.push(r.status === 200 ? r.json.spans.length : 0);
		}
		const total = present.reduce((a, x) => a + x, 0);
		assert.ok(total === 0 || present.every((n) => n === SPANS_PER_TRACE), `unacknowledged request partly stored: ${present}`);
	}
}

test('kill -9 mid-ingest loses no acknowledged span (3 crashes)', async (t) => {
	const dir = freshDataDir('crash');
	const d = await Daemon.start({ dataDir: dir });
	const acked = [];
	try {
		const killAfter = [700 + Math.random() * 800, 1200 + Math.random() * 1200, 300 + Math.random() * 400];
		for (let round = 0; round < killAfter.length; round++) {
			if (round > 0) await d.restart();
			const st = startSenders(d, 4, `crash-${round}`);
			await sleep(killAfter[round]);
			const before = st.acked.length;
			await d.kill9();
			await st.stop();
			assert.ok(before > 5, `round ${round}: only ${before} requests acknowledged before the kill`);
			assert.equal(st.other, 0, `round ${round}: unexpected non-200 statuses`);
			acked.push(...st.acked);
			await d.restart();
			await assertPresent(d, acked, `after crash ${round + 1} (${st.acked.length} requests acked this round, killed at ${Math.round(killAfter[round])} ms)`);
			await assertAtomic(d, st.unacked);
			t.diagnostic(`crash ${round + 1} at ${Math.round(killAfter[round])} ms: ${st.acked.length} requests acknowledged (${st.acked.length * TRACES_PER_REQ * SPANS_PER_TRACE} spans), ${st.unacked.length} in flight`);
			const list = await d.apiOk('/api/v1/traces?run=crash-' + round + '&limit=1');
			assert.equal(list.traces.length, 1, 'the list sees the replayed traces');
		}
		const e = await d.stop();
		assert.deepEqual(e, { code: 0, signal: null });
	} finally {
		await d.dispose();
		removeDir(dir);
	}
});

test('SIGTERM drains: exit 0 and acknowledged spans are present after restart', async () => {
	const dir = freshDataDir('drain');
	const d = await Daemon.start({ dataDir: dir });
	try {
		// One request acknowledged just before SIGTERM.
		const agent = new http.Agent({ keepAlive: false });
		const last = makeBatch('drain-last');
		const st = startSenders(d, 3, 'drain');
		await sleep(500);
		assert.equal(await post(agent, d.otlpPort, last.body), 200);
		const e = await d.stop();
		await st.stop();
		assert.deepEqual(e, { code: 0, signal: null }, `exit after SIGTERM\n${d.log.slice(-2000)}`);
		await d.restart();
		await assertPresent(d, [last, ...st.acked], 'after SIGTERM');
		await assertAtomic(d, st.unacked);
		const e2 = await d.stop();
		assert.deepEqual(e2, { code: 0, signal: null });
	} finally {
		await d.dispose();
		removeDir(dir);
	}
});
