#!/usr/bin/env bash
# `pagehint peers` without a guest run (the runs themselves take
# minutes of TCG: a bench step, docs/interop.md): bad options are refused
# with status 64, and where KVM can't be used the pagehint-hypervisor rows
# (our guest's and Linux 6.1's) print "not run: <reason>" in the table and
# peers.json, never figures,
# and the bench exits 0 (a row that cannot run is not a failure). The same
# for the built Linux 6.1 kernels' rows (reclaim and churn) where
# linux/build.sh has not built them: the bench finds kernels, it never
# builds one (an empty PAGEHINT_LINUX_CACHE here, so that the test does
# not depend on what this machine has built).
. "$(dirname "$0")/../lib.sh"

PH=$PH_BUILD/pagehint
[ -x "$PH" ] || skip_all "$PH not built (run make)"
if ! "$PH" peers --help >/dev/null 2>&1; then
	# a bench that can't even print its help is broken, not absent
	plan 1
	not_ok "pagehint peers --help exits 0"
	done_testing
fi

plan 14
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

refused() { # WHAT ARGS...: status 64 and a message naming the option
	local what=$1; shift
	"$PH" peers "$@" >"$out/o" 2>"$out/e"
	local rc=$?
	if [ $rc -eq 64 ] && grep -q -- "$what" "$out/e"; then ok "refused: $*"
	else not_ok "refused: $* (status $rc)"; diag "$(cat "$out/e")"; fi
}
refused --platforms --platforms linux,bogus
refused --hold-ms --hold-ms 1500
refused --hog-mib --mem 1G --hog-mib 900
refused "unknown option" --reps 3
refused --platforms --platforms linux-bogus
refused --platforms --platforms linux-on-qemu
refused --linux-churn-rounds --linux-churn-rounds 12x
refused --linux-stock --linux-stock "$out/no-such-bzImage"

# The built kernels' rows without built kernels: no QEMU run, no download.
PAGEHINT_LINUX_CACHE=$out/cache "$PH" peers --platforms linux-built --out "$out/b" \
	>"$out/stdout" 2>"$out/stderr"
rc=$?
check "without built kernels, --platforms linux-built exits 0 (status $rc)" test $rc -eq 0
# the reason: no kernel (linux/build.sh), or no QEMU at all
want='linux/build.sh'
[ -z "$(qemu_unusable)" ] || want='cannot be run'
n=$(grep -cE "^(Linux TCG +linux-(stock|pagehint) +|linux-stock +stock +on +|linux-pagehint +pagehint +on +|off +stock +off +)not run: .*$want" "$out/stdout")
if [ "$n" = 5 ]; then ok "2 reclaim and 3 churn rows say 'not run' and why"
else not_ok "2 reclaim and 3 churn rows say 'not run' and why ($n)"; diag "$(cat "$out/stdout" "$out/stderr")"; fi
res=$(python3 - "$out/b/peers.json" "$want" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
want = sys.argv[2]
rows = r["rows"]
assert [(x["platform"], x["engine"], x["kernel"]) for x in rows] == [
    ("linux-built", "linux-stock", "stock"), ("linux-built", "linux-pagehint", "pagehint")], rows
assert rows[1]["append"] == "page_reporting.engine=pagehint", rows[1]
churn = r["churn"]["rows"]
assert [(x["engine"], x["kernel"], x["reporting"]) for x in churn] == [
    ("linux-stock", "stock", True), ("linux-pagehint", "pagehint", True), ("off", "stock", False)], churn
assert r["churn"]["icount"] == "shift=0,sleep=off", r["churn"]
for x in rows + churn:
    assert x["status"] == "not run" and want in x["reason"], x
    assert "t50_ms" not in x and "pages_per_ginsn" not in x and x["bzimage"] is None, x
PY
)
if [ -z "$res" ]; then ok "peers.json: the built rows and the churn not run, with the reason and no figures"
else not_ok "peers.json: the built rows and the churn not run, with the reason and no figures"; diag "$res"; fi

why=$(kvm_unusable)
if [ -z "$why" ]; then
	skip "KVM is usable here: the pagehint rows would run (minutes); not a CLI test"
	skip "as above"
	skip "as above"
	done_testing
fi
# Linux on pagehint too: no Linux guest is fetched for a row that can't run
"$PH" peers --platforms pagehint,linux-on-pagehint --engines upstream,pagehint \
	--linux-ref "$out/no-linux-ref" --out "$out/p" >"$out/stdout" 2>"$out/stderr"
rc=$?
check "without KVM, --platforms pagehint,linux-on-pagehint exits 0 (status $rc)" test $rc -eq 0
n=$(grep -cE '^(pagehint +(upstream|pagehint)|Linux pagehint +linux) +not run: .*KVM' "$out/stdout")
if [ "$n" = 3 ]; then ok "the three rows say 'not run' and why"
else not_ok "the three rows say 'not run' and why ($n)"; diag "$(cat "$out/stdout" "$out/stderr")"; fi
res=$(python3 - "$out/p/peers.json" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
rows = r["rows"]
assert [(x["platform"], x["engine"]) for x in rows] == [
    ("linux-on-pagehint", "linux"), ("pagehint", "upstream"), ("pagehint", "pagehint")], rows
for x in rows:
    assert x["accel"] == "kvm" and x["status"] == "not run", x
    assert "KVM" in x["reason"] and "t50_ms" not in x, x
PY
)
if [ -z "$res" ]; then ok "peers.json: not run, with the reason and no figures"
else not_ok "peers.json: not run, with the reason and no figures"; diag "$res"; fi
done_testing
