// transcript.js - turns a span's GenAI content attributes (every known form) into one
// chat transcript: [{role, parts: [{type, ...}], name?, finish_reason?, source}].
// Pure functions (no DOM), so node can test them.
//
// Forms read, first match wins per direction (input, output):
//   gen_ai.system_instructions, gen_ai.input.messages, gen_ai.output.messages
//     (structured arrays or JSON strings; parts or OpenAI/Anthropic-style content);
//   gen_ai.prompt.N.* / gen_ai.completion.N.* (indexed, with tool_calls.J.*);
//   llm.input_messages.N.message.* / llm.output_messages.N.message.* (OpenInference);
//   gen_ai.prompt / gen_ai.completion JSON strings, on the span or on the span events
//     gen_ai.content.prompt / gen_ai.content.completion;
//   the per-message span events gen_ai.{system,user,assistant,tool}.message, gen_ai.choice,
//     and the same events sent as OTLP log records (span.logs; the content is in the body);
//   gen_ai.client.inference.operation.details log records (their message attributes, used
//     when the span has none);
//   tool spans: gen_ai.tool.call.arguments / gen_ai.tool.call.result;
//   input.value / output.value and traceloop.entity.input / output as a last resort.

// A JSON string becomes its value; anything else is returned as is.
export function maybeJson(v) {
	if (typeof v !== 'string') return v;
	const s = v.trim();
	if (!s || (s[0] !== '[' && s[0] !== '{')) return v;
	try { return JSON.parse(s); } catch { return v; }
}

// Flattened attributes "prefix.N.rest" -> array (by N) of nested objects built from
// "rest" split on dots; numeric segments become arrays.
export function unflatten(attrs, prefix) {
	const out = [];
	const p = `${prefix}.`;
	for (const [k, v] of Object.entries(attrs)) {
		if (!k.startsWith(p)) continue;
		const segs = k.slice(p.length).split('.');
		if (!/^\d+$/.test(segs[0])) continue;
		const idx = Number(segs[0]);
		if (segs.length === 1) { out[idx] = v; continue; }
		if (out[idx] == null || typeof out[idx] !== 'object') out[idx] = {};
		let o = out[idx];
		for (let i = 1; i < segs.length - 1; i++) {
			const s = segs[i];
			const nextNum = /^\d+$/.test(segs[i + 1]);
			if (o[s] == null || typeof o[s] !== 'object') o[s] = nextNum ? [] : {};
			o = o[s];
		}
		o[segs[segs.length - 1]] = v;
	}
	return out.filter((x) => x != null);
}

function textPart(s) { return { type: 'text', content: typeof s === 'string' ? s : JSON.stringify(s, null, 2) }; }

// One content item of any known shape -> a part.
function normPart(c) {
	if (c == null) return null;
	if (typeof c === 'string') return textPart(c);
	if (typeof c !== 'object') return textPart(String(c));
	const t = c.type;
	if (t === 'text' || t === 'input_text' || t === 'output_text')
		return textPart(c.content ?? c.text ?? '');
	if (t === 'reasoning' || t === 'thinking') return { type: 'reasoning', content: c.content ?? c.thinking ?? c.text ?? '' };
	if (t === 'tool_call' || t === 'function_call')
		return { type: 'tool_call', id: c.id ?? c.call_id, name: c.name, arguments: maybeJson(c.arguments) };
	if (t === 'tool_use') return { type: 'tool_call', id: c.id, name: c.name, arguments: c.input };
	if (t === 'tool_call_response' || t === 'function_call_output')
		return { type: 'tool_call_response', id: c.id ?? c.call_id, response: maybeJson(c.response ?? c.result ?? c.output) };
	if (t === 'tool_result') {
		let r = c.content;
		if (Array.isArray(r) && r.every((x) => x && x.type === 'text')) r = r.map((x) => x.text).join('\n');
		return { type: 'tool_call_response', id: c.tool_use_id, response: maybeJson(r) };
	}
	if (c.message_content) return normPart(c.message_content);
	if (t === undefined && (c.text != null || c.content != null)) return textPart(c.text ?? c.content);
	return { type: t || 'data', value: c };
}

function toolCallsOf(m) {
	const out = [];
	for (const tc of m.tool_calls || []) {
		if (!tc) continue;
		const x = tc.tool_call || tc;
		const fn = x.function || {};
		out.push({ type: 'tool_call', id: x.id, name: fn.name ?? x.name, arguments: maybeJson(fn.arguments ?? x.arguments) });
	}
	return out;
}

// Any message shape -> {role, parts, name?, finish_reason?} or null.
export function normMessage(m, defaultRole) {
	if (m == null) return null;
	if (typeof m === 'string') return { role: defaultRole, parts: [textPart(m)] };
	if (typeof m !== 'object' || Array.isArray(m)) return { role: defaultRole, parts: [textPart(m)] };
	if (m.message && typeof m.message === 'object' && !m.parts && m.content == null) {
		const inner = normMessage(m.message, defaultRole);
		if (inner && m.finish_reason && !inner.finish_reason) inner.finish_reason = m.finish_reason;
		return inner;
	}
	const role = m.role || defaultRole;
	let parts = [];
	if (Array.isArray(m.parts)) parts = m.parts.map(normPart);
	else {
		let content = m.content;
		if (typeof content === 'string') {
			const j = maybeJson(content);
			if (Array.isArray(j) && j.length && j.every((x) => x && typeof x === 'object' && x.type)) content = j;
		}
		if (Array.isArray(m.contents)) content = m.contents;
		if (Array.isArray(content)) parts = content.map(normPart);
		else if (content != null && content !== '') {
			if (role === 'tool' && (m.tool_call_id || m.id))
				parts = [{ type: 'tool_call_response', id: m.tool_call_id || m.id, response: maybeJson(content) }];
			else parts = [textPart(content)];
		} else if (m.text != null) parts = [textPart(m.text)];
		parts.push(...toolCallsOf(m));
	}
	parts = parts.filter(Boolean);
	const out = { role, parts };
	if (m.name) out.name = m.name;
	const fr = m.finish_reason ?? m.finishReason;
	if (fr) out.finish_reason = fr;
	return out;
}

function normList(v, defaultRole) {
	v = maybeJson(v);
	if (v == null) return [];
	if (Array.isArray(v)) return v.map((m) => normMessage(m, defaultRole)).filter(Boolean);
	if (typeof v === 'object' && Array.isArray(v.messages)) return normList(v.messages, defaultRole);
	if (typeof v === 'object' && Array.isArray(v.choices)) return normList(v.choices, defaultRole);
	return [normMessage(v, defaultRole)].filter(Boolean);
}

function eventAttrs(events, name) {
	const e = (events || []).find((x) => x.name === name);
	return e ? e.attributes || {} : null;
}

// Log records of the span (GET /api/v1/traces/{id} span.logs) as span events: the
// deprecated per-message events carry their fields in the body.
function logsAsEvents(logs) {
	const out = [];
	for (const l of logs || []) {
		if (!l || !l.event_name) continue;
		const b = l.body;
		const fromBody = b && typeof b === 'object' && !Array.isArray(b) ? b : b != null ? { content: b } : {};
		out.push({ name: l.event_name, attributes: { ...(l.attributes || {}), ...fromBody } });
	}
	return out;
}

// -> {messages: [...], sources: [attribute names used]}
// logs: the span's log records (optional).
export function extractTranscript(attrs, events, logs) {
	attrs = attrs || {};
	if (logs && logs.length) {
		events = [...(events || []), ...logsAsEvents(logs)];
		// The span's own attributes win over those of the operation-details event.
		const det = logs.find((l) => l && l.event_name === 'gen_ai.client.inference.operation.details');
		if (det && det.attributes) attrs = { ...det.attributes, ...attrs };
	}
	const sources = [];
	const messages = [];
	const take = (key, list, source) => {
		if (!list.length) return false;
		sources.push(key);
		for (const m of list) { m.source = source; messages.push(m); }
		return true;
	};

	// System instructions (a list of parts, or a string).
	if (attrs['gen_ai.system_instructions'] != null) {
		let v = maybeJson(attrs['gen_ai.system_instructions']);
		if (!Array.isArray(v)) v = [v];
		const parts = v.map(normPart).filter(Boolean);
		take('gen_ai.system_instructions', parts.length ? [{ role: 'system', parts }] : [], 'input');
	}

	const input = [
		() => attrs['gen_ai.input.messages'] != null && take('gen_ai.input.messages', normList(attrs['gen_ai.input.messages'], 'user'), 'input'),
		() => take('gen_ai.prompt.N', unflatten(attrs, 'gen_ai.prompt').map((m) => normMessage(m, 'user')).filter(Boolean), 'input'),
		() => take('llm.input_messages.N', unflatten(attrs, 'llm.input_messages').map((m) => normMessage(m, 'user')).filter(Boolean), 'input'),
		() => attrs['gen_ai.prompt'] != null && take('gen_ai.prompt', normList(attrs['gen_ai.prompt'], 'user'), 'input'),
		() => {
			const ea = eventAttrs(events, 'gen_ai.content.prompt');
			return ea && ea['gen_ai.prompt'] != null && take('event gen_ai.content.prompt', normList(ea['gen_ai.prompt'], 'user'), 'input');
		},
		() => {
			const list = [];
			for (const e of events || []) {
				const m = /^gen_ai\.(system|user|assistant|tool)\.message$/.exec(e.name);
				if (!m) continue;
				const a = e.attributes || {};
				const msg = normMessage({ role: a.role || m[1], content: a.content, tool_calls: maybeJson(a.tool_calls), id: a.id }, m[1]);
				if (msg) list.push(msg);
			}
			return take('events gen_ai.*.message', list, 'input');
		},
		() => attrs['gen_ai.tool.call.arguments'] != null && take('gen_ai.tool.call.arguments', [{
			role: 'assistant',
			parts: [{ type: 'tool_call', id: attrs['gen_ai.tool.call.id'], name: attrs['gen_ai.tool.name'], arguments: maybeJson(attrs['gen_ai.tool.call.arguments']) }],
		}], 'input'),
		() => attrs['input.value'] != null && take('input.value', normList(attrs['input.value'], 'user'), 'input'),
		() => attrs['traceloop.entity.input'] != null && take('traceloop.entity.input', normList(attrs['traceloop.entity.input'], 'user'), 'input'),
	];
	for (const f of input) if (f()) break;

	const output = [
		() => attrs['gen_ai.output.messages'] != null && take('gen_ai.output.messages', normList(attrs['gen_ai.output.messages'], 'assistant'), 'output'),
		() => take('gen_ai.completion.N', unflatten(attrs, 'gen_ai.completion').map((m) => normMessage(m, 'assistant')).filter(Boolean), 'output'),
		() => take('llm.output_messages.N', unflatten(attrs, 'llm.output_messages').map((m) => normMessage(m, 'assistant')).filter(Boolean), 'output'),
		() => attrs['gen_ai.completion'] != null && take('gen_ai.completion', normList(attrs['gen_ai.completion'], 'assistant'), 'output'),
		() => {
			const ea = eventAttrs(events, 'gen_ai.content.completion');
			return ea && ea['gen_ai.completion'] != null && take('event gen_ai.content.completion', normList(ea['gen_ai.completion'], 'assistant'), 'output');
		},
		() => {
			const list = [];
			for (const e of events || []) {
				if (e.name !== 'gen_ai.choice') continue;
				const a = e.attributes || {};
				const msg = normMessage({ message: maybeJson(a.message) || { content: a.content }, finish_reason: a.finish_reason, tool_calls: maybeJson(a.tool_calls) }, 'assistant');
				if (msg) list.push(msg);
			}
			return take('events gen_ai.choice', list, 'output');
		},
		() => attrs['gen_ai.tool.call.result'] != null && take('gen_ai.tool.call.result', [{
			role: 'tool',
			parts: [{ type: 'tool_call_response', id: attrs['gen_ai.tool.call.id'], response: maybeJson(attrs['gen_ai.tool.call.result']) }],
		}], 'output'),
		() => attrs['output.value'] != null && take('output.value', normList(attrs['output.value'], 'assistant'), 'output'),
		() => attrs['traceloop.entity.output'] != null && take('traceloop.entity.output', normList(attrs['traceloop.entity.output'], 'assistant'), 'output'),
	];
	for (const f of output) if (f()) break;

	return { messages, sources };
}

// Attribute names that the transcript already shows (so the UI can mark them).
export function isContentAttr(k) {
	return /^(gen_ai\.(input|output)\.messages|gen_ai\.system_instructions|gen_ai\.prompt|gen_ai\.completion|gen_ai\.prompt\.\d+\..*|gen_ai\.completion\.\d+\..*|llm\.(input|output)_messages\..*)$/.test(k);
}
