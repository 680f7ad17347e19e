// fake_anthropic.mjs - a tiny fake Anthropic Messages API for driving the real
// Claude Code CLI (ANTHROPIC_BASE_URL) in tests: POST /v1/messages in the real
// JSON and SSE wire formats (llm-apis.md 2.3-2.4) with usage that includes cache
// reads and writes, and a request-id header. The first turn of a prompt that
// contains "READ:<path>" answers with a Read tool_use for <path>; a turn that
// carries a tool_result answers with text. Everything else answers "hello".
// A model name containing "fail529" gets a 529 overloaded_error.
// Every request is recorded. Run alone: node fake_anthropic.mjs [--port N].

import http from 'node:http';

// Per-call usage, Anthropic accounting: input_tokens excludes the cache.
export const FAKE_USAGE = { input_tokens: 25, cache_creation_input_tokens: 100, cache_read_input_tokens: 300, output_tokens: 15 };

async function readBody(req) {
	const chunks = [];
	for await (const c of req) chunks.push(c);
	return Buffer.concat(chunks).toString('utf8');
}

function textOf(content) {
	if (typeof content === 'string') return content;
	if (!Array.isArray(content)) return '';
	return content.map((b) => (b && b.type === 'text' ? b.text : '')).join('\n');
}

// Decides the assistant's reply from the conversation so far.
function plan(body) {
	const msgs = Array.isArray(body.messages) ? body.messages : [];
	const last = msgs[msgs.length - 1] || {};
	const hasToolResult = Array.isArray(last.content) && last.content.some((b) => b && b.type === 'tool_result');
	const tools = Array.isArray(body.tools) ? body.tools.map((t) => t.name) : [];
	const m = /READ:(\S+)/.exec(textOf(last.content));
	if (!hasToolResult && m && tools.includes('Read'))
		return { kind: 'tool', name: 'Read', input: { file_path: m[1] } };
	return { kind: 'text', text: hasToolResult ? 'The file says hello.' : 'hello' };
}

function message(id, model, p) {
	const content = p.kind === 'tool'
		? [{ type: 'tool_use', id: `toolu_fake_${id}`, name: p.name, input: p.input }]
		: [{ type: 'text', text: p.text }];
	return {
		id: `msg_fake_${id}`, type: 'message', role: 'assistant', model, content,
		stop_reason: p.kind === 'tool' ? 'tool_use' : 'end_turn', stop_sequence: null,
		usage: { ...FAKE_USAGE, service_tier: 'standard' },
	};
}

function sse(res, event, data) {
	res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
}

function stream(res, id, model, p) {
	const msg = message(id, model, p);
	sse(res, 'message_start', { message: { ...msg, content: [], stop_reason: null, usage: { ...FAKE_USAGE, output_tokens: 1 } } });
	if (p.kind === 'tool') {
		const b = msg.content[0];
		sse(res, 'content_block_start', { index: 0, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
		sse(res, 'content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } });
	} else {
		sse(res, 'content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
		sse(res, 'ping', {});
		sse(res, 'content_block_delta', { index: 0, delta: { type: 'text_delta', text: p.text } });
	}
	sse(res, 'content_block_stop', { index: 0 });
	sse(res, 'message_delta', { delta: { stop_reason: msg.stop_reason, stop_sequence: null }, usage: { output_tokens: FAKE_USAGE.output_tokens } });
	sse(res, 'message_stop', {});
	res.end();
}

export async function startFakeAnthropic(opts = {}) {
	const state = { requests: [], seq: 0 };
	const server = http.createServer(async (req, res) => {
		const raw = req.method === 'POST' ? await readBody(req) : '';
		let body = {};
		try { body = raw ? JSON.parse(raw) : {}; } catch { body = {}; }
		const n = ++state.seq;
		state.requests.push({ method: req.method, path: req.url, headers: req.headers, body });
		const path = req.url.split('?')[0];
		const headers = { 'request-id': `req_fake_${n}` };
		if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
			res.writeHead(200, { ...headers, 'content-type': 'application/json' });
			res.end(JSON.stringify({ input_tokens: 10 }));
			return;
		}
		if (req.method === 'POST' && path === '/v1/messages') {
			const model = String(body.model || 'claude-sonnet-4-5');
			if (model.includes('fail529')) {
				res.writeHead(529, { ...headers, 'content-type': 'application/json' });
				res.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: headers['request-id'] }));
				return;
			}
			const p = plan(body);
			if (body.stream) {
				res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
				stream(res, n, model, p);
			} else {
				res.writeHead(200, { ...headers, 'content-type': 'application/json' });
				res.end(JSON.stringify(message(n, model, p)));
			}
			return;
		}
		res.writeHead(404, { ...headers, 'content-type': 'application/json' });
		res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `no ${path}` }, request_id: headers['request-id'] }));
	});
	await new Promise((r) => server.listen(opts.port || 0, '127.0.0.1', r));
	const port = server.address().port;
	return {
		port,
		url: `http://127.0.0.1:${port}`,
		requests: state.requests,
		messages() { return state.requests.filter((r) => r.path.split('?')[0] === '/v1/messages'); },
		async close() { server.closeAllConnections?.(); await new Promise((r) => server.close(r)); },
	};
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const i = process.argv.indexOf('--port');
	const f = await startFakeAnthropic({ port: i > 0 ? Number(process.argv[i + 1]) : 0 });
	console.log(`fake_anthropic listening ${f.port}`);
}
