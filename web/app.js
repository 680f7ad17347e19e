// app.js - entry point: hash router, theme toggle and view lifecycle.
// Routes: #/ (runs list), #/trace/<id>?span=<span id>, #/sessions, #/dashboard.
// Each view module exports mount(root, params, route) -> {unmount(), update?(params)}.

import { parseHash } from './util.js';
import * as list from './list.js';
import * as trace from './trace.js';
import * as sessions from './sessions.js';
import * as dashboard from './dashboard.js';

const main = document.getElementById('main');
let current = null; // {key, view, handle}

function resolve() {
	const { path, params } = parseHash();
	let m;
	if ((m = /^\/trace\/([0-9a-fA-F]{1,64})$/.exec(path))) return { key: `trace:${m[1]}`, nav: 'runs', view: trace, arg: m[1], params };
	if (path === '/sessions') return { key: 'sessions', nav: 'sessions', view: sessions, params };
	if (path === '/dashboard') return { key: 'dashboard', nav: 'dashboard', view: dashboard, params };
	return { key: 'runs', nav: 'runs', view: list, params };
}

function route() {
	const r = resolve();
	for (const a of document.querySelectorAll('[data-nav]')) {
		if (a.dataset.nav === r.nav) a.setAttribute('aria-current', 'page');
		else a.removeAttribute('aria-current');
	}
	if (current && current.key === r.key && current.handle.update) {
		current.handle.update(r.params);
		return;
	}
	if (current) current.handle.unmount();
	main.replaceChildren();
	main.dataset.view = r.nav;
	const handle = r.view.mount(main, r.params, r.arg);
	current = { key: r.key, handle };
}

function toggleTheme() {
	const t = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
	document.documentElement.dataset.theme = t;
	try { localStorage.setItem('tracelamp.theme', t); } catch { /* private mode */ }
	window.dispatchEvent(new CustomEvent('tracelamp:theme'));
}

document.getElementById('theme-toggle').addEventListener('click', toggleTheme);
window.addEventListener('hashchange', route);
route();
