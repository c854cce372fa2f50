#!/usr/bin/env bash
# Installs the peer clients the benchmark compares against, from the package registries only:
#   - Python: slack_sdk (rtm_v2.RTMClient and the asyncio rtm.RTMClient) + aiohttp, into bench/.venv
#   - Node:   @slack/rtm-api, into bench/node/node_modules
# Each part is optional: a missing python3 or npm is reported and skipped, and the harness then
# leaves that peer out of its tables. Safe to re-run.
set -uo pipefail
cd "$(dirname "$0")"

status=0
if command -v python3 >/dev/null 2>&1; then
  echo "== python peers (bench/.venv)"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv || { echo "cannot create bench/.venv"; status=1; }
  fi
  if [ -x .venv/bin/python ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "slack_sdk>=3.27,<4" "aiohttp>=3.9,<4" \
      || { echo "pip install failed: python peers unavailable"; status=1; }
  fi
else
  echo "python3 not found: python peers skipped"
fi

if command -v npm >/dev/null 2>&1; then
  echo "== node peer (bench/node)"
  (cd node && npm install --no-audit --no-fund --loglevel=error) || { echo "npm install failed: node peer unavailable"; status=1; }
else
  echo "npm not found: node peer skipped"
fi
exit $status
