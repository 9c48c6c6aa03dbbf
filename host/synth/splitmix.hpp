#pragma once
// A small explicit PRNG, so synthetic corpora are identical on every platform and library
// (std distributions are not).
#include <cstdint>

namespace ratrace::synth {

// splitmix64 (Steele, Lea, Flood 2014).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [lo, hi] (the tiny modulo bias does not matter here).
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }

 private:
  std::uint64_t state_;
};

// One seed from several numbers (corpus seed, sequence, layer, head).
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
  SplitMix64 g(seed ^ 0x5851f42d4c957f2dull);
  std::uint64_t s = g.next();
  for (std::uint64_t v : {a, b, c}) s = SplitMix64(s ^ (v * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull)).next();
  return s;
}

}  // namespace ratrace::synth
