#pragma once
// A brute-force oracle for one job: a literal transcription of SPEC §1.1-1.3 on the dense matrix.
// No candidate table (each C(c) is found by scanning the row when needed), whole paths copied into
// every beam, the FULL terminal list kept and stable-sorted at the end. Slow on purpose: it is
// what the two-stage engine is checked against.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/detail/scoring.hpp"
#include "ratrace/params.hpp"

namespace ratrace::oracle {

// C(i) of SPEC §1.1: j < i, mask[j] = 1, A[i][j] >= tau and > 0, by weight descending, ties by j
// ascending (the scan is j ascending and the sort is stable), first K.
inline std::vector<Candidate> candidates(const float* matrix, int seq_len, const std::uint8_t* key_mask, int i,
                                         int top_k, double min_attn) {
  std::vector<Candidate> found;
  for (int j = 0; j < i; ++j) {
    const float a = matrix[static_cast<std::int64_t>(i) * seq_len + j];
    if (key_mask && key_mask[j] == 0) continue;
    if (!detail::passes_threshold(a, min_attn)) continue;
    found.push_back(Candidate{j, a});
  }
  std::stable_sort(found.begin(), found.end(), [](const Candidate& x, const Candidate& y) { return x.attn > y.attn; });
  if (static_cast<int>(found.size()) > top_k) found.resize(static_cast<std::size_t>(top_k));
  return found;
}

struct OracleBeam {
  std::vector<std::int32_t> positions;  // target first
  std::vector<float> edge_attn;         // NaN for the target
  double raw = 0.0;
  double norm = 0.0;
  bool ends = false;
};

// Raw score: sum of edge_logprob over the edges, in path order, from scratch.
inline void score(OracleBeam& b, const SearchParams& params) {
  double raw = 0.0;
  for (std::size_t k = 1; k < b.edge_attn.size(); ++k) raw += detail::edge_logprob(b.edge_attn[k]);
  b.raw = raw;
  b.norm = detail::normalise_score(raw, static_cast<int>(b.positions.size()) - 1, params.length_norm.kind,
                                   params.length_norm.alpha);
}

inline void stable_sort_by_score(std::vector<OracleBeam>& beams) {
  std::stable_sort(beams.begin(), beams.end(), [](const OracleBeam& x, const OracleBeam& y) { return x.norm > y.norm; });
}

// SPEC §1.3 line by line. `steps` gets the active beams and the first B of the stably sorted
// terminal list after each step (what SearchStep holds).
inline std::vector<PathResult> trace(const float* matrix, int seq_len, const std::uint8_t* key_mask,
                                     const std::uint8_t* is_bos, int target, const SearchParams& params,
                                     std::vector<SearchStep>* steps = nullptr) {
  const std::size_t B = static_cast<std::size_t>(params.top_beam);
  OracleBeam start;
  start.positions = {target};
  start.edge_attn = {std::numeric_limits<float>::quiet_NaN()};
  score(start, params);
  std::vector<OracleBeam> active = {start};
  std::vector<OracleBeam> terminal;
  while (!active.empty()) {
    std::vector<OracleBeam> fresh;
    for (const OracleBeam& b : active) {
      const int c = b.positions.back();
      if (c == 0) {
        terminal.push_back(b);
        continue;
      }
      const std::vector<Candidate> cands = candidates(matrix, seq_len, key_mask, c, params.top_k, params.min_attn);
      if (cands.empty()) {
        terminal.push_back(b);
        continue;
      }
      for (const Candidate& cand : cands) {
        OracleBeam nb = b;
        nb.positions.push_back(cand.pos);
        nb.edge_attn.push_back(cand.attn);
        score(nb, params);
        nb.ends = cand.pos == 0 || (params.stop_at_bos && is_bos && is_bos[cand.pos] != 0);
        fresh.push_back(nb);
      }
    }
    std::vector<OracleBeam> going_on;
    for (const OracleBeam& nb : fresh) (nb.ends ? terminal : going_on).push_back(nb);
    stable_sort_by_score(going_on);
    if (going_on.size() > B) going_on.resize(B);
    active = going_on;
    if (steps) {
      SearchStep s;
      for (const OracleBeam& b : active) s.active.push_back(b.positions);
      std::vector<OracleBeam> sorted = terminal;
      stable_sort_by_score(sorted);
      for (std::size_t r = 0; r < sorted.size() && r < B; ++r) s.terminal.push_back(sorted[r].positions);
      steps->push_back(s);
    }
  }
  stable_sort_by_score(terminal);
  if (terminal.size() > B) terminal.resize(B);
  std::vector<PathResult> results;
  for (const OracleBeam& b : terminal) results.push_back(PathResult{b.positions, b.edge_attn, b.raw, b.norm});
  return results;
}

}  // namespace ratrace::oracle
