#!/usr/bin/env bash
# test.sh is `make test`: it installs and starts everything the tests need,
# then runs vet, every test with -race, and each fuzz target briefly.
#   - libchdb.so (scripts/install-chdb.sh, cached outside the repo)
#   - a ClickHouse server on free loopback ports (scripts/clickhouse-server.sh),
#     exported as MOOSE_TEST_CLICKHOUSE_URL; under CI=true a missing server
#     fails the ClickHouse tests instead of skipping them
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

echo "== installing libchdb.so"
scripts/install-chdb.sh

chdir=$(mktemp -d /tmp/moose-ch.XXXXXX)
cleanup() { scripts/clickhouse-server.sh stop "$chdir" >/dev/null 2>&1 || true; rm -rf "$chdir"; }
trap cleanup EXIT
echo "== starting a ClickHouse server"
if scripts/clickhouse-server.sh start "$chdir"; then
	# shellcheck disable=SC1091
	source "$chdir/env"
	echo "ClickHouse at $MOOSE_TEST_CLICKHOUSE_URL"
else
	echo "could not start a ClickHouse server" >&2
	[ "${CI:-}" = "true" ] && exit 1
fi

echo "== go vet"
go vet ./...
test -z "$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

echo "== fuzz (${FUZZTIME:-5s} each)"
FUZZTIME="${FUZZTIME:-5s}" scripts/fuzz.sh
echo "== all tests passed"
