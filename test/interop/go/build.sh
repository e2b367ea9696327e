#!/usr/bin/env bash
# Builds the grpc-go proxyless xDS interop client (main.go, echo.go; grpc-go pinned in go.mod) to
# $1/xds-client. Modules come from the Go module proxy. Called by scripts/build-interop.sh.
set -euo pipefail
out="$(mkdir -p "$1" && cd "$1" && pwd)"
cd "$(dirname "$0")"
go build -trimpath -o "$out/xds-client" .
echo "grpc-go $(go list -m -f '{{.Version}}' google.golang.org/grpc)"
