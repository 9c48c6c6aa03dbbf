#pragma once
// Small RAII helpers over the CUDA runtime for the GPU engine, its tests and benchmarks.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace ratrace::gpu {

// Whether `err` is a fault of work already running on the device (a kernel's bad address, trap or
// assert; an uncorrectable memory error). CUDA reports such a fault at the first call after it on
// the host, a stream sync or another kernel's launch check, which is rarely the work at fault.
inline bool is_device_fault(cudaError_t err) {
  switch (err) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

// "CUDA: <what> failed: <CUDA's words>", and for a device fault how to find the work at fault.
inline std::string cuda_error_text(cudaError_t err, const char* what) {
  std::string text = std::string("CUDA: ") + what + " failed: " + cudaGetErrorString(err);
  if (is_device_fault(err))
    text += " (a fault of earlier work on the device, reported by the first call after it; run again with "
            "CUDA_LAUNCH_BLOCKING=1 to have the failing kernel's own launch report it)";
  return text;
}

// Throws std::runtime_error naming the failed call (an unexpected failure: exit 3). The error is
// cleared from the runtime's last error first, so that a caller that catches it and goes on does not
// see it again at the next kernel launch's check.
inline void cuda_check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  throw std::runtime_error(cuda_error_text(err, what));
}

// For cleanup calls (destructors, releases), which cannot throw: a failure is dropped and cleared
// from the runtime's last error, so that the next kernel launch's check does not report it as its own.
inline void drop_cleanup_error(cudaError_t err) {
  if (err != cudaSuccess) cudaGetLastError();
}

// Page-locks [p, p + bytes) in place (for detail::pin_result_block), for every device's context
// (a spare batch may be refilled by an engine on another device): false, with the error cleared,
// when the driver refuses (the memory then stays pageable; copies still work).
inline bool page_lock(void* p, std::size_t bytes) {
  const cudaError_t err = cudaHostRegister(p, bytes, cudaHostRegisterPortable);
  drop_cleanup_error(err);
  return err == cudaSuccess;
}
// Called on whichever thread frees the block (a portable registration can be undone from any
// context; on a thread with no current device the runtime makes device 0 current, which in a
// process that only uses another device would create device 0's context).
inline void page_unlock(void* p) { drop_cleanup_error(cudaHostUnregister(p)); }

// How GrowingBuffer allocates: device memory, or page-locked host memory (for truly asynchronous
// copies).
struct DeviceAllocator {
  static void* allocate(std::size_t bytes) {
    void* p = nullptr;
    cuda_check(cudaMalloc(&p, bytes), "cudaMalloc");
    return p;
  }
  static void deallocate(void* p) { drop_cleanup_error(cudaFree(p)); }
};
struct PinnedAllocator {
  static void* allocate(std::size_t bytes) {
    void* p = nullptr;
    cuda_check(cudaMallocHost(&p, bytes), "cudaMallocHost");
    return p;
  }
  static void deallocate(void* p) { drop_cleanup_error(cudaFreeHost(p)); }
};

// Memory that only grows: a buffer is reallocated when a later unit needs more, and is otherwise
// reused across units and batches (the engine's cache of memory).
template <class Allocator>
class GrowingBuffer {
 public:
  GrowingBuffer() = default;
  GrowingBuffer(const GrowingBuffer&) = delete;
  GrowingBuffer& operator=(const GrowingBuffer&) = delete;
  GrowingBuffer(GrowingBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  ~GrowingBuffer() { release(); }

  // Ensures room for `bytes`; the contents are not kept when it grows.
  void* reserve(std::size_t bytes) {
    if (bytes > bytes_) {
      release();
      ptr_ = Allocator::allocate(bytes);
      bytes_ = bytes;
    }
    return ptr_;
  }
  template <class T>
  T* reserve_as(std::size_t count) {
    return static_cast<T*>(reserve(count * sizeof(T)));
  }
  void* get() const { return ptr_; }
  std::size_t capacity() const { return bytes_; }
  void release() {
    if (ptr_ != nullptr) Allocator::deallocate(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

using DeviceBuffer = GrowingBuffer<DeviceAllocator>;
using PinnedBuffer = GrowingBuffer<PinnedAllocator>;

class Stream {
 public:
  Stream() { cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate"); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    if (stream_ != nullptr) {
      drop_cleanup_error(cudaStreamSynchronize(stream_));
      drop_cleanup_error(cudaStreamDestroy(stream_));
    }
  }
  cudaStream_t get() const { return stream_; }
  void sync() const { cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { cuda_check(cudaEventCreate(&event_), "cudaEventCreate"); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { drop_cleanup_error(cudaEventDestroy(event_)); }
  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t s) { cuda_check(cudaEventRecord(event_, s), "cudaEventRecord"); }
  // Milliseconds from `start` to this event (both recorded and complete).
  float since(const Event& start) const {
    float ms = 0.0f;
    cuda_check(cudaEventElapsedTime(&ms, start.event_, event_), "cudaEventElapsedTime");
    return ms;
  }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace ratrace::gpu
