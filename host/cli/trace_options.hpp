#pragma once
// The options shared by `trace`, `verify` and `demo`: selection, search and running.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "run/trace_run.hpp"

namespace ratrace::cli {

struct TraceCliOptions {
  TraceRequest request;
  std::string length_norm = "avg_logprob";
  bool no_stop_at_bos = false;
  std::optional<std::int64_t> bos_token_id;
  double gpu_mem_gib = 0.0;
};

// Adds the selection, search and running options (everything but INPUT, -o and --force).
void add_trace_options(CLI::App& app, TraceCliOptions& options);

// Validates and completes the request (length_norm parsed, ranges checked, syntax of SELs).
TraceRequest finish_request(const TraceCliOptions& options);

}  // namespace ratrace::cli
