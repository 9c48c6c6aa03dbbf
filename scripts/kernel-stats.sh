#!/usr/bin/env bash
# Run HERE (no GPU needed): static figures of every kernel in kernels/*.cu for sm_90, the proxy a
# session without a GPU can measure a kernel change by (cuobjdump and nvdisasm are not installed,
# so no SASS): PTX instructions per kernel, and ptxas' registers, spills and stack frame.
#   scripts/kernel-stats.sh [FILE.cu ...]      default: kernels/*.cu
set -euo pipefail
cd "$(dirname "$0")/.."
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
flags=(-DRATRACE_HAS_CUDA=1 -Iinclude -I. -Ihost -O3 -DNDEBUG -arch=sm_90 --expt-relaxed-constexpr -std=c++20)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ $# -gt 0 ] || set -- kernels/*.cu
printf '%-58s %8s %5s %6s %6s\n' kernel ptx regs spill stack
for cu in "$@"; do
  "$nvcc" "${flags[@]}" -ptx -o "$work/k.ptx" "$cu"
  "$(dirname "$nvcc")/ptxas" -arch=sm_90 -v -o "$work/k.cubin" "$work/k.ptx" 2>"$work/ptxas.txt"  # the same PTX
  # Mangled entry name -> PTX instruction count (lines that start with an opcode or a predicate).
  awk '/^\.(visible )?\.?entry /{split($0, a, /[ (]/); for (k in a) if (a[k] ~ /^_Z/) name = a[k]}
       /^\t[a-z@]/ && name != "" {n[name]++}
       END {for (k in n) print k, n[k]}' "$work/k.ptx" >"$work/ptx.txt"
  awk -v ptx="$work/ptx.txt" '
    BEGIN {while ((getline line < ptx) > 0) {split(line, f, " "); count[f[1]] = f[2]}}
    /Compiling entry function/ {match($0, /'"'"'[^'"'"']*'"'"'/); name = substr($0, RSTART + 1, RLENGTH - 2)}
    /bytes stack frame/ {stack = $1; spill = $5}
    /Used [0-9]+ registers/ && name != "" {
      match($0, /Used [0-9]+ registers/); regs = substr($0, RSTART + 5, RLENGTH - 15)
      printf "%s %s %s %s %s\n", name, count[name], regs, spill, stack
      name = ""
    }' "$work/ptxas.txt" |
    c++filt | sed -E 's/\(anonymous namespace\):://g; s/ratrace::gpu:://g; s/^void //; s/cub::[A-Z0-9_]+::/cub::/g; s/\(.*\) / /' |
    awk '{n = NF; name = $1; for (k = 2; k <= n - 4; ++k) name = name " " $k
          printf "%-58s %8s %5s %6s %6s\n", substr(name, 1, 58), $(n-3), $(n-2), $(n-1), $n}'
done
