// The GPU's thread-per-job search (detail/serial_beam_search.hpp), run here on the host, against
// the CPU reference (beam_search) on the same candidate tables: the same paths, edge weights and
// scores, bit for bit (on the host both compute the same doubles in the same order).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/detail/scoring.hpp"
#include "ratrace/detail/serial_beam_search.hpp"
#include "ratrace/synth.hpp"
#include "support/matrices.hpp"
#include "support/search_params.hpp"

using namespace ratrace;
using ratrace::testing_support::bits_of;
using ratrace::testing_support::make_params;

namespace {

constexpr int kMaxBeams = detail::kSerialSearchMaxBeams;  // the tier the GPU kernel instantiates

// A candidate table with what finish_tables adds on the GPU: each entry's edge log-probability
// and each row's path-ending bits.
struct FinishedTable {
  CandidateTable table;
  std::vector<double> logp;
  std::vector<std::uint32_t> end_mask;

  FinishedTable(CandidateTable t, const std::uint8_t* is_bos, bool stop_at_bos) : table(std::move(t)) {
    const int S = table.seq_len(), K = table.top_k();
    logp.assign(static_cast<std::size_t>(S) * K, 0.0);
    end_mask.assign(static_cast<std::size_t>(S), 0u);
    for (int i = 0; i < S; ++i)
      for (int r = 0; r < table.size(i); ++r) {
        const Candidate& c = table.at(i, r);
        logp[static_cast<std::size_t>(i) * K + r] = detail::edge_logprob(c.attn);
        if (detail::ends_path(c.pos, stop_at_bos ? is_bos : nullptr)) end_mask[i] |= 1u << r;
      }
  }
  detail::search_rows_ref rows() const {
    const candidate_table_ref t = table.ref();
    return {t.entries, logp.data(), t.count, end_mask.data(), t.top_k};
  }
};

struct Record {
  std::int32_t pos = -1, parent = -2;
  float attn = 0.0f;
};

// Runs the serial search and rebuilds its result paths as the GPU's gather kernel does.
std::vector<PathResult> serial_search(const FinishedTable& t, int target, const SearchParams& p) {
  std::vector<Record> history(static_cast<std::size_t>(target + 1) * p.top_beam);
  const auto record = [&](std::int64_t k, int pos, int parent, float attn) {
    EXPECT_GE(k, 0);
    EXPECT_LT(k, static_cast<std::int64_t>(history.size())) << "a record past the job's (target + 1) * B";
    if (k >= 0 && k < static_cast<std::int64_t>(history.size())) history[k] = Record{pos, parent, attn};
  };
  detail::SerialTerminals<kMaxBeams> terminal;
  detail::serial_beam_search(t.rows(), target, p.top_beam, p.length_norm.kind, p.length_norm.alpha, record, terminal);
  std::vector<PathResult> paths;
  for (int r = 0; r < terminal.size; ++r) {
    PathResult path;
    path.score_raw = terminal.raw[r];
    path.score_norm = terminal.norm[r];
    int slot = terminal.slot(r);
    for (int k = terminal.step(r); k >= 0; --k) {
      const Record& rec = history[static_cast<std::size_t>(k) * p.top_beam + slot];
      path.positions.insert(path.positions.begin(), rec.pos);
      path.edge_attn.insert(path.edge_attn.begin(), k == 0 ? std::nanf("") : rec.attn);
      slot = rec.parent;
    }
    if (terminal.extra_pos[r] >= 0) {
      path.positions.push_back(terminal.extra_pos[r]);
      path.edge_attn.push_back(terminal.extra_attn[r]);
    }
    paths.push_back(std::move(path));
  }
  return paths;
}

// Bit-equal results, or a message naming the first difference.
std::string difference(const std::vector<PathResult>& expected, const std::vector<PathResult>& got) {
  if (expected.size() != got.size())
    return "paths: " + std::to_string(got.size()) + " instead of " + std::to_string(expected.size());
  for (std::size_t r = 0; r < expected.size(); ++r) {
    const PathResult &e = expected[r], &g = got[r];
    if (e.positions != g.positions) return "path " + std::to_string(r) + ": other positions";
    if (bits_of(e.score_raw) != bits_of(g.score_raw) || bits_of(e.score_norm) != bits_of(g.score_norm))
      return "path " + std::to_string(r) + ": other scores";
    for (std::size_t k = 0; k < e.edge_attn.size(); ++k)
      if (k == 0 ? !std::isnan(g.edge_attn[0]) : bits_of(e.edge_attn[k]) != bits_of(g.edge_attn[k]))
        return "path " + std::to_string(r) + ": other edge weight at node " + std::to_string(k);
  }
  return "";
}

const char* const kNorms[] = {"none", "avg_logprob", "sqrt", "pow:0.5", "pow:0.7", "pow:2"};

}  // namespace

TEST(SerialBeamSearch, WorkedExampleEqualsTheReference) {
  const std::vector<float> A = testing_support::worked_example();
  for (const char* norm : kNorms) {
    const SearchParams p = make_params(2, 3, norm);
    const FinishedTable t(build_candidate_table(A.data(), 6, nullptr, 3, 0.0), nullptr, true);
    const auto expected = beam_search(t.table.ref(), 5, nullptr, p);
    const auto got = serial_search(t, 5, p);
    EXPECT_EQ(difference(expected, got), "") << norm;
  }
  // The known answer (avg_logprob, hand-checked in test_beam_search.cpp).
  const FinishedTable t(build_candidate_table(A.data(), 6, nullptr, 3, 0.0), nullptr, true);
  const auto got = serial_search(t, 5, make_params(2, 3));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].positions, (std::vector<std::int32_t>{5, 2, 1, 0}));
  EXPECT_EQ(got[1].positions, (std::vector<std::int32_t>{5, 4, 3, 2, 1, 0}));
}

TEST(SerialBeamSearch, RandomTieHeavyMaskedAndBosTablesEqualTheReference) {
  std::mt19937_64 rng(31);
  int jobs = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int S = 1 + static_cast<int>(rng() % 40);
    const int level_choice = static_cast<int>(rng() % 3);
    const int levels = level_choice == 0 ? 0 : level_choice == 1 ? 2 + static_cast<int>(rng() % 4) : 8;
    const std::vector<float> A = testing_support::random_matrix(S, rng, levels, (rng() % 3) * 0.2);
    std::vector<std::uint8_t> mask, bos;
    if (rng() % 2)
      for (int j = 0; j < S; ++j) mask.push_back(rng() % 4 != 0);
    if (rng() % 2)
      for (int j = 0; j < S; ++j) bos.push_back(rng() % 5 == 0);
    const int B = 1 + static_cast<int>(rng() % kMaxBeams);
    const int K = trial % 9 == 0 ? 32 : 1 + static_cast<int>(rng() % 8);
    const bool stop = rng() % 3 != 0;
    const double tau = rng() % 3 == 0 ? static_cast<double>(rng() % 20) / 100.0 : 0.0;
    const SearchParams p = make_params(B, K, kNorms[rng() % std::size(kNorms)], tau, stop);
    const std::uint8_t* is_bos = bos.empty() ? nullptr : bos.data();
    const FinishedTable t(build_candidate_table(A.data(), S, mask.empty() ? nullptr : mask.data(), K, tau), is_bos, stop);
    for (int target = 0; target < S; ++target, ++jobs) {
      const std::string diff = difference(beam_search(t.table.ref(), target, is_bos, p), serial_search(t, target, p));
      ASSERT_EQ(diff, "") << "trial " << trial << " S=" << S << " B=" << B << " K=" << K << " levels=" << levels
                          << " norm=" << p.length_norm.to_string() << " target=" << target;
    }
  }
  EXPECT_GT(jobs, 5000);
}

// Long searches on realistic heads, every target, with a full terminal list for hundreds of steps.
TEST(SerialBeamSearch, EveryTargetOfRealisticHeadsEqualsTheReference) {
  const int S = 384;
  std::vector<std::uint8_t> bos(S, 0);
  bos[0] = bos[100] = 1;
  for (int pattern = 0; pattern < 5; ++pattern) {
    const std::vector<float> A = synth_head_matrix(static_cast<HeadPattern>(pattern), S, 40 + pattern);
    for (const auto& [B, K] : {std::pair{5, 5}, std::pair{8, 32}, std::pair{1, 1}, std::pair{8, 3}})
      for (const char* norm : {"avg_logprob", "none", "pow:0.7"}) {
        const SearchParams p = make_params(B, K, norm);
        const FinishedTable t(build_candidate_table(A.data(), S, nullptr, K, 0.0), bos.data(), true);
        for (int target = 0; target < S; ++target)
          ASSERT_EQ(difference(beam_search(t.table.ref(), target, bos.data(), p), serial_search(t, target, p)), "")
              << "pattern " << pattern << " B=" << B << " K=" << K << " " << norm << " target=" << target;
      }
  }
}

TEST(SerialBeamSearch, TargetZeroAndRowsWithoutCandidatesReturnTheTargetAlone) {
  const CandidateTable empty(6, 3);
  const FinishedTable t(empty, nullptr, true);
  for (const int target : {0, 5}) {
    const auto got = serial_search(t, target, make_params(4, 3));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].positions, std::vector<std::int32_t>{target});
    EXPECT_EQ(got[0].score_raw, 0.0);
    EXPECT_EQ(got[0].score_norm, 0.0);
  }
}
