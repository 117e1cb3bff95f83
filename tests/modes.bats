#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Concurrency: the -c limit and sync mode counted from inside the handlers,
# reaping, and a server that survives bad handlers and bad clients.

load test_helper/common

# run_clients N: N clients at once; every one must get "done".
run_clients() {
	local i pids=()
	for i in $(seq "$1"); do
		client "$ADDR" </dev/null >"reply.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for i in $(seq "$1"); do assert_equal "$(cat "reply.$i")" "done"; done
}

# SIGCHLD ignored, as a caller's `trap '' CHLD` passes it on through exec.
ignore_chld() {
	trap '' CHLD
}

# limit_holds MODE: -c 3 with 8 clients: 3 run at once, never more, all served.
limit_holds() {
	write_counting_handler
	start_server -m "$1" -c 3 127.0.0.1:0 -- ./count.sh
	run_clients 8
	assert_equal "$(sort -n seen | tail -1)" 3
	assert_equal "$(lines seen)" 8
}

@test "fork: -c N runs at most N at once, and N do run; nothing is refused" {
	limit_holds fork
}

@test "thread: -c N runs at most N at once, and N do run; nothing is refused" {
	limit_holds thread
}

@test "fork: the default limit lets many run at once" {
	write_counting_handler
	start_server -m fork 127.0.0.1:0 -- ./count.sh
	run_clients 6
	[ "$(sort -n seen | tail -1)" -ge 4 ]
}

@test "fork --spawn-threads 2: handlers are spawned from two helper threads; 2,000 quick ones from 16 clients are all counted" {
	start_server -m fork --spawn-threads 2 127.0.0.1:0 -- echo ok
	run "$LOAD" conn -n 2000 -c 16 -T 60 "$ADDR"
	[[ $output == *"n=2000 ok=2000 "* ]]
	# the spawning threads are there, beside the loop
	run sh -c "cat /proc/$SERVER_PID/task/*/comm | grep -cx ss-spawn"
	assert_output 2
	# many handlers exit before their spawn is handed back to the loop:
	# each is still reaped once and counted once
	wait_until 10 status_shows 'status: 0 in progress, 2000 handled, 0 failed'
	assert_equal "$(zombies_of "$SERVER_PID")" 0
}

@test "fork --spawn-threads 1: -c, -T, datagrams and the drain hold as from the loop" {
	write_counting_handler
	start_server -m fork --spawn-threads 1 -c 3 127.0.0.1:0 -- ./count.sh
	run_clients 8
	assert_equal "$(sort -n seen | tail -1)" 3
	: >"$SERVER_ERR"
	start_server -m fork --spawn-threads 1 -T 1 127.0.0.1:0 -- sh -c 'echo started; exec sleep 30'
	run client "$ADDR" </dev/null
	assert_output started
	wait_until 10 log_has 'killed by signal 15'
	start_server -m fork --spawn-threads 1 -t dgram 127.0.0.1:0 -- tr a-z A-Z
	run "$CLIENT" -t dgram -w 10 "$ADDR" <<<"hello"
	assert_output HELLO
	start_server -m fork --spawn-threads 1 --grace 5 127.0.0.1:0 -- sh -c 'sleep 0.5; echo late'
	client "$ADDR" </dev/null >late.out &
	local c=$!
	wait_until 10 holds -eq 1 child_count "$SERVER_PID"
	kill -TERM "$SERVER_PID"
	wait "$c"
	assert_equal "$(cat late.out)" late
	wait_gone "$SERVER_PID" 10
}

@test "sync, and fork on a machine of fewer than 12 cores: no spawning thread; the loop starts handlers itself" {
	start_server -m sync 127.0.0.1:0 -- echo ok
	run client -n 5 "$ADDR" </dev/null
	assert_output ok
	run sh -c "cat /proc/$SERVER_PID/task/*/comm | grep -cx ss-spawn"
	assert_output 0
	[ "$(nproc)" -lt 12 ] || return 0
	start_server -m fork 127.0.0.1:0 -- echo ok
	run client -n 5 "$ADDR" </dev/null
	assert_output ok
	run sh -c "cat /proc/$SERVER_PID/task/*/comm | grep -cx ss-spawn"
	assert_output 0
}

@test "--spawn-threads: its range, and only in fork mode" {
	run "$SOCKSERVE" --spawn-threads 17 127.0.0.1:0 true
	assert_failure 64
	assert_line --index 0 --partial "--spawn-threads"
	run "$SOCKSERVE" -m thread --spawn-threads 1 127.0.0.1:0 true
	assert_failure 64
	assert_line --index 0 "sockserve: --spawn-threads applies to fork mode (sync mode starts one handler at a time, thread mode starts them from its workers)"
}

@test "thread: one worker thread per slot, kept for the next requests" {
	start_server -m thread -c 2 127.0.0.1:0 -- echo hi
	run client -n 30 "$ADDR" </dev/null
	assert_output "hi"
	# at most two workers, however many requests came
	local workers
	workers=$(cat /proc/"$SERVER_PID"/task/*/comm | grep -c '^ss-worker$')
	[ "$workers" -ge 1 ] && [ "$workers" -le 2 ]
	wait_until 10 holds -eq 0 child_count "$SERVER_PID"
	assert_equal "$(zombies_of "$SERVER_PID")" 0
}

@test "thread: workers reap only their own child, with waitpid(pid); SIGCHLD is not taken" {
	command -v strace >/dev/null || fail "strace is needed (see .ci/deps)"
	local fifo=$BATS_TEST_TMPDIR/addr
	mkfifo "$fifo"
	# (LeakSanitizer cannot run under ptrace: the sanitizer build would exit 1)
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=wait4,waitid,rt_sigprocmask -o trace \
		"$SOCKSERVE" -m thread --print-address 127.0.0.1:0 -- echo hi >"$fifo" 2>>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	STARTED_PIDS+=("$SERVER_PID")
	read -r -t 10 ADDR <"$fifo"
	run client -n 5 "$ADDR" </dev/null
	assert_output "hi"
	# strace passes sockserve's exit status on
	kill -TERM "$(children_of "$SERVER_PID")"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	# each worker waits for its child's pid, then reaps that pid; nothing
	# waits for any child (no wait4(-1, ...), no waitid(P_ALL, ...))
	run grep -cE 'waitid\(P_PID, [1-9]' trace
	assert_output 5
	run grep -cE 'wait4\([1-9][0-9]*,' trace
	assert_output 5
	run grep -E 'wait4\(-1|P_ALL' trace
	assert_failure
	run grep -E 'rt_sigprocmask\(SIG_BLOCK, \[[^]]*CHLD' trace
	assert_failure
}

@test "sync: one request at a time, the rest wait" {
	write_counting_handler
	start_server -m sync 127.0.0.1:0 -- ./count.sh
	run_clients 4
	assert_equal "$(sort -n seen | tail -1)" 1
	assert_equal "$(lines seen)" 4
}

@test "children are reaped promptly: no zombies after many connections" {
	start_server -m fork 127.0.0.1:0 -- echo hi
	run client -n 150 "$ADDR" </dev/null
	assert_output "hi"
	wait_until 10 holds -eq 0 child_count "$SERVER_PID"
	assert_equal "$(zombies_of "$SERVER_PID")" 0
}

# unrunnable MODE: the command vanishes between requests; the failure is
# logged, counted and forgotten (nothing stays "in progress"), and serving
# goes on once it is back.
unrunnable() {
	printf '#!/bin/sh\necho ran\n' >h.sh
	chmod +x h.sh
	start_server -m "$1" 127.0.0.1:0 -- ./h.sh
	run client "$ADDR" </dev/null
	assert_output "ran"
	rm h.sh
	run client "$ADDR" </dev/null
	assert_success
	assert_output ""
	wait_until 10 log_has "127\.0\.0\.1:[0-9]+: cannot run handler \./h\.sh: No such file or directory"
	printf '#!/bin/sh\necho again\n' >h.sh
	chmod +x h.sh
	run client "$ADDR" </dev/null
	assert_output "again"
	wait_until 10 status_shows 'status: 0 in progress, 2 handled, 1 failed'
}

@test "fork: a handler that cannot be run at request time is reported; serving goes on" {
	unrunnable fork
}

@test "thread: a handler that cannot be run at request time is reported; serving goes on" {
	unrunnable thread
}

# valgrind stops a program that clones with shared memory without waiting
# for the child's exec; under valgrind, sockserve's fork mode spawns as vfork
# does instead, and serves.
@test "fork: under valgrind, every spawn waits for exec, and requests are served" {
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	ldd "$SOCKSERVE" 2>/dev/null | grep -q 'libc\.so' || skip "a static build: valgrind preloads nothing into it"
	! ldd "$SOCKSERVE" | grep -qE 'lib[at]san' || skip "a sanitizer build"
	printf '#!/bin/sh\nexec valgrind -q --error-exitcode=9 "%s" "$@"\n' "$SOCKSERVE" >vg
	chmod +x vg
	SOCKSERVE=$PWD/vg start_server -m fork 127.0.0.1:0 -- sh -c 'echo ran'
	run client "$ADDR" </dev/null
	assert_output "ran"
	run client "$ADDR" </dev/null
	assert_output "ran"
	run grep -c 'Unsupported clone' "$SERVER_ERR"
	assert_output 0
}

@test "crashing and failing handlers are logged at the default level; serving goes on" {
	start_server 127.0.0.1:0 -- sh -c 'case $TCPREMOTEPORT in *) read what; case $what in crash) kill -SEGV $$;; fail) exit 3;; *) echo fine;; esac;; esac'
	run client "$ADDR" <<<"crash"
	run client "$ADDR" <<<"fail"
	run client "$ADDR" <<<"ok"
	assert_output "fine"
	wait_until 10 log_has 'killed by signal 11 \(Segmentation fault\)'
	wait_until 10 log_has 'end, handler pid [0-9]+ exit 3 after'
	# the successful request logs nothing at the default level
	assert_equal "$(grep -c 'exit 0' "$SERVER_ERR")" 0
}

@test "clients that reset their connection never stop the server" {
	start_server 127.0.0.1:0 -- sh -c 'sleep 0.1; echo late'
	local i
	for i in $(seq 20); do "$CLIENT" -R "$ADDR"; done
	run client "$ADDR" </dev/null
	assert_output "late"
	kill -0 "$SERVER_PID"
}

@test "an ignored SIGCHLD inherited from the caller does not stop the reaping" {
	# With SIGCHLD ignored the kernel would reap handlers itself, and a
	# request would never be seen to end.
	local m
	for m in fork thread; do
		: >"$SERVER_ERR"
		start_server_after ignore_chld -m "$m" -v --once 127.0.0.1:0 -- echo hi
		run client "$ADDR" </dev/null
		assert_output "hi"
		wait_until 10 log_has 'end, handler pid [0-9]+ exit 0'
		reap "$SERVER_PID"
		assert_equal "$EXIT_STATUS" 0
	done
}
