#!/usr/bin/env bash
# ThreadSanitizer over the hosted multi-threaded tests (make tsan), the
# ones mk/fuzz.mk's TSAN_NAMES lists, under nice (the QEMU tests beside it
# in `make check` time things). One TAP line per test binary; a race report
# fails it and is shown.
. "$(dirname "$0")/../lib.sh"
cd "$PH_ROOT" || exit 1

CLANG=${TSAN_CC:-clang}
command -v "$CLANG" >/dev/null || skip_all "$CLANG is not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }\n' >"$tmp/probe.c"
"$CLANG" -fsanitize=thread -pthread "$tmp/probe.c" -o "$tmp/probe" 2>/dev/null && "$tmp/probe" 2>/dev/null ||
	skip_all "clang's ThreadSanitizer runtime is missing or does not run here"

# make, niced, without the outer make's flags and level (inside `make check`).
submake() { nice -n 10 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s BUILD="$PH_BUILD" "$@"; }
NAMES=$(submake print-tsan-tests 2>/dev/null)
[ -n "$NAMES" ] || { plan 1; not_ok "make print-tsan-tests names the threaded tests"; done_testing; }

plan $((1 + $(wc -w <<<"$NAMES")))
if submake -j2 tsan-build >"$tmp/build.log" 2>&1; then
	ok "make tsan-build builds the threaded tests with -fsanitize=thread"
else
	not_ok "make tsan-build"
	diag "$(tail -20 "$tmp/build.log")"
	done_testing
fi

for t in $NAMES; do
	start=$SECONDS
	if TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" CMOCKA_MESSAGE_OUTPUT=stdout \
		timeout 300 nice -n 10 "$PH_BUILD/tsan/tests/$t" >"$tmp/$t.log" 2>&1; then
		ok "$t under TSan: no data race"
		diag "$t: $((SECONDS - start)) s"
	else
		not_ok "$t under TSan"
		diag "$(grep -E -A12 'WARNING: ThreadSanitizer|FAILED|SUMMARY' "$tmp/$t.log" | head -40)"
	fi
done
done_testing
