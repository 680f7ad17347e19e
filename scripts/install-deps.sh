#!/usr/bin/env bash
# Installs what tracelamp needs from Debian's packages and npm, idempotently.
# Safe to run again: it installs only what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

DEB_PKGS=(build-essential pkg-config clang libclang-rt-14-dev
  libsqlite3-dev sqlite3 libevent-dev libnghttp2-dev libzstd-dev zlib1g-dev
  libcurl4-openssl-dev libyaml-dev libjansson-dev curl prometheus chromium)

missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js may come from another Debian-format repository that bundles npm; only ask
# apt for node and npm when the commands are missing.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages, each folder from its lock file: web/ (uPlot, embedded into the binary),
# tests/integration (the official OpenTelemetry JS exporters, openai), tests/e2e
# (playwright-core driving Debian's chromium).
if [ "${1:-}" != "--no-npm" ]; then
  for dir in web tests/integration tests/e2e; do
    [ -f "$here/$dir/package.json" ] || continue
    cd "$here/$dir"
    if [ ! -f node_modules/.installed ] || [ package.json -nt node_modules/.installed ] ||
       [ package-lock.json -nt node_modules/.installed ]; then
      echo "install-deps: npm ci ($dir)"
      npm ci --no-audit --no-fund --loglevel=error
      touch node_modules/.installed
    fi
  done
fi
