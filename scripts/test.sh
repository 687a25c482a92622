#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# The dashboard's browser test (tests/integration/test_dashboard_browser.py) drives Debian's
# chromium through chromedriver; install both when missing so CI runs it instead of skipping.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
    chromium chromium-driver)
  if [ "$(id -u)" = 0 ]; then  # CI: a missing browser is a setup failure, not a skip
    apt-get update -qq && "${install[@]}"
  elif ! { sudo -n apt-get update -qq && sudo -n "${install[@]}"; }; then
    echo "warning: could not install chromium; the browser test will be skipped" >&2
  fi
fi
export PYTHONHASHSEED=0
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
# pytest's 5 means "no tests collected": that is a failure of this script too.
exit $status
