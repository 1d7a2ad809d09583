#!/usr/bin/env bash
# Chromium for the html report's browser tests (tests/test_html_report.py): Debian's `chromium` package.
# Does nothing when a Chromium is there; installs it where apt-get is; otherwise says what to do.
set -euo pipefail
if [ -n "${AUTOTUNE_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "setup_browser.sh: no Chromium and no apt-get here; install Chromium and set AUTOTUNE_CHROMIUM to it" \
     "(the browser tests fail until then)" >&2
