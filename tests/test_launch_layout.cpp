// The layout of one GPU launch of several units (gpu/launch_layout.hpp), and a CPU emulation of
// the way the top-K kernels, finish_tables and the beam search index it: every block mapped to its
// (matrix, row) with row_of_item, every row read from the packed heads at the packed offsets, every
// candidate row written at row_begin[m] + i; the tables must equal the CPU stage on the dense
// matrices. No GPU needed: this is the indexing the kernels run, on the host.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "gpu/launch_layout.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/detail/packed_layout.hpp"
#include "ratrace/detail/scoring.hpp"
#include "reference/aggregate.hpp"

using namespace ratrace;
using gpu::LaunchLayout;
using gpu::LaunchSpec;
using gpu::UnitSpec;

namespace {

UnitSpec unit(int S, int H, std::vector<std::int32_t> traced, bool mean, bool max) {
  UnitSpec u;
  u.seq_len = S;
  u.num_heads = H;
  u.traced = std::move(traced);
  u.mean = mean;
  u.max = max;
  return u;
}

std::vector<std::uint8_t> flags(int S, std::mt19937_64& rng, int one_in) {
  std::vector<std::uint8_t> f(static_cast<std::size_t>(S));
  for (auto& x : f) x = (rng() % one_in) == 0 ? 1 : 0;
  return f;
}

// Random causal matrix (rows sum to 1 over j <= i; NaN above the diagonal: it must not travel).
std::vector<float> random_head(int S, std::mt19937_64& rng) {
  std::vector<float> m(static_cast<std::size_t>(S) * S, std::numeric_limits<float>::quiet_NaN());
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < S; ++i) {
    std::vector<double> w(static_cast<std::size_t>(i) + 1);
    double total = 0.0;
    for (double& x : w) total += (x = u(rng) < 0.2 ? 0.0 : u(rng));
    for (int j = 0; j <= i; ++j)
      m[static_cast<std::size_t>(i) * S + j] = static_cast<float>(total > 0 ? w[j] / total : (j == i ? 1.0 : 0.0));
  }
  return m;
}

// One candidate row by the kernels' rule: keys j < i that pass mask and threshold, best K keys.
void emulate_row(const float* row, int i, const std::uint8_t* key_mask, int K, double min_attn, Candidate* out,
                 std::int32_t& count) {
  std::vector<std::uint64_t> keys;
  for (int j = 0; j < i; ++j)
    if ((key_mask == nullptr || key_mask[j] != 0) && detail::passes_threshold(row[j], min_attn))
      keys.push_back(detail::candidate_key(row[j], j));
  std::sort(keys.begin(), keys.end(), [](std::uint64_t a, std::uint64_t b) { return a > b; });
  count = static_cast<std::int32_t>(std::min<std::size_t>(keys.size(), static_cast<std::size_t>(K)));
  for (int r = 0; r < count; ++r) out[r] = Candidate{detail::candidate_key_pos(keys[r]), detail::candidate_key_attn(keys[r])};
}

}  // namespace

TEST(LaunchLayout, NumbersMatricesAndPlacesEveryPiece) {
  LaunchSpec spec;
  spec.top_k = 3;
  std::mt19937_64 rng(1);
  spec.units.push_back(unit(10, 2, {1, 0}, false, false));
  spec.units.push_back(unit(4, 3, {2}, true, true));
  spec.units.push_back(unit(7, 1, {}, false, true));
  spec.units.push_back(unit(5, 2, {0}, false, false));
  spec.units[0].key_mask = flags(10, rng, 2);
  spec.units[1].key_mask = flags(4, rng, 2);
  spec.units[2].key_mask = flags(7, rng, 2);
  spec.units[3].key_mask = {};
  spec.units[1].is_bos = {1, 0, 0, 1};
  spec.units[2].is_bos = {1, 0, 0, 0, 0, 0, 1};
  const LaunchLayout l = gpu::make_launch_layout(spec);

  // Packed heads back to back: 2 x 55, 3 x 10, 1 x 28, 2 x 15 elements.
  EXPECT_EQ(l.unit_raw_offset, (std::vector<std::int64_t>{0, 110, 140, 168}));
  EXPECT_EQ(l.raw_elems, 198);
  // Per-head matrices first (unit order, traced order), then mean/max per unit.
  ASSERT_EQ(l.num_matrices(), 7);
  EXPECT_EQ(l.num_head_matrices, 4);
  EXPECT_EQ(l.unit_matrices, (std::vector<std::vector<std::int32_t>>{{0, 1}, {2, 4, 5}, {6}, {3}}));
  EXPECT_EQ(l.row_begin, (std::vector<std::int64_t>{0, 10, 20, 24, 29, 33, 37, 44}));
  EXPECT_EQ(l.head_rows(), 29);
  EXPECT_EQ(l.matrices[0].raw_offset, 55);        // unit 0 head 1
  EXPECT_EQ(l.matrices[1].raw_offset, 0);         // unit 0 head 0
  EXPECT_EQ(l.matrices[2].raw_offset, 110 + 20);  // unit 1 head 2
  EXPECT_EQ(l.matrices[3].raw_offset, 168);       // unit 3 head 0
  EXPECT_EQ(l.matrices[4].raw_offset, -1);
  // Heads of units with aggregates are checked by the aggregate kernel, the others per head.
  EXPECT_EQ(l.matrices[0].check, 1);
  EXPECT_EQ(l.matrices[2].check, 0);
  EXPECT_EQ(l.matrices[3].check, 1);
  // Masks and BOS flags per unit (-1: none).
  EXPECT_EQ(l.matrices[0].mask_offset, 0);
  EXPECT_EQ(l.matrices[2].mask_offset, 10);
  EXPECT_EQ(l.matrices[6].mask_offset, 14);
  EXPECT_EQ(l.matrices[3].mask_offset, -1);
  EXPECT_EQ(l.matrices[0].bos_offset, -1);
  EXPECT_EQ(l.matrices[4].bos_offset, 0);
  EXPECT_EQ(l.matrices[6].bos_offset, 4);
  EXPECT_EQ(l.key_masks.size(), 21u);
  EXPECT_EQ(l.is_bos.size(), 11u);
  // Aggregates: units 1 and 2.
  ASSERT_EQ(l.aggregates.size(), 2u);
  EXPECT_EQ(l.aggregate_row_begin, (std::vector<std::int64_t>{0, 4, 11}));
  EXPECT_EQ(l.aggregates[0].raw_offset, 110);
  EXPECT_EQ(l.aggregates[0].num_heads, 3);
  EXPECT_EQ(l.aggregates[0].mean_matrix, 4);
  EXPECT_EQ(l.aggregates[0].max_matrix, 5);
  EXPECT_EQ(l.aggregates[1].mean_matrix, -1);
  EXPECT_EQ(l.aggregates[1].max_matrix, 6);
  EXPECT_EQ(l.max_aggregate_heads, 3);
  EXPECT_EQ(l.rows(), 44);
}

TEST(LaunchLayout, UnitsOfOneSequenceShareTheirFlags) {
  LaunchSpec spec;
  const std::vector<std::uint8_t> mask = {1, 0, 1, 1, 1};
  for (int k = 0; k < 3; ++k) {
    spec.units.push_back(unit(5, 1, {0}, false, false));
    spec.units.back().key_mask = mask;
    spec.units.back().is_bos = {1, 0, 0, 0, 0};
  }
  spec.units[2].key_mask = {1, 1, 1, 1, 0};  // another sequence
  const LaunchLayout l = gpu::make_launch_layout(spec);
  EXPECT_EQ(l.key_masks.size(), 10u);
  EXPECT_EQ(l.is_bos.size(), 5u);
  EXPECT_EQ(l.matrices[1].mask_offset, 0);
  EXPECT_EQ(l.matrices[2].mask_offset, 5);
  EXPECT_EQ(l.matrices[2].bos_offset, 0);
}

TEST(LaunchLayout, RejectsInconsistentUnits) {
  LaunchSpec spec;
  spec.units.push_back(unit(5, 2, {2}, false, false));
  EXPECT_THROW(gpu::make_launch_layout(spec), std::invalid_argument);
  spec.units[0] = unit(5, 2, {1}, false, false);
  spec.units[0].key_mask = {1, 1};
  EXPECT_THROW(gpu::make_launch_layout(spec), std::invalid_argument);
  spec.units[0] = unit(5, 0, {}, true, false);
  EXPECT_THROW(gpu::make_launch_layout(spec), std::invalid_argument);
}

// The kernels' indexing, on the host: the tables of a mixed launch equal the CPU stage.
TEST(LaunchLayout, EmulatedKernelsIndexingMatchesTheCpuStage) {
  std::mt19937_64 rng(7);
  const int K = 4;
  const double min_attn = 0.01;
  LaunchSpec spec;
  spec.top_k = K;
  spec.min_attn = min_attn;
  spec.units.push_back(unit(33, 3, {0, 2}, false, false));
  spec.units.push_back(unit(1, 2, {1}, false, false));
  spec.units.push_back(unit(20, 4, {3}, true, true));
  spec.units.push_back(unit(64, 2, {}, true, false));
  spec.units.push_back(unit(9, 2, {1, 0}, false, false));
  spec.units.push_back(unit(12, 3, {}, false, true));
  std::vector<std::vector<std::vector<float>>> dense;  // [unit][head] dense [S][S]
  for (UnitSpec& u : spec.units) {
    dense.emplace_back();
    for (int h = 0; h < u.num_heads; ++h) dense.back().push_back(random_head(u.seq_len, rng));
    if (rng() % 2) {  // about one key in four masked out
      u.key_mask = flags(u.seq_len, rng, 4);
      for (auto& x : u.key_mask) x = x ? 0 : 1;
    }
    u.is_bos = flags(u.seq_len, rng, 5);
  }
  const LaunchLayout l = gpu::make_launch_layout(spec);

  // Stage the launch as the engine does: every unit's heads packed at unit_raw_offset.
  std::vector<float> raw(static_cast<std::size_t>(l.raw_elems), -7.0f);
  for (std::size_t u = 0; u < spec.units.size(); ++u)
    for (int h = 0; h < spec.units[u].num_heads; ++h)
      detail::pack_lower_triangle(dense[u][h].data(), spec.units[u].seq_len, sizeof(float),
                                  raw.data() + l.unit_raw_offset[u] + h * detail::packed_matrix_elems(spec.units[u].seq_len));
  for (const float v : raw) ASSERT_NE(v, -7.0f) << "a packed element was not staged";

  const auto rows = static_cast<std::size_t>(l.rows());
  std::vector<Candidate> entries(rows * K, Candidate{-2, -2.0f});
  std::vector<std::int32_t> count(rows, -1);
  std::vector<int> writes(rows, 0);

  // head_topk_kernel: block b -> (m, i); row at matrices[m].raw_offset + packed_row_offset(i).
  for (std::int64_t b = 0; b < l.head_rows(); ++b) {
    const detail::SegmentRow at = detail::row_of_item(l.row_begin.data(), l.num_head_matrices, b);
    const gpu::MatrixDesc d = l.matrices[static_cast<std::size_t>(at.matrix)];
    const float* row = raw.data() + d.raw_offset + detail::packed_row_offset(at.row);
    const std::uint8_t* mask = d.mask_offset >= 0 ? l.key_masks.data() + d.mask_offset : nullptr;
    const auto r = static_cast<std::size_t>(l.row_begin[static_cast<std::size_t>(at.matrix)] + at.row);
    emulate_row(row, at.row, mask, K, min_attn, &entries[r * K], count[r]);
    ++writes[r];
  }
  // aggregate_topk_kernel: block b -> (aggregate, i); head h at raw_offset + h * packed_matrix_elems(S).
  for (std::int64_t b = 0; b < l.aggregate_rows(); ++b) {
    const detail::SegmentRow at = detail::row_of_item(l.aggregate_row_begin.data(), static_cast<int>(l.aggregates.size()), b);
    const gpu::AggregateDesc g = l.aggregates[static_cast<std::size_t>(at.matrix)];
    const int i = at.row;
    const std::int64_t stride = detail::packed_matrix_elems(g.seq_len);
    const float* row0 = raw.data() + g.raw_offset + detail::packed_row_offset(i);
    std::vector<float> mean(static_cast<std::size_t>(i) + 1), mx(static_cast<std::size_t>(i) + 1);
    for (int j = 0; j <= i; ++j) {
      double sum = 0.0;
      float best = -std::numeric_limits<float>::max();
      for (int h = 0; h < g.num_heads; ++h) {
        const float v = row0[h * stride + j];
        sum += static_cast<double>(v);
        best = std::max(best, v);
      }
      mean[j] = static_cast<float>(sum / static_cast<double>(g.num_heads));
      mx[j] = best;
    }
    const std::uint8_t* mask = g.mask_offset >= 0 ? l.key_masks.data() + g.mask_offset : nullptr;
    for (const auto& [m, values] : {std::pair{g.mean_matrix, &mean}, std::pair{g.max_matrix, &mx}}) {
      if (m < 0) continue;
      const auto r = static_cast<std::size_t>(l.row_begin[static_cast<std::size_t>(m)] + i);
      emulate_row(values->data(), i, mask, K, min_attn, &entries[r * K], count[r]);
      ++writes[r];
    }
  }
  for (std::size_t r = 0; r < rows; ++r) ASSERT_EQ(writes[r], 1) << "table row " << r << " written " << writes[r] << " times";

  // The tables, read back per unit and local matrix as the engine does, against the CPU stage.
  for (std::size_t u = 0; u < spec.units.size(); ++u) {
    const UnitSpec& s = spec.units[u];
    const std::uint8_t* mask = s.key_mask.empty() ? nullptr : s.key_mask.data();
    std::vector<std::vector<float>> expected;
    for (const std::int32_t t : s.traced) expected.push_back(dense[u][static_cast<std::size_t>(t)]);
    HeadAggregate agg(s.seq_len, true, true);
    for (const auto& h : dense[u]) agg.add_head(h.data());
    if (s.mean) expected.push_back(agg.mean(s.num_heads));
    if (s.max) expected.push_back(agg.max());
    ASSERT_EQ(l.unit_matrices[u].size(), expected.size());
    for (std::size_t lm = 0; lm < expected.size(); ++lm) {
      const auto m = static_cast<std::size_t>(l.unit_matrices[u][lm]);
      ASSERT_EQ(l.row_begin[m + 1] - l.row_begin[m], s.seq_len) << "unit " << u << " matrix " << lm;
      const CandidateTable cpu = build_candidate_table(expected[lm].data(), s.seq_len, mask, K, min_attn);
      for (int i = 0; i < s.seq_len; ++i) {
        const auto r = static_cast<std::size_t>(l.row_begin[m] + i);
        ASSERT_EQ(count[r], cpu.size(i)) << "unit " << u << " matrix " << lm << " row " << i;
        for (int k = 0; k < cpu.size(i); ++k) {
          EXPECT_EQ(entries[r * K + k].pos, cpu.at(i, k).pos) << "unit " << u << " matrix " << lm << " row " << i;
          EXPECT_EQ(entries[r * K + k].attn, cpu.at(i, k).attn) << "unit " << u << " matrix " << lm << " row " << i;
        }
      }
    }
  }

  // finish_tables_kernel: table row -> its matrix (segment_of over all matrices) -> its BOS flags;
  // beam_search_kernel: a job on matrix m reads rows row_begin[m] + position.
  for (std::int64_t r = 0; r < l.rows(); ++r) {
    const int m = detail::segment_of(l.row_begin.data(), l.num_matrices(), r);
    std::size_t u = 0;
    while (std::find(l.unit_matrices[u].begin(), l.unit_matrices[u].end(), m) == l.unit_matrices[u].end()) ++u;
    const gpu::MatrixDesc d = l.matrices[static_cast<std::size_t>(m)];
    ASSERT_GE(d.bos_offset, 0);
    for (int pos = 0; pos < spec.units[u].seq_len; ++pos)
      ASSERT_EQ(l.is_bos[static_cast<std::size_t>(d.bos_offset + pos)], spec.units[u].is_bos[static_cast<std::size_t>(pos)]);
  }
}
