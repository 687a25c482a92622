#!/usr/bin/env bash
# Rebuild dashboard/assets/plotly-nas.min.js, the partial plotly.js bundle the dashboard and
# `nas report` load instead of the full 4.8 MB plotly.min.js (see docs/dashboard.md). Needs node
# and npm; run it after changing dashboard/js/entry.js or when plotly's Python package moves to
# another plotly.js version (dashboard/__init__.py: PLOTLY_BUNDLE_VERSION must match).
set -euo pipefail
cd "$(dirname "$0")/../dashboard/js"
npm install --no-audit --no-fund --ignore-scripts --no-save
node build.js
rm -rf node_modules package-lock.json
