#pragma once
// Colours for charts and the Sankey: a categorical palette (beams, heads) and viridis (ordered
// things such as layers and heat maps).
#include <string>

namespace ratrace::html {

// Colour i of a categorical palette ("#1f77b4" style); distinct for the first 10, then hues cycle.
std::string categorical_colour(int i);

// Viridis at t in [0, 1], as "#rrggbb".
std::string viridis(double t);

}  // namespace ratrace::html
