# shellcheck shell=bash
# Shared helpers for the script tests (tests/kvm, tests/qemu): TAP output
# for prove, and the checks that decide whether a test can run here.
# Source it; then call plan N (or skip_all REASON), ok/not_ok, and done_testing.

_ph_n=0
_ph_failed=0
_ph_last_failed=0
PH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PH_BUILD=${PH_BUILD:-$PH_ROOT/build}

plan()     { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
ok()       { _ph_n=$((_ph_n + 1)); _ph_last_failed=0; echo "ok $_ph_n - $*"; }
not_ok()   { _ph_n=$((_ph_n + 1)); _ph_failed=$((_ph_failed + 1)); _ph_last_failed=1
	     echo "not ok $_ph_n - $*"; echo "# ${0#"$PH_ROOT"/}: failed $_ph_n - $*" >&2; }
skip()     { _ph_n=$((_ph_n + 1)); _ph_last_failed=0; echo "ok $_ph_n # SKIP $*"; }
# Diagnostics go with the TAP stream (prove shows them with -v); those
# right after a failure also go to stderr, which prove always shows, so a
# failure in CI's log says why without a rerun.
diag()     { if [ $_ph_last_failed = 1 ]; then sed 's/^/# /' <<<"$*" | tee /dev/stderr
	     else sed 's/^/# /' <<<"$*"; fi; }
# check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
check()    { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
done_testing() { exit $((_ph_failed > 0)); }
# checks_from: TAP results written by a checker as "ok|TEXT", "not ok|TEXT"
# or "diag|TEXT" lines on stdin (a Python judge of a run's logs).
checks_from() {
	local kind text
	while IFS='|' read -r kind text; do
		case $kind in
		ok) ok "$text" ;;
		"not ok") not_ok "$text" ;;
		diag) diag "$text" ;;
		esac
	done
}

# Why KVM can't be used here, or nothing if it can. Opening /dev/kvm and
# asking its API version is the real test: the node may exist without a
# driver behind it (a nested PVM guest has the module but no device).
kvm_unusable() {
	[ -e /dev/kvm ] || { echo "/dev/kvm is absent on this machine"; return; }
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "/dev/kvm is not read/writable by $(id -un)"; return; }
	python3 - <<'PY' 2>/dev/null || echo "/dev/kvm does not answer KVM_GET_API_VERSION"
import fcntl, os, sys
fd = os.open("/dev/kvm", os.O_RDWR)
sys.exit(0 if fcntl.ioctl(fd, 0xAE00) == 12 else 1)
PY
}

qemu_unusable() {
	command -v qemu-system-x86_64 >/dev/null || echo "qemu-system-x86_64 is not installed"
}
