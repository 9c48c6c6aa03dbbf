// GPU benchmarks (report only, never pass/fail):
//   BM_GpuRowTopK      row top-K throughput in bytes/s of the packed causal half it reads, and as a
//                      fraction of a device-to-device cudaMemcpyAsync of the same bytes measured
//                      in the same run (counter frac_of_copy_bw; target >= 0.7), and of merely
//                      reading them once (frac_of_read_bw: the stricter reference, as the pass
//                      writes next to nothing; Thrust, so not on the emulator); U units (layers)
//                      in one launch, as the engine batches short sequences.
//   BM_GpuBeamSearch   beam-search jobs/s over candidate tables of realistic head patterns, with
//                      the thread-per-job and the warp-per-job kernel side by side.
//   BM_FetchResults    copying one batch's node arrays (a 1,024-token layer of 32 heads: ~34 M
//                      nodes, 272 MB) back to the host, in bytes/s: into zeroed pageable vectors
//                      (before ResultColumn), into a pageable ResultColumn, into a pinned one (now);
//   BM_PinColumn       the one-off cost of pinning a fresh column (and unpinning it).
//   BM_WholeRun        one corpus: GPU engine on the whole plan vs the CPU reference (all cores)
//                      on one layer of it, both handing their results to a sink that only counts
//                      them (counter speedup = gpu jobs/s / cpu jobs/s, target >= 50); and the
//                      whole `ratrace trace` on the GPU, results file written, vs merely reading
//                      the file (end_to_end_over_read, target <= 1.25; gpu_over_read: the same
//                      without writing). Counters gpu_read_s ... gpu_deliver_s split the GPU run
//                      by phase (EngineTimes: fetch and deliver on its results thread);
//                      writer_busy_s / writer_wait_s say how much the end-to-end run's writer
//                      worked and held the engine up.
// The corpus of BM_WholeRun: $RATRACE_BENCH_CORPUS (e.g. `ratrace synth --sequences 2 --layers 32
// --heads 32 --len 1024 --dtype float16`), heads $RATRACE_BENCH_HEADS (default "all"), targets
// $RATRACE_BENCH_TARGETS (default "::8"; bench/device-check.sh runs "all"); without a corpus, a
// small one is made in a temp folder. The CPU side always runs layer 0 of the same selection.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <filesystem>
#include <utility>
#include <vector>

#if !defined(RATRACE_SIMT_EMULATOR)
#include "bench/read_reference.hpp"
#endif
#include "gpu/cuda_util.hpp"
#include "gpu/launch_layout.hpp"
#include "gpu/workspace.hpp"
#include "kernels/gpu_api.cuh"
#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/detail/packed_layout.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/synth.hpp"
#include "run/trace_run.hpp"
#include "synth/narrow_float.hpp"

using namespace ratrace;
using gpu::ElemType;

namespace {

bool skip_without_gpu(benchmark::State& state) {
  const GpuStatus s = query_gpu();
  if (s.usable) return false;
  state.SkipWithError(("no usable GPU: " + s.reason).c_str());
  return true;
}

// H heads of synthetic patterns, stored as `elem`, packed as the engine sends them.
std::vector<unsigned char> packed_layer_of(int H, int S, ElemType elem) {
  const std::size_t n = static_cast<std::size_t>(S) * S;
  const std::size_t esize = gpu::elem_size(elem);
  const std::size_t packed_head = static_cast<std::size_t>(detail::packed_matrix_elems(S));
  std::vector<unsigned char> dense(n * esize), packed(H * packed_head * esize);
  for (int h = 0; h < H; ++h) {
    const std::vector<float> m = synth_head_matrix(static_cast<HeadPattern>(h % 5), S, 100 + h);
    for (std::size_t k = 0; k < n; ++k) {
      if (elem == ElemType::f32) {
        std::memcpy(dense.data() + k * 4, &m[k], 4);
      } else {
        const std::uint16_t b = elem == ElemType::f16 ? synth::float_to_half_bits(m[k]) : synth::float_to_bfloat16_bits(m[k]);
        std::memcpy(dense.data() + k * 2, &b, 2);
      }
    }
    detail::pack_lower_triangle(dense.data(), S, esize, packed.data() + h * packed_head * esize);
  }
  return packed;
}

enum Mode : int { kPerHead = 0, kMean = 1, kMeanMax = 2 };

// Args: {elem, mode, S, H, K, U, W}: U units (layers) of H heads in one launch; W warps per row in
// the head kernel (TopkArgs::head_warps_per_row; the engine uses kHeadWarpsPerRow).
void BM_GpuRowTopK(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const auto elem = static_cast<ElemType>(state.range(0));
  const auto mode = static_cast<Mode>(state.range(1));
  const int S = static_cast<int>(state.range(2));
  const int H = static_cast<int>(state.range(3));
  const int K = static_cast<int>(state.range(4));
  const int U = static_cast<int>(state.range(5));
  const int W = static_cast<int>(state.range(6));
  const std::vector<unsigned char> layer = packed_layer_of(H, S, elem);

  gpu::LaunchSpec spec;
  spec.elem = elem;
  spec.top_k = K;
  spec.head_warps_per_row = W;
  for (int u = 0; u < U; ++u) {
    gpu::UnitSpec unit;
    unit.num_heads = H;
    unit.seq_len = S;
    if (mode == kPerHead)
      for (int h = 0; h < H; ++h) unit.traced.push_back(h);
    unit.mean = mode != kPerHead;
    unit.max = mode == kMeanMax;
    spec.units.push_back(unit);
  }
  const gpu::LaunchLayout layout = gpu::make_launch_layout(spec);
  gpu::PinnedBuffer host;
  auto* packed = static_cast<unsigned char*>(host.reserve(layout.raw_elems * gpu::elem_size(elem)));
  for (int u = 0; u < U; ++u) std::memcpy(packed + u * layer.size(), layer.data(), layer.size());

  gpu::Stream stream;
  gpu::Workspace ws;
  ws.enqueue_launch(layout, packed, stream.get());
  stream.sync();
  const gpu::TopkArgs args = ws.last_topk_args();

  // Bytes the kernels read: the packed causal half (j <= i) of every resident head.
  const std::size_t causal = static_cast<std::size_t>(layout.raw_elems) * gpu::elem_size(elem);
  gpu::DeviceBuffer copy_dst;
  copy_dst.reserve(causal);
  gpu::Event e0, e1;
  const auto time_ms = [&](auto&& work, int reps) {
    work();  // warm up
    e0.record(stream.get());
    for (int r = 0; r < reps; ++r) work();
    e1.record(stream.get());
    stream.sync();
    return e1.since(e0) / reps;
  };
  const float copy_ms = time_ms([&] {
    gpu::cuda_check(cudaMemcpyAsync(copy_dst.get(), args.raw, causal, cudaMemcpyDeviceToDevice, stream.get()), "copy");
  }, 20);

  double kernel_ms_total = 0.0;
  for (auto _ : state) {  // profile sums and counters keep accumulating: harmless here
    e0.record(stream.get());
    gpu::launch_row_topk(args, stream.get());
    e1.record(stream.get());
    stream.sync();
    const float ms = e1.since(e0);
    kernel_ms_total += ms;
    state.SetIterationTime(ms / 1e3);
  }
  const double kernel_ms = kernel_ms_total / static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(causal) * state.iterations());
  state.counters["frac_of_copy_bw"] = copy_ms / kernel_ms;
  state.counters["copy_GBps"] = causal / (copy_ms * 1e6);
#if !defined(RATRACE_SIMT_EMULATOR)
  gpu::DeviceBuffer flag;
  flag.reserve(sizeof(unsigned));
  const float read_ms = time_ms([&] {
    bench::enqueue_read_every_word(args.raw, causal, static_cast<unsigned*>(flag.get()), stream.get());
  }, 20);
  state.counters["frac_of_read_bw"] = read_ms / kernel_ms;
  state.counters["read_GBps"] = causal / (read_ms * 1e6);
#endif
  state.counters["topk_GBps"] = causal / (kernel_ms * 1e6);
  static const char* const elems[] = {"f16", "bf16", "f32"};
  static const char* const modes[] = {"per_head", "mean", "mean_max"};
  state.SetLabel(fmt::format("{} {} S={} H={} K={} units={}", elems[state.range(0)], modes[state.range(1)], S, H, K, U));
}

// Args: {S, B, K, matrices, kernel, targets}: the last `targets` positions (0 = every one) of
// every matrix, searched by kernel 1 (one thread per job) or 2 (one warp per job), gpu::BeamKernel.
void BM_GpuBeamSearch(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int S = static_cast<int>(state.range(0));
  SearchParams params;
  params.top_beam = static_cast<int>(state.range(1));
  params.top_k = static_cast<int>(state.range(2));
  const int M = static_cast<int>(state.range(3));
  const auto kernel = static_cast<gpu::BeamKernel>(state.range(4));
  const int first_target = state.range(5) > 0 ? S - static_cast<int>(state.range(5)) : 0;
  std::vector<CandidateTable> tables;
  for (int m = 0; m < M; ++m) {
    const std::vector<float> a = synth_head_matrix(static_cast<HeadPattern>(m % 5), S, 200 + m);
    tables.push_back(build_candidate_table(a.data(), S, nullptr, params.top_k, 0.0));
  }
  std::vector<const CandidateTable*> ptrs;
  for (const auto& t : tables) ptrs.push_back(&t);
  std::vector<gpu::BeamJob> jobs;
  std::int64_t arena = 0;
  for (int t = S - 1; t >= first_target; --t)  // longest first, as the engine orders them
    for (int m = 0; m < M; ++m) {
      jobs.push_back(gpu::BeamJob{m, t, arena});
      arena += static_cast<std::int64_t>(t + 1) * params.top_beam;
    }
  gpu::Stream stream;
  gpu::Workspace ws;
  ws.enqueue_tables(ptrs, {}, true, stream.get());
  gpu::Event e0, e1;
  std::int64_t nodes = 0;
  TraceResults fetched;
  for (auto _ : state) {
    e0.record(stream.get());
    ws.enqueue_batch(jobs, params, stream.get(), kernel);
    e1.record(stream.get());
    stream.sync();
    state.SetIterationTime(e1.since(e0) / 1e3);
    state.PauseTiming();
    ws.fetch_batch(stream.get(), fetched);
    nodes = fetched.node_begin.back();
    state.ResumeTiming();
  }
  state.counters["jobs_per_s"] = benchmark::Counter(static_cast<double>(jobs.size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["nodes_per_job"] = static_cast<double>(nodes) / static_cast<double>(jobs.size());
  state.SetLabel(fmt::format("{} S={} B={} K={} {} jobs", kernel == gpu::BeamKernel::thread_per_job ? "thread/job" : "warp/job",
                             S, params.top_beam, params.top_k, jobs.size()));
}

// Args: {how}: 0 = std::vector resized (zeroed) then copied into, pageable; 1 = ResultColumn
// (not zeroed), pageable; 2 = ResultColumn, page-locked once, as the engine's fetch does when it
// refills a recycled batch. The pinning itself is left out of the timing (a recycled batch is
// refilled many times); BM_PinColumn measures it.
void BM_FetchResults(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  constexpr std::size_t kNodes = 34'000'000;
  const int how = static_cast<int>(state.range(0));
  gpu::DeviceBuffer device;
  device.reserve(kNodes * 8);
  gpu::Stream stream;
  gpu::cuda_check(cudaMemsetAsync(device.get(), 1, kNodes * 8, stream.get()), "memset");
  std::vector<std::int32_t> zeroed_position;
  std::vector<float> zeroed_attn;
  ResultColumn<std::int32_t> position;
  ResultColumn<float> attn;
  // Sizes a batch's two node arrays as a refill does (cleared, then resized) and returns them.
  const auto refill = [](auto& pos, auto& att) {
    pos.clear();
    att.clear();
    pos.resize(kNodes);
    att.resize(kNodes);
    return std::pair<void*, void*>{pos.data(), att.data()};
  };
  const auto fetch = [&] {
    const auto [dst_position, dst_attn] = how == 0 ? refill(zeroed_position, zeroed_attn) : refill(position, attn);
    if (how == 2) {
      detail::pin_result_block(position.data(), position.capacity() * 4, gpu::page_lock, gpu::page_unlock);
      detail::pin_result_block(attn.data(), attn.capacity() * 4, gpu::page_lock, gpu::page_unlock);
    }
    const auto* src = static_cast<const unsigned char*>(device.get());
    gpu::cuda_check(cudaMemcpyAsync(dst_position, src, kNodes * 4, cudaMemcpyDeviceToHost, stream.get()), "copy");
    gpu::cuda_check(cudaMemcpyAsync(dst_attn, src + kNodes * 4, kNodes * 4, cudaMemcpyDeviceToHost, stream.get()), "copy");
    stream.sync();
  };
  fetch();  // first touch (and pinning) once, outside the timing: spare batches are reused
  for (auto _ : state) fetch();
  state.counters["bytes_per_s"] = benchmark::Counter(kNodes * 8.0, benchmark::Counter::kIsIterationInvariantRate);
  static const char* const labels[] = {"zeroed vector, pageable", "ResultColumn, pageable", "ResultColumn, pinned"};
  state.SetLabel(labels[how]);
}

// What page-locking a fresh 136 MB results column costs once (cudaHostRegister, faulting its
// pages in) and unlocking it (cudaHostUnregister), the price of the first refill of a batch.
void BM_PinColumn(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  constexpr std::size_t kNodes = 34'000'000;
  for (auto _ : state) {
    ResultColumn<std::int32_t> column;
    column.resize(kNodes);
    if (!detail::pin_result_block(column.data(), column.capacity() * 4, gpu::page_lock, gpu::page_unlock))
      state.SkipWithError("cudaHostRegister refused the column");
  }
  state.counters["bytes_per_s"] = benchmark::Counter(kNodes * 4.0, benchmark::Counter::kIsIterationInvariantRate);
}

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}


// One corpus, four timings (see the top of the file). Runs once.
void BM_WholeRun(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  std::string path = env_or("RATRACE_BENCH_CORPUS", "");
  std::filesystem::path temp;
  if (path.empty()) {
    temp = std::filesystem::temp_directory_path() / fmt::format("ratrace_bench_gpu_{}", ::getpid());
    std::filesystem::create_directories(temp);
    path = (temp / "corpus.h5").string();
    SynthOptions o;
    o.num_sequences = 2;
    o.num_layers = 4;
    o.num_heads = 8;
    o.min_len = o.max_len = 512;
    o.dtype = AttnDtype::float16;
    write_synthetic_corpus(path, o);
  }
  const CorpusReader reader(path);
  TraceRequest request;
  request.input = path;
  request.layers = "all";
  request.heads = env_or("RATRACE_BENCH_HEADS", "all");
  request.targets = env_or("RATRACE_BENCH_TARGETS", "::8");
  const PlannedTrace planned = plan_trace(reader, request);
  TraceRequest one_layer = request;
  one_layer.layers = "0";
  const PlannedTrace planned_one = plan_trace(reader, one_layer);

  const auto gpu_engine = make_gpu_engine(GpuOptions{});
  const auto cpu_engine = make_cpu_engine(0);
  double read_s = 0, gpu_s = 0, cpu_s = 0, end_to_end_s = 0;
  EngineTimes gpu_times;
  TraceSummary written;
  std::int64_t results_nodes = 0;
  const std::filesystem::path results = std::filesystem::temp_directory_path() / fmt::format("ratrace_bench_gpu_{}.h5", ::getpid());
  for (auto _ : state) {
    // Reading alone, as the GPU engine reads: every (sequence, layer) of the plan, whole layers.
    read_s = seconds_of([&] {
      std::vector<unsigned char> buffer;
      for (const SequencePlan& sp : planned.plan.sequences) {
        const SequenceInfo& info = reader.sequences()[sp.seq_index];
        buffer.resize(static_cast<std::size_t>(info.num_heads) * info.seq_len * info.seq_len * dtype_size(info.dtype));
        for (const int layer : sp.layers) reader.read_heads_raw(sp.seq_index, layer, 0, info.num_heads, buffer.data());
      }
    });
    // Counts the nodes and hands each batch back as the next spare, as the results stream does.
    std::int64_t nodes = 0;
    RecyclingSink count([&nodes](const TraceBatch& b) { nodes += static_cast<std::int64_t>(b.results.num_nodes()); });
    gpu_s = seconds_of([&] { gpu_times = gpu_engine->run(reader, planned.plan, request.params, count, {}).times; });
    cpu_s = seconds_of([&] { cpu_engine->run(reader, planned_one.plan, request.params, count, {}); });
    benchmark::DoNotOptimize(nodes);
    end_to_end_s = seconds_of([&] {
      written = trace_to_file(reader, planned, request, *gpu_engine, results.string(), true, {});
      results_nodes = written.nodes;
    });
    state.SetIterationTime(gpu_s);
  }
  const double gpu_rate = static_cast<double>(planned.plan.num_jobs()) / gpu_s;
  const double cpu_rate = static_cast<double>(planned_one.plan.num_jobs()) / cpu_s;
  state.counters["gpu_jobs_per_s"] = gpu_rate;
  state.counters["cpu_jobs_per_s"] = cpu_rate;
  state.counters["speedup"] = gpu_rate / cpu_rate;
  state.counters["read_s"] = read_s;
  state.counters["gpu_s"] = gpu_s;
  state.counters["cpu_one_layer_s"] = cpu_s;
  state.counters["gpu_over_read"] = gpu_s / read_s;
  state.counters["end_to_end_s"] = end_to_end_s;
  state.counters["end_to_end_over_read"] = end_to_end_s / read_s;
  state.counters["results_MB"] = static_cast<double>(std::filesystem::file_size(results)) / 1e6;
  state.counters["nodes"] = static_cast<double>(results_nodes);
  // Where the GPU run's time went (EngineTimes; fetch and deliver on its results thread), and what
  // bounded the end-to-end run.
  state.counters["gpu_read_s"] = gpu_times.read_s;
  state.counters["gpu_pack_s"] = gpu_times.pack_s;
  state.counters["gpu_device_wait_s"] = gpu_times.device_wait_s;
  state.counters["gpu_results_wait_s"] = gpu_times.results_wait_s;
  state.counters["gpu_fetch_s"] = gpu_times.fetch_s;
  state.counters["gpu_deliver_s"] = gpu_times.deliver_s;
  state.counters["writer_busy_s"] = written.writer_busy_s;
  state.counters["writer_wait_s"] = written.engine_wait_s;
  std::filesystem::remove(results);
  state.SetLabel(fmt::format("{} jobs gpu, {} jobs cpu ({}), heads {} targets {}", planned.plan.num_jobs(),
                             planned_one.plan.num_jobs(), cpu_engine->device_description(), request.heads, request.targets));
  if (!temp.empty()) std::filesystem::remove_all(temp);
}

}  // namespace

BENCHMARK(BM_GpuRowTopK)
    ->ArgNames({"elem", "mode", "S", "H", "K", "U", "W"})
    ->Args({0, kMean, 1024, 32, 5, 1, 4})
    ->Args({0, kMeanMax, 1024, 32, 5, 1, 4})
    ->Args({0, kPerHead, 1024, 32, 5, 1, 4})
    ->Args({0, kPerHead, 1024, 32, 5, 1, 2})    // the head kernel's warps per row, side by side
    ->Args({0, kPerHead, 1024, 32, 5, 1, 1})
    ->Args({0, kPerHead, 1024, 32, 32, 1, 4})
    ->Args({0, kPerHead, 1024, 32, 32, 1, 1})
    ->Args({1, kMean, 1024, 32, 5, 1, 4})
    ->Args({2, kMean, 1024, 32, 5, 1, 4})
    ->Args({2, kPerHead, 1024, 32, 5, 1, 1})
    ->Args({0, kMean, 4096, 8, 5, 1, 4})
    ->Args({0, kPerHead, 4096, 8, 32, 1, 4})
    ->Args({0, kPerHead, 4096, 8, 32, 1, 1})
    ->Args({0, kPerHead, 128, 32, 5, 1, 1})     // one short unit per launch ...
    ->Args({0, kPerHead, 128, 32, 5, 31, 1})    // ... against the batch the engine makes of them
    ->Args({0, kPerHead, 128, 32, 5, 31, 4})
    ->Args({0, kMean, 128, 32, 5, 31, 4})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
constexpr int kThreadPerJob = static_cast<int>(gpu::BeamKernel::thread_per_job);
constexpr int kWarpPerJob = static_cast<int>(gpu::BeamKernel::warp_per_job);
BENCHMARK(BM_GpuBeamSearch)
    ->ArgNames({"S", "B", "K", "M", "kernel", "T"})
    ->Args({1024, 5, 5, 32, kThreadPerJob, 0})  // the two search kernels side by side: every target ...
    ->Args({1024, 5, 5, 32, kWarpPerJob, 0})
    ->Args({1024, 8, 8, 32, kThreadPerJob, 0})
    ->Args({1024, 8, 8, 32, kWarpPerJob, 0})
    ->Args({1024, 5, 5, 64, kThreadPerJob, 1})  // ... and one job per matrix (the default target)
    ->Args({1024, 5, 5, 64, kWarpPerJob, 1})
    ->Args({4096, 5, 5, 4, kThreadPerJob, 0})
    ->Args({4096, 5, 5, 4, kWarpPerJob, 0})
    ->Args({1024, 32, 32, 8, kWarpPerJob, 0})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FetchResults)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PinColumn)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_WholeRun)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

BENCHMARK_MAIN();
