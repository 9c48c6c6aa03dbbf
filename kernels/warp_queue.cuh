#pragma once
// Warp-level building blocks of the row top-K kernels (device code; include from .cu files only).
//
// A "warp queue" is 32 candidate keys (detail::candidate_key, 0 = empty), one per lane, sorted
// descending across lanes: lane 0 holds the best. Keys of distinct columns are distinct, so the
// order is total and every merge is deterministic.
#include <cstdint>

namespace ratrace::gpu {

constexpr unsigned kFullMask = 0xffffffffu;

// Bitonic sort of 32 keys (one per lane), descending across lanes.
__device__ __forceinline__ std::uint64_t warp_sort_desc(std::uint64_t key, int lane) {
#pragma unroll
  for (int k = 2; k <= 32; k <<= 1) {
#pragma unroll
    for (int j = k >> 1; j > 0; j >>= 1) {
      const std::uint64_t other = __shfl_xor_sync(kFullMask, key, j);
      const bool descending_block = (lane & k) == 0;  // at k = 32 every block is descending
      const bool lower = (lane & j) == 0;
      const bool keep_max = lower == descending_block;
      key = keep_max ? (key > other ? key : other) : (key < other ? key : other);
    }
  }
  return key;
}

// Sorts a bitonic sequence of 32 keys descending.
__device__ __forceinline__ std::uint64_t warp_bitonic_merge_desc(std::uint64_t key, int lane) {
#pragma unroll
  for (int j = 16; j > 0; j >>= 1) {
    const std::uint64_t other = __shfl_xor_sync(kFullMask, key, j);
    const bool lower = (lane & j) == 0;
    key = lower ? (key > other ? key : other) : (key < other ? key : other);
  }
  return key;
}

// The best 32 of two descending queues, descending. max(a[l], b[31 - l]) is bitonic and holds
// exactly the 32 largest keys of the union (Batcher), so one bitonic merge sorts it.
__device__ __forceinline__ std::uint64_t warp_merge_queues(std::uint64_t a, std::uint64_t b, int lane) {
  const std::uint64_t b_reversed = __shfl_sync(kFullMask, b, 31 - lane);
  return warp_bitonic_merge_desc(a > b_reversed ? a : b_reversed, lane);
}

// The running top-K of one matrix row, kept by one warp. `threshold` is the K-th best key so far
// (0 while fewer than K): a batch of 32 new keys is merged only when some lane beats it, which
// after the first few chunks of a row is rare, so the common cost is one compare and one vote.
struct WarpTopK {
  std::uint64_t queue = 0;
  std::uint64_t threshold = 0;

  __device__ __forceinline__ void offer(std::uint64_t key, int top_k, int lane) {
    if (__any_sync(kFullMask, key > threshold)) {
      queue = warp_merge_queues(queue, warp_sort_desc(key, lane), lane);
      threshold = __shfl_sync(kFullMask, queue, top_k - 1);
    }
  }
  __device__ __forceinline__ void merge(std::uint64_t other_queue, int top_k, int lane) {
    queue = warp_merge_queues(queue, other_queue, lane);
    threshold = __shfl_sync(kFullMask, queue, top_k - 1);
  }
};

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

}  // namespace ratrace::gpu
