#!/usr/bin/env bash
# The control API's GET /metrics held against Prometheus' own checker:
# test_vmm_api writes the text it got from a server on a fake VM
# (PH_API_METRICS_OUT), and `promtool check metrics` reads it. promtool
# comes with Debian's prometheus package, a server of 96 MB installed that
# this test does not want: where promtool is not on the PATH, the package
# is downloaded (apt-get download, 19 MB, cached in build/promtool/) and
# only its promtool taken out. Skipped, with the reason, where neither
# works. PROMTOOL names another promtool binary.
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
# promtool_fetch DIR: DIR/promtool from Debian's package, unless there
# already; the last error line on failure.
promtool_fetch() {
	local dir=$1 deb
	[ -x "$dir/promtool" ] && return 0
	mkdir -p "$dir/pkg" || return 1
	(cd "$dir/pkg" && apt-get download prometheus >download.log 2>&1) ||
		{ tail -1 "$dir/pkg/download.log"; return 1; }
	deb=("$dir"/pkg/prometheus_*.deb)
	if ! dpkg-deb --fsys-tarfile "${deb[0]}" 2>"$dir/pkg/extract.log" |
		tar -xO ./usr/bin/promtool >"$dir/promtool.new" 2>>"$dir/pkg/extract.log"; then
		tail -1 "$dir/pkg/extract.log"
		return 1
	fi
	chmod +x "$dir/promtool.new" && mv "$dir/promtool.new" "$dir/promtool"
	rm -rf "$dir/pkg"
}
if [ -n "${PROMTOOL:-}" ]; then
	command -v "$PROMTOOL" >/dev/null || skip_all "PROMTOOL=$PROMTOOL is not there"
elif command -v promtool >/dev/null; then
	PROMTOOL=promtool
else
	why=$(promtool_fetch "$PH_BUILD/promtool") ||
		skip_all "promtool is not installed and Debian's prometheus package cannot be fetched: $why"
	PROMTOOL=$PH_BUILD/promtool/promtool
fi
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
