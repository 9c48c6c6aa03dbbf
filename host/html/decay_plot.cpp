#include "html/decay_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "html/palette.hpp"
#include "html/results_view.hpp"
#include "html/svg_chart.hpp"
#include "util/head_label.hpp"

namespace ratrace::html {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> as_vector(const std::array<double, kDistanceBins>& a) { return {a.begin(), a.end()}; }

// Rows shown in the heat map and legends: aggregates first, then heads in order.
int head_order(std::int32_t head) { return head == kHeadMean ? -2 : head == kHeadMax ? -1 : head; }

struct Panels {
  BinChart attention;
  BinChart origin;
};

Panels make_panels(const std::string& what) {
  Panels p;
  p.attention.title = "Mean attention weight by distance" + what;
  p.attention.y_label = "mean A[i][j] per element (log scale)";
  p.attention.log_y = true;
  p.attention.legend = false;
  p.origin.title = "Where paths end: target \u2212 origin" + what;
  p.origin.y_label = "share of path weight (per job)";
  p.origin.log_y = false;
  return p;
}

// Both panels share the x range: up to the last bin with data in either.
std::string two_panels(Panels p, const std::string& label) {
  int bins = 2;
  for (const BinChart* chart : {&p.attention, &p.origin})
    for (const ChartSeries& s : chart->series)
      for (std::size_t b = 0; b < s.values.size(); ++b)
        if (std::isfinite(s.values[b]) && s.values[b] > 0) bins = std::max(bins, static_cast<int>(b) + 1);
  p.attention.bins = p.origin.bins = bins;
  const SvgBlock left = bin_chart(p.attention, 0, 8);
  const SvgBlock right = bin_chart(p.origin, left.width + 24, 8);
  return svg_document(left.width + 24 + right.width + 8, std::max(left.height, right.height) + 16,
                      left.svg + right.svg, label);
}

}  // namespace

std::array<double, kDistanceBins> mean_over_rows(const std::vector<std::array<double, kDistanceBins>>& values,
                                                 const std::vector<std::size_t>& rows) {
  std::array<double, kDistanceBins> out{};
  for (int b = 0; b < kDistanceBins; ++b) {
    double sum = 0;
    int n = 0;
    for (std::size_t r : rows)
      if (std::isfinite(values[r][b])) sum += values[r][b], ++n;
    out[b] = n > 0 ? sum / n : kNaN;
  }
  return out;
}

std::string decay_by_layer_svg(const DecayStats& stats, const std::vector<std::size_t>& rows, const std::string& title) {
  std::map<int, std::vector<std::size_t>> by_layer;
  for (std::size_t r : rows) by_layer[stats.layer[r]].push_back(r);
  Panels p = make_panels(title.empty() ? "" : " \u2014 " + title);
  p.origin.legend_title = "layer";
  int i = 0;
  const int n = static_cast<int>(by_layer.size());
  for (const auto& [layer, layer_rows] : by_layer) {
    // Layers are ordered: viridis from dark (first) to green (last); its pale yellow end is skipped.
    const std::string colour = viridis(n > 1 ? 0.85 * i / (n - 1) : 0.0);
    const std::string label = fmt::format("layer {}", layer);
    p.attention.series.push_back({label, colour, as_vector(mean_over_rows(stats.attn_mean, layer_rows))});
    p.origin.series.push_back({label, colour, as_vector(mean_over_rows(stats.origin_weight, layer_rows))});
    ++i;
  }
  return two_panels(p, "decay curves by layer");
}

std::string decay_of_layer_svg(const DecayStats& stats, const std::vector<std::size_t>& rows, int layer) {
  std::vector<std::size_t> mine;
  for (std::size_t r : rows)
    if (stats.layer[r] == layer) mine.push_back(r);
  std::stable_sort(mine.begin(), mine.end(),
                   [&](std::size_t a, std::size_t b) { return head_order(stats.head[a]) < head_order(stats.head[b]); });
  Panels p = make_panels(fmt::format(" \u2014 layer {}", layer));
  p.attention.width = p.origin.width = 470;
  p.attention.height = p.origin.height = 330;
  p.origin.legend_title = "head";
  for (std::size_t r : mine) {
    const std::int32_t head = stats.head[r];
    const bool aggregate = head < 0;
    const std::string colour = head == kHeadMean ? "#222222" : head == kHeadMax ? "#888888" : categorical_colour(head);
    const std::string label = aggregate ? head_label(head) : fmt::format("head {}", head);
    p.attention.series.push_back({label, colour, as_vector(stats.attn_mean[r]), aggregate});
    p.origin.series.push_back({label, colour, as_vector(stats.origin_weight[r]), aggregate});
  }
  return two_panels(p, fmt::format("decay curves of layer {}", layer));
}

std::string heads_by_layers_svg(const DecayStats& stats, const std::vector<double>& per_row, const std::string& title,
                                const std::string& value_label) {
  std::set<int> layers;
  std::set<std::pair<int, std::int32_t>> heads;  // (display order, head)
  for (std::size_t r = 0; r < stats.num_rows(); ++r) {
    layers.insert(stats.layer[r]);
    heads.insert({head_order(stats.head[r]), stats.head[r]});
  }
  HeatMap map;
  map.title = title;
  map.row_axis = "head";
  map.col_axis = "layer";
  map.value_label = value_label;
  std::map<int, std::size_t> col_of;
  std::map<std::int32_t, std::size_t> row_of;
  for (int layer : layers) {
    col_of[layer] = map.col_labels.size();
    map.col_labels.push_back(std::to_string(layer));
  }
  for (const auto& [order, head] : heads) {
    row_of[head] = map.row_labels.size();
    map.row_labels.push_back(head_label(head));
  }
  map.values.assign(map.row_labels.size() * map.col_labels.size(), kNaN);
  for (std::size_t r = 0; r < stats.num_rows(); ++r)
    map.values[row_of[stats.head[r]] * map.col_labels.size() + col_of[stats.layer[r]]] = per_row[r];
  const SvgBlock block = heat_map(map, 0, 4);
  return svg_document(block.width, block.height + 8, block.svg, title);
}

}  // namespace ratrace::html
