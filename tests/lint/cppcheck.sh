#!/usr/bin/env bash
# cppcheck over every C file git tracks, each with the defines and include
# paths of its own compiles (the compilation database of
# scripts/compile_commands.py, written into build/lint/; nothing is
# built): the freestanding guest, core/ as the guest, tests and
# benchmarks build it, the VMM, tests, fuzzers and benchmarks.
# Severities error, warning, portability and performance; not style,
# whose findings here are scope and shadowing preferences and conditions
# cppcheck cannot follow across calls. Findings cppcheck gets wrong are
# suppressed inline (cppcheck-suppress, with the reason) or, for an idiom
# of the whole tree, in tests/lint/cppcheck-suppressions.txt.
# One check per C file, one for findings in headers; the findings are
# the diag.
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
command -v cppcheck >/dev/null || skip_all "cppcheck is not installed (scripts/setup.sh)"
command -v python3 >/dev/null || skip_all "python3 is not installed (scripts/setup.sh)"
cd "$PH_ROOT" || exit 1
out=$PH_BUILD/lint/cppcheck
mkdir -p "$out/cache" || exit 1
python3 scripts/compile_commands.py "BUILD=$PH_BUILD" >"$out/compile_commands.json" ||
	{ plan 1; not_ok "scripts/compile_commands.py"; done_testing; }
mapfile -t files < <(python3 -c 'import json, sys
for f in dict.fromkeys(e["file"] for e in json.load(open(sys.argv[1]))): print(f)' \
	"$out/compile_commands.json")
plan $((${#files[@]} + 1))
# The byte order is a compiler-predefined macro, which cppcheck lacks
# (core/virtio_defs.h refuses to build without it).
cppcheck --project="$out/compile_commands.json" --cppcheck-build-dir="$out/cache" -j2 \
	--enable=warning,portability,performance --inline-suppr \
	--suppressions-list=tests/lint/cppcheck-suppressions.txt \
	-D__BYTE_ORDER__=1234 -D__ORDER_LITTLE_ENDIAN__=1234 --error-exitcode=1 --quiet \
	--template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
	>"$out/log" 2>&1
rc=$?
# Paths as the database gives them, or absolute for headers.
sed -i "s|^$PH_ROOT/||" "$out/log"
for f in "${files[@]}"; do
	if grep -q "^$f:" "$out/log"; then
		not_ok "$f"
		diag "$(grep "^$f:" "$out/log" | sort -u | head -40)"
	else
		ok "$f"
	fi
done
# Everything else: findings in headers, and cppcheck's own failure.
rest=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: ' "$out/log" | grep -vF -f <(printf '%s:\n' "${files[@]}"))
if [ -n "$rest" ] || { [ $rc != 0 ] && [ $rc != 1 ]; } ||
	{ [ $rc = 1 ] && ! grep -qE '^[^ ]+:[0-9]+:[0-9]+: ' "$out/log"; }; then
	not_ok "headers, and cppcheck ran (exit $rc)"
	diag "$(if [ -n "$rest" ]; then sort -u <<<"$rest"; else tail -20 "$out/log"; fi | head -40)"
else
	ok "headers, and cppcheck ran"
fi
done_testing
