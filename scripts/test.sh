#!/usr/bin/env bash
# Runs every test: types, unit and integration (Vitest), the build, end to end (Playwright).
# Installs Debian's Chromium when it is missing and we are root; otherwise says the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "[test] Chromium missing: installing Debian's chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[test] Chromium is missing. Run: sudo apt-get update && sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi

echo "[test] typecheck"; npx tsc --noEmit
echo "[test] unit and integration"; npx vitest run
echo "[test] build"; npm run build --silent
echo "[test] end to end"; npx playwright test
