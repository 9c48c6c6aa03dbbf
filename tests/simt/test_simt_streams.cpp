// The emulator's deferred streams (include/cuda_runtime_api.h): device work waits until the host
// must see it done, so host code that skips a sync reads garbage or trips a "host race", as it
// would risk on a GPU. Each rule with a known answer; the engine's own tests then run on it.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/launch.cuh"
#include "simt_runtime.hpp"

namespace {

using ratrace::gpu::launch_kernel;
constexpr unsigned kFull = 0xffffffffu;
constexpr int kN = 64;

__global__ void double_plus_index_kernel(const int* in, int* out) {
  const int t = static_cast<int>(threadIdx.x);
  out[t] = 2 * in[t] + t;
}

__global__ void lane_left_kernel(int* out) {
  if ((threadIdx.x & 31) == 5) return;  // a warp collective with an exited lane: a fault
  out[threadIdx.x] = __shfl_sync(kFull, static_cast<int>(threadIdx.x), 0);
}

// Device ints, freed at the end.
struct DeviceInts {
  explicit DeviceInts(int n) { EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&ptr), n * sizeof(int)), cudaSuccess); }
  ~DeviceInts() { cudaFree(ptr); }
  int* ptr = nullptr;
};

// Page-locked host ints (cudaMallocHost), freed at the end.
struct PinnedInts {
  explicit PinnedInts(int n) { EXPECT_EQ(cudaMallocHost(reinterpret_cast<void**>(&ptr), n * sizeof(int)), cudaSuccess); }
  ~PinnedInts() { cudaFreeHost(ptr); }
  int* ptr = nullptr;
};

struct Stream {
  explicit Stream(unsigned flags) { EXPECT_EQ(cudaStreamCreateWithFlags(&stream, flags), cudaSuccess); }
  ~Stream() { cudaStreamDestroy(stream); }
  cudaStream_t stream = nullptr;
};

// What a pageable copy back reads now, on `stream` (it completes before returning).
std::vector<int> read_back(const int* device, cudaStream_t stream) {
  std::vector<int> v(kN);
  EXPECT_EQ(cudaMemcpyAsync(v.data(), device, kN * sizeof(int), cudaMemcpyDeviceToHost, stream), cudaSuccess);
  return v;
}

class SimtStreams : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!simt::deferred_streams()) GTEST_SKIP() << "RATRACE_SIMT_STREAMS=eager: every call completes at once";
  }
};

TEST_F(SimtStreams, WorkRunsWhenTheHostSynchronisesAndPinnedResultsAreGarbageUntilThen) {
  Stream s(cudaStreamNonBlocking);
  DeviceInts in(kN), out(kN);
  PinnedInts src(kN), dst(kN);
  for (int t = 0; t < kN; ++t) src.ptr[t] = 7;
  ASSERT_EQ(cudaMemcpyAsync(in.ptr, src.ptr, kN * sizeof(int), cudaMemcpyHostToDevice, s.stream), cudaSuccess);
  launch_kernel(double_plus_index_kernel, 1, kN, 0, s.stream, in.ptr, out.ptr);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dst.ptr, out.ptr, kN * sizeof(int), cudaMemcpyDeviceToHost, s.stream), cudaSuccess);
  for (int t = 0; t < kN; ++t) EXPECT_EQ(dst.ptr[t], -1) << t;  // 0xFF bytes: the copy has not run
  ASSERT_EQ(cudaStreamSynchronize(s.stream), cudaSuccess);
  for (int t = 0; t < kN; ++t) EXPECT_EQ(dst.ptr[t], 14 + t) << t;
}

TEST_F(SimtStreams, PageableSourcesAreCopiedAtTheCallAndPageableDestinationsFilledBeforeItReturns) {
  Stream s(cudaStreamNonBlocking);
  DeviceInts in(kN), out(kN);
  std::vector<int> src(kN, 3);
  ASSERT_EQ(cudaMemcpyAsync(in.ptr, src.data(), kN * sizeof(int), cudaMemcpyHostToDevice, s.stream), cudaSuccess);
  src.assign(kN, 100);  // allowed: CUDA staged the pageable source during the call
  launch_kernel(double_plus_index_kernel, 1, kN, 0, s.stream, in.ptr, out.ptr);
  const std::vector<int> v = read_back(out.ptr, s.stream);  // no sync: into pageable memory it completes
  for (int t = 0; t < kN; ++t) EXPECT_EQ(v[t], 6 + t) << t;
}

TEST_F(SimtStreams, TheNullStreamOrdersWithBlockingStreamsOnly) {
  Stream blocking(cudaStreamDefault), non_blocking(cudaStreamNonBlocking);
  DeviceInts a(kN), b(kN);
  ASSERT_EQ(cudaMemsetAsync(a.ptr, 0, kN * sizeof(int), nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  // A blocking stream's work waits for the NULL stream's earlier work.
  ASSERT_EQ(cudaMemsetAsync(a.ptr, 1, kN * sizeof(int), nullptr), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(b.ptr, a.ptr, kN * sizeof(int), cudaMemcpyDeviceToDevice, blocking.stream), cudaSuccess);
  EXPECT_EQ(read_back(b.ptr, blocking.stream)[0], 0x01010101);

  // A non-blocking stream's does not: the NULL stream's memset has not run when it copies.
  ASSERT_EQ(cudaMemsetAsync(a.ptr, 2, kN * sizeof(int), nullptr), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(b.ptr, a.ptr, kN * sizeof(int), cudaMemcpyDeviceToDevice, non_blocking.stream), cudaSuccess);
  EXPECT_EQ(read_back(b.ptr, non_blocking.stream)[0], 0x01010101);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(read_back(a.ptr, non_blocking.stream)[0], 0x02020202);

  // The NULL stream's work waits for a blocking stream's earlier work, not a non-blocking one's.
  ASSERT_EQ(cudaMemsetAsync(a.ptr, 3, kN * sizeof(int), blocking.stream), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(b.ptr, 4, kN * sizeof(int), non_blocking.stream), cudaSuccess);
  std::vector<int> v(2 * kN);
  ASSERT_EQ(cudaMemcpy(v.data(), a.ptr, kN * sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(v.data() + kN, b.ptr, kN * sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(v[0], 0x03030303);
  EXPECT_EQ(v[kN], 0x01010101);  // the non-blocking stream's memset is still queued
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

TEST_F(SimtStreams, AFaultIsTheErrorOfTheSyncThatRunsItAndDropsTheRestOfItsStream) {
  Stream s(cudaStreamNonBlocking);
  DeviceInts out(kN);
  ASSERT_EQ(cudaMemsetAsync(out.ptr, 0, kN * sizeof(int), s.stream), cudaSuccess);
  launch_kernel(lane_left_kernel, 1, kN, 0, s.stream, out.ptr);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // the launch itself was valid
  ASSERT_EQ(cudaMemsetAsync(out.ptr, 1, kN * sizeof(int), s.stream), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s.stream), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaStreamSynchronize(s.stream), cudaSuccess);  // nothing left: the memset was dropped
  const std::vector<int> v = read_back(out.ptr, s.stream);
  for (int t = 0; t < kN; ++t) EXPECT_EQ(v[t], 0) << t;  // the faulting grid never wrote either
}

TEST_F(SimtStreams, EventsCompleteWhenTheirStreamReachesThem) {
  Stream s(cudaStreamNonBlocking);
  cudaEvent_t start = nullptr, end = nullptr;
  ASSERT_EQ(cudaEventCreate(&start), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&end), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(start, s.stream), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(end, s.stream), cudaSuccess);
  float ms = -1.0f;
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, end), cudaErrorNotReady);
  cudaGetLastError();
  ASSERT_EQ(cudaStreamSynchronize(s.stream), cudaSuccess);
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, end), cudaSuccess);
  EXPECT_GE(ms, 0.0f);
  cudaEventDestroy(start);
  cudaEventDestroy(end);
}

// A death test forks: the rest of this process must not run in the child.
class SimtStreamsDeathTest : public SimtStreams {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    SimtStreams::SetUp();
  }
};

TEST_F(SimtStreamsDeathTest, TheHostChangingAQueuedPinnedSourceIsARace) {
  EXPECT_DEATH(
      {
        Stream s(cudaStreamNonBlocking);
        DeviceInts dev(kN);
        PinnedInts src(kN);
        std::memset(src.ptr, 0, kN * sizeof(int));
        cudaMemcpyAsync(dev.ptr, src.ptr, kN * sizeof(int), cudaMemcpyHostToDevice, s.stream);
        src.ptr[3] = 99;  // the next batch's data, written before the copy is known to be done
        cudaStreamSynchronize(s.stream);
      },
      "host race: the host changed pinned memory .* between cudaMemcpyAsync from it and the copy");
}

TEST_F(SimtStreamsDeathTest, UnregisteringMemoryThatAQueuedCopyWritesIsARace) {
  EXPECT_DEATH(
      {
        Stream s(cudaStreamNonBlocking);
        DeviceInts dev(kN);
        std::vector<int> column(1024);
        cudaHostRegister(column.data(), column.size() * sizeof(int), cudaHostRegisterPortable);
        cudaMemcpyAsync(column.data(), dev.ptr, kN * sizeof(int), cudaMemcpyDeviceToHost, s.stream);
        cudaHostUnregister(column.data());  // before the stream has copied into it
      },
      "host race: cudaHostUnregister of pinned memory .* that a queued copy still uses");
}

// The same work with the syncs in place runs clean: the two tests above die for the race alone.
TEST_F(SimtStreams, TheSameWorkSynchronisedIsNoRace) {
  Stream s(cudaStreamNonBlocking);
  DeviceInts dev(kN);
  PinnedInts src(kN);
  std::memset(src.ptr, 0, kN * sizeof(int));
  ASSERT_EQ(cudaMemcpyAsync(dev.ptr, src.ptr, kN * sizeof(int), cudaMemcpyHostToDevice, s.stream), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s.stream), cudaSuccess);
  src.ptr[3] = 99;
  std::vector<int> column(1024);
  ASSERT_EQ(cudaHostRegister(column.data(), column.size() * sizeof(int), cudaHostRegisterPortable), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(column.data(), dev.ptr, kN * sizeof(int), cudaMemcpyDeviceToHost, s.stream), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s.stream), cudaSuccess);
  EXPECT_EQ(cudaHostUnregister(column.data()), cudaSuccess);
  EXPECT_EQ(column[3], 0);
  EXPECT_EQ(column[kN], 0);  // past the copy: untouched
}

}  // namespace
