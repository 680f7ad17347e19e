// onboarding.js - the empty state: exactly how a new user sends data to tracelamp
// (any OpenTelemetry SDK, Claude Code, or `tracelamp bench` for demo data).

import { h } from './util.js';

function snippet(label, text) {
	const pre = h('pre', { class: 'code', tabindex: '0' }, text);
	const btn = h('button', {
		type: 'button', class: 'btn ghost copy', 'aria-label': `Copy ${label}`,
		onclick: async () => {
			try { await navigator.clipboard.writeText(text); btn.textContent = 'Copied'; } catch { btn.textContent = 'Select and copy'; }
			setTimeout(() => { btn.textContent = 'Copy'; }, 1500);
		},
	}, 'Copy');
	return h('div', { class: 'snippet' }, h('div', { class: 'snippet-head' }, h('span', null, label), btn), pre);
}

export function emptyState() {
	return h('div', { class: 'empty onboarding', id: 'empty-state' },
		h('h2', null, 'No traces yet — send some'),
		h('p', null, 'tracelamp receives OpenTelemetry traces over OTLP/HTTP on port 4318. Point any agent at it; runs show up here live.'),
		h('div', { class: 'steps' },
			h('section', null, h('h3', null, '1. Any OpenTelemetry SDK'),
				h('p', null, 'Set these environment variables for your app (Python, JS, Go, Java…):'),
				snippet('OTel SDK env', 'export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318\nexport OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf'),
				h('p', { class: 'hint' }, 'To see prompts and replies, turn on content capture in your GenAI instrumentation (for example OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true).')),
			h('section', null, h('h3', null, '2. Claude Code'),
				h('p', null, 'Export before starting claude:'),
				snippet('Claude Code env', [
					'export CLAUDE_CODE_ENABLE_TELEMETRY=1',
					'export OTEL_TRACES_EXPORTER=otlp',
					'export OTEL_LOGS_EXPORTER=otlp',
					'export OTEL_METRICS_EXPORTER=otlp',
					'export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf',
					'export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318',
				].join('\n'))),
			h('section', null, h('h3', null, '3. Demo data'),
				h('p', null, 'Generate realistic agent runs (LLM calls, tool calls, some failures):'),
				snippet('bench command', 'tracelamp bench --endpoint http://127.0.0.1:4318 --duration 10s --rate 200'))),
		h('p', { class: 'hint' }, 'If tracelamp listens elsewhere, use its OTLP address (see `tracelamp config`, server.otlp_http_addr). This page refreshes by itself when the first run arrives.'));
}
