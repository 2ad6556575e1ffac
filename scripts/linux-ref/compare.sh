#!/usr/bin/env bash
# The comparison of docs/interop.md, as a bench step (~5 min of TCG here):
# the same reclaim scenario (4 GiB guest, 2 vCPUs, memhog 2048 MiB, hold
# 20 s, free, idle 36 s) on
#   linux       Debian's Linux 6.1 on QEMU TCG (scripts/linux-ref/build.sh)
#   pagehint    our guest, engine=upstream, on QEMU TCG (microvm)
#   pagehint-2  the same, memhog.rounds=2, figures from the second round
#               (the first round's idle reports the boot-time free memory,
#               as Linux's initial flush does before its memhog)
# each recorded by scripts/linux-ref/record.c and analyze.py, then the
# table (table.py).
#
#   compare.sh [--out DIR] [--keep DIR] [-- RUN.SH ARGS...]
#
# DIR (default build/linux-ref/compare) gets one directory per run;
# --keep DIR copies the small outputs (summary.json, requests.csv,
# rss.csv, console.log) and table.md there, e.g. docs/results/interop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$root/build/linux-ref/compare keep=
while [ $# -gt 0 ]; do
	case $1 in
	--out)  out=$2; shift ;;
	--keep) keep=$2; shift ;;
	--)     shift; break ;;
	*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
mkdir -p "$out"
"$here/run.sh" --guest linux --out "$out/linux" "$@"
"$here/run.sh" --guest pagehint --out "$out/pagehint" "$@"
"$here/run.sh" --guest pagehint --rounds 2 --out "$out/pagehint-2" "$@"
python3 "$here/table.py" \
	"Linux 6.1, QEMU TCG=$out/linux/summary.json" \
	"pagehint upstream, QEMU TCG=$out/pagehint/summary.json" \
	"pagehint upstream, 2nd round=$out/pagehint-2/summary.json" | tee "$out/table.md"
if [ -n "$keep" ]; then
	for r in linux pagehint pagehint-2; do
		mkdir -p "$keep/$r"
		cp "$out/$r"/{summary.json,requests.csv,console.log,qemu.cmd} "$keep/$r/"
		# RSS from 5 s before the free on: the timeline that matters
		awk -F, 'NR == 1 || $1 >= -5000' "$out/$r/rss.csv" >"$keep/$r/rss.csv"
	done
	cp "$out/table.md" "$keep/"
fi
