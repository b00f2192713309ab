#!/usr/bin/env bash
# Make sure headless Chromium and its WebDriver are installed (the report's browser test needs them).
# Debian / Ubuntu packages `chromium` and `chromium-driver`; installed with apt-get when missing and
# we are root (or have password-less sudo). Otherwise it only warns: the browser test then skips
# and says why.
set -u
have() { command -v "$1" >/dev/null 2>&1; }
if { have chromium || have chromium-browser; } && have chromedriver; then
  exit 0
fi
if ! have apt-get; then
  echo "ensure-chromium: chromium/chromedriver missing and no apt-get here; the browser test will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "ensure-chromium: chromium/chromedriver missing; run: sudo apt-get install chromium chromium-driver" >&2
    exit 0
  fi
fi
echo "ensure-chromium: installing chromium and chromium-driver (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
  || echo "ensure-chromium: apt-get install failed; the browser test will be skipped" >&2
exit 0
