#!/usr/bin/env bash
# The latest grpcio from PyPI (pinned, so runs are comparable) in a venv at $1; it runs the same
# client script as Debian's python3-grpcio: testkit/clients/python_client.py.
set -euo pipefail
venv="$1"
here="$(cd "$(dirname "$0")" && pwd)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -c 'import grpc; print("grpcio", grpc.__version__)'
