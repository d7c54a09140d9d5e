#!/bin/sh
# Installs Debian's ejabberd (23.01 on Debian 12) for the end-to-end test (test/e2e/ejabberd.test.ts
# starts its own ejabberd with `ejabberdctl foreground` in a temporary directory, on free loopback ports,
# without epmd). The packaged service must not run: a policy-rc.d that answers 101 keeps invoke-rc.d from
# starting it, and anything that started anyway (beam.smp of the ejabberd user, epmd) is stopped, so that
# nothing is left on 4369/5222/5223/5269/5280/5443.
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
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends ejabberd

if [ -n "$ADDED_POLICY" ]; then $SUDO rm -f "$POLICY"; fi

# Stop the packaged service if something started it anyway (systemd hosts without a policy-rc.d).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet ejabberd 2>/dev/null; then
  $SUDO systemctl stop ejabberd
  $SUDO systemctl disable ejabberd >/dev/null 2>&1 || true
fi
# Without systemd: the package's node runs as the ejabberd user; ask it to stop, then make sure.
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

ejabberd_version="$(dpkg-query -W -f='${Version}' ejabberd)"
test -x /usr/sbin/ejabberdctl
echo "ejabberd ${ejabberd_version} installed (service not running)"
