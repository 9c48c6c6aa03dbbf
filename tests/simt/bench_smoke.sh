#!/usr/bin/env bash
# ctest simt.bench.smoke: runs a GPU benchmark binary (on the emulator) and passes when it exits 0,
# reports no error and prints the counters that bench/device-check.sh reads.
#   bench_smoke.sh BENCH_BINARY [benchmark options...]
set -uo pipefail
out=$("$@" 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "bench_smoke: exit code $rc"; exit 1; }
for counter in frac_of_copy_bw jobs_per_s end_to_end_over_read speedup gpu_read_s gpu_pack_s gpu_device_wait_s gpu_results_wait_s \
  gpu_fetch_s gpu_deliver_s writer_busy_s writer_wait_s; do
  grep -q "$counter=" <<<"$out" || { echo "bench_smoke: no $counter counter"; exit 1; }
done
! grep -q "ERROR OCCURRED" <<<"$out" || { echo "bench_smoke: a benchmark reported an error"; exit 1; }
# Both search kernels ran the same jobs into the same paths.
for kernel in thread/job warp/job; do
  grep -q "$kernel S=1024" <<<"$out" || { echo "bench_smoke: no BM_GpuBeamSearch line for the $kernel kernel"; exit 1; }
done
[ "$(grep -o 'nodes_per_job=[^ ]*' <<<"$out" | sort -u | wc -l)" -eq 1 ] || { echo "bench_smoke: the search kernels' nodes per job differ"; exit 1; }
