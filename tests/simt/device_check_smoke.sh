#!/usr/bin/env bash
# ctest simt.device_check: bench/device-check.sh, the one script a GPU session runs, run to the end
# on the emulated device, so that its plumbing is known to work before device time is spent on it:
# the ONLY filter, one summary line per step, a failing step reported and the next one still run,
# the verify fuzz (skipped when too little time is left for it), the logs packed into logs.tar.gz
# beside SUMMARY.txt, the libraries step (ldd of the binaries), the bundled glibc's loader where the
# binaries cannot start directly, GPU tests that skipped counted as a FAIL, and a sanitizer that
# refuses the device named on its summary line.
#   device_check_smoke.sh SOURCE_DIR RATRACE_SIMT
set -euo pipefail
src=$1
work=$(mktemp -d /tmp/ratrace-device-check-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "device_check_smoke: $*"; echo "--- SUMMARY.txt"; cat "$work/out/SUMMARY.txt" 2>/dev/null; exit 1; }

# The bundle's layout (scripts/device-bundle.sh), with the emulator's CLI as `ratrace` (the verify
# steps run nothing else; the other two names only have their libraries listed) and a
# verify-modes.txt of its own: one mode that must fail (K = 0 is a usage error), one that must pass.
bin=$work/bin
mkdir -p "$bin"
for name in ratrace ratrace_gpu_tests ratrace_bench_gpu; do ln -s "$2" "$bin/$name"; done
cp "$src/bench/device-check.sh" "$src/bench/verify-corpora.sh" "$src/bench/verify-fuzz.sh" "$bin/"
cat >"$bin/verify-modes.txt" <<'EOF'
corpus tiny --sequences 1 --layers 1 --heads 2 --len 48 --dtype float16 --seed 3
mode bad 60 tiny -K 0
mode good 60 tiny --layers all --heads all,mean --targets all
EOF

OUT=$work/out ONLY='^verify-' FUZZ_CASES=3 bash "$bin/device-check.sh" || fail "exit code $?"
summary=$work/out/SUMMARY.txt
grep -q "^device-check .*only the steps matching '\^verify-'" "$summary" || fail "no header naming the ONLY filter"
grep -Eq '^FAIL +verify-bad +\(rc 2,' "$summary" || fail "the failing mode is not reported as FAIL with rc 2"
grep -Eq '^PASS +verify-good +\(rc 0,.*verify: ' "$summary" || fail "the passing mode has no PASS line quoting verify's summary"
grep -Eq '^PASS +verify-fuzz +\(rc 0,.*verify-fuzz: 3 cases \(seed 1\) in [0-9]+ s: 3 passed, 0 failed' "$summary" ||
  fail "no PASS line for the fuzz of 3 cases"
grep -Eq '^total [0-9]+ s' "$summary" || fail "no closing total line"
[ "$(grep -Ec '^(PASS|FAIL|SKIP)' "$summary")" -eq 3 ] || fail "steps outside ONLY ran"
[ "$(ls "$work/out")" = "$(printf 'SUMMARY.txt\nlogs.tar.gz')" ] || fail "\$OUT holds $(ls "$work/out" | paste -sd' ')"
logs=$(tar tzf "$work/out/logs.tar.gz")
for log in logs/verify-bad.log logs/verify-good.log logs/verify-fuzz.log logs/synth.log; do
  grep -qx "$log" <<<"$logs" || fail "$log is not in logs.tar.gz"
done
# Too little time left for the fuzz: skipped, not started without a limit and timed out as a FAIL.
OUT=$work/late ONLY='^verify-fuzz$' DEADLINE=12 bash "$bin/device-check.sh" || fail "exit code $? (fuzz, late)"
grep -Eq '^SKIP +verify-fuzz +\(deadline of 12 s reached\)$' "$work/late/SUMMARY.txt" ||
  fail "the fuzz with under 5 s left is not skipped: $(cat "$work/late/SUMMARY.txt")"
# The libraries step: the binaries' ldd in its log, and a FAIL when one of them cannot load.
# The bundle's lib/ leaves LD_LIBRARY_PATH (for the machine's own tools); the machine's entries stay.
mkdir -p "$work/lib"
OUT=$work/libs ONLY='^libraries$' LD_LIBRARY_PATH="/machine/lib64:$bin/../lib:/machine/lib" bash "$bin/device-check.sh" ||
  fail "exit code $? (libraries)"
grep -Eq '^PASS +libraries +\(rc 0,' "$work/libs/SUMMARY.txt" || fail "no PASS line for the libraries step: $(cat "$work/libs/SUMMARY.txt")"
tar xzf "$work/libs/logs.tar.gz" -C "$work/libs"
grep -q 'libhdf5' "$work/libs/logs/libraries.log" || fail "the libraries log lists no libhdf5"
grep -qx 'LD_LIBRARY_PATH=/machine/lib64:/machine/lib' "$work/libs/logs/libraries.log" ||
  fail "LD_LIBRARY_PATH in the steps: $(grep LD_LIBRARY_PATH "$work/libs/logs/libraries.log")"
# The bundled glibc (glibc/ beside bin/, which scripts/device-bundle.sh fills): where `ratrace`
# cannot start directly (here: a copy without its execute bit, as a binary that needs a newer glibc
# than the machine's fails to start), every step starts the binaries by glibc/'s loader; with
# BUNDLED_GLIBC=0 they start directly (and here fail).
mkdir -p "$work/glibc"
for lib in /lib64/ld-linux-x86-64.so.2 $(ldd "$2" | awk '$1 ~ /^lib(c|m)\.so\./ { print $3 }'); do cp -L "$lib" "$work/glibc/"; done
rm "$bin/ratrace"
cp "$2" "$bin/ratrace"
chmod a-x "$bin/ratrace"
OUT=$work/glibc-auto ONLY='^verify-good$|^libraries$' bash "$bin/device-check.sh" || fail "exit code $? (bundled glibc)"
summary=$work/glibc-auto/SUMMARY.txt
grep -q "^binaries started by the bundled glibc's loader ($work/glibc; BUNDLED_GLIBC=auto; a plain start: .*ermission denied" "$summary" ||
  fail "no line saying that the bundled loader starts the binaries: $(cat "$summary")"
grep -Eq '^PASS +verify-good +\(rc 0,.*verify: ' "$summary" || fail "verify by the bundled loader did not pass: $(cat "$summary")"
grep -Eq '^PASS +libraries +\(rc 0,' "$summary" || fail "no PASS line for the libraries by the bundled loader: $(cat "$summary")"
tar xzf "$work/glibc-auto/logs.tar.gz" -C "$work/glibc-auto"
grep -q "libc\.so\.6 => $work/glibc/libc\.so\.6" "$work/glibc-auto/logs/libraries.log" ||
  fail "the libraries log does not show libc from the bundled glibc: $(cat "$work/glibc-auto/logs/libraries.log")"
OUT=$work/glibc-off ONLY='^verify-good$' BUNDLED_GLIBC=0 bash "$bin/device-check.sh" || fail "exit code $? (BUNDLED_GLIBC=0)"
grep -q '^binaries started directly (ratrace --version: exit 126' "$work/glibc-off/SUMMARY.txt" &&
  grep -Eq '^FAIL +verify-good +\(rc 126,' "$work/glibc-off/SUMMARY.txt" ||
  fail "BUNDLED_GLIBC=0 did not start the binaries directly: $(cat "$work/glibc-off/SUMMARY.txt")"
rm -r "$work/glibc" "$bin/ratrace"
ln -s "$2" "$bin/ratrace"

rm "$bin/ratrace_bench_gpu"
OUT=$work/libs-missing ONLY='^libraries$' bash "$bin/device-check.sh" || fail "exit code $? (libraries, one missing)"
grep -Eq '^FAIL +libraries +\(rc 1,' "$work/libs-missing/SUMMARY.txt" || fail "a binary that cannot load is not a FAIL: $(cat "$work/libs-missing/SUMMARY.txt")"
# The GPU tests' step: a run where gtest skipped tests (no usable GPU) is a FAIL, a full run a PASS.
stub_tests() {  # the test binary's place: a script printing gtest's closing lines
  rm -f "$bin/ratrace_gpu_tests"
  printf '#!/bin/sh\necho "[==========] 2 tests from 1 test suite ran. (1 ms total)"\necho "[  PASSED  ] %s tests."\n%s\n' "$1" "$2" >"$bin/ratrace_gpu_tests"
  chmod +x "$bin/ratrace_gpu_tests"
}
stub_tests 0 'echo "[  SKIPPED ] 2 tests, listed below:"'
OUT=$work/skips ONLY='^gpu-tests$' bash "$bin/device-check.sh" || fail "exit code $? (gpu-tests, skipped)"
grep -Eq '^FAIL +gpu-tests +\(rc 1,.*skipped' "$work/skips/SUMMARY.txt" || fail "skipped GPU tests are not a FAIL: $(cat "$work/skips/SUMMARY.txt")"
stub_tests 2 'exit 0'
OUT=$work/ran ONLY='^gpu-tests$' bash "$bin/device-check.sh" || fail "exit code $? (gpu-tests)"
grep -Eq '^PASS +gpu-tests +\(rc 0,.*PASSED  \] 2 tests' "$work/ran/SUMMARY.txt" || fail "a full GPU test run is not a PASS: $(cat "$work/ran/SUMMARY.txt")"
# A sanitizer that refuses this machine's device: its FAIL line says so (not the test binary's
# last line), so the summary alone tells a refusal from errors found.
mkdir -p "$work/tools"
printf '#!/bin/sh\necho "========= COMPUTE-SANITIZER"\necho "========= Error: Device not supported"\necho "trailing noise"\nexit 1\n' >"$work/tools/compute-sanitizer"
chmod +x "$work/tools/compute-sanitizer"
OUT=$work/sanitizer PATH="$work/tools:$PATH" ONLY='^sanitizer-memcheck$' bash "$bin/device-check.sh" || fail "exit code $? (sanitizer)"
grep -Eq '^FAIL +sanitizer-memcheck +\(rc 1,.*Device not supported' "$work/sanitizer/SUMMARY.txt" ||
  fail "a sanitizer refusing the device does not say so: $(cat "$work/sanitizer/SUMMARY.txt")"
echo "device_check_smoke: ok"
