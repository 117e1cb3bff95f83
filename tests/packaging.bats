#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Packaging: the version in one place, a hardened build from Debian's flags,
# a source tarball that builds, make install that installs only, a man page
# that lints clean.  Checked once, with the normal build.

load test_helper/common

setup() {
	STARTED_PIDS=()
	SERVER_ERR=$BATS_TEST_TMPDIR/server.err
	: >"$SERVER_ERR"
	[ "$SOCKSERVE" = "$TOP/sockserve" ] || skip "packaging is checked once, with the normal build"
	cd "$BATS_TEST_TMPDIR" || return 1
}

@test "the version is in one place, VERSION; --version and the installed man page say it" {
	local version
	version=$(cat "$TOP/VERSION")
	run "$SOCKSERVE" --version
	assert_output "sockserve $version"
	# (debian/changelog must repeat it for Debian's tools: the package test
	# checks that the two agree)
	run git -C "$TOP" grep -lF "$version" -- ':!VERSION' ':!docs' ':!README.md' ':!debian/changelog' ':!CHANGELOG.md'
	assert_output ""
	make -s -C "$TOP" install DESTDIR="$PWD/root" PREFIX=/usr >/dev/null
	run grep '^\.TH' root/usr/share/man/man1/sockserve.1
	assert_output --partial "\"sockserve $version\""
}

@test "make install installs what make built, and never calls apt-get" {
	mkdir bin
	printf '#!/bin/sh\necho "apt-get was called" >>"%s/called"\nexit 1\n' "$PWD" >bin/apt-get
	chmod +x bin/apt-get
	PATH=$PWD/bin:$PATH run make -s -C "$TOP" install DESTDIR="$PWD/root" PREFIX=/usr
	assert_success
	[ ! -e called ]
	[ -x root/usr/bin/sockserve ]
	[ -f root/usr/share/man/man1/sockserve.1 ]
	[ -f root/usr/share/bash-completion/completions/sockserve ]
	# on zsh's own fpath for its prefix (/usr/local/share/zsh/site-functions)
	[ -f root/usr/share/zsh/site-functions/_sockserve ]
	[ -f root/usr/share/fish/vendor_completions.d/sockserve.fish ]
}

@test "a build with dpkg-buildflags (hardening=+all) is hardened: fortify, PIE, relro, now" {
	command -v hardening-check >/dev/null || skip "no hardening-check (devscripts)"
	(
		export DEB_BUILD_MAINT_OPTIONS=hardening=+all
		eval "$(dpkg-buildflags --export=sh)"
		make -s -C "$TOP" OUT="$PWD/out" PROGRAM="$PWD/out/sockserve" all
	) >build.log 2>&1 || { cat build.log; return 1; }
	run hardening-check --nocfprotection out/sockserve
	assert_success
	assert_line --partial "Fortify Source functions: yes"
	assert_line --partial "Position Independent Executable: yes"
	assert_line --partial "Read-only relocations: yes"
	assert_line --partial "Immediate binding: yes"
}

@test "make dist: a tarball of the tracked files that builds on its own" {
	local version
	version=$(cat "$TOP/VERSION")
	git -C "$TOP" diff --quiet HEAD -- || skip "uncommitted changes: make dist packs HEAD"
	run make -s -C "$TOP" dist
	assert_success
	tar -xzf "$TOP/build/sockserve-$version.tar.gz"
	make -s -C "sockserve-$version" sockserve >build.log 2>&1 || { cat build.log; return 1; }
	run "sockserve-$version/sockserve" --version
	assert_output "sockserve $version"
	[ -f "sockserve-$version/LICENSE" ]
}

@test "the man page lints clean (mandoc -Tlint)" {
	command -v mandoc >/dev/null || skip "no mandoc"
	run mandoc -Tlint "$TOP/man/sockserve.1"
	assert_success
	assert_output ""
}

@test "dpkg-buildpackage builds a .deb with the binary, the man page and the completions; lintian finds no error" {
	command -v dpkg-buildpackage >/dev/null && command -v lintian >/dev/null || skip "no dpkg-buildpackage or lintian"
	git -C "$TOP" diff --quiet HEAD -- || skip "uncommitted changes: the package is built from HEAD"
	local version
	version=$(cat "$TOP/VERSION")
	# debian/changelog must name the same version (Debian's tools read it there)
	run dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version
	assert_output "$version-1"
	git -C "$TOP" archive --format=tar --prefix="sockserve-$version/" HEAD | tar -x
	(cd "sockserve-$version" && dpkg-buildpackage -us -uc -b) >build.log 2>&1 || { tail -n 30 build.log; return 1; }
	local deb=sockserve_${version}-1_$(dpkg --print-architecture).deb
	run dpkg -c "$deb"
	assert_line --regexp ' \./usr/bin/sockserve$'
	assert_line --regexp ' \./usr/share/man/man1/sockserve\.1\.gz$'
	assert_line --regexp ' \./usr/share/bash-completion/completions/sockserve$'
	assert_line --regexp ' \./usr/share/zsh/vendor-completions/_sockserve$'
	assert_line --regexp ' \./usr/share/fish/vendor_completions\.d/sockserve\.fish$'
	# the example units, as the man page says
	assert_line --regexp ' \./usr/share/doc/sockserve/examples/sockserve-echo\.socket$'
	assert_line --regexp ' \./usr/share/doc/sockserve/examples/sockserve-echo\.service$'
	run lintian --no-tag-display-limit "$deb"
	refute_line --regexp '^E: '
	# and what it installs runs
	dpkg -x "$deb" root
	run root/usr/bin/sockserve --version
	assert_output "sockserve $version"
}

@test "CHANGELOG.md has an entry for VERSION, newest first, back to 0.1.0" {
	local version
	version=$(cat "$TOP/VERSION")
	run grep -m1 -E '^## [0-9]' "$TOP/CHANGELOG.md"
	assert_output --regexp "^## $version - [0-9]{4}-[0-9]{2}-[0-9]{2}\$"
	grep -qE '^## 0\.1\.0 - ' "$TOP/CHANGELOG.md"
}

@test "make run serves the demo, and its hint's client (bash's /dev/tcp, no netcat) gets the answer" {
	local port
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	make -s -C "$TOP" run DEMO_PORT="$port" >run.out 2>run.err &
	local maker=$!
	STARTED_PIDS+=("$maker")
	wait_until 60 grep -q "listening on 127.0.0.1:$port" run.err
	local hint
	hint=$(grep -o "bash -c '.*'" run.out)
	[ -n "$hint" ]
	run timeout 10 sh -c "$hint"
	assert_output "HELLO"
	pkill -TERM -f "sockserve -v 127.0.0.1:$port" || true
	wait_gone "$maker" 20
}
