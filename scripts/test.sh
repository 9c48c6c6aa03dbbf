#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# GPU tests skip without a GPU; say why once, before ctest's own summary.
if [ -x build/tests/ratrace_gpu_tests ]; then
  reason=$(build/tests/ratrace_gpu_tests --gtest_filter='GpuRowTopK.*' 2>&1 | grep -m1 '^no usable GPU' || true)
  [ -z "$reason" ] || echo "test: GPU tests will skip: $reason"
fi
ctest --test-dir build --output-on-failure -j"$(nproc)"
