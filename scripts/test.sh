#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# The dashboard's browser test (tests/integration/test_dashboard_browser.py) drives Debian's
# chromium through chromedriver, and the multi-worker tests start a throwaway PostgreSQL server
# (tests/conftest.py); install what is missing so CI runs those tests instead of skipping them.
packages=()
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  packages+=(chromium chromium-driver)
fi
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  packages+=(dataset-fashion-mnist)  # the default data set; its end-to-end test runs in CI
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  packages+=(postgresql)
fi
if [ ${#packages[@]} -gt 0 ]; then
  install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
    "${packages[@]}")
  if [ "$(id -u)" = 0 ]; then  # CI: a missing package is a setup failure, not a skip
    apt-get update -qq && "${install[@]}"
  elif ! { sudo -n apt-get update -qq && sudo -n "${install[@]}"; }; then
    echo "warning: could not install ${packages[*]}; their tests will be skipped" >&2
  fi
fi
# the optional NNI extra, so tests/export/test_nni.py runs (it is skipped where NNI is absent)
.venv/bin/python -m pip --disable-pip-version-check -q install -e ".[nni]"
export PYTHONHASHSEED=0
status=0
# One test process per core (pytest-xdist; NAS_TEST_PROCESSES=1 runs them in this process);
# a file's tests stay in one process, so its module fixtures are built once. The slowest
# tests are listed, so that what makes CI long is in every log (issue 23).
processes=${NAS_TEST_PROCESSES:-auto}
parallel=()
if [ "$processes" != 1 ]; then
  parallel=(-n "$processes" --dist loadfile)
fi
.venv/bin/python -m pytest -q --durations=25 "${parallel[@]}" "$@" || status=$?
# pytest's 5 means "no tests collected": that is a failure of this script too.
exit $status
