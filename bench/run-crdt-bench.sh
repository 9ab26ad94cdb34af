#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs prdhub's CRDT benchmark and the reference engines on the same trace, in
# the same run, and prints the comparison. Builds nothing:
#   meson setup _build-rel --buildtype=release && ninja -C _build-rel
#   (cd bench && npm ci)
#   bench/run-crdt-bench.sh [TRACE.json.gz] [BUILD_DIR] [RUNS]
# Both sides run RUNS times (default 7) and report the median and best of the
# warm runs (all but the first) and the first run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
traces=${PRDHUB_TRACES_DIR:-$here/../../shared/traces}
trace=${1:-$traces/automerge-paper.json.gz}
build=${2:-$here/../_build-rel}
runs=${3:-7}
bench=$build/bench/prdhub-bench-crdt
[ -x "$bench" ] || { echo "no $bench: build the project first (release build recommended)" >&2; exit 1; }
[ -d "$here/node_modules/diamond-types-node" ] || { echo "run 'npm ci' in $here first" >&2; exit 1; }
ours=$("$bench" "$trace" "$runs")
echo "$ours"
node "$here/crdt-reference.mjs" "$trace" --runs "$runs" --prdhub "$ours"
