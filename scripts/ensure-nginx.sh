#!/usr/bin/env bash
# Installs Debian's nginx where /usr/sbin/nginx is missing, for the e2e test behind a proxy.
# The package's service is never started: the tests run a private nginx (own prefix, pid, logs, port).
set -euo pipefail
if [ -x /usr/sbin/nginx ]; then exit 0; fi
echo "installing Debian's nginx (missing /usr/sbin/nginx)" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
POLICY="$(mktemp)"; trap 'rm -f "$POLICY"' EXIT
printf '#!/bin/sh\nexit 101\n' > "$POLICY"; chmod +x "$POLICY"   # invoke-rc.d: do not start services
$SUDO apt-get update -qq
$SUDO env POLICYRCD="$POLICY" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
test -x /usr/sbin/nginx || { echo "nginx is still missing at /usr/sbin/nginx" >&2; exit 1; }
