#!/bin/sh
# What the tests need beyond `npm ci`. First Node 22 and Node 24 (outbox tests on node:sqlite, Node-RED 5)
# (scripts/install-test-node.sh, from the npm registry into the project). Then the system packages,
# on Debian/Ubuntu:
#   chromium       the browser test drives the Node-RED editor with it (test/browser.test.ts)
#   python3-gammu  the independent PDU/segment oracle (test/oracle/)
#   postgresql     the shared store's tests start a throwaway cluster of it (test/helpers/postgres.ts)
# Installs only what is missing; quiet; safe to run again. Anywhere else (not root, no apt-get)
# or when apt cannot install a package (no network), it prints a notice and exits 0: the tests
# that need the package then skip with a notice of their own.
set -eu

PACKAGES="chromium python3-gammu postgresql"

notice() { echo "install-test-deps: $*" >&2; }

sh "$(dirname "$0")/install-test-node.sh"

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  notice "no apt-get here; install $PACKAGES yourself to run every test"
  exit 0
fi

missing=""
for pkg in $PACKAGES; do
  if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]; then
    missing="$missing $pkg"
  fi
done
if [ -z "$missing" ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  notice "not root; run: sudo apt-get install --no-install-recommends$missing"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
notice "installing$missing"
if ! apt-get update -qq >/dev/null; then
  notice "apt-get update failed; continuing with the package lists there are"
fi
# One package at a time: one that cannot be installed does not keep the others out.
for pkg in $missing; do
  if ! apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; then
    notice "could not install $pkg; the tests that need it will skip"
  fi
done
exit 0
