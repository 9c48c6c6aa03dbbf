#!/usr/bin/env bash
# Installs what ratrace needs (Debian packages) and builds it into build/.
#   scripts/setup.sh            install + Release build (CUDA engine when nvcc is present)
#   RATRACE_CUDA=OFF scripts/setup.sh   CPU-only build
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config libhdf5-dev zlib1g-dev libdeflate-dev libgtest-dev libgmock-dev libbenchmark-dev
          libcli11-dev nlohmann-json3-dev libfmt-dev libboost-context-dev valgrind python3-numpy python3-h5py python3-pandas chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js drives the browser tests; a machine may already have it from elsewhere (with npm).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Browser-test driver (no browser download: the tests use Debian's /usr/bin/chromium).
if [ -f tests/browser/package.json ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent) \
    || echo "setup: npm install of the browser-test driver failed; browser tests will skip" >&2
fi

cuda="${RATRACE_CUDA:-ON}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRATRACE_CUDA="$cuda" >/dev/null
cmake --build build -j"$(nproc)"
