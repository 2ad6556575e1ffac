#!/usr/bin/env bash
# Build Linux 6.1 from Debian's linux-source-6.1, without and with
# pagehint's patch series (linux/patches/), as small x86-64 guest kernels
# (linux/config/pagehint.config over tinyconfig; docs/linux.md).
#
#   linux/build.sh [VARIANT...]     VARIANT: stock, pagehint, stock-debug,
#                                   pagehint-debug, all (default: stock pagehint)
#   linux/build.sh --path VARIANT   print the cached bzImage's path, build nothing
#                                   (exit 1 if it is not built)
#   linux/build.sh --source         fetch and unpack the source only; print its path
#
# -debug variants add linux/config/debug.config (DEBUG_VM, DEBUG_LIST,
# PROVE_LOCKING, KASAN). Everything lives outside the clone, in
# $PAGEHINT_LINUX_CACHE (default /var/cache/pagehint/linux when writable,
# else ~/.cache/pagehint/linux), so a fresh clone reuses what an earlier
# one built: a kernel is rebuilt only when its key changes (the source
# package's version, the config fragments, the patches it applies, this
# script, the compiler).
#
# Exit status: 0 built (or cached); 3 the source package could not be had
# (the message says why); 1 anything else (a patch that does not apply,
# a config option that did not stick, a failed build).
set -euo pipefail

# The exact package the series applies to.
SRC_PKG=linux-source-6.1
SRC_VER=6.1.192-3

here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${PAGEHINT_LINUX_CACHE:-}" ]; then
	cache=$PAGEHINT_LINUX_CACHE
elif mkdir -p /var/cache/pagehint/linux 2>/dev/null && [ -w /var/cache/pagehint/linux ]; then
	cache=/var/cache/pagehint/linux
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/pagehint/linux
fi
jobs=${JOBS:-$(nproc)}

say() { echo "linux: $*" >&2; }
die() { say "error: $*"; exit 1; }
unavailable() { say "cannot have $SRC_PKG $SRC_VER: $*"; exit 3; }

# the series in order, without its cover letter (0000-cover-letter.patch)
patches() {
	local p
	for p in "$here"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
		case ${p##*/} in 0000-*) ;; *) [ -f "$p" ] && echo "$p" ;; esac
	done
}

# key VARIANT: what the kernel is built from, hashed
key() {
	local v=$1
	{
		echo "$SRC_PKG $SRC_VER"
		gcc --version | head -1
		cat "$0" "$here/config/pagehint.config"
		case $v in *-debug) cat "$here/config/debug.config" ;; esac
		case $v in pagehint*) patches | xargs -r cat ;; esac
	} | sha256sum | cut -c1-16
}
outdir() { echo "$cache/out/$1-$(key "$1")"; }

if [ "${1:-}" = --source ]; then
	SOURCE_ONLY=1
	shift
fi
if [ "${1:-}" = --path ]; then
	[ $# = 2 ] || die "usage: $0 --path VARIANT"
	f=$(outdir "$2")/bzImage
	[ -s "$f" ] || exit 1
	echo "$f"
	exit 0
fi

variants=()
for a in "${@:-stock pagehint}"; do
	for v in $a; do
		case $v in
		stock|pagehint|stock-debug|pagehint-debug) variants+=("$v") ;;
		all) variants+=(stock pagehint stock-debug pagehint-debug) ;;
		*) echo "usage: $0 [stock|pagehint|stock-debug|pagehint-debug|all]... | --path VARIANT" >&2; exit 2 ;;
		esac
	done
done

for tool in apt-get dpkg-deb tar xz make gcc flex bison bc perl; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup.sh)"
done
mkdir -p "$cache"
# one build at a time: tests run in parallel and share the trees
exec 9>"$cache/.lock"
flock 9

# -- the source: the exact package version, unpacked once
src=$cache/src/$SRC_PKG-$SRC_VER
fetch_source() {
	local deb=$cache/${SRC_PKG}_${SRC_VER}_all.deb log tmp
	if [ ! -s "$deb" ] || ! dpkg-deb --info "$deb" >/dev/null 2>&1; then
		say "downloading $SRC_PKG $SRC_VER"
		rm -f "$deb"
		log=$(cd "$cache" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$SRC_PKG=$SRC_VER" 2>&1) ||
			unavailable "$(grep -E '^(E|Err):' <<<"$log" | head -3 | tr '\n' ' ')(an older version leaves the archive when a new one comes: update SRC_VER and the series)"
		[ -s "$deb" ] || unavailable "apt-get download left no $deb"
	fi
	say "unpacking $SRC_PKG $SRC_VER"
	tmp=$cache/src/.unpack.$$
	rm -rf "$tmp" && mkdir -p "$tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/src/$SRC_PKG.tar.xz
	tar -xJf "$tmp/usr/src/$SRC_PKG.tar.xz" -C "$tmp"
	[ -f "$tmp/$SRC_PKG/Makefile" ] || die "$SRC_PKG.tar.xz holds no $SRC_PKG/Makefile"
	rm -rf "$src"
	mv "$tmp/$SRC_PKG" "$src"
	rm -rf "$tmp"
	echo "$SRC_VER" >"$src/.pagehint-version"
}
[ "$(cat "$src/.pagehint-version" 2>/dev/null)" = "$SRC_VER" ] || fetch_source
if [ -n "${SOURCE_ONLY:-}" ]; then
	echo "$src"
	exit 0
fi

# -- the patched tree: the source with the series applied. It is kept
#    between series: a new series is applied to fresh copies of the files
#    either series touches, and only the files whose content changed are
#    written, so their objects, and only theirs, are rebuilt.
touched() { # the files the series touches, one per line
	patches | xargs -r sed -n 's|^+++ b/||p' | sed 's/[[:space:]].*//' | LC_ALL=C sort -u
}
apply_series() { # DIR: apply the series to DIR
	local p
	for p in $(patches); do
		patch -d "$1" -p1 --batch --forward --quiet <"$p" >&2 ||
			die "$(basename "$p") does not apply to $SRC_PKG $SRC_VER"
	done
}
tree_for() { # VARIANT -> source tree
	case $1 in
	stock*) echo "$src" ;;
	pagehint*)
		local t=$cache/src/pagehint-$SRC_VER k new f
		k=$(patches | xargs -r cat | sha256sum | cut -c1-16)
		[ "$(cat "$t/.pagehint-series" 2>/dev/null)" = "$k" ] && { echo "$t"; return; }
		say "applying the series ($(patches | wc -l) patches) to $SRC_PKG $SRC_VER"
		if [ ! -f "$t/.pagehint-files" ]; then
			rm -rf "$t" && cp -a "$src" "$t"
			apply_series "$t"
		else
			new=$cache/src/.series.$$
			rm -rf "$new" && mkdir -p "$new"
			for f in $( (cat "$t/.pagehint-files"; touched) | LC_ALL=C sort -u); do
				[ -f "$src/$f" ] || continue
				mkdir -p "$new/$(dirname "$f")"
				cp -p "$src/$f" "$new/$f"
			done
			apply_series "$new"
			for f in $( (cat "$t/.pagehint-files"; touched) | LC_ALL=C sort -u); do
				if [ -f "$new/$f" ]; then
					cmp -s "$new/$f" "$t/$f" || { mkdir -p "$t/$(dirname "$f")"; cp "$new/$f" "$t/$f"; }
				else
					rm -f "$t/$f"	# created by the old series only
				fi
			done
			rm -rf "$new"
		fi
		touched >"$t/.pagehint-files"
		echo "$k" >"$t/.pagehint-series"
		echo "$t" ;;
	esac
}

# -- one kernel
build() { # VARIANT
	local v=$1 out tree obj start
	out=$(outdir "$v")
	if [ -s "$out/bzImage" ]; then
		say "$v: cached $out/bzImage"
		return
	fi
	tree=$(tree_for "$v")
	obj=$cache/obj/$v
	start=$(date +%s)
	mkdir -p "$obj"
	local frags=("$here/config/pagehint.config")
	case $v in *-debug) frags+=("$here/config/debug.config") ;; esac
	say "$v: configuring (tinyconfig + ${frags[*]##*/})"
	make -s -C "$tree" O="$obj" tinyconfig >/dev/null
	(cd "$obj" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$obj" .config "${frags[@]}" >/dev/null 2>&1)
	make -s -C "$tree" O="$obj" olddefconfig >/dev/null 2>&1
	# every option a fragment asks for must be in the result
	local f line bad=0
	for f in "${frags[@]}"; do
		while read -r line; do
			case $line in CONFIG_*=*) ;; *) continue ;; esac
			grep -qxF "$line" "$obj/.config" || { say "$v: $line did not stick (a dependency is missing)"; bad=1; }
		done <"$f"
	done
	[ $bad = 0 ] || die "$v: the config is not what linux/config asks for"
	say "$v: building bzImage with -j$jobs"
	make -s -C "$tree" O="$obj" -j"$jobs" bzImage >"$obj/build.log" 2>&1 ||
		{ tail -30 "$obj/build.log" >&2; die "$v: the build failed ($obj/build.log)"; }
	mkdir -p "$out"
	# W=1 over the C files the series touches, without and with it: a
	# change must add no warning (tests/linux/series.sh compares them)
	local objs
	mapfile -t objs < <(touched | sed -n 's/\.c$/.o/p')
	make -s -C "$tree" O="$obj" W=1 "${objs[@]}" >"$out/w1.log" 2>&1 ||
		{ cat "$out/w1.log" >&2; die "$v: W=1 build of ${objs[*]} failed"; }
	cp "$obj/arch/x86/boot/bzImage" "$out/bzImage.tmp"
	cp "$obj/.config" "$out/config"
	cp "$obj/System.map" "$out/System.map"
	{
		echo "variant=$v"
		echo "source=$SRC_PKG $SRC_VER"
		echo "patches=$(patches | xargs -rn1 basename | tr '\n' ' ')"
		echo "release=$(cat "$obj/include/config/kernel.release")"
		echo "build_s=$(($(date +%s) - start))"
	} >"$out/manifest.txt"
	mv "$out/bzImage.tmp" "$out/bzImage"
	say "$v: built $out/bzImage in $(($(date +%s) - start)) s"
}

for v in "${variants[@]}"; do
	build "$v"
done
for v in "${variants[@]}"; do
	echo "$v $(outdir "$v")/bzImage"
done
