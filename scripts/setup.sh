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
# The default data set: Fashion-MNIST from Debian's dataset-fashion-mnist (IDX files under
# /usr/share/datasets/fashion-mnist). Installed where we can (root on Debian); elsewhere
# `nas search` falls back to the embedded digits and --data fashion-mnist says how to get it.
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    { apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
          --no-install-recommends dataset-fashion-mnist >/dev/null; }; } ||
      echo "warning: could not install dataset-fashion-mnist; searches default to digits" >&2
  else
    echo "note: Fashion-MNIST is not installed; 'sudo apt-get install dataset-fashion-mnist'" \
      "makes it the default data set (digits until then)" >&2
  fi
fi
