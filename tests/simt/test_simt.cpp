// The SIMT emulator itself: collectives, barriers, shared memory, launch limits and the faults it
// reports, each with a known answer, so that the GPU tests it runs (tests/gpu/) can be trusted.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu/cuda_util.hpp"
#include "kernels/launch.cuh"
#include "simt_runtime.hpp"

namespace {

using ratrace::gpu::launch_kernel;
constexpr unsigned kFull = 0xffffffffu;

// Device memory holding `n` values of T, copied back by `host()`.
template <class T>
struct DeviceArray {
  explicit DeviceArray(std::size_t n) : size(n) { EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&ptr), n * sizeof(T)), cudaSuccess); }
  ~DeviceArray() { cudaFree(ptr); }
  std::vector<T> host() const {
    std::vector<T> v(size);
    EXPECT_EQ(cudaMemcpy(v.data(), ptr, size * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }
  T* ptr = nullptr;
  std::size_t size;
};

__global__ void shuffle_kernel(int* out, double* out_wide) {
  const int lane = threadIdx.x & 31;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  const int v = 100 * static_cast<int>(threadIdx.x >> 5) + lane;  // warp w, lane l: 100 w + l
  out[4 * t + 0] = __shfl_sync(kFull, v, 31 - lane);
  out[4 * t + 1] = __shfl_up_sync(kFull, v, 3);
  out[4 * t + 2] = __shfl_xor_sync(kFull, v, 5);
  out[4 * t + 3] = __shfl_sync(kFull, v, 7);
  out_wide[t] = __shfl_xor_sync(kFull, 0.5 + lane, 16);  // 8-byte values travel whole
}

TEST(Simt, ShufflesMoveValuesBetweenTheLanesOfEachWarp) {
  DeviceArray<int> out(4 * 2 * 64);
  DeviceArray<double> wide(2 * 64);
  launch_kernel(shuffle_kernel, 2, 64, 0, nullptr, out.ptr, wide.ptr);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<int> v = out.host();
  const std::vector<double> w = wide.host();
  for (int t = 0; t < 128; ++t) {
    const int lane = t % 32, base = 100 * ((t % 64) / 32);
    EXPECT_EQ(v[4 * t + 0], base + 31 - lane) << t;
    EXPECT_EQ(v[4 * t + 1], base + (lane >= 3 ? lane - 3 : lane)) << t;  // below delta: its own value
    EXPECT_EQ(v[4 * t + 2], base + (lane ^ 5)) << t;
    EXPECT_EQ(v[4 * t + 3], base + 7) << t;
    EXPECT_EQ(w[t], 0.5 + (lane ^ 16)) << t;
  }
}

__global__ void vote_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x & 31;
  out[3 * threadIdx.x + 0] = __ballot_sync(kFull, lane % 3 == 0);
  out[3 * threadIdx.x + 1] = static_cast<unsigned>(__any_sync(kFull, threadIdx.x == 40));
  out[3 * threadIdx.x + 2] = __reduce_max_sync(kFull, (lane * 7) % 32 + 1000 * (threadIdx.x >> 5));
}

TEST(Simt, BallotAnyAndReduceMaxSeeTheWholeWarp) {
  DeviceArray<unsigned> out(3 * 64);
  launch_kernel(vote_kernel, 1, 64, 0, nullptr, out.ptr);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<unsigned> v = out.host();
  for (int t = 0; t < 64; ++t) {
    EXPECT_EQ(v[3 * t + 0], 0x49249249u) << t;  // lanes 0, 3, 6, ..., 30
    EXPECT_EQ(v[3 * t + 1], t >= 32 ? 1u : 0u) << t;  // thread 40 is in warp 1 only
    EXPECT_EQ(v[3 * t + 2], 31u + 1000u * (t / 32)) << t;
  }
}

__global__ void barrier_kernel(int* out) {
  __shared__ int slots[128];
  slots[threadIdx.x] = static_cast<int>(threadIdx.x) * 2;
  const int any = __syncthreads_or(blockIdx.x == 1 && threadIdx.x == 77);
  // After the barrier every thread sees the writes of the others, across warps.
  out[blockIdx.x * blockDim.x + threadIdx.x] = slots[(threadIdx.x + 64) % 128] + 1000 * any;
}

TEST(Simt, SyncthreadsOrJoinsTheBlockAndSharesItsSharedMemory) {
  DeviceArray<int> out(2 * 128);
  launch_kernel(barrier_kernel, 2, 128, 0, nullptr, out.ptr);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<int> v = out.host();
  for (int t = 0; t < 256; ++t) EXPECT_EQ(v[t], 2 * ((t % 128 + 64) % 128) + (t >= 128 ? 1000 : 0)) << t;
}

__global__ void dynamic_shared_kernel(int* out) {
  int* shared = ratrace::gpu::dynamic_shared_memory<int>();
  shared[threadIdx.x] = static_cast<int>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = shared[blockDim.x - 1 - threadIdx.x];
}

TEST(Simt, DynamicSharedMemoryAbove48KiBNeedsTheKernelAttribute) {
  DeviceArray<int> out(32);
  const std::size_t bytes = 64 * 1024;
  launch_kernel(dynamic_shared_kernel, 1, 32, bytes, nullptr, out.ptr);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  ASSERT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
            cudaSuccess);
  launch_kernel(dynamic_shared_kernel, 1, 32, bytes, nullptr, out.ptr);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<int> v = out.host();
  for (int t = 0; t < 32; ++t) EXPECT_EQ(v[t], 31 - t);
}

__global__ void index_kernel(unsigned* out) {
  const unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
  out[t] = t + 1000 * gridDim.x;
}

TEST(Simt, ThreadAndBlockIndicesCoverTheGrid) {
  DeviceArray<unsigned> out(3 * 96);
  launch_kernel(index_kernel, 3, 96, 0, nullptr, out.ptr);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<unsigned> v = out.host();
  for (unsigned t = 0; t < 3 * 96; ++t) EXPECT_EQ(v[t], t + 3000);
}

TEST(Simt, InvalidLaunchConfigurationsAreLaunchErrors) {
  DeviceArray<unsigned> out(4096);
  launch_kernel(index_kernel, 1, 2048, 0, nullptr, out.ptr);  // more than 1024 threads per block
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  launch_kernel(index_kernel, 0, 32, 0, nullptr, out.ptr);  // an empty grid
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // reading the error clears it
}

__global__ void early_exit_kernel(int* out) {
  if ((threadIdx.x & 31) == 5) return;  // one lane leaves, its warp then shuffles: undefined on a GPU
  out[threadIdx.x] = __shfl_sync(kFull, static_cast<int>(threadIdx.x), 0);
}

__global__ void mixed_collectives_kernel(unsigned* out) {
  out[threadIdx.x] = threadIdx.x % 2 == 0 ? __ballot_sync(kFull, 1) : static_cast<unsigned>(__any_sync(kFull, 1));
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 48) __syncthreads();  // warp 1 splits between the barrier and a shuffle
  else out[threadIdx.x] = __shfl_sync(kFull, 1, 0);
}

__global__ void narrow_shuffle_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(kFull, static_cast<int>(threadIdx.x), 0, 16);  // sub-warp width: not modelled
}

// The fault of the last launch: its grid runs at the sync (deferred streams) or ran at the launch.
std::string launch_error_text() {
  cudaDeviceSynchronize();
  const cudaError_t err = cudaGetLastError();
  EXPECT_EQ(err, cudaErrorLaunchFailure);
  return cudaGetErrorString(err);
}

TEST(Simt, MisusesOfTheExecutionModelFailTheLaunchWithTheReason) {
  DeviceArray<int> ints(64);
  DeviceArray<unsigned> words(3 * 64);
  launch_kernel(early_exit_kernel, 1, 64, 0, nullptr, ints.ptr);
  EXPECT_NE(launch_error_text().find("1 of its lanes have exited"), std::string::npos);
  launch_kernel(mixed_collectives_kernel, 1, 32, 0, nullptr, words.ptr);
  EXPECT_NE(launch_error_text().find("meet at __ballot_sync and __any_sync"), std::string::npos);
  launch_kernel(divergent_barrier_kernel, 1, 64, 0, nullptr, ints.ptr);
  EXPECT_NE(launch_error_text().find("deadlock: 16 threads wait at a warp-collective, 48 at __syncthreads"),
            std::string::npos);
  launch_kernel(narrow_shuffle_kernel, 1, 32, 0, nullptr, ints.ptr);
  EXPECT_NE(launch_error_text().find("__shfl_sync with width 16"), std::string::npos);
  // The next launch runs normally.
  launch_kernel(vote_kernel, 1, 64, 0, nullptr, words.ptr);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(Simt, DeviceMemoryIsBoundedAndCopiesStayInsideAllocations) {
  std::size_t free_before = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_before, &total), cudaSuccess);
  void* too_big = nullptr;
  EXPECT_EQ(cudaMalloc(&too_big, total + 1), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);

  simt::reset_peak_device_memory();
  void* p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 1000), cudaSuccess);
  std::size_t free_after = 0;
  cudaMemGetInfo(&free_after, &total);
  EXPECT_EQ(free_before - free_after, 1000u);
  EXPECT_EQ(simt::peak_device_memory() - simt::device_memory_in_use(), 0u);
  std::vector<char> host(1001, 'x');
  EXPECT_EQ(cudaMemcpy(p, host.data(), 1000, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, host.data(), 1001, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), static_cast<char*>(p) + 1, 1000, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), host.data() + 1, 10, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);  // host as device
  EXPECT_EQ(cudaMemsetAsync(p, 0, 1001, nullptr), cudaErrorInvalidValue);
  cudaGetLastError();
  EXPECT_EQ(cudaFree(p), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaErrorInvalidValue);  // twice
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);  // a failed call sets the last error, as on a GPU
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(simt::device_memory_in_use() + free_before, total);
}

// A cleanup call that fails (here a buffer's cudaFree of memory freed behind its back) must not leave
// its error for the next kernel launch's check to report as the launch's own.
TEST(Simt, AFailedCleanupIsNotLeftForTheNextLaunchCheck) {
  ratrace::gpu::DeviceBuffer buffer;
  void* p = buffer.reserve(64);
  ASSERT_EQ(cudaFree(p), cudaSuccess);
  buffer.release();  // its cudaFree fails
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

// A kernel's fault reaches the host at whatever call comes next (a stream sync, another kernel's
// launch check): the message says so and how to have the faulting launch report it. Errors of the
// call itself carry no such hint.
TEST(Simt, ADeviceFaultsMessageSaysHowToFindTheKernelAtFault) {
  using ratrace::gpu::cuda_error_text;
  constexpr const char* kHint = "CUDA_LAUNCH_BLOCKING=1";
  DeviceArray<int> ints(64);
  launch_kernel(early_exit_kernel, 1, 64, 0, nullptr, ints.ptr);
  cudaDeviceSynchronize();  // runs the grid (deferred streams)
  try {
    ratrace::gpu::cuda_check(cudaGetLastError(), "cudaStreamSynchronize (paths)");
    ADD_FAILURE() << "a launch failure did not throw";
  } catch (const std::runtime_error& e) {
    const std::string text = e.what();
    EXPECT_EQ(text.rfind("CUDA: cudaStreamSynchronize (paths) failed: unspecified launch failure", 0), 0u) << text;
    EXPECT_NE(text.find(kHint), std::string::npos) << text;
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  for (const cudaError_t fault : {cudaErrorIllegalAddress, cudaErrorLaunchFailure, cudaErrorLaunchTimeout, cudaErrorAssert,
                                  cudaErrorHardwareStackError, cudaErrorIllegalInstruction, cudaErrorMisalignedAddress,
                                  cudaErrorInvalidAddressSpace, cudaErrorInvalidPc, cudaErrorECCUncorrectable})
    EXPECT_NE(cuda_error_text(fault, "x").find(kHint), std::string::npos) << static_cast<int>(fault);
  EXPECT_EQ(cuda_error_text(cudaErrorMemoryAllocation, "cudaMalloc").rfind("CUDA: cudaMalloc failed: out of memory", 0), 0u);
  for (const cudaError_t own :
       {cudaErrorMemoryAllocation, cudaErrorInvalidValue, cudaErrorInvalidConfiguration, cudaErrorNoDevice, cudaErrorInvalidDevice})
    EXPECT_EQ(cuda_error_text(own, "x").find(kHint), std::string::npos) << static_cast<int>(own);
}

}  // namespace
