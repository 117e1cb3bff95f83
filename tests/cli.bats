#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The command line: help, version, usage errors (exit 64) and start-up
# failures (exit 1), each with a clear one-line message.

load test_helper/common

@test "--help and --usage write to stdout and exit 0" {
	run --separate-stderr "$SOCKSERVE" --help
	assert_success
	assert_output --partial "ADDRESS [--] COMMAND [ARG...]"
	assert_output --partial "--max-children"
	[ -z "$stderr" ]
	run --separate-stderr "$SOCKSERVE" --usage
	assert_success
	assert_output --partial "--print-address"
}

@test "--version prints the version" {
	run "$SOCKSERVE" --version
	assert_success
	assert_output --regexp '^sockserve [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "missing ADDRESS or COMMAND is a usage error" {
	run "$SOCKSERVE"
	assert_failure 64
	assert_line --index 0 "sockserve: missing ADDRESS and COMMAND"
	assert_line --index 1 --partial "--help"
	run "$SOCKSERVE" 127.0.0.1:0
	assert_failure 64
	assert_line --index 0 --partial "missing COMMAND"
	run "$SOCKSERVE" 127.0.0.1:0 --
	assert_failure 64
}

@test "an unknown option is a usage error naming it" {
	run "$SOCKSERVE" --bogus 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --bogus: unknown option"
	run "$SOCKSERVE" -m
	assert_failure 64
	assert_line --index 0 --partial "-m: missing argument"
}

@test "numbers are parsed strictly" {
	local bad
	for bad in "-c 0" "-c -1" "-c 10x" "-c ''" "-b 99999999999" "-b 0" "--grace=abc" "--grace=-1" "--grace=1e9" "--grace=nan" "--max-packet 0" "--max-packet 65536" "--max-packet 1k" "-T 0" "--timeout=abc" "--idle-timeout=-2" "-n 0" "--max-requests=x"; do
		eval "run \"\$SOCKSERVE\" $bad 127.0.0.1:0 cat"
		assert_failure 64
		assert_line --index 0 --regexp '^sockserve: --(max-children|backlog|grace|max-packet|timeout|idle-timeout|max-requests): '
	done
	run "$SOCKSERVE" -c 10x 127.0.0.1:0 cat
	assert_line --index 0 "sockserve: --max-children: '10x' is not a whole number (1 to 10000)"
}

@test "names are checked against their choices" {
	run "$SOCKSERVE" --mode=spin 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 --partial "--mode: unknown value 'spin' (choose from sync, fork"
	run "$SOCKSERVE" --stderr=file 127.0.0.1:0 cat
	assert_failure 64
	run "$SOCKSERVE" --log-format=xml 127.0.0.1:0 cat
	assert_failure 64
	run "$SOCKSERVE" --family=ipx 127.0.0.1:0 cat
	assert_failure 64
}

@test "a family that contradicts ADDRESS is a usage error" {
	run "$SOCKSERVE" -4 '[::1]:0' cat
	assert_failure 64
	assert_line --index 0 --partial "contradicts the IPv6 address"
	run "$SOCKSERVE" -6 127.0.0.1:0 cat
	assert_failure 64
	run "$SOCKSERVE" -4 ./x.sock cat
	assert_failure 64
	run "$SOCKSERVE" -U 127.0.0.1:0 cat
	assert_failure 64
	run "$SOCKSERVE" -4 -6 0 cat
	assert_failure 64
}

@test "malformed addresses are usage errors" {
	run "$SOCKSERVE" ::1:80 cat
	assert_failure 64
	assert_line --index 0 --partial "in brackets"
	run "$SOCKSERVE" 127.0.0.1:70000 cat
	assert_failure 64
	assert_line --index 0 --partial "port 70000 is too large"
	run "$SOCKSERVE" 127.0.0.1: cat
	assert_failure 64
	run "$SOCKSERVE" '[nonsense]:80' cat
	assert_failure 64
	run "$SOCKSERVE" "@" cat
	assert_failure 64
	run "$SOCKSERVE" "/$(printf 'x%.0s' {1..120})" cat
	assert_failure 64
	assert_line --index 0 --partial "too long"
}

@test "seqpacket with an inet address is a usage error" {
	run "$SOCKSERVE" -t seqpacket 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 --partial "seqpacket needs a unix socket address"
}

@test "an unknown host is a start-up failure (exit 1)" {
	# no lookup leaves the machine: the resolver is pointed at loopback,
	# in a mount namespace of the test's own
	offline true 2>/dev/null ||
		skip "no mount namespace here (unshare --mount is refused: a chroot or a container), so the lookup could not be kept off the network"
	run offline "$SOCKSERVE" no-such-host.invalid:80 cat
	assert_failure 1
	assert_output --regexp "^sockserve: cannot resolve no-such-host.invalid:80: "
}

@test "a service name is accepted as PORT" {
	grep -qE '^echo[[:space:]]+7/tcp' /etc/services || skip "no echo service in /etc/services"
	if [ "$(id -u)" -eq 0 ]; then
		start_server 127.0.0.1:echo -- true
		assert_equal "$ADDR" "127.0.0.1:7"
	else
		run "$SOCKSERVE" 127.0.0.1:echo true
		assert_failure 1
		assert_output "sockserve: cannot listen on 127.0.0.1:echo: Permission denied"
	fi
}

@test "COMMAND is checked at start-up" {
	run "$SOCKSERVE" 127.0.0.1:0 no-such-command-xyz
	assert_failure 1
	assert_output "sockserve: cannot run 'no-such-command-xyz': command not found"
	run "$SOCKSERVE" 127.0.0.1:0 ./missing-script
	assert_failure 1
	assert_output "sockserve: cannot run './missing-script': No such file or directory"
	printf '#!/bin/sh\n' >notexec
	chmod 644 notexec
	run "$SOCKSERVE" 127.0.0.1:0 ./notexec
	assert_failure 1
	assert_output "sockserve: cannot run './notexec': Permission denied"
	run "$SOCKSERVE" 127.0.0.1:0 /tmp
	assert_failure 1
	assert_output --partial "Is a directory"
}

@test "an address in use is a start-up failure, with a hint to find who holds it" {
	start_server 127.0.0.1:0 -- cat
	run "$SOCKSERVE" "$ADDR" cat
	assert_failure 1
	assert_output "sockserve: cannot listen on $ADDR: Address already in use (another socket holds it: 'ss -ltnp' shows which process)"
	# UDP sockets share a port when both ask (SO_REUSEADDR): this one does not
	start_server -t dgram 127.0.0.1:0 -- cat
	run timeout 10 "$SOCKSERVE" --no-reuse-addr -t dgram "$ADDR" cat
	assert_failure 1
	assert_output "sockserve: cannot listen on $ADDR: Address already in use (another socket holds it: 'ss -lunp' shows which process)"
}

@test "a port below 1024 without the privilege: the error says what it needs" {
	local start
	start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
	[ "$start" -gt 1 ] || skip "this machine lets anyone bind every port (ip_unprivileged_port_start=$start)"
	local as_nobody=()
	if [ "$(id -u)" -eq 0 ]; then
		command -v setpriv >/dev/null || skip "no setpriv (util-linux) to drop root's privilege"
		as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
	fi
	# port 1: below 1024 and below this machine's first unprivileged port
	run "${as_nobody[@]}" "$SOCKSERVE" 127.0.0.1:1 cat
	assert_failure 1
	assert_output "sockserve: cannot listen on 127.0.0.1:1: Permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE; as root, add -u USER to serve as another user once bound)"
}

@test "words after ADDRESS belong to COMMAND, even with a leading dash" {
	start_server 127.0.0.1:0 echo -n -v --help
	run client "$ADDR" </dev/null
	assert_success
	assert_output "-v --help"
	start_server 127.0.0.1:0 -- printf '%s|' -- -x
	run client "$ADDR" </dev/null
	assert_output -- "--|-x|"
}

@test "--once and --max-requests together are a usage error" {
	run "$SOCKSERVE" --once -n 2 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --once and --max-requests contradict each other"
}

@test "an option given twice: the last one counts, and nothing leaks (the ASan build checks)" {
	start_server -m sync -m fork -c 1 -c 2 --grace 5 --grace 1 -T 9 -T 8 127.0.0.1:0 -- echo hi
	run client "$ADDR" </dev/null
	assert_output "hi"
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}

@test "-h is --help: the option table, then the ADDRESS forms, examples and the man page" {
	run --separate-stderr "$SOCKSERVE" -h
	assert_success
	assert_output --partial "--max-children"
	assert_output --partial "ADDRESS is one of:"
	assert_output --partial "fd:N, systemd[:NAME]"
	assert_output --partial "sockserve --print-address 127.0.0.1:0 -- cat"
	assert_line "See sockserve(1) for everything: man sockserve."
	local help=$output
	run "$SOCKSERVE" --help
	assert_equal "$output" "$help"
	run "$SOCKSERVE" '-?'
	assert_equal "$output" "$help"
}

@test "an option after ADDRESS: the error says where options go" {
	run "$SOCKSERVE" 127.0.0.1:0 -v -- cat
	assert_failure 1
	assert_line --index 0 "sockserve: cannot run '-v': command not found"
	assert_line --index 1 "sockserve: hint: '-v' came after ADDRESS, so it is taken as COMMAND; options go before ADDRESS: sockserve [OPTION...] ADDRESS [--] COMMAND"
}

@test "tcpserver's HOST PORT as two words: the error says HOST:PORT" {
	run "$SOCKSERVE" 127.0.0.1 8080 cat
	assert_failure 64
	assert_line --index 0 "sockserve: address '127.0.0.1': a port is missing: 127.0.0.1:PORT"
	assert_line --index 1 "sockserve: hint: HOST and PORT are one word: sockserve 127.0.0.1:8080 -- COMMAND"
}

@test "a script without #! runs with /bin/sh, as execvp(3) would; its arguments follow" {
	printf 'echo "no #!: $0 $1"\n' >noshebang
	chmod +x noshebang
	start_server 127.0.0.1:0 -- ./noshebang first
	run client "$ADDR" </dev/null
	assert_output "no #!: ./noshebang first"
	# in PATH too, and an empty file is an empty script
	: >empty
	chmod +x empty
	PATH=$PWD:$PATH start_server 127.0.0.1:0 -- empty
	run client "$ADDR" </dev/null
	assert_success
	assert_output ""
}

@test "an option that does not apply to the socket's family or type is a usage error naming both" {
	local args expect
	while IFS='|' read -r args expect; do
		eval "run \"\$SOCKSERVE\" $args -- cat"
		assert_failure 64
		assert_line --index 0 "sockserve: $expect"
	done <<'EOF_CASES'
--nodelay -t dgram 127.0.0.1:0|--nodelay applies to TCP sockets, not to 127.0.0.1:0 (inet dgram)
--nodelay ./s.sock|--nodelay applies to TCP sockets, not to ./s.sock (unix stream)
--max-packet 100 127.0.0.1:0|--max-packet applies to datagram sockets (--type=dgram) without --wait, not to 127.0.0.1:0 (inet stream)
--empty-reply ./s.sock|--empty-reply applies to datagram sockets (--type=dgram), not to ./s.sock (unix stream)
-b 5 -t dgram 127.0.0.1:0|--backlog applies to stream and seqpacket sockets, not to 127.0.0.1:0 (inet dgram)
--v6only 127.0.0.1:0|--v6only applies to inet6 sockets, not to 127.0.0.1:0 (inet stream)
EOF_CASES
}

@test "popt aliases in ~/.popt are honoured" {
	mkdir home
	echo 'sockserve alias --dev -v -m sync' >home/.popt
	HOME=$PWD/home start_server --dev 127.0.0.1:0 -- true
	wait_until 10 log_has 'listening on 127\.0\.0\.1:[0-9]+ \(stream, sync mode, up to 1 at once\)'
}
