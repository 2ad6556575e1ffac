#!/usr/bin/env bash
# The fuzz targets' smoke run for `make check`: build them (make fuzz),
# replay every regression input (tests/fuzz/regressions/<target>/), then
# fuzz each target for a bounded number of runs from its seed corpus
# (tests/fuzz/corpus/<target>/) with a fixed seed, so the run is the same
# every time. Longer runs: make fuzz-long (docs/hardening.md).
#
# FUZZ_RUNS (10000) runs per target; FUZZ_TIMEOUT (30) seconds per input.
# Regression inputs named known-* are failures not fixed yet: TODO tests.
# Everything runs under nice: the QEMU tests beside it in `make check` time
# things.
. "$(dirname "$0")/../lib.sh"
cd "$PH_ROOT" || exit 1

TARGETS="fuzz_mmio fuzz_balloon_dev fuzz_virtq_driver fuzz_api"
RUNS=${FUZZ_RUNS:-10000}
TIMEOUT=${FUZZ_TIMEOUT:-30}
CLANG=${FUZZ_CC:-clang}

command -v "$CLANG" >/dev/null || skip_all "$CLANG is not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$tmp/probe.c"
"$CLANG" -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" 2>/dev/null ||
	skip_all "clang's libFuzzer/sanitizer runtime is missing (libclang-rt-dev)"

nreg=$(find tests/fuzz/regressions -type f 2>/dev/null | wc -l)
plan $((1 + nreg + $(wc -w <<<"$TARGETS")))

# Not the parent make's jobserver: this is a make of its own.
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL nice -n 10 make -s -j2 BUILD="$PH_BUILD" fuzz >"$tmp/build.log" 2>&1; then
	ok "make fuzz builds the targets with $CLANG -fsanitize=fuzzer,address,undefined"
else
	not_ok "make fuzz builds the targets"
	diag "$(tail -20 "$tmp/build.log")"
	done_testing
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in $TARGETS; do
	for f in tests/fuzz/regressions/$t/*; do
		[ -f "$f" ] || continue
		name=$(basename "$f")
		if "$PH_BUILD/fuzz/$t" -timeout="$TIMEOUT" "$f" >"$tmp/reg.log" 2>&1; then
			res=ok
		else
			res=not_ok
		fi
		case $name in
		known-*) echo "$([ $res = ok ] && echo ok || echo not ok) $((++_ph_n)) - $t replays $name # TODO not fixed yet" ;;
		*) $res "$t replays regression $name"
		   [ $res = ok ] || diag "$(grep -E 'invariant|ERROR|SUMMARY|timeout' "$tmp/reg.log" | head -5)" ;;
		esac
	done
done

for t in $TARGETS; do
	mkdir -p "$tmp/corpus-$t" "$tmp/art-$t"
	start=$SECONDS
	if nice -n 10 "$PH_BUILD/fuzz/$t" -runs="$RUNS" -seed=1 -timeout="$TIMEOUT" -max_len=1024 \
		-rss_limit_mb=2048 -max_total_time=120 -artifact_prefix="$tmp/art-$t/" \
		"$tmp/corpus-$t" "tests/fuzz/corpus/$t" >"$tmp/$t.log" 2>&1; then
		ok "$t: $RUNS runs from the seed corpus, no invariant broken"
		diag "$t: $(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$tmp/$t.log" | tail -1) in $((SECONDS - start)) s"
	else
		not_ok "$t: $RUNS runs from the seed corpus"
		mkdir -p "$PH_BUILD/fuzz/artifacts"
		cp "$tmp/art-$t/"* "$PH_BUILD/fuzz/artifacts/" 2>/dev/null
		diag "$(grep -E 'invariant|ERROR|SUMMARY|#[0-9]+ 0x.* in ' "$tmp/$t.log" | head -12)"
		diag "input kept in $PH_BUILD/fuzz/artifacts/"
	fi
done
done_testing
