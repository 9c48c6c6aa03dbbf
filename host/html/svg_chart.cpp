#include "html/svg_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "html/html_util.hpp"
#include "html/palette.hpp"

namespace ratrace::html {

namespace {

constexpr double kMarginLeft = 70, kMarginRight = 18, kMarginTop = 40, kMarginBottom = 56;
constexpr double kLegendRow = 18;
constexpr const char* kFont = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\"";

bool plottable(double v, bool log_y) { return std::isfinite(v) && (!log_y || v > 0); }

// A tick value as short text: 0.001 -> "0.001", 1e-5 -> "1e-5", 0.25 -> "0.25".
std::string value_tick(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 0.001 && a < 1e5) {
    std::string t = fmt::format("{:.4f}", v);
    while (t.back() == '0') t.pop_back();
    if (t.back() == '.') t.pop_back();
    return t;
  }
  return fmt::format("1e{}", static_cast<int>(std::lround(std::log10(a))));
}

// Ticks 0, step, 2 step, ... covering [0, max] with a 1-2-5 step and about 5 intervals.
std::vector<double> linear_ticks(double max) {
  if (!(max > 0)) max = 1;
  const double raw = max / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (int i = 0; i * step < max + step * 0.999; ++i) ticks.push_back(i * step);
  return ticks;
}

std::string text(double x, double y, const std::string& body, const std::string& extra = "") {
  return fmt::format("<text x=\"{}\" y=\"{}\" {}>{}</text>", num(x), num(y), extra, escape(body));
}

}  // namespace

std::string distance_tick(int b) {
  const long long d = 1LL << b;
  if (d >= (1LL << 20) && d % (1LL << 20) == 0) return fmt::format("{}M", d >> 20);
  if (d >= 1024 && d % 1024 == 0) return fmt::format("{}k", d >> 10);
  return std::to_string(d);
}

SvgBlock bin_chart(const BinChart& chart, double x0, double y0) {
  const bool log_y = chart.log_y;
  // The bins shown: up to the last one any series has a value for (at least two).
  int bins = 2;
  for (const ChartSeries& s : chart.series)
    for (std::size_t b = 0; b < s.values.size(); ++b)
      if (std::isfinite(s.values[b]) && s.values[b] > 0) bins = std::max(bins, static_cast<int>(b) + 1);
  if (chart.bins > 0) bins = chart.bins;
  double vmin = std::numeric_limits<double>::infinity(), vmax = -vmin;
  for (const ChartSeries& s : chart.series)
    for (std::size_t b = 0; b < s.values.size() && static_cast<int>(b) < bins; ++b)
      if (plottable(s.values[b], log_y)) {
        vmin = std::min(vmin, s.values[b]);
        vmax = std::max(vmax, s.values[b]);
      }
  const bool empty = !std::isfinite(vmin);

  const double pw = chart.width - kMarginLeft - kMarginRight;
  const double ph = chart.height - kMarginTop - kMarginBottom;
  const double left = kMarginLeft, top = kMarginTop, bottom = top + ph;
  auto x_of_edge = [&](double b) { return left + b / bins * pw; };

  // y scale
  std::vector<double> yticks;
  double ylo = 0, yhi = 1;
  if (log_y) {
    const double lo = empty ? -3 : std::floor(std::log10(vmin));
    double hi = empty ? 0 : std::ceil(std::log10(vmax));
    if (hi <= lo) hi = lo + 1;
    ylo = lo, yhi = hi;
    const int every = (hi - lo) > 8 ? 2 : 1;
    for (int e = static_cast<int>(lo); e <= static_cast<int>(hi); e += every) yticks.push_back(std::pow(10.0, e));
  } else {
    yticks = linear_ticks(empty ? 1 : vmax);
    ylo = 0, yhi = yticks.back();
  }
  auto y_of = [&](double v) {
    const double t = log_y ? (std::log10(v) - ylo) / (yhi - ylo) : (v - ylo) / (yhi - ylo);
    return bottom - t * ph;
  };

  std::string g = fmt::format("<g transform=\"translate({},{})\" {} font-size=\"12\" fill=\"#222\">", num(x0),
                              num(y0), kFont);
  g += text(left + pw / 2, 22, chart.title, "text-anchor=\"middle\" font-size=\"15\" font-weight=\"600\"");
  g += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fbfbfd\" stroke=\"none\"/>", num(left),
                   num(top), num(pw), num(ph));

  // grid and y ticks
  for (double v : yticks) {
    const double y = y_of(v);
    g += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#e3e3ea\"/>", num(left), num(left + pw),
                     num(y), num(y));
    g += text(left - 8, y + 4, value_tick(v), "text-anchor=\"end\" fill=\"#555\"");
  }
  // x ticks at the bin edges 1, 2, 4, ...
  const int label_every = bins > 12 ? 2 : 1;
  for (int b = 0; b <= bins; ++b) {
    const double x = x_of_edge(b);
    g += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#e3e3ea\"/>", num(x), num(x), num(top),
                     num(bottom));
    g += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#888\"/>", num(x), num(x), num(bottom),
                     num(bottom + 5));
    if (b % label_every == 0) g += text(x, bottom + 19, distance_tick(b), "text-anchor=\"middle\" fill=\"#555\"");
  }
  g += fmt::format("<path d=\"M{} {}V{}H{}\" fill=\"none\" stroke=\"#888\"/>", num(left), num(top), num(bottom),
                   num(left + pw));
  g += text(left + pw / 2, bottom + 42, "distance i \u2212 j (tokens, log scale; bins 1, 2\u20133, 4\u20137, \u2026)",
            "text-anchor=\"middle\"");
  g += fmt::format("<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>", num(16),
                   num(top + ph / 2), escape(chart.y_label));
  if (empty) g += text(left + pw / 2, top + ph / 2, "no data", "text-anchor=\"middle\" fill=\"#999\"");

  // series: a line through the bin centres, broken where a bin has no value, and a dot per bin
  for (const ChartSeries& s : chart.series) {
    std::string d;
    std::string dots;
    bool pen_down = false;
    for (std::size_t b = 0; b < s.values.size() && static_cast<int>(b) < bins; ++b) {
      const double v = s.values[b];
      if (!plottable(v, log_y)) {
        pen_down = false;
        continue;
      }
      const double x = x_of_edge(static_cast<double>(b) + 0.5), y = y_of(v);
      d += fmt::format("{}{} {}", pen_down ? "L" : "M", num(x), num(y));
      pen_down = true;
      const int lo = 1 << b, hi = (1 << (b + 1)) - 1;
      const std::string range = lo == hi ? std::to_string(lo) : fmt::format("{}\u2013{}", lo, hi);
      dots += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{}\"><title>{}, d {}: {:.4g}</title></circle>",
                          num(x), num(y), s.colour, escape(s.label), range, v);
    }
    g += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} stroke-linejoin=\"round\"/>", d,
                     s.colour, s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    g += dots;
  }

  // legend to the right, in as many columns as its entries need
  double width = chart.width;
  if (chart.legend && !chart.series.empty()) {
    const double lx = chart.width + 4;
    double ly = top;
    if (!chart.legend_title.empty()) {
      g += text(lx, ly + 4, chart.legend_title, "font-weight=\"600\"");
      ly += kLegendRow;
    }
    const int per_column = std::max(1, static_cast<int>((bottom - ly) / kLegendRow));
    const double column_width = 96;
    for (std::size_t i = 0; i < chart.series.size(); ++i) {
      const ChartSeries& s = chart.series[i];
      const double cx = lx + static_cast<double>(i / per_column) * column_width;
      const double cy = ly + static_cast<double>(i % per_column) * kLegendRow;
      g += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"3\"{}/>", num(cx),
                       num(cx + 22), num(cy), num(cy), s.colour, s.dashed ? " stroke-dasharray=\"5 3\"" : "");
      g += text(cx + 28, cy + 4, s.label);
    }
    const std::size_t columns = (chart.series.size() + per_column - 1) / per_column;
    width += 8 + static_cast<double>(columns) * column_width;
  }
  g += "</g>";
  return {g, width, static_cast<double>(chart.height)};
}

SvgBlock heat_map(const HeatMap& map, double x0, double y0) {
  const std::size_t rows = map.row_labels.size(), cols = map.col_labels.size();
  const double cell_w = std::clamp(640.0 / std::max<std::size_t>(cols, 1), 22.0, 56.0);
  const double cell_h = std::clamp(360.0 / std::max<std::size_t>(rows, 1), 18.0, 30.0);
  const double left = 70, top = 40;
  const double grid_w = cell_w * static_cast<double>(cols), grid_h = cell_h * static_cast<double>(rows);

  double vmax = 0;
  for (double v : map.values)
    if (std::isfinite(v)) vmax = std::max(vmax, v);
  if (vmax <= 0) vmax = 1;
  const double scale_max = std::log2(1 + vmax);
  auto t_of = [&](double v) { return std::log2(1 + std::max(v, 0.0)) / scale_max; };

  std::string g = fmt::format("<g transform=\"translate({},{})\" {} font-size=\"12\" fill=\"#222\">", num(x0),
                              num(y0), kFont);
  // Centred over the grid, but never cut off at the left edge (a rough width estimate suffices).
  const double title_w = 8.5 * static_cast<double>(map.title.size());
  g += text(std::max(left + grid_w / 2, title_w / 2 + 4), 22, map.title,
            "text-anchor=\"middle\" font-size=\"15\" font-weight=\"600\"");
  const bool show_values = cell_w >= 34 && cell_h >= 18;
  for (std::size_t r = 0; r < rows; ++r) {
    const double y = top + cell_h * static_cast<double>(r);
    g += text(left - 8, y + cell_h / 2 + 4, map.row_labels[r], "text-anchor=\"end\"");
    for (std::size_t c = 0; c < cols; ++c) {
      const double x = left + cell_w * static_cast<double>(c);
      const double v = map.values[r * cols + c];
      const bool has = std::isfinite(v);
      const double t = has ? t_of(v) : 0;
      g += fmt::format(
          "<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#fff\"><title>{} {}, "
          "{} {}: {}</title></rect>",
          num(x), num(y), num(cell_w), num(cell_h), has ? viridis(t) : "#eeeeee", escape(map.row_axis),
          escape(map.row_labels[r]), escape(map.col_axis), escape(map.col_labels[c]),
          has ? fmt::format("{:.2f}", v) : std::string("no data"));
      if (show_values && has)
        g += text(x + cell_w / 2, y + cell_h / 2 + 4, v >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v),
                  fmt::format("text-anchor=\"middle\" font-size=\"11\" fill=\"{}\" pointer-events=\"none\"",
                              t > 0.6 ? "#222" : "#fff"));
    }
  }
  // column labels below, every other one when crowded
  const std::size_t every = cell_w < 26 ? 2 : 1;
  for (std::size_t c = 0; c < cols; c += every)
    g += text(left + cell_w * (static_cast<double>(c) + 0.5), top + grid_h + 16, map.col_labels[c],
              "text-anchor=\"middle\"");
  g += text(left + grid_w / 2, top + grid_h + 36, map.col_axis, "text-anchor=\"middle\"");
  g += fmt::format("<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>", num(14),
                   num(top + grid_h / 2), escape(map.row_axis));

  // colour scale: a vertical bar with ticks at 0, 1, 3, 7, ... (even steps of log2(1 + d))
  const double bar_x = left + grid_w + 28, bar_w = 16, bar_h = std::max(grid_h, 140.0);
  // Ids are page-wide when SVGs are inlined: derive this one from the title, unique per figure.
  std::string gradient_id = "heat-scale-";
  for (char c : map.title)
    if (std::isalnum(static_cast<unsigned char>(c))) gradient_id += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  g += fmt::format("<defs><linearGradient id=\"{}\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">", gradient_id);
  for (int k = 0; k <= 8; ++k)
    g += fmt::format("<stop offset=\"{}\" stop-color=\"{}\"/>", num(k / 8.0), viridis(k / 8.0));
  g += "</linearGradient></defs>";
  g += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#{})\" stroke=\"#888\"/>", num(bar_x),
                   num(top), num(bar_w), num(bar_h), gradient_id);
  std::vector<double> ticks{0};
  for (double d = 1; d <= vmax * 1.0001; d = d * 2 + 1) ticks.push_back(d);
  if (ticks.size() > 9) {  // keep about 8 labels
    std::vector<double> thinned;
    for (std::size_t i = 0; i < ticks.size(); i += 2) thinned.push_back(ticks[i]);
    ticks = thinned;
  }
  // The top of the bar is the largest value: label it unless a tick already sits close by.
  if (t_of(ticks.back()) < 0.9) ticks.push_back(std::round(vmax * 10) / 10);
  for (double d : ticks) {
    const double y = top + bar_h - t_of(d) * bar_h;
    g += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#444\"/>", num(bar_x + bar_w),
                     num(bar_x + bar_w + 4), num(y), num(y));
    g += text(bar_x + bar_w + 7, y + 4, fmt::format("{:g}", d));
  }
  g += fmt::format("<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
                   num(bar_x + bar_w + 52), num(top + bar_h / 2), escape(map.value_label));
  g += "</g>";
  return {g, std::max(bar_x + bar_w + 64, title_w + 8), top + std::max(grid_h + 48, bar_h + 10)};
}

std::string svg_document(double width, double height, const std::string& content, const std::string& label) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
      "aria-label=\"{2}\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>{3}</svg>",
      num(width), num(height), escape(label), content);
}

}  // namespace ratrace::html
