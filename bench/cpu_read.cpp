// Reading a corpus' attention, as the engines read it, through HDF5's own read path against the
// reader's direct reads (io/direct_read.hpp) on 1 and on all threads, from the page cache:
//   BM_ReadLayers       whole layers of stored bits (read_heads_raw: the GPU engine's reads);
//   BM_ReadHeadByHead   one head at a time, widened to float32 (read_heads: the CPU engine's);
//   BM_StageLayers      whole layers to packed causal halves, the GPU engine's host stage: read
//                       (HDF5's path or parallel) then packed, against packed as read, from preads
//                       or (cached contiguous rows) straight from a mapping of the page cache.
// Corpora: 1 sequence x 4 layers x 32 heads x 1,024 tokens, float16, stored contiguous (arg 0)
// or in [1, 1, 64, 1024] chunks with deflate level 4 (arg 1), as `ratrace synth` writes them.
// Bytes are the attention's in-memory (uncompressed) size.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ratrace/corpus_reader.hpp"
#include "ratrace/detail/packed_layout.hpp"
#include "ratrace/synth.hpp"
#include "util/parallel_for.hpp"

using namespace ratrace;
namespace fs = std::filesystem;

namespace {

fs::path scratch_dir() { return fs::temp_directory_path() / ("ratrace_bench_read_" + std::to_string(::getpid())); }

const std::string& corpus(int storage) {
  static const std::array<std::string, 2> paths = [] {
    fs::create_directories(scratch_dir());
    std::atexit([] { fs::remove_all(scratch_dir()); });
    std::array<std::string, 2> made;
    for (int s = 0; s < 2; ++s) {
      SynthOptions o;
      o.num_sequences = 1;
      o.num_layers = 4;
      o.num_heads = 32;
      o.min_len = o.max_len = 1024;
      o.dtype = AttnDtype::float16;
      o.chunk_rows = s == 0 ? 0 : 64;
      o.deflate = s == 0 ? 0 : 4;
      made[s] = (scratch_dir() / (s == 0 ? "contiguous.h5" : "deflate.h5")).string();
      write_synthetic_corpus(made[s], o);
    }
    return made;
  }();
  return paths[storage];
}

// Arg 1: 0 = HDF5's read path, 1 = direct reads on one thread, 2 = direct reads on all threads.
ReaderOptions reader_options(std::int64_t mode) {
  return mode == 0 ? ReaderOptions{1, false} : ReaderOptions{mode == 1 ? 1 : 0, true};
}

void label(benchmark::State& state, const CorpusReader& reader) {
  state.SetLabel(state.range(1) == 0 ? "HDF5's read path" : reader.read_path(0));
}

void BM_ReadLayers(benchmark::State& state) {
  const CorpusReader reader(corpus(static_cast<int>(state.range(0))), reader_options(state.range(1)));
  const SequenceInfo& info = reader.sequences()[0];
  const std::size_t layer_bytes = static_cast<std::size_t>(info.num_heads) * info.seq_len * info.seq_len * 2;
  std::vector<unsigned char> buffer(layer_bytes);
  for (auto _ : state)
    for (int layer = 0; layer < info.num_layers; ++layer) {
      reader.read_heads_raw(0, layer, 0, info.num_heads, buffer.data());
      benchmark::DoNotOptimize(buffer.data());
    }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(layer_bytes) * info.num_layers);
  label(state, reader);
}

void BM_ReadHeadByHead(benchmark::State& state) {
  const CorpusReader reader(corpus(static_cast<int>(state.range(0))), reader_options(state.range(1)));
  const SequenceInfo& info = reader.sequences()[0];
  std::vector<float> head(static_cast<std::size_t>(info.seq_len) * info.seq_len);
  for (auto _ : state)
    for (int layer = 0; layer < info.num_layers; ++layer)
      for (int h = 0; h < info.num_heads; ++h) {
        reader.read_heads(0, layer, h, 1, head.data());
        benchmark::DoNotOptimize(head.data());
      }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(head.size()) * 2 * info.num_heads *
                          info.num_layers);
  label(state, reader);
}

// The GPU engine's host stage: whole layers to packed causal halves (what travels to the device).
// Arg 1: 0 = read_heads_raw through HDF5's read path into a dense buffer, then pack on a pool of
// all threads (the engine at f8cc979); 1 = the same with the reader's parallel reads; 2 =
// read_heads_raw_rows, each run of rows packed as it arrives (the engine now: contiguous rows in
// the page cache come from a mapping of it, and only their causal halves are touched); 3 = the
// same, every run of rows pread first (ReaderOptions::map_cached_rows off; the engine at 3d0d907).
void BM_StageLayers(benchmark::State& state) {
  const CorpusReader reader(corpus(static_cast<int>(state.range(0))),
                            ReaderOptions{0, state.range(1) != 0, state.range(1) != 3});
  const SequenceInfo& info = reader.sequences()[0];
  const std::int64_t S = info.seq_len;
  const std::size_t head_bytes = static_cast<std::size_t>(S * S) * 2;
  const std::size_t packed_bytes = static_cast<std::size_t>(detail::packed_matrix_elems(S)) * 2;
  std::vector<unsigned char> dense(head_bytes * info.num_heads), packed(packed_bytes * info.num_heads);
  ThreadPool pool(0);
  constexpr std::int64_t kRows = 128;
  for (auto _ : state)
    for (int layer = 0; layer < info.num_layers; ++layer) {
      if (state.range(1) < 2) {
        reader.read_heads_raw(0, layer, 0, info.num_heads, dense.data());
        const std::int64_t blocks = (S + kRows - 1) / kRows;
        pool.parallel_for(info.num_heads * blocks, [&](std::int64_t t) {
          const std::int64_t h = t / blocks, row = (t % blocks) * kRows;
          detail::pack_lower_triangle_rows(dense.data() + h * head_bytes, S, 2, packed.data() + h * packed_bytes, row,
                                           std::min(S, row + kRows));
        });
      } else {
        reader.read_heads_raw_rows(0, layer, 0, info.num_heads, [&](int h, int row_begin, int row_end, const void* rows) {
          detail::pack_row_block(rows, S, 2, packed.data() + h * packed_bytes, row_begin, row_end);
        });
      }
      benchmark::DoNotOptimize(packed.data());
    }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(head_bytes) * info.num_heads * info.num_layers);
  static const char* const ways[] = {"HDF5's read path, then pack", "parallel reads, then pack",
                                     "packed as read, cached rows mapped", "packed as read, preads only"};
  state.SetLabel(ways[state.range(1)]);
}

void storage_by_path(benchmark::internal::Benchmark* b) {
  b->ArgNames({"deflate", "path"});
  for (int storage = 0; storage < 2; ++storage)
    for (int mode = 0; mode < 3; ++mode) b->Args({storage, mode});
}

}  // namespace

BENCHMARK(BM_ReadLayers)->Apply(storage_by_path)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadHeadByHead)->Apply(storage_by_path)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StageLayers)
    ->ArgNames({"deflate", "way"})
    ->ArgsProduct({{0, 1}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
