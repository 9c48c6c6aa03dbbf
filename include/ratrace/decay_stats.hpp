#pragma once
// Influence-decay statistics (the /stats group). Distances d = i - j >= 1 are binned by powers of
// two: bin 0 holds d = 1, bin 1 holds 2..3, bin 2 holds 4..7, ...
#include <array>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "ratrace/detail/host_device.hpp"

namespace ratrace {

inline constexpr int kDistanceBins = 32;
inline constexpr int kSinkPositions = 64;

// Bin of a distance d >= 1: floor(log2(d)).
RATRACE_HD int distance_bin(std::int32_t d) {
  int b = 0;
  while (d > 1) {
    d >>= 1;
    ++b;
  }
  return b;
}

// Sum and count of A[i][j] per distance bin over the causal part (j < i) of one traced matrix.
struct AttentionProfile {
  std::int32_t seq_index = 0;
  std::int32_t layer = 0;
  std::int32_t head = 0;  // or kHeadMean / kHeadMax
  std::array<double, kDistanceBins> sum{};
  std::array<std::int64_t, kDistanceBins> count{};
};

// Adds one dense row-major float32 matrix into `profile`.
void accumulate_attention_profile(const float* matrix, std::int32_t seq_len, AttentionProfile& profile);

// Per (layer, head-or-aggregate) statistics, one row per pair present in the run, sorted by
// (layer, head). docs/FORMAT.md "/stats (influence decay)" gives the exact meaning of each field.
struct DecayStats {
  std::vector<std::int32_t> layer;
  std::vector<std::int32_t> head;
  std::vector<std::array<double, kDistanceBins>> attn_mean;       // mean attention weight per bin (NaN: empty bin)
  std::vector<std::array<std::int64_t, kDistanceBins>> attn_count; // elements per bin
  std::vector<std::array<double, kDistanceBins>> origin_weight;   // path-weighted target - origin, per job mean
  std::vector<double> mean_hops;                                  // path-weighted mean edges
  std::vector<std::array<double, kSinkPositions>> sink_mass;      // path weight by origin position
  std::vector<double> sink_rest;                                  // path weight with origin >= 64
  std::vector<std::int64_t> num_jobs;
  // Added with the /stats writer: together with origin_weight a distribution summing to 1.
  std::vector<double> origin_no_hop;          // path weight of zero-edge paths (origin == target)
  std::vector<double> mean_origin_distance;   // path-weighted mean of target - origin (0 for no hop)

  std::size_t num_rows() const { return layer.size(); }
};

}  // namespace ratrace

namespace ratrace {
struct TraceResults;

// Aggregates per-matrix profiles and result paths into per (layer, head) statistics, batch by batch
// as a run produces them. Jobs are summed in the order they are added, so the same jobs in the
// same order give the same numbers however they were batched.
class DecayStatsBuilder {
 public:
  void add_profiles(const std::vector<AttentionProfile>& profiles);
  void add_results(const TraceResults& results);
  DecayStats build() const;

  // Path sums of one (layer, head) before they are divided by the number of jobs.
  struct PathSums {
    std::array<double, kDistanceBins> origin_weight{};
    double origin_no_hop = 0.0;
    double hops = 0.0;
    double origin_distance = 0.0;
    std::array<double, kSinkPositions> sink{};
    double sink_rest = 0.0;
    std::int64_t jobs = 0;
  };

 private:
  using RowKey = std::pair<std::int32_t, std::int32_t>;  // (layer, head); sorted maps give the row order
  std::map<RowKey, AttentionProfile> attn_;
  std::map<RowKey, PathSums> paths_;
};

// All at once.
DecayStats compute_decay_stats(const TraceResults& results, const std::vector<AttentionProfile>& profiles);
}  // namespace ratrace
