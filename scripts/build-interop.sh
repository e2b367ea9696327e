#!/usr/bin/env bash
# Builds the interop clients into build/interop/ from the registries this machine reaches:
# grpcio from PyPI (a venv), grpc-go (Go module proxy), grpc-java (Maven Central).
# Each client speaks the JSON-lines protocol of testkit/clients/node-client.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/build/interop"
mkdir -p "$out"
for client in envoy python go java; do
  echo "building the $client interop client"
  bash "test/interop/$client/build.sh" "$out/$client"
done
