#!/usr/bin/env bash
# Installs Debian's chromium, the browser test/console.test.ts drives with playwright-core (no browser
# download of Playwright's own). Quiet and quick when /usr/bin/chromium is already there.
#
#   scripts/ci/install-browser.sh        # as root, or as a user with password-less sudo
#
# Non-interactive (apt-get -y, DEBIAN_FRONTEND=noninteractive). Fonts come along as chromium's own
# dependencies, so the screenshots the test takes show text.
set -euo pipefail

browser=/usr/bin/chromium
[ -x "$browser" ] && exit 0

fail() { echo "install-browser: $*" >&2; exit 1; }
command -v apt-get >/dev/null || fail "apt-get not found: install Chromium so that $browser exists"
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  fail "installing chromium needs root or password-less sudo"
fi

started=$(date +%s)
echo "install-browser: installing chromium with apt-get"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
[ -x "$browser" ] || fail "apt-get finished but $browser is still missing"
echo "install-browser: $("$browser" --version 2>/dev/null || echo chromium) installed in $(($(date +%s) - started)) s"
