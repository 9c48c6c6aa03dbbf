// The rules that the CPU reference and the CUDA kernels share (include/ratrace/detail/ and
// distance_bin): tested here on the CPU, so CI checks the very code the GPU runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

#include "ratrace/decay_stats.hpp"
#include "ratrace/detail/float_convert.hpp"
#include "ratrace/detail/scoring.hpp"

using namespace ratrace;
using namespace ratrace::detail;

namespace {

std::uint32_t bits(float f) { return float_to_bits(f); }

// An independent decoding of binary16: sign * (subnormal ? m * 2^-24 : (1024 + m) * 2^(e - 25)).
double half_value(std::uint16_t h) {
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  const double mag = e == 0 ? std::ldexp(static_cast<double>(m), -24) : std::ldexp(static_cast<double>(1024 + m), e - 25);
  return (h & 0x8000) ? -mag : mag;
}

}  // namespace

TEST(HalfWidening, KnownBitPatterns) {
  EXPECT_EQ(bits(half_bits_to_float(0x0000)), 0x00000000u);
  EXPECT_EQ(bits(half_bits_to_float(0x8000)), 0x80000000u);  // -0 keeps its sign
  EXPECT_EQ(half_bits_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_bits_to_float(0xbc00), -1.0f);
  EXPECT_EQ(half_bits_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_bits_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_bits_to_float(0x0400), std::ldexp(1.0f, -14));        // smallest normal
  EXPECT_EQ(half_bits_to_float(0x0001), std::ldexp(1.0f, -24));        // smallest subnormal
  EXPECT_EQ(half_bits_to_float(0x03ff), 1023.0f * std::ldexp(1.0f, -24));  // largest subnormal
  EXPECT_EQ(half_bits_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(bits(half_bits_to_float(0x7c00)), 0x7f800000u);  // +Inf
  EXPECT_EQ(bits(half_bits_to_float(0xfc00)), 0xff800000u);  // -Inf
  EXPECT_EQ(bits(half_bits_to_float(0x7e00)), 0x7fc00000u);  // quiet NaN
  EXPECT_EQ(bits(half_bits_to_float(0x7c01)), 0x7f802000u);  // signalling NaN payload kept
  EXPECT_EQ(bits(half_bits_to_float(0xfe00)), 0xffc00000u);
}

TEST(HalfWidening, EveryFiniteValueIsExact) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto b = static_cast<std::uint16_t>(h);
    const float f = half_bits_to_float(b);
    if (((b >> 10) & 0x1f) == 0x1f) {
      EXPECT_TRUE(std::isnan(f) || std::isinf(f)) << std::hex << h;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), half_value(b)) << std::hex << h;
    ASSERT_EQ(std::signbit(f), (b & 0x8000) != 0) << std::hex << h;
  }
}

TEST(Bfloat16Widening, KnownBitPatterns) {
  EXPECT_EQ(bfloat16_bits_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16_bits_to_float(0xbf80), -1.0f);
  EXPECT_EQ(bfloat16_bits_to_float(0x3e80), 0.25f);
  EXPECT_EQ(bits(bfloat16_bits_to_float(0x0001)), 0x00010000u);  // subnormal
  EXPECT_EQ(bits(bfloat16_bits_to_float(0x8000)), 0x80000000u);
  EXPECT_EQ(bits(bfloat16_bits_to_float(0x7f80)), 0x7f800000u);
  EXPECT_EQ(bits(bfloat16_bits_to_float(0xff80)), 0xff800000u);
  EXPECT_TRUE(std::isnan(bfloat16_bits_to_float(0x7fc0)));
  EXPECT_EQ(bfloat16_bits_to_float(0x7f7f), std::ldexp(255.0f / 128.0f, 127));  // largest finite
  for (std::uint32_t b = 0; b < 0x10000; b += 7)
    ASSERT_EQ(bits(bfloat16_bits_to_float(static_cast<std::uint16_t>(b))), b << 16);
}

TEST(CandidateKey, OrdersByWeightThenSmallerIndex) {
  struct Entry {
    float attn;
    std::int32_t pos;
  };
  std::mt19937_64 rng(3);
  std::vector<Entry> entries;
  const float levels[] = {std::numeric_limits<float>::denorm_min(), 1e-30f, 0.125f, 0.25f, 0.3f, 0.5f, 1.0f, 7.5f,
                          std::numeric_limits<float>::max()};
  for (int k = 0; k < 400; ++k)
    entries.push_back(Entry{levels[rng() % std::size(levels)], static_cast<std::int32_t>(rng() % 50)});
  entries.push_back(Entry{0.5f, 2147483646});
  std::vector<Entry> by_key = entries;
  std::sort(by_key.begin(), by_key.end(), [](const Entry& a, const Entry& b) {
    return candidate_key(a.attn, a.pos) > candidate_key(b.attn, b.pos);
  });
  std::vector<Entry> by_rule = entries;
  std::sort(by_rule.begin(), by_rule.end(), [](const Entry& a, const Entry& b) {
    return a.attn != b.attn ? a.attn > b.attn : a.pos < b.pos;
  });
  for (std::size_t k = 0; k < entries.size(); ++k) {
    EXPECT_EQ(by_key[k].attn, by_rule[k].attn) << k;
    EXPECT_EQ(by_key[k].pos, by_rule[k].pos) << k;
  }
}

TEST(CandidateKey, RoundTripsAndStaysNonZero) {
  for (const float a : {std::numeric_limits<float>::denorm_min(), 0.1f, 1.0f, 3.0e38f})
    for (const std::int32_t j : {0, 1, 4095, 2147483647}) {
      const std::uint64_t key = candidate_key(a, j);
      EXPECT_NE(key, 0u);
      EXPECT_EQ(candidate_key_attn(key), a);
      EXPECT_EQ(candidate_key_pos(key), j);
    }
  // Equal weights: the smaller index has the larger key; a larger weight beats any index.
  EXPECT_GT(candidate_key(0.5f, 3), candidate_key(0.5f, 4));
  EXPECT_GT(candidate_key(std::nextafter(0.5f, 1.0f), 2147483647), candidate_key(0.5f, 0));
}

TEST(Scoring, NormaliseScorePerMode) {
  const double raw = -3.7;
  for (const auto kind : {LengthNormKind::none, LengthNormKind::avg_logprob, LengthNormKind::sqrt, LengthNormKind::pow})
    EXPECT_EQ(normalise_score(raw, 0, kind, 0.7), raw);  // no edges: the raw score
  EXPECT_EQ(normalise_score(raw, 4, LengthNormKind::none, 1.0), raw);
  EXPECT_EQ(normalise_score(raw, 4, LengthNormKind::avg_logprob, 1.0), raw / 4.0);
  EXPECT_EQ(normalise_score(raw, 4, LengthNormKind::sqrt, 0.5), raw / 2.0);
  EXPECT_EQ(normalise_score(raw, 5, LengthNormKind::sqrt, 0.5), raw / std::sqrt(5.0));
  EXPECT_EQ(normalise_score(raw, 5, LengthNormKind::pow, 0.7), raw / std::pow(5.0, 0.7));
  EXPECT_EQ(normalise_score(raw, 1, LengthNormKind::pow, 0.7), raw);
}

// What a search step divides all its expansions' raw scores by (computed once per step).
TEST(Scoring, ScoreDenominatorPerMode) {
  for (const auto kind : {LengthNormKind::none, LengthNormKind::avg_logprob, LengthNormKind::sqrt, LengthNormKind::pow})
    EXPECT_EQ(score_denominator(0, kind, 0.7), 1.0);
  EXPECT_EQ(score_denominator(4, LengthNormKind::none, 1.0), 1.0);
  EXPECT_EQ(score_denominator(4, LengthNormKind::avg_logprob, 1.0), 4.0);
  EXPECT_EQ(score_denominator(4, LengthNormKind::sqrt, 1.0), 2.0);
  EXPECT_EQ(score_denominator(5, LengthNormKind::pow, 0.7), std::pow(5.0, 0.7));
  EXPECT_EQ(score_denominator(1, LengthNormKind::pow, 0.7), 1.0);
}

TEST(Scoring, EdgeLogprobClampsAt1e12) {
  EXPECT_EQ(edge_logprob(1.0f), 0.0);
  EXPECT_EQ(edge_logprob(0.5f), std::log(0.5));
  EXPECT_EQ(edge_logprob(0.1f), std::log(static_cast<double>(0.1f)));  // the float32 value, widened
  EXPECT_EQ(edge_logprob(1e-13f), std::log(1e-12));
  EXPECT_EQ(edge_logprob(0.0f), std::log(1e-12));
}

TEST(Scoring, PassesThresholdComparesTheFloatWidened) {
  EXPECT_FALSE(passes_threshold(0.0f, 0.0));
  EXPECT_FALSE(passes_threshold(-0.0f, 0.0));
  EXPECT_TRUE(passes_threshold(std::numeric_limits<float>::denorm_min(), 0.0));
  EXPECT_TRUE(passes_threshold(0.3f, 0.3));   // 0.3f = 0.30000001192...
  EXPECT_FALSE(passes_threshold(0.7f, 0.7));  // 0.7f = 0.69999998807...
  EXPECT_TRUE(passes_threshold(0.5f, 0.5));
  EXPECT_FALSE(passes_threshold(0.25f, 0.5));
}

// The GPU's float form of the threshold (float_threshold once, then float compares) decides as
// SPEC §2's double comparison does, for every float: checked on the floats next to each threshold
// (where a wrong rounding would show) and on random ones, for thresholds that are floats, fall
// between floats, are subnormal, zero or beyond the largest float.
TEST(Scoring, FloatThresholdDecidesAsTheDoubleComparison) {
  std::mt19937_64 rng(17);
  std::vector<double> taus = {0.0, 0.3, 0.7, 0.5, 0.02, 0.01, 1.0, 1e-300, 1e-45, 1e-40,
                              static_cast<double>(std::numeric_limits<float>::denorm_min()),
                              static_cast<double>(std::numeric_limits<float>::max()),
                              static_cast<double>(std::numeric_limits<float>::max()) * 1.0000001, 1e300};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int k = 0; k < 2000; ++k) {
    const float f = static_cast<float>(unit(rng));
    taus.push_back(unit(rng) * (k % 3 == 0 ? 1e-38 : 1.0));                              // anywhere
    taus.push_back(static_cast<double>(f));                                                // a float
    taus.push_back((static_cast<double>(f) + static_cast<double>(std::nextafter(f, 2.0f))) / 2);  // a midpoint
  }
  std::int64_t checked = 0;
  for (const double tau : taus) {
    const float threshold = float_threshold(tau);
    EXPECT_GE(static_cast<double>(threshold), tau);  // and no smaller float is
    EXPECT_LT(static_cast<double>(std::nextafter(threshold, -HUGE_VALF)), tau) << tau;
    std::vector<float> floats = {0.0f, -0.0f, std::numeric_limits<float>::denorm_min(), 1.0f,
                                 std::numeric_limits<float>::max(), HUGE_VALF};
    for (const float start : {threshold, static_cast<float>(tau)}) {  // 4 floats each way
      float up = start, down = start;
      for (int n = 0; n < 4; ++n, up = std::nextafter(up, HUGE_VALF), down = std::nextafter(down, -HUGE_VALF))
        floats.insert(floats.end(), {up, down});
    }
    for (int r = 0; r < 20; ++r) floats.push_back(static_cast<float>(unit(rng)));
    for (const float a : floats) {
      ASSERT_EQ(passes_float_threshold(a, threshold), passes_threshold(a, tau)) << "a=" << a << " tau=" << tau;
      ++checked;
    }
  }
  EXPECT_GT(checked, 200000);
}

TEST(Scoring, BadWeights) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const float bad : {nan, -nan, inf, -inf, -1.0f, -std::numeric_limits<float>::denorm_min()})
    EXPECT_TRUE(is_bad_weight(bad)) << bad;
  for (const float good : {0.0f, -0.0f, std::numeric_limits<float>::denorm_min(), 0.5f, 1.0f, 2.0f,
                           std::numeric_limits<float>::max()})
    EXPECT_FALSE(is_bad_weight(good)) << good;
}

// The aggregate kernel's form of the value check: the minimum from 0 (fminf) and the double sum of
// a row's values decide it as testing each value does, whatever the values and their order.
TEST(Scoring, MinimumAndFiniteSumDecideTheValueCheck) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {nan, -nan, inf, -inf, -1.0f, -std::numeric_limits<float>::denorm_min(), -0.0f, 0.0f,
                            std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max()};
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  int bad_sets = 0, good_sets = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<float> values(1 + rng() % 40);
    for (float& v : values) v = unit(rng);
    const int with_specials = static_cast<int>(rng() % 4);  // 0..3 special values at random places
    for (int k = 0; k < with_specials; ++k) values[rng() % values.size()] = specials[rng() % std::size(specials)];
    if (trial % 97 == 0) std::fill(values.begin(), values.end(), std::numeric_limits<float>::max());  // huge, finite
    float smallest = 0.0f;
    double sum = 0.0;
    for (const float v : values) {
      smallest = std::fmin(smallest, v);
      sum += static_cast<double>(v);
    }
    const bool expected = std::any_of(values.begin(), values.end(), [](float v) { return is_bad_weight(v); });
    ASSERT_EQ(smallest < 0.0f || !finite_sum(sum), expected) << "trial " << trial;
    ++(expected ? bad_sets : good_sets);
  }
  EXPECT_GT(bad_sets, 5000);
  EXPECT_GT(good_sets, 5000);
  EXPECT_TRUE(finite_sum(40.0 * std::numeric_limits<float>::max()));
  EXPECT_FALSE(finite_sum(static_cast<double>(inf) + static_cast<double>(-inf)));  // NaN
}

// The head kernel skips building keys for a group of values where no lane reaches entry_floor:
// below it, no value may pass the min_attn test with a key above the K-th best. And the floor is
// the least such weight: at it, the smallest column beats a threshold of any other column, and
// with no threshold yet, the floor passes the min_attn test where the float below it fails.
TEST(Scoring, EntryFloorIsTheLeastWeightThatCanEnterTheTopK) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float tiny = std::numeric_limits<float>::denorm_min();
  const float specials[] = {nan, -nan, std::numeric_limits<float>::infinity(), -1.0f, -tiny, -0.0f, 0.0f, tiny,
                            2 * tiny, std::numeric_limits<float>::min(), 1.0f, std::numeric_limits<float>::max()};
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::uniform_int_distribution<std::int32_t> column(0, 4095);
  int skipped = 0, kept = 0;
  for (int trial = 0; trial < 200000; ++trial) {
    const float attn_threshold = trial % 3 == 0 ? 0.0f : (trial % 3 == 1 ? float_threshold(unit(rng) * 0.3) : tiny);
    const std::uint64_t threshold_key = trial % 5 == 0 ? 0 : candidate_key(std::max(unit(rng), tiny), column(rng));
    const float floor = entry_floor(attn_threshold, threshold_key);
    const float kth = candidate_key_attn(threshold_key);
    // Values near the floor and the K-th best weight as often as random ones, ties included.
    float v = unit(rng);
    switch (trial % 6) {
      case 0: v = specials[rng() % std::size(specials)]; break;
      case 1: v = kth; break;
      case 2: v = std::nextafter(floor, 0.0f); break;
      case 3: v = floor; break;
      default: break;
    }
    const std::int32_t j = column(rng);
    const bool enters = passes_float_threshold(v, attn_threshold) && candidate_key(v, j) > threshold_key;
    if (!(v >= floor)) {
      ASSERT_FALSE(enters) << "trial " << trial << ": v " << v << " below floor " << floor << " entered at column " << j;
      ++skipped;
    } else {
      ++kept;
    }
    if (threshold_key != 0 && kth >= attn_threshold && candidate_key_pos(threshold_key) > 0) {
      ASSERT_EQ(floor, kth) << "trial " << trial;
      ASSERT_GT(candidate_key(floor, 0), threshold_key) << "trial " << trial;
    }
    if (threshold_key == 0) {
      ASSERT_TRUE(passes_float_threshold(floor, attn_threshold)) << "trial " << trial;
      ASSERT_FALSE(passes_float_threshold(std::nextafter(floor, 0.0f), attn_threshold)) << "trial " << trial;
    }
  }
  EXPECT_GT(skipped, 40000);
  EXPECT_GT(kept, 40000);
}

TEST(DistanceBin, PowersOfTwo) {
  EXPECT_EQ(distance_bin(1), 0);
  EXPECT_EQ(distance_bin(2), 1);
  EXPECT_EQ(distance_bin(3), 1);
  EXPECT_EQ(distance_bin(4), 2);
  EXPECT_EQ(distance_bin(7), 2);
  EXPECT_EQ(distance_bin(8), 3);
  EXPECT_EQ(distance_bin(1023), 9);
  EXPECT_EQ(distance_bin(1024), 10);
  EXPECT_EQ(distance_bin(2147483647), 30);
  for (std::int32_t d = 1; d < 5000; ++d) ASSERT_EQ(distance_bin(d), static_cast<int>(std::floor(std::log2(d)))) << d;
}
