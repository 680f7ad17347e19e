#!/usr/bin/env bash
# e2e.sh - end-to-end check of libtracelamp: runs examples/agent against a real
# `tracelamp serve` on loopback ports in a temp dir, reads the trace back from
# GET /api/v1/traces/{id} and checks spans, GenAI fields and run identity.
# Then runs the agent again with the same run id (a "resumed" run) and checks
# that its spans join the same trace. Needs build/tracelamp and
# build/examples/agent (make all build/examples/agent); prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BIN=${TRACELAMP_BIN:-build/tracelamp}
AGENT=${AGENT_BIN:-build/examples/agent}
pass=0
fail=0
check() { # check NAME COMMAND...
	if "${@:2}" >/dev/null 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1" >&2; fi
}

tmp=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$BIN" serve --server.http_addr=127.0.0.1:0 --server.otlp_http_addr=127.0.0.1:0 --server.otlp_grpc_addr=127.0.0.1:0 \
	--store.data_dir="$tmp/data" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 1 100); do
	grep -q 'listening' "$tmp/serve.log" && break
	sleep 0.1
done
line=$(grep -o 'otlp_http=[0-9.:]* http=[0-9.:]*' "$tmp/serve.log" | head -1)
otlp=${line#otlp_http=}; otlp=${otlp%% *}
api=${line##*http=}
if [ -z "$otlp" ] || [ -z "$api" ]; then
	echo "e2e: daemon did not start" >&2; cat "$tmp/serve.log" >&2
	echo "sdk-e2e: 0 passed, 1 failed"; exit 1
fi

run="e2e-run-$$"
tid=$(OTEL_EXPORTER_OTLP_ENDPOINT="http://$otlp" OTEL_SERVICE_NAME=sdk-e2e "$AGENT" "$run" default)
check "agent printed a trace id" test "${#tid}" -eq 32

get() { curl -fsS "http://$api/api/v1/traces/$tid" -o "$tmp/trace.json"; }
for _ in $(seq 1 50); do get && break; sleep 0.2; done
check "trace readable" test -s "$tmp/trace.json"
j() { python3 -c "import json,sys; t=json.load(open('$tmp/trace.json')); sys.exit(0 if ($1) else 1)"; }
check "6 spans (agent, 3 chat, 2 tools)" j "len(t['spans']) == 6"
check "root is invoke_agent" j "any(s['name'] == 'invoke_agent example-agent' and s['parent_span_id'] is None for s in t['spans'])"
check "chat spans carry usage" j "sum(1 for s in t['spans'] if s['genai'] and s['genai']['operation'] == 'chat' and s['genai']['input_tokens'] > 0) == 3"
check "cache read tokens" j "sum((s['genai'] or {}).get('cache_read_tokens') or 0 for s in t['spans']) == 2176"
check "reasoning tokens" j "sum((s['genai'] or {}).get('reasoning_tokens') or 0 for s in t['spans']) == 112"
check "tool spans" j "sum(1 for s in t['spans'] if s['name'].startswith('execute_tool ')) == 2"
check "run id on every span" j "all(s['attributes'].get('tracelamp.run.id') == '$run' for s in t['spans'])"
check "run step on chat spans" j "sorted(s['attributes'].get('tracelamp.run.step') for s in t['spans'] if s['name'].startswith('chat')) == [0, 1, 2]"
check "service name" j "all(s['service'] == 'sdk-e2e' for s in t['spans'])"
check "content not captured by default" j "all('gen_ai.input.messages' not in s['attributes'] for s in t['spans'])"

# A resumed run (same tenant and run id) joins the same trace.
tid2=$(OTEL_EXPORTER_OTLP_ENDPOINT="http://$otlp" OTEL_SERVICE_NAME=sdk-e2e "$AGENT" "$run" default)
check "resumed run has the same trace id" test "$tid2" = "$tid"
for _ in $(seq 1 50); do
	get && python3 -c "import json,sys; sys.exit(0 if len(json.load(open('$tmp/trace.json'))['spans']) == 12 else 1)" && break
	sleep 0.2
done
check "resumed run's spans joined the trace" j "len(t['spans']) == 12"

echo "sdk-e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
