#include "cli/trace_options.hpp"

#include <cmath>

#include "ratrace/errors.hpp"
#include "ratrace/selection.hpp"

namespace ratrace::cli {

void add_trace_options(CLI::App& app, TraceCliOptions& o) {
  TraceRequest& r = o.request;
  app.add_option("--sequences", r.sequences, "Sequences to trace (SEL by index, e.g. 0,2:5,-1)")
      ->capture_default_str()->group("Selection");
  app.add_option("--layers", r.layers, "Layers (SEL; negative counts from the end)")
      ->capture_default_str()->group("Selection");
  app.add_option("--heads", r.heads, "Heads (SEL, plus 'mean' and 'max' aggregates; 'all' = every head)")
      ->capture_default_str()->group("Selection");
  app.add_option("--targets", r.targets, "Target positions (SEL per sequence; -1 = last)")
      ->capture_default_str()->group("Selection");

  app.add_option("--top-beam,-B", r.params.top_beam, "Beams kept per step and paths returned (1..32)")
      ->capture_default_str()->group("Search");
  app.add_option("--top-k,-K", r.params.top_k, "Predecessors considered per position (1..32)")
      ->capture_default_str()->group("Search");
  app.add_option("--min-attn", r.params.min_attn, "Ignore weights below this (>= 0)")
      ->capture_default_str()->group("Search");
  app.add_option("--length-norm", o.length_norm, "none | avg_logprob | sqrt | pow:ALPHA")
      ->capture_default_str()->group("Search");
  app.add_flag("--no-stop-at-bos", o.no_stop_at_bos, "Do not end paths at BOS positions")->group("Search");
  app.add_option("--bos-token-id", o.bos_token_id, "BOS token id (default: the file's bos_token_id attribute)")
      ->group("Search");

  app.add_option("--device", r.device, "auto (GPU when usable) | cpu | gpu")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}))->capture_default_str()->group("Running");
  app.add_option("--threads", r.threads, "CPU threads of the CPU engine and of the results writer (0 = all this process may use)")->check(CLI::NonNegativeNumber)
      ->capture_default_str()->group("Running");
  app.add_option("--gpu-mem", o.gpu_mem_gib, "GPU memory bound in GiB (0 = a safe fraction of free memory)")
      ->check(CLI::NonNegativeNumber)->group("Running");
}

TraceRequest finish_request(const TraceCliOptions& o) {
  TraceRequest r = o.request;
  r.params.length_norm = LengthNorm::parse(o.length_norm);
  r.params.stop_at_bos = !o.no_stop_at_bos;
  r.params.validate();
  r.bos_token_id = o.bos_token_id;
  r.gpu_mem_bytes = static_cast<std::int64_t>(std::llround(o.gpu_mem_gib * 1024.0 * 1024.0 * 1024.0));
  check_selection_syntax(r.sequences, false, "--sequences");
  check_selection_syntax(r.layers, false, "--layers");
  check_selection_syntax(r.heads, true, "--heads");
  check_selection_syntax(r.targets, false, "--targets");
  return r;
}

}  // namespace ratrace::cli
