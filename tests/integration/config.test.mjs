// config.test.mjs - `tracelamp config` prints the effective configuration with the
// precedence defaults < tracelamp.yaml < TRACELAMP_* env < --section.key flags, and
// refuses unknown keys and bad values with exit 2 and a message naming the key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, freshDataDir, removeDir } from './lib.mjs';

// The environment without any TRACELAMP_* variable from the caller.
function cleanEnv(extra = {}) {
	const env = {};
	for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRACELAMP_')) env[k] = v;
	return { ...env, ...extra };
}

// Runs `tracelamp config` in a temp dir holding tracelamp.yaml = yaml.
function configRun(yaml, { env = {}, flags = [] } = {}) {
	const dir = freshDataDir('cfg');
	try {
		if (yaml !== null) writeFileSync(join(dir, 'tracelamp.yaml'), yaml);
		return runCli(['config', ...flags], { env: cleanEnv(env), cwd: dir, replaceEnv: true });
	} finally {
		removeDir(dir);
	}
}

// Finds section.key in the printed config: "section.key: v", "section.key=v", or a
// "key: v" line inside a "section:" block.
function valueOf(text, dotted) {
	const [section, key] = dotted.split('.');
	const lines = text.split('\n');
	let inSection = false;
	for (const line of lines) {
		const flat = new RegExp(`^\\s*${section}\\.${key}\\s*[:=]\\s*(.*)$`).exec(line);
		if (flat) return unquote(flat[1]);
		if (/^\S/.test(line)) inSection = new RegExp(`^${section}\\s*:`).test(line);
		else if (inSection) {
			const m = new RegExp(`^\\s+${key}\\s*:\\s*(.*)$`).exec(line);
			if (m) return unquote(m[1]);
		}
	}
	return undefined;
}
function unquote(v) {
	v = v.replace(/\s+#.*$/, '').trim();
	if (/^".*"$/.test(v) || /^'.*'$/.test(v)) v = v.slice(1, -1);
	return v;
}

// Sizes and durations may be printed normalised: compare as numbers.
const UNITS = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
	ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };
function amount(v) {
	const m = /^([0-9.]+)\s*([a-zA-Z]*)$/.exec(String(v).trim());
	if (!m) return NaN;
	const u = m[2].toLowerCase();
	if (u === '') return Number(m[1]);
	return u in UNITS ? Number(m[1]) * UNITS[u] : NaN;
}
function assertSame(text, key, want) {
	const got = valueOf(text, key);
	assert.ok(got !== undefined, `${key} printed in:\n${text}`);
	assert.ok(got === want || amount(got) === amount(want), `${key}: got ${got}, want ${want}`);
}

test('config prints effective values: file < env < flag', () => {
	const yaml = [
		'server:',
		'  max_request_bytes: 8MiB',
		'store:',
		'  retention: 10h',
		'  max_size: 1GiB',
		'  data_dir: /tmp/from-file',
		'',
	].join('\n');
	const r = configRun(yaml, {
		env: { TRACELAMP_STORE_RETENTION: '20h', TRACELAMP_STORE_MAX_SIZE: '2GiB' },
		flags: ['--store.retention=30h'],
	});
	assert.equal(r.status, 0, r.stderr);
	assertSame(r.stdout, 'store.retention', '30h');          // file, env, flag -> flag
	assertSame(r.stdout, 'store.max_size', '2GiB');          // file, env -> env
	assertSame(r.stdout, 'server.max_request_bytes', '8MiB'); // file only
	assertSame(r.stdout, 'store.data_dir', '/tmp/from-file');
	assertSame(r.stdout, 'server.memory_budget', '256MiB');   // default
	assertSame(r.stdout, 'server.http_addr', '127.0.0.1:7070');
});

test('config without a file prints the defaults; TRACELAMP_DATA_DIR applies', () => {
	const r = configRun(null, { env: { TRACELAMP_DATA_DIR: '/tmp/env-dir' } });
	assert.equal(r.status, 0, r.stderr);
	assertSame(r.stdout, 'store.data_dir', '/tmp/env-dir');
	assertSame(r.stdout, 'server.otlp_http_addr', '127.0.0.1:4318');
	assertSame(r.stdout, 'store.retention', '72h');
	assertSame(r.stdout, 'server.max_request_bytes', '16MiB');
});

test('unknown key in the file -> exit 2 naming the key', () => {
	const r = configRun('server:\n  bogus_key: 1\n');
	assert.equal(r.status, 2, `status ${r.status}\n${r.stdout}\n${r.stderr}`);
	assert.match(r.stderr, /bogus_key/);
});

test('bad value -> exit 2 naming the key (file, env, flag)', () => {
	let r = configRun('server:\n  memory_budget: lots\n');
	assert.equal(r.status, 2, `status ${r.status}\n${r.stderr}`);
	assert.match(r.stderr, /memory_budget/);
	r = configRun(null, { env: { TRACELAMP_STORE_RETENTION: 'forever' } });
	assert.equal(r.status, 2, `status ${r.status}\n${r.stderr}`);
	assert.match(r.stderr, /retention|RETENTION/);
	r = configRun(null, { flags: ['--server.max_request_bytes=huge'] });
	assert.equal(r.status, 2, `status ${r.status}\n${r.stderr}`);
	assert.match(r.stderr, /max_request_bytes/);
	r = configRun(null, { flags: ['--server.no_such_flag=1'] });
	assert.equal(r.status, 2, `status ${r.status}\n${r.stderr}`);
	assert.match(r.stderr, /no_such_flag/);
});
