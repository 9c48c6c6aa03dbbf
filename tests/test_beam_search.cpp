// Stage (b): the beam search of SPEC §1.3, on hand-checked matrices.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/detail/scoring.hpp"
#include "support/matrices.hpp"
#include "support/oracle.hpp"
#include "support/search_params.hpp"

using namespace ratrace;
using ratrace::detail::edge_logprob;
using ratrace::testing_support::dense_from_rows;
using ratrace::testing_support::make_params;
using ratrace::testing_support::worked_example;
using Paths = std::vector<std::vector<std::int32_t>>;

namespace {

std::vector<PathResult> trace(const std::vector<float>& A, int S, int target, const SearchParams& p,
                              const std::uint8_t* mask = nullptr, const std::uint8_t* is_bos = nullptr,
                              std::vector<SearchStep>* steps = nullptr) {
  const CandidateTable table = build_candidate_table(A.data(), S, mask, p.top_k, p.min_attn);
  return beam_search(table.ref(), target, is_bos, p, steps);
}

Paths positions_of(const std::vector<PathResult>& results) {
  Paths out;
  for (const PathResult& r : results) out.push_back(r.positions);
  return out;
}

// sum of edge_logprob in path order, the way SPEC §1.2 states it.
double raw_of(std::initializer_list<float> edges) {
  double raw = 0.0;
  for (const float a : edges) raw += edge_logprob(a);
  return raw;
}

}  // namespace

TEST(BeamSearch, WorkedExampleStepByStep) {
  const std::vector<float> A = worked_example();
  std::vector<SearchStep> steps;
  const auto results = trace(A, 6, 5, make_params(2, 3, "none"), nullptr, nullptr, &steps);
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[0].active, (Paths{{5, 4}, {5, 2}}));
  EXPECT_EQ(steps[0].terminal, Paths{});
  EXPECT_EQ(steps[1].active, (Paths{{5, 4, 3}, {5, 2, 1}}));
  EXPECT_EQ(steps[1].terminal, (Paths{{5, 2, 0}, {5, 4, 0}}));  // 0.09 before 0.04
  // Step 3: an exact tie (A[3][1] == A[3][2] == 0.2f). C(3) lists j=1 before j=2 and the sort is
  // stable, so 5>4>3>1 stays first.
  EXPECT_EQ(steps[2].active, (Paths{{5, 4, 3, 1}, {5, 4, 3, 2}}));
  EXPECT_EQ(A[3 * 6 + 1], A[3 * 6 + 2]);
  EXPECT_EQ(steps[2].terminal, (Paths{{5, 2, 1, 0}, {5, 4, 3, 0}}));
  EXPECT_EQ(steps[3].active, (Paths{{5, 4, 3, 2, 1}}));  // 5>4>3>1>0 and 5>4>3>2>0 ended
  EXPECT_EQ(steps[3].terminal, (Paths{{5, 2, 1, 0}, {5, 4, 3, 0}}));
  EXPECT_EQ(steps[4].active, Paths{});
  EXPECT_EQ(steps[4].terminal, (Paths{{5, 2, 1, 0}, {5, 4, 3, 0}}));
}

TEST(BeamSearch, WorkedExampleWithoutNormalisation) {
  const std::vector<float> A = worked_example();
  const auto results = trace(A, 6, 5, make_params(2, 3, "none"));
  ASSERT_EQ(positions_of(results), (Paths{{5, 2, 1, 0}, {5, 4, 3, 0}}));
  // Hand-checked: log(0.3 * 0.6 * 0.9) = log(0.162), log(0.4 * 0.5 * 0.5) = log(0.1).
  EXPECT_NEAR(results[0].score_raw, -1.820159, 1e-6);
  EXPECT_NEAR(results[1].score_raw, -2.302585, 1e-6);
  EXPECT_EQ(results[0].score_raw, raw_of({0.3f, 0.6f, 0.9f}));
  EXPECT_EQ(results[1].score_raw, raw_of({0.4f, 0.5f, 0.5f}));
  EXPECT_EQ(results[0].score_norm, results[0].score_raw);
  EXPECT_TRUE(std::isnan(results[0].edge_attn[0]));
  EXPECT_EQ(results[0].edge_attn[1], 0.3f);
  EXPECT_EQ(results[0].edge_attn[2], 0.6f);
  EXPECT_EQ(results[0].edge_attn[3], 0.9f);
}

TEST(BeamSearch, WorkedExampleWithAvgLogprob) {
  const std::vector<float> A = worked_example();
  const auto results = trace(A, 6, 5, make_params(2, 3, "avg_logprob"));
  ASSERT_EQ(positions_of(results), (Paths{{5, 2, 1, 0}, {5, 4, 3, 2, 1, 0}}));
  // log(0.162) / 3 and log(0.4 * 0.5 * 0.2 * 0.6 * 0.9) / 5 = log(0.0216) / 5; it edges out
  // 5>4>3>0 (log(0.1) / 3 = -0.767528).
  EXPECT_NEAR(results[0].score_norm, -0.606720, 1e-6);
  EXPECT_NEAR(results[1].score_norm, -0.767012, 1e-6);
  EXPECT_EQ(results[0].score_raw, raw_of({0.3f, 0.6f, 0.9f}));
  EXPECT_EQ(results[0].score_norm, raw_of({0.3f, 0.6f, 0.9f}) / 3.0);
  EXPECT_EQ(results[1].score_raw, raw_of({0.4f, 0.5f, 0.2f, 0.6f, 0.9f}));
  EXPECT_EQ(results[1].score_norm, raw_of({0.4f, 0.5f, 0.2f, 0.6f, 0.9f}) / 5.0);
  EXPECT_TRUE(std::isnan(results[1].edge_attn[0]));
  EXPECT_EQ(std::vector<float>(results[1].edge_attn.begin() + 1, results[1].edge_attn.end()),
            (std::vector<float>{0.4f, 0.5f, 0.2f, 0.6f, 0.9f}));
}

TEST(BeamSearch, BeamBeatsGreedy) {
  // Greedy follows 0.9 then 0.2 (product 0.18); the beam finds 0.6 * 0.6 * 0.6 = 0.216.
  // (Row 4 is not a distribution; stage (b) does not care.)
  const std::vector<float> A = dense_from_rows({
      {1.0f},
      {0.6f, 0.4f},
      {0.1f, 0.6f, 0.3f},
      {0.2f, 0.05f, 0.05f, 0.7f},
      {0.0f, 0.0f, 0.6f, 0.9f, 0.0f},
  });
  const auto beam = trace(A, 5, 4, make_params(2, 2, "none"));
  ASSERT_EQ(positions_of(beam), (Paths{{4, 2, 1, 0}, {4, 3, 0}}));
  EXPECT_NEAR(std::exp(beam[0].score_raw), 0.216, 1e-6);
  EXPECT_NEAR(std::exp(beam[1].score_raw), 0.18, 1e-6);
  const auto greedy = trace(A, 5, 4, make_params(1, 2, "none"));
  EXPECT_EQ(positions_of(greedy), (Paths{{4, 3, 0}}));
}

TEST(BeamSearch, EachLengthNormRanksItsOwnWay) {
  // Three paths from 7: P1 = 7>0 (raw -1.0), P2 = 7>3>0 (raw -1.3), P3 = 7>6>5>4>0 (raw -2.2).
  const float e1 = std::exp(-1.0f), e2 = std::exp(-0.65f), e3 = std::exp(-0.55f);
  std::vector<float> A(64, 0.0f);
  auto set = [&](int i, int j, float a) { A[i * 8 + j] = a; };
  set(7, 0, e1);
  set(7, 3, e2);
  set(3, 0, e2);
  set(7, 6, e3);
  set(6, 5, e3);
  set(5, 4, e3);
  set(4, 0, e3);
  const Paths P1 = {{7, 0}}, P2 = {{7, 3, 0}}, P3 = {{7, 6, 5, 4, 0}};
  auto ranking = [&](const char* norm) { return positions_of(trace(A, 8, 7, make_params(3, 3, norm))); };
  const Paths none = {P1[0], P2[0], P3[0]};     // -1.0, -1.3, -2.2
  const Paths sqrt_ = {P2[0], P1[0], P3[0]};    // -0.919, -1.0, -1.1
  const Paths avg = {P3[0], P2[0], P1[0]};      // -0.55, -0.65, -1.0
  EXPECT_EQ(ranking("none"), none);
  EXPECT_EQ(ranking("sqrt"), sqrt_);
  EXPECT_EQ(ranking("pow:0.5"), sqrt_);
  EXPECT_EQ(ranking("avg_logprob"), avg);
  EXPECT_EQ(ranking("pow:1"), avg);
  EXPECT_EQ(ranking("pow:2"), avg);  // -0.1375, -0.325, -1.0
  EXPECT_EQ(ranking("pow:0"), none);
  const auto pow2 = trace(A, 8, 7, make_params(3, 3, "pow:2"));
  EXPECT_EQ(pow2[0].score_norm, pow2[0].score_raw / 16.0);
  EXPECT_EQ(pow2[1].score_norm, pow2[1].score_raw / 4.0);
  const auto sq = trace(A, 8, 7, make_params(3, 3, "sqrt"));
  EXPECT_EQ(sq[0].score_norm, sq[0].score_raw / std::sqrt(2.0));
  EXPECT_NEAR(sq[0].score_norm, -1.3 / std::sqrt(2.0), 1e-6);
}

TEST(BeamSearch, MinAttnPruningEverythingLeavesTheTargetAlone) {
  const std::vector<float> A = worked_example();
  for (const char* norm : {"none", "avg_logprob", "sqrt", "pow:0.7"}) {
    const auto results = trace(A, 6, 5, make_params(5, 5, norm, 0.95));
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].positions, (std::vector<std::int32_t>{5}));
    ASSERT_EQ(results[0].edge_attn.size(), 1u);
    EXPECT_TRUE(std::isnan(results[0].edge_attn[0]));
    EXPECT_EQ(results[0].score_raw, 0.0);
    EXPECT_EQ(results[0].score_norm, 0.0);
  }
}

TEST(BeamSearch, TargetZeroIsOneEmptyPath) {
  const std::vector<float> A = worked_example();
  std::vector<SearchStep> steps;
  const auto results = trace(A, 6, 0, make_params(5, 5), nullptr, nullptr, &steps);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].positions, (std::vector<std::int32_t>{0}));
  EXPECT_EQ(results[0].score_raw, 0.0);
  EXPECT_EQ(results[0].score_norm, 0.0);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].terminal, (Paths{{0}}));
}

TEST(BeamSearch, MaskedKeysNeverAppearButAMaskedTargetIsTraced) {
  const std::vector<float> A = worked_example();
  const std::vector<std::uint8_t> mask = {1, 1, 0, 1, 1, 1};  // key 2 masked
  const SearchParams p = make_params(5, 3, "none");
  const auto results = trace(A, 6, 5, p, mask.data());
  ASSERT_FALSE(results.empty());
  for (const PathResult& r : results)
    for (const int pos : r.positions) EXPECT_NE(pos, 2);
  // 0.2 * 0.9, 0.4 * 0.3 * 0.9, 0.4 * 0.5 * 0.5, 0.05, 0.4 * 0.1
  EXPECT_EQ(positions_of(results), (Paths{{5, 1, 0}, {5, 4, 1, 0}, {5, 4, 3, 0}, {5, 0}, {5, 4, 0}}));
  // Position 2 itself may still be a target.
  const auto from2 = trace(A, 6, 2, p, mask.data());
  EXPECT_EQ(positions_of(from2), (Paths{{2, 1, 0}, {2, 0}}));  // 0.54, 0.3
}

TEST(BeamSearch, StopsAtBosUnlessToldNotTo) {
  const std::vector<float> A = worked_example();
  const std::vector<std::uint8_t> bos = {0, 1, 0, 0, 0, 0};  // position 1 is BOS
  const auto stopped = trace(A, 6, 5, make_params(3, 3, "none"), nullptr, bos.data());
  // Paths end at the BOS: 5>1 (0.2), 5>2>1 (0.18), 5>4>1 (0.12); 5>4>3>0 (0.1) is next.
  EXPECT_EQ(positions_of(stopped), (Paths{{5, 1}, {5, 2, 1}, {5, 4, 1}}));
  for (const PathResult& r : stopped) EXPECT_TRUE(r.positions.back() == 0 || r.positions.back() == 1);
  // With stop_at_bos off the BOS flags do not matter.
  const auto through = trace(A, 6, 5, make_params(3, 3, "none", 0.0, false), nullptr, bos.data());
  const auto plain = trace(A, 6, 5, make_params(3, 3, "none", 0.0, false));
  EXPECT_EQ(positions_of(through), positions_of(plain));
  EXPECT_EQ(positions_of(through), (Paths{{5, 1, 0}, {5, 2, 1, 0}, {5, 4, 1, 0}}));  // 0.18, 0.162, 0.108
  // The target itself is never checked for BOS.
  const auto from_bos = trace(A, 6, 1, make_params(3, 3, "none"), nullptr, bos.data());
  EXPECT_EQ(positions_of(from_bos), (Paths{{1, 0}}));
}

TEST(BeamSearch, EqualTerminalScoresKeepAppendOrder) {
  // 2>0 ends in step 1 (raw log 0.5); 2>1>0 ends in step 2 with log 0.5 + log 1 == log 0.5 exactly.
  const std::vector<float> A = dense_from_rows({{1.0f}, {1.0f, 0.0f}, {0.5f, 0.5f, 0.0f}});
  const auto both = trace(A, 3, 2, make_params(2, 2, "none"));
  ASSERT_EQ(positions_of(both), (Paths{{2, 0}, {2, 1, 0}}));
  EXPECT_EQ(both[0].score_norm, both[1].score_norm);
  const auto one = trace(A, 3, 2, make_params(1, 2, "none"));
  EXPECT_EQ(positions_of(one), (Paths{{2, 0}}));
  // An active beam that finishes without candidates is appended during the loop, before the
  // beams that end in the same step: with a 1.0 edge both have equal scores.
  const std::vector<float> B = dense_from_rows({{1.0f}, {0.0f, 1.0f}, {0.5f, 0.0f, 0.0f}, {0.0f, 0.5f, 1.0f, 0.0f}});
  // Step 1: 3>1 (0.5), 3>2 (1.0) go on. Step 2: 3>1 has no candidates (appended in the loop,
  // raw log 0.5); 3>2>0 ends (raw 0 + log 0.5, appended after the loop).
  const auto loop_first = trace(B, 4, 3, make_params(2, 2, "none"));
  EXPECT_EQ(positions_of(loop_first), (Paths{{3, 1}, {3, 2, 0}}));
  EXPECT_EQ(loop_first[0].score_raw, loop_first[1].score_raw);
}

TEST(BeamSearch, TopBeamAndTopK32OnALongerMatrix) {
  std::mt19937_64 rng(3);
  const int S = 96;
  const std::vector<float> A = testing_support::random_matrix(S, rng, 0, 0.0);
  const SearchParams p = make_params(32, 32, "avg_logprob");
  const auto results = trace(A, S, S - 1, p);
  EXPECT_EQ(results.size(), 32u);
  const auto want = oracle::trace(A.data(), S, nullptr, nullptr, S - 1, p);
  ASSERT_EQ(results.size(), want.size());
  for (std::size_t r = 0; r < want.size(); ++r) {
    EXPECT_EQ(results[r].positions, want[r].positions);
    EXPECT_EQ(results[r].score_norm, want[r].score_norm);
  }
  for (std::size_t r = 1; r < results.size(); ++r) EXPECT_GE(results[r - 1].score_norm, results[r].score_norm);
}

TEST(BeamSearch, LongPreviousTokenChain) {
  // A previous-token head on S = 3000: one path of 2999 edges, no recursion, no path copies.
  const int S = 3000;
  std::vector<float> A(static_cast<std::size_t>(S) * S, 0.0f);
  A[0] = 1.0f;
  for (int i = 1; i < S; ++i) {
    A[static_cast<std::size_t>(i) * S + i - 1] = 0.75f;
    A[static_cast<std::size_t>(i) * S + i] = 0.25f;
  }
  const auto results = trace(A, S, S - 1, make_params(5, 5, "avg_logprob"));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].positions.size(), static_cast<std::size_t>(S));
  for (int k = 0; k < S; ++k) EXPECT_EQ(results[0].positions[k], S - 1 - k);
  double raw = 0.0;
  for (int k = 1; k < S; ++k) raw += edge_logprob(0.75f);
  EXPECT_EQ(results[0].score_raw, raw);
  EXPECT_EQ(results[0].score_norm, raw / (S - 1));
}

TEST(BeamSearch, RejectsTargetOutsideTheMatrix) {
  const std::vector<float> A = worked_example();
  EXPECT_THROW(trace(A, 6, 6, make_params(2, 2)), std::invalid_argument);
  EXPECT_THROW(trace(A, 6, -1, make_params(2, 2)), std::invalid_argument);
}

TEST(PathWeights, SoftmaxWithMaxSubtracted) {
  const std::vector<double> w = path_weights({-1.0, -2.0, -1.0});
  const double e = std::exp(-1.0);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_NEAR(w[0], 1.0 / (2.0 + e), 1e-15);
  EXPECT_NEAR(w[1], e / (2.0 + e), 1e-15);
  EXPECT_EQ(w[0], w[2]);
  // Huge magnitudes do not overflow or underflow to nothing: the max is subtracted first.
  const std::vector<double> big = path_weights({-5000.0, -5001.0});
  EXPECT_NEAR(big[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-15);
  EXPECT_EQ(path_weights({0.0}), (std::vector<double>{1.0}));
  EXPECT_TRUE(path_weights({}).empty());
}
