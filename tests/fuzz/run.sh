#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs each fuzzer for a while and merges what it found into its corpus.
#
#   tests/fuzz/run.sh [--minimize] [seconds] [target...]
#
# seconds: per target (default 60). targets: mpsc, session, select, codec,
# remote (default all five).
# --minimize: rebuild the corpus from scratch (the smallest set of the old
# corpus and the new finds that reaches the same edges and model states)
# instead of adding to it.
#
# Build the fuzzers first: cmake --preset fuzz && cmake --build --preset fuzz
# (or cmake --workflow --preset fuzz). SPINDLE_FUZZ_BUILD_DIR overrides the
# build directory (default build/fuzz).
#
# Each fuzzer starts from tests/fuzz/corpus/<target>/ and writes the inputs
# it finds to a scratch directory; then libFuzzer's -merge=1 copies into the
# corpus only those that reach an edge or a model state (the targets' extra
# counters) the corpus does not. The merge counts each once, not how often
# it runs (-use_counters=0), so the corpus stays at a few hundred inputs per
# target rather than thousands. The summary per target is libFuzzer's last
# status line (cov: edges, ft: features, corp:, exec/s) and its final stats.
# When a fuzzer finds a crash (or a leak, or a stuck input), its corpus is
# left as it was, the script goes on with the next target and exits 1; the
# input is in <build>/fuzz-work/<target>/artifacts/ (crash-<sha1>, leak-,
# timeout-). Replay it with the fuzzer (<fuzzer> <file>) or with the replay
# executable.
#
# Exit status: 0; 1 when a fuzzer found a crash; 2 on bad usage or a
# missing build.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${SPINDLE_FUZZ_BUILD_DIR:-$root/build/fuzz}

minimize=0
if [ "${1:-}" = --minimize ]; then
  minimize=1
  shift
fi
seconds=60
if [ $# -gt 0 ]; then
  case $1 in
    '' | *[!0-9]*) ;;
    *)
      seconds=$1
      shift
      ;;
  esac
fi
targets=${*:-mpsc session select codec remote}

# Inputs up to 256 bytes, for the run and the merge. One thread runs an
# input in well under a millisecond: one that takes 10 s is stuck, which is
# a bug (a call the model said returns at once blocked), reported as a
# timeout-<sha1> input.
max_len=256
timeout=10

status=0
for target in $targets; do
  case $target in
    mpsc | session | select) ;;
    *)
      echo "run.sh: unknown target '$target' (mpsc, session, select)" >&2
      exit 2
      ;;
  esac
  fuzzer=$build/tests/fuzz/spindle_fuzz_$target
  if [ ! -x "$fuzzer" ]; then
    echo "run.sh: $fuzzer is not built; run: cmake --preset fuzz && cmake --build --preset fuzz" >&2
    exit 2
  fi
  corpus=$here/corpus/$target
  work=$build/fuzz-work/$target
  rm -rf "$work"
  mkdir -p "$corpus" "$work/new" "$work/artifacts"
  before=$(find "$corpus" -type f | wc -l)

  echo "== $target: fuzzing for ${seconds}s (corpus: $before inputs)"
  if "$fuzzer" -max_len=$max_len -max_total_time="$seconds" -timeout=$timeout -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/new" "$corpus" >"$work/fuzz.log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$work/fuzz.log" | tail -n 1
    grep -E '^stat::' "$work/fuzz.log"
  else
    status=1
    echo "run.sh: $target: the fuzzer found a crash (log: $work/fuzz.log); the input:" >&2
    ls "$work/artifacts/"* >&2 2>/dev/null || true
    grep -E 'divergence|check:|ERROR|SUMMARY' "$work/fuzz.log" | head -n 10 >&2 || true
    continue
  fi

  # Only the inputs that add edges to the corpus go into it; or, with
  # --minimize, the corpus is rebuilt from the old one and the new finds.
  if [ $minimize = 1 ]; then
    into=$work/minimized
    mkdir -p "$into"
    set -- "$corpus" "$work/new"
  else
    into=$corpus
    set -- "$work/new"
  fi
  if ! "$fuzzer" -merge=1 -use_counters=0 -max_len=$max_len "$into" "$@" >"$work/merge.log" 2>&1; then
    echo "run.sh: $target: the merge failed (log: $work/merge.log)" >&2
    status=1
    continue
  fi
  if [ $minimize = 1 ]; then
    find "$corpus" -type f -delete
    find "$into" -type f -exec cp {} "$corpus"/ \;
  fi
  after=$(find "$corpus" -type f | wc -l)
  echo "corpus: $before -> $after inputs ($(du -sk "$corpus" | cut -f1) KiB)"
done
exit $status
