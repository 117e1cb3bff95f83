#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# kTLS: the hand-over of the socket itself where the kernel does TLS's record
# layer.  The kernel running the tests may have no "tls" module, so these
# run sockserve (this build) in a virtual machine with Debian's kernel
# (tests/helpers/ktls-vm, fetched by .ci/deps): one boot runs
# tests/helpers/ktls-guest.sh, in every mode, and each test reads what it
# found.  Without qemu or that kernel they are skipped.

load test_helper/common

VM=$TOP/tests/helpers/ktls-vm
KERNEL_DIR=${SS_KTLS_KERNEL:-$TOP/build/ktls}
MODES="sync fork thread"

setup_file() {
	export CONSOLE=$BATS_FILE_TMPDIR/console.log
	command -v qemu-system-x86_64 >/dev/null || return 0
	compgen -G "$KERNEL_DIR/boot/vmlinuz-*" >/dev/null || return 0
	"$VM" run "$KERNEL_DIR" "$SOCKSERVE" "$TOP/tests/helpers/ktls-guest.sh" "$CONSOLE.raw"
	tr -d '\r' <"$CONSOLE.raw" >"$CONSOLE"
}

setup() {
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (.ci/deps test)"
	compgen -G "$KERNEL_DIR/boot/vmlinuz-*" >/dev/null ||
		skip "no kernel under $KERNEL_DIR (tests/helpers/ktls-vm fetch $KERNEL_DIR)"
	grep -q '^=== guest end 0$' "$CONSOLE" || {
		echo "the virtual machine did not finish its script; its console:" >&2
		tail -n 40 "$CONSOLE" >&2
		return 1
	}
}

# found MODE NAME: what the guest reported as "CHECK MODE NAME: VALUE".
found() {
	sed -n "s/^CHECK $1 $2: //p" "$CONSOLE" | head -n 1
}

# guest_log MODE: sockserve's log in MODE.
guest_log() {
	sed -n "s/^CHECK $1 log: //p" "$CONSOLE"
}

@test "in a kernel with kTLS, -v says that the relay lets the kernel do the cipher, and --tls-hand-over gives the socket" {
	assert_equal "$(found all ulp)" "mptcp tls"
	local m
	for m in $MODES; do
		run guest_log "$m"
		assert_line --regexp '^sockserve: TLS with a throw-away self-signed certificate, SHA-256 fingerprint [0-9A-F:]+; the kernel offers kTLS: a connection whose cipher it takes in both directions gives the handler the socket itself \(--tls-hand-over\), others are relayed \(-vv tells which\)$'
		assert_line --regexp '^sockserve: TLS with a throw-away self-signed certificate, SHA-256 fingerprint [0-9A-F:]+; sockserve relays the plaintext, and the kernel does the cipher where it takes it \(kTLS; -vv tells which\)$'
	done
}

@test "--tls-hand-over, TLS 1.2 with AES-GCM: the handler's fd 0 and 1 are the socket itself, in every mode; the client gets close_notify" {
	local m
	for m in $MODES; do
		assert_equal "$(found "$m" 'tls12 exit')" 0
		run found "$m" 'tls12 answer'
		assert_output --regexp '^got hello TLSv1\.2 fd0=socket:\[([0-9]+)\] fd1=socket:\[\1\] $'
		assert_equal "$(found "$m" 'tls12 unexpected eof')" 0
		run guest_log "$m"
		assert_line --regexp ': TLS handshake done: TLSv1\.2 ECDHE-ECDSA-AES256-GCM-SHA384, kTLS \(the handler gets the socket\)$'
	done
}

@test "by default TLS 1.2 with AES-GCM is relayed, kTLS both ways; TLS 1.3 (OpenSSL 3.0 gives the kernel only its sending side) and a CBC cipher are relayed" {
	local m
	for m in $MODES; do
		run found "$m" 'relay12 answer'
		assert_output --regexp '^got hello TLSv1\.2 fd0=pipe:\[[0-9]+\] fd1=pipe:\[[0-9]+\] $'
		assert_equal "$(found "$m" 'relay12 unexpected eof')" 0
		run found "$m" 'tls13 answer'
		assert_output --regexp '^got hello TLSv1\.3 fd0=pipe:\[[0-9]+\] fd1=pipe:\[[0-9]+\] $'
		run found "$m" 'cbc answer'
		assert_output --regexp '^got hello TLSv1\.2 fd0=pipe:'
		assert_equal "$(found "$m" 'tls13 unexpected eof')" 0
		run guest_log "$m"
		assert_line --regexp ': TLS handshake done: TLSv1\.3 TLS_AES_256_GCM_SHA384, relayed \(kTLS sends, OpenSSL receives\)$'
		assert_line --regexp ': TLS handshake done: TLSv1\.2 ECDHE-ECDSA-AES128-SHA256, relayed$'
		assert_line --regexp ': TLS handshake done: TLSv1\.2 ECDHE-ECDSA-AES256-GCM-SHA384, relayed \(kTLS both ways\)$'
	done
}

@test "1 MiB each way arrives intact, through the handed-over socket and through the relay" {
	local m how up down
	up=$(found all up) down=$(found all down)
	[ ${#up} -eq 64 ] && [ ${#down} -eq 64 ]
	for m in $MODES; do
		for how in ktls relay; do
			assert_equal "$(found "$m" "mib-$how exit")" 0
			assert_equal "$(found "$m" "mib-$how first")" "$up"
			assert_equal "$(found "$m" "mib-$how rest")" "$down"
		done
		# the relay moved the bytes with splice(2), the kernel doing the
		# cipher: sockserve read no more than when the handler had the socket
		# (a relay through its buffers would have read the 2 MiB itself)
		local io relayed handed
		for io in rchar wchar; do
			relayed=$(found "$m" "mib-relay $io") handed=$(found "$m" "mib-ktls $io")
			[ "$relayed" -gt 0 ] && [ "$handed" -gt 0 ]
			[ $((relayed - handed)) -lt 262144 ]
		done
	done
}

@test "a client's close_notify: an error (EIO) for the handler on the handed-over socket, end of file through the relay" {
	local m
	for m in $MODES; do
		assert_equal "$(found "$m" 'notify-ktls handler')" "cat 1 cat: read error: Input/output error"
		assert_equal "$(found "$m" 'notify-relay handler')" "cat 0 "
	done
}

@test "-T ends a handler, on the handed-over socket and through the relay; the next request is served" {
	local m how
	for m in $MODES; do
		for how in ktls relay; do
			assert_equal "$(found "$m" "timeout1-$how answer")" "started one "
			assert_equal "$(found "$m" "timeout2-$how answer")" "started two "
		done
		run guest_log "$m"
		assert_line --regexp ': end, handler pid [0-9]+ killed by signal 15 \(Terminated\) after 1[0-9]{3}\.[0-9] ms$'
	done
}

@test "--log-format json: the tls event says path ktls; a handed-over handshake says so" {
	local m
	for m in $MODES; do
		assert_equal "$(found "$m" 'json answer')" "json "
		run sed -n "s/^CHECK $m json: //p" "$CONSOLE"
		assert_line --regexp '"event":"tls","certificate":"throw-away","sha256":"[0-9A-F:]+","path":"ktls","ktls":1,'
		assert_line --regexp '"event":"tls_handshake","remote":"127\.0\.0\.1:[0-9]+","tls":"TLSv1\.2 ECDHE-ECDSA-AES256-GCM-SHA384, kTLS \(the handler gets the socket\)"'
	done
}

@test "no sanitizer report in the guest (when SOCKSERVE is a sanitizer build)" {
	run grep -E 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$CONSOLE"
	assert_failure 1
}
