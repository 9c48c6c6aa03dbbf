#!/usr/bin/env bash
# ctest simt.device_check: bench/device-check.sh, the one script a GPU session runs, run to the end
# on the emulated device, so that its plumbing is known to work before device time is spent on it:
# the ONLY filter, one summary line per step, a failing step reported and the next one still run,
# and the logs packed into logs.tar.gz beside SUMMARY.txt.
#   device_check_smoke.sh SOURCE_DIR RATRACE_SIMT
set -euo pipefail
src=$1
work=$(mktemp -d /tmp/ratrace-device-check-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "device_check_smoke: $*"; echo "--- SUMMARY.txt"; cat "$work/out/SUMMARY.txt" 2>/dev/null; exit 1; }

# The bundle's layout (scripts/device-bundle.sh), with the emulator's CLI as `ratrace` (the verify
# steps run nothing else) and a verify-modes.txt of its own: one mode that must fail (K = 0 is a
# usage error), one that must pass.
bin=$work/bin
mkdir -p "$bin"
ln -s "$2" "$bin/ratrace"
cp "$src/bench/device-check.sh" "$src/bench/verify-corpora.sh" "$bin/"
cat >"$bin/verify-modes.txt" <<'EOF'
corpus tiny --sequences 1 --layers 1 --heads 2 --len 48 --dtype float16 --seed 3
mode bad 60 tiny -K 0
mode good 60 tiny --layers all --heads all,mean --targets all
EOF

OUT=$work/out ONLY='^verify-' bash "$bin/device-check.sh" || fail "exit code $?"
summary=$work/out/SUMMARY.txt
grep -q "^device-check .*only the steps matching '\^verify-'" "$summary" || fail "no header naming the ONLY filter"
grep -Eq '^FAIL +verify-bad +\(rc 2,' "$summary" || fail "the failing mode is not reported as FAIL with rc 2"
grep -Eq '^PASS +verify-good +\(rc 0,.*verify: ' "$summary" || fail "the passing mode has no PASS line quoting verify's summary"
grep -Eq '^total [0-9]+ s' "$summary" || fail "no closing total line"
[ "$(grep -Ec '^(PASS|FAIL|SKIP)' "$summary")" -eq 2 ] || fail "steps outside ONLY ran"
[ "$(ls "$work/out")" = "$(printf 'SUMMARY.txt\nlogs.tar.gz')" ] || fail "\$OUT holds $(ls "$work/out" | paste -sd' ')"
logs=$(tar tzf "$work/out/logs.tar.gz")
for log in logs/verify-bad.log logs/verify-good.log logs/synth.log; do
  grep -qx "$log" <<<"$logs" || fail "$log is not in logs.tar.gz"
done
echo "device_check_smoke: ok"
