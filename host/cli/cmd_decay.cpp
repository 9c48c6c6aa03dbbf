// `ratrace decay OUT.h5`: influence-decay curves per layer and head, from the /stats group (or,
// when a file has none, from its paths alone), as a table, csv or json, and optionally an SVG plot.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/text_file.hpp"
#include "html/decay_plot.hpp"
#include "html/results_view.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/results.hpp"
#include "ratrace/selection.hpp"
#include "util/head_label.hpp"

namespace ratrace::cli {
namespace {

struct DecayOptions {
  std::string file;
  std::string layers;
  std::string heads;
  std::string format = "table";
  std::string plot;
};

// Rows of `stats` matching --layer / --head. The results do not record the model's size, so
// negative indices and slices count from the highest layer (head) present in the file.
std::vector<std::size_t> select_rows(const DecayStats& stats, const DecayOptions& o) {
  int layer_count = 0, head_count = 0;
  for (std::size_t r = 0; r < stats.num_rows(); ++r) {
    layer_count = std::max(layer_count, stats.layer[r] + 1);
    head_count = std::max(head_count, stats.head[r] + 1);
  }
  const std::string context = fmt::format("'{}' has statistics for layers and heads below {} and {}", o.file,
                                          layer_count, head_count);
  std::vector<int> layers, heads;
  if (!o.layers.empty()) layers = resolve_selection(o.layers, layer_count, "--layer", context);
  if (!o.heads.empty()) heads = resolve_head_selection(o.heads, head_count, "--head", context);
  std::vector<std::size_t> rows;
  for (std::size_t r = 0; r < stats.num_rows(); ++r) {
    if (!o.layers.empty() && std::find(layers.begin(), layers.end(), stats.layer[r]) == layers.end()) continue;
    if (!o.heads.empty() && std::find(heads.begin(), heads.end(), stats.head[r]) == heads.end()) continue;
    rows.push_back(r);
  }
  return rows;
}

// The bins worth showing: up to the last one that any selected row has data in.
int shown_bins(const DecayStats& s, const std::vector<std::size_t>& rows) {
  int bins = 1;
  for (std::size_t r : rows)
    for (int b = 0; b < kDistanceBins; ++b)
      if (s.attn_count[r][b] > 0 || (std::isfinite(s.origin_weight[r][b]) && s.origin_weight[r][b] > 0))
        bins = std::max(bins, b + 1);
  return bins;
}

std::string bin_name(int b, const char* joiner) {
  const long long lo = 1LL << b, hi = (2LL << b) - 1;
  return lo == hi ? std::to_string(lo) : fmt::format("{}{}{}", lo, joiner, hi);
}

double sink_total(const DecayStats& s, std::size_t r) {
  double total = 0;
  for (double v : s.sink_mass[r]) total += v;
  return total;
}

std::string cell(double v, int precision) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, precision) : std::string("-");
}

void print_table(const DecayStats& s, const std::vector<std::size_t>& rows, bool from_file) {
  const int bins = shown_bins(s, rows);
  fmt::print("Mean attention weight by distance d = i - j (per element of the causal part; - = no elements)\n");
  if (!from_file) fmt::print("  (not available: this file has no /stats group, only its paths)\n");
  fmt::print("{:>5} {:>5}", "layer", "head");
  for (int b = 0; b < bins; ++b) fmt::print(" {:>9}", bin_name(b, "-"));
  fmt::print("\n");
  for (std::size_t r : rows) {
    fmt::print("{:>5} {:>5}", s.layer[r], head_label(s.head[r]));
    for (int b = 0; b < bins; ++b) fmt::print(" {:>9}", cell(s.attn_mean[r][b], 6));
    fmt::print("\n");
  }
  fmt::print(
      "\nWhere paths end: share of path weight by target - origin (per-job mean; with 'none' = paths without edges, "
      "each row sums to 1)\n");
  fmt::print("{:>5} {:>5} {:>6} {:>6} {:>8} {:>6} {:>6} {:>6}", "layer", "head", "jobs", "hops", "mean_d", "pos0",
             "<64", "none");
  for (int b = 0; b < bins; ++b) fmt::print(" {:>7}", bin_name(b, "-"));
  fmt::print("\n");
  for (std::size_t r : rows) {
    fmt::print("{:>5} {:>5} {:>6} {:>6} {:>8} {:>6} {:>6} {:>6}", s.layer[r], head_label(s.head[r]),
               s.num_jobs[r], cell(s.mean_hops[r], 2), cell(s.mean_origin_distance[r], 1), cell(s.sink_mass[r][0], 3),
               cell(sink_total(s, r), 3), cell(s.origin_no_hop[r], 3));
    for (int b = 0; b < bins; ++b) fmt::print(" {:>7}", cell(s.origin_weight[r][b], 3));
    fmt::print("\n");
  }
}

void print_csv(const DecayStats& s, const std::vector<std::size_t>& rows) {
  const int bins = shown_bins(s, rows);
  fmt::print("layer,head,num_jobs,mean_hops,mean_origin_distance,origin_no_hop,sink_pos0,sink_first64,sink_rest");
  for (int b = 0; b < bins; ++b) fmt::print(",attn_d{}", bin_name(b, "_"));
  for (int b = 0; b < bins; ++b) fmt::print(",count_d{}", bin_name(b, "_"));
  for (int b = 0; b < bins; ++b) fmt::print(",origin_d{}", bin_name(b, "_"));
  fmt::print("\n");
  // NaN is written as an empty field.
  auto v = [](double x) { return std::isfinite(x) ? fmt::format("{}", x) : std::string(); };
  for (std::size_t r : rows) {
    fmt::print("{},{},{},{},{},{},{},{},{}", s.layer[r], head_label(s.head[r]), s.num_jobs[r], v(s.mean_hops[r]),
               v(s.mean_origin_distance[r]), v(s.origin_no_hop[r]), v(s.sink_mass[r][0]), v(sink_total(s, r)),
               v(s.sink_rest[r]));
    for (int b = 0; b < bins; ++b) fmt::print(",{}", v(s.attn_mean[r][b]));
    for (int b = 0; b < bins; ++b) fmt::print(",{}", s.attn_count[r][b]);
    for (int b = 0; b < bins; ++b) fmt::print(",{}", v(s.origin_weight[r][b]));
    fmt::print("\n");
  }
}

nlohmann::json bins_json(const std::array<double, kDistanceBins>& a, int bins) {
  nlohmann::json out = nlohmann::json::array();
  for (int b = 0; b < bins; ++b) out.push_back(std::isfinite(a[b]) ? nlohmann::json(a[b]) : nlohmann::json(nullptr));
  return out;
}

void print_json(const DecayStats& s, const std::vector<std::size_t>& rows, bool from_file, const std::string& path) {
  using nlohmann::json;
  const int bins = shown_bins(s, rows);
  json j;
  j["results"] = path;
  j["source"] = from_file ? "stats" : "paths";
  j["bins"] = json::array();
  for (int b = 0; b < bins; ++b) j["bins"].push_back({{"bin", b}, {"d_min", 1LL << b}, {"d_max", (2LL << b) - 1}});
  j["rows"] = json::array();
  for (std::size_t r : rows) {
    json row;
    row["layer"] = s.layer[r];
    row["head"] = s.head[r] >= 0 ? json(s.head[r]) : json(head_label(s.head[r]));
    row["num_jobs"] = s.num_jobs[r];
    auto scalar = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
    row["mean_hops"] = scalar(s.mean_hops[r]);
    row["mean_origin_distance"] = scalar(s.mean_origin_distance[r]);
    row["origin_no_hop"] = scalar(s.origin_no_hop[r]);
    row["sink_rest"] = scalar(s.sink_rest[r]);
    row["sink_mass"] = json::array();
    for (double x : s.sink_mass[r]) row["sink_mass"].push_back(scalar(x));
    row["attn_mean"] = bins_json(s.attn_mean[r], bins);
    row["attn_count"] = std::vector<std::int64_t>(s.attn_count[r].begin(), s.attn_count[r].begin() + bins);
    row["origin_weight"] = bins_json(s.origin_weight[r], bins);
    j["rows"].push_back(row);
  }
  // Per-layer curves: the mean over the layer's selected rows, as drawn by --plot.
  j["layers"] = json::array();
  std::vector<int> layers;
  for (std::size_t r : rows)
    if (std::find(layers.begin(), layers.end(), s.layer[r]) == layers.end()) layers.push_back(s.layer[r]);
  for (int layer : layers) {
    std::vector<std::size_t> mine;
    for (std::size_t r : rows)
      if (s.layer[r] == layer) mine.push_back(r);
    j["layers"].push_back({{"layer", layer},
                           {"attn_mean", bins_json(html::mean_over_rows(s.attn_mean, mine), bins)},
                           {"origin_weight", bins_json(html::mean_over_rows(s.origin_weight, mine), bins)}});
  }
  fmt::print("{}\n", j.dump(2, ' ', false, json::error_handler_t::replace));
}

void run_decay(const DecayOptions& o) {
  const ResultsFile file = read_results_file(o.file);
  const html::StatsView view = html::stats_of(file);
  if (view.stats.num_rows() == 0) throw InputError(fmt::format("'{}' holds no traced jobs", o.file));
  const std::vector<std::size_t> rows = select_rows(view.stats, o);
  if (rows.empty())
    throw UsageError(fmt::format("no statistics in '{}' match{}{}", o.file, o.layers.empty() ? "" : " --layer " + o.layers,
                                 o.heads.empty() ? "" : " --head " + o.heads));
  if (!view.from_file)
    fmt::print(stderr, "ratrace: note: '{}' has no /stats group; path statistics are computed from its paths\n",
               o.file);
  if (o.format == "csv") {
    print_csv(view.stats, rows);
  } else if (o.format == "json") {
    print_json(view.stats, rows, view.from_file, o.file);
  } else {
    print_table(view.stats, rows, view.from_file);
  }
  std::fflush(stdout);
  if (!o.plot.empty()) {
    write_text_file(o.plot, html::decay_by_layer_svg(view.stats, rows, ""));
    fmt::print(stderr, "ratrace: wrote {}\n", o.plot);
  }
}

}  // namespace

void register_decay(CLI::App& root, int& exit_code) {
  auto options = std::make_shared<DecayOptions>();
  auto* sub = root.add_subcommand("decay", "Influence-decay curves per layer and head (attention and path origins by distance)");
  sub->add_option("results", options->file, "results file written by `ratrace trace`")->required();
  sub->add_option("--layer,--layers", options->layers, "layers to show (SEL; negative from the highest traced layer)");
  sub->add_option("--head,--heads", options->heads, "heads to show (SEL plus mean, max; default: every row)");
  sub->add_option("--format", options->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  sub->add_option("--plot", options->plot, "also write an SVG plot (one line per layer) to this file");
  sub->callback([options, &exit_code] {
    run_decay(*options);
    exit_code = kExitOk;
  });
}

}  // namespace ratrace::cli
