// ui.test.mjs - end-to-end tests of the web UI in headless Debian chromium (driven by
// playwright-core) against the real tracelamp daemon: empty state, live runs list,
// health badges, model filter kept in the URL, trace waterfall and chat transcript,
// sessions, dashboard range switch, keyboard use, themes, narrow window, speed.
// Screenshots go to tests/e2e/artifacts/ (and docs/ui/ with TRACELAMP_E2E_DOCS=1),
// each checked for non-blank content.
//
// Run: cd tests/e2e && npm ci && npm test   (needs build/tracelamp and web/node_modules)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startDaemon, daemonServesUi, startDevServer, sendDemoData, sendBigTrace, sendSpans, hex } from './lib.mjs';

const HERE = new URL('.', import.meta.url).pathname;
const ARTIFACTS = join(HERE, 'artifacts');
const DOCS = join(HERE, '../../docs/ui');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let daemon, dev, ctx, page, base, profile, ids, mode;

before(async () => {
	mkdirSync(ARTIFACTS, { recursive: true });
	daemon = await startDaemon();
	if (await daemonServesUi(daemon.apiUrl)) {
		base = daemon.apiUrl;
		mode = 'embedded';
	} else {
		if (process.env.TRACELAMP_E2E_REQUIRE_EMBEDDED === '1') throw new Error('the daemon does not serve the UI at /');
		dev = await startDevServer(daemon.apiUrl);
		base = dev.url;
		mode = 'dev-server (daemon does not embed the UI yet)';
	}
	console.log(`# UI served by: ${mode} at ${base}`);
	profile = mkdtempSync(join(tmpdir(), 'tracelamp-chromium-'));
	ctx = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
			'--disable-component-update', '--disable-sync'],
		viewport: { width: 1280, height: 800 },
		colorScheme: 'light',
	});
	page = ctx.pages()[0] || await ctx.newPage();
	page.setDefaultTimeout(10000);
	page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
});

after(async () => {
	if (ctx) await ctx.close();
	if (profile) rmSync(profile, { recursive: true, force: true });
	if (dev) await dev.close();
	if (daemon) await daemon.stop();
});

// Saves a screenshot and asserts it is not blank: many distinct colours and no single
// colour covering almost everything.
async function shot(name) {
	const file = join(ARTIFACTS, `${name}.png`);
	const buf = await page.screenshot({ path: file });
	const stats = await pixelStats(buf);
	assert.ok(stats.colors > 40, `${name}: only ${stats.colors} distinct colours`);
	assert.ok(stats.top < 0.97, `${name}: one colour covers ${(stats.top * 100).toFixed(1)}%`);
	if (process.env.TRACELAMP_E2E_DOCS === '1') { mkdirSync(DOCS, { recursive: true }); copyFileSync(file, join(DOCS, `${name}.png`)); }
	return file;
}

async function pixelStats(png) {
	const p = await ctx.newPage();
	try {
		return await p.evaluate(async (b64) => {
			const img = new Image();
			img.src = `data:image/png;base64,${b64}`;
			await img.decode();
			const c = document.createElement('canvas');
			c.width = img.width; c.height = img.height;
			const g = c.getContext('2d');
			g.drawImage(img, 0, 0);
			const d = g.getImageData(0, 0, c.width, c.height).data;
			const counts = new Map();
			for (let i = 0; i < d.length; i += 16) { // every 4th pixel
				const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
				counts.set(k, (counts.get(k) || 0) + 1);
			}
			const n = d.length / 16;
			return { colors: counts.size, top: Math.max(...counts.values()) / n };
		}, png.toString('base64'));
	} finally { await p.close(); }
}

const rows = () => page.locator('.runs-scroll .row');

test('empty state tells a new user how to send data', async () => {
	await page.goto(`${base}/`);
	const empty = page.locator('#empty-state');
	await empty.waitFor();
	const text = await empty.innerText();
	for (const s of ['OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318', 'OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf',
		'CLAUDE_CODE_ENABLE_TELEMETRY=1', 'OTEL_TRACES_EXPORTER=otlp', 'OTEL_LOGS_EXPORTER=otlp', 'OTEL_METRICS_EXPORTER=otlp', 'tracelamp bench'])
		assert.ok(text.includes(s), `empty state lacks ${s}`);
	await shot('01-empty-state');
});

test('runs list fills in live when demo data arrives over OTLP', async () => {
	ids = await sendDemoData(daemon.otlpUrl);
	// No reload: the list polls and must pick the runs up by itself.
	await page.locator(`.row[data-trace-id="${ids.fail}"]`).waitFor();
	await page.waitForFunction((n) => document.querySelectorAll('.runs-scroll .row').length >= n, ids.total);
	assert.equal(await page.locator('#empty-state').count(), 0);
	// newest first
	const first = await rows().first().getAttribute('data-trace-id');
	assert.equal(first, ids.chat, 'the newest run (weather) is on top');
	const hdr = await page.locator('.runs-head').innerText();
	for (const col of ['Time', 'Root name', 'Duration', 'Tokens', 'Cost', 'Health']) assert.ok(hdr.includes(col), `column ${col}`);
	await shot('02-runs-list');
});

test('a failing run and a slow run are flagged without opening them', async () => {
	const fail = page.locator(`.row[data-trace-id="${ids.fail}"]`);
	assert.match(await fail.getAttribute('data-health'), /\berror\b/);
	assert.equal(await fail.locator('.badge-error').count(), 1);
	assert.ok((await fail.getAttribute('class')).includes('health-error'));
	const slow = page.locator(`.row[data-trace-id="${ids.slow}"]`);
	assert.match(await slow.getAttribute('data-health'), /\bslow\b/);
	const ok = page.locator(`.row[data-trace-id="${ids.healthy[5]}"]`);
	assert.equal(await ok.getAttribute('data-health'), 'ok');
	assert.equal(await ok.locator('.badge-ok').count(), 1);
});

test('filter by model narrows the list and is kept in the URL', async () => {
	await page.fill('#f-model', 'claude-sonnet-4-5');
	await page.press('#f-model', 'Enter');
	await page.waitForFunction(() => location.hash.includes('model=claude-sonnet-4-5'));
	await page.waitForFunction(() => document.querySelectorAll('.runs-scroll .row').length === 3);
	const got = (await rows().evaluateAll((els) => els.map((e) => e.dataset.traceId))).sort();
	assert.deepEqual(got, [...ids.claude].sort());
	for (const t of await rows().locator('.c-models').allInnerTexts()) assert.ok(t.includes('claude-sonnet-4-5'));
	// A reload restores the filter from the URL.
	await page.reload();
	await page.waitForFunction(() => document.querySelectorAll('.runs-scroll .row').length === 3);
	assert.equal(await page.inputValue('#f-model'), 'claude-sonnet-4-5');
	await shot('03-runs-filtered-by-model');
	// Status filter from the URL too.
	await page.goto(`${base}/#/?status=error`);
	await page.waitForFunction((id) => {
		const r = document.querySelectorAll('.runs-scroll .row');
		return r.length === 1 && r[0].dataset.traceId === id;
	}, ids.fail);
	assert.equal(await page.inputValue('#f-status'), 'error');
});

test('trace view: waterfall and the chat transcript of an LLM call', async () => {
	await page.goto(`${base}/#/`);
	await page.locator(`.row[data-trace-id="${ids.chat}"]`).click();
	await page.locator('.view.trace[data-ready="true"]').waitFor();
	assert.equal(await page.locator('.wf-row').count(), 4);
	// The last chat span carries gen_ai.input.messages / gen_ai.output.messages.
	await page.locator('.wf-row', { hasText: 'chat gpt-4o' }).last().click();
	const tr = page.locator('.transcript');
	await tr.waitFor();
	const text = await tr.innerText();
	assert.match(text, /You are a weather assistant/);
	assert.match(text, /What's the weather in Paris\?/);
	assert.match(text, /get_weather/);
	assert.match(text, /rainy, 14°C/);
	assert.match(text, /It is rainy in Paris right now/);
	const roles = await tr.locator('.msg .role').allInnerTexts();
	assert.deepEqual(roles.map((r) => r.toLowerCase()), ['system', 'user', 'assistant', 'tool', 'assistant']);
	assert.equal(await tr.locator('.tool-call').count(), 1);
	assert.equal(await tr.locator('.tool-result').count(), 1);
	const genai = await page.locator('.sect.genai').innerText();
	assert.match(genai, /input tokens\s+1,200/);
	assert.match(genai, /cache read\s+400/);
	assert.match(await page.locator('.detail').innerText(), /attributes \(\d+\)/i);
	assert.match(await page.evaluate(() => location.hash), /span=[0-9a-f]{16}/);
	await shot('04-trace-transcript');
	// The first chat span uses the older indexed form gen_ai.prompt.N / gen_ai.completion.N.
	await page.locator('.wf-row', { hasText: 'chat gpt-4o' }).first().click();
	await page.waitForFunction(() => /gen_ai\.prompt\.N/.test(document.querySelector('.transcript')?.textContent || ''));
	assert.match(await page.locator('.transcript').innerText(), /What's the weather in Paris\?/);
});

test('trace view highlights the failing span', async () => {
	await page.goto(`${base}/#/trace/${ids.fail}`);
	await page.locator('.view.trace[data-ready="true"]').waitFor();
	assert.equal(await page.locator('.wf-row.err').count(), 2); // the tool span and the root
	// The first error span is selected on open and its status message shown.
	await page.locator('.detail', { hasText: 'agent gave up' }).waitFor();
	await page.locator('.error-banner a', { hasText: 'refund_payment' }).click();
	await page.locator('.detail', { hasText: 'payment API timed out' }).waitFor();
	await shot('05-trace-error');
});

test('keyboard: arrows and Enter open a run; arrows walk the waterfall', async () => {
	await page.goto(`${base}/#/`);
	await rows().first().waitFor();
	await page.focus('.runs-scroll');
	await page.keyboard.press('ArrowDown');
	await page.keyboard.press('Enter');
	await page.waitForFunction(() => location.hash.startsWith('#/trace/'));
	await page.locator('.view.trace[data-ready="true"]').waitFor();
	await page.focus('.wf-scroll');
	const before = await page.locator('.wf-row.selected').getAttribute('data-span-id');
	await page.keyboard.press('ArrowDown');
	await page.waitForFunction((b) => document.querySelector('.wf-row.selected')?.dataset.spanId !== b, before);
	// Collapse the root: only one row stays.
	await page.keyboard.press('Home');
	await page.keyboard.press('ArrowLeft');
	await page.waitForFunction(() => document.querySelectorAll('.wf-row').length === 1);
	await page.keyboard.press('ArrowRight');
	await page.waitForFunction(() => document.querySelectorAll('.wf-row').length > 1);
});

test('sessions group traces by conversation and by run, with a timeline', async () => {
	await page.goto(`${base}/#/sessions`);
	const alpha = page.locator('.group[data-key="sess-alpha"]');
	await alpha.waitFor();
	assert.ok((await alpha.getAttribute('class')).includes('has-error'));
	assert.equal(await alpha.locator('.seg').count(), 5); // 4 healthy + the failing run
	assert.equal(await alpha.locator('.seg.health-error').count(), 1);
	assert.match(await alpha.innerText(), /5 runs/);
	await shot('06-sessions');
	await page.selectOption('#s-group', 'run');
	await page.waitForFunction(() => location.hash.includes('group=run'));
	await page.locator('.group[data-key="run-support-fail"]').waitFor();
});

test('dashboard shows stats and switches the time range', async () => {
	await page.goto(`${base}/#/dashboard`);
	await page.locator('.view.dashboard[data-ready="true"]').waitFor();
	assert.equal(await page.locator('.chart').count(), 6);
	assert.ok(await page.locator('.chart canvas').count() >= 6);
	const kpi = await page.locator('.kpis').innerText();
	assert.doesNotMatch(kpi, /LLM CALLS\s+0\b/i);
	assert.match(await page.locator('.stats-table').innerText(), /claude-sonnet-4-5/);
	await page.selectOption('#d-range', '24h');
	await page.waitForFunction(() => location.hash.includes('range=24h'));
	await page.locator('.view.dashboard[data-ready="true"][data-range="24h"]').waitFor();
	assert.match(await page.locator('.view.dashboard .statusline').innerText(), /24 hours · 15m buckets/);
	await page.selectOption('#d-group', 'provider');
	await page.waitForFunction(() => /Split by provider|split by provider/.test(document.querySelector('.view.dashboard .statusline').innerText));
	await page.locator('.stats-table', { hasText: 'anthropic' }).waitFor();
	await shot('07-dashboard');
});

test('dark theme and a narrow window', async () => {
	await page.goto(`${base}/#/trace/${ids.chat}`);
	await page.locator('.view.trace[data-ready="true"]').waitFor();
	await page.click('#theme-toggle');
	assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
	await page.locator('.wf-row', { hasText: 'chat gpt-4o' }).last().click();
	await page.locator('.transcript').waitFor();
	await shot('08-trace-dark');
	await page.setViewportSize({ width: 420, height: 800 });
	await page.goto(`${base}/#/`);
	await rows().first().waitFor();
	const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
	assert.ok(overflow <= 1, `page scrolls sideways by ${overflow}px at 420px`);
	await shot('09-runs-narrow-dark');
	await page.click('#theme-toggle'); // back to light for later runs
	await page.setViewportSize({ width: 1280, height: 800 });
});

test('speed: first paint, a 5,000-span trace, bounded DOM over many runs', async () => {
	// First paint of a fresh load, in a new tab; the median of three loads so that a
	// busy machine does not decide the result.
	const paints = [];
	for (let i = 0; i < 3; i++) {
		const p = await ctx.newPage();
		await p.goto(`${base}/`);
		paints.push(await p.evaluate(() => new Promise((resolve) => {
			const e = performance.getEntriesByName('first-contentful-paint')[0];
			if (e) return resolve(e.startTime);
			new PerformanceObserver((l) => resolve(l.getEntries()[0].startTime)).observe({ type: 'paint', buffered: true });
		})));
		await p.close();
	}
	const fcp = paints.sort((a, b) => a - b)[1];
	console.log(`# first contentful paint: ${paints.map((x) => x.toFixed(0)).join(', ')} ms (median ${fcp.toFixed(0)})`);
	assert.ok(fcp < 300, `first paint took ${fcp} ms`);

	// A trace of 5,000 spans opens in under a second (fetch + tree + first render).
	const big = await sendBigTrace(daemon.otlpUrl, 5000);
	await page.goto(`${base}/`);
	await rows().first().waitFor();
	const ms = await page.evaluate(async (id) => {
		const t0 = performance.now();
		location.hash = `#/trace/${id}`;
		await new Promise((resolve) => {
			const chk = () => (document.querySelector('.view.trace[data-ready="true"] .wf-row') ? resolve() : requestAnimationFrame(chk));
			chk();
		});
		await new Promise((r) => requestAnimationFrame(() => r()));
		return performance.now() - t0;
	}, big);
	console.log(`# 5000-span trace opened in ${ms.toFixed(0)} ms`);
	assert.ok(ms < 1000, `5000-span trace took ${ms} ms`);
	assert.equal(await page.locator('.wf-axis-name').innerText(), '5000 spans');
	assert.ok(await page.locator('.wf-row').count() < 120, 'waterfall rows are virtualised');
	assert.equal(await page.locator('.wf-row.err').count() >= 0, true);
	await shot('10-trace-5000-spans');

	// 1,500 more runs: scroll to load pages by cursor; the DOM stays bounded.
	const t0 = Date.now() - 200000;
	const spans = [];
	for (let i = 0; i < 1500; i++) spans.push({ traceId: hex(16), spanId: hex(8), name: `batch job ${i % 7}`, start: t0 + i * 10, end: t0 + i * 10 + 50 + (i % 13) * 10 });
	for (let i = 0; i < spans.length; i += 500) await sendSpans(daemon.otlpUrl, 'batch-svc', spans.slice(i, i + 500));
	await page.goto(`${base}/#/?service=batch-svc`);
	await rows().first().waitFor();
	for (let i = 0; i < 40; i++) {
		const loaded = await page.evaluate(() => {
			const s = document.querySelector('.runs-scroll');
			s.scrollTop = s.scrollHeight;
			return Number(s.getAttribute('aria-rowcount'));
		});
		if (loaded >= 1500) break;
		await page.waitForFunction((n) => Number(document.querySelector('.runs-scroll').getAttribute('aria-rowcount')) > n
			|| /end of list/.test(document.querySelector('.runs .statusline').textContent), loaded);
	}
	assert.equal(Number(await page.getAttribute('.runs-scroll', 'aria-rowcount')), 1500);
	const domRows = await rows().count();
	assert.ok(domRows < 80, `${domRows} row elements for 1500 runs`);
	await page.locator('.runs .statusline', { hasText: 'end of list' }).waitFor();
});

test('the daemon serves the UI with gzip, ETags and cache headers', async (t) => {
	if (mode !== 'embedded') { t.skip('the daemon does not embed the UI yet'); return; }
	const r = await fetch(`${daemon.apiUrl}/`, { headers: { 'Accept-Encoding': 'gzip' } });
	const html = await r.text();
	assert.equal(r.status, 200);
	assert.equal(r.headers.get('content-encoding'), 'gzip');
	assert.equal(r.headers.get('cache-control'), 'no-cache');
	const asset = /\/assets\/[0-9a-f]+\/app\.js/.exec(html)[0];
	const a = await fetch(`${daemon.apiUrl}${asset}`, { headers: { 'Accept-Encoding': 'identity' } });
	const body = await a.text();
	assert.equal(a.status, 200);
	assert.equal(a.headers.get('content-encoding'), null);
	assert.match(a.headers.get('content-type'), /javascript/);
	assert.match(a.headers.get('cache-control'), /immutable/);
	assert.ok(body.includes('hashchange'));
	const nm = await fetch(`${daemon.apiUrl}${asset}`, { headers: { 'If-None-Match': a.headers.get('etag') } });
	assert.equal(nm.status, 304);
	const route = await fetch(`${daemon.apiUrl}/trace/whatever`);
	assert.equal(route.status, 200);
	assert.match(await route.text(), /<!doctype html>/i);
	assert.equal((await fetch(`${daemon.apiUrl}/assets/0000/nope.js`)).status, 404);
	assert.equal((await fetch(`${daemon.apiUrl}/api/v1/nope`)).status, 404);
});
