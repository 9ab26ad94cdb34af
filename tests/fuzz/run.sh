#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# tests/fuzz/run.sh SECONDS [TARGET...]
# tests/fuzz/run.sh --build        only make the build (for `meson test --suite fuzz`)
#
# Builds the fuzz targets with clang, libFuzzer, ASan and UBSan in their own
# build folder (_build-fuzz, or $PRD_FUZZ_BUILD_DIR) and fuzzes each TARGET
# (default: all of them, one after the other) for SECONDS from its committed
# corpus tests/fuzz/corpus/<target>/ (read only: new inputs go to a temporary
# folder). Needs the Debian packages clang and libclang-rt-14-dev.
#
# Per target it prints the executions, and a crash leaves its input in
# <build>/fuzz-results/<target>/crash-* (turn it into a regression file of
# the corpus once fixed). Exits 1 if any target crashed. Extra libFuzzer
# options can be given in $PRD_FUZZ_OPTIONS (e.g. -runs=N).
set -euo pipefail

usage() {
  echo "usage: tests/fuzz/run.sh SECONDS [TARGET...]" >&2
  echo "targets: $(cd "$fuzz_dir" && ls -1 corpus | tr '\n' ' ')" >&2
  exit 2
}

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$fuzz_dir/../.." && pwd)
[ $# -ge 1 ] || usage
build_only=false
if [ "$1" = --build ]; then
  build_only=true
  set -- 0
fi
seconds=$1
shift
case $seconds in '' | *[!0-9]*) usage ;; esac
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(ls -1 "$fuzz_dir/corpus")
fi

build=${PRD_FUZZ_BUILD_DIR:-$repo/_build-fuzz}
if [ ! -f "$build/meson-private/coredata.dat" ]; then
  # Optimized (fuzzing at -O0 is several times slower); clang warns about
  # g_autoptr() variables that only hold a reference.
  CC=clang meson setup "$build" "$repo" --buildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false \
    "-Dc_args=['-fsanitize=fuzzer-no-link','-Wno-unused-variable']" \
    -Dbenchmarks=false -Dadmin=disabled -De2e=disabled >/dev/null
fi
ninja -C "$build" "${targets[@]/#/tests/fuzz/fuzz-}"
$build_only && exit 0

results=$build/fuzz-results
failed=()
for target in "${targets[@]}"; do
  exe=$build/tests/fuzz/fuzz-$target
  [ -d "$fuzz_dir/corpus/$target" ] || { echo "no corpus for $target" >&2; exit 2; }
  mkdir -p "$results/$target"
  log=$results/$target/last-run.log
  echo "==> fuzz-$target: $seconds s"
  rc=0
  # markdown: every input is parsed by cmark seven times, and under ASan a
  # parse costs in proportion to the text: at libFuzzer's default cap of
  # 4 KiB the target fell to a few hundred executions a second, at 1 KiB to
  # about 700. A PRD's structures (headings of every kind, fences, lists,
  # many headings of one title) fit in 512 bytes.
  target_options=()
  [ "$target" = markdown ] && target_options=(-max_len=512)
  # shellcheck disable=SC2086
  "$fuzz_dir/run-target.sh" "$exe" "$fuzz_dir/corpus/$target" "$seconds" \
    -artifact_prefix="$results/$target/" "${target_options[@]}" ${PRD_FUZZ_OPTIONS:-} >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "    executions: ${execs:-?}, exit status $rc (log: $log)"
  if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|assert' "$log" | head -n 5 | sed 's/^/    /'
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
