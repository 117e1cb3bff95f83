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

@test "-T stops a TLS handler (and in fork and sync modes its relay); the next request is served" {
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
		log_has '; the kernel offers kTLS: a connection whose cipher it takes in both directions gives the handler the socket itself, others are relayed \(-vv tells which\)$'
		path='kTLS \(the handler gets the socket\)'
	else
		log_has '; sockserve relays the plaintext \(the kernel offers no kTLS: no "tls" in /proc/sys/net/ipv4/tcp_available_ulp; .modprobe tls. adds it\)$'
		path=relayed
	fi
	run tc --send x "$ADDR"
	wait_until 10 log_has "^sockserve: 127\\.0\\.0\\.1:[0-9]+: TLS handshake done: TLSv1\\.3 TLS_[A-Z0-9_]+, $path\$"
	# --tls-relay: the relay whatever the kernel offers (a log of its own;
	# teardown reads both)
	local first=$SERVER_ERR
	SERVER_ERR=$BATS_TEST_TMPDIR/relay.err
	start_server -vv --tls --tls-relay -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	log_has '; sockserve relays the plaintext \(--tls-relay\)$'
	run tc --send x "$ADDR"
	wait_until 10 log_has "^sockserve: 127\\.0\\.0\\.1:[0-9]+: TLS handshake done: TLSv1\\.3 TLS_[A-Z0-9_]+, relayed\$"
	cat "$first" >>"$SERVER_ERR"
}

@test "--log-format json: the tls event names the path and whether the kernel offers kTLS; each handshake names its way" {
	start_server --log-format json -vv --tls -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	local path=relay ktls=0 way=relayed
	if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
		path=ktls ktls=1 way='kTLS \(the handler gets the socket\)'
	fi
	log_has '"event":"tls","certificate":"throw-away","sha256":"([0-9A-F]{2}:){31}[0-9A-F]{2}","path":"'"$path"'","ktls":'"$ktls"','
	run tc --send x "$ADDR"
	wait_until 10 log_has '"event":"tls_handshake","remote":"127\.0\.0\.1:[0-9]+","tls":"TLSv1\.3 TLS_[A-Z0-9_]+, '"$way"'"'
	# --tls-relay: the relay whatever the kernel offers
	local first=$SERVER_ERR
	SERVER_ERR=$BATS_TEST_TMPDIR/relay.err
	start_server --log-format json --tls --tls-relay -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOWTLS"
	log_has '"event":"tls",.*"path":"relay","ktls":0,'
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
