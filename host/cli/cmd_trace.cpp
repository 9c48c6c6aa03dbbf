// `ratrace trace INPUT.h5 -o OUT.h5`: the main job.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/trace_options.hpp"
#include "ratrace/corpus_reader.hpp"
#include "run/trace_run.hpp"
#include "util/counted.hpp"
#include "util/progress.hpp"
#include "util/stopwatch.hpp"

namespace ratrace::cli {
namespace {

// "engine 5.02 s: read 1.92 s, pack 0.31 s, ..., other 0.45 s; results thread: fetch ..., deliver
// ...": the phases the engine has (see EngineTimes), so a user sees whether reading, the device or
// the results bound a run.
std::string describe_engine_times(const EngineTimes& t) {
  std::vector<std::string> parts;
  double accounted = 0;
  const auto phase = [&](const char* name, double seconds, bool always) {
    if (seconds > 0 || always) parts.push_back(fmt::format("{} {:.2f} s", name, seconds));
    accounted += seconds;
  };
  phase("read", t.read_s, true);
  phase("pack", t.pack_s, false);
  phase("compute", t.compute_s, false);
  phase("device wait", t.device_wait_s, false);
  phase("results wait", t.results_wait_s, false);
  if (!t.results_beside) {
    phase("fetch", t.fetch_s, false);
    phase("deliver", t.deliver_s, false);
  }
  const double other = t.total_s - accounted;
  if (other >= 0.005) phase("other", other, false);  // the CPU has none: its compute is the rest
  std::string out = fmt::format("engine {:.2f} s: {}", t.total_s, fmt::join(parts, ", "));
  if (t.results_beside) out += fmt::format("; results thread: fetch {:.2f} s, deliver {:.2f} s", t.fetch_s, t.deliver_s);
  return out;
}

struct TraceCommand {
  TraceCliOptions options;
  std::string output;
  bool force = false;
};

int run_trace_command(const TraceCommand& cmd) {
  const TraceRequest request = finish_request(cmd.options);
  check_output_path(cmd.output, cmd.force);  // fail fast, before a long run
  const CorpusReader reader(request.input, ReaderOptions{request.threads});
  const PlannedTrace planned = plan_trace(reader, request);
  const auto engine = choose_engine(request);
  fmt::print(stderr, "ratrace: tracing {} ({}) of {} on {}\n", counted(planned.plan.num_jobs(), "job", "jobs"),
             counted(planned.plan.num_matrices(), "matrix", "matrices"), request.input, engine->device_description());

  const auto start = std::chrono::steady_clock::now();
  const TraceSummary done =
      trace_to_file(reader, planned, request, *engine, cmd.output, cmd.force, make_terminal_progress("trace"));
  const double seconds = seconds_since(start);
  // The writer's share says what bounds a run: writing (the engine waited) or tracing.
  fmt::print(stderr,
             "ratrace: wrote {}: {}, {}, {} in {:.2f} s ({:.0f} jobs/s; writer busy {:.2f} s, "
             "{} waited {:.2f} s for it)\n",
             cmd.output, counted(done.jobs, "job", "jobs"), counted(done.paths, "path", "paths"),
             counted(done.nodes, "node", "nodes"), seconds,
             seconds > 0 ? static_cast<double>(done.jobs) / seconds : 0.0, done.writer_busy_s,
             done.engine.results_beside ? "results thread" : "engine", done.engine_wait_s);
  fmt::print(stderr, "ratrace: {}\n", describe_engine_times(done.engine));
  return 0;
}

}  // namespace

void register_trace(CLI::App& root, int& exit_code) {
  auto cmd = std::make_shared<TraceCommand>();
  CLI::App* sub = root.add_subcommand("trace", "Trace paths backwards from targets, for every selected job");
  sub->add_option("input", cmd->options.request.input, "Input corpus (HDF5, see docs/FORMAT.md)")->required();
  sub->add_option("-o,--output", cmd->output, "Results file to write (HDF5)")->required();
  sub->add_flag("--force", cmd->force, "Overwrite the results file if it exists");
  add_trace_options(*sub, cmd->options);
  sub->footer(
      "SEL: 'all', integers (negative from the end) and Python slices, comma-separated: 0,4:8,-1\n"
      "Defaults: --sequences all --layers -1 --heads mean --targets -1\n");
  sub->callback([cmd, &exit_code] { exit_code = run_trace_command(*cmd); });
}

}  // namespace ratrace::cli
