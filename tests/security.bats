#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Security and hardening: what a client chooses never forges a log line or
# reaches the environment unchecked; files sockserve creates are never
# followed through a link nor removed once replaced; --workers leaves no
# handler behind; --wait does not spin; the command line is strict, and its
# errors say what to write instead.

load test_helper/common

PC=$TOP/tests/helpers/proxyclient.py
TLSC=$TOP/tests/helpers/tlsclient.py

# ---- what a client chooses ----

# unix_dgram_from NAME SERVER: send "hi" from a unix datagram socket bound
# to NAME (bytes, as Python escapes them) in this directory; print the reply.
unix_dgram_from() {
	python3 - "$1" "$2" <<'PY'
import ast, socket, sys
name = ast.literal_eval("b'" + sys.argv[1] + "'")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(name)
s.settimeout(10)
s.sendto(b"hi", sys.argv[2])
print(s.recv(100).decode())
PY
}

@test "a unix client's address with a newline, ESC and invalid UTF-8 forges no text log line" {
	start_server -vv -t dgram "$BATS_TEST_TMPDIR/s.sock" -- cat
	run unix_dgram_from 'x\nsockserve: FAKE \x1b[31m\xff\xfe' "$BATS_TEST_TMPDIR/s.sock"
	assert_output hi
	wait_until 10 log_has ': end, handler pid'
	# every line is sockserve's own, no raw control byte or invalid UTF-8
	run grep -c '^sockserve: FAKE' "$SERVER_ERR"
	assert_output 0
	run grep -cP '[\x00-\x08\x0b-\x1f\x7f]' "$SERVER_ERR"
	assert_output 0
	run python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$SERVER_ERR"
	assert_success
	# the bytes are there, escaped
	log_has '^sockserve: x\\nsockserve: FAKE \\x1b\[31m\\xff\\xfe: start, handler pid'
}

@test "the same address in JSON lines: every line is valid UTF-8 JSON, the bytes escaped or replaced" {
	start_server -vv --log-format=json -t dgram "$BATS_TEST_TMPDIR/s.sock" -- cat
	run unix_dgram_from 'y\nsockserve: FAKE \x1b[31m\xff\xfe\\' "$BATS_TEST_TMPDIR/s.sock"
	assert_output hi
	wait_until 10 log_has '"event":"end"'
	run python3 - "$SERVER_ERR" <<'PY'
import json, sys
remotes = set()
for raw in open(sys.argv[1], "rb").read().splitlines():
    line = json.loads(raw.decode("utf-8"))  # strict: fails on invalid UTF-8
    if "remote" in line:
        remotes.add(line["remote"])
print(ascii(sorted(remotes)))
PY
	assert_success
	assert_output "['y\\nsockserve: FAKE \\x1b[31m\\ufffd\\ufffd\\\\']"
}

@test "an SNI that is not a host name never reaches SSL_SERVER_NAME; a host name does" {
	start_server --tls -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "sni=[${SSL_SERVER_NAME-unset}]"'
	run openssl s_client -quiet -connect "$ADDR" -servername good.example.test </dev/null
	assert_line "sni=[good.example.test]"
	local name
	for name in $'evil\nsockserve: FAKE' 'a b.example' '-lead.example' 'x..y' "$(printf 'l%.0s' {1..64}).example"; do
		run openssl s_client -quiet -connect "$ADDR" -servername "$name" </dev/null
		assert_line "sni=[unset]"
	done
}

# long_dn_client OUS: a client certificate (client.pem, client.key) signed
# by ca.pem whose subject has OUS organisational units of 60 bytes each.
long_dn_client() {
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes) subj="" i
	openssl req -x509 "${ec[@]}" -subj /CN=test-ca -keyout ca.key -out ca.pem -days 2 2>/dev/null
	for ((i = 0; i < $1; i++)); do
		subj+="/OU=unit-$(printf '%03d' "$i")-$(printf 'u%.0s' {1..51})"
	done
	openssl req "${ec[@]}" -subj "$subj/CN=alice" -keyout client.key -out client.csr 2>/dev/null
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem 2>/dev/null
	[ -s client.pem ]
}

@test "a client certificate's subject is passed whole far past 511 bytes; past 16 KiB it is refused" {
	long_dn_client 40
	local want
	want=$(openssl x509 -in client.pem -noout -subject -nameopt RFC2253)
	want=${want#subject=}
	[ "${#want}" -gt 2000 ]
	start_server --tls --tls-client-ca ca.pem -m "$MODE" 127.0.0.1:0 -- sh -c 'printf "%s" "$SSL_CLIENT_S_DN"'
	run python3 "$TLSC" --cert client.pem --key client.key "$ADDR"
	assert_success
	assert_output "$want"

	long_dn_client 300
	start_server --tls --tls-client-ca ca.pem -m "$MODE" 127.0.0.1:0 -- sh -c 'echo ran'
	run python3 "$TLSC" --cert client.pem --key client.key "$ADDR"
	refute_output --partial ran
	wait_until 10 log_has "^sockserve: 127\.0\.0\.1:[0-9]+: closed: the client certificate's subject is [0-9]+ bytes long \(at most 16384\)$"
}

@test "--proxy-from: a PROXY header from any other peer is refused and logged; from a listed one it is used" {
	start_server --proxy-protocol --proxy-from 198.51.100.0/24,10.0.0.0/8 -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "ran $TCPREMOTEIP"'
	run python3 "$PC" "$ADDR" "v1:PROXY TCP4 203.0.113.7 127.0.0.1 1234 80"
	refute_output --partial ran
	wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: rejected: not a --proxy-from peer, so it may not send a PROXY header$'
	wait_until 10 status_shows ', 1 rejected'

	start_server --proxy-protocol --proxy-from 198.51.100.0/24 --proxy-from 127.0.0.0/8,::1 -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "ran $TCPREMOTEIP"'
	run python3 "$PC" "$ADDR" "v1:PROXY TCP4 203.0.113.7 127.0.0.1 1234 80"
	assert_output "ran 203.0.113.7"
}

@test "--proxy-from in JSON: reason proxy_untrusted; its usage errors" {
	start_server --log-format=json --proxy-protocol --proxy-from ::1 127.0.0.1:0 -- echo ran
	run python3 "$PC" "$ADDR" "v1:PROXY TCP4 203.0.113.7 127.0.0.1 1234 80"
	refute_output --partial ran
	wait_until 10 log_has '"event":"rejected","remote":"127\.0\.0\.1:[0-9]+","reason":"proxy_untrusted"'
	run "$SOCKSERVE" --proxy-from 10.0.0.0/8 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --proxy-from names the peers that may send PROXY headers: it needs --proxy-protocol"
	run "$SOCKSERVE" --proxy-protocol --proxy-from 10.0.0.0/8,nonsense 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --proxy-from 'nonsense': not an IPv4 or IPv6 address"
}

# ---- the command line ----

@test "numbers are strict: no blanks, signs, hexadecimal or exponents" {
	local args
	for args in "-c| 5" "-c|+5" "--max-per-ip| 3" "-n|5 " "--rate|+5/1" "-T|0x1p3" "--grace|0x10" "-T|1e3" \
		"-T|inf" "-T|1." "-T| 1" "--idle-timeout|-1"; do
		run timeout 10 "$SOCKSERVE" "${args%%|*}" "${args#*|}" 127.0.0.1:0 cat
		assert_failure 64
		assert_line --index 0 --regexp "is not a (whole number|number of seconds)"
	done
	run "$SOCKSERVE" -T .5 --grace 0.25 -c 5 --help
	assert_success
}

@test "ADDRESS without its port, a path without '/', a bad port or service: usage errors that show the form" {
	run "$SOCKSERVE" 127.0.0.1 cat
	assert_failure 64
	assert_line --index 0 "sockserve: address '127.0.0.1': a port is missing: 127.0.0.1:PORT"
	run "$SOCKSERVE" localhost cat
	assert_failure 64
	assert_line --index 0 "sockserve: address 'localhost' is not a port or a service; a host needs its port (localhost:PORT), a unix socket path a '/' (./localhost)"
	run "$SOCKSERVE" x.sock cat
	assert_failure 64
	assert_line --index 0 --partial "a unix socket path a '/' (./x.sock)"
	run "$SOCKSERVE" 127.0.0.1:-1 cat
	assert_failure 64
	assert_line --index 0 "sockserve: address '127.0.0.1:-1': '-1' is not a port (0 to 65535) or a service name of /etc/services"
	run "$SOCKSERVE" 127.0.0.1:nosuchservice cat
	assert_failure 64
	assert_line --index 0 --partial "'nosuchservice' is not a port (0 to 65535) or a service name"
	run timeout 10 "$SOCKSERVE" --pidfile "" 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --pidfile needs a file name"
}

@test "-u ADDRESS (netcat's UDP flag): the error says -u took the address, and how to ask for UDP" {
	run "$SOCKSERVE" -u 127.0.0.1:0 -- cat
	assert_failure 64
	assert_line --index 0 "sockserve: missing COMMAND after ADDRESS 'cat': -u (--user) took '127.0.0.1:0' as a user name; for UDP write -t dgram: sockserve -t dgram 127.0.0.1:0 -- cat"
}

@test "TLS files: a missing file, a bad PEM and a directory name the reason; an encrypted key fails without a prompt" {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout k.pem -out c.pem -days 2 2>/dev/null
	openssl pkey -in k.pem -aes256 -passout pass:secret -out enc.pem
	echo garbage >bad.pem
	run "$SOCKSERVE" --tls-cert nope.pem --tls-key k.pem 127.0.0.1:0 cat
	assert_failure 1
	assert_output "sockserve: cannot use the certificate nope.pem: No such file or directory"
	run "$SOCKSERVE" --tls-cert bad.pem --tls-key k.pem 127.0.0.1:0 cat
	assert_output "sockserve: cannot use the certificate bad.pem: not a PEM certificate (no start line)"
	run "$SOCKSERVE" --tls-cert c.pem --tls-key "$BATS_TEST_TMPDIR" 127.0.0.1:0 cat
	assert_output "sockserve: cannot use the key $BATS_TEST_TMPDIR: Is a directory"
	run "$SOCKSERVE" --tls-cert c.pem --tls-key k.pem --tls-client-ca nope.pem 127.0.0.1:0 cat
	assert_output --partial "No such file or directory"
	# on a terminal, where OpenSSL's default would prompt (twice)
	command -v script >/dev/null || skip "no script(1) (util-linux) for a terminal"
	run timeout 10 script -qec "$SOCKSERVE --tls-cert c.pem --tls-key enc.pem 127.0.0.1:0 cat" /dev/null </dev/null
	assert_failure 1
	refute_output --partial "Enter PEM pass phrase"
	assert_output --partial "sockserve: the key enc.pem is encrypted, and sockserve never asks for a pass phrase"
}

# ---- files ----

@test "--pidfile: a symbolic link planted in a sticky directory is never followed" {
	mkdir -m 1777 tmp
	echo secret >target
	chmod 600 target
	ln -s "$BATS_TEST_TMPDIR/target" tmp/app.pid
	run timeout 10 "$SOCKSERVE" --pidfile tmp/app.pid 127.0.0.1:0 cat
	assert_failure 1
	assert_output "sockserve: the pid file tmp/app.pid is a symbolic link: sockserve does not follow one there (name the file itself)"
	assert_equal "$(cat target)" secret
	[ -L tmp/app.pid ]
}

@test "--pidfile: a hard link, another file's text or /proc are refused, untouched" {
	echo secret >target
	ln target hard
	run timeout 10 "$SOCKSERVE" --pidfile hard 127.0.0.1:0 cat
	assert_failure 1
	assert_output "sockserve: the pid file hard has other hard links: sockserve does not write to it"
	rm hard
	run timeout 10 "$SOCKSERVE" --pidfile target 127.0.0.1:0 cat
	assert_failure 1
	assert_output "sockserve: the pid file target holds something other than a pid: sockserve does not overwrite it"
	assert_equal "$(cat target)" secret
	run timeout 10 "$SOCKSERVE" --pidfile /proc/self/status 127.0.0.1:0 cat
	assert_failure 1
	assert_output --partial "sockserve: the pid file /proc/self/status "
	# an old pid file is taken over
	echo 99999999 >old.pid
	start_server --pidfile old.pid 127.0.0.1:0 -- true
	assert_equal "$(cat old.pid)" "$SERVER_PID"
}

@test "--pidfile: a file put in its place while serving is not removed at exit" {
	start_server --pidfile app.pid 127.0.0.1:0 -- true
	assert_equal "$(cat app.pid)" "$SERVER_PID"
	mv app.pid mine.pid
	echo other >app.pid
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	assert_equal "$(cat app.pid)" other
	log_has "^sockserve: the pid file app.pid is no longer the file sockserve wrote: left alone$"
}

# ---- processes ----

# handler_pids: the pids the handlers wrote to pids (one a line).
handler_pids() {
	cat pids 2>/dev/null
}

# workers_now PID: the live worker processes (sockserve) that supervisor PID
# has (its other children are the handlers it took over, and theirs; a
# worker just killed is a zombie until it is reaped).
workers_now() {
	ps -o pid=,stat=,comm= --ppid "$1" 2>/dev/null | awk '$3 == "sockserve" && $2 !~ /^Z/ { print $1 }'
}

# none_alive PID...: no process of these pids is alive (zombies count as gone).
none_alive() {
	local pid
	for pid in "$@"; do
		ps -o stat= -p "$pid" 2>/dev/null | grep -qv '^Z' && return 1
	done
	return 0
}

# children_among PARENT PID...: those of PID... whose parent is PARENT.
children_among() {
	local parent=$1 pid
	shift
	for pid in "$@"; do
		[ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" != "$parent" ] || echo "$pid"
	done
}

@test "--workers: a dead worker's handlers are ended, and it does not start again before they are" {
	# each handler ignores SIGTERM: only the SIGKILL a second later ends it
	start_server --workers 2 -c 4 -T 30 -m "$MODE" 127.0.0.1:0 -- \
		sh -c 'echo $$ >>pids; trap "" TERM; while :; do sleep 1; done'
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	local i
	for i in 1 2 3 4; do
		python3 -c 'import socket,sys,time; h,p=sys.argv[1].rsplit(":",1); s=socket.create_connection((h,int(p))); time.sleep(40)' "$ADDR" 3>&- &
		STARTED_PIDS+=("$!")
	done
	# two places each: two handlers on each worker
	wait_until 10 holds -eq 4 lines pids
	local victim other theirs
	victim=$(workers_now "$SERVER_PID" | head -n 1)
	other=$(workers_now "$SERVER_PID" | grep -vxF "$victim")
	theirs=$(children_among "$victim" $(handler_pids))
	assert_equal "$(echo "$theirs" | wc -w)" 2
	kill -KILL "$victim"
	# until its handlers are gone it is not started again (-c holds)
	local deadline=$((SECONDS + 15))
	until none_alive $theirs; do
		# a new worker seen first, then a handler still alive: it started
		# while the handler ran
		if [ "$(workers_now "$SERVER_PID")" != "$other" ] && ! none_alive $theirs; then
			fail "a worker started again while the dead worker's handlers ran"
		fi
		[ $SECONDS -lt $deadline ] || fail "the dead worker's handlers still run: $(ps -o pid,stat,cmd -p "${theirs//$'\n'/,}")"
		sleep 0.02
	done
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	log_has '^sockserve: ending 2 handlers that a dead worker left running$'
	# both workers killed at once (the issue's case): no handler outlives them
	local all
	all=$(handler_pids)
	kill -KILL $(workers_now "$SERVER_PID")
	wait_until 15 none_alive $all
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	# and the server serves on
	: >pids
	python3 -c 'import socket,sys; h,p=sys.argv[1].rsplit(":",1); s=socket.create_connection((h,int(p))); s.settimeout(10); s.recv(1)' "$ADDR" 3>&- &
	STARTED_PIDS+=("$!")
	wait_until 10 holds -eq 1 lines pids
}

@test "--workers: the workers end when their supervisor is killed, and the port is free again" {
	start_server --workers 2 --pidfile app.pid -m "$MODE" 127.0.0.1:0 -- echo ok
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	local workers
	workers=$(children_of "$SERVER_PID")
	kill -KILL "$SERVER_PID"
	reap "$SERVER_PID"
	wait_until 15 none_alive $workers
	local addr=$ADDR
	start_server --pidfile app.pid -m "$MODE" "$addr" -- echo ok
	assert_equal "$ADDR" "$addr"
	run client "$ADDR" </dev/null
	assert_output ok
}

@test "--workers: a stopped worker does not hold up the stop: it is killed after --grace" {
	start_server --workers 2 --grace 1 -m "$MODE" 127.0.0.1:0 -- echo ok
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	local workers
	workers=$(children_of "$SERVER_PID")
	kill -STOP $workers
	kill -TERM "$SERVER_PID"
	wait_gone "$SERVER_PID" 15
	none_alive $workers
	log_has '^sockserve: worker [12] \(pid [0-9]+\) has not ended after the grace period: killing it and its handlers$'
}

@test "--workers: a second SIGTERM cuts the wait for a stopped worker to a second" {
	start_server --workers 2 --grace 60 -m "$MODE" "$BATS_TEST_TMPDIR/s.sock" -- echo ok
	wait_until 10 holds -eq 2 child_count "$SERVER_PID"
	local workers
	workers=$(children_of "$SERVER_PID")
	kill -STOP $workers
	kill -TERM "$SERVER_PID"
	# the first one has been taken (signals of a kind pending at once are
	# one): the supervisor removes the socket's path at the stop
	wait_until 10 test ! -e "$BATS_TEST_TMPDIR/s.sock"
	kill -TERM "$SERVER_PID"
	# well before the 60 s of --grace
	wait_gone "$SERVER_PID" 15
	none_alive $workers
	log_has '^sockserve: worker [12] \(pid [0-9]+\) has not ended after the grace period: killing it and its handlers$'
}

@test "--wait: a COMMAND that exits without reading is paused after 41 starts in 10 s, logged once" {
	start_server -v --wait -t dgram 127.0.0.1:0 -- true
	python3 -c 'import socket,sys; h,p=sys.argv[1].rsplit(":",1); socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x",(h,int(p)))' "$ADDR"
	wait_until 20 log_has '^sockserve: COMMAND exited 41 times within 10 s without taking what was waiting on the socket: not started again for 10 s$'
	local starts
	starts=$(log_count ': start, handler pid')
	[ "$starts" -le 42 ]
	# paused: no start in the next second (a negative: there is no event to wait for)
	sleep 1
	assert_equal "$(log_count ': start, handler pid')" "$starts"
	assert_equal "$(log_count 'not started again')" 1
}
