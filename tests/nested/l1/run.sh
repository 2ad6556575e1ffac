#!/usr/bin/env bash
# Run `pagehint run` under a real KVM on a machine without /dev/kvm: boot
# Debian's Linux 6.1 under QEMU's TCG with AMD SVM emulated (-cpu max),
# load kvm + kvm-amd in it, and run a statically linked pagehint against
# the project's guest inside. Slow (TCG) but it exercises every KVM ioctl,
# the PVH entry, INIT/SIPI, ioeventfd/irqfd and the in-kernel irqchip.
# Not a test (it downloads a kernel package): a tool for checking vmm/
# where CI has no KVM.
#
#   tests/nested/l1/run.sh 'run,--cpus,2,--mem,256M,--,test=report,quiet[;run,...]'
#   tests/nested/l1/run.sh FILE     (one such command per line; no length limit)
#
# NESTED_MEM sets the L1 machine's RAM (default 2048 MiB; a guest of
# --mem 2G wants 3072), NESTED_TIMEOUT the boot's limit (default 1500 s). tests/nested/kvm.sh is the test built on this.
# Each ';'-separated command is one pagehint invocation, its arguments
# separated by ','; the summary JSON (--summary-json /s.json) is printed
# after each. A command may also be a step of the init's (init.c): &run
# in the background with --api-sock /api.sock, ctl,WORDS and ctls,N,WORDS
# asking it, sleep,S, wait. Needs make to have built build/pagehint-static and the guest.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=${NESTED_WORK:-/tmp/pagehint-nested}
mkdir -p "$WORK"
cd "$WORK"
if [ ! -d root/boot ]; then
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
	apt-get download "$pkg"
	dpkg-deb -x "$pkg"_*.deb root
fi
kver=$(ls root/lib/modules | head -1)
K=root/lib/modules/$kver/kernel
gcc -static -O2 "$ROOT/tests/nested/l1/init.c" -o init
cp "$ROOT/build/pagehint-static" pagehint
extra=() append="PH=$1"
if [ -f "$1" ]; then
	cp "$1" cmds
	extra=(cmds=cmds) append=""
fi
python3 "$ROOT/tests/nested/l1/mkcpio.py" initrd.cpio init=init pagehint=pagehint "${extra[@]}" \
	"$ROOT/build/pagehint-guest.elf=guest.elf" \
	"$K/virt/lib/irqbypass.ko=modules/irqbypass.ko" "$K/arch/x86/kvm/kvm.ko=modules/kvm.ko" \
	"$K/drivers/crypto/ccp/ccp.ko=modules/ccp.ko" "$K/arch/x86/kvm/kvm-amd.ko=modules/kvm-amd.ko"
# Keep the kernel command line short: it is limited to 2 KiB.
# thread=single: see tests/nested/kvm.sh (the L1's self-patching under MTTCG)
timeout "${NESTED_TIMEOUT:-1500}" qemu-system-x86_64 -M pc -accel tcg,thread=single -cpu max -smp 2 -m "${NESTED_MEM:-2048}" -nographic -no-reboot -nodefaults \
	-serial stdio -kernel root/boot/vmlinuz-"$kver" -initrd initrd.cpio \
	-device isa-debug-exit,iobase=0xf4,iosize=1 \
	-append "console=ttyS0 panic=-1 loglevel=4 $append"
