#!/usr/bin/env bash
# run.sh BIN FUZZDIR TARGET SECONDS: run the libFuzzer target BIN over the
# committed corpus FUZZDIR/corpus/TARGET (every input there first: they are
# the regressions) and then mutate for SECONDS. New inputs go to a scratch
# directory, never into the repository. Exit 77 when BIN was not built (no
# fuzzing toolchain), 0 when nothing was found, else libFuzzer's exit code
# with the crashing input copied to ./fuzz-artifacts/ (ctest's working dir).
set -u
bin=$1 dir=$2 target=$3 seconds=$4
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "fuzz_$target: skipped (no clang with libFuzzer: Debian clang-14 and libclang-rt-14-dev)"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/advsweep-fuzz-$target.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new" "$work/tmp"
dict=()
[ -f "$dir/$target.dict" ] && dict=(-dict="$dir/$target.dict")
# -timeout: one input that takes this long is a hang (the largest grid takes ~2 s here).
# -rss_limit_mb / -malloc_limit_mb: a damaged file must not make us allocate gigabytes.
TMPDIR="$work/tmp" "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2560 -malloc_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" "$work/new" "$dir/corpus/$target" 2>&1 \
  | grep -v -E '^#[0-9]+\s+(NEW|REDUCE|pulse)|^advsweep: warning: |^".*" # Uses: ' # progress, merge warnings, dictionary
rc=${PIPESTATUS[0]}
[ "$rc" -eq 77 ] && rc=1 # libFuzzer's exit code for a finding is 77: ctest's "skipped"
shopt -s nullglob
found=("$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$work"/slow-unit-*)
if [ ${#found[@]} -gt 0 ]; then
  mkdir -p fuzz-artifacts
  cp "${found[@]}" fuzz-artifacts/
  echo "fuzz_$target: inputs kept in $PWD/fuzz-artifacts/: ${found[*]##*/}"
  echo "reproduce: $bin fuzz-artifacts/NAME; add the input to $dir/corpus/$target once fixed"
fi
echo "fuzz_$target: $(ls "$work/new" | wc -l) new corpus inputs (not kept)"
exit "$rc"
