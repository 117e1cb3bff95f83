#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# For people who test network clients: --trace, --record and the faults
# (--delay, --throttle, --slice, --cut-after, --stall-after; datagrams:
# --drop, --duplicate, --seed), with real clients (a Python client, curl,
# openssl s_client).  Run in every concurrency mode.

load test_helper/common

FC=$TOP/tests/helpers/faultclient.py

fc() {
	python3 "$FC" "$@"
}

# field JSON KEY: a key of faultclient's JSON output.
field() {
	python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(max(v) if isinstance(v, list) else v)' "$1" "$2"
}

# untrace FILE DIR: the bytes a text trace shows going DIR ('<' or '>'),
# rebuilt from its hexdump lines, on stdout.
untrace() {
	python3 - "$1" "$2" <<'PY'
import re, sys
path, want = sys.argv[1], sys.argv[2]
out = bytearray()
cur = None
for line in open(path, encoding="utf-8", errors="replace"):
    m = re.match(r"^\+\d+\.\d{6} ([<>]) \S+ (\d+) bytes?$", line.rstrip("\n"))
    if m:
        cur = m.group(1)
        continue
    if re.match(r"^\+\d+\.\d{6} [<>] \S+ end$", line):
        cur = None
        continue
    m = re.match(r"^[0-9a-f]{8}  (.{48})  \|", line)
    if m and cur == want:
        out += bytes.fromhex(m.group(1).replace(" ", ""))
sys.stdout.buffer.write(out)
PY
}

@test "without the testing options the handler's stdin is the socket; with one it is the relay's pipe" {
	start_server -m "$MODE" 127.0.0.1:0 -- sh -c 'readlink /proc/self/fd/0'
	run client "$ADDR" </dev/null
	assert_output --regexp '^socket:\['
	start_server -m "$MODE" --trace=/dev/null 127.0.0.1:0 -- sh -c 'readlink /proc/self/fd/0'
	run client "$ADDR" </dev/null
	assert_output --regexp '^pipe:\['
}

@test "--trace: every byte each way as a hexdump, each chunk headed by time, direction, peer and count" {
	head -c 3000 /dev/urandom >sent
	# "--trace ADDRESS": the word after --trace is the address, not a file
	start_server -m "$MODE" --trace 127.0.0.1:0 -- sh -c 'cat; printf "bye\r\n\001"'
	client "$ADDR" <sent >received
	wait_until 10 log_has '^\+[0-9]+\.[0-9]{6} > 127\.0\.0\.1:[0-9]+ end$'
	log_has '^\+[0-9]+\.[0-9]{6} < 127\.0\.0\.1:[0-9]+ [0-9]+ bytes$'
	log_has '^00000000  ([0-9a-f]{2} ){8} ([0-9a-f]{2} ){8} \|.{16}\|$'
	untrace "$SERVER_ERR" '<' >traced.in
	untrace "$SERVER_ERR" '>' >traced.out
	cmp sent traced.in
	cmp received traced.out
	assert_equal "$(wc -c <received)" 3006
}

@test "--trace=FILE with --log-format=json: one JSON line a chunk, the bytes in hex" {
	start_server -m "$MODE" --log-format=json --trace=trace.json 127.0.0.1:0 -- tr a-z A-Z
	run client "$ADDR" <<<"hello, json"
	assert_output "HELLO, JSON"
	wait_until 10 grep -q '"dir":">","elapsed":[0-9.]*,"offset":12,"bytes":0,"end":true' trace.json
	run python3 -c '
import json, sys
lines = [json.loads(l) for l in open("trace.json")]
ins = bytes.fromhex("".join(l.get("hex", "") for l in lines if l["dir"] == "<"))
outs = bytes.fromhex("".join(l.get("hex", "") for l in lines if l["dir"] == ">"))
assert all(l["event"] == "trace" and l["remote"].startswith("127.0.0.1:") for l in lines)
print(ins, outs)'
	assert_output "b'hello, json\\n' b'HELLO, JSON\\n'"
	# the trace is not in the log: the log stays one event a line
	run grep -c '"event":"trace"' "$SERVER_ERR"
	assert_output 0
}

@test "--trace of TLS is the plaintext (curl and openssl s_client)" {
	start_server -m "$MODE" --tls --trace=trace.txt 127.0.0.1:0 -- \
		sh -c 'sed -n "/^\r*$/q"; printf "HTTP/1.0 200 OK\r\n\r\nsecret body\n"'
	run curl -sS -k "https://$ADDR/path?x=1"
	assert_output "secret body"
	wait_until 10 grep -qE '^\+[0-9.]+ > 127\.0\.0\.1:[0-9]+ end$' trace.txt
	untrace trace.txt '<' | grep -a -q '^GET /path?x=1 HTTP/1.1'
	untrace trace.txt '>' | grep -a -q '^secret body$'
	: >trace.txt
	run openssl s_client -quiet -connect "$ADDR" <<<$'HEAD / HTTP/1.0\r\n\r'
	assert_output --partial "secret body"
	wait_until 10 grep -qE '^\+[0-9.]+ > 127\.0\.0\.1:[0-9]+ end$' trace.txt
	untrace trace.txt '<' | grep -a -q '^HEAD / HTTP/1.0'
}

@test "--record=DIR: each direction's bytes exactly, and a JSON summary" {
	head -c 200000 /dev/urandom >sent
	start_server -m "$MODE" --record=rec 127.0.0.1:0 -- sh -c 'cat; exit 3'
	client "$ADDR" <sent >received
	wait_until 10 sh -c 'ls rec/*.json >/dev/null 2>&1'
	local base
	base=$(ls rec/*.json)
	base=${base%.json}
	[[ $base =~ ^rec/[0-9]{8}T[0-9]{6}\.[0-9]{3}-127\.0\.0\.1-[0-9]+$ ]]
	cmp sent "$base.in"
	cmp received "$base.out"
	run python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["exit"], j["bytes_in"], j["bytes_out"], j["remote"].startswith("127.0.0.1:"), j["start"] <= j["end"])' "$base.json"
	assert_output "{'status': 3} 200000 200000 True True"
}

@test "--record: a directory that cannot be written is logged, and serving goes on" {
	start_server -m "$MODE" --record=rec 127.0.0.1:0 -- echo served
	rm -rf rec
	run client "$ADDR" </dev/null
	assert_output served
	wait_until 10 log_has '^sockserve: --record: cannot create rec/[0-9T.]+-127\.0\.0\.1-[0-9]+: No such file or directory \(serving goes on, unrecorded\)$'
	run client "$ADDR" </dev/null
	assert_output served
}

@test "--delay 0.4 delays the first byte by 0.4 s or more" {
	start_server -m "$MODE" --delay 0.4 127.0.0.1:0 -- echo hi
	run fc stream "$ADDR"
	assert_success
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.4 else 1)' "$(field "$output" first)"
	assert_equal "$(field "$output" data)" "hi"
}

@test "--throttle 50000: 100 kB take 1.8 s or more, each way" {
	start_server -m "$MODE" --throttle 50000 127.0.0.1:0 -- head -c 100000 /dev/zero
	run fc stream "$ADDR"
	assert_equal "$(field "$output" bytes)" 100000
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 1.8 else 1)' "$(field "$output" total)"
	# from the client: the handler has all of it 1.8 s or more after it began
	start_server -m "$MODE" --throttle 50k 127.0.0.1:0 -- sh -c 'wc -c'
	run fc stream --bytes 100000 --shut "$ADDR"
	assert_equal "$(field "$output" data)" "100000"
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 1.8 else 1)' "$(field "$output" total)"
}

@test "--cut-after 1000: exactly 1,000 bytes, then a reset" {
	start_server -m "$MODE" --cut-after 1000 127.0.0.1:0 -- head -c 100000 /dev/zero
	run fc stream "$ADDR"
	assert_equal "$(field "$output" bytes)" 1000
	assert_equal "$(field "$output" end)" reset
	# under TLS the count is of plaintext, and the connection ends abruptly
	start_server -m "$MODE" --tls --cut-after 1000 127.0.0.1:0 -- head -c 100000 /dev/zero
	run fc stream --tls "$ADDR"
	assert_equal "$(field "$output" bytes)" 1000
	refute_output --partial '"end": "eof"'
}

@test "--slice 10: every read of the client is 10 bytes or fewer" {
	start_server -m "$MODE" --slice 10 127.0.0.1:0 -- sh -c 'head -c 95 /dev/zero | tr "\0" x'
	run fc stream "$ADDR"
	assert_equal "$(field "$output" bytes)" 95
	assert_equal "$(field "$output" reads)" 10
}

@test "--stall-after: the bytes before, then nothing with the connection open, until --timeout" {
	start_server -m "$MODE" --stall-after 100 127.0.0.1:0 -- head -c 100000 /dev/zero
	run fc stream --timeout 1 "$ADDR"
	assert_equal "$(field "$output" bytes)" 100
	assert_equal "$(field "$output" end)" timeout
	start_server -m "$MODE" --stall-after 100 -T 1 127.0.0.1:0 -- head -c 100000 /dev/zero
	run fc stream --timeout 15 "$ADDR"
	assert_equal "$(field "$output" bytes)" 100
	refute_output --partial '"end": "timeout"'
	wait_until 10 log_has ': timed out after 1 s'
}

# json_count DIR: how many request summaries --record has written in DIR
# (each after its reply went out).
json_count() {
	find "$1" -name '*.json' 2>/dev/null | wc -l
}

# dgram_round_on ADDRESS N DIR: N packets from one client to a datagram
# server that records in DIR; its replies are in replies once the server has
# sent them all.
dgram_round_on() {
	local cpid
	rm -f replies ctl
	mkfifo ctl
	fc dgram --count "$2" "$1" <ctl >replies &
	cpid=$!
	exec 7>ctl
	wait_until 60 holds -ge "$2" json_count "$3"
	exec 7>&-
	wait "$cpid"
}

# dgram_round N ARGS...: the same against a new server with ARGS.
dgram_round() {
	local n=$1
	shift
	rm -rf rec
	start_server -m "$MODE" -t dgram --record=rec "$@" 127.0.0.1:0 -- cat
	dgram_round_on "$ADDR" "$n" rec
}

@test "--drop 50 with --seed drops the same replies each run; --duplicate 100 sends each twice" {
	dgram_round 10 --drop 50 --seed 7
	local first
	first=$(sort replies | tr '\n' ' ')
	# some dropped, not all; the summaries say which
	[ "$(wc -l <replies)" -gt 0 ] && [ "$(wc -l <replies)" -lt 10 ]
	assert_equal "$(grep -l '"replies":0' rec/*.json | wc -l)" "$((10 - $(wc -l <replies)))"
	kill -TERM "$SERVER_PID"
	wait_gone "$SERVER_PID" 10
	dgram_round 10 --drop 50 --seed 7
	assert_equal "$(sort replies | tr '\n' ' ')" "$first"
	dgram_round 5 --duplicate 100
	assert_equal "$(sort replies | tr '\n' ' ')" "p1 p1 p2 p2 p3 p3 p4 p4 p5 p5 "
}

@test "datagrams: --delay sends each reply later; --trace and --record show the packet and the reply" {
	start_server -m "$MODE" -t dgram --delay 0.3 --trace=trace.txt --record=rec 127.0.0.1:0 -- tr a-z A-Z
	run python3 -c '
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
start = time.monotonic()
s.sendto(b"ping", (host, int(port)))
reply = s.recv(100)
print(reply.decode(), time.monotonic() - start >= 0.3)' "$ADDR"
	assert_output "PING True"
	wait_until 10 sh -c 'ls rec/*.json >/dev/null 2>&1'
	assert_equal "$(cat rec/*.in)" ping
	assert_equal "$(cat rec/*.out)" PING
	grep -qE '^\+[0-9.]+ > 127\.0\.0\.1:[0-9]+ 4 bytes \(sent in 0\.300 s\)$' trace.txt
	grep -qE '^\+[0-9.]+ < 127\.0\.0\.1:[0-9]+ 4 bytes$' trace.txt
}

@test "the options combine: TLS with --trace, --record, --slice and --delay" {
	start_server -m "$MODE" --tls --trace=trace.txt --record=rec --slice 7 --delay 0.2 127.0.0.1:0 -- \
		sh -c 'printf "0123456789abcdefghij"'
	run fc stream --tls "$ADDR"
	assert_equal "$(field "$output" data)" 0123456789abcdefghij
	assert_equal "$(field "$output" reads)" 7
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.2 else 1)' "$(field "$output" first)"
	wait_until 10 sh -c 'ls rec/*.json >/dev/null 2>&1'
	assert_equal "$(cat rec/*.out)" 0123456789abcdefghij
	assert_equal "$(untrace trace.txt '>')" 0123456789abcdefghij
	# each slice went out on its own: three chunks of at most 7 bytes
	run grep -cE '^\+[0-9.]+ > 127\.0\.0\.1:[0-9]+ [0-7] bytes$' trace.txt
	assert_output 3
}

@test "the testing options: clear errors where they cannot apply" {
	run "$SOCKSERVE" -t dgram --slice 10 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--slice applies to stream sockets, not to 127.0.0.1:0 (inet dgram)"
	run "$SOCKSERVE" --drop 10 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--drop applies to datagram sockets (--type=dgram)"
	run "$SOCKSERVE" -t dgram --seed 3 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--seed makes --drop and --duplicate repeatable: it needs one of them"
	run "$SOCKSERVE" --wait --trace 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--wait hands the socket itself to COMMAND: --trace cannot apply"
	run "$SOCKSERVE" --tls --tls-hand-over --record=x 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--tls-hand-over gives the handler the socket itself: --record needs the relay"
	run "$SOCKSERVE" --throttle 5q 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--throttle: '5q' is not a rate in bytes a second (such as 50000, 50k or 2M)"
	run "$SOCKSERVE" --drop 101 -t dgram 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--drop: 101 is too large (0 to 100)"
	ln -s /nonexistent link
	run "$SOCKSERVE" --trace=link 127.0.0.1:0 -- cat
	assert_failure
	assert_output --partial "--trace: cannot open link: it is a symbolic link"
}

@test "under valgrind: trace, record and the faults on streams and datagrams, without an error" {
	valgrind_wrapper
	SOCKSERVE=$PWD/vg start_server --grace 5 -m "$MODE" --trace=trace.txt --record=rec --slice 4000 --delay 0.01 \
		--throttle 2M --cut-after 300000 127.0.0.1:0 -- cat
	run fc stream --bytes 200000 --shut --timeout 60 "$ADDR"
	assert_equal "$(field "$output" bytes)" 200000
	run fc stream --bytes 400000 --timeout 60 "$ADDR"
	assert_equal "$(field "$output" bytes)" 300000
	wait_until 60 status_shows 'status: 0 in progress, [0-9]+ handled, [0-9]+ failed'
	kill -TERM "$SERVER_PID"
	wait_gone "$SERVER_PID" 60
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
	SOCKSERVE=$PWD/vg start_server --grace 5 -m "$MODE" -t dgram --trace=trace2.txt --record=rec2 --delay 0.05 \
		--drop 30 --duplicate 30 --seed 1 127.0.0.1:0 -- cat
	dgram_round_on "$ADDR" 20 rec2
	kill -TERM "$SERVER_PID"
	wait_gone "$SERVER_PID" 60
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}
