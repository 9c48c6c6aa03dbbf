#include "io/results_consistency.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "util/head_label.hpp"
#include "util/parallel_for.hpp"

namespace ratrace {
namespace {

// A CSR "begin" array: n + 1 entries, starting at 0, never decreasing, ending at `total`. Messages
// add `entry_base` to entry numbers and `value_base` to values, so that a batch's arrays are
// reported as the file holds them.
std::optional<std::string> check_begins(std::span<const std::int64_t> begin, std::size_t n, std::size_t total,
                                        const char* name, bool strictly_increasing, std::int64_t entry_base = 0,
                                        std::int64_t value_base = 0) {
  if (begin.size() != n + 1) return fmt::format("{} has {} entries, expected {}", name, begin.size(), n + 1);
  if (begin.front() != 0)
    return fmt::format("{}[{}] is {}, expected {}", name, entry_base, begin.front() + value_base, value_base);
  for (std::size_t k = 0; k + 1 < begin.size(); ++k) {
    const bool ok = strictly_increasing ? begin[k + 1] > begin[k] : begin[k + 1] >= begin[k];
    if (!ok)
      return fmt::format("{} {} at entry {} ({} then {})", name, strictly_increasing ? "does not increase" : "decreases",
                         static_cast<std::int64_t>(k + 1) + entry_base, begin[k] + value_base,
                         begin[k + 1] + value_base);
  }
  if (static_cast<std::size_t>(begin.back()) != total)
    return fmt::format("{} ends at {}, but there are {} entries", name, begin.back() + value_base,
                       static_cast<std::int64_t>(total) + value_base);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> find_metadata_inconsistency(const ResultsMetadata& f) {
  const std::size_t n_seq = f.sequence_names.size();
  if (f.sequence_length.size() != n_seq)
    return fmt::format("/sequences/length has {} entries, /sequences/names {}", f.sequence_length.size(), n_seq);
  for (std::size_t s = 0; s < n_seq; ++s)
    if (f.sequence_length[s] < 0) return fmt::format("/sequences/length[{}] is negative ({})", s, f.sequence_length[s]);

  std::size_t n_tokens = 0;
  if (f.token_ids) n_tokens = f.token_ids->size();
  else if (f.tokens) n_tokens = f.tokens->size();
  if (f.token_ids && f.tokens && f.tokens->size() != n_tokens)
    return fmt::format("/sequences/tokens has {} entries, /sequences/token_ids {}", f.tokens->size(), n_tokens);
  if (auto e = check_begins(f.token_begin, n_seq, n_tokens, "/sequences/token_begin", false)) return e;
  for (std::size_t s = 0; s < n_seq; ++s) {
    const std::int64_t count = f.token_begin[s + 1] - f.token_begin[s];
    if (count != 0 && count != f.sequence_length[s])
      return fmt::format("sequence {} ('{}') has {} stored tokens but length {}", s, f.sequence_names[s], count,
                         f.sequence_length[s]);
  }
  return std::nullopt;
}

namespace {

// `jobs_before` etc.: what earlier batches wrote, to report file-wide numbers.
std::optional<std::string> check_csr(const TraceResults& r, std::int64_t jobs_before, std::int64_t paths_before,
                                     std::int64_t nodes_before) {
  if (r.score_norm.size() != r.num_paths())
    return fmt::format("/paths/score_norm has {} entries, /paths/score_raw {}", r.score_norm.size(), r.num_paths());
  if (r.node_edge_attn.size() != r.num_nodes())
    return fmt::format("/nodes/edge_attn has {} entries, /nodes/position {}", r.node_edge_attn.size(), r.num_nodes());
  if (auto e = check_begins(r.path_begin, r.num_jobs(), r.num_paths(), "/jobs/path_begin", false, jobs_before,
                            paths_before))
    return e;
  // Every path holds at least its target (p0).
  if (auto e = check_begins(r.node_begin, r.num_paths(), r.num_nodes(), "/paths/node_begin", true, paths_before,
                            nodes_before))
    return e;
  return std::nullopt;
}

// Job k's paths: each starts at the target with a NaN edge and strictly descends. `job_number` and
// `path_base` turn batch indices into file-wide ones for the message.
std::optional<std::string> check_job_paths(const TraceResults& r, std::size_t k, std::int64_t job_number,
                                           std::int64_t path_base) {
  const std::int32_t target = r.jobs[k].target;
  for (std::int64_t p = r.path_begin[k]; p < r.path_begin[k + 1]; ++p) {
    const std::int64_t first = r.node_begin[p], end = r.node_begin[p + 1];
    if (r.node_position[first] != target)
      return fmt::format("path {} of job {} starts at position {}, not at its target {}", p + path_base, job_number,
                         r.node_position[first], target);
    if (!std::isnan(r.node_edge_attn[first]))
      return fmt::format("path {}: /nodes/edge_attn of its target is {}, expected NaN", p + path_base,
                         r.node_edge_attn[first]);
    for (std::int64_t n = first + 1; n < end; ++n) {
      if (r.node_position[n] < 0 || r.node_position[n] >= r.node_position[n - 1])
        return fmt::format("path {}: /nodes/position goes from {} to {} (must decrease, staying >= 0)", p + path_base,
                           r.node_position[n - 1], r.node_position[n]);
    }
  }
  return std::nullopt;
}

constexpr std::size_t kJobsPerTask = 1024;

}  // namespace

bool JobChecker::seen_before(const JobKey& job) {
  std::vector<bool>& targets = seen_[{job.seq_index, job.layer, job.head}];
  if (targets.empty()) targets.resize(static_cast<std::size_t>(metadata_.sequence_length[job.seq_index]));
  const bool seen = targets[job.target];
  targets[job.target] = true;
  return seen;
}

std::optional<std::string> JobChecker::check(const TraceResults& r, ThreadPool* pool) {
  if (auto e = check_csr(r, jobs_before_, paths_before_, nodes_before_)) return e;
  const ResultsMetadata& f = metadata_;
  for (std::size_t k = 0; k < r.num_jobs(); ++k) {
    const JobKey& job = r.jobs[k];
    const std::int64_t number = jobs_before_ + static_cast<std::int64_t>(k);
    if (job.seq_index < 0 || static_cast<std::size_t>(job.seq_index) >= f.sequence_names.size())
      return fmt::format("job {}: /jobs/seq_index {} is outside [0, {})", number, job.seq_index,
                         f.sequence_names.size());
    if (job.layer < 0) return fmt::format("job {}: /jobs/layer is negative ({})", number, job.layer);
    if (job.head < kHeadMax) return fmt::format("job {}: /jobs/head is {} (expected >= -2)", number, job.head);
    const std::int32_t len = f.sequence_length[job.seq_index];
    if (job.target < 0 || job.target >= len)
      return fmt::format("job {}: /jobs/target {} is outside [0, {})", number, job.target, len);
    if (seen_before(job))
      return fmt::format("job {}: sequence {} layer {} head {} target {} appears twice", number, job.seq_index,
                         job.layer, head_label(job.head), job.target);
  }

  // Paths, in blocks of jobs; the first failing block's message wins, whatever the thread count.
  const std::size_t blocks = (r.num_jobs() + kJobsPerTask - 1) / kJobsPerTask;
  std::vector<std::optional<std::string>> found(blocks);
  const auto check_block = [&](std::int64_t b) {
    const std::size_t end = std::min(r.num_jobs(), (static_cast<std::size_t>(b) + 1) * kJobsPerTask);
    for (std::size_t k = static_cast<std::size_t>(b) * kJobsPerTask; k < end && !found[b]; ++k)
      found[b] = check_job_paths(r, k, jobs_before_ + static_cast<std::int64_t>(k), paths_before_);
  };
  if (pool) {
    pool->parallel_for(static_cast<std::int64_t>(blocks), check_block);
  } else {
    for (std::size_t b = 0; b < blocks; ++b) check_block(static_cast<std::int64_t>(b));
  }
  for (auto& e : found)
    if (e) return e;

  jobs_before_ += static_cast<std::int64_t>(r.num_jobs());
  paths_before_ += static_cast<std::int64_t>(r.num_paths());
  nodes_before_ += static_cast<std::int64_t>(r.num_nodes());
  return std::nullopt;
}

std::optional<std::string> find_results_inconsistency(const ResultsFile& file) {
  if (auto e = find_metadata_inconsistency(file)) return e;
  return JobChecker(file).check(file.results);
}

}  // namespace ratrace
