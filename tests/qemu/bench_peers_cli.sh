#!/usr/bin/env bash
# `pagehint bench --peers` without a guest run (the runs themselves take
# minutes of TCG: a bench step, docs/interop.md): bad options are refused
# with status 2, and where KVM can't be used the pagehint-hypervisor rows
# print "not run: <reason>" in the table and peers.json, never figures,
# and the bench exits 0 (a row that cannot run is not a failure).
. "$(dirname "$0")/../lib.sh"

PH=$PH_BUILD/pagehint
[ -x "$PH" ] || skip_all "$PH not built (run make)"
"$PH" bench --peers --help >/dev/null 2>&1 ||
	skip_all "this pagehint has no bench --peers"

plan 7
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

refused() { # WHAT ARGS...: status 2 and a message naming the option
	local what=$1; shift
	"$PH" bench --peers "$@" >"$out/o" 2>"$out/e"
	local rc=$?
	if [ $rc -eq 2 ] && grep -q -- "$what" "$out/e"; then ok "refused: $*"
	else not_ok "refused: $* (status $rc)"; diag "$(cat "$out/e")"; fi
}
refused --platforms --platforms linux,bogus
refused --hold-ms --hold-ms 1500
refused --hog-mib --mem 1G --hog-mib 900
refused "unknown option" --reps 3

why=$(kvm_unusable)
if [ -z "$why" ]; then
	skip "KVM is usable here: the pagehint rows would run (minutes); not a CLI test"
	skip "as above"
	skip "as above"
	done_testing
fi
"$PH" bench --peers --platforms pagehint --engines upstream,pagehint --out "$out/p" \
	>"$out/stdout" 2>"$out/stderr"
rc=$?
check "without KVM, --platforms pagehint exits 0 (status $rc)" test $rc -eq 0
n=$(grep -cE '^pagehint +(upstream|pagehint) +not run: .*KVM' "$out/stdout")
if [ "$n" = 2 ]; then ok "both rows say 'not run' and why"
else not_ok "both rows say 'not run' and why ($n)"; diag "$(cat "$out/stdout" "$out/stderr")"; fi
res=$(python3 - "$out/p/peers.json" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
rows = r["rows"]
assert [x["engine"] for x in rows] == ["upstream", "pagehint"], rows
for x in rows:
    assert x["platform"] == "pagehint" and x["status"] == "not run", x
    assert "KVM" in x["reason"] and "t50_ms" not in x, x
PY
)
if [ -z "$res" ]; then ok "peers.json: not run, with the reason and no figures"
else not_ok "peers.json: not run, with the reason and no figures"; diag "$res"; fi
done_testing
