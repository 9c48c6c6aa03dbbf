#!/usr/bin/env bash
# ctest simt.verify.fuzz_harness: bench/verify-fuzz.sh against a stand-in `ratrace` whose verify
# agrees, mismatches, is refused for --gpu-mem, or fails otherwise, so that the fuzz is known to
# count each of them right (a fuzz that passed everything would hide the mismatches it exists for).
#   verify_fuzz_smoke.sh SOURCE_DIR
set -euo pipefail
fuzz=$1/bench/verify-fuzz.sh
work=$(mktemp -d /tmp/ratrace-verify-fuzz-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "verify_fuzz_smoke: $*"; exit 1; }

stub=$work/ratrace
cat >"$stub" <<'EOF'
#!/usr/bin/env bash
# synth: writes its -o file. verify: what STUB_VERIFY says.
if [ "$1" = synth ]; then : >"$3"; exit 0; fi
case $STUB_VERIFY in
  agree) echo "verify: 12 jobs compared (all jobs), 0 mismatches, 3 near-ties, 2 profiles compared (0 off), gpu X vs Y" ;;
  mismatch) echo "mismatch: seq 0 layer 0 head 1 target 9: path 2 differs"
            echo "verify: 12 jobs compared (all jobs), 1 mismatches, 0 near-ties, 2 profiles compared (0 off), gpu X vs Y"; exit 1 ;;
  refused) echo "ratrace: mean/max over 4 heads of 160x160 needs 1.2 MiB of GPU memory, more than the 0.5 MiB available per stream" >&2; exit 2 ;;
  bad-input) echo "ratrace: something else is wrong" >&2; exit 2 ;;
  silent) exit 0 ;;
esac
EOF
chmod +x "$stub"

capture() {  # capture CMD...: CMD's output (stdout and stderr) in $out, its exit code in $rc
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
}
run() { capture env STUB_VERIFY="$1" bash "$fuzz" "$stub" "$work/$1" 5 7; }  # run MODE: 5 cases, seed 7
run agree
[ $rc -eq 0 ] || fail "agreeing runs: exit $rc: $out"
grep -q '^verify-fuzz: 5 cases (seed 7) in [0-9]* s: 5 passed, 0 failed, 0 refused for --gpu-mem; 60 jobs compared, 15 near-ties$' <<<"$out" ||
  fail "agreeing runs: summary: $out"
run mismatch
[ $rc -eq 1 ] || fail "mismatching runs: exit $rc: $out"
[ "$(grep -c '^FAIL case [0-4] (rc 1): mismatch: seq 0 layer 0 head 1 target 9' <<<"$out")" -eq 5 ] || fail "mismatching runs: $out"
grep -q "^  $stub synth -o $work/mismatch/fuzz-0.h5 --force .* && $stub verify $work/mismatch/fuzz-0.h5 --layers all -K " <<<"$out" ||
  fail "a failed case does not print the commands that reproduce it: $out"
run refused
[ $rc -eq 2 ] || fail "runs all refused for --gpu-mem: exit $rc (none passed, so not a pass): $out"
grep -q ': 0 passed, 0 failed, 5 refused for --gpu-mem' <<<"$out" || fail "refused runs: $out"
run bad-input
[ $rc -eq 1 ] || fail "runs failing with another exit 2: exit $rc: $out"
run silent
[ $rc -eq 1 ] || fail "runs that exit 0 with no verify line: exit $rc: $out"
# Bad arguments: exit 2 and a message naming what is wrong.
rejects() {  # rejects WHAT EXPECTED ARGS...: the fuzz must exit 2 saying EXPECTED
  local what=$1 expected=$2
  shift 2
  capture bash "$fuzz" "$@"
  if [ $rc -ne 2 ] || ! grep -qF -- "$expected" <<<"$out"; then fail "$what: exit $rc: $out"; fi
}
rejects "a negative SECONDS" "not '-3'" "$stub" "$work/args" 5 7 -3
rejects "a missing binary" "$work/none is no executable" "$work/none" "$work/args" 5
# The same seed gives the same cases; another seed others.
cases_of() {  # cases_of DIR SEED: the commands of 3 cases, with DIR written as D
  STUB_VERIFY=mismatch bash "$fuzz" "$stub" "$work/$1" 3 "$2" | grep '^  ' | sed "s|$work/$1|D|g" || true
}
a=$(cases_of a 11)
b=$(cases_of b 11)
c=$(cases_of c 12)
if [ -z "$a" ] || [ "$a" != "$b" ]; then fail "seed 11 gave different cases: $a / $b"; fi
[ "$a" != "$c" ] || fail "seeds 11 and 12 gave the same cases"
echo "verify_fuzz_smoke: ok"
