#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Which clients are served: --max-per-ip in the modes where several requests
# run at once.  Clients pick their source with ssclient -s: 127.0.0.2 is as
# much loopback as 127.0.0.1.

load test_helper/common

# hold_two IP: two clients from IP that stay connected (their handler waits
# for end of input); waits until both handlers run.  HOLDERS has their pids.
hold_two() {
	HOLDERS=()
	local i
	for i in 1 2; do
		"$CLIENT" -w 20 -H -s "$1" "$ADDR" >"held.$i" &
		HOLDERS+=($!)
	done
	wait_until 10 has_lines held.1 1
	wait_until 10 has_lines held.2 1
}

# per_ip_limit MODE: --max-per-ip 2 refuses a third client from one address,
# serves another address, and serves the first again once one of its ends.
per_ip_limit() {
	start_server -m "$1" -v --max-per-ip 2 127.0.0.1:0 -- sh -c 'echo in; cat >/dev/null; echo out'
	hold_two 127.0.0.1
	run client -s 127.0.0.1 "$ADDR" </dev/null
	assert_success
	assert_output ""
	wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: rejected: 2 requests in progress from this address \(--max-per-ip 2\)$'
	run client -s 127.0.0.2 "$ADDR" </dev/null
	assert_output "$(printf 'in\nout')"
	kill "${HOLDERS[0]}"
	wait_until 10 log_has 'end, handler pid [0-9]+ exit 0'
	# the freed place is counted back: 127.0.0.1 has one in progress again
	wait_until 10 holds -ge 2 log_count 'end, handler'
	run client -s 127.0.0.1 "$ADDR" </dev/null
	assert_output "$(printf 'in\nout')"
	wait_until 10 status_shows 'status: 1 in progress, 3 handled, 0 failed, 1 rejected'
	kill "${HOLDERS[1]}"
}

@test "fork: --max-per-ip refuses one address's extra connection, without running the handler" {
	per_ip_limit fork
	# the refused connection never ran a handler: 2 held + 2 served
	assert_equal "$(grep -c ': start, handler' "$SERVER_ERR")" 4
}

@test "thread: --max-per-ip refuses one address's extra connection, without running the handler" {
	per_ip_limit thread
	assert_equal "$(grep -c ': start, handler' "$SERVER_ERR")" 4
}

@test "--max-per-ip: a refusal is not logged at the default level, but counted" {
	start_server --max-per-ip 1 127.0.0.1:0 -- sh -c 'echo in; cat >/dev/null'
	"$CLIENT" -w 20 -H "$ADDR" >held &
	HOLDER=$!
	wait_until 10 has_lines held 1
	run client "$ADDR" </dev/null
	assert_output ""
	wait_until 10 status_shows 'status: 1 in progress, 0 handled, 0 failed, 1 rejected'
	run grep -c rejected: "$SERVER_ERR"
	assert_output 0
	kill "$HOLDER"
}

@test "--max-per-ip in JSON: the event names the reason" {
	start_server --log-format=json -v --max-per-ip 1 127.0.0.1:0 -- sh -c 'echo in; cat >/dev/null'
	"$CLIENT" -w 20 -H "$ADDR" >held &
	HOLDER=$!
	wait_until 10 has_lines held 1
	run client "$ADDR" </dev/null
	wait_until 10 log_has '^\{"ts":"[^"]+","level":"info","event":"rejected","remote":"127\.0\.0\.1:[0-9]+","reason":"max_per_ip","in_progress":1,'
	kill "$HOLDER"
}

@test "thread: --max-per-ip drops a datagram from an address at its limit" {
	# the handler answers, then waits until the test writes to the fifo
	mkfifo go
	export GO=$BATS_TEST_TMPDIR/go
	start_server -m thread -t dgram -v --max-per-ip 1 127.0.0.1:0 -- sh -c 'cat; read x <"$GO"'
	"$CLIENT" -t dgram -w 20 "$ADDR" <<<"first" >first &
	local first=$!
	wait_until 10 log_has ': start, handler'
	"$CLIENT" -t dgram -w 20 "$ADDR" <<<"second" >second &
	local second=$!
	wait_until 10 log_has 'rejected: 1 requests in progress from this address \(--max-per-ip 1\)'
	kill "$second"
	echo >go
	wait "$first"
	assert_equal "$(cat first)" "first"
	assert_equal "$(grep -c ': start, handler' "$SERVER_ERR")" 1
}

@test "--max-per-ip: IPv6 and IPv4 clients of a dual-stack socket are counted apart" {
	start_server -v --max-per-ip 1 '[::]:0' -- sh -c 'echo in; cat >/dev/null; echo out'
	local port=${ADDR##*:}
	ADDR=127.0.0.1:$port
	"$CLIENT" -w 20 -H "$ADDR" >held &
	HOLDER=$!
	wait_until 10 has_lines held 1
	run client "127.0.0.1:$port" </dev/null
	assert_output ""
	run client "[::1]:$port" </dev/null
	assert_output "$(printf 'in\nout')"
	kill "$HOLDER"
}

@test "--max-per-ip: bad values and a unix address are usage errors" {
	run "$SOCKSERVE" --max-per-ip 0 127.0.0.1:0 -- cat
	assert_equal "$status" 64
	assert_output --partial "--max-per-ip"
	run "$SOCKSERVE" --max-per-ip 2x 127.0.0.1:0 -- cat
	assert_equal "$status" 64
	run "$SOCKSERVE" --max-per-ip 2 ./s.sock -- cat
	assert_equal "$status" 64
	assert_output --partial "--max-per-ip needs an inet or inet6 address, not ./s.sock"
}

# served FROM: a client from source IP FROM gets the handler's answer.
served() {
	run client -s "$1" "$ADDR" </dev/null
	assert_success
	assert_output "hello $1"
}

# refused FROM: a client from FROM is closed at once, with no answer.
refused() {
	run client -s "$1" "$ADDR" </dev/null
	assert_success
	assert_output ""
}

HELLO='echo "hello $TCPREMOTEIP"'

@test "--allow: only matching clients are served; the rest are closed without a handler" {
	start_server -v --allow 127.0.0.2 --allow 127.0.1.0/24 127.0.0.1:0 -- sh -c "$HELLO"
	served 127.0.0.2
	served 127.0.1.9
	refused 127.0.0.1
	refused 127.0.0.3
	wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: rejected: matches no --allow rule$'
	assert_equal "$(grep -c ': start, handler' "$SERVER_ERR")" 2
	wait_until 10 status_shows 'status: 0 in progress, 2 handled, 0 failed, 2 rejected'
}

@test "--deny wins over --allow, whatever their order" {
	local order
	for order in "--allow 127.0.0.0/8 --deny 127.0.0.2" "--deny 127.0.0.2 --allow 127.0.0.0/8"; do
		: >"$SERVER_ERR"
		# shellcheck disable=SC2086
		start_server -v $order 127.0.0.1:0 -- sh -c "$HELLO"
		refused 127.0.0.2
		served 127.0.0.3
		wait_until 10 log_has '127\.0\.0\.2:[0-9]+: rejected: matches --deny 127\.0\.0\.2$'
		kill -TERM "$SERVER_PID"
		reap "$SERVER_PID"
	done
}

@test "--deny alone refuses only what it names" {
	start_server --deny 127.0.0.0/31 127.0.0.1:0 -- sh -c "$HELLO"
	refused 127.0.0.1
	served 127.0.0.2
	# a refusal is not logged at the default level
	run grep -c rejected "$SERVER_ERR"
	assert_output 0
}

@test "dual stack: an IPv4 client matches IPv4 rules and is shown as plain IPv4" {
	start_server -v --allow 127.0.0.1/32 --allow ::1 --deny 127.0.0.2 '[::]:0' -- sh -c "$HELLO"
	local port=${ADDR##*:}
	ADDR=127.0.0.1:$port
	served 127.0.0.1
	refused 127.0.0.2
	refused 127.0.0.3
	ADDR=[::1]:$port
	served ::1
	wait_until 10 log_has '^sockserve: 127\.0\.0\.2:[0-9]+: rejected: matches --deny 127\.0\.0\.2$'
}

@test "dual stack: an IPv6 rule is not about IPv4 clients" {
	start_server --deny ::/0 '[::]:0' -- sh -c "$HELLO"
	local port=${ADDR##*:}
	ADDR=[::1]:$port
	refused ::1
	ADDR=127.0.0.1:$port
	served 127.0.0.1
}

@test "dual stack: a rule in IPv4-mapped form is the IPv4 rule it names" {
	start_server --deny ::ffff:127.0.0.1 '[::]:0' -- sh -c "$HELLO"
	local port=${ADDR##*:}
	ADDR=127.0.0.1:$port
	refused 127.0.0.1
	ADDR=[::1]:$port
	served ::1
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	start_server --allow ::ffff:127.0.0.0/104 '[::]:0' -- sh -c "$HELLO"
	ADDR=127.0.0.1:${ADDR##*:}
	served 127.0.0.1
}

@test "IPv6 prefixes match bit by bit" {
	# ::/126 holds ::0 to ::3; ::2/127 only ::2 and ::3
	start_server --allow ::/126 --deny ::/128 '[::1]:0' -- sh -c "$HELLO"
	served ::1
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	start_server --allow ::2/127 '[::1]:0' -- sh -c "$HELLO"
	refused ::1
	kill -TERM "$SERVER_PID"
	reap "$SERVER_PID"
	start_server --allow 0:0:0:0:0:0:0:1 '[::1]:0' -- sh -c "$HELLO"
	served ::1
}

@test "--deny drops a datagram without running the handler; counted" {
	start_server -t dgram -v --deny 127.0.0.2 127.0.0.1:0 -- cat
	"$CLIENT" -t dgram -w 20 -s 127.0.0.2 "$ADDR" <<<"no" >refused.out &
	local pid=$!
	wait_until 10 log_has '127\.0\.0\.2:[0-9]+: rejected: matches --deny 127\.0\.0\.2$'
	kill "$pid"
	run "$CLIENT" -t dgram -s 127.0.0.1 "$ADDR" <<<"yes"
	assert_output "yes"
	assert_equal "$(grep -c ': start, handler' "$SERVER_ERR")" 1
	wait_until 10 status_shows '1 handled, 0 failed, 1 rejected'
}

@test "--allow and --deny in JSON: the reason and the rule" {
	start_server --log-format=json -v --allow 127.0.0.2 --deny 127.0.0.3 127.0.0.1:0 -- sh -c "$HELLO"
	refused 127.0.0.3
	refused 127.0.0.1
	wait_until 10 log_has '^\{"ts":"[^"]+","level":"info","event":"rejected","remote":"127\.0\.0\.3:[0-9]+","reason":"deny","rule":"127\.0\.0\.3",'
	wait_until 10 log_has '^\{"ts":"[^"]+","level":"info","event":"rejected","remote":"127\.0\.0\.1:[0-9]+","reason":"not_allowed",'
}

@test "invalid CIDR text is a usage error naming the value" {
	local bad
	for bad in "--allow=10.0.0.300/8" "--allow=10.0.0.0/33" "--deny=::1/129" "--allow=localhost" \
		"--deny=10.0.0.0/" "--allow=" "--deny=10.0.0.0/8x" "--allow=10.0.0.0/-1"; do
		run "$SOCKSERVE" "$bad" 127.0.0.1:0 -- cat
		assert_equal "$status" 64
		assert_output --partial "'${bad#*=}'"
		assert_output --partial "${bad%%=*}"
	done
	run "$SOCKSERVE" --allow 10.0.0.0/8 ./s.sock -- cat
	assert_equal "$status" 64
	assert_output --partial "--allow needs an inet or inet6 address, not ./s.sock"
}

@test "--rate N/SECONDS: past N new requests from one address, the next is closed without a handler; others are served" {
	start_server -v --rate 3/60 127.0.0.1:0 -- sh -c "$HELLO"
	served 127.0.0.1
	served 127.0.0.1
	served 127.0.0.1
	refused 127.0.0.1
	# another address has a bucket of its own
	served 127.0.0.2
	wait_until 10 log_has '^sockserve: 127\.0\.0\.1:[0-9]+: rejected: over --rate 3/60$'
	wait_until 10 status_shows 'status: 0 in progress, 4 handled, 0 failed, 1 rejected'
	# the refused one ran no handler
	assert_equal "$(log_count ': start, handler')" 4
}

# served_again FROM: a client from FROM is answered (for wait_until).
served_again() {
	[ "$(client -s "$1" "$ADDR" </dev/null)" = "hello $1" ]
}

@test "--rate: the bucket refills at N per SECONDS" {
	start_server --rate 1/0.3 127.0.0.1:0 -- sh -c "$HELLO"
	served 127.0.0.1
	refused 127.0.0.1
	# a refusal takes no token: once 0.3 s have passed, it is served again
	wait_until 10 served_again 127.0.0.1
}

@test "--rate with datagrams: past the rate, a datagram is dropped (no reply, counted)" {
	start_server -t dgram --rate 2/60 127.0.0.1:0 -- cat
	run "$LOAD" dgram -n 2 -q hi -x hi -w 5000 -T 10 "$ADDR"
	[[ $output == *"n=2 ok=2 "* ]]
	run "$LOAD" dgram -n 1 -q hi -x hi -w 300 -T 10 "$ADDR"
	[[ $output == *"err_lost=1"* ]]
	wait_until 10 status_shows 'status: 0 in progress, 2 handled, 0 failed, 1 rejected'
}

@test "--rate: bad values, a unix address and --wait are usage errors" {
	local bad
	for bad in "--rate x" "--rate 0/1" "--rate 1/0" "--rate 1/x" "--rate /1" "--rate 2000000/1"; do
		eval "run \"\$SOCKSERVE\" $bad 127.0.0.1:0 cat"
		assert_failure 64
		assert_line --index 0 --regexp '^sockserve: --rate'
	done
	run "$SOCKSERVE" --rate 2/60 ./u.sock cat
	assert_failure 64
	assert_line --index 0 "sockserve: --rate needs an inet or inet6 address, not ./u.sock"
	run "$SOCKSERVE" --rate 2/60 --wait 127.0.0.1:0 cat
	assert_failure 64
}

# rules_reloaded N: the server has logged N rule loads ("--rules: K rules from").
rules_loads() {
	log_count '^sockserve: --rules: [0-9]+ rules from '
}

@test "--rules: deny, then allow with a variable after a rename-over and a write in place; a bad or deleted file keeps the rules" {
	printf '# first\ndeny 127.0.0.1\n' >rules
	start_server -v -m "$MODE" --rules rules --refuse-message 'no\n' 127.0.0.1:0 -- sh -c 'echo "tier=${TIER-none}"'
	run client "$ADDR" </dev/null
	assert_output "no"
	log_has 'rejected: matches line 2 of --rules rules'
	# an editor's way: a new file renamed over the old one
	printf 'allow 127.0.0.0/8 TIER=gold # a comment\ndeny 0.0.0.0/0\n' >rules.new
	mv rules.new rules
	wait_until 10 holds -ge 1 rules_loads
	run client "$ADDR" </dev/null
	assert_output "tier=gold"
	# written in place
	printf 'allow ::1\nallow 127.0.0.1 TIER=silver\n' >rules
	wait_until 10 holds -ge 2 rules_loads
	run client "$ADDR" </dev/null
	assert_output "tier=silver"
	# a file that does not parse: the line and why, and the rules stay
	printf 'allow 127.0.0.1\nallow 127.0.0.999\n' >rules
	wait_until 10 log_has "^sockserve: --rules: rules, line 2: '127.0.0.999' is not a CIDR: the 2 rules in force stay$"
	run client "$ADDR" </dev/null
	assert_output "tier=silver"
	printf 'allow 127.0.0.1 PROTO=x\n' >rules
	wait_until 10 log_has "line 1: PROTO is sockserve's to set"
	rm rules
	wait_until 10 log_has '^sockserve: --rules: rules is gone: the 2 rules in force stay$'
	run client "$ADDR" </dev/null
	assert_output "tier=silver"
	# no rule matches: --allow and --deny decide
	printf 'allow 10.0.0.0/8\n' >rules
	wait_until 10 holds -ge 3 rules_loads
	run client "$ADDR" </dev/null
	assert_output "tier=none"
}

@test "--rules: 100,000 rules load; the client the last one matches is admitted with its variable" {
	python3 -c '
for i in range(100000):
    print("deny 10.%d.%d.%d/32" % (i >> 16, (i >> 8) & 255, i & 255))
print("allow 127.0.0.1/32 TIER=last")' >rules
	start_server -m "$MODE" --rules rules 127.0.0.1:0 -- sh -c 'echo "tier=$TIER"'
	run client "$ADDR" </dev/null
	assert_output "tier=last"
}

@test "--rules: a file that does not parse is a start-up error naming the line" {
	printf 'allow 127.0.0.1\nmaybe 10.0.0.0/8\n' >rules
	run "$SOCKSERVE" --rules rules 127.0.0.1:0 -- cat
	assert_failure 1
	assert_output "sockserve: --rules: rules, line 2: 'maybe' is neither allow nor deny"
	run "$SOCKSERVE" --rules missing 127.0.0.1:0 -- cat
	assert_failure 1
	assert_output "sockserve: --rules: cannot read missing: No such file or directory"
	run "$SOCKSERVE" --rules rules ./s.sock -- cat
	assert_failure 64
	assert_output --partial "--rules needs an inet or inet6 address"
}

@test "--rules with --workers: each worker watches the file and reads it again" {
	printf 'deny 127.0.0.1\n' >rules
	start_server -v --workers 2 --rules rules 127.0.0.1:0 -- sh -c 'echo "tier=$TIER"'
	printf 'allow 127.0.0.1 TIER=both\n' >rules
	wait_until 10 log_has '^sockserve\[1\]: --rules: 1 rules from rules$'
	wait_until 10 log_has '^sockserve\[2\]: --rules: 1 rules from rules$'
	local i
	for i in 1 2 3 4; do
		run client "$ADDR" </dev/null
		assert_output "tier=both"
	done
}

@test "--rules: a value with a control character, or a variable on a deny line, is refused with its line" {
	printf 'allow 127.0.0.1 NOTE=a\001b\n' >rules
	run "$SOCKSERVE" --rules rules 127.0.0.1:0 -- cat
	assert_failure 1
	assert_output "sockserve: --rules: rules, line 1: the value of NOTE holds a control character"
	printf '# fine\ndeny 10.0.0.0/8 NOTE=x\n' >rules
	run "$SOCKSERVE" --rules rules 127.0.0.1:0 -- cat
	assert_failure 1
	assert_output "sockserve: --rules: rules, line 2: a deny rule sets no variables ('NOTE=x')"
}
