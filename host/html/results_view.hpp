#pragma once
// Read-only helpers over a results file for the HTML pages and the decay tables: tokens, job order
// and the statistics to show.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ratrace/decay_stats.hpp"
#include "ratrace/results.hpp"

namespace ratrace::html {

// The token text at `pos` of sequence `seq`: the stored token, else "#<token id>", else nullopt
// (the results hold no tokens for that sequence).
std::optional<std::string> token_at(const ResultsFile& file, std::int32_t seq, std::int32_t pos);

// Job indices ordered by (sequence, layer, head, target).
std::vector<std::size_t> sorted_jobs(const ResultsFile& file);

// The /stats group when the file has one; else statistics computed from the paths alone (the
// attention-by-distance part is then all NaN: it needs the attention matrices).
struct StatsView {
  DecayStats stats;
  bool from_file = false;
};
StatsView stats_of(const ResultsFile& file);

}  // namespace ratrace::html
