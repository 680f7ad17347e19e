// lib.mjs - shared helpers for the integration tests: start/stop/kill the real
// tracelamp binary on ephemeral loopback ports in a fresh data dir, talk to its
// OTLP/HTTP receiver and query API, and build OTLP requests by hand (protobuf and
// JSON) for the inputs the OpenTelemetry SDK cannot produce.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export const BIN = process.env.TRACELAMP_BIN || new URL('../../build/tracelamp', import.meta.url).pathname;

const LISTEN_RE = /listening otlp_http=([0-9.]+):(\d+) http=([0-9.]+):(\d+)/;

export function freshDataDir(tag = 'it') {
	return mkdtempSync(join(tmpdir(), `tracelamp-${tag}-`));
}

export function removeDir(dir) {
	try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

// A running daemon. Use Daemon.start(); always stop() or kill() it.
export class Daemon {
	constructor(dataDir, args, env) {
		this.dataDir = dataDir;
		this.args = args;
		this.env = env;
		this.log = '';
		this.proc = null;
		this.exit = null;
	}

	// Starts `tracelamp serve` and resolves once /readyz answers 200.
	// opts: { dataDir, args: [...extra flags], env: {...}, keepDir }
	static async start(opts = {}) {
		const dataDir = opts.dataDir || freshDataDir();
		const d = new Daemon(dataDir, opts.args || [], opts.env || {});
		d.ownsDir = !opts.dataDir && !opts.keepDir;
		await d._spawn();
		return d;
	}

	async _spawn() {
		this.log = '';
		this.exit = null;
		const args = ['serve', '--server.otlp_http_addr=127.0.0.1:0', '--server.http_addr=127.0.0.1:0',
			'--server.otlp_grpc_addr=127.0.0.1:0', ...this.args];
		const env = { ...process.env, TRACELAMP_DATA_DIR: this.dataDir, ...this.env };
		const proc = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
		this.proc = proc;
		this.exited = new Promise((resolve) => {
			proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); });
		});
		const onData = (buf) => {
			this.log += buf.toString();
			if (this.log.length > 200000) this.log = this.log.slice(-100000);
		};
		proc.stdout.on('data', onData);
		proc.stderr.on('data', onData);
		const deadline = Date.now() + 15000;
		let m = null;
		while (!m) {
			m = LISTEN_RE.exec(this.log);
			if (m) break;
			if (this.exit) throw new Error(`tracelamp exited early (${JSON.stringify(this.exit)}):\n${this.log}`);
			if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`no "listening" line within 15s:\n${this.log}`); }
			await sleep(20);
		}
		this.otlpPort = Number(m[2]);
		this.httpPort = Number(m[4]);
		this.otlpUrl = `http://127.0.0.1:${this.otlpPort}`;
		this.apiUrl = `http://127.0.0.1:${this.httpPort}`;
		while (true) {
			try {
				const r = await fetch(`${this.apiUrl}/readyz`);
				await r.arrayBuffer();
				if (r.status === 200) break;
			} catch { /* not yet */ }
			if (this.exit) throw new Error(`tracelamp exited before ready:\n${this.log}`);
			if (Date.now() > deadline) throw new Error(`/readyz not 200 within 15s:\n${this.log}`);
			await sleep(20);
		}
		// The OTLP/gRPC port, appended to the listening line.
		const g = /listening .*otlp_grpc=([0-9.]+):(\d+)/.exec(this.log);
		this.grpcPort = g ? Number(g[2]) : null;
		this.grpcUrl = g ? `http://127.0.0.1:${this.grpcPort}` : null;
	}

	// SIGTERM and wait for exit; returns {code, signal}.
	async stop(timeoutMs = 20000) {
		if (!this.proc || this.exit) return this.exit;
		this.proc.kill('SIGTERM');
		const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
		const e = await this.exited;
		clearTimeout(t);
		return e;
	}

	async kill9() {
		if (!this.proc || this.exit) return this.exit;
		this.proc.kill('SIGKILL');
		return this.exited;
	}

	// Starts again on the same data dir (new ephemeral ports).
	async restart() {
		if (this.proc && !this.exit) await this.stop();
		await this._spawn();
	}

	// Stops (SIGKILL if it does not exit) and removes the data dir if we made it.
	async dispose() {
		if (this.proc && !this.exit) {
			this.proc.kill('SIGTERM');
			const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
			await this.exited;
			clearTimeout(t);
		}
		if (this.ownsDir) removeDir(this.dataDir);
	}

	pid() { return this.proc.pid; }

	// GET (or other method) on the API port; returns {status, headers, text, json}.
	async api(path, { tenant, method = 'GET' } = {}) {
		const headers = {};
		if (tenant) headers['X-Tracelamp-Tenant'] = tenant;
		const r = await fetch(`${this.apiUrl}${path}`, { method, headers });
		const text = await r.text();
		let json = null;
		try { json = JSON.parse(text); } catch { /* not JSON */ }
		return { status: r.status, headers: r.headers, text, json };
	}

	// Like api() but asserts 200 and returns the JSON body.
	async apiOk(path, opts) {
		const r = await this.api(path, opts);
		if (r.status !== 200) throw new Error(`GET ${path} -> ${r.status}: ${r.text}`);
		return r.json;
	}

	async trace(id, opts) { return this.api(`/api/v1/traces/${id}`, opts); }

	// Every trace of the list (following cursors) for the query string qs.
	async listAll(qs = '', opts = {}) {
		const out = [];
		let cursor = null;
		for (let i = 0; i < 10000; i++) {
			const parts = [];
			if (qs) parts.push(qs);
			if (cursor) parts.push(`cursor=${encodeURIComponent(cursor)}`);
			const body = await this.apiOk(`/api/v1/traces?${parts.join('&')}`, opts);
			out.push(...body.traces);
			if (!body.next_cursor) break;
			cursor = body.next_cursor;
		}
		return out;
	}

	// POSTs an OTLP body to /v1/traces (see postRaw for options).
	post(body, opts = {}) { return postRaw(this.otlpPort, body, opts); }

	async metricsText() {
		const r = await fetch(`${this.apiUrl}/metrics`);
		return r.text();
	}
}

// One HTTP request over a fresh socket to 127.0.0.1:port, written by hand so that
// tests control every header (Content-Length or chunked, odd methods, huge bodies).
// opts: { path='/v1/traces', method='POST', contentType='application/x-protobuf',
//   encoding, tenant, headers: {}, chunked: false, chunkSize }
// body: Buffer, string, or an async iterable of Buffers (then chunked or
// opts.contentLength must be given). Resolves {status, headers, body: Buffer,
// reset: bool} as soon as a complete response is read; keeps writing the body
// only while no response arrived (a server may answer 413 early and close).
export function postRaw(port, body, opts = {}) {
	const path = opts.path || '/v1/traces';
	const method = opts.method || 'POST';
	const hdrs = { Host: `127.0.0.1:${port}`, Connection: 'close' };
	if (opts.contentType !== null) hdrs['Content-Type'] = opts.contentType || 'application/x-protobuf';
	if (opts.encoding) hdrs['Content-Encoding'] = opts.encoding;
	if (opts.tenant) hdrs['X-Tracelamp-Tenant'] = opts.tenant;
	Object.assign(hdrs, opts.headers || {});
	const isIter = body && typeof body[Symbol.asyncIterator] === 'function';
	if (typeof body === 'string') body = Buffer.from(body);
	if (opts.chunked) hdrs['Transfer-Encoding'] = 'chunked';
	else if (isIter) hdrs['Content-Length'] = String(opts.contentLength);
	else if (body != null) hdrs['Content-Length'] = String(body.length);
	else if (method === 'POST' || method === 'PUT') hdrs['Content-Length'] = '0';

	return new Promise((resolve, reject) => {
		const sock = net.connect(port, '127.0.0.1');
		let resp = Buffer.alloc(0);
		let done = false;
		let parsed = null;
		const finish = (reset) => {
			if (done) return;
			done = true;
			sock.destroy();
			if (!parsed) parsed = parseResponse(resp, true);
			if (!parsed) { reject(new Error(`no complete HTTP response (reset=${reset}, got ${resp.length} bytes)`)); return; }
			parsed.reset = reset;
			resolve(parsed);
		};
		sock.on('data', (d) => {
			resp = Buffer.concat([resp, d]);
			const p = parseResponse(resp, false);
			if (p) { parsed = p; finish(false); }
		});
		sock.on('end', () => finish(false));
		sock.on('error', () => finish(true));
		sock.on('close', () => finish(true));
		sock.on('connect', async () => {
			let head = `${method} ${path} HTTP/1.1\r\n`;
			for (const [k, v] of Object.entries(hdrs)) head += `${k}: ${v}\r\n`;
			head += '\r\n';
			sock.write(head);
			const writeChunk = async (buf) => {
				if (done || sock.destroyed) return false;
				const data = opts.chunked ? Buffer.concat([Buffer.from(buf.length.toString(16) + '\r\n'), buf, Buffer.from('\r\n')]) : buf;
				if (!sock.write(data)) {
					await new Promise((r) => {
						const done2 = () => { sock.off('drain', done2); sock.off('close', done2); r(); };
						sock.on('drain', done2);
						sock.on('close', done2);
					});
				}
				return !done && !sock.destroyed;
			};
			try {
				if (isIter) {
					for await (const chunk of body) if (!(await writeChunk(chunk))) return;
				} else if (body != null && body.length > 0) {
					const step = opts.chunkSize || 1 << 20;
					for (let off = 0; off < body.length; off += step) {
						if (!(await writeChunk(body.subarray(off, Math.min(off + step, body.length))))) return;
					}
				}
				if (opts.chunked && !done && !sock.destroyed) sock.write('0\r\n\r\n');
			} catch { /* the socket closed under us; the response (if any) decides */ }
		});
	});
}

// Parses an HTTP/1.1 response from buf; returns null while incomplete. With
// atEof, a response without Content-Length ends at EOF.
function parseResponse(buf, atEof) {
	const end = buf.indexOf('\r\n\r\n');
	if (end < 0) return null;
	const head = buf.subarray(0, end).toString('latin1').split('\r\n');
	const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
	if (!m) return null;
	const headers = {};
	for (const line of head.slice(1)) {
		const i = line.indexOf(':');
		if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
	}
	const rest = buf.subarray(end + 4);
	let body;
	if (headers['content-length'] !== undefined) {
		const n = Number(headers['content-length']);
		if (rest.length < n) return null;
		body = rest.subarray(0, n);
	} else if ((headers['transfer-encoding'] || '').toLowerCase().includes('chunked')) {
		const parts = [];
		let off = 0;
		for (;;) {
			const le = rest.indexOf('\r\n', off);
			if (le < 0) return null;
			const n = parseInt(rest.subarray(off, le).toString(), 16);
			if (Number.isNaN(n)) return null;
			if (n === 0) break;
			if (rest.length < le + 2 + n + 2) return null;
			parts.push(rest.subarray(le + 2, le + 2 + n));
			off = le + 2 + n + 2;
		}
		body = Buffer.concat(parts);
	} else {
		if (!atEof) return null;
		body = rest;
	}
	return { status: Number(m[1]), headers, body };
}

// Runs `tracelamp <args>` synchronously; returns {status, stdout, stderr}.
// With replaceEnv, env is the whole environment.
export function runCli(args, { env = {}, cwd, replaceEnv = false } = {}) {
	const r = spawnSync(BIN, args, { env: replaceEnv ? env : { ...process.env, ...env }, cwd, encoding: 'utf8', timeout: 20000 });
	return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
}

// ---- ids, time --------------------------------------------------------------

export const newTraceId = () => randomBytes(16).toString('hex');
export const newSpanId = () => randomBytes(8).toString('hex');
export const nowNs = () => BigInt(Date.now()) * 1000000n;

// ---- hand-built OTLP requests ------------------------------------------------
//
// A request is { resourceSpans: [{ resource: {attributes}, scopeSpans: [{ scope:
// {name, version}, spans: [span] }] }] } where span = { traceId, spanId (hex),
// parentSpanId?, name, kind?, start, end (BigInt ns), attributes?, events?, links?,
// status?: {code, message} } and attributes are [[key, value]] pairs or a plain
// object. Values are tagged AnyValues: {s}, {b}, {i: bigint|string}, {d}, {arr: []},
// {kv: [[k, v]]}, {bytes: Buffer}, {} (empty) - or plain JS values run through av().

// Converts a plain JS value to a tagged AnyValue.
export function av(x) {
	if (x && typeof x === 'object' && !Array.isArray(x) && !Buffer.isBuffer(x) &&
	    ('s' in x || 'b' in x || 'i' in x || 'd' in x || 'arr' in x || 'kv' in x || 'bytes' in x || Object.keys(x).length === 0)) return x;
	if (typeof x === 'string') return { s: x };
	if (typeof x === 'boolean') return { b: x };
	if (typeof x === 'bigint') return { i: x };
	if (typeof x === 'number') return Number.isInteger(x) ? { i: BigInt(x) } : { d: x };
	if (Buffer.isBuffer(x)) return { bytes: x };
	if (Array.isArray(x)) return { arr: x.map(av) };
	if (x && typeof x === 'object') return { kv: Object.entries(x).map(([k, v]) => [k, av(v)]) };
	throw new Error(`av: cannot convert ${x}`);
}

const kvPairs = (a) => (a ? (Array.isArray(a) ? a : Object.entries(a)) : []);

// OTLP/JSON ----------------------------------------------------------------

function anyJson(x) {
	const v = av(x);
	if ('s' in v) return { stringValue: v.s };
	if ('b' in v) return { boolValue: v.b };
	if ('i' in v) return { intValue: String(v.i) };
	if ('d' in v) return { doubleValue: v.d };
	if ('arr' in v) return { arrayValue: { values: v.arr.map(anyJson) } };
	if ('kv' in v) return { kvlistValue: { values: kvJson(v.kv) } };
	if ('bytes' in v) return { bytesValue: v.bytes.toString('base64') };
	return {};
}
const kvJson = (a) => kvPairs(a).map(([k, v]) => ({ key: k, value: anyJson(v) }));

export function toOtlpJson(req) {
	return JSON.stringify({
		resourceSpans: req.resourceSpans.map((rs) => ({
			resource: { attributes: kvJson(rs.resource?.attributes) },
			scopeSpans: rs.scopeSpans.map((ss) => ({
				scope: ss.scope || { name: 'it' },
				spans: ss.spans.map((s) => {
					const o = {
						traceId: s.traceId, spanId: s.spanId, name: s.name, kind: s.kind ?? 1,
						startTimeUnixNano: String(s.start), endTimeUnixNano: String(s.end),
						attributes: kvJson(s.attributes),
					};
					if (s.parentSpanId) o.parentSpanId = s.parentSpanId;
					if (s.events) o.events = s.events.map((e) => ({ timeUnixNano: String(e.time), name: e.name, attributes: kvJson(e.attributes) }));
					if (s.links) o.links = s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: kvJson(l.attributes) }));
					if (s.status) o.status = { code: s.status.code, message: s.status.message || '' };
					return o;
				}),
			})),
		})),
	});
}

// Protobuf -----------------------------------------------------------------

// A minimal protobuf writer: fields are appended to a list of Buffers.
export class PbWriter {
	constructor() { this.parts = []; }
	varint(v) {
		let x = BigInt.asUintN(64, BigInt(v));
		const out = [];
		do {
			let byte = Number(x & 0x7fn);
			x >>= 7n;
			if (x) byte |= 0x80;
			out.push(byte);
		} while (x);
		this.parts.push(Buffer.from(out));
		return this;
	}
	tag(field, wire) { return this.varint((field << 3) | wire); }
	uint(field, v) { return this.tag(field, 0).varint(v); }
	bytes(field, buf) {
		if (typeof buf === 'string') buf = Buffer.from(buf, 'utf8');
		this.tag(field, 2).varint(buf.length);
		this.parts.push(buf);
		return this;
	}
	msg(field, fn) { const w = new PbWriter(); fn(w); return this.bytes(field, w.finish()); }
	fixed64(field, v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v))); this.tag(field, 1); this.parts.push(b); return this; }
	fixed32(field, v) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.tag(field, 5); this.parts.push(b); return this; }
	double(field, v) { const b = Buffer.alloc(8); b.writeDoubleLE(v); this.tag(field, 1); this.parts.push(b); return this; }
	raw(buf) { this.parts.push(buf); return this; }
	finish() { return Buffer.concat(this.parts); }
}

export function pbAnyValue(w, x) {
	const v = av(x);
	if ('s' in v) w.bytes(1, Buffer.isBuffer(v.s) ? v.s : Buffer.from(v.s, 'utf8'));
	else if ('b' in v) w.uint(2, v.b ? 1 : 0);
	else if ('i' in v) w.uint(3, BigInt(v.i));
	else if ('d' in v) w.double(4, v.d);
	else if ('arr' in v) w.msg(5, (a) => { for (const it of v.arr) a.msg(1, (e) => pbAnyValue(e, it)); });
	else if ('kv' in v) w.msg(6, (l) => { for (const [k, it] of v.kv) l.msg(1, (kv) => pbKeyValue(kv, k, it)); });
	else if ('bytes' in v) w.bytes(7, v.bytes);
	return w;
}
function pbKeyValue(w, k, v) { w.bytes(1, k); w.msg(2, (a) => pbAnyValue(a, v)); }
function pbAttrs(w, field, attrs) { for (const [k, v] of kvPairs(attrs)) w.msg(field, (kv) => pbKeyValue(kv, k, v)); }
const idBuf = (x) => (Buffer.isBuffer(x) ? x : Buffer.from(x, 'hex'));

export function pbSpan(w, s) {
	w.bytes(1, idBuf(s.traceId));
	w.bytes(2, idBuf(s.spanId));
	if (s.parentSpanId) w.bytes(4, idBuf(s.parentSpanId));
	w.bytes(5, s.name);
	w.uint(6, s.kind ?? 1);
	w.fixed64(7, s.start);
	w.fixed64(8, s.end);
	pbAttrs(w, 9, s.attributes);
	for (const e of s.events || []) w.msg(11, (ew) => { ew.fixed64(1, e.time); ew.bytes(2, e.name); pbAttrs(ew, 3, e.attributes); });
	for (const l of s.links || []) w.msg(13, (lw) => { lw.bytes(1, idBuf(l.traceId)); lw.bytes(2, idBuf(l.spanId)); pbAttrs(lw, 4, l.attributes); });
	if (s.status) w.msg(15, (st) => { if (s.status.message) st.bytes(2, s.status.message); st.uint(3, s.status.code); });
	return w;
}

export function toOtlpProto(req) {
	const w = new PbWriter();
	for (const rs of req.resourceSpans) {
		w.msg(1, (r) => {
			r.msg(1, (res) => pbAttrs(res, 1, rs.resource?.attributes));
			for (const ss of rs.scopeSpans) {
				r.msg(2, (sw) => {
					const sc = ss.scope || { name: 'it' };
					sw.msg(1, (scw) => { scw.bytes(1, sc.name || ''); if (sc.version) scw.bytes(2, sc.version); });
					for (const s of ss.spans) sw.msg(2, (spw) => pbSpan(spw, s));
				});
			}
		});
	}
	return w.finish();
}

// One resource/scope around a list of spans.
export function req1(spans, { service = 'it-service', resource = {}, scope } = {}) {
	return { resourceSpans: [{ resource: { attributes: { 'service.name': service, ...resource } }, scopeSpans: [{ scope: scope || { name: 'it-scope', version: '1.0' }, spans }] }] };
}

// A simple span with fresh ids (override anything via fields).
export function mkSpan(fields = {}) {
	const start = fields.start ?? nowNs() - 1000000000n;
	return { traceId: newTraceId(), spanId: newSpanId(), name: 'op', kind: 1, start, end: start + 5000000n, attributes: {}, ...fields };
}

// A GenAI chat span (current conventions).
export function chatSpan(traceId, parentSpanId, { model = 'gpt-4o-mini', provider = 'openai', input = 100, output = 20, start, durMs = 50, extra = {} } = {}) {
	const s = start ?? nowNs() - 2000000000n;
	return {
		traceId, spanId: newSpanId(), parentSpanId, name: `chat ${model}`, kind: 3, start: s, end: s + BigInt(durMs) * 1000000n,
		attributes: {
			'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': provider, 'gen_ai.request.model': model,
			'gen_ai.response.model': model, 'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': output, ...extra,
		},
	};
}

// Parses Prometheus text format 0.0.4; throws on a malformed line. Returns
// { samples: [{name, labels, value}], help: Set, type: Map }.
export function parsePrometheus(text) {
	const samples = [];
	const help = new Set();
	const type = new Map();
	const lines = text.split('\n');
	const nameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i];
		if (line === '') continue;
		if (line.startsWith('# HELP ')) { const m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) /.exec(line + ' '); if (!m) throw new Error(`bad HELP line ${i + 1}: ${line}`); help.add(m[1]); continue; }
		if (line.startsWith('# TYPE ')) {
			const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
			if (!m) throw new Error(`bad TYPE line ${i + 1}: ${line}`);
			type.set(m[1], m[2]);
			continue;
		}
		if (line.startsWith('#')) continue;
		const nm = nameRe.exec(line);
		if (!nm) throw new Error(`bad sample name line ${i + 1}: ${line}`);
		let rest = line.slice(nm[0].length);
		const labels = {};
		if (rest.startsWith('{')) {
			let j = 1;
			while (rest[j] !== '}') {
				const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(rest.slice(j));
				if (!lm) throw new Error(`bad label at line ${i + 1}: ${line}`);
				j += lm[0].length;
				let val = '';
				while (rest[j] !== '"') {
					if (j >= rest.length) throw new Error(`unterminated label value line ${i + 1}: ${line}`);
					if (rest[j] === '\\') {
						const c = rest[j + 1];
						if (c === 'n') val += '\n'; else if (c === '\\') val += '\\'; else if (c === '"') val += '"';
						else throw new Error(`bad escape line ${i + 1}: ${line}`);
						j += 2;
					} else { val += rest[j]; j++; }
				}
				j++;
				labels[lm[1]] = val;
				if (rest[j] === ',') j++;
				else if (rest[j] !== '}') throw new Error(`bad label separator line ${i + 1}: ${line}`);
			}
			rest = rest.slice(j + 1);
		}
		const vm = /^ ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))( -?\d+)?$/.exec(rest);
		if (!vm) throw new Error(`bad sample value line ${i + 1}: ${line}`);
		const v = vm[1] === 'Inf' || vm[1] === '+Inf' ? Infinity : vm[1] === '-Inf' ? -Infinity : Number(vm[1]);
		samples.push({ name: nm[0], labels, value: v });
	}
	return { samples, help, type };
}

// The base family name of a sample (strips _bucket/_sum/_count/_total when the
// family with that base was declared).
export function familyOf(name, type) {
	if (type.has(name)) return name;
	for (const suf of ['_bucket', '_sum', '_count', '_total', '_created']) {
		if (name.endsWith(suf) && type.has(name.slice(0, -suf.length))) return name.slice(0, -suf.length);
	}
	return name;
}
