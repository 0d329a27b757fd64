#!/usr/bin/env bash
# Runs every test: types, unit and integration (Vitest), the build, end to end (Playwright).
# Installs Debian's Chromium and redis-server when missing and we are root; otherwise says the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "[test] installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "[test] missing: ${missing[*]}. Run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "[test] typecheck"; npx tsc --noEmit
echo "[test] unit and integration"; npx vitest run
echo "[test] build"; npm run build --silent
echo "[test] end to end"; npx playwright test
