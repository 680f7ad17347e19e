// sessions.js - traces grouped by session (conversation) or by run, with totals and a
// timeline per group. Built from GET /api/v1/traces over the chosen window (the API
// has no sessions endpoint): pages are loaded up to a cap and grouped client-side.

import { listTraces } from './api.js';
import {
	h, fmtTime, fmtDur, fmtCost, fmtNum, fmtInt, nsDiff, HealthModel, healthBadges,
	buildHash, replaceHash, RANGES, rangeSeconds, debounce,
} from './util.js';

const PAGE = 1000;
const CAP = 5000;       // traces loaded per "load more"
const GROUPS_SHOWN = 60;

export function mount(root, params) {
	const st = { params: new URLSearchParams(params), traces: [], cursor: null, done: false, gen: 0, shown: GROUPS_SHOWN, health: new HealthModel() };
	const groupSel = h('select', { id: 's-group' }, h('option', { value: 'session' }, 'Session / conversation'), h('option', { value: 'run' }, 'Run'));
	const rangeSel = h('select', { id: 's-range' }, RANGES.map(([k, l]) => h('option', { value: k }, `Last ${l}`)));
	const sessionIn = h('input', { id: 's-session', type: 'search', placeholder: 'session id', autocomplete: 'off' });
	const status = h('div', { class: 'statusline', role: 'status', 'aria-live': 'polite' });
	const list = h('div', { class: 'groups' });
	const moreBtn = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load older traces');
	const bar = h('form', { class: 'filterbar', onsubmit: (e) => { e.preventDefault(); apply(); } },
		h('div', { class: 'filters' },
			h('label', { class: 'field' }, h('span', null, 'Group by'), groupSel),
			h('label', { class: 'field' }, h('span', null, 'Session'), sessionIn),
			h('label', { class: 'field' }, h('span', null, 'Range'), rangeSel)));
	const view = h('section', { class: 'view sessions', 'aria-label': 'Sessions' }, bar, status, list, moreBtn);
	root.appendChild(view);

	function readParams() {
		groupSel.value = st.params.get('group') === 'run' ? 'run' : 'session';
		rangeSel.value = RANGES.some((r) => r[0] === st.params.get('range')) ? st.params.get('range') : '24h';
		sessionIn.value = st.params.get('session') || '';
	}
	function apply() {
		const o = { group: groupSel.value === 'run' ? 'run' : null, session: sessionIn.value.trim(), range: rangeSel.value === '24h' ? null : rangeSel.value };
		replaceHash(buildHash('/sessions', o));
		st.params = new URLSearchParams(Object.entries(o).filter(([, v]) => v));
		reload();
	}
	groupSel.addEventListener('change', () => { apply(); });
	rangeSel.addEventListener('change', apply);
	sessionIn.addEventListener('input', debounce(apply, 400));
	moreBtn.addEventListener('click', () => load());

	async function reload() {
		st.gen++;
		st.traces = []; st.cursor = null; st.done = false; st.shown = GROUPS_SHOWN; st.health.reset();
		await load();
	}

	async function load() {
		const gen = st.gen;
		status.textContent = 'Loading…';
		moreBtn.hidden = true;
		const base = { start: String(Math.floor(Date.now() / 1000) - rangeSeconds(st.params.get('range') || '24h')), limit: PAGE };
		if (st.params.get('session')) base.session = st.params.get('session');
		try {
			let got = 0;
			while (got < CAP && !st.done) {
				const body = await listTraces(st.cursor ? { ...base, cursor: st.cursor } : base);
				if (gen !== st.gen) return;
				for (const t of body.traces) { st.traces.push(t); st.health.add(t); }
				got += body.traces.length;
				st.cursor = body.next_cursor || null;
				st.done = !st.cursor;
			}
			render();
		} catch (e) {
			if (gen === st.gen) status.textContent = `Could not load traces: ${e.message}`;
		}
	}

	function group() {
		const by = groupSel.value === 'run' ? 'run_id' : 'session_id';
		const m = new Map();
		for (const t of st.traces) {
			const k = t[by] || '';
			let g = m.get(k);
			if (!g) {
				g = { key: k, traces: [], start: t.start_unix_nano, end: t.end_unix_nano || t.start_unix_nano, tokens: 0, cost: 0, costKnown: false, errors: 0, llm: 0, tools: 0, runs: new Set(), models: new Set(), agents: new Set() };
				m.set(k, g);
			}
			g.traces.push(t);
			const end = t.end_unix_nano || t.start_unix_nano;
			if (BigInt(t.start_unix_nano) < BigInt(g.start)) g.start = t.start_unix_nano;
			if (BigInt(end) > BigInt(g.end)) g.end = end;
			g.tokens += (t.input_tokens || 0) + (t.output_tokens || 0);
			if (t.cost_usd != null) { g.cost += t.cost_usd; g.costKnown = true; }
			g.errors += t.error_count > 0 ? 1 : 0;
			g.llm += t.llm_calls || 0;
			g.tools += t.tool_calls || 0;
			if (t.run_id) g.runs.add(t.run_id);
			if (t.agent) g.agents.add(t.agent);
			for (const x of t.models || []) g.models.add(x);
		}
		return [...m.values()].sort((a, b) => (BigInt(b.end) > BigInt(a.end) ? 1 : -1));
	}

	function timeline(g) {
		const span = Math.max(1, nsDiff(g.end, g.start));
		const segs = g.traces.map((t) => {
			const left = (100 * nsDiff(t.start_unix_nano, g.start)) / span;
			const width = Math.max(0.4, (100 * (t.duration_ns || 0)) / span);
			const flags = st.health.flags(t);
			return h('a', {
				class: `seg health-${flags.length ? flags[0].kind : 'ok'}`, href: `#/trace/${t.trace_id}`,
				style: { left: `${Math.min(left, 99.6)}%`, width: `${Math.min(width, 100 - Math.min(left, 99.6))}%` },
				title: `${t.name} · ${fmtTime(t.start_unix_nano)} · ${fmtDur(t.duration_ns)} · ${fmtCost(t.cost_usd)}${flags.length ? ` · ${flags.map((f) => f.kind).join(', ')}` : ''}`,
				'aria-label': `${t.name} at ${fmtTime(t.start_unix_nano)}`,
			});
		});
		return h('div', { class: 'timeline' }, h('div', { class: 'tl-track' }, segs),
			h('div', { class: 'tl-scale muted' }, h('span', null, fmtTime(g.start)), h('span', null, fmtDur(span)), h('span', null, fmtTime(g.end))));
	}

	function groupView(g) {
		const by = groupSel.value;
		const flags = [];
		if (g.errors) flags.push({ kind: 'error', title: `${g.errors} trace(s) with errors` });
		const anyAnom = g.traces.some((t) => t.anomalies && t.anomalies.length);
		if (anyAnom) flags.push({ kind: 'anomalous', title: 'some traces have anomalies' });
		for (const t of g.traces) {
			for (const f of st.health.flags(t)) if ((f.kind === 'slow' || f.kind === 'expensive') && !flags.some((x) => x.kind === f.kind)) flags.push(f);
		}
		const label = g.key || (by === 'run' ? '(no run id)' : '(no session)');
		const rows = [...g.traces].sort((a, b) => (BigInt(a.start_unix_nano) < BigInt(b.start_unix_nano) ? -1 : 1));
		const details = h('details', { class: 'group-traces' }, h('summary', null, `${g.traces.length} trace${g.traces.length === 1 ? '' : 's'}`));
		details.addEventListener('toggle', () => {
			if (!details.open || details.dataset.filled) return;
			details.dataset.filled = '1';
			details.appendChild(h('table', { class: 'mini' },
				h('thead', null, h('tr', null, ['time', 'run', 'root name', 'duration', 'LLM', 'tools', 'tokens', 'cost', 'health'].map((x) => h('th', null, x)))),
				h('tbody', null, rows.map((t) => h('tr', null,
					h('td', null, fmtTime(t.start_unix_nano)), h('td', null, t.run_id || '–'),
					h('td', null, h('a', { href: `#/trace/${t.trace_id}` }, t.name || t.trace_id)),
					h('td', { class: 'num' }, fmtDur(t.duration_ns)), h('td', { class: 'num' }, String(t.llm_calls || 0)),
					h('td', { class: 'num' }, String(t.tool_calls || 0)), h('td', { class: 'num' }, fmtNum((t.input_tokens || 0) + (t.output_tokens || 0))),
					h('td', { class: 'num' }, fmtCost(t.cost_usd)), h('td', null, healthBadges(st.health.flags(t))))))));
		});
		return h('article', { class: `group${g.errors ? ' has-error' : ''}`, dataset: { key: g.key } },
			h('header', null,
				h('h3', null, g.key ? h('a', { href: by === 'run' ? buildHash('/', { run: g.key }) : buildHash('/', { session: g.key }) }, label) : label),
				h('span', { class: 'badges' }, healthBadges(flags)),
				h('span', { class: 'gstats' },
					by === 'session' && g.runs.size ? h('span', null, `${g.runs.size} run${g.runs.size === 1 ? '' : 's'}`) : null,
					h('span', null, `${g.traces.length} trace${g.traces.length === 1 ? '' : 's'}`),
					h('span', null, fmtDur(nsDiff(g.end, g.start))),
					h('span', null, `${fmtInt(g.llm)} LLM · ${fmtInt(g.tools)} tool`),
					h('span', null, `${fmtNum(g.tokens)} tokens`),
					h('b', null, g.costKnown ? fmtCost(g.cost) : '–'),
					g.agents.size ? h('span', { class: 'muted' }, [...g.agents].join(', ')) : null,
					h('span', { class: 'muted' }, [...g.models].slice(0, 3).join(', ')))),
			timeline(g), details);
	}

	function render() {
		const groups = group();
		const n = st.traces.length;
		status.textContent = `${fmtInt(groups.length)} ${groupSel.value === 'run' ? 'run' : 'session'}${groups.length === 1 ? '' : 's'} from ${fmtInt(n)} traces${st.done ? '' : ' (older traces not loaded yet)'}`;
		list.replaceChildren();
		if (!n) {
			list.appendChild(h('div', { class: 'empty' }, h('h2', null, 'No traces in this range'),
				h('p', null, 'Sessions group traces by gen_ai.conversation.id (or session.id); runs by tracelamp.run.id. '),
				h('a', { href: '#/' }, 'See how to send data')));
			return;
		}
		for (const g of groups.slice(0, st.shown)) list.appendChild(groupView(g));
		if (groups.length > st.shown) {
			list.appendChild(h('button', { type: 'button', class: 'btn', onclick: () => { st.shown += GROUPS_SHOWN; render(); } }, `Show ${Math.min(GROUPS_SHOWN, groups.length - st.shown)} more groups`));
		}
		moreBtn.hidden = st.done;
	}

	readParams();
	reload();
	return {
		update(p) {
			if (new URLSearchParams(p).toString() === st.params.toString()) return;
			st.params = new URLSearchParams(p);
			readParams();
			reload();
		},
		unmount() { st.gen++; },
	};
}
