#!/usr/bin/env bash
# Whole-run measurement: jobs/s of `ratrace trace --layers all --heads all --targets all` on a
# synthetic corpus of 2 sequences x 4 layers x 8 heads x 512 tokens, side by side for 1 thread and
# all threads, with the time to merely read the same file (inspect --check-values) as a floor.
#   bench/whole_run.sh [RATRACE_BINARY] [--device cpu|gpu|auto]
set -euo pipefail
bin=${1:-build/ratrace}
device=${2:-cpu}
work=$(mktemp -d /tmp/ratrace-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

layers=4 heads=8 len=512 seqs=2
jobs=$((seqs * layers * heads * len))
"$bin" synth -o "$work/corpus.h5" --sequences $seqs --layers $layers --heads $heads --len $len \
  --dtype float32 --seed 11 >/dev/null

now() { date +%s.%N; }
time_cmd() {  # prints seconds for one run of the command
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>&1
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
best_of() {  # best of 3 runs
  local best="" t
  for _ in 1 2 3; do
    t=$(time_cmd "$@")
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  echo "$best"
}

read_s=$(best_of "$bin" inspect "$work/corpus.h5" --check-values)
one_s=$(best_of "$bin" trace "$work/corpus.h5" -o "$work/out1.h5" --force --layers all --heads all --targets all --device "$device" --threads 1)
all_s=$(best_of "$bin" trace "$work/corpus.h5" -o "$work/outN.h5" --force --layers all --heads all --targets all --device "$device")

printf 'whole run: %d jobs (%d seq x %d layers x %d heads x %d targets), device %s, %d cores\n' \
  $jobs $seqs $layers $heads $len "$device" "$(nproc)"
awk -v j=$jobs -v r="$read_s" -v o="$one_s" -v a="$all_s" 'BEGIN {
  printf "  read only (inspect --check-values) %8.3f s\n", r
  printf "  trace, 1 thread                    %8.3f s  %10.0f jobs/s\n", o, j / o
  printf "  trace, all threads                 %8.3f s  %10.0f jobs/s\n", a, j / a
  printf "  ratios: all-threads speed-up %.2fx; trace / read time %.2fx\n", o / a, a / r }'
