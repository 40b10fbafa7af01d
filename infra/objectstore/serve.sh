#!/usr/bin/env bash
# A local S3 server (versitygw, built by infra/objectstore/install.sh) in the foreground, on loopback.
#
#   infra/objectstore/serve.sh ROOT [PORT]
#
# Every folder of ROOT is a bucket (create one with S3's CreateBucket, or mkdir ROOT/BUCKET before starting).
# PORT defaults to 7070. The root credentials are the caller's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (read
# from the environment, never from the command line); the region is $AWS_REGION, else us-east-1. Clients then
# set AWS_ENDPOINT_URL=http://127.0.0.1:PORT and AWS_ALLOW_HTTP=true (README, "A lake on object storage").
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
server="$("$here/install.sh" --where)/bin/versitygw"
root="${1:?usage: infra/objectstore/serve.sh ROOT [PORT]}"
port="${2:-7070}"
if [ ! -x "$server" ]; then
  echo "error: the local S3 server is not installed ($server): run infra/objectstore/install.sh" >&2
  exit 1
fi
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID (the server's root access key)}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY (the server's root secret)}"
mkdir -p "$root"

echo "S3 (versitygw) on http://127.0.0.1:$port, buckets in $root" >&2
ROOT_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" ROOT_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
  VGW_REGION="${AWS_REGION:-us-east-1}" exec "$server" --port "127.0.0.1:$port" --quiet posix "$root"
