#!/usr/bin/env bash
# shellcheck disable=SC2034,SC2154  # pick and between (below) set variables by name (local -n)
# Differential fuzz of the GPU engine against the CPU reference: random small corpora (dtype,
# lengths from 1 token, one case in 8 past 256, masks, ties, chunked and deflated storage, BOS or
# none) under random trace parameters (K and B anywhere in 1..32, every length_norm, min_attn, BOS
# rules, selections, tight --gpu-mem), each run through `ratrace verify`, which must exit 0 with no
# mismatch.
#   bench/verify-fuzz.sh RATRACE DIR [CASES] [SEED] [SECONDS]
# RATRACE: the real binary on a GPU, or tests/simt's ratrace-simt (the GPU code on the CPU) in ctest.
# Stops starting cases after SECONDS (0: no limit). Prints one line per failed case, with the
# commands that reproduce it, and a summary line; exit 1 when any case failed, 2 when none passed
# (or on bad arguments).
# A corpus that cannot fit the --gpu-mem bound at all is refused with exit 2 and a message that
# names the bound (SPEC §7); such a case counts as "refused", not as a failure.
set -u
[ $# -ge 2 ] || { echo "usage: verify-fuzz.sh RATRACE DIR [CASES] [SEED] [SECONDS]" >&2; exit 2; }
ratrace=$1
dir=$2
cases=${3:-50}
seed=${4:-1}
seconds=${5:-0}
for value in "$cases" "$seed" "$seconds"; do
  [[ $value =~ ^[0-9]+$ ]] || { echo "verify-fuzz: CASES, SEED and SECONDS are whole numbers >= 0, not '$value'" >&2; exit 2; }
done
[ -x "$ratrace" ] || { echo "verify-fuzz: $ratrace is no executable" >&2; exit 2; }
mkdir -p "$dir"
RANDOM=$seed  # bash's generator: the same seed gives the same cases

# pick VAR CHOICES...: one of the choices; between VAR LO HI: an integer in [LO, HI]. They set VAR
# rather than print, as $(...) would run them in a subshell, which bash seeds afresh.
pick() { local -n var=$1; shift; local -a choices=("$@"); var=${choices[RANDOM % ${#choices[@]}]}; }
between() { local -n var=$1; var=$(( $2 + RANDOM % ($3 - $2 + 1) )); }
chance() { [ $((RANDOM % $1)) -eq 0 ]; }  # chance N: true one time in N

start=$(date +%s)
passed=0 refused=0 failed=0 jobs=0 near_ties=0
for ((i = 0; i < cases; i++)); do
  if [ "$seconds" -gt 0 ] && [ $(( $(date +%s) - start )) -ge "$seconds" ]; then break; fi
  corpus="$dir/fuzz-$i.h5"

  # The corpus. Lengths: mostly short, some of one to a few tokens, some past a warp's 32 lanes
  # and several row tiers.
  pick min_len 1 2 3 5 17 31 33 64 100
  pick extra 0 0 1 7 40 120 180
  between sequences 1 3; between layers 1 2; between heads 1 6; between synth_seed 1 100000
  # One case in 8 has long rows instead: past 256 columns a row has several groups of 8 chunks, of
  # which the head kernel skips those that cannot enter the top-K. One sequence, one layer, few
  # heads and few targets (below) keep such a case small.
  long=no
  if chance 8; then
    long=yes sequences=1 layers=1
    pick min_len 255 256 257 300 513 777 1025; pick extra 0 0 3 64; between heads 1 3
  fi
  pick dtype float16 bfloat16 float32 float64
  synth=(--sequences "$sequences" --layers "$layers" --heads "$heads" --min-len "$min_len"
         --max-len $((min_len + extra)) --dtype "$dtype" --seed "$synth_seed")
  chance 3 && synth+=(--mask)
  pick ties 0 0 0 2 3 16; [ "$ties" -gt 0 ] && synth+=(--ties "$ties")
  case $((RANDOM % 5)) in
    0) between level 1 9; synth+=(--deflate "$level") ;;
    1) pick rows 1 7 64; synth+=(--chunk-rows "$rows") ;;
  esac
  tokens=yes
  case $((RANDOM % 6)) in
    0) synth+=(--no-bos) ;;
    1) between bos 0 5; synth+=(--bos-token-id "$bos") ;;
    2) synth+=(--no-tokens); tokens=no ;;
  esac

  # The trace parameters. K and B: tier edges more often than the rest.
  between any_k 1 32; pick top_k 1 2 4 5 8 9 16 17 31 32 "$any_k"
  between any_b 1 32; pick top_beam 1 2 3 5 8 9 16 17 32 "$any_b"
  pick head_sel all,mean,max all mean max 0 -1,mean 0,max
  pick target_sel all all -1 ::3 0 1:9
  [ "$long" = yes ] && pick target_sel -1 ::97 0 250:256 -40:
  verify=(--layers all -K "$top_k" -B "$top_beam" --heads "$head_sel" --targets "$target_sel")
  pick norm avg_logprob none sqrt pow:0 pow:0.7 pow:2.25; [ "$norm" = avg_logprob ] || verify+=(--length-norm "$norm")
  pick min_attn 0 0 0.001 0.02 0.1; [ "$min_attn" = 0 ] || verify+=(--min-attn "$min_attn")
  chance 4 && verify+=(--no-stop-at-bos)
  [ "$tokens" = yes ] && chance 6 && { between bos 0 5; verify+=(--bos-token-id "$bos"); }
  chance 5 && { pick gib 0.002 0.004 0.02; verify+=(--gpu-mem "$gib"); }
  chance 6 && { between sample 1 200; between sample_seed 1 1000; verify+=(--sample "$sample" --seed "$sample_seed"); }

  repro="$ratrace synth -o $corpus --force ${synth[*]} && $ratrace verify $corpus ${verify[*]}"
  if ! out=$("$ratrace" synth -o "$corpus" --force "${synth[@]}" 2>&1); then
    failed=$((failed + 1))
    echo "FAIL case $i: synth: $(tail -1 <<<"$out")"$'\n'"  $repro"
    continue
  fi
  out=$("$ratrace" verify "$corpus" "${verify[@]}" 2>&1)
  rc=$?
  summary=$(grep '^verify:' <<<"$out" | tail -1)
  if [ $rc -eq 0 ] && [[ $summary =~ ^verify:\ ([0-9]+)\ jobs\ compared.*\ 0\ mismatches,\ ([0-9]+)\ near-ties ]]; then
    passed=$((passed + 1))
    jobs=$((jobs + BASH_REMATCH[1]))
    near_ties=$((near_ties + BASH_REMATCH[2]))
    rm -f "$corpus"
  elif [ $rc -eq 2 ] && grep -q 'of GPU memory, more than the .* available' <<<"$out"; then
    refused=$((refused + 1))
    rm -f "$corpus"
  else
    failed=$((failed + 1))
    echo "FAIL case $i (rc $rc): $(grep -E '^(mismatch|verify|ratrace)' <<<"$out" | head -6 | paste -sd'|' -)"$'\n'"  $repro"
  fi
done  # i: the cases run (the time limit stops the loop before case i starts)
echo "verify-fuzz: $i cases (seed $seed) in $(( $(date +%s) - start )) s: $passed passed, $failed failed," \
  "$refused refused for --gpu-mem; $jobs jobs compared, $near_ties near-ties"
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -gt 0 ] || exit 2
