#include "verify/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>

#include "ratrace/detail/scoring.hpp"
#include "util/head_label.hpp"

namespace ratrace {
namespace {

std::string job_name(const JobKey& k) {
  return fmt::format("sequence {} layer {} head {} target {}", k.seq_index, k.layer, head_label(k.head), k.target);
}

std::string path_text(const PathResult& p) {
  constexpr std::size_t kShown = 8;
  std::string s;
  for (std::size_t k = 0; k < p.positions.size() && k < kShown; ++k) s += (k ? " " : "") + std::to_string(p.positions[k]);
  if (p.positions.size() > kShown) s += fmt::format(" ... ({} nodes)", p.positions.size());
  return fmt::format("[{}] {:.17g}", s, p.score_norm);
}

// Same nodes: positions equal and edge weights equal bit for bit (NaN for p0 included).
bool same_nodes(const PathResult& a, const PathResult& b) {
  return a.positions == b.positions && a.edge_attn.size() == b.edge_attn.size() &&
         (a.edge_attn.empty() ||
          std::memcmp(a.edge_attn.data(), b.edge_attn.data(), a.edge_attn.size() * sizeof(float)) == 0);
}

bool same_path(const PathResult& a, const PathResult& b) {
  return same_nodes(a, b) && scores_agree(a.score_raw, b.score_raw) && scores_agree(a.score_norm, b.score_norm);
}

// Same edge weights in the same order (p0 aside): every device computes their scores bit-identically.
bool same_edge_weights(const PathResult& a, const PathResult& b) {
  return a.edge_attn.size() == b.edge_attn.size() && !a.edge_attn.empty() &&
         std::memcmp(a.edge_attn.data() + 1, b.edge_attn.data() + 1, (a.edge_attn.size() - 1) * sizeof(float)) == 0;
}

// The same set of paths (each reference path exactly once), with order differences only between
// paths whose scores agree. Exactly equal scores computed from the same edge weights are no excuse:
// there the stable order decides (SPEC §2), so such a swap is left to the near-tie probe.
bool reordered_near_ties(const std::vector<PathResult>& ref, const std::vector<PathResult>& cand) {
  if (ref.size() != cand.size()) return false;
  std::vector<std::size_t> where(cand.size());
  std::vector<bool> taken(ref.size(), false);
  for (std::size_t r = 0; r < cand.size(); ++r) {
    const auto it = std::find_if(ref.begin(), ref.end(), [&](const PathResult& p) { return same_path(p, cand[r]); });
    if (it == ref.end()) return false;
    where[r] = static_cast<std::size_t>(it - ref.begin());
    if (taken[where[r]]) return false;  // a path twice, another one missing
    taken[where[r]] = true;
  }
  for (std::size_t r = 0; r < cand.size(); ++r)
    for (std::size_t s = r + 1; s < cand.size(); ++s) {
      if (where[r] < where[s]) continue;
      const PathResult& x = ref[where[r]];
      const PathResult& y = ref[where[s]];
      if (!scores_agree(x.score_norm, y.score_norm)) return false;
      if (x.score_norm == y.score_norm && same_edge_weights(x, y)) return false;
    }
  return true;
}

// A path that the search could have produced: from the target down, along real candidate edges
// (when `is_candidate` is given), scored from its own edges.
bool path_sound(const PathResult& p, const JobKey& key, const SearchParams& params, const CandidateCheck& is_candidate) {
  if (p.positions.empty() || p.positions.size() != p.edge_attn.size() || p.positions[0] != key.target) return false;
  if (!std::isnan(p.edge_attn[0])) return false;
  double raw = 0.0;
  for (std::size_t k = 1; k < p.positions.size(); ++k) {
    if (!(p.positions[k] < p.positions[k - 1]) || p.positions[k] < 0 || !(p.edge_attn[k] > 0.0f)) return false;
    if (is_candidate && !is_candidate(key, p.positions[k - 1], p.positions[k], p.edge_attn[k])) return false;
    raw += detail::edge_logprob(p.edge_attn[k]);
  }
  const int edges = static_cast<int>(p.positions.size()) - 1;
  const double norm = detail::normalise_score(raw, edges, params.length_norm.kind, params.length_norm.alpha);
  return scores_agree(raw, p.score_raw) && scores_agree(norm, p.score_norm);
}

std::string describe_difference(const JobKey& key, const std::vector<PathResult>& ref, const std::vector<PathResult>& cand) {
  if (ref.size() != cand.size())
    return fmt::format("{}: cpu has {} paths, gpu {}", job_name(key), ref.size(), cand.size());
  for (std::size_t r = 0; r < ref.size(); ++r)
    if (!same_path(ref[r], cand[r]))
      return fmt::format("{}: rank {}: cpu {} vs gpu {}", job_name(key), r, path_text(ref[r]), path_text(cand[r]));
  return fmt::format("{}: differs", job_name(key));
}

}  // namespace

bool scores_agree(double a, double b) {
  if (a == b) return true;
  const double diff = std::abs(a - b);
  return diff <= 1e-12 || diff <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

CompareReport compare_results(const TraceResults& reference, const TraceResults& candidate, const SearchParams& params,
                              const NearTieProbe& probe, std::size_t max_listed,
                              const CandidateCheck& is_candidate) {
  CompareReport report;
  const auto mismatch = [&](std::string line) {
    ++report.mismatches;
    if (report.first_mismatches.size() < max_listed) report.first_mismatches.push_back(std::move(line));
  };
  // SPEC §5: each job at most once. A job the GPU returned twice is a mismatch of its own.
  std::map<JobKey, std::size_t> cand_index;
  for (std::size_t k = 0; k < candidate.num_jobs(); ++k)
    if (!cand_index.emplace(candidate.jobs[k], k).second)
      mismatch(fmt::format("{}: appears more than once in the gpu results", job_name(candidate.jobs[k])));
  for (std::size_t k = 0; k < reference.num_jobs(); ++k) {
    const JobKey& key = reference.jobs[k];
    ++report.jobs_compared;
    const auto it = cand_index.find(key);
    if (it == cand_index.end()) {
      mismatch(fmt::format("{}: missing from the gpu results", job_name(key)));
      continue;
    }
    const std::vector<PathResult> ref = reference.job_paths(k);
    const std::vector<PathResult> cand = candidate.job_paths(it->second);
    const bool identical = ref.size() == cand.size() &&
                           std::equal(ref.begin(), ref.end(), cand.begin(), [](const PathResult& a, const PathResult& b) {
                             return same_path(a, b);
                           });
    if (identical) continue;
    if (reordered_near_ties(ref, cand)) {
      ++report.near_ties;
      continue;
    }
    const bool sound = !cand.empty() && std::all_of(cand.begin(), cand.end(), [&](const PathResult& p) {
      return path_sound(p, key, params, is_candidate);
    });
    if (sound && probe && probe(key)) {
      ++report.near_ties;
      continue;
    }
    mismatch(describe_difference(key, ref, cand));
  }
  return report;
}

ProfileReport compare_profiles(const std::vector<AttentionProfile>& reference,
                               const std::vector<AttentionProfile>& candidate, std::size_t max_listed) {
  const auto key = [](const AttentionProfile& p) { return std::make_tuple(p.seq_index, p.layer, p.head); };
  std::map<std::tuple<int, int, int>, const AttentionProfile*> cand;
  for (const AttentionProfile& p : candidate) cand.emplace(key(p), &p);

  ProfileReport report;
  for (const AttentionProfile& r : reference) {
    ++report.compared;
    const auto it = cand.find(key(r));
    std::string problem;
    if (it == cand.end()) {
      problem = "missing from the gpu results";
    } else {
      for (int b = 0; b < kDistanceBins && problem.empty(); ++b) {
        if (r.count[b] != it->second->count[b])
          problem = fmt::format("bin {}: count {} vs {}", b, r.count[b], it->second->count[b]);
        else if (!(std::abs(r.sum[b] - it->second->sum[b]) <= 1e-9 * std::max(std::abs(r.sum[b]), std::abs(it->second->sum[b]))))
          problem = fmt::format("bin {}: sum {:.17g} vs {:.17g}", b, r.sum[b], it->second->sum[b]);
      }
    }
    if (problem.empty()) continue;
    ++report.mismatches;
    if (report.first_mismatches.size() < max_listed)
      report.first_mismatches.push_back(
          fmt::format("profile of sequence {} layer {} head {}: {}", r.seq_index, r.layer, head_label(r.head), problem));
  }
  return report;
}

}  // namespace ratrace
