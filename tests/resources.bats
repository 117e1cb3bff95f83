#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Running out of descriptors: sockserve started with a low `ulimit -n` pauses
# instead of spinning, loses no request, and serves everything once
# descriptors free up.

load test_helper/common

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Descriptors above 2 that bats leaves open would take places under the
# limit: close them, so that sockserve's own are all it has (7, and an
# eventfd in thread mode); then the limit, FDS.
limit_fds() {
	local fd
	for fd in $(ls /proc/$BASHPID/fd); do
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	ulimit -n "$FDS"
}

# start_limited FDS SOCKSERVE-ARGS...: start_server under `ulimit -n FDS`.
start_limited() {
	FDS=$1
	shift
	start_server_after limit_fds "$@"
}

# datagrams_wait MODE: each datagram handler holds a pipe until the test lets
# it go; with 16 descriptors only a few fit, the rest wait in the socket queue.
datagrams_wait() {
	export GO=$BATS_TEST_TMPDIR/go
	start_limited 16 -m "$1" -t dgram -c 20 -v 127.0.0.1:0 -- \
		sh -c 'cat; while [ ! -e "$GO" ]; do sleep 0.05; done'
	local i pids=()
	for i in $(seq 10); do
		"$CLIENT" -t dgram -w 20 "$ADDR" <<<"packet $i" >"reply.$i" &
		pids+=($!)
	done
	wait_until 10 log_has '^sockserve: cannot take a request: Too many open files; pausing until a request ends'
	# A window with sockserve starved: it must sleep through it, not spin
	# (spinning would cost about 50 ticks here).
	local before
	before=$(cpu_ticks "$SERVER_PID")
	sleep 0.5
	[ $(($(cpu_ticks "$SERVER_PID") - before)) -le 10 ]
	[ "$(grep -c ': start, handler' "$SERVER_ERR")" -lt 10 ]
	touch "$GO"
	for i in "${pids[@]}"; do wait "$i"; done
	for i in $(seq 10); do assert_equal "$(cat "reply.$i")" "packet $i"; done
	# logged once, not once per retry
	assert_equal "$(grep -c 'cannot take a request' "$SERVER_ERR")" 1
	wait_until 10 status_shows 'status: 0 in progress, 10 handled, 0 failed, 0 rejected, 0 timed out, 0 dropped'
}

@test "fork: out of descriptors, datagrams wait in the queue; none is lost; no spinning" {
	datagrams_wait fork
}

@test "thread: out of descriptors, datagrams wait in the queue; none is lost; no spinning" {
	datagrams_wait thread
}

@test "thread: out of descriptors while accepting, connections wait in the backlog; all are served" {
	# 8 descriptors are sockserve's own: room for 2 connections. Connections
	# that wait for their PROXY header hold theirs for as long as the client
	# likes, so the third connection meets a full table for certain (without
	# a header to wait for, a connection could be handed over before the
	# next one came).
	start_limited 10 -m thread -c 20 --proxy-protocol 127.0.0.1:0 -- sh -c 'read x; echo "served $x"'
	local i c fds=()
	for i in $(seq 10); do
		exec {c}<>"/dev/tcp/${ADDR%:*}/${ADDR##*:}"
		fds+=("$c")
	done
	wait_until 10 log_has '^sockserve: cannot take a request: Too many open files; pausing until a request ends'
	# the headers and requests; the 8 connections still in the backlog are
	# taken as descriptors come free
	for i in $(seq 10); do
		printf 'PROXY TCP4 192.0.2.%d 192.0.2.200 1000 80\r\nrequest %d\n' "$i" "$i" >&"${fds[i - 1]}"
	done
	local line
	for i in $(seq 10); do
		c=${fds[i - 1]}
		read -r -t 20 line <&"$c"
		assert_equal "$line" "served request $i"
		exec {c}>&-
	done
	assert_equal "$(grep -c 'cannot take a request' "$SERVER_ERR")" 1
	wait_until 10 status_shows 'status: 0 in progress, 10 handled, 0 failed, 0 rejected'
}
