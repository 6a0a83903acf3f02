#!/usr/bin/env bash
# Installs Debian's chromium where /usr/bin/chromium is missing (Playwright cannot download browsers here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "installing Debian's chromium (missing /usr/bin/chromium)" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
test -x /usr/bin/chromium || { echo "chromium is still missing at /usr/bin/chromium" >&2; exit 1; }
