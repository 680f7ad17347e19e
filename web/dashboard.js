// dashboard.js - LLM usage over time from GET /api/v1/stats: tokens by kind, cost,
// calls, error rate and latency p50/p95/p99, split by model, provider, service, agent
// or operation, with a time range picker. Charts are uPlot (loaded on first use).

import { getStats } from './api.js';
import { h, fmtCost, fmtNum, fmtInt, nsToMs, buildHash, replaceHash, RANGES, rangeSeconds } from './util.js';

// Bucket width per range: 60-120 points per chart.
const STEPS = { '15m': '1m', '1h': '1m', '6h': '5m', '24h': '15m', '7d': '2h', '30d': '6h' };
const GROUPS = ['model', 'provider', 'service', 'agent', 'operation'];
const MAX_SERIES = 8;
const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16', '#a3a3a3'];

let uplotPromise = null;
function loadUplot() {
	if (window.uPlot) return Promise.resolve(window.uPlot);
	if (!uplotPromise) {
		uplotPromise = new Promise((resolve, reject) => {
			const css = document.createElement('link');
			css.rel = 'stylesheet';
			css.href = new URL('./vendor/uPlot.min.css', import.meta.url).href;
			document.head.appendChild(css);
			const s = document.createElement('script');
			s.src = new URL('./vendor/uPlot.iife.min.js', import.meta.url).href;
			s.onload = () => resolve(window.uPlot);
			s.onerror = () => { uplotPromise = null; reject(new Error('could not load uPlot')); };
			document.head.appendChild(s);
		});
	}
	return uplotPromise;
}

const cssVar = (n) => getComputedStyle(document.documentElement).getPropertyValue(n).trim();

function groupLabel(g) {
	const v = Object.values(g || {}).map((x) => (x == null || x === '' ? '(none)' : x));
	return v.length ? v.join(' / ') : 'all';
}

// Points of a series on the common x axis (seconds), missing buckets as null.
// Sums (calls, tokens, cost) are 0 in an empty bucket; rates and latencies are gaps.
function align(xs, points, stepNs, pick, missing = 0) {
	const at = new Map();
	for (const p of points) at.set(Math.round(nsToMs(p.start_unix_nano) / 1000), p);
	return xs.map((x) => { const p = at.get(x); return p ? pick(p) : missing; });
}

function sumPoint(a, p) {
	for (const k of ['calls', 'errors', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'cost_usd'])
		a[k] = (a[k] || 0) + (p[k] || 0);
	return a;
}

export function mount(root, params) {
	const st = { params: new URLSearchParams(params), gen: 0, charts: [], abort: null };
	const rangeSel = h('select', { id: 'd-range', 'aria-label': 'Time range' }, RANGES.map(([k, l]) => h('option', { value: k }, `Last ${l}`)));
	const groupSel = h('select', { id: 'd-group', 'aria-label': 'Split by' }, GROUPS.map((g) => h('option', { value: g }, g)));
	const refreshBtn = h('button', { type: 'button', class: 'btn ghost' }, '↻ Refresh');
	const kpis = h('div', { class: 'kpis', 'aria-label': 'Totals' });
	const grid = h('div', { class: 'charts' });
	const table = h('div', { class: 'table-wrap' });
	const status = h('div', { class: 'statusline', role: 'status', 'aria-live': 'polite' });
	const bar = h('div', { class: 'filterbar' }, h('div', { class: 'filters' },
		h('label', { class: 'field' }, h('span', null, 'Range'), rangeSel),
		h('label', { class: 'field' }, h('span', null, 'Split by'), groupSel),
		h('div', { class: 'actions' }, refreshBtn)));
	const view = h('section', { class: 'view dashboard', 'aria-label': 'Dashboard' }, bar, status, kpis, grid, table);
	root.appendChild(view);

	function readParams() {
		rangeSel.value = RANGES.some((r) => r[0] === st.params.get('range')) ? st.params.get('range') : '1h';
		groupSel.value = GROUPS.includes(st.params.get('group')) ? st.params.get('group') : 'model';
	}
	function apply() {
		const o = { range: rangeSel.value, group: groupSel.value === 'model' ? null : groupSel.value };
		replaceHash(buildHash('/dashboard', o));
		st.params = new URLSearchParams(Object.entries(o).filter(([, v]) => v));
		load();
	}
	rangeSel.addEventListener('change', apply);
	groupSel.addEventListener('change', apply);
	refreshBtn.addEventListener('click', () => load());
	const onTheme = () => load();
	window.addEventListener('tracelamp:theme', onTheme);

	function destroyCharts() {
		for (const c of st.charts) { c.ro.disconnect(); c.u.destroy(); }
		st.charts = [];
	}

	async function load() {
		const gen = ++st.gen;
		if (st.abort) st.abort.abort();
		st.abort = new AbortController();
		const signal = st.abort.signal;
		const range = rangeSel.value;
		const group = groupSel.value;
		const endS = Math.floor(Date.now() / 1000);
		const startS = endS - rangeSeconds(range);
		const step = STEPS[range] || '1m';
		const win = { start: String(startS), end: String(endS) };
		status.textContent = 'Loading…';
		view.dataset.ready = 'false';
		try {
			const [total, split, totalOne, splitOne, U] = await Promise.all([
				getStats({ ...win, step }, { signal }),
				getStats({ ...win, step, group_by: group }, { signal }),
				getStats(win, { signal }),
				getStats({ ...win, group_by: group }, { signal }),
				loadUplot(),
			]);
			if (gen !== st.gen) return;
			render(U, { total, split, totalOne, splitOne, group, range, startS, endS });
			status.textContent = `Last ${RANGES.find((r) => r[0] === range)[1]} · ${step} buckets · split by ${group}`;
			view.dataset.ready = 'true';
			view.dataset.range = range;
		} catch (e) {
			if (e.name === 'AbortError' || gen !== st.gen) return;
			status.textContent = `Could not load stats: ${e.message}`;
		}
	}

	function render(U, d) {
		destroyCharts();
		grid.replaceChildren();
		const one = (d.totalOne.series[0] && d.totalOne.series[0].points[0]) || {};
		const calls = one.calls || 0;
		const kpi = (label, value, sub) => h('div', { class: 'kpi' }, h('span', null, label), h('b', null, value), sub ? h('small', null, sub) : null);
		const lat = one.latency_ms || {};
		kpis.replaceChildren(
			kpi('LLM calls', fmtInt(calls)),
			kpi('error rate', calls ? `${((100 * (one.errors || 0)) / calls).toFixed(1)}%` : '–', `${fmtInt(one.errors || 0)} errors`),
			kpi('tokens', fmtNum((one.input_tokens || 0) + (one.output_tokens || 0)),
				`${fmtNum(one.cache_read_tokens || 0)} cache read · ${fmtNum(one.reasoning_tokens || 0)} reasoning`),
			kpi('cost', fmtCost(one.cost_usd || 0)),
			kpi('latency p50 / p95 / p99', calls ? `${fmtMs(lat.p50)} / ${fmtMs(lat.p95)} / ${fmtMs(lat.p99)}` : '–'));

		if (!calls) {
			grid.appendChild(h('div', { class: 'empty' }, h('h2', null, 'No LLM calls in this range'),
				h('p', null, 'Pick a longer range, or send data: '), h('a', { href: '#/' }, 'how to send traces')));
			table.replaceChildren();
			return;
		}

		// x axis: every bucket of the window (so gaps show as gaps).
		const stepNs = d.total.step_ns || 60e9;
		const stepS = Math.round(stepNs / 1e9);
		// Buckets start at multiples of the step since the epoch.
		const x0raw = d.total.start_unix_nano ? Math.round(nsToMs(d.total.start_unix_nano) / 1000) : d.startS;
		const x0 = Math.floor(x0raw / stepS) * stepS;
		const x1 = d.total.end_unix_nano ? Math.round(nsToMs(d.total.end_unix_nano) / 1000) : d.endS;
		const xs = [];
		for (let x = x0; x < x1 && xs.length < 2000; x += stepS) xs.push(x);
		const tp = (d.total.series[0] && d.total.series[0].points) || [];

		// Top groups by calls; the rest summed as "other".
		const ranked = d.split.series.map((s) => ({ s, calls: s.points.reduce((a, p) => a + (p.calls || 0), 0) })).sort((a, b) => b.calls - a.calls);
		const top = ranked.slice(0, MAX_SERIES);
		const rest = ranked.slice(MAX_SERIES);
		const groupsData = top.map(({ s }) => ({ label: groupLabel(s.group), points: s.points }));
		if (rest.length) {
			const m = new Map();
			for (const { s } of rest) for (const p of s.points) m.set(p.start_unix_nano, sumPoint(m.get(p.start_unix_nano) || { start_unix_nano: p.start_unix_nano }, p));
			groupsData.push({ label: `other (${rest.length})`, points: [...m.values()] });
		}

		const pick = (f) => (p) => f(p);
		chart(U, 'Tokens by kind', 'tokens', xs, [
			['uncached input', align(xs, tp, stepNs, pick((p) => Math.max(0, (p.input_tokens || 0) - (p.cache_read_tokens || 0) - (p.cache_write_tokens || 0))))],
			['cache read', align(xs, tp, stepNs, pick((p) => p.cache_read_tokens || 0))],
			['cache write', align(xs, tp, stepNs, pick((p) => p.cache_write_tokens || 0))],
			['output', align(xs, tp, stepNs, pick((p) => Math.max(0, (p.output_tokens || 0) - (p.reasoning_tokens || 0))))],
			['reasoning', align(xs, tp, stepNs, pick((p) => p.reasoning_tokens || 0))],
		], fmtNum);
		chart(U, `Cost by ${d.group}`, 'cost', xs, groupsData.map((g) => [g.label, align(xs, g.points, stepNs, (p) => p.cost_usd || 0)]), (v) => fmtCost(v));
		chart(U, `Calls by ${d.group}`, 'calls', xs, groupsData.map((g) => [g.label, align(xs, g.points, stepNs, (p) => p.calls || 0)]), fmtNum);
		chart(U, `Error rate by ${d.group}`, 'errors', xs, groupsData.map((g) => [g.label, align(xs, g.points, stepNs, (p) => (p.calls ? (100 * (p.errors || 0)) / p.calls : null), null)]), (v) => `${v.toFixed(1)}%`, (v) => `${+v.toFixed(1)}%`);
		chart(U, 'Latency (all calls)', 'latency', xs, [
			['p50', align(xs, tp, stepNs, (p) => (p.latency_ms ? p.latency_ms.p50 : null), null)],
			['p95', align(xs, tp, stepNs, (p) => (p.latency_ms ? p.latency_ms.p95 : null), null)],
			['p99', align(xs, tp, stepNs, (p) => (p.latency_ms ? p.latency_ms.p99 : null), null)],
		], fmtMs);
		chart(U, `Latency p95 by ${d.group}`, 'latency-group', xs, top.map(({ s }) => [groupLabel(s.group), align(xs, s.points, stepNs, (p) => (p.latency_ms ? p.latency_ms.p95 : null), null)]), fmtMs);

		// Table by group over the whole window (percentiles come from one bucket, not averaged).
		const rows = [...d.splitOne.series].map((s) => ({ g: groupLabel(s.group), p: s.points[0] || {} })).sort((a, b) => (b.p.cost_usd || 0) - (a.p.cost_usd || 0));
		table.replaceChildren(h('table', { class: 'mini stats-table' },
			h('caption', null, `By ${d.group}`),
			h('thead', null, h('tr', null, [d.group, 'calls', 'errors', 'error %', 'input', 'cache read', 'output', 'reasoning', 'cost', 'p50', 'p95', 'p99'].map((x) => h('th', { scope: 'col' }, x)))),
			h('tbody', null, rows.map(({ g, p }) => h('tr', null, h('th', { scope: 'row' }, g),
				h('td', { class: 'num' }, fmtInt(p.calls)), h('td', { class: 'num' }, fmtInt(p.errors)),
				h('td', { class: `num${p.errors ? ' bad' : ''}` }, p.calls ? `${((100 * (p.errors || 0)) / p.calls).toFixed(1)}%` : '–'),
				h('td', { class: 'num' }, fmtNum(p.input_tokens)), h('td', { class: 'num' }, fmtNum(p.cache_read_tokens)),
				h('td', { class: 'num' }, fmtNum(p.output_tokens)), h('td', { class: 'num' }, fmtNum(p.reasoning_tokens)),
				h('td', { class: 'num' }, fmtCost(p.cost_usd)),
				h('td', { class: 'num' }, fmtMs(p.latency_ms && p.latency_ms.p50)), h('td', { class: 'num' }, fmtMs(p.latency_ms && p.latency_ms.p95)),
				h('td', { class: 'num' }, fmtMs(p.latency_ms && p.latency_ms.p99)))))));
	}

	function chart(U, title, id, xs, series, fmt, axisFmt = fmt) {
		const box = h('div', { class: 'chart-box' });
		const card = h('figure', { class: 'chart', dataset: { chart: id } }, h('figcaption', null, title), box);
		grid.appendChild(card);
		const fg = cssVar('--fg-muted') || '#888';
		const gridc = cssVar('--border') || '#ddd';
		const axis = { stroke: fg, grid: { stroke: gridc, width: 1 }, ticks: { stroke: gridc, width: 1 } };
		const width = Math.max(260, box.clientWidth || 400);
		const opts = {
			width, height: 190,
			cursor: { drag: { x: false, y: false } },
			legend: { live: true },
			scales: { x: { time: true } },
			axes: [{ ...axis }, { ...axis, size: 56, values: (u, vals) => vals.map((v) => (v == null ? '' : axisFmt(v))) }],
			series: [{}, ...series.map(([label], i) => ({
				label, stroke: PALETTE[i % PALETTE.length], width: 1.6, spanGaps: true,
				points: { size: 4 }, value: (u, v) => (v == null ? '–' : fmt(v)),
			}))],
		};
		const u = new U(opts, [xs, ...series.map((s) => s[1])], box);
		const ro = new ResizeObserver(() => { const w = box.clientWidth; if (w > 0 && Math.abs(w - u.width) > 4) u.setSize({ width: w, height: 190 }); });
		ro.observe(box);
		st.charts.push({ u, ro });
	}

	readParams();
	load();
	return {
		update(p) {
			if (new URLSearchParams(p).toString() === st.params.toString()) return;
			st.params = new URLSearchParams(p);
			readParams();
			load();
		},
		unmount() { st.gen++; if (st.abort) st.abort.abort(); destroyCharts(); window.removeEventListener('tracelamp:theme', onTheme); },
	};
}

function fmtMs(v) {
	if (v == null || Number.isNaN(v)) return '–';
	if (v < 1000) return `${Math.round(v)} ms`;
	return `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
}
