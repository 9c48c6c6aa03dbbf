#pragma once
// Hand-written SVG charts: curves over the power-of-two distance bins (log x axis), and a heat map
// with a colour-scale legend. No scripts, no external resources: they read the same inline in a
// page or as standalone .svg files.
#include <string>
#include <vector>

namespace ratrace::html {

struct ChartSeries {
  std::string label;
  std::string colour;
  std::vector<double> values;  // one per distance bin; NaN (or <= 0 on a log axis) leaves a gap
  bool dashed = false;
};

struct BinChart {
  std::string title;
  std::string y_label;
  bool log_y = true;
  std::vector<ChartSeries> series;
  int width = 560;   // plot panel with its axes, without the legend
  int height = 380;
  bool legend = true;
  std::string legend_title;
  int bins = 0;  // distance bins on the x axis; 0: up to the last bin with a positive value
};

// An SVG fragment: a chart drawn as a <g> at (x, y), and the width and height it takes.
struct SvgBlock {
  std::string svg;
  double width = 0;
  double height = 0;
};

SvgBlock bin_chart(const BinChart& chart, double x, double y);

struct HeatMap {
  std::string title;
  std::vector<std::string> row_labels;  // top to bottom
  std::vector<std::string> col_labels;  // left to right
  std::vector<double> values;           // row-major [rows][cols]; NaN = no data
  std::string row_axis;                 // "head"
  std::string col_axis;                 // "layer"
  std::string value_label;              // "mean origin distance (tokens)"
};

// Colour runs over log2(1 + value), because distances spread over powers of two.
SvgBlock heat_map(const HeatMap& map, double x, double y);

// Wraps blocks placed with the functions above into one standalone <svg> document.
std::string svg_document(double width, double height, const std::string& content, const std::string& label);

// The x-axis tick text of distance 2^b: "1", "2", ..., "512", "1k", "2k", ..., "1M".
std::string distance_tick(int b);

}  // namespace ratrace::html
