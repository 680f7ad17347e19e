#!/usr/bin/env bash
# gateway.sh - gateway overhead: starts a fake upstream (by default the C one,
# `tracelamp bench-gateway --fake-upstream`; GW_FAKE=node uses tests/integration/
# fake_upstream.mjs) and `tracelamp serve` with a gateway route to it, then runs
# `tracelamp bench-gateway`, which sends the same load to the fake directly and
# through the gateway and prints the difference. Non-streaming at
# GW_RATE req/s (default 1000), then streaming.
# Usage: bash bench/gateway.sh   (env: TRACELAMP_BIN, GW_RATE, GW_DURATION)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${TRACELAMP_BIN:-$here/build/tracelamp}
rate=${GW_RATE:-1000}
dur=${GW_DURATION:-5}
work=$(mktemp -d /tmp/tracelamp-gwbench-XXXXXX)
fake_pid=""; serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ "${GW_FAKE:-c}" = node ]; then
  node "$here/tests/integration/fake_upstream.mjs" > "$work/fake.log" 2>&1 &
else
  "$bin" bench-gateway --fake-upstream > "$work/fake.log" 2>&1 &
fi
fake_pid=$!
for _ in $(seq 100); do grep -q listening "$work/fake.log" && break; sleep 0.05; done
fport=$(sed -n 's/.*listening \([0-9]*\).*/\1/p' "$work/fake.log")
[ -n "$fport" ] || { echo "gateway.sh: fake upstream did not start"; cat "$work/fake.log"; exit 1; }

cat > "$work/tracelamp.yaml" <<YAML
gateway:
  addr: 127.0.0.1:0
  keys:
    - {key_env: GW_BENCH_KEY, tenant: bench}
  routes:
    - match: "*"
      upstreams:
        - {name: fake, api: openai, base_url: "http://127.0.0.1:$fport"}
YAML
GW_BENCH_KEY=bench-key "$bin" serve --config="$work/tracelamp.yaml" --server.http_addr=127.0.0.1:0 \
  --server.otlp_http_addr=127.0.0.1:0 --server.otlp_grpc_addr=127.0.0.1:0 --store.data_dir="$work/data" --log.level=warn > "$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 200); do grep -q 'gateway=' "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
gw=$(sed -n 's/.*gateway=\([0-9.:]*\).*/\1/p' "$work/serve.log")
[ -n "$gw" ] || { echo "gateway.sh: daemon did not start"; cat "$work/serve.log"; exit 1; }

# Warm-up, not measured: connection pools fill, and the daemon's one-off work on a
# new database (training the chunk compression dictionary) happens here.
"$bin" bench-gateway --direct="http://127.0.0.1:$fport" --gateway="http://$gw" --key=bench-key \
  --rate="$rate" --duration=3 --connections=64 > /dev/null 2>&1 || true
echo "== gateway overhead, non-streaming chat completions at $rate req/s for ${dur}s (${GW_FAKE:-c} fake upstream, loopback)"
"$bin" bench-gateway --direct="http://127.0.0.1:$fport" --gateway="http://$gw" --key=bench-key \
  --rate="$rate" --duration="$dur" --connections=64
echo "== gateway overhead, streaming (9 SSE events 2 ms apart) at $((rate / 10)) req/s for ${dur}s"
"$bin" bench-gateway --direct="http://127.0.0.1:$fport" --gateway="http://$gw" --key=bench-key \
  --rate="$((rate / 10))" --duration="$dur" --connections=64 --stream=true
