#include "gpu/workspace.hpp"

#include <cstring>
#include <stdexcept>

namespace ratrace::gpu {
namespace {

// Counters block on the device: profile sums [M][bins], then rows_off (u64), then the bad flag.
std::size_t counters_bytes(int num_matrices) {
  return static_cast<std::size_t>(num_matrices) * kDistanceBins * sizeof(double) + 2 * sizeof(std::uint64_t);
}

template <class T>
void upload(DeviceBuffer& dst, const T* src, std::size_t count, cudaStream_t stream) {
  dst.reserve(count * sizeof(T));
  if (count > 0) cuda_check(cudaMemcpyAsync(dst.get(), src, count * sizeof(T), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (upload)");
}

template <class T>
std::vector<T> download(const DeviceBuffer& src, std::size_t count, cudaStream_t stream) {
  std::vector<T> out(count);
  if (count > 0)
    cuda_check(cudaMemcpyAsync(out.data(), src.get(), count * sizeof(T), cudaMemcpyDeviceToHost, stream),
               "cudaMemcpyAsync (download)");
  return out;
}

}  // namespace

std::size_t elem_size(ElemType elem) { return elem == ElemType::f32 ? 4 : 2; }

std::size_t Workspace::layer_bytes(const LayerSpec& spec) {
  const std::size_t S = static_cast<std::size_t>(spec.seq_len);
  const std::size_t M = static_cast<std::size_t>(spec.num_matrices());
  const std::size_t K = static_cast<std::size_t>(spec.top_k);
  return static_cast<std::size_t>(spec.num_heads) * S * S * elem_size(spec.elem)  // resident heads
         + M * S * K * (sizeof(Candidate) + sizeof(double))                      // entries, logp
         + M * S * (sizeof(std::int32_t) + sizeof(std::uint32_t))                // count, end_mask
         + 2 * S + spec.traced.size() * sizeof(std::int32_t) + counters_bytes(static_cast<int>(M));
}

std::size_t Workspace::job_bytes(int target, int top_beam) {
  const std::size_t records = static_cast<std::size_t>(target + 1) * top_beam;
  const std::size_t B = static_cast<std::size_t>(top_beam);
  return sizeof(BeamJob) + 2 * sizeof(std::int64_t)                     // job, path_count, path_begin
         + records * (sizeof(HistoryRecord) + sizeof(std::int32_t) + sizeof(float))  // arena, nodes
         + B * (sizeof(PathStub) + 2 * sizeof(std::int64_t)            // stubs, node counts + offsets
                + 2 * sizeof(double) + sizeof(std::int64_t));          // scores, node_begin
}

void Workspace::enqueue_layer(const LayerSpec& spec, const void* raw_host, const std::vector<std::uint8_t>& key_mask,
                              const std::vector<std::uint8_t>& is_bos, cudaStream_t stream) {
  spec_ = spec;
  const std::size_t S = static_cast<std::size_t>(spec.seq_len);
  const std::size_t M = static_cast<std::size_t>(spec.num_matrices());
  const std::size_t K = static_cast<std::size_t>(spec.top_k);
  const std::size_t raw_bytes = static_cast<std::size_t>(spec.num_heads) * S * S * elem_size(spec.elem);

  raw_.reserve(raw_bytes);
  if (raw_bytes > 0) cuda_check(cudaMemcpyAsync(raw_.get(), raw_host, raw_bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (heads)");

  // Small inputs go through pinned staging, which stays untouched until the caller syncs.
  const std::size_t traced_bytes = spec.traced.size() * sizeof(std::int32_t);
  auto* staging = static_cast<unsigned char*>(layer_staging_.reserve(traced_bytes + 2 * S + 16));
  std::memcpy(staging, spec.traced.data(), traced_bytes);
  if (!key_mask.empty()) std::memcpy(staging + traced_bytes, key_mask.data(), S);
  if (!is_bos.empty()) std::memcpy(staging + traced_bytes + S, is_bos.data(), S);
  upload(traced_, reinterpret_cast<const std::int32_t*>(staging), spec.traced.size(), stream);
  if (!key_mask.empty()) upload(key_mask_, staging + traced_bytes, S, stream);
  if (!is_bos.empty()) upload(is_bos_, staging + traced_bytes + S, S, stream);

  DeviceTables tables;
  tables.entries = entries_.reserve_as<Candidate>(M * S * K);
  tables.logp = logp_.reserve_as<double>(M * S * K);
  tables.count = count_.reserve_as<std::int32_t>(M * S);
  tables.end_mask = end_mask_.reserve_as<std::uint32_t>(M * S);
  tables.seq_len = spec.seq_len;
  tables.top_k = spec.top_k;

  auto* counters = static_cast<unsigned char*>(counters_.reserve(counters_bytes(static_cast<int>(M))));
  cuda_check(cudaMemsetAsync(counters, 0, counters_bytes(static_cast<int>(M)), stream), "cudaMemsetAsync (counters)");
  const std::size_t profile_bytes = M * kDistanceBins * sizeof(double);

  TopkArgs a;
  a.raw = raw_.get();
  a.elem = spec.elem;
  a.num_heads = spec.num_heads;
  a.seq_len = spec.seq_len;
  a.key_mask = key_mask.empty() ? nullptr : static_cast<const std::uint8_t*>(key_mask_.get());
  a.top_k = spec.top_k;
  a.min_attn = spec.min_attn;
  a.traced_heads = static_cast<const std::int32_t*>(traced_.get());
  a.num_traced = static_cast<std::int32_t>(spec.traced.size());
  a.mean_matrix = spec.mean_matrix();
  a.max_matrix = spec.max_matrix();
  a.tables = tables;
  a.profile_sums = reinterpret_cast<double*>(counters);
  a.rows_off = reinterpret_cast<unsigned long long*>(counters + profile_bytes);
  a.bad_flag = reinterpret_cast<std::uint32_t*>(counters + profile_bytes + sizeof(std::uint64_t));
  launch_row_topk(a, stream);
  launch_finish_tables(tables, static_cast<std::int32_t>(M),
                       is_bos.empty() ? nullptr : static_cast<const std::uint8_t*>(is_bos_.get()), spec.stop_at_bos,
                       stream);
}

void Workspace::enqueue_fetch_checks(cudaStream_t stream) {
  const std::size_t bytes = counters_bytes(spec_.num_matrices());
  void* host = counters_host_.reserve(bytes);
  cuda_check(cudaMemcpyAsync(host, counters_.get(), bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (checks)");
}

LayerChecks Workspace::checks() const {
  const int M = spec_.num_matrices();
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
  spec_ = LayerSpec{};
  spec_.seq_len = tables.front()->seq_len();
  spec_.top_k = tables.front()->top_k();
  spec_.stop_at_bos = stop_at_bos;
  spec_.traced.assign(tables.size(), 0);  // only num_matrices() matters here
  const std::size_t S = static_cast<std::size_t>(spec_.seq_len);
  const std::size_t K = static_cast<std::size_t>(spec_.top_k);
  const std::size_t M = tables.size();
  std::vector<Candidate> entries(M * S * K);
  std::vector<std::int32_t> counts(M * S);
  for (std::size_t m = 0; m < M; ++m) {
    const CandidateTable& t = *tables[m];
    if (t.seq_len() != spec_.seq_len || t.top_k() != spec_.top_k)
      throw std::invalid_argument("enqueue_tables: tables of different shapes");
    for (std::size_t i = 0; i < S; ++i) {
      counts[m * S + i] = t.size(static_cast<std::int32_t>(i));
      for (std::size_t r = 0; r < K; ++r) entries[(m * S + i) * K + r] = t.at(static_cast<std::int32_t>(i), static_cast<std::int32_t>(r));
    }
  }
  DeviceTables d;
  d.entries = entries_.reserve_as<Candidate>(M * S * K);
  d.logp = logp_.reserve_as<double>(M * S * K);
  d.count = count_.reserve_as<std::int32_t>(M * S);
  d.end_mask = end_mask_.reserve_as<std::uint32_t>(M * S);
  d.seq_len = spec_.seq_len;
  d.top_k = spec_.top_k;
  cuda_check(cudaMemcpyAsync(d.entries, entries.data(), entries.size() * sizeof(Candidate), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (entries)");
  cuda_check(cudaMemcpyAsync(d.count, counts.data(), counts.size() * sizeof(std::int32_t), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (counts)");
  if (!is_bos.empty()) upload(is_bos_, is_bos.data(), S, stream);
  launch_finish_tables(d, static_cast<std::int32_t>(M), is_bos.empty() ? nullptr : static_cast<const std::uint8_t*>(is_bos_.get()),
                       stop_at_bos, stream);
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (tables)");  // host vectors go out of scope
}

std::vector<CandidateTable> Workspace::download_tables(cudaStream_t stream) const {
  const std::size_t S = static_cast<std::size_t>(spec_.seq_len);
  const std::size_t K = static_cast<std::size_t>(spec_.top_k);
  const std::size_t M = static_cast<std::size_t>(spec_.num_matrices());
  std::vector<Candidate> entries(M * S * K);
  std::vector<std::int32_t> counts(M * S);
  if (M * S > 0) {
    cuda_check(cudaMemcpyAsync(entries.data(), entries_.get(), entries.size() * sizeof(Candidate), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (entries)");
    cuda_check(cudaMemcpyAsync(counts.data(), count_.get(), counts.size() * sizeof(std::int32_t), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (counts)");
  }
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (tables)");
  std::vector<CandidateTable> out;
  for (std::size_t m = 0; m < M; ++m) {
    CandidateTable t(spec_.seq_len, spec_.top_k);
    for (std::size_t i = 0; i < S; ++i) {
      t.set_size(static_cast<std::int32_t>(i), counts[m * S + i]);
      std::memcpy(t.row_data(static_cast<std::int32_t>(i)), &entries[(m * S + i) * K], K * sizeof(Candidate));
    }
    out.push_back(std::move(t));
  }
  return out;
}

void Workspace::enqueue_batch(const std::vector<BeamJob>& jobs, const SearchParams& params, cudaStream_t stream) {
  num_jobs_ = static_cast<int>(jobs.size());
  const std::size_t n = jobs.size();
  const std::size_t B = static_cast<std::size_t>(params.top_beam);
  std::size_t records = 0;
  for (const BeamJob& j : jobs) records += static_cast<std::size_t>(j.target + 1) * B;

  auto* staged = job_staging_.reserve_as<BeamJob>(n);
  std::memcpy(staged, jobs.data(), n * sizeof(BeamJob));
  upload(jobs_, staged, n, stream);

  BatchScratch scratch;
  scratch.arena = arena_.reserve_as<HistoryRecord>(records);
  scratch.stubs = stubs_.reserve_as<PathStub>(n * B);
  scratch.path_count = path_count_.reserve_as<std::int64_t>(n + 1);
  scratch.node_count = node_count_.reserve_as<std::int64_t>(2 * (n * B + 1));
  scratch.scan_temp_bytes = scan_temp_bytes(static_cast<std::int64_t>(n), params.top_beam);
  scratch.scan_temp = scan_temp_.reserve(scratch.scan_temp_bytes);

  BatchOutputs out;
  out.path_begin = path_begin_.reserve_as<std::int64_t>(n + 1);
  out.score_raw = score_raw_.reserve_as<double>(n * B);
  out.score_norm = score_norm_.reserve_as<double>(n * B);
  out.node_begin = node_begin_.reserve_as<std::int64_t>(n * B + 1);
  out.node_position = node_position_.reserve_as<std::int32_t>(records);
  out.node_edge_attn = node_edge_attn_.reserve_as<float>(records);

  BeamArgs a;
  a.tables.entries = static_cast<Candidate*>(entries_.get());
  a.tables.logp = static_cast<double*>(logp_.get());
  a.tables.count = static_cast<std::int32_t*>(count_.get());
  a.tables.end_mask = static_cast<std::uint32_t*>(end_mask_.get());
  a.tables.seq_len = spec_.seq_len;
  a.tables.top_k = spec_.top_k;
  a.jobs = static_cast<const BeamJob*>(jobs_.get());
  a.num_jobs = static_cast<std::int32_t>(n);
  a.top_beam = params.top_beam;
  a.norm_kind = params.length_norm.kind;
  a.norm_alpha = params.length_norm.alpha;
  launch_beam_batch(a, scratch, out, stream);
}

BatchResult Workspace::fetch_batch(cudaStream_t stream) {
  BatchResult r;
  if (num_jobs_ == 0) {
    r.path_begin = {0};
    r.node_begin = {0};
    return r;
  }
  r.path_begin = download<std::int64_t>(path_begin_, static_cast<std::size_t>(num_jobs_) + 1, stream);
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (paths)");
  const auto n_paths = static_cast<std::size_t>(r.path_begin.back());
  r.node_begin = download<std::int64_t>(node_begin_, n_paths + 1, stream);
  r.score_raw = download<double>(score_raw_, n_paths, stream);
  r.score_norm = download<double>(score_norm_, n_paths, stream);
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (nodes)");
  const auto n_nodes = static_cast<std::size_t>(r.node_begin.back());
  r.node_position = download<std::int32_t>(node_position_, n_nodes, stream);
  r.node_edge_attn = download<float>(node_edge_attn_, n_nodes, stream);
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (results)");
  return r;
}

}  // namespace ratrace::gpu
