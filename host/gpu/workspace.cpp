#include "gpu/workspace.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "ratrace/detail/scoring.hpp"

namespace ratrace::gpu {
namespace {

// Counters block on the device: profile sums [M][bins], then rows_off (u64), then the bad flag.
std::size_t counters_bytes(int num_matrices) {
  return static_cast<std::size_t>(num_matrices) * kDistanceBins * sizeof(double) + 2 * sizeof(std::uint64_t);
}

// Into `out`, a results column, resized in place: what resize() adds is left uninitialised (the
// copy is its only write). A column refilled in the memory it already holds (a spare batch that
// the sink recycles, BatchSink::spare) is page-locked there, once, so that this and every later
// copy into it runs at the link's speed instead of through the driver's pageable staging; fresh
// memory is not (a sink that never recycles would pay the pinning for each batch and keep all its
// results locked). The block is unlocked when freed. A column grows with headroom, so that batches
// of varying size seldom need a new block.
template <class Column>
void download(const DeviceBuffer& src, std::size_t count, Column& out, cudaStream_t stream) {
  using T = typename Column::value_type;
  const bool refill = out.capacity() >= count;
  if (!refill) out.reserve(count + count / 4);
  out.resize(count);
  if (count == 0) return;
  if (refill) ratrace::detail::pin_result_block(out.data(), out.capacity() * sizeof(T), page_lock, page_unlock);
  cuda_check(cudaMemcpyAsync(out.data(), src.get(), count * sizeof(T), cudaMemcpyDeviceToHost, stream),
             "cudaMemcpyAsync (download)");
}

// Where each small array of a launch sits in one device buffer (16-byte aligned pieces), so that
// all of them travel in one copy.
struct SmallLayout {
  std::size_t matrices = 0, row_begin = 0, aggregates = 0, aggregate_row_begin = 0, key_masks = 0, is_bos = 0;
  std::size_t bytes = 0;
};

SmallLayout small_layout(const LaunchLayout& l) {
  SmallLayout s;
  std::size_t at = 0;
  const auto take = [&at](std::size_t n) {
    const std::size_t offset = at;
    at += (n + 15) / 16 * 16;
    return offset;
  };
  s.matrices = take(l.matrices.size() * sizeof(MatrixDesc));
  s.row_begin = take(l.row_begin.size() * sizeof(std::int64_t));
  s.aggregates = take(l.aggregates.size() * sizeof(AggregateDesc));
  s.aggregate_row_begin = take(l.aggregate_row_begin.size() * sizeof(std::int64_t));
  s.key_masks = take(l.key_masks.size());
  s.is_bos = take(l.is_bos.size());
  s.bytes = at;
  return s;
}

template <class T>
void put(unsigned char* base, std::size_t offset, const std::vector<T>& v) {
  if (!v.empty()) std::memcpy(base + offset, v.data(), v.size() * sizeof(T));
}

}  // namespace

const std::array<DeviceBuffer Workspace::*, 7> Workspace::kLaunchBuffers{
    &Workspace::raw_, &Workspace::small_, &Workspace::entries_, &Workspace::logp_,
    &Workspace::count_, &Workspace::end_mask_, &Workspace::counters_};
const std::array<DeviceBuffer Workspace::*, 12> Workspace::kBatchBuffers{
    &Workspace::jobs_,       &Workspace::arena_,      &Workspace::stubs_,      &Workspace::path_count_,
    &Workspace::node_count_, &Workspace::scan_temp_,  &Workspace::path_begin_, &Workspace::score_raw_,
    &Workspace::score_norm_, &Workspace::node_begin_, &Workspace::node_position_, &Workspace::node_edge_attn_};

Workspace::LaunchSizes Workspace::launch_sizes(const LaunchLayout& l) {
  const auto rows = static_cast<std::size_t>(l.rows());
  const auto K = static_cast<std::size_t>(l.top_k);
  // Order of kLaunchBuffers: heads, descriptors, entries, logp, count, end_mask, counters.
  return {static_cast<std::size_t>(l.raw_elems) * elem_size(l.elem), small_layout(l).bytes + 16,
          rows * K * sizeof(Candidate), rows * K * sizeof(double), rows * sizeof(std::int32_t),
          rows * sizeof(std::uint32_t), counters_bytes(l.num_matrices())};
}

Workspace::BatchSizes Workspace::batch_sizes(std::size_t num_jobs, std::size_t records, int top_beam) {
  const std::size_t n = num_jobs, B = static_cast<std::size_t>(top_beam);
  // Order of kBatchBuffers: jobs, arena, stubs, path_count, node_count, scan_temp, path_begin,
  // score_raw, score_norm, node_begin, node_position, node_edge_attn.
  return {n * sizeof(BeamJob),
          records * sizeof(HistoryRecord),
          n * B * sizeof(PathStub),
          (n + 1) * sizeof(std::int64_t),
          2 * (n * B + 1) * sizeof(std::int64_t),
          scan_temp_bytes(static_cast<std::int64_t>(n), top_beam),
          (n + 1) * sizeof(std::int64_t),
          n * B * sizeof(double),
          n * B * sizeof(double),
          (n * B + 1) * sizeof(std::int64_t),
          records * sizeof(std::int32_t),
          records * sizeof(float)};
}

std::size_t Workspace::launch_bytes(const LaunchLayout& l) {
  std::size_t sum = 0;
  for (const std::size_t b : launch_sizes(l)) sum += b;
  return sum;
}

std::size_t Workspace::job_bytes(int target, int top_beam) {
  const std::size_t records = static_cast<std::size_t>(target + 1) * top_beam;
  const std::size_t B = static_cast<std::size_t>(top_beam);
  return sizeof(BeamJob) + 2 * sizeof(std::int64_t)                     // job, path_count, path_begin
         + records * (sizeof(HistoryRecord) + sizeof(std::int32_t) + sizeof(float))  // arena, nodes
         + B * (sizeof(PathStub) + 2 * sizeof(std::int64_t)            // stubs, node counts + offsets
                + 2 * sizeof(double) + sizeof(std::int64_t));          // scores, node_begin
}

std::size_t Workspace::batch_base_bytes(std::int64_t num_jobs, int top_beam) {
  // The scan's scratch, and the closing entries of path_count, path_begin, node_begin and node_count
  // (two: counts, then their scan).
  return scan_temp_bytes(num_jobs, top_beam) + 5 * sizeof(std::int64_t);
}

template <std::size_t N>
std::size_t Workspace::bytes_held(const std::array<DeviceBuffer Workspace::*, N>& buffers) const {
  std::size_t sum = 0;
  for (const auto b : buffers) sum += (this->*b).capacity();
  return sum;
}

template <std::size_t N>
std::size_t Workspace::bytes_after(const std::array<DeviceBuffer Workspace::*, N>& buffers,
                                   const std::array<std::size_t, N>& sizes) const {
  std::size_t sum = 0;
  for (std::size_t k = 0; k < N; ++k) sum += std::max((this->*buffers[k]).capacity(), sizes[k]);
  return sum;
}

template <std::size_t N>
void Workspace::reserve_all(const std::array<DeviceBuffer Workspace::*, N>& buffers, const std::array<std::size_t, N>& sizes) {
  for (std::size_t k = 0; k < N; ++k) (this->*buffers[k]).reserve(sizes[k]);
}

template <std::size_t N>
void Workspace::release_oversized(const std::array<DeviceBuffer Workspace::*, N>& buffers,
                                  const std::array<std::size_t, N>& sizes) {
  for (std::size_t k = 0; k < N; ++k)
    if ((this->*buffers[k]).capacity() > sizes[k]) (this->*buffers[k]).release();
}

template <std::size_t N>
void Workspace::release_all(const std::array<DeviceBuffer Workspace::*, N>& buffers) {
  for (const auto b : buffers) (this->*b).release();
}

void Workspace::upload_descriptors(const LaunchLayout& l, cudaStream_t stream) {
  const SmallLayout s = small_layout(l);
  // Pinned staging stays untouched until the caller syncs the stream (before the next launch).
  auto* host = static_cast<unsigned char*>(small_staging_.reserve(s.bytes + 16));
  put(host, s.matrices, l.matrices);
  put(host, s.row_begin, l.row_begin);
  put(host, s.aggregates, l.aggregates);
  put(host, s.aggregate_row_begin, l.aggregate_row_begin);
  put(host, s.key_masks, l.key_masks);
  put(host, s.is_bos, l.is_bos);
  auto* dev = static_cast<unsigned char*>(small_.get());  // sized by launch_sizes
  if (s.bytes > 0) cuda_check(cudaMemcpyAsync(dev, host, s.bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (descriptors)");

  row_begin_ = l.row_begin;
  top_k_ = l.top_k;
  stop_at_bos_ = l.stop_at_bos;
  matrices_dev_ = reinterpret_cast<const MatrixDesc*>(dev + s.matrices);
  is_bos_dev_ = l.is_bos.empty() ? nullptr : dev + s.is_bos;
  tables_.row_begin = reinterpret_cast<const std::int64_t*>(dev + s.row_begin);
  tables_.num_matrices = l.num_matrices();
  tables_.top_k = l.top_k;

  topk_args_ = TopkArgs{};
  topk_args_.elem = l.elem;
  topk_args_.matrices = matrices_dev_;
  topk_args_.num_head_matrices = l.num_head_matrices;
  topk_args_.head_rows = l.head_rows();
  topk_args_.aggregates = reinterpret_cast<const AggregateDesc*>(dev + s.aggregates);
  topk_args_.aggregate_row_begin = reinterpret_cast<const std::int64_t*>(dev + s.aggregate_row_begin);
  topk_args_.num_aggregates = static_cast<std::int32_t>(l.aggregates.size());
  topk_args_.aggregate_rows = l.aggregate_rows();
  topk_args_.max_aggregate_heads = l.max_aggregate_heads;
  topk_args_.key_masks = l.key_masks.empty() ? nullptr : dev + s.key_masks;
  topk_args_.top_k = l.top_k;
  topk_args_.attn_threshold = detail::float_threshold(l.min_attn);
  topk_args_.head_warps_per_row = l.head_warps_per_row;
}

void Workspace::reserve_launch(const LaunchLayout& l, std::size_t search_bytes) {
  // Within the budget: drop what earlier, differently shaped work left beyond this launch's needs
  // and its largest batch of searches (the stream is idle between launches).
  const LaunchSizes sizes = launch_sizes(l);
  if (budget_ > 0) {
    if (bytes_after(kLaunchBuffers, sizes) + batch_bytes_held() > budget_) release_batch_buffers();
    if (bytes_after(kLaunchBuffers, sizes) + search_bytes > budget_) release_oversized(kLaunchBuffers, sizes);
  }
  reserve_all(kLaunchBuffers, sizes);
  tables_.entries = static_cast<Candidate*>(entries_.get());
  tables_.logp = static_cast<double*>(logp_.get());
  tables_.count = static_cast<std::int32_t*>(count_.get());
  tables_.end_mask = static_cast<std::uint32_t*>(end_mask_.get());
}

void Workspace::enqueue_launch(const LaunchLayout& l, const void* packed_host, cudaStream_t stream,
                               std::size_t search_bytes) {
  reserve_launch(l, search_bytes);
  const std::size_t raw_bytes = static_cast<std::size_t>(l.raw_elems) * elem_size(l.elem);
  if (raw_bytes > 0)
    cuda_check(cudaMemcpyAsync(raw_.get(), packed_host, raw_bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (heads)");
  upload_descriptors(l, stream);

  const int M = l.num_matrices();
  auto* counters = static_cast<unsigned char*>(counters_.get());
  cuda_check(cudaMemsetAsync(counters, 0, counters_bytes(M), stream), "cudaMemsetAsync (counters)");
  const std::size_t profile_bytes = static_cast<std::size_t>(M) * kDistanceBins * sizeof(double);

  topk_args_.raw = raw_.get();
  topk_args_.tables = tables_;
  topk_args_.profile_sums = reinterpret_cast<double*>(counters);
  topk_args_.rows_off = reinterpret_cast<unsigned long long*>(counters + profile_bytes);
  topk_args_.bad_flag = reinterpret_cast<std::uint32_t*>(counters + profile_bytes + sizeof(std::uint64_t));
  launch_row_topk(topk_args_, stream);
  launch_finish_tables(tables_, matrices_dev_, l.rows(), is_bos_dev_, l.stop_at_bos, stream);
}

void Workspace::enqueue_fetch_checks(cudaStream_t stream) {
  const std::size_t bytes = counters_bytes(tables_.num_matrices);
  void* host = counters_host_.reserve(bytes);
  cuda_check(cudaMemcpyAsync(host, counters_.get(), bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (checks)");
}

LayerChecks Workspace::checks() const {
  const int M = tables_.num_matrices;
  const auto* host = static_cast<const unsigned char*>(counters_host_.get());
  const std::size_t profile_bytes = static_cast<std::size_t>(M) * kDistanceBins * sizeof(double);
  LayerChecks out;
  out.profile_sums.resize(static_cast<std::size_t>(M));
  if (M > 0) std::memcpy(out.profile_sums.data(), host, profile_bytes);
  std::uint64_t rows_off = 0;
  std::uint32_t bad = 0;
  std::memcpy(&rows_off, host + profile_bytes, sizeof(rows_off));
  std::memcpy(&bad, host + profile_bytes + sizeof(std::uint64_t), sizeof(bad));
  out.rows_off = static_cast<std::int64_t>(rows_off);
  out.bad_values = bad != 0;
  return out;
}

void Workspace::enqueue_tables(const std::vector<const CandidateTable*>& tables, const std::vector<std::uint8_t>& is_bos,
                               bool stop_at_bos, cudaStream_t stream) {
  if (tables.empty()) throw std::invalid_argument("enqueue_tables: no tables");
  LaunchLayout l;
  l.top_k = tables.front()->top_k();
  l.stop_at_bos = stop_at_bos;
  l.is_bos = is_bos;
  for (const CandidateTable* t : tables) {
    if (t->top_k() != l.top_k) throw std::invalid_argument("enqueue_tables: tables of different top_k");
    if (!is_bos.empty() && is_bos.size() < static_cast<std::size_t>(t->seq_len()))
      throw std::invalid_argument("enqueue_tables: is_bos is shorter than a table");
    MatrixDesc d;
    d.seq_len = t->seq_len();
    d.bos_offset = is_bos.empty() ? -1 : 0;
    l.matrices.push_back(d);
    l.row_begin.push_back(l.row_begin.back() + t->seq_len());
  }
  l.num_head_matrices = l.num_matrices();
  const auto rows = static_cast<std::size_t>(l.rows());
  const auto K = static_cast<std::size_t>(l.top_k);
  std::vector<Candidate> entries(rows * K);
  std::vector<std::int32_t> counts(rows);
  for (std::size_t m = 0; m < tables.size(); ++m) {
    const CandidateTable& t = *tables[m];
    const auto row0 = static_cast<std::size_t>(l.row_begin[m]);
    for (std::int32_t i = 0; i < t.seq_len(); ++i) {
      counts[row0 + i] = t.size(i);
      for (std::size_t r = 0; r < K; ++r) entries[(row0 + i) * K + r] = t.at(i, static_cast<std::int32_t>(r));
    }
  }
  reserve_launch(l, 0);
  upload_descriptors(l, stream);
  if (rows > 0) {
    cuda_check(cudaMemcpyAsync(tables_.entries, entries.data(), entries.size() * sizeof(Candidate), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (entries)");
    cuda_check(cudaMemcpyAsync(tables_.count, counts.data(), counts.size() * sizeof(std::int32_t), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (counts)");
  }
  launch_finish_tables(tables_, matrices_dev_, l.rows(), is_bos_dev_, stop_at_bos, stream);
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (tables)");  // host vectors go out of scope
}

std::vector<CandidateTable> Workspace::download_tables(cudaStream_t stream) const {
  const auto rows = static_cast<std::size_t>(row_begin_.back());
  const auto K = static_cast<std::size_t>(top_k_);
  std::vector<Candidate> entries(rows * K);
  std::vector<std::int32_t> counts(rows);
  if (rows > 0) {
    cuda_check(cudaMemcpyAsync(entries.data(), tables_.entries, entries.size() * sizeof(Candidate), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (entries)");
    cuda_check(cudaMemcpyAsync(counts.data(), tables_.count, counts.size() * sizeof(std::int32_t), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (counts)");
  }
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (tables)");
  std::vector<CandidateTable> out;
  for (std::size_t m = 0; m + 1 < row_begin_.size(); ++m) {
    const auto row0 = static_cast<std::size_t>(row_begin_[m]);
    const auto S = static_cast<std::int32_t>(row_begin_[m + 1] - row_begin_[m]);
    CandidateTable t(S, top_k_);
    for (std::int32_t i = 0; i < S; ++i) {
      t.set_size(i, counts[row0 + i]);
      std::memcpy(t.row_data(i), &entries[(row0 + i) * K], K * sizeof(Candidate));
    }
    out.push_back(std::move(t));
  }
  return out;
}

void Workspace::enqueue_batch(const std::vector<BeamJob>& jobs, const SearchParams& params, cudaStream_t stream,
                              BeamKernel kernel) {
  num_jobs_ = static_cast<int>(jobs.size());
  const std::size_t n = jobs.size();
  const std::size_t B = static_cast<std::size_t>(params.top_beam);
  std::size_t records = 0;
  for (const BeamJob& j : jobs) records += static_cast<std::size_t>(j.target + 1) * B;

  // Within the budget beside the launch's buffers (the stream is idle between batches).
  const BatchSizes sizes = batch_sizes(n, records, params.top_beam);
  if (budget_ > 0 && launch_bytes_held() + bytes_after(kBatchBuffers, sizes) > budget_) release_oversized(kBatchBuffers, sizes);
  reserve_all(kBatchBuffers, sizes);

  auto* staged = job_staging_.reserve_as<BeamJob>(n);
  std::memcpy(staged, jobs.data(), n * sizeof(BeamJob));
  if (n > 0) cuda_check(cudaMemcpyAsync(jobs_.get(), staged, n * sizeof(BeamJob), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (jobs)");

  BatchScratch scratch;
  scratch.arena = static_cast<HistoryRecord*>(arena_.get());
  scratch.stubs = static_cast<PathStub*>(stubs_.get());
  scratch.path_count = static_cast<std::int64_t*>(path_count_.get());
  scratch.node_count = static_cast<std::int64_t*>(node_count_.get());
  scratch.scan_temp_bytes = sizes[5];
  scratch.scan_temp = scan_temp_.get();

  BatchOutputs out;
  out.path_begin = static_cast<std::int64_t*>(path_begin_.get());
  out.score_raw = static_cast<double*>(score_raw_.get());
  out.score_norm = static_cast<double*>(score_norm_.get());
  out.node_begin = static_cast<std::int64_t*>(node_begin_.get());
  out.node_position = static_cast<std::int32_t*>(node_position_.get());
  out.node_edge_attn = static_cast<float*>(node_edge_attn_.get());

  BeamArgs a;
  a.kernel = kernel;
  a.tables = tables_;
  a.jobs = static_cast<const BeamJob*>(jobs_.get());
  a.num_jobs = static_cast<std::int32_t>(n);
  a.top_beam = params.top_beam;
  a.norm_kind = params.length_norm.kind;
  a.norm_alpha = params.length_norm.alpha;
  launch_beam_batch(a, scratch, out, stream);
}

std::size_t Workspace::launch_bytes_held() const { return bytes_held(kLaunchBuffers); }
std::size_t Workspace::batch_bytes_held() const { return bytes_held(kBatchBuffers); }
void Workspace::release_launch_buffers() { release_all(kLaunchBuffers); }
void Workspace::release_batch_buffers() { release_all(kBatchBuffers); }

void Workspace::fetch_batch(cudaStream_t stream, TraceResults& r) {
  if (num_jobs_ == 0) {
    r.path_begin.assign(1, 0);
    r.node_begin.assign(1, 0);
    r.score_raw.clear();
    r.score_norm.clear();
    r.node_position.clear();
    r.node_edge_attn.clear();
    return;
  }
  download(path_begin_, static_cast<std::size_t>(num_jobs_) + 1, r.path_begin, stream);
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (paths)");
  const auto n_paths = static_cast<std::size_t>(r.path_begin.back());
  download(node_begin_, n_paths + 1, r.node_begin, stream);
  download(score_raw_, n_paths, r.score_raw, stream);
  download(score_norm_, n_paths, r.score_norm, stream);
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (nodes)");
  const auto n_nodes = static_cast<std::size_t>(r.node_begin.back());
  download(node_position_, n_nodes, r.node_position, stream);
  download(node_edge_attn_, n_nodes, r.node_edge_attn, stream);
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (results)");
}

}  // namespace ratrace::gpu
