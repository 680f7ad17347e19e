#!/usr/bin/env bash
# bench/run.sh - the standard benchmark (`make bench`). Starts a fresh tracelamp on
# a temp data dir with ephemeral ports, measures flat-out durable ingest with
# `tracelamp bench` (client and server on this machine), fills the store to
# BENCH_SPANS spans, measures bytes per span on disk and query latencies with
# `tracelamp bench query`, and appends a dated section to bench/RESULTS.md.
#
# Environment:
#   BENCH_SPANS=5000000   spans stored before the query bench (default 5M)
#   BENCH_QUICK=1         a quick run: 5 s ingest, 300k spans, 200 queries
#   BENCH_CONNS=8         sender connections
#   BENCH_SECONDS=20      duration of the measured ingest run
#   BENCH_NO_RECORD=1     print the figures but do not touch RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BIN=${TRACELAMP_BIN:-$root/build/tracelamp}
RESULTS=$root/bench/RESULTS.md

CONNS=${BENCH_CONNS:-8}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	SECONDS_INGEST=${BENCH_SECONDS:-5}
	TARGET_SPANS=${BENCH_SPANS:-300000}
	QUERIES=200
else
	SECONDS_INGEST=${BENCH_SECONDS:-20}
	TARGET_SPANS=${BENCH_SPANS:-5000000}
	QUERIES=1000
fi

[ -x "$BIN" ] || { echo "bench: $BIN not built (run make)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tracelamp-bench.XXXXXX")
data=$work/data
log=$work/server.log
rsslog=$work/rss
mkdir -p "$data"
server_pid=""
sampler_pid=""

cleanup() {
	[ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		sleep 2
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "bench: kept $work"; fi
}
trap cleanup EXIT

# ---- start the server ----------------------------------------------------------
TRACELAMP_DATA_DIR=$data "$BIN" serve --server.otlp_http_addr=127.0.0.1:0 --server.http_addr=127.0.0.1:0 \
	--server.otlp_grpc_addr=127.0.0.1:0 2>"$log" >/dev/null &
server_pid=$!
otlp="" api=""
for _ in $(seq 1 150); do
	line=$(grep -m1 -oE 'listening otlp_http=[0-9.]+:[0-9]+ http=[0-9.]+:[0-9]+' "$log" 2>/dev/null || true)
	if [ -n "$line" ]; then
		otlp=$(sed -E 's/.*otlp_http=([0-9.]+:[0-9]+).*/\1/' <<<"$line")
		api=$(sed -E 's/.* http=([0-9.]+:[0-9]+).*/\1/' <<<"$line")
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || { echo "bench: server exited"; cat "$log"; exit 1; }
	sleep 0.1
done
[ -n "$otlp" ] || { echo "bench: no listening line"; cat "$log"; exit 1; }
for _ in $(seq 1 100); do
	curl -fsS "http://$api/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
echo "bench: server pid $server_pid otlp=$otlp api=$api data=$data"

# Samples the server's RSS (kB) every 200 ms into $rsslog ("<phase> <kB>").
phase_file=$work/phase
echo ingest >"$phase_file"
(
	while kill -0 "$server_pid" 2>/dev/null; do
		rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || true)
		[ -n "$rss" ] && echo "$(cat "$phase_file") $rss" >>"$rsslog"
		sleep 0.2
	done
) &
sampler_pid=$!

result_field() { # result_field "<RESULT line>" key
	sed -nE "s/.* $2=([^ ]+).*/\1/p" <<<"$1"
}

# ---- 1. measured ingest, flat out -----------------------------------------------
echo "bench: ingest, $CONNS connections, ${SECONDS_INGEST}s, flat out"
out=$("$BIN" bench --endpoint "http://$otlp" --connections "$CONNS" --duration "${SECONDS_INGEST}s" --seed 1)
echo "$out"
ingest=$(grep '^RESULT ingest' <<<"$out")
spans_per_s=$(result_field "$ingest" spans_per_s)
ingest_p50=$(result_field "$ingest" p50_ms)
ingest_p99=$(result_field "$ingest" p99_ms)
ingest_errors=$(result_field "$ingest" errors)
stored=$(result_field "$ingest" spans)
sleep 0.5
rss_ingest_kb=$(awk '$1=="ingest" && $2>m {m=$2} END {print m+0}' "$rsslog")

# ---- 2. fill to TARGET_SPANS -------------------------------------------------------
echo fill >"$phase_file"
fill_start=$(date +%s)
for round in 1 2 3 4 5; do
	[ "$stored" -ge "$TARGET_SPANS" ] && break
	rate=${spans_per_s%.*}
	[ "${rate:-0}" -gt 1000 ] || rate=1000
	need=$((TARGET_SPANS - stored))
	secs=$(( need * 11 / 10 / rate + 2 ))
	echo "bench: fill round $round: $stored spans stored, $need to go (~${secs}s)"
	fout=$("$BIN" bench --endpoint "http://$otlp" --connections "$CONNS" --duration "${secs}s" --seed $((round + 1)))
	fr=$(grep '^RESULT ingest' <<<"$fout")
	stored=$((stored + $(result_field "$fr" spans)))
	echo "$fout" | grep -E '^(accepted spans/s|errors)'
done
fill_secs=$(( $(date +%s) - fill_start ))

# ---- 3. let the store settle, measure bytes per span --------------------------------
echo settle >"$phase_file"
echo "bench: $stored spans acknowledged; waiting for the store to settle"
prev=-1
for _ in $(seq 1 60); do
	size=$(du -sb "$data" | awk '{print $1}')
	[ "$size" = "$prev" ] && break
	prev=$size
	sleep 2
done
db_bytes_live=$(du -sb "$data" | awk '{print $1}')

# ---- 4. query latencies ---------------------------------------------------------------
echo query >"$phase_file"
qout=$("$BIN" bench query --api "http://$api" --n "$QUERIES" --seed 7)
echo "$qout"
q() { grep "^RESULT query $1 " <<<"$qout" | sed -nE "s/.* $2=([^ ]+).*/\1/p"; }
byid_p50=$(q trace_by_id p50_ms); byid_p99=$(q trace_by_id p99_ms)
list_p50=$(q list_newest50 p50_ms); list_p99=$(q list_newest50 p99_ms)
stats_p50=$(q stats_by_model p50_ms); stats_p99=$(q stats_by_model p99_ms)

rss_peak_kb=$(awk '$2>m {m=$2} END {print m+0}' "$rsslog")
hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")

# ---- 5. drain and measure the files at rest ---------------------------------------------
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""
t0=$(date +%s%N)
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
drain_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
server_pid=""
db_bytes_rest=$(du -sb "$data" | awk '{print $1}')

bps_live=$(awk -v b="$db_bytes_live" -v s="$stored" 'BEGIN {printf "%.1f", s ? b / s : 0}')
bps_rest=$(awk -v b="$db_bytes_rest" -v s="$stored" 'BEGIN {printf "%.1f", s ? b / s : 0}')
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

verdict() { # verdict value op limit -> "met" / "MISSED"
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? (v >= l) : (v < l); print ok ? "met" : "MISSED" }'
}

echo
echo "== figures"
printf '%-34s %s\n' "ingest spans/s" "$spans_per_s" "ingest request p50/p99 ms" "$ingest_p50 / $ingest_p99" \
	"ingest errors" "$ingest_errors" "server peak RSS during ingest" "$(mb "$rss_ingest_kb") MiB" \
	"server peak RSS overall (VmHWM)" "$(mb "${hwm_kb:-0}") MiB" "spans stored" "$stored" \
	"db bytes/span (live / at rest)" "$bps_live / $bps_rest" "trace by id p50/p99 ms" "$byid_p50 / $byid_p99" \
	"list newest 50 p50/p99 ms" "$list_p50 / $list_p99" "stats by model p50/p99 ms" "$stats_p50 / $stats_p99" \
	"SIGTERM drain" "exit $rc in ${drain_ms} ms"

[ "${BENCH_NO_RECORD:-0}" = 1 ] && exit 0

# ---- 6. append to RESULTS.md ------------------------------------------------------------
prev_line=$(grep -E '^<!-- figures ' "$RESULTS" 2>/dev/null | tail -n 1 || true)
prevf() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$prev_line"; }
was() { # was key -> " (prev X)" when a previous run exists
	local p
	p=$(prevf "$1")
	[ -n "$p" ] && printf ' (previous: %s)' "$p" || true
}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
mode=full
[ "${BENCH_QUICK:-0}" = 1 ] && mode=quick
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' || true)" ] && rev="$rev+dirty"

{
	[ -s "$RESULTS" ] || printf '# Benchmark results\n\nAppended by `bench/run.sh` (`make bench`); newest last. See bench/README.md.\n'
	echo
	echo "## $(date -u '+%Y-%m-%d %H:%M UTC') ($mode run, commit $rev)"
	echo
	echo "- command: \`make bench\` (BENCH_SPANS=$TARGET_SPANS BENCH_CONNS=$CONNS BENCH_SECONDS=$SECONDS_INGEST${BENCH_QUICK:+ BENCH_QUICK=$BENCH_QUICK})"
	echo "- machine: $(nproc) CPUs, $cpu, $ram RAM; client and server on the same machine"
	echo "- workload: agent runs of 1 invoke_agent + 10 chat + 8 execute_tool spans, 5 runs (95 spans) per request, OTLP/HTTP protobuf, no content"
	echo
	echo "| figure | value | target | |"
	echo "|---|---|---|---|"
	echo "| durable ingest, spans/s | $spans_per_s$(was spans_per_s) | >= 150000 | $(verdict "$spans_per_s" '>=' 150000) |"
	echo "| ingest request latency p50 / p99 | $ingest_p50 / $ingest_p99 ms$(was ingest_p99) | | |"
	echo "| ingest errors (non-200 + transport) | $ingest_errors | 0 | |"
	echo "| server peak RSS during flat-out ingest | $(mb "$rss_ingest_kb") MiB$(was rss_ingest_mib) | < 64 MiB | $(verdict "$(mb "$rss_ingest_kb")" '<' 64) |"
	echo "| server peak RSS overall (VmHWM, incl. queries) | $(mb "${hwm_kb:-0}") MiB$(was hwm_mib) | | |"
	echo "| spans stored for the query bench | $stored | >= $TARGET_SPANS | |"
	echo "| disk bytes/span, live (db + WAL) | $bps_live$(was bytes_per_span_live) | | |"
	echo "| disk bytes/span, after shutdown | $bps_rest$(was bytes_per_span_rest) | <= 100 | $(verdict "$bps_rest" '<' 100.0001) |"
	echo "| trace by id p50 / p99 | $byid_p50 / $byid_p99 ms$(was byid_p99) | p99 < 5 ms | $(verdict "$byid_p99" '<' 5) |"
	echo "| list newest 50 p50 / p99 | $list_p50 / $list_p99 ms$(was list_p99) | p99 < 20 ms | $(verdict "$list_p99" '<' 20) |"
	echo "| stats by model (24 h) p50 / p99 | $stats_p50 / $stats_p99 ms$(was stats_p99) | p99 < 50 ms | $(verdict "$stats_p99" '<' 50) |"
	echo "| SIGTERM drain | exit $rc in $drain_ms ms | exit 0 | |"
	echo
	echo "Fill: $stored spans in ${fill_secs}s after the measured run. Query bench: $QUERIES requests of each kind, one connection."
	echo
	echo "<!-- figures spans_per_s=$spans_per_s ingest_p99=$ingest_p99 rss_ingest_mib=$(mb "$rss_ingest_kb") hwm_mib=$(mb "${hwm_kb:-0}") bytes_per_span_live=$bps_live bytes_per_span_rest=$bps_rest byid_p99=$byid_p99 list_p99=$list_p99 stats_p99=$stats_p99 spans=$stored -->"
} >>"$RESULTS"
echo "bench: appended to $RESULTS"

# Gateway overhead (issue 5): its own section in RESULTS.md.
if [ "${BENCH_GATEWAY:-1}" = 1 ]; then
	gwout=$(bash "$(dirname "$0")/gateway.sh" 2>&1) || echo "bench: gateway overhead run failed" >&2
	echo "$gwout"
	{
		echo
		echo "### Gateway overhead ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $rev)"
		echo
		echo "- command: \`bash bench/gateway.sh\` (from \`make bench\`); targets: < 1 ms added at p99 non-streaming at 1,000 req/s, < 0.2 ms added per streamed chunk"
		echo
		echo '```'
		echo "$gwout"
		echo '```'
	} >>"$RESULTS"
fi
