#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The server's life in the mode given by SS_MODE: readiness, shutdown with a
# grace period, unix socket paths, status on SIGUSR1.

load test_helper/common

@test "--print-address prints one line, then the reader sees end of file" {
	mkfifo out
	"$SOCKSERVE" -m "$MODE" --print-address 127.0.0.1:0 cat >out 2>/dev/null 3>&- &
	STARTED_PIDS+=($!)
	local server=$!
	{ read -r line; echo "$line" >addr; cat >rest; echo eof >eof; } <out &
	wait_until 10 test -f eof
	assert_regex "$(cat addr)" '^127\.0\.0\.1:[0-9]+$'
	assert_equal "$(cat rest)" ""
	kill -0 "$server"
	run client "$(cat addr)" <<<"still serving"
	assert_output "still serving"
}

# stop_at_once ADDRESS SIGNAL TRIES: start sockserve with a pid file, send
# SIGNAL the moment its address has been read, and require exit 0 with the
# pid file (and a unix path) gone, every time.
stop_at_once() {
	local address=$1 sig=$2 tries=$3 i
	for ((i = 0; i < tries; i++)); do
		start_server -m "$MODE" --pidfile "$BATS_TEST_TMPDIR/s.pid" "$address" -- cat
		kill "-$sig" "$SERVER_PID"
		reap "$SERVER_PID"
		STARTED_PIDS=()
		if [ "$EXIT_STATUS" -ne 0 ] || [ -e "$BATS_TEST_TMPDIR/s.pid" ] ||
			{ [[ $address == */* ]] && [ -e "$address" ]; }; then
			echo "try $i: exit $EXIT_STATUS after SIG$sig; left: $(ls "$BATS_TEST_TMPDIR")" >&2
			return 1
		fi
	done
}

@test "ready means ready: SIGTERM the moment the address is read drains (100 tries, inet)" {
	stop_at_once 127.0.0.1:0 TERM 100
}

@test "ready means ready: SIGTERM the moment the address is read drains (100 tries, unix)" {
	stop_at_once "$BATS_TEST_TMPDIR/r.sock" TERM 100
}

@test "SIGHUP stops like SIGTERM: exit 0, no socket path or pid file left" {
	stop_at_once "$BATS_TEST_TMPDIR/h.sock" HUP 20
	stop_at_once 127.0.0.1:0 HUP 5
}

# SIGHUP ignored, as nohup(1) passes it on through exec.
ignore_hup() {
	trap '' HUP
}

@test "under nohup (SIGHUP ignored) SIGHUP does not stop sockserve" {
	start_server_after ignore_hup -m "$MODE" 127.0.0.1:0 -- echo alive
	kill -HUP "$SERVER_PID"
	run client "$ADDR" </dev/null
	assert_output "alive"
	kill -0 "$SERVER_PID"
}

@test "SIGTERM: stop accepting, let a running handler finish, exit 0" {
	start_server -m "$MODE" -v 127.0.0.1:0 -- sh -c 'read x; sleep 0.5; echo "finished $x"'
	client "$ADDR" <<<"req" >reply &
	local c=$!
	wait_until 10 log_has ': start, handler pid'
	kill -TERM "$SERVER_PID"
	wait_until 10 log_has 'shutting down: 1 in progress'
	# the listener is closed at once
	run client "$ADDR" </dev/null
	assert_failure
	assert_output --partial "Connection refused"
	wait "$c"
	assert_equal "$(cat reply)" "finished req"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}

@test "SIGINT drains like SIGTERM" {
	start_server -m "$MODE" 127.0.0.1:0 -- echo hi
	kill -INT "$SERVER_PID"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}

@test "after --grace, running handlers and their children are killed" {
	start_server -m "$MODE" -v --grace=0.3 127.0.0.1:0 -- sh -c 'echo $$; sleep 60 | cat'
	client "$ADDR" </dev/null >reply &
	local c=$!
	wait_until 10 has_lines reply 1
	local pgid
	pgid=$(cat reply)
	kill -TERM "$SERVER_PID"
	wait_until 10 log_has 'grace period over: killing 1 handlers'
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	# the client sees end of file: no process of the group holds the socket
	wait "$c"
	# and none of the group lives on (zombies wait for init to reap them)
	wait_until 10 no_live_process_in_group "$pgid"
}

@test "a second SIGTERM kills the handlers at once; exit status 0" {
	start_server -m "$MODE" -v --grace=60 127.0.0.1:0 -- sh -c 'echo up; exec sleep 60'
	client "$ADDR" </dev/null >reply &
	wait_until 10 has_lines reply 1
	kill -TERM "$SERVER_PID"
	wait_until 10 log_has 'shutting down: 1 in progress, waiting up to 60\.0 s'
	kill -TERM "$SERVER_PID"
	wait_until 5 log_has 'second signal: killing 1 handlers'
	wait_gone "$SERVER_PID" 5
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}

@test "--grace=0 kills running handlers at shutdown" {
	start_server -m "$MODE" --grace=0 127.0.0.1:0 -- sh -c 'echo up; exec sleep 60'
	client "$ADDR" </dev/null >reply &
	wait_until 10 has_lines reply 1
	kill -TERM "$SERVER_PID"
	wait_gone "$SERVER_PID" 5
}

@test "the unix socket path is created and removed at exit" {
	start_server -m "$MODE" ./life.sock -- echo hi
	[ -S life.sock ]
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	[ ! -e life.sock ]
}

@test "a stale unix socket is replaced" {
	"$SOCKSERVE" --print-address ./stale.sock echo old >addr 2>/dev/null 3>&- &
	local old=$!
	wait_until 10 test -S stale.sock
	kill -KILL "$old"
	wait "$old" || true
	[ -S stale.sock ]
	start_server -m "$MODE" -v ./stale.sock -- echo new
	run client ./stale.sock </dev/null
	assert_output "new"
	log_has 'replaced stale socket \./stale\.sock'
}

@test "a live unix socket is refused and left alone" {
	start_server -m "$MODE" ./live.sock -- echo first
	run "$SOCKSERVE" ./live.sock echo second
	assert_failure 1
	assert_output "sockserve: cannot listen on ./live.sock: Address already in use (another process is listening on it)"
	run client ./live.sock </dev/null
	assert_output "first"
}

@test "a path that is not a socket is refused and never removed" {
	echo precious >file.sock
	run "$SOCKSERVE" ./file.sock echo x
	assert_failure 1
	assert_output "sockserve: cannot listen on ./file.sock: file exists and is not a socket"
	assert_equal "$(cat file.sock)" "precious"
}

@test "the path is not removed at exit if it is no longer ours" {
	start_server -m "$MODE" ./moved.sock -- echo hi
	mv moved.sock elsewhere.sock
	echo replacement >moved.sock
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	assert_equal "$(cat moved.sock)" "replacement"
}

@test "SIGUSR1 prints one status line and serving goes on" {
	start_server -m "$MODE" 127.0.0.1:0 -- sh -c 'read x; [ "$x" = ok ]'
	client "$ADDR" <<<"ok" >/dev/null
	client "$ADDR" <<<"bad" >/dev/null
	wait_until 10 holds -eq 0 child_count "$SERVER_PID"
	wait_until 10 status_shows '^sockserve: status: 0 in progress, 1 handled, 1 failed, 0 rejected, 0 timed out, 0 dropped$'
	run client "$ADDR" <<<"ok"
	assert_success
}

@test "a bound port is reusable at once thanks to SO_REUSEADDR; --no-reuse-addr is not" {
	start_server -m "$MODE" 127.0.0.1:0 -- echo hi
	local addr=$ADDR
	# the server side closes first (the client holds its side open until
	# then), leaving TIME_WAIT on the server's port
	run client -H "$addr"
	assert_output "hi"
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	run timeout 10 "$SOCKSERVE" --no-reuse-addr "$addr" true
	assert_failure 1
	assert_output --partial "Address already in use"
	start_server -m "$MODE" "$addr" -- echo again
	run client "$addr" </dev/null
	assert_output "again"
}

@test "--reuse-port lets two servers share a port" {
	start_server -m "$MODE" --reuse-port 127.0.0.1:0 -- echo one
	local addr=$ADDR
	start_server -m "$MODE" --reuse-port "$addr" -- echo two
	assert_equal "$ADDR" "$addr"
}

@test "-b sets the listen backlog" {
	command -v ss >/dev/null || skip "ss (iproute2) is not installed"
	start_server -m "$MODE" -b 7 127.0.0.1:0 -- echo hi
	run ss -Hltn "sport = :${ADDR##*:}"
	assert_output --regexp 'LISTEN +0 +7 '
}
