#!/usr/bin/env bash
# Browser tests of ratrace's HTML outputs (ctest: browser_html).
#   tests/browser/run.sh RATRACE_BINARY [--docs-img DIR]
# Makes a synthetic corpus and results with the real CLI (synth, trace), renders a Sankey page and
# a report, then checks them in headless Chromium (Debian's /usr/bin/chromium, or $RATRACE_CHROMIUM)
# driven by playwright-core with node's test runner. --docs-img DIR also keeps the screenshots there
# (docs/img/sankey.png, docs/img/report.png).
# Exit 77 (ctest: skipped) only when Chromium, node or playwright-core cannot be found.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run.sh RATRACE_BINARY [--docs-img DIR]}"
docs_img=""
if [ "${2:-}" = "--docs-img" ]; then docs_img="$(cd "${3:?--docs-img needs a folder}" && pwd)"; fi

skip() { echo "browser_html: skipped: $*" >&2; exit 77; }
chromium="${RATRACE_CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || skip "no Chromium at $chromium (install Debian's chromium, or set RATRACE_CHROMIUM)"
command -v node >/dev/null 2>&1 || skip "node is not installed (apt-get install nodejs)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || skip "node $(node --version) is too old for playwright-core (need 20+)"
[ -f "$here/node_modules/playwright-core/package.json" ] ||
  skip "playwright-core is not installed: (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci), or scripts/setup.sh"
[ -x "$bin" ] || { echo "browser_html: no ratrace binary at $bin" >&2; exit 1; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

work="$(mktemp -d "${TMPDIR:-/tmp}/ratrace-browser-XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Inside the work folder with relative names, so that pages (and the docs screenshots) show short paths.
run() { (cd "$work" && "$bin" "$@" 2>>cli.log) || { cat "$work/cli.log" >&2; echo "browser_html: failed: ratrace $*" >&2; exit 1; }; }

# A small corpus for the Sankey and the report, and a long previous-token chain (600+ nodes).
run synth -o corpus.h5 --sequences 2 --layers 4 --heads 4 --min-len 40 --max-len 64 --seed 1
run trace corpus.h5 -o results.h5 --device cpu --layers all --heads all,mean,max --targets -1,20
run synth -o long.h5 --sequences 1 --layers 1 --heads 2 --len 640 --seed 1
run trace long.h5 -o long_results.h5 --device cpu --layers 0 --heads 1 --targets 600 \
  --length-norm avg_logprob

job=(--seq 0 --layer 1 --head max --target -1)
run render results.h5 "${job[@]}" -o sankey.html
run paths results.h5 "${job[@]}" --format json >"$work/sankey_paths.json"
run render long_results.h5 -o long.html
run paths long_results.h5 --format json >"$work/long_paths.json"
run report results.h5 -o report.html
run decay results.h5 --format json >"$work/decay.json"
run paths results.h5 --format json >"$work/all_paths.json"

cd "$here"
RATRACE_BROWSER_WORK="$work" RATRACE_CHROMIUM="$chromium" RATRACE_DOCS_IMG="$docs_img" \
  node --test --test-concurrency=1 sankey.test.mjs report.test.mjs
