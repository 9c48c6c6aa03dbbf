// Writing a results file: the streaming writer (chunks encoded on a thread pool, stored with
// H5Dwrite_chunk) with 1 and all threads, against HDF5 applying the same shuffle + deflate filters
// itself on one thread, on the same traced paths; and filling a batch's arrays fresh or spare.
// Bytes are the in-memory size of the arrays.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "io/chunk_codec.hpp"
#include "io/hdf5_util.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/results_writer.hpp"
#include "ratrace/synth.hpp"

using namespace ratrace;
namespace fs = std::filesystem;

namespace {

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const fs::path d = fs::temp_directory_path() / ("ratrace_bench_write_" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] { fs::remove_all(fs::temp_directory_path() / ("ratrace_bench_write_" + std::to_string(::getpid()))); });
    return d.string();
  }();
  return dir;
}

// Every target of 8 synthetic heads of 1024 tokens (all head patterns), traced by the CPU engine.
const ResultsFile& traced_paths() {
  static const ResultsFile file = [] {
    const std::string corpus = scratch_dir() + "/corpus.h5";
    SynthOptions o;
    o.num_sequences = 1;
    o.num_layers = 1;
    o.num_heads = 8;
    o.min_len = o.max_len = 1024;
    write_synthetic_corpus(corpus, o);
    const CorpusReader reader(corpus);
    TracePlan plan;
    SequencePlan sp;
    sp.seq_len = 1024;
    sp.layers = {0};
    sp.heads = {0, 1, 2, 3, 4, 5, 6, 7};
    for (int t = 0; t < sp.seq_len; ++t) sp.targets.push_back(t);
    plan.sequences.push_back(sp);
    ResultsFile f;
    f.params_json = "{}";
    f.input = corpus;
    f.device = "cpu";
    f.sequence_names = {reader.sequences()[0].name};
    f.sequence_length = {1024};
    f.token_begin = {0, 0};
    f.results = run_collect(*make_cpu_engine(0), reader, plan, SearchParams{}, nullptr).results;
    return f;
  }();
  return file;
}

double bytes_of(const TraceResults& r) {
  return static_cast<double>(r.num_jobs() * (16 + 8) + r.num_paths() * 24 + r.num_nodes() * 8);
}

// args: {threads}; 0 = all hardware threads.
void BM_ResultsWriter(benchmark::State& state) {
  const ResultsFile& f = traced_paths();
  const std::string out = scratch_dir() + "/streamed.h5";
  for (auto _ : state) {
    ResultsWriter writer(out, f, /*force=*/true, static_cast<int>(state.range(0)));
    writer.append(f.results);
    writer.commit(std::nullopt);
  }
  state.counters["bytes_per_s"] = benchmark::Counter(bytes_of(f.results), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ratio"] = bytes_of(f.results) / static_cast<double>(fs::file_size(out));
  state.SetLabel(fmt::format("{} nodes, threads {}", f.results.num_nodes(),
                             state.range(0) > 0 ? state.range(0) : std::thread::hardware_concurrency()));
}

// One thread encoding the node and score columns chunk by chunk (shuffle + deflate, as the writer's
// pool does), at a given deflate level. args: {level}.
void BM_EncodeChunk(benchmark::State& state) {
  const TraceResults& r = traced_paths().results;
  constexpr std::size_t kChunk = std::size_t{1} << 16;  // the writer's chunk (kChunkValues)
  struct ColumnBytes {
    const void* data;
    std::size_t elem_size, count;
  };
  const ColumnBytes columns[] = {{r.node_position.data(), 4, r.num_nodes()},
                                 {r.node_edge_attn.data(), 4, r.num_nodes()},
                                 {r.score_raw.data(), 8, r.num_paths()},
                                 {r.score_norm.data(), 8, r.num_paths()}};
  double bytes = 0, encoded = 0;
  for (auto _ : state) {
    bytes = encoded = 0;
    for (const ColumnBytes& c : columns)
      for (std::size_t at = 0; at < c.count; at += kChunk) {
        const std::size_t valid = std::min(kChunk, c.count - at);
        const auto chunk = encode_chunk(static_cast<const unsigned char*>(c.data) + at * c.elem_size, c.elem_size, valid,
                                        kChunk, static_cast<int>(state.range(0)));
        bytes += static_cast<double>(kChunk * c.elem_size);
        encoded += static_cast<double>(chunk.size());
      }
  }
  state.counters["bytes_per_s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ratio"] = bytes / encoded;
}

// The same arrays through HDF5's own filter pipeline (H5Dwrite of whole arrays), one thread.
void BM_Hdf5OwnFilters(benchmark::State& state) {
  const TraceResults& r = traced_paths().results;
  const std::string out = scratch_dir() + "/filtered.h5";
  for (auto _ : state) {
    h5::Handle file = h5::file_handle(H5Fcreate(out.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    std::vector<std::int32_t> seq_index, layer, head, target;
    for (const JobKey& k : r.jobs) {
      seq_index.push_back(k.seq_index);
      layer.push_back(k.layer);
      head.push_back(k.head);
      target.push_back(k.target);
    }
    h5::write_vector(file, "seq_index", seq_index);
    h5::write_vector(file, "layer", layer);
    h5::write_vector(file, "head", head);
    h5::write_vector(file, "target", target);
    h5::write_vector(file, "path_begin", r.path_begin);
    h5::write_vector(file, "score_raw", r.score_raw);
    h5::write_vector(file, "score_norm", r.score_norm);
    h5::write_vector(file, "node_begin", r.node_begin);
    h5::write_vector(file, "position", r.node_position);
    h5::write_vector(file, "edge_attn", r.node_edge_attn);
  }
  state.counters["bytes_per_s"] = benchmark::Counter(bytes_of(r), benchmark::Counter::kIsIterationInvariantRate);
}

// The host side of fetching one GPU batch (a 1,024-token layer of 32 heads, every target: ~34 M
// nodes): filling the node arrays of a fresh batch against those of a spare (BatchSink::spare),
// whose memory is already mapped. The memcpy stands in for the device-to-host copy; resize() of a
// ResultColumn does not zero what it adds, so for a spare the copy is the only pass over memory.
// args: {reuse}.
void BM_FillBatch(benchmark::State& state) {
  constexpr std::size_t kNodes = 34'000'000;
  const std::vector<std::int32_t> positions(kNodes, 7);
  const std::vector<float> attn(kNodes, 0.5f);
  TraceResults spare;
  for (auto _ : state) {
    TraceResults batch = state.range(0) ? std::move(spare) : TraceResults{};
    batch.clear();
    batch.node_position.resize(kNodes);
    batch.node_edge_attn.resize(kNodes);
    std::memcpy(batch.node_position.data(), positions.data(), kNodes * sizeof(std::int32_t));
    std::memcpy(batch.node_edge_attn.data(), attn.data(), kNodes * sizeof(float));
    benchmark::DoNotOptimize(batch.node_position.data());
    spare = std::move(batch);
  }
  state.counters["bytes_per_s"] = benchmark::Counter(kNodes * 8.0, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(state.range(0) ? "spare" : "fresh");
}

}  // namespace

BENCHMARK(BM_FillBatch)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EncodeChunk)->DenseRange(1, 6)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ResultsWriter)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Hdf5OwnFilters)->Unit(benchmark::kMillisecond)->UseRealTime();
