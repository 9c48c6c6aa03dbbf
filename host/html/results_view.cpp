#include "html/results_view.hpp"

#include <algorithm>
#include <numeric>

namespace ratrace::html {

std::optional<std::string> token_at(const ResultsFile& file, std::int32_t seq, std::int32_t pos) {
  if (seq < 0 || static_cast<std::size_t>(seq) + 1 >= file.token_begin.size()) return std::nullopt;
  const std::int64_t begin = file.token_begin[seq], end = file.token_begin[seq + 1];
  if (pos < 0 || begin + pos >= end) return std::nullopt;
  const auto k = static_cast<std::size_t>(begin + pos);
  if (file.tokens && k < file.tokens->size()) return (*file.tokens)[k];
  if (file.token_ids && k < file.token_ids->size()) return "#" + std::to_string((*file.token_ids)[k]);
  return std::nullopt;
}

std::vector<std::size_t> sorted_jobs(const ResultsFile& file) {
  std::vector<std::size_t> jobs(file.results.num_jobs());
  std::iota(jobs.begin(), jobs.end(), std::size_t{0});
  std::stable_sort(jobs.begin(), jobs.end(),
                   [&](std::size_t a, std::size_t b) { return file.results.jobs[a] < file.results.jobs[b]; });
  return jobs;
}

StatsView stats_of(const ResultsFile& file) {
  if (file.stats) return {*file.stats, true};
  return {compute_decay_stats(file.results, {}), false};
}

}  // namespace ratrace::html
