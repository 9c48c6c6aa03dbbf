// What only the emulated device can show: how much device memory the GPU engine holds (--gpu-mem,
// GpuOptions::mem_limit_bytes, must bound it, and the default must stay within the free memory),
// and which host memory it has page-locked with the runtime.
#include <gtest/gtest.h>

#include "gpu/cuda_util.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/results.hpp"
#include "ratrace/synth.hpp"
#include "run/trace_run.hpp"
#include "simt_runtime.hpp"
#include "support/temp_dir.hpp"

using namespace ratrace;

namespace {

// The device memory that a whole GPU run over `path` held at its peak, and its job count.
std::pair<std::size_t, std::int64_t> peak_of_run(const std::string& path, const std::string& heads, std::int64_t mem_limit) {
  const CorpusReader reader(path);
  TraceRequest request;
  request.input = path;
  request.layers = "all";
  request.heads = heads;
  request.targets = "all";
  const PlannedTrace planned = plan_trace(reader, request);
  GpuOptions options;
  options.mem_limit_bytes = mem_limit;
  const auto engine = make_gpu_engine(options);
  simt::reset_peak_device_memory();
  const std::size_t before = simt::device_memory_in_use();
  const TraceOutput out = run_collect(*engine, reader, planned.plan, request.params, {});
  EXPECT_EQ(simt::device_memory_in_use(), before) << "device memory left behind by the run";
  return {simt::peak_device_memory() - before, out.results.num_jobs()};
}

// A synthetic float32 corpus of 2 sequences x 2 layers.
std::string write_corpus(const ratrace::testing::TempDir& dir, int heads, int min_len, int max_len) {
  const std::string path = dir.file("corpus.h5");
  SynthOptions o;
  o.num_sequences = 2;
  o.num_layers = 2;
  o.num_heads = heads;
  o.min_len = min_len;
  o.max_len = max_len;
  o.dtype = AttnDtype::float32;
  write_synthetic_corpus(path, o);
  return path;
}

TEST(SimtEngine, GpuMemBoundsTheDeviceMemoryOfARun) {
  ratrace::testing::TempDir dir;
  const std::string path = write_corpus(dir, 6, 60, 160);

  // Bounds well below what the run takes unbounded, down to about what its largest unit needs
  // (mean/max need every head of a layer at once).
  const std::vector<std::pair<std::string, std::vector<std::int64_t>>> cases{
      {"all", {std::int64_t{4} << 20, std::int64_t{1} << 20, std::int64_t{400} << 10}},
      {"all,mean,max", {std::int64_t{4} << 20, std::int64_t{1} << 20}}};
  for (const auto& [heads, limits] : cases) {
    const auto [unbounded, jobs] = peak_of_run(path, heads, 0);
    ASSERT_GT(jobs, 0);
    for (const std::int64_t limit : limits) {
      const auto [peak, bounded_jobs] = peak_of_run(path, heads, limit);
      EXPECT_EQ(bounded_jobs, jobs);
      EXPECT_LE(peak, static_cast<std::size_t>(limit)) << heads << ": --gpu-mem " << limit << " bytes, unbounded "
                                                       << unbounded;
    }
  }
}

TEST(SimtEngine, DefaultBoundIsAFractionOfTheFreeDeviceMemory) {
  ratrace::testing::TempDir dir;
  const std::string path = write_corpus(dir, 4, 128, 128);
  std::size_t free_bytes = 0, total = 0;
  cudaMemGetInfo(&free_bytes, &total);
  const auto [peak, jobs] = peak_of_run(path, "all,mean", 0);
  EXPECT_GT(jobs, 0);
  EXPECT_GT(peak, 0u);
  EXPECT_LE(peak, free_bytes);
}

// The results columns' pins go to the runtime: cudaHostRegister when pinned (whole pages), and
// cudaHostUnregister when the column's memory goes back, so nothing stays registered.
TEST(SimtEngine, PinnedResultColumnsAreRegisteredWithTheRuntimeUntilFreed) {
  const std::size_t registered = simt::registered_host_bytes();
  {
    ResultColumn<float> column(detail::kPinnableBlockBytes / sizeof(float) + 5, 1.0f);
    ASSERT_TRUE(detail::pin_result_block(column.data(), column.capacity() * sizeof(float), gpu::page_lock, gpu::page_unlock));
    EXPECT_EQ(simt::registered_host_bytes() - registered, detail::pinned_result_bytes());
    EXPECT_EQ(simt::registered_host_bytes() - registered,
              detail::whole_pages(column.capacity() * sizeof(float)));
    // The runtime refuses a second registration of the same pages (as CUDA does), which is why
    // the allocator gives each pinnable block pages of its own.
    EXPECT_EQ(cudaHostRegister(column.data(), 64, cudaHostRegisterPortable), cudaErrorHostMemoryAlreadyRegistered);
    cudaGetLastError();
  }
  EXPECT_EQ(simt::registered_host_bytes(), registered);
}

}  // namespace
