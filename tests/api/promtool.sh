#!/usr/bin/env bash
# The control API's GET /metrics held against Prometheus' own checker:
# test_vmm_api writes the text it got from a server on a fake VM
# (PH_API_METRICS_OUT), and `promtool check metrics` reads it. Skipped
# where promtool is missing: it comes with Debian's prometheus package
# (about 96 MB installed, and a server with it), which scripts/setup.sh
# leaves out; test_vmm_api checks the same format rules itself.
# PROMTOOL names another promtool binary.
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
PROMTOOL=${PROMTOOL:-promtool}
command -v "$PROMTOOL" >/dev/null ||
	skip_all "promtool is not installed (Debian's prometheus package; test_vmm_api checks the format)"
T=$PH_BUILD/tests/test_vmm_api
[ -x "$T" ] || skip_all "$T not built (run make)"
plan 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if PH_API_METRICS_OUT=$tmp/metrics "$T" >"$tmp/log" 2>&1 && [ -s "$tmp/metrics" ]; then
	ok "test_vmm_api passes and writes what GET /metrics answered"
else
	not_ok "test_vmm_api passes and writes what GET /metrics answered"
	diag "$(tail -20 "$tmp/log")"
fi
if out=$("$PROMTOOL" check metrics <"$tmp/metrics" 2>&1); then
	ok "promtool check metrics: no problems"
else
	not_ok "promtool check metrics"
	diag "$out"
fi
done_testing
