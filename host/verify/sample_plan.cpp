#include "verify/sample_plan.hpp"

#include <random>

namespace ratrace {

TracePlan sample_plan(const TracePlan& plan, std::int64_t sample, std::uint64_t seed) {
  std::int64_t remaining = plan.num_jobs();
  if (sample <= 0 || sample >= remaining) return plan;

  // Selection sampling (Knuth's Algorithm S): job k is taken with probability needed / remaining.
  // std::mt19937_64's output is fixed by the standard; the distributions are not, so the uniform
  // double is made by hand.
  std::mt19937_64 rng(seed);
  std::int64_t needed = sample;
  TracePlan out;
  for (const SequencePlan& seq : plan.sequences) {
    for (const int layer : seq.layers) {
      for (const int head : seq.heads) {
        SequencePlan part = seq;
        part.layers = {layer};
        part.heads = {head};
        part.targets.clear();
        for (const int t : seq.targets) {
          const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
          if (static_cast<double>(remaining) * u < static_cast<double>(needed)) {
            part.targets.push_back(t);
            --needed;
          }
          --remaining;
        }
        if (!part.targets.empty()) out.sequences.push_back(std::move(part));
      }
    }
  }
  return out;
}

}  // namespace ratrace
