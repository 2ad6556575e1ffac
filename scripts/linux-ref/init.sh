#!/bin/sh
# /init of the Linux reference guest (scripts/linux-ref/build.sh puts it in
# the initramfs): load the virtio modules (none in the initramfs for
# kernels with the drivers built in, build.sh --no-modules), check that
# virtio_balloon bound a device with free page reporting, run memhog, power
# off.
#
# Kernel command line (left in /proc/cmdline; the dotted names are not the
# kernel's): workload=memhog (default) with memhog.mib=N memhog.hold=S
# memhog.idle=S memhog.rounds=N, or workload=churn with churn.mib=N
# churn.rounds=N churn.threads=N churn.nohuge=0|1 (memhog.c); balloon.rmmod=1
# unloads virtio_balloon at the end (it deflates the balloon).
# Console lines follow the pagehint guest's protocol (docs/guest.md): @boot,
# @balloon, @event, @done, @fail, @warn, and @exit status=N at the end.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s /bin
export PATH=/bin

param() { # NAME DEFAULT: NAME=value from the kernel command line
	v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -1)
	echo "${v:-$2}"
}
end() { # STATUS
	echo "@exit status=$1"
	sync
	# Without ACPI (acpi=off, or a kernel built without it) there is no
	# power off: the reset ends QEMU, which runs with -no-reboot.
	[ -d /sys/firmware/acpi ] && poweroff -f
	reboot -f
}

up=$(cut -d' ' -f1 /proc/uptime)
echo "@boot kernel=$(uname -r) cpus=$(nproc) mem_kib=$(awk '/^MemTotal/ {print $2}' /proc/meminfo) uptime_s=$up"
# The boot protocol version in Linux's boot_params: the bzImage header's,
# or the one Linux's PVH entry code writes (it builds boot_params itself)
echo "@info boot_params_version=$(cat /sys/kernel/boot_params/version 2>/dev/null || echo none)"

# A module's parameters from the kernel command line (virtio_mmio.device=
# on `pagehint run`), as modprobe would pass them; busybox's insmod does not.
for m in $(cat /etc/modules); do
	args=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^$m\.//p")
	# shellcheck disable=SC2086 # one word per parameter
	insmod "/lib/modules/$m.ko" $args || echo "@warn insmod $m failed"
done

# The balloon's device: bound to virtio_balloon, with feature bit 5
# (VIRTIO_BALLOON_F_REPORTING) negotiated. The features file is a string of
# 0/1, one character per bit, bit 0 first.
dev=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	for d in /sys/bus/virtio/drivers/virtio_balloon/virtio[0-9]*; do
		[ -e "$d" ] && dev=${d##*/} && break
	done
	[ -n "$dev" ] && break
	sleep 0.2
done
if [ -z "$dev" ]; then
	echo "@fail no device bound to virtio_balloon (/sys/bus/virtio/drivers/virtio_balloon)"
	end 3
fi
features=$(cat "/sys/bus/virtio/devices/$dev/features")
reporting=$(echo "$features" | cut -c6)
order=$(cat /sys/module/page_reporting/parameters/page_reporting_order 2>/dev/null || echo none)
# the reporting engine, on kernels with pagehint's series (linux/patches)
engine=
[ -e /sys/module/page_reporting/parameters/engine ] &&
	engine=" engine=$(cat /sys/module/page_reporting/parameters/engine 2>/dev/null || echo unreadable)"
echo "@balloon driver=virtio_balloon device=$dev features=$features reporting=$reporting page_reporting_order=$order$engine"
[ "$reporting" = 1 ] || echo "@warn free page reporting not negotiated"
echo "@info memfree_kib=$(awk '/^MemFree/ {print $2}' /proc/meminfo) thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"

# Zones and their free blocks per order (page_reporting's budget is per
# zone and order: a sixteenth of the free list per pass)
zones() { # WHEN
	awk -v w="$1" '/^Node/ { z = $4 } /^ +managed/ { printf "@info zone when=%s name=%s managed_mib=%d\n", w, z, $2 / 256 }' /proc/zoneinfo
	awk -v w="$1" '{ k = 0; m = 4; for (o = 0; o < 9; o++) { k += $(5 + o) * m; m *= 2 }
		printf "@info buddyinfo when=%s zone=%s o9=%s o10=%s below_o9_kib=%d\n", w, $4, $(5 + 9), $(5 + 10), k }' /proc/buddyinfo
	# pages on the per-CPU lists (zoneinfo's pagesets), which are not in
	# the buddy lists and so never reported
	awk -v w="$1" '/^Node/ { z = $4 } /^ +count:/ { c[z] += $2 }
		END { for (z in c) printf "@info pcp when=%s zone=%s kib=%d\n", w, z, c[z] * 4 }' /proc/zoneinfo
}
zones before
# memhog.mib=avail-N: all the memory the kernel says is available but N MiB
mib=$(param memhog.mib 2048)
case $mib in
avail-*) less=${mib#avail-}
	 mib=$(( $(awk '/^MemAvailable/ {print $2}' /proc/meminfo) / 1024 - less ))
	 echo "@info memhog.mib=$mib (MemAvailable less $less MiB)" ;;
esac
case $(param workload memhog) in
memhog) memhog "$mib" "$(param memhog.hold 20)" "$(param memhog.idle 35)" \
	"$(param memhog.rounds 1)" ;;
churn)  memhog churn "$(param churn.mib 128)" "$(param churn.rounds 10)" "$(param churn.threads 2)" \
	"$(param churn.nohuge 0)" ;;
*)      echo "@fail unknown workload=$(param workload memhog) (memhog, churn)"; false ;;
esac
rc=$?
zones after
# The balloon's side of Linux's accounting: an inflated balloon is taken
# out of MemTotal. balloon.rmmod=1 unloads the driver, which deflates it
# all (the deflate queue), and says MemTotal again.
memtotal() { awk '/^MemTotal/ {print $2}' /proc/meminfo; }
echo "@info memtotal_kib=$(memtotal) when=end"
if [ "$(param balloon.rmmod 0)" = 1 ]; then
	rmmod virtio_balloon || echo "@warn rmmod virtio_balloon failed"
	echo "@info memtotal_kib=$(memtotal) when=deflated"
fi
end $rc
