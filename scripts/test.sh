#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# the optional NNI extra, so tests/export/test_nni.py runs (it is skipped where NNI is absent)
.venv/bin/python -m pip --disable-pip-version-check -q install -e ".[nni]"
export PYTHONHASHSEED=0
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
# pytest's 5 means "no tests collected": that is a failure of this script too.
exit $status
