// The SIMT emulator's CUDA runtime (see include/cuda_runtime_api.h): device memory is host memory
// with the device's bookkeeping (a size limit, bounds-checked copies); device work waits in its
// stream's queue until the host has to see it done (deferred streams), or runs at once (eager).
#include <cuda_runtime_api.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef VALGRIND_DISABLE_ERROR_REPORTING
#define VALGRIND_DISABLE_ERROR_REPORTING
#define VALGRIND_ENABLE_ERROR_REPORTING
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "simt_runtime.hpp"

namespace simt {
namespace {
// One queued piece of device work. `host` is the pinned host memory it reads (a copy's source) or
// writes (a copy's destination) when it runs: what the host must leave alone until then.
struct Op {
  std::uint64_t seq = 0;  // enqueue order across all streams (the NULL stream's ordering)
  std::function<cudaError_t()> run;
  const unsigned char* host = nullptr;
  std::size_t host_bytes = 0;
  bool reads_host = false;
};
}  // namespace
}  // namespace simt

struct CUstream_st {
  unsigned flags = 0;
  std::deque<simt::Op> pending;
};
struct CUevent_st {
  struct State {
    std::chrono::steady_clock::time_point at{};
    bool recorded = false;  // cudaEventRecord was called
    bool complete = false;  // and its stream has reached it
  };
  // Shared with a queued record, which may run after cudaEventDestroy, as on a GPU.
  std::shared_ptr<State> state = std::make_shared<State>();
};

namespace simt {
namespace {

constexpr std::size_t kAlignment = 256;  // cudaMalloc's guarantee

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

int device_count() { return std::max(0, env_int("RATRACE_SIMT_DEVICES", 1)); }
// RATRACE_SIMT_COMPUTE_CAPABILITY, "MAJOR.MINOR" (default 9.0).
std::pair<int, int> compute_capability() {
  const char* v = std::getenv("RATRACE_SIMT_COMPUTE_CAPABILITY");
  int major = 9, minor = 0;
  if (v != nullptr && *v != '\0' && std::sscanf(v, "%d.%d", &major, &minor) != 2) {
    std::fprintf(stderr, "simt emulator: RATRACE_SIMT_COMPUTE_CAPABILITY must be MAJOR.MINOR, not '%s'\n", v);
    std::abort();
  }
  return {major, minor};
}
std::size_t device_memory_bytes() {
  return static_cast<std::size_t>(std::max(1, env_int("RATRACE_SIMT_MEMORY_MB", 2048))) << 20;
}

struct Memory {
  std::mutex mutex;
  std::map<const char*, std::size_t> device;  // base -> size
  std::map<const char*, std::size_t> host_registered;  // base -> size (cudaHostRegister)
  std::map<const char*, std::size_t> host_allocated;   // base -> size (cudaMallocHost)
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

// Whether [p, p + bytes) lies inside one of `blocks` (base -> size). Memory::mutex held.
bool inside_one_block(const std::map<const char*, std::size_t>& blocks, const void* p, std::size_t bytes) {
  const auto* c = static_cast<const char*>(p);
  auto it = blocks.upper_bound(c);
  if (it == blocks.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

// Whether [p, p + bytes) lies inside one device allocation.
bool in_device_memory(const void* p, std::size_t bytes) {
  const std::lock_guard lock(memory().mutex);
  return inside_one_block(memory().device, p, bytes);
}

// Whether [p, p + bytes) lies inside one block of page-locked host memory (cudaMallocHost or
// cudaHostRegister): copies from and to it are truly asynchronous on a GPU.
bool is_pinned(const void* p, std::size_t bytes) {
  Memory& m = memory();
  const std::lock_guard lock(m.mutex);
  return inside_one_block(m.host_registered, p, bytes) || inside_one_block(m.host_allocated, p, bytes);
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

// ---- Streams -------------------------------------------------------------------------------

bool eager_streams() {
  static const bool eager = [] {
    const char* v = std::getenv("RATRACE_SIMT_STREAMS");
    return v != nullptr && std::string(v) == "eager";
  }();
  return eager;
}

// Every stream's queue. One mutex guards them all and is held while work runs, so device work
// runs one piece at a time, whichever host thread runs it.
struct Streams {
  std::mutex mutex;
  std::uint64_t last_seq = 0;
  CUstream_st legacy;               // the NULL stream
  std::set<CUstream_st*> created;   // every other live stream
};
Streams& streams() {
  static Streams s;
  return s;
}

CUstream_st* queue_of(cudaStream_t stream) { return stream != nullptr ? stream : &streams().legacy; }

void keep_first(cudaError_t& first, cudaError_t err) {
  if (first == cudaSuccess) first = err;
}

constexpr std::uint64_t kAll = std::numeric_limits<std::uint64_t>::max();

// Runs q's queued work up to sequence number `last`, in order; before each piece, the work it
// waits for on other streams (the NULL stream waits for earlier work of every blocking stream, and
// a blocking stream for earlier work of the NULL stream). A piece that fails drops the rest of its
// queue (a GPU's context is lost after a fault). Returns the first failure. Streams::mutex held.
cudaError_t run_until(CUstream_st* q, std::uint64_t last) {
  Streams& s = streams();
  cudaError_t first = cudaSuccess;
  while (!q->pending.empty() && q->pending.front().seq <= last) {
    const std::uint64_t seq = q->pending.front().seq;
    if (q == &s.legacy) {
      for (CUstream_st* other : s.created)
        if ((other->flags & cudaStreamNonBlocking) == 0) keep_first(first, run_until(other, seq - 1));
    } else if ((q->flags & cudaStreamNonBlocking) == 0) {
      keep_first(first, run_until(&s.legacy, seq - 1));
    }
    Op op = std::move(q->pending.front());
    q->pending.pop_front();
    const cudaError_t err = op.run();
    if (err != cudaSuccess) {
      keep_first(first, err);
      q->pending.clear();
    }
  }
  return first;
}

// All queued work of every stream (cudaDeviceSynchronize). Streams::mutex held.
cudaError_t run_all() {
  Streams& s = streams();
  cudaError_t first = run_until(&s.legacy, kAll);
  for (CUstream_st* q : s.created) keep_first(first, run_until(q, kAll));
  return first;
}

cudaError_t synchronize_device() {
  const std::lock_guard lock(streams().mutex);
  return run_all();
}

// Whether queued work still reads (only_reads) or touches [p, p + bytes) of host memory.
bool queued_work_uses(const unsigned char* p, std::size_t bytes, bool only_reads) {
  Streams& s = streams();
  const auto overlaps = [&](const CUstream_st& q) {
    return std::any_of(q.pending.begin(), q.pending.end(), [&](const Op& op) {
      return op.host != nullptr && (op.reads_host || !only_reads) && op.host < p + bytes && p < op.host + op.host_bytes;
    });
  };
  if (overlaps(s.legacy)) return true;
  return std::any_of(s.created.begin(), s.created.end(), [&](const CUstream_st* q) { return overlaps(*q); });
}

// Queues `op` on `stream`; with `complete` (or in eager mode) runs the stream up to it before
// returning, and returns what it (or earlier work) failed with. A pinned destination holds 0xFF
// bytes until the copy runs (garbage for a host that reads it too early), unless queued work still
// reads it as a source: that must see the values of its time.
cudaError_t enqueue(cudaStream_t stream, Op op, bool complete = false) {
  Streams& s = streams();
  const std::lock_guard lock(s.mutex);
  if (op.host != nullptr && !op.reads_host && !queued_work_uses(op.host, op.host_bytes, /*only_reads=*/true))
    std::memset(const_cast<unsigned char*>(op.host), 0xFF, op.host_bytes);
  CUstream_st* q = queue_of(stream);
  op.seq = ++s.last_seq;
  const std::uint64_t seq = op.seq;
  q->pending.push_back(std::move(op));
  return complete || eager_streams() ? run_until(q, seq) : cudaSuccess;
}

// A host-side race that a GPU would turn into silently wrong data: ends the process, loudly.
[[noreturn]] void host_race(const std::string& what) {
  std::fprintf(stderr, "simt emulator: host race: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string range_text(const void* p, std::size_t bytes) {
  char text[64];
  std::snprintf(text, sizeof(text), "[%p, +%zu bytes)", p, bytes);
  return text;
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
bool deferred_streams() { return !eager_streams(); }

std::size_t registered_host_bytes() {
  const std::lock_guard lock(memory().mutex);
  std::size_t bytes = 0;
  for (const auto& [base, size] : memory().host_registered) bytes += size;
  return bytes;
}

int shared_memory_optin_bytes() { return std::max(1, env_int("RATRACE_SIMT_SHARED_OPTIN_KB", 227)) * 1024; }

namespace detail {
cudaError_t kernel_attributes(cudaFuncAttributes* attributes) {
  if (env_int("RATRACE_SIMT_NO_KERNEL_IMAGE", 0) == 1)
    return fail(cudaErrorNoKernelImageForDevice, "RATRACE_SIMT_NO_KERNEL_IMAGE=1: the build has no code for the device");
  *attributes = cudaFuncAttributes{0};
  return cudaSuccess;
}
}  // namespace detail

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
  prop->sharedMemPerBlockOptin = static_cast<std::size_t>(simt::shared_memory_optin_bytes());
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->multiProcessorCount = 1;
  std::tie(prop->major, prop->minor) = simt::compute_capability();
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  if (device < 0 || device >= simt::device_count())
    return simt::fail(cudaErrorInvalidDevice, "device " + std::to_string(device) + " does not exist");
  if (attribute != cudaDevAttrMaxSharedMemoryPerBlockOptin)
    return simt::fail(cudaErrorInvalidValue, "cudaDeviceGetAttribute of an attribute the emulator does not know");
  *value = simt::shared_memory_optin_bytes();
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;  // cudaSetDevice only checks its argument: there is one emulated device in use
  return simt::device_count() > 0 ? cudaSuccess : simt::fail(cudaErrorNoDevice, "no device");
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
  // As on a GPU, cudaFree waits for the device first: queued work may still use the memory.
  const cudaError_t queued = simt::synchronize_device();
  simt::Memory& m = simt::memory();
  {
    const std::lock_guard lock(m.mutex);
    const auto it = m.device.find(static_cast<const char*>(ptr));
    if (it == m.device.end()) return simt::fail(cudaErrorInvalidValue, "cudaFree of a pointer that cudaMalloc did not return");
    m.in_use -= it->second;
    m.device.erase(it);
  }
  std::free(ptr);
  return queued;
}

cudaError_t cudaMallocHost(void** ptr, std::size_t bytes) {
  const std::size_t size = (std::max<std::size_t>(bytes, 1) + 4095) / 4096 * 4096;
  *ptr = std::aligned_alloc(4096, size);
  if (*ptr == nullptr) return cudaErrorMemoryAllocation;
  simt::Memory& m = simt::memory();
  const std::lock_guard lock(m.mutex);
  m.host_allocated[static_cast<const char*>(*ptr)] = size;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  const cudaError_t queued = simt::synchronize_device();  // as on a GPU
  {
    simt::Memory& m = simt::memory();
    const std::lock_guard lock(m.mutex);
    if (m.host_allocated.erase(static_cast<const char*>(ptr)) == 0)
      return simt::fail(cudaErrorInvalidValue, "cudaFreeHost of a pointer that cudaMallocHost did not return");
  }
  std::free(ptr);
  return queued;
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
  std::size_t bytes = 0;
  {
    simt::Memory& m = simt::memory();
    const std::lock_guard lock(m.mutex);
    const auto it = m.host_registered.find(static_cast<const char*>(ptr));
    if (it == m.host_registered.end())
      return simt::fail(cudaErrorHostMemoryNotRegistered, "cudaHostUnregister of a pointer that cudaHostRegister did not take");
    bytes = it->second;
    m.host_registered.erase(it);
  }
  // Memory is unregistered to be freed: a queued copy would then read or write freed memory.
  const std::lock_guard lock(simt::streams().mutex);
  if (simt::queued_work_uses(static_cast<const unsigned char*>(ptr), bytes, /*only_reads=*/false))
    simt::host_race("cudaHostUnregister of pinned memory " + simt::range_text(ptr, bytes) +
                    " that a queued copy still uses (synchronise its stream first)");
  return cudaSuccess;
}

namespace simt {
namespace {

// A copy as the stream runs it, with CUDA's rules for the host side (see cuda_runtime_api.h).
cudaError_t enqueue_copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t stream,
                         bool complete) {
  auto* to = static_cast<unsigned char*>(dst);
  const auto* from = static_cast<const unsigned char*>(src);
  Op op;
  if (kind == cudaMemcpyHostToDevice && is_pinned(src, bytes)) {
    // Read when it runs; what the host wrote there meanwhile is a race.
    auto at_call = std::make_shared<std::vector<unsigned char>>(from, from + bytes);
    op.run = [to, from, bytes, at_call] {
      // Bytes the host never wrote (padding between the pieces of a staging buffer) compare equal
      // too; valgrind would report the comparison of them, which is not the program's use of them.
      VALGRIND_DISABLE_ERROR_REPORTING;
      const bool changed = std::memcmp(from, at_call->data(), bytes) != 0;
      VALGRIND_ENABLE_ERROR_REPORTING;
      if (changed)
        host_race("the host changed pinned memory " + range_text(from, bytes) +
                  " between cudaMemcpyAsync from it and the copy (synchronise the stream before reusing a source)");
      std::memcpy(to, from, bytes);
      return cudaSuccess;
    };
    op.host = from;
    op.host_bytes = bytes;
    op.reads_host = true;
  } else if (kind == cudaMemcpyHostToDevice) {
    // Pageable: CUDA stages the source before the call returns.
    auto staged = std::make_shared<std::vector<unsigned char>>(from, from + bytes);
    op.run = [to, staged] {
      std::memcpy(to, staged->data(), staged->size());
      return cudaSuccess;
    };
  } else {
    op.run = [to, from, bytes] {
      std::memmove(to, from, bytes);
      return cudaSuccess;
    };
    if (kind == cudaMemcpyDeviceToHost && is_pinned(dst, bytes)) {
      op.host = to;  // written when it runs; garbage until then (enqueue)
      op.host_bytes = bytes;
    } else if (kind != cudaMemcpyDeviceToDevice) {
      complete = true;  // into pageable memory (or host to host): done when the call returns
    }
  }
  return enqueue(stream, std::move(op), complete);
}

}  // namespace

namespace detail {
cudaError_t enqueue_device_work(cudaStream_t stream, std::function<cudaError_t()> work) {
  Op op;
  op.run = std::move(work);
  return enqueue(stream, std::move(op));
}
}  // namespace detail

}  // namespace simt

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  const cudaError_t err = simt::check_copy(dst, src, bytes, kind, "cudaMemcpy");
  if (err != cudaSuccess || bytes == 0) return err;
  return simt::enqueue_copy(dst, src, bytes, kind, nullptr, /*complete=*/true);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  const cudaError_t err = simt::check_copy(dst, src, bytes, kind, "cudaMemcpyAsync");
  if (err != cudaSuccess || bytes == 0) return err;
  return simt::enqueue_copy(dst, src, bytes, kind, stream, /*complete=*/false);
}

cudaError_t cudaMemsetAsync(void* ptr, int value, std::size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (!simt::in_device_memory(ptr, bytes))
    return simt::fail(cudaErrorInvalidValue, "cudaMemsetAsync: range of " + std::to_string(bytes) +
                                                 " bytes is not inside one device allocation");
  simt::Op op;
  op.run = [ptr, value, bytes] {
    std::memset(ptr, value, bytes);
    return cudaSuccess;
  };
  return simt::enqueue(stream, std::move(op));
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  *stream = new CUstream_st{flags, {}};
  const std::lock_guard lock(simt::streams().mutex);
  simt::streams().created.insert(*stream);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return simt::fail(cudaErrorInvalidValue, "cudaStreamDestroy of the NULL stream");
  cudaError_t queued = cudaSuccess;
  {
    // A GPU finishes a destroyed stream's work in the background: here it runs now.
    const std::lock_guard lock(simt::streams().mutex);
    queued = simt::run_until(stream, simt::kAll);
    simt::streams().created.erase(stream);
  }
  delete stream;
  return queued;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  const std::lock_guard lock(simt::streams().mutex);
  return simt::run_until(simt::queue_of(stream), simt::kAll);
}
cudaError_t cudaDeviceSynchronize() { return simt::synchronize_device(); }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  event->state->recorded = true;
  event->state->complete = false;
  simt::Op op;
  op.run = [state = event->state] {
    state->at = std::chrono::steady_clock::now();
    state->complete = true;
    return cudaSuccess;
  };
  return simt::enqueue(stream, std::move(op));
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  const CUevent_st::State& a = *start->state;
  const CUevent_st::State& b = *end->state;
  if (!a.recorded || !b.recorded) return simt::fail(cudaErrorInvalidValue, "cudaEventElapsedTime of an unrecorded event");
  if (!a.complete || !b.complete)
    return simt::fail(cudaErrorNotReady, "cudaEventElapsedTime of an event that its stream has not reached");
  *ms = std::chrono::duration<float, std::milli>(b.at - a.at).count();
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
    case cudaErrorNotReady: text = "device not ready"; break;
    case cudaErrorNoKernelImageForDevice: text = "no kernel image is available for execution on the device"; break;
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
