#!/usr/bin/env bash
# clang-tidy with the checks of .clang-tidy over every hosted C file: the
# VMM, core/ as the tests build it, the tests, fuzzers and benchmarks, and
# the programs scripts build with plain gcc. The flags come from the
# compilation database scripts/compile_commands.py writes into
# build/lint/ (nothing is built). One clang-tidy per file, two at a time:
# clang-tidy 14's analyzer reports false va_list errors when one process
# reads several files. One check per file; its findings are the diag.
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
command -v clang-tidy >/dev/null || skip_all "clang-tidy is not installed (scripts/setup.sh)"
command -v python3 >/dev/null || skip_all "python3 is not installed (scripts/setup.sh)"
cd "$PH_ROOT" || exit 1
out=$PH_BUILD/lint/clang-tidy
rm -rf "$out" && mkdir -p "$out" || exit 1
python3 scripts/compile_commands.py --hosted "BUILD=$PH_BUILD" >"$out/compile_commands.json" ||
	{ plan 1; not_ok "scripts/compile_commands.py --hosted"; done_testing; }
mapfile -t files < <(python3 -c 'import json, sys
for e in json.load(open(sys.argv[1])): print(e["file"])' "$out/compile_commands.json")
[ ${#files[@]} -gt 0 ] || { plan 1; not_ok "no C files in the compilation database"; done_testing; }
plan ${#files[@]}
# Each file's report goes to its own log (the path with / as _), so the
# checks below can name the file that failed.
export out PH_ROOT
printf '%s\n' "${files[@]}" | xargs -P2 -I{} sh -c '
	log="$out/$(printf %s "$1" | tr / _).log"
	clang-tidy -p "$out" --quiet --header-filter="^$PH_ROOT/" "$1" >"$log" 2>&1
	echo $? >"$log.rc"' sh {}
for f in "${files[@]}"; do
	log="$out/$(printf %s "$f" | tr / _).log"
	if [ "$(cat "$log.rc" 2>/dev/null)" = 0 ]; then
		ok "$f"
	else
		not_ok "$f"
		diag "$(grep -E '(warning|error):' "$log" | sed "s|^$PH_ROOT/||" | sort -u | head -40)"
	fi
done
done_testing
