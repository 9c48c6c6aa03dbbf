"""The /stats group of a results file, transcribed from docs/FORMAT.md ("/stats (influence
decay)") in plain Python and numpy, sharing no code with ratrace: attention per distance bin of
every traced matrix, and the path-weighted origin, hop and sink statistics of every traced
(layer, head) row."""
import math

import numpy as np

import spec_oracle as oracle

BINS, SINKS = 32, 64


def distance_bin(d):
    """Bin b holds 2^b <= d < 2^(b+1)."""
    return d.bit_length() - 1


def path_weights(paths):
    """SPEC 1.4: softmax of the job's normalised scores, the max subtracted first."""
    top = max(p[3] for p in paths)
    e = [math.exp(p[3] - top) for p in paths]
    return [x / sum(e) for x in e]


def stats(f, jobs):
    """Rows of /stats for the corpus f (open h5py file) and the oracle's jobs
    {(seq, layer, head, target): paths}: {(layer, head): {dataset: value}}."""
    names = oracle.sequence_names(f)
    attention = {}  # float32 attention of each sequence, read once for all its rows
    rows = {}
    for (s, layer, head, target), paths in jobs.items():
        row = rows.setdefault((layer, head), {
            "num_jobs": 0, "sequences": set(), "origin_weight": np.zeros(BINS), "origin_no_hop": 0.0,
            "mean_hops": 0.0, "mean_origin_distance": 0.0, "sink_mass": np.zeros(SINKS), "sink_rest": 0.0})
        row["num_jobs"] += 1
        row["sequences"].add(s)
        for w, path in zip(path_weights(paths), paths):
            origin, hops = path[0][-1], len(path[0]) - 1
            if hops == 0:
                row["origin_no_hop"] += w
            else:
                row["origin_weight"][distance_bin(target - origin)] += w
            row["mean_hops"] += w * hops
            row["mean_origin_distance"] += w * (target - origin)
            if origin < SINKS:
                row["sink_mass"][origin] += w
            else:
                row["sink_rest"] += w
    for (layer, head), row in rows.items():
        for key in ("origin_weight", "origin_no_hop", "mean_hops", "mean_origin_distance", "sink_mass", "sink_rest"):
            row[key] = row[key] / row["num_jobs"]  # each statistic: the mean over the row's jobs
        total, count = np.zeros(BINS), np.zeros(BINS, dtype=np.int64)
        for s in sorted(row.pop("sequences")):
            if s not in attention:
                attention[s] = oracle.read_attention(f["sequences"][names[s]]["attention"])
            matrix = oracle.head_matrix(attention[s], layer, head).astype(np.float64)
            for i in range(matrix.shape[0]):
                for j in range(i):
                    total[distance_bin(i - j)] += matrix[i, j]
                    count[distance_bin(i - j)] += 1
        with np.errstate(invalid="ignore"):
            row["attn_mean"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        row["attn_count"] = count
    return rows


def compare(expected, group):
    """Differences between the expected rows and a results file's /stats group, as lines."""
    problems = []
    order = sorted(expected)  # by layer, then head: -2 (max), -1 (mean), 0, 1, ...
    got = list(zip(group["layer"][()].tolist(), group["head"][()].tolist()))
    if got != order:
        return [f"/stats rows {got}, expected {order}"]
    for name in ("distance_bins", "sink_positions"):
        if int(group.attrs[name]) != {"distance_bins": BINS, "sink_positions": SINKS}[name]:
            problems.append(f"/stats attribute {name} = {group.attrs[name]}")
    for r, key in enumerate(order):
        for name, want in expected[key].items():
            have = np.asarray(group[name][r], dtype=np.float64)
            want = np.asarray(want, dtype=np.float64)
            same_nan = np.array_equal(np.isnan(have), np.isnan(want))
            ok = same_nan and all(oracle.close(float(h), float(w))
                                  for h, w in zip(np.ravel(have), np.ravel(want)) if not math.isnan(w))
            if not ok:
                problems.append(f"/stats/{name} of (layer, head) {key}: {have.tolist()}, expected {want.tolist()}")
    return problems
