#pragma once
// Host-callable entry points of the CUDA kernels, and the plain structs they take.
// Included by host code compiled with the host compiler (host/gpu/, tests/gpu/, bench/gpu_*):
// no device code here, only declarations. The kernels live in kernels/row_topk.cu and
// kernels/beam_search.cu; everything runs asynchronously on the given stream.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "ratrace/candidate_table.hpp"
#include "ratrace/params.hpp"

namespace ratrace::gpu {

// Element type of the matrices on the device. float64 inputs are narrowed to float32 on the host.
enum class ElemType : int { f16 = 0, bf16 = 1, f32 = 2 };

// Candidate tables of M matrices of one sequence, matrix-major: row i of matrix m starts at
// entry (m * seq_len + i) * top_k. Besides the entries (SPEC §1.1 order) and counts, the beam
// search reads two derived arrays that finish_tables() fills once per row, so that no search step
// recomputes them: the edge log-probability of every entry and a bit mask of the entries whose
// key position ends a path (j == 0, or a BOS position with stop_at_bos).
struct DeviceTables {
  Candidate* entries = nullptr;      // [M][S][K]
  double* logp = nullptr;            // [M][S][K] detail::edge_logprob(entry.attn)
  std::int32_t* count = nullptr;     // [M][S]
  std::uint32_t* end_mask = nullptr; // [M][S] bit r: entry r ends a path
  std::int32_t seq_len = 0;
  std::int32_t top_k = 0;
};

// Row top-K over the heads of one layer resident on the device.
struct TopkArgs {
  const void* raw = nullptr;  // [num_heads][S][S] elements of `elem` (only j <= i is ever read)
  ElemType elem = ElemType::f32;
  std::int32_t num_heads = 0;
  std::int32_t seq_len = 0;
  const std::uint8_t* key_mask = nullptr;  // device [S]; null = every key valid
  std::int32_t top_k = 5;
  double min_attn = 0.0;
  // Per-head matrices: matrix t (t < num_traced) is head traced_heads[t] of `raw` (device array).
  const std::int32_t* traced_heads = nullptr;
  std::int32_t num_traced = 0;
  // Aggregates over all num_heads heads (matrix indices, -1 = not wanted).
  std::int32_t mean_matrix = -1;
  std::int32_t max_matrix = -1;
  DeviceTables tables;               // M = num_traced + aggregates; entries and count are written
  double* profile_sums = nullptr;    // [M][kDistanceBins], accumulated (zero it first)
  // Value checks of every head in `raw` (SPEC §4): the flag becomes non-zero when any NaN, Inf or
  // negative value is seen at j <= i; rows_off counts rows whose sum over j <= i is off by > 0.01.
  std::uint32_t* bad_flag = nullptr;
  unsigned long long* rows_off = nullptr;
};
// Fills tables.entries / tables.count (and the profile and checks) for every traced matrix.
void launch_row_topk(const TopkArgs& args, cudaStream_t stream);

// Fills tables.logp and tables.end_mask from entries/count for `num_matrices` matrices.
// is_bos: device [S] or null (no BOS positions).
void launch_finish_tables(const DeviceTables& tables, std::int32_t num_matrices, const std::uint8_t* is_bos,
                          bool stop_at_bos, cudaStream_t stream);

// --- beam search ---------------------------------------------------------------------------------
struct BeamJob {
  std::int32_t matrix = 0;        // index into the tables
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

struct BeamArgs {
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
