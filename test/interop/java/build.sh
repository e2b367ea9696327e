#!/usr/bin/env bash
# Builds the grpc-java interop client (pom.xml, src/) from Maven Central into one fat jar at
# $1/xds-client.jar; it speaks the JSON-lines protocol of testkit/clients/node-client.ts.
set -euo pipefail
out="$1"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
mvn -B -q -f "$here/pom.xml" package -DskipTests
cp "$here/target/xds-client-all.jar" "$out/xds-client.jar"
echo "grpc-java $(sed -n 's:.*<grpc.version>\(.*\)</grpc.version>.*:\1:p' "$here/pom.xml")"
