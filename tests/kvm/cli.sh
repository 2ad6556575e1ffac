#!/usr/bin/env bash
# The command table and `pagehint run`'s options, checked on the real
# binary. Needs no KVM: every case here fails (or prints help) before a VM
# would be created.
. "$(dirname "$0")/../lib.sh"

PH=$PH_BUILD/pagehint
[ -x "$PH" ] || skip_all "$PH not built (run make)"
plan 36

# bad NAME ARGS...: exit status 64 (not the guest's 2) and exactly one line on stderr.
bad() {
	local name=$1 err rc
	shift
	err=$("$PH" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 64 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && [[ $err == pagehint:* ]]; then
		ok "$name: exit 64, one line"
	else
		not_ok "$name: exit 64, one line (status $rc)"
		diag "$err"
	fi
}

help=$("$PH" run --help)
rc=$?
check "--help exits 0" test $rc -eq 0
missing=
for f in --kernel --mem --cpus --backing --thp --discard --balloon-protocol \
	--balloon-target --api-sock --trace --summary-json --timeout --help; do
	grep -q -- "$f" <<<"$help" || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "--help lists every option"; else not_ok "--help lacks:$missing"; fi

# The table: help, --help and -h list every command on stdout; no
# command lists them on stderr, a usage error.
for words in help --help -h; do
	list=$("$PH" "$words")
	rc=$?
	if [ $rc -eq 0 ] && grep -qE '^  run ' <<<"$list" && grep -qE '^  bench ' <<<"$list" &&
		grep -qE '^  peers ' <<<"$list" && grep -qE '^  ctl ' <<<"$list"; then ok "pagehint $words lists the commands"
	else not_ok "pagehint $words lists the commands (status $rc)"; diag "$list"; fi
done
list=$("$PH" 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 64 ] && grep -qE '^  run ' <<<"$list"; then ok "no command: the list on stderr, exit 64"
else not_ok "no command: the list on stderr, exit 64 (status $rc)"; diag "$list"; fi
check "pagehint help run is run --help" test "$("$PH" help run)" = "$help"

bad "unknown flag" run --frobnicate
bad "unknown command" frob
bad "bad size" run --mem 12x
bad "bad cpus" run --cpus 0
bad "bad backing" run --backing file
bad "bad discard" run --discard zap
bad "punch without memfd" run --discard punch
bad "bad protocol" run --balloon-protocol v9
bad "bad timeout" run --timeout never
bad "missing value" run --mem
bad "missing kernel file" run --kernel /nonexistent/guest.elf
bad "kernel that is not an ELF" run --kernel "$0"

# pagehint ctl: its words refused before any socket is opened; a socket
# that is not there is status 69 (EX_UNAVAILABLE).
"$PH" ctl --help | grep -q -- --api-sock
check "ctl --help lists its options, exit 0" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
bad "ctl without --api-sock" ctl balloon
bad "ctl without WHAT" ctl --api-sock /nonexistent/api.sock
bad "ctl with an unknown WHAT" ctl --api-sock /nonexistent/api.sock frob
bad "ctl balloon set, not whole MiB" ctl --api-sock /nonexistent/api.sock balloon set 1.5M
bad "ctl watch without --api-sock" ctl watch
bad "ctl watch, an interval under 50 ms" ctl --api-sock /nonexistent/api.sock watch --interval 5
bad "ctl --wait without balloon set" ctl --api-sock /nonexistent/api.sock balloon --wait 5
bad "ctl balloon set --wait, no seconds" ctl --api-sock /nonexistent/api.sock balloon set 64M --wait 0s
"$PH" ctl --api-sock /nonexistent/api.sock balloon set 64M --wait 5 >/dev/null 2>&1
check "ctl balloon set --wait to a socket that is not there: exit 69" test $? -eq 69
"$PH" ctl --api-sock /nonexistent/api.sock balloon >/dev/null 2>&1
check "ctl to a socket that is not there: exit 69" test $? -eq 69

# Linux bzImages, made up: a setup header (x86 boot protocol 2.15, 64-bit
# entry) and 8 KiB of "kernel"; INIT_SIZE is what it asks to run in.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
bz() { # FILE INIT_SIZE [BYTES]: the image, cut to BYTES if given
	python3 - "$@" <<'PY'
import struct, sys
path, init_size = sys.argv[1], int(sys.argv[2])
img = bytearray(1024 + 8192)
img[0x1f1] = 1                                  # setup_sects
struct.pack_into('<I', img, 0x1f4, 8192 // 16)  # syssize
struct.pack_into('<H', img, 0x1fe, 0xaa55)      # boot_flag
img[0x200], img[0x201] = 0xeb, 0x6a             # jump: the header ends at 0x26c
struct.pack_into('<IH', img, 0x202, 0x53726448, 0x020f)  # "HdrS", version
img[0x211] = 1                                  # loadflags: LOADED_HIGH
struct.pack_into('<IIBBH', img, 0x22c, 0x7fffffff, 2 << 20, 1, 0, 1)  # initrd max, align, relocatable, xloadflags
struct.pack_into('<I', img, 0x238, 2047)        # cmdline_size
struct.pack_into('<QI', img, 0x258, 16 << 20, init_size)  # pref_address, init_size
n = int(sys.argv[3]) if len(sys.argv) > 3 else len(img)
open(path, 'wb').write(img[:n])
PY
}
bz "$T/bz-short" $((16 << 20)) 600
bz "$T/bz-huge" $((1 << 30))
bz "$T/bz" $((16 << 20))
truncate -s 60M "$T/initrd"
truncate -s 63M "$T/initrd-big"
bad "truncated bzImage" run --mem 64M --kernel "$T/bz-short"
bad "bzImage asking for more RAM" run --mem 64M --kernel "$T/bz-huge"
bad "initrd that does not fit" run --mem 64M --kernel "$T/bz" --initrd "$T/initrd"
bad "initrd that does not fit above an ELF kernel" run --mem 64M --initrd "$T/initrd-big"
bad "missing initrd" run --mem 64M --kernel "$T/bz" --initrd "$T/none"
msg=$("$PH" run --mem 64M --kernel "$T/bz-huge" 2>&1 >/dev/null)
if [[ $msg == *"needs RAM up to"* ]]; then ok "the refusal says what the kernel asks for"
else not_ok "the refusal says what the kernel asks for"; diag "$msg"; fi

done_testing
