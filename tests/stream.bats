#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Stream serving in the mode given by SS_MODE: every address form, the socket
# handed to the handler, the handler's environment and process state.

load test_helper/common

@test "echo over IPv4" {
	start_server -m "$MODE" 127.0.0.1:0 -- cat
	assert_regex "$ADDR" '^127\.0\.0\.1:[0-9]+$'
	run client "$ADDR" <<<"hello, world"
	assert_success
	assert_output "hello, world"
}

@test "binary data passes unchanged both ways" {
	start_server -m "$MODE" 127.0.0.1:0 -- cat
	head -c 300000 /dev/urandom >in.bin
	client "$ADDR" <in.bin >out.bin
	cmp in.bin out.bin
}

@test "echo over IPv6" {
	start_server -m "$MODE" -6 '[::1]:0' -- cat
	assert_regex "$ADDR" '^\[::1\]:[0-9]+$'
	run client "$ADDR" <<<"six"
	assert_output "six"
}

@test "[::] is dual-stack unless --v6only" {
	start_server -m "$MODE" '[::]:0' -- sh -c 'echo "$TCPREMOTEIP"'
	local port=${ADDR##*:}
	run client "127.0.0.1:$port" </dev/null
	assert_success
	assert_output "127.0.0.1"
	run client "[::1]:$port" </dev/null
	assert_output "::1"
	start_server -m "$MODE" --v6only '[::]:0' -- echo v6
	port=${ADDR##*:}
	run client "[::1]:$port" </dev/null
	assert_output "v6"
	run client "127.0.0.1:$port" </dev/null
	assert_failure
	assert_output --partial "Connection refused"
}

@test "PORT alone listens on every local address" {
	start_server -m "$MODE" 0 -- echo any
	assert_regex "$ADDR" '^0\.0\.0\.0:[0-9]+$'
	run client "127.0.0.1:${ADDR##*:}" </dev/null
	assert_output "any"
	start_server -m "$MODE" -6 0 -- echo any6
	assert_regex "$ADDR" '^\[::\]:[0-9]+$'
	run client "[::1]:${ADDR##*:}" </dev/null
	assert_output "any6"
}

@test "a host name is resolved" {
	start_server -m "$MODE" localhost:0 -- echo named
	assert_regex "$ADDR" '^127\.0\.0\.1:[0-9]+$'
	run client "$ADDR" </dev/null
	assert_output "named"
}

@test "unix socket path" {
	start_server -m "$MODE" ./s.sock -- cat
	assert_equal "$ADDR" "./s.sock"
	[ -S s.sock ]
	run client ./s.sock <<<"over unix"
	assert_output "over unix"
}

@test "abstract unix socket" {
	local name="@sockserve-test-$$-$RANDOM"
	start_server -m "$MODE" "$name" -- cat
	assert_equal "$ADDR" "$name"
	run client "$name" <<<"abstract"
	assert_output "abstract"
}

@test "unix seqpacket: the handler gets the socket itself" {
	start_server -m "$MODE" -t seqpacket ./sp.sock -- sh -c 'echo "$PROTO $UNIXREMOTEPID"'
	run client -t seqpacket ./sp.sock </dev/null
	assert_success
	assert_output --regexp '^UNIX [0-9]+$'
}

@test "the handler's stdin and stdout are the connection itself, blocking" {
	start_server -m "$MODE" 127.0.0.1:0 -- "$PROBE"
	run client "$ADDR" </dev/null
	assert_line "stdio: one socket"
	assert_line "nonblock: 0"
}

@test "no descriptor of sockserve reaches the handler" {
	# fd 7 is open in sockserve's own environment; it must not leak either.
	start_server -m "$MODE" 127.0.0.1:0 -- "$PROBE" 7>/dev/null
	run client "$ADDR" </dev/null
	assert_line "fds: 0 1 2"
	start_server -m "$MODE" --stderr=null ./fd.sock -- "$PROBE"
	run client ./fd.sock </dev/null
	assert_line "fds: 0 1 2"
}

@test "signal dispositions and mask are reset; own process group" {
	# sockserve ignores SIGPIPE and blocks the signals it reads; the handler
	# must start with neither, even if sockserve inherited ignored signals.
	start_server -m "$MODE" 127.0.0.1:0 -- "$PROBE"
	run client "$ADDR" </dev/null
	assert_line "blocked: 0"
	assert_line "ignored: none"
	assert_line "pgrp: own"
	(trap '' HUP USR2; exec "$SOCKSERVE" --print-address -m "$MODE" ./ig.sock "$PROBE" >addr 2>/dev/null 3>&-) &
	STARTED_PIDS+=($!)
	wait_until 10 test -S ig.sock
	run client ./ig.sock </dev/null
	assert_line "ignored: none"
}

@test "a handler writing to a closed connection dies of SIGPIPE" {
	start_server -m "$MODE" -v 127.0.0.1:0 -- sh -c 'read x; sleep 0.2; while :; do echo y || exit 9; done'
	# Send one line, then reset: the handler's writes hit a dead socket.
	printf 'go\n' | "$CLIENT" -w 2 -R "$ADDR"
	wait_until 10 log_has 'end, handler pid [0-9]+ killed by signal 13'
}

@test "environment: TCP variables for IPv4" {
	start_server -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "$PROTO $TCPLOCALIP $TCPLOCALPORT $TCPREMOTEIP $TCPREMOTEPORT"'
	run client "$ADDR" </dev/null
	assert_output --regexp "^TCP 127\.0\.0\.1 ${ADDR##*:} 127\.0\.0\.1 [0-9]+$"
}

@test "environment: the local address of a wildcard listener is the connection's" {
	start_server -m "$MODE" 0 -- sh -c 'echo "$TCPLOCALIP:$TCPLOCALPORT"'
	run client "127.0.0.1:${ADDR##*:}" </dev/null
	assert_output "127.0.0.1:${ADDR##*:}"
}

@test "environment: TCP variables for IPv6, without brackets" {
	start_server -m "$MODE" '[::1]:0' -- sh -c 'echo "$PROTO $TCPLOCALIP $TCPREMOTEIP"; env | grep -c "^UDP" || true'
	run client "$ADDR" </dev/null
	assert_line --index 0 "TCP ::1 ::1"
	assert_line --index 1 "0"
}

@test "environment: UNIX variables with peer credentials" {
	start_server -m "$MODE" ./env.sock -- sh -c 'echo "$PROTO|$UNIXLOCALPATH|$UNIXREMOTEEUID|$UNIXREMOTEEGID|${UNIXREMOTEPID:+pid}"; env | grep -c "^TCP" || true'
	run client ./env.sock </dev/null
	assert_line --index 0 "UNIX|./env.sock|$(id -u)|$(id -g)|pid"
	assert_line --index 1 "0"
}

@test "environment: abstract UNIXLOCALPATH keeps its @" {
	local name="@ss-env-$$-$RANDOM"
	start_server -m "$MODE" "$name" -- sh -c 'echo "$UNIXLOCALPATH"'
	run client "$name" </dev/null
	assert_output "$name"
}

@test "environment: inherited connection variables are replaced, the rest passed" {
	TCPREMOTEIP=6.6.6.6 TCPREMOTEHOST=stale KEEP_ME=yes start_server -m "$MODE" 127.0.0.1:0 -- \
		sh -c 'echo "$TCPREMOTEIP ${TCPREMOTEHOST:-none} $KEEP_ME"'
	run client "$ADDR" </dev/null
	assert_output "127.0.0.1 none yes"
}

@test "--no-env sets no connection variables, and passes on no inherited ones either" {
	TCPREMOTEIP=forged PROTO=forged SSL_CLIENT_S_DN=forged UNIXREMOTEPATH=forged KEPT=kept \
		start_server -m "$MODE" --no-env 127.0.0.1:0 -- \
		sh -c 'echo "${PROTO:-none} ${TCPLOCALPORT:-none} ${TCPREMOTEIP:-none} ${SSL_CLIENT_S_DN:-none} ${UNIXREMOTEPATH:-none} $KEPT"'
	run client "$ADDR" </dev/null
	assert_output "none none none none none kept"
}

@test "--shell runs COMMAND with /bin/sh -c, later words as \$0 \$1" {
	start_server -m "$MODE" -s 127.0.0.1:0 'printf "HTTP/1.0 200 OK\r\n\r\nhi from $TCPREMOTEIP $0 $1\n"' zero one
	run client "$ADDR" </dev/null
	assert_output --partial "hi from 127.0.0.1 zero one"
}

@test "--stderr=inherit, socket and null" {
	start_server -m "$MODE" 127.0.0.1:0 -- sh -c 'echo to-out; echo to-err >&2'
	run client "$ADDR" </dev/null
	assert_output "to-out"
	wait_until 10 log_has '^to-err$'

	start_server -m "$MODE" --stderr=socket 127.0.0.1:0 -- sh -c 'echo to-out; echo to-err-sock >&2'
	run client "$ADDR" </dev/null
	assert_output $'to-out\nto-err-sock'

	: >"$SERVER_ERR"
	start_server -m "$MODE" --stderr=null 127.0.0.1:0 -- sh -c 'echo to-err-null >&2; echo done'
	run client "$ADDR" </dev/null
	assert_output "done"
	run grep -c to-err-null "$SERVER_ERR"
	assert_output "0"
}

@test "--nodelay sets TCP_NODELAY on the connection" {
	start_server -m "$MODE" 127.0.0.1:0 -- "$PROBE"
	run client "$ADDR" </dev/null
	assert_line "nodelay: 0"
	start_server -m "$MODE" --nodelay 127.0.0.1:0 -- "$PROBE"
	run client "$ADDR" </dev/null
	assert_line "nodelay: 1"
}

@test "the connection ends when the handler and its children close it" {
	# The handler exits at once, but a background child holds the socket.
	start_server -m "$MODE" -s 127.0.0.1:0 'echo first; (sleep 0.3; echo from-child) & exit 0'
	run client "$ADDR" </dev/null
	assert_output $'first\nfrom-child'
}
