// CPU reference stages: (a) candidate tables, (b) beam search over all targets of a matrix, and
// the brute-force oracle on the same jobs, so the two-stage speed-up is measured in one run.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <utility>
#include <vector>

#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/synth.hpp"
#include "support/oracle.hpp"

using namespace ratrace;

namespace {

// Synthetic head matrices, cached per (pattern, S): realistic shapes (sink, previous token, local
// window, induction, diffuse) from the synth module.
const std::vector<float>& matrix_for(int pattern, int S) {
  static std::map<std::pair<int, int>, std::vector<float>> cache;
  auto [it, inserted] = cache.try_emplace({pattern, S});
  if (inserted) it->second = synth_head_matrix(static_cast<HeadPattern>(pattern), S, 42);
  return it->second;
}

const char* pattern_name(int pattern) {
  static const char* const names[] = {"sink", "previous_token", "local_window", "induction", "diffuse"};
  return names[pattern];
}

SearchParams params_with(int top_beam, int top_k) {
  SearchParams p;
  p.top_beam = top_beam;
  p.top_k = top_k;
  return p;  // avg_logprob, tau 0, stop_at_bos on (no BOS positions here)
}

// Stage (a): args {S, K, pattern}.
void BM_CandidateTable(benchmark::State& state) {
  const int S = static_cast<int>(state.range(0));
  const int K = static_cast<int>(state.range(1));
  const int pattern = static_cast<int>(state.range(2));
  const std::vector<float>& A = matrix_for(pattern, S);
  for (auto _ : state) {
    CandidateTable t = build_candidate_table(A.data(), S, nullptr, K, 0.0);
    benchmark::DoNotOptimize(t);
  }
  state.SetLabel(pattern_name(pattern));
  const double elements = static_cast<double>(S) * (S - 1) / 2.0;
  state.counters["elements_per_s"] = benchmark::Counter(elements, benchmark::Counter::kIsIterationInvariantRate);
}

// Stage (b): every target of one S = 512 matrix. Args {B, K, pattern}.
void BM_BeamSearchAllTargets(benchmark::State& state) {
  const int S = 512;
  const SearchParams p = params_with(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const int pattern = static_cast<int>(state.range(2));
  const std::vector<float>& A = matrix_for(pattern, S);
  const CandidateTable table = build_candidate_table(A.data(), S, nullptr, p.top_k, p.min_attn);
  std::int64_t nodes = 0;
  for (auto _ : state) {
    for (int t = 0; t < S; ++t) {
      const std::vector<PathResult> r = beam_search(table.ref(), t, nullptr, p);
      for (const PathResult& path : r) nodes += static_cast<std::int64_t>(path.positions.size());
    }
  }
  state.SetLabel(pattern_name(pattern));
  state.counters["jobs_per_s"] = benchmark::Counter(S, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nodes_per_job"] = static_cast<double>(nodes) / (static_cast<double>(state.iterations()) * S);
}

// Both stages for every target (what one matrix costs end to end), same args as the oracle.
void BM_TwoStageAllTargets(benchmark::State& state) {
  const int S = 512;
  const SearchParams p = params_with(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const int pattern = static_cast<int>(state.range(2));
  const std::vector<float>& A = matrix_for(pattern, S);
  for (auto _ : state) {
    const CandidateTable table = build_candidate_table(A.data(), S, nullptr, p.top_k, p.min_attn);
    for (int t = 0; t < S; ++t) benchmark::DoNotOptimize(beam_search(table.ref(), t, nullptr, p));
  }
  state.SetLabel(pattern_name(pattern));
  state.counters["jobs_per_s"] = benchmark::Counter(S, benchmark::Counter::kIsIterationInvariantRate);
}

// The brute-force oracle (row scans, copied paths, full terminal list) on the same jobs.
void BM_OracleAllTargets(benchmark::State& state) {
  const int S = 512;
  const SearchParams p = params_with(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const int pattern = static_cast<int>(state.range(2));
  const std::vector<float>& A = matrix_for(pattern, S);
  for (auto _ : state)
    for (int t = 0; t < S; ++t) benchmark::DoNotOptimize(oracle::trace(A.data(), S, nullptr, nullptr, t, p));
  state.SetLabel(pattern_name(pattern));
  state.counters["jobs_per_s"] = benchmark::Counter(S, benchmark::Counter::kIsIterationInvariantRate);
}

// The whole CPU engine (read, check, aggregate, tables, searches) on a synthetic corpus of
// 2 sequences x 8 heads x S = 1024: every head plus mean, every 8th target. Arg: threads.
void BM_CpuEngineRun(benchmark::State& state) {
  static const std::string path = [] {
    // Static, so that the atexit handler (which cannot capture) removes the same file.
    static const std::string file =
        (std::filesystem::temp_directory_path() / ("ratrace_bench_cpu_engine_" + std::to_string(::getpid()) + ".h5"))
            .string();
    SynthOptions o;
    o.num_sequences = 2;
    o.num_layers = 1;
    o.num_heads = 8;
    o.min_len = o.max_len = 1024;
    write_synthetic_corpus(file, o);
    std::atexit([] { std::filesystem::remove(file); });
    return file;
  }();
  const CorpusReader reader(path);
  TracePlan plan;
  for (int s = 0; s < static_cast<int>(reader.sequences().size()); ++s) {
    SequencePlan sp;
    sp.seq_index = s;
    sp.seq_len = reader.sequences()[s].seq_len;
    sp.layers = {0};
    sp.heads = {0, 1, 2, 3, 4, 5, 6, 7, kHeadMean};
    for (int t = sp.seq_len - 1; t >= 0; t -= 8) sp.targets.push_back(t);
    plan.sequences.push_back(sp);
  }
  auto engine = make_cpu_engine(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(run_collect(*engine, reader, plan, SearchParams{}, nullptr));
  state.counters["jobs_per_s"] =
      benchmark::Counter(static_cast<double>(plan.num_jobs()), benchmark::Counter::kIsIterationInvariantRate);
}

void table_args(benchmark::internal::Benchmark* b) {
  for (const int S : {512, 1024, 2048})
    for (const int K : {5, 32}) b->Args({S, K, 4});  // diffuse: the most insertions
  b->Args({2048, 5, 2});                              // local window
}

void search_args(benchmark::internal::Benchmark* b) {
  for (const int pattern : {0, 1, 2, 3, 4}) b->Args({5, 5, pattern});
}

}  // namespace

BENCHMARK(BM_CandidateTable)->Apply(table_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BeamSearchAllTargets)->Apply(search_args)->Args({32, 32, 4})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TwoStageAllTargets)->Apply(search_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OracleAllTargets)->Apply(search_args)->Unit(benchmark::kMillisecond);

BENCHMARK(BM_CpuEngineRun)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
