#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# TLS: the handshake in the event loop (with its deadline), the handler on
# plaintext fd 0/1 through the relay, the SSL_* variables, client
# certificates, and real clients (openssl s_client, curl).  Run in every
# concurrency mode.

load test_helper/common

TLSC=$TOP/tests/helpers/tlsclient.py

tc() {
	python3 "$TLSC" "$@"
}

# make_pki: a CA, a server certificate for localhost/127.0.0.1 signed by it,
# a client certificate (CN=alice) signed by it, and one by another CA.
make_pki() {
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	openssl req -x509 "${ec[@]}" -subj /CN=test-ca -keyout ca.key -out ca.pem -days 2 2>/dev/null
	openssl req -x509 "${ec[@]}" -subj /CN=other-ca -keyout other.key -out other.pem -days 2 2>/dev/null
	openssl req "${ec[@]}" -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout server.key -out server.csr 2>/dev/null
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -copy_extensions copy \
		-days 2 -out server.pem 2>/dev/null
	openssl req "${ec[@]}" -subj "/O=Example/CN=alice" -keyout alice.key -out alice.csr 2>/dev/null
	openssl x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out alice.pem 2>/dev/null
	openssl req "${ec[@]}" -subj /CN=mallory -keyout mallory.key -out mallory.csr 2>/dev/null
	openssl x509 -req -in mallory.csr -CA other.pem -CAkey other.key -CAcreateserial -days 2 \
		-out mallory.pem 2>/dev/null
	[ -s server.pem ] && [ -s alice.pem ] && [ -s mallory.pem ]
}

SHOWTLS='echo "$SSL_PROTOCOL|$SSL_SERVER_NAME|$SSL_ALPN|$SSL_CLIENT_S_DN|$TCPREMOTEIP"; test -n "$SSL_CIPHER" && wc -c'

@test "--tls: a throw-away certificate whose fingerprint is logged; the handler gets SSL_* and plaintext" {
	start_server --tls --tls-alpn h2,http/1.1 -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	# logged at the default level, with the fingerprint
	wait_until 10 log_has '^sockserve: TLS with a throw-away self-signed certificate, SHA-256 fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}; '
	local logged seen
	logged=$(grep -oE '([0-9A-F]{2}:){31}[0-9A-F]{2}' "$SERVER_ERR")
	seen=$(openssl s_client -connect "$ADDR" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256)
	assert_equal "${seen#*=}" "$logged"
	run tc --sni example.test --alpn h2,http/1.1 --send "12345" "$ADDR"
	assert_success
	assert_output $'TLSv1.3|example.test|h2||127.0.0.1\n5'
	# the client's first protocol that the handler speaks; none in common: none
	run tc --alpn spdy/3,http/1.1,h2 --send "" "$ADDR"
	assert_output $'TLSv1.3||http/1.1||127.0.0.1\n0'
	run tc --alpn spdy/3 --send "" "$ADDR"
	assert_output $'TLSv1.3||||127.0.0.1\n0'
}

@test "openssl s_client and curl -k against --tls" {
	start_server --tls -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "hello over $SSL_PROTOCOL"'
	run openssl s_client -quiet -connect "$ADDR" </dev/null
	assert_line "hello over TLSv1.3"
	: >"$SERVER_ERR"
	start_server --tls -m "$MODE" 127.0.0.1:0 -- sh -c 'sed -n "/^\r*$/q"; printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhi over %s\n" "$SSL_PROTOCOL"'
	run curl -sS -k "https://$ADDR/"
	assert_success
	assert_output "hi over TLSv1.3"
	# TLS 1.2 is taken too, 1.1 is not
	run curl -sS -k --tls-max 1.2 "https://$ADDR/"
	assert_output "hi over TLSv1.2"
	run curl -sS -k --tlsv1.1 --tls-max 1.1 "https://$ADDR/"
	assert_failure
}

@test "--tls-cert/--tls-key: curl --cacert verifies the server; the handler's HTTP answer comes back" {
	make_pki
	start_server --tls-cert server.pem --tls-key server.key -m "$MODE" 127.0.0.1:0 -- \
		sh -c 'sed -n "/^\r*$/q"; printf "HTTP/1.0 200 OK\r\n\r\nverified %s\n" "$SSL_SERVER_NAME"'
	run curl -sS --cacert ca.pem "https://localhost:${ADDR##*:}/" --resolve "localhost:${ADDR##*:}:127.0.0.1"
	assert_success
	assert_output "verified localhost"
	# a client that trusts another CA refuses the server
	run curl -sS --cacert other.pem "https://localhost:${ADDR##*:}/" --resolve "localhost:${ADDR##*:}:127.0.0.1"
	assert_failure
}

@test "--tls-client-ca: a client certificate from the CA is accepted (SSL_CLIENT_S_DN), others refused" {
	make_pki
	start_server -v --tls-cert server.pem --tls-key server.key --tls-client-ca ca.pem -m "$MODE" 127.0.0.1:0 -- \
		sh -c "$SHOWTLS"
	run tc --cafile ca.pem --cert alice.pem --key alice.key --send abc "$ADDR"
	assert_success
	assert_output $'TLSv1.3|localhost||CN=alice,O=Example|127.0.0.1\n3'
	# no certificate, and one from another CA: the handshake fails, no handler runs
	run tc --cafile ca.pem --send abc "$ADDR"
	refute_output --partial "TLSv1.3|"
	run tc --cafile ca.pem --cert mallory.pem --key mallory.key --send abc "$ADDR"
	refute_output --partial "TLSv1.3|"
	wait_until 10 holds -ge 2 log_count ': closed: .*certificate'
	log_has '^sockserve: 127\.0\.0\.1:[0-9]+: closed: the client certificate was refused: '
	wait_until 10 status_shows 'status: 0 in progress, 1 handled, 0 failed, 2 rejected'
	assert_equal "$(log_count ': start, handler')" 1
}

@test "1 MiB both ways through the relay, checksummed" {
	start_server --tls -m "$MODE" 127.0.0.1:0 -- cat
	run tc --bytes 1048576 "$ADDR"
	assert_success
	local sent received
	read -r _ sent _ received n <<<"$output"
	assert_equal "$received" "$sent"
	assert_equal "$n" 1048576
}

# send_queue PORT: the bytes waiting in the send queue of the connection
# whose local port is PORT (/proc/net/tcp: tx_queue, in hex).
send_queue() {
	local hex
	hex=$(awk -v port="$(printf '%04X' "$1")" '$2 ~ ":" port "$" && $4 == "01" { split($5, q, ":"); print q[1]; exit }' /proc/net/tcp)
	echo $((16#${hex:-0}))
}

# send_queue_steady PORT: the send queue of PORT's connection holds bytes and
# has not moved in half a second: the client takes nothing and the server's
# socket is full, so what the handler writes waits in the relay and its pipe.
send_queue_steady() {
	local before
	before=$(send_queue "$1")
	sleep 0.5
	[ "$before" -gt 0 ] && [ "$(send_queue "$1")" = "$before" ]
}

# stall NAME: a TLS client that has finished its handshake and reads nothing
# (tests/helpers/tlsstall.py), its output in NAME.
stall() {
	python3 "$TOP/tests/helpers/tlsstall.py" "$ADDR" 60 >"$1" &
	STARTED_PIDS+=($!)
	wait_until 10 grep -q handshaken "$1"
}

# stalled_readers ARGS...: two clients that read nothing of a handler that
# writes 20 MB hold both places of -c 2; -T ends their handlers, and a third
# client is served while they still stall; SIGTERM then ends the server
# within its grace, with status 0 and no handler left.
stalled_readers() {
	start_server -v --tls -T 1 -c 2 --grace 1 "$@" 127.0.0.1:0 -- head -c 20000000 /dev/zero
	stall s1
	stall s2
	wait_until 15 holds -ge 2 log_count 'killed by signal 15'
	# ended with their handlers: not left flushing what the clients never
	# take (that would hold the places 10 s more)
	wait_until 5 status_shows 'status: 0 in progress'
	run sh -c 'python3 "$0" --end none --send "" "$1" | wc -c' "$TLSC" "$ADDR"
	[ "$output" -gt 0 ]
	kill -TERM "$SERVER_PID"
	wait_gone "$SERVER_PID" 5
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	run pgrep -f 'head -c 20000000'
	assert_failure
}

@test "clients that read nothing: -T frees their places (another client is served), SIGTERM ends the server in its grace" {
	stalled_readers -m "$MODE"
}

@test "clients that read nothing, under --workers 2: -T frees their places, SIGTERM ends the server in its grace" {
	stalled_readers -m "$MODE" --workers 2
}

@test "the handler is sockserve's own child: no relay process" {
	start_server --tls -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "$PPID"'
	run tc --send "" "$ADDR"
	assert_output "$SERVER_PID"
}

@test "the handler closes its output and goes on reading: the client gets end of file, and can still send" {
	start_server --tls -m "$MODE" 127.0.0.1:0 -- sh -c 'echo early; exec >&-; cat >"$0"' "$PWD/late"
	run python3 - "$ADDR" <<'PY'
import socket, ssl, sys
host, _, port = sys.argv[1].rpartition(":")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
got = b""
while True:
    b = s.recv(100)
    if not b:
        break
    got += b
s.sendall(b"sent after the end\n")
socket.socket.shutdown(s, socket.SHUT_WR)
print(got.decode().strip())
PY
	assert_output "early"
	wait_until 10 grep -qx 'sent after the end' late
}

@test "a client that resets mid-transfer, and a handler killed mid-transfer, leave nothing behind" {
	start_server -v --tls -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "$$" >"$0"; exec cat' "$PWD/pid"
	run python3 "$TOP/tests/helpers/tlsreset.py" --echo "$ADDR" 1048576
	assert_output reset
	wait_until 10 status_shows 'status: 0 in progress, 1 handled'
	# a handler killed while its output is on its way: the client gets what
	# was relayed, then the end of the connection
	rm -f pid
	start_server -v --tls -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "$$" >"$0"; exec yes' "$PWD/pid"
	python3 "$TOP/tests/helpers/tlsstall.py" "$ADDR" 60 >s1 &
	STARTED_PIDS+=($!)
	wait_until 10 test -s pid
	# the relay is held up: the server's socket is full
	wait_until 30 send_queue_steady "${ADDR##*:}"
	kill -KILL "$(cat pid)"
	wait_until 10 log_has 'killed by signal 9'
	# the client reads nothing: after 10 s without taking any of the rest,
	# the request ends anyway
	wait_until 20 log_has 'the client took none of the handler.s last output for 10 s: closed'
	wait_until 10 status_shows 'status: 0 in progress, 0 handled, 1 failed'
}

@test "the end of --grace ends a request still relaying what its ended handler wrote" {
	start_server -v --tls --grace 1 -m "$MODE" 127.0.0.1:0 -- sh -c 'echo "$$" >"$0"; exec yes' "$PWD/pid"
	python3 "$TOP/tests/helpers/tlsstall.py" "$ADDR" 60 >s1 &
	STARTED_PIDS+=($!)
	wait_until 10 test -s pid
	wait_until 30 send_queue_steady "${ADDR##*:}"
	kill -KILL "$(cat pid)"
	wait_until 10 log_has 'killed by signal 9'
	# its handler has ended, and the request is still in progress
	wait_until 10 status_shows 'status: 1 in progress, 0 handled, 1 failed'
	kill -TERM "$SERVER_PID"
	# the drain waits for it up to --grace, then ends it, long before the
	# 10 s a client that takes nothing is given
	wait_gone "$SERVER_PID" 5
	reap "$SERVER_PID"
	assert_equal "$(log_count 'took none of the handler')" 0
	log_has 'shutting down: 1 in progress'
}

@test "3,000 handshakes: sockserve's memory and descriptors stay flat" {
	start_server --tls -m "$MODE" 127.0.0.1:0 -- cat
	run "$LOAD" conn -S -n 300 -c 8 -q x -x x -T 120 "$ADDR"
	[[ $output == *"n=300 ok=300 "* ]]
	local rss0 fds0 rss1 fds1
	rss0=$(awk '/^VmRSS/ { print $2 }' /proc/"$SERVER_PID"/status)
	fds0=$(ls /proc/"$SERVER_PID"/fd | wc -l)
	run "$LOAD" conn -S -n 3000 -c 8 -q x -x x -T 300 "$ADDR"
	[[ $output == *"n=3000 ok=3000 "* ]]
	wait_until 10 status_shows 'status: 0 in progress'
	rss1=$(awk '/^VmRSS/ { print $2 }' /proc/"$SERVER_PID"/status)
	fds1=$(ls /proc/"$SERVER_PID"/fd | wc -l)
	echo "RSS $rss0 -> $rss1 KiB, descriptors $fds0 -> $fds1" >&3
	assert_equal "$fds1" "$fds0"
	# the slots and their relays were made in the first 300; a leak of a
	# few hundred bytes a connection would show as megabytes here (a
	# sanitizer's runtime keeps freed memory a while: there its leak check
	# at the exit is what counts)
	ldd "$SOCKSERVE" 2>/dev/null | grep -qE 'lib[at]san' || [ "$rss1" -le $((rss0 + 2048)) ]
}

@test "under valgrind: the relay with 1 MiB each way, both half-closes and a reset, without an error" {
	valgrind_wrapper
	SOCKSERVE=$PWD/vg start_server --tls --grace 5 -m "$MODE" 127.0.0.1:0 -- cat
	run tc --bytes 1048576 --timeout 60 "$ADDR"
	assert_success
	local sent received
	read -r _ sent _ received n <<<"$output"
	assert_equal "$received" "$sent"
	run tc --send "half" --end fin --timeout 60 "$ADDR"
	assert_output "half"
	python3 "$TOP/tests/helpers/tlsreset.py" "$ADDR" 100000
	wait_until 60 status_shows 'status: 0 in progress, 3 handled'
	kill -TERM "$SERVER_PID"
	wait_gone "$SERVER_PID" 60
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}

@test "the handler sees end of file when the client closes, with close_notify or without" {
	start_server -v --tls -m "$MODE" 127.0.0.1:0 -- sh -c 'cat >>got; echo "ended"'
	# a TCP close without close_notify: the answer still comes back
	run tc --send "one" --end fin "$ADDR"
	assert_output "ended"
	# openssl s_client sends close_notify at its end of input
	echo two | openssl s_client -quiet -no_ign_eof -connect "$ADDR" >/dev/null 2>&1
	wait_until 10 holds -eq 2 log_count ': end, handler pid [0-9]+ exit 0'
	assert_equal "$(cat got)" "onetwo"
}

@test "garbage instead of a ClientHello: closed, logged with the reason, counted; the server goes on" {
	start_server --tls -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	run python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
try:
    s.recv(4096)  # an alert, end of file or a reset: anything but a handler
except ConnectionResetError:
    pass' "$ADDR"
	assert_success
	wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: closed: TLS handshake failed: '
	run tc --send x "$ADDR"
	assert_output --partial "TLSv1.3|"
	wait_until 10 status_shows 'status: 0 in progress, 1 handled, 0 failed, 1 rejected'
	assert_equal "$(log_count ': start, handler')" 0 # not at the default level
}

# ss_established: connections to the server's port that are established.
ss_established() {
	ss -Htn state established "( sport = :${ADDR##*:} )" | wc -l
}

@test "a client that says nothing is closed after 5 s; others are served meanwhile" {
	start_server --tls -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	python3 "$TOP/tests/helpers/proxyclient.py" --keep-open "$ADDR" none >silent.out 2>silent.time &
	local silent=$!
	STARTED_PIDS+=("$silent")
	wait_until 10 holds -ge 1 ss_established
	if [ "$MODE" != sync ]; then
		run tc --send x "$ADDR"
		assert_output --partial "TLSv1.3|"
		kill -0 "$silent"
	fi
	reap "$silent"
	run python3 -c 'import sys; t = float(open("silent.time").read()); sys.exit(0 if 4.5 <= t < 9 else 1)'
	assert_success
	wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: closed: no TLS handshake within 5 s$'
}

@test "-T stops a TLS handler; the next request is served" {
	start_server -v --tls -T 1 -m "$MODE" 127.0.0.1:0 -- sh -c 'echo started; exec sleep 30'
	run tc --end none --send "" "$ADDR"
	assert_output "started"
	wait_until 10 log_has ': timed out after 1 s, handler pid'
	wait_until 10 holds -eq 0 child_count "$SERVER_PID"
	run tc --send "" "$ADDR"
	assert_output "started"
}

@test "-v says how the plaintext reaches the handler; -vv logs each handshake" {
	start_server -vv --tls -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	local path
	if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
		log_has '; sockserve relays the plaintext, and the kernel does the cipher where it takes it \(kTLS; -vv tells which\)$'
		path='relayed( \(kTLS [a-zA-Z, ]+\))?'
	else
		log_has '; sockserve relays the plaintext \(the kernel offers no kTLS: no "tls" in /proc/sys/net/ipv4/tcp_available_ulp; .modprobe tls. adds it\)$'
		path=relayed
	fi
	run tc --send x "$ADDR"
	wait_until 10 log_has "^sockserve: 127\\.0\\.0\\.1:[0-9]+: TLS handshake done: TLSv1\\.3 TLS_[A-Z0-9_]+, $path\$"
	# --tls-relay names the default; --tls-hand-over changes nothing where
	# the kernel offers no kTLS (the kTLS machine tests it: ktls.bats)
	local first=$SERVER_ERR
	SERVER_ERR=$BATS_TEST_TMPDIR/relay.err
	start_server -vv --tls --tls-relay -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	log_has '; sockserve relays the plaintext'
	run tc --send x "$ADDR"
	wait_until 10 log_has "^sockserve: 127\\.0\\.0\\.1:[0-9]+: TLS handshake done: TLSv1\\.3 TLS_[A-Z0-9_]+, $path\$"
	cat "$first" >>"$SERVER_ERR"
}

@test "--log-format json: the tls event names the path and whether the kernel offers kTLS; each handshake names its way" {
	start_server --log-format json -vv --tls -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	local ktls=0 way=relayed
	if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
		ktls=1 way='relayed( \(kTLS [a-zA-Z, ]+\))?'
	fi
	log_has '"event":"tls","certificate":"throw-away","sha256":"([0-9A-F]{2}:){31}[0-9A-F]{2}","path":"relay","ktls":'"$ktls"','
	run tc --send x "$ADDR"
	wait_until 10 log_has '"event":"tls_handshake","remote":"127\.0\.0\.1:[0-9]+","tls":"TLSv1\.3 TLS_[A-Z0-9_]+, '"$way"'"'
	# --tls-hand-over: the path is kTLS only where the kernel offers it
	local first=$SERVER_ERR path=relay
	[ "$ktls" = 1 ] && path=ktls
	SERVER_ERR=$BATS_TEST_TMPDIR/relay.err
	start_server --log-format json --tls --tls-hand-over -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	log_has '"event":"tls",.*"path":"'"$path"'","ktls":'"$ktls"','
	cat "$first" >>"$SERVER_ERR"
}

@test "TLS usage and start-up errors name the problem" {
	make_pki
	run "$SOCKSERVE" --tls-cert server.pem 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --tls-cert needs --tls-key"
	run "$SOCKSERVE" --tls --tls-cert server.pem --tls-key server.key 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 --partial "--tls makes a throw-away certificate: it contradicts --tls-cert"
	run "$SOCKSERVE" --tls-client-ca ca.pem 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 --partial "--tls-client-ca needs TLS"
	run "$SOCKSERVE" --tls-relay 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --tls-relay needs TLS: --tls, or --tls-cert and --tls-key"
	run "$SOCKSERVE" --tls-hand-over 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --tls-hand-over needs TLS: --tls, or --tls-cert and --tls-key"
	run "$SOCKSERVE" --tls --tls-relay --tls-hand-over 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 "sockserve: --tls-relay and --tls-hand-over contradict each other"
	run "$SOCKSERVE" --tls -t dgram 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 --partial "--tls applies to stream sockets"
	run "$SOCKSERVE" --tls --wait 127.0.0.1:0 cat
	assert_failure 64
	run "$SOCKSERVE" --tls-cert missing.pem --tls-key server.key 127.0.0.1:0 cat
	assert_failure 1
	assert_line --index 0 --partial "cannot use the certificate missing.pem"
	run "$SOCKSERVE" --tls-cert server.pem --tls-key alice.key 127.0.0.1:0 cat
	assert_failure 1
	assert_line --index 0 "sockserve: the key alice.key is not the certificate server.pem's"
}
