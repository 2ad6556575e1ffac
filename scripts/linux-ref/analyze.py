#!/usr/bin/env python3
"""Turn one recording (scripts/linux-ref/record.c + QEMU's trace) into the
reclaim figures of docs/interop.md.

    analyze.py DIR [--label NAME] [--t0-alloc-plus-ms MS]

Reads DIR/rss_raw.csv (t_us,rss_kib), DIR/console.log (t_us line) and, when
present, DIR/trace.log (QEMU's log trace backend: tid@sec.usec:event args,
with virtio_queue_notify and ram_block_discard_range enabled). Writes

    DIR/rss.csv        t_ms,rss_mib,returned_mib   (t_ms since the free)
    DIR/requests.csv   t_ms,ranges,bytes,range_sizes
                       (range_sizes: SIZE*COUNT;... in bytes)
    DIR/summary.json   the figures below (null where never reached)

Time zero is the host's arrival of the guest's "@event free mib=N" console
line (the last one, when the guest ran several rounds; the Linux memhog
prints it right before munmap), or, with
--t0-alloc-plus-ms MS, the arrival of "@event alloc" plus MS: the pagehint
guest prints "@event free" after its free, which checks and frees page by
page and takes seconds under TCG, and starts freeing hold_ms after
"@event alloc". "Returned" is QEMU's resident memory at the free minus now; shares are
of N. A request is one notify of the balloon's reporting queue (the queue
whose notifies are followed by discards); its ranges are the
ram_block_discard_range events that follow it. Passes are runs of requests
less than PASS_GAP_MS apart. Without a trace, requests are derived from RSS
drops (steps of at least STEP_MIB between samples) and labelled so:
"source": "rss-steps" instead of "qemu-trace".

summary.json's "rounds" has one entry per "@event free" line (memhog's
rounds), with that free's figures over its own window, up to the next
round's free (or the end of the recording): QEMU's RSS at the free and
its lowest in the window, the share of the freed MiB back, t50/t90, and
the requests in the window.

The marks (t50_ms ...) and the shares back (returned_10s ...) are
vmm/reclaim_marks.c's: against QEMU's RSS at the last sample at or before
time zero, a mark is the first sample from there (up to the next round's
free) whose drop reaches that share of N; a share is clamped to 0..1 and
null once the recording has ended. tests/figures/analyze_py.sh holds this
script against that C function on kept and generated recordings.
"""
import json
import re
import sys
from collections import Counter

PASS_GAP_MS = 1000
STEP_MIB = 8


def read_rss(d):
    out = []
    with open(f"{d}/rss_raw.csv") as f:
        next(f)
        for line in f:
            t, kib = line.strip().split(",")
            out.append((int(t), int(kib)))
    return out


def read_console(d):
    out = []
    with open(f"{d}/console.log", errors="replace") as f:
        for line in f:
            t, _, text = line.rstrip("\n").partition(" ")
            out.append((int(t), text))
    return out


TRACE = re.compile(r"^\d+@(\d+)\.(\d+):(\w+) (.*)$")
NOTIFY = re.compile(r"vdev (\S+) n (\d+)")
DISCARD = re.compile(r"@(0x[0-9a-f]+) \+ (0x[0-9a-f]+)")


def read_trace(d):
    """[(t_us, 'notify', (vdev, queue)) | (t_us, 'discard', length)]"""
    try:
        f = open(f"{d}/trace.log", errors="replace")
    except FileNotFoundError:
        return None
    events = []
    with f:
        for line in f:
            m = TRACE.match(line)
            if not m:
                continue
            t = int(m.group(1)) * 1000000 + int(m.group(2))
            name, args = m.group(3), m.group(4)
            if name == "virtio_queue_notify":
                n = NOTIFY.search(args)
                if n:
                    events.append((t, "notify", (n.group(1), int(n.group(2)))))
            elif name == "ram_block_discard_range":
                n = DISCARD.search(args)
                if n:
                    events.append((t, "discard", int(n.group(2), 16)))
    events.sort(key=lambda e: e[0])  # stable: same-stamp events keep file order
    return events


def requests_from_trace(events):
    """Group discards under the notify before them; keep the reporting queue."""
    groups = []  # [t_us, (vdev, queue) or None, [lengths]]
    for t, kind, arg in events:
        if kind == "notify":
            groups.append([t, arg, []])
        elif groups:
            groups[-1][2].append(arg)
        else:
            groups.append([t, None, [arg]])
    with_discards = Counter(g[1] for g in groups if g[2] and g[1] is not None)
    if not with_discards:
        return [], None
    queue = with_discards.most_common(1)[0][0]
    reqs = [(g[0], g[2]) for g in groups if g[1] == queue]
    return reqs, queue[1]


def host_spans(events, queue_no):
    """For each reporting notify: microseconds to its last discard."""
    spans, cur = [], None
    for t, kind, arg in events:
        if kind == "notify":
            if cur and cur[1] is not None:
                spans.append(cur[1] - cur[0])
            cur = [t, None] if arg[1] == queue_no else None
        elif cur:
            cur[1] = t
    if cur and cur[1] is not None:
        spans.append(cur[1] - cur[0])
    return spans


def requests_from_rss(rss):
    reqs = []
    for (t0, k0), (t1, k1) in zip(rss, rss[1:]):
        if k0 - k1 >= STEP_MIB * 1024:
            reqs.append((t1, [(k0 - k1) * 1024]))
    return reqs


def first_at(curve, level):
    for t, v in curve:
        if v >= level:
            return t
    return None


def value_at(curve, t_ms, period_ms):
    """The last value at or before t_ms; None if the recording ended first."""
    if not curve or curve[-1][0] < t_ms - 2 * period_ms:
        return None
    v = None
    for t, x in curve:
        if t > t_ms:
            break
        v = x
    return v


def main():
    d = sys.argv[1]
    label = sys.argv[sys.argv.index("--label") + 1] if "--label" in sys.argv else d
    rss = read_rss(d)
    console = read_console(d)

    # the last round's free (both guests can run memhog.rounds=N)
    frees = [(t, int(m.group(1))) for t, line in console
             for m in [re.search(r"@event free mib=(\d+)", line)] if m]
    free = frees[-1] if frees else None
    if free is None:
        sys.exit(f"analyze: {d}/console.log has no '@event free mib=N' line")
    t0_rule = "the @event free line"
    plus = None
    if "--t0-alloc-plus-ms" in sys.argv:
        plus = float(sys.argv[sys.argv.index("--t0-alloc-plus-ms") + 1])
        t0_rule = f"the @event alloc line + {plus:.0f} ms"

    def t0_of(t_line):
        """Time zero of the free whose line arrived at t_line."""
        if plus is None:
            return t_line
        allocs = [t for t, line in console if "@event alloc" in line and t <= t_line]
        if not allocs:
            sys.exit(f"analyze: {d}/console.log has no '@event alloc' line")
        return allocs[-1] + int(plus * 1000)

    t_free_line, freed_mib = free
    t_free = t0_of(t_free_line)
    before = [k for t, k in rss if t <= t_free]
    if not before:
        sys.exit(f"analyze: no RSS sample before the free")
    rss_free = before[-1]
    period_ms = (rss[-1][0] - rss[0][0]) / 1000 / max(1, len(rss) - 1)

    def ms(t_us):
        return round((t_us - t_free) / 1000, 1)

    curve = [(ms(t), (rss_free - k) / 1024) for t, k in rss if t >= t_free]
    with open(f"{d}/rss.csv", "w") as f:
        f.write("t_ms,rss_mib,returned_mib\n")
        for t, k in rss:
            f.write(f"{ms(t)},{k / 1024:.1f},{(rss_free - k) / 1024:.1f}\n")

    events = read_trace(d)
    queue, spans = None, []
    if events is not None and any(e[1] == "discard" for e in events):
        source = "qemu-trace"
        reqs, queue = requests_from_trace(events)
        spans = host_spans(events, queue)
    else:
        source = "rss-steps"
        reqs = requests_from_rss(rss)

    with open(f"{d}/requests.csv", "w") as f:
        f.write("t_ms,ranges,bytes,range_sizes\n")
        for t, lens in reqs:
            sizes = ";".join(f"{s}*{c}" for s, c in sorted(Counter(lens).items()))
            f.write(f"{ms(t)},{len(lens)},{sum(lens)},{sizes}\n")

    after = [(ms(t), lens) for t, lens in reqs if t >= t_free]
    prior = [ms(t) for t, lens in reqs if t < t_free]
    sizes = Counter(s for _, lens in after for s in lens)
    passes = []  # [start_ms, requests, bytes]
    for t, lens in after:
        if passes and t - passes[-1][3] < PASS_GAP_MS:
            passes[-1][1] += 1
            passes[-1][2] += sum(lens)
            passes[-1][3] = t
        else:
            passes.append([t, 1, sum(lens), t])
    gib = freed_mib / 1024
    exit_status = None
    try:
        exit_status = int(open(f"{d}/exit").read())
    except (FileNotFoundError, ValueError):
        pass

    def share(t):
        v = value_at(curve, t, period_ms)
        return None if v is None else round(min(1, max(0, v / freed_mib)), 4)

    def t_at(p):
        return first_at(curve, p * freed_mib)

    # each round's free over its own window
    rounds = []
    for i, (t_line, mib) in enumerate(frees):
        t0 = t0_of(t_line)
        t_end = t0_of(frees[i + 1][0]) if i + 1 < len(frees) else float("inf")
        at = [k for t, k in rss if t <= t0]
        window = [(round((t - t0) / 1000, 1), k) for t, k in rss if t0 <= t < t_end]
        if not at or not window:
            rounds.append({"round": i + 1, "freed_mib": mib, "rss_at_free_mib": None})
            continue
        low = min(k for _, k in window)
        # the marks' window takes a sample at the next free's start too
        got = [(round((t - t0) / 1000, 1), (at[-1] - k) / 1024) for t, k in rss if t0 <= t <= t_end]
        in_window = [lens for t, lens in reqs if t0 <= t < t_end]
        rounds.append({
            "round": i + 1,
            "freed_mib": mib,
            "rss_at_free_mib": round(at[-1] / 1024, 1),
            "rss_low_mib": round(low / 1024, 1),
            "returned_mib": round((at[-1] - low) / 1024, 1),
            "returned_share": round((at[-1] - low) / 1024 / mib, 4),
            "t50_ms": first_at(got, 0.5 * mib),
            "t90_ms": first_at(got, 0.9 * mib),
            "window_ms": window[-1][0],
            "requests": len(in_window),
            "reported_mib": round(sum(sum(lens) for lens in in_window) / 2**20, 1),
        })

    summary = {
        "label": label,
        "source": source,
        "report_queue": queue,
        "t0": t0_rule,
        "free_line_ms": ms(t_free_line),
        "freed_mib": freed_mib,
        "rss_at_free_mib": round(rss_free / 1024, 1),
        "rss_end_mib": round(rss[-1][1] / 1024, 1),
        "sample_period_ms": round(period_ms, 1),
        "recorded_after_free_ms": curve[-1][0] if curve else 0,
        "t_first_ms": t_at(0.01),
        "t50_ms": t_at(0.50),
        "t90_ms": t_at(0.90),
        "t95_ms": t_at(0.95),
        "t99_ms": t_at(0.99),
        "returned_10s": share(10000),
        "returned_30s": share(30000),
        "returned_35s": share(35000),
        "requests": len(after),
        "ranges": sum(len(lens) for _, lens in after),
        "reported_mib": round(sum(sum(lens) for _, lens in after) / 2**20, 1),
        "requests_per_gib": round(len(after) / gib, 2),
        "ranges_per_gib": round(sum(len(lens) for _, lens in after) / gib, 2),
        "range_sizes": {str(s): c for s, c in sorted(sizes.items())},
        "first_request_ms": after[0][0] if after else None,
        # QEMU's time from a reporting notify to its last discard (trace
        # stamps): the host's work per request
        "host_ms_per_request_median": round(sorted(spans)[len(spans) // 2] / 1000, 3) if spans else None,
        "passes": len(passes),
        "requests_per_pass": [p[1] for p in passes],
        "pass_start_ms": [p[0] for p in passes],
        "pass_spacing_ms": [round(b[0] - a[0], 1) for a, b in zip(passes, passes[1:])],
        "requests_before_free": len(prior),
        "last_request_before_free_ms": prior[-1] if prior else None,
        "qemu_exit": exit_status,
        "rounds": rounds,
    }
    with open(f"{d}/summary.json", "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
