#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The library's shape: no file of lib/ calls back up into a file that calls
# it (checked on the objects of the build under test), and the library never
# writes to stdout.

load test_helper/common

objdir() {
	if [ "$SOCKSERVE" = "$TOP/sockserve" ]; then
		echo "$TOP/build/release/lib"
	else
		echo "$(dirname "$SOCKSERVE")/lib"
	fi
}

@test "lib/ has no call cycle between its files" {
	[ -d "$(objdir)" ] || skip "no objects next to $SOCKSERVE"
	run python3 "$TOP/tests/helpers/layers.py" "$(objdir)" "$TOP/lib"
	assert_success
	# the server is on top, the leaves at the bottom
	assert_line --regexp '^[0-9]+: server$'
	assert_line --regexp '^0: .*\berror\b'
}

@test "the library writes nothing to stdout" {
	[ -d "$(objdir)" ] || skip "no objects next to $SOCKSERVE"
	local o
	for o in "$TOP"/lib/*.c; do
		o=$(objdir)/$(basename "$o" .c).o
		run nm -u "$o"
		refute_output --regexp '\b(printf|puts|putchar|stdout|fwrite|fputs)\b'
	done
}
