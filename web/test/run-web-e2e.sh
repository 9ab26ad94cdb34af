#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs one file of the web editor's end-to-end tests (web/test/e2e) with
# node --test. Exit code 77 (skipped) when what it needs is missing: node,
# web/node_modules (`npm ci` in web/), tests/e2e/node_modules (the hub
# helpers), or, for the browser tests, Debian's chromium.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed"
  exit 77
fi
if [ ! -f "$root/web/node_modules/playwright-core/package.json" ]; then
  echo "SKIP: $root/web/node_modules is missing; run 'npm ci' in $root/web"
  exit 77
fi
if [ ! -f "$root/tests/e2e/node_modules/socket.io-client/package.json" ]; then
  echo "SKIP: $root/tests/e2e/node_modules is missing; run 'npm ci' in $root/tests/e2e"
  exit 77
fi
chromium=${PRDHUB_CHROMIUM:-/usr/bin/chromium}
if grep -q "launch()" "$here/e2e/$1" && [ ! -x "$chromium" ]; then
  echo "SKIP: $chromium is missing (apt-get install chromium)"
  exit 77
fi

cd "$here/e2e"
exec node --test --test-reporter=tap "$@"
