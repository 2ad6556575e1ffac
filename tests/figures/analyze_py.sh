#!/usr/bin/env bash
# scripts/linux-ref/analyze.py against vmm/reclaim_marks.c (through
# build/bench/marks) on the same recordings: two kept in docs/results
# (Linux 6.1 timed from its free line; our guest's second round, timed
# from its alloc line + the 20 s hold) and a generated one of two rounds:
# RSS rises again mid-way and 99% never comes back in the first, more
# than was freed comes back in the second, and the recording ends before
# 30 s after the last free. The marks (t50, t90,
# t99), the shares back at 10, 30 and 35 s and each round's t50 and t90
# must agree to analyze.py's rounding. The kept recordings hold
# analyze.py's rss.csv (t_ms from time zero, MiB to 0.1), from which
# rss_raw.csv is rebuilt; both sides then read the same samples.
. "$(dirname "$0")/../lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"
MARKS=$PH_BUILD/bench/marks
[ -x "$MARKS" ] || skip_all "$MARKS not built (run make)"
plan 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# agree NAME SRC_DIR|generated [--t0-alloc-plus-ms MS]: ok if both agree
agree() {
	local name=$1 src=$2 out
	shift 2
	out=$(python3 - "$PH_ROOT" "$MARKS" "$tmp/$name" "$src" "$@" <<'PY' 2>&1
import json, os, re, subprocess, sys

root, marks, d, src = sys.argv[1:5]
opts = sys.argv[5:]
plus = float(opts[opts.index("--t0-alloc-plus-ms") + 1]) if opts else None
os.makedirs(d)

if src == "generated":
    # Every 20 ms for 33 s: 300 MiB; frees of 100 MiB at 5 s and 22 s
    # (the Linux memhog's free lines: time zero). Round 1: 50 back by
    # 6 s, 20 of it taken again by 6.5 s, then 98.5 back by 8 s; round
    # 2 (from 20 s) holds 300 again and gets 105 back by 23 s (more
    # than it freed: the share is 1).
    def mib(t):
        if t < 5:
            return 300
        if t < 20:
            back = min(50, (t - 5) * 50) if t < 6 else 50 - min(20, (t - 6) * 40) if t < 6.5 \
                else min(98.5, 30 + (t - 6.5) * 45.67)
            return 300 - back
        return 300 - min(105, max(0, (t - 22) * 105))
    t_base = 1_000_000_000
    with open(f"{d}/rss_raw.csv", "w") as f:
        f.write("t_us,rss_kib\n")
        for i in range(33 * 50 + 1):
            f.write(f"{t_base + i * 20000},{round(mib(i * 0.02) * 1024)}\n")
    with open(f"{d}/console.log", "w") as f:
        for t, line in ((4, "@event alloc mib=100 round=1"), (5, "@event free mib=100 round=1"),
                        (20, "@event alloc mib=100 round=2"), (22, "@event free mib=100 round=2")):
            f.write(f"{t_base + t * 1_000_000} {line}\n")
else:
    console = open(f"{root}/{src}/console.log", errors="replace").read().splitlines()
    with open(f"{d}/console.log", "w") as f:
        f.write("\n".join(console) + "\n")
    # time zero of the last free, as analyze.py finds it
    lines = [(int(l.split(" ", 1)[0]), l.split(" ", 1)[1]) for l in console if " " in l]
    t_free = [t for t, l in lines if re.search(r"@event free mib=\d+", l)][-1]
    if plus is not None:
        t_free = [t for t, l in lines if "@event alloc" in l and t <= t_free][-1] + int(plus * 1000)
    with open(f"{root}/{src}/rss.csv") as f, open(f"{d}/rss_raw.csv", "w") as o:
        next(f)
        o.write("t_us,rss_kib\n")
        for row in f:
            t_ms, rss_mib = row.split(",")[:2]
            o.write(f"{t_free + round(float(t_ms) * 1000)},{round(float(rss_mib) * 1024)}\n")

r = subprocess.run([sys.executable, f"{root}/scripts/linux-ref/analyze.py", d] + opts,
                   capture_output=True, text=True)
if r.returncode:
    sys.exit(f"analyze.py: {r.stderr}")
py = json.load(open(f"{d}/summary.json"))

# The same samples for the C side, in ms from the first.
rss = [tuple(map(int, l.split(","))) for l in open(f"{d}/rss_raw.csv").read().split()[1:]]
t_first = rss[0][0]
with open(f"{d}/samples.csv", "w") as f:
    f.write("t_ms,resident_mib\n")
    for t, k in rss:
        f.write(f"{(t - t_first) / 1000!r},{k / 1024!r}\n")
period = (rss[-1][0] - rss[0][0]) / 1000 / max(1, len(rss) - 1)
console = [(int(l.split(" ", 1)[0]), l.split(" ", 1)[1]) for l in open(f"{d}/console.log") if " " in l]
frees = [(t, int(m.group(1))) for t, l in console for m in [re.search(r"@event free mib=(\d+)", l)] if m]

def t0_of(t_line):
    if plus is None:
        return t_line
    return [t for t, l in console if "@event alloc" in l and t <= t_line][-1] + int(plus * 1000)

def c_marks(t0, mib, until, *at):
    ms = lambda t: repr((t - t_first) / 1000)
    args = [marks, f"{d}/samples.csv", ms(t0), "-1", str(mib), ms(until) if until else "inf",
            repr(period)] + [str(a) for a in at]
    return json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)

bad = []
def same(what, a, b, tol):
    if (a is None) != (b is None) or (a is not None and abs(a - b) > tol):
        bad.append(f"{what}: analyze.py {a}, reclaim_marks {b}")

t0 = t0_of(frees[-1][0])
c = c_marks(t0, frees[-1][1], None, 10000, 30000, 35000)
for k in ("t50_ms", "t90_ms", "t99_ms"):
    same(k, py[k], c[k], 0.0501)
for s in (10, 30, 35):
    same(f"returned_{s}s", py[f"returned_{s}s"], c["returned"][str(s * 1000)], 0.00005 + 1e-12)
for i, (t_line, mib) in enumerate(frees):
    rnd = py["rounds"][i]
    if rnd["rss_at_free_mib"] is None:
        continue  # no sample at or before its start: not in the recording
    until = t0_of(frees[i + 1][0]) if i + 1 < len(frees) else None
    c = c_marks(t0_of(t_line), mib, until)
    for k in ("t50_ms", "t90_ms"):
        same(f"round {i + 1} {k}", rnd[k], c[k], 0.0501)
print("; ".join(bad) if bad else "agree: " + ", ".join(
    f"{k} {py[k]}" for k in ("t50_ms", "t90_ms", "t99_ms", "returned_10s", "returned_35s")))
sys.exit(1 if bad else 0)
PY
)
	if [ $? -eq 0 ]; then ok "$name: analyze.py and reclaim_marks agree"; else not_ok "$name: analyze.py and reclaim_marks agree"; fi
	diag "$out"
}

agree linux-stock docs/results/linux/stock-1
agree pagehint-rounds docs/results/interop/pagehint-2 --t0-alloc-plus-ms 20000
agree generated generated
done_testing
