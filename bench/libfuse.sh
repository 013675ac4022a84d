#!/bin/bash
# bench/libfuse.sh [BUILD_DIR] - libfuse 3.18 from Debian sid's source
# package, pinned and checked, built with its examples into BUILD_DIR
# (default build/libfuse): BUILD_DIR/example/memfs_ll is the second
# baseline of bench/run.sh's meta part (libfuse's in-memory example,
# classic /dev/fuse and, where the kernel offers it, FUSE over io_uring).
# The daemon itself still builds against the system's libfuse (3.14 on
# Debian 12).  Run by make deps; does nothing when that version is built.
#
# The source package comes through apt with a sources list of our own
# (deb-src sid) and lists under BUILD_DIR/apt: the machine's apt setup is
# not touched.  Its .dsc must have the SHA-256 below, and dpkg-source
# checks the files the .dsc names.  Exits 0 when built or already there,
# 1 with a message otherwise.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/libfuse}
version=3.18.3-1
dsc=fuse3_$version.dsc
dsc_sha256=90396d7bd6bdb2f7d414babeaaf6a9c637a13bdb7d18e28c4e34432ba9b425bc
packages="meson ninja-build libnuma-dev liburing-dev pkg-config g++ dpkg-dev"

say() { echo "libfuse: $*" >&2; }
stamp=$out/built-$version
if [ -f "$stamp" ] && [ -x "$out/example/memfs_ll" ]; then
	say "$version already built in $out"
	exit 0
fi
missing=
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing ||
		{ say "cannot install$missing"; exit 1; }
fi

apt=$out/apt
mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial" "$out/src"
cat > "$apt/parts/sid-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
aptopts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/parts"
	 -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
	 -o APT::Sandbox::User=root)
if [ ! -f "$out/src/$dsc" ]; then
	apt-get "${aptopts[@]}" update -qq ||
		{ say "apt-get update of the sid sources failed"; exit 1; }
	(cd "$out/src" && apt-get "${aptopts[@]}" source --download-only "fuse3=$version") ||
		{ say "apt-get source fuse3=$version failed (sid may have moved on: pin a new version and its SHA-256)"; exit 1; }
fi
have=$(sha256sum "$out/src/$dsc" | cut -d' ' -f1)
if [ "$have" != "$dsc_sha256" ]; then
	say "$dsc has SHA-256 $have, expected $dsc_sha256: not built"
	exit 1
fi
rm -rf "$out/src/fuse3" "$out/build"
# unpacks the upstream tarball, applies Debian's patches, checks the
# tarballs against the .dsc's checksums
(cd "$out/src" && dpkg-source --require-strong-checksums -x "$dsc" fuse3 >/dev/null) ||
	{ say "dpkg-source -x $dsc failed"; exit 1; }
meson setup "$out/build" "$out/src/fuse3" -Dexamples=true -Dutils=false \
	-Dtests=false -Duseroot=false -Dinitscriptdir= >"$out/meson.log" 2>&1 ||
	{ say "meson setup failed: $out/meson.log"; tail -n 5 "$out/meson.log" >&2; exit 1; }
ninja -C "$out/build" >"$out/ninja.log" 2>&1 ||
	{ say "build failed: $out/ninja.log"; tail -n 5 "$out/ninja.log" >&2; exit 1; }
ln -sfn build/example "$out/example"
grep -q 'liburing linking and SQE128 support.*YES' "$out/meson.log" &&
	say "$version built with FUSE over io_uring support" ||
	say "$version built without io_uring support (liburing or libnuma missing)"
touch "$stamp"
