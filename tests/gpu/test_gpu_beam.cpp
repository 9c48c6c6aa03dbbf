// The beam-search kernel against the CPU stage (beam_search) on the same candidate tables.
// Differences are allowed only where verify would excuse them (near-ties, counted and printed).
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "gpu_test_support.hpp"
#include "ratrace/synth.hpp"
#include "support/search_params.hpp"
#include "verify/compare.hpp"
#include "verify/near_tie_probe.hpp"

using namespace ratrace;
using namespace ratrace::gpu_test;
using ratrace::testing_support::make_params;

namespace {

struct Case {
  int S;
  int levels;        // exact ties when > 0
  bool mask;
  double bos_rate;   // fraction of BOS positions
};

// Runs `jobs` on both sides, the GPU with `kernel`, and compares as verify does; returns near-ties.
std::int64_t compare_jobs_with(const std::vector<CandidateTable>& tables, const std::vector<Job>& jobs,
                               const std::vector<std::uint8_t>& is_bos, const SearchParams& params,
                               gpu::BeamKernel kernel, const std::string& what) {
  std::vector<const CandidateTable*> ptrs;
  for (const CandidateTable& t : tables) ptrs.push_back(&t);
  const auto gpu_paths = run_beams(ptrs, jobs, is_bos, params, kernel);
  TraceResults cpu, gpu;
  const std::uint8_t* bos = is_bos.empty() ? nullptr : is_bos.data();
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    const JobKey key{0, 0, jobs[k].matrix, jobs[k].target};
    cpu.append(key, beam_search(tables[jobs[k].matrix].ref(), jobs[k].target, bos, params));
    gpu.append(key, gpu_paths[k]);
  }
  const auto is_candidate = [&](const JobKey& key, std::int32_t from, std::int32_t to, float attn) {
    const CandidateTable& t = tables[key.head];
    for (std::int32_t r = 0; r < t.size(from); ++r)
      if (t.at(from, r).pos == to && t.at(from, r).attn == attn) return true;
    return false;
  };
  const CompareReport r = compare_results(
      cpu, gpu, params,
      [&](const JobKey& key) { return search_has_near_tie(tables[key.head].ref(), key.target, bos, params); }, 5,
      is_candidate);
  EXPECT_EQ(r.jobs_compared, static_cast<std::int64_t>(jobs.size()));
  EXPECT_EQ(r.mismatches, 0) << what << ": " << (r.first_mismatches.empty() ? "" : r.first_mismatches[0]);
  if (r.near_ties > 0) std::printf("  [%s] %lld near-ties\n", what.c_str(), static_cast<long long>(r.near_ties));
  return r.near_ties;
}

// The search kernels that take this B (kernels/beam_search.cu): each must match the CPU.
std::vector<gpu::BeamKernel> kernels_for(int top_beam) {
  std::vector<gpu::BeamKernel> k{gpu::BeamKernel::warp_per_job};
  if (top_beam <= gpu::kThreadPerJobMaxBeams) k.push_back(gpu::BeamKernel::thread_per_job);
  return k;
}
const char* name_of(gpu::BeamKernel k) { return k == gpu::BeamKernel::warp_per_job ? "warp per job" : "thread per job"; }

// Runs `jobs` on both sides, with each search kernel that takes B, and compares as verify does;
// returns near-ties.
std::int64_t compare_jobs(const std::vector<CandidateTable>& tables, const std::vector<Job>& jobs,
                          const std::vector<std::uint8_t>& is_bos, const SearchParams& params, const std::string& what) {
  std::int64_t near_ties = 0;
  for (const gpu::BeamKernel kernel : kernels_for(params.top_beam))
    near_ties += compare_jobs_with(tables, jobs, is_bos, params, kernel, what + " (" + name_of(kernel) + ")");
  return near_ties;
}

// Runs `targets` of each table on both sides and compares as verify does; returns near-ties.
std::int64_t compare_searches(const std::vector<CandidateTable>& tables, const std::vector<int>& targets,
                              const std::vector<std::uint8_t>& is_bos, const SearchParams& params,
                              const std::string& what) {
  std::vector<Job> jobs;
  for (int m = 0; m < static_cast<int>(tables.size()); ++m)
    for (const int t : targets) jobs.push_back(Job{m, t});
  return compare_jobs(tables, jobs, is_bos, params, what);
}

std::vector<int> all_targets(int S) {
  std::vector<int> t(static_cast<std::size_t>(S));
  for (int i = 0; i < S; ++i) t[i] = i;
  return t;
}

}  // namespace

TEST(GpuBeamSearch, MatchesCpuForEveryNormAndWidth) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(21);
  const Case cases[] = {{1, 0, false, 0.0}, {2, 0, false, 0.0}, {40, 0, false, 0.0}, {64, 0, true, 0.1},
                        {64, 4, false, 0.0}, {64, 3, true, 0.2}, {130, 0, false, 0.05}};
  const std::pair<int, int> widths[] = {{1, 1}, {2, 3}, {5, 5}, {7, 32}, {32, 4}, {32, 32}};
  for (const Case& c : cases)
    for (const auto& [B, K] : widths)
      for (const char* norm : {"none", "avg_logprob", "sqrt", "pow:0.7"}) {
        std::vector<std::uint8_t> mask, is_bos;
        if (c.mask)
          for (int j = 0; j < c.S; ++j) mask.push_back(rng() % 4 != 0);
        if (c.bos_rate > 0)
          for (int j = 0; j < c.S; ++j) is_bos.push_back(std::uniform_real_distribution<>(0, 1)(rng) < c.bos_rate);
        std::vector<CandidateTable> tables;
        for (int m = 0; m < 2; ++m) {
          const std::vector<float> a = random_matrix(c.S, rng, c.levels);
          tables.push_back(build_candidate_table(a.data(), c.S, mask.empty() ? nullptr : mask.data(), K, 0.0));
        }
        for (const bool stop : {true, false}) {
          if (!stop && is_bos.empty()) continue;
          compare_searches(tables, all_targets(c.S), is_bos, make_params(B, K, norm, 0.0, stop),
                           fmt::format("S={} levels={} mask={} B={} K={} {} stop={}", c.S, c.levels, c.mask, B, K, norm, stop));
        }
      }
}

TEST(GpuBeamSearch, LongSearchesOnRealisticPatterns) {
  RATRACE_REQUIRE_GPU();
  const int S = 1024;
  std::vector<std::uint8_t> is_bos(S, 0);
  is_bos[0] = 1;
  is_bos[500] = 1;
  const std::vector<int> targets = {1023, 1000, 777, 512, 3, 0};
  for (const auto& [B, K] : {std::pair{5, 5}, std::pair{32, 32}})
    for (const char* norm : {"avg_logprob", "none", "pow:0.5"}) {
      std::vector<CandidateTable> sized;
      for (int m = 0; m < 5; ++m) {
        const std::vector<float> a = synth_head_matrix(static_cast<HeadPattern>(m), S, 7);
        sized.push_back(build_candidate_table(a.data(), S, nullptr, K, 0.0));
      }
      compare_searches(sized, targets, is_bos, make_params(B, K, norm, 0.0, true), fmt::format("S=1024 B={} K={} {}", B, K, norm));
    }
  // S = 4096: the longest searches (previous-token heads walk back one position per step).
  const int L = 4096;
  std::vector<CandidateTable> long_tables;
  for (const HeadPattern p : {HeadPattern::previous_token, HeadPattern::local_window, HeadPattern::diffuse}) {
    const std::vector<float> a = synth_head_matrix(p, L, 9);
    long_tables.push_back(build_candidate_table(a.data(), L, nullptr, 8, 0.0));
  }
  compare_searches(long_tables, {4095, 2048, 17}, {}, make_params(8, 8, "avg_logprob", 0.0, true), "S=4096 B=8 K=8");
}

TEST(GpuBeamSearch, TargetZeroAndRowsWithoutCandidates) {
  RATRACE_REQUIRE_GPU();
  const int S = 6;
  CandidateTable empty(S, 3);  // no candidates anywhere: every job returns the target alone
  for (const gpu::BeamKernel kernel : kernels_for(4)) {
    SCOPED_TRACE(name_of(kernel));
    const auto paths = run_beams({&empty}, {{0, 0}, {0, 5}}, {}, make_params(4, 3, "avg_logprob", 0.0, true), kernel);
    ASSERT_EQ(paths.size(), 2u);
    for (std::size_t k = 0; k < 2; ++k) {
      ASSERT_EQ(paths[k].size(), 1u);
      EXPECT_EQ(paths[k][0].positions, std::vector<std::int32_t>{k == 0 ? 0 : 5});
      EXPECT_EQ(paths[k][0].score_raw, 0.0);
      EXPECT_EQ(paths[k][0].score_norm, 0.0);
      ASSERT_EQ(paths[k][0].edge_attn.size(), 1u);
      EXPECT_TRUE(std::isnan(paths[k][0].edge_attn[0]));
    }
  }
}

TEST(GpuBeamSearch, WorkedExampleKnownAnswer) {
  RATRACE_REQUIRE_GPU();
  // Rows of the docs' worked example; target 5, top_k 3, top_beam 2.
  const std::vector<float> a = {1.0f, 0, 0, 0, 0, 0,  0.9f, 0.1f, 0, 0, 0, 0,  0.3f, 0.6f, 0.1f, 0, 0, 0,
                                0.5f, 0.2f, 0.2f, 0.1f, 0, 0,  0.1f, 0.3f, 0.0f, 0.5f, 0.1f, 0,
                                0.05f, 0.2f, 0.3f, 0.0f, 0.4f, 0.05f};
  const CandidateTable t = build_candidate_table(a.data(), 6, nullptr, 3, 0.0);
  const SearchParams params = make_params(2, 3, "avg_logprob", 0.0, true);
  const auto cpu = beam_search(t.ref(), 5, nullptr, params);
  ASSERT_EQ(cpu.size(), 2u);
  EXPECT_EQ(cpu[0].positions, (std::vector<std::int32_t>{5, 2, 1, 0}));
  EXPECT_EQ(cpu[1].positions, (std::vector<std::int32_t>{5, 4, 3, 2, 1, 0}));
  for (const gpu::BeamKernel kernel : kernels_for(params.top_beam)) {
    const auto gpu = run_beams({&t}, {{0, 5}}, {}, params, kernel)[0];
    ASSERT_EQ(gpu.size(), cpu.size()) << name_of(kernel);
    for (std::size_t r = 0; r < cpu.size(); ++r) {
      EXPECT_EQ(gpu[r].positions, cpu[r].positions) << name_of(kernel) << " " << r;
      EXPECT_TRUE(scores_agree(gpu[r].score_norm, cpu[r].score_norm)) << name_of(kernel) << " " << r;
    }
  }
}

// The thread-per-job kernel holds at most kThreadPerJobMaxBeams beams: asked for by name with a
// larger B, the batch is refused before anything runs; left to choose, the warp kernel takes it.
TEST(GpuBeamSearch, ThreadPerJobKernelRefusesALargerBeam) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(3);
  const std::vector<float> a = random_matrix(20, rng);
  std::vector<CandidateTable> tables;
  tables.push_back(build_candidate_table(a.data(), 20, nullptr, 4, 0.0));
  const SearchParams params = make_params(gpu::kThreadPerJobMaxBeams + 1, 4, "avg_logprob", 0.0, true);
  EXPECT_THROW(run_beams({&tables[0]}, {{0, 19}}, {}, params, gpu::BeamKernel::thread_per_job), std::invalid_argument);
  compare_jobs_with(tables, {{0, 19}, {0, 7}}, {}, params, gpu::BeamKernel::automatic, "B = 9, kernel left to choose");
}

// One batch over tables of different lengths (as the engine batches short sequences): each job
// reads its own matrix's rows (row_begin), whatever the lengths of the others.
TEST(GpuBeamSearch, TablesOfDifferentLengthsShareOneBatch) {
  RATRACE_REQUIRE_GPU();
  std::mt19937_64 rng(22);
  const int lengths[] = {1, 7, 130, 64, 2, 300, 33};
  const int longest = 300;
  std::vector<std::uint8_t> is_bos(longest, 0);
  for (int j = 0; j < longest; ++j) is_bos[j] = j == 0 || std::uniform_real_distribution<>(0, 1)(rng) < 0.05;
  for (const auto& [B, K] : {std::pair{5, 5}, std::pair{3, 8}, std::pair{32, 32}}) {
    std::vector<CandidateTable> tables;
    std::vector<Job> jobs;
    for (int m = 0; m < static_cast<int>(std::size(lengths)); ++m) {
      const int S = lengths[m];
      const std::vector<float> a = random_matrix(S, rng, m % 2 ? 8 : 0);
      tables.push_back(build_candidate_table(a.data(), S, nullptr, K, 0.0));
      for (int t = 0; t < S; ++t) jobs.push_back(Job{m, t});
    }
    // Longest searches first, as the engine orders a launch's jobs.
    std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.target > b.target; });
    for (const bool stop : {true, false})
      compare_jobs(tables, jobs, is_bos, make_params(B, K, "avg_logprob", 0.0, stop),
                   fmt::format("mixed lengths B={} K={} stop={}", B, K, stop));
  }
}
