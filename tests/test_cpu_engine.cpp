// The CPU engine end to end (corpus -> results), and the mean/max aggregation it uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/synth.hpp"
#include "reference/aggregate.hpp"
#include "support/corpus_builder.hpp"
#include "support/engine_times.hpp"
#include "support/matrices.hpp"
#include "support/path_result.hpp"
#include "support/results_compare.hpp"

using namespace ratrace;
using ratrace::testing::CorpusBuilder;
using ratrace::testing::expect_identical_results;
using ratrace::testing::SequenceBuilder;
using ratrace::testing::TempDir;
using ratrace::testing_support::bits_of;

namespace {

// Three head values whose mean differs in float arithmetic: float32((a + b + c) / 3 in double) is
// 0x1.30e52cp-2, while summing or dividing in float32 gives 0x1.30e52ep-2.
constexpr float kTriple[3] = {0x1.a7c8a2p-2f, 0x1.a3051ap-3f, 0x1.196458p-2f};
constexpr float kTripleMean = 0x1.30e52cp-2f;

// Writes /sequences/<name>/attention [L][H][S][S] float32 (+ token_ids), root bos_token_id = 1.
struct HandSequence {
  std::string name;
  int L = 0, H = 0, S = 0;
  std::vector<float> attention;  // [L][H][S][S]
  std::vector<std::int64_t> token_ids;
  float* head(int l, int h) { return attention.data() + (static_cast<std::size_t>(l) * H + h) * S * S; }
};

void write_hand_corpus(const std::string& path, const std::vector<HandSequence>& seqs) {
  CorpusBuilder corpus(path);
  corpus.attr_int("bos_token_id", 1);
  for (const HandSequence& s : seqs) {
    SequenceBuilder seq = corpus.sequence(s.name);
    seq.attention_f32({hsize_t(s.L), hsize_t(s.H), hsize_t(s.S), hsize_t(s.S)}, s.attention);
    if (!s.token_ids.empty()) seq.token_ids(s.token_ids);
  }
}

// Sequence "a": 2 layers x 3 heads x S = 6. Layer 1 head 0 is the worked example; heads 1 and 2
// are variations; A[5][4] of layer 1 holds kTriple across the heads. Above the diagonal: NaN.
HandSequence sequence_a() {
  HandSequence s{"a", 2, 3, 6, {}, {1, 5, 6, 7, 8, 9}};
  // NaN above the diagonal: the engine must never read it (nor check it).
  s.attention.assign(static_cast<std::size_t>(2) * 3 * 36, std::nanf(""));
  const std::vector<float> base = testing_support::worked_example();
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 3; ++h) {
      float* m = s.head(l, h);
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j <= i; ++j) {
          // Rows still roughly sum to 1; heads differ by moving weight between two columns.
          float a = base[i * 6 + j];
          if (h == 1 && i >= 2 && j == 1) a = 0.15f;
          if (h == 1 && i >= 2 && j == 0) a = base[i * 6] + (base[i * 6 + 1] - 0.15f);
          if (h == 2 && i >= 3 && j == i - 1) a = 0.25f;
          m[i * 6 + j] = a;
        }
      if (l == 1) {
        m[5 * 6 + 4] = kTriple[h];
        m[5 * 6 + 2] = 0.05f;  // so that the mean job from 5 goes through 4
      }
    }
  return s;
}

SearchParams small_params() {
  SearchParams p;
  p.top_k = 3;
  p.top_beam = 2;
  p.length_norm = LengthNorm::parse("none");
  return p;
}

std::vector<float> mean_by_rule(const std::vector<const float*>& heads, int S) {
  std::vector<float> m(static_cast<std::size_t>(S) * S, 0.0f);
  for (int i = 0; i < S; ++i)
    for (int j = 0; j <= i; ++j) {
      double sum = 0.0;
      for (const float* h : heads) sum += static_cast<double>(h[i * S + j]);
      m[i * S + j] = static_cast<float>(sum / static_cast<double>(heads.size()));
    }
  return m;
}

std::vector<float> max_by_rule(const std::vector<const float*>& heads, int S) {
  std::vector<float> m(static_cast<std::size_t>(S) * S, 0.0f);
  for (int i = 0; i < S; ++i)
    for (int j = 0; j <= i; ++j)
      for (const float* h : heads) m[i * S + j] = std::max(m[i * S + j], h[i * S + j]);
  return m;
}

void expect_same_paths(const std::vector<PathResult>& got, const std::vector<PathResult>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t r = 0; r < want.size(); ++r) {
    EXPECT_EQ(got[r].positions, want[r].positions) << what << " rank " << r;
    ASSERT_EQ(got[r].edge_attn.size(), want[r].edge_attn.size()) << what;
    for (std::size_t k = 0; k < want[r].edge_attn.size(); ++k)
      EXPECT_EQ(bits_of(got[r].edge_attn[k]), bits_of(want[r].edge_attn[k])) << what;
    EXPECT_EQ(bits_of(got[r].score_raw), bits_of(want[r].score_raw)) << what;
    EXPECT_EQ(bits_of(got[r].score_norm), bits_of(want[r].score_norm)) << what;
  }
}

void expect_identical(const TraceOutput& x, const TraceOutput& y) {
  expect_identical_results(x.results, y.results);
  ASSERT_EQ(x.profiles.size(), y.profiles.size());
  for (std::size_t k = 0; k < x.profiles.size(); ++k) {
    EXPECT_EQ(x.profiles[k].head, y.profiles[k].head);
    EXPECT_EQ(x.profiles[k].sum, y.profiles[k].sum);
    EXPECT_EQ(x.profiles[k].count, y.profiles[k].count);
  }
  EXPECT_EQ(x.row_sums.rows_checked, y.row_sums.rows_checked);
  EXPECT_EQ(x.row_sums.rows_off, y.row_sums.rows_off);
}

}  // namespace

TEST(HeadAggregate, MeanSumsInDoubleAndRoundsOnce) {
  // Float32 arithmetic would give 0x1.30e52ep-2 here; the rule gives 0x1.30e52cp-2.
  EXPECT_NE(((kTriple[0] + kTriple[1]) + kTriple[2]) / 3.0f, kTripleMean);
  const int S = 2;
  std::vector<std::vector<float>> heads;
  for (const float v : kTriple) heads.push_back({0.5f, 99.0f, v, 1.0f - v});
  HeadAggregate agg(S, true, true);
  for (const auto& h : heads) agg.add_head(h.data());
  const std::vector<float> mean = agg.mean(3);
  EXPECT_EQ(bits_of(mean[2]), bits_of(kTripleMean));
  EXPECT_EQ(mean[0], 0.5f);
  EXPECT_EQ(mean[1], 0.0f);  // above the diagonal: never read, zero
  const std::vector<float> max = agg.max();
  EXPECT_EQ(max[2], kTriple[0]);
  EXPECT_EQ(max[3], 1.0f - kTriple[1]);
  EXPECT_EQ(max[1], 0.0f);
}

TEST(HeadAggregate, RowRangesInAnyOrderGiveTheSameResult) {
  std::mt19937_64 rng(5);
  const int S = 40, H = 5;
  std::vector<std::vector<float>> heads;
  for (int h = 0; h < H; ++h) heads.push_back(testing_support::random_matrix(S, rng, 0, 0.2));
  HeadAggregate whole(S, true, true), pieces(S, true, true);
  for (const auto& h : heads) {
    whole.add_head(h.data());
    pieces.add_rows(h.data(), 30, 40);
    pieces.add_rows(h.data(), 0, 13);
    pieces.add_rows(h.data(), 13, 30);
  }
  std::vector<const float*> ptrs;
  for (const auto& h : heads) ptrs.push_back(h.data());
  EXPECT_EQ(whole.mean(H), mean_by_rule(ptrs, S));
  EXPECT_EQ(pieces.mean(H), mean_by_rule(ptrs, S));
  EXPECT_EQ(whole.max(), max_by_rule(ptrs, S));
  EXPECT_EQ(pieces.max(), max_by_rule(ptrs, S));
}

TEST(CpuEngine, HandWrittenCorpusKnownAnswers) {
  const TempDir dir;
  const std::string path = dir.file("hand_known.h5");
  HandSequence a = sequence_a();
  write_hand_corpus(path, {a});
  const CorpusReader reader(path);
  ASSERT_EQ(reader.sequences().size(), 1u);

  SequencePlan sp;
  sp.seq_index = 0;
  sp.seq_len = 6;
  sp.layers = {1};
  sp.heads = {2, kHeadMean, 0, kHeadMax};
  sp.targets = {5, 3};
  TracePlan plan;
  plan.sequences = {sp};
  const SearchParams params = small_params();

  std::vector<std::pair<std::int64_t, std::int64_t>> progress;
  auto engine = make_cpu_engine(2);
  EXPECT_EQ(engine->device_description(), "cpu (2 threads)");
  EXPECT_EQ(make_cpu_engine(1)->device_description(), "cpu (1 thread)");
  const TraceOutput out = run_collect(*engine, reader, plan, params, [&](std::int64_t d, std::int64_t t) { progress.emplace_back(d, t); });

  // Plan order: head in plan order, then target in plan order.
  const std::vector<JobKey> want_jobs = {{0, 1, 2, 5}, {0, 1, 2, 3}, {0, 1, kHeadMean, 5}, {0, 1, kHeadMean, 3},
                                         {0, 1, 0, 5}, {0, 1, 0, 3}, {0, 1, kHeadMax, 5}, {0, 1, kHeadMax, 3}};
  EXPECT_EQ(out.results.jobs, want_jobs);
  EXPECT_EQ(progress, (std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 4}, {2, 4}, {3, 4}, {4, 4}}));
  EXPECT_EQ(out.row_sums.rows_checked, 18);  // every head of layer 1 read once (mean/max need all)

  const std::vector<const float*> heads = {a.head(1, 0), a.head(1, 1), a.head(1, 2)};
  const std::vector<float> mean = mean_by_rule(heads, 6);
  const std::vector<float> max = max_by_rule(heads, 6);
  EXPECT_EQ(bits_of(mean[5 * 6 + 4]), bits_of(kTripleMean));
  auto matrix_of = [&](int head) -> const float* {
    return head == kHeadMean ? mean.data() : head == kHeadMax ? max.data() : heads[head];
  };
  for (std::size_t k = 0; k < want_jobs.size(); ++k) {
    const CandidateTable table = build_candidate_table(matrix_of(want_jobs[k].head), 6, nullptr, 3, 0.0);
    expect_same_paths(out.results.job_paths(k), beam_search(table.ref(), want_jobs[k].target, nullptr, params),
                      "job " + std::to_string(k));
  }
  // The mean job from 5 goes through 4 with the rounded-once weight.
  int through_4 = 0;
  for (const PathResult& p : out.results.job_paths(2))
    if (p.positions.size() > 1 && p.positions[1] == 4) {
      ++through_4;
      EXPECT_EQ(bits_of(p.edge_attn[1]), bits_of(kTripleMean));
    }
  EXPECT_GE(through_4, 1);

  ASSERT_EQ(out.profiles.size(), 4u);
  for (std::size_t m = 0; m < 4; ++m) {
    EXPECT_EQ(out.profiles[m].seq_index, 0);
    EXPECT_EQ(out.profiles[m].layer, 1);
    EXPECT_EQ(out.profiles[m].head, sp.heads[m]);
    AttentionProfile want;
    accumulate_attention_profile(matrix_of(sp.heads[m]), 6, want);
    EXPECT_EQ(out.profiles[m].sum, want.sum);
    EXPECT_EQ(out.profiles[m].count, want.count);
  }
}

TEST(CpuEngine, MaskAndBosComeFromThePlan) {
  const TempDir dir;
  const std::string path = dir.file("hand_mask_bos.h5");
  HandSequence a = sequence_a();
  write_hand_corpus(path, {a});
  const CorpusReader reader(path);
  SequencePlan sp;
  sp.seq_index = 0;
  sp.seq_len = 6;
  sp.layers = {1};
  sp.heads = {0};
  sp.targets = {5};
  sp.key_mask = {1, 1, 0, 1, 1, 1};
  sp.is_bos = {0, 1, 0, 0, 0, 0};
  TracePlan plan;
  plan.sequences = {sp};
  const SearchParams params = small_params();
  const TraceOutput out = run_collect(*make_cpu_engine(1), reader, plan, params, nullptr);
  const CandidateTable table = build_candidate_table(a.head(1, 0), 6, sp.key_mask.data(), 3, 0.0);
  const auto want = beam_search(table.ref(), 5, sp.is_bos.data(), params);
  expect_same_paths(out.results.job_paths(0), want, "masked");
  for (const PathResult& p : want) {
    EXPECT_EQ(std::count(p.positions.begin(), p.positions.end(), 2), 0);
    EXPECT_TRUE(p.positions.back() == 0 || p.positions.back() == 1);
  }
}

TEST(CpuEngine, BadValuesInAnyHeadReadAreErrorsNamingLayerAndHead) {
  const TempDir dir;
  const std::string path = dir.file("hand_nan.h5");
  HandSequence a = sequence_a();
  a.head(0, 1)[4 * 6 + 2] = std::nanf("");
  a.head(0, 0)[1 * 6 + 3] = -1.0f;  // above the diagonal: ignored
  write_hand_corpus(path, {a});
  const CorpusReader reader(path);
  SequencePlan sp;
  sp.seq_index = 0;
  sp.seq_len = 6;
  sp.layers = {0};
  sp.targets = {5};
  TracePlan plan;
  auto engine = make_cpu_engine(2);

  sp.heads = {0, 2};  // head 1 is never read
  plan.sequences = {sp};
  EXPECT_EQ(run_collect(*engine, reader, plan, small_params(), nullptr).results.num_jobs(), 2u);

  for (const int aggregate : {kHeadMean, kHeadMax}) {
    sp.heads = {aggregate};  // needs every head
    plan.sequences = {sp};
    try {
      run_collect(*engine, reader, plan, small_params(), nullptr);
      ADD_FAILURE() << "no error for a NaN in head 1";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()),
                reader.dataset_label(0, "attention") + " layer 0 head 1: value nan at row 4, column 2");
    }
  }
}

TEST(CpuEngine, SyntheticCorpusSameOutputForAnyThreadCount) {
  const TempDir dir;
  const std::string path = dir.file("synth_threads.h5");
  SynthOptions opt;
  opt.num_sequences = 6;
  opt.num_layers = 2;
  opt.num_heads = 3;
  opt.min_len = 60;
  opt.max_len = 120;
  opt.with_mask = true;
  opt.tie_levels = 16;
  opt.seed = 11;
  write_synthetic_corpus(path, opt);
  const CorpusReader reader(path);
  ASSERT_EQ(reader.sequences().size(), 6u);

  // Every target of every sequence: over 4096 jobs, so the engine runs them in several batches.
  TracePlan plan;
  for (int s = 0; s < 6; ++s) {
    const SequenceInfo& info = reader.sequences()[s];
    SequencePlan sp;
    sp.seq_index = s;
    sp.seq_len = info.seq_len;
    sp.layers = {1, 0};
    sp.heads = {2, kHeadMean, 0, kHeadMax};
    for (int t = info.seq_len - 1; t >= 0; --t) sp.targets.push_back(t);
    sp.key_mask = reader.read_mask(s);
    const std::vector<std::int64_t> ids = reader.read_token_ids(s);
    if (!ids.empty() && reader.bos_token_id())
      for (const std::int64_t id : ids) sp.is_bos.push_back(id == *reader.bos_token_id() ? 1 : 0);
    plan.sequences.push_back(sp);
  }
  SearchParams params;
  params.top_k = 4;
  params.top_beam = 3;

  std::vector<std::int64_t> progress;
  const TraceOutput one = run_collect(*make_cpu_engine(1), reader, plan, params, [&](std::int64_t done, std::int64_t total) {
    EXPECT_EQ(total, plan.num_matrices());
    progress.push_back(done);
  });
  ASSERT_GT(plan.num_jobs(), 4096);
  ASSERT_EQ(one.results.num_jobs(), static_cast<std::size_t>(plan.num_jobs()));
  ASSERT_EQ(progress.size(), static_cast<std::size_t>(plan.num_matrices()));
  for (std::size_t k = 0; k < progress.size(); ++k) EXPECT_EQ(progress[k], static_cast<std::int64_t>(k) + 1);
  ASSERT_EQ(one.profiles.size(), static_cast<std::size_t>(plan.num_matrices()));
  for (const int threads : {2, 4}) {
    SCOPED_TRACE(threads);
    expect_identical(run_collect(*make_cpu_engine(threads), reader, plan, params, nullptr), one);
  }

  // Plan order, and each single-head job equals the stages run directly on what the reader gives.
  std::size_t k = 0, m = 0;
  for (const SequencePlan& sp : plan.sequences)
    for (const int layer : sp.layers)
      for (const int head : sp.heads) {
        EXPECT_EQ(one.profiles[m].seq_index, sp.seq_index);
        EXPECT_EQ(one.profiles[m].layer, layer);
        EXPECT_EQ(one.profiles[m++].head, head);
        std::vector<float> matrix;
        if (head >= 0) {
          matrix.resize(static_cast<std::size_t>(sp.seq_len) * sp.seq_len);
          reader.read_heads(sp.seq_index, layer, head, 1, matrix.data());
        }
        for (const int target : sp.targets) {
          EXPECT_EQ(one.results.jobs[k], (JobKey{sp.seq_index, layer, head, target}));
          if (head >= 0) {
            const CandidateTable table = build_candidate_table(
                matrix.data(), sp.seq_len, sp.key_mask.empty() ? nullptr : sp.key_mask.data(), params.top_k, 0.0);
            expect_same_paths(one.results.job_paths(k),
                              beam_search(table.ref(), target, sp.is_bos.empty() ? nullptr : sp.is_bos.data(), params),
                              "job " + std::to_string(k));
          }
          ++k;
        }
      }
}

// EngineTimes: reading and tracing are timed apart from the sink's hold-ups, all on the calling
// thread; the GPU phases stay 0.
TEST(CpuEngine, ReportsWhereItsTimeWent) {
  const TempDir dir;
  const std::string path = dir.file("times.h5");
  SynthOptions opt;
  opt.num_sequences = 2;
  opt.num_layers = 2;
  opt.num_heads = 2;
  opt.min_len = opt.max_len = 64;
  write_synthetic_corpus(path, opt);
  const CorpusReader reader(path);
  TracePlan plan;
  for (int s = 0; s < 2; ++s) {
    SequencePlan sp;
    sp.seq_index = s;
    sp.seq_len = 64;
    sp.layers = {0, 1};
    sp.heads = {0, 1, kHeadMean};
    for (int t = 0; t < 64; ++t) sp.targets.push_back(t);
    plan.sequences.push_back(sp);
  }
  ratrace::testing::HoldingSink sink(std::chrono::milliseconds(20));
  const auto start = std::chrono::steady_clock::now();
  const RunReport report = make_cpu_engine(2)->run(reader, plan, SearchParams{}, sink, {});
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(sink.jobs, plan.num_jobs());
  ASSERT_GE(sink.batches, 1);
  const EngineTimes& t = report.times;
  ratrace::testing::expect_phases_fit(t, wall_s, sink);
  EXPECT_GT(t.compute_s, 0.0);
  EXPECT_EQ(t.pack_s, 0.0);
  EXPECT_EQ(t.device_wait_s, 0.0);
  EXPECT_EQ(t.fetch_s, 0.0);
  EXPECT_EQ(t.results_wait_s, 0.0);
  EXPECT_FALSE(t.results_beside);
  EXPECT_EQ(sink.threads, (std::set<std::thread::id>{std::this_thread::get_id()}));
}

// run_collect's sink (and verify's): each batch is read, then handed back emptied as the one spare,
// its memory kept, so that an engine refills it as it would the results stream's.
TEST(RecyclingSink, HandsEachBatchBackEmptiedWithItsMemory) {
  std::vector<std::size_t> jobs_read, nodes_read;
  RecyclingSink sink([&](const TraceBatch& b) {
    jobs_read.push_back(b.results.num_jobs());
    nodes_read.push_back(b.results.num_nodes());
  });
  EXPECT_EQ(sink.spare().results.node_position.capacity(), 0u);  // nothing consumed yet: a new batch

  TraceBatch batch;
  const std::vector<PathResult> paths = {ratrace::testing::path_result({3, 1, 0}, {0.5f, 0.25f}, -2.1, -1.05)};
  batch.results.append(JobKey{0, 0, 0, 3}, paths);
  batch.results.append(JobKey{0, 0, 1, 3}, paths);
  batch.profiles.resize(2);
  const std::int32_t* memory = batch.results.node_position.data();
  sink.consume(std::move(batch));

  TraceBatch spare = sink.spare();
  EXPECT_EQ(spare.results.num_jobs(), 0u);
  EXPECT_EQ(spare.results.num_nodes(), 0u);
  EXPECT_TRUE(spare.profiles.empty());
  EXPECT_EQ(spare.results.node_position.data(), memory);  // the same block, to be refilled
  EXPECT_GE(spare.results.node_position.capacity(), 6u);
  EXPECT_EQ(sink.spare().results.node_position.capacity(), 0u);  // handed out once
  EXPECT_EQ(jobs_read, (std::vector<std::size_t>{2}));
  EXPECT_EQ(nodes_read, (std::vector<std::size_t>{6}));
}
