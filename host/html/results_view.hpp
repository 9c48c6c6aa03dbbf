#pragma once
// Read-only helpers over a results file for the HTML pages and the decay tables: labels, tokens,
// path weights and the statistics to show.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ratrace/decay_stats.hpp"
#include "ratrace/results.hpp"

namespace ratrace::html {

// "mean", "max" or the head index.
std::string head_name(std::int32_t head);

// The token text at `pos` of sequence `seq`: the stored token, else "#<token id>", else nullopt
// (the results hold no tokens for that sequence).
std::optional<std::string> token_at(const ResultsFile& file, std::int32_t seq, std::int32_t pos);

// Job indices ordered by (sequence, layer, head, target).
std::vector<std::size_t> sorted_jobs(const ResultsFile& file);

// SPEC §1.4 weights of job k's paths.
std::vector<double> job_path_weights(const ResultsFile& file, std::size_t job);

// The /stats group when the file has one; else statistics computed from the paths alone (the
// attention-by-distance part is then all NaN: it needs the attention matrices).
struct StatsView {
  DecayStats stats;
  bool from_file = false;
};
StatsView stats_of(const ResultsFile& file);

}  // namespace ratrace::html
