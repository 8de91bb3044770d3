#!/usr/bin/env bash
# bench/run.sh: ingest load with wrk (Debian), moose beside a bare Go handler
# in the same run (the baseline is measured first and last, to show drift).
# moose runs twice: with the default wal_fsync = true (a 200 survives power
# loss) and with false (a 200 survives a process crash). Prints RESULT
# lines and the server's peak RSS.
#   DURATION (default 10s), CONNS (32), THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$PATH:/usr/local/go/bin"
command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk >/dev/null
D=${DURATION:-10s}; C=${CONNS:-32}; T=${THREADS:-2}
make -s build
go build -o bin/baseline ./bench/baseline

work=$(mktemp -d /tmp/moose-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cp -r examples/quickstart "$work/proj"
read -r hash token < <(bin/moose generate hash-token --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["api_key_hash"], d["bearer_token"])')
port=$((20000 + RANDOM % 20000)); mport=$((port + 1)); bport=$((port + 2))
sed -i "s/^port = .*/port = $port/; s/^management_port = .*/management_port = $mport/" "$work/proj/moose.config.toml"

# start_moose FSYNC: a fresh data dir each time, so runs do not share parts.
start_moose() {
	rm -rf "$work/proj/.moose"
	( cd "$work/proj" && MOOSE_ENGINE__WAL_FSYNC=$1 MOOSE_INGEST_API_KEY=$hash MOOSE_CONSUMPTION_API_KEY=$hash \
		MOOSE_LOG_LEVEL=warn exec "$root"/bin/moose prod >"$work/server.log" 2>&1 ) &
	spid=$!; pids+=("$spid")
	for _ in $(seq 100); do curl -fsS "127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
	curl -fsS "127.0.0.1:$port/health" >/dev/null || { cat "$work/server.log"; exit 1; }
}
stop_moose() { kill "$spid"; wait "$spid" 2>/dev/null || true; }
bin/baseline -addr "127.0.0.1:$bport" & pids+=("$!")

echo '{"id":"a1","ts":"2024-01-01T00:00:00Z","path":"/home","user_id":"u1","duration_ms":12.5}' >"$work/one.json"
python3 - "$work/batch.json" <<'PY'
import json, sys
rows = [{"id": f"b{i}", "ts": "2024-01-01 00:00:00", "path": f"/p/{i % 50}", "user_id": f"u{i % 97}", "duration_ms": i * 0.5} for i in range(1000)]
open(sys.argv[1], "w").write(json.dumps(rows))
PY

run() { # name url body token
	local out
	out=$(BODY_FILE=$3 TOKEN=$4 wrk -t"$T" -c"$C" -d"$D" --latency -s bench/post.lua "$2" 2>&1 | grep RESULT)
	echo "$1 $out"
}
echo "machine: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{print $2/1024/1024 " GiB"}'), $(go version | cut -d' ' -f3)"
count() { curl -fsS -H "Authorization: Bearer $token" "127.0.0.1:$port/api/top_pages?limit=1000" | python3 -c 'import json,sys; print(sum(r["views"] for r in json.load(sys.stdin)))'; }
run "baseline-one-record" "http://127.0.0.1:$bport/ingest/PageView" "$work/one.json" ""
start_moose true
run "moose-one-record-apikey" "http://127.0.0.1:$port/ingest/PageView" "$work/one.json" "$token"
run "moose-1000-records-apikey" "http://127.0.0.1:$port/ingest/PageView" "$work/batch.json" "$token"
echo "moose-peak-rss-mb $(awk '/VmHWM/ {print $2/1024}' /proc/"$spid"/status)"
echo "rows-stored $(count)"
stop_moose
start_moose false
run "moose-one-record-apikey-nofsync" "http://127.0.0.1:$port/ingest/PageView" "$work/one.json" "$token"
run "moose-1000-records-apikey-nofsync" "http://127.0.0.1:$port/ingest/PageView" "$work/batch.json" "$token"
echo "moose-nofsync-peak-rss-mb $(awk '/VmHWM/ {print $2/1024}' /proc/"$spid"/status)"
stop_moose
run "baseline-one-record-again" "http://127.0.0.1:$bport/ingest/PageView" "$work/one.json" ""
