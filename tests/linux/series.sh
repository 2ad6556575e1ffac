#!/usr/bin/env bash
# The Linux patch series (linux/patches/, docs/linux.md): it applies in
# order to the source package linux/build.sh names, every patch passes
# the kernel's scripts/checkpatch.pl --strict and has what a kernel commit
# needs, and the C files it touches build without a W=1 warning that the
# stock files do not have (linux/build.sh records both builds' W=1 output).
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
build=$PH_ROOT/linux/build.sh
series=()
for p in "$PH_ROOT"/linux/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	case ${p##*/} in 0000-*) ;; *) [ -f "$p" ] && series+=("$p") ;; esac
done
[ ${#series[@]} -gt 0 ] || { plan 1; not_ok "linux/patches/ holds a series"; done_testing; }

src=$(timeout 600 "$build" --source 2>/tmp/series.$$.err)
rc=$?
err=$(cat /tmp/series.$$.err); rm -f /tmp/series.$$.err
[ $rc = 3 ] && skip_all "the source package can't be had: $(grep 'cannot have' <<<"$err" | head -1)"
plan $((4 * ${#series[@]} + 3))
check "linux/build.sh --source unpacks the source it names" test $rc = 0 -a -f "$src/Makefile"
[ $rc = 0 ] || diag "$err"

subject_ok() { [[ $1 =~ ^[a-z_/]+:\ .+ ]] && [ ${#1} -le 75 ]; }
signed() { [ "$1" -ge 3 ] && grep -q '^Signed-off-by: ' "$2"; }

# every patch applies, in order, to a copy of the files the series touches
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
while read -r f; do
	[ -f "$src/$f" ] || continue
	mkdir -p "$work/$(dirname "$f")" && cp "$src/$f" "$work/$f"
done < <(sed -n 's|^+++ b/||p' "${series[@]}" | sed 's/[[:space:]].*//' | sort -u)
for p in "${series[@]}"; do
	n=${p##*/}
	if out=$(patch -d "$work" -p1 --batch --forward <"$p" 2>&1) &&
	   ! grep -qi 'fuzz\|offset' <<<"$out"; then
		ok "$n applies cleanly (no fuzz, no offset)"
	else
		not_ok "$n applies cleanly"; diag "$out"
	fi
	cp=$(cd "$src" && perl scripts/checkpatch.pl --strict --show-types "$p" 2>&1)
	if grep -q 'total: 0 errors, 0 warnings, 0 checks' <<<"$cp"; then
		ok "$n: checkpatch.pl --strict clean"
	else
		not_ok "$n: checkpatch.pl --strict clean"; diag "$cp"
	fi
	# the Subject header, unfolded (format-patch wraps long ones)
	subject=$(awk '/^Subject: / { s = $0; f = 1; next } f && /^[ \t]/ { s = s $0; next } f { exit } END { print s }' "$p" |
		sed 's/^Subject: \[PATCH[^]]*\] //')
	check "$n: subject 'subsystem: summary', at most 75 characters ($subject)" \
		subject_ok "$subject"
	# a body of at least three lines before the Signed-off-by
	body=$(awk '/^$/ && !b { b = 1; next } b && /^Signed-off-by:/ { exit } b { n++ } END { print n + 0 }' "$p")
	check "$n: says why in its body ($body lines) and is signed off" \
		signed "$body" "$p"
done
check "the boot parameter is documented in kernel-parameters.txt" \
	grep -q '^	page_reporting.engine=' "$work/Documentation/admin-guide/kernel-parameters.txt"

# W=1: linux/build.sh compiles the touched files with W=1 after each build
w1_count() { grep -c 'warning:' "$1" 2>/dev/null || true; }
stock=$("$build" --path stock 2>/dev/null) && sw1=$(dirname "$stock")/w1.log
patched=$("$build" --path pagehint 2>/dev/null) && pw1=$(dirname "$patched")/w1.log
if [ -f "${pw1:-}" ]; then
	base=0
	[ -f "${sw1:-}" ] && base=$(w1_count "$sw1")
	n=$(w1_count "$pw1")
	check "W=1 on the touched files: $n warnings with the series, $base without" test "$n" -le "$base"
	[ "$n" -le "$base" ] || diag "$(grep 'warning:' "$pw1")"
else
	skip "W=1: the pagehint kernel is not built here (linux/build.sh pagehint)"
fi
done_testing
