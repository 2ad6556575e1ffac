#!/usr/bin/env python3
"""Print the comparison table of docs/interop.md from run.sh's summaries.

    table.py NAME=DIR/summary.json [NAME=DIR/summary.json ...]

One column per run, one row per figure (Markdown).
"""
import json
import statistics
import sys


def secs(v):
    return "never" if v is None else f"{v / 1000:.1f} s"


def share(v):
    return "n/a" if v is None else f"{100 * v:.1f} %"


def sizes(d):
    return ", ".join(f"{int(s) >> 20} MiB × {c}" for s, c in sorted(d.items(), key=lambda kv: -int(kv[0])))


def spacing(v):
    if not v:
        return "—"
    return f"{statistics.median(v) / 1000:.2f} s (median; {min(v) / 1000:.2f}–{max(v) / 1000:.2f})"


def per_pass(v):
    if not v:
        return "—"
    out, prev, n = [], None, 0
    for x in v + [None]:
        if x == prev:
            n += 1
            continue
        if prev is not None:
            out.append(f"{prev}" if n == 1 else f"{prev}×{n}")
        prev, n = x, 1
    return ", ".join(out)


ROWS = [
    ("freed", lambda s: f"{s['freed_mib']} MiB"),
    ("first memory back", lambda s: secs(s["t_first_ms"])),
    ("t50", lambda s: secs(s["t50_ms"])),
    ("t90", lambda s: secs(s["t90_ms"])),
    ("t95", lambda s: secs(s["t95_ms"])),
    ("t99", lambda s: secs(s["t99_ms"])),
    ("returned at 10 s", lambda s: share(s["returned_10s"])),
    ("returned at 35 s", lambda s: share(s["returned_35s"])),
    ("requests after the free", lambda s: str(s["requests"])),
    ("requests per GiB freed", lambda s: f"{s['requests_per_gib']:.1f}"),
    ("ranges per GiB freed", lambda s: f"{s['ranges_per_gib']:.0f}"),
    ("MiB reported after the free", lambda s: f"{s['reported_mib']:.0f}"),
    ("range sizes", lambda s: sizes(s["range_sizes"])),
    ("passes", lambda s: str(s["passes"])),
    ("requests per pass", lambda s: per_pass(s["requests_per_pass"])),
    ("pass spacing", lambda s: spacing(s["pass_spacing_ms"])),
    ("requests before the free", lambda s: str(s["requests_before_free"])),
    ("QEMU's time per request (median)", lambda s: "n/a" if s.get("host_ms_per_request_median") is None
     else f"{s['host_ms_per_request_median']:.2f} ms"),
]


def main():
    runs = []
    for arg in sys.argv[1:]:
        name, _, path = arg.partition("=")
        runs.append((name, json.load(open(path))))
    print("| | " + " | ".join(n for n, _ in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for label, f in ROWS:
        print(f"| {label} | " + " | ".join(f(s) for _, s in runs) + " |")


if __name__ == "__main__":
    main()
