// trace_propagation.test.mjs - one run is one trace (issue 4, part 2). Runs the
// prebuilt C programs of tests/integration/trace-propagation/ (built with the
// SDK by `make trace-propagation` into build/trace-propagation/) against a real
// daemon: an orchestrator runs 100 tasks concurrently, each spawning a worker
// process that receives the context over a pipe as a W3C traceparent; one worker
// is SIGKILLed mid-task and restarted with the same context. Then, through the
// query API only: every task is one trace with the run's deterministic id,
// exactly one root, the expected span tree (README.md), no orphan spans, and the
// restarted worker's spans in the same trace.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BIN, Daemon, sleep } from './lib.mjs';

const DIR = process.env.TL_PROPAGATION_DIR || join(dirname(BIN), 'trace-propagation');
const ORCH = join(DIR, 'orchestrator');
const WORKER = join(DIR, 'worker');
const TASKS = 100;
const VICTIM = 42;
const SPANS_PER_TASK = 7;

let d;
before(async () => { d = await Daemon.start(); });
after(async () => {
	const e = await d.stop();
	assert.deepEqual(e, { code: 0, signal: null }, `daemon exit\n${d.log.slice(-3000)}`);
	await d.dispose();
});

// tl_trace_id_for_run: the first 16 bytes of SHA-256("tracelamp.run.v1" 0 tenant 0 run_id).
const runTraceId = (tenant, run) => createHash('sha256').update(`tracelamp.run.v1\0${tenant}\0${run}`).digest().subarray(0, 16).toString('hex');

function runOrchestrator(env) {
	return new Promise((resolve) => {
		const p = spawn(ORCH, ['--worker', WORKER, '--tasks', String(TASKS), '--kill', String(VICTIM)], {
			env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
		});
		let stdout = '', stderr = '';
		p.stdout.on('data', (b) => { stdout += b; });
		p.stderr.on('data', (b) => { stderr += b; });
		const t = setTimeout(() => p.kill('SIGKILL'), 40000);
		p.on('exit', (status, signal) => { clearTimeout(t); resolve({ status, signal, stdout, stderr }); });
	});
}

test('100 concurrent tasks through orchestrator and worker processes: one run, one trace', { timeout: 60000 }, async () => {
	assert.ok(existsSync(ORCH) && existsSync(WORKER), `${ORCH} and ${WORKER} missing: run \`make trace-propagation\``);
	const r = await runOrchestrator({
		OTEL_EXPORTER_OTLP_ENDPOINT: d.otlpUrl,
		OTEL_SERVICE_NAME: 'prop-orchestrator',
		OTEL_BSP_SCHEDULE_DELAY: '100',
	});
	assert.equal(r.status, 0, `orchestrator failed\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
	assert.match(r.stdout, new RegExp(`orchestrator: ${TASKS} tasks ok`));

	// what the orchestrator says it did: each task in its run's trace
	const tasks = new Map();
	for (const m of r.stdout.matchAll(/^task (task-\d{3}) trace ([0-9a-f]{32}) attempts (\d)$/gm)) tasks.set(m[1], { trace: m[2], attempts: Number(m[3]) });
	assert.equal(tasks.size, TASKS);
	const victim = `task-${String(VICTIM).padStart(3, '0')}`;
	for (const [run, t] of tasks) {
		assert.equal(t.trace, runTraceId('default', run), `${run}: trace id is the run's deterministic id`);
		assert.equal(t.attempts, run === victim ? 2 : 1, run);
	}

	// wait until the daemon has all of it (exporters have shut down, so it was sent)
	let listed = [];
	const deadline = Date.now() + 20000;
	while (Date.now() < deadline) {
		listed = await d.listAll('limit=1000');
		if (listed.length >= TASKS && listed.every((s) => s.span_count >= SPANS_PER_TASK)) break;
		await sleep(100);
	}
	assert.equal(listed.length, TASKS, 'one trace per task, and no other trace');
	const byTrace = new Map(listed.map((s) => [s.trace_id, s]));
	for (const [run, t] of tasks) {
		const s = byTrace.get(t.trace);
		assert.ok(s, `${run}: trace ${t.trace} listed`);
		assert.equal(s.span_count, SPANS_PER_TASK, `${run}: span_count`);
		assert.equal(s.has_root, true, run);
		assert.equal(s.run_id, run);
		assert.equal(s.llm_calls, 2, run);
		assert.equal(s.input_tokens, 250, run);
		assert.equal(s.output_tokens, 50, run);
		assert.equal(s.error_count, 0, run);
	}

	// every trace, span by span
	for (const [run, t] of tasks) {
		const tr = await d.apiOk(`/api/v1/traces/${t.trace}`);
		const spans = tr.spans;
		assert.equal(spans.length, SPANS_PER_TASK, run);
		const ids = new Set(spans.map((s) => s.span_id));
		assert.equal(ids.size, spans.length, `${run}: span ids unique`);
		const roots = spans.filter((s) => s.parent_span_id === null);
		assert.equal(roots.length, 1, `${run}: exactly one root`);
		for (const s of spans) {
			assert.equal(s.trace_id, t.trace);
			if (s.parent_span_id !== null) assert.ok(ids.has(s.parent_span_id), `${run}: ${s.name} is an orphan`);
			assert.equal(s.run_id, run, `${run}: ${s.name} carries the run`);
		}
		const one = (name) => {
			const m = spans.filter((s) => s.name === name);
			assert.equal(m.length, 1, `${run}: one "${name}" (got ${m.length})`);
			return m[0];
		};
		const root = one('invoke_agent orchestrator');
		const dispatch = one(`dispatch ${run}`);
		const collect = one(`collect ${run}`);
		const worker = one(`worker.task ${run}`);
		const tool = one('execute_tool lookup');
		const chats = spans.filter((s) => s.name === 'chat gpt-4o-mini');
		assert.equal(root, roots[0]);
		assert.equal(root.service, 'prop-orchestrator');
		assert.equal(root.genai.operation, 'invoke_agent');
		assert.equal(dispatch.parent_span_id, root.span_id);
		assert.equal(dispatch.kind, 'producer');
		assert.equal(collect.parent_span_id, root.span_id);
		assert.equal(worker.parent_span_id, dispatch.span_id, `${run}: the worker joined through the traceparent`);
		assert.equal(worker.kind, 'server');
		assert.equal(worker.service, 'prop-worker');
		assert.equal(tool.parent_span_id, worker.span_id);
		assert.equal(chats.length, 2, run);
		for (const c of chats) {
			assert.equal(c.parent_span_id, worker.span_id);
			assert.equal(c.service, 'prop-worker');
			assert.equal(c.genai.provider, 'openai');
		}
		assert.deepEqual(chats.map((c) => c.genai.input_tokens).sort(), [100, 150]);
		// the orchestrator's spans enclose the worker's (same host clock)
		assert.ok(BigInt(worker.start_unix_nano) >= BigInt(dispatch.start_unix_nano), `${run}: worker starts inside dispatch`);
		assert.ok(BigInt(worker.end_unix_nano) <= BigInt(dispatch.end_unix_nano), `${run}: worker ends inside dispatch`);

		if (run === victim) {
			// killed mid-task: the event on the dispatch span names the dead pid; the
			// only worker span is the restarted one, in the same trace
			const killed = dispatch.events.filter((e) => e.name === 'worker killed');
			assert.equal(killed.length, 1, 'one kill recorded');
			assert.equal(worker.attributes['worker.attempt'], 2);
			assert.notEqual(worker.attributes['worker.pid'], killed[0].attributes['worker.pid']);
			assert.equal(dispatch.attributes['worker.attempts'], 2);
			assert.equal(worker.step, 2);
		} else {
			assert.equal(dispatch.events.length, 0, run);
			assert.equal(worker.attributes['worker.attempt'], 1, run);
		}
	}

	// and the daemon's own integrity check agrees
	const integ = await d.apiOk('/api/v1/integrity');
	assert.equal(integ.traces_scanned, TASKS);
	assert.equal(integ.spans_scanned, TASKS * SPANS_PER_TASK);
	assert.equal(integ.issues, 0, JSON.stringify(integ));
});
