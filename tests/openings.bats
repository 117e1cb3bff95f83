#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Openings: a connection that waits for its PROXY header or TLS handshake
# holds no --max-children place; openings have their own bound
# (--max-openings, the one idle longest making room when it is full) and one
# deadline for the whole opening (--opening-timeout).  The slow-opening
# attack (silent connections, reopened as they are closed) never keeps a real
# client waiting, in any mode.

load test_helper/common

SILENT=$TOP/tests/helpers/silent.py
PC=$TOP/tests/helpers/proxyclient.py

# attack N [--reopen]: hold N silent connections to ADDR (reopening those the
# server closes with --reopen) until the test ends; returns once N have
# connected.
attack() {
	local n=$1
	shift
	mkfifo attack.in
	python3 "$SILENT" "$@" --limit 50 "$ADDR" "$n" <attack.in >attack.out 2>&1 3>&- &
	STARTED_PIDS+=("$!")
	exec 4>attack.in
	wait_until 30 grep -q "^open $n$" attack.out
}

stop_attack() {
	exec 4>&-
}

# served_within SECONDS COMMAND...: COMMAND prints "ok" within SECONDS.
served_within() {
	local limit=$1 start end
	shift
	start=$(date +%s%N)
	run "$@"
	end=$(date +%s%N)
	assert_line ok
	local ms=$(((end - start) / 1000000))
	echo "served in $ms ms" >&3
	[ "$ms" -lt $((limit * 1000)) ] || fail "served after $ms ms, not within $limit s"
}

tls_client() {
	timeout 10 openssl s_client -quiet -connect "$ADDR" </dev/null 2>/dev/null
}

proxy_client() {
	python3 "$PC" --timeout 10 "$ADDR" "v1:PROXY TCP4 192.0.2.1 127.0.0.1 1234 80"
}

@test "--tls at its default -c, in every mode: 200 silent connections, reopened as they close, keep no real client waiting" {
	local mode
	for mode in sync fork thread; do
		start_server --tls -m "$mode" 127.0.0.1:0 -- echo ok
		attack 200 --reopen
		served_within 2 tls_client
		served_within 2 tls_client
		stop_attack
		rm -f attack.in
	done
}

@test "--proxy-protocol at its default -c, in every mode: 200 silent connections keep no real client waiting" {
	local mode
	for mode in sync fork thread; do
		start_server --proxy-protocol -c 10 -m "$mode" 127.0.0.1:0 -- echo ok
		attack 200 --reopen
		served_within 2 proxy_client
		served_within 2 proxy_client
		stop_attack
		rm -f attack.in
	done
}

@test "2,000 silent connections from one address, past --max-openings: the idlest make room, and a real client is served" {
	local mode
	for mode in sync fork thread; do
		: >"$SERVER_ERR"
		start_server --tls -m "$mode" 127.0.0.1:0 -- echo ok
		attack 2000 --reopen
		served_within 2 tls_client
		stop_attack
		rm -f attack.in
		wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: closed: evicted: the openings were full \(--max-openings 512\), and it had made no progress for [0-9.]+ s$'
		start_server --proxy-protocol -m "$mode" 127.0.0.1:0 -- echo ok
		attack 2000 --reopen
		served_within 2 proxy_client
		stop_attack
		rm -f attack.in
	done
}

@test "an opening holds no -c place: with the one place taken, a TLS client's handshake is done, and it is served next" {
	start_server -vv --tls -c 1 -m "$MODE" 127.0.0.1:0 -- sh -c 'read line; echo "got $line"'
	# the first client holds the one place
	mkfifo first.in
	timeout 30 openssl s_client -quiet -connect "$ADDR" <first.in >first.out 2>/dev/null 3>&- &
	STARTED_PIDS+=("$!")
	exec 5>first.in
	wait_until 10 log_has ': start, handler pid'
	# the second one opens meanwhile: its handshake is done, then it waits
	# for the place (the kernel's backlog would not have done the handshake)
	python3 "$TOP/tests/helpers/tlsclient.py" --send $'second\n' "$ADDR" >second.out 2>&1 3>&- &
	STARTED_PIDS+=("$!")
	wait_until 10 holds -eq 2 log_count ': TLS handshake done: '
	assert_equal "$(log_count ': start, handler pid')" 1
	echo first >&5
	exec 5>&-
	wait_until 10 grep -q "got first" first.out
	wait_until 10 grep -q "got second" second.out
}

@test "--opening-timeout bounds the whole opening, all stages together" {
	start_server --proxy-protocol --tls --opening-timeout 2 -m "$MODE" 127.0.0.1:0 -- echo ran
	# a PROXY header at once, then nothing: closed 2 s after it connected,
	# not 2 s after the header
	python3 - "$ADDR" <<'PY' >silent.out 2>&1 3>&- &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=20)
t0 = time.monotonic()
time.sleep(1.2)
s.sendall(b"PROXY TCP4 192.0.2.1 127.0.0.1 1234 80\r\n")
s.recv(100)
print("closed after %.1f s" % (time.monotonic() - t0))
PY
	STARTED_PIDS+=("$!")
	wait_until 15 grep -q closed silent.out
	run cat silent.out
	assert_output --regexp '^closed after (1\.[89]|2\.[0-9]|3\.[0-1]) s$'
	log_has '^sockserve: 192\.0\.2\.1:1234: closed: no TLS handshake within 2 s$'
}

@test "--max-openings: past it the idlest opening makes room (logged); its range and --opening-timeout's" {
	start_server --proxy-protocol --max-openings 2 -m "$MODE" 127.0.0.1:0 -- echo ok
	attack 2
	served_within 2 proxy_client
	wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: closed: evicted: the openings were full \(--max-openings 2\), and it had made no progress for [0-9.]+ s$'
	stop_attack
	run "$SOCKSERVE" --max-openings 0 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --max-openings: 0 is too small (1 to 100000)"
	run "$SOCKSERVE" --opening-timeout 0 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --opening-timeout: 0.000 s is out of range (0.001 to 3600 seconds)"
}
