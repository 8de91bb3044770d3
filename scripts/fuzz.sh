#!/usr/bin/env bash
# fuzz.sh runs every Fuzz* target in the module for FUZZTIME (default 5s).
# A crash writes its input under testdata/fuzz/ and fails the run. Go's fuzz
# coordinator sometimes stops with "context deadline exceeded" on a loaded
# machine without any failing input: that run is retried once.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-5s}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fuzz_one() { # pkg name
	go test -run='^$' -fuzz="^$2\$" -fuzztime="$t" -parallel=1 "$1" >"$log" 2>&1
}
for f in $(grep -rl --include='*_test.go' '^func Fuzz' internal cmd 2>/dev/null); do
	pkg="./$(dirname "$f")"
	for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		echo "fuzz $pkg $name ($t)"
		if fuzz_one "$pkg" "$name"; then
			continue
		fi
		if grep -q "Failing input written to" "$log" || ! grep -q "context deadline exceeded" "$log"; then
			cat "$log"
			exit 1
		fi
		echo "  fuzz coordinator timed out without a failing input; retrying once"
		fuzz_one "$pkg" "$name" || { cat "$log"; exit 1; }
	done
done
