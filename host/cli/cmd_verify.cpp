// `ratrace verify INPUT.h5 [trace options] [--sample N] [--seed S]`: runs the GPU engine on the
// whole plan and the CPU reference on all of it (or on a seeded sample of jobs), and compares them
// per SPEC §2. Prints the first few mismatches, then one summary line; exit 1 on a real mismatch.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>

#include "cli/commands.hpp"
#include "cli/trace_options.hpp"
#include "io/results_consistency.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/errors.hpp"
#include "run/trace_run.hpp"
#include "util/progress.hpp"
#include "util/stopwatch.hpp"
#include "verify/compare.hpp"
#include "verify/host_probe.hpp"
#include "verify/sample_plan.hpp"

namespace ratrace::cli {
namespace {

struct VerifyCommand {
  TraceCliOptions options;
  std::int64_t sample = 0;
  std::uint64_t seed = 1;
};

int run_verify_command(const VerifyCommand& cmd) {
  const TraceRequest request = finish_request(cmd.options);
  if (cmd.sample < 0) throw UsageError(fmt::format("--sample {}: expected a number of jobs >= 0 (0 = all)", cmd.sample));
  const GpuStatus gpu = query_gpu();
  if (!gpu.usable) throw UsageError("no usable GPU: " + gpu.reason);

  const CorpusReader reader(request.input, ReaderOptions{request.threads});
  const PlannedTrace planned = plan_trace(reader, request);
  GpuOptions gpu_options;
  gpu_options.mem_limit_bytes = request.gpu_mem_bytes;
  const auto gpu_engine = make_gpu_engine(gpu_options);
  const auto cpu_engine = make_cpu_engine(request.threads);
  const TracePlan cpu_plan = sample_plan(planned.plan, cmd.sample, cmd.seed);
  const std::int64_t total_jobs = planned.plan.num_jobs();
  const std::int64_t cpu_jobs = cpu_plan.num_jobs();

  auto start = std::chrono::steady_clock::now();
  // The GPU runs the whole plan (as `trace` would). All its output is checked against the SPEC §5
  // invariants (each job once, paths descending from their target), as the results writer would;
  // only the jobs the CPU runs are kept for the comparison.
  ResultsMetadata sequence_table;
  for (const SequenceInfo& info : reader.sequences()) {
    sequence_table.sequence_names.push_back(info.name);
    sequence_table.sequence_length.push_back(info.seq_len);
    sequence_table.token_begin.push_back(0);
  }
  JobChecker gpu_checker(sequence_table);
  std::optional<std::string> gpu_output_problem;
  std::set<JobKey> sampled;
  for (const SequencePlan& sp : cpu_plan.sequences)
    for (const int layer : sp.layers)
      for (const int head : sp.heads)
        for (const int target : sp.targets) sampled.insert(JobKey{sp.seq_index, layer, head, target});
  TraceOutput gpu_out;
  RecyclingSink keep_sampled([&](const TraceBatch& batch) {
    const TraceResults& r = batch.results;
    if (!gpu_output_problem) gpu_output_problem = gpu_checker.check(r);
    for (std::size_t k = 0; k < r.num_jobs(); ++k)
      if (sampled.count(r.jobs[k])) gpu_out.results.append(r.jobs[k], r.job_paths(k));
    gpu_out.profiles.insert(gpu_out.profiles.end(), batch.profiles.begin(), batch.profiles.end());
  });
  gpu_out.row_sums = gpu_engine->run(reader, planned.plan, request.params, keep_sampled, make_terminal_progress("gpu")).row_sums;
  const double gpu_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  const TraceOutput cpu_out = run_collect(*cpu_engine, reader, cpu_plan, request.params, make_terminal_progress("cpu"));
  const double cpu_seconds = seconds_since(start);
  fmt::print(stderr, "ratrace: verify: gpu traced {} jobs in {:.2f} s, cpu {} jobs in {:.2f} s\n", total_jobs,
             gpu_seconds, cpu_jobs, cpu_seconds);

  HostNearTieProbe probe(reader, planned.plan, request.params);
  const CompareReport report = compare_results(
      cpu_out.results, gpu_out.results, request.params, [&](const JobKey& k) { return probe(k); }, 5,
      [&](const JobKey& k, std::int32_t from, std::int32_t to, float attn) { return probe.is_candidate(k, from, to, attn); });
  const ProfileReport profiles = compare_profiles(cpu_out.profiles, gpu_out.profiles);

  if (gpu_output_problem) fmt::print("mismatch: gpu output: {}\n", *gpu_output_problem);
  for (const std::string& line : report.first_mismatches) fmt::print("mismatch: {}\n", line);
  for (const std::string& line : profiles.first_mismatches) fmt::print("mismatch: {}\n", line);
  const std::string scope = cpu_jobs == total_jobs ? std::string("all jobs")
                                                   : fmt::format("sample of {} of {}, seed {}", cpu_jobs, total_jobs, cmd.seed);
  fmt::print("verify: {} jobs compared ({}), {} mismatches, {} near-ties, {} profiles compared ({} off), gpu {} vs {}\n",
             report.jobs_compared, scope, report.mismatches + (gpu_output_problem ? 1 : 0), report.near_ties,
             profiles.compared, profiles.mismatches, gpu.name, cpu_engine->device_description());
  return report.mismatches > 0 || profiles.mismatches > 0 || gpu_output_problem ? kExitMismatch : kExitOk;
}

}  // namespace

void register_verify(CLI::App& root, int& exit_code) {
  auto cmd = std::make_shared<VerifyCommand>();
  CLI::App* sub = root.add_subcommand("verify", "Run the GPU and the CPU reference on the same jobs and compare them");
  sub->add_option("input", cmd->options.request.input, "Input corpus (HDF5, see docs/FORMAT.md)")->required();
  sub->add_option("--sample", cmd->sample, "Compare this many jobs, chosen at random from --seed (0 = all)")
      ->capture_default_str();
  sub->add_option("--seed", cmd->seed, "Seed of the --sample choice")->capture_default_str();
  add_trace_options(*sub, cmd->options);
  sub->footer(
      "The GPU traces every selected job; the CPU reference traces all of them or the --sample.\n"
      "Exit 0: identical (near-ties counted), 1: a real mismatch, 2: bad input or no usable GPU.\n"
      "--device is ignored: verify always runs both.");
  sub->callback([cmd, &exit_code] { exit_code = run_verify_command(*cmd); });
}

}  // namespace ratrace::cli
