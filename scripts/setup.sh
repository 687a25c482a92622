#!/usr/bin/env bash
# Set up a virtual environment in .venv with nas and its dependencies (idempotent).
#   scripts/setup.sh          the tool
#   scripts/setup.sh --test   the tool, test tools and the optional extras the tests exercise
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
# torch first and pinned: this machine has the CPU build of 2.13.0 on disk; an unpinned torch
# would pull a CUDA build of several GB.
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  pip install "torch==2.13.0"
fi
extras=""
if [ "${1:-}" = "--test" ]; then extras="[test]"; fi
pip install -e ".${extras}"
