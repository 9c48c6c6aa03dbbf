#include <algorithm>

#include "ratrace/engine.hpp"

namespace ratrace {

bool SequencePlan::has_aggregate() const {
  return std::any_of(heads.begin(), heads.end(), [](int h) { return h == kHeadMean || h == kHeadMax; });
}

std::vector<int> SequencePlan::heads_read(int num_heads) const {
  std::vector<int> order;
  if (has_aggregate()) {
    for (int h = 0; h < num_heads; ++h) order.push_back(h);
  } else {
    for (const int h : heads)
      if (std::find(order.begin(), order.end(), h) == order.end()) order.push_back(h);
  }
  return order;
}

std::int64_t TracePlan::num_jobs() const {
  std::int64_t n = 0;
  for (const auto& s : sequences)
    n += static_cast<std::int64_t>(s.layers.size() * s.heads.size() * s.targets.size());
  return n;
}

std::int64_t TracePlan::num_matrices() const {
  std::int64_t n = 0;
  for (const auto& s : sequences) n += static_cast<std::int64_t>(s.layers.size() * s.heads.size());
  return n;
}

}  // namespace ratrace
