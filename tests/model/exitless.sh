#!/usr/bin/env bash
# Model check of the exitless handshake (docs/exitless.md) with spin:
# tests/model/exitless.pml is turned into a verifier (spin -a), compiled
# (cc pan.c) and run (./pan) for
#   - assertions and invalid end states (no never claim),
#   - the LTL safety claim no_discard_of_owned,
#   - the LTL liveness claim reclaim_completes, under weak fairness,
# on the default configuration (2 frames, 2 guest CPUs, 2 rounds) and a
# larger one; then each deliberately broken variant (-DBROKEN=1..4) must
# be caught. Skips when spin is not installed (Debian: apt-get install spin).
. "$(dirname "$0")/../lib.sh"
command -v spin >/dev/null || skip_all "spin is not installed (apt-get install spin)"
CC=${CC:-cc}
command -v "$CC" >/dev/null || skip_all "no C compiler ($CC)"
plan 9

MODEL=$PH_ROOT/tests/model/exitless.pml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pan 'SPIN DEFINES' 'CC FLAGS' 'PAN ARGS': build and run a verifier in a
# fresh directory; sets PAN_OUT and ERRORS (the "errors: N" count, or
# "build" if spin or the compiler failed).
pan() {
	local d
	d=$(mktemp -d -p "$work")
	ERRORS=build
	# shellcheck disable=SC2086
	if ! (cd "$d" && spin $1 -a "$MODEL" >spin.log 2>&1 && $CC -O1 $2 -o pan pan.c 2>cc.log); then
		PAN_OUT=$(cat "$d"/*.log)
		return
	fi
	# shellcheck disable=SC2086
	PAN_OUT=$(cd "$d" && ./pan -m2000000 $3 2>&1)
	ERRORS=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$PAN_OUT" | head -1)
	[ -n "$ERRORS" ] || ERRORS=build
	# a search cut short by the depth limit proves nothing
	if grep -q "max search depth too small" <<<"$PAN_OUT"; then ERRORS=depth; fi
}

# expect_clean DESCRIPTION: the last run found no error
expect_clean() {
	if [ "$ERRORS" = 0 ]; then
		ok "$1"
		diag "$(grep -E 'states, stored|depth reached' <<<"$PAN_OUT" | head -2)"
	else
		not_ok "$1 (errors: $ERRORS)"
		diag "$PAN_OUT"
	fi
}

# expect_caught DESCRIPTION: the last run found an error (a broken variant)
expect_caught() {
	if [ "$ERRORS" != build ] && [ "$ERRORS" != depth ] && [ "$ERRORS" -gt 0 ]; then
		ok "$1"
		diag "$(grep -m1 -E 'assertion violated|acceptance cycle|invalid end state' <<<"$PAN_OUT")"
	else
		not_ok "$1 (errors: $ERRORS)"
		diag "$PAN_OUT"
	fi
}

pan "" "-DSAFETY -DNOCLAIM" ""
expect_clean "exitless: no assertion violation, no invalid end state"
pan "" "" "-a -N no_discard_of_owned"
expect_clean "exitless: LTL [] no discard of a frame a guest CPU owns"
pan "" "" "-a -f -N reclaim_completes"
expect_clean "exitless: LTL [] (RECLAIMING -> <> RECLAIMED), weak fairness"
pan "-DFRAMES=3 -DGUESTS=2 -DROUNDS=2" "-DSAFETY -DNOCLAIM" ""
expect_clean "exitless: 3 frames: no assertion violation, no invalid end state"
pan "-DFRAMES=2 -DGUESTS=3 -DROUNDS=1" "" "-a -N no_discard_of_owned"
expect_clean "exitless: 3 guest CPUs: LTL no discard of an owned frame"

pan "-DBROKEN=1" "-DSAFETY -DNOCLAIM" ""
expect_caught "broken: host claims FREE without a CAS: caught"
pan "-DBROKEN=2" "-DSAFETY -DNOCLAIM" ""
expect_caught "broken: guest takes a RECLAIMING frame: caught"
pan "-DBROKEN=3" "" "-a -N no_discard_of_owned"
expect_caught "broken: host publishes RECLAIMED before its discard ends: caught (LTL)"
pan "-DBROKEN=4" "-DSAFETY -DNOCLAIM" ""
expect_caught "broken: guest publishes FREE before it is done: caught"

done_testing
