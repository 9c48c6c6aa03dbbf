// `ratrace render OUT.h5 --seq S --layer L --head H --target T -o trace.html`: one job's paths as a
// self-contained interactive Sankey page (host/html/sankey_page.cpp).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "html/results_view.hpp"
#include "html/sankey_page.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"

namespace ratrace::cli {
namespace {

struct RenderOptions {
  std::string file;
  std::string seq;
  int layer = 0;
  std::string head;
  int target = 0;
  std::string output;
  CLI::Option* seq_opt = nullptr;
  CLI::Option* layer_opt = nullptr;
  CLI::Option* head_opt = nullptr;
  CLI::Option* target_opt = nullptr;
};

std::optional<int> parse_int(const std::string& text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// By exact name first (names may look like numbers), else by index, negative from the end.
int resolve_sequence(const ResultsFile& file, const RenderOptions& o) {
  const auto& names = file.sequence_names;
  if (const auto it = std::find(names.begin(), names.end(), o.seq); it != names.end())
    return static_cast<int>(it - names.begin());
  const int n = static_cast<int>(names.size());
  if (const std::optional<int> index = parse_int(o.seq); index && *index >= -n && *index < n)
    return *index < 0 ? n + *index : *index;
  throw UsageError(fmt::format("'{}' has no sequence '{}' (give a name or an index in [{}, {}))", o.file, o.seq, -n, n));
}

// The results do not record the model's size: negative layers and heads count from the highest
// one traced (as `ratrace paths` does).
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

std::string describe(const RenderOptions& o) {
  std::string text;
  if (*o.seq_opt) text += fmt::format(" --seq {}", o.seq);
  if (*o.layer_opt) text += fmt::format(" --layer {}", o.layer);
  if (*o.head_opt) text += fmt::format(" --head {}", o.head);
  if (*o.target_opt) text += fmt::format(" --target {}", o.target);
  return text;
}

// The first matching job in (sequence, layer, head, target) order, and how many matched.
std::pair<std::size_t, std::size_t> find_job(const ResultsFile& file, const RenderOptions& o) {
  const TraceResults& r = file.results;
  if (r.num_jobs() == 0) throw InputError(fmt::format("'{}' holds no traced jobs", o.file));
  const std::optional<int> seq = *o.seq_opt ? std::optional(resolve_sequence(file, o)) : std::nullopt;
  std::optional<int> layer;
  if (*o.layer_opt) layer = o.layer >= 0 ? o.layer : highest_plus_one(r, true) + o.layer;
  const std::optional<int> head = *o.head_opt ? std::optional(resolve_head(file, o.head)) : std::nullopt;
  std::vector<std::size_t> matches;
  for (std::size_t k : html::sorted_jobs(file)) {
    const JobKey& job = r.jobs[k];
    const int target = o.target >= 0 ? o.target : file.sequence_length[job.seq_index] + o.target;
    if ((seq && job.seq_index != *seq) || (layer && job.layer != *layer) || (head && job.head != *head) ||
        (*o.target_opt && job.target != target))
      continue;
    matches.push_back(k);
  }
  if (matches.empty())
    throw UsageError(fmt::format("no job in '{}' matches{} (list them with `ratrace paths {}`)", o.file, describe(o),
                                 o.file));
  return {matches.front(), matches.size()};
}

void run_render(const RenderOptions& o) {
  const ResultsFile file = read_results_file(o.file);
  const auto [job, matches] = find_job(file, o);
  const JobKey& key = file.results.jobs[job];
  if (matches > 1)
    fmt::print(stderr,
               "ratrace: note: {} jobs match; rendering sequence '{}' layer {} head {} target {} (narrow it with "
               "--seq, --layer, --head, --target)\n",
               matches, file.sequence_names[key.seq_index], key.layer, html::head_name(key.head), key.target);
  const std::string page = html::sankey_page(file, job, o.file);
  std::ofstream out(o.output, std::ios::binary | std::ios::trunc);
  if (!out) throw UsageError(fmt::format("cannot write '{}'", o.output));
  out << page;
  if (!out.flush()) throw UsageError(fmt::format("cannot write '{}'", o.output));
  const std::int64_t paths = file.results.path_begin[job + 1] - file.results.path_begin[job];
  fmt::print(stderr, "ratrace: wrote {} ({} {})\n", o.output, paths, paths == 1 ? "path" : "paths");
}

}  // namespace

void register_render(CLI::App& root, int& exit_code) {
  auto options = std::make_shared<RenderOptions>();
  auto* sub = root.add_subcommand("render", "Draw one job's paths as an interactive Sankey diagram (one HTML file)");
  sub->add_option("results", options->file, "results file written by `ratrace trace`")->required();
  options->seq_opt = sub->add_option("--seq", options->seq, "sequence name, or index (negative from the end)");
  options->layer_opt = sub->add_option("--layer", options->layer, "layer (negative: from the highest traced layer)");
  options->head_opt = sub->add_option("--head", options->head, "head index, mean or max");
  options->target_opt =
      sub->add_option("--target", options->target, "target position (negative: from the sequence's end)");
  sub->add_option("-o,--output", options->output, "HTML file to write")->required();
  sub->callback([options, &exit_code] {
    run_render(*options);
    exit_code = kExitOk;
  });
}

}  // namespace ratrace::cli
