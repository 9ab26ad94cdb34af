#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-target.sh FUZZER CORPUS SECONDS [libFuzzer options...]
#
# Fuzzes one libFuzzer target for SECONDS from the committed CORPUS, which is
# only read: new inputs go to a temporary folder, removed afterwards. A crash
# leaves its input as crash-* in the current folder (or -artifact_prefix).
set -eu
fuzzer=$1
corpus=$2
seconds=$3
shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/prd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
# Leaks are checked once the run ends; -rss_limit_mb bounds a run-away input.
# libFuzzer's own exit code for a crash, a leak or a timeout is 77, which
# meson takes for "skipped": a finding must fail the test.
"$fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  -error_exitcode=1 -timeout_exitcode=1 \
  "$@" "$work" "$corpus"
