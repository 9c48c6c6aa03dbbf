#pragma once
// Small attention matrices for the reference-engine tests.
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <vector>

namespace ratrace::testing_support {

// A dense row-major [S][S] matrix from its lower-triangle rows (row i gives j = 0..i). Elements
// above the diagonal are filled with `above` (NaN by default: they must never be read).
inline std::vector<float> dense_from_rows(std::initializer_list<std::initializer_list<float>> rows,
                                          float above = std::numeric_limits<float>::quiet_NaN()) {
  const std::size_t S = rows.size();
  std::vector<float> m(S * S, above);
  std::size_t i = 0;
  for (const auto& row : rows) {
    std::size_t j = 0;
    for (const float a : row) m[i * S + j++] = a;
    ++i;
  }
  return m;
}

// The worked example of the engine's docs (target 5, top_k 3, top_beam 2).
inline std::vector<float> worked_example() {
  return dense_from_rows({
      {1.0f},
      {0.9f, 0.1f},
      {0.3f, 0.6f, 0.1f},
      {0.5f, 0.2f, 0.2f, 0.1f},
      {0.1f, 0.3f, 0.0f, 0.5f, 0.1f},
      {0.05f, 0.2f, 0.3f, 0.0f, 0.4f, 0.05f},
  });
}

// A random causal matrix: rows of random weights normalised to sum 1 over j <= i, some exact
// zeros; with `levels` > 0 every weight is a multiple of 1/levels, so exact ties are common.
inline std::vector<float> random_matrix(int S, std::mt19937_64& rng, int levels, double zero_fraction) {
  std::vector<float> m(static_cast<std::size_t>(S) * S, std::numeric_limits<float>::quiet_NaN());
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < S; ++i) {
    std::vector<double> w(static_cast<std::size_t>(i) + 1);
    double total = 0.0;
    for (double& x : w) {
      x = u(rng) < zero_fraction ? 0.0 : u(rng);
      total += x;
    }
    for (int j = 0; j <= i; ++j) {
      double a = total > 0.0 ? w[j] / total : (j == i ? 1.0 : 0.0);
      if (levels > 0) a = static_cast<double>(static_cast<int>(a * levels + 0.5)) / levels;
      m[static_cast<std::size_t>(i) * S + j] = static_cast<float>(a);
    }
  }
  return m;
}

inline std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
inline std::uint64_t bits_of(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

}  // namespace ratrace::testing_support
