#!/usr/bin/env bash
# Fails if a banned unsafe function is used in src/ (STYLE.md rule 13).
set -u
cd "$(dirname "$0")/.."
hits=$(grep -nE '\b(strcpy|sprintf|atoi|strtok|gets|strcat)\s*\(' -r src sdk 2>/dev/null | grep -v 'snprintf\|vsnprintf')
if [ -n "$hits" ]; then echo "banned functions used:"; echo "$hits"; exit 1; fi
echo "check-banned: ok"
