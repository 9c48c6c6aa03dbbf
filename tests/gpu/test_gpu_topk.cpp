// The row top-K kernels against the CPU stage (build_candidate_table), the CPU aggregation, the
// CPU profile and the CPU value checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "gpu_test_support.hpp"
#include "ratrace/synth.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/validate.hpp"
#include "reference/aggregate.hpp"
#include "support/matrices.hpp"

using namespace ratrace;
using namespace ratrace::gpu_test;
using gpu::ElemType;

namespace {

const char* elem_name(ElemType e) { return e == ElemType::f16 ? "f16" : e == ElemType::bf16 ? "bf16" : "f32"; }

// Same counts, same entries (position and weight bit for bit) in the same order.
void expect_same_table(const CandidateTable& cpu, const CandidateTable& gpu, const std::string& what) {
  ASSERT_EQ(cpu.seq_len(), gpu.seq_len()) << what;
  int reported = 0;
  for (int i = 0; i < cpu.seq_len(); ++i) {
    bool same = cpu.size(i) == gpu.size(i);
    for (int r = 0; same && r < cpu.size(i); ++r)
      same = cpu.at(i, r).pos == gpu.at(i, r).pos &&
             testing_support::bits_of(cpu.at(i, r).attn) == testing_support::bits_of(gpu.at(i, r).attn);
    if (!same && reported++ < 3) {
      std::string c, g;
      for (int r = 0; r < cpu.size(i); ++r) c += " " + std::to_string(cpu.at(i, r).pos);
      for (int r = 0; r < gpu.size(i); ++r) g += " " + std::to_string(gpu.at(i, r).pos);
      ADD_FAILURE() << what << " row " << i << ": cpu [" << c << " ] gpu [" << g << " ]";
    }
  }
}

std::vector<std::vector<float>> random_heads(int H, int S, std::mt19937_64& rng, int levels = 0) {
  std::vector<std::vector<float>> out;
  for (int h = 0; h < H; ++h) out.push_back(random_matrix(S, rng, levels));
  return out;
}

std::vector<std::uint8_t> random_mask(int S, std::mt19937_64& rng) {
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(S));
  for (auto& m : mask) m = (rng() % 5) != 0;
  return mask;
}

}  // namespace

TEST(GpuRowTopK, PerHeadMatchesCpuForEveryTypeShapeAndOption) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(11);
  for (const ElemType elem : {ElemType::f32, ElemType::f16, ElemType::bf16})
    for (const int S : {1, 2, 31, 32, 33, 100, 300})
      for (const int K : {1, 5, 32})
        for (const int levels : {0, 8}) {
          const Heads heads = make_heads(random_heads(3, S, rng, levels), S, elem);
          // 1/8 is a level: many values equal the threshold, which they pass (SPEC §1.1: >= tau).
          const double min_attn = (S % 2) ? 0.0 : (levels > 0 ? 0.125 : 0.02);
          const std::vector<std::uint8_t> mask = (K == 5) ? random_mask(S, rng) : std::vector<std::uint8_t>{};
          const TopkRun run = run_topk(heads, {0, 1, 2}, false, false, K, min_attn, mask);
          ASSERT_EQ(run.tables.size(), 3u);
          EXPECT_FALSE(run.checks.bad_values);
          for (int h = 0; h < 3; ++h) {
            const CandidateTable cpu =
                build_candidate_table(heads.head(h), S, mask.empty() ? nullptr : mask.data(), K, min_attn);
            expect_same_table(cpu, run.tables[h],
                              fmt::format("{} S={} K={} levels={} head {}", elem_name(elem), S, K, levels, h));
          }
        }
}

TEST(GpuRowTopK, MeanAndMaxMatchTheCpuAggregateAlongsideHeads) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(12);
  for (const ElemType elem : {ElemType::f32, ElemType::f16, ElemType::bf16})
    for (const int H : {1, 3, 5, 8})
      for (const int levels : {0, 4}) {
        const int S = 97;
        const Heads heads = make_heads(random_heads(H, S, rng, levels), S, elem);
        const std::vector<int> traced = H > 2 ? std::vector<int>{1, H - 1} : std::vector<int>{};
        const std::vector<std::uint8_t> mask = random_mask(S, rng);
        const TopkRun run = run_topk(heads, traced, true, true, 7, 0.0, mask);
        ASSERT_EQ(run.tables.size(), traced.size() + 2);
        HeadAggregate agg(S, true, true);
        for (int h = 0; h < H; ++h) agg.add_head(heads.head(h));
        const std::string what = fmt::format("{} H={} levels={}", elem_name(elem), H, levels);
        for (std::size_t t = 0; t < traced.size(); ++t)
          expect_same_table(build_candidate_table(heads.head(traced[t]), S, mask.data(), 7, 0.0), run.tables[t],
                            what + " head " + std::to_string(traced[t]));
        const std::vector<float> mean = agg.mean(H), max = agg.max();
        expect_same_table(build_candidate_table(mean.data(), S, mask.data(), 7, 0.0), run.tables[traced.size()], what + " mean");
        expect_same_table(build_candidate_table(max.data(), S, mask.data(), 7, 0.0), run.tables[traced.size() + 1], what + " max");
      }
}

TEST(GpuRowTopK, OnlyMeanOrOnlyMax) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(13);
  const int S = 70, H = 4;
  const Heads heads = make_heads(random_heads(H, S, rng), S, ElemType::f32);
  HeadAggregate agg(S, true, true);
  for (int h = 0; h < H; ++h) agg.add_head(heads.head(h));
  const std::vector<float> mean = agg.mean(H), max = agg.max();
  const TopkRun only_mean = run_topk(heads, {}, true, false, 5, 0.0);
  ASSERT_EQ(only_mean.tables.size(), 1u);
  expect_same_table(build_candidate_table(mean.data(), S, nullptr, 5, 0.0), only_mean.tables[0], "mean only");
  const TopkRun only_max = run_topk(heads, {}, false, true, 5, 0.0);
  ASSERT_EQ(only_max.tables.size(), 1u);
  expect_same_table(build_candidate_table(max.data(), S, nullptr, 5, 0.0), only_max.tables[0], "max only");
}

// Head counts around the aggregate kernel's shared-memory steps: 46..48 heads need 46..48 KiB of
// dynamic shared memory beside 2.5 KiB of static (over the 48 KiB default), 260 heads fewer threads.
TEST(GpuRowTopK, MeanAndMaxOverManyHeads) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(20);
  for (const int H : {45, 46, 47, 48, 49, 260}) {
    const int S = 40;
    const Heads heads = make_heads(random_heads(H, S, rng, H % 2 ? 0 : 8), S, ElemType::f16);
    const TopkRun run = run_topk(heads, {H - 1}, true, true, 6, 0.0);
    ASSERT_EQ(run.tables.size(), 3u) << H;
    EXPECT_FALSE(run.checks.bad_values) << H;
    HeadAggregate agg(S, true, true);
    for (int h = 0; h < H; ++h) agg.add_head(heads.head(h));
    const std::vector<float> mean = agg.mean(H), max = agg.max();
    const std::string what = fmt::format("H={}", H);
    expect_same_table(build_candidate_table(heads.head(H - 1), S, nullptr, 6, 0.0), run.tables[0], what + " head");
    expect_same_table(build_candidate_table(mean.data(), S, nullptr, 6, 0.0), run.tables[1], what + " mean");
    expect_same_table(build_candidate_table(max.data(), S, nullptr, 6, 0.0), run.tables[2], what + " max");
    RowSumTally cpu;
    for (int h = 0; h < H; ++h) check_attention_values(heads.head(h), S, "test", cpu);
    EXPECT_EQ(run.checks.rows_off, cpu.rows_off) << what;
  }
}

TEST(GpuRowTopK, LongRows4096) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(14);
  const int S = 4096;
  std::vector<std::vector<float>> m = {synth_head_matrix(HeadPattern::diffuse, S, 5),
                                       synth_head_matrix(HeadPattern::local_window, S, 6)};
  const Heads heads = make_heads(m, S, ElemType::f16);
  const TopkRun run = run_topk(heads, {0, 1}, true, true, 32, 0.0);
  ASSERT_EQ(run.tables.size(), 4u);
  expect_same_table(build_candidate_table(heads.head(0), S, nullptr, 32, 0.0), run.tables[0], "S=4096 head 0");
  expect_same_table(build_candidate_table(heads.head(1), S, nullptr, 32, 0.0), run.tables[1], "S=4096 head 1");
  HeadAggregate agg(S, true, true);
  agg.add_head(heads.head(0));
  agg.add_head(heads.head(1));
  const std::vector<float> mean = agg.mean(2), max = agg.max();
  expect_same_table(build_candidate_table(mean.data(), S, nullptr, 32, 0.0), run.tables[2], "S=4096 mean");
  expect_same_table(build_candidate_table(max.data(), S, nullptr, 32, 0.0), run.tables[3], "S=4096 max");
}

// Every positive finite float16 and bfloat16 bit pattern, subnormals included, is a candidate of
// some row (32 patterns in columns 0..31 of each row from 32 on, K = 32), so each one's widening on
// the device (float16: the conversion instruction) must give the host rule's float bit for bit: in
// the head kernel and, as mean and max of one head, in the aggregate kernel.
TEST(GpuRowTopK, EveryPositiveFinite16BitPatternWidensAsOnTheHost) {
  RATRACE_REQUIRE_GPU();
  constexpr int kPerRow = 32;
  for (const ElemType elem : {ElemType::f16, ElemType::bf16}) {
    const std::uint32_t largest = elem == ElemType::f16 ? 0x7bffu : 0x7f7fu;  // largest finite pattern
    const int S = kPerRow + static_cast<int>((largest + kPerRow - 1) / kPerRow);
    const auto cell = [S](std::uint32_t pattern) {  // row kPerRow + (p - 1) / 32, column (p - 1) % 32
      return static_cast<std::size_t>(kPerRow + (pattern - 1) / kPerRow) * S + (pattern - 1) % kPerRow;
    };
    std::vector<float> m(static_cast<std::size_t>(S) * S, 0.0f);
    for (std::uint32_t p = 1; p <= largest; ++p)
      m[cell(p)] = elem == ElemType::f16 ? detail::half_bits_to_float(static_cast<std::uint16_t>(p))
                                         : detail::bfloat16_bits_to_float(static_cast<std::uint16_t>(p));
    const Heads heads = make_heads({m}, S, elem);
    for (std::uint32_t p = 1; p <= largest; ++p) {  // each value is stored as its own pattern
      std::uint16_t stored = 0;
      std::memcpy(&stored, heads.raw.data() + cell(p) * 2, 2);
      ASSERT_EQ(stored, p) << elem_name(elem);
    }
    const CandidateTable cpu = build_candidate_table(heads.head(0), S, nullptr, kPerRow, 0.0);
    std::int64_t entries = 0;
    for (int i = 0; i < S; ++i) entries += cpu.size(i);
    ASSERT_EQ(entries, static_cast<std::int64_t>(largest)) << elem_name(elem) << ": every pattern is a candidate";
    const TopkRun run = run_topk(heads, {0}, true, true, kPerRow, 0.0);
    ASSERT_EQ(run.tables.size(), 3u);
    EXPECT_FALSE(run.checks.bad_values);
    expect_same_table(cpu, run.tables[0], std::string(elem_name(elem)) + " head");
    expect_same_table(cpu, run.tables[1], std::string(elem_name(elem)) + " mean of one head");
    expect_same_table(cpu, run.tables[2], std::string(elem_name(elem)) + " max of one head");
  }
}

TEST(GpuRowTopK, ProfilesMatchTheCpuProfile) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(15);
  const int S = 777, H = 3;
  const Heads heads = make_heads(random_heads(H, S, rng), S, ElemType::bf16);
  const TopkRun run = run_topk(heads, {0, 2}, true, true, 5, 0.0);
  HeadAggregate agg(S, true, true);
  for (int h = 0; h < H; ++h) agg.add_head(heads.head(h));
  const std::vector<float> mean = agg.mean(H), max = agg.max();
  const std::vector<const float*> matrices = {heads.head(0), heads.head(2), mean.data(), max.data()};
  ASSERT_EQ(run.checks.profile_sums.size(), matrices.size());
  for (std::size_t m = 0; m < matrices.size(); ++m) {
    AttentionProfile cpu{};
    accumulate_attention_profile(matrices[m], S, cpu);
    for (int b = 0; b < kDistanceBins; ++b)
      EXPECT_NEAR(run.checks.profile_sums[m][b], cpu.sum[b], 1e-9 * std::abs(cpu.sum[b])) << "matrix " << m << " bin " << b;
  }
}

TEST(GpuRowTopK, BadValuesAreFlaggedOnlyAtOrBelowTheDiagonal) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(16);
  const int S = 50, H = 3;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  struct Case {
    int h, i, j;
    float v;
    bool bad;
  };
  const Case cases[] = {{1, 10, 3, nan, true},  {2, 49, 49, -0.5f, true}, {0, 0, 0, inf, true},
                        {1, 10, 30, nan, false}, {2, 5, 2, -0.0f, false},  {0, 40, 39, -inf, true}};
  for (const ElemType elem : {ElemType::f32, ElemType::f16, ElemType::bf16})
    for (const Case& c : cases) {
      std::vector<std::vector<float>> m = random_heads(H, S, rng);
      for (auto& head : m)  // make "above the diagonal" finite, except where a case puts a bad value
        for (int i = 0; i < S; ++i)
          for (int j = i + 1; j < S; ++j) head[static_cast<std::size_t>(i) * S + j] = 0.0f;
      m[c.h][static_cast<std::size_t>(c.i) * S + c.j] = c.v;
      const Heads heads = make_heads(m, S, elem);
      const std::string what = fmt::format("{} head {} ({}, {}) = {}", elem_name(elem), c.h, c.i, c.j, c.v);
      EXPECT_EQ(run_topk(heads, {0, 1, 2}, false, false, 5, 0.0).checks.bad_values, c.bad) << what << " per head";
      EXPECT_EQ(run_topk(heads, {}, true, false, 5, 0.0).checks.bad_values, c.bad) << what << " mean";
      EXPECT_EQ(run_topk(heads, {1}, false, true, 5, 0.0).checks.bad_values, c.bad) << what << " head + max";
    }
}

TEST(GpuRowTopK, RowSumTallyMatchesTheCpu) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(17);
  const int S = 64, H = 2;
  std::vector<std::vector<float>> m = random_heads(H, S, rng);
  for (int i = 3; i < S; i += 5)
    for (int j = 0; j <= i; ++j) m[i % H][static_cast<std::size_t>(i) * S + j] *= 1.5f;  // rows off by ~0.5
  const Heads heads = make_heads(m, S, ElemType::f32);
  RowSumTally cpu;
  for (int h = 0; h < H; ++h) check_attention_values(heads.head(h), S, "test", cpu);
  ASSERT_GT(cpu.rows_off, 0);
  EXPECT_EQ(run_topk(heads, {0, 1}, false, false, 5, 0.0).checks.rows_off, cpu.rows_off) << "per head";
  EXPECT_EQ(run_topk(heads, {}, true, true, 5, 0.0).checks.rows_off, cpu.rows_off) << "aggregate";
}

// One launch over units of several lengths and kinds, as the engine batches short sequences: each
// unit's tables, profiles, row-sum tally and value checks equal the CPU's on that unit alone.
TEST(GpuRowTopK, OneLaunchOfUnitsOfDifferentLengthsMatchesTheCpu) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(18);
  struct Shape {
    int S, H;
    std::vector<int> traced;
    bool mean, max, mask;
  };
  // Per-head units trace all their resident heads (as the engine stages them); S from 1 to more
  // than 4 warps x 32 columns; aggregates with and without per-head matrices. The head kernel with
  // 4, 2 and 1 warps per row (1 and 2 put rows of different matrices in one block).
  const std::vector<Shape> shapes = {{33, 2, {1, 0}, false, false, true},  {1, 2, {0, 1}, false, false, false},
                                     {97, 4, {}, true, true, true},        {64, 2, {0, 1}, false, false, false},
                                     {200, 3, {2}, true, false, false},    {5, 5, {4, 0}, false, true, true},
                                     {300, 1, {0}, false, false, true},    {2, 3, {}, false, true, false}};
  for (const int W : {4, 2, 1})
  for (const ElemType elem : {ElemType::f32, ElemType::f16, ElemType::bf16}) {
    if (W != 4 && elem != ElemType::f32) continue;  // how rows share warps does not depend on the type
    std::vector<Heads> heads;
    heads.reserve(shapes.size());  // UnitInput keeps pointers
    std::vector<UnitInput> units;
    for (const Shape& sh : shapes) {
      heads.push_back(make_heads(random_heads(sh.H, sh.S, rng, elem == ElemType::f32 ? 0 : 16), sh.S, elem));
      UnitInput u;
      u.heads = &heads.back();
      u.traced = sh.traced;
      u.mean = sh.mean;
      u.max = sh.max;
      if (sh.mask) u.key_mask = random_mask(sh.S, rng);
      units.push_back(u);
    }
    const int K = 6;
    const LaunchRun run = run_launch(units, K, 0.0, W);
    EXPECT_FALSE(run.checks.bad_values) << elem_name(elem);
    RowSumTally cpu_tally;
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      const Shape& sh = shapes[k];
      const Heads& h = heads[k];
      const std::uint8_t* mask = units[k].key_mask.empty() ? nullptr : units[k].key_mask.data();
      std::vector<std::vector<float>> matrices;
      for (const int t : sh.traced) matrices.push_back(h.widened[static_cast<std::size_t>(t)]);
      HeadAggregate agg(sh.S, true, true);
      for (int r = 0; r < sh.H; ++r) agg.add_head(h.head(r));
      if (sh.mean) matrices.push_back(agg.mean(sh.H));
      if (sh.max) matrices.push_back(agg.max());
      for (int r = 0; r < sh.H; ++r) check_attention_values(h.head(r), sh.S, "test", cpu_tally);  // every head is checked once
      ASSERT_EQ(run.tables[k].size(), matrices.size());
      for (std::size_t m = 0; m < matrices.size(); ++m) {
        const std::string what = fmt::format("{} W={} unit {} (S={}) matrix {}", elem_name(elem), W, k, sh.S, m);
        expect_same_table(build_candidate_table(matrices[m].data(), sh.S, mask, K, 0.0), run.tables[k][m], what);
        AttentionProfile cpu{};
        accumulate_attention_profile(matrices[m].data(), sh.S, cpu);
        for (int b = 0; b < kDistanceBins; ++b)
          EXPECT_NEAR(run.profiles[k][m][b], cpu.sum[b], 1e-9 * std::abs(cpu.sum[b])) << what << " bin " << b;
      }
    }
    EXPECT_EQ(run.checks.rows_off, cpu_tally.rows_off) << elem_name(elem) << " W=" << W;
  }
}

// A bad value in any unit of a launch raises the launch's flag; values above the diagonal never
// travel (packed layout), so a NaN there raises nothing.
TEST(GpuRowTopK, BadValueInAnyUnitOfALaunchIsFlagged) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(19);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const ElemType elem : {ElemType::f32, ElemType::f16}) {
    for (int bad_unit = -1; bad_unit < 3; ++bad_unit) {
      const int lengths[] = {40, 17, 70};
      std::vector<Heads> heads;
      heads.reserve(3);
      std::vector<UnitInput> units;
      for (int k = 0; k < 3; ++k) {
        std::vector<std::vector<float>> m = random_heads(2, lengths[k], rng);  // NaN above the diagonal
        if (k == bad_unit) m[1][static_cast<std::size_t>(lengths[k] - 1) * lengths[k] + 3] = -0.5f;
        heads.push_back(make_heads(m, lengths[k], elem));
        UnitInput u;
        u.heads = &heads.back();
        if (k == 1) u.mean = true;
        else u.traced = {0, 1};
        units.push_back(u);
      }
      for (const int W : {4, 1})
        EXPECT_EQ(run_launch(units, 5, 0.0, W).checks.bad_values, bad_unit >= 0)
            << elem_name(elem) << " bad unit " << bad_unit << " W=" << W;
    }
  }
}
