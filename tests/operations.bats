#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# At home where its users are: refusal messages, TCP keep-alive (a client
# that vanishes ends a relayed handler), journald's priority prefixes and
# systemd's watchdog.

load test_helper/common

# read_refusal ADDRESS: connect, print what the server sends before it closes.
read_refusal() {
	python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
data = b""
while True:
    chunk = s.recv(100)
    if not chunk:
        break
    data += chunk
print(repr(data))' "$1"
}

@test "--refuse-message: sent to a client refused for each reason, escapes understood; a datagram's reply" {
	start_server -m "$MODE" --deny 127.0.0.1 --refuse-message 'go away\r\n' 127.0.0.1:0 -- echo hi
	run read_refusal "$ADDR"
	assert_output "b'go away\\r\\n'"
	start_server -m "$MODE" --allow 10.0.0.0/8 --refuse-message 'not you\x21' 127.0.0.1:0 -- echo hi
	run read_refusal "$ADDR"
	assert_output "b'not you!'"
	start_server -m "$MODE" --rate 1/60 --refuse-message 'slow down\n' 127.0.0.1:0 -- echo hi
	run read_refusal "$ADDR"
	assert_output "b'hi\\n'"
	run read_refusal "$ADDR"
	assert_output "b'slow down\\n'"
	mkfifo hold
	# (sync mode takes the second connection only once the first has ended)
	local m=$MODE
	[ "$m" != sync ] || m=fork
	start_server -m "$m" --max-per-ip 1 --refuse-message 'one at a time\n' 127.0.0.1:0 -- sh -c 'cat hold'
	read_refusal "$ADDR" >first &
	local first=$!
	wait_until 10 status_shows 'status: 1 in progress'
	run read_refusal "$ADDR"
	assert_output "b'one at a time\\n'"
	echo done >hold
	wait "$first"
	start_server -m "$MODE" --proxy-protocol --proxy-from 10.0.0.0/8 --refuse-message 'no proxy\n' 127.0.0.1:0 -- echo hi
	run read_refusal "$ADDR"
	assert_output "b'no proxy\\n'"
	start_server -m "$MODE" -t dgram --deny 127.0.0.1 --refuse-message 'refused\n' 127.0.0.1:0 -- cat
	run python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b"hello", (host, int(port)))
print(repr(s.recv(100)))' "$ADDR"
	assert_output "b'refused\\n'"
	run "$SOCKSERVE" --refuse-message 'bad \q' 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--refuse-message: '\\q' is not an escape"
}

@test "--refuse-message never waits for a client that does not read" {
	start_server -m "$MODE" --deny 127.0.0.1 --refuse-message "$(head -c 100000 /dev/zero | tr '\0' x)" 127.0.0.1:0 -- echo hi
	# 20 clients that read nothing, held open: the loop goes past each of
	# them (a send that waited for one would stop at the first)...
	mkfifo go
	python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
held = [socket.create_connection((host, int(port))) for _ in range(20)]
sys.stdin.read()
# ...and each was closed: what it was sent, then its end
closed = 0
for s in held:
    s.settimeout(20)
    try:
        while s.recv(65536):
            pass
        closed += 1
    except ConnectionResetError:
        closed += 1
print("closed", closed)' "$ADDR" <go >clients.out &
	local clients=$!
	exec 7>go
	wait_until 20 status_shows 'status: 0 in progress, 0 handled, 0 failed, 20 rejected'
	exec 7>&-
	wait "$clients"
	assert_equal "$(cat clients.out)" "closed 20"
}

@test "--keepalive: SO_KEEPALIVE with the idle time, interval and count asked for (ss -o)" {
	start_server -m "$MODE" --keepalive=7,3,4 127.0.0.1:0 -- sleep 30
	python3 -c '
import socket, subprocess, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
for _ in range(100):
    out = subprocess.run(["ss", "-tnoi", "state", "established", "( sport = :%s )" % port],
                         capture_output=True, text=True).stdout
    if "keepalive" in out:
        print(out)
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)' "$ADDR" >ss.out
	grep -qE 'timer:\(keepalive,[0-9.]+(ms|sec|s),0\)' ss.out
	# the first probe is due within the 7 s asked for, not the kernel's
	# 7200 (iproute2 6.1 writes seconds with an "ms" suffix: the number
	# alone is read)
	local due
	due=$(grep -oE 'timer:\(keepalive,[0-9.]+' ss.out | grep -oE '[0-9.]+$')
	python3 -c 'import sys; sys.exit(0 if 0 < float(sys.argv[1]) <= 7 else 1)' "$due"
	# and "--keepalive ADDRESS": the word after it is the address
	start_server -m "$MODE" --keepalive 127.0.0.1:0 -- echo hi
	run client "$ADDR" </dev/null
	assert_output hi
	run "$SOCKSERVE" --keepalive=1,2 127.0.0.1:0 -- cat
	assert_failure 64
	run "$SOCKSERVE" --keepalive ./k.sock -- cat
	assert_failure 64
	assert_output --partial "--keepalive applies to TCP sockets"
}

@test "--keepalive: a client that vanishes without a word ends a relayed (TLS) handler" {
	command -v nft >/dev/null || skip "nft is not installed (.ci/deps test installs nftables)"
	command -v unshare >/dev/null || skip "no unshare"
	local as_root=()
	[ "$(id -u)" -eq 0 ] || as_root=(--map-root-user)
	# In a network namespace of its own: the server, a TLS client that
	# holds its connection, then a rule that drops everything sent to the
	# client: to the server, the client has vanished.
	cat >vanish.sh <<'SH'
set -u
ip link set lo up
"$1" -v --print-address --tls --keepalive=1,1,2 -m "$2" 127.0.0.1:0 -- sh -c 'cat; echo "input ended"' \
	>addr 2>server.err &
server=$!
for _ in $(seq 200); do [ -s addr ] && break; sleep 0.05; done
python3 -c '
import socket, ssl, sys, time
host, port = open("addr").read().strip().rsplit(":", 1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((host, int(port))))
open("client.port", "w").write(str(s.getsockname()[1]))
time.sleep(60)' &
client=$!
for _ in $(seq 200); do [ -s client.port ] && break; sleep 0.05; done
nft add table inet vanish
nft add chain inet vanish out '{ type filter hook output priority 0; }'
nft add rule inet vanish out tcp dport "$(cat client.port)" drop
for _ in $(seq 400); do grep -q 'end, handler' server.err && break; sleep 0.05; done
kill "$client" 2>/dev/null
kill -TERM "$server"
wait "$server"
SH
	run timeout 60 unshare "${as_root[@]}" --net sh vanish.sh "$SOCKSERVE" "$MODE"
	run cat server.err
	assert_line --regexp ': end, handler pid [0-9]+ exit 0 after [0-9.]+ ms$'
}

@test "journald: with JOURNAL_STREAM naming stderr, text lines carry <N> priority prefixes; elsewhere none" {
	local stream
	stream=$(stat -c '%d:%i' "$SERVER_ERR")
	JOURNAL_STREAM=$stream start_server -v -m "$MODE" 127.0.0.1:0 -- sh -c 'exit 3'
	run client "$ADDR" </dev/null
	wait_until 10 log_has '^<3>sockserve: 127\.0\.0\.1:[0-9]+: end, handler pid [0-9]+ exit 3'
	log_has '^<6>sockserve: listening on 127\.0\.0\.1:'
	kill -USR1 "$SERVER_PID"
	wait_until 10 log_has '^<5>sockserve: status: '
	# a start-up error is a line of the journal too
	JOURNAL_STREAM=$stream run "$SOCKSERVE" --pidfile /nonexistent/dir/p 127.0.0.1:0 -- cat 2>>"$SERVER_ERR"
	grep -q '^<3>sockserve: ' "$SERVER_ERR"
	# another stream's numbers, or JSON lines: no prefix
	: >"$SERVER_ERR"
	JOURNAL_STREAM=1:1 start_server -v -m "$MODE" 127.0.0.1:0 -- true
	wait_until 10 log_has '^sockserve: listening on'
	: >"$SERVER_ERR"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$SERVER_ERR") start_server -v --log-format=json -m "$MODE" 127.0.0.1:0 -- true
	wait_until 10 log_has '^\{"ts":'
	! log_has '^<'
}

# watchdog_listener SOCKET OUT: the sd_notify messages on SOCKET, each with
# the monotonic time it came, into OUT.
watchdog_listener() {
	python3 - "$@" <<'PY' 3>&- &
import socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode()
        f.write("%.6f %s\n" % (time.monotonic(), msg.replace("\n", " | ")))
        if "STOPPING=1" in msg:
            break
PY
	STARTED_PIDS+=($!)
}

# pings FILE: how many WATCHDOG=1 messages FILE has.
pings() {
	grep -c 'WATCHDOG=1' "$1" || true
}

@test "the watchdog: WATCHDOG_USEC gets WATCHDOG=1 at half the interval, from the loop (and from --workers' supervisor)" {
	local workers
	for workers in 1 2; do
		rm -f notify.sock notes
		watchdog_listener "$PWD/notify.sock" notes
		wait_until 10 test -S notify.sock
		NOTIFY_SOCKET=$PWD/notify.sock WATCHDOG_USEC=2000000 start_server --workers "$workers" -m "$MODE" 127.0.0.1:0 -- echo hi
		wait_until 20 holds -ge 4 pings notes
		run client "$ADDR" </dev/null
		assert_output hi
		# the pings came about a second apart, each well within the 2 s
		run python3 -c '
import sys
times = [float(l.split()[0]) for l in open(sys.argv[1]) if "WATCHDOG=1" in l]
gaps = [b - a for a, b in zip(times, times[1:])]
print(all(0.5 <= g < 1.9 for g in gaps), len(gaps))' notes
		assert_output "True 3"
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
		STARTED_PIDS=()
	done
	# a WATCHDOG_PID that is not sockserve's: not for it
	rm -f notify.sock notes
	watchdog_listener "$PWD/notify.sock" notes
	wait_until 10 test -S notify.sock
	NOTIFY_SOCKET=$PWD/notify.sock WATCHDOG_USEC=200000 WATCHDOG_PID=1 start_server -m "$MODE" 127.0.0.1:0 -- echo hi
	wait_until 10 grep -q 'READY=1' notes
	# several of its intervals pass while requests are served
	for _ in 1 2 3 4 5 6; do
		run client "$ADDR" </dev/null
	done
	wait_until 10 grep -q 'STATUS=0 in progress, 6 handled' notes
	assert_equal "$(pings notes)" 0
}
