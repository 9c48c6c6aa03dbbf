#pragma once
// Stage (b) of a trace: the beam search of SPEC §1.3 over a candidate table.
#include <cstdint>
#include <vector>

#include "ratrace/candidate_table.hpp"
#include "ratrace/params.hpp"

namespace ratrace {

// One result path, target first (p0 = t > p1 > ... > pn).
struct PathResult {
  std::vector<std::int32_t> positions;
  std::vector<float> edge_attn;  // weight of the edge INTO each node; NaN for p0
  double score_raw = 0.0;
  double score_norm = 0.0;
};

// A snapshot of the search after one step, for tests and debugging: the active beams and the
// terminal beams kept so far (each a list of positions, target first). The terminal list is the
// running top-B, which yields exactly SPEC §1.3's final result.
struct SearchStep {
  std::vector<std::vector<std::int32_t>> active;
  std::vector<std::vector<std::int32_t>> terminal;
};

// Runs one job. is_bos may be null (no BOS positions); otherwise is_bos[p] != 0 marks a BOS position.
// Returns at least one path, in result order. When `steps` is given, one snapshot per step is appended.
std::vector<PathResult> beam_search(const candidate_table_ref& table, std::int32_t target,
                                    const std::uint8_t* is_bos, const SearchParams& params,
                                    std::vector<SearchStep>* steps = nullptr);

// Path weights of SPEC §1.4: softmax of the normalised scores (max subtracted first).
std::vector<double> path_weights(const std::vector<double>& score_norm);

}  // namespace ratrace
