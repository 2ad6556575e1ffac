#!/usr/bin/env bash
# The whole tree built with clang beside gcc: the same warnings as errors
# (Makefile's WARN), the guest, the VMM, the tests with their sanitizers
# and the benchmarks, into build/clang/. One check: make's exit status;
# its errors are the diag.
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
command -v clang >/dev/null || skip_all "clang is not installed (scripts/setup.sh)"
plan 1
log=$(make -C "$PH_ROOT" -s -j"$(nproc)" CC=clang BUILD="$PH_BUILD/clang" all 2>&1)
rc=$?
if [ $rc = 0 ]; then
	ok "make CC=clang all (build/clang)"
else
	not_ok "make CC=clang all (build/clang): exit $rc"
	diag "$(grep -E 'error|warning' <<<"$log" | head -40)"
fi
done_testing
