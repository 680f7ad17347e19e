// api.js - the only way the UI talks to the daemon: GET requests to the query API v1
// (/api/v1/traces, /api/v1/traces/{id}, /api/v1/stats). Errors carry the API message.

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

// params: plain object; null/undefined/'' values are left out (the API rejects
// unknown or malformed parameters, so the UI never sends empty ones).
export async function apiGet(path, params, { signal } = {}) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') q.set(k, String(v));
	const qs = q.toString();
	const r = await fetch(`/api/v1${path}${qs ? `?${qs}` : ''}`, { signal, headers: { Accept: 'application/json' } });
	const text = await r.text();
	let body = null;
	try { body = JSON.parse(text); } catch { /* not JSON */ }
	if (!r.ok) {
		const e = body && body.error;
		throw new ApiError(r.status, e ? e.code : 'http', e ? e.message : `HTTP ${r.status}`);
	}
	if (!body) throw new ApiError(r.status, 'bad_json', 'response is not JSON');
	return body;
}

export const listTraces = (params, opts) => apiGet('/traces', params, opts);
export const getTrace = (id, opts) => apiGet(`/traces/${encodeURIComponent(id)}`, null, opts);
export const getStats = (params, opts) => apiGet('/stats', params, opts);
