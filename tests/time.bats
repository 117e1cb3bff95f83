#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Time limits and the server's life in the mode given by SS_MODE: --timeout,
# --idle-timeout, --max-requests and --once.

load test_helper/common

@test "--timeout stops a slow handler and everything it started; logged" {
	start_server -m "$MODE" -T 0.3 127.0.0.1:0 -- sh -c 'echo $$; sleep 60 | cat'
	run client "$ADDR" </dev/null
	assert_success
	local pgid=${lines[0]}
	wait_until 10 log_has "^sockserve: 127\.0\.0\.1:[0-9]+: timed out after 0\.3 s, handler pid $pgid: sent SIGTERM$"
	wait_until 10 log_has "end, handler pid $pgid killed by signal 15"
	wait_until 10 no_live_process_in_group "$pgid"
}

@test "--timeout: SIGKILL follows when SIGTERM is ignored" {
	start_server -m "$MODE" -T 0.2 127.0.0.1:0 -- sh -c 'trap "" TERM; echo up; sleep 60'
	run client "$ADDR" </dev/null
	assert_output "up"
	wait_until 10 log_has 'killed by signal 9 \(Killed\)'
}

@test "--timeout leaves quick handlers alone and serving goes on" {
	start_server -m "$MODE" -T 5 127.0.0.1:0 -- echo quick
	run client -n 5 "$ADDR" </dev/null
	assert_output "quick"
	wait_until 10 status_shows 'status: 0 in progress, 5 handled, 0 failed, 0 rejected, 0 timed out'
}

@test "--timeout in datagram mode: the slow handler sends no reply" {
	start_server -m "$MODE" -t dgram -T 0.2 127.0.0.1:0 -- sh -c 'echo early; sleep 60'
	run "$CLIENT" -t dgram -w 2 "$ADDR" </dev/null
	assert_failure 3
	log_has 'timed out after 0\.2 s'
}

@test "--idle-timeout: exit 0 when nothing arrives" {
	start_server -m "$MODE" -v --idle-timeout 0.2 ./idle.sock -- echo hi
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	log_has 'no request for 0\.2 s: exiting'
	[ ! -e idle.sock ]
}

@test "--idle-timeout waits while a request runs, then counts from its end" {
	start_server -m "$MODE" -v --idle-timeout 0.2 127.0.0.1:0 -- sh -c 'sleep 0.6; echo slow'
	run client "$ADDR" </dev/null
	assert_output "slow"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	# it ended after the request did, not while it ran
	local end idle
	end=$(grep -n ': end, handler pid' "$SERVER_ERR" | cut -d: -f1)
	idle=$(grep -n 'no request for' "$SERVER_ERR" | cut -d: -f1)
	[ "$end" -lt "$idle" ]
}

@test "--max-requests N: exactly N requests, then exit 0" {
	start_server -m "$MODE" -n 3 127.0.0.1:0 -- echo counted
	local i
	for i in 1 2 3; do
		run client "$ADDR" </dev/null
		assert_output "counted"
	done
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	run client "$ADDR" </dev/null
	assert_failure
}

@test "--once waits for its one request to finish" {
	start_server -m "$MODE" --once ./once.sock -- sh -c 'sleep 0.3; echo done'
	run client ./once.sock </dev/null
	assert_output "done"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	[ ! -e once.sock ]
}

@test "--once with datagrams: one packet, one reply, exit 0" {
	start_server -m "$MODE" -t dgram --once 127.0.0.1:0 -- tr a-z A-Z
	run "$CLIENT" -t dgram -w 10 "$ADDR" <<<"one"
	assert_output "ONE"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}

@test "SIGTERM while --max-requests waits still drains with --grace" {
	start_server -m "$MODE" --once --grace 0.2 127.0.0.1:0 -- sh -c 'echo up; exec sleep 60'
	client "$ADDR" </dev/null >reply &
	wait_until 10 has_lines reply 1
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}
