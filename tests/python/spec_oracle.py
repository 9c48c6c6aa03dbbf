"""SPEC sections 1, 3 and 6 of ratrace in plain Python and numpy: an oracle that shares no code
with the C++ engines. It reads a corpus with h5py, as users write them, and returns the result
paths of every job that a selection names, as (positions, edge_attn, score_raw, score_norm)
tuples. Slow and literal on purpose; only for small corpora."""
import math

import numpy as np


def to_float32(stored, dtype_attr):
    """SPEC 2: every stored value becomes float32 first (bfloat16 is uint16 + attr dtype)."""
    if dtype_attr == "bfloat16":
        return (stored.astype(np.uint32) << 16).view(np.float32)
    return stored.astype(np.float32)  # also narrows float64 (round to nearest) and big-endian


def read_attention(dataset, index=()):
    """An attention dataset (or the part that index selects) as float32."""
    dtype_attr = dataset.attrs.get("dtype")
    if isinstance(dtype_attr, bytes):
        dtype_attr = dtype_attr.decode()
    return to_float32(dataset[index], dtype_attr)


def sequence_names(f):
    """SPEC 4: the sequences in plain byte-wise order of their names."""
    return sorted(f["sequences"].keys(), key=lambda s: s.encode())


def bos_token_id(f, p):
    """The effective BOS id: p's (--bos-token-id), else the file's attribute, else None."""
    value = p.get("bos_token_id", f.attrs.get("bos_token_id"))
    return None if value is None else int(np.asarray(value).reshape(-1)[0])


def head_matrix(attn32, layer, head):
    """SPEC 3: one head, or the mean (-1) or max (-2) of all heads of the layer, as float32."""
    if head >= 0:
        return attn32[layer, head]
    heads = attn32.shape[1]
    if head == -1:
        total = np.zeros(attn32.shape[2:], dtype=np.float64)
        for h in range(heads):  # summed in double, in head order
            total += attn32[layer, h].astype(np.float64)
        return (total / heads).astype(np.float32)
    return np.max(attn32[layer], axis=0)


def candidates(row, i, key_mask, top_k, min_attn):
    """SPEC 1.1: C(i), as (j, float32 weight) pairs."""
    found = [(j, row[j]) for j in range(i)
             if key_mask[j] and float(row[j]) >= min_attn and row[j] > 0]
    found.sort(key=lambda c: (-float(c[1]), c[0]))
    return found[:top_k]


def parse_norm(mode):
    if mode.startswith("pow:"):
        return "pow", float(mode[4:])
    return mode, 0.0


def normalised(raw, n, mode, alpha):
    """SPEC 1.2."""
    if n == 0 or mode == "none":
        return raw
    if mode == "avg_logprob":
        return raw / n
    if mode == "sqrt":
        return raw / math.sqrt(n)
    return raw / float(n) ** alpha


def trace(matrix, target, key_mask, is_bos, p):
    """SPEC 1.3, line by line. A beam is (positions, edges, raw, norm, ends)."""
    mode, alpha = parse_norm(p["length_norm"])
    cache = {}

    def cands(c):
        if c not in cache:
            cache[c] = candidates(matrix[c], c, key_mask, p["top_k"], p["min_attn"])
        return cache[c]

    active = [([target], [np.float32(np.nan)], 0.0, 0.0, False)]
    terminal = []
    while active:
        new = []
        for b in active:
            c = b[0][-1]
            if c == 0 or not cands(c):
                terminal.append(b)
                continue
            for j, a in cands(c):
                raw = b[2] + math.log(max(float(a), 1e-12))
                n = len(b[0])
                ends = j == 0 or (p["stop_at_bos"] and is_bos[j])
                new.append((b[0] + [j], b[1] + [a], raw, normalised(raw, n, mode, alpha), ends))
        terminal += [nb for nb in new if nb[4]]
        active = sorted((nb for nb in new if not nb[4]), key=lambda nb: -nb[3])[:p["top_beam"]]
    result = sorted(terminal, key=lambda b: -b[3])[:p["top_beam"]]
    return [(b[0], b[1], b[2], b[3]) for b in result]


def select(sel, n, names=("mean", "max")):
    """SPEC 6: a SEL string against n items, with Python's own slices. Heads may name `mean` (-1)
    and `max` (-2). Returns the chosen indices, duplicates dropped."""
    chosen = []
    for item in sel.split(","):
        item = item.strip()
        if item == "all":
            picked = list(range(n))
        elif item in names:
            picked = [-1 - names.index(item)]
        elif ":" in item:
            parts = [int(x) if x.strip() else None for x in item.split(":")]
            picked = list(range(n))[slice(*parts)]
        else:
            v = int(item)
            if not -n <= v < n:
                raise ValueError(f"{item} out of range for {n}")
            picked = [v + n if v < 0 else v]
        chosen += [v for v in picked if v not in chosen]
    return chosen


def trace_corpus(f, p):
    """Every job of the selection in p (sequences, layers, heads, targets: SEL strings) over the
    open h5py corpus f: {(seq_index, layer, head, target): [path, ...]}."""
    names = sequence_names(f)
    bos_id = bos_token_id(f, p)
    jobs = {}
    for s in select(p["sequences"], len(names)):
        g = f["sequences"][names[s]]
        attn32 = read_attention(g["attention"])
        L, H, S = attn32.shape[:3]
        key_mask = g["attention_mask"][()].astype(bool) if "attention_mask" in g else np.ones(S, bool)
        if "token_ids" in g and bos_id is not None:
            is_bos = g["token_ids"][()] == bos_id
        else:
            is_bos = np.zeros(S, bool)
        for layer in select(p["layers"], L):
            for head in select(p["heads"], H):
                matrix = head_matrix(attn32, layer, head)
                for t in select(p["targets"], S):
                    jobs[(s, layer, head, t)] = trace(matrix, t, key_mask, is_bos, p)
    return jobs


def read_results(f):
    """A ratrace results file as the same {(seq_index, layer, head, target): [path, ...]}."""
    jobs = f["jobs"]
    seq, layer, head, target = (jobs[k][()] for k in ("seq_index", "layer", "head", "target"))
    path_begin = jobs["path_begin"][()]
    raw, norm = f["paths/score_raw"][()], f["paths/score_norm"][()]
    node_begin = f["paths/node_begin"][()]
    position, edge = f["nodes/position"][()], f["nodes/edge_attn"][()]
    out = {}
    for k in range(len(seq)):
        key = (int(seq[k]), int(layer[k]), int(head[k]), int(target[k]))
        if key in out:
            raise AssertionError(f"job {key} appears twice")
        out[key] = [(position[node_begin[q]:node_begin[q + 1]].tolist(),
                     list(edge[node_begin[q]:node_begin[q + 1]]), float(raw[q]), float(norm[q]))
                    for q in range(path_begin[k], path_begin[k + 1])]
    return out


def close(x, y):
    """SPEC 2: within 1e-9 relative or 1e-12 absolute."""
    return abs(x - y) <= max(1e-9 * max(abs(x), abs(y)), 1e-12)


def compare(expected, got):
    """Differences between two job maps, as readable lines (empty when they agree per SPEC 2).
    Edge weights must match bit for bit (float32, NaN for the target)."""
    problems = []
    for key in sorted(set(expected) - set(got)):
        problems.append(f"job {key} missing from the results")
    for key in sorted(set(got) - set(expected)):
        problems.append(f"job {key} in the results but not selected")
    for key in sorted(set(expected) & set(got)):
        e, g = expected[key], got[key]
        if [x[0] for x in e] != [x[0] for x in g]:
            problems.append(f"job {key}: paths {[x[0] for x in g]}, expected {[x[0] for x in e]}")
            continue
        for r, (pe, pg) in enumerate(zip(e, g)):
            ee = np.array(pe[1], np.float32).view(np.uint32)
            eg = np.array(pg[1], np.float32).view(np.uint32)
            if not np.array_equal(ee, eg):
                problems.append(f"job {key} rank {r}: edge_attn {pg[1]}, expected {pe[1]}")
            if not (close(pe[2], pg[2]) and close(pe[3], pg[3])):
                problems.append(f"job {key} rank {r}: scores {pg[2]!r}, {pg[3]!r}, expected {pe[2]!r}, {pe[3]!r}")
    return problems
