// The two-stage engine (candidate table + beam search) against the brute-force oracle of
// tests/support/oracle.hpp, on many random small matrices and every target: bit-equal results.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "support/matrices.hpp"
#include "support/oracle.hpp"

using namespace ratrace;
using ratrace::testing_support::bits_of;

namespace {

const char* const kNorms[] = {"none", "avg_logprob", "sqrt", "pow:0.5", "pow:0.7", "pow:2", "pow:1.3"};

struct Case {
  int S = 0;
  std::vector<float> A;
  std::vector<std::uint8_t> mask;  // empty = none
  std::vector<std::uint8_t> bos;   // empty = none
  SearchParams params;
  std::string describe() const {
    return "S=" + std::to_string(S) + " K=" + std::to_string(params.top_k) + " B=" + std::to_string(params.top_beam) +
           " tau=" + std::to_string(params.min_attn) + " norm=" + params.length_norm.to_string() +
           " mask=" + (mask.empty() ? "no" : "yes") + " bos=" + (bos.empty() ? "no" : "yes") +
           " stop_at_bos=" + (params.stop_at_bos ? "yes" : "no");
  }
};

Case random_case(std::mt19937_64& rng, int trial) {
  Case c;
  c.S = 1 + static_cast<int>(rng() % 24);
  // Tie-heavy quantised weights most of the time (including very coarse levels), some zeros.
  const int level_choice = static_cast<int>(rng() % 4);
  const int levels = level_choice == 0 ? 0 : level_choice == 1 ? 2 + static_cast<int>(rng() % 4) : 4 + static_cast<int>(rng() % 20);
  c.A = testing_support::random_matrix(c.S, rng, levels, (rng() % 4) * 0.15);
  if (rng() % 2) {
    c.mask.resize(c.S);
    for (auto& m : c.mask) m = rng() % 4 == 0 ? 0 : 1;
  }
  if (rng() % 2) {
    c.bos.resize(c.S);
    for (auto& b : c.bos) b = rng() % 5 == 0 ? 1 : 0;
  }
  c.params.top_k = trial % 10 == 0 ? 32 : 1 + static_cast<int>(rng() % 8);
  c.params.top_beam = trial % 7 == 0 ? 32 : 1 + static_cast<int>(rng() % 8);
  c.params.min_attn = rng() % 3 == 0 ? 0.0 : static_cast<double>(rng() % 30) / 100.0;
  c.params.length_norm = LengthNorm::parse(kNorms[rng() % std::size(kNorms)]);
  c.params.stop_at_bos = rng() % 3 != 0;
  return c;
}

}  // namespace

TEST(OracleCrosscheck, TwoStageEqualsBruteForceBitForBit) {
  std::mt19937_64 rng(20240611);
  int jobs = 0;
  for (int trial = 0; trial < 600; ++trial) {
    const Case c = random_case(rng, trial);
    const std::uint8_t* mask = c.mask.empty() ? nullptr : c.mask.data();
    const std::uint8_t* bos = c.bos.empty() ? nullptr : c.bos.data();
    const CandidateTable table = build_candidate_table(c.A.data(), c.S, mask, c.params.top_k, c.params.min_attn);
    for (int t = 0; t < c.S; ++t, ++jobs) {
      std::vector<SearchStep> got_steps, want_steps;
      const auto got = beam_search(table.ref(), t, bos, c.params, &got_steps);
      const auto want = oracle::trace(c.A.data(), c.S, mask, bos, t, c.params, &want_steps);
      const std::string where = c.describe() + " target=" + std::to_string(t) + " trial=" + std::to_string(trial);
      ASSERT_EQ(got.size(), want.size()) << where;
      ASSERT_GE(got.size(), 1u) << where;
      ASSERT_LE(got.size(), static_cast<std::size_t>(c.params.top_beam)) << where;
      for (std::size_t r = 0; r < want.size(); ++r) {
        ASSERT_EQ(got[r].positions, want[r].positions) << where << " rank " << r;
        ASSERT_EQ(got[r].edge_attn.size(), want[r].edge_attn.size()) << where;
        for (std::size_t k = 0; k < want[r].edge_attn.size(); ++k)
          ASSERT_EQ(bits_of(got[r].edge_attn[k]), bits_of(want[r].edge_attn[k])) << where << " rank " << r;
        ASSERT_EQ(bits_of(got[r].score_raw), bits_of(want[r].score_raw)) << where << " rank " << r;
        ASSERT_EQ(bits_of(got[r].score_norm), bits_of(want[r].score_norm)) << where << " rank " << r;
      }
      ASSERT_EQ(got_steps.size(), want_steps.size()) << where;
      for (std::size_t s = 0; s < want_steps.size(); ++s) {
        ASSERT_EQ(got_steps[s].active, want_steps[s].active) << where << " step " << s;
        ASSERT_EQ(got_steps[s].terminal, want_steps[s].terminal) << where << " step " << s;
      }
    }
  }
  EXPECT_GT(jobs, 5000);
}

TEST(OracleCrosscheck, WorkedExampleStepsMatchTheOracle) {
  const std::vector<float> A = testing_support::worked_example();
  for (const char* norm : kNorms) {
    SearchParams p;
    p.top_k = 3;
    p.top_beam = 2;
    p.length_norm = LengthNorm::parse(norm);
    const CandidateTable table = build_candidate_table(A.data(), 6, nullptr, 3, 0.0);
    std::vector<SearchStep> got_steps, want_steps;
    const auto got = beam_search(table.ref(), 5, nullptr, p, &got_steps);
    const auto want = oracle::trace(A.data(), 6, nullptr, nullptr, 5, p, &want_steps);
    ASSERT_EQ(got.size(), want.size()) << norm;
    for (std::size_t r = 0; r < want.size(); ++r) {
      EXPECT_EQ(got[r].positions, want[r].positions) << norm;
      EXPECT_EQ(got[r].score_norm, want[r].score_norm) << norm;
    }
    ASSERT_EQ(got_steps.size(), want_steps.size()) << norm;
    for (std::size_t s = 0; s < want_steps.size(); ++s) {
      EXPECT_EQ(got_steps[s].active, want_steps[s].active) << norm << " step " << s;
      EXPECT_EQ(got_steps[s].terminal, want_steps[s].terminal) << norm << " step " << s;
    }
  }
}
