#!/bin/sh
# Installs Prosody 0.12 and prosody-modules (mod_cloud_notify) from Debian for the end-to-end tests
# (test/e2e/prosody.test.ts starts its own Prosody on free loopback ports). The packaged service must
# not start: a policy-rc.d that answers 101 keeps invoke-rc.d from starting it, and anything that
# started anyway is stopped, so that nothing is left on the default ports 5222/5269/5347.
set -eu

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

POLICY=/usr/sbin/policy-rc.d
ADDED_POLICY=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  ADDED_POLICY=1
fi

$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends prosody prosody-modules

if [ -n "$ADDED_POLICY" ]; then $SUDO rm -f "$POLICY"; fi

# Stop the packaged service if something started it anyway (systemd hosts without a policy-rc.d).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prosody 2>/dev/null; then
  $SUDO systemctl stop prosody
  $SUDO systemctl disable prosody >/dev/null 2>&1 || true
fi
if [ -f /run/prosody/prosody.pid ]; then
  $SUDO kill "$(cat /run/prosody/prosody.pid)" 2>/dev/null || true
fi

prosody_version="$(dpkg-query -W -f='${Version}' prosody)"
test -f /usr/lib/prosody/modules/mod_cloud_notify/mod_cloud_notify.lua
echo "prosody ${prosody_version} with mod_cloud_notify installed"
