#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# --ws: WebSocket (RFC 6455) with real clients: python3-websockets, node's ws
# and headless Chromium (Debian's packages), ws and wss, in every mode.

load test_helper/common

WSC=$TOP/tests/helpers/wsclient.py
# Debian's Python, where python3-websockets is (a python3 earlier on PATH may
# be another)
PY=/usr/bin/python3


needs_websockets() {
	"$PY" -c 'import websockets' 2>/dev/null || skip "python3-websockets is not installed (.ci/deps test installs it)"
}

wsc() {
	"$PY" "$WSC" "$@"
}

@test "python3-websockets: text, binary, 70 kB, ping, fragments and the close, over ws and wss" {
	needs_websockets
	start_server -m "$MODE" --ws 127.0.0.1:0 -- cat
	run wsc roundtrip "ws://$ADDR/"
	assert_success
	assert_output $'text \'hello\'\nbinary b\'\\x00\\xffbin\'\nbig 70000\npong\nfragments \'frag1frag2\'\nclose 1000'
	start_server -m "$MODE" --ws --tls 127.0.0.1:0 -- cat
	run wsc roundtrip "wss://$ADDR/"
	assert_success
	assert_output $'text \'hello\'\nbinary b\'\\x00\\xffbin\'\nbig 70000\npong\nfragments \'frag1frag2\'\nclose 1000'
}

@test "node's ws: text, binary, 70 kB, ping and the close, over ws and wss" {
	command -v node >/dev/null || skip "node is not installed (.ci/deps test installs it)"
	NODE_PATH=/usr/share/nodejs node -e 'require("ws")' 2>/dev/null || skip "node-ws is not installed"
	start_server -m "$MODE" --ws 127.0.0.1:0 -- cat
	run env NODE_PATH=/usr/share/nodejs node "$TOP/tests/helpers/wsclient.js" "ws://$ADDR/"
	assert_output $'text hello\nbinary 00ff62696e\nbig 70000\npong\nclose 1000'
	start_server -m "$MODE" --ws --tls 127.0.0.1:0 -- cat
	run env NODE_PATH=/usr/share/nodejs node "$TOP/tests/helpers/wsclient.js" "wss://$ADDR/"
	assert_output $'text hello\nbinary 00ff62696e\nbig 70000\npong\nclose 1000'
}

@test "the handler's environment: CGI's variables and a header each, beside TCPREMOTEIP" {
	needs_websockets
	start_server -m "$MODE" --ws 127.0.0.1:0 -- sh -c 'for v in REQUEST_METHOD REQUEST_URI PATH_INFO QUERY_STRING SERVER_PROTOCOL REMOTE_ADDR HTTP_ORIGIN HTTP_USER_AGENT TCPREMOTEIP; do eval "echo $v=\$$v"; done; test "$REMOTE_PORT" = "$TCPREMOTEPORT" && echo port-ok'
	run wsc listen "ws://$ADDR/app/room?x=1&y=%20" --origin http://example.test
	assert_success
	assert_line "REQUEST_METHOD=GET"
	assert_line "REQUEST_URI=/app/room?x=1&y=%20"
	assert_line "PATH_INFO=/app/room"
	assert_line "QUERY_STRING=x=1&y=%20"
	assert_line "SERVER_PROTOCOL=HTTP/1.1"
	assert_line "REMOTE_ADDR=127.0.0.1"
	assert_line "HTTP_ORIGIN=http://example.test"
	assert_line --regexp '^HTTP_USER_AGENT=Python/.* websockets/'
	assert_line "TCPREMOTEIP=127.0.0.1"
	assert_line "port-ok"
	assert_line "close 1000 "
}

@test "inherited CGI and HTTP_ variables never reach a WebSocket handler; a Proxy header gives no HTTP_PROXY" {
	needs_websockets
	REQUEST_URI=/stale HTTP_COOKIE=stale start_server -m "$MODE" --ws 127.0.0.1:0 -- \
		sh -c 'echo "uri=$REQUEST_URI cookie=${HTTP_COOKIE-unset} proxy=${HTTP_PROXY-unset}"'
	run "$PY" - "$ADDR" <<'PY'
import asyncio, sys, websockets
async def main():
    async with websockets.connect("ws://%s/fresh" % sys.argv[1], extra_headers={"Proxy": "http://evil.test:1"}) as ws:
        print(await ws.recv())
asyncio.run(main())
PY
	assert_output "uri=/fresh cookie=unset proxy=unset"
}

@test "the close: 1000 for exit 0, 1011 with the status otherwise, 1011 at --timeout; the client's close ends the handler's input" {
	needs_websockets
	start_server -m "$MODE" --ws 127.0.0.1:0 -- sh -c 'echo bye; exit 3'
	run wsc listen "ws://$ADDR/"
	assert_output $'bye\nclose 1011 the handler exited with status 3'
	start_server -m "$MODE" --ws -T 1 127.0.0.1:0 -- sleep 30
	run wsc listen "ws://$ADDR/"
	assert_output "close 1011 timed out"
	start_server -m "$MODE" -v --ws 127.0.0.1:0 -- sh -c 'cat >got; echo "input ended" >>got'
	"$PY" - "$ADDR" <<'PY'
import asyncio, sys, websockets
async def main():
    async with websockets.connect("ws://%s/" % sys.argv[1]) as ws:
        await ws.send("last words")
asyncio.run(main())
PY
	wait_until 10 grep -q "input ended" got
	assert_equal "$(cat got)" $'last words\ninput ended'
}

@test "the client's close: answered, then the connection is closed at once, not when the handler ends" {
	start_server -m "$MODE" --ws -T 60 127.0.0.1:0 -- sh -c 'echo $$ >pid; cat >/dev/null; exec sleep 60'
	run "$PY" - "$ADDR" "$TOP/tests/helpers" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from wsraw import upgrade
s, head, rest = upgrade(sys.argv[1])
print(head[0].decode())
s.sendall(b"\x88\x82\0\0\0\0\x03\xe8")  # close 1000, masked with zeros
while True:
    b = s.recv(4096)
    if not b:
        break
    rest += b
print("close", rest.hex(), "then end of file")
PY
	assert_success
	assert_output $'HTTP/1.1 101 Switching Protocols\nclose 880203e8 then end of file'
	# the handler still runs (it may not have written its pid yet): the end
	# of file did not wait for it
	wait_until 10 test -s pid
	kill -0 "$(cat pid)"
	kill "$(cat pid)"
}

@test "--ws-origin: another origin gets 403; --ws-protocol: the client's first listed one is agreed" {
	needs_websockets
	start_server -m "$MODE" --ws --ws-origin https://good.test,http://also.test --ws-protocol chat,v2 127.0.0.1:0 -- echo ok
	run wsc refused "ws://$ADDR/" --origin https://evil.test
	assert_output "status 403"
	run wsc refused "ws://$ADDR/"
	assert_output "status 403"
	run wsc listen "ws://$ADDR/" --origin http://also.test --protocol v2
	assert_output $'protocol v2\nok\nclose 1000 '
	wait_until 10 log_has 'WebSocket upgrade refused with 403: its Origin is not one of --ws-origin'
}

@test "not an upgrade: a plain GET gets 426 at once, a bad key 400, and the connection is closed" {
	start_server -m "$MODE" --ws 127.0.0.1:0 -- echo never
	run curl -sS -i --max-time 5 "http://$ADDR/"
	assert_line --index 0 --regexp '^HTTP/1.1 426 Upgrade Required'
	assert_line --regexp '^Sec-WebSocket-Version: 13'
	run curl -sS -i --max-time 5 -H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: not-a-key' "http://$ADDR/"
	assert_line --index 0 --regexp '^HTTP/1.1 400 Bad Request'
	assert_line --regexp 'Sec-WebSocket-Key is not 16 bytes in base64'
	run curl -sS -i --max-time 5 -H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 8' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "http://$ADDR/"
	assert_line --index 0 --regexp '^HTTP/1.1 400 Bad Request'
	# garbage: 400, and nothing ran
	run python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall(b"\x16\x03\x01 not http\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())' "$ADDR"
	assert_output "HTTP/1.1 400 Bad Request"
	run grep -c "start, handler" "$SERVER_ERR"
	assert_output 0
}

@test "--ws-max-message: a larger message closes with 1009; --ws-binary: messages as raw bytes" {
	needs_websockets
	start_server -m "$MODE" --ws --ws-max-message 1000 127.0.0.1:0 -- cat
	run wsc listen "ws://$ADDR/" --send "$(head -c 2000 /dev/zero | tr '\0' x)"
	assert_output "close 1009 the message is larger than --ws-max-message"
	start_server -m "$MODE" --ws --ws-binary 127.0.0.1:0 -- sh -c 'head -c 3 | tr a-z A-Z'
	run wsc listen "ws://$ADDR/" --binary --send abc
	assert_output $'b\'ABC\'\nclose 1000 '
}

@test "200 connections at once, each echoing 100 messages" {
	needs_websockets
	start_server -m "$MODE" --ws -c 250 127.0.0.1:0 -- cat
	run wsc many "ws://$ADDR/" 200 100
	assert_output "ok 20000"
}

@test "it composes: a unix socket, --workers, --proxy-protocol before the upgrade, --trace of the messages" {
	needs_websockets
	start_server -m "$MODE" --ws ./ws.sock -- cat
	run "$PY" - "$PWD/ws.sock" <<'PY'
import asyncio, sys, websockets
async def main():
    async with websockets.unix_connect(sys.argv[1], "ws://localhost/") as ws:
        await ws.send("over unix")
        print(await ws.recv())
asyncio.run(main())
PY
	assert_output "over unix"
	start_server -m "$MODE" --ws --workers 2 127.0.0.1:0 -- cat
	run wsc many "ws://$ADDR/" 20 5
	assert_output "ok 100"
	start_server -m "$MODE" --ws --proxy-protocol 127.0.0.1:0 -- sh -c 'echo "$TCPREMOTEIP $REMOTE_ADDR"'
	run python3 -c '
import sys
sys.path.insert(0, sys.argv[2])
from wsraw import upgrade
s, head, frames = upgrade(sys.argv[1], b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\n", b"192.0.2.7 192.0.2.7")
print(head[0].decode(), [l for l in head if l.startswith(b"Sec-WebSocket-Accept")][0].decode())
print(frames[2:2 + (frames[1] & 0x7f)].decode())  # the first frame (a close may follow in the same read)' "$ADDR" "$TOP/tests/helpers"
	assert_line --index 0 "HTTP/1.1 101 Switching Protocols Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	assert_line --index 1 "192.0.2.7 192.0.2.7"
	start_server -m "$MODE" --ws --trace=trace.txt 127.0.0.1:0 -- sh -c 'read -r l; echo "$l" | tr a-z A-Z'
	run wsc listen "ws://$ADDR/" --send "traced message"
	assert_output $'TRACED MESSAGE\nclose 1000 '
	wait_until 10 grep -qE '^\+[0-9.]+ > 127\.0\.0\.1:[0-9]+ end$' trace.txt
	grep -q '|traced message.|' trace.txt
	grep -q '|TRACED MESSAGE.|' trace.txt
}

@test "a real browser: headless Chromium opens a WebSocket, a shell handler answers, the page shows it" {
	needs_websockets
	command -v chromium >/dev/null || skip "chromium is not installed (.ci/deps test installs it)"
	start_server -m "$MODE" --ws 127.0.0.1:0 -- sh -c 'read -r line; echo "the shell got: $line"'
	cat >page.html <<HTML
<!DOCTYPE html>
<html><body><p id="out">waiting</p><script>
const ws = new WebSocket("ws://$ADDR/chat");
ws.onopen = () => ws.send("hello from " + navigator.userAgent.split(" ")[0]);
ws.onmessage = (e) => { document.getElementById("out").textContent = e.data; };
ws.onerror = () => { document.getElementById("out").textContent = "error"; };
</script></body></html>
HTML
	run "$PY" "$TOP/tests/helpers/browser.py" page.html out waiting 60
	assert_success
	assert_output "the shell got: hello from Mozilla/5.0"
}

@test "--ws: clear errors where it cannot apply" {
	run "$SOCKSERVE" --ws-binary 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--ws-binary needs --ws"
	run "$SOCKSERVE" --ws -t dgram 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--ws applies to stream sockets"
	run "$SOCKSERVE" --ws --wait 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--ws cannot apply"
	run "$SOCKSERVE" --ws --ws-max-message 0 127.0.0.1:0 -- cat
	assert_failure 64
	assert_output --partial "--ws-max-message: 0 is too small"
}

@test "under valgrind: upgrades, messages both ways, a refused upgrade, a -T close, without an error" {
	needs_websockets
	valgrind_wrapper
	SOCKSERVE=$PWD/vg start_server --grace 5 -m "$MODE" --ws --tls --ws-origin http://ok.test -T 8 127.0.0.1:0 -- cat
	run wsc roundtrip "wss://$ADDR/" --origin http://ok.test --timeout 60
	assert_line "close 1000"
	run wsc refused "wss://$ADDR/" --origin http://no.test --timeout 60
	assert_output "status 403"
	run wsc many "wss://$ADDR/" 5 20 --origin http://ok.test --timeout 60
	assert_output "ok 100"
	wait_until 60 status_shows 'status: 0 in progress, 6 handled'
	kill -TERM "$SERVER_PID"
	wait_gone "$SERVER_PID" 60
	reap "$SERVER_PID"
	assert_equal "$EXIT_STATUS" 0
}
