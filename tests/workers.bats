#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# --workers N: N processes serve the one socket, each with an N-th of
# --max-children; the first supervises them (signals forwarded, a worker that
# dies started again, the socket path and pid file its own).

load test_helper/common

# hold_two ADDRESS: open two connections to a handler that prints $PPID (its
# worker) and then waits for end of file; print both lines, then close them.
hold_two() {
	python3 - "$1" <<'PY'
import socket, sys
host, _, port = sys.argv[1].rpartition(":")
if port.isdigit():
    conns = [socket.create_connection((host.strip("[]"), int(port)), timeout=10) for _ in range(2)]
else:
    conns = []
    for _ in range(2):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sys.argv[1])
        conns.append(s)
for s in conns:
    print(s.makefile().readline().strip())
for s in conns:
    s.close()
PY
}

# workers_of PID: the worker processes of supervisor PID.
workers_of() {
	children_of "$1" | sort
}

@test "--workers 2 -c 2: each worker has one place, so two held connections are served by both" {
	for mode in fork thread; do
		: >"$SERVER_ERR"
		start_server -v --workers 2 -c 2 -m "$mode" 127.0.0.1:0 -- sh -c 'echo $PPID; cat >/dev/null'
		log_has "^sockserve: listening on 127\.0\.0\.1:[0-9]+ \(stream, $mode mode, up to 2 at once, 2 workers\)$"
		wait_until 10 holds -eq 2 child_count "$SERVER_PID"
		run hold_two "$ADDR"
		assert_success
		# two different workers, both children of the supervisor
		assert_equal "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" 2
		assert_equal "$(printf '%s\n' "${lines[@]}" | sort)" "$(workers_of "$SERVER_PID")"
		# each worker logs as itself
		wait_until 10 log_has '^sockserve\[1\]: 127\.0\.0\.1:[0-9]+: start, handler'
		wait_until 10 log_has '^sockserve\[2\]: 127\.0\.0\.1:[0-9]+: start, handler'
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
		assert_equal "$EXIT_STATUS" 0
	done
}

@test "--workers: many requests, all answered; SIGUSR1 gets a status line from each worker" {
	start_server --workers 3 127.0.0.1:0 -- echo ok
	run "$LOAD" conn -n 300 -c 8 -T 60 "$ADDR"
	[[ $output == *"n=300 ok=300 "* ]]
	# A client has its reply before its handler is reaped: ask until every
	# worker is idle and their counts add up to every request.
	wait_until 30 workers_settled 3 300
}

# workers_settled N TOTAL: ask for the status (SIGUSR1); true once each of N
# workers answers with nothing in progress and their counts add up to TOTAL.
workers_settled() {
	local k
	: >"$SERVER_ERR"
	kill -USR1 "$SERVER_PID"
	for k in $(seq "$1"); do
		wait_until 5 log_has "^sockserve\[$k\]: status: " || return 1
	done
	[ "$(awk '/status: 0 in progress,/ { n += $6 } END { print n + 0 }' "$SERVER_ERR")" = "$2" ]
}

@test "--workers: a worker that dies is started again, and serving goes on" {
	start_server --workers 2 127.0.0.1:0 -- echo ok
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	local victim
	victim=$(workers_of "$SERVER_PID" | head -n 1)
	kill -KILL "$victim"
	wait_until 10 log_has "^sockserve: worker [12] \(pid $victim\) killed by signal 9 \(Killed\): starting it again$"
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	run workers_of "$SERVER_PID"
	refute_line "$victim"
	run "$LOAD" conn -n 50 -c 4 -T 30 "$ADDR"
	[[ $output == *"n=50 ok=50 "* ]]
}

# started_ms PID: when PID started, in ms since boot (field 22 of its stat,
# counted after the command name).
started_ms() {
	local stat
	stat=$(cat "/proc/$1/stat") || return 1
	stat=${stat##*) }
	echo "$stat" | awk -v hz="$(getconf CLK_TCK)" '{ print int($20 * 1000 / hz) }'
}

# live_workers: the supervisor's workers that are alive (not zombies yet to
# be reaped).
live_workers() {
	ps -o pid=,stat= --ppid "$SERVER_PID" 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }' | sort
}

# replaced PID: two workers are alive, and PID is not one of them.
replaced() {
	local now
	now=$(live_workers)
	[ "$(echo "$now" | wc -l)" -eq 2 ] && ! echo "$now" | grep -qx "$1"
}

@test "--workers: a worker that dies again at once is started again no sooner than a second after its last start" {
	start_server --workers 2 127.0.0.1:0 -- echo ok
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	local first other second third t2 t3
	first=$(live_workers | head -n 1)
	other=$(live_workers | grep -vx "$first")
	kill -KILL "$first"
	wait_until 10 replaced "$first"
	second=$(live_workers | grep -vx "$other")
	t2=$(started_ms "$second")
	# killed the moment it is seen: without the spacing its successor would
	# start within milliseconds
	kill -KILL "$second"
	wait_until 10 replaced "$second"
	third=$(live_workers | grep -vx "$other")
	t3=$(started_ms "$third")
	echo "second worker started at $t2 ms, third at $t3 ms" >&2
	[ $((t3 - t2)) -ge 950 ]
	run "$LOAD" conn -n 5 -c 1 -T 30 "$ADDR"
	[[ $output == *"n=5 ok=5 "* ]]
}

@test "--workers on a unix socket with --pidfile: SIGTERM drains every worker; the path and pid file go once" {
	start_server -v --workers 2 --pidfile ./s.pid ./s.sock -- sh -c 'echo $PPID; cat >/dev/null'
	assert_equal "$(cat s.pid)" "$SERVER_PID"
	run hold_two ./s.sock
	assert_success
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	[ ! -e s.sock ] && [ ! -e s.pid ]
	assert_equal "$(log_count '^sockserve\[[12]\]: shutting down')" 2
	run log_count 'cannot remove'
	assert_output 0
}

@test "--workers with datagrams: every datagram answered by one worker" {
	start_server -t dgram --workers 2 127.0.0.1:0 -- cat
	run "$LOAD" dgram -n 200 -c 4 -q hi -x hi -w 5000 -T 30 "$ADDR"
	[[ $output == *"n=200 ok=200 "* ]]
}

@test "--workers: JSON lines carry the worker's number" {
	start_server -v --log-format json --workers 2 127.0.0.1:0 -- echo ok
	run client "$ADDR" </dev/null
	assert_output ok
	wait_until 10 log_has '"event":"end"'
	run python3 - "$SERVER_ERR" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
listening = [l for l in lines if l["event"] == "listening"][0]
assert "worker" not in listening and listening["workers"] == 2, listening
end = [l for l in lines if l["event"] == "end"][0]
assert end["worker"] in (1, 2) and list(end)[:4] == ["ts", "level", "worker", "event"], end
PY
	assert_success
}

@test "--workers: bad counts and options that belong to one server are usage errors" {
	local bad
	for bad in 0 1025 x -1; do
		run "$SOCKSERVE" --workers "$bad" 127.0.0.1:0 cat
		assert_failure 64
		assert_line --index 0 --partial "--workers"
	done
	for bad in --once "--max-requests 5" "--idle-timeout 3" --wait; do
		# shellcheck disable=SC2086
		run "$SOCKSERVE" --workers 2 $bad 127.0.0.1:0 cat
		assert_failure 64
		assert_line --index 0 --regexp "^sockserve: --workers runs several servers on one socket: --(max-requests|idle-timeout|wait)"
	done
	# one worker is the plain server, which may count its requests
	start_server --workers 1 --once 127.0.0.1:0 -- echo ok
	run client "$ADDR" </dev/null
	assert_output ok
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}

@test "--reuse-port: a second instance on the same port serves on when the first stops" {
	start_server --reuse-port 127.0.0.1:0 -- echo one
	local first=$SERVER_PID port=${ADDR##*:}
	start_server --reuse-port "127.0.0.1:$port" -- echo two
	assert_equal "$ADDR" "127.0.0.1:$port"
	kill -TERM "$first"
	reap "$first"
	assert_equal "$EXIT_STATUS" 0
	run client "$ADDR" </dev/null
	assert_output two
}

@test "--workers on a socket handed in by systemd-socket-activate" {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate is not installed"
	systemd-socket-activate -l "$PWD/s.sock" "$SOCKSERVE" -v --workers 2 -c 2 systemd -- sh -c 'echo $PPID; cat >/dev/null' \
		2>>"$SERVER_ERR" &
	SERVER_PID=$!
	STARTED_PIDS+=("$SERVER_PID")
	wait_until 10 test -S s.sock
	run hold_two ./s.sock
	assert_success
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" 2
	wait_until 10 log_has 'listening on .*2 workers'
}
