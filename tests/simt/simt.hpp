#pragma once
// The SIMT emulator's device side: it lets the host compiler build and run the CUDA kernels of
// kernels/ unchanged, so that CI (no GPU) runs the very kernel code and the whole GPU engine.
//
// Model: a launch runs its blocks one after the other; the threads of a block are fibers
// (Boost.Context) on the host thread that runs the launch (the one that synchronises its stream,
// see cuda_runtime_api.h), switched only at collective operations. A
// warp-collective (__shfl*_sync, __ballot_sync, __any_sync, __reduce_max_sync) completes when all
// 32 lanes of the warp have reached one; __syncthreads* when every live thread of the block has.
// The emulator enforces what CUDA leaves undefined, and fails the launch with a message when:
//   - a warp-collective is reached while some lane of the warp has exited, or with a partial mask;
//   - the lanes of a warp meet at different kinds of collective, or a barrier is never reached by
//     everyone (a deadlock on a GPU);
//   - a shuffle has a width other than 32 or an offset outside the warp (not modelled).
// RATRACE_SIMT_REVERSE=1 runs warps and lanes in reverse order: results that change with it
// depend on the schedule (a race).
// __shared__ variables are function-local statics (blocks never overlap, so one copy serves every
// block); dynamic shared memory is one buffer per launch. Atomics are plain read-modify-writes
// (fibers switch only at collectives). Device memory is host memory (runtime.cpp).
//
// Streams are deferred (runtime.cpp, cuda_runtime_api.h): host code that reads results or reuses a
// pinned buffer before its stream is done is caught. What it cannot show: timing, memory-model
// races between GPU threads, or out-of-bounds accesses (compute-sanitizer on a GPU,
// bench/device-check.sh, checks those).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct CUstream_st;  // a stream (cuda_runtime_api.h)

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

namespace simt {

enum class WarpOp : std::uint8_t { shfl, shfl_up, shfl_xor, ballot, any, reduce_max };

namespace detail {
struct ThreadIndex {
  uint3 thread;
  uint3 block;
  dim3 block_dim;
  dim3 grid_dim;
};
// The running emulated thread's indices (valid inside a kernel only).
// constinit: no dynamic initialisation, so no TLS wrapper call at each use (GCC 12 with -fsanitize=null
// reported a false null there).
extern constinit thread_local const ThreadIndex* current_index;

// Suspends the calling thread until its warp completes the collective; returns this lane's result.
// A width other than 32, or an offset outside the warp, fails the launch (ratrace uses neither).
std::uint64_t warp_collective(WarpOp op, unsigned mask, std::uint64_t value, int arg, int width = 32);
// Suspends the calling thread at a block barrier; returns the OR of every thread's predicate.
bool block_barrier(bool predicate);
void* dynamic_shared_memory();

template <class T>
std::uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "collectives move values of up to 8 bytes");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
T from_bits(std::uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}
}  // namespace detail

// Launches a grid on `stream`: kernel_body runs once per thread of every block (see the model
// above) when the stream reaches it (runtime.cpp: deferred streams); `kernel` identifies the kernel
// for its cudaFuncSetAttribute limits. A bad configuration is the launch's own error, at once; a
// fault while it runs is reported by the call that ran it (a stream sync), as on a GPU, and by
// cudaGetLastError() after that call.
void launch(const void* kernel, dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, CUstream_st* stream,
            std::function<void()> kernel_body);

}  // namespace simt

#define threadIdx (::simt::detail::current_index->thread)
#define blockIdx (::simt::detail::current_index->block)
#define blockDim (::simt::detail::current_index->block_dim)
#define gridDim (::simt::detail::current_index->grid_dim)

template <class T>
inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  return simt::detail::from_bits<T>(
      simt::detail::warp_collective(simt::WarpOp::shfl, mask, simt::detail::to_bits(v), src_lane, width));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return simt::detail::from_bits<T>(simt::detail::warp_collective(simt::WarpOp::shfl_up, mask, simt::detail::to_bits(v),
                                                                  static_cast<int>(delta), width));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return simt::detail::from_bits<T>(
      simt::detail::warp_collective(simt::WarpOp::shfl_xor, mask, simt::detail::to_bits(v), lane_mask, width));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return static_cast<unsigned>(simt::detail::warp_collective(simt::WarpOp::ballot, mask, predicate != 0, 0));
}
inline int __any_sync(unsigned mask, int predicate) {
  return static_cast<int>(simt::detail::warp_collective(simt::WarpOp::any, mask, predicate != 0, 0));
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned value) {
  return static_cast<unsigned>(simt::detail::warp_collective(simt::WarpOp::reduce_max, mask, value, 0));
}
inline void __syncthreads() { simt::detail::block_barrier(false); }
inline int __syncthreads_or(int predicate) { return simt::detail::block_barrier(predicate != 0) ? 1 : 0; }

inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline float __int_as_float(int v) { return simt::detail::from_bits<float>(static_cast<std::uint32_t>(v)); }
inline float __uint_as_float(unsigned v) { return simt::detail::from_bits<float>(v); }
inline unsigned __float_as_uint(float v) { return static_cast<unsigned>(simt::detail::to_bits(v)); }
inline long long __double_as_longlong(double v) { return simt::detail::from_bits<long long>(simt::detail::to_bits(v)); }

// Fibers switch only at collectives, and launches never overlap: plain read-modify-writes.
template <class T>
inline T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
inline unsigned atomicOr(unsigned* address, unsigned value) {
  const unsigned old = *address;
  *address = old | value;
  return old;
}
