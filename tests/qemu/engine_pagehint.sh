#!/usr/bin/env bash
# engine=pagehint end to end over QEMU's virtio-balloon (free page
# reporting): memhog allocates and frees, the engine reports, QEMU discards
# the ranges and its resident memory falls. QEMU's RSS (/proc/PID/status
# VmRSS) is sampled every ~50 ms against the guest's timestamped console,
# and the times from the "@event freeing" line (the start of the free)
# until 50/90/99% of the freed
# memory has left QEMU's RSS are printed as diagnostics (TCG timing is
# noisy: behaviour is asserted, times are only reported).
#
# PH_COMPARE=1 also runs engine=pagehint and engine=upstream on a larger
# guest (2 GiB, memhog 1536 MiB, 20 s idle), one after the other, as in
# docs/engine-pagehint.md; PH_COMPARE_ENGINES="pagehint,upstream report.delay_ms=500"
# (comma-separated) chooses the engines and their parameters.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 7

dir=$(mktemp -d)
trap '[ -n "${PH_KEEP:-}" ] || rm -rf "$dir"' EXIT

# measure CPUS MEM_MIB 'CMDLINE': run the guest with the balloon, sample
# QEMU's RSS; sets OUT, STATUS, and FREED_MIB, DROP_MIB (the peak RSS
# between the "@event alloc" and "@event free" lines minus the lowest RSS
# after it), FREE_MS (how long the guest took to free, from its
# free_mib_s) and T50/T90/T99: ms from the "@event freeing" line (the
# start of the free; the engine reports while the guest frees) until the
# RSS is below the peak by that share of the freed memory, "-" if never.
measure() {
	local cpus=$1 mem=$2 append=$3 rc pid
	rm -f "$dir/pid" "$dir/console" "$dir/rss"
	( timeout "${GUEST_TIMEOUT:-120}" qemu-system-x86_64 -M microvm,acpi=off \
		-smp "$cpus" -m "${mem}M" -nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$GUEST_ELF" -device isa-debug-exit,iobase=0x501,iosize=2 \
		-pidfile "$dir/pid" -append "$append" "${BALLOON[@]}" </dev/null 2>&1
	  echo "@qemu-rc $?" ) |
		while IFS= read -r line; do echo "$EPOCHREALTIME ${line%$'\r'}"; done >"$dir/console" &
	local runner=$!
	# sample until QEMU is gone
	for _ in $(seq 600); do [ -s "$dir/pid" ] && break; sleep 0.05; done
	pid=$(cat "$dir/pid" 2>/dev/null)
	if [ -n "$pid" ]; then
		while [ -r "/proc/$pid/status" ]; do
			local kb
			kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
			[ -n "$kb" ] && echo "$EPOCHREALTIME $kb" >>"$dir/rss"
			sleep 0.05
		done
	fi
	wait "$runner"
	OUT=$(cut -d' ' -f2- "$dir/console")
	rc=$(sed -n 's/^@qemu-rc //p' <<<"$OUT")
	# shellcheck disable=SC2034 # for expect_status (guest.bash)
	if [ "$rc" = 124 ]; then STATUS=timeout
	elif [ -n "$rc" ] && [ $((rc & 1)) -eq 1 ]; then STATUS=$((rc >> 1))
	else STATUS="qemu:$rc"
	fi
	read -r FREED_MIB DROP_MIB FREE_MS T50 T90 T99 < <(awk '
		FNR == NR {
			if (!talloc && $2 == "@event" && $3 == "alloc") talloc = $1
			if (!tstart && $2 == "@event" && $3 == "freeing") tstart = $1
			if (!tfree && $2 == "@event" && $3 == "free") {
				tfree = $1; split($4, a, "="); freed = a[2]
			}
			if ($2 == "@done" && $3 == "workload=memhog")
				for (i = 4; i <= NF; i++) if ($i ~ /^free_mib_s=/) { split($i, a, "="); fms = a[2] }
			next
		}
		{ t[n] = $1; r[n] = $2 / 1024; n++ }
		END {
			if (!tfree || !talloc || !n) { print "0 0 0 - - -"; exit }
			if (!tstart) tstart = tfree
			# the peak: the largest RSS between the alloc and the free lines
			r0 = 0; for (i = 0; i < n; i++) if (t[i] >= talloc && t[i] <= tfree && r[i] > r0) r0 = r[i]
			low = r0; for (i = 0; i < n; i++) if (t[i] >= talloc && r[i] < low) low = r[i]
			split("0.5 0.9 0.99", p, " ")
			out = sprintf("%d %d %d", freed, r0 - low, fms ? freed * 1000 / fms : 0)
			for (k = 1; k <= 3; k++) {
				want = r0 - p[k] * freed; s = "-"
				for (i = 0; i < n; i++) if (t[i] >= talloc && r[i] <= want) {
					s = sprintf("%d", (t[i] - tstart) * 1000); break
				}
				out = out " " s
			}
			print out
		}' "$dir/console" "$dir/rss" 2>/dev/null)
}

summary() {
	diag "$1: freed ${FREED_MIB} MiB in ~${FREE_MS} ms, QEMU RSS fell ${DROP_MIB} MiB; 50/90/99% of the freed memory gone ${T50}/${T90}/${T99} ms after the free started (@event freeing)"
	diag "$(grep -E '^@(engine name=[a-z0-9-]* requests|done)' <<<"$OUT")"
}

measure 2 1024 "engine=pagehint workload=memhog memhog.mib=512 memhog.hold_ms=500 memhog.idle_ms=4000 quiet"
expect_status "pagehint: memhog verified" $EXIT_OK
expect_line "pagehint: active over QEMU's balloon" "^@engine name=pagehint active=1 "
expect_line "pagehint: reported, device acknowledged, no errors" \
	"^@engine name=pagehint requests=[1-9][0-9]* ranges=[1-9][0-9]* mib=[1-9][0-9]* errors=0 "
summary pagehint
if [ "${FREED_MIB:-0}" -gt 0 ] && [ "${DROP_MIB:-0}" -ge $((FREED_MIB * 3 / 4)) ]; then
	ok "pagehint: QEMU's RSS fell by at least 3/4 of the freed memory"
else
	not_ok "pagehint: QEMU's RSS fell by at least 3/4 of the freed memory (freed ${FREED_MIB:-?}, fell ${DROP_MIB:-?} MiB)"
fi
if [ "$T90" != "-" ] && [ -n "$T90" ]; then
	ok "pagehint: 90% of the freed memory left QEMU within the idle time"
else
	not_ok "pagehint: 90% of the freed memory left QEMU within the idle time"
fi

# Reporting under allocation: verify checks every byte while pagehint
# isolates and reports (short hysteresis, small requests, many lock holds).
run_guest 2 256 "engine=pagehint report.delay_ms=1 report.hold=4 report.capacity=8 workload=verify verify.ms=1000 verify.mib=128 quiet" "${BALLOON[@]}"
expect_status "pagehint + verify: every byte checked" $EXIT_OK
run_guest 1 128 "engine=upstream report.hold=4 workload=none"
expect_status "report.hold with upstream: bad command line" $EXIT_CMDLINE

if [ -n "$PH_COMPARE" ]; then
	IFS=, read -ra engines <<<"${PH_COMPARE_ENGINES:-pagehint,upstream}"
	for e in "${engines[@]}"; do
		measure 2 2048 "engine=$e workload=memhog memhog.mib=1536 memhog.hold_ms=1000 memhog.idle_ms=20000 quiet"
		summary "compare $e (2 GiB guest, memhog 1536 MiB)"
	done
fi

done_testing
