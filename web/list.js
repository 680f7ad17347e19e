// list.js - the runs list: newest first, live-updating, every API filter (kept in the
// URL hash), infinite scroll by cursor over a virtualised list, and a health badge
// per run (error, slow, expensive, anomalous) so sick runs stand out at a glance.

import { listTraces } from './api.js';
import { VList } from './vlist.js';
import {
	h, fmtTime, fmtDur, fmtCost, fmtNum, fmtInt, tokenParts, HealthModel, healthBadges,
	buildHash, replaceHash, RANGES, rangeSeconds, debounce,
} from './util.js';
import { emptyState } from './onboarding.js';

const ROW = 40;
const PAGE = 200;
const LIVE_MS = 2000;

// Every filter of GET /api/v1/traces, in display order: [param, label, kind, placeholder].
const FILTERS = [
	['q', 'Search', 'text', 'root name or prompt text'],
	['model', 'Model', 'text', 'e.g. gpt-4o-mini'],
	['service', 'Service', 'text', 'service.name'],
	['status', 'Status', 'status', ''],
	['name', 'Root name', 'text', 'root span name'],
	['provider', 'Provider', 'text', 'e.g. openai'],
	['agent', 'Agent', 'text', 'agent name'],
	['session', 'Session', 'text', 'session / conversation id'],
	['run', 'Run', 'text', 'tracelamp.run.id'],
	['anomaly', 'Anomaly', 'text', 'any or a detector'],
	['min_duration_ms', 'Min ms', 'number', 'ms'],
	['max_duration_ms', 'Max ms', 'number', 'ms'],
	['min_cost_usd', 'Min $', 'number', 'USD'],
	['start', 'Start', 'text', 'RFC 3339 or unix s'],
	['end', 'End', 'text', 'RFC 3339 or unix s'],
];
const PRIMARY = new Set(['q', 'model', 'service', 'status']);

const COLUMNS = [
	['time', 'Time'], ['service', 'Service', 'opt'], ['name', 'Root name'], ['dur', 'Duration'],
	['status', 'Status', 'opt'], ['llm', 'LLM', 'opt'], ['tools', 'Tools', 'opt'], ['tokens', 'Tokens'],
	['cost', 'Cost'], ['models', 'Models', 'opt'], ['health', 'Health'],
];

export function mount(root, params) {
	const st = {
		params: new URLSearchParams(params),
		traces: [], ids: new Map(), cursor: null, done: false, loading: false, error: null,
		gen: 0, health: new HealthModel(), models: new Set(), selected: -1, live: true, timer: null,
		loadedOnce: false, abort: null,
	};

	// ---- filter bar
	const inputs = {};
	const modelList = h('datalist', { id: 'model-options' });
	const field = ([key, label, kind, ph]) => {
		let input;
		if (kind === 'status') {
			input = h('select', { id: `f-${key}`, name: key },
				h('option', { value: '' }, 'any'), h('option', { value: 'ok' }, 'ok'), h('option', { value: 'error' }, 'error'));
		} else {
			input = h('input', {
				id: `f-${key}`, name: key, type: kind === 'number' ? 'number' : 'search', placeholder: ph,
				step: kind === 'number' ? 'any' : null, min: kind === 'number' ? '0' : null,
				list: key === 'model' ? 'model-options' : null, autocomplete: 'off', spellcheck: 'false',
			});
		}
		inputs[key] = input;
		return h('label', { class: `field field-${key}` }, h('span', null, label), input);
	};
	const rangeSel = h('select', { id: 'f-range', name: 'range' },
		RANGES.map(([k, label]) => h('option', { value: k }, `Last ${label}`)));
	const moreBtn = h('button', { type: 'button', class: 'btn ghost', 'aria-expanded': 'false', 'aria-controls': 'more-filters' }, 'More filters');
	const clearBtn = h('button', { type: 'button', class: 'btn ghost' }, 'Clear');
	const liveBtn = h('button', { type: 'button', class: 'btn live on', 'aria-pressed': 'true', title: 'Poll for new runs every 2 s' }, '● Live');
	const more = h('div', { class: 'filters more', id: 'more-filters', hidden: true },
		FILTERS.filter((f) => !PRIMARY.has(f[0])).map(field));
	const bar = h('form', { class: 'filterbar', role: 'search', 'aria-label': 'Filter runs', onsubmit: (e) => { e.preventDefault(); apply(); } },
		h('div', { class: 'filters' },
			FILTERS.filter((f) => PRIMARY.has(f[0])).map(field),
			h('label', { class: 'field field-range' }, h('span', null, 'Range'), rangeSel),
			h('div', { class: 'actions' }, moreBtn, clearBtn, liveBtn)),
		more, modelList);

	const statusLine = h('div', { class: 'statusline', role: 'status', 'aria-live': 'polite' });
	const errorBox = h('div', { class: 'error-banner', role: 'alert', hidden: true });
	const header = h('div', { class: 'runs-head', role: 'row' },
		COLUMNS.map(([k, label, opt]) => h('div', { class: `c c-${k}${opt ? ' opt' : ''}`, role: 'columnheader' }, label)));
	const scroller = h('div', {
		class: 'runs-scroll', tabindex: '0', role: 'grid', 'aria-label': 'Runs, newest first', 'aria-rowcount': '0',
	});
	const tableWrap = h('div', { class: 'runs-table' }, header, scroller);
	const empty = h('div', { class: 'empty-wrap', hidden: true });
	const view = h('section', { class: 'view runs', 'aria-label': 'Runs' }, bar, errorBox, tableWrap, empty, statusLine);
	root.appendChild(view);

	const vl = new VList({ scroller, rowHeight: ROW, renderRow, onNearEnd: () => loadMore() });

	// ---- params <-> inputs
	function readParams(p) {
		for (const [key] of FILTERS) inputs[key].value = p.get(key) || '';
		rangeSel.value = RANGES.some((r) => r[0] === p.get('range')) ? p.get('range') : '24h';
		const anyMore = FILTERS.some(([k]) => !PRIMARY.has(k) && p.get(k));
		if (anyMore) setMore(true);
	}
	function setMore(open) {
		more.hidden = !open;
		moreBtn.setAttribute('aria-expanded', String(open));
	}
	moreBtn.addEventListener('click', () => setMore(more.hidden));
	clearBtn.addEventListener('click', () => {
		for (const [key] of FILTERS) inputs[key].value = '';
		apply();
	});
	liveBtn.addEventListener('click', () => {
		st.live = !st.live;
		liveBtn.classList.toggle('on', st.live);
		liveBtn.setAttribute('aria-pressed', String(st.live));
		liveBtn.textContent = st.live ? '● Live' : '❚❚ Paused';
		if (st.live) poll();
	});

	function currentParams() {
		const o = {};
		for (const [key] of FILTERS) {
			const v = inputs[key].value.trim();
			if (v) o[key] = v;
		}
		if (rangeSel.value !== '24h') o.range = rangeSel.value;
		return o;
	}
	function apply() {
		const o = currentParams();
		replaceHash(buildHash('/', o));
		st.params = new URLSearchParams(o);
		reload();
	}
	const applySoon = debounce(apply, 350);
	for (const [key, , kind] of FILTERS) {
		inputs[key].addEventListener(kind === 'status' ? 'change' : 'input', kind === 'status' ? apply : applySoon);
		inputs[key].addEventListener('change', () => { if (kind !== 'status') apply(); });
	}
	rangeSel.addEventListener('change', apply);

	// Query parameters for the API from the URL state.
	function apiParams() {
		const p = {};
		for (const [key] of FILTERS) { const v = st.params.get(key); if (v) p[key] = v; }
		if (!p.start) p.start = String(Math.floor(Date.now() / 1000) - rangeSeconds(st.params.get('range') || '24h'));
		return p;
	}
	const hasFilters = () => FILTERS.some(([k]) => st.params.get(k));

	// ---- data
	function addTrace(t, atTop) {
		const i = st.ids.get(t.trace_id);
		if (i !== undefined) { st.traces[i] = t; return false; }
		st.health.add(t);
		for (const m of t.models || []) {
			if (!st.models.has(m)) { st.models.add(m); modelList.appendChild(h('option', { value: m })); }
		}
		if (!atTop) { st.ids.set(t.trace_id, st.traces.length); st.traces.push(t); }
		return true;
	}

	async function reload() {
		st.gen++;
		if (st.abort) st.abort.abort();
		st.traces = []; st.ids.clear(); st.cursor = null; st.done = false; st.loading = false;
		st.health.reset(); st.selected = -1;
		scroller.scrollTop = 0;
		vl.setCount(0);
		vl.refresh();
		await loadMore();
	}

	async function loadMore() {
		if (st.loading || st.done) return;
		st.loading = true;
		const gen = st.gen;
		st.abort = new AbortController();
		updateStatus();
		try {
			const p = { ...apiParams(), limit: PAGE };
			if (st.cursor) p.cursor = st.cursor;
			const body = await listTraces(p, { signal: st.abort.signal });
			if (gen !== st.gen) return;
			for (const t of body.traces) addTrace(t, false);
			st.cursor = body.next_cursor || null;
			st.done = !st.cursor;
			st.error = null;
			st.loadedOnce = true;
		} catch (e) {
			if (e.name === 'AbortError' || gen !== st.gen) return;
			st.error = e;
			st.done = true;
		} finally {
			if (gen === st.gen) {
				st.loading = false;
				render();
			}
		}
	}

	// Live: fetch the newest page with the same filters and put unseen runs on top;
	// known runs are updated in place (their summary grows while spans arrive).
	async function poll() {
		clearTimeout(st.timer);
		if (!st.live) return;
		if (document.visibilityState === 'visible' && !st.loading && st.loadedOnce) {
			const gen = st.gen;
			try {
				const body = await listTraces({ ...apiParams(), limit: 100 });
				if (gen === st.gen) mergeTop(body.traces);
			} catch { /* next tick */ }
		}
		if (st.live) st.timer = setTimeout(poll, LIVE_MS);
	}

	function mergeTop(list) {
		if (!st.traces.length && list.length >= 100) { reload(); return; } // a burst: page normally
		const fresh = [];
		let changed = false;
		for (const t of list) {
			const i = st.ids.get(t.trace_id);
			if (i !== undefined) {
				const old = st.traces[i];
				if (old.span_count !== t.span_count || old.duration_ns !== t.duration_ns) { st.traces[i] = t; changed = true; }
			} else if (addTrace(t, true)) fresh.push(t);
		}
		if (fresh.length) {
			st.traces = fresh.concat(st.traces);
			st.ids.clear();
			st.traces.forEach((t, i) => st.ids.set(t.trace_id, i));
			if (st.selected >= 0) st.selected += fresh.length;
			if (scroller.scrollTop > ROW) scroller.scrollTop += fresh.length * ROW; // keep the reader's place
			if (!st.cursor && st.done && st.traces.length > fresh.length) st.done = true;
			if (!st.loadedOnce) st.loadedOnce = true;
			st.error = null;
		}
		if (fresh.length || changed) render();
	}

	// ---- rendering
	function render() {
		const n = st.traces.length;
		const showEmpty = st.loadedOnce && n === 0 && !st.error;
		empty.hidden = !showEmpty;
		tableWrap.hidden = showEmpty;
		if (!showEmpty) empty.replaceChildren();
		else {
			empty.replaceChildren(hasFilters() || st.params.get('range')
				? h('div', { class: 'empty' }, h('h2', null, 'No runs match these filters'),
					h('p', null, 'Widen the time range or clear the filters.'),
					h('button', { type: 'button', class: 'btn', onclick: () => clearBtn.click() }, 'Clear filters'))
				: emptyState());
		}
		errorBox.hidden = !st.error;
		if (st.error) errorBox.textContent = `Could not load runs: ${st.error.message}`;
		scroller.setAttribute('aria-rowcount', String(n));
		vl.setCount(n);
		vl.refresh();
		updateStatus();
	}

	function updateStatus() {
		const n = st.traces.length;
		let s = `${fmtInt(n)} run${n === 1 ? '' : 's'} loaded`;
		if (st.loading) s += ' · loading…';
		else if (!st.done) s += ' · scroll for more';
		else if (n) s += ' · end of list';
		const sick = st.traces.reduce((a, t) => a + (t.error_count > 0 ? 1 : 0), 0);
		if (sick) s += ` · ${fmtInt(sick)} with errors`;
		statusLine.textContent = s;
	}

	function renderRow(i) {
		const t = st.traces[i];
		const flags = st.health.flags(t);
		const worst = flags.length ? flags[0].kind : 'ok';
		const tok = tokenParts(t);
		const inTok = t.input_tokens || 0, outTok = t.output_tokens || 0;
		const cache = (t.cache_read_tokens || 0) + (t.cache_write_tokens || 0);
		const reas = t.reasoning_tokens || 0;
		const total = tok.total || 1;
		const seg = (cls, v) => h('i', { class: cls, style: { width: `${(100 * v) / total}%` } });
		const models = (t.models || []);
		const a = h('a', {
			class: `row health-${worst}${i === st.selected ? ' selected' : ''}`, href: `#/trace/${t.trace_id}`,
			role: 'row', tabindex: '-1', id: `run-${i}`, 'aria-rowindex': String(i + 1),
			dataset: { traceId: t.trace_id, health: flags.map((f) => f.kind).join(' ') || 'ok' },
		},
		h('span', { class: 'c c-time', role: 'gridcell', title: fmtTime(t.start_unix_nano, true) }, fmtTime(t.start_unix_nano)),
		h('span', { class: 'c c-service opt', role: 'gridcell', title: t.service }, t.service || '–'),
		h('span', { class: 'c c-name', role: 'gridcell', title: t.name }, t.has_root === false ? h('em', null, `${t.name || '(no root yet)'}`) : t.name || '–'),
		h('span', { class: `c c-dur num${flags.some((f) => f.kind === 'slow') ? ' warn' : ''}`, role: 'gridcell' }, fmtDur(t.duration_ns)),
		h('span', { class: 'c c-status opt', role: 'gridcell' },
			t.error_count > 0 ? h('span', { class: 'st st-error' }, `✕ ${t.error_count}`) : h('span', { class: 'st st-ok' }, '✓ ok')),
		h('span', { class: 'c c-llm num opt', role: 'gridcell' }, String(t.llm_calls ?? 0)),
		h('span', { class: 'c c-tools num opt', role: 'gridcell' }, String(t.tool_calls ?? 0)),
		h('span', {
			class: 'c c-tokens', role: 'gridcell',
			title: `${fmtInt(inTok)} input (${fmtInt(cache)} cache) · ${fmtInt(outTok)} output (${fmtInt(reas)} reasoning)`,
		},
		h('span', { class: 'tok-line' }, h('b', null, fmtNum(tok.total)),
			tok.total ? h('small', null, ` ${tok.cachePct}% cache · ${tok.reasoningPct}% reas`) : null),
		tok.total ? h('span', { class: 'tokbar', 'aria-hidden': 'true' },
			seg('t-in', inTok - cache), seg('t-cache', cache), seg('t-out', outTok - reas), seg('t-reas', reas)) : null),
		h('span', { class: `c c-cost num${flags.some((f) => f.kind === 'expensive') ? ' warn' : ''}`, role: 'gridcell', title: t.price_unknown ? 'some calls had no price' : null },
			fmtCost(t.cost_usd), t.price_unknown ? '*' : ''),
		h('span', { class: 'c c-models opt', role: 'gridcell', title: models.join(', ') },
			models.slice(0, 1).map((m) => h('span', { class: 'chip' }, m)), models.length > 1 ? h('span', { class: 'chip more' }, `+${models.length - 1}`) : null),
		h('span', { class: 'c c-health', role: 'gridcell' }, healthBadges(flags)));
		return a;
	}

	// ---- keyboard: arrows / j k move, Enter opens, Home/End
	scroller.addEventListener('keydown', (e) => {
		const n = st.traces.length;
		if (!n) return;
		let i = st.selected;
		if (e.key === 'ArrowDown' || e.key === 'j') i = Math.min(n - 1, i + 1);
		else if (e.key === 'ArrowUp' || e.key === 'k') i = Math.max(0, i - 1);
		else if (e.key === 'PageDown') i = Math.min(n - 1, i + Math.floor(scroller.clientHeight / ROW));
		else if (e.key === 'PageUp') i = Math.max(0, i - Math.floor(scroller.clientHeight / ROW));
		else if (e.key === 'Home') i = 0;
		else if (e.key === 'End') i = n - 1;
		else if (e.key === 'Enter' && i >= 0) { location.hash = `#/trace/${st.traces[i].trace_id}`; e.preventDefault(); return; } else return;
		e.preventDefault();
		select(Math.max(0, i));
	});
	function select(i) {
		const prev = vl.rowElement(st.selected);
		if (prev) prev.classList.remove('selected');
		st.selected = i;
		vl.scrollToIndex(i);
		const el = vl.rowElement(i);
		if (el) el.classList.add('selected');
		scroller.setAttribute('aria-activedescendant', `run-${i}`);
	}
	scroller.addEventListener('focus', () => { if (st.selected < 0 && st.traces.length) select(0); });

	const onVis = () => { if (document.visibilityState === 'visible') poll(); };
	document.addEventListener('visibilitychange', onVis);

	readParams(st.params);
	reload().then(() => { st.timer = setTimeout(poll, LIVE_MS); });

	return {
		update(p) {
			const a = new URLSearchParams(p).toString(), b = st.params.toString();
			if (a === b) return;
			st.params = new URLSearchParams(p);
			readParams(st.params);
			reload();
		},
		unmount() {
			st.gen++;
			st.live = false;
			clearTimeout(st.timer);
			if (st.abort) st.abort.abort();
			document.removeEventListener('visibilitychange', onVis);
			vl.destroy();
		},
	};
}

