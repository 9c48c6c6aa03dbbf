// Stage (b) on the GPU: the beam search of SPEC §1.3 for a batch of jobs, then compaction of the
// result paths into the SPEC §5 arrays (CUB scans + a gather kernel). Two search kernels write the
// same history and stubs (BeamArgs::kernel; by default the first when B allows):
//   serial_search_kernel  one thread per job, B <= kThreadPerJobMaxBeams: 32 jobs per warp, each
//                         job's beams in registers (detail/serial_beam_search.hpp, also run by CI
//                         on the host);
//   beam_search_kernel    one warp per job, any B <= 32: beams on lanes, described below.
// BM_GpuBeamSearch measures both side by side.
//
// The warp kernel, per job (warp), per step:
//   lane b holds active beam b (b < B <= 32): its last position and raw score; every active beam
//   has the same number of edges, so each beam's expansions come out of its candidate row already
//   in normalised-score order (weights descending, rank ascending on equal scores).
//   1. beams that cannot extend (position 0, or no candidates) go to the terminal list, in active
//      order; then the expansions that end a path (j == 0 or a BOS position with stop_at_bos), in
//      (beam, rank) order: exactly the append order of SPEC §1.3.
//   2. the next active beams = first B of the stable sort of the other expansions: B rounds of a
//      warp-wide argmax over the lanes' queue heads, key (score desc, lane asc); the lane order is
//      the insertion order across beams, the queue order within one.
//   The terminal list is the running top-B of the stable sort (lane t holds entry t): a new entry
//   goes after every entry with a score >= its own, and is dropped past B, which yields exactly the
//   first B of the final stable sort.
// Paths are stored as a history: one record (position, parent slot, edge weight) per kept active
// beam per step, (target + 1) * B records per job at offsets the host computed. A terminal entry
// names the active beam it continues (step, slot) and possibly one final edge.
//
// Job order: the host sorts a batch's jobs by target descending (longest searches first), so warps
// of very different depth do not hold each other up at the end of the grid.
#include <cub/device/device_scan.cuh>

#include "gpu/cuda_util.hpp"
#include "kernels/gpu_api.cuh"
#include "kernels/launch.cuh"
#include "kernels/warp_queue.cuh"
#include "ratrace/detail/float_convert.hpp"
#include "ratrace/detail/scoring.hpp"
#include "ratrace/detail/serial_beam_search.hpp"

namespace ratrace::gpu {
namespace {

constexpr int kThreads = 128;  // the warp kernel: 4 jobs per block
// The thread-per-job kernel holds about 200 registers per thread: blocks of 2 warps let 5 of them
// (10 warps) share a multiprocessor, where 128-thread blocks would fit only 2 (8 warps).
constexpr int kSerialThreads = 64;

__device__ __forceinline__ float quiet_nan() { return __int_as_float(0x7fc00000); }

// An unsigned key with the order of the doubles (for non-NaN values); -0.0 counts as +0.0, as
// the comparisons of a stable sort do.
__device__ __forceinline__ std::uint64_t score_order_key(double x) {
  const auto bits = static_cast<std::uint64_t>(__double_as_longlong(x + 0.0));
  return (bits >> 63) ? ~bits : (bits | 0x8000000000000000ull);
}

// The candidate rows of a launch matrix, as both search kernels read them.
__device__ __forceinline__ detail::search_rows_ref rows_of(const DeviceTables& t, int matrix) {
  const std::int64_t first_row = t.row_begin[matrix];  // row 0 of the matrix
  const std::int64_t first_entry = first_row * t.top_k;
  return {t.entries + first_entry, t.logp + first_entry, t.count + first_row, t.end_mask + first_row, t.top_k};
}

// Nodes of a result path: its active beam's step + 1, plus the final edge if it has one.
__device__ __forceinline__ int nodes_of(const PathStub& st) { return st.step + 1 + (st.extra_pos >= 0 ? 1 : 0); }

// A search kernel's output for one (job, rank): the stub and its node count, which the scan turns
// into the gather's offsets.
__device__ __forceinline__ void write_stub(const BatchScratch& s, std::int64_t stub, const PathStub& st) {
  s.stubs[stub] = st;
  s.node_count[stub] = nodes_of(st);
}

// The zeros the exclusive scans of a batch end with (one thread of the grid writes them).
__device__ __forceinline__ void write_closing_zeros(const BeamArgs& a, const BatchScratch& s) {
  s.path_count[a.num_jobs] = 0;
  s.node_count[static_cast<std::int64_t>(a.num_jobs) * a.top_beam] = 0;
}

// The running top-B terminal list, one entry per lane.
struct TerminalList {
  double norm = 0.0;
  double raw = 0.0;
  int step = 0;
  int slot = 0;
  int extra_pos = -1;
  float extra_attn = 0.0f;
  int size = 0;  // warp-uniform

  // Appends one entry (warp-uniform arguments) and keeps the first B in stable order.
  __device__ __forceinline__ void append(double e_norm, double e_raw, int e_step, int e_slot, int e_extra_pos,
                                         float e_extra_attn, int lane, int top_beam) {
    if (size == top_beam) {
      const double last = __shfl_sync(kFullMask, norm, top_beam - 1);
      if (!(e_norm > last)) return;  // would land at position >= B
    }
    const unsigned before = __ballot_sync(kFullMask, lane < size && norm >= e_norm);
    const int at = __popc(before);  // entries are sorted, so `before` is a prefix
    const double up_norm = __shfl_up_sync(kFullMask, norm, 1);
    const double up_raw = __shfl_up_sync(kFullMask, raw, 1);
    const int up_step = __shfl_up_sync(kFullMask, step, 1);
    const int up_slot = __shfl_up_sync(kFullMask, slot, 1);
    const int up_extra_pos = __shfl_up_sync(kFullMask, extra_pos, 1);
    const float up_extra_attn = __shfl_up_sync(kFullMask, extra_attn, 1);
    if (lane == at) {
      norm = e_norm;
      raw = e_raw;
      step = e_step;
      slot = e_slot;
      extra_pos = e_extra_pos;
      extra_attn = e_extra_attn;
    } else if (lane > at) {
      norm = up_norm;
      raw = up_raw;
      step = up_step;
      slot = up_slot;
      extra_pos = up_extra_pos;
      extra_attn = up_extra_attn;
    }
    if (size < top_beam) ++size;
  }
};

__global__ void __launch_bounds__(kThreads) beam_search_kernel(BeamArgs a, BatchScratch s) {
  const int job_index = static_cast<int>((static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5);
  const int lane = threadIdx.x & 31;
  if (job_index == 0 && lane == 0) write_closing_zeros(a, s);
  if (job_index >= a.num_jobs) return;  // whole warps leave together

  const BeamJob job = a.jobs[job_index];
  const int B = a.top_beam;
  const detail::search_rows_ref rows = rows_of(a.tables, job.matrix);
  const int K = rows.top_k;
  HistoryRecord* history = s.arena + job.arena_offset;

  if (lane == 0) history[0] = HistoryRecord{job.target, -1, quiet_nan()};
  int pos = lane == 0 ? job.target : -1;  // active beam `lane`
  double raw = 0.0;
  int num_active = 1;
  TerminalList terminal;
  int step = 0;
  for (; num_active > 0; ++step) {
    // Scores of this step's beams and of their expansions: raw / denominator (detail::normalise_score).
    const double denom_here = detail::score_denominator(step, a.norm_kind, a.norm_alpha);
    const double denom_next = detail::score_denominator(step + 1, a.norm_kind, a.norm_alpha);
    const bool mine = lane < num_active;
    const int cnt = mine ? rows.count[pos] : 0;
    const bool stuck = mine && (pos == 0 || cnt == 0);

    // 1a. Beams that cannot extend, in active order.
    for (unsigned lanes = __ballot_sync(kFullMask, stuck); lanes != 0; lanes &= lanes - 1) {
      const int b = __ffs(lanes) - 1;
      const double b_raw = __shfl_sync(kFullMask, raw, b);
      terminal.append(b_raw / denom_here, b_raw, step, b, -1, 0.0f, lane, B);
    }

    // 1b. Expansions that end a path, in (beam, rank) order.
    const std::uint32_t in_row = detail::row_bits(cnt);
    const std::uint32_t ends = (mine && !stuck) ? (rows.end_mask[pos] & in_row) : 0u;
    std::uint32_t open = (mine && !stuck) ? (~rows.end_mask[pos] & in_row) : 0u;
    for (unsigned lanes = __ballot_sync(kFullMask, ends != 0); lanes != 0; lanes &= lanes - 1) {
      const int b = __ffs(lanes) - 1;
      const int c = __shfl_sync(kFullMask, pos, b);
      const double b_raw = __shfl_sync(kFullMask, raw, b);
      for (std::uint32_t bits = __shfl_sync(kFullMask, ends, b); bits != 0; bits &= bits - 1) {
        const std::int64_t e = static_cast<std::int64_t>(c) * K + (__ffs(bits) - 1);
        const Candidate cand = rows.entries[e];
        const double e_raw = b_raw + rows.logp[e];
        terminal.append(e_raw / denom_next, e_raw, step, b, cand.pos, cand.attn, lane, B);
      }
    }

    // 2. The next active beams: B rounds of argmax over the lanes' queue heads.
    int head = open != 0 ? __ffs(open) - 1 : -1;
    double head_raw = 0.0, head_norm = 0.0;
    if (head >= 0) {
      head_raw = raw + rows.logp[static_cast<std::int64_t>(pos) * K + head];
      head_norm = head_raw / denom_next;
    }
    int next_pos = -1;
    double next_raw = 0.0;
    int num_next = 0;
    for (; num_next < B; ++num_next) {
      const bool valid = head >= 0;
      const std::uint64_t key = valid ? score_order_key(head_norm) : 0;
      const unsigned hi = static_cast<unsigned>(key >> 32);
      const unsigned lo = static_cast<unsigned>(key);
      const unsigned hi_max = __reduce_max_sync(kFullMask, hi);
      const unsigned lo_max = __reduce_max_sync(kFullMask, hi == hi_max ? lo : 0u);
      const unsigned winners = __ballot_sync(kFullMask, valid && hi == hi_max && lo == lo_max);
      if (winners == 0) break;  // no expansion left
      const int w = __ffs(winners) - 1;  // lowest lane: earliest in insertion order
      const int w_pos = __shfl_sync(kFullMask, pos, w);
      const int w_head = __shfl_sync(kFullMask, head, w);
      const double w_raw = __shfl_sync(kFullMask, head_raw, w);
      const Candidate cand = rows.entries[static_cast<std::int64_t>(w_pos) * K + w_head];
      if (lane == num_next) {
        next_pos = cand.pos;
        next_raw = w_raw;
      }
      if (lane == 0) history[static_cast<std::int64_t>(step + 1) * B + num_next] = HistoryRecord{cand.pos, w, cand.attn};
      if (lane == w) {
        open &= open - 1;
        head = open != 0 ? __ffs(open) - 1 : -1;
        if (head >= 0) {
          head_raw = raw + rows.logp[static_cast<std::int64_t>(pos) * K + head];
          head_norm = head_raw / denom_next;
        }
      }
    }
    pos = next_pos;
    raw = next_raw;
    num_active = num_next;
  }

  const std::int64_t stub = static_cast<std::int64_t>(job_index) * B + lane;
  if (lane < terminal.size) {
    write_stub(s, stub, PathStub{terminal.raw, terminal.norm, terminal.step, terminal.slot, terminal.extra_pos,
                                 terminal.extra_attn});
  } else if (lane < B) {
    s.node_count[stub] = 0;
  }
  if (lane == 0) s.path_count[job_index] = terminal.size;
}

// One thread per job (top_beam <= kThreadPerJobMaxBeams): detail::serial_beam_search, which
// writes the history as the warp kernel does; the terminal list goes out as the same stubs.
__global__ void __launch_bounds__(kSerialThreads) serial_search_kernel(BeamArgs a, BatchScratch s) {
  const std::int64_t job_index = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int B = a.top_beam;
  if (job_index == 0) write_closing_zeros(a, s);
  if (job_index >= a.num_jobs) return;

  const BeamJob job = a.jobs[job_index];
  HistoryRecord* history = s.arena + job.arena_offset;
  const auto record = [history](std::int64_t k, int pos, int parent, float attn) {
    history[k] = HistoryRecord{pos, parent, attn};
  };
  detail::SerialTerminals<kThreadPerJobMaxBeams> terminal;
  detail::serial_beam_search(rows_of(a.tables, job.matrix), job.target, B, a.norm_kind, a.norm_alpha, record, terminal);

#pragma unroll
  for (int r = 0; r < kThreadPerJobMaxBeams; ++r) {
    if (r >= B) break;
    const std::int64_t stub = job_index * B + r;
    if (r < terminal.size) {
      write_stub(s, stub, PathStub{terminal.raw[r], terminal.norm[r], terminal.step(r), terminal.slot(r),
                                   terminal.extra_pos[r], terminal.extra_attn[r]});
    } else {
      s.node_count[stub] = 0;
    }
  }
  s.path_count[job_index] = terminal.size;
}

// One thread per (job, result rank): walks the history back from the path's last active beam.
__global__ void __launch_bounds__(kThreads) gather_paths_kernel(BeamArgs a, BatchScratch s, BatchOutputs out,
                                                                const std::int64_t* node_offset) {
  const std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int B = a.top_beam;
  if (g >= static_cast<std::int64_t>(a.num_jobs) * B) return;
  const int job_index = static_cast<int>(g / B);
  const int rank = static_cast<int>(g % B);
  if (rank >= s.path_count[job_index]) return;

  const std::int64_t p = out.path_begin[job_index] + rank;
  const std::int64_t node0 = node_offset[g];
  const PathStub st = s.stubs[g];
  const int length = nodes_of(st);
  out.score_raw[p] = st.score_raw;
  out.score_norm[p] = st.score_norm;
  out.node_begin[p] = node0;
  if (p == out.path_begin[a.num_jobs] - 1) out.node_begin[p + 1] = node0 + length;

  if (st.extra_pos >= 0) {
    out.node_position[node0 + length - 1] = st.extra_pos;
    out.node_edge_attn[node0 + length - 1] = st.extra_attn;
  }
  const HistoryRecord* history = s.arena + a.jobs[job_index].arena_offset;
  int slot = st.slot;
  for (int k = st.step; k >= 0; --k) {
    const HistoryRecord r = history[static_cast<std::int64_t>(k) * B + slot];
    out.node_position[node0 + k] = r.pos;
    out.node_edge_attn[node0 + k] = k == 0 ? quiet_nan() : r.attn;
    slot = r.parent;
  }
}

std::size_t scan_bytes(std::int64_t items) {
  std::size_t bytes = 0;
  cuda_check(cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<const std::int64_t*>(nullptr),
                                           static_cast<std::int64_t*>(nullptr), items),
             "cub::DeviceScan::ExclusiveSum (size query)");
  return bytes;
}

}  // namespace

std::size_t scan_temp_bytes(std::int64_t num_jobs, std::int32_t top_beam) {
  const std::size_t a = scan_bytes(num_jobs + 1);
  const std::size_t b = scan_bytes(num_jobs * top_beam + 1);
  return a > b ? a : b;
}

void launch_beam_batch(const BeamArgs& args, const BatchScratch& scratch, const BatchOutputs& out,
                       cudaStream_t stream) {
  if (args.num_jobs <= 0) return;
  if (uses_thread_per_job(args.kernel, args.top_beam)) {
    launch_kernel(serial_search_kernel, static_cast<unsigned>((args.num_jobs + kSerialThreads - 1) / kSerialThreads),
                  kSerialThreads, 0, stream, args, scratch);
    cuda_check(cudaGetLastError(), "serial_search_kernel launch");
  } else {
    const std::int64_t threads_needed = static_cast<std::int64_t>(args.num_jobs) * 32;
    launch_kernel(beam_search_kernel, static_cast<unsigned>((threads_needed + kThreads - 1) / kThreads), kThreads, 0,
                  stream, args, scratch);
    cuda_check(cudaGetLastError(), "beam_search_kernel launch");
  }

  // path_begin = exclusive sum of path counts; per-(job, rank) node offsets = exclusive sum of
  // node counts (0 past a job's paths), so the gather writes every path contiguously in order.
  const std::int64_t slots = static_cast<std::int64_t>(args.num_jobs) * args.top_beam;
  std::size_t bytes = scratch.scan_temp_bytes;
  cuda_check(cub::DeviceScan::ExclusiveSum(scratch.scan_temp, bytes, scratch.path_count, out.path_begin,
                                           static_cast<std::int64_t>(args.num_jobs) + 1, stream),
             "cub::DeviceScan::ExclusiveSum (paths)");
  // The node offsets live right after the counts (BatchScratch::node_count holds both).
  std::int64_t* node_offset = scratch.node_count + slots + 1;
  bytes = scratch.scan_temp_bytes;
  cuda_check(cub::DeviceScan::ExclusiveSum(scratch.scan_temp, bytes, scratch.node_count, node_offset, slots + 1, stream),
             "cub::DeviceScan::ExclusiveSum (nodes)");

  launch_kernel(gather_paths_kernel, static_cast<unsigned>((slots + kThreads - 1) / kThreads), kThreads, 0, stream, args,
                scratch, out, static_cast<const std::int64_t*>(node_offset));
  cuda_check(cudaGetLastError(), "gather_paths_kernel launch");
}

}  // namespace ratrace::gpu
