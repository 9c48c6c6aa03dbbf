// Stage (a): candidate tables (SPEC §1.1).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "ratrace/candidate_table.hpp"
#include "reference/candidate_rows.hpp"
#include "support/matrices.hpp"
#include "support/oracle.hpp"

using namespace ratrace;
using ratrace::testing_support::dense_from_rows;
using ratrace::testing_support::worked_example;

namespace {

std::vector<std::pair<int, float>> row_of(const CandidateTable& t, int i) {
  std::vector<std::pair<int, float>> out;
  for (int r = 0; r < t.size(i); ++r) out.emplace_back(t.at(i, r).pos, t.at(i, r).attn);
  return out;
}

using Row = std::vector<std::pair<int, float>>;

}  // namespace

TEST(CandidateTable, WorkedExampleRows) {
  const std::vector<float> A = worked_example();
  const CandidateTable t = build_candidate_table(A.data(), 6, nullptr, 3, 0.0);
  EXPECT_EQ(t.seq_len(), 6);
  EXPECT_EQ(t.top_k(), 3);
  EXPECT_EQ(row_of(t, 0), Row{});  // row 0 has no predecessors
  EXPECT_EQ(row_of(t, 1), (Row{{0, 0.9f}}));
  EXPECT_EQ(row_of(t, 2), (Row{{1, 0.6f}, {0, 0.3f}}));
  EXPECT_EQ(row_of(t, 3), (Row{{0, 0.5f}, {1, 0.2f}, {2, 0.2f}}));  // tie 0.2: j ascending
  EXPECT_EQ(row_of(t, 4), (Row{{3, 0.5f}, {1, 0.3f}, {0, 0.1f}}));  // the zero at j=2 never counts
  EXPECT_EQ(row_of(t, 5), (Row{{4, 0.4f}, {2, 0.3f}, {1, 0.2f}}));
  // The view sees the same entries.
  const candidate_table_ref ref = t.ref();
  EXPECT_EQ(ref.size(5), 3);
  EXPECT_EQ(ref.at(5, 1).pos, 2);
}

TEST(CandidateTable, NeverReadsTheDiagonalOrAbove) {
  // Huge values on the diagonal, NaN above it (dense_from_rows' default): neither may appear.
  const std::vector<float> A = dense_from_rows({{7.0f}, {0.25f, 9.0f}, {0.5f, 0.25f, 8.0f}});
  const CandidateTable t = build_candidate_table(A.data(), 3, nullptr, 5, 0.0);
  EXPECT_EQ(row_of(t, 1), (Row{{0, 0.25f}}));
  EXPECT_EQ(row_of(t, 2), (Row{{0, 0.5f}, {1, 0.25f}}));
}

TEST(CandidateTable, TiesFromQuantisedWeightsGoByPositionAscending) {
  const std::vector<float> A = dense_from_rows({
      {1.0f},
      {1.0f, 0.0f},
      {0.5f, 0.5f, 0.0f},
      {0.25f, 0.25f, 0.25f, 0.25f},
      {0.125f, 0.25f, 0.125f, 0.25f, 0.25f},
  });
  const CandidateTable t = build_candidate_table(A.data(), 5, nullptr, 3, 0.0);
  EXPECT_EQ(row_of(t, 2), (Row{{0, 0.5f}, {1, 0.5f}}));
  EXPECT_EQ(row_of(t, 3), (Row{{0, 0.25f}, {1, 0.25f}, {2, 0.25f}}));
  EXPECT_EQ(row_of(t, 4), (Row{{1, 0.25f}, {3, 0.25f}, {0, 0.125f}}));
}

TEST(CandidateTable, TopKOfOneAndMoreThanAvailable) {
  const std::vector<float> A = worked_example();
  const CandidateTable k1 = build_candidate_table(A.data(), 6, nullptr, 1, 0.0);
  EXPECT_EQ(row_of(k1, 3), (Row{{0, 0.5f}}));
  EXPECT_EQ(row_of(k1, 5), (Row{{4, 0.4f}}));
  const CandidateTable k32 = build_candidate_table(A.data(), 6, nullptr, 32, 0.0);
  EXPECT_EQ(k32.top_k(), 32);
  EXPECT_EQ(row_of(k32, 5), (Row{{4, 0.4f}, {2, 0.3f}, {1, 0.2f}, {0, 0.05f}}));
  EXPECT_EQ(row_of(k32, 4), (Row{{3, 0.5f}, {1, 0.3f}, {0, 0.1f}}));
}

TEST(CandidateTable, MaskedKeysAreNeverCandidates) {
  const std::vector<float> A = worked_example();
  const std::vector<std::uint8_t> mask = {1, 0, 1, 1, 1, 1};  // key 1 masked
  const CandidateTable t = build_candidate_table(A.data(), 6, mask.data(), 3, 0.0);
  EXPECT_EQ(row_of(t, 1), (Row{{0, 0.9f}}));  // a masked position still has its own candidates
  EXPECT_EQ(row_of(t, 2), (Row{{0, 0.3f}}));
  EXPECT_EQ(row_of(t, 3), (Row{{0, 0.5f}, {2, 0.2f}}));
  EXPECT_EQ(row_of(t, 5), (Row{{4, 0.4f}, {2, 0.3f}, {0, 0.05f}}));
}

TEST(CandidateTable, MinAttnComparesTheFloatWidenedToDouble) {
  const std::vector<float> A = dense_from_rows({{1.0f}, {0.1f, 0.9f}, {0.1f, 0.2f, 0.7f}});
  // 0.1f is 0.100000001490116..., so it passes tau = 0.1 and tau = double(0.1f) ...
  EXPECT_EQ(row_of(build_candidate_table(A.data(), 3, nullptr, 5, 0.1), 2), (Row{{1, 0.2f}, {0, 0.1f}}));
  EXPECT_EQ(row_of(build_candidate_table(A.data(), 3, nullptr, 5, double(0.1f)), 2), (Row{{1, 0.2f}, {0, 0.1f}}));
  // ... but not the next double above it.
  const double just_above = std::nextafter(double(0.1f), 1.0);
  EXPECT_EQ(row_of(build_candidate_table(A.data(), 3, nullptr, 5, just_above), 2), (Row{{1, 0.2f}}));
  EXPECT_EQ(row_of(build_candidate_table(A.data(), 3, nullptr, 5, just_above), 1), Row{});
  // tau above every weight leaves no candidates anywhere.
  const CandidateTable none = build_candidate_table(A.data(), 3, nullptr, 5, 0.95);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(none.size(i), 0);
}

TEST(CandidateTable, ZerosAreNeverCandidatesEvenWithTauZero) {
  const std::vector<float> A = dense_from_rows({{1.0f}, {0.0f, 1.0f}, {0.0f, -0.0f, 1.0f}});
  const CandidateTable t = build_candidate_table(A.data(), 3, nullptr, 5, 0.0);
  EXPECT_EQ(t.size(1), 0);
  EXPECT_EQ(t.size(2), 0);
}

TEST(CandidateTable, RejectsTopKOutsideOneTo32) {
  const std::vector<float> A = worked_example();
  EXPECT_THROW(build_candidate_table(A.data(), 6, nullptr, 0, 0.0), std::invalid_argument);
  EXPECT_THROW(build_candidate_table(A.data(), 6, nullptr, 33, 0.0), std::invalid_argument);
}

TEST(CandidateTable, MatchesRowScanOracleOnRandomMatrices) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const int S = 1 + static_cast<int>(rng() % 70);
    const int K = 1 + static_cast<int>(rng() % 32);
    const int levels = trial % 3 == 0 ? 0 : 4 + static_cast<int>(rng() % 12);
    const std::vector<float> A = testing_support::random_matrix(S, rng, levels, 0.3);
    std::vector<std::uint8_t> mask(S, 1);
    for (auto& m : mask) m = rng() % 5 == 0 ? 0 : 1;
    const double tau = trial % 2 == 0 ? 0.0 : (rng() % 100) / 1000.0;
    const CandidateTable t = build_candidate_table(A.data(), S, mask.data(), K, tau);
    // Split into uneven row ranges, as the engine does across threads: same table.
    CandidateTable split(S, K);
    for (int b = 0; b < S; b += 7) build_candidate_rows(A.data(), S, mask.data(), tau, b, std::min(S, b + 7), split);
    for (int i = 0; i < S; ++i) {
      const std::vector<Candidate> want = oracle::candidates(A.data(), S, mask.data(), i, K, tau);
      ASSERT_EQ(t.size(i), static_cast<int>(want.size())) << "S=" << S << " row " << i;
      ASSERT_EQ(split.size(i), t.size(i));
      for (int r = 0; r < t.size(i); ++r) {
        EXPECT_EQ(t.at(i, r).pos, want[r].pos);
        EXPECT_EQ(t.at(i, r).attn, want[r].attn);
        EXPECT_EQ(split.at(i, r).pos, want[r].pos);
      }
    }
  }
}
