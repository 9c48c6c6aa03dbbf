#!/usr/bin/env bash
# Every GPU check in one run (<= 5 minutes), on the lent GPU machine, from the repository root:
#   .device/bin/device-check.sh
# with the binaries that scripts/device-bundle.sh built and packed beside this script (they find
# their bundled libraries by rpath; where this machine's glibc is too old for them, they start by
# the bundled glibc's loader instead, and the summary's second line says which). Writes one log
# per step under $OUT (default ./device-out) and $OUT/SUMMARY.txt with one line per check:
#   PASS|FAIL|SKIP  step  (rc, seconds)  key result
# Every step has a timeout and a failure never stops the next step.
set -u
BIN=$(cd "$(dirname "$0")" && pwd)
# The bundle's libraries (built on another system) are for its binaries only, which find them by
# rpath, ahead of LD_LIBRARY_PATH; the machine's own tools (compute-sanitizer above all) must load
# the machine's. So the bundle's lib/ is taken out of LD_LIBRARY_PATH (where an older command put
# it), and the machine's own entries stay (the driver's libcuda may be found only through them).
bundle_lib=$(cd "$BIN/../lib" 2>/dev/null && pwd)
if [ -n "${LD_LIBRARY_PATH:-}" ] && [ -n "$bundle_lib" ]; then
  LD_LIBRARY_PATH=$(tr ':' '\n' <<<"$LD_LIBRARY_PATH" |
    while read -r dir; do [ "$(cd "$dir" 2>/dev/null && pwd)" = "$bundle_lib" ] || echo "$dir"; done | paste -sd: -)
  if [ -n "$LD_LIBRARY_PATH" ]; then export LD_LIBRARY_PATH; else unset LD_LIBRARY_PATH; fi
fi
# The device tool brings back at most 8 files from $OUT: per-step logs go to $OUT/logs and are
# packed into $OUT/logs.tar.gz at exit, beside SUMMARY.txt.
RESULTS=${OUT:-$PWD/device-out}
OUT=$RESULTS/logs
mkdir -p "$OUT"
SUMMARY=$RESULTS/SUMMARY.txt
: >"$SUMMARY"
WORK=$(mktemp -d /tmp/ratrace-device-XXXXXX)
trap 'rm -rf "$WORK"; tar czf "$RESULTS/logs.tar.gz" -C "$RESULTS" logs && rm -rf "$OUT"' EXIT
# How the bundle's binaries start: directly, where this machine's glibc is as new as the build
# machine's (their rpath finds lib/); else by the loader of the build machine's glibc, which
# scripts/device-bundle.sh puts in glibc/ (the machine's libcuda is then still found where the
# machine's loader would find it: LD_LIBRARY_PATH, then its ld.so.cache). BUNDLED_GLIBC=1 forces
# the bundled loader, 0 forbids it; the default (auto) uses it when `ratrace --version` cannot start.
GLIBC_DIR=$(cd "$BIN/../glibc" 2>/dev/null && pwd)
LAUNCH=()  # the words before a binary's path: none, or the bundled loader and its library path
direct_start=$(timeout 20 "$BIN/ratrace" --version 2>&1)
direct_ok=$?
direct_start=${direct_start%%$'\n'*}
case ${BUNDLED_GLIBC:-auto} in
  1) use_loader=yes ;;
  0) use_loader=no ;;
  *) use_loader=no; [ "$direct_ok" -ne 0 ] && [ -n "$GLIBC_DIR" ] && use_loader=yes ;;
esac
if [ "$use_loader" = yes ]; then
  LAUNCH=("$GLIBC_DIR/ld-linux-x86-64.so.2" --library-path "$GLIBC_DIR${bundle_lib:+:$bundle_lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  # Scripts (verify-corpora.sh, verify-fuzz.sh) take the CLI as one path: a wrapper that starts it so.
  mkdir -p "$WORK/bin"
  { echo '#!/usr/bin/env bash'; printf 'exec'; printf ' %q' "${LAUNCH[@]}" "$BIN/ratrace"; echo ' "$@"'; } >"$WORK/bin/ratrace"
  chmod +x "$WORK/bin/ratrace"
  RATRACE=$WORK/bin/ratrace
else
  RATRACE=$BIN/ratrace
fi
GPU_TESTS=("${LAUNCH[@]}" "$BIN/ratrace_gpu_tests")
BENCH_GPU=("${LAUNCH[@]}" "$BIN/ratrace_bench_gpu")
LIST_LIBRARIES=(ldd)
[ ${#LAUNCH[@]} -gt 0 ] && LIST_LIBRARIES=("${LAUNCH[@]}" --list)
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
START=$(date +%s)
DEADLINE=${DEADLINE:-285}  # seconds for the whole check; later steps are skipped past it
# ONLY: a grep -E pattern of step names, to rerun just those (e.g. what the deadline skipped):
#   ONLY='^bench-kernels$|^sanitizer-' .device/bin/device-check.sh
ONLY=${ONLY:-}
wanted() { [ -z "$ONLY" ] || echo "$1" | grep -Eq -- "$ONLY"; }
any_wanted() { local n; for n; do wanted "$n" && return 0; done; return 1; }

# step NAME TIMEOUT_S KEY_PATTERN CMD...: runs CMD with a timeout, log in $OUT/NAME.log; the
# summary line quotes the last log line matching KEY_PATTERN (a grep -E pattern; '' = none).
step() {
  local name=$1 limit=$2 key=$3
  shift 3
  local log=$OUT/$name.log t0 t1 rc status line="" left
  wanted "$name" || return 0
  left=$(( DEADLINE - ($(date +%s) - START) ))
  if [ "$left" -lt 5 ]; then
    skip_at_deadline "$name"
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  t0=$(date +%s.%N)
  { echo "\$ $*"; timeout --kill-after=10 "$limit" "$@"; } >"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  status=PASS
  [ $rc -ne 0 ] && status=FAIL
  [ $rc -eq 124 ] && status="FAIL(timeout)"
  [ -n "$key" ] && line=$(grep -E "$key" "$log" | tail -3 | cut -c1-160 | paste -sd'|' -)
  [ -z "$line" ] && line=$(grep -v '^\s*$' "$log" | tail -1 | cut -c1-200)
  printf '%-14s %-34s (rc %d, %5.1f s) %s\n' "$status" "$name" $rc "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" \
    "$line" | tee -a "$SUMMARY"
}
note() { echo "$*" | tee -a "$SUMMARY"; }
skip_at_deadline() { note "$(printf '%-14s %-34s (deadline of %d s reached)' SKIP "$1" "$DEADLINE")"; }
# NO_SKIPS CMD...: runs a GPU test command and fails it when gtest skipped any test (a test skips
# where it finds no usable GPU: on the GPU machine that is a fault, never a pass).
NO_SKIPS=$WORK/no-skips
cat >"$NO_SKIPS" <<'EOF'
#!/usr/bin/env bash
set -o pipefail
log=$(mktemp)
"$@" 2>&1 | tee "$log"
rc=$?
if [ $rc -eq 0 ] && grep -q '^\[  SKIPPED \]' "$log"; then
  echo "device-check: tests were skipped (see above), so this is no pass"
  rc=1
fi
rm -f "$log"
exit $rc
EOF
chmod +x "$NO_SKIPS"

note "device-check $(date -u +%FT%TZ) on $(hostname)${ONLY:+, only the steps matching '$ONLY'}"
if [ ${#LAUNCH[@]} -gt 0 ]; then
  note "binaries started by the bundled glibc's loader ($GLIBC_DIR; BUNDLED_GLIBC=${BUNDLED_GLIBC:-auto}; a plain start: exit $direct_ok${direct_start:+, $direct_start})"
else
  note "binaries started directly (ratrace --version: exit $direct_ok${GLIBC_DIR:+; bundled glibc not needed})"
fi
step nvidia-smi 20 'NVIDIA|MiB' nvidia-smi
# Whether the binaries load here at all (their libraries, glibc's version): one clear line first.
# (The log also shows LD_LIBRARY_PATH and where the loader finds the driver's libcuda, which the CUDA
# runtime opens at run time, so ldd does not list it.) With the bundled loader, its --list is ldd.
step libraries 20 'libhdf5|=> not found|version .* not found|No such' bash -c \
  'echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH-(unset)}"; ldconfig -p 2>/dev/null | grep "libcuda\.so"
   n=$1; shift; list=("${@:1:n}"); shift "$n"; rc=0
   for b; do echo "$b:"; out=$("${list[@]}" "$b" 2>&1) || rc=1; echo "$out"; grep -q "not found" <<<"$out" && rc=1; done
   exit $rc' libraries "${#LIST_LIBRARIES[@]}" "${LIST_LIBRARIES[@]}" \
  "$BIN/ratrace" "$BIN/ratrace_gpu_tests" "$BIN/ratrace_bench_gpu"

# The whole run's corpus (step 4) is CPU work: write it in the background while the GPU tests run.
# 2 sequences x 32 layers x 32 heads x 1024 tokens, float16 (4.3 GB).
BIG=$WORK/big.h5
WHOLE_RUN_STEPS='synth-big bench-whole-run-last bench-whole-run bench-whole-run-sample trace-big-gpu'
# shellcheck disable=SC2086  # a list of names
any_wanted $WHOLE_RUN_STEPS && ( "$RATRACE" synth -o "$BIG" --force --sequences 2 --layers 32 --heads 32 --len 1024 --dtype float16 --seed 9 \
    >"$WORK/synth-big.out" 2>&1 &
  echo $! >"$WORK/synth-big.pid"
  wait $!
  echo $? >"$WORK/synth-big.rc" ) &

# 1. Kernel and engine tests against the CPU stages.
step gpu-tests 150 '\] [0-9]+ tests?|skipped' "$NO_SKIPS" "${GPU_TESTS[@]}" --gtest_color=no

# 2. verify (GPU vs CPU reference) on synthetic corpora, one parameter mode at a time: the runs of
#    verify-modes.txt, which ctest also runs on the SIMT emulator.
# shellcheck disable=SC2046  # one name per mode
if any_wanted $(awk '$1 == "mode" { print "verify-" $2 }' "$BIN/verify-modes.txt"); then
  "$BIN/verify-corpora.sh" "$RATRACE" "$WORK" >"$OUT/synth.log" 2>&1 || note "FAIL           synth of the verify corpora (synth.log)"
fi
while read -r kind name limit corpus args; do
  [ "$kind" = mode ] || continue
  # shellcheck disable=SC2086  # the mode's arguments are words
  step "verify-$name" "$limit" '^verify:' "$RATRACE" verify "$WORK/$corpus.h5" $args </dev/null
done <"$BIN/verify-modes.txt"

# 3. compute-sanitizer memcheck on small cases, multi-unit launches included (the packed layout and
#    the per-matrix offsets of batched launches are what a wrong index would break first).
# The summary quotes the sanitizer's verdict, gtest's count, or why the sanitizer could not run
# here (it has refused a device: 'Device not supported', then error 999 at the first allocation).
sanitizer_key='RACECHECK SUMMARY|ERROR SUMMARY|\] [0-9]+ tests?|skipped|not supported|[Ee]rror 999'
small='GpuBeamSearch.WorkedExampleKnownAnswer:GpuBeamSearch.TargetZeroAndRowsWithoutCandidates:GpuBeamSearch.TablesOfDifferentLengthsShareOneBatch:GpuRowTopK.OnlyMeanOrOnlyMax:GpuRowTopK.RowSumTallyMatchesTheCpu:GpuRowTopK.BadValueInAnyUnitOfALaunchIsFlagged:GpuRowTopK.OneLaunchOfUnitsOfDifferentLengthsMatchesTheCpu'
step sanitizer-memcheck 90 "$sanitizer_key" "$NO_SKIPS" "$SANITIZER" --tool memcheck --leak-check full --error-exitcode 1 \
  "${GPU_TESTS[@]}" --gtest_filter="$small" --gtest_color=no
step sanitizer-memcheck-engine 60 "$sanitizer_key" "$NO_SKIPS" "$SANITIZER" --tool memcheck --error-exitcode 1 \
  "${GPU_TESTS[@]}" --gtest_filter='GpuEngine.ShortSequencesOfMixedLengthsAndDtypesShareLaunches' --gtest_color=no

# 4. The whole run: 2 seq x 32 layers x 32 heads x 1024 tokens float16, every head and every target
#    (2,097,152 jobs) on the GPU; the CPU reference (all cores) on a fixed sample, layer 0 (65,536
#    jobs); and merely reading the file. If the full run fails or runs out of time, the same with
#    targets ::8 (262,144 jobs) follows, time permitting. Before them, every head with the default
#    target only (2,048 jobs): tiny results, so the end-to-end run should be bound by reading.
# shellcheck disable=SC2086  # a list of names
if ! any_wanted $WHOLE_RUN_STEPS; then
  :  # not selected by ONLY
elif ! nvidia-smi -L >/dev/null 2>&1; then
  note "SKIP           whole run (no GPU)"
elif [ $(( $(date +%s) - START )) -lt $(( DEADLINE - 60 )) ]; then
  # Waits for the corpus that every step below reads, so it runs whatever ONLY selects of them.
  ONLY='' step synth-big 90 'wrote' bash -c "while [ ! -f '$WORK/synth-big.rc' ]; do sleep 1; done; cat '$WORK/synth-big.out'; exit \$(cat '$WORK/synth-big.rc')"
  whole_run() {  # whole_run NAME TARGETS LIMIT_S
    step "$1" "$3" 'BM_WholeRun' env RATRACE_BENCH_CORPUS="$BIG" RATRACE_BENCH_HEADS=all RATRACE_BENCH_TARGETS="$2" \
      "${BENCH_GPU[@]}" --benchmark_filter=BM_WholeRun --benchmark_out="$OUT/$1.json" --benchmark_out_format=json
  }
  # The default target (the last position) of every head first: a short run that reading alone
  # should bound.
  whole_run bench-whole-run-last -1 45
  whole_run bench-whole-run all 150
  if ! grep -Eq '^PASS +bench-whole-run ' "$SUMMARY"; then
    whole_run bench-whole-run-sample ::8 60
  fi
  # The target counters, whole (the console line above is cut): speedup >= 50, end_to_end_over_read <= 1.25.
  for json in "$OUT/bench-whole-run.json" "$OUT/bench-whole-run-sample.json" "$OUT/bench-whole-run-last.json"; do
    [ -f "$json" ] && note "    $(basename "$json" .json): $(grep -Eo '"(speedup|gpu_jobs_per_s|cpu_jobs_per_s|read_s|gpu_s|end_to_end_s|gpu_over_read|end_to_end_over_read|results_MB|nodes|gpu_read_s|gpu_pack_s|gpu_device_wait_s|gpu_results_wait_s|gpu_fetch_s|gpu_deliver_s|writer_busy_s|writer_wait_s)": [^,]+' "$json" | tr -d '"' | paste -sd' ' -)"
  done
  step trace-big-gpu 60 'wrote|engine [0-9]' "$RATRACE" trace "$BIG" -o "$WORK/big-out.h5" --force --device gpu
else
  note "SKIP           whole run (time budget: $(( $(date +%s) - START )) s used)"
fi

# 5. Kernel benchmarks (short).
step bench-kernels 150 'frac_of_copy_bw|jobs_per_s|bytes_per_s' "${BENCH_GPU[@]}" --benchmark_filter='BM_GpuRowTopK|BM_GpuBeamSearch|BM_FetchResults|BM_PinColumn' \
  --benchmark_min_time=0.05 --benchmark_out="$OUT/bench-kernels.json" --benchmark_out_format=json
grep -E 'BM_' "$OUT/bench-kernels.log" 2>/dev/null | sed 's/^/    /' >>"$SUMMARY"

# 6. The other sanitizers (shared-memory races, barrier use) on small cases.
step sanitizer-racecheck 60 "$sanitizer_key" "$NO_SKIPS" "$SANITIZER" --tool racecheck --error-exitcode 1 \
  "${GPU_TESTS[@]}" --gtest_filter='GpuRowTopK.OnlyMeanOrOnlyMax:GpuBeamSearch.WorkedExampleKnownAnswer' --gtest_color=no
step sanitizer-synccheck 45 "$sanitizer_key" "$NO_SKIPS" "$SANITIZER" --tool synccheck --error-exitcode 1 \
  "${GPU_TESTS[@]}" --gtest_filter='GpuRowTopK.OnlyMeanOrOnlyMax:GpuBeamSearch.WorkedExampleKnownAnswer' --gtest_color=no

# 7. The differential fuzz (bench/verify-fuzz.sh): random small corpora under random parameters
#    through verify, for the time left (at most FUZZ_SECONDS), after every check above.
#    (Under 5 s left for it, it is skipped: its SECONDS of 0 or less would mean no limit, and the
#    step's timeout would then end it as a failure.)
fuzz_seconds=$(( DEADLINE - ($(date +%s) - START) - 10 ))
[ "$fuzz_seconds" -gt "${FUZZ_SECONDS:-40}" ] && fuzz_seconds=${FUZZ_SECONDS:-40}
if [ "$fuzz_seconds" -lt 5 ]; then
  wanted verify-fuzz && skip_at_deadline verify-fuzz
else
  step verify-fuzz $(( fuzz_seconds + 10 )) '^verify-fuzz:|^FAIL case' \
    "$BIN/verify-fuzz.sh" "$RATRACE" "$WORK/fuzz" "${FUZZ_CASES:-1000}" "${FUZZ_SEED:-1}" "$fuzz_seconds"
fi

# The background synth, when the whole run was skipped before it finished.
[ -f "$WORK/synth-big.rc" ] || kill "$(cat "$WORK/synth-big.pid" 2>/dev/null)" 2>/dev/null
wait
note "total $(( $(date +%s) - START )) s; logs in logs.tar.gz"
