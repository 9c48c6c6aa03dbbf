// Stage (a) on the GPU: every row's top-K candidates (SPEC §1.1) for the heads of one layer, with
// the value checks (SPEC §4), the row-sum tally and the per-matrix distance profile fused into the
// same pass, so that each stored element is read from device memory once per kernel.
//
// Input: the packed lower triangles of every unit of a launch (detail/packed_layout.hpp; units of
// several sequences and layers, each with its own seq_len, mask and offsets: gpu/launch_layout.hpp).
// Layout of the work: the warps that share a row take its 32-column chunks round-robin, each warp
// keeping its own 32-lane top-K queue (warp_queue.cuh); at the end the row's first warp merges
// their queues and writes the row.
//   head_topk_kernel      every row of every per-head matrix of the launch: item x is
//                         row_of_item(tables.row_begin, num_head_matrices, x), so each matrix's
//                         rows are handed out longest first; TopkArgs::head_warps_per_row (4, 2
//                         or 1) warps share one, so a block takes 1, 2 or 4 consecutive items.
//                         1 (a warp per row) is the default (kHeadWarpsPerRow says why);
//                         BM_GpuRowTopK measures all three.
//   aggregate_topk_kernel one block per row of every unit with mean/max (row_of_item over
//                         aggregate_row_begin): loops over every head of the unit per tile of
//                         chunks, forms mean (double sum in head order, / H, rounded to float) and
//                         max in registers, so the aggregate matrix is never written.
// In a unit with aggregates, the aggregate kernel checks every head (all are read); otherwise the
// head kernel checks the heads it reads (then exactly the traced heads are resident).
//
// Distance profile (decay_stats.hpp): computed here, on the GPU. Each lane sums the values of its
// current distance bin in a register (bins change rarely along a row) and flushes into per-block
// shared bins, which are added to the matrix's global sums with double atomics. Same elements as
// accumulate_attention_profile, another summation order: equal within ~1e-15 relative.
#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

#include <cfloat>
#include <climits>
#include <stdexcept>
#include <string>

#include "gpu/cuda_util.hpp"
#include "kernels/gpu_api.cuh"
#include "kernels/launch.cuh"
#include "kernels/warp_queue.cuh"
#include "ratrace/decay_stats.hpp"
#include "ratrace/detail/float_convert.hpp"
#include "ratrace/detail/packed_layout.hpp"
#include "ratrace/detail/scoring.hpp"

namespace ratrace::gpu {
namespace {

constexpr int kMaxWarps = 4;
constexpr int kThreads = kMaxWarps * 32;
// The aggregate kernel's loads in flight per lane: kTile chunks of kHeadsInFlight heads. A lane
// reads every head of its chunks in turn, so each round of loads is one step of the longest row's
// critical path: at 1,024 tokens and 32 heads, 2 tiles of 8 rounds each, where a tile of 8 chunks
// of one head at a time took 32 rounds.
constexpr int kTile = 4;
constexpr int kHeadsInFlight = 4;
constexpr int kChunkUnroll = 8;  // the head kernel's chunks per lane per pass: its loads in flight

// float16 on the device: its conversion instruction, exact like the shared rule (which the host,
// the emulator and the CPU reference apply) and about twenty instructions fewer per element read.
// GpuRowTopK.EveryPositiveFinite16BitPatternWidensAsOnTheHost holds the two equal on a GPU.
struct F16 {
  using storage = std::uint16_t;
  static __device__ __forceinline__ float widen(storage b) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(b));
#else
    return detail::half_bits_to_float(b);
#endif
  }
};
struct BF16 {
  using storage = std::uint16_t;
  static __device__ __forceinline__ float widen(storage b) { return detail::bfloat16_bits_to_float(b); }
};
struct F32 {
  using storage = float;
  static __device__ __forceinline__ float widen(storage v) { return v; }
};

// Per-lane running sum of the current distance bin; d = i - j only decreases along a lane's walk.
struct BinTracker {
  int bin = -1;
  int lower = INT_MAX;  // smallest distance of the current bin
  // Moves to the bin of distance d (>= 1); returns true when it changed (flush before).
  __device__ __forceinline__ bool moves(int d) const { return d < lower; }
  __device__ __forceinline__ void enter(int d) {
    bin = distance_bin(d);
    lower = 1 << bin;
  }
};

__device__ __forceinline__ void flush_bin(double* shared_bins, int bin, double& acc) {
  if (bin >= 0 && acc != 0.0) atomicAdd(&shared_bins[bin], acc);
  acc = 0.0;
}

// One warp merges the block's queues (all already in `queues`) and writes row i of matrix m.
__device__ void write_row(const TopkArgs& a, int m, int i, const std::uint64_t* queues, int warps, int lane) {
  WarpTopK top;
  top.queue = queues[lane];
  for (int w = 1; w < warps; ++w) top.merge(queues[w * 32 + lane], a.top_k, lane);
  const std::uint64_t key = top.queue;
  const bool valid = lane < a.top_k && key != 0;
  const std::int64_t row = a.tables.row_begin[m] + i;
  if (lane < a.top_k) {
    Candidate c{-1, 0.0f};
    if (valid) c = Candidate{detail::candidate_key_pos(key), detail::candidate_key_attn(key)};
    a.tables.entries[row * a.top_k + lane] = c;
  }
  const unsigned valid_lanes = __ballot_sync(kFullMask, valid);
  if (lane == 0) a.tables.count[row] = __popc(valid_lanes);
}

// Called with b = 0, 1, ... by as many threads (bins of other threads' b are theirs to add).
__device__ __forceinline__ void add_profile(const double* shared_bins, double* profile_sums, int m, int b) {
  if (b < kDistanceBins && shared_bins[b] != 0.0) atomicAdd(&profile_sums[m * kDistanceBins + b], shared_bins[b]);
}

__device__ __forceinline__ void tally_row(const TopkArgs& a, double row_sum) {
  if (fabs(row_sum - 1.0) > 0.01) atomicAdd(a.rows_off, 1ull);
}

// Rows per block: a.head_warps_per_row (W) warps share a row, so a block of kMaxWarps warps takes
// kMaxWarps / W consecutive items (rows); warp w works on row w / W, on its chunks w % W, w % W + W,
// ... Each row has its own queues, sums and profile bins in shared memory.
// At least 8 blocks per SM: the 64 registers a thread gets when 8 blocks fill the register file,
// stated, so that ptxas plans for them (left to choose, it took 64 and spilled for float32).
constexpr int kHeadBlocksPerSm = 8;
template <class E>
__global__ void __launch_bounds__(kThreads, kHeadBlocksPerSm) head_topk_kernel(TopkArgs a) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int row_warps = a.head_warps_per_row;
  const int group = warp / row_warps;  // the block's row this warp works on
  const int part = warp % row_warps;   // its share of that row
  const std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * ((blockDim.x >> 5) / row_warps) + group;
  const bool active = item < a.head_rows;  // warp-uniform: the last block may run past the end

  __shared__ std::uint64_t queues[kMaxWarps * 32];
  __shared__ double bins[kMaxWarps][kDistanceBins];  // per row of the block
  __shared__ double warp_sums[kMaxWarps];
  for (int b = threadIdx.x; b < kMaxWarps * kDistanceBins; b += blockDim.x) bins[b / kDistanceBins][b % kDistanceBins] = 0.0;
  __syncthreads();

  int m = 0, i = 0;
  bool check = false;  // warp-uniform (one row per warp)
  WarpTopK top;
  double row_sum = 0.0;
  float smallest = 0.0f;  // with the row sum, the value check (detail::finite_sum), as in the aggregate kernel
  if (active) {
    const detail::SegmentRow at = detail::row_of_item(a.tables.row_begin, a.num_head_matrices, item);
    m = at.matrix;
    i = at.row;  // long rows first within each matrix
    const MatrixDesc desc = a.matrices[m];
    check = desc.check != 0;
    const std::uint8_t* key_mask = desc.mask_offset >= 0 ? a.key_masks + desc.mask_offset : nullptr;
    const auto* row = static_cast<const typename E::storage*>(a.raw) + desc.raw_offset + detail::packed_row_offset(i);
    BinTracker tracker;
    double acc = 0.0;
    // Past the first chunks of a row, nearly no value reaches the top-K: the sums take every value,
    // but keys are built and offered only for a group of chunks where some lane reaches the floor.
    // Skipped groups are exactly those whose offers would all have been refused, so the queue is
    // the same as if every chunk were offered.
    float floor = detail::entry_floor(a.attn_threshold, 0);
    const int num_chunks = (i >> 5) + 1;  // columns 0..i (the diagonal is checked, never a candidate)
    for (int c0 = part; c0 < num_chunks; c0 += row_warps * kChunkUnroll) {
      float v[kChunkUnroll];
#pragma unroll
      for (int u = 0; u < kChunkUnroll; ++u) {
        const int j = (c0 + u * row_warps) * 32 + lane;
        v[u] = j <= i ? E::widen(row[j]) : 0.0f;
      }
      bool reaches_floor = false;
#pragma unroll
      for (int u = 0; u < kChunkUnroll; ++u) {
        const int c = c0 + u * row_warps;
        if (c >= num_chunks) break;  // warp-uniform
        const int j = c * 32 + lane;
        const double wide = static_cast<double>(v[u]);  // one conversion for both sums
        if (check && j <= i) {
          smallest = fminf(smallest, v[u]);
          row_sum += wide;
        }
        if (j < i) {
          const int d = i - j;
          if (tracker.moves(d)) {
            flush_bin(bins[group], tracker.bin, acc);
            tracker.enter(d);
          }
          acc += wide;
          if (v[u] >= floor) reaches_floor = true;
        }
      }
      if (__any_sync(kFullMask, reaches_floor)) {
#pragma unroll
        for (int u = 0; u < kChunkUnroll; ++u) {
          const int c = c0 + u * row_warps;
          if (c >= num_chunks) break;  // warp-uniform
          const int j = c * 32 + lane;
          std::uint64_t key = 0;
          // The key mask written out: as a bool function it compiled to more instructions (PTX).
          if (j < i && detail::passes_float_threshold(v[u], a.attn_threshold) && (key_mask == nullptr || key_mask[j] != 0))
            key = detail::candidate_key(v[u], j);
          top.offer(key, a.top_k, lane);
        }
        floor = detail::entry_floor(a.attn_threshold, top.threshold);
      }
    }
    flush_bin(bins[group], tracker.bin, acc);
  }
  queues[warp * 32 + lane] = top.queue;
  if (check) {
    const double s = warp_sum(row_sum);
    if (lane == 0) warp_sums[warp] = s;
  }
  const bool any_bad = __syncthreads_or(check && (smallest < 0.0f || !detail::finite_sum(row_sum)));
  if (active && part == 0) {  // the row's first warp merges its warps' queues and writes the row
    write_row(a, m, i, queues + group * row_warps * 32, row_warps, lane);
    if (check && lane == 0) {
      double s = 0.0;
      for (int w = 0; w < row_warps; ++w) s += warp_sums[group * row_warps + w];
      tally_row(a, s);
    }
    add_profile(bins[group], a.profile_sums, m, lane);
  }
  if (any_bad && threadIdx.x == 0) atomicOr(a.bad_flag, 1u);
}

// Dynamic shared memory: per-thread row sums of every head, [max_aggregate_heads][blockDim.x] doubles.
// Loop order: a tile of kTile chunks per lane, then every head for that tile, kHeadsInFlight heads
// at a time (kTile x kHeadsInFlight independent loads in flight per lane), so the mean's double
// sums and the max stay in registers and each head's row-sum partial touches shared memory once
// per tile.
template <class E>
__global__ void __launch_bounds__(kThreads) aggregate_topk_kernel(TopkArgs a) {
  const detail::SegmentRow at = detail::row_of_item(a.aggregate_row_begin, a.num_aggregates, blockIdx.x);
  const AggregateDesc g = a.aggregates[at.matrix];
  const int H = g.num_heads;
  const int i = at.row;  // long rows first within each unit
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  const std::int64_t head_stride = detail::packed_matrix_elems(g.seq_len);
  const auto* row0 = static_cast<const typename E::storage*>(a.raw) + g.raw_offset + detail::packed_row_offset(i);
  const std::uint8_t* key_mask = g.mask_offset >= 0 ? a.key_masks + g.mask_offset : nullptr;
  const bool want_mean = g.mean_matrix >= 0;
  const bool want_max = g.max_matrix >= 0;

  double* head_sums = dynamic_shared_memory<double>();  // [H][blockDim.x] used of [max_aggregate_heads][blockDim.x]
  __shared__ std::uint64_t queues[2][kMaxWarps * 32];
  __shared__ double bins[2][kDistanceBins];
  for (int k = threadIdx.x; k < H * static_cast<int>(blockDim.x); k += blockDim.x) head_sums[k] = 0.0;
  for (int k = threadIdx.x; k < 2 * kDistanceBins; k += blockDim.x) bins[k / kDistanceBins][k % kDistanceBins] = 0.0;
  __syncthreads();

  WarpTopK top_mean, top_max;
  BinTracker tracker;
  double acc_mean = 0.0, acc_max = 0.0;
  float smallest = 0.0f;  // of the values this lane reads: with the heads' row sums, the value check
  const int num_chunks = (i >> 5) + 1;
  for (int c0 = warp; c0 < num_chunks; c0 += warps * kTile) {
    double sum[kTile];
    float mx[kTile];
#pragma unroll
    for (int t = 0; t < kTile; ++t) {
      sum[t] = 0.0;
      mx[t] = -FLT_MAX;
    }
    for (int h0 = 0; h0 < H; h0 += kHeadsInFlight) {
      // Every load of kHeadsInFlight heads is issued before any is used.
      float v[kHeadsInFlight][kTile];
#pragma unroll
      for (int k = 0; k < kHeadsInFlight; ++k) {
        const auto* row = row0 + (h0 + k) * head_stride;
#pragma unroll
        for (int t = 0; t < kTile; ++t) {
          const int j = (c0 + t * warps) * 32 + lane;
          v[k][t] = h0 + k < H && j <= i ? E::widen(row[j]) : 0.0f;
        }
      }
#pragma unroll
      for (int k = 0; k < kHeadsInFlight; ++k) {
        if (h0 + k >= H) break;  // block-uniform
        double head_part = 0.0;
#pragma unroll
        for (int t = 0; t < kTile; ++t) {  // v is 0 past the diagonal: no sum changes, and no key reads mx there
          const double wide = static_cast<double>(v[k][t]);  // once for both sums
          smallest = fminf(smallest, v[k][t]);
          head_part += wide;
          sum[t] += wide;  // head order, as SPEC §3
          mx[t] = v[k][t] > mx[t] ? v[k][t] : mx[t];
        }
        head_sums[(h0 + k) * blockDim.x + threadIdx.x] += head_part;
      }
    }
#pragma unroll
    for (int t = 0; t < kTile; ++t) {
      const int c = c0 + t * warps;
      if (c >= num_chunks) break;  // warp-uniform
      const int j = c * 32 + lane;
      const float mean = static_cast<float>(sum[t] / static_cast<double>(H));
      std::uint64_t key_mean = 0, key_max = 0;
      if (j < i) {
        const int d = i - j;
        if (tracker.moves(d)) {
          flush_bin(bins[0], tracker.bin, acc_mean);
          flush_bin(bins[1], tracker.bin, acc_max);
          tracker.enter(d);
        }
        acc_mean += static_cast<double>(mean);
        acc_max += static_cast<double>(mx[t]);
        if (key_mask == nullptr || key_mask[j] != 0) {  // written out, as in the head kernel
          if (detail::passes_float_threshold(mean, a.attn_threshold)) key_mean = detail::candidate_key(mean, j);
          if (detail::passes_float_threshold(mx[t], a.attn_threshold)) key_max = detail::candidate_key(mx[t], j);
        }
      }
      if (want_mean) top_mean.offer(key_mean, a.top_k, lane);
      if (want_max) top_max.offer(key_max, a.top_k, lane);
    }
  }
  flush_bin(bins[0], tracker.bin, acc_mean);
  flush_bin(bins[1], tracker.bin, acc_max);
  queues[0][warp * 32 + lane] = top_mean.queue;
  queues[1][warp * 32 + lane] = top_max.queue;
  const bool any_negative = __syncthreads_or(smallest < 0.0f);

  if (warp == 0 && want_mean) write_row(a, g.mean_matrix, i, queues[0], warps, lane);
  if (warp == (warps > 1 ? 1 : 0) && want_max) write_row(a, g.max_matrix, i, queues[1], warps, lane);
  // Row sums of every head: warp w reduces heads w, w + warps, ... With `smallest`, they are the value
  // check (detail::finite_sum): a NaN or an infinity leaves its head's sum non-finite.
  bool nonfinite = false;
  for (int h = warp; h < H; h += warps) {
    double s = 0.0;
    for (int t = lane; t < static_cast<int>(blockDim.x); t += 32) s += head_sums[h * blockDim.x + t];
    s = warp_sum(s);
    if (lane == 0) tally_row(a, s);
    nonfinite |= !detail::finite_sum(s);
  }
  if (lane == 0 && (nonfinite || (any_negative && warp == 0))) atomicOr(a.bad_flag, 1u);
  if (want_mean) add_profile(bins[0], a.profile_sums, g.mean_matrix, threadIdx.x);
  if (want_max) add_profile(bins[1], a.profile_sums, g.max_matrix, threadIdx.x);
}

// One warp per table row: edge log-probabilities and the path-ending bits of each entry.
__global__ void __launch_bounds__(kThreads) finish_tables_kernel(DeviceTables t, const MatrixDesc* matrices,
                                                                std::int64_t rows, const std::uint8_t* is_bos,
                                                                bool stop_at_bos) {
  const std::int64_t row = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;  // whole warps leave together
  const int n = t.count[row];
  const std::uint8_t* bos = nullptr;  // the BOS flags of this row's matrix
  if (stop_at_bos && is_bos != nullptr) {
    const int bos_offset = matrices[detail::segment_of(t.row_begin, t.num_matrices, row)].bos_offset;
    if (bos_offset >= 0) bos = is_bos + bos_offset;
  }
  bool ends = false;
  if (lane < n) {
    const std::int64_t e = row * t.top_k + lane;
    const Candidate c = t.entries[e];
    t.logp[e] = detail::edge_logprob(c.attn);
    ends = detail::ends_path(c.pos, bos);
  }
  const unsigned mask = __ballot_sync(kFullMask, ends);
  if (lane == 0) t.end_mask[row] = mask;
}

// One block per item: the grid's x dimension holds up to 2^31 - 1 blocks.
unsigned grid_of(std::int64_t blocks, const char* what) {
  if (blocks > 0x7fffffffLL) throw std::runtime_error(std::string("too many rows in one launch of ") + what);
  return static_cast<unsigned>(blocks);
}

// The most dynamic shared memory a block of the aggregate kernel may have on the current device:
// its opt-in limit per block (227 KiB on sm_90, 163 on sm_80, 99 on sm_86 and sm_89) less the
// kernel's static shared memory.
template <class E>
std::size_t aggregate_dynamic_shared_limit() {
  int device = 0, optin = 0;
  cuda_check(cudaGetDevice(&device), "cudaGetDevice");
  cuda_check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
             "cudaDeviceGetAttribute (shared memory per block)");
  cudaFuncAttributes attributes{};
  cuda_check(cudaFuncGetAttributes(&attributes, aggregate_topk_kernel<E>), "cudaFuncGetAttributes (aggregate_topk_kernel)");
  const auto total = static_cast<std::size_t>(optin);
  return total > attributes.sharedSizeBytes ? total - attributes.sharedSizeBytes : 0;
}

template <class E>
void launch_for(const TopkArgs& a, cudaStream_t stream) {
  if (a.head_rows > 0) {
    const int W = a.head_warps_per_row;
    if (W != 1 && W != 2 && W != 4) throw std::runtime_error("head_warps_per_row must be 1, 2 or 4, not " + std::to_string(W));
    const std::int64_t rows_per_block = kMaxWarps / W;
    launch_kernel(head_topk_kernel<E>, grid_of((a.head_rows + rows_per_block - 1) / rows_per_block, "head_topk_kernel"),
                  kThreads, 0, stream, a);
    cuda_check(cudaGetLastError(), "head_topk_kernel launch");
  }
  if (a.aggregate_rows > 0) {
    // Fewer warps per block when the per-thread head sums would not fit in shared memory.
    const std::size_t limit = aggregate_dynamic_shared_limit<E>();
    const auto H = static_cast<std::size_t>(a.max_aggregate_heads);
    int threads = kThreads;
    while (threads > 32 && H * threads * sizeof(double) > limit) threads /= 2;
    const std::size_t shared = H * threads * sizeof(double);
    if (shared > limit)
      throw std::runtime_error("too many heads for the aggregate kernel on this GPU: " + std::to_string(H) +
                               " heads need " + std::to_string(shared) + " bytes of shared memory per block of 32 " +
                               "threads, above the " + std::to_string(limit) + " it allows");
    // Always: the default maximum is 48 KiB minus the kernel's static shared memory (2.5 KiB here),
    // so a request of 46 to 48 KiB (46 to 48 heads at 128 threads) would fail without it too.
    cuda_check(cudaFuncSetAttribute(aggregate_topk_kernel<E>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
               "cudaFuncSetAttribute (aggregate_topk_kernel)");
    launch_kernel(aggregate_topk_kernel<E>, grid_of(a.aggregate_rows, "aggregate_topk_kernel"), threads, shared, stream, a);
    cuda_check(cudaGetLastError(), "aggregate_topk_kernel launch");
  }
}

}  // namespace

cudaError_t kernel_image_status() {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, head_topk_kernel<F16>);
}

void launch_row_topk(const TopkArgs& args, cudaStream_t stream) {
  if (args.head_rows <= 0 && args.aggregate_rows <= 0) return;
  switch (args.elem) {
    case ElemType::f16: launch_for<F16>(args, stream); break;
    case ElemType::bf16: launch_for<BF16>(args, stream); break;
    case ElemType::f32: launch_for<F32>(args, stream); break;
  }
}

void launch_finish_tables(const DeviceTables& tables, const MatrixDesc* matrices, std::int64_t num_rows,
                          const std::uint8_t* is_bos, bool stop_at_bos, cudaStream_t stream) {
  if (num_rows <= 0) return;
  const std::int64_t blocks = (num_rows * 32 + kThreads - 1) / kThreads;
  launch_kernel(finish_tables_kernel, grid_of(blocks, "finish_tables_kernel"), kThreads, 0, stream, tables, matrices,
                num_rows, is_bos, stop_at_bos);
  cuda_check(cudaGetLastError(), "finish_tables_kernel launch");
}

}  // namespace ratrace::gpu
