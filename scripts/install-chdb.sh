#!/usr/bin/env bash
# install-chdb.sh installs libchdb.so, the embedded ClickHouse engine that
# `moose` loads at run time, into a versioned cache directory outside the
# repository:
#
#   ${MOOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/moose}/chdb/<version>/libchdb.so
#
# It fetches the pinned npm package with `npm pack`, checks the tarball's
# sha512 against the pinned integrity, extracts only package/libchdb.so and
# moves it into place atomically. It is idempotent: when the library is
# already installed it prints the path and exits 0.
#
# Environment:
#   MOOSE_CACHE_DIR     cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/moose)
#   MOOSE_CHDB_TARBALL  use this local tarball instead of `npm pack` (still verified)
#
# The library is about 566 MB; never commit it.
set -euo pipefail

readonly PKG="@chdb/lib-linux-x64-gnu"
readonly PKG_VERSION="26.7.3-stable.1"
readonly INTEGRITY="sha512-XP97mMqnc5tZpKQywR8N7cLTsHNiTmHr30pC5mzo3jWmukjKn2IBa60c2B/gWUNcuFjOMjWoorQICCqBVj5wpw=="

die() { echo "install-chdb: $*" >&2; exit 1; }
say() { echo "install-chdb: $*" >&2; }

cache_root="${MOOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/moose}"
dest_dir="$cache_root/chdb/$PKG_VERSION"
dest="$dest_dir/libchdb.so"

if [[ -s "$dest" ]]; then
	say "already installed"
	echo "$dest"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "only linux x86_64 is packaged ($PKG); on $(uname -s)/$(uname -m) build chDB yourself and set MOOSE_CHDB_LIB" ;;
esac

for tool in tar openssl base64; do
	command -v "$tool" >/dev/null || die "$tool is required"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/moose-chdb.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [[ -n "${MOOSE_CHDB_TARBALL:-}" ]]; then
	[[ -f "$MOOSE_CHDB_TARBALL" ]] || die "MOOSE_CHDB_TARBALL=$MOOSE_CHDB_TARBALL: no such file"
	tarball="$MOOSE_CHDB_TARBALL"
	say "using local tarball $tarball"
else
	command -v npm >/dev/null || die "npm is required to download $PKG@$PKG_VERSION (or set MOOSE_CHDB_TARBALL to a downloaded tarball)"
	say "downloading $PKG@$PKG_VERSION (about 178 MB)"
	(cd "$work" && npm pack --silent "$PKG@$PKG_VERSION" --pack-destination "$work" >/dev/null) ||
		die "npm pack $PKG@$PKG_VERSION failed"
	tarball="$(ls "$work"/*.tgz 2>/dev/null | head -n1)"
	[[ -n "$tarball" ]] || die "npm pack produced no tarball"
fi

say "verifying sha512"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[[ "$got" == "$INTEGRITY" ]] || die "integrity mismatch for $tarball: got $got, want $INTEGRITY"

say "extracting libchdb.so"
mkdir -p "$work/x"
tar -xzf "$tarball" -C "$work/x" package/libchdb.so || die "tarball has no package/libchdb.so"
[[ -s "$work/x/package/libchdb.so" ]] || die "extracted libchdb.so is empty"

mkdir -p "$dest_dir"
tmp="$(mktemp "$dest_dir/.libchdb.so.XXXXXX")"
trap 'rm -rf "$work"; rm -f "$tmp"' EXIT
cp "$work/x/package/libchdb.so" "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$dest"
say "installed"
echo "$dest"
