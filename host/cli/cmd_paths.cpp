// `ratrace paths OUT.h5`: shows the paths of a results file, filtered by sequence, layer, head and
// target, as text, csv or json (formats in cli/paths_format.cpp, documented in docs/FORMAT.md).
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/job_filter.hpp"
#include "cli/paths_format.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/results.hpp"

namespace ratrace::cli {
namespace {

struct PathsOptions {
  std::string file;
  JobFilter filter;
  std::string format = "text";
  int top = 0;
};

PathsFormat parse_format(const std::string& name) {
  if (name == "csv") return PathsFormat::csv;
  if (name == "json") return PathsFormat::json;
  return PathsFormat::text;
}

void run_paths(const PathsOptions& o) {
  const ResultsFile file = read_results_file(o.file);
  const std::vector<std::size_t> jobs = select_jobs(file, o.file, o.filter);
  if (jobs.empty()) {
    require_traced_jobs(file, o.file);
    throw UsageError(fmt::format("no job in '{}' matches{}", o.file, describe(o.filter)));
  }
  print_paths(stdout, file, jobs, parse_format(o.format), o.top);
  std::fflush(stdout);
}

}  // namespace

void register_paths(CLI::App& root, int& exit_code) {
  auto options = std::make_shared<PathsOptions>();
  auto* sub = root.add_subcommand("paths", "Show the paths of a results file, earliest token first");
  sub->add_option("results", options->file, "results file written by `ratrace trace`")->required();
  add_job_filter_options(*sub, options->filter);
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
