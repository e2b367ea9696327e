#!/usr/bin/env bash
# Builds the benchmark peers to build/peers/ (gitignored). Run by the bench script (and so by CI's bench smoke test).
# Idempotent: `go build` rebuilds only what changed. Prints the binary's path on its last line.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/build/peers"
mkdir -p "$out"

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: go is not on PATH (the go-control-plane peer needs Go 1.26)" >&2
  exit 1
fi

# go.sum pins every module; -mod=readonly fails rather than edit go.mod or go.sum. Modules come
# from the default module cache (GOMODCACHE), downloaded through GOPROXY when missing. No VCS
# stamp: the binary must not depend on the state of the work tree.
cd "$root/bench/peers/go-control-plane"
go build -mod=readonly -buildvcs=false -trimpath -o "$out/go-control-plane" .

echo "$out/go-control-plane"
