#!/bin/sh
# Installs Debian's Chromium for the end-to-end test of the sandbox's live device page
# (test/e2e/device-page.test.ts drives /usr/bin/chromium headless through playwright-core; a missing
# browser fails that test rather than skipping it).
set -eu

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium

test -x /usr/bin/chromium
echo "$(/usr/bin/chromium --version 2>/dev/null || echo chromium) installed at /usr/bin/chromium"
