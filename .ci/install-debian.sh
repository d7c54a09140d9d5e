#!/bin/sh
# Installs the Debian packages the tests need, with one `apt-get update`; `npm test` runs it first:
# - prosody + prosody-modules (mod_cloud_notify): test/e2e/prosody*.test.ts start their own Prosody;
# - ejabberd: test/e2e/ejabberd.test.ts starts its own node with `ejabberdctl foreground`, without epmd;
# - chromium: test/e2e/device-page.test.ts drives /usr/bin/chromium headless through playwright-core;
# - openssl: test/fakes/certificate.ts makes the fakes' TLS certificates with the command;
# - lua5.4 + lua-luaossl + lua-check: integrations/prosody/ (the Prosody module that seals OMEMO pushes)
#   is run by test/unit/prosody-module/ with Debian's Lua 5.4 and luaossl (AES-128-GCM with its tag), and
#   linted with luacheck; Prosody 0.12 loads the same luaossl.
# The packaged services must not run: a policy-rc.d that answers 101 keeps invoke-rc.d from starting
# them, and anything that started anyway is stopped, so nothing is left on 4369/5222/5269/5280/5347/5443.
# When dpkg already has every package, apt is not touched at all: a repeated `npm test` stays fast,
# needs no network and no sudo.
set -eu

PACKAGES="prosody prosody-modules ejabberd chromium openssl lua5.4 lua-luaossl lua-check"

verify() {
  test -f /usr/lib/prosody/modules/mod_cloud_notify/mod_cloud_notify.lua
  test -x /usr/sbin/ejabberdctl
  test -x /usr/bin/chromium
  test -x /usr/bin/lua5.4
  test -x /usr/bin/luacheck
  # luaossl for Lua 5.4, with the GCM tag calls the module needs (getTag/setTag).
  /usr/bin/lua5.4 -e 'local c = require("openssl.cipher").new("aes-128-gcm"); assert(c.getTag and c.setTag)'
  echo "installed: prosody $(dpkg-query -W -f='${Version}' prosody), ejabberd $(dpkg-query -W -f='${Version}' ejabberd), $(/usr/bin/chromium --version 2>/dev/null || echo chromium), lua-luaossl $(dpkg-query -W -f='${Version}' lua-luaossl), $(/usr/bin/luacheck --version | head -n 1)"
}

missing=""
for package in $PACKAGES; do
  # "ii" = wanted install, installed; anything else (absent, half-installed, config-files) needs apt.
  case "$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)" in
    ii*) ;;
    *) missing="$missing $package" ;;
  esac
done

if [ -z "$missing" ]; then
  echo "debian packages: all installed ($PACKAGES), apt skipped"
  verify
  exit 0
fi
echo "debian packages: installing (missing:$missing)"

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
# Through env: sudo's env_reset would drop a plain DEBIAN_FRONTEND=... prefix.
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES

if [ -n "$ADDED_POLICY" ]; then $SUDO rm -f "$POLICY"; fi

# Stop the packaged services if something started them anyway (systemd hosts without a policy-rc.d).
for service in prosody ejabberd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    $SUDO systemctl stop "$service"
    $SUDO systemctl disable "$service" >/dev/null 2>&1 || true
  fi
done
if [ -f /run/prosody/prosody.pid ]; then
  $SUDO kill "$(cat /run/prosody/prosody.pid)" 2>/dev/null || true
fi
# Without systemd: the package's ejabberd node runs as the ejabberd user; ask it to stop, then make sure.
beams="$(pgrep -u ejabberd -x beam.smp || true)"
if [ -n "$beams" ]; then
  $SUDO /usr/sbin/ejabberdctl stop >/dev/null 2>&1 || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    beams="$(pgrep -u ejabberd -x beam.smp || true)"
    [ -z "$beams" ] && break
    sleep 1
  done
  # shellcheck disable=SC2086
  if [ -n "$beams" ]; then $SUDO kill -9 $beams 2>/dev/null || true; fi
fi
# epmd (Erlang's port mapper, 4369) outlives the node; stop it when no Erlang node is registered with it.
if pgrep -x epmd >/dev/null 2>&1 && ! epmd -names 2>/dev/null | grep -q '^name '; then
  epmd -kill >/dev/null 2>&1 || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pgrep -x epmd >/dev/null 2>&1 || break
    sleep 0.5
  done
fi

verify
