// Influence-decay statistics: per (layer, head) aggregates of the attention profiles (how much
// attention each distance band receives) and of the result paths (how far back they reach).
// The layout is documented in docs/FORMAT.md, "/stats (influence decay)".
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "ratrace/beam_search.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/results.hpp"

namespace ratrace {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using PathSums = DecayStatsBuilder::PathSums;

// Adds job k's paths, each weighted by its softmax weight (SPEC §1.4), so that a job adds 1 in all.
void add_job(const TraceResults& results, std::size_t k, PathSums& sums) {
  const std::int64_t first = results.path_begin[k];
  const std::int64_t last = results.path_begin[k + 1];
  if (first == last) return;  // a job always has a path; tolerate a malformed one by skipping it
  const std::vector<double> weights = results.job_path_weights(k);
  const std::int32_t target = results.jobs[k].target;
  for (std::int64_t p = first; p < last; ++p) {
    const double w = weights[static_cast<std::size_t>(p - first)];
    const std::int64_t node_first = results.node_begin[p];
    const std::int64_t node_last = results.node_begin[p + 1];
    const std::int32_t origin = results.node_position[node_last - 1];
    const std::int32_t distance = target - origin;
    if (distance >= 1) {
      sums.origin_weight[distance_bin(distance)] += w;
    } else {
      sums.origin_no_hop += w;
    }
    sums.hops += w * static_cast<double>(node_last - node_first - 1);
    sums.origin_distance += w * static_cast<double>(std::max(distance, 0));
    if (origin < kSinkPositions) {
      sums.sink[origin] += w;
    } else {
      sums.sink_rest += w;
    }
  }
  ++sums.jobs;
}

}  // namespace

void DecayStatsBuilder::add_profiles(const std::vector<AttentionProfile>& profiles) {
  for (const AttentionProfile& profile : profiles) {
    AttentionProfile& total = attn_[{profile.layer, profile.head}];
    for (int b = 0; b < kDistanceBins; ++b) {
      total.sum[b] += profile.sum[b];
      total.count[b] += profile.count[b];
    }
  }
}

void DecayStatsBuilder::add_results(const TraceResults& results) {
  for (std::size_t k = 0; k < results.num_jobs(); ++k)
    add_job(results, k, paths_[{results.jobs[k].layer, results.jobs[k].head}]);
}

DecayStats compute_decay_stats(const TraceResults& results, const std::vector<AttentionProfile>& profiles) {
  DecayStatsBuilder builder;
  builder.add_profiles(profiles);
  builder.add_results(results);
  return builder.build();
}

DecayStats DecayStatsBuilder::build() const {
  std::set<RowKey> keys;
  for (const auto& entry : attn_) keys.insert(entry.first);
  for (const auto& entry : paths_) keys.insert(entry.first);

  DecayStats stats;
  for (const RowKey& key : keys) {
    stats.layer.push_back(key.first);
    stats.head.push_back(key.second);

    std::array<double, kDistanceBins> mean{};
    std::array<std::int64_t, kDistanceBins> count{};
    const auto a = attn_.find(key);
    for (int b = 0; b < kDistanceBins; ++b) {
      count[b] = a == attn_.end() ? 0 : a->second.count[b];
      mean[b] = count[b] > 0 ? a->second.sum[b] / static_cast<double>(count[b]) : kNaN;
    }
    stats.attn_mean.push_back(mean);
    stats.attn_count.push_back(count);

    // Path statistics are per-job means: each job's path weights sum to 1, so every row's
    // origin_weight + origin_no_hop (and sink_mass + sink_rest) sums to 1. No jobs: NaN.
    const auto p = paths_.find(key);
    const PathSums sums = p == paths_.end() ? PathSums{} : p->second;
    const double n = static_cast<double>(sums.jobs);
    auto per_job = [&](double v) { return sums.jobs > 0 ? v / n : kNaN; };
    std::array<double, kDistanceBins> origin{};
    for (int b = 0; b < kDistanceBins; ++b) origin[b] = per_job(sums.origin_weight[b]);
    std::array<double, kSinkPositions> sink{};
    for (int s = 0; s < kSinkPositions; ++s) sink[s] = per_job(sums.sink[s]);
    stats.origin_weight.push_back(origin);
    stats.origin_no_hop.push_back(per_job(sums.origin_no_hop));
    stats.mean_hops.push_back(per_job(sums.hops));
    stats.mean_origin_distance.push_back(per_job(sums.origin_distance));
    stats.sink_mass.push_back(sink);
    stats.sink_rest.push_back(per_job(sums.sink_rest));
    stats.num_jobs.push_back(sums.jobs);
  }
  return stats;
}

}  // namespace ratrace
