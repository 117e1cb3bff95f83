#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# --proxy-protocol: the PROXY header's addresses are the client's, for the
# handler, the access rules and the logs; the payload after the header is the
# handler's, byte for byte; a bad or missing header is closed and logged, and
# never stops the server.  Run in every concurrency mode; the HAProxy tests
# start Debian's haproxy on loopback with a generated config.

load test_helper/common

PC=$TOP/tests/helpers/proxyclient.py
WITHSOCKET=$TOP/tests/helpers/withsocket.py
# The handler says what it was told, then echoes its input.
SHOW='echo "$TCPREMOTEIP $TCPREMOTEPORT $TCPLOCALIP $TCPLOCALPORT"; cat'

pc() {
	python3 "$PC" "$@"
}

# start_proxied [SOCKSERVE ARGS...]: a server with --proxy-protocol and SHOW.
start_proxied() {
	start_server --proxy-protocol -m "$MODE" "$@" 127.0.0.1:0 -- sh -c "$SHOW"
}

# closed_bad HEADER [ARGS...]: the server closes the connection, no handler answers.
closed_bad() {
	run pc "${@:2}" "$ADDR" "$1"
	assert_success
	assert_output ""
}

@test "v1 TCP4: the header's addresses are TCPREMOTE*/TCPLOCAL*; the payload after it arrives intact" {
	start_proxied
	run pc --payload $'line one\nline two\n' "$ADDR" "v1:PROXY TCP4 192.0.2.7 198.51.100.2 40001 8080"
	assert_success
	assert_output $'192.0.2.7 40001 198.51.100.2 8080\nline one\nline two'
}

@test "v1 TCP6 and v2 TCP6 (over an IPv4 connection): the IPv6 addresses are the handler's" {
	start_proxied
	run pc --payload x "$ADDR" "v1:PROXY TCP6 2001:db8::1 2001:db8::2 65535 1"
	assert_output $'2001:db8::1 65535 2001:db8::2 1\nx'
	run pc --payload y "$ADDR" "v2:proxy:tcp6:2001-db8--9:2001-db8--a:1:2"
	assert_output $'2001:db8::9 1 2001:db8::a 2\ny'
}

@test "v2 TCP4 with TLVs: the TLVs are skipped, the payload (which looks like a header) is untouched" {
	start_proxied
	# 200 bytes of TLV, then a payload that is itself a v1 header
	run pc --payload $'PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\nrest' "$ADDR" "v2:proxy:tcp4:203.0.113.5:192.0.2.200:5000:443:200"
	assert_success
	assert_output $'203.0.113.5 5000 192.0.2.200 443\nPROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\nrest'
}

@test "v2 LOCAL, v2 over a unix family and v1 UNKNOWN keep the connection's own addresses" {
	start_proxied
	local header
	for header in "v2:local:unspec" "v2:local:tcp4:192.0.2.1:192.0.2.2:1:2" "v2:proxy:unix:/a:/b" "v1:PROXY UNKNOWN" \
		"v1:PROXY UNKNOWN 192.0.2.1 192.0.2.2 1 2"; do
		run pc --payload z "$ADDR" "$header"
		assert_success
		assert_output --regexp "^127\.0\.0\.1 [0-9]+ 127\.0\.0\.1 ${ADDR##*:}"$'\nz$'
	done
}

@test "a header that arrives in pieces is waited for, without holding up another client" {
	start_proxied
	# the v1 line cut in its middle, the v2 header inside its signature and in its addresses
	run pc --split 12 --payload a "$ADDR" "v1:PROXY TCP4 192.0.2.7 198.51.100.2 40001 8080"
	assert_output $'192.0.2.7 40001 198.51.100.2 8080\na'
	run pc --split 5 --payload b "$ADDR" "v2:proxy:tcp4:192.0.2.8:198.51.100.2:1:2"
	assert_output $'192.0.2.8 1 198.51.100.2 2\nb'
	run pc --split 20 --payload c "$ADDR" "v2:proxy:tcp4:192.0.2.9:198.51.100.2:1:2:100"
	assert_output $'192.0.2.9 1 198.51.100.2 2\nc'
	if [ "$MODE" != sync ]; then
		# one client's half header (held 3 s) while another is served
		pc --split 20 --pause 3 --payload d "$ADDR" "v1:PROXY TCP4 192.0.2.10 198.51.100.2 1 2" >slow.out &
		local slow=$!
		STARTED_PIDS+=("$slow")
		wait_until 10 holds -ge 1 ss_established
		run pc --payload e "$ADDR" "v1:PROXY TCP4 192.0.2.11 198.51.100.2 1 2"
		assert_output $'192.0.2.11 1 198.51.100.2 2\ne'
		kill -0 "$slow" # the slow one is still sending its header
		reap "$slow"
		assert_equal "$(cat slow.out)" $'192.0.2.10 1 198.51.100.2 2\nd'
	fi
}

# ss_established: connections to the server's port that are established.
ss_established() {
	ss -Htn state established "( sport = :${ADDR##*:} )" | wc -l
}

@test "bad headers are closed without a handler, logged with the reason and counted; the server goes on" {
	start_proxied
	closed_bad "none" --payload $'GET / HTTP/1.0\r\n\r\n'
	closed_bad "v1:PROXY TCP4 192.0.2.1 192.0.2.2 1 65536"
	closed_bad "v1:PROXY TCP4 192.0.2.1 192.0.2.2 01 2"
	closed_bad "v1:PROXY TCP4 192.0.2.1  192.0.2.2 1 2"
	closed_bad "v1:PROXY TCP4 2001:db8::1 192.0.2.2 1 2"
	closed_bad "v1:PROXY TCP4 192.0.2.1 192.0.2.2 1 $(printf '%0100d' 2)"
	closed_bad "hex:0d0a0d0a000d0a515549540a31110000" # version 3
	closed_bad "hex:0d0a0d0a000d0a515549540a21110004c0000201" # shorter than its addresses
	closed_bad "hex:50524f5859205443503420" # closed inside the header
	wait_until 10 holds -ge 9 log_count 'closed: '
	log_has '^sockserve: 127\.0\.0\.1:[0-9]+: closed: no PROXY protocol header'
	log_has 'closed: .*port'
	log_has 'closed: .*version'
	log_has 'closed: the connection closed inside'
	# nothing of a bad header reaches a handler, and the server still serves
	run pc --payload ok "$ADDR" "v1:PROXY TCP4 192.0.2.1 192.0.2.2 1 2"
	assert_output $'192.0.2.1 1 192.0.2.2 2\nok'
	wait_until 10 status_shows 'status: 0 in progress, 1 handled, 0 failed, 9 rejected'
	run grep -c ': start, handler' "$SERVER_ERR"
	assert_output 0 # without -v
}

@test "a silent client is closed after 5 s, logged; other clients are served meanwhile" {
	start_proxied
	pc --keep-open "$ADDR" none >silent.out 2>silent.time &
	local silent=$!
	STARTED_PIDS+=("$silent")
	wait_until 10 holds -ge 1 ss_established
	if [ "$MODE" != sync ]; then
		run pc --payload m "$ADDR" "v1:PROXY TCP4 192.0.2.3 192.0.2.4 1 2"
		assert_output $'192.0.2.3 1 192.0.2.4 2\nm'
		kill -0 "$silent" # still waiting
	fi
	reap "$silent"
	assert_equal "$(cat silent.out)" ""
	# the deadline is 5 s: closed neither much before nor long after
	run python3 -c 'import sys; t = float(open("silent.time").read()); sys.exit(0 if 4.5 <= t < 9 else 1)'
	assert_success
	wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: closed: no PROXY header within 5 s$'
}

@test "--deny and --rate act on the header's client, not on the balancer" {
	start_server --proxy-protocol -v -m "$MODE" --deny 203.0.113.0/24 --rate 1/60 127.0.0.1:0 -- sh -c "$SHOW"
	run pc "$ADDR" "v1:PROXY TCP4 203.0.113.1 198.51.100.1 1 2"
	assert_output ""
	run pc "$ADDR" "v1:PROXY TCP4 198.51.100.7 198.51.100.1 1 2"
	assert_output "198.51.100.7 1 198.51.100.1 2"
	# the same balancer, another client: a bucket of its own
	run pc "$ADDR" "v1:PROXY TCP4 198.51.100.8 198.51.100.1 1 2"
	assert_output "198.51.100.8 1 198.51.100.1 2"
	run pc "$ADDR" "v1:PROXY TCP4 198.51.100.7 198.51.100.1 1 2"
	assert_output ""
	wait_until 10 log_has '^sockserve: 203\.0\.113\.1:1: rejected: matches --deny 203\.0\.113\.0/24$'
	wait_until 10 log_has '^sockserve: 198\.51\.100\.7:1: rejected: over --rate 1/60$'
	wait_until 10 status_shows 'status: 0 in progress, 2 handled, 0 failed, 2 rejected'
}

@test "--max-per-ip counts the header's client" {
	[ "$MODE" != sync ] || skip "sync mode serves one request at a time"
	start_server --proxy-protocol -v -m "$MODE" --max-per-ip 1 127.0.0.1:0 -- sh -c 'echo "$TCPREMOTEIP"; cat'
	# a client from 192.0.2.1 holds its handler (it never closes its side)
	pc --keep-open "$ADDR" "v1:PROXY TCP4 192.0.2.1 198.51.100.1 1 2" >held.out 2>/dev/null &
	local held=$!
	STARTED_PIDS+=("$held")
	wait_until 10 log_has '^sockserve: 192\.0\.2\.1:1: start, handler'
	# the same client through the same balancer is refused; another is served
	run pc "$ADDR" "v1:PROXY TCP4 192.0.2.1 198.51.100.1 3 2"
	assert_output ""
	run pc "$ADDR" "v1:PROXY TCP4 192.0.2.2 198.51.100.1 4 2"
	assert_output "192.0.2.2"
	wait_until 10 log_has '^sockserve: 192\.0\.2\.1:3: rejected: 1 requests in progress from this address \(--max-per-ip 1\)$'
	kill "$held"
}

@test "JSON logs name the header's client, -vv logs the header and the balancer it came through" {
	start_server --proxy-protocol -vv --log-format json -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOW"
	run pc "$ADDR" "v2:proxy:tcp4:192.0.2.44:192.0.2.45:4444:80"
	assert_output "192.0.2.44 4444 192.0.2.45 80"
	wait_until 10 log_has '"event":"end"'
	run python3 - "$SERVER_ERR" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
proxy = [l for l in lines if l.get("event") == "proxy"]
start = [l for l in lines if l.get("event") == "start"]
assert len(proxy) == 1 and proxy[0]["remote"] == "192.0.2.44:4444", proxy
assert proxy[0]["via"].startswith("127.0.0.1:") and proxy[0]["version"] == 2, proxy
assert proxy[0]["bytes"] == 28, proxy
assert start[0]["remote"] == "192.0.2.44:4444", start
PY
	assert_success
	# a bad header's event names the connection and the reason
	: >"$SERVER_ERR"
	run pc "$ADDR" "v1:PROXY TCP5 a b 1 2"
	wait_until 10 log_has '"event":"proxy_failed"'
	run python3 - "$SERVER_ERR" <<'PY'
import json, sys
l = [json.loads(l) for l in open(sys.argv[1]) if "proxy_failed" in l][0]
assert l["level"] == "error" and l["remote"].startswith("127.0.0.1:") and "UNKNOWN" in l["error"], l
PY
	assert_success
}

@test "--proxy-protocol needs a TCP socket and cannot go with --wait" {
	run "$SOCKSERVE" --proxy-protocol -t dgram 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 --partial "--proxy-protocol applies to TCP sockets"
	run "$SOCKSERVE" --proxy-protocol ./u.sock cat
	assert_failure 64
	assert_line --index 0 --partial "--proxy-protocol applies to TCP sockets"
	run "$SOCKSERVE" --proxy-protocol --wait 127.0.0.1:0 cat
	assert_failure 64
	assert_line --index 0 --partial "--proxy-protocol cannot apply"
}

# start_haproxy SEND: HAProxy on loopback in front of ADDR, with
# "send-proxy" or "send-proxy-v2"; sets HAPROXY_ADDR.
start_haproxy() {
	command -v haproxy >/dev/null || skip "haproxy is not installed (.ci/deps test installs it)"
	cat >haproxy.cfg <<EOF
global
  log stderr format raw local0 err
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind fd@3
  default_backend be
backend be
  server sockserve $ADDR $1
EOF
	"$WITHSOCKET" 127.0.0.1 haproxy.addr haproxy -db -f haproxy.cfg >haproxy.log 2>&1 &
	STARTED_PIDS+=($!)
	wait_until 10 test -s haproxy.addr
	HAPROXY_ADDR=$(cat haproxy.addr)
}

# through_haproxy SEND: a client from 127.0.0.2 through HAProxy is seen as
# 127.0.0.2, and 1 MiB goes through the handler and back intact.
through_haproxy() {
	start_server --proxy-protocol -v -m "$MODE" 127.0.0.1:0 -- sh -c "$SHOW"
	start_haproxy "$1"
	head -c 1048576 /dev/urandom >payload
	client -s 127.0.0.2 "$HAPROXY_ADDR" <payload >reply
	head -n 1 reply >first
	run cat first
	assert_output --regexp "^127\.0\.0\.2 [0-9]+ 127\.0\.0\.1 ${HAPROXY_ADDR##*:}$"
	tail -c +"$(($(wc -c <first) + 1))" reply | cmp - payload
	wait_until 10 log_has '^sockserve: 127\.0\.0\.2:[0-9]+: start, handler'
	run log_count 'closed: '
	assert_output 0
}

@test "behind a real HAProxy with send-proxy (v1)" {
	through_haproxy send-proxy
}

@test "behind a real HAProxy with send-proxy-v2" {
	through_haproxy send-proxy-v2
}
