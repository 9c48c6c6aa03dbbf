#!/usr/bin/env bash
# Run HERE (no GPU needed): builds Release for sm_90 with CUDA and packs what the GPU machine runs
# into .device/ (git-ignored): bin/ (ratrace, ratrace_gpu_tests, ratrace_bench_gpu,
# device-check.sh, the verify runs it reads and the verify fuzz), lib/ (their shared libraries,
# bundled by the shared bundle-libs.sh) and glibc/ (this system's glibc and its loader, for a
# machine whose own glibc is too old for them).
# Then, on the GPU machine, from the repository root:
#   .device/bin/device-check.sh        (logs under $OUT)
# The binaries find lib/ by their DT_RPATH ($ORIGIN/../lib), which, unlike a RUNPATH, also serves
# their libraries' own dependencies (HDF5's) and comes before LD_LIBRARY_PATH, so lib/ stays out of
# LD_LIBRARY_PATH and the machine's own tools (compute-sanitizer, nvidia-smi) keep the machine's
# libraries.
#   scripts/device-bundle.sh [BUILD_DIR]      default BUILD_DIR: build-gpu
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
bundle_libs=${RATRACE_BUNDLE_LIBS:-../shared/device/bundle-libs.sh}
[ -x "$bundle_libs" ] || bundle_libs=/work/shared/device/bundle-libs.sh

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRATRACE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCMAKE_BUILD_RPATH='$ORIGIN/../lib' -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags >/dev/null
grep -q 'RATRACE_CUDA:BOOL=ON' "$build/CMakeCache.txt" || { echo "device-bundle: CUDA is off in $build (no nvcc?)" >&2; exit 1; }
cmake --build "$build" --target ratrace ratrace_gpu_tests ratrace_bench_gpu -j"$(nproc)"

rm -rf .device
mkdir -p .device/bin .device/lib
cp "$build/ratrace" "$build/tests/ratrace_gpu_tests" "$build/bench/ratrace_bench_gpu" .device/bin/
binaries=(.device/bin/ratrace .device/bin/ratrace_gpu_tests .device/bin/ratrace_bench_gpu)
cp bench/device-check.sh bench/verify-corpora.sh bench/verify-modes.txt bench/verify-fuzz.sh .device/bin/
"$bundle_libs" .device/lib "${binaries[@]}"
# glibc: the machine's own, as lib/ leaves it out; what the shared script let through anyway
# (libresolv, which HDF5's network libraries pull in) would be this system's glibc beside the
# machine's, so it leaves lib/. glibc/ holds this system's whole glibc with its loader (all of it,
# not only what the binaries name: the machine's libcuda also needs libdl, libpthread and librt,
# which must come from the same glibc as libc): a machine whose glibc is older than these binaries
# need (libstdc++ here needs GLIBC_2.36) starts them with it instead (device-check.sh does that by
# itself when a plain start fails).
glibc_names='^(ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libmvec\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libresolv\.so\.2|libanl\.so\.1|libutil\.so\.1|libnss_(compat|dns|files|hesiod)\.so\.2)$'
for lib in .device/lib/*; do
  if [[ $(basename "$lib") =~ $glibc_names ]]; then rm "$lib"; fi
done
deps=$(env -u LD_LIBRARY_PATH ldd .device/bin/ratrace)
loader=$(awk '$1 ~ /ld-linux-x86-64/ { print $1 }' <<<"$deps")
libc=$(awk '$1 == "libc.so.6" { print $3 }' <<<"$deps")
[ -f "$loader" ] && [ -f "$libc" ] || { echo "device-bundle: no loader or libc.so.6 found for .device/bin/ratrace" >&2; exit 1; }
mkdir -p .device/glibc
cp -L "$loader" .device/glibc/
for path in "$(dirname "$libc")"/*.so.*; do
  if [[ $(basename "$path") =~ $glibc_names ]]; then cp -L "$path" .device/glibc/; fi
done
# Each binary must take HDF5 from lib/ with no LD_LIBRARY_PATH, and, started by the bundled
# loader, also libc from glibc/: checked here, where a wrong rpath costs a rebuild, not device time.
launcher=(.device/glibc/ld-linux-x86-64.so.2 --library-path "$PWD/.device/glibc:$PWD/.device/lib")
hdf5_by_rpath="$PWD/.device/bin/../lib/libhdf5"  # how ldd names lib/'s HDF5, found by the binaries' rpath
for b in "${binaries[@]}"; do
  libs=$(env -u LD_LIBRARY_PATH ldd "$b")
  grep -q "$hdf5_by_rpath" <<<"$libs" ||
    { echo "device-bundle: $b does not load HDF5 from .device/lib (RPATH: $(readelf -d "$b" | grep -E 'R(UN)?PATH'))" >&2; exit 1; }
  libs=$(env -u LD_LIBRARY_PATH "${launcher[@]}" --list "$b")
  grep -q "$PWD/.device/glibc/libc.so.6" <<<"$libs" && grep -q "$hdf5_by_rpath" <<<"$libs" ||
    { echo "device-bundle: $b, started by .device/glibc's loader, does not load libc from it and HDF5 from .device/lib:" >&2
      echo "$libs" >&2; exit 1; }
done
env -u LD_LIBRARY_PATH "${launcher[@]}" .device/bin/ratrace --version >/dev/null ||
  { echo "device-bundle: .device/bin/ratrace does not start by .device/glibc's loader" >&2; exit 1; }

# .device/ is in .gitignore; keep it out of git's view in clones without that line too.
if [ -d .git/info ] && ! grep -qx '/.device/' .git/info/exclude 2>/dev/null; then echo '/.device/' >>.git/info/exclude; fi

size_kib=$(du -sk .device | cut -f1)
echo "device-bundle: .device is $((size_kib / 1024)) MiB (limit 64 MiB):"
du -sh .device/bin .device/lib .device/glibc
[ "$size_kib" -le $((64 * 1024)) ] || { echo "device-bundle: .device exceeds 64 MiB" >&2; exit 1; }
