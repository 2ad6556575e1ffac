#!/usr/bin/env bash
# Build the Linux reference guest (docs/design.md §5) from Debian's packages, into
# build/linux-ref/ (or $LINUX_REF_DIR):
#
#   vmlinuz              the kernel of linux-image-amd64's versioned package
#                        (linux-image-6.1.0-N-amd64), as Debian ships it
#   vmlinux              the same kernel as the ELF inside vmlinuz, for the
#                        PVH entry (extract_vmlinux.py; checked for the note)
#   initramfs.cpio.gz    busybox (busybox-static), our memhog, the virtio
#                        modules virtio_balloon, virtio_pci and virtio_mmio need (their
#                        dependencies resolved with modules.dep), and /init
#   memhog               scripts/linux-ref/memhog.c, gcc -static
#   manifest.txt         kernel package and version, modules in load order
#
# build.sh --no-modules builds, instead, the initramfs for kernels with
# virtio-pci and virtio-balloon built in (linux/build.sh's): busybox, memhog
# and /init with an empty /etc/modules, without Debian's kernel package:
#
#   initramfs-builtin.cpio.gz
#   manifest-builtin.txt  busybox package
#
# Packages are fetched with `apt-get download` and unpacked with
# `dpkg-deb -x`: nothing is installed on the host. Everything is cached:
# a second run downloads nothing and only rebuilds the initramfs when an
# input changed. The package names and versions resolved by apt-cache are
# kept in resolved.txt; --refresh resolves them again (a newer kernel in the
# archive). LINUX_REF_KPKG=linux-image-6.1.0-N-amd64 picks the kernel
# package instead of resolving linux-image-amd64.
#
# Exit status: 0 built (or up to date); 3 a package could not be resolved
# or fetched (the message says which and why); 1 anything else.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${LINUX_REF_DIR:-$root/build/linux-ref}
debs=$out/debs

say()  { echo "linux-ref: $*" >&2; }
die()  { say "error: $*"; exit 1; }
# fetch_fail PKG WHY: the archive (or the package) is not reachable
fetch_fail() { say "cannot fetch $1 from Debian's archive: $2"; exit 3; }

refresh=0 builtin=0
for a in "$@"; do
	case $a in
	--refresh)    refresh=1 ;;
	--no-modules) builtin=1 ;;
	*) echo "usage: $0 [--refresh] [--no-modules]" >&2; exit 2 ;;
	esac
done

for tool in apt-get apt-cache dpkg-deb gcc gzip objcopy flock python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup.sh)"
done
mkdir -p "$out" "$debs"
# One build at a time in $out (tests run in parallel under prove -j2 and
# share memhog, the unpacked packages and resolved.txt).
exec 9>"$out/.lock"
flock 9

# -- 1. the kernel package: linux-image-amd64 is a metapackage; its
#       Depends names the versioned image package.
resolve_kpkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 ~ /^\|?Depends:$/ && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}
# resolved.txt: "PKG VERSION" lines from an earlier run (apt-cache takes
# seconds per question on a full package list)
resolved=$out/resolved.txt
[ $refresh = 0 ] || rm -f "$resolved"
cached_ver() { [ -f "$resolved" ] && awk -v p="$1" '$1 == p { print $2 }' "$resolved" || true; }
kpkg=${LINUX_REF_KPKG:-$(awk '$1 ~ /^linux-image-[0-9]/ { print $1; exit }' "$resolved" 2>/dev/null || true)}
if [ $builtin = 0 ] && [ -z "$kpkg" ]; then
	kpkg=$(resolve_kpkg)
	if [ -z "$kpkg" ] && [ "$(id -u)" = 0 ]; then
		say "linux-image-amd64 unknown to apt-cache; apt-get update"
		apt-get update -qq >/dev/null 2>&1 || fetch_fail linux-image-amd64 "apt-get update failed"
		kpkg=$(resolve_kpkg)
	fi
	[ -n "$kpkg" ] || fetch_fail linux-image-amd64 "apt-cache cannot resolve it to a versioned linux-image-*-amd64 package (no package lists? run apt-get update)"
fi

# fetch PKG: the .deb of PKG's candidate version in $debs; prints its path.
fetch() {
	local pkg=$1 ver file log
	ver=$(cached_ver "$pkg")
	if [ -z "$ver" ]; then
		ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
		[ -n "$ver" ] && [ "$ver" != "(none)" ] || fetch_fail "$pkg" "apt-cache knows no candidate version"
	fi
	# apt-get download names the file PKG_VERSION_ARCH.deb with ':' as %3a
	file=$debs/${pkg}_${ver//:/%3a}_amd64.deb
	if [ ! -s "$file" ] || ! dpkg-deb --info "$file" >/dev/null 2>&1; then
		say "downloading $pkg $ver"
		rm -f "$file"
		log=$(cd "$debs" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$pkg=$ver" 2>&1) ||
			fetch_fail "$pkg" "$(grep -E '^(E|Err):' <<<"$log" | head -3 | tr '\n' ' ')"
		[ -s "$file" ] || fetch_fail "$pkg" "apt-get download left no $file"
	fi
	echo "$pkg $ver" >>"$resolved.new"
	echo "$file"
}
rm -f "$resolved.new"
if [ $builtin = 0 ]; then
	kdeb=$(fetch "$kpkg")
	bdeb=$(fetch busybox-static)
	mv "$resolved.new" "$resolved"
else
	# only busybox: the kernel's line, if any, stays for the full build
	bdeb=$(fetch busybox-static)
	{ grep -v '^busybox-static ' "$resolved" 2>/dev/null || true; cat "$resolved.new"; } >"$resolved.tmp"
	mv "$resolved.tmp" "$resolved"
	rm -f "$resolved.new"
fi

# -- 2. unpack (no installation), once per .deb
unpack() { # DEB DIR
	if [ ! -e "$2/.from" ] || [ "$(cat "$2/.from")" != "$(basename "$1")" ]; then
		say "unpacking $(basename "$1")"
		rm -rf "$2" && mkdir -p "$2"
		dpkg-deb -x "$1" "$2"
		basename "$1" >"$2/.from"
	fi
}
unpack "$bdeb" "$out/busybox"
busybox=$out/busybox/bin/busybox
[ -x "$busybox" ] || die "busybox-static has no bin/busybox"

# -- memhog
memhog=$out/memhog
if [ ! -x "$memhog" ] || [ "$here/memhog.c" -nt "$memhog" ]; then
	say "building memhog"
	gcc -static -O2 -Wall -Wextra -Werror -pthread -o "$memhog.tmp" "$here/memhog.c"
	mv "$memhog.tmp" "$memhog"
fi

# pack TREE CPIO_GZ: cpio newc (busybox's cpio: the host may have none), gzip
pack() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) |
		gzip -9n >"$2.tmp"
	mv "$2.tmp" "$2"
}
# base_tree TREE: busybox, memhog, /init and an empty /etc/modules
base_tree() {
	rm -rf "$1"
	mkdir -p "$1"/{bin,dev,proc,sys,lib/modules,etc}
	cp "$busybox" "$1/bin/busybox"
	ln -s busybox "$1/bin/sh"
	cp "$memhog" "$1/bin/memhog"
	: >"$1/etc/modules"
	install -m 0755 "$here/init.sh" "$1/init"
}

if [ $builtin = 1 ]; then
	cpio=$out/initramfs-builtin.cpio.gz
	if [ -s "$cpio" ] && [ -s "$out/manifest-builtin.txt" ] &&
		[ -z "$(find "$bdeb" "$memhog" "$here/init.sh" "$0" -newer "$cpio")" ] &&
		grep -qx "busybox_deb=$(basename "$bdeb")" "$out/manifest-builtin.txt"; then
		say "up to date: $cpio"
		exit 0
	fi
	base_tree "$out/root-builtin"
	pack "$out/root-builtin" "$cpio"
	{
		echo "busybox_deb=$(basename "$bdeb")"
		echo "modules="
	} >"$out/manifest-builtin.txt"
	say "ready: $cpio ($(du -k "$cpio" | cut -f1) KiB), no modules (for kernels with virtio built in)"
	exit 0
fi

unpack "$kdeb" "$out/kernel"
vmlinuz=$(ls "$out"/kernel/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || die "$kpkg has no boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir=$out/kernel/lib/modules/$kver
[ -d "$moddir/kernel" ] || die "$kpkg has no lib/modules/$kver/kernel"

# -- 3. modules.dep: Debian generates it at installation, so the package
#       has none; busybox's depmod writes one into the unpacked tree.
if [ ! -s "$moddir/modules.dep" ]; then
	"$busybox" depmod -b "$out/kernel" "$kver" || die "depmod failed"
fi
# deps_of REL: the dependencies of the module at REL (path in modules.dep)
deps_of() { awk -v m="$1:" '$1 == m { for (i = 2; i <= NF; i++) print $i }' "$moddir/modules.dep"; }
path_of() { # NAME: its path relative to $moddir
	awk -F: -v n="$1" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.(xz|zst|gz))?$/, "", f)
		gsub(/-/, "_", f); if (f == n) { print $1; exit } }' "$moddir/modules.dep"
}
# Modules in load order: every module after its dependencies.
order=()
add_module() { # REL
	local d have
	for have in "${order[@]+"${order[@]}"}"; do [ "$have" = "$1" ] && return; done
	for d in $(deps_of "$1"); do add_module "$d"; done
	order+=("$1")
}
# virtio_pci for QEMU, virtio_mmio for `pagehint run`
for name in virtio_balloon virtio_pci virtio_mmio; do
	rel=$(path_of "$name")
	[ -n "$rel" ] || die "$name is not a module of $kver (built in? see $moddir/modules.builtin)"
	add_module "$rel"
done

# -- 4. vmlinux, the ELF inside vmlinuz (PVH boots it), unless up to date
if [ ! -s "$out/vmlinux" ] || [ -n "$(find "$vmlinuz" "$here/extract_vmlinux.py" -newer "$out/vmlinux")" ]; then
	say "extracting vmlinux from $(basename "$vmlinuz")"
	python3 "$here/extract_vmlinux.py" "$vmlinuz" "$out/vmlinux" >/dev/null ||
		die "cannot extract a PVH vmlinux from $vmlinuz"
fi

# -- 5. the initramfs tree, unless it is newer than all its inputs
if [ -s "$out/initramfs.cpio.gz" ] && [ -s "$out/manifest.txt" ] &&
	[ -z "$(find "$kdeb" "$bdeb" "$memhog" "$here/init.sh" "$0" -newer "$out/initramfs.cpio.gz")" ] &&
	grep -qx "kernel_deb=$(basename "$kdeb")" "$out/manifest.txt"; then
	say "up to date: $out/initramfs.cpio.gz ($kver)"
	exit 0
fi
tree=$out/root
base_tree "$tree"
for rel in "${order[@]}"; do
	name=${rel##*/}
	case $name in
	*.ko)     cp "$moddir/$rel" "$tree/lib/modules/$name" ;;
	*.ko.xz)  xz -dc "$moddir/$rel" >"$tree/lib/modules/${name%.xz}" ;;
	*.ko.gz)  gzip -dc "$moddir/$rel" >"$tree/lib/modules/${name%.gz}" ;;
	*.ko.zst) command -v zstd >/dev/null || die "$rel is zstd-compressed and zstd is not installed"
	          zstd -qdc "$moddir/$rel" >"$tree/lib/modules/${name%.zst}" ;;
	*)        die "unexpected module file $rel" ;;
	esac
	name=${name%%.ko*}
	echo "$name" >>"$tree/etc/modules"
done

# -- 6. pack it
pack "$tree" "$out/initramfs.cpio.gz"
cp "$vmlinuz" "$out/vmlinuz"
{
	echo "kernel_package=$kpkg"
	echo "kernel_deb=$(basename "$kdeb")"
	echo "kernel_version=$kver"
	echo "busybox_deb=$(basename "$bdeb")"
	echo "modules=$(tr '\n' ' ' <"$tree/etc/modules" | sed 's/ $//')"
} >"$out/manifest.txt"
say "ready: $out/vmlinuz ($kver), $out/vmlinux, $out/initramfs.cpio.gz ($(du -k "$out/initramfs.cpio.gz" | cut -f1) KiB), modules: $(sed -n 's/^modules=//p' "$out/manifest.txt")"
