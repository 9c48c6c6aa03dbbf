#pragma once
// The SIMT emulator's stand-in for the CUDA runtime API (tests/simt/): the subset that ratrace
// uses, over host memory, with the device-side keywords and intrinsics of simt.hpp. One emulated
// device, "ratrace SIMT emulator (CPU)", compute capability 9.0 unless told otherwise (below).
//
// Streams are deferred: device work (copies, memsets, launches, CUB scans, event records) waits in
// its stream's queue until the host must see it done (cudaStreamSynchronize, cudaDeviceSynchronize,
// a synchronous cudaMemcpy, a copy into pageable memory, cudaFree, cudaFreeHost), as if the GPU
// were slow; then it runs in stream order on the host thread that asked. So host code that reads
// results, or reuses a buffer, before its stream is done sees what it would risk on a GPU:
//   - a pinned host source (cudaMallocHost, cudaHostRegister) is read when the copy runs; one that
//     the host changed in between ends the process with "host race" (a GPU copies either version);
//   - a pinned host destination holds 0xFF bytes (NaN, -1) until the copy runs;
//   - pageable memory follows CUDA's rules: a source is copied at the call, a copy into it
//     completes before the call returns;
//   - cudaHostUnregister of memory that a queued copy still uses ends the process ("host race").
// The NULL stream orders with blocking streams (not with cudaStreamNonBlocking ones) as CUDA's
// legacy default stream does. A fault while device work runs is returned by the call that ran it,
// and the rest of that stream's queue is dropped.
//
// Environment, for tests of the engine's memory and device handling:
//   RATRACE_SIMT_DEVICES    number of devices (default 1; 0 = none)
//   RATRACE_SIMT_MEMORY_MB  device memory in MiB (default 2048); cudaMalloc fails beyond it
//   RATRACE_SIMT_STREAMS    deferred (default) | eager: every operation completes before its call
//                           returns (the other extreme of timing; faults surface at the launch)
//   RATRACE_SIMT_COMPUTE_CAPABILITY  MAJOR.MINOR the device reports (default 9.0)
//   RATRACE_SIMT_SHARED_OPTIN_KB     its opt-in shared memory per block, in KiB (default 227, as
//                           sm_90; 163 is sm_80's, 99 sm_86's and sm_89's): cudaFuncSetAttribute
//                           refuses more
//   RATRACE_SIMT_NO_KERNEL_IMAGE=1   the build has no code for the device: cudaFuncGetAttributes
//                           fails with cudaErrorNoKernelImageForDevice
#include <cstddef>
#include <cstdint>
#include <functional>

#include "simt.hpp"

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorNoDevice = 100,
  cudaErrorNoKernelImageForDevice = 209,
  cudaErrorECCUncorrectable = 214,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchTimeout = 702,
  cudaErrorAssert = 710,
  cudaErrorHostMemoryAlreadyRegistered = 712,
  cudaErrorHostMemoryNotRegistered = 713,
  cudaErrorHardwareStackError = 714,
  cudaErrorIllegalInstruction = 715,
  cudaErrorMisalignedAddress = 716,
  cudaErrorInvalidAddressSpace = 717,
  cudaErrorInvalidPc = 718,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

// What the kernels ask of cudaFuncGetAttributes. The emulator cannot see a kernel's static shared
// memory (function-local statics): it reports none.
struct cudaFuncAttributes {
  std::size_t sharedSizeBytes;
};

constexpr unsigned cudaHostRegisterDefault = 0x0;
constexpr unsigned cudaHostRegisterPortable = 0x1;
constexpr unsigned cudaStreamDefault = 0x0;
constexpr unsigned cudaStreamNonBlocking = 0x1;

struct CUstream_st;
struct CUevent_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;

struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  std::size_t sharedMemPerBlock;
  std::size_t sharedMemPerBlockOptin;
  int warpSize;
  int maxThreadsPerBlock;
  int multiProcessorCount;
  int major;
  int minor;
};

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes);

cudaError_t cudaMalloc(void** ptr, std::size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, std::size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
// Page-locking emulated as bookkeeping: a range may not overlap one already registered, and only
// a registered base may be unregistered (as CUDA's errors 712 and 713).
cudaError_t cudaHostRegister(void* ptr, std::size_t bytes, unsigned flags);
cudaError_t cudaHostUnregister(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void* ptr, int value, std::size_t bytes, cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t error);

namespace simt::detail {
cudaError_t set_max_dynamic_shared(const void* kernel, int bytes);
cudaError_t kernel_attributes(cudaFuncAttributes* attributes);
// Queues device work (a kernel's grid, a CUB scan) on a stream: it runs when the stream reaches it
// (at once in eager mode, returning its error then).
cudaError_t enqueue_device_work(cudaStream_t stream, std::function<cudaError_t()> work);
}
template <class Kernel>
cudaError_t cudaFuncSetAttribute(Kernel* kernel, cudaFuncAttribute attribute, int value) {
  if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
  return simt::detail::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), value);
}
template <class Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, Kernel*) {
  return simt::detail::kernel_attributes(attributes);
}
