#include "ratrace/engine.hpp"

namespace ratrace {

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
