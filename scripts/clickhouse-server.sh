#!/usr/bin/env bash
# clickhouse-server.sh: start and stop a throwaway ClickHouse server for tests.
#
#   scripts/clickhouse-server.sh start DIR   # prints export lines; eval them
#   scripts/clickhouse-server.sh stop DIR
#
# start installs clickhouse-server and clickhouse-client with apt-get when they
# are missing, picks two free loopback ports, writes DIR/config.xml and
# DIR/users.xml, starts the server in the background and waits (30 s at most)
# until /ping answers "Ok." while the started process is still alive. It then
# prints
#
#   export MOOSE_TEST_CLICKHOUSE_URL=http://127.0.0.1:PORT
#   export MOOSE_TEST_CLICKHOUSE_AUTH=moose_auth:PASSWORD
#
# and writes the same lines to DIR/env and the server's PID to DIR/pid.
# MOOSE_TEST_CLICKHOUSE_AUTH names a second user with a random password, used
# by the tests that check credentials travel in headers. Typical use:
#
#   eval "$(scripts/clickhouse-server.sh start /tmp/ch)"
#   go test ./internal/olap/clickhouse/
#   scripts/clickhouse-server.sh stop /tmp/ch
#
# Everything the server writes (data, tmp, logs) stays under DIR. Logs go to
# stderr of this script only on failure; read DIR/log/ otherwise.
set -euo pipefail

die() {
	echo "clickhouse-server.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start DIR | stop DIR" >&2
	exit 2
}

install_clickhouse() {
	if [[ -x /usr/sbin/clickhouse-server && -x /usr/bin/clickhouse-client ]]; then
		return
	fi
	command -v apt-get >/dev/null || die "clickhouse-server is not installed and apt-get is not available"
	local sudo=""
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "installing clickhouse-server needs root (or sudo)"
		sudo="sudo"
	fi
	local pkgs=(clickhouse-server clickhouse-client)
	export DEBIAN_FRONTEND=noninteractive
	if ! $sudo apt-get install -y --no-install-recommends "${pkgs[@]}" >&2; then
		$sudo apt-get update >&2
		$sudo apt-get install -y --no-install-recommends "${pkgs[@]}" >&2 ||
			die "apt-get could not install ${pkgs[*]}"
	fi
	[[ -x /usr/sbin/clickhouse-server ]] || die "apt-get ran but /usr/sbin/clickhouse-server is missing"
}

# port_free PORT: nothing listens on PORT (any address, TCP).
port_free() {
	local p=$1
	if command -v ss >/dev/null; then
		[[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]] || return 1
	fi
	# A connect that succeeds means someone is listening.
	! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

# free_port [EXCLUDE]: a random free port in 20000-59999, not EXCLUDE.
free_port() {
	local exclude=${1:-0} p i
	for i in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		[[ $p -ne $exclude ]] || continue
		if port_free "$p"; then
			echo "$p"
			return
		fi
	done
	die "no free port found after 100 tries"
}

write_config() {
	local dir=$1 http_port=$2 tcp_port=$3 auth_password=$4
	cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse-server.sh for tests; throwaway. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http_port</http_port>
    <tcp_port>$tcp_port</tcp_port>
    <keep_alive_timeout>30</keep_alive_timeout>
    <max_connections>512</max_connections>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
	cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse-server.sh for tests; throwaway. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <moose_auth>
            <password>$auth_password</password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </moose_auth>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

log_tail() {
	local dir=$1 f
	for f in "$dir/log/clickhouse-server.err.log" "$dir/log/clickhouse-server.log" "$dir/log/stderr.log"; do
		if [[ -s $f ]]; then
			echo "--- last lines of $f:" >&2
			tail -n 25 "$f" >&2
		fi
	done
}

start() {
	local dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [[ -f $dir/pid ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
		die "a server started from $dir is already running (pid $(cat "$dir/pid")); run: $0 stop $dir"
	fi
	install_clickhouse
	mkdir -p "$dir/log" "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"

	local http_port tcp_port auth_password
	http_port=$(free_port)
	tcp_port=$(free_port "$http_port")
	# Random, and with characters that would be mangled if they went into a URL.
	auth_password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'):@/?#%+ x"
	write_config "$dir" "$http_port" "$tcp_port" "$auth_password"

	# ClickHouse 18.16 runs as root (current versions refuse unless told
	# otherwise, but those are not what apt-get installs here). Run as the
	# clickhouse user when it exists, so the data directory is owned the way
	# a packaged server owns it; fall back to the current user.
	local runner=()
	if [[ $(id -u) -eq 0 ]] && id clickhouse >/dev/null 2>&1; then
		if command -v setpriv >/dev/null; then
			runner=(setpriv --reuid=clickhouse --regid=clickhouse --init-groups --)
		elif command -v runuser >/dev/null; then
			runner=(runuser -u clickhouse --)
		fi
		if [[ ${#runner[@]} -gt 0 ]]; then
			chmod o+x "$dir"
			chown -R clickhouse: "$dir/log" "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
			# DIR under a private directory (e.g. /root/...): stay root.
			if ! "${runner[@]}" test -r "$dir/config.xml" -a -w "$dir/data"; then
				chown -R root: "$dir/log" "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
				runner=()
			fi
		fi
	fi

	# setsid: the server must outlive this script and not get its signals.
	setsid "${runner[@]}" /usr/sbin/clickhouse-server --config-file="$dir/config.xml" \
		</dev/null >"$dir/log/stdout.log" 2>"$dir/log/stderr.log" &
	local pid=$!
	echo "$pid" >"$dir/pid"

	local deadline=$((SECONDS + 30))
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log_tail "$dir"
			die "clickhouse-server (pid $pid) exited during start-up; see $dir/log/"
		fi
		if [[ $(curl -fsS --max-time 2 "http://127.0.0.1:$http_port/ping" 2>/dev/null) == "Ok." ]]; then
			break
		fi
		if ((SECONDS >= deadline)); then
			log_tail "$dir"
			kill "$pid" 2>/dev/null || true
			die "clickhouse-server (pid $pid) did not answer http://127.0.0.1:$http_port/ping within 30 s"
		fi
		sleep 0.1
	done
	# Port race: if another process held the port, /ping may have answered
	# for it. Make sure our process is the one listening.
	if ! kill -0 "$pid" 2>/dev/null; then
		log_tail "$dir"
		die "clickhouse-server (pid $pid) exited right after start-up"
	fi

	{
		echo "export MOOSE_TEST_CLICKHOUSE_URL=http://127.0.0.1:$http_port"
		printf 'export MOOSE_TEST_CLICKHOUSE_AUTH=%q\n' "moose_auth:$auth_password"
	} >"$dir/env"
	cat "$dir/env"
}

stop() {
	local dir=$1
	[[ -f $dir/pid ]] || die "no $dir/pid: nothing started from $dir"
	local pid i
	pid=$(cat "$dir/pid")
	if kill "$pid" 2>/dev/null; then
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$dir/pid"
}

[[ $# -eq 2 ]] || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
