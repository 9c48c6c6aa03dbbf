#include "html/report_page.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "html/assets.hpp"
#include "html/decay_plot.hpp"
#include "html/html_util.hpp"
#include "html/results_view.hpp"
#include "ratrace/params.hpp"
#include "util/head_label.hpp"

namespace ratrace::html {

namespace {

constexpr std::size_t kExamplePaths = 3;   // top paths shown per example job
constexpr std::size_t kChainEnds = 8;      // tokens kept at each end of a long chain

std::string card(const std::string& value, const std::string& what) {
  return fmt::format("<div class=\"card\"><div class=\"n\">{}</div><div class=\"what\">{}</div></div>", escape(value),
                     escape(what));
}

std::string kv_row(const std::string& key, const std::string& value) {
  return fmt::format("<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(value));
}

std::string token_html(const ResultsFile& file, std::int32_t seq, std::int32_t pos, bool target) {
  const std::optional<std::string> token = token_at(file, seq, pos);
  return fmt::format("<span class=\"tok{}\" title=\"position {}\">{}<sub>{}</sub></span>", target ? " target" : "",
                     pos, escape(token ? *token : "pos"), pos);
}

// One path, earliest token first, with each edge's attention on its arrow; long chains keep
// their two ends and say how many tokens are left out.
std::string chain_html(const ResultsFile& file, std::int32_t seq, std::int64_t path) {
  const TraceResults& r = file.results;
  const std::int64_t first = r.node_begin[path], last = r.node_begin[path + 1];
  const std::size_t n = static_cast<std::size_t>(last - first);
  std::string out = "<span class=\"chain\">";
  for (std::size_t k = 0; k < n; ++k) {
    // Stored target first: display index k is stored node n-1-k.
    const std::int64_t node = last - 1 - static_cast<std::int64_t>(k);
    if (n > 2 * kChainEnds + 1 && k == kChainEnds) {
      out += fmt::format("<span class=\"gap\"> \u2026 {} more \u2026 </span>", n - 2 * kChainEnds);
      k = n - kChainEnds - 1;
      continue;
    }
    if (k > 0) {
      // The edge from the earlier token (display k-1) into this later one: stored on node + 1.
      const float a = r.node_edge_attn[node + 1];
      out += fmt::format("<span class=\"arrow\"><sub>{}</sub>\u2192</span>",
                         std::isfinite(a) ? fmt::format("{:.2f}", a) : std::string("?"));
    }
    out += token_html(file, seq, r.node_position[node], k + 1 == n);
  }
  return out + "</span>";
}

std::string params_table(const ResultsFile& file, const std::string& results_path) {
  std::string t = "<table class=\"kv\">";
  t += kv_row("results", results_path);
  t += kv_row("input", file.input);
  t += kv_row("device", file.device);
  const nlohmann::json params = nlohmann::json::parse(file.params_json, nullptr, false);
  if (params.is_object()) {
    for (const auto& [k, v] : params.items()) t += kv_row(k, v.is_string() ? v.get<std::string>() : v.dump());
  } else if (!file.params_json.empty()) {
    t += kv_row("params", file.params_json);
  }
  return t + "</table>";
}

std::string examples_section(const ResultsFile& file, const std::string& results_path) {
  std::string s = "<h2 id=\"examples\">Top paths of example targets</h2>";
  s += "<p class=\"caption\">Earliest token first; the number on each arrow is the attention of that edge "
       "(how much the later token attends to the earlier one); weights are the paths' softmax weights within "
       "their job. Draw any job as an interactive Sankey diagram with <code>ratrace render</code>.</p>";
  const TraceResults& r = file.results;
  for (std::size_t job : example_jobs(file, 6)) {
    const JobKey& key = r.jobs[job];
    const std::string& seq = file.sequence_names[static_cast<std::size_t>(key.seq_index)];
    const std::optional<std::string> target_token = token_at(file, key.seq_index, key.target);
    s += "<div class=\"job\">";
    s += fmt::format("<h3>{} \u00b7 layer {} \u00b7 head {} \u00b7 target {}{}</h3>", escape(seq), key.layer,
                     escape(head_label(key.head)), key.target,
                     target_token ? escape(" \u201c" + *target_token + "\u201d") : "");
    const std::vector<double> weights = r.job_path_weights(job);
    const std::int64_t begin = r.path_begin[job], end = r.path_begin[job + 1];
    s += "<ol start=\"0\">";
    for (std::int64_t p = begin; p < std::min<std::int64_t>(end, begin + kExamplePaths); ++p) {
      const std::int64_t hops = r.node_begin[p + 1] - r.node_begin[p] - 1;
      s += fmt::format("<li>{}<span class=\"pathmeta\">weight {:.1f}% \u00b7 score {:.3f} \u00b7 {} {}</span></li>",
                       chain_html(file, key.seq_index, p), 100 * weights[static_cast<std::size_t>(p - begin)],
                       r.score_norm[p], hops, hops == 1 ? "hop" : "hops");
    }
    s += "</ol>";
    if (end - begin > static_cast<std::int64_t>(kExamplePaths))
      s += fmt::format("<div class=\"hint\">{} more {} not shown.</div>", end - begin - kExamplePaths,
                       end - begin - kExamplePaths == 1 ? "path" : "paths");
    s += fmt::format("<div class=\"hint\"><code>ratrace render {} --seq {} --layer {} --head {} --target {} -o "
                     "trace.html</code></div>",
                     escape(results_path), escape(seq), key.layer, escape(head_label(key.head)), key.target);
    s += "</div>";
  }
  return s;
}

}  // namespace

std::vector<std::size_t> example_jobs(const ResultsFile& file, std::size_t count) {
  const std::vector<std::size_t> jobs = sorted_jobs(file);
  const TraceResults& r = file.results;
  std::map<int, std::vector<std::size_t>> by_layer;
  for (std::size_t k : jobs) by_layer[r.jobs[k].layer].push_back(k);

  // Pass 1: one job per layer, layers spread evenly when there are more than `count`.
  std::vector<int> layers;
  for (const auto& entry : by_layer) layers.push_back(entry.first);
  std::vector<int> chosen_layers;
  if (layers.size() <= count) {
    chosen_layers = layers;
  } else {
    for (std::size_t i = 0; i < count; ++i)
      chosen_layers.push_back(layers[(i * (layers.size() - 1) + (count - 1) / 2) / (count - 1)]);
  }
  std::vector<std::size_t> picked;
  std::set<std::pair<int, int>> shown;  // (layer, head)
  for (int layer : chosen_layers) {
    const std::vector<std::size_t>& mine = by_layer[layer];
    auto it = std::find_if(mine.begin(), mine.end(), [&](std::size_t k) { return r.jobs[k].head == kHeadMean; });
    const std::size_t k = it != mine.end() ? *it : mine.front();
    if (std::find(picked.begin(), picked.end(), k) != picked.end()) continue;
    picked.push_back(k);
    shown.insert({r.jobs[k].layer, r.jobs[k].head});
  }
  // Pass 2: other (layer, head) pairs, in order; pass 3: any other job (other sequences, targets).
  for (std::size_t k : jobs) {
    if (picked.size() >= count) break;
    if (shown.insert({r.jobs[k].layer, r.jobs[k].head}).second) picked.push_back(k);
  }
  for (std::size_t k : jobs) {
    if (picked.size() >= count) break;
    if (std::find(picked.begin(), picked.end(), k) == picked.end()) picked.push_back(k);
  }
  std::sort(picked.begin(), picked.end(), [&](std::size_t a, std::size_t b) { return r.jobs[a] < r.jobs[b]; });
  return picked;
}

std::string report_page(const ResultsFile& file, const std::string& results_path) {
  const TraceResults& r = file.results;
  const StatsView view = stats_of(file);
  const DecayStats& stats = view.stats;

  std::set<int> layers, heads, traced_seqs;
  for (const JobKey& k : r.jobs) {
    layers.insert(k.layer);
    heads.insert(k.head);
    traced_seqs.insert(k.seq_index);
  }

  std::string b;
  b += "<header class=\"bar\">";
  b += fmt::format("<h1><span class=\"brand\">ratrace</span> report \u00b7 {}</h1>", escape(results_path));
  b += fmt::format("<div class=\"meta\">input {} \u00b7 {}</div></header>\n", escape(file.input), escape(file.device));
  b += "<main class=\"report\">";

  b += "<div class=\"cards\">";
  b += card(fmt::format("{} / {}", traced_seqs.size(), file.sequence_names.size()), "sequences traced / in input");
  b += card(std::to_string(layers.size()), layers.size() == 1 ? "layer" : "layers");
  b += card(std::to_string(heads.size()), "heads and aggregates");
  b += card(std::to_string(r.num_jobs()), "jobs (traces)");
  b += card(std::to_string(r.num_paths()), "paths");
  b += card(std::to_string(r.num_nodes()), "path nodes");
  b += "</div>";

  b += "<h2 id=\"run\">Run</h2>" + params_table(file, results_path);

  b += "<h2 id=\"decay\">Influence decay</h2>";
  if (!view.from_file)
    b += "<p class=\"caption\">This file has no <code>/stats</code> group, so the attention-by-distance curves are "
         "missing (they need the attention matrices); the path statistics are computed from the stored paths.</p>";
  std::vector<std::size_t> all_rows(stats.num_rows());
  for (std::size_t i = 0; i < all_rows.size(); ++i) all_rows[i] = i;
  b += "<div class=\"figure\">" + decay_by_layer_svg(stats, all_rows, "all layers") + "</div>";
  b += "<p class=\"caption\">Left: mean attention weight per element of the causal part of every traced matrix, by "
       "distance d = i \u2212 j in power-of-two bins (1, 2\u20133, 4\u20137, \u2026). Right: where the traced paths end "
       "\u2014 the share of path weight by distance from the target back to the path's origin, averaged over jobs "
       "(paths without edges are left out of the curve). One line per layer, the mean of its heads and aggregates.</p>";
  for (int layer : layers) {
    b += fmt::format("<h3>Layer {}</h3>", layer);
    b += "<div class=\"figure\">" + decay_of_layer_svg(stats, all_rows, layer) + "</div>";
  }

  b += "<h2 id=\"heads\">Heads \u00d7 layers</h2>";
  b += "<div class=\"figure\">" +
       heads_by_layers_svg(stats, stats.mean_origin_distance, "Mean origin distance (path-weighted target \u2212 origin)",
                           "tokens (colour: log scale)") +
       "</div>";
  b += "<p class=\"caption\">How far back the traced paths reach: the path-weighted mean of target \u2212 origin, "
       "averaged over the jobs of each head (mean and max are the aggregate matrices).</p>";
  b += "<div class=\"figure\">" +
       heads_by_layers_svg(stats, stats.mean_hops, "Mean hops per path (path-weighted)", "edges (colour: log scale)") +
       "</div>";
  b += "<p class=\"caption\">How many steps the paths take to get there: many short hops (a previous-token head) or a "
       "few long jumps.</p>";

  b += examples_section(file, results_path);
  b += "</main>\n";
  return page("ratrace report \u00b7 " + results_path, std::string(assets::kBaseCss) + assets::kReportCss, b);
}

}  // namespace ratrace::html
