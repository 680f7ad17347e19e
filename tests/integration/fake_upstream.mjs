// fake_upstream.mjs - a fake model provider speaking the real OpenAI (chat
// completions, completions, embeddings, responses, models) and Anthropic
// (messages) wire formats, JSON and SSE, with usage that includes cached and
// reasoning tokens. It records every request (headers, body) and the exact
// bytes it sent back, so tests can assert the gateway changed nothing.
//
// Behaviour is chosen by the model name or by the x-fake-mode request header
// (which a gateway route can add to one upstream):
//   mode/model containing "fail429" -> 429 rate_limit error (OpenAI or Anthropic shape)
//   "fail500"                       -> 500 server error
//   "slow"                          -> streams with 150 ms between events
//   "drop"                          -> streams two events, then destroys the socket
//   "hang"                          -> never answers (until the client goes away)
// Run alone: node fake_upstream.mjs [--port N]  (prints "fake_upstream listening PORT").

import http from 'node:http';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function openaiUsage() {
	return {
		prompt_tokens: 50, completion_tokens: 20, total_tokens: 70,
		prompt_tokens_details: { cached_tokens: 10, audio_tokens: 0 },
		completion_tokens_details: { reasoning_tokens: 5, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
	};
}

function responsesUsage() {
	return {
		input_tokens: 40, input_tokens_details: { cached_tokens: 8 },
		output_tokens: 30, output_tokens_details: { reasoning_tokens: 12 }, total_tokens: 70,
	};
}

function anthropicUsage() {
	return { input_tokens: 25, cache_creation_input_tokens: 100, cache_read_input_tokens: 300, output_tokens: 15 };
}

export async function startFakeUpstream(opts = {}) {
	const state = { requests: [], seq: 0, openSockets: new Set() };
	const server = http.createServer((req, res) => handle(state, req, res, opts).catch((e) => {
		try { res.destroy(e); } catch { /* gone */ }
	}));
	server.keepAliveTimeout = 60000;
	server.on('connection', (s) => { state.openSockets.add(s); s.on('close', () => state.openSockets.delete(s)); });
	await new Promise((r) => server.listen(opts.port || 0, '127.0.0.1', r));
	const port = server.address().port;
	return {
		port,
		url: `http://127.0.0.1:${port}`,
		requests: state.requests,
		last() { return state.requests[state.requests.length - 1]; },
		async close() {
			for (const s of state.openSockets) s.destroy();
			await new Promise((r) => server.close(r));
		},
	};
}

async function readBody(req) {
	const chunks = [];
	for await (const c of req) chunks.push(c);
	return Buffer.concat(chunks).toString('utf8');
}

async function handle(state, req, res, opts) {
	const raw = req.method === 'POST' ? await readBody(req) : '';
	let body = {};
	try { body = raw ? JSON.parse(raw) : {}; } catch { body = {}; }
	const rec = { method: req.method, path: req.url, headers: req.headers, raw, body, sent: [], closedEarly: false, finished: false };
	state.requests.push(rec);
	req.socket.once('close', () => { if (!rec.finished) rec.closedEarly = true; });
	const n = ++state.seq;
	const model = String(body.model || '');
	const mode = `${req.headers['x-fake-mode'] || ''} ${model}`;
	const anthropic = req.url.startsWith('/v1/messages');
	const send = (chunk) => { rec.sent.push(Buffer.from(chunk)); res.write(chunk); };
	const end = () => { rec.finished = true; res.end(); };
	const json = (status, obj, extra = {}) => {
		const s = JSON.stringify(obj);
		res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_fake_${n}`, ...extra });
		send(s);
		end();
	};

	if (mode.includes('hang')) {
		await new Promise((r) => req.socket.once('close', r));
		return;
	}
	if (mode.includes('fail429')) {
		if (anthropic) return json(429, { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' }, request_id: `req_${n}` }, { 'retry-after': '1' });
		return json(429, { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, { 'retry-after': '1' });
	}
	if (mode.includes('fail500')) {
		if (anthropic) return json(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
		return json(500, { error: { message: 'The server had an error', type: 'server_error', param: null, code: null } });
	}

	if (req.method === 'GET' && req.url === '/v1/models') {
		return json(200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 1700000000, owned_by: 'fake' }] });
	}

	const stream = body.stream === true;
	const slow = mode.includes('slow');
	const drop = mode.includes('drop');
	const gap = slow ? 150 : 2;
	const sse = async (events) => {
		res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_fake_${n}` });
		let i = 0;
		for (const ev of events) {
			if (rec.closedEarly) return;
			if (drop && i === 2) { rec.dropped = true; res.socket.destroy(); return; }
			send(ev);
			i++;
			await sleep(gap);
		}
		end();
	};
	const data = (o) => `data: ${JSON.stringify(o)}\n\n`;
	const named = (name, o) => `event: ${name}\ndata: ${JSON.stringify(o)}\n\n`;

	if (req.url === '/v1/chat/completions' || req.url === '/v1/completions') {
		const chat = req.url === '/v1/chat/completions';
		const id = chat ? `chatcmpl-fake${n}` : `cmpl-fake${n}`;
		const respModel = model === 'gpt-4o-mini' ? 'gpt-4o-mini-2024-07-18' : model;
		if (!stream) {
			const choice = chat
				? { index: 0, message: { role: 'assistant', content: 'Hello from the fake. Contact bob@example.com', refusal: null }, logprobs: null, finish_reason: 'stop' }
				: { index: 0, text: 'Hello from the fake.', logprobs: null, finish_reason: 'length' };
			return json(200, { id, object: chat ? 'chat.completion' : 'text_completion', created: 1700000000 + n, model: respModel, choices: [choice], usage: openaiUsage(), system_fingerprint: 'fp_fake' });
		}
		const withUsage = body.stream_options && body.stream_options.include_usage === true;
		const base = { id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: 1700000000 + n, model: respModel, system_fingerprint: 'fp_fake' };
		const u = withUsage ? { usage: null } : {};
		const pieces = ['Hel', 'lo', ' from', ' the', ' fake', '.'];
		const events = [];
		if (chat) events.push(data({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...u }));
		for (const p of pieces) {
			events.push(data(chat
				? { ...base, choices: [{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }], ...u }
				: { ...base, choices: [{ index: 0, text: p, logprobs: null, finish_reason: null }], ...u }));
		}
		events.push(data(chat
			? { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...u }
			: { ...base, choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }], ...u }));
		if (withUsage) events.push(data({ ...base, choices: [], usage: openaiUsage() }));
		events.push('data: [DONE]\n\n');
		return sse(events);
	}

	if (req.url === '/v1/embeddings') {
		const inputs = Array.isArray(body.input) ? body.input : [body.input];
		return json(200, { object: 'list', model: model === 'text-embedding-3-small' ? 'text-embedding-3-small' : model,
			data: inputs.map((_, i) => ({ object: 'embedding', index: i, embedding: [0.1, -0.2, 0.3] })),
			usage: { prompt_tokens: 8, total_tokens: 8 } });
	}

	if (req.url === '/v1/responses') {
		const id = `resp_fake${n}`;
		const msg = { type: 'message', id: `msg_fake${n}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hi from responses.', annotations: [] }] };
		const full = { id, object: 'response', created_at: 1700000000 + n, status: 'completed', model, output: [msg], usage: responsesUsage() };
		if (!stream) return json(200, full);
		const pending = { ...full, status: 'in_progress', output: [], usage: null };
		let seq = 0;
		return sse([
			named('response.created', { type: 'response.created', sequence_number: seq++, response: pending }),
			named('response.in_progress', { type: 'response.in_progress', sequence_number: seq++, response: pending }),
			named('response.output_text.delta', { type: 'response.output_text.delta', sequence_number: seq++, item_id: msg.id, output_index: 0, content_index: 0, delta: 'Hi from' }),
			named('response.output_text.delta', { type: 'response.output_text.delta', sequence_number: seq++, item_id: msg.id, output_index: 0, content_index: 0, delta: ' responses.' }),
			named('response.completed', { type: 'response.completed', sequence_number: seq++, response: full }),
		]);
	}

	if (anthropic) {
		const id = `msg_fake${n}`;
		if (!stream) {
			return json(200, { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: 'Hello from Claude fake.' }],
				stop_reason: 'end_turn', stop_sequence: null, usage: anthropicUsage() });
		}
		const u = anthropicUsage();
		return sse([
			named('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
				usage: { input_tokens: u.input_tokens, cache_creation_input_tokens: u.cache_creation_input_tokens, cache_read_input_tokens: u.cache_read_input_tokens, output_tokens: 1 } } }),
			named('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
			'event: ping\ndata: {"type": "ping"}\n\n',
			named('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello from' } }),
			named('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' Claude fake.' } }),
			named('content_block_stop', { type: 'content_block_stop', index: 0 }),
			named('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } }),
			named('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } }),
			named('message_stop', { type: 'message_stop' }),
		]);
	}

	return json(404, { error: { message: `no route ${req.url}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
}

// Bytes the fake sent for a recorded request.
export function sentBytes(rec) {
	return Buffer.concat(rec.sent);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
	const i = process.argv.indexOf('--port');
	const port = i > 0 ? Number(process.argv[i + 1]) : 0;
	const f = await startFakeUpstream({ port });
	// The bench keeps no history.
	f.requests.push = () => 0;
	console.log(`fake_upstream listening ${f.port}`);
}
