#!/usr/bin/env bash
# fuzz.sh runs every Fuzz* target in the module for FUZZTIME (default 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-5s}"
grep -rl --include='*_test.go' '^func Fuzz' internal cmd 2>/dev/null | while read -r f; do
	pkg="./$(dirname "$f")"
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r name; do
		echo "fuzz $pkg $name ($t)"
		go test -run='^$' -fuzz="^${name}\$" -fuzztime="$t" "$pkg" >/tmp/moose-fuzz.log 2>&1 || { cat /tmp/moose-fuzz.log; exit 1; }
	done
done
