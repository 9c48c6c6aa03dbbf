#pragma once
// Host-callable entry points of the CUDA kernels, and the plain structs they take.
// Included by host code compiled with the host compiler (host/gpu/, tests/gpu/, bench/gpu_*):
// no device code here, only declarations; the per-matrix descriptors and the layout of a launch
// are in host/gpu/launch_layout.hpp. The kernels live in kernels/row_topk.cu and
// kernels/beam_search.cu; everything runs asynchronously on the given stream.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "gpu/launch_layout.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/detail/serial_beam_search.hpp"
#include "ratrace/params.hpp"

namespace ratrace::gpu {

// Candidate tables of the M matrices of one launch (launch_layout.hpp numbers them), one table
// row after the other: row i of matrix m is table row row_begin[m] + i, and its entries start at
// (row_begin[m] + i) * top_k. Besides the entries (SPEC §1.1 order) and counts, the beam search
// reads two derived arrays that finish_tables() fills once per row, so that no search step
// recomputes them: the edge log-probability of every entry and a bit mask of the entries whose
// key position ends a path (j == 0, or a BOS position with stop_at_bos).
struct DeviceTables {
  Candidate* entries = nullptr;             // [rows][K]
  double* logp = nullptr;                   // [rows][K] detail::edge_logprob(entry.attn)
  std::int32_t* count = nullptr;            // [rows]
  std::uint32_t* end_mask = nullptr;        // [rows] bit r: entry r ends a path
  const std::int64_t* row_begin = nullptr;  // device [num_matrices + 1]
  std::int32_t num_matrices = 0;
  std::int32_t top_k = 0;
};

// Row top-K over every unit of a launch resident on the device (see launch_layout.hpp).
struct TopkArgs {
  const void* raw = nullptr;  // packed lower triangles of every unit's heads, elements of `elem`
  ElemType elem = ElemType::f32;
  const MatrixDesc* matrices = nullptr;  // device [M]
  // Matrices 0 .. num_head_matrices - 1 are per-head; their rows, table rows 0 .. head_rows - 1,
  // are the head kernel's blocks (row_of_item over tables.row_begin).
  std::int32_t num_head_matrices = 0;
  std::int64_t head_rows = 0;
  // Aggregates: one block per row of each (row_of_item over aggregate_row_begin).
  const AggregateDesc* aggregates = nullptr;         // device [A]
  const std::int64_t* aggregate_row_begin = nullptr; // device [A + 1]
  std::int32_t num_aggregates = 0;
  std::int64_t aggregate_rows = 0;
  std::int32_t max_aggregate_heads = 0;
  const std::uint8_t* key_masks = nullptr;  // device, concatenated (MatrixDesc::mask_offset)
  std::int32_t top_k = 5;
  float attn_threshold = 0.0f;  // detail::float_threshold(min_attn)
  // Warps of the head kernel's 4-warp blocks that share one row: 4 (a block per row), 2 or 1 (a
  // warp per row, 4 rows per block). Same results; BM_GpuRowTopK measures which is fastest.
  std::int32_t head_warps_per_row = kHeadWarpsPerRow;
  DeviceTables tables;               // entries and count are written
  double* profile_sums = nullptr;    // [M][kDistanceBins], accumulated (zero it first)
  // Value checks (SPEC §4) of every head that a unit reads: the flag becomes non-zero when any NaN,
  // Inf or negative value is seen at j <= i; rows_off counts rows whose sum over j <= i is off by
  // more than 0.01. Units with mean/max are checked by the aggregate kernel, others per matrix.
  std::uint32_t* bad_flag = nullptr;
  unsigned long long* rows_off = nullptr;
};
// Fills tables.entries / tables.count (and the profiles and checks) of every matrix of the launch.
void launch_row_topk(const TopkArgs& args, cudaStream_t stream);

// Whether this build has code that the current device can run: cudaSuccess, or the error that
// says it has none (cudaErrorNoKernelImageForDevice, usually). Asks one kernel; they are all built
// for the same architectures.
cudaError_t kernel_image_status();

// Fills tables.logp and tables.end_mask from entries/count for every row of the tables.
// is_bos: device, concatenated (MatrixDesc::bos_offset), or null (no BOS positions anywhere).
void launch_finish_tables(const DeviceTables& tables, const MatrixDesc* matrices, std::int64_t num_rows,
                          const std::uint8_t* is_bos, bool stop_at_bos, cudaStream_t stream);

// --- beam search ---------------------------------------------------------------------------------
struct BeamJob {
  std::int32_t matrix = 0;        // launch matrix: its table rows start at tables.row_begin[matrix]
  std::int32_t target = 0;        // resolved target position
  std::int64_t arena_offset = 0;  // first history record of this job: (target + 1) * top_beam records
};

// One kept active beam of one step: its position, the slot of its parent in the previous step and
// the weight of the edge into it.
struct HistoryRecord {
  std::int32_t pos;
  std::int32_t parent;
  float attn;
};

// A result path before compaction: the active beam (step, slot) it continues, plus the final
// edge when it ended by expanding into position 0 / a BOS position (extra_pos >= 0).
struct PathStub {
  double score_raw;
  double score_norm;
  std::int32_t step;
  std::int32_t slot;
  std::int32_t extra_pos;
  float extra_attn;
};

// The compact SPEC §5 arrays of one batch, on the device. Capacities: path_begin num_jobs + 1,
// score_* num_jobs * top_beam, node_begin num_jobs * top_beam + 1, nodes the arena's size.
struct BatchOutputs {
  std::int64_t* path_begin = nullptr;
  double* score_raw = nullptr;
  double* score_norm = nullptr;
  std::int64_t* node_begin = nullptr;
  std::int32_t* node_position = nullptr;
  float* node_edge_attn = nullptr;
};

// Scratch space of one batch, on the device (sizes from batch_scratch_bytes()).
struct BatchScratch {
  HistoryRecord* arena = nullptr;     // sum over jobs of (target + 1) * top_beam records
  PathStub* stubs = nullptr;          // [num_jobs * top_beam]
  std::int64_t* path_count = nullptr; // [num_jobs + 1]
  std::int64_t* node_count = nullptr; // [2 * (num_jobs * top_beam + 1)]: counts, then their scan
  void* scan_temp = nullptr;
  std::size_t scan_temp_bytes = 0;
};

// Which search kernel runs a batch (kernels/beam_search.cu): one thread per job where B allows
// (automatic), or either one by name; results are the same.
inline constexpr int kThreadPerJobMaxBeams = detail::kSerialSearchMaxBeams;
enum class BeamKernel : int { automatic = 0, thread_per_job = 1, warp_per_job = 2 };
// Whether `kernel` runs as one thread per job for this B; throws std::invalid_argument when
// thread_per_job is asked for with B > kThreadPerJobMaxBeams.
inline bool uses_thread_per_job(BeamKernel kernel, int top_beam) {
  const bool fits = top_beam <= kThreadPerJobMaxBeams;
  if (kernel == BeamKernel::thread_per_job && !fits)
    throw std::invalid_argument("the thread-per-job search kernel takes top_beam <= " +
                                std::to_string(kThreadPerJobMaxBeams) + ", not " + std::to_string(top_beam));
  return kernel == BeamKernel::thread_per_job || (kernel == BeamKernel::automatic && fits);
}

struct BeamArgs {
  BeamKernel kernel = BeamKernel::automatic;
  DeviceTables tables;
  const BeamJob* jobs = nullptr;  // device [num_jobs]
  std::int32_t num_jobs = 0;
  std::int32_t top_beam = 5;
  LengthNormKind norm_kind = LengthNormKind::avg_logprob;
  double norm_alpha = 1.0;
};

// CUB scan scratch needed for a batch of num_jobs jobs.
std::size_t scan_temp_bytes(std::int64_t num_jobs, std::int32_t top_beam);

// Runs the searches of a batch and compacts their paths into `out`; the totals are then
// out.path_begin[num_jobs] (paths) and out.node_begin[that] (nodes).
void launch_beam_batch(const BeamArgs& args, const BatchScratch& scratch, const BatchOutputs& out,
                       cudaStream_t stream);

}  // namespace ratrace::gpu
