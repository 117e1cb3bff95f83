#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The C unit tests of tests/unit/ (built by `make helpers`, with ASan and
# UBSan): each prints TAP-like lines and fails on a failed check.

load test_helper/common

@test "loop: a watch dropped and added again in one batch gets no event of its old registration" {
	run "$TOP/build/unit/loop"
	assert_success
	refute_output --partial "not ok"
	assert_output --partial "ok 4 - "
}

@test "config: each rule of config_check, as a config and the error it gives (or none)" {
	run "$TOP/build/unit/config"
	assert_success
	refute_output --partial "not ok"
	assert_output --partial "ok 39 - "
}

@test "opening: the bound, eviction of the one idle longest, deadlines in arrival order, parked ones never evicted" {
	run "$TOP/build/unit/opening"
	assert_success
	refute_output --partial "not ok"
	assert_output --partial "ok 17 - "
}
