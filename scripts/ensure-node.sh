#!/usr/bin/env bash
# Installs Debian's nodejs and npm where `node` or `npm` is missing (the JavaScript client's tests).
set -euo pipefail
if command -v node >/dev/null && command -v npm >/dev/null; then exit 0; fi
echo "installing Debian's nodejs and npm (missing node or npm)" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
command -v node >/dev/null && command -v npm >/dev/null || { echo "node or npm is still missing" >&2; exit 1; }
