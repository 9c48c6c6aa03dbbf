// `ratrace report OUT.h5 -o report.html`: one self-contained page about a results file
// (host/html/report_page.cpp).
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/job_filter.hpp"
#include "cli/text_file.hpp"
#include "html/report_page.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/results.hpp"

namespace ratrace::cli {
namespace {

struct ReportOptions {
  std::string file;
  std::string output;
};

void run_report(const ReportOptions& o) {
  const ResultsFile file = read_results_file(o.file);
  require_traced_jobs(file, o.file);
  write_text_file(o.output, html::report_page(file, o.file));
  fmt::print(stderr, "ratrace: wrote {}\n", o.output);
}

}  // namespace

void register_report(CLI::App& root, int& exit_code) {
  auto options = std::make_shared<ReportOptions>();
  auto* sub = root.add_subcommand("report", "Write a self-contained HTML report of a results file");
  sub->add_option("results", options->file, "results file written by `ratrace trace`")->required();
  sub->add_option("-o,--output", options->output, "HTML file to write")->required();
  sub->callback([options, &exit_code] {
    run_report(*options);
    exit_code = kExitOk;
  });
}

}  // namespace ratrace::cli
