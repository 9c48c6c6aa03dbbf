// `ratrace demo`: the main job on a built-in example. Synthesises a small corpus, traces every
// layer and head for a few targets, prints some paths and a one-screen summary.
#include <fmt/format.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/commands.hpp"
#include "cli/job_filter.hpp"
#include "cli/paths_format.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/results.hpp"
#include "ratrace/synth.hpp"
#include "run/trace_run.hpp"
#include "util/progress.hpp"
#include "util/stopwatch.hpp"

namespace ratrace::cli {
namespace {

struct DemoCommand {
  std::string dir;
  std::string device = "auto";
  int threads = 0;
};

std::string make_demo_dir(const std::string& requested) {
  if (!requested.empty()) {
    std::filesystem::create_directories(requested);
    return requested;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "ratrace-demo-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a temporary directory");
  return pattern;
}

// Per layer, averaged over its jobs: path-weighted hops, path-weighted length of the first hop
// (1 for a previous-token head, long for a sink), and the weight of the best path.
struct LayerSummary {
  double jobs = 0, hops = 0, first_hop = 0, top_weight = 0;
};

std::map<int, LayerSummary> summarise_layers(const TraceResults& r) {
  std::map<int, LayerSummary> layers;
  for (std::size_t k = 0; k < r.num_jobs(); ++k) {
    const std::vector<double> weights = r.job_path_weights(k);
    LayerSummary& s = layers[r.jobs[k].layer];
    s.jobs += 1;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const std::int64_t p = r.path_begin[k] + static_cast<std::int64_t>(i);
      const std::int64_t edges = r.node_begin[p + 1] - r.node_begin[p] - 1;
      s.hops += weights[i] * static_cast<double>(edges);
      if (edges > 0) s.first_hop += weights[i] * (r.jobs[k].target - r.node_position[r.node_begin[p] + 1]);
    }
    s.top_weight += weights.front();
  }
  return layers;
}

int run_demo(const DemoCommand& cmd) {
  const std::string dir = make_demo_dir(cmd.dir);
  const std::string corpus = dir + "/corpus.h5";
  const std::string results = dir + "/results.h5";

  SynthOptions synth;
  synth.num_sequences = 2;
  synth.num_layers = 4;
  synth.num_heads = 8;
  synth.min_len = 48;
  synth.max_len = 64;
  synth.with_mask = true;
  synth.seed = 2026;
  std::filesystem::remove(corpus);
  write_synthetic_corpus(corpus, synth);
  fmt::print("ratrace demo: synthetic corpus {} (2 sequences x 4 layers x 8 heads, 48-64 tokens)\n", corpus);

  TraceRequest request;
  request.input = corpus;
  request.layers = "all";
  request.heads = "all,mean,max";
  request.targets = "-1,-2,-4,-8,-16";
  request.device = cmd.device;
  request.threads = cmd.threads;
  const CorpusReader reader(corpus, ReaderOptions{request.threads});
  const PlannedTrace planned = plan_trace(reader, request);
  const auto engine = choose_engine(request);
  const auto start = std::chrono::steady_clock::now();
  trace_to_file(reader, planned, request, *engine, results, /*force=*/true, make_terminal_progress("demo"));
  const double seconds = seconds_since(start);
  const ResultsFile file = read_results_file(results);  // what a user would read back

  const TraceResults& r = file.results;
  const int last_layer = synth.num_layers - 1;
  // The job of the first sequence's last token, through `layer` and `head` (like `ratrace paths`).
  auto last_token_job = [&](int layer, const std::string& head) {
    const JobFilter filter{.seq = file.sequence_names[0], .layer = layer, .head = head, .target = -1};
    return select_jobs(file, results, filter);
  };
  fmt::print("\nTop paths into the last token of {}, layer {}, mean of heads (earliest token first):\n",
             file.sequence_names[0], last_layer);
  print_paths(stdout, file, last_token_job(last_layer, "mean"), PathsFormat::text, 3);
  fmt::print("\nThe same target through single heads of layer 0: an attention sink (head 0), then an\n"
             "induction-like head (head 3):\n");
  print_paths(stdout, file, last_token_job(0, "0"), PathsFormat::text, 2);
  print_paths(stdout, file, last_token_job(0, "3"), PathsFormat::text, 2);

  fmt::print("\nSummary\n");
  fmt::print("  device        {}\n", file.device);
  fmt::print("  traced        {} jobs ({} matrices), {} paths, {} nodes in {:.2f} s ({:.0f} jobs/s)\n", r.num_jobs(),
             planned.plan.num_matrices(), r.num_paths(), r.num_nodes(), seconds,
             seconds > 0 ? static_cast<double>(r.num_jobs()) / seconds : 0.0);
  fmt::print("  search        top_beam {}, top_k {}, length_norm {}, BOS id {}\n", request.params.top_beam,
             request.params.top_k, request.params.length_norm.to_string(),
             planned.effective_bos ? fmt::format("{}", *planned.effective_bos) : "none");
  fmt::print("\n  per layer (path-weighted means over its {} jobs):\n", r.num_jobs() / synth.num_layers);
  fmt::print("  layer   hops   first-hop distance   best path weight\n");
  for (const auto& [layer, s] : summarise_layers(r))
    fmt::print("  {:>5} {:>6.1f} {:>20.1f} {:>18.2f}\n", layer, s.hops / s.jobs, s.first_hop / s.jobs,
               s.top_weight / s.jobs);
  fmt::print("\nResults: {}\nNext:    ratrace paths {} --layer {} --head mean --target=-1\n", results, results,
             last_layer);
  fmt::print("         ratrace decay {}    ratrace report {} -o {}/report.html\n", results, results, dir);
  return 0;
}

}  // namespace

void register_demo(CLI::App& root, int& exit_code) {
  auto cmd = std::make_shared<DemoCommand>();
  CLI::App* sub = root.add_subcommand(
      "demo", "Synthesise a small corpus, trace every layer and head, print paths and a summary");
  sub->add_option("--dir", cmd->dir, "Folder for the corpus and results (default: a new temporary folder, kept)");
  sub->add_option("--device", cmd->device, "auto | cpu | gpu")->check(CLI::IsMember({"auto", "cpu", "gpu"}))
      ->capture_default_str();
  sub->add_option("--threads", cmd->threads, "CPU threads (0 = all this process may use)")->check(CLI::NonNegativeNumber);
  sub->callback([cmd, &exit_code] { exit_code = run_demo(*cmd); });
}

}  // namespace ratrace::cli
