// Synthetic head matrices: each row i is a distribution over j <= i shaped like one of the head
// patterns seen in real models, with a long tail of noise so that values are distinct.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "ratrace/errors.hpp"
#include "ratrace/synth.hpp"
#include "synth/splitmix.hpp"

namespace ratrace {
namespace {

// Induction heads attend to the token after the previous occurrence of the current one; on text
// that repeats with period P that is position i - P + 1.
constexpr int kInductionPeriod = 7;
// Local-window heads spread their focus over the last positions with this decay length.
constexpr int kLocalWindow = 8;
constexpr double kLocalDecay = 2.0;

// Noise weight with a long tail: most positions get little, a few get noticeably more.
double tail_noise(synth::SplitMix64& rng) {
  const double u = rng.uniform();
  return 0.02 + u * u * u * u;
}

// Row i as doubles summing to 1: `focus` weights (position, share of the row) first, the rest of
// the mass spread over the other positions in proportion to tail noise.
void fill_row(std::vector<double>& row, int i, const std::vector<std::pair<int, double>>& focus,
              synth::SplitMix64& rng) {
  row.assign(static_cast<std::size_t>(i) + 1, 0.0);
  std::vector<char> is_focus(row.size(), 0);
  double focus_mass = 0.0;
  for (const auto& [j, share] : focus) {
    row[j] += share;
    is_focus[j] = 1;
    focus_mass += share;
  }
  double noise_sum = 0.0;
  std::vector<double> noise(row.size(), 0.0);
  for (int j = 0; j <= i; ++j)
    if (!is_focus[j]) noise_sum += noise[j] = tail_noise(rng);
  if (noise_sum > 0.0) {
    const double rest = std::max(0.0, 1.0 - focus_mass) / noise_sum;
    for (int j = 0; j <= i; ++j) row[j] += noise[j] * rest;
  }
  const double total = std::accumulate(row.begin(), row.end(), 0.0);
  for (double& w : row) w /= total;
}

void pattern_row(HeadPattern pattern, int i, synth::SplitMix64& rng, std::vector<double>& row) {
  std::vector<std::pair<int, double>> focus;
  switch (pattern) {
    case HeadPattern::sink:
      focus.emplace_back(0, 0.5 + 0.4 * rng.uniform());
      break;
    case HeadPattern::previous_token:
      focus.emplace_back(std::max(0, i - 1), 0.55 + 0.4 * rng.uniform());
      break;
    case HeadPattern::local_window: {
      std::vector<double> w;
      double sum = 0.0;
      for (int d = 0; d < kLocalWindow && d <= i; ++d) sum += w.emplace_back(std::exp(-d / kLocalDecay) * (0.6 + 0.8 * rng.uniform()));
      const double mass = 0.85;
      for (int d = 0; d < static_cast<int>(w.size()); ++d) focus.emplace_back(i - d, mass * w[d] / sum);
      break;
    }
    case HeadPattern::induction:
      if (i >= kInductionPeriod) focus.emplace_back(i - kInductionPeriod + 1, 0.5 + 0.4 * rng.uniform());
      else focus.emplace_back(0, 0.4 + 0.3 * rng.uniform());  // nothing repeated yet: rest on the start
      break;
    case HeadPattern::diffuse: {
      row.assign(static_cast<std::size_t>(i) + 1, 0.0);
      double sum = 0.0;
      for (double& w : row) sum += w = 0.5 + rng.uniform();
      for (double& w : row) w /= sum;
      return;
    }
  }
  fill_row(row, i, focus, rng);
}

// Rounds a distribution to multiples of 1/levels that still sum to exactly levels/levels:
// floor every weight, then hand the missing units to the largest remainders (lower j first).
void quantise_row(std::vector<double>& row, int levels) {
  std::vector<long long> units(row.size());
  std::vector<std::pair<double, int>> remainders(row.size());
  long long used = 0;
  for (std::size_t j = 0; j < row.size(); ++j) {
    const double scaled = row[j] * levels;
    units[j] = static_cast<long long>(std::floor(scaled));
    used += units[j];
    remainders[j] = {scaled - static_cast<double>(units[j]), static_cast<int>(j)};
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (long long k = 0; used < levels && k < static_cast<long long>(remainders.size()); ++k, ++used)
    ++units[remainders[k].second];
  for (std::size_t j = 0; j < row.size(); ++j) row[j] = static_cast<double>(units[j]) / levels;
}

}  // namespace

std::vector<float> synth_head_matrix(HeadPattern pattern, int seq_len, std::uint64_t seed, int tie_levels) {
  if (seq_len < 1) throw UsageError(fmt::format("synthetic sequence length {} is not positive", seq_len));
  if (tie_levels < 0) throw UsageError(fmt::format("tie levels {} is negative", tie_levels));
  const std::size_t n = static_cast<std::size_t>(seq_len);
  std::vector<float> matrix(n * n, 0.0f);
  synth::SplitMix64 rng(synth::mix_seed(seed, static_cast<std::uint64_t>(pattern), n));
  std::vector<double> row;
  for (int i = 0; i < seq_len; ++i) {
    pattern_row(pattern, i, rng, row);
    if (tie_levels > 0) quantise_row(row, tie_levels);
    float* out = matrix.data() + static_cast<std::size_t>(i) * n;
    for (int j = 0; j <= i; ++j) out[j] = static_cast<float>(row[j]);
  }
  return matrix;
}

}  // namespace ratrace
