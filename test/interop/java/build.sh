#!/usr/bin/env bash
# Builds the grpc-java interop client (pom.xml, src/) from Maven Central into one fat jar at
# $1/xds-client.jar; it speaks the JSON-lines protocol of testkit/clients/node-client.ts.
set -euo pipefail
out="$1"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
# Shading the 45 MB jar takes ~15 s: skip it when the jar is newer than everything it is built from.
if [ -f "$out/xds-client.jar" ] && [ -z "$(find "$here/pom.xml" "$here/src" -newer "$out/xds-client.jar" -print -quit)" ]; then
  echo "up to date: $out/xds-client.jar"
else
  mvn -B -q -f "$here/pom.xml" package -DskipTests
  cp "$here/target/xds-client-all.jar" "$out/xds-client.jar"
fi
echo "grpc-java $(sed -n 's:.*<grpc.version>\(.*\)</grpc.version>.*:\1:p' "$here/pom.xml")"
