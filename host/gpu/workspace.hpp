#pragma once
// The device side of one launch of GPU work: the packed heads of its units (one or more (sequence,
// layer, head group), see launch_layout.hpp), their candidate tables, and batches of beam searches
// over those tables. Everything is enqueued on a caller's stream; results are fetched after the
// stream's work completes. Device memory grows on demand and is reused across launches (the
// engine's memory cache); GpuEngine keeps one Workspace per stream.
#include <array>
#include <cstdint>
#include <vector>

#include "gpu/cuda_util.hpp"
#include "gpu/launch_layout.hpp"
#include "kernels/gpu_api.cuh"
#include "ratrace/candidate_table.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"

namespace ratrace::gpu {

// Outcome of the value checks and the profiles of one launch.
struct LayerChecks {
  bool bad_values = false;  // somewhere in the launch
  std::int64_t rows_off = 0;
  std::vector<std::array<double, kDistanceBins>> profile_sums;  // one per launch matrix
};

class Workspace {
 public:
  // Device bytes of a launch's resident heads, descriptors and tables, and of one job's search
  // (for budgets).
  static std::size_t launch_bytes(const LaunchLayout& layout);
  static std::size_t job_bytes(int target, int top_beam);
  // What a batch of up to num_jobs jobs holds beside the sum of their job_bytes.
  static std::size_t batch_base_bytes(std::int64_t num_jobs, int top_beam);

  // Uploads the packed heads (layout.raw_elems elements at layout.unit_raw_offset; pinned host
  // memory for a truly asynchronous copy), the masks, BOS flags and descriptors, and enqueues the
  // top-K pass over every unit of the launch. search_bytes: what its largest batch of searches will
  // need beside it (for the budget).
  void enqueue_launch(const LaunchLayout& layout, const void* packed_host, cudaStream_t stream,
                      std::size_t search_bytes = 0);
  // Enqueues the device-to-host copy of the checks and profiles (call after enqueue_launch).
  void enqueue_fetch_checks(cudaStream_t stream);
  // Valid once the stream has passed enqueue_fetch_checks.
  LayerChecks checks() const;

  // For tests and benchmarks: uploads ready-made host tables (same top_k; any seq_len each)
  // instead of enqueue_launch, and derives what the search needs from them. Table m is matrix m;
  // is_bos (empty = none) applies to every table and must cover the longest.
  void enqueue_tables(const std::vector<const CandidateTable*>& tables, const std::vector<std::uint8_t>& is_bos,
                      bool stop_at_bos, cudaStream_t stream);
  // Copies the last launch's tables back, one per launch matrix (waits for the stream).
  std::vector<CandidateTable> download_tables(cudaStream_t stream) const;
  // For benchmarks: the arguments of the last top-K pass; valid until the next enqueue_launch.
  const TopkArgs& last_topk_args() const { return topk_args_; }

  // Enqueues the searches of `jobs` over the tables of the last launch. Jobs are run as given;
  // callers sort them by target descending. `kernel`: which search kernel (tests and benchmarks
  // name one; the engine leaves the choice to B).
  void enqueue_batch(const std::vector<BeamJob>& jobs, const SearchParams& params, cudaStream_t stream,
                     BeamKernel kernel = BeamKernel::automatic);
  // Copies the last batch's paths back into `out`'s path and node arrays, in the SPEC §5 layout with
  // batch-relative offsets (waits for the stream). Leaves out.jobs alone; reuses the arrays' capacity.
  void fetch_batch(cudaStream_t stream, TraceResults& out);

  // Bounds the device memory this workspace holds (0 = no bound): before a launch or a batch grows
  // its buffers, the buffers that earlier, differently shaped work grew beyond this one's needs are
  // released when keeping them would pass the bound. A launch plus one batch must fit in it (the
  // engine sizes them so). Set it while the stream is idle.
  void set_budget(std::size_t bytes) { budget_ = bytes; }

  // Device bytes held by the launch buffers (heads, tables, descriptors, counters) and by the batch
  // buffers (jobs, arenas, paths). Buffers only grow, so what an earlier, differently shaped launch
  // left behind counts against the next one; release them only while the stream is idle.
  std::size_t launch_bytes_held() const;
  std::size_t batch_bytes_held() const;
  void release_launch_buffers();
  void release_batch_buffers();

 private:
  // Bytes each buffer needs for a launch / a batch, in the order of kLaunchBuffers / kBatchBuffers:
  // the one place that sizes them, for the reservations and the budget alike.
  using LaunchSizes = std::array<std::size_t, 7>;
  using BatchSizes = std::array<std::size_t, 12>;
  static LaunchSizes launch_sizes(const LaunchLayout& layout);
  static BatchSizes batch_sizes(std::size_t num_jobs, std::size_t records, int top_beam);
  static const std::array<DeviceBuffer Workspace::*, 7> kLaunchBuffers;
  static const std::array<DeviceBuffer Workspace::*, 12> kBatchBuffers;
  // Bytes held now; once every buffer has grown to its size; growing them all; releasing those
  // larger than their size (what is left is then exactly the sizes); releasing them all.
  template <std::size_t N>
  std::size_t bytes_held(const std::array<DeviceBuffer Workspace::*, N>& buffers) const;
  template <std::size_t N>
  std::size_t bytes_after(const std::array<DeviceBuffer Workspace::*, N>& buffers, const std::array<std::size_t, N>& sizes) const;
  template <std::size_t N>
  void reserve_all(const std::array<DeviceBuffer Workspace::*, N>& buffers, const std::array<std::size_t, N>& sizes);
  template <std::size_t N>
  void release_oversized(const std::array<DeviceBuffer Workspace::*, N>& buffers, const std::array<std::size_t, N>& sizes);
  template <std::size_t N>
  void release_all(const std::array<DeviceBuffer Workspace::*, N>& buffers);

  // Uploads the descriptors, row offsets, masks and BOS flags of `layout` (one copy) and points
  // topk_args_ / tables_ at them.
  void upload_descriptors(const LaunchLayout& layout, cudaStream_t stream);
  // Grows the launch buffers to launch_sizes(layout), within the budget (see set_budget), and points
  // tables_ at them.
  void reserve_launch(const LaunchLayout& layout, std::size_t search_bytes);

  std::vector<std::int64_t> row_begin_{0};  // host copy of the last launch's table rows per matrix
  int top_k_ = 0;
  int num_jobs_ = 0;
  TopkArgs topk_args_;
  DeviceTables tables_;
  const MatrixDesc* matrices_dev_ = nullptr;
  const std::uint8_t* is_bos_dev_ = nullptr;
  bool stop_at_bos_ = true;
  std::size_t budget_ = 0;
  // launch
  DeviceBuffer raw_, small_, entries_, logp_, count_, end_mask_, counters_;
  // batch
  DeviceBuffer jobs_, arena_, stubs_, path_count_, node_count_, scan_temp_;
  DeviceBuffer path_begin_, score_raw_, score_norm_, node_begin_, node_position_, node_edge_attn_;
  // pinned staging
  PinnedBuffer small_staging_, job_staging_, counters_host_;
};

}  // namespace ratrace::gpu
