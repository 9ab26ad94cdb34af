#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Smoke test of the fan-out benchmark's scripts: 10 clients in 2 rooms against
# prdhub ($PRDHUB_BIN, else the release build) and against the Node reference;
# passes when every broadcast reached every other client of its room and every
# update was acknowledged. Nothing here is timed. Exit 77 (skipped) without
# node or bench/node_modules (`npm ci` in bench/; build-aux/bootstrap does it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed"
  exit 77
fi
for pkg in socket.io ws yjs; do
  if [ ! -f "$here/../node_modules/$pkg/package.json" ]; then
    echo "SKIP: $here/../node_modules/$pkg is missing; run 'npm ci' in $(dirname "$here")"
    exit 77
  fi
done

if [ -n "${PRDHUB_BIN:-}" ]; then
  exec node "$here/compare.mjs" --smoke --hub "$PRDHUB_BIN"
fi
exec node "$here/compare.mjs" --smoke --no-build
