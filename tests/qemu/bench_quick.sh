#!/usr/bin/env bash
# `pagehint bench --quick` end to end with off, upstream and
# pagehint-exitless (on QEMU where KVM can't be used): the outputs exist,
# results.json has its schema (docs/bench.md) with sane values (the burst scenario
# and the goals included), and upstream gave memory back where off did not.
# The metrics scrape: under pagehint run every reclaim run scraped with
# answers and none failed; on QEMU (no API) the figures null and said why.
# On QEMU the exitless engine's guest falls back to the standard mode (the
# map needs pagehint's device): the bench says so and does not fail.
# The figures themselves are not asserted beyond that (CI smoke test). It
# takes 2-3 min under TCG (the burst and paired churn runs); 600 s bounds a
# loaded host.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"

PH=$PH_BUILD/pagehint
[ -x "$PH" ] || skip_all "$PH not built (run make)"
if ! "$PH" bench --help >/dev/null 2>&1; then
	# a bench that can't even print its help is broken, not absent
	plan 1
	not_ok "pagehint bench --help exits 0"
	done_testing
fi
if [ -n "$(kvm_unusable)" ]; then
	guest_prereqs	# QEMU is the bench's hypervisor here
else
	[ -f "$GUEST_ELF" ] || skip_all "$GUEST_ELF not built (run make)"
fi

plan 11
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

timeout 600 "$PH" bench --quick --engines off,upstream,pagehint-exitless --out "$out" >"$out/stdout" 2>"$out/stderr"
rc=$?
if [ $rc -eq 0 ]; then ok "bench --quick exits 0"; else not_ok "bench --quick exits 0 (status $rc)"; diag "$(tail -30 "$out/stderr")"; fi
check "the table is on stdout" grep -q '^reclaim: memhog' "$out/stdout"
check "the table has the burst scenario" grep -q '^burst: ' "$out/stdout"
if [ -n "$(kvm_unusable)" ]; then
	check "the metrics scrape: not run on QEMU, with the reason" \
		grep -q '^metrics scrape: not run: QEMU has no control API' "$out/stdout"
else
	check "the metrics scrape of the reclaim runs" grep -q '^metrics scrape: GET /metrics' "$out/stdout"
fi
check "figures.csv has a row per figure" grep -q '^reclaim,upstream,t50_ms,' "$out/figures.csv"
check "curves.csv has both engines" grep -q '^upstream,' "$out/curves.csv"
check "a console log per run" test -s "$out/runs/reclaim-upstream-rep1.console"
if [ -n "$(kvm_unusable)" ]; then
	check "pagehint-exitless on QEMU: the bench says the guest ran the standard mode" \
		grep -q 'note: pagehint-exitless: the device has no exitless map' "$out/stdout"
else
	check "pagehint-exitless under pagehint run: the exitless table" \
		grep -q '^exitless (pagehint-exitless)' "$out/stdout"
fi
if command -v gnuplot >/dev/null; then
	check "plots made" test -s "$out/reclaim.svg" -a -s "$out/exits.svg" -a -s "$out/overhead.svg"
else
	skip "gnuplot is not installed: no plots"
	grep -q 'no plots: gnuplot' "$out/stderr" || diag "the bench did not say why there are no plots"
fi

why=$(python3 - "$out/results.json" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
def need(d, keys, where):
    for k in keys:
        assert k in d, f"{where}: no {k}"
need(r, ["machine", "limit", "engines", "goals"], "top")
need(r["limit"], ["madvise_gib_s"], "limit")
assert r["limit"]["madvise_gib_s"] > 0, "madvise limit not positive"
assert set(r["engines"]) == {"off", "upstream", "pagehint-exitless"}, f"engines {sorted(r['engines'])}"
for name, e in r["engines"].items():
    need(e, ["reclaim", "fragmented", "overhead", "burst"], name)
    need(e["reclaim"], ["t50_ms", "t90_ms", "t99_ms", "free_ms", "t99_after_free_ms", "returned_10s", "returned_35s",
                        "exits_per_gib", "all_exits_per_gib", "requests_per_gib", "host_cpu_ms_per_gib"], name)
    need(e["fragmented"], ["returned_mib", "exits_per_gib", "all_exits_per_gib"], name)
    need(e["overhead"], ["pages_per_s", "ratio_vs_off", "pages_per_cpu_s", "ratio_vs_off_cpu",
                         "pages_per_ginsn", "ratio_vs_off_insn"], name)
    if r["machine"]["churn_icount"]:
        assert e["overhead"]["pages_per_ginsn"] > 0, f"{name}: no churn per instruction"
        assert e["overhead"]["ratio_vs_off_insn"] > 0, f"{name}: no churn ratio per instruction"
    need(e["burst"], ["alloc_ms", "alloc_ratio_vs_off", "resident_mean_mib", "resident_vs_upstream",
                      "cpu_ms_per_burst", "cpu_ratio_vs_off"], name)
    assert e["burst"]["alloc_ms"] > 0, f"{name}: no burst allocation time"
    assert e["burst"]["resident_mean_mib"] > 0, f"{name}: no burst resident memory"
    assert e["burst"]["alloc_ratio_vs_off"] > 0, f"{name}: no burst ratio"
    assert e["overhead"]["ratio_vs_off"] > 0, f"{name}: no churn ratio"
    for k in ("returned_10s", "returned_35s"):
        v = e["reclaim"][k]
        assert v is None or 0 <= v <= 1, f"{name} {k} = {v}"
    assert e["overhead"]["pages_per_s"] > 0, f"{name}: no churn throughput"
up, off = r["engines"]["upstream"]["reclaim"], r["engines"]["off"]["reclaim"]
assert up["t50_ms"] is not None and up["t50_ms"] > 0, "upstream never returned half"
t = [up[k] for k in ("t50_ms", "t90_ms", "t99_ms") if up[k] is not None]
assert t == sorted(t), f"t50/t90/t99 out of order: {t}"
assert up["free_ms"] is not None and up["free_ms"] >= 0, "no free time"
if up["t99_ms"] is not None:
    assert up["t99_after_free_ms"] <= up["t99_ms"], "99% later after the free than from its start"
assert off["t50_ms"] is None, "off returned memory"
assert up["returned_10s"] > (off["returned_10s"] or 0), "upstream returned no more than off"
assert r["engines"]["upstream"]["burst"]["resident_vs_upstream"] == 1
assert set(r["goals"]) == {"pagehint-exitless"}, f"goals for {sorted(r['goals'])}"
for name, e in r["engines"].items():
    s = e["metrics_scrape"]
    need(s, ["scrapes", "failed", "p50_ms", "p99_ms", "max_ms"], name + " metrics_scrape")
    if r["machine"]["hypervisor"] == "qemu":
        assert all(v is None for v in s.values()), f"{name}: metrics scrape figures without an API: {s}"
    else:
        assert s["scrapes"] >= 10 and s["failed"] == 0, f"{name}: metrics scrape {s}"
        assert 0 <= s["p50_ms"] <= s["p99_ms"] <= s["max_ms"], f"{name}: metrics scrape {s}"
assert (r["machine"]["metrics_scrape_not_run"] is not None) == (r["machine"]["hypervisor"] == "qemu"), \
    f"metrics_scrape_not_run {r['machine']['metrics_scrape_not_run']}"
assert "metrics_scrape_p99_ms" in r["goals"]["pagehint-exitless"], "no metrics scrape goal"
xg, xe = r["goals"]["pagehint-exitless"], r["engines"]["pagehint-exitless"]
for k in ("xl_requests_per_gib", "exits_per_gib", "xl_t99_after_free_ms", "xl_free_vs_standard"):
    assert k in xg, f"no exitless goal {k}"
for sc in ("reclaim", "fragmented", "overhead", "burst"):
    need(xe[sc], ["xl_scanner_cpu_ms", "xl_discard_calls", "xl_reclaimed_frames", "xl_skipped_frames",
                  "xl_taken_back", "xl_waits"], "pagehint-exitless " + sc)
if r["machine"]["hypervisor"] == "qemu":
    # no map on QEMU's device: the guest fell back, and the goals can't be judged
    assert xe["exitless_fallback"] == "not-offered", f"exitless_fallback {xe['exitless_fallback']}"
    assert xg["xl_free_vs_standard"]["verdict"] == "unknown", "an exitless goal judged on the fallback"
    assert "standard mode" in xg["xl_requests_per_gib"]["note"]
    assert xe["reclaim"]["xl_reclaimed_frames"] is None, "exitless figures from the standard mode"
else:
    assert xe["exitless_fallback"] is None, "the exitless mode fell back under pagehint run"
m = r["machine"]
assert m["churn_mib"] == 128, f"churn_mib {m['churn_mib']}: page_fault1's 128 MiB a vCPU"
assert m["churn_icount"] == (m["accel"] == "tcg" and m["hypervisor"] == "qemu"), "icount where TCG"
if m["churn_icount"]:
    # -icount: off's ratio to itself is exactly 1
    assert r["engines"]["off"]["overhead"]["ratio_vs_off_insn"] == 1, "off vs off per instruction"
PY
)
if [ -z "$why" ]; then ok "results.json: schema and sane values"; else not_ok "results.json: $why"; diag "$(cat "$out/results.json")"; fi

# Every QEMU of the bench has this run's directory on its command line.
if pgrep -f -- "$out/runs/" >/dev/null; then not_ok "no QEMU left behind"; else ok "no QEMU left behind"; fi
done_testing
