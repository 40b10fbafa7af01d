#!/usr/bin/env bash
# Fetch the standalone Hive Metastore (infra/catalog/pom.xml) and its runtime jars from Maven Central.
#
#   infra/catalog/install.sh [DEST]
#
# DEST defaults to $SHOPREC_METASTORE_JARS, else $XDG_CACHE_HOME/shoprec/hive-metastore-4.0.0 (~/.cache/…),
# the same default as shoprec's `metastore_jars` setting. The jars land in DEST/lib; a stamp named after
# the pom's hash makes a second run a no-op until the pom changes. Maven keeps its own cache in ~/.m2.
# Needs Java 17 and Maven; on Debian both are installed with apt-get when missing.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-${SHOPREC_METASTORE_JARS:-${XDG_CACHE_HOME:-$HOME/.cache}/shoprec/hive-metastore-4.0.0}}"
stamp="$dest/.installed-$(sha256sum "$here/pom.xml" | cut -c1-16)"
if [ -f "$stamp" ] && [ -d "$dest/lib" ]; then
  exit 0
fi

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
apt_install() {
  $sudo apt-get install -y -qq "$@" || { $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@"; }
}
command -v java > /dev/null || apt_install openjdk-17-jre-headless
command -v mvn > /dev/null || apt_install maven

mkdir -p "$dest"
rm -rf "$dest/lib.partial"
echo "fetching the Hive Metastore jars from Maven Central into $dest/lib …" >&2
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$dest/lib.partial"
rm -rf "$dest/lib" "$dest"/.installed-*
mv "$dest/lib.partial" "$dest/lib"
touch "$stamp"
