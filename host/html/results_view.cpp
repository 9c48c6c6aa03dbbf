#include "html/results_view.hpp"

#include <algorithm>
#include <numeric>

#include "ratrace/beam_search.hpp"
#include "ratrace/params.hpp"

namespace ratrace::html {

std::string head_name(std::int32_t head) {
  if (head == kHeadMean) return "mean";
  if (head == kHeadMax) return "max";
  return std::to_string(head);
}

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

std::vector<double> job_path_weights(const ResultsFile& file, std::size_t job) {
  const TraceResults& r = file.results;
  const std::vector<double> scores(r.score_norm.begin() + r.path_begin[job], r.score_norm.begin() + r.path_begin[job + 1]);
  if (scores.empty()) return {};
  return path_weights(scores);
}

StatsView stats_of(const ResultsFile& file) {
  if (file.stats) return {*file.stats, true};
  return {compute_decay_stats(file.results, {}), false};
}

}  // namespace ratrace::html
