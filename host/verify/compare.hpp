#pragma once
// The comparison behind `ratrace verify` (SPEC §2): reference (CPU) results against GPU results,
// job by job, matched by JobKey. Pure: no I/O, no engines.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ratrace/decay_stats.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"

namespace ratrace {

// Scores agree when within 1e-9 relative or 1e-12 absolute (SPEC §2).
bool scores_agree(double a, double b);

// Whether the search of one job passed a near-tie at a cut or ranking boundary (see
// near_tie_probe.hpp). Used only for jobs whose results differ.
using NearTieProbe = std::function<bool(const JobKey&)>;
// Whether (to, attn) is one of the candidates C(from) of the job's matrix (SPEC §1.1). Given, it
// limits the probe's excuse to paths made of real candidate edges.
using CandidateCheck = std::function<bool(const JobKey&, std::int32_t from, std::int32_t to, float attn)>;

struct CompareReport {
  std::int64_t jobs_compared = 0;
  std::int64_t mismatches = 0;   // real differences (including jobs missing from the GPU results)
  std::int64_t near_ties = 0;    // differences explained by a near-tie
  std::vector<std::string> first_mismatches;  // up to max_listed, one line each
};

// Compares every job of `reference` with the job of the same key in `candidate` (which may hold
// more jobs: the reference may be a sample). A job matches when it has the same paths in the same
// order (positions, and edge weights bit for bit) with scores that agree. A differing job is a
// near-tie when
//   - both hold the same paths, ordered differently only between paths whose scores agree (but
//     not between exactly equal scores from the same edge weights: the stable order decides), or
//   - `probe` (if given) says the job's search had a near-tie, and every candidate path is sound:
//     starts at the target, strictly decreasing positions, its scores are those of its edge
//     weights under `params`, and (when `is_candidate` is given) every edge is a real candidate;
// otherwise it is a mismatch. A job that `candidate` holds more than once is a mismatch too.
CompareReport compare_results(const TraceResults& reference, const TraceResults& candidate, const SearchParams& params,
                              const NearTieProbe& probe = {}, std::size_t max_listed = 5,
                              const CandidateCheck& is_candidate = {});

struct ProfileReport {
  std::int64_t compared = 0;
  std::int64_t mismatches = 0;  // missing, a different count, or a sum that does not agree to 1e-9
  std::vector<std::string> first_mismatches;
};

// Compares the profiles of `reference` with those of the same (sequence, layer, head) in `candidate`.
ProfileReport compare_profiles(const std::vector<AttentionProfile>& reference,
                               const std::vector<AttentionProfile>& candidate, std::size_t max_listed = 5);

}  // namespace ratrace
