#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Runs inside the virtual machine of tests/helpers/ktls-vm (busybox sh, the
# "tls" module loaded): sockserve --tls in each mode, with openssl s_client
# as the client.  Every finding is a line "CHECK MODE NAME: VALUE" for
# tests/ktls.bats to read; nothing here decides.
# The handlers' $ expand in the handlers' shells:
# shellcheck disable=SC2016
echo "CHECK all ulp: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
head -c 1048576 /dev/urandom >/tmp/up
head -c 1048576 /dev/urandom >/tmp/down
echo "CHECK all up: $(sha256sum </tmp/up | cut -d' ' -f1)"
echo "CHECK all down: $(sha256sum </tmp/down | cut -d' ' -f1)"

# serve MODE ARGS...: start sockserve, logging to LOG (default err.MODE);
# ADDR and PID are set.
serve() {
	rm -f addr
	/sockserve --print-address -vv -m "$@" >addr 2>>"${LOG:-err.$1}" &
	PID=$!
	for _ in $(seq 100); do
		[ -s addr ] && break
		sleep 0.1
	done
	ADDR=$(cat addr)
}

# client NAME ARGS...: s_client, stdin to the server, its answer and its
# complaints reported.
client() {
	name=$1
	shift
	timeout 20 openssl s_client -quiet -connect "$ADDR" "$@" >out 2>cerr
	echo "CHECK $m $name exit: $?"
	echo "CHECK $m $name answer: $(head -c 300 out | tr '\n' ' ')"
	echo "CHECK $m $name unexpected eof: $(grep -c 'unexpected eof' cerr)"
}

for m in sync fork thread; do
	: >"err.$m"
	# --tls-hand-over: the socket itself where the kernel takes both ways
	serve "$m" --tls --tls-hand-over 127.0.0.1:0 -- \
		sh -c 'read x; echo "got $x $SSL_PROTOCOL fd0=$(readlink /proc/$$/fd/0) fd1=$(readlink /proc/$$/fd/1)"'
	echo hello | client tls12 -ign_eof -tls1_2
	echo hello | client tls13 -ign_eof -tls1_3
	# a cipher the kernel's TLS cannot take: relayed
	echo hello | client cbc -ign_eof -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256
	kill "$PID"
	wait "$PID"

	# the default: relayed, the kernel doing the cipher
	serve "$m" --tls 127.0.0.1:0 -- \
		sh -c 'read x; echo "got $x $SSL_PROTOCOL fd0=$(readlink /proc/$$/fd/0) fd1=$(readlink /proc/$$/fd/1)"'
	echo hello | client relay12 -ign_eof -tls1_2
	kill "$PID"
	wait "$PID"

	# 1 MiB each way, on the handed-over socket and through the relay; what
	# sockserve read and wrote itself (/proc/PID/io: read(2), write(2) and
	# the like, not splice(2), which moves the relay's bytes in the kernel)
	for how in ktls relay; do
		opt=
		[ "$how" = ktls ] && opt=--tls-hand-over
		serve "$m" --tls $opt 127.0.0.1:0 -- sh -c 'head -c 1048576 | sha256sum | cut -d" " -f1; cat /tmp/down'
		client "mib-$how" -ign_eof -tls1_2 </tmp/up
		echo "CHECK $m mib-$how first: $(head -n 1 out)"
		echo "CHECK $m mib-$how rest: $(tail -c 1048576 out | sha256sum | cut -d' ' -f1)"
		echo "CHECK $m mib-$how rchar: $(sed -n 's/^rchar: //p' "/proc/$PID/io")"
		echo "CHECK $m mib-$how wchar: $(sed -n 's/^wchar: //p' "/proc/$PID/io")"
		kill "$PID"
		wait "$PID"
	done

	# the client's close_notify (s_client at the end of its input, which
	# -quiet alone would ignore): what the handler's read gets, on the
	# handed-over socket and through the relay
	for how in ktls relay; do
		opt=
		[ "$how" = ktls ] && opt=--tls-hand-over
		serve "$m" --tls $opt 127.0.0.1:0 -- \
			sh -c 'cat >/dev/null 2>/tmp/cat.err; echo "cat $?" >/tmp/cat.status; echo "cat ended"'
		rm -f /tmp/cat.status
		echo hello | client "notify-$how" -no_ign_eof -tls1_2
		for _ in $(seq 100); do
			[ -s /tmp/cat.status ] && break
			sleep 0.1
		done
		echo "CHECK $m notify-$how handler: $(cat /tmp/cat.status) $(cat /tmp/cat.err)"
		kill "$PID"
		wait "$PID"
	done

	# the JSON log: the start-up event's path, each handshake's way
	: >"json.$m"
	LOG=json.$m
	serve "$m" --log-format json --tls --tls-hand-over 127.0.0.1:0 -- sh -c 'read x; echo "$x"'
	LOG=
	echo json | client json -ign_eof -tls1_2
	kill "$PID"
	wait "$PID"
	grep '"event":"tls' "json.$m" | sed "s/^/CHECK $m json: /"

	# -T ends a handler, on a handed-over socket and through the relay;
	# the next one is served
	for how in ktls relay; do
		opt=
		[ "$how" = ktls ] && opt=--tls-hand-over
		serve "$m" --tls $opt -T 1 127.0.0.1:0 -- sh -c 'read x; echo "started $x"; exec sleep 30'
		echo one | client "timeout1-$how" -ign_eof -tls1_2
		echo two | client "timeout2-$how" -ign_eof -tls1_2
		kill "$PID"
		wait "$PID"
	done
	sed "s/^/CHECK $m log: /" "err.$m"
done
