#pragma once
// Orchestration of `ratrace trace`: request -> plan -> engine -> results file contents.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ratrace/corpus_reader.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"
#include "run/results_stream.hpp"

namespace ratrace {

// What the user asked for (the CLI's trace options).
struct TraceRequest {
  std::string input;
  std::string sequences = "all";
  std::string layers = "-1";
  std::string heads = "mean";
  std::string targets = "-1";
  SearchParams params;
  std::optional<std::int64_t> bos_token_id;  // overrides the file's attribute
  std::string device = "auto";               // auto | cpu | gpu
  int threads = 0;                           // CPU engine and results-writer threads, 0 = all available
  std::int64_t gpu_mem_bytes = 0;            // 0 = a safe fraction of free GPU memory
};

struct PlannedTrace {
  TracePlan plan;
  std::optional<std::int64_t> effective_bos;  // the BOS id in force, if any
  std::string params_json;                    // SPEC §6
};

// Resolves selections per sequence and loads masks and BOS positions. Throws UsageError on bad
// selections (naming the sequence) and InputError on bad token data. Warns once on stderr when
// stop_at_bos is on but no BOS positions can be known.
PlannedTrace plan_trace(const CorpusReader& reader, const TraceRequest& request);

// auto: GPU when usable, else CPU; gpu: UsageError when none is usable; cpu: the reference.
std::unique_ptr<Engine> choose_engine(const TraceRequest& request);

// Everything the results file holds besides the paths: parameters, device, the sequence table and
// the traced sequences' tokens.
ResultsMetadata make_results_metadata(const CorpusReader& reader, const PlannedTrace& planned,
                                      const TraceRequest& request, const Engine& engine);

// `ratrace trace`: runs the plan and streams the results into `output` as they come (results
// file, /stats included), so that the paths never all sit in memory. Nothing is left under
// `output` (or a temporary name) when the run fails or is stopped by a signal the CLI guards
// (install_results_signal_guard).
TraceSummary trace_to_file(const CorpusReader& reader, const PlannedTrace& planned, const TraceRequest& request,
                           Engine& engine, const std::string& output, bool force, const ProgressFn& progress);


}  // namespace ratrace
