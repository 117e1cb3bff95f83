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

@test "only server.c and workers.c include server.h; the others are handed the view" {
	[ -d "$(objdir)" ] || skip "no objects next to $SOCKSERVE"
	run grep -l '^#include "server.h"' "$TOP"/lib/*.c "$TOP"/lib/*.h
	assert_success
	assert_output "$TOP/lib/server.c
$TOP/lib/workers.c"
	# and the check fails when another file includes it
	local src="$BATS_TEST_TMPDIR/lib"
	cp -r "$TOP/lib" "$src"
	sed -i '0,/^#include/s//#include "server.h"\n&/' "$src/request.c"
	run python3 "$TOP/tests/helpers/layers.py" "$(objdir)" "$src"
	assert_failure
	assert_output --partial "request.c includes server.h"
}

@test "struct ss_server has at most 25 fields" {
	run python3 - "$TOP/lib/server.h" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
body = re.search(r"struct ss_server \{(.*?)\n\};", text, re.S).group(1)
body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
print(len([l for l in body.split(";") if l.strip()]))
PY
	assert_success
	[ "$output" -le 25 ]
}
