// `ratrace paths OUT.h5`: shows the paths of a results file, filtered by sequence, layer, head and
// target, as text, csv or json (formats in cli/paths_format.cpp, documented in docs/FORMAT.md).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/paths_format.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"

namespace ratrace::cli {
namespace {

struct PathsOptions {
  std::string file;
  std::string seq;
  int layer = 0;
  std::string head;
  int target = 0;
  std::string format = "text";
  int top = 0;
  // Which filters were given (CLI11 counts them).
  CLI::Option* seq_opt = nullptr;
  CLI::Option* layer_opt = nullptr;
  CLI::Option* head_opt = nullptr;
  CLI::Option* target_opt = nullptr;
};

std::optional<int> parse_int(const std::string& text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// A sequence by exact name first (names may look like numbers), else by index, negative from the end.
int resolve_sequence(const ResultsFile& file, const std::string& path, const std::string& seq) {
  const auto& names = file.sequence_names;
  const auto it = std::find(names.begin(), names.end(), seq);
  if (it != names.end()) return static_cast<int>(it - names.begin());
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

int resolve_head(const ResultsFile& file, const std::string& head) {
  if (head == "mean") return kHeadMean;
  if (head == "max") return kHeadMax;
  const std::optional<int> index = parse_int(head);
  if (!index) throw UsageError(fmt::format("bad --head '{}': expected a head index, mean or max", head));
  return *index >= 0 ? *index : highest_plus_one(file.results, false) + *index;
}

std::string describe_filters(const PathsOptions& o) {
  std::string text;
  if (*o.seq_opt) text += fmt::format(" --seq {}", o.seq);
  if (*o.layer_opt) text += fmt::format(" --layer {}", o.layer);
  if (*o.head_opt) text += fmt::format(" --head {}", o.head);
  if (*o.target_opt) text += fmt::format(" --target {}", o.target);
  return text;
}

// Indices of the matching jobs, ordered by sequence, layer, head (max, mean, then 0, 1, ...) and target.
std::vector<std::size_t> select_jobs(const ResultsFile& file, const PathsOptions& o) {
  const TraceResults& r = file.results;
  const std::optional<int> seq = *o.seq_opt ? std::optional(resolve_sequence(file, o.file, o.seq)) : std::nullopt;
  std::optional<int> layer;
  if (*o.layer_opt) layer = o.layer >= 0 ? o.layer : highest_plus_one(r, true) + o.layer;
  const std::optional<int> head = *o.head_opt ? std::optional(resolve_head(file, o.head)) : std::nullopt;

  std::vector<std::size_t> jobs;
  for (std::size_t k = 0; k < r.num_jobs(); ++k) {
    const JobKey& job = r.jobs[k];
    // Targets are resolved against each sequence's own length, as `ratrace trace --targets` does.
    const int target = o.target >= 0 ? o.target : file.sequence_length[job.seq_index] + o.target;
    if ((seq && job.seq_index != *seq) || (layer && job.layer != *layer) || (head && job.head != *head) ||
        (*o.target_opt && job.target != target))
      continue;
    jobs.push_back(k);
  }
  std::sort(jobs.begin(), jobs.end(), [&r](std::size_t a, std::size_t b) { return r.jobs[a] < r.jobs[b]; });
  return jobs;
}

PathsFormat parse_format(const std::string& name) {
  if (name == "csv") return PathsFormat::csv;
  if (name == "json") return PathsFormat::json;
  return PathsFormat::text;
}

void run_paths(const PathsOptions& o) {
  const ResultsFile file = read_results_file(o.file);
  const std::vector<std::size_t> jobs = select_jobs(file, o);
  if (jobs.empty()) {
    if (file.results.num_jobs() == 0) throw InputError(fmt::format("'{}' holds no traced jobs", o.file));
    throw UsageError(fmt::format("no job in '{}' matches{}", o.file, describe_filters(o)));
  }
  print_paths(stdout, file, jobs, parse_format(o.format), o.top);
  std::fflush(stdout);
}

}  // namespace

void register_paths(CLI::App& root, int& exit_code) {
  auto options = std::make_shared<PathsOptions>();
  auto* sub = root.add_subcommand("paths", "Show the paths of a results file, earliest token first");
  sub->add_option("results", options->file, "results file written by `ratrace trace`")->required();
  options->seq_opt = sub->add_option("--seq", options->seq, "sequence name, or index (negative from the end)");
  options->layer_opt = sub->add_option("--layer", options->layer, "layer (negative: from the highest traced layer)");
  options->head_opt = sub->add_option("--head", options->head, "head index, mean or max");
  options->target_opt =
      sub->add_option("--target", options->target, "target position (negative: from the sequence's end)");
  sub->add_option("--format", options->format, "text, csv or json")
      ->check(CLI::IsMember({"text", "csv", "json"}))
      ->capture_default_str();
  sub->add_option("--top", options->top, "show at most N paths per job (default: all)")->check(CLI::PositiveNumber);
  sub->callback([options, &exit_code] {
    run_paths(*options);
    exit_code = kExitOk;
  });
}

}  // namespace ratrace::cli
