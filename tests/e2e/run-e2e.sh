#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs the node end-to-end suite, or the files named as arguments (meson runs
# one file per test); exit code 77 (skipped) when node or the
# suite's npm dependencies are missing (`npm ci` in tests/e2e installs them;
# build-aux/bootstrap does that).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed"
  exit 77
fi
if [ ! -f "$here/node_modules/socket.io-client/package.json" ]; then
  echo "SKIP: $here/node_modules is missing; run 'npm ci' in $here"
  exit 77
fi

cd "$here"
if [ $# -eq 0 ]; then
  set -- ./*.test.js
fi
exec node --test --test-reporter=tap "$@"
