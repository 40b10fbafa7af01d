#!/usr/bin/env bash
# Apache Spark 4.1 Connect server with Delta Lake, in the foreground, on loopback.
#
#   infra/spark/serve.sh [PORT]          (make spark-server; then SHOPREC_SPARK_REMOTE=sc://127.0.0.1:PORT)
#
# PORT defaults to $SPARK_CONNECT_PORT, else 15002; the host is $SPARK_CONNECT_HOST, else 127.0.0.1 (Spark Connect
# has no authentication: keep it on loopback, or behind an authenticating proxy). Spark runs in local mode with
# $SPARK_CONNECT_CORES cores (default 2) and a driver heap of $SPARK_DRIVER_MEMORY (default 2g). Tables live in an
# in-memory catalog (shoprec registers its tables on every connect, as with Sail); the warehouse folder for
# `CREATE SCHEMA` is $SPARK_CONNECT_WAREHOUSE (default $SHOPREC_HOME/spark-warehouse, SHOPREC_HOME defaulting to
# ./.shoprec). Extra Spark settings: SPARK_CONNECT_CONF="key=value key=value". Run infra/spark/install.sh first
# (make install does).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${SHOPREC_SPARK_VENV:-$root/.venv-spark}"
jars="${SHOPREC_SPARK_JARS:-${XDG_CACHE_HOME:-$HOME/.cache}/shoprec/delta-spark-4.3.1}/lib"
host="${SPARK_CONNECT_HOST:-127.0.0.1}"
port="${1:-${SPARK_CONNECT_PORT:-15002}}"
cores="${SPARK_CONNECT_CORES:-2}"
memory="${SPARK_DRIVER_MEMORY:-2g}"
warehouse="${SPARK_CONNECT_WAREHOUSE:-${SHOPREC_HOME:-$root/.shoprec}/spark-warehouse}"

if [ ! -x "$venv/bin/spark-submit" ] || [ ! -d "$jars" ]; then
  echo "error: the Spark engine is not installed ($venv, $jars): run infra/spark/install.sh" >&2
  exit 1
fi
delta_jars="$(ls "$jars"/*.jar | paste -sd, -)"
extra=()
for setting in ${SPARK_CONNECT_CONF:-}; do
  extra+=(--conf "$setting")
done
mkdir -p "$warehouse"

# The driver's RPC and block manager bind to loopback too, the UI is off; Spark's local scratch goes to the system
# temp folder. UTC sessions, like shoprec's own; few shuffle partitions and few partitions for Delta's log replay
# (50 by default), since one machine runs everything. Logs at WARN ($SPARK_LOG_LEVEL).
export PYSPARK_PYTHON="$venv/bin/python"
echo "Spark Connect (Apache Spark $("$venv/bin/python" -c 'import pyspark; print(pyspark.__version__)') + Delta) on sc://$host:$port" >&2
exec "$venv/bin/spark-submit" \
  --class org.apache.spark.sql.connect.service.SparkConnectServer \
  --name shoprec-spark-connect \
  --master "local[$cores]" \
  --driver-memory "$memory" \
  --jars "$delta_jars" \
  --conf spark.connect.grpc.binding.address="$host" \
  --conf spark.connect.grpc.binding.port="$port" \
  --conf spark.driver.host=127.0.0.1 \
  --conf spark.driver.bindAddress=127.0.0.1 \
  --conf spark.ui.enabled=false \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf spark.sql.catalogImplementation=in-memory \
  --conf spark.sql.warehouse.dir="$warehouse" \
  --conf spark.sql.session.timeZone=UTC \
  --conf spark.sql.shuffle.partitions="$((cores * 2))" \
  --conf spark.databricks.delta.snapshotPartitions="$((cores * 2))" \
  --conf spark.log.level="${SPARK_LOG_LEVEL:-WARN}" \
  "${extra[@]}" \
  spark-internal
