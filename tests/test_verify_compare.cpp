// `ratrace verify` on the CPU: the comparison of two result sets (SPEC §2), the near-tie probe,
// the job sample, and the CLI's "no usable GPU" exit.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "ratrace/candidate_table.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/results.hpp"
#include "run/trace_run.hpp"
#include "ratrace/synth.hpp"
#include "support/cli_runner.hpp"
#include "support/corpus_builder.hpp"
#include "verify/compare.hpp"
#include "verify/host_probe.hpp"
#include "verify/near_tie_probe.hpp"
#include "verify/sample_plan.hpp"

using namespace ratrace;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A path with real scores (avg_logprob) from its edges.
PathResult make_path(std::vector<std::int32_t> positions, std::vector<float> attn) {
  PathResult p;
  p.positions = std::move(positions);
  p.edge_attn = {kNaN};
  p.edge_attn.insert(p.edge_attn.end(), attn.begin(), attn.end());
  for (const float a : attn) p.score_raw += std::log(static_cast<double>(a));
  p.score_norm = attn.empty() ? p.score_raw : p.score_raw / static_cast<double>(attn.size());
  return p;
}

TraceResults one_job(const JobKey& key, const std::vector<PathResult>& paths) {
  TraceResults r;
  r.append(key, paths);
  return r;
}

const JobKey kJob{0, 3, kHeadMean, 9};

std::vector<PathResult> two_paths() { return {make_path({9, 5, 0}, {0.5f, 0.5f}), make_path({9, 4, 0}, {0.25f, 0.5f})}; }

}  // namespace

TEST(VerifyCompare, IdenticalResultsMatch) {
  const TraceResults a = one_job(kJob, two_paths());
  const CompareReport r = compare_results(a, a, SearchParams{});
  EXPECT_EQ(r.jobs_compared, 1);
  EXPECT_EQ(r.mismatches, 0);
  EXPECT_EQ(r.near_ties, 0);
}

TEST(VerifyCompare, ChangedPositionIsAMismatch) {
  std::vector<PathResult> paths = two_paths();
  const TraceResults cpu = one_job(kJob, paths);
  paths[1].positions[1] = 3;
  const CompareReport r = compare_results(cpu, one_job(kJob, paths), SearchParams{});
  EXPECT_EQ(r.mismatches, 1);
  ASSERT_EQ(r.first_mismatches.size(), 1u);
  EXPECT_NE(r.first_mismatches[0].find("rank 1"), std::string::npos) << r.first_mismatches[0];
  EXPECT_NE(r.first_mismatches[0].find("head mean target 9"), std::string::npos) << r.first_mismatches[0];
}

TEST(VerifyCompare, ChangedEdgeWeightIsAMismatch) {
  std::vector<PathResult> paths = two_paths();
  const TraceResults cpu = one_job(kJob, paths);
  paths[0].edge_attn[2] = std::nextafter(0.5f, 1.0f);
  EXPECT_EQ(compare_results(cpu, one_job(kJob, paths), SearchParams{}).mismatches, 1);
}

TEST(VerifyCompare, ScoreTolerance) {
  std::vector<PathResult> paths = two_paths();
  const TraceResults cpu = one_job(kJob, paths);
  std::vector<PathResult> close = paths;
  close[0].score_norm *= 1.0 + 1e-11;  // within 1e-9 relative
  EXPECT_EQ(compare_results(cpu, one_job(kJob, close), SearchParams{}).mismatches, 0);
  std::vector<PathResult> off = paths;
  off[0].score_norm *= 1.0 + 1e-6;
  EXPECT_EQ(compare_results(cpu, one_job(kJob, off), SearchParams{}).mismatches, 1);
  std::vector<PathResult> raw_off = paths;
  raw_off[1].score_raw *= 1.0 + 1e-6;
  EXPECT_EQ(compare_results(cpu, one_job(kJob, raw_off), SearchParams{}).mismatches, 1);
  // Near zero the absolute tolerance applies.
  EXPECT_TRUE(scores_agree(0.0, 1e-13));
  EXPECT_FALSE(scores_agree(0.0, 1e-11));
}

TEST(VerifyCompare, SwapOfNearTiedPathsIsANearTie) {
  PathResult a = make_path({9, 5, 0}, {0.5f, 0.5f});
  PathResult b = make_path({9, 4, 0}, {0.5f, 0.5f});
  b.score_norm = a.score_norm * (1.0 + 1e-12);  // as another device's log might give
  b.score_raw = a.score_raw * (1.0 + 1e-12);
  const TraceResults cpu = one_job(kJob, {a, b});
  const CompareReport r = compare_results(cpu, one_job(kJob, {b, a}), SearchParams{});
  EXPECT_EQ(r.mismatches, 0);
  EXPECT_EQ(r.near_ties, 1);
}

TEST(VerifyCompare, SwapOfClearlyDifferentScoresIsAMismatch) {
  const std::vector<PathResult> paths = two_paths();
  const CompareReport r =
      compare_results(one_job(kJob, paths), one_job(kJob, {paths[1], paths[0]}), SearchParams{});
  EXPECT_EQ(r.mismatches, 1);
  EXPECT_EQ(r.near_ties, 0);
}

TEST(VerifyCompare, APathTwiceInPlaceOfAnotherIsAMismatch) {
  // The GPU returned rank 0 twice and lost rank 1: every GPU path is a reference path, but the sets differ.
  const std::vector<PathResult> paths = two_paths();
  const CompareReport r = compare_results(one_job(kJob, paths), one_job(kJob, {paths[0], paths[0]}), SearchParams{});
  EXPECT_EQ(r.mismatches, 1);
  EXPECT_EQ(r.near_ties, 0);
}

TEST(VerifyCompare, SwapOfExactTiesFromTheSameEdgesIsAMismatchUnlessTheProbeFindsANearTie) {
  // Same edge weights in the same order: every device scores both paths bit-identically, so the
  // stable order decides (SPEC §2) and a swap is a real tie-order error.
  const PathResult a = make_path({9, 5, 0}, {0.5f, 0.5f});
  const PathResult b = make_path({9, 4, 0}, {0.5f, 0.5f});
  ASSERT_EQ(a.score_norm, b.score_norm);
  const TraceResults cpu = one_job(kJob, {a, b}), gpu = one_job(kJob, {b, a});
  EXPECT_EQ(compare_results(cpu, gpu, SearchParams{}).mismatches, 1);
  EXPECT_EQ(compare_results(cpu, gpu, SearchParams{}, [](const JobKey&) { return false; }).mismatches, 1);
  // An earlier near-tie in the search (which the probe finds) may change their append order.
  const CompareReport r = compare_results(cpu, gpu, SearchParams{}, [](const JobKey&) { return true; });
  EXPECT_EQ(r.mismatches, 0);
  EXPECT_EQ(r.near_ties, 1);
}

TEST(VerifyCompare, SwapOfExactTiesFromDifferentEdgesIsANearTie) {
  // Equal on the host, but from other edges: another device's log may order them either way.
  const PathResult a = make_path({9, 5, 0}, {0.5f, 0.25f});
  const PathResult b = make_path({9, 4, 0}, {0.25f, 0.5f});
  ASSERT_EQ(a.score_norm, b.score_norm);
  const CompareReport r = compare_results(one_job(kJob, {a, b}), one_job(kJob, {b, a}), SearchParams{});
  EXPECT_EQ(r.mismatches, 0);
  EXPECT_EQ(r.near_ties, 1);
}

TEST(VerifyCompare, AJobTwiceInTheGpuResultsIsAMismatch) {
  const TraceResults cpu = one_job(kJob, two_paths());
  TraceResults gpu = one_job(kJob, two_paths());
  gpu.append(kJob, two_paths());
  const CompareReport r = compare_results(cpu, gpu, SearchParams{});
  EXPECT_EQ(r.mismatches, 1);
  ASSERT_EQ(r.first_mismatches.size(), 1u);
  EXPECT_NE(r.first_mismatches[0].find("more than once"), std::string::npos) << r.first_mismatches[0];
}

TEST(VerifyCompare, OtherPathIsANearTieOnlyWhenTheProbeSaysSoAndThePathIsSound) {
  const std::vector<PathResult> cpu_paths = two_paths();
  std::vector<PathResult> gpu_paths = cpu_paths;
  gpu_paths[1] = make_path({9, 6, 0}, {0.5f, 0.25f});  // a different, well-formed path
  const TraceResults cpu = one_job(kJob, cpu_paths), gpu = one_job(kJob, gpu_paths);
  int probed = 0;
  const auto yes = [&](const JobKey& k) {
    ++probed;
    EXPECT_EQ(k, kJob);
    return true;
  };
  const auto no = [](const JobKey&) { return false; };
  EXPECT_EQ(compare_results(cpu, gpu, SearchParams{}, no).mismatches, 1);
  EXPECT_EQ(compare_results(cpu, gpu, SearchParams{}).mismatches, 1);  // no probe: no excuse
  const CompareReport r = compare_results(cpu, gpu, SearchParams{}, yes);
  EXPECT_EQ(r.mismatches, 0);
  EXPECT_EQ(r.near_ties, 1);
  EXPECT_EQ(probed, 1);

  // A path whose score does not follow from its edges is never excused.
  std::vector<PathResult> bad = gpu_paths;
  bad[1].score_norm -= 0.5;
  bad[1].score_raw -= 1.0;
  EXPECT_EQ(compare_results(cpu, one_job(kJob, bad), SearchParams{}, yes).mismatches, 1);
  // Nor one that does not start at the target.
  bad = gpu_paths;
  bad[1].positions[0] = 8;
  EXPECT_EQ(compare_results(cpu, one_job(kJob, bad), SearchParams{}, yes).mismatches, 1);

  // Nor, when the candidates are known, one with an edge that is no candidate of the job's matrix.
  const auto only_cpu_edges = [](const JobKey&, std::int32_t from, std::int32_t to, float) {
    return (from == 9 && (to == 5 || to == 4)) || ((from == 5 || from == 4) && to == 0);
  };
  EXPECT_EQ(compare_results(cpu, gpu, SearchParams{}, yes, 5, only_cpu_edges).mismatches, 1);
  const auto any_edge = [](const JobKey&, std::int32_t, std::int32_t, float) { return true; };
  EXPECT_EQ(compare_results(cpu, gpu, SearchParams{}, yes, 5, any_edge).near_ties, 1);
}

TEST(VerifyCompare, MissingJobIsAMismatchAndExtraJobsAreIgnored) {
  TraceResults cpu = one_job(kJob, two_paths());
  TraceResults gpu = one_job(JobKey{1, 3, kHeadMean, 9}, two_paths());
  EXPECT_EQ(compare_results(cpu, gpu, SearchParams{}).mismatches, 1);
  gpu.append(kJob, two_paths());  // the GPU ran more jobs than the sample: fine
  const CompareReport r = compare_results(cpu, gpu, SearchParams{});
  EXPECT_EQ(r.jobs_compared, 1);
  EXPECT_EQ(r.mismatches, 0);
}

TEST(VerifyCompare, Profiles) {
  AttentionProfile p{0, 1, 2, {}, {}};
  p.sum[0] = 12.5;
  p.count[0] = 63;
  p.sum[3] = 0.25;
  p.count[3] = 40;
  AttentionProfile close = p;
  close.sum[0] *= 1.0 + 1e-12;
  EXPECT_EQ(compare_profiles({p}, {close}).mismatches, 0);
  AttentionProfile off = p;
  off.sum[3] *= 1.0 + 1e-7;
  EXPECT_EQ(compare_profiles({p}, {off}).mismatches, 1);
  AttentionProfile count = p;
  count.count[0] = 62;
  EXPECT_EQ(compare_profiles({p}, {count}).mismatches, 1);
  AttentionProfile other = p;
  other.head = kHeadMax;
  EXPECT_EQ(compare_profiles({p}, {other}).mismatches, 1);
}

namespace {

// A table from (row, [(pos, attn)...]) lists.
CandidateTable table_of(int S, int K, const std::vector<std::pair<int, std::vector<Candidate>>>& rows) {
  CandidateTable t(S, K);
  for (const auto& [row, cands] : rows) {
    for (std::size_t r = 0; r < cands.size(); ++r) t.row_data(row)[r] = cands[r];
    t.set_size(row, static_cast<std::int32_t>(cands.size()));
  }
  return t;
}

SearchParams beams(int B) {
  SearchParams p;
  p.top_beam = B;
  p.top_k = 4;
  return p;
}

}  // namespace

TEST(NearTieProbe, EqualScoresFromDifferentEdgesAreANearTie) {
  // 4 -> 3 -> 1 (0.5 then 0.25) and 4 -> 2 -> 1 (0.25 then 0.5): equal raw scores from
  // different edge orders, side by side among the survivors of step 2.
  const CandidateTable t = table_of(5, 4, {{4, {{3, 0.5f}, {2, 0.25f}}}, {3, {{1, 0.25f}}}, {2, {{1, 0.5f}}}, {1, {{0, 1.0f}}}});
  EXPECT_TRUE(search_has_near_tie(t.ref(), 4, nullptr, beams(2)));
}

TEST(NearTieProbe, DistinctScoresAreNot) {
  const CandidateTable t = table_of(5, 4, {{4, {{3, 0.6f}, {2, 0.3f}}}, {3, {{0, 0.9f}}}, {2, {{0, 0.8f}}}});
  EXPECT_FALSE(search_has_near_tie(t.ref(), 4, nullptr, beams(2)));
}

TEST(NearTieProbe, ExactTiesFromTheSameEdgesAreNot) {
  // Both paths have edges (0.5, 1.0) in that order: every device scores them identically, and the
  // stable order decides.
  const CandidateTable t = table_of(5, 4, {{4, {{3, 0.5f}, {2, 0.5f}}}, {3, {{0, 1.0f}}}, {2, {{0, 1.0f}}}});
  EXPECT_FALSE(search_has_near_tie(t.ref(), 4, nullptr, beams(2)));
}

TEST(NearTieProbe, OnlyTiesTheSearchMeetsCount) {
  // The same table as above with B = 1: 4 -> 2 (0.25) is cut at step 1 on a clearly lower score,
  // so the equal-scored pair of step 2 never exists.
  const CandidateTable t = table_of(5, 4, {{4, {{3, 0.5f}, {2, 0.25f}}}, {3, {{1, 0.25f}}}, {2, {{1, 0.5f}}}, {1, {{0, 1.0f}}}});
  EXPECT_FALSE(search_has_near_tie(t.ref(), 4, nullptr, beams(1)));
}

TEST(NearTieProbe, TerminalRanking) {
  // Both orders end at 0 in step 2: tied terminal paths with different edge orders.
  const CandidateTable t = table_of(5, 4, {{4, {{3, 0.5f}, {2, 0.25f}}}, {3, {{0, 0.25f}}}, {2, {{0, 0.5f}}}});
  EXPECT_TRUE(search_has_near_tie(t.ref(), 4, nullptr, beams(2)));
}

TEST(HostNearTieProbe, KnowsTheCandidatesOfEachJobsMatrix) {
  // One layer of two 4 x 4 heads; mean = average of the two.
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("in.h5");
  const std::vector<float> a = {1, 0, 0, 0, /**/ 1, 0, 0, 0, /**/ 0.5f, 0.5f, 0, 0, /**/ 0.25f, 0.75f, 0, 0,
                                1, 0, 0, 0, /**/ 1, 0, 0, 0, /**/ 0.5f, 0.5f, 0, 0, /**/ 0.75f, 0, 0.25f, 0};
  {
    ratrace::testing::CorpusBuilder b(path);
    b.sequence("s").attention_f32({1, 2, 4, 4}, a);
  }
  const CorpusReader reader(path);
  TraceRequest request;
  request.input = path;
  request.heads = "0,mean";
  const PlannedTrace planned = plan_trace(reader, request);
  HostNearTieProbe probe(reader, planned.plan, request.params);
  const JobKey head0{0, 0, 0, 3}, mean{0, 0, kHeadMean, 3};
  EXPECT_TRUE(probe.is_candidate(head0, 3, 1, 0.75f));
  EXPECT_TRUE(probe.is_candidate(head0, 3, 0, 0.25f));
  EXPECT_FALSE(probe.is_candidate(head0, 3, 2, 0.25f));   // head 1's edge
  EXPECT_FALSE(probe.is_candidate(head0, 3, 1, 0.5f));    // right key, other weight
  EXPECT_TRUE(probe.is_candidate(mean, 3, 0, 0.5f));      // (0.25 + 0.75) / 2
  EXPECT_TRUE(probe.is_candidate(mean, 3, 1, 0.375f));
  EXPECT_TRUE(probe.is_candidate(mean, 3, 2, 0.125f));
  EXPECT_FALSE(probe.is_candidate(mean, 2, 2, 0.5f));     // the diagonal is never a candidate
  EXPECT_FALSE(probe.is_candidate(mean, 7, 0, 0.5f));     // no such row
}

TEST(SamplePlan, PicksExactlyNJobsDeterministically) {
  TracePlan plan;
  for (int s = 0; s < 2; ++s) {
    SequencePlan sp;
    sp.seq_index = s;
    sp.seq_len = 20;
    sp.layers = {0, 1};
    sp.heads = {0, kHeadMean};
    for (int t = 0; t < 10; ++t) sp.targets.push_back(t + 10);
    plan.sequences.push_back(sp);
  }
  ASSERT_EQ(plan.num_jobs(), 80);
  const auto keys = [](const TracePlan& p) {
    std::set<JobKey> out;
    for (const SequencePlan& sp : p.sequences)
      for (int l : sp.layers)
        for (int h : sp.heads)
          for (int t : sp.targets) out.insert(JobKey{sp.seq_index, l, h, t});
    return out;
  };
  const std::set<JobKey> all = keys(plan);
  const TracePlan s1 = sample_plan(plan, 7, 42);
  EXPECT_EQ(s1.num_jobs(), 7);
  for (const JobKey& k : keys(s1)) EXPECT_TRUE(all.count(k)) << k.seq_index << " " << k.layer << " " << k.target;
  EXPECT_EQ(keys(s1), keys(sample_plan(plan, 7, 42)));  // same seed, same sample
  EXPECT_NE(keys(s1), keys(sample_plan(plan, 7, 43)));
  for (const SequencePlan& sp : s1.sequences) {
    EXPECT_EQ(sp.layers.size(), 1u);
    EXPECT_EQ(sp.heads.size(), 1u);
  }
  EXPECT_EQ(sample_plan(plan, 0, 1).num_jobs(), 80);   // 0 = all
  EXPECT_EQ(sample_plan(plan, 80, 1).num_jobs(), 80);
  EXPECT_EQ(sample_plan(plan, 500, 1).num_jobs(), 80);
  EXPECT_EQ(sample_plan(plan, 79, 9).num_jobs(), 79);
}

TEST(VerifyCli, NoUsableGpuIsExit2WithTheReason) {
  const GpuStatus gpu = query_gpu();
  if (gpu.usable) GTEST_SKIP() << "a GPU is usable here: " << gpu.name;
  ratrace::testing::TempDir dir;
  const std::string in = dir.file("in.h5");
  SynthOptions o;
  o.num_sequences = 1;
  o.num_layers = 1;
  o.num_heads = 2;
  o.min_len = o.max_len = 16;
  write_synthetic_corpus(in, o);
  const ratrace::testing::CliResult r = ratrace::testing::run_cli("verify " + in + " --sample 3");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no usable GPU: " + gpu.reason), std::string::npos) << r.err;
  EXPECT_EQ(ratrace::testing::count_lines(r.err), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}
