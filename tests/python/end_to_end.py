"""ratrace end to end from Python, as its users drive it: corpora written with h5py (the docs'
own snippet, and random ones in every dtype and storage h5py makes), `ratrace trace` (also as
README's SLURM array script runs it), and the results read back with h5py (the docs' own
snippets), checked against spec_oracle.py, a Python transcription of SPEC 1-3 and 6 that shares no
code with the engines, and /stats against stats_oracle.py, FORMAT.md's definitions transcribed.

    end_to_end.py RATRACE REPO_DIR [--device cpu|gpu] [--cases N] [--seed S] [--work DIR]

Exit 0 when everything agrees, 1 on any difference (each one printed), 77 when this Python has no
numpy or h5py (ctest reports a skip)."""
import argparse
import contextlib
import csv
import importlib.util
import io
import json
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError as e:
    print(f"SKIP: {sys.executable} cannot import numpy and h5py ({e}); "
          "install python3-numpy python3-h5py (scripts/setup.sh does)")
    sys.exit(77)

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec_oracle as oracle  # noqa: E402
import stats_oracle  # noqa: E402

DEFAULTS = {"top_beam": 5, "top_k": 5, "min_attn": 0.0, "length_norm": "avg_logprob",
            "stop_at_bos": True, "sequences": "all", "layers": "-1", "heads": "mean", "targets": "-1"}
failures = []


def fail(what, lines):
    failures.append(what)
    print(f"FAIL {what}")
    for line in lines[:8]:
        print(f"  {line}")
    if len(lines) > 8:
        print(f"  ... {len(lines) - 8} more")


def code_block(doc, heading, language="python"):
    """The first ```LANGUAGE block after the heading line of a Markdown file."""
    text = open(doc, encoding="utf-8").read()
    start = text.find(heading)
    block = re.search(rf"```{language}\n(.*?)```", text[start:], re.S) if start >= 0 else None
    if block is None:
        raise SystemExit(f"FAIL {doc}: no ```{language} block after {heading!r} (this test runs the docs' snippets)")
    return block.group(1)


def replaced(text, old, new, doc):
    """text with old replaced by new; a docs snippet that no longer holds old fails the test."""
    if old not in text:
        raise SystemExit(f"FAIL {doc}: its snippet no longer contains {old!r} (this test runs the docs' snippets)")
    return text.replace(old, new)


def run_trace(args, corpus, out, options):
    """`ratrace trace CORPUS -o OUT` on args.device with the options: the finished process."""
    cmd = [args.ratrace, "trace", corpus, "-o", out, "--force", "--device", args.device] + options
    return subprocess.run(cmd, capture_output=True, text=True)


def trace(args, corpus, out, options):
    """run_trace, which must succeed."""
    run = run_trace(args, corpus, out, options)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(run.args)} exited {run.returncode}: {run.stderr.strip()}")


def check_results(args, what, corpus, out, params, expected=None):
    """The results file against the oracle: every job's paths, and the file's other contents."""
    with h5py.File(corpus, "r") as f:
        if expected is None:
            expected = oracle.trace_corpus(f, params)
        names = oracle.sequence_names(f)
        lengths = [f["sequences"][n]["attention"].shape[2] for n in names]
        tokens = {n: f["sequences"][n]["tokens"].asstr()[()].tolist()
                  for n in names if "tokens" in f["sequences"][n]}
        ids = {n: f["sequences"][n]["token_ids"][()].astype(np.int64).tolist()
               for n in names if "token_ids" in f["sequences"][n]}
        expected_stats = stats_oracle.stats(f, expected)
        bos = oracle.bos_token_id(f, params)
    problems = []
    with h5py.File(out, "r") as r:
        problems += oracle.compare(expected, oracle.read_results(r))
        problems += stats_oracle.compare(expected_stats, r["stats"])
        recorded = json.loads(r.attrs["params"])
        for key, value in dict(params, bos_token_id=bos).items():
            if recorded.get(key) != value:
                problems.append(f"params[{key!r}] = {recorded.get(key)!r}, expected {value!r}")
        if r.attrs["format"] != "ratrace-results" or r.attrs["format_version"] != 1:
            problems.append("format attributes wrong")
        if not r.attrs["device"].startswith(args.device):
            problems.append(f"device attribute {r.attrs['device']!r} does not say {args.device}")
        if r["sequences/names"].asstr()[()].tolist() != names:
            problems.append(f"sequences/names {r['sequences/names'].asstr()[()].tolist()}, expected {names}")
        if r["sequences/length"][()].tolist() != lengths:
            problems.append("sequences/length wrong")
        # FORMAT.md: a traced sequence has length[s] entries, -1 ids or empty strings where its
        # input has none (and others do); one not traced has none; no data at all, no dataset.
        traced = {s for (s, _, _, _) in expected}
        token_begin = r["sequences/token_begin"][()]
        for column, given, missing in (("tokens", tokens, ""), ("token_ids", ids, -1)):
            present = any(names[s] in given for s in traced)
            if (column in r["sequences"]) != present:
                problems.append(f"sequences/{column} {'absent' if present else 'present'}")
                continue
            if not present:
                continue
            dataset = r["sequences"][column]
            stored = (dataset.asstr()[()] if column == "tokens" else dataset[()]).tolist()
            for s, n in enumerate(names):
                want = (given.get(n) or [missing] * lengths[s]) if s in traced else []
                have = stored[token_begin[s]:token_begin[s + 1]]
                if have != want:
                    problems.append(f"{column} of {n} (traced: {s in traced}) {have}, expected {want}")
    if problems:
        fail(what, problems)
    return expected


def check_doc_snippets(args, work):
    """FORMAT.md's h5py writer makes the corpus; README's and FORMAT.md's readers read the results."""
    corpus = os.path.join(work, "corpus.h5")
    with contextlib.chdir(work):
        exec(code_block(args.format_doc, "### Writing a corpus from Python (h5py)"), {})
    out = os.path.join(work, "doc_default.h5")
    trace(args, corpus, out, [])
    check_results(args, "FORMAT.md corpus, default options", corpus, out, dict(DEFAULTS))

    out = os.path.join(work, "doc_all.h5")
    options = ["--layers", "all", "--heads", "all,mean,max", "--targets", "all"]
    trace(args, corpus, out, options)
    params = dict(DEFAULTS, layers="all", heads="all,mean,max", targets="all")
    expected = check_results(args, "FORMAT.md corpus, " + " ".join(options), corpus, out, params)
    check_cluster_recipe(args, work, corpus)

    # README's reader prints one line per path: name, layer, head, tokens earliest first, score.
    with h5py.File(corpus, "r") as f:
        names = oracle.sequence_names(f)
        words = {s: f["sequences"][n]["tokens"].asstr()[()] for s, n in enumerate(names)}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(replaced(code_block(args.readme, "## Reading results from Python"), "traces.h5", out, args.readme), {})
    got = sorted((line.rsplit(" ", 1)[0], float(line.rsplit(" ", 1)[1])) for line in printed.getvalue().splitlines())
    want = sorted((f"{names[s]} {layer} {head} " + " -> ".join(words[s][q] for q in path[0][::-1]), path[3])
                  for (s, layer, head, _), paths in expected.items() for path in paths)
    if len(got) != len(want) or any(g[0] != w[0] or not oracle.close(g[1], w[1]) for g, w in zip(got, want)):
        fail("README's h5py reader", [f"{len(got)} lines, expected {len(want)}"] +
             [f"got {g!r}, expected {w!r}" for g, w in zip(got, want) if g != w])

    # FORMAT.md's read_paths against `ratrace paths --format csv`, row by row.
    scope = {}
    exec(code_block(args.format_doc, "### Reading results in Python (h5py, then pandas)"), scope)
    cols = scope["read_paths"](out)
    rows = {(cols["seq"][i], cols["layer"][i], cols["head"][i], cols["target"][i], cols["rank"][i]): i
            for i in range(len(cols["seq"]))}
    table = subprocess.run([args.ratrace, "paths", out, "--format", "csv"], capture_output=True, text=True,
                           check=True).stdout
    problems = []
    seen = 0
    for row in csv.DictReader(io.StringIO(table)):
        seen += 1
        key = (row["seq"], int(row["layer"]), row["head"], int(row["target"]), int(row["rank"]))
        i = rows.get(key)
        if i is None:
            problems.append(f"csv row {key} not among read_paths' rows")
            continue
        if [int(q) for q in row["positions"].split()] != cols["positions"][i]:
            problems.append(f"{key}: positions {row['positions']} against {cols['positions'][i]}")
        if json.loads(row["tokens"]) != cols["tokens"][i]:
            problems.append(f"{key}: tokens {row['tokens']} against {cols['tokens'][i]}")
        for c in ("score_raw", "score_norm", "weight"):
            if not oracle.close(float(row[c]), cols[c][i]):
                problems.append(f"{key}: {c} {row[c]} against {cols[c][i]!r}")
    if seen != len(rows):
        problems.append(f"csv has {seen} rows, read_paths {len(rows)}")
    if problems:
        fail("FORMAT.md's read_paths against `ratrace paths --format csv`", problems)

    # FORMAT.md's pandas lines on read_paths' table: one best path per job, every path's origin.
    if importlib.util.find_spec("pandas") is None:
        print("note: FORMAT.md's pandas snippet not run: this Python has no pandas (python3-pandas)")
        return
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(replaced(code_block(args.format_doc, "Then, with pandas:"), '"out.h5"', repr(out), args.format_doc), scope)
    origins = sorted(path[0][-1] for paths in expected.values() for path in paths)
    if len(scope["best"]) != len(expected) or sorted(scope["origins"].origin.tolist()) != origins \
            or not printed.getvalue().strip():
        fail("FORMAT.md's pandas snippet", [f"{len(scope['best'])} best rows for {len(expected)} jobs; "
                                            f"printed {printed.getvalue()!r}"])


def check_cluster_recipe(args, work, corpus):
    """README's SLURM array script, run as a 3-task array over the docs' 2-sequence corpus: the
    tasks' files together hold exactly the jobs of one run of the same options, each job once; every
    file lists every sequence; the task past the last sequence warns and writes a file of no jobs."""
    script = code_block(args.readme, "**Which GPU, and clusters.**", "sh")
    script = replaced(script, "ratrace trace corpus.h5", f"{shlex.quote(args.ratrace)} trace {shlex.quote(corpus)}",
                      args.readme)
    script = replaced(script, "--device gpu", f"--device {args.device}", args.readme)
    params = dict(DEFAULTS, **dict(re.findall(r"--(sequences|layers|heads|targets) (\S+)", script)))
    params["sequences"] = "all"  # what the tasks' slices add up to
    with h5py.File(corpus, "r") as f:
        expected = oracle.trace_corpus(f, params)
        names = oracle.sequence_names(f)
    tasks = len(names) + 1
    merged, problems = {}, []
    for task in range(tasks):
        env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_COUNT=str(tasks))
        run = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True)
        out = os.path.join(work, f"traces-{task}.h5")
        if run.returncode != 0 or not os.path.exists(out):
            problems.append(f"task {task}: exit {run.returncode}, file {os.path.exists(out)}: {run.stderr.strip()!r}")
            continue
        with h5py.File(out, "r") as r:
            if r["sequences/names"].asstr()[()].tolist() != names:
                problems.append(f"task {task}: sequences/names {r['sequences/names'].asstr()[()].tolist()}")
            jobs = oracle.read_results(r)
        if task >= len(names) and (jobs or "warning" not in run.stderr):
            problems.append(f"task {task} past the last sequence: {len(jobs)} jobs, stderr {run.stderr.strip()!r}")
        problems += [f"job {key} in task {task}'s file and an earlier one" for key in jobs if key in merged]
        merged.update(jobs)
    problems += oracle.compare(expected, merged)
    if problems:
        fail(f"README's SLURM array script, {tasks} tasks", problems)


def check_refusals(args, work):
    """Bad input that h5py writes readily: exit 2, one error line naming the dataset, no results."""
    causal = np.tril(np.ones((2, 2, 5, 5))) / np.arange(1, 6)[:, None]
    overflow = causal.astype(np.float16)
    overflow[1, 0, 3, 2] = np.inf  # a float16 overflow in the causal part of a head that is read
    cases = [("lzf", dict(data=causal, compression="lzf"), {}, ["/sequences/s/attention", "lzf", "HDF5_PLUGIN_PATH"]),
             ("inf", dict(data=overflow), {}, ["/sequences/s/attention layer 1 head 0", "inf at row 3, column 2"]),
             ("short-tokens", dict(data=causal), {"tokens": ["a", "b"]}, ["/sequences/s/tokens", "[2]", "[5]"])]
    for name, attention, extra, words in cases:
        corpus, out = os.path.join(work, f"bad_{name}.h5"), os.path.join(work, f"bad_{name}_out.h5")
        with h5py.File(corpus, "w") as f:
            g = f.create_group("sequences/s")
            g.create_dataset("attention", **attention)
            for key, value in extra.items():
                g.create_dataset(key, data=value, dtype=h5py.string_dtype())
        run = run_trace(args, corpus, out, ["--layers", "all", "--heads", "all"])
        errors = [line for line in run.stderr.splitlines() if "error" in line]
        if run.returncode != 2 or os.path.exists(out) or len(errors) != 1 or \
                not all(w in errors[0] for w in [corpus] + words):
            fail(f"refusing {name} input", [f"exit {run.returncode}, results file {os.path.exists(out)}, "
                                            f"stderr {run.stderr.strip()!r}; expected exit 2, no file, "
                                            f"one error line naming {[corpus] + words}"])


# Storage h5py offers for the attention dataset (name, create_dataset keywords; row_chunks: chunks of
# a third of the rows), and dtypes (name, numpy dtype; None: bfloat16, as uint16 with attr dtype).
STORAGE = [("contiguous", {}), ("gzip", {"compression": "gzip", "chunks": True}),
           ("gzip+shuffle rows", {"compression": "gzip", "shuffle": True, "row_chunks": True}),
           ("fletcher32", {"fletcher32": True, "chunks": True})]
DTYPES = [("float16", np.float16), ("bfloat16", None), ("float32", np.float32), ("float64", np.float64),
          ("big-endian float32", np.dtype(">f4"))]
NORMS = ["none", "avg_logprob", "sqrt", "pow:0", "pow:0.7", "pow:2.25"]


def random_corpus(path, rng):
    """A corpus as a user's h5py script might write it; returns a description."""
    dtype_name, dtype = rng.choice(DTYPES)
    storage_name, storage = rng.choice(STORAGE)
    L, H = rng.randint(1, 2), rng.randint(1, 4)
    levels = rng.choice([0, 3, 8])  # > 0: values on a coarse grid, so exact ties are common
    mask_kind = rng.choice(["none", "bool", "int8"])
    bos_attr = rng.choice([None, 1, 7])
    desc = (f"{dtype_name}, {storage_name}, {L} layers x {H} heads, levels {levels}, mask {mask_kind}, "
            f"bos attr {bos_attr}")
    np_rng = np.random.default_rng(rng.randrange(2**32))
    with h5py.File(path, "w") as f:
        if bos_attr is not None:
            f.attrs["bos_token_id"] = bos_attr
        for s in range(rng.randint(1, 3)):
            S = rng.randint(65, 130) if rng.random() < 0.1 else rng.choice([1, 2, 3, rng.randint(4, 40)])
            a = np_rng.random((L, H, S, S)) ** rng.choice([1, 4, 12])
            if levels:
                a = np.round(a * levels) / levels
            a[np_rng.random(a.shape) < 0.1] = 0.0
            a = np.tril(a)
            a /= np.maximum(a.sum(-1, keepdims=True), 1e-30)
            # Above the diagonal is never read (SPEC 4): fill it with what would be bad input there.
            a[..., np.triu_indices(S, 1)[0], np.triu_indices(S, 1)[1]] = np.nan
            a[..., :1, 1:] = -3.0
            g = f.create_group(f"sequences/{rng.choice(['seq', 'Doc', 'ü'])}_{s:02d}")
            kw = {k: v for k, v in storage.items() if k != "row_chunks"}
            if storage.get("row_chunks"):
                kw["chunks"] = (1, 1, max(1, S // 3), S)
            if dtype is None:
                bits = (a.astype(np.float32).view(np.uint32) + 0x8000) >> 16  # round half up to bfloat16
                g.create_dataset("attention", data=bits.astype(np.uint16), **kw).attrs["dtype"] = "bfloat16"
            else:
                g.create_dataset("attention", data=a.astype(dtype), **kw)
            ids = np_rng.integers(2, 40, S).astype(rng.choice([np.int32, np.int64, np.uint16]))
            ids[np_rng.random(S) < 0.15] = 1
            ids[np_rng.random(S) < 0.1] = 7
            if rng.random() < 0.85:
                g["token_ids"] = ids
            if rng.random() < 0.8:
                g.create_dataset("tokens", data=[f"w{i}·{ids[i]}" for i in range(S)], dtype=h5py.string_dtype())
            if mask_kind != "none":
                keep = np_rng.random(S) > 0.25
                g["attention_mask"] = keep if mask_kind == "bool" else keep.astype(np.int8)
    return desc


def random_params(rng, corpus_path):
    with h5py.File(corpus_path, "r") as f:
        max_len = max(f["sequences"][n]["attention"].shape[2] for n in f["sequences"])
        # A threshold equal to a weight that occurs, so that `>=` (SPEC 1.1) is tested at equality:
        # repr of the float32 value widened to double parses back to exactly that double.
        d = f["sequences"][rng.choice(sorted(f["sequences"]))]["attention"]
        values = np.unique(np.tril(oracle.read_attention(d, (0, 0))))
        values = values[values > 0]
    p = dict(DEFAULTS)
    big = rng.random() < 0.3  # wide searches only on few targets: the oracle is plain Python
    p["top_k"] = rng.choice([9, 16, 32]) if big else rng.choice([1, 2, 3, 5, 8])
    p["top_beam"] = rng.choice([9, 16, 32]) if big else rng.choice([1, 2, 3, 5, 8])
    p["min_attn"] = rng.choice([0.0, 0.0, 0.01, 0.05])
    if len(values) > 1 and rng.random() < 0.3:
        p["min_attn"] = float(values[rng.randrange(len(values) // 2 + 1)])
    p["length_norm"] = rng.choice(NORMS)
    p["stop_at_bos"] = rng.random() < 0.7
    p["sequences"] = rng.choice(["all", "all", "0", "-1", "1:"])
    p["layers"] = rng.choice(["all", "-1", "0"])
    p["heads"] = rng.choice(["all,mean,max", "0,-1,mean", "max", "all"])
    few = big or max_len > 30
    p["targets"] = rng.choice(["-1,0", "::7,-2", "-3:"] if few else ["all", "::2", "-1,1:3"])
    options = ["-K", str(p["top_k"]), "-B", str(p["top_beam"]), "--min-attn", repr(p["min_attn"]),
               "--length-norm", p["length_norm"], "--sequences", p["sequences"], "--layers", p["layers"],
               "--heads", p["heads"], f"--targets={p['targets']}"]
    if not p["stop_at_bos"]:
        options.append("--no-stop-at-bos")
    if rng.random() < 0.25:
        p["bos_token_id"] = rng.choice([1, 7, 99])
        options += ["--bos-token-id", str(p["bos_token_id"])]
    return p, options


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ratrace")
    parser.add_argument("repo")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", help="keep the corpora and results here (default: a temporary directory)")
    args = parser.parse_args()
    args.ratrace, args.repo = os.path.abspath(args.ratrace), os.path.abspath(args.repo)
    args.readme = os.path.join(args.repo, "README.md")
    args.format_doc = os.path.join(args.repo, "docs", "FORMAT.md")
    rng = random.Random(args.seed)
    jobs = errors = 0
    keep = contextlib.nullcontext(args.work) if args.work else None
    with keep or tempfile.TemporaryDirectory(prefix="ratrace-py-") as work:
        os.makedirs(work, exist_ok=True)
        check_doc_snippets(args, work)
        check_refusals(args, work)
        for case in range(args.cases):
            corpus = os.path.join(work, f"case{case}.h5")
            desc = random_corpus(corpus, rng)
            params, options = random_params(rng, corpus)
            out = os.path.join(work, f"case{case}_out.h5")
            what = f"case {case} ({desc}): trace {' '.join(options)}"
            try:
                with h5py.File(corpus, "r") as f:
                    expected = oracle.trace_corpus(f, params)
            except ValueError as e:  # SPEC 6: a target outside [-S, S): exit 2, no results file
                refused = run_trace(args, corpus, out, options)
                if refused.returncode != 2 or os.path.exists(out) or "error" not in refused.stderr:
                    fail(what, [f"selection error ({e}): expected exit 2, no results file and an error line; "
                                f"got exit {refused.returncode}, file {os.path.exists(out)}, "
                                f"stderr {refused.stderr.strip()!r}"])
                errors += 1
                continue
            try:
                trace(args, corpus, out, options)
            except RuntimeError as e:
                fail(what, [str(e)])
                continue
            before = len(failures)
            jobs += len(check_results(args, what, corpus, out, params, expected))
            if len(failures) == before:
                os.remove(out)
    print(f"{args.cases} random corpora ({jobs} jobs compared, {errors} refused selections) and the docs' "
          f"snippets, {args.device} engine: {len(failures)} failed")
    if failures and not args.work:
        print("(rerun with --work DIR, same --cases and --seed, to keep each failed case's corpus and results)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
