#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# GPU tests skip without a GPU; say why once, before ctest's own summary.
if [ -x build/tests/ratrace_gpu_tests ]; then
  reason=$(build/tests/ratrace_gpu_tests --gtest_filter='GpuRowTopK.*' 2>&1 | grep -m1 '^no usable GPU' || true)
  [ -z "$reason" ] || echo "test: GPU tests will skip: $reason (their simt.* twins run them on the SIMT emulator)"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
ctest --test-dir build --output-on-failure -j"$(nproc)" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# One closing line with all three counts (ctest's own summary line leaves skipped tests out).
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
skipped=$(grep -c '(Skipped)$' "$log" || true)
if [ -n "$total" ] && [ -n "$failed" ]; then
  echo "ctest: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$rc"
