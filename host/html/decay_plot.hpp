#pragma once
// The influence-decay figures, as SVG: curves by distance (per layer, or per head of one layer)
// and the heads x layers heat map of mean origin distance.
#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "ratrace/decay_stats.hpp"

namespace ratrace::html {

// The mean over `rows` of a per-bin statistic, ignoring NaN (NaN where every row is NaN).
std::array<double, kDistanceBins> mean_over_rows(const std::vector<std::array<double, kDistanceBins>>& values,
                                                 const std::vector<std::size_t>& rows);

// Two panels (mean attention by distance; share of path weight by origin distance), one line per
// layer, each line the mean over that layer's rows among `rows`. A standalone <svg> document.
std::string decay_by_layer_svg(const DecayStats& stats, const std::vector<std::size_t>& rows, const std::string& title);

// The same two panels for one layer, one line per head or aggregate (its rows among `rows`).
std::string decay_of_layer_svg(const DecayStats& stats, const std::vector<std::size_t>& rows, int layer);

// Heads (rows: mean, max, then 0, 1, ...) x layers (columns) of one value per stats row, e.g.
// stats.mean_origin_distance; colour on a log2(1 + value) scale.
std::string heads_by_layers_svg(const DecayStats& stats, const std::vector<double>& per_row, const std::string& title,
                                const std::string& value_label);

}  // namespace ratrace::html
