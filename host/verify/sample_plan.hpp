#pragma once
// The deterministic job sample of `ratrace verify --sample N --seed S`.
#include <cstdint>

#include "ratrace/engine.hpp"

namespace ratrace {

// A plan with `sample` of the plan's jobs, chosen uniformly without replacement from `seed`
// (the same choice on every platform), grouped into one SequencePlan per (sequence, layer, head).
// Returns the plan itself when sample <= 0 or sample >= its number of jobs.
TracePlan sample_plan(const TracePlan& plan, std::int64_t sample, std::uint64_t seed);

}  // namespace ratrace
