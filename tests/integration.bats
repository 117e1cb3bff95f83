#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# sockserve where servers live: sockets handed in by the real
# systemd-socket-activate, fd:N as inetd passes it, sd_notify to a real notify
# socket, inetd's wait mode with the real in.tftpd and tftp, and real
# inetd-style servers (busybox httpd, git daemon, rsync) with their real
# clients, in fork and thread modes.

load test_helper/common

# activate ARGS...: systemd-socket-activate ARGS, in the background; it
# listens at once and execs sockserve on the first connection.
activate() {
	systemd-socket-activate "$@" 2>>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	STARTED_PIDS+=("$SERVER_PID")
	wait_until 10 log_has '^Listening on '
}

@test "systemd-socket-activate, unix stream: the socket is taken, LISTEN_* are not passed on, the path is left" {
	local mode
	for mode in fork thread; do
		: >"$SERVER_ERR"
		rm -f sa.sock
		activate -l "$PWD/sa.sock" "$SOCKSERVE" -m "$mode" systemd -- \
			sh -c 'echo "$PROTO $UNIXLOCALPATH LISTEN:${LISTEN_PID-}${LISTEN_FDS-}${LISTEN_FDNAMES-}"'
		run client ./sa.sock </dev/null
		assert_output "UNIX $PWD/sa.sock LISTEN:"
		run client ./sa.sock </dev/null
		assert_output "UNIX $PWD/sa.sock LISTEN:"
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
		assert_equal "$EXIT_STATUS" 0
		# sockserve did not create it: it does not remove it
		[ -S sa.sock ]
		STARTED_PIDS=()
	done
}

@test "systemd-socket-activate --datagram: one packet in, one reply out" {
	activate --datagram -l "$PWD/d.sock" "$SOCKSERVE" -m "$MODE" systemd -- tr a-z A-Z
	run python3 - "$PWD" <<'PY'
import os, socket, sys
d = sys.argv[1]
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
c.bind(os.path.join(d, "c.sock"))
c.settimeout(10)
for word in (b"one", b"two"):
    c.sendto(word, os.path.join(d, "d.sock"))
    print(c.recv(100).decode())
PY
	assert_output $'ONE\nTWO'
}

@test "systemd-socket-activate with named sockets: systemd:NAME takes that one" {
	activate -l "$PWD/a.sock" -l "$PWD/b.sock" --fdname=first:second "$SOCKSERVE" systemd:second -- echo second
	run client ./b.sock </dev/null
	assert_output "second"
	run client ./b.sock </dev/null
	assert_output "second"
}

@test "fd:N over inet: the socket is used as it is, access rules and limits still apply" {
	run python3 - "$SOCKSERVE" "$SERVER_ERR" <<'PY'
import os, socket, subprocess, sys
sockserve, err = sys.argv[1], sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", 0))  # not listening yet: sockserve calls listen(2)
fd = os.dup2(s.fileno(), 7)
p = subprocess.Popen([sockserve, "--print-address", "--deny", "127.0.0.2", "fd:7", "--",
                      "sh", "-c", 'echo "$TCPLOCALPORT $TCPREMOTEIP"'],
                     pass_fds=[7], stdout=subprocess.PIPE, stderr=open(err, "a"))
addr = p.stdout.readline().decode().strip()
print("address", addr == "127.0.0.1:%d" % s.getsockname()[1])
c = socket.create_connection(("127.0.0.1", s.getsockname()[1]), timeout=10)
print(c.makefile().read().strip() == "%d 127.0.0.1" % s.getsockname()[1])
c = socket.socket()
c.bind(("127.0.0.2", 0))
c.settimeout(10)
c.connect(("127.0.0.1", s.getsockname()[1]))
print("denied", c.recv(10) == b"")
p.terminate()
print("exit", p.wait(10))
PY
	assert_output $'address True\nTrue\ndenied True\nexit 0'
}

@test "fd:N with a unix seqpacket socket: the type is read from the socket, and its path is left" {
	run python3 - "$SOCKSERVE" "$SERVER_ERR" "$PWD/sp.sock" <<'PY'
import os, socket, subprocess, sys
sockserve, err, path = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(8)
os.dup2(s.fileno(), 6)
p = subprocess.Popen([sockserve, "--print-address", "-m", "thread", "-c", "2", "fd:6", "--", "tr", "a-z", "A-Z"],
                     pass_fds=[6], stdout=subprocess.PIPE, stderr=open(err, "a"))
print(p.stdout.readline().decode().strip() == path)
for word in (b"one", b"two"):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    c.settimeout(10)
    c.connect(path)
    c.send(word)
    c.shutdown(socket.SHUT_WR)
    print(c.recv(100).decode())
p.terminate()
print("exit", p.wait(10), os.path.exists(path))
PY
	assert_output $'True\nONE\nTWO\nexit 0 True'
}

# A small "wait" server: reads the datagrams on fd 0 itself, answers each,
# and exits once none has come for 0.3 s.
write_wait_server() {
	cat >waitserver <<'PY'
#!/usr/bin/env python3
import os, socket
s = socket.socket(fileno=os.dup(0))
s.settimeout(0.3)
n = 0
try:
    while True:
        data, peer = s.recvfrom(1000)
        n += 1
        s.sendto(b"%s from pid %d (%d)" % (data.upper(), os.getpid(), n), peer)
except socket.timeout:
    pass
PY
	chmod +x waitserver
}

@test "fd:0, inetd's wait form: --wait hands the datagram socket to COMMAND, again when more arrive" {
	write_wait_server
	run python3 - "$SOCKSERVE" "$SERVER_ERR" <<'PY'
import socket, subprocess, sys, time
sockserve, err = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
p = subprocess.Popen([sockserve, "-v", "--wait", "fd:0", "--", "./waitserver"], stdin=s.fileno(),
                     stderr=open(err, "a"))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(10)
def ask(word):
    c.sendto(word, s.getsockname())
    return c.recv(100).decode().split()
a, b = ask(b"one"), ask(b"two")
print(a[0], b[0], "same server" if a[3] == b[3] else "two servers")
time.sleep(0.6)  # the wait server has gone idle and exited: a new one comes
d = ask(b"three")
print(d[0], "new server" if d[3] != a[3] else "same server")
p.terminate()
print("exit", p.wait(10))
PY
	assert_output $'ONE TWO same server\nTHREE new server\nexit 0'
	# the socket is not the handler's peer: no remote variables, no peer in the log
	log_has '127\.0\.0\.1:[0-9]+: start, handler pid'
}

@test "--wait over a stream socket: COMMAND accepts on it itself" {
	cat >acceptor <<'PY'
#!/usr/bin/env python3
import os, socket
s = socket.socket(fileno=os.dup(0))
c, _ = s.accept()
c.sendall(b"accepted by %d\n" % os.getpid())
PY
	chmod +x acceptor
	start_server --wait 127.0.0.1:0 -- ./acceptor
	run client "$ADDR" </dev/null
	assert_output --regexp '^accepted by [0-9]+$'
	run client "$ADDR" </dev/null
	assert_output --regexp '^accepted by [0-9]+$'
}

@test "--wait with the real in.tftpd: the real tftp client gets a binary file intact" {
	mkdir srv
	head -c 300000 /dev/urandom >srv/blob.bin
	start_server -v --wait -t dgram 127.0.0.1:0 -- /usr/sbin/in.tftpd -u "$(id -un)" -s "$PWD/srv" -t 1
	local host=${ADDR%:*} port=${ADDR##*:}
	run timeout 30 tftp "$host" "$port" -m binary -c get blob.bin got1.bin
	assert_success
	run timeout 30 tftp "$host" "$port" -m binary -c get blob.bin got2.bin
	assert_success
	assert_equal "$(sha256sum <got1.bin)" "$(sha256sum <srv/blob.bin)"
	assert_equal "$(sha256sum <got2.bin)" "$(sha256sum <srv/blob.bin)"
}

@test "a socket handed in that is not there, or not a socket, or not ours: a start-up error naming it" {
	run "$SOCKSERVE" fd:9 -- cat 9>&-
	assert_failure 1
	assert_output "sockserve: fd:9: descriptor 9 is not open"
	run "$SOCKSERVE" fd:5 -- cat 5<"$BATS_TEST_FILENAME"
	assert_failure 1
	assert_output "sockserve: fd:5: descriptor 5 is not a socket"
	run env -u LISTEN_PID "$SOCKSERVE" systemd -- cat
	assert_failure 1
	assert_output "sockserve: systemd: no socket was passed (LISTEN_PID is not set)"
	run env LISTEN_PID=1 LISTEN_FDS=1 "$SOCKSERVE" systemd -- cat
	assert_failure 1
	assert_output "sockserve: systemd: the sockets passed are not for this process (LISTEN_PID=1)"
	run "$SOCKSERVE" fd:x -- cat
	assert_failure 64
}

@test "options that contradict a socket handed in, or --wait, are usage errors" {
	run python3 - "$SOCKSERVE" <<'PY'
import socket, subprocess, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
for args in (["-t", "stream"], ["-U"]):
    p = subprocess.run([sys.argv[1]] + args + ["fd:0", "cat"], stdin=s.fileno(), capture_output=True, text=True)
    print(p.returncode, p.stderr.splitlines()[0])
PY
	assert_line --index 0 "64 sockserve: --type=stream contradicts fd:0, a dgram socket"
	assert_line --index 1 "64 sockserve: --family=unix contradicts fd:0, an inet socket"
	run "$SOCKSERVE" --wait -m fork 127.0.0.1:0 -- cat
	assert_failure 64
	assert_line --index 0 "sockserve: --wait runs one COMMAND at a time, with the socket: it cannot go with --mode=fork"
	run "$SOCKSERVE" --wait --allow 127.0.0.1 127.0.0.1:0 -- cat
	assert_failure 64
}

# notify_listener SOCKET OUT: collect sd_notify messages on a unix datagram
# socket (a path, or @name) into OUT, one per line, until STOPPING=1.
notify_listener() {
	python3 - "$@" <<'PY' 3>&- &
import socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
s.settimeout(60)
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode()
        f.write(msg.replace("\n", " | ") + "\n")
        if "STOPPING=1" in msg:
            break
PY
	STARTED_PIDS+=($!)
}

# notify_bound WHERE: the notify socket (a path, or @name) is bound.
notify_bound() {
	if [ "${1:0:1}" = @ ]; then
		grep -q " @${1:1}\$" /proc/net/unix
	else
		test -S "$1"
	fi
}

@test "sd_notify: READY=1 once listening, STATUS= with the counts, STOPPING=1 (path and abstract sockets)" {
	local where
	for where in "$PWD/notify.sock" "@sockserve-test-$$-$BATS_TEST_NUMBER"; do
		rm -f notes
		notify_listener "$where" notes
		wait_until 10 notify_bound "$where"
		NOTIFY_SOCKET=$where start_server -m "$MODE" 127.0.0.1:0 -- echo hi
		wait_until 10 grep -q 'READY=1' notes
		run client "$ADDR" </dev/null
		run client "$ADDR" </dev/null
		wait_until 10 grep -q 'STATUS=0 in progress, 2 handled' notes
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
		wait_until 10 grep -q 'STOPPING=1' notes
		run cat notes
		assert_line --index 0 --regexp "^READY=1 \| STATUS=listening on 127\.0\.0\.1:[0-9]+ \| MAINPID=[0-9]+$"
		assert_line --index "$((${#lines[@]} - 1))" --regexp "^STOPPING=1 \| STATUS=shutting down: 0 in progress$"
		STARTED_PIDS=()
	done
}

@test "sd_notify: STATUS= follows a request that ends (in progress down, handled up)" {
	notify_listener "$PWD/notify.sock" notes
	wait_until 10 notify_bound "$PWD/notify.sock"
	mkfifo go
	NOTIFY_SOCKET=$PWD/notify.sock start_server -m "$MODE" 127.0.0.1:0 -- sh -c 'cat go; echo done'
	client "$ADDR" </dev/null >reply 3>&- &
	local c=$!
	wait_until 10 grep -q 'STATUS=1 in progress, 0 handled' notes
	echo go >go
	wait "$c"
	# the counts' total is the same (1 + 0, then 0 + 1): the status still changed
	wait_until 10 grep -q 'STATUS=0 in progress, 1 handled' notes
}

# ---- real inetd-style servers under sockserve ----

@test "busybox httpd -i with curl: several files, and 10 MB checksummed (fork, thread)" {
	mkdir www
	echo "hello" >www/index.html
	echo "second page" >www/two.html
	head -c 10000000 /dev/urandom >www/big.bin
	local mode
	for mode in fork thread; do
		start_server -m "$mode" 127.0.0.1:0 -- busybox httpd -i -h "$PWD/www"
		run curl -sS --max-time 30 "http://$ADDR/index.html" "http://$ADDR/two.html"
		assert_output $'hello\nsecond page'
		run curl -sS --max-time 60 -o got.bin -w '%{http_code}' "http://$ADDR/big.bin"
		assert_output 200
		assert_equal "$(sha256sum <got.bin)" "$(sha256sum <www/big.bin)"
		run curl -sS -o /dev/null -w '%{http_code}' "http://$ADDR/missing"
		assert_output 404
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
	done
}

@test "git daemon --inetd with git clone git://: the clone is fsck clean (fork, thread)" {
	git init -q --bare repos/r.git
	git init -q work
	local i
	for i in $(seq 50); do echo "file $i" >"work/f$i"; done
	git -C work add .
	git -C work -c user.name=t -c user.email=t@example.invalid commit -qm one
	git -C work push -q "$PWD/repos/r.git" HEAD:refs/heads/main
	git -C repos/r.git symbolic-ref HEAD refs/heads/main
	local mode
	for mode in fork thread; do
		start_server -m "$mode" 127.0.0.1:0 -- git daemon --inetd --export-all --base-path="$PWD/repos" "$PWD/repos"
		rm -rf clone
		run timeout 60 git clone -q "git://$ADDR/r.git" clone
		assert_success
		run git -C clone fsck --full --strict
		assert_success
		assert_equal "$(git -C clone rev-parse HEAD)" "$(git -C work rev-parse HEAD)"
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
	done
}

@test "rsync --daemon in inetd mode: a copy of 3,000 files is diff -r clean (fork, thread)" {
	mkdir src
	local d f
	for d in $(seq 20); do
		mkdir "src/d$d"
		for f in $(seq 150); do echo "$d/$f $RANDOM" >"src/d$d/f$f"; done
	done
	printf 'use chroot = no\n[files]\npath = %s\nread only = yes\n' "$PWD/src" >rsyncd.conf
	local mode
	for mode in fork thread; do
		start_server -m "$mode" 127.0.0.1:0 -- rsync --daemon --config="$PWD/rsyncd.conf"
		rm -rf dst
		run timeout 60 rsync -a "rsync://$ADDR/files/" dst/
		assert_success
		run diff -r src dst
		assert_success
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
	done
}
