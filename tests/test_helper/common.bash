# SPDX-License-Identifier: BSD-2-Clause
# Shared by every suite: load bats-support/bats-assert, start servers on port 0
# with --print-address, wait for real events with a time limit, and kill what
# a test started, by pid, in teardown.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
SOCKSERVE=${SOCKSERVE:-$TOP/sockserve}
CLIENT=$TOP/build/helpers/ssclient
LOAD=$TOP/build/bench/load
PROBE=$TOP/build/helpers/probe
# The concurrency mode that mode-independent suites run under.
MODE=${SS_MODE:-fork}

setup() {
	STARTED_PIDS=()
	SERVER_ERR=$BATS_TEST_TMPDIR/server.err
	: >"$SERVER_ERR"
	cd "$BATS_TEST_TMPDIR" || return 1
}

teardown() {
	local pid
	for pid in "${STARTED_PIDS[@]}"; do
		# A second SIGTERM makes sockserve kill its handlers at once.
		kill -TERM "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${STARTED_PIDS[@]}"; do
		wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null
	done
	# A sanitizer build reports on stderr, also at exit: that fails the test.
	if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$SERVER_ERR"; then
		echo "sanitizer report in the server's stderr:" >&2
		cat "$SERVER_ERR" >&2
		return 1
	fi
	return 0
}

# wait_gone PID SECONDS: true once PID has exited (and is reaped if ours).
wait_gone() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		# Reap it if it is our child and has exited.
		if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then
			wait "$pid" 2>/dev/null
			return 0
		fi
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.02
	done
	return 0
}

# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds; fail after SECONDS.
wait_until() {
	local limit=$1
	shift
	local deadline=$((SECONDS + limit))
	until "$@"; do
		if [ $SECONDS -ge "$deadline" ]; then
			echo "timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.02
	done
}

# start_server [SOCKSERVE ARGS...]: run sockserve in the background with
# --print-address; set SERVER_PID and ADDR once it listens.
start_server() {
	start_server_after true "$@"
}

# start_server_after SETUP [SOCKSERVE ARGS...]: start_server, in a subshell
# that runs the command SETUP first (to set a limit, a signal disposition...)
# and then becomes sockserve.  Its stderr goes to SERVER_STDERR when set.
start_server_after() {
	local setup=$1 fifo=$BATS_TEST_TMPDIR/addr.$RANDOM
	shift
	mkfifo "$fifo"
	("$setup" && exec "$SOCKSERVE" --print-address "$@") >"$fifo" 2>>"${SERVER_STDERR:-$SERVER_ERR}" 3>&- &
	SERVER_PID=$!
	STARTED_PIDS+=("$SERVER_PID")
	ADDR=
	read -r -t 10 ADDR <"$fifo" || true
	rm -f "$fifo"
	if [ -z "$ADDR" ]; then
		echo "sockserve did not start: $(cat "$SERVER_ERR")" >&2
		return 1
	fi
}

# Run one request: client ADDRESS with stdin from the caller.
client() {
	"$CLIENT" -w 10 "$@"
}

# holds OP N COMMAND...: the number COMMAND prints compares to N with OP (-eq,
# -ge, ...).  For wait_until, which runs COMMAND afresh at every try (a
# "$(...)" in wait_until's own arguments would be counted only once).
holds() {
	local op=$1 n=$2
	shift 2
	[ "$("$@")" "$op" "$n" ]
}

# log_count PATTERN: how many lines of the server's stderr match PATTERN.
log_count() {
	grep -cE -- "$1" "$SERVER_ERR"
}

# child_count PID: how many processes PID has.
child_count() {
	children_of "$1" | wc -l
}

# lines FILE: how many lines FILE has (0 if missing).
lines() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# has_lines FILE N: FILE has at least N lines.
has_lines() {
	[ "$(lines "$1")" -ge "$2" ]
}

# log_has PATTERN: the server's stderr has a line matching PATTERN (grep -E).
log_has() {
	grep -qE -- "$1" "$SERVER_ERR"
}

# status_shows PATTERN: ask SERVER_PID for its status (SIGUSR1) and check the
# log for PATTERN; for wait_until, which asks again until the counts are
# there (a client may have its reply before its handler has been reaped).
status_shows() {
	kill -USR1 "$SERVER_PID" && log_has "$1"
}

# The handler processes that sockserve SERVER_PID has now.
children_of() {
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '
}

# zombies_of PID: how many zombie children PID has.
zombies_of() {
	ps -o stat= --ppid "$1" 2>/dev/null | grep -c '^Z' || true
}

# A handler that records how many handlers run at once (under flock), holds
# for a moment so that others would overlap, then answers.
write_counting_handler() {
	echo 0 >active
	cat >count.sh <<'SH'
#!/bin/sh
cd "$COUNT_DIR" || exit 1
flock lock sh -c 'n=$(( $(cat active) + 1 )); echo $n >active; echo $n >>seen'
sleep 0.4
flock lock sh -c 'echo $(( $(cat active) - 1 )) >active'
echo done
SH
	chmod +x count.sh
	export COUNT_DIR=$PWD
}

# reap PID: wait for our child PID; its exit status goes in EXIT_STATUS.
# (Not in $(...): a subshell cannot wait for the test's children.)
reap() {
	EXIT_STATUS=0
	wait "$1" || EXIT_STATUS=$?
}

# no_live_process_in_group PGID: every process of the group has exited
# (zombies wait for init to reap them).
no_live_process_in_group() {
	! ps -o stat= -g "$1" 2>/dev/null | grep -qv '^Z'
}

# offline COMMAND...: run COMMAND where name lookups cannot leave the machine:
# in a mount namespace of its own whose /etc/resolv.conf names 127.0.0.1,
# where nothing answers (so a lookup fails at once, on loopback).
offline() {
	local conf=$BATS_TEST_TMPDIR/resolv.offline
	echo "nameserver 127.0.0.1" >"$conf"
	local as_root=()
	[ "$(id -u)" -eq 0 ] || as_root=(--map-root-user)
	unshare "${as_root[@]}" --mount --propagation private \
		sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$conf" "$@"
}

# valgrind_wrapper: skip unless valgrind can watch SOCKSERVE (installed, a
# dynamic build without a sanitizer; sync mode's relay is fork mode's), else
# write ./vg, which runs SOCKSERVE under valgrind and exits 9 on an error or a
# definite leak: SOCKSERVE=$PWD/vg start_server ...
valgrind_wrapper() {
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	[ "$MODE" != sync ] || skip "fork mode covers sync mode's relay"
	ldd "$SOCKSERVE" 2>/dev/null | grep -q 'libc\.so' || skip "a static build: valgrind preloads nothing into it"
	! ldd "$SOCKSERVE" | grep -qE 'lib[at]san' || skip "a sanitizer build"
	printf '#!/bin/sh\nexec valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite "%s" "$@"\n' \
		"$SOCKSERVE" >vg
	chmod +x vg
}
