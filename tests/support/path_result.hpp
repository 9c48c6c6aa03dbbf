#pragma once
// Hand-made paths for results files written by tests.
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "ratrace/beam_search.hpp"

namespace ratrace::testing {

// A path as the engine stores it: `positions` target first; edge_attn NaN for the target, then
// `edges` (edges[i] is the attention into positions[i + 1]); the scores as given.
inline PathResult path_result(std::vector<std::int32_t> positions, const std::vector<float>& edges, double score_raw,
                              double score_norm) {
  PathResult p;
  p.positions = std::move(positions);
  p.edge_attn = {std::numeric_limits<float>::quiet_NaN()};
  p.edge_attn.insert(p.edge_attn.end(), edges.begin(), edges.end());
  p.score_raw = score_raw;
  p.score_norm = score_norm;
  return p;
}

}  // namespace ratrace::testing
