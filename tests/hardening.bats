#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Hostile conditions never wedge sockserve: a stderr nobody reads, floods of
# bad datagrams, per-request error lines rate-limited.

load test_helper/common

# load_ok OUTPUT N: the load generator's line says all N succeeded.
load_ok() {
	[[ $1 == *"n=$2 ok=$2 "* ]] || { echo "load: $1" >&2; return 1; }
}

@test "a stderr pipe that nobody reads never stops serving: 1,000 requests, then the loss is reported" {
	mkfifo err.fifo
	# a reader that holds the pipe open and never reads it
	sleep 300 <err.fifo 3>&- &
	STARTED_PIDS+=($!)
	SERVER_STDERR=err.fifo start_server -v -m "$MODE" 127.0.0.1:0 -- echo ok
	# -v logs two lines a request: 1,000 requests overflow a 64 KiB pipe
	run "$LOAD" conn -n 1000 -c 4 -T 60 "$ADDR"
	load_ok "$output" 1000
	# a reader comes back: it gets the old lines, then the count of lost ones
	cat err.fifo >got 3>&- &
	STARTED_PIDS+=($!)
	run "$LOAD" conn -n 1 -T 10 "$ADDR"
	load_ok "$output" 1
	wait_until 10 grep -qE '^sockserve: [0-9]+ log lines lost: stderr was not being read$' got
	# what was written are whole lines
	run grep -cvE '^sockserve: ' got
	assert_output 0
}

# pipe_full FIFO: the pipe behind FIFO holds 64 KiB, unread.
pipe_full() {
	python3 - "$1" <<'PY'
import array, fcntl, os, sys, termios
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
n = array.array("i", [0])
fcntl.ioctl(fd, termios.FIONREAD, n)
sys.exit(0 if n[0] >= 65536 else 1)
PY
}

@test "with --log-format=json, the count of lost lines is a JSON line like any other (ts, level, event)" {
	mkfifo err.fifo
	sleep 300 <err.fifo 3>&- &
	STARTED_PIDS+=($!)
	SERVER_STDERR=err.fifo start_server -v --log-format=json -m "$MODE" 127.0.0.1:0 -- echo ok
	run "$LOAD" conn -n 600 -c 4 -T 60 "$ADDR"
	load_ok "$output" 600
	cat err.fifo >got 3>&- &
	STARTED_PIDS+=($!)
	wait_until 10 grep -q '"event":"log_lost"' got
	run python3 -c '
import json, sys
o = [json.loads(l) for l in open(sys.argv[1]) if "log_lost" in l][0]
print(list(o)[:3], o["lines"] > 0)' got
	assert_output "['ts', 'level', 'event'] True"
}

@test "--stderr=inherit handlers still block on a full stderr (only sockserve's own writes are non-blocking)" {
	mkfifo err.fifo
	sleep 300 <err.fifo 3>&- &
	STARTED_PIDS+=($!)
	# the handler writes 100 KiB to the stderr it inherits, then answers:
	# were that descriptor non-blocking, its writes would fail with EAGAIN
	SERVER_STDERR=err.fifo start_server -m "$MODE" 127.0.0.1:0 -- \
		sh -c 'head -c 102400 /dev/zero >&2 && echo wrote-all || echo write-failed'
	"$CLIENT" -w 20 "$ADDR" </dev/null >reply 3>&- &
	local c=$!
	# the pipe fills and the handler waits in write(2)
	wait_until 10 pipe_full err.fifo
	cat err.fifo >/dev/null 3>&- &
	STARTED_PIDS+=($!)
	wait "$c"
	assert_equal "$(cat reply)" "wrote-all"
}

# send_datagrams ADDRESS COUNT SIZE: COUNT datagrams of SIZE bytes, at once.
send_datagrams() {
	python3 - "$@" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[2])):
    s.sendto(b"x" * int(sys.argv[3]), (host, int(port)))
PY
}

# accounted FILE N: the dropped-datagram lines written and those counted in
# "suppressed" lines add up to N.
accounted() {
	python3 -c '
import datetime, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
def ms(l):
    t = datetime.datetime.strptime(l["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.timestamp() * 1000)
written = [ms(l) for l in lines if l["event"] == "dropped"]
suppressed = sum(l["lines"] for l in lines if l["event"] == "suppressed" and l["kind"] == "dropped")
if len(written) + suppressed != int(sys.argv[2]):
    sys.exit(1)
# a window opens at the first line after the last one closed and lasts a
# second: at most 10 lines in it (ms stamps: 2 ms of slack at its end)
start = None
for t in written:
    if start is None or t - start >= 1000:
        start, n = t, 0
    n += 1
    if n > 10 and t - start < 998:
        print("%d lines in a second" % n, file=sys.stderr)
        sys.exit(1)
' "$1" "$2"
}

@test "dropped datagrams: at most 10 lines a second, then one line with the number suppressed" {
	# JSON: the lines' times show the windows, however slow the machine
	start_server -m "$MODE" -t dgram --max-packet 16 --log-format json 127.0.0.1:0 -- cat
	local i
	for i in 1 2 3; do
		# 100 at once fit in the socket's receive buffer; the reply to a
		# good datagram after them shows they have all been read
		send_datagrams "$ADDR" 100 100
		run "$LOAD" dgram -n 1 -q ping -x ping -w 5000 -T 10 "$ADDR"
		load_ok "$output" 1
	done
	wait_until 10 status_shows '"event":"status".*"dropped":300'
	# the suppressed count comes once the second has ended, with no
	# further datagram to trigger it
	wait_until 10 accounted "$SERVER_ERR" 300
	run log_has "\"event\":\"suppressed\",\"kind\":\"dropped\",\"lines\":[0-9]+,\"message\":\"[0-9]+ more 'dropped' lines in one second were not logged \(at most 10 a second\)\""
	assert_success
}

# ---- faults survived ----

# as_nobody: run the rest as user nobody (sockserve needs root to do so).
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
}

# cpu_ticks PID: user and system time PID has used, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# tasks_of USER: how many tasks (processes and threads) USER has.
tasks_of() {
	ps -L -u "$1" --no-headers | wc -l
}

@test "fork/clone failing with EAGAIN: requests wait and are retried, none lost, no spin" {
	[ "$(id -u)" -eq 0 ] || skip "needs root, to run sockserve as nobody under a process limit"
	# room for sockserve and its threads (a sanitizer's among them), then
	# hogs fill what is left
	local limit=$(($(tasks_of nobody) + 16))
	printf '#!/bin/sh\nexec prlimit --nproc=%s setpriv --reuid=nobody --regid=nogroup --clear-groups -- "%s" "$@"\n' \
		"$limit" "$SOCKSERVE" >limited
	chmod +x limited
	SOCKSERVE=$PWD/limited start_server -v -m "$MODE" -c 1 127.0.0.1:0 -- sh -c 'read x; echo "served $x"'
	# one request first: thread mode's worker thread exists from then on
	run client "$ADDR" <<<"0"
	assert_output "served 0"
	# and has been reaped: a handler still counted below, gone later, would
	# leave the limit one short of full
	wait_until 10 log_has ': end, handler pid [0-9]+ exit 0'
	# fill nobody's process limit with processes that wait for the test
	# (whatever sockserve and its threads, a sanitizer's among them, use)
	mkfifo hog.fifo
	local i
	for ((i = $(tasks_of nobody); i < limit; i++)); do
		as_nobody sh -c 'read x' <hog.fifo 3>&- &
		STARTED_PIDS+=($!)
	done
	exec 4>hog.fifo
	wait_until 60 holds -ge "$limit" tasks_of nobody
	local pids=()
	for i in 1 2 3; do
		echo "$i" | "$CLIENT" -w 30 "$ADDR" >"reply.$i" 3>&- 4>&- &
		pids+=($!)
	done
	wait_until 10 log_has 'cannot start the handler yet: Resource temporarily unavailable; trying again in [0-9]+ ms'
	local before
	before=$(cpu_ticks "$SERVER_PID")
	# the hogs go: the next retry finds room
	exec 4>&-
	for i in "${pids[@]}"; do wait "$i"; done
	for i in 1 2 3; do assert_equal "$(cat "reply.$i")" "served $i"; done
	# waiting did not spin: a few clock ticks at most while it retried
	[ $(($(cpu_ticks "$SERVER_PID") - before)) -le 10 ]
	run log_has 'cannot run handler'
	assert_failure
}

@test "a handler that stops itself (SIGSTOP) is ended by -T; the next request is served" {
	start_server -m "$MODE" -c 1 -T 0.5 127.0.0.1:0 -- sh -c 'read x; if [ "$x" = stop ]; then kill -STOP $$; fi; echo "served $x"'
	echo stop | "$CLIENT" -w 20 "$ADDR" >stopped 3>&- &
	local c=$!
	wait_until 10 log_has 'timed out after 0.5 s'
	run client "$ADDR" <<<"next"
	assert_output "served next"
	wait "$c" || true
	assert_equal "$(cat stopped)" ""
	# SIGTERM waits while it is stopped; SIGKILL a second later does not
	wait_until 10 log_has 'killed by signal 9'
}

@test "a handler that daemonizes and keeps the connection does not hold its slot" {
	# the first request leaves processes behind, one of them holding the
	# connection; they end by themselves 20 s later
	start_server -m "$MODE" -c 1 127.0.0.1:0 -- sh -c 'read x; echo "early $x"
		if [ "$x" = one ]; then setsid sh -c "sleep 20" </dev/null >/dev/null 2>&1 & (sleep 20; echo late) & fi'
	echo one | "$CLIENT" -w 60 "$ADDR" >first 3>&- &
	local c=$!
	wait_until 10 has_lines first 1
	# the first connection is still open (held by what the handler left),
	# and the one slot is free again
	run client "$ADDR" <<<"two"
	assert_success
	assert_output "early two"
	kill -0 "$c"
	kill "$c"
}

@test "200 clients that connect and send nothing, against -c 20 -T 1: all closed, then a good client is served" {
	[ "$MODE" = sync ] && skip "-c applies to fork and thread"
	start_server -m "$MODE" -c 20 -T 1 127.0.0.1:0 -- sh -c 'read x; echo "served $x"'
	run python3 - "$ADDR" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
socks = [socket.create_connection((host, int(port)), timeout=60) for _ in range(200)]
deadline = time.time() + 60
closed = 0
for s in socks:
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        data = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        data = b""
    closed += data == b""
    s.close()
print("closed", closed)
PY
	assert_output "closed 200"
	run client "$ADDR" <<<"good"
	assert_output "served good"
}

@test "5,000 client resets do not stop sockserve or leak descriptors" {
	start_server -m "$MODE" 127.0.0.1:0 -- sh -c 'read x; echo "served $x"'
	local fds
	fds=$(ls "/proc/$SERVER_PID/fd" | wc -l)
	run python3 - "$ADDR" <<'PY'
import socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
linger = struct.pack("ii", 1, 0)
for i in range(5000):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    s.connect((host, int(port)))
    if i % 2:
        s.send(b"half a line")
    s.close()  # RST, not FIN
print("done")
PY
	assert_output "done"
	# every reset connection runs its handler first (they were accepted before
	# it): on a slow machine that takes a while, hence the longer wait
	run "$CLIENT" -w 40 "$ADDR" <<<"after"
	assert_output "served after"
	# every reset connection's handler ends, and its descriptors go with it
	wait_until 60 holds -eq 0 child_count "$SERVER_PID"
	assert_equal "$(ls "/proc/$SERVER_PID/fd" | wc -l)" "$fds"
	assert_equal "$(zombies_of "$SERVER_PID")" 0
}

@test "a flood of oversized and zero-length datagrams from 16 senders: a client that retries gets its replies" {
	start_server -m "$MODE" -t dgram --max-packet 64 -q 127.0.0.1:0 -- cat
	python3 - "$ADDR" <<'PY' 3>&- &
import os, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
for n in range(16):
    if os.fork() == 0:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(2000):
            s.sendto(b"" if i % 20 == 0 else b"x" * 1000, (host, int(port)))
        os._exit(0)
for n in range(16):
    os.wait()
PY
	local flood=$!
	# UDP may drop a reply under a flood (the kernel's queues are full);
	# what sockserve promises is a loop that stays responsive: a client that
	# asks again, as UDP clients do, is answered.
	run "$LOAD" dgram -n 50 -c 2 -q hello -x hello -w 500 -r 20 -T 60 "$ADDR"
	load_ok "$output" 50
	wait "$flood"
	run "$LOAD" dgram -n 1 -q after -x after -w 5000 -T 10 "$ADDR"
	load_ok "$output" 1
}

@test "--max-packet at its limits: 1 byte and 65535 bytes, both ways" {
	start_server -m "$MODE" -t dgram --max-packet 1 127.0.0.1:0 -- cat
	run "$LOAD" dgram -n 1 -q x -x x -w 5000 -T 10 "$ADDR"
	load_ok "$output" 1
	send_datagrams "$ADDR" 1 2
	wait_until 10 log_has 'dropped a datagram of 2 bytes: larger than --max-packet 1'
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	# 65535 bytes do not fit in a UDP/IPv4 datagram: a unix one carries them
	start_server -m "$MODE" -t dgram --max-packet 65535 "$BATS_TEST_TMPDIR/big.sock" -- cat
	run python3 - "$BATS_TEST_TMPDIR" <<'PY'
import os, socket, sys
d = sys.argv[1]
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
c.bind(os.path.join(d, "client.sock"))
c.settimeout(10)
data = os.urandom(65535)
c.sendto(data, os.path.join(d, "big.sock"))
reply = c.recv(70000)
print("echoed" if reply == data else "differs: %d bytes" % len(reply))
PY
	assert_output "echoed"
}

@test "a unix socket path of 108 bytes or more is a clear start-up error; 107 bytes works" {
	local dir=$BATS_TEST_TMPDIR/p
	mkdir -p "$dir"
	# pad a path to exactly N bytes
	local pad107 pad108
	pad107=$dir/$(printf 'x%.0s' $(seq $((107 - ${#dir} - 1))))
	pad108=${pad107}y
	[ ${#pad107} -eq 107 ] && [ ${#pad108} -eq 108 ]
	run "$SOCKSERVE" -m "$MODE" "$pad108" -- cat
	assert_failure
	assert_output --partial "is too long (108 bytes, at most 107)"
	[ "${#lines[@]}" -le 2 ]
	start_server -m "$MODE" "$pad107" -- echo fits
	run client "$pad107" </dev/null
	assert_output "fits"
}
