#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# --user/--group (the tests that change ids need root, as CI has),
# --socket-mode and --pidfile.

load test_helper/common

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to change user and group"
}

# ids PID: sockserve's own real/effective/saved ids and groups.
ids() {
	grep -E '^(Uid|Gid|Groups):' "/proc/$1/status" | tr -s '\t ' ' ' | sed 's/ $//'
}

@test "--user: bound as root in a root-only directory, then runs as the user; so do handlers" {
	need_root
	local nobody_gid
	nobody_gid=$(id -g nobody)
	mkdir private
	chmod 700 private
	start_server -u nobody ./private/s.sock -- sh -c 'echo "$(id -u) $(id -g) $(id -G)"'
	run client "$ADDR" </dev/null
	assert_output "65534 $nobody_gid $(id -G nobody)"
	run ids "$SERVER_PID"
	assert_line "Uid: 65534 65534 65534 65534"
	assert_line "Gid: $nobody_gid $nobody_gid $nobody_gid $nobody_gid"
	assert_line "Groups: $(id -G nobody)"
}

@test "--group alone: the group changes, supplementary groups are cleared" {
	need_root
	local gid
	gid=$(getent group daemon | cut -d: -f3)
	start_server -g daemon 127.0.0.1:0 -- sh -c 'echo "$(id -u) $(id -g) $(id -G)"'
	run client "$ADDR" </dev/null
	assert_output "0 $gid $gid"
	run ids "$SERVER_PID"
	assert_line "Gid: $gid $gid $gid $gid"
	assert_line "Groups:"
}

@test "--user and --group: that group, with the user's supplementary groups" {
	need_root
	local gid
	gid=$(getent group daemon | cut -d: -f3)
	start_server -u nobody -g daemon 127.0.0.1:0 -- sh -c 'echo "$(id -u) $(id -g)"'
	run client "$ADDR" </dev/null
	assert_output "65534 $gid"
}

@test "--user by number, --group by number" {
	need_root
	start_server -u 65534 -g 65534 127.0.0.1:0 -- sh -c 'echo "$(id -u) $(id -g)"'
	run client "$ADDR" </dev/null
	assert_output "65534 65534"
}

@test "unknown user or group: exit 1 with the name; nothing is left listening" {
	run "$SOCKSERVE" -u no-such-user-here ./s.sock -- cat
	assert_equal "$status" 1
	assert_output "sockserve: --user: unknown user 'no-such-user-here'"
	run "$SOCKSERVE" -g no-such-group-here ./s.sock -- cat
	assert_equal "$status" 1
	assert_output "sockserve: --group: unknown group 'no-such-group-here'"
	[ ! -e s.sock ]
}

@test "--user when not started as root: a fatal start-up error, not a silent no-op" {
	need_root
	mkdir shared
	chmod 777 shared
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKSERVE" -u root ./shared/s.sock -- cat
	assert_equal "$status" 1
	assert_output --partial "sockserve: cannot drop privileges (setgroups): Operation not permitted (--user and --group need sockserve to start as root)"
}

@test "--user naming the user sockserve already is: nothing to drop, it serves" {
	need_root
	mkdir shared
	chmod 777 shared
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKSERVE" --print-address \
		-u nobody -g 65534 ./shared/s.sock -- id -u >addr 2>>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	STARTED_PIDS+=("$SERVER_PID")
	wait_until 10 has_lines addr 1
	run client "$(cat addr)" </dev/null
	assert_output 65534
}

strict_umask() {
	umask 077
}

@test "--socket-mode: the socket has exactly that mode, whatever the umask" {
	local mode
	for mode in 600 660 777 0640; do
		start_server_after strict_umask --socket-mode "$mode" ./m.sock -- cat
		assert_equal "$(stat -c %a m.sock)" "$(printf %o $((8#$mode)))"
		run client ./m.sock <<<"hi"
		assert_output "hi"
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
	done
}

@test "--socket-mode is in force at bind: the umask is set around bind(2), no chmod afterwards" {
	command -v strace >/dev/null || fail "strace is needed (see .ci/deps)"
	ASAN_OPTIONS=detect_leaks=0 strace -qq -e trace=umask,bind,chmod,fchmod,fchmodat -o trace \
		"$SOCKSERVE" --socket-mode 600 --once ./t.sock -- true >/dev/null 2>>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	STARTED_PIDS+=("$SERVER_PID")
	wait_until 10 test -S t.sock
	run client ./t.sock </dev/null
	reap "$SERVER_PID"
	run grep -E '^(umask|bind)' trace
	assert_line --index 0 --regexp '^umask\(0177\)'
	assert_line --index 1 --regexp '^bind\(.*"\./t\.sock"'
	assert_line --index 2 --regexp '^umask\(0[0-7]*\)'
	run grep -E 'chmod' trace
	assert_failure
}

@test "--socket-mode: usage errors" {
	local bad
	for bad in 8 1000 rw "" 7777; do
		run "$SOCKSERVE" --socket-mode="$bad" ./s.sock -- cat
		assert_equal "$status" 64
		assert_output --partial "--socket-mode: '$bad' is not an octal permission mode"
	done
	run "$SOCKSERVE" --socket-mode 600 127.0.0.1:0 -- cat
	assert_equal "$status" 64
	assert_output --partial "--socket-mode needs a unix socket path, not 127.0.0.1:0"
	run "$SOCKSERVE" --socket-mode 600 @abstract -- cat
	assert_equal "$status" 64
}

@test "--pidfile: written once listening, locked against a second instance, removed at exit" {
	start_server --pidfile "$PWD/run.pid" 127.0.0.1:0 -- cat
	# the address is printed after the pid file is written
	assert_equal "$(cat run.pid)" "$SERVER_PID"
	run "$SOCKSERVE" --pidfile "$PWD/run.pid" 127.0.0.1:0 -- cat
	assert_equal "$status" 1
	assert_output "sockserve: already running as pid $SERVER_PID (pid file $PWD/run.pid)"
	assert_equal "$(cat run.pid)" "$SERVER_PID"
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	[ ! -e run.pid ]
}

@test "--pidfile: a leftover file that nobody holds is taken over" {
	echo 999999 >run.pid
	start_server --pidfile "$PWD/run.pid" 127.0.0.1:0 -- cat
	assert_equal "$(cat run.pid)" "$SERVER_PID"
}

@test "--pidfile: the handler does not inherit it" {
	start_server --pidfile "$PWD/run.pid" 127.0.0.1:0 -- "$PROBE"
	run client "$ADDR" </dev/null
	assert_line "fds: 0 1 2"
}

@test "--pidfile that cannot be created: exit 1 naming it, before binding" {
	run "$SOCKSERVE" --pidfile "$PWD/no/such/dir/run.pid" ./s.sock -- cat
	assert_equal "$status" 1
	assert_output "sockserve: cannot open the pid file $PWD/no/such/dir/run.pid: No such file or directory"
	[ ! -e s.sock ]
}
