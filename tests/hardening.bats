#!/usr/bin/env bats
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
import re, sys
t = open(sys.argv[1]).read()
written = len(re.findall(r"dropped a datagram of 100 bytes", t))
suppressed = sum(int(n) for n in re.findall(r"^sockserve: (\d+) more .dropped. lines", t, re.M))
sys.exit(0 if written + suppressed == int(sys.argv[2]) and written <= 20 else 1)' "$1" "$2"
}

@test "dropped datagrams: at most 10 lines a second, then one line with the number suppressed" {
	start_server -m "$MODE" -t dgram --max-packet 16 127.0.0.1:0 -- cat
	local i
	for i in 1 2 3; do
		# 100 at once fit in the socket's receive buffer; the reply to a
		# good datagram after them shows they have all been read
		send_datagrams "$ADDR" 100 100
		run "$LOAD" dgram -n 1 -q ping -x ping -w 5000 -T 10 "$ADDR"
		load_ok "$output" 1
	done
	kill -USR1 "$SERVER_PID"
	wait_until 10 log_has 'status: .* 300 dropped'
	# the suppressed count comes once the second has ended, with no
	# further datagram to trigger it
	wait_until 10 accounted "$SERVER_ERR" 300
	run log_has "^sockserve: [0-9]+ more 'dropped' lines in one second were not logged \(at most 10 a second\)$"
	assert_success
}
