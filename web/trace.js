// trace.js - one trace: a waterfall of spans (durations to scale, collapsible tree,
// errors highlighted, virtualised so 5,000 spans open fast) and, for the selected span,
// its GenAI details: chat transcript, token breakdown and cost, then all attributes,
// events, links, resource and scope.

import { getTrace } from './api.js';
import { VList } from './vlist.js';
import {
	h, fmtTime, fmtDur, fmtCost, fmtInt, fmtNum, nsDiff, tokenParts, HealthModel, healthBadges,
	buildHash, replaceHash,
} from './util.js';
import { extractTranscript, isContentAttr } from './transcript.js';

const ROW = 26;
const TEXT_LIMIT = 4000;   // characters shown before "show all"
const MSG_BATCH = 40;      // transcript messages rendered before "show more"

// ---- building blocks for large values

// A long string shown cut at `limit` characters with a button that shows the rest.
export function longText(s, limit = TEXT_LIMIT, cls = 'text') {
	const pre = h('pre', { class: cls });
	if (s.length <= limit) { pre.textContent = s; return pre; }
	pre.textContent = s.slice(0, limit);
	const btn = h('button', { type: 'button', class: 'btn small show-all' }, `show all (${fmtInt(s.length)} characters)`);
	btn.addEventListener('click', () => { pre.textContent = s; btn.remove(); });
	return h('div', { class: 'long' }, pre, btn);
}

function valueView(v) {
	if (typeof v === 'string') return longText(v, 1500, 'val');
	if (v === null) return h('span', { class: 'muted' }, 'empty');
	if (typeof v === 'object') return longText(JSON.stringify(v, null, 2), 1500, 'val json');
	return h('span', { class: `val ${typeof v}` }, String(v));
}

function kvTable(obj, caption, mark) {
	const keys = Object.keys(obj || {}).sort();
	if (!keys.length) return h('p', { class: 'muted' }, 'none');
	return h('table', { class: 'kv' }, caption ? h('caption', { class: 'sr-only' }, caption) : null,
		h('tbody', null, keys.map((k) => h('tr', { class: mark && mark(k) ? 'content-attr' : null },
			h('th', { scope: 'row' }, k), h('td', null, valueView(obj[k]))))));
}

// ---- transcript

function partView(p) {
	switch (p.type) {
	case 'text':
		return longText(p.content ?? '', TEXT_LIMIT, 'text');
	case 'reasoning':
		return h('details', { class: 'part reasoning' }, h('summary', null, `reasoning (${fmtInt((p.content || '').length)} chars)`), longText(String(p.content ?? '')));
	case 'tool_call':
		return h('div', { class: 'part tool-call' },
			h('div', { class: 'part-head' }, h('span', { class: 'tag' }, 'tool call'), h('b', null, p.name || '?'), p.id ? h('code', null, p.id) : null),
			p.arguments != null ? longText(typeof p.arguments === 'string' ? p.arguments : JSON.stringify(p.arguments, null, 2), TEXT_LIMIT, 'json') : null);
	case 'tool_call_response':
		return h('div', { class: 'part tool-result' },
			h('div', { class: 'part-head' }, h('span', { class: 'tag' }, 'tool result'), p.id ? h('code', null, p.id) : null),
			longText(typeof p.response === 'string' ? p.response : JSON.stringify(p.response, null, 2), TEXT_LIMIT, 'json'));
	default:
		return h('div', { class: 'part other' }, h('span', { class: 'tag' }, p.type || 'data'),
			longText(JSON.stringify(p.value ?? p, null, 2), TEXT_LIMIT, 'json'));
	}
}

function messageView(m) {
	return h('article', { class: `msg role-${String(m.role).replace(/[^a-z_-]/gi, '')} src-${m.source}` },
		h('header', null, h('span', { class: 'role' }, m.role), m.name ? h('span', { class: 'muted' }, ` ${m.name}`) : null,
			m.source === 'output' ? h('span', { class: 'muted' }, ' · response') : null,
			m.finish_reason ? h('span', { class: 'muted' }, ` · finish: ${m.finish_reason}`) : null),
		m.parts.length ? m.parts.map(partView) : h('p', { class: 'muted' }, '(empty)'));
}

function transcriptView(span) {
	const { messages, sources } = extractTranscript(span.attributes, span.events, span.logs);
	if (!messages.length) {
		if (!span.genai || !['chat', 'text_completion', 'generate_content'].includes(span.genai.operation)) return null;
		return h('section', { class: 'sect transcript' }, h('h3', null, 'Transcript'),
			h('p', { class: 'muted' }, 'No message content recorded on this span. Content capture is usually opt-in in GenAI instrumentations (for example OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true).'));
	}
	const list = h('div', { class: 'msgs' });
	let shown = 0;
	const more = h('button', { type: 'button', class: 'btn small' });
	const step = () => {
		const end = Math.min(messages.length, shown + MSG_BATCH);
		for (; shown < end; shown++) list.appendChild(messageView(messages[shown]));
		if (shown < messages.length) more.textContent = `show ${fmtInt(messages.length - shown)} more messages`;
		else more.remove();
	};
	more.addEventListener('click', step);
	step();
	return h('section', { class: 'sect transcript', 'aria-label': 'Chat transcript' },
		h('h3', null, 'Transcript ', h('small', { class: 'muted' }, `${messages.length} message${messages.length === 1 ? '' : 's'} · from ${sources.join(', ')}`)),
		list, shown < messages.length ? more : null);
}

// ---- span details

function genaiView(span) {
	const g = span.genai;
	if (!g) return null;
	const row = (k, v) => (v == null || v === '' || (Array.isArray(v) && !v.length) ? null : h('tr', null, h('th', null, k), h('td', null, Array.isArray(v) ? v.join(', ') : String(v))));
	const model = g.response_model && g.response_model !== g.request_model ? `${g.request_model || '?'} → ${g.response_model}` : g.request_model || g.response_model;
	const inT = g.input_tokens, outT = g.output_tokens;
	const cr = g.cache_read_tokens || 0, cw = g.cache_write_tokens || 0, rs = g.reasoning_tokens || 0;
	const hasTokens = inT != null || outT != null;
	const tokRow = (label, v, cls, of) => h('tr', { class: cls }, h('th', null, label), h('td', { class: 'num' }, v == null ? '–' : fmtInt(v)),
		h('td', { class: 'num muted' }, of && v != null && of > 0 ? `${Math.round((100 * v) / of)}%` : ''));
	return h('section', { class: 'sect genai' }, h('h3', null, 'GenAI'),
		h('div', { class: 'genai-grid' },
			h('table', { class: 'kv compact' }, h('tbody', null,
				row('operation', g.operation), row('provider', g.provider), row('model', model), row('finish', g.finish_reasons),
				row('tool', g.tool_name), row('tool call id', g.tool_call_id), row('agent', g.agent_name || g.agent_id),
				row('conversation', g.conversation_id),
				h('tr', null, h('th', null, 'cost'), h('td', { class: 'cost' }, g.cost_usd == null ? (g.price_unknown ? 'unknown (no price for this model)' : '–') : fmtCost(g.cost_usd),
					g.cost_from_span ? h('small', { class: 'muted' }, ' (reported by the span)') : null)))),
			hasTokens ? h('table', { class: 'kv compact tokens', 'aria-label': 'Token breakdown' }, h('tbody', null,
				tokRow('input tokens', inT, 'tk-in'),
				tokRow('· cache read', cr, 'tk-sub', inT), tokRow('· cache write', cw, 'tk-sub', inT),
				tokRow('· uncached', inT != null ? Math.max(0, inT - cr - cw) : null, 'tk-sub', inT),
				tokRow('output tokens', outT, 'tk-out'),
				tokRow('· reasoning', rs, 'tk-sub', outT),
				tokRow('total', (inT || 0) + (outT || 0), 'tk-total'))) : null),
		g.unknown_attributes && g.unknown_attributes.length ? h('p', { class: 'muted small' }, `unrecognised GenAI attributes: ${g.unknown_attributes.join(', ')}`) : null);
}

function eventsView(span, t0) {
	const ev = span.events || [];
	if (!ev.length) return h('p', { class: 'muted' }, 'none');
	return h('ol', { class: 'events' }, ev.map((e) => h('li', { class: /exception|error/i.test(e.name) ? 'err' : null },
		h('div', null, h('b', null, e.name), h('span', { class: 'muted' }, ` +${fmtDur(nsDiff(e.time_unix_nano, t0))}`)),
		Object.keys(e.attributes || {}).length ? kvTable(e.attributes) : null)));
}

// The span's OTLP log records (GET /api/v1/traces/{id} puts them in span.logs).
function logsView(span, t0) {
	const ls = span.logs || [];
	if (!ls.length) return h('p', { class: 'muted' }, 'none');
	const bodyText = (b) => (b == null ? null : typeof b === 'string' ? b : JSON.stringify(b, null, 2));
	return h('ol', { class: 'events' }, ls.map((l) => h('li', { class: l.severity_number >= 17 ? 'err' : null },
		h('div', null, h('b', null, l.event_name || l.severity_text || 'log'),
			l.severity_text ? h('span', { class: 'muted' }, ` ${l.severity_text}`) : null,
			h('span', { class: 'muted' }, ` +${fmtDur(nsDiff(l.time_unix_nano, t0))}`)),
		bodyText(l.body) != null ? longText(bodyText(l.body), TEXT_LIMIT, typeof l.body === 'string' ? 'text' : 'json') : null,
		Object.keys(l.attributes || {}).length ? kvTable(l.attributes) : null)));
}

function linksView(span) {
	const ls = span.links || [];
	if (!ls.length) return h('p', { class: 'muted' }, 'none');
	return h('ul', { class: 'links' }, ls.map((l) => h('li', null,
		h('a', { href: `#/trace/${l.trace_id}` }, `trace ${l.trace_id}`), ` span ${l.span_id}`,
		Object.keys(l.attributes || {}).length ? kvTable(l.attributes) : null)));
}

function detailView(span, t0) {
	const err = span.status && span.status.code === 'error';
	const attrs = span.attributes || {};
	return h('div', { class: 'detail-inner' },
		h('header', { class: 'detail-head' },
			h('h2', null, span.name || '(unnamed)'),
			h('div', { class: 'meta' },
				h('span', null, span.kind || ''), h('span', null, span.service || ''),
				h('span', null, fmtDur(span.duration_ns)), h('span', { class: 'muted' }, `at +${fmtDur(nsDiff(span.start_unix_nano, t0))}`),
				h('span', { class: err ? 'st st-error' : 'st st-ok' }, err ? `✕ error${span.status.message ? `: ${span.status.message}` : ''}` : `status ${span.status ? span.status.code : 'unset'}`)),
			h('div', { class: 'ids muted' }, `span ${span.span_id}`, span.parent_span_id ? ` · parent ${span.parent_span_id}` : ' · root')),
		genaiView(span),
		transcriptView(span),
		h('section', { class: 'sect' }, h('h3', null, `Attributes (${Object.keys(attrs).length})`), kvTable(attrs, 'Span attributes', isContentAttr)),
		h('section', { class: 'sect' }, h('h3', null, `Events (${(span.events || []).length})`), eventsView(span, t0)),
		h('section', { class: 'sect' }, h('h3', null, `Links (${(span.links || []).length})`), linksView(span)),
		h('section', { class: 'sect' }, h('h3', null, `Logs (${(span.logs || []).length})`), logsView(span, t0)),
		h('details', { class: 'sect' }, h('summary', null, h('h3', null, 'Resource and scope')),
			kvTable(span.resource || {}, 'Resource attributes'),
			h('p', null, `scope: ${(span.scope && span.scope.name) || '–'} ${(span.scope && span.scope.version) || ''}`)));
}

// ---- the view

function spanType(s) {
	const op = s.genai && s.genai.operation;
	if (op === 'execute_tool') return 'tool';
	if (op === 'invoke_agent' || op === 'create_agent' || op === 'invoke_workflow') return 'agent';
	if (op) return 'llm';
	return 'other';
}

export function mount(root, params, traceId) {
	const st = { data: null, nodes: [], byId: new Map(), visible: [], collapsed: new Set(), selected: null, t0: '0', total: 1, abort: new AbortController() };
	const back = h('a', { class: 'back', href: '#/' }, '← Runs');
	const head = h('div', { class: 'trace-head' }, back, h('p', { class: 'loading' }, `Loading trace ${traceId}…`));
	const axis = h('div', { class: 'wf-axis', 'aria-hidden': 'true' });
	const scroller = h('div', { class: 'wf-scroll', tabindex: '0', role: 'tree', 'aria-label': 'Span waterfall' });
	const wf = h('div', { class: 'waterfall' }, axis, scroller);
	const detail = h('aside', { class: 'detail', 'aria-label': 'Span details', tabindex: '-1' });
	const body = h('div', { class: 'trace-body' }, wf, detail);
	const view = h('section', { class: 'view trace', 'aria-label': 'Trace' }, head, body);
	root.appendChild(view);
	let vl = null;

	getTrace(traceId, { signal: st.abort.signal }).then((data) => {
		st.data = data;
		build();
		renderHead();
		vl = new VList({ scroller, rowHeight: ROW, renderRow, overscan: 12 });
		flatten();
		const want = params.get('span');
		const firstErr = st.nodes.find((n) => n.err);
		select(want && st.byId.has(want) ? want : (firstErr || st.nodes[0] || {}).id, true);
		view.dataset.ready = 'true';
	}).catch((e) => {
		if (e.name === 'AbortError') return;
		head.replaceChildren(back, h('div', { class: 'error-banner', role: 'alert' },
			e.status === 404 ? `Trace ${traceId} not found (it may have expired or belong to another tenant).` : `Could not load trace: ${e.message}`));
	});

	// Tree: parent links, children by start; spans whose parent is missing become roots.
	function build() {
		const spans = st.data.spans || [];
		let t0 = null, t1 = null;
		for (const s of spans) {
			if (t0 === null || BigInt(s.start_unix_nano) < BigInt(t0)) t0 = s.start_unix_nano;
			if (t1 === null || BigInt(s.end_unix_nano) > BigInt(t1)) t1 = s.end_unix_nano;
		}
		st.t0 = t0 || '0';
		st.total = Math.max(1, t0 ? nsDiff(t1, t0) : 1);
		st.nodes = spans.map((s) => ({
			id: s.span_id, span: s, children: [], depth: 0, off: nsDiff(s.start_unix_nano, st.t0),
			err: s.status && s.status.code === 'error', type: spanType(s), errBelow: false, parent: null,
		}));
		for (const n of st.nodes) st.byId.set(n.id, n);
		st.roots = [];
		for (const n of st.nodes) {
			const p = n.span.parent_span_id && st.byId.get(n.span.parent_span_id);
			if (p && p !== n) { p.children.push(n); n.parent = p; } else st.roots.push(n);
		}
		const byOff = (a, b) => a.off - b.off;
		st.roots.sort(byOff);
		const stack = st.roots.map((n) => [n, 0]);
		const seen = new Set();
		while (stack.length) {
			const [n, d] = stack.pop();
			if (seen.has(n)) continue; // defensive against cycles
			seen.add(n);
			n.depth = d;
			n.children.sort(byOff);
			for (const c of n.children) stack.push([c, d + 1]);
		}
		for (const n of st.nodes) if (n.err) for (let p = n.parent; p && !p.errBelow; p = p.parent) p.errBelow = true;
	}

	function flatten() {
		const out = [];
		const walk = (list) => {
			const stack = [...list].reverse();
			while (stack.length) {
				const n = stack.pop();
				out.push(n);
				if (!st.collapsed.has(n.id)) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
			}
		};
		walk(st.roots);
		st.visible = out;
		st.index = new Map(out.map((n, i) => [n.id, i]));
		vl.setCount(out.length);
		vl.refresh();
		renderAxis();
	}

	function renderAxis() {
		const ticks = [];
		for (let i = 0; i <= 4; i++) ticks.push(h('span', { style: { left: `${i * 25}%` } }, fmtDur((st.total * i) / 4)));
		axis.replaceChildren(h('div', { class: 'wf-axis-name' }, `${st.nodes.length} spans`), h('div', { class: 'wf-axis-bar' }, ticks));
	}

	function renderHead() {
		const s = st.data.summary || {};
		const hm = new HealthModel();
		const flags = hm.flags(s);
		const tok = tokenParts(s);
		const errs = st.nodes.filter((n) => n.err);
		const stat = (label, value, title) => h('div', { class: 'stat', title }, h('span', null, label), h('b', null, value));
		head.replaceChildren(...[back,
			h('div', { class: 'trace-title' },
				h('h1', null, s.name || st.nodes[0]?.span.name || traceId),
				h('span', { class: 'badges' }, healthBadges(flags)),
				h('code', { class: 'muted' }, traceId)),
			h('div', { class: 'stats' },
				stat('service', s.service || '–'), stat('started', fmtTime(s.start_unix_nano, true)),
				stat('duration', fmtDur(s.duration_ns)), stat('spans', fmtInt(s.span_count ?? st.nodes.length)),
				stat('LLM calls', fmtInt(s.llm_calls)), stat('tool calls', fmtInt(s.tool_calls)),
				stat('tokens', fmtNum(tok.total), `${fmtInt(s.input_tokens)} in (${tok.cachePct}% cache) · ${fmtInt(s.output_tokens)} out (${tok.reasoningPct}% reasoning)`),
				stat('cost', fmtCost(s.cost_usd)), stat('models', (s.models || []).join(', ') || '–'),
				s.session_id ? h('div', { class: 'stat' }, h('span', null, 'session'), h('a', { href: buildHash('/sessions', { session: s.session_id }) }, s.session_id)) : null,
				s.run_id ? h('div', { class: 'stat' }, h('span', null, 'run'), h('a', { href: buildHash('/', { run: s.run_id }) }, s.run_id)) : null,
				s.agent ? stat('agent', s.agent) : null),
			errs.length ? h('div', { class: 'error-banner soft' }, `${errs.length} span${errs.length === 1 ? '' : 's'} failed: `,
				errs.slice(0, 5).map((n, i) => [i ? ', ' : '', h('a', { href: '#', onclick: (e) => { e.preventDefault(); reveal(n.id); } }, n.span.name)])) : null].filter(Boolean));
	}

	function renderRow(i) {
		const n = st.visible[i];
		const s = n.span;
		const left = (100 * n.off) / st.total;
		const width = Math.max(0.15, (100 * (s.duration_ns || 0)) / st.total);
		const hasKids = n.children.length > 0;
		const open = !st.collapsed.has(n.id);
		const row = h('div', {
			class: `wf-row t-${n.type}${n.err ? ' err' : ''}${n.errBelow ? ' err-below' : ''}${st.selected === n.id ? ' selected' : ''}`,
			role: 'treeitem', id: `span-${n.id}`, 'aria-level': String(n.depth + 1), 'aria-selected': String(st.selected === n.id),
			'aria-expanded': hasKids ? String(open) : null, dataset: { spanId: n.id },
		},
		h('div', { class: 'wf-name', style: { paddingLeft: `${6 + Math.min(n.depth, 30) * 14}px` } },
			hasKids ? h('button', { type: 'button', class: 'caret', tabindex: '-1', 'aria-label': open ? 'Collapse' : 'Expand', dataset: { toggle: n.id } }, open ? '▾' : '▸') : h('span', { class: 'caret-pad' }),
			h('span', { class: 'dot', 'aria-hidden': 'true' }),
			h('span', { class: 'nm', title: s.name }, s.name || '(unnamed)'),
			n.err ? h('span', { class: 'err-mark', title: s.status.message || 'error' }, '✕') : null,
			!open && hasKids ? h('small', { class: 'muted' }, ` +${n.children.length}`) : null),
		h('div', { class: 'wf-track' },
			h('div', { class: 'bar', style: { left: `${left}%`, width: `${width}%` } }),
			h('span', { class: 'bar-label', style: left + width > 80 ? { right: `${100 - left + 0.5}%` } : { left: `${left + width + 0.5}%` } }, fmtDur(s.duration_ns))));
		return row;
	}

	scroller.addEventListener('click', (e) => {
		const t = e.target.closest('[data-toggle]');
		if (t) { toggle(t.dataset.toggle); return; }
		const r = e.target.closest('.wf-row');
		if (r) select(r.dataset.spanId);
	});

	function toggle(id, want) {
		const open = !st.collapsed.has(id);
		if (want !== undefined && want === open) return;
		if (open) st.collapsed.add(id); else st.collapsed.delete(id);
		flatten();
	}

	// Expands the ancestors of id and selects it.
	function reveal(id) {
		let changed = false;
		for (let p = st.byId.get(id)?.parent; p; p = p.parent) if (st.collapsed.delete(p.id)) changed = true;
		if (changed) flatten();
		select(id);
	}

	function select(id, initial) {
		if (!id || !st.byId.has(id)) return;
		const prev = st.selected;
		st.selected = id;
		for (const pid of [prev, id]) {
			const i = st.index.get(pid);
			const el = i !== undefined && vl.rowElement(i);
			if (el) { el.classList.toggle('selected', pid === id); el.setAttribute('aria-selected', String(pid === id)); }
		}
		const i = st.index.get(id);
		if (i !== undefined) vl.scrollToIndex(i);
		scroller.setAttribute('aria-activedescendant', `span-${id}`);
		const n = st.byId.get(id);
		detail.replaceChildren(detailView(n.span, st.t0));
		detail.scrollTop = 0;
		const p = new URLSearchParams(location.hash.split('?')[1] || '');
		p.set('span', id);
		if (!initial || params.get('span')) replaceHash(buildHash(`/trace/${traceId}`, Object.fromEntries(p)));
	}

	scroller.addEventListener('keydown', (e) => {
		if (!st.visible.length) return;
		let i = st.index.get(st.selected) ?? -1;
		const n = st.byId.get(st.selected);
		switch (e.key) {
		case 'ArrowDown': case 'j': i = Math.min(st.visible.length - 1, i + 1); break;
		case 'ArrowUp': case 'k': i = Math.max(0, i - 1); break;
		case 'Home': i = 0; break;
		case 'End': i = st.visible.length - 1; break;
		case 'ArrowRight':
			if (n && n.children.length && st.collapsed.has(n.id)) { toggle(n.id); e.preventDefault(); return; }
			i = Math.min(st.visible.length - 1, i + 1); break;
		case 'ArrowLeft':
			if (n && n.children.length && !st.collapsed.has(n.id)) { toggle(n.id); e.preventDefault(); return; }
			if (n && n.parent) { select(n.parent.id); e.preventDefault(); return; }
			return;
		case 'Enter': detail.focus(); e.preventDefault(); return;
		default: return;
		}
		e.preventDefault();
		select(st.visible[Math.max(0, i)].id);
	});

	return {
		update(p) {
			const id = p.get('span');
			if (id && id !== st.selected && st.byId.has(id)) reveal(id);
		},
		unmount() { st.abort.abort(); if (vl) vl.destroy(); },
	};
}
