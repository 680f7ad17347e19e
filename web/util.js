// util.js - small helpers shared by the views: a DOM builder, formatting of
// times, durations, tokens and money, URL-hash parameters, and run health.

// h('div', {class: 'x', onclick: fn}, child, 'text', [more]) -> Element.
// Strings become text nodes (never parsed as HTML); null/false children are skipped.
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v == null || v === false) continue;
			if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
			else if (k === 'class') el.className = v;
			else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
			else if (k === 'dataset') Object.assign(el.dataset, v);
			else if (v === true) el.setAttribute(k, '');
			else el.setAttribute(k, String(v));
		}
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c == null || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else if (c instanceof Node) el.appendChild(c);
		else el.appendChild(document.createTextNode(String(c)));
	}
}

export function clear(el) {
	while (el.firstChild) el.removeChild(el.firstChild);
	return el;
}

// Nanosecond strings (may exceed 2^53) -> milliseconds as a Number.
export function nsToMs(ns) {
	if (ns == null) return 0;
	if (typeof ns === 'number') return ns / 1e6;
	const s = String(ns);
	if (s.length > 6) return Number(s.slice(0, -6)) + Number(s.slice(-6)) / 1e6;
	return Number(s) / 1e6;
}

// Difference a-b of two nanosecond strings, in nanoseconds (exact via BigInt).
export function nsDiff(a, b) {
	try { return Number(BigInt(a) - BigInt(b)); } catch { return (nsToMs(a) - nsToMs(b)) * 1e6; }
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

export function fmtTime(ns, withDate) {
	const d = new Date(nsToMs(ns));
	if (Number.isNaN(d.getTime())) return '';
	const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
	const now = new Date();
	if (!withDate && d.toDateString() === now.toDateString()) return t;
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

export function fmtDur(ns) {
	if (ns == null || Number.isNaN(ns)) return '';
	const ms = ns / 1e6;
	if (ms < 1) return `${Math.round(ns / 1e3)} µs`;
	if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
	const s = ms / 1000;
	if (s < 60) return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m}m ${pad(Math.round(s % 60))}s`;
	return `${Math.floor(m / 60)}h ${pad(m % 60)}m`;
}

export function fmtNum(n) {
	if (n == null) return '';
	if (n < 1000) return String(Math.round(n * 100) / 100);
	if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
	if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}M`;
	return `${(n / 1e9).toFixed(2)}B`;
}

export function fmtInt(n) {
	return n == null ? '' : Math.round(n).toLocaleString('en-US');
}

export function fmtCost(usd) {
	if (usd == null) return '–';
	if (usd === 0) return '$0';
	if (usd < 0.01) return `$${usd.toFixed(4)}`;
	if (usd < 100) return `$${usd.toFixed(2)}`;
	return `$${Math.round(usd).toLocaleString('en-US')}`;
}

export function pct(part, whole) {
	if (!whole || !part) return 0;
	return Math.round((100 * part) / whole);
}

// Hash routes: "#/path?a=1&b=2" -> {path: '/path', params: URLSearchParams}.
export function parseHash(hash = location.hash) {
	const s = hash.replace(/^#/, '') || '/';
	const i = s.indexOf('?');
	const path = i < 0 ? s : s.slice(0, i);
	const params = new URLSearchParams(i < 0 ? '' : s.slice(i + 1));
	return { path: path || '/', params };
}

export function buildHash(path, params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') q.set(k, v);
	const qs = q.toString();
	return `#${path}${qs ? `?${qs}` : ''}`;
}

// Replaces the hash without adding a history entry or re-routing.
export function replaceHash(hash) {
	if (location.hash !== hash) history.replaceState(null, '', hash);
}

// Time-range choices shared by the list, sessions and dashboard.
export const RANGES = [
	['15m', '15 minutes', 15 * 60], ['1h', '1 hour', 3600], ['6h', '6 hours', 6 * 3600],
	['24h', '24 hours', 86400], ['7d', '7 days', 7 * 86400], ['30d', '30 days', 30 * 86400],
];

export function rangeSeconds(key) {
	const r = RANGES.find((x) => x[0] === key);
	return r ? r[2] : 86400;
}

export function median(values) {
	if (!values.length) return 0;
	const a = [...values].sort((x, y) => x - y);
	const m = a.length >> 1;
	return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

// Run health for a set of trace summaries. A run is "slow" or "expensive" when it
// takes more than twice the median of runs with the same root name (at least 4 of
// them loaded) or, with fewer peers, more than three times the median of all loaded
// runs; it must also be material (> 1 s, > $0.001) so tiny traces are not flagged.
export class HealthModel {
	constructor() { this.byName = new Map(); this.all = { dur: [], cost: [] }; this.stale = true; this.cache = null; }

	add(t) {
		let g = this.byName.get(t.name);
		if (!g) { g = { dur: [], cost: [] }; this.byName.set(t.name, g); }
		g.dur.push(t.duration_ns || 0);
		this.all.dur.push(t.duration_ns || 0);
		if (t.cost_usd != null) { g.cost.push(t.cost_usd); this.all.cost.push(t.cost_usd); }
		this.stale = true;
	}

	reset() { this.byName.clear(); this.all = { dur: [], cost: [] }; this.stale = true; }

	medians() {
		if (!this.stale) return this.cache;
		const byName = new Map();
		for (const [k, g] of this.byName) {
			if (g.dur.length >= 4) byName.set(k, { dur: median(g.dur), cost: g.cost.length >= 4 ? median(g.cost) : null });
		}
		this.cache = { byName, dur: median(this.all.dur), cost: median(this.all.cost) };
		this.stale = false;
		return this.cache;
	}

	// -> array of {kind: 'error'|'slow'|'expensive'|'anomalous', title}
	flags(t) {
		const out = [];
		if (t.error_count > 0) out.push({ kind: 'error', title: `${t.error_count} span(s) with status error` });
		const m = this.medians();
		const peer = m.byName.get(t.name);
		const durRef = peer ? peer.dur * 2 : m.dur * 3;
		if (durRef > 0 && t.duration_ns > durRef && t.duration_ns > 1e9)
			out.push({ kind: 'slow', title: `took ${fmtDur(t.duration_ns)}; typical ${fmtDur(durRef / (peer ? 2 : 3))}` });
		const costMed = peer && peer.cost != null ? peer.cost : m.cost;
		const costRef = costMed * (peer && peer.cost != null ? 2 : 3);
		if (t.cost_usd != null && costRef > 0 && t.cost_usd > costRef && t.cost_usd > 0.001)
			out.push({ kind: 'expensive', title: `cost ${fmtCost(t.cost_usd)}; typical ${fmtCost(costMed)}` });
		if (t.anomalies && t.anomalies.length) out.push({ kind: 'anomalous', title: `anomalies: ${t.anomalies.join(', ')}` });
		return out;
	}
}

export function healthBadges(flags) {
	if (!flags.length) return h('span', { class: 'badge badge-ok', title: 'healthy: no errors, typical duration and cost' }, 'ok');
	return flags.map((f) => h('span', { class: `badge badge-${f.kind}`, title: f.title }, f.kind));
}

// Token summary: total, with the cache share of input and the reasoning share of output.
export function tokenParts(t) {
	const total = (t.input_tokens || 0) + (t.output_tokens || 0);
	const cache = (t.cache_read_tokens || 0) + (t.cache_write_tokens || 0);
	return {
		total,
		cachePct: pct(cache, t.input_tokens),
		reasoningPct: pct(t.reasoning_tokens, t.output_tokens),
	};
}

export function debounce(fn, ms) {
	let t = null;
	return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
