#include "run/trace_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ratrace/errors.hpp"
#include "ratrace/selection.hpp"
#include "util/counted.hpp"

namespace ratrace {
namespace {

void warn(const std::string& message) { fmt::print(stderr, "ratrace: warning: {}\n", message); }

std::string make_params_json(const TraceRequest& r, std::optional<std::int64_t> bos) {
  nlohmann::ordered_json j;
  j["top_beam"] = r.params.top_beam;
  j["top_k"] = r.params.top_k;
  j["min_attn"] = r.params.min_attn;
  j["length_norm"] = r.params.length_norm.to_string();
  j["stop_at_bos"] = r.params.stop_at_bos;
  j["bos_token_id"] = bos ? nlohmann::ordered_json(*bos) : nlohmann::ordered_json(nullptr);
  j["sequences"] = r.sequences;
  j["layers"] = r.layers;
  j["heads"] = r.heads;
  j["targets"] = r.targets;
  return j.dump();
}

}  // namespace

PlannedTrace plan_trace(const CorpusReader& reader, const TraceRequest& request) {
  request.params.validate();
  PlannedTrace out;
  out.effective_bos = request.bos_token_id ? request.bos_token_id : reader.bos_token_id();
  out.params_json = make_params_json(request, out.effective_bos);

  const auto& infos = reader.sequences();
  const int num_sequences = static_cast<int>(infos.size());
  const std::vector<int> seqs = resolve_selection(request.sequences, num_sequences, "--sequences",
                                                  "the corpus has " + counted(num_sequences, "sequence", "sequences"));
  int sequences_without_ids = 0;
  for (int s : seqs) {
    const SequenceInfo& info = infos[s];
    SequencePlan sp;
    sp.seq_index = s;
    sp.seq_len = info.seq_len;
    const std::string of_sequence = "sequence '" + info.name + "' has ";
    sp.layers = resolve_selection(request.layers, info.num_layers, "--layers",
                                  of_sequence + counted(info.num_layers, "layer", "layers"));
    sp.heads = resolve_head_selection(request.heads, info.num_heads, "--heads",
                                      of_sequence + counted(info.num_heads, "head", "heads"));
    sp.targets = resolve_selection(request.targets, info.seq_len, "--targets",
                                   of_sequence + "length " + std::to_string(info.seq_len));
    if (sp.layers.empty() || sp.heads.empty() || sp.targets.empty()) continue;

    std::vector<std::uint8_t> mask = reader.read_mask(s);
    if (std::any_of(mask.begin(), mask.end(), [](std::uint8_t m) { return m == 0; })) sp.key_mask = std::move(mask);

    if (request.params.stop_at_bos && out.effective_bos) {
      const std::vector<std::int64_t> ids = reader.read_token_ids(s);
      if (ids.empty()) {
        ++sequences_without_ids;
      } else {
        sp.is_bos.assign(ids.size(), 0);
        for (std::size_t p = 0; p < ids.size(); ++p) sp.is_bos[p] = ids[p] == *out.effective_bos ? 1 : 0;
        if (std::none_of(sp.is_bos.begin(), sp.is_bos.end(), [](std::uint8_t b) { return b != 0; }))
          sp.is_bos.clear();
      }
    }
    out.plan.sequences.push_back(std::move(sp));
  }

  if (request.params.stop_at_bos && !out.effective_bos)
    warn("no bos_token_id (neither a file attribute nor --bos-token-id): no BOS positions, "
         "paths end only at position 0");
  else if (sequences_without_ids > 0)
    warn(fmt::format("{} traced sequence(s) have no token_ids: no BOS positions there", sequences_without_ids));
  if (out.plan.num_jobs() == 0) warn("the selection matched no jobs");
  return out;
}

std::unique_ptr<Engine> choose_engine(const TraceRequest& request) {
  if (request.device == "cpu") return make_cpu_engine(request.threads);
  const GpuStatus gpu = query_gpu();
  if (request.device == "gpu") {
    if (!gpu.usable) throw UsageError(fmt::format("--device gpu: no usable GPU ({})", gpu.reason));
  } else if (request.device != "auto") {
    throw UsageError(fmt::format("--device '{}': expected auto, cpu or gpu", request.device));
  }
  if (!gpu.usable) {
    fmt::print(stderr, "ratrace: no usable GPU ({}): using the CPU reference engine\n", gpu.reason);
    return make_cpu_engine(request.threads);
  }
  GpuOptions options;
  options.mem_limit_bytes = request.gpu_mem_bytes;
  return make_gpu_engine(options);
}

ResultsMetadata make_results_metadata(const CorpusReader& reader, const PlannedTrace& planned,
                                      const TraceRequest& request, const Engine& engine) {
  ResultsMetadata file;
  file.params_json = planned.params_json;
  file.input = request.input;
  file.device = engine.device_description();

  // Tokens of the traced sequences only, so that results stand on their own. A dataset is stored
  // when any traced sequence has it; sequences without it get -1 / "" entries.
  const auto& infos = reader.sequences();
  std::vector<bool> traced(infos.size(), false);
  for (const SequencePlan& sp : planned.plan.sequences) traced[sp.seq_index] = true;
  bool any_ids = false, any_tokens = false;
  for (std::size_t s = 0; s < infos.size(); ++s) {
    any_ids |= traced[s] && infos[s].has_token_ids;
    any_tokens |= traced[s] && infos[s].has_tokens;
  }
  if (any_ids) file.token_ids.emplace();
  if (any_tokens) file.tokens.emplace();
  for (std::size_t s = 0; s < infos.size(); ++s) {
    const int n = infos[s].seq_len;
    file.sequence_names.push_back(infos[s].name);
    file.sequence_length.push_back(n);
    const std::int64_t stored = traced[s] && (any_ids || any_tokens) ? n : 0;
    file.token_begin.push_back(file.token_begin.back() + stored);
    if (!traced[s]) continue;
    if (any_ids) {
      std::vector<std::int64_t> ids = reader.read_token_ids(static_cast<int>(s));
      if (ids.empty()) ids.assign(n, -1);
      file.token_ids->insert(file.token_ids->end(), ids.begin(), ids.end());
    }
    if (any_tokens) {
      std::vector<std::string> toks = reader.read_tokens(static_cast<int>(s));
      if (toks.empty()) toks.assign(n, "");
      file.tokens->insert(file.tokens->end(), toks.begin(), toks.end());
    }
  }
  return file;
}

namespace {

void warn_row_sums(const RowSumTally& row_sums) {
  if (row_sums.rows_off > 0)
    warn(fmt::format("{} of {} rows read do not sum to 1 (off by more than 0.01)", row_sums.rows_off,
                     row_sums.rows_checked));
}

}  // namespace

TraceSummary trace_to_file(const CorpusReader& reader, const PlannedTrace& planned, const TraceRequest& request,
                           Engine& engine, const std::string& output, bool force, const ProgressFn& progress) {
  ResultsStream stream(output, make_results_metadata(reader, planned, request, engine), force, request.threads);
  const RunReport run = engine.run(reader, planned.plan, request.params, stream, progress);
  TraceSummary summary = stream.finish();
  summary.engine = run.times;
  warn_row_sums(run.row_sums);
  return summary;
}

}  // namespace ratrace
