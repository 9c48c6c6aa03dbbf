#pragma once
// The device side of one unit of GPU work: the heads of one layer of one sequence, their candidate
// tables, and batches of beam searches over those tables. Everything is enqueued on a caller's
// stream; results are fetched after the stream's work completes. Device memory grows on demand and
// is reused across units (the engine's memory cache); GpuEngine keeps one Workspace per stream.
#include <array>
#include <cstdint>
#include <vector>

#include "gpu/cuda_util.hpp"
#include "kernels/gpu_api.cuh"
#include "ratrace/candidate_table.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/params.hpp"

namespace ratrace::gpu {

// What one unit computes. Matrices are numbered: per-head matrices first (matrix t is head
// traced[t] of the resident heads), then mean, then max.
struct LayerSpec {
  ElemType elem = ElemType::f32;
  int num_heads = 0;  // resident heads
  int seq_len = 0;
  std::vector<std::int32_t> traced;
  bool mean = false;
  bool max = false;
  int top_k = 5;
  double min_attn = 0.0;
  bool stop_at_bos = true;

  int num_matrices() const { return static_cast<int>(traced.size()) + (mean ? 1 : 0) + (max ? 1 : 0); }
  int mean_matrix() const { return mean ? static_cast<int>(traced.size()) : -1; }
  int max_matrix() const { return max ? static_cast<int>(traced.size()) + (mean ? 1 : 0) : -1; }
};

std::size_t elem_size(ElemType elem);

// Outcome of the value checks and the profiles of one unit.
struct LayerChecks {
  bool bad_values = false;
  std::int64_t rows_off = 0;
  std::vector<std::array<double, kDistanceBins>> profile_sums;  // one per matrix
};

// One batch's paths in the SPEC §5 layout (offsets relative to the batch).
struct BatchResult {
  std::vector<std::int64_t> path_begin;
  std::vector<double> score_raw;
  std::vector<double> score_norm;
  std::vector<std::int64_t> node_begin;
  std::vector<std::int32_t> node_position;
  std::vector<float> node_edge_attn;
};

class Workspace {
 public:
  // Device bytes of a unit's resident heads and tables, and of one job's search (for budgets).
  static std::size_t layer_bytes(const LayerSpec& spec);
  static std::size_t job_bytes(int target, int top_beam);

  // Uploads the heads (num_heads * S * S elements; pinned host memory for a truly asynchronous
  // copy), the key mask and BOS flags (empty = all valid / none) and enqueues the top-K pass.
  void enqueue_layer(const LayerSpec& spec, const void* raw_host, const std::vector<std::uint8_t>& key_mask,
                     const std::vector<std::uint8_t>& is_bos, cudaStream_t stream);
  // Enqueues the device-to-host copy of the checks and profiles (call after enqueue_layer).
  void enqueue_fetch_checks(cudaStream_t stream);
  // Valid once the stream has passed enqueue_fetch_checks.
  LayerChecks checks() const;

  // For tests and benchmarks: uploads ready-made host tables (same S and K) instead of
  // enqueue_layer, and derives what the search needs from them.
  void enqueue_tables(const std::vector<const CandidateTable*>& tables, const std::vector<std::uint8_t>& is_bos,
                      bool stop_at_bos, cudaStream_t stream);
  // Copies the last layer's tables back (waits for the stream).
  std::vector<CandidateTable> download_tables(cudaStream_t stream) const;

  // Enqueues the searches of `jobs` over the tables of the last layer. Jobs are run as given;
  // callers sort them by target descending.
  void enqueue_batch(const std::vector<BeamJob>& jobs, const SearchParams& params, cudaStream_t stream);
  // Copies the last batch's paths back (waits for the stream).
  BatchResult fetch_batch(cudaStream_t stream);

 private:
  LayerSpec spec_;
  int num_jobs_ = 0;
  // layer
  DeviceBuffer raw_, key_mask_, is_bos_, traced_, entries_, logp_, count_, end_mask_, counters_;
  // batch
  DeviceBuffer jobs_, arena_, stubs_, path_count_, node_count_, scan_temp_;
  DeviceBuffer path_begin_, score_raw_, score_norm_, node_begin_, node_position_, node_edge_attn_;
  // pinned staging
  PinnedBuffer layer_staging_, job_staging_, counters_host_;
};

}  // namespace ratrace::gpu
