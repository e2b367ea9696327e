#!/usr/bin/env bash
# Builds the tools that check deploy/ offline into build/tools/:
#   kustomize (sigs.k8s.io/kustomize, from the Go module proxy) renders the kustomizations;
#   kubernetes-validate (PyPI; ships the Kubernetes JSON schemas) validates what they render.
# Versions are pinned; a tool already built at its pinned version is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
KUSTOMIZE_VERSION=v5.8.1 # v5.8.2+ needs Go 1.27
KUBERNETES_VALIDATE_VERSION=1.37.0
tools="$PWD/build/tools"
mkdir -p "$tools"

if [ "$("$tools/bin/kustomize" version 2>/dev/null || true)" != "$KUSTOMIZE_VERSION" ]; then
  echo "building kustomize $KUSTOMIZE_VERSION"
  GOBIN="$tools/bin" GOFLAGS=-trimpath go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi
echo "kustomize $("$tools/bin/kustomize" version)"

venv="$tools/k8s-validate"
if [ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null || true)" != "$KUBERNETES_VALIDATE_VERSION" ]; then
  echo "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
echo "kubernetes-validate $("$venv/bin/kubernetes-validate" --version)"
