// The SIMT emulator's CUDA runtime (see include/cuda_runtime_api.h): device memory is host memory
// with the device's bookkeeping (a size limit, bounds-checked copies), and every operation
// completes before it returns.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "simt_runtime.hpp"

struct CUstream_st {
  unsigned flags = 0;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point at{};
  bool recorded = false;
};

namespace simt {
namespace {

constexpr std::size_t kAlignment = 256;  // cudaMalloc's guarantee

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

int device_count() { return std::max(0, env_int("RATRACE_SIMT_DEVICES", 1)); }
std::size_t device_memory_bytes() {
  return static_cast<std::size_t>(std::max(1, env_int("RATRACE_SIMT_MEMORY_MB", 2048))) << 20;
}

struct Memory {
  std::mutex mutex;
  std::map<const char*, std::size_t> device;  // base -> size
  std::map<const char*, std::size_t> host_registered;  // base -> size (cudaHostRegister)
  std::size_t in_use = 0;
  std::size_t peak = 0;
};
Memory& memory() {
  static Memory m;
  return m;
}

thread_local cudaError_t last_error = cudaSuccess;
thread_local std::map<int, std::string> error_details;  // the latest detail of each error code

cudaError_t fail(cudaError_t error, const std::string& detail) {
  record_error(error, detail);
  return error;
}

// Whether [p, p + bytes) lies inside one device allocation.
bool in_device_memory(const void* p, std::size_t bytes) {
  Memory& m = memory();
  const std::lock_guard lock(m.mutex);
  const auto* c = static_cast<const char*>(p);
  auto it = m.device.upper_bound(c);
  if (it == m.device.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

cudaError_t check_copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, const char* what) {
  const bool device_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool device_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return fail(cudaErrorInvalidValue, std::string(what) + " with a null pointer");
  if (device_dst && !in_device_memory(dst, bytes))
    return fail(cudaErrorInvalidValue, std::string(what) + ": destination range of " + std::to_string(bytes) +
                                           " bytes is not inside one device allocation");
  if (device_src && !in_device_memory(src, bytes))
    return fail(cudaErrorInvalidValue, std::string(what) + ": source range of " + std::to_string(bytes) +
                                           " bytes is not inside one device allocation");
  return cudaSuccess;
}

}  // namespace

void record_error(cudaError_t error, const std::string& detail) {
  last_error = error;  // as CUDA: the last error, until cudaGetLastError() reads it
  error_details[error] = detail;
  std::fprintf(stderr, "simt emulator: %s\n", detail.c_str());
}

std::size_t device_memory_in_use() {
  const std::lock_guard lock(memory().mutex);
  return memory().in_use;
}
std::size_t peak_device_memory() {
  const std::lock_guard lock(memory().mutex);
  return memory().peak;
}
void reset_peak_device_memory() {
  const std::lock_guard lock(memory().mutex);
  memory().peak = memory().in_use;
}
std::size_t registered_host_bytes() {
  const std::lock_guard lock(memory().mutex);
  std::size_t bytes = 0;
  for (const auto& [base, size] : memory().host_registered) bytes += size;
  return bytes;
}

}  // namespace simt

cudaError_t cudaGetDeviceCount(int* count) {
  *count = simt::device_count();
  return *count > 0 ? cudaSuccess : cudaErrorNoDevice;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device < 0 || device >= simt::device_count())
    return simt::fail(cudaErrorInvalidDevice, "device " + std::to_string(device) + " does not exist");
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof(prop->name), "ratrace SIMT emulator (CPU)");
  prop->totalGlobalMem = simt::device_memory_bytes();
  prop->sharedMemPerBlock = 48 * 1024;
  prop->sharedMemPerBlockOptin = 227 * 1024;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->multiProcessorCount = 1;
  prop->major = 9;
  prop->minor = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device >= 0 && device < simt::device_count()) return cudaSuccess;
  return simt::fail(cudaErrorInvalidDevice, "device " + std::to_string(device) + " does not exist");
}

cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  *total_bytes = simt::device_memory_bytes();
  *free_bytes = *total_bytes - std::min(*total_bytes, simt::device_memory_in_use());
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, std::size_t bytes) {
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  simt::Memory& m = simt::memory();
  const std::lock_guard lock(m.mutex);
  if (m.in_use + bytes > simt::device_memory_bytes())
    return simt::fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes with " +
                                                     std::to_string(m.in_use) + " of " +
                                                     std::to_string(simt::device_memory_bytes()) + " in use");
  // Exactly `bytes` (cudaMalloc's alignment, none of its rounding), so that valgrind reports an
  // access one element past the end.
  void* p = nullptr;
  if (posix_memalign(&p, simt::kAlignment, bytes) != 0) return simt::fail(cudaErrorMemoryAllocation, "host memory exhausted");
  m.device[static_cast<const char*>(p)] = bytes;
  m.in_use += bytes;
  m.peak = std::max(m.peak, m.in_use);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  simt::Memory& m = simt::memory();
  {
    const std::lock_guard lock(m.mutex);
    const auto it = m.device.find(static_cast<const char*>(ptr));
    if (it == m.device.end()) return simt::fail(cudaErrorInvalidValue, "cudaFree of a pointer that cudaMalloc did not return");
    m.in_use -= it->second;
    m.device.erase(it);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, std::size_t bytes) {
  *ptr = std::aligned_alloc(4096, (std::max<std::size_t>(bytes, 1) + 4095) / 4096 * 4096);
  return *ptr != nullptr ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaHostRegister(void* ptr, std::size_t bytes, unsigned) {
  if (ptr == nullptr || bytes == 0) return simt::fail(cudaErrorInvalidValue, "cudaHostRegister of an empty range");
  simt::Memory& m = simt::memory();
  const std::lock_guard lock(m.mutex);
  const auto* begin = static_cast<const char*>(ptr);
  auto next = m.host_registered.lower_bound(begin);
  const bool overlaps_next = next != m.host_registered.end() && next->first < begin + bytes;
  const bool overlaps_previous = next != m.host_registered.begin() && std::prev(next)->first + std::prev(next)->second > begin;
  if (overlaps_next || overlaps_previous)
    return simt::fail(cudaErrorHostMemoryAlreadyRegistered, "cudaHostRegister of a range that overlaps a registered one");
  m.host_registered.emplace(begin, bytes);
  return cudaSuccess;
}

cudaError_t cudaHostUnregister(void* ptr) {
  simt::Memory& m = simt::memory();
  const std::lock_guard lock(m.mutex);
  if (m.host_registered.erase(static_cast<const char*>(ptr)) == 0)
    return simt::fail(cudaErrorHostMemoryNotRegistered, "cudaHostUnregister of a pointer that cudaHostRegister did not take");
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  const cudaError_t err = simt::check_copy(dst, src, bytes, kind, "cudaMemcpyAsync");
  if (err == cudaSuccess && bytes > 0) std::memmove(dst, src, bytes);
  return err;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, std::size_t bytes, cudaStream_t) {
  if (bytes == 0) return cudaSuccess;
  if (!simt::in_device_memory(ptr, bytes))
    return simt::fail(cudaErrorInvalidValue, "cudaMemsetAsync: range of " + std::to_string(bytes) +
                                                 " bytes is not inside one device allocation");
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  *stream = new CUstream_st{flags};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->at = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!start->recorded || !end->recorded) return simt::fail(cudaErrorInvalidValue, "cudaEventElapsedTime of an unrecorded event");
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return cudaSuccess;
}

cudaError_t cudaGetLastError() { return std::exchange(simt::last_error, cudaSuccess); }

const char* cudaGetErrorString(cudaError_t error) {
  static thread_local std::string text;
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: text = "invalid argument"; break;
    case cudaErrorMemoryAllocation: text = "out of memory"; break;
    case cudaErrorInvalidConfiguration: text = "invalid configuration argument"; break;
    case cudaErrorInvalidDevice: text = "invalid device ordinal"; break;
    case cudaErrorNoDevice: text = "no CUDA-capable device is detected"; break;
    case cudaErrorHostMemoryAlreadyRegistered: text = "part or all of the requested memory range is already mapped"; break;
    case cudaErrorHostMemoryNotRegistered: text = "pointer does not correspond to a registered memory region"; break;
    case cudaErrorIllegalAddress: text = "an illegal memory access was encountered"; break;
    case cudaErrorLaunchFailure: text = "unspecified launch failure"; break;
    default: text = "unknown error " + std::to_string(static_cast<int>(error)); break;
  }
  const auto detail = simt::error_details.find(error);
  if (detail != simt::error_details.end()) text += " (simt emulator: " + detail->second + ")";
  return text.c_str();
}
