#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Docs that are tested: every command example of the README and the man page
# is in the table below, either run here against a real client (its ADDRESS
# made a free loopback port or a path of the test's, --print-address added,
# placeholder programs such as ./handler made stubs that answer "handler ok")
# or marked not runnable, with the reason.

load test_helper/common

DOCS=("$TOP/README.md" "$TOP/man/sockserve.1")
DATE='^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} [A-Z]+ 20[0-9]{2}$'

# EXAMPLE|CLIENT|REPLY (an extended regex), or EXAMPLE|not runnable|WHY.
examples() {
	cat <<EOF_TABLE
sockserve --print-address 127.0.0.1:0 -- cat|stream|^hello$
sockserve -m sync -v 8080 -- sh -c 'read l; echo "you said \$l"'|stream|^you said hello$
sockserve -6 '[::1]:7000' -- date|silent|$DATE
sockserve ./date.sock -- date|silent|$DATE
sockserve @clock -- date|silent|$DATE
sockserve -s 127.0.0.1:8081 'sed -n "/^\r*\$/q"; printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhi from \$TCPREMOTEIP\n"'|curl /|^hi from 127\.0\.0\.1$
sockserve -c 4 --stderr=socket 127.0.0.1:9000 -- ./slow-job|stream|^slow-job ok$
sockserve -m thread -c 100 127.0.0.1:9000 -- ./handler|stream|^handler ok$
sockserve -m thread -c 200 -T 5 127.0.0.1:9000 -- ./handler|stream|^handler ok$
sockserve -t dgram --print-address 127.0.0.1:0 -- tr a-z A-Z|dgram|^HELLO$
sockserve -t dgram -6 '[::1]:5300' -- ./answer-query|dgram|^answer-query ok$
sockserve -t dgram ./dg.sock -- wc -c|dgram|^5$
sockserve -t dgram -m sync --max-packet 65000 127.0.0.1:9999 -- cat|dgram|^hello$
sockserve --once --print-address 127.0.0.1:0 -- ./fake-backend|stream|^fake-backend ok$
sockserve --idle-timeout 5 -T 2 ./test.sock -- ./handler|stream|^handler ok$
sockserve --socket-mode 660 /run/app/app.sock -- ./app|stream|^app ok$
sockserve 127.0.0.1:8080 -- busybox httpd -i -h ./www|curl /index.html|^a page$
sockserve --wait -t dgram 127.0.0.1:69 -- /usr/sbin/in.tftpd -s /srv/tftp|not runnable|needs a tftp root: integration.bats runs this command with the real tftp client
sockserve --wait -t dgram 69 -- /usr/sbin/in.tftpd -s /srv/tftp|not runnable|needs a tftp root: integration.bats runs this command with the real tftp client
sockserve 127.0.0.1:9418 -- git daemon --inetd --export-all --base-path=/srv/git /srv/git|not runnable|needs repositories: integration.bats clones through this command
sockserve fd:0 -- ./hello|not runnable|its socket comes from inetd on stdin: integration.bats passes one (fd:0)
sockserve -u nobody 79 -- /usr/sbin/in.fingerd|not runnable|in.fingerd is not installed; -u is tested in privileges.bats
sockserve -u nobody --allow 10.0.0.0/8 --deny 10.0.0.66 --max-per-ip 2 --pidfile /run/finger.pid 79 -- ./finger|not runnable|serves 10.0.0.0/8 only, never loopback; access.bats and privileges.bats test each option
sudo sockserve -u nobody --allow 10.0.0.0/8 --deny 10.0.0.66 --pidfile /run/hello.pid 79 -- ./finger|not runnable|serves 10.0.0.0/8 only, never loopback; access.bats and privileges.bats test each option
sockserve alias --dev -v -m sync --log-format=json|not runnable|a line of ~/.popt: cli.bats tests popt aliases
systemd-run --user --unit=hello -p Type=notify sockserve -v 8080 -- ./hello|not runnable|needs a user systemd instance; integration.bats tests Type=notify's protocol with a real notify socket
systemd-socket-activate -l /run/hello.sock sockserve systemd -- ./hello|not runnable|integration.bats runs the real systemd-socket-activate on a path of its own
systemd-socket-activate --datagram -l 127.0.0.1:8080 sockserve systemd -- ./hello|not runnable|systemd-socket-activate cannot bind port 0: integration.bats runs --datagram on a unix path
sockserve --workers 4 -c 160 127.0.0.1:8080 -- ./handler|stream|^handler ok$
sockserve --reuse-port --pidfile /run/app.\$i.pid 8080 -- ./handler &|not runnable|a line of a shell loop; workers.bats runs two --reuse-port instances on one port
sockserve --proxy-protocol 10.0.0.11:8080 -- ./handler|not runnable|binds a balancer's network, never loopback; proxy.bats runs --proxy-protocol behind a real HAProxy
sockserve --tls 127.0.0.1:8443 -- ./http-handler|not runnable|needs a TLS client: tls.bats runs --tls with openssl s_client, curl and a Python client
sockserve --tls-cert cert.pem --tls-key key.pem --tls-alpn http/1.1 0.0.0.0:443 -- ./http-handler|not runnable|binds port 443 on every address, with a certificate of its own: tls.bats runs --tls-cert with curl --cacert
sockserve --tls-cert cert.pem --tls-key key.pem --tls-client-ca clients.pem 127.0.0.1:9993 -- ./whoami|not runnable|needs a PKI: tls.bats makes one and tests --tls-client-ca
sockserve --tls -s 127.0.0.1:8443 'sed -n "/^\r*\$/q"; printf "HTTP/1.0 200 OK\r\n\r\nhello over %s\n" "\$SSL_PROTOCOL"'|not runnable|needs an HTTPS client: tls.bats runs this handler with curl -k
sockserve --trace 127.0.0.1:8080 -- ./handler|stream|^handler ok$
sockserve --record=rec 127.0.0.1:8080 -- ./handler|stream|^handler ok$
sockserve --slice=1 127.0.0.1:8080 -- ./reply|stream|^reply ok$
sockserve --delay=0.3 --throttle=20k 127.0.0.1:8080 -- ./handler|stream|^handler ok$
sockserve --cut-after=1000 127.0.0.1:8080 -- ./big-reply|stream|^big-reply ok$
sockserve --stall-after=100 -T 30 127.0.0.1:8080 -- ./big-reply|stream|^big-reply ok$
sockserve -t dgram --drop=20 --duplicate=5 --seed=1 127.0.0.1:5353 -- ./dns|dgram|^dns ok$
sockserve --ws 127.0.0.1:8080 -- ./chat.sh|not runnable|needs a WebSocket client: ws.bats drives python3-websockets, node's ws and headless Chromium against --ws
sockserve --ws --tls --ws-origin https://app.example 8443 -- ./feed|not runnable|needs a wss:// client with that origin: ws.bats tests --tls and --ws-origin with python3-websockets
sockserve --ws --ws-binary ./ws.sock -- ./decoder|not runnable|needs a WebSocket client on a unix socket: ws.bats runs --ws on one
sockserve --max-per-ip 2 --refuse-message='busy, try later\r\n' 127.0.0.1:2323 -- ./handler|stream|^handler ok$
sockserve --keepalive=30,5,3 --ws 127.0.0.1:8080 -- ./feed|not runnable|needs a WebSocket client: operations.bats tests --keepalive, ws.bats --ws
sockserve --rules=/etc/sockserve/rules 127.0.0.1:2324 -- ./handler|not runnable|needs a rules file in /etc: access.bats runs --rules with files of its own, rewritten while it serves
EOF_TABLE
}

@test "every example in the README and the man page is run here or marked not runnable" {
	local listed missing=0 ex
	listed=$(examples | cut -d'|' -f1)
	while IFS= read -r ex; do
		if ! grep -qxF -- "$ex" <<<"$listed"; then
			echo "an example that is neither run nor marked: $ex" >&2
			missing=1
		fi
	done < <(python3 "$TOP/tests/helpers/docrun.py" list "${DOCS[@]}" | sort -u)
	# and the table has no example the docs dropped
	while IFS= read -r ex; do
		if ! python3 "$TOP/tests/helpers/docrun.py" list "${DOCS[@]}" | grep -qxF -- "$ex"; then
			echo "in the table but in neither document: $ex" >&2
			missing=1
		fi
	done <<<"$listed"
	[ "$missing" -eq 0 ]
}

@test "the runnable examples work as written, with real clients" {
	mkdir www
	echo "a page" >www/index.html
	local ex client want ran=0
	while IFS='|' read -r ex client want; do
		[ "$client" = "not runnable" ] && continue
		run python3 "$TOP/tests/helpers/docrun.py" run "$SOCKSERVE" "$PWD" "$ex" "$client"
		if [ "$status" -ne 0 ] || ! grep -qE -- "${want/^/^reply: }" <<<"${lines[0]}" || [ "${lines[1]}" != "exit 0" ]; then
			echo "example: $ex" >&2
			echo "wanted: $want; got: $output" >&2
			return 1
		fi
		ran=$((ran + 1))
	done < <(examples)
	[ "$ran" -ge 15 ]
}

@test "check-docs (shared tools): the man page and every completion list every option of --help" {
	local tool=$TOP/../shared/tools/check-docs
	[ -x "$tool" ] || skip "no shared/tools/check-docs beside the checkout"
	cd "$TOP"
	run "$tool" "$SOCKSERVE"
	assert_success
	assert_output "check-docs: man page and completions list every option of --help"
}
