// The whole GPU engine against the CPU engine on synthetic corpora: every dtype, aggregates,
// masks, BOS, ties, parameters; memory bounds that force splitting; bad values.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <thread>
#include <tuple>

#include "gpu_test_support.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/synth.hpp"
#include "run/trace_run.hpp"
#include "support/corpus_builder.hpp"
#include "support/engine_times.hpp"
#include "support/results_compare.hpp"
#include "verify/compare.hpp"
#include "verify/host_probe.hpp"

using namespace ratrace;

namespace {

struct Scenario {
  std::string name;
  SynthOptions synth;
  std::string heads = "all,mean,max";
  std::string targets = "all";
  SearchParams params;
  std::int64_t gpu_mem = 0;
};

SynthOptions small_corpus(AttnDtype dtype) {
  SynthOptions o;
  o.num_sequences = 3;
  o.num_layers = 2;
  o.num_heads = 4;
  o.min_len = 20;
  o.max_len = 70;
  o.dtype = dtype;
  return o;
}

// Every layer of the corpus at `path`, with these heads and targets.
TraceRequest every_layer(const std::string& path, const std::string& heads, const std::string& targets) {
  TraceRequest request;
  request.input = path;
  request.layers = "all";
  request.heads = heads;
  request.targets = targets;
  return request;
}

// GPU results against the CPU reference's, per SPEC §2 (near-ties told apart by the host probe).
CompareReport compare_to_cpu(const CorpusReader& reader, const TracePlan& plan, const SearchParams& params,
                             const TraceResults& cpu, const TraceResults& gpu) {
  HostNearTieProbe probe(reader, plan, params);
  return compare_results(
      cpu, gpu, params, [&](const JobKey& k) { return probe(k); }, 5,
      [&](const JobKey& k, std::int32_t from, std::int32_t to, float attn) { return probe.is_candidate(k, from, to, attn); });
}

// Runs both engines on the corpus at `path` and compares results, profiles and row-sum tallies.
void expect_engines_agree_on(const std::string& path, const Scenario& s) {
  const CorpusReader reader(path);
  TraceRequest request = every_layer(path, s.heads, s.targets);
  request.params = s.params;
  const PlannedTrace planned = plan_trace(reader, request);
  GpuOptions options;
  options.mem_limit_bytes = s.gpu_mem;
  const TraceOutput gpu = run_collect(*make_gpu_engine(options), reader, planned.plan, s.params, {});
  const TraceOutput cpu = run_collect(*make_cpu_engine(2), reader, planned.plan, s.params, {});

  EXPECT_EQ(gpu.results.num_jobs(), cpu.results.num_jobs()) << s.name;
  const CompareReport r = compare_to_cpu(reader, planned.plan, s.params, cpu.results, gpu.results);
  EXPECT_EQ(r.jobs_compared, planned.plan.num_jobs()) << s.name;
  EXPECT_EQ(r.mismatches, 0) << s.name << ": " << (r.first_mismatches.empty() ? "" : r.first_mismatches[0]);
  if (r.near_ties) std::printf("  [%s] %lld near-ties\n", s.name.c_str(), static_cast<long long>(r.near_ties));
  const ProfileReport p = compare_profiles(cpu.profiles, gpu.profiles);
  EXPECT_EQ(p.compared, planned.plan.num_matrices()) << s.name;
  EXPECT_EQ(gpu.profiles.size(), cpu.profiles.size()) << s.name;
  EXPECT_EQ(p.mismatches, 0) << s.name << ": " << (p.first_mismatches.empty() ? "" : p.first_mismatches[0]);
  EXPECT_EQ(gpu.row_sums.rows_checked, cpu.row_sums.rows_checked) << s.name;
  EXPECT_EQ(gpu.row_sums.rows_off, cpu.row_sums.rows_off) << s.name;
}

void expect_engines_agree(const Scenario& s) {
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("corpus.h5");
  write_synthetic_corpus(path, s.synth);
  expect_engines_agree_on(path, s);
}

// L x H random causal heads of length S as float32 values (NaN above the diagonal: never read).
std::vector<float> random_layers(int L, int H, int S, std::mt19937_64& rng) {
  std::vector<float> a;
  for (int m = 0; m < L * H; ++m) {
    const std::vector<float> head = gpu_test::random_matrix(S, rng, m % 3 == 0 ? 8 : 0);
    a.insert(a.end(), head.begin(), head.end());
  }
  return a;
}

std::vector<std::uint16_t> to_bits(const std::vector<float>& a, bool bf16) {
  std::vector<std::uint16_t> bits(a.size());
  for (std::size_t k = 0; k < a.size(); ++k) bits[k] = bf16 ? synth::float_to_bfloat16_bits(a[k]) : synth::float_to_half_bits(a[k]);
  return bits;
}

}  // namespace


// The InputError messages of the CPU and the GPU engine for all layers of `heads` ("" if none).
static std::pair<std::string, std::string> bad_value_messages(const CorpusReader& reader, const std::string& path,
                                                              const char* heads) {
  const TraceRequest request = every_layer(path, heads, "-1");
  const PlannedTrace planned = plan_trace(reader, request);
  std::string cpu_message, gpu_message;
  try {
    run_collect(*make_cpu_engine(1), reader, planned.plan, request.params, {});
  } catch (const InputError& e) {
    cpu_message = e.what();
  }
  try {
    run_collect(*make_gpu_engine(GpuOptions{}), reader, planned.plan, request.params, {});
  } catch (const InputError& e) {
    gpu_message = e.what();
  }
  return {cpu_message, gpu_message};
}

TEST(GpuEngine, AgreesWithCpuOnEveryDtype) {
  RATRACE_REQUIRE_GPU();
  for (const AttnDtype d : {AttnDtype::float16, AttnDtype::bfloat16, AttnDtype::float32, AttnDtype::float64}) {
    Scenario s;
    s.name = std::string(dtype_name(d));
    s.synth = small_corpus(d);
    expect_engines_agree(s);
  }
}

TEST(GpuEngine, AgreesWithCpuOnMasksTiesBosAndParameters) {
  RATRACE_REQUIRE_GPU();
  const char* norms[] = {"none", "avg_logprob", "sqrt", "pow:0.7"};
  for (int k = 0; k < 4; ++k) {
    Scenario s;
    s.name = fmt::format("variant {}", k);
    s.synth = small_corpus(k % 2 ? AttnDtype::float16 : AttnDtype::float32);
    s.synth.with_mask = k >= 2;
    s.synth.tie_levels = k % 2 ? 16 : 0;
    s.synth.chunk_rows = k == 3 ? 8 : 0;
    s.synth.deflate = k == 3 ? 4 : 0;
    s.synth.seed = 100 + k;
    s.params.length_norm = LengthNorm::parse(norms[k]);
    s.params.top_beam = k == 1 ? 32 : 3 + k;
    s.params.top_k = k == 1 ? 32 : 2 + 2 * k;
    s.params.min_attn = k == 2 ? 0.01 : 0.0;
    s.params.stop_at_bos = k != 3;
    expect_engines_agree(s);
  }
}

TEST(GpuEngine, AgreesWithCpuOnLongerSequencesPerHeadOnly) {
  RATRACE_REQUIRE_GPU();
  Scenario s;
  s.name = "per-head S=600";
  s.synth = small_corpus(AttnDtype::bfloat16);
  s.synth.num_sequences = 2;
  s.synth.num_heads = 6;
  s.synth.min_len = 500;
  s.synth.max_len = 600;
  s.heads = "0,2,3,-1";
  s.targets = "-1,-2,300,0";
  expect_engines_agree(s);
}

TEST(GpuEngine, SmallMemoryBoundSplitsHeadsAndJobsWithoutChangingResults) {
  RATRACE_REQUIRE_GPU();
  Scenario s;
  s.name = "tiny memory bound";
  s.synth = small_corpus(AttnDtype::float32);
  s.synth.num_sequences = 1;
  s.synth.min_len = s.synth.max_len = 64;
  s.heads = "all";
  // 44 KiB per stream: head groups of 2 packed 64 x 64 float32 heads (4 need ~62 KiB), one unit
  // per launch, and job batches of a few searches each.
  s.gpu_mem = 2 * 44 * 1024;
  expect_engines_agree(s);
  // 150 KiB: both layers' mean units (~45 KiB each) share one launch; its 256 jobs run in batches.
  s.heads = "mean,1";
  s.gpu_mem = 2 * 150 * 1024;
  expect_engines_agree(s);
}

TEST(GpuEngine, LayerThatCannotFitIsAUsageError) {
  RATRACE_REQUIRE_GPU();
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("corpus.h5");
  SynthOptions o = small_corpus(AttnDtype::float32);
  o.min_len = o.max_len = 256;
  write_synthetic_corpus(path, o);
  const CorpusReader reader(path);
  TraceRequest request;
  request.input = path;
  const PlannedTrace planned = plan_trace(reader, request);  // mean of the last layer
  GpuOptions options;
  options.mem_limit_bytes = 2 * 100 * 1024;
  EXPECT_THROW(run_collect(*make_gpu_engine(options), reader, planned.plan, request.params, {}), UsageError);
}

TEST(GpuEngine, BadValueMessageIsTheCpuMessage) {
  RATRACE_REQUIRE_GPU();
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("bad.h5");
  const int L = 2, H = 3, S = 8;
  std::vector<float> a(static_cast<std::size_t>(L) * H * S * S, 0.0f);
  for (int m = 0; m < L * H; ++m)
    for (int i = 0; i < S; ++i) a[(static_cast<std::size_t>(m) * S + i) * S] = 1.0f;  // all weight on j = 0
  a[((static_cast<std::size_t>(1) * H + 2) * S + 5) * S + 3] = -0.25f;  // layer 1, head 2, row 5, column 3
  {
    ratrace::testing::CorpusBuilder b(path);
    b.sequence("s").attention_f32({static_cast<hsize_t>(L), static_cast<hsize_t>(H), S, S}, a);
  }
  const CorpusReader reader(path);
  for (const char* heads : {"mean", "2", "0,2,max"}) {
    const auto [cpu_message, gpu_message] = bad_value_messages(reader, path, heads);
    EXPECT_FALSE(cpu_message.empty()) << heads;
    EXPECT_EQ(gpu_message, cpu_message) << heads;
    EXPECT_NE(gpu_message.find("layer 1 head 2"), std::string::npos) << gpu_message;
    EXPECT_NE(gpu_message.find("row 5, column 3"), std::string::npos) << gpu_message;
  }
}

TEST(GpuEngine, DescribesItsDevice) {
  RATRACE_REQUIRE_GPU();
  const auto engine = make_gpu_engine(GpuOptions{});
  EXPECT_EQ(engine->device_description(), "gpu: " + query_gpu().name);
}

// EngineTimes and the results thread: reading (with packing) and waiting for the device are timed apart
// from the sink's hold-ups, over several launches and batches (a memory bound splits them). A sink
// that may be called beside the reader gets every batch on one other thread, and the results are
// the same as when it may not (then every call comes from the calling thread).
TEST(GpuEngine, ResultsThreadAndWhereTheTimeWent) {
  RATRACE_REQUIRE_GPU();
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("times.h5");
  SynthOptions o = small_corpus(AttnDtype::float16);
  o.min_len = o.max_len = 64;
  write_synthetic_corpus(path, o);
  const CorpusReader reader(path);
  const TraceRequest request = every_layer(path, "all,mean", "all");
  const PlannedTrace planned = plan_trace(reader, request);
  GpuOptions options;
  options.mem_limit_bytes = 2 * 150 * 1024;
  const auto engine = make_gpu_engine(options);

  std::vector<TraceOutput> outputs;
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> shapes;
  for (const bool beside : {true, false}) {
    SCOPED_TRACE(beside ? "results thread" : "inline");
    ratrace::testing::HoldingSink sink(std::chrono::milliseconds(2), beside);
    const auto start = std::chrono::steady_clock::now();
    const RunReport report = engine->run(reader, planned.plan, request.params, sink, {});
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(sink.jobs, planned.plan.num_jobs());
    ASSERT_GE(sink.batches, 2);
    const EngineTimes& t = report.times;
    ratrace::testing::expect_phases_fit(t, wall_s, sink);
    EXPECT_EQ(t.results_beside, beside);
    ASSERT_EQ(sink.threads.size(), 1u);
    EXPECT_EQ(*sink.threads.begin() == std::this_thread::get_id(), !beside);
    EXPECT_GT(t.read_s, 0.0);
    EXPECT_EQ(t.pack_s, 0.0);  // float16 rows are packed as they are read, within read_s
    EXPECT_GT(t.device_wait_s, 0.0);
    EXPECT_GT(t.fetch_s, 0.0);
    EXPECT_EQ(t.compute_s, 0.0);
    if (!beside) EXPECT_EQ(t.results_wait_s, 0.0);
    // The same run collected, in each mode: the same batches (jobs and profiles each), same output.
    struct Collect final : BatchSink {
      explicit Collect(bool b) : beside(b) {}
      void consume(TraceBatch&& batch) override {
        shapes.emplace_back(batch.results.num_jobs(), batch.profiles.size());
        out.results.append(batch.results);
        out.profiles.insert(out.profiles.end(), batch.profiles.begin(), batch.profiles.end());
      }
      bool may_consume_beside_reader() const override { return beside; }
      bool beside;
      TraceOutput out;
      std::vector<std::pair<std::size_t, std::size_t>> shapes;  // (jobs, profiles) of each batch
    } collect(beside);
    engine->run(reader, planned.plan, request.params, collect, {});
    // An earlier batch of a launch with several (jobs, no profiles: those come with the last one).
    EXPECT_TRUE(std::any_of(collect.shapes.begin(), collect.shapes.end(),
                            [](const auto& shape) { return shape.first > 0 && shape.second == 0; }));
    outputs.push_back(std::move(collect.out));
    shapes.push_back(std::move(collect.shapes));
  }
  EXPECT_EQ(shapes[0], shapes[1]);
  ratrace::testing::expect_identical_results(outputs[0].results, outputs[1].results);
  ASSERT_EQ(outputs[0].profiles.size(), outputs[1].profiles.size());
  for (std::size_t k = 0; k < outputs[0].profiles.size(); ++k) {
    const AttentionProfile &a = outputs[0].profiles[k], &b = outputs[1].profiles[k];
    EXPECT_EQ(std::tie(a.seq_index, a.layer, a.head), std::tie(b.seq_index, b.layer, b.head)) << k;
  }
  EXPECT_EQ(compare_profiles(outputs[0].profiles, outputs[1].profiles).mismatches, 0);
}

// Results come back into page-locked memory once a sink recycles its batches: the first run fills
// fresh batches, which stay pageable; the second refills them, pinning every column large enough
// (detail::kPinnableBlockBytes) and no smaller one; the values are the CPU reference's each time,
// and freeing the batches unpins everything.
TEST(GpuEngine, RefilledResultColumnsArePageLockedAndUnlockWhenFreed) {
  RATRACE_REQUIRE_GPU();
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("pinned.h5");
  SynthOptions o = small_corpus(AttnDtype::float16);
  o.num_sequences = 1;
  o.num_layers = 1;
  o.num_heads = 2;
  o.min_len = o.max_len = 512;  // 2 heads x 512 targets: ~650,000 nodes, 2.6 MB a node column
  write_synthetic_corpus(path, o);
  const CorpusReader reader(path);
  const TraceRequest request = every_layer(path, "all", "all");
  const PlannedTrace planned = plan_trace(reader, request);
  const TraceOutput cpu = run_collect(*make_cpu_engine(2), reader, planned.plan, request.params, {});

  // Keeps what each run delivered, and hands its batches back as spares for the next run.
  struct Recycle final : BatchSink {
    void consume(TraceBatch&& batch) override {
      run.append(batch.results);
      held.push_back(std::move(batch));
    }
    TraceBatch spare() override {
      if (spares.empty()) return {};
      TraceBatch b = std::move(spares.back());
      spares.pop_back();
      b.results.clear();
      return b;
    }
    TraceResults run;
    std::vector<TraceBatch> held, spares;
  } sink;
  const auto engine = make_gpu_engine(GpuOptions{});
  const std::size_t before = detail::pinned_result_bytes();
  for (const bool refill : {false, true}) {
    SCOPED_TRACE(refill ? "refilled batches" : "fresh batches");
    sink.run = TraceResults{};
    engine->run(reader, planned.plan, request.params, sink, {});
    const CompareReport report = compare_to_cpu(reader, planned.plan, request.params, cpu.results, sink.run);
    EXPECT_EQ(report.jobs_compared, planned.plan.num_jobs());
    EXPECT_EQ(report.mismatches, 0) << (report.first_mismatches.empty() ? "" : report.first_mismatches[0]);

    std::size_t pinnable = 0, small = 0;
    for (const TraceBatch& b : sink.held) {
      const TraceResults& r = b.results;
      for (const std::size_t bytes : {r.path_begin.capacity() * 8, r.score_raw.capacity() * 8, r.score_norm.capacity() * 8,
                                      r.node_begin.capacity() * 8, r.node_position.capacity() * 4,
                                      r.node_edge_attn.capacity() * 4}) {
        if (bytes >= detail::kPinnableBlockBytes)
          pinnable += detail::whole_pages(bytes);
        else
          ++small;
      }
    }
    ASSERT_GT(pinnable, 0u);
    EXPECT_GT(small, 0u);
    EXPECT_EQ(detail::pinned_result_bytes() - before, refill ? pinnable : 0u);
    sink.spares = std::move(sink.held);
    sink.held.clear();
  }
  sink.spares.clear();
  EXPECT_EQ(detail::pinned_result_bytes(), before);
}

// The host thread stops on bad values in the last launch while the results thread is still inside
// the sink with the launch before: the run ends with the input error once that call is over, and
// nothing reaches the sink afterwards.
TEST(GpuEngine, AnInputErrorWhileTheResultsThreadDeliversEndsTheRunCleanly) {
  RATRACE_REQUIRE_GPU();
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("late_nan.h5");
  std::mt19937_64 rng(5);
  const int L = 2, H = 2, S = 40;
  {
    ratrace::testing::CorpusBuilder builder(path);
    const std::vector<hsize_t> dims = {L, H, S, S};
    // float32, float16, float32: three launches (a launch holds one element type), one batch each.
    builder.sequence("a").attention_f32(dims, random_layers(L, H, S, rng));
    builder.sequence("b").attention_f16_bits(dims, to_bits(random_layers(L, H, S, rng), false));
    std::vector<float> c = random_layers(L, H, S, rng);
    c[((static_cast<std::size_t>(1) * H + 1) * S + 30) * S + 3] = std::nanf("");
    builder.sequence("c").attention_f32(dims, c);
  }
  const CorpusReader reader(path);
  const TraceRequest request = every_layer(path, "all", "all");
  const PlannedTrace planned = plan_trace(reader, request);
  struct SlowSink final : BatchSink {
    void consume(TraceBatch&&) override {
      in_call = true;
      ++calls;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      in_call = false;
    }
    std::atomic<bool> in_call{false};
    std::atomic<int> calls{0};
  } sink;
  EXPECT_THROW(make_gpu_engine(GpuOptions{})->run(reader, planned.plan, request.params, sink, {}), InputError);
  EXPECT_FALSE(sink.in_call);
  const int calls = sink.calls;
  // a's batch, and b's unless the failure came before the results thread took it up (then it is
  // dropped); c is the launch with the bad value.
  EXPECT_GE(calls, 1);
  EXPECT_LE(calls, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(sink.calls, calls);
}

// A sink that fails on the results thread stops the run with its error (no hang, no lost error).
TEST(GpuEngine, ASinkFailureOnTheResultsThreadStopsTheRun) {
  RATRACE_REQUIRE_GPU();
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("fail.h5");
  write_synthetic_corpus(path, small_corpus(AttnDtype::float32));
  const CorpusReader reader(path);
  const TraceRequest request = every_layer(path, "all", "all");
  const PlannedTrace planned = plan_trace(reader, request);
  GpuOptions options;
  options.mem_limit_bytes = 2 * 150 * 1024;  // several launches and batches
  int calls = 0;
  BatchSink failing([&](TraceBatch&&) {
    if (++calls == 2) throw std::runtime_error("disk full");
  });
  try {
    make_gpu_engine(options)->run(reader, planned.plan, request.params, failing, {});
    ADD_FAILURE() << "the run did not fail";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "disk full");
  }
  EXPECT_EQ(calls, 2);  // nothing delivered after the failure
}

// Short sequences of several lengths and dtypes in one corpus: the engine batches consecutive units
// of one element type into shared launches (and starts a new launch at each change of type);
// results must not change, with or without a memory bound that splits the launches.
TEST(GpuEngine, ShortSequencesOfMixedLengthsAndDtypesShareLaunches) {
  RATRACE_REQUIRE_GPU();
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("mixed.h5");
  std::mt19937_64 rng(31);
  const int L = 3, H = 4;
  {
    ratrace::testing::CorpusBuilder b(path);
    const auto dims = [&](int S) {
      return std::vector<hsize_t>{static_cast<hsize_t>(L), static_cast<hsize_t>(H), static_cast<hsize_t>(S), static_cast<hsize_t>(S)};
    };
    const auto ids = [](int S) {
      std::vector<std::int64_t> t(static_cast<std::size_t>(S));
      for (int i = 0; i < S; ++i) t[i] = i % 7 == 0 ? 1 : 10 + i;  // BOS id 1 here and there
      return t;
    };
    const auto mask = [](int S) {
      std::vector<std::int8_t> m(static_cast<std::size_t>(S), 1);
      for (int i = 1; i < S; i += 5) m[i] = 0;
      return m;
    };
    b.sequence("a").attention_f16_bits(dims(12), to_bits(random_layers(L, H, 12, rng), false)).token_ids(ids(12));
    b.sequence("b").attention_f16_bits(dims(40), to_bits(random_layers(L, H, 40, rng), false)).token_ids(ids(40)).mask(mask(40));
    b.sequence("c").attention_f16_bits(dims(1), to_bits(random_layers(L, H, 1, rng), false));
    b.sequence("d").attention_f32(dims(25), random_layers(L, H, 25, rng)).token_ids(ids(25));
    b.sequence("e").attention_bf16_bits(dims(33), to_bits(random_layers(L, H, 33, rng), true)).mask(mask(33));
    std::vector<float> f = random_layers(L, H, 30, rng);
    b.sequence("f").attention_f64(dims(30), std::vector<double>(f.begin(), f.end())).token_ids(ids(30));
    b.sequence("g").attention_f16_bits(dims(70), to_bits(random_layers(L, H, 70, rng), false)).token_ids(ids(70));
    b.attr_int("bos_token_id", 1);
  }
  Scenario s;
  s.name = "mixed, all heads + mean + max";
  s.heads = "all,mean,max";
  expect_engines_agree_on(path, s);
  s.name = "mixed, per-head subset";
  s.heads = "2,0";
  s.targets = "-1,0";  // sequence c has a single token
  s.params.top_beam = 3;
  s.params.top_k = 7;
  expect_engines_agree_on(path, s);
  s.name = "mixed, tight memory bound";
  s.heads = "mean,1";
  s.targets = "all";
  s.gpu_mem = 2 * 120 * 1024;  // 120 KiB per stream: launches of a few units, split job batches
  expect_engines_agree_on(path, s);
}

// Bad values in several places of one launch: the error is the CPU reference's (the first bad
// element in plan order: sequence, layer, then the heads in the order the CPU reads them).
TEST(GpuEngine, BadValueOrderAcrossSequencesAndHeadsIsTheCpuOrder) {
  RATRACE_REQUIRE_GPU();
  ratrace::testing::TempDir dir;
  const std::string path = dir.file("bad2.h5");
  const int L = 2, H = 3, S = 9;
  const auto good = [&] {
    std::vector<float> a(static_cast<std::size_t>(L) * H * S * S, 0.0f);
    for (int m = 0; m < L * H; ++m)
      for (int i = 0; i < S; ++i) a[(static_cast<std::size_t>(m) * S + i) * S] = 1.0f;
    return a;
  };
  const auto at = [&](int layer, int head, int i, int j) { return ((static_cast<std::size_t>(layer) * H + head) * S + i) * S + j; };
  std::vector<float> a = good(), b = good();
  a[at(1, 0, 6, 2)] = std::numeric_limits<float>::quiet_NaN();
  a[at(1, 2, 3, 1)] = -1.0f;
  b[at(0, 1, 4, 4)] = std::numeric_limits<float>::infinity();
  {
    ratrace::testing::CorpusBuilder builder(path);
    const std::vector<hsize_t> dims = {static_cast<hsize_t>(L), static_cast<hsize_t>(H), S, S};
    builder.sequence("a").attention_f32(dims, a);
    builder.sequence("b").attention_f32(dims, b);
  }
  const CorpusReader reader(path);
  for (const char* heads : {"mean", "2,0", "0,2", "1", "max,1"}) {
    const auto [cpu_message, gpu_message] = bad_value_messages(reader, path, heads);
    EXPECT_FALSE(cpu_message.empty()) << heads;
    EXPECT_EQ(gpu_message, cpu_message) << heads;
  }
}
