#!/usr/bin/env bash
# Runs every test: C unit tests, fuzz corpus replay, integration tests (node:test
# with the real OpenTelemetry JS exporters against the real binary). Ends with
# one line "N passed, N failed" summing all suites.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
pass=0 fail=0
log=$(mktemp -d)/tests.log

count() { # parses "...: N passed, M failed" lines from a suite's output
  local out=$1 p f
  while read -r p f; do pass=$((pass + p)); fail=$((fail + f)); done < <(
    grep -aE '^[^ ]*:? ?[0-9]+ passed, [0-9]+ failed' "$out" | sed -E 's/.*[^0-9]([0-9]+) passed, ([0-9]+) failed.*/\1 \2/; s/^([0-9]+) passed, ([0-9]+) failed.*/\1 \2/')
}

echo "== unit tests"
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  out=$(mktemp)
  if ! "$t" >"$out" 2>&1; then cat "$out"; fi
  grep -E 'passed, [0-9]+ failed' "$out"
  if ! grep -qE 'passed, [0-9]+ failed' "$out"; then echo "$t: crashed"; cat "$out"; fail=$((fail + 1)); fi
  count "$out"
done

echo "== fuzz corpus replay"
for t in "$BUILD"/fuzz-replay/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  out=$(mktemp)
  "$t" tests/fuzz/corpus/"$name" >"$out" 2>&1 || { cat "$out"; }
  tail -n 1 "$out"
  if ! grep -qE 'passed, [0-9]+ failed' "$out"; then echo "$name: crashed"; fail=$((fail + 1)); fi
  count "$out"
done

echo "== shell suites (tests/*/e2e.sh)"
for t in tests/*/e2e.sh; do
  [ -f "$t" ] || continue
  out=$(mktemp)
  TRACELAMP_BIN="$BUILD/tracelamp" bash "$t" >"$out" 2>&1
  tail -n 1 "$out"
  if ! grep -qE 'passed, [0-9]+ failed' "$out"; then echo "$t: did not finish"; cat "$out"; fail=$((fail + 1)); fi
  grep -q FAIL "$out" && grep FAIL "$out"
  count "$out"
done

# node:test suites: integration (real OpenTelemetry JS exporters, openai client) and
# e2e (headless Debian chromium driven by playwright-core); both drive the real binary.
node_suite() { # node_suite DIR EXTRA_ENV...
  local dir=$1; shift
  ls "$dir"/*.test.mjs >/dev/null 2>&1 || return 0
  echo "== $dir"
  local out; out=$(mktemp)
  (cd "$dir" && env "$@" TRACELAMP_BIN="$PWD/../../$BUILD/tracelamp" node --test --test-concurrency=1 --test-reporter=spec *.test.mjs) >"$out" 2>&1
  local rc=$?
  grep -aE '^(✖|ℹ (tests|pass|fail))' "$out" || true
  if [ $rc -ne 0 ]; then sed -n '/failing tests:/,$p' "$out" | head -80; fi
  local p f
  p=$(grep -aE '^ℹ pass [0-9]+' "$out" | awk '{print $3}'); f=$(grep -aE '^ℹ fail [0-9]+' "$out" | awk '{print $3}')
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
  if [ -z "$p" ]; then echo "$dir: runner did not finish"; tail -40 "$out"; fail=$((fail + 1)); fi
  if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then echo "$dir: node exited $rc"; fail=$((fail + 1)); fi
}
node_suite tests/integration
node_suite tests/e2e TRACELAMP_E2E_REQUIRE_EMBEDDED=1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
