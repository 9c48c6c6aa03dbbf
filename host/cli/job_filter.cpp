#include "cli/job_filter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"

namespace ratrace::cli {
namespace {

std::optional<int> parse_int(const std::string& text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// By exact name first (names may look like numbers), else by index, negative from the end.
int resolve_sequence(const ResultsFile& file, const std::string& path, const std::string& seq) {
  const auto& names = file.sequence_names;
  if (const auto it = std::find(names.begin(), names.end(), seq); it != names.end())
    return static_cast<int>(it - names.begin());
  const int n = static_cast<int>(names.size());
  if (const std::optional<int> index = parse_int(seq); index && *index >= -n && *index < n)
    return *index < 0 ? n + *index : *index;
  throw UsageError(fmt::format("'{}' has no sequence '{}' (give a name or an index in [{}, {}))", path, seq, -n, n));
}

// The results do not record how many layers or heads the model had, so negative values count from
// the highest one present in the file: --layer -1 is the highest traced layer.
int highest_plus_one(const TraceResults& r, bool layers) {
  int highest = -1;
  for (const JobKey& job : r.jobs) highest = std::max(highest, layers ? job.layer : job.head);
  return highest + 1;
}

int resolve_layer(const ResultsFile& file, int layer) {
  return layer >= 0 ? layer : highest_plus_one(file.results, true) + layer;
}

int resolve_head(const ResultsFile& file, const std::string& head) {
  if (head == "mean") return kHeadMean;
  if (head == "max") return kHeadMax;
  const std::optional<int> index = parse_int(head);
  if (!index) throw UsageError(fmt::format("bad --head '{}': expected a head index, mean or max", head));
  return *index >= 0 ? *index : highest_plus_one(file.results, false) + *index;
}

}  // namespace

void add_job_filter_options(CLI::App& app, JobFilter& filter) {
  app.add_option("--seq", filter.seq, "sequence name, or index (negative from the end)");
  app.add_option("--layer", filter.layer, "layer (negative: from the highest traced layer)");
  app.add_option("--head", filter.head, "head index, mean or max");
  app.add_option("--target", filter.target, "target position (negative: from the sequence's end)");
}

std::string describe(const JobFilter& filter) {
  std::string text;
  if (filter.seq) text += fmt::format(" --seq {}", *filter.seq);
  if (filter.layer) text += fmt::format(" --layer {}", *filter.layer);
  if (filter.head) text += fmt::format(" --head {}", *filter.head);
  if (filter.target) text += fmt::format(" --target {}", *filter.target);
  return text;
}

std::vector<std::size_t> select_jobs(const ResultsFile& file, const std::string& path, const JobFilter& filter) {
  const TraceResults& r = file.results;
  std::optional<int> seq, layer, head;
  if (filter.seq) seq = resolve_sequence(file, path, *filter.seq);
  if (filter.layer) layer = resolve_layer(file, *filter.layer);
  if (filter.head) head = resolve_head(file, *filter.head);

  std::vector<std::size_t> jobs;
  for (std::size_t k = 0; k < r.num_jobs(); ++k) {
    const JobKey& job = r.jobs[k];
    if ((seq && job.seq_index != *seq) || (layer && job.layer != *layer) || (head && job.head != *head)) continue;
    if (filter.target) {
      // Against each sequence's own length, as `ratrace trace --targets` does.
      const int target = *filter.target >= 0 ? *filter.target : file.sequence_length[job.seq_index] + *filter.target;
      if (job.target != target) continue;
    }
    jobs.push_back(k);
  }
  std::stable_sort(jobs.begin(), jobs.end(), [&r](std::size_t a, std::size_t b) { return r.jobs[a] < r.jobs[b]; });
  return jobs;
}

void require_traced_jobs(const ResultsFile& file, const std::string& path) {
  if (file.results.num_jobs() == 0) throw InputError(fmt::format("'{}' holds no traced jobs", path));
}

}  // namespace ratrace::cli
