#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# PostgreSQL server binaries for the multi-worker tests (tests/conftest.py starts a throwaway
# server on loopback); Debian/Ubuntu package names.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  else
    echo "warning: PostgreSQL is not installed; its tests will be skipped" >&2
  fi
fi
export PYTHONHASHSEED=0
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
# pytest's 5 means "no tests collected": that is a failure of this script too.
exit $status
