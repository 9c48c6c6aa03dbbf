#!/usr/bin/env bash
# Writes the synthetic corpora that bench/verify-modes.txt names, for its `verify` runs:
#   bench/verify-corpora.sh RATRACE DIR [MAX_LEN]
# MAX_LEN > 0 caps every --len (the SIMT emulator runs the GPU code on the CPU; ctest uses 512).
set -euo pipefail
ratrace=$1
dir=$2
max_len=${3:-0}
modes=$(dirname "$0")/verify-modes.txt
mkdir -p "$dir"
while read -r kind name rest; do
  [ "$kind" = corpus ] || continue
  read -ra args <<<"$rest"
  for k in "${!args[@]}"; do
    if [ "$max_len" -gt 0 ] && [ "$k" -gt 0 ] && [ "${args[k - 1]}" = --len ] && [ "${args[k]}" -gt "$max_len" ]; then
      args[k]=$max_len
    fi
  done
  "$ratrace" synth -o "$dir/$name.h5" --force "${args[@]}"
done <"$modes"
