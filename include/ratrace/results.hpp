#pragma once
// Trace results in memory (the CSR layout of SPEC §5) and the results file.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ratrace/beam_search.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/detail/result_allocator.hpp"

namespace ratrace {

struct JobKey {
  std::int32_t seq_index = 0;
  std::int32_t layer = 0;
  std::int32_t head = 0;  // or kHeadMean / kHeadMax
  std::int32_t target = 0;
  friend bool operator==(const JobKey&, const JobKey&) = default;
  friend auto operator<=>(const JobKey&, const JobKey&) = default;
};

// One array of a results table. resize() leaves new elements uninitialised, and large arrays may be
// page-locked by the GPU engine (detail/result_allocator.hpp): every writer of these arrays fills
// what it sizes.
template <class T>
using ResultColumn = std::vector<T, detail::ResultAllocator<T>>;

// Jobs, paths and nodes as flat arrays, exactly as stored in the results file.
struct TraceResults {
  std::vector<JobKey> jobs;
  ResultColumn<std::int64_t> path_begin{0};  // [n_jobs + 1]
  ResultColumn<double> score_raw;             // [n_paths]
  ResultColumn<double> score_norm;            // [n_paths]
  ResultColumn<std::int64_t> node_begin{0};   // [n_paths + 1]
  ResultColumn<std::int32_t> node_position;   // [n_nodes]
  ResultColumn<float> node_edge_attn;         // [n_nodes], NaN for each path's p0

  std::size_t num_jobs() const { return jobs.size(); }
  std::size_t num_paths() const { return score_raw.size(); }
  std::size_t num_nodes() const { return node_position.size(); }

  // Empties every array (begins back to {0}), keeping their capacity for the next fill.
  void clear();
  void append(const JobKey& key, const std::vector<PathResult>& paths);
  void append(const TraceResults& other);  // jobs of `other` after ours
  // The paths of job k, rebuilt as PathResult (for comparisons and display).
  std::vector<PathResult> job_paths(std::size_t k) const;
  // The SPEC §1.4 weights of job k's paths (path_weights of their score_norm).
  std::vector<double> job_path_weights(std::size_t k) const;
};

// Everything a results file holds besides the traced paths: known before a run starts, so that
// the file can be opened first and the paths streamed into it (ResultsWriter).
struct ResultsMetadata {
  std::string params_json;  // SPEC §6
  std::string input;        // input file path as given
  std::string device;       // e.g. "cpu (2 threads)" or "gpu: NVIDIA H100 80GB HBM3"
  std::vector<std::string> sequence_names;  // ALL input sequences, input order
  std::vector<std::int32_t> sequence_length;
  std::vector<std::int64_t> token_begin{0};            // [n_seq + 1]
  std::optional<std::vector<std::int64_t>> token_ids;  // when the input has token_ids
  std::optional<std::vector<std::string>> tokens;      // when the input has tokens
};

// Everything a results file holds.
struct ResultsFile : ResultsMetadata {
  TraceResults results;
  std::optional<DecayStats> stats;  // the /stats group (written when present)
};

// Writes a whole in-memory file (see ResultsWriter for streaming): under a temporary name in the
// same folder, renamed when complete. Throws UsageError when `path` exists and !force. Never leaves
// a partial file under `path`.
void write_results_file(const std::string& path, const ResultsFile& file, bool force);

// For the CLI, before any long work: throws UsageError when `path` exists and !force, when it is a
// directory, or when its directory is missing or not writable.
void check_output_path(const std::string& path, bool force);

// Reads a results file back; throws InputError naming what is wrong.
ResultsFile read_results_file(const std::string& path);

}  // namespace ratrace
