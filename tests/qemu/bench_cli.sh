#!/usr/bin/env bash
# `pagehint bench` refuses bad options before it runs anything: status 64
# and a message that names the option (docs/bench.md). No guest runs.
. "$(dirname "$0")/../lib.sh"

PH=$PH_BUILD/pagehint
[ -x "$PH" ] || skip_all "$PH not built (run make)"

plan 10
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

refused() { # WHAT ARGS...: status 64, a message naming WHAT, no results
	local what=$1; shift
	timeout 20 "$PH" bench --out "$out/r" "$@" >"$out/o" 2>"$out/e"
	local rc=$?
	if [ $rc -eq 64 ] && grep -q -- "$what" "$out/e" && [ ! -e "$out/r" ]; then ok "refused: $*"
	else not_ok "refused: $* (status $rc)"; diag "$(cat "$out/e")"; fi
}
refused --churn-mib --churn-mib lots
refused --churn-mib --churn-mib -1
# 2 vCPUs x 300 MiB is more than a quarter of 2 GiB
refused --churn-mib --churn-mib 300
refused --churn-mib --mem 1G --cpus 4 --churn-mib 128
refused --churn-ms --churn-ms 0
refused --burst-mib --burst-mib 1024
refused --reps --reps 0
refused --mem --mem 12K
refused --hypervisor --hypervisor xen
refused "unknown option" --bogus
done_testing
