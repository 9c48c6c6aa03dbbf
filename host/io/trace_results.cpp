#include <cmath>
#include <limits>

#include "ratrace/results.hpp"

namespace ratrace {

void TraceResults::clear() {
  jobs.clear();
  path_begin.assign(1, 0);
  score_raw.clear();
  score_norm.clear();
  node_begin.assign(1, 0);
  node_position.clear();
  node_edge_attn.clear();
}

void TraceResults::append(const JobKey& key, const std::vector<PathResult>& paths) {
  jobs.push_back(key);
  for (const PathResult& p : paths) {
    score_raw.push_back(p.score_raw);
    score_norm.push_back(p.score_norm);
    node_position.insert(node_position.end(), p.positions.begin(), p.positions.end());
    node_edge_attn.insert(node_edge_attn.end(), p.edge_attn.begin(), p.edge_attn.end());
    node_begin.push_back(static_cast<std::int64_t>(node_position.size()));
  }
  path_begin.push_back(static_cast<std::int64_t>(score_raw.size()));
}

void TraceResults::append(const TraceResults& other) {
  const std::int64_t path_offset = static_cast<std::int64_t>(num_paths());
  const std::int64_t node_offset = static_cast<std::int64_t>(num_nodes());
  jobs.insert(jobs.end(), other.jobs.begin(), other.jobs.end());
  for (std::size_t k = 1; k < other.path_begin.size(); ++k) path_begin.push_back(other.path_begin[k] + path_offset);
  score_raw.insert(score_raw.end(), other.score_raw.begin(), other.score_raw.end());
  score_norm.insert(score_norm.end(), other.score_norm.begin(), other.score_norm.end());
  for (std::size_t p = 1; p < other.node_begin.size(); ++p) node_begin.push_back(other.node_begin[p] + node_offset);
  node_position.insert(node_position.end(), other.node_position.begin(), other.node_position.end());
  node_edge_attn.insert(node_edge_attn.end(), other.node_edge_attn.begin(), other.node_edge_attn.end());
}

std::vector<PathResult> TraceResults::job_paths(std::size_t k) const {
  std::vector<PathResult> out;
  for (std::int64_t p = path_begin[k]; p < path_begin[k + 1]; ++p) {
    PathResult r;
    r.score_raw = score_raw[p];
    r.score_norm = score_norm[p];
    r.positions.assign(node_position.begin() + node_begin[p], node_position.begin() + node_begin[p + 1]);
    r.edge_attn.assign(node_edge_attn.begin() + node_begin[p], node_edge_attn.begin() + node_begin[p + 1]);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<double> TraceResults::job_path_weights(std::size_t k) const {
  return path_weights(std::vector<double>(score_norm.begin() + path_begin[k], score_norm.begin() + path_begin[k + 1]));
}

}  // namespace ratrace
