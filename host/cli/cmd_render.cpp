// `ratrace render OUT.h5 --seq S --layer L --head H --target T -o trace.html`: one job's paths as a
// self-contained interactive Sankey page (host/html/sankey_page.cpp).
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/job_filter.hpp"
#include "cli/text_file.hpp"
#include "html/sankey_page.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/results.hpp"
#include "util/head_label.hpp"

namespace ratrace::cli {
namespace {

struct RenderOptions {
  std::string file;
  JobFilter filter;
  std::string output;
};

void run_render(const RenderOptions& o) {
  const ResultsFile file = read_results_file(o.file);
  require_traced_jobs(file, o.file);
  const std::vector<std::size_t> matches = select_jobs(file, o.file, o.filter);
  if (matches.empty())
    throw UsageError(fmt::format("no job in '{}' matches{} (list them with `ratrace paths {}`)", o.file,
                                 describe(o.filter), o.file));
  // The first match in (sequence, layer, head, target) order.
  const std::size_t job = matches.front();
  const JobKey& key = file.results.jobs[job];
  if (matches.size() > 1)
    fmt::print(stderr,
               "ratrace: note: {} jobs match; rendering sequence '{}' layer {} head {} target {} (narrow it with "
               "--seq, --layer, --head, --target)\n",
               matches.size(), file.sequence_names[key.seq_index], key.layer, head_label(key.head), key.target);
  write_text_file(o.output, html::sankey_page(file, job, o.file));
  const std::int64_t paths = file.results.path_begin[job + 1] - file.results.path_begin[job];
  fmt::print(stderr, "ratrace: wrote {} ({} {})\n", o.output, paths, paths == 1 ? "path" : "paths");
}

}  // namespace

void register_render(CLI::App& root, int& exit_code) {
  auto options = std::make_shared<RenderOptions>();
  auto* sub = root.add_subcommand("render", "Draw one job's paths as an interactive Sankey diagram (one HTML file)");
  sub->add_option("results", options->file, "results file written by `ratrace trace`")->required();
  add_job_filter_options(*sub, options->filter);
  sub->add_option("-o,--output", options->output, "HTML file to write")->required();
  sub->callback([options, &exit_code] {
    run_render(*options);
    exit_code = kExitOk;
  });
}

}  // namespace ratrace::cli
