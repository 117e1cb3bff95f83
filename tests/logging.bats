#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Logging: one line per event on stderr, text or JSON, whole lines even when
# many requests end at once.

load test_helper/common

# json_check FILE: every line is a JSON object; print "event" values.
json_events() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    obj = json.loads(line)
    print(obj["event"])
' "$1"
}

@test "the default level logs nothing for a request that succeeds" {
	start_server 127.0.0.1:0 -- echo hi
	run client "$ADDR" </dev/null
	assert_output "hi"
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID"
	assert_equal "$(cat "$SERVER_ERR")" ""
}

@test "-v logs the listening address and each request's start and end" {
	start_server -v 127.0.0.1:0 -- echo hi
	run client "$ADDR" </dev/null
	wait_until 10 log_has ': end, '
	log_has "^sockserve: listening on $ADDR \(stream, fork mode, up to 40 at once\)$"
	log_has '^sockserve: 127\.0\.0\.1:[0-9]+: start, handler pid [0-9]+$'
	log_has '^sockserve: 127\.0\.0\.1:[0-9]+: end, handler pid [0-9]+ exit 0 after [0-9.]+ ms$'
}

@test "-v shows an IPv6 client in brackets and a unix client by pid" {
	start_server -v '[::1]:0' -- echo hi
	client "$ADDR" </dev/null
	wait_until 10 log_has '^sockserve: \[::1\]:[0-9]+: end'
	start_server -v ./log.sock -- echo hi
	client ./log.sock </dev/null
	wait_until 10 log_has '^sockserve: pid [0-9]+: end, handler pid'
}

@test "-q silences failures after start-up" {
	start_server -q 127.0.0.1:0 -- sh -c 'exit 4'
	client "$ADDR" </dev/null
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID"
	assert_equal "$(cat "$SERVER_ERR")" ""
}

@test "--log-format=json: stable keys" {
	start_server -v --log-format=json 127.0.0.1:0 -- sh -c 'exit 2'
	client "$ADDR" </dev/null
	wait_until 10 log_has '"event":"end"'
	run json_events "$SERVER_ERR"
	assert_success
	assert_line --index 0 listening
	assert_line --index 1 start
	assert_line --index 2 end
	run python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
end = [l for l in lines if l["event"] == "end"][0]
assert set(end) >= {"event", "remote", "pid", "status", "duration_ms"}, end
assert end["status"] == 2 and isinstance(end["pid"], int) and end["remote"].startswith("127.0.0.1:")
assert isinstance(end["duration_ms"], float)
print("ok")
' "$SERVER_ERR"
	assert_output "ok"
}

@test "--log-format=json: every line has ts (RFC 3339, UTC, ms) and level" {
	start_server -v --log-format=json 127.0.0.1:0 -- sh -c 'exit 3'
	client "$ADDR" </dev/null
	wait_until 10 log_has '"event":"end"'
	wait_until 10 status_shows '"event":"status"'
	run python3 -c '
import datetime, json, re, sys
levels = {}
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert list(o)[:2] == ["ts", "level"], o
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]), o["ts"]
    age = datetime.datetime.now(datetime.timezone.utc) - datetime.datetime.fromisoformat(o["ts"].replace("Z", "+00:00"))
    assert abs(age.total_seconds()) < 60, o["ts"]
    levels[o["event"]] = o["level"]
print(" ".join("%s=%s" % kv for kv in sorted(levels.items())))
' "$SERVER_ERR"
	assert_success
	# an exit status other than 0 is an error; the rest here is -v detail
	assert_output "end=error listening=info start=info status=info"
}

@test "--log-format=json: a killed handler has a signal key" {
	start_server --log-format=json 127.0.0.1:0 -- sh -c 'kill -KILL $$'
	client "$ADDR" </dev/null
	wait_until 10 log_has '"event":"end"'
	log_has '"signal":9'
}

@test "many requests ending at once write whole lines" {
	start_server -vv --log-format=json -c 50 127.0.0.1:0 -- sh -c 'echo "$TCPREMOTEPORT"'
	local i pids=()
	for i in $(seq 40); do
		client "$ADDR" </dev/null >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	wait_until 10 holds -eq 40 log_count '"event":"end"'
	run json_events "$SERVER_ERR"
	assert_success
	assert_equal "$(grep -c '"event":"start"' "$SERVER_ERR")" 40
}

@test "--log-format=json: start-up and usage errors are JSON lines too" {
	run --separate-stderr "$SOCKSERVE" --log-format=json -c 0 127.0.0.1:0 cat
	assert_failure 64
	run python3 -c '
import json, sys
o = json.loads(sys.argv[1])
print(o["level"], o["event"], o["message"])' "$stderr"
	assert_output "error usage_error --max-children: 0 is too small (1 to 10000)"
	run --separate-stderr "$SOCKSERVE" --log-format=json 127.0.0.1:0 no-such-command-xyz
	assert_failure 1
	run python3 -c '
import json, sys
lines = sys.argv[1].splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
print(o["level"], o["event"], o["message"])' "$stderr"
	assert_output "error startup_error cannot run 'no-such-command-xyz': command not found"
}

@test "-vv logs debug detail: each request taken, and how long its spawn took" {
	start_server -vv 127.0.0.1:0 -- echo hi
	run client "$ADDR" </dev/null
	wait_until 10 log_has ': end, handler pid'
	log_has '^sockserve: 127\.0\.0\.1:[0-9]+: taken \(0 of 40 in progress\)$'
	log_has '^sockserve: 127\.0\.0\.1:[0-9]+: handler pid [0-9]+ started in [0-9]+ us$'
	# not at -v
	start_server -v 127.0.0.1:0 -- echo hi
	: >"$SERVER_ERR"
	run client "$ADDR" </dev/null
	wait_until 10 log_has ': end, handler pid'
	run log_has 'taken|started in'
	assert_failure
}

@test "SIGUSR1 answers even under -q" {
	start_server -q 127.0.0.1:0 -- sh -c 'exit 3'
	run client "$ADDR" </dev/null
	wait_until 10 status_shows '^sockserve: status: 0 in progress, 0 handled, 1 failed'
	# and nothing else was written under -q
	run grep -cv '^sockserve: status: ' "$SERVER_ERR"
	assert_output 0
}

@test "--log-format=json: a unix peer is peer_pid and peer_uid, as numbers" {
	start_server -v --log-format=json ./peer.sock -- echo hi
	run client ./peer.sock </dev/null
	wait_until 10 log_has '"event":"end"'
	run python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o["event"] in ("start", "end"):
        assert "remote" not in o and isinstance(o["peer_pid"], int) and o["peer_uid"] == int(sys.argv[2]), o
        print(o["event"])' "$SERVER_ERR" "$(id -u)"
	assert_output $'start\nend'
}
