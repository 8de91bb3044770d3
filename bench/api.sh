#!/usr/bin/env bash
# bench/api.sh: analytics APIs over 1M rows, in one run:
#   1. the quickstart's top_pages (GROUP BY over ROWS rows): straight on the engine and through the
#      server, alternating in one process (apibench compare), p50/p99 and their ratio
#   2. a point query (primary-key lookup bound from the JWT's sub) with a valid RS256 JWT (wrk -c32), req/s
# ROWS (default 1000000), DURATION (10s)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$PATH:/usr/local/go/bin"
ROWS=${ROWS:-1000000}; D=${DURATION:-10s}
make -s build
go build -o bin/apibench ./bench/apibench
work=$(mktemp -d /tmp/moose-apibench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cp -r examples/quickstart "$work/proj"
cat >>"$work/proj/app/models.toml" <<'TOML'

[[data_model]]
name = "Profile"
  [[data_model.columns]]
  name = "user_id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "name"
  type = "String"
  [[data_model.columns]]
  name = "plan"
  type = "String"

[[api]]
name = "me"
sql = "SELECT user_id, name, plan FROM Profile WHERE user_id = {me:String}"
  [[api.params]]
  name = "me"
  jwt_claim = "sub"
TOML
bin/apibench jwt "$work"
port=$((20000 + RANDOM % 20000)); mport=$((port + 1))
sed -i "s/^port = .*/port = $port/; s/^management_port = .*/management_port = $mport/" "$work/proj/moose.config.toml"
cat >>"$work/proj/moose.config.toml" <<TOML

[jwt]
secret = """$(cat "$work/jwt.pem")"""
issuer = "https://bench.example/"
audience = "moose-bench"
TOML
bin/apibench prepare "$work/proj" "$ROWS"
echo "machine: $(nproc) cores, $(go version | cut -d' ' -f3)"
read -r hash token < <(bin/moose generate hash-token --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["api_key_hash"], d["bearer_token"])')
( cd "$work/proj" && MOOSE_CONSUMPTION_API_KEY=$hash TOKEN=$token "$root/bin/apibench" compare . 200 )
( cd "$work/proj" && MOOSE_INGEST_API_KEY=$hash MOOSE_CONSUMPTION_API_KEY=$hash MOOSE_LOG_LEVEL=warn exec "$root/bin/moose" prod >"$work/server.log" 2>&1 ) &
pid=$!
for _ in $(seq 100); do curl -fsS "127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
TOKEN=$(cat "$work/jwt.token") wrk -t2 -c32 -d"$D" --latency -s bench/get.lua "http://127.0.0.1:$port/api/me" | grep RESULT | sed 's/^/server-point-jwt /'
echo "server-peak-rss-mb $(awk '/VmHWM/ {print $2/1024}' /proc/"$pid"/status)"
