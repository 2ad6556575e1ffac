#!/usr/bin/env bash
# The command table and `pagehint run`'s options, checked on the real
# binary. Needs no KVM: every case here fails (or prints help) before a VM
# would be created.
. "$(dirname "$0")/../lib.sh"

PH=$PH_BUILD/pagehint
[ -x "$PH" ] || skip_all "$PH not built (run make)"
plan 19

# bad NAME ARGS...: exit status 64 (not the guest's 2) and exactly one line on stderr.
bad() {
	local name=$1 err rc
	shift
	err=$("$PH" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 64 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && [[ $err == pagehint:* ]]; then
		ok "$name: exit 64, one line"
	else
		not_ok "$name: exit 64, one line (status $rc)"
		diag "$err"
	fi
}

help=$("$PH" run --help)
rc=$?
check "--help exits 0" test $rc -eq 0
missing=
for f in --kernel --mem --cpus --backing --thp --discard --balloon-protocol \
	--balloon-target --trace --summary-json --timeout --help; do
	grep -q -- "$f" <<<"$help" || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "--help lists every option"; else not_ok "--help lacks:$missing"; fi

# The table: help, --help and -h list every command on stdout; no
# command lists them on stderr, a usage error.
for words in help --help -h; do
	list=$("$PH" "$words")
	rc=$?
	if [ $rc -eq 0 ] && grep -qE '^  run ' <<<"$list" && grep -qE '^  bench ' <<<"$list" &&
		grep -qE '^  peers ' <<<"$list"; then ok "pagehint $words lists the commands"
	else not_ok "pagehint $words lists the commands (status $rc)"; diag "$list"; fi
done
list=$("$PH" 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 64 ] && grep -qE '^  run ' <<<"$list"; then ok "no command: the list on stderr, exit 64"
else not_ok "no command: the list on stderr, exit 64 (status $rc)"; diag "$list"; fi
check "pagehint help run is run --help" test "$("$PH" help run)" = "$help"

bad "unknown flag" run --frobnicate
bad "unknown command" frob
bad "bad size" run --mem 12x
bad "bad cpus" run --cpus 0
bad "bad backing" run --backing file
bad "bad discard" run --discard zap
bad "punch without memfd" run --discard punch
bad "bad protocol" run --balloon-protocol v9
bad "bad timeout" run --timeout never
bad "missing value" run --mem
bad "missing kernel file" run --kernel /nonexistent/guest.elf
bad "kernel that is not an ELF" run --kernel "$0"

done_testing
