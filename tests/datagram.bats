#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Datagram mode in the mode given by SS_MODE: one packet in, one reply out,
# for UDP and unix datagram sockets.

load test_helper/common

dgram() {
	"$CLIENT" -t dgram -w 10 "$@"
}

@test "UDP: the packet is the handler's input, its output one reply" {
	start_server -m "$MODE" -t dgram 127.0.0.1:0 -- tr a-z A-Z
	run dgram "$ADDR" <<<"hello udp"
	assert_success
	assert_output "HELLO UDP"
}

@test "UDP over IPv6: UDP variables, no TCP ones" {
	start_server -m "$MODE" -t dgram -6 '[::1]:0' -- sh -c 'echo "$PROTO $UDPLOCALIP $UDPLOCALPORT $UDPREMOTEIP ${UDPREMOTEPORT:+port}"; env | grep -c "^TCP" || true'
	run dgram "$ADDR" </dev/null
	assert_line --index 0 "UDP ::1 ${ADDR##*:} ::1 port"
	assert_line --index 1 "0"
}

@test "UDP on a wildcard address: UDPLOCALIP is the address the client reached" {
	start_server -m "$MODE" -t dgram 0 -- sh -c 'echo "$UDPLOCALIP:$UDPLOCALPORT"'
	run dgram "127.0.0.1:${ADDR##*:}" </dev/null
	assert_output "127.0.0.1:${ADDR##*:}"
	start_server -m "$MODE" -t dgram '[::]:0' -- sh -c 'echo "$UDPLOCALIP $UDPREMOTEIP"'
	run dgram "127.0.0.1:${ADDR##*:}" </dev/null
	assert_output "127.0.0.1 127.0.0.1"
	run dgram "[::1]:${ADDR##*:}" </dev/null
	assert_output "::1 ::1"
}

@test "binary bytes and NULs pass unchanged" {
	start_server -m "$MODE" -t dgram 127.0.0.1:0 -- cat
	head -c 4000 /dev/urandom >in.bin
	printf '\0\0x\0' >>in.bin
	dgram "$ADDR" <in.bin >out.bin
	cmp in.bin out.bin
}

@test "a zero-length packet is a request with empty input" {
	start_server -m "$MODE" -t dgram 127.0.0.1:0 -- wc -c
	run dgram "$ADDR" </dev/null
	assert_output "0"
}

@test "a 65000-byte round trip with --max-packet 65000" {
	start_server -m "$MODE" -t dgram --max-packet 65000 127.0.0.1:0 -- cat
	head -c 65000 /dev/urandom >in.bin
	dgram "$ADDR" <in.bin >out.bin
	cmp in.bin out.bin
}

@test "--max-packet N: exactly N bytes pass both ways, N+1 is dropped and logged" {
	start_server -m "$MODE" -t dgram --max-packet 100 127.0.0.1:0 -- cat
	head -c 100 /dev/zero >in100
	dgram "$ADDR" <in100 >out100
	cmp in100 out100
	run "$CLIENT" -t dgram -w 1 "$ADDR" < <(head -c 101 /dev/zero)
	assert_failure 3
	log_has "dropped a datagram of 101 bytes: larger than --max-packet 100"
	# and the server goes on
	run dgram "$ADDR" <<<"after"
	assert_output "after"
}

@test "a reply larger than --max-packet is dropped and logged, never cut" {
	start_server -m "$MODE" -t dgram --max-packet 100 127.0.0.1:0 -- sh -c 'head -c 101 /dev/zero'
	run "$CLIENT" -t dgram -w 1 "$ADDR" </dev/null
	assert_failure 3
	wait_until 10 log_has "dropped a reply of 101 bytes: larger than --max-packet 100"
}

@test "no deadlock: a handler that writes 60 KB before reading its 60 KB of input" {
	start_server -m "$MODE" -t dgram --max-packet 65000 127.0.0.1:0 -- sh -c 'head -c 60000 /dev/zero | tr "\0" a; wc -c'
	head -c 60000 /dev/zero >in.bin
	dgram "$ADDR" <in.bin >out.bin
	assert_equal "$(head -c 60000 out.bin | tr -d a | wc -c)" 0
	assert_equal "$(tail -c +60001 out.bin)" "60000"
}

@test "no deadlock: a handler that writes far more than a pipe holds, before reading" {
	start_server -m "$MODE" -t dgram --max-packet 65000 127.0.0.1:0 -- sh -c 'head -c 300000 /dev/zero; cat >/dev/null'
	head -c 60000 /dev/zero | "$CLIENT" -t dgram -w 1 "$ADDR" || true
	wait_until 10 log_has "dropped a reply of 300000 bytes"
}

@test "empty output: no reply, unless --empty-reply" {
	start_server -m "$MODE" -t dgram -v 127.0.0.1:0 -- true
	run "$CLIENT" -t dgram -w 1 "$ADDR" </dev/null
	assert_failure 3
	log_has ': end, handler pid [0-9]+ exit 0'
	start_server -m "$MODE" -t dgram --empty-reply 127.0.0.1:0 -- true
	run dgram "$ADDR" </dev/null
	assert_success
	assert_output ""
}

@test "the exit status is logged; the reply still goes out" {
	start_server -m "$MODE" -t dgram 127.0.0.1:0 -- sh -c 'echo partial; exit 5'
	run dgram "$ADDR" </dev/null
	assert_output "partial"
	wait_until 10 log_has 'end, handler pid [0-9]+ exit 5'
}

@test "16 concurrent clients each get their own reply" {
	start_server -m "$MODE" -t dgram -c 16 127.0.0.1:0 -- sh -c 'cat; echo " for $UDPREMOTEPORT"'
	local i pids=()
	for i in $(seq 16); do
		(
			for j in 1 2 3 4; do
				out=$(printf 'client-%s-%s' "$i" "$j" | "$CLIENT" -t dgram -w 10 "$ADDR") || exit 1
				[[ $out == "client-$i-$j for "* ]] || exit 1
			done
		) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
}

@test "unix datagram socket: the reply goes to the sender's bound path" {
	start_server -m "$MODE" -t dgram ./dg.sock -- sh -c 'echo "$PROTO $UNIXLOCALPATH $UNIXREMOTEPATH"; wc -c'
	run dgram -b ./client.sock ./dg.sock < <(printf abc)
	assert_line --index 0 "UNIX ./dg.sock ./client.sock"
	assert_line --index 1 "3"
}

@test "abstract unix datagram socket" {
	local name="@ss-dg-$$-$RANDOM"
	start_server -m "$MODE" -t dgram "$name" -- cat
	run dgram -b "@ss-dg-client-$$-$RANDOM" "$name" <<<"abstract"
	assert_output "abstract"
}

@test "a unix sender without an address gets no reply, logged" {
	start_server -m "$MODE" -t dgram ./dg2.sock -- echo hi
	run "$CLIENT" -t dgram -w 1 ./dg2.sock </dev/null
	assert_failure 3
	wait_until 10 log_has 'unnamed peer: no address to send a reply of 3 bytes to'
	kill -0 "$SERVER_PID"
}

@test "-c limits the handlers at once; packets wait, none is dropped" {
	write_counting_handler
	local limit=2
	[ "$MODE" = sync ] && limit=1
	start_server -m "$MODE" -t dgram -c 2 127.0.0.1:0 -- ./count.sh
	local i pids=()
	for i in $(seq 6); do
		dgram "$ADDR" </dev/null >"reply.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for i in $(seq 6); do assert_equal "$(cat "reply.$i")" "done"; done
	assert_equal "$(sort -n seen | tail -1)" "$limit"
	assert_equal "$(lines seen)" 6
}

@test "SIGTERM: running handlers still reply; the unix path is removed before exit" {
	start_server -m "$MODE" -t dgram -v ./drain.sock -- sh -c 'sleep 0.5; echo late reply'
	dgram -b ./drain-client.sock ./drain.sock </dev/null >reply &
	local c=$!
	wait_until 10 log_has ': start, handler pid'
	kill -TERM "$SERVER_PID"
	wait "$c"
	assert_equal "$(cat reply)" "late reply"
	wait "$SERVER_PID"
	[ ! -e drain.sock ]
}

@test "--stderr=socket: in datagram mode the handler's stderr joins the reply" {
	start_server -m "$MODE" -t dgram --stderr=socket 127.0.0.1:0 -- sh -c 'echo out; echo err >&2'
	run "$CLIENT" -t dgram -w 10 "$ADDR" </dev/null
	assert_success
	assert_line "out"
	assert_line "err"
}
