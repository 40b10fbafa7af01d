#!/usr/bin/env bash
# Build the local S3 server the object-store tests run the lake on: the Versity S3 Gateway (versitygw, Apache-2.0),
# a real S3 implementation that stores each bucket as a folder (conditional writes included, which Delta commits
# rely on). It is built from its Go module, pinned here, with the Go toolchain; no prebuilt binary is downloaded.
#
#   infra/objectstore/install.sh            (build it; a no-op once built)
#   infra/objectstore/install.sh --where    (print the install folder only)
#
# The binary lands in $SHOPREC_S3_SERVER_DIR (default $XDG_CACHE_HOME/shoprec/versitygw-<version>, i.e. ~/.cache/…)
# as bin/versitygw; a second run is a no-op. Go keeps its module and build caches (~/go, ~/.cache/go-build).
# The first build takes about 4 minutes on 2 cores. Needs Go (Debian's golang-go is installed when missing).
set -euo pipefail

version=v1.8.0
dest="${SHOPREC_S3_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/shoprec/versitygw-$version}"
if [ "${1:-}" = --where ]; then
  echo "$dest"
  exit 0
fi
if [ -x "$dest/bin/versitygw" ]; then
  exit 0
fi

PATH="$PATH:/usr/local/go/bin"
if ! command -v go > /dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq golang-go || { $sudo apt-get update -qq && $sudo apt-get install -y -qq golang-go; }
fi

echo "building versitygw $version (the local S3 server of the object-store tests) into $dest/bin …" >&2
rm -rf "$dest/bin.partial"
mkdir -p "$dest/bin.partial"
GOBIN="$dest/bin.partial" go install "github.com/versity/versitygw/cmd/versitygw@$version"
rm -rf "$dest/bin"
mv "$dest/bin.partial" "$dest/bin"
