#!/usr/bin/env bash
# Install what pagehint's build, tests, demo and bench need on Debian 12.
# Run as root (or through sudo); does nothing it doesn't have to.
set -euo pipefail
# libc6-dbg: valgrind stops at startup without ld.so's symbols, which
# Debian strips (tests/nested/kvm.sh packs them into its initrd).
# flex, bison, libelf-dev, patch: linux/build.sh builds Linux 6.1.
# The linters of tests/lint/ (make lint): shellcheck, cppcheck, clang-tidy.
# The control API (vmm/api.c): libjansson-dev (JSON; its static archive
# goes into build/pagehint-static too) and node-llhttp (the HTTP/1.1
# parser, shipped as C sources that mk/vmm.mk compiles).
pkgs=(build-essential clang libclang-rt-14-dev linux-libc-dev libcmocka-dev
      perl python3 bc binutils xz-utils qemu-system-x86 gnuplot-nox spin valgrind
      libc6-dbg flex bison libelf-dev patch shellcheck cppcheck clang-tidy
      libjansson-dev node-llhttp)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "setup: need root to install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
