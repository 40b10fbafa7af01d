#!/usr/bin/env bash
# Install the Apache Spark 4.1 + Delta Lake engine: a Python venv with pyspark and delta-spark
# (infra/spark/requirements.txt) and the Delta jars from Maven Central (infra/spark/pom.xml).
#
#   infra/spark/install.sh
#
# The venv is $SHOPREC_SPARK_VENV (default: .venv-spark/ in the repository root); the jars land in
# $SHOPREC_SPARK_JARS (default $XDG_CACHE_HOME/shoprec/delta-spark-4.3.1, i.e. ~/.cache/…), minus the ones the
# pyspark wheel already ships, so the server has one copy of each class. Stamps named after the input files'
# hashes make a second run a no-op until they change. pip and Maven keep their own caches (~/.cache/pip, ~/.m2).
# Needs Python 3.11, Java 17 and Maven; on Debian Java and Maven are installed with apt-get when missing.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${SHOPREC_SPARK_VENV:-$root/.venv-spark}"
jars="${SHOPREC_SPARK_JARS:-${XDG_CACHE_HOME:-$HOME/.cache}/shoprec/delta-spark-4.3.1}"
python="${PYTHON:-python3}"
venv_stamp="$venv/.installed-$(sha256sum "$here/requirements.txt" | cut -c1-16)"
jars_stamp="$jars/.installed-$(cat "$here/pom.xml" "$here/requirements.txt" | sha256sum | cut -c1-16)"

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
apt_install() {
  $sudo apt-get install -y -qq "$@" || { $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@"; }
}
command -v java > /dev/null || apt_install openjdk-17-jre-headless
command -v mvn > /dev/null || apt_install maven

if [ ! -f "$venv_stamp" ]; then
  echo "installing pyspark and delta-spark into $venv …" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  touch "$venv_stamp"
fi

if [ ! -f "$jars_stamp" ] || [ ! -d "$jars/lib" ]; then
  echo "fetching the Delta Lake jars from Maven Central into $jars/lib …" >&2
  mkdir -p "$jars"
  rm -rf "$jars/lib.partial" "$jars/all.partial"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$jars/all.partial"
  spark_jars="$("$venv/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')"
  # artifact name = file name up to the first "-<digit>" (the version)
  shipped="$(ls "$spark_jars" | sed -E 's/-[0-9].*\.jar$//' | sort -u)"
  mkdir -p "$jars/lib.partial"
  for jar in "$jars"/all.partial/*.jar; do
    name="$(basename "$jar" | sed -E 's/-[0-9].*\.jar$//')"
    grep -qxF "$name" <<< "$shipped" || mv "$jar" "$jars/lib.partial/"
  done
  rm -rf "$jars/lib" "$jars/all.partial" "$jars"/.installed-*
  mv "$jars/lib.partial" "$jars/lib"
  touch "$jars_stamp"
fi
