#include "html/palette.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace ratrace::html {

std::string categorical_colour(int i) {
  // Tableau 10: readable on white and distinguishable for most colour-blind readers.
  static constexpr std::array<const char*, 10> kTableau = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                                           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  if (i >= 0 && i < static_cast<int>(kTableau.size())) return kTableau[static_cast<std::size_t>(i)];
  // Beyond 10: golden-angle hues at a fixed, readable saturation and lightness.
  const double hue = std::fmod(37.0 + 137.508 * i, 360.0);
  return fmt::format("hsl({:.0f},55%,48%)", hue);
}

std::string viridis(double t) {
  static constexpr std::array<std::array<double, 3>, 9> kStops = {{{68, 1, 84},
                                                                   {71, 44, 122},
                                                                   {59, 81, 139},
                                                                   {44, 113, 142},
                                                                   {33, 144, 141},
                                                                   {39, 173, 129},
                                                                   {92, 200, 99},
                                                                   {170, 220, 50},
                                                                   {253, 231, 37}}};
  if (!std::isfinite(t)) t = 0.0;
  t = std::clamp(t, 0.0, 1.0) * static_cast<double>(kStops.size() - 1);
  const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(t), kStops.size() - 2);
  const double f = t - static_cast<double>(k);
  auto channel = [&](int c) {
    return static_cast<int>(std::lround(kStops[k][c] + f * (kStops[k + 1][c] - kStops[k][c])));
  };
  return fmt::format("#{:02x}{:02x}{:02x}", channel(0), channel(1), channel(2));
}

}  // namespace ratrace::html
