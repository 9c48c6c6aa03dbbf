#include "reference/aggregate.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace ratrace {

HeadAggregate::HeadAggregate(int seq_len, bool want_mean, bool want_max) : seq_len_(seq_len) {
  const std::size_t n = static_cast<std::size_t>(seq_len) * static_cast<std::size_t>(seq_len);
  if (want_mean) sum_.assign(n, 0.0);
  // -inf start: the first head's value is taken as it is (valid weights are never below it).
  if (want_max) max_.assign(n, -std::numeric_limits<float>::infinity());
}

void HeadAggregate::add_rows(const float* head, int row_begin, int row_end) {
  for (int i = row_begin; i < row_end; ++i) {
    const std::size_t row = static_cast<std::size_t>(i) * static_cast<std::size_t>(seq_len_);
    if (!sum_.empty())
      for (int j = 0; j <= i; ++j) sum_[row + j] += static_cast<double>(head[row + j]);
    if (!max_.empty())
      for (int j = 0; j <= i; ++j) max_[row + j] = std::max(max_[row + j], head[row + j]);
  }
}

std::vector<float> HeadAggregate::mean(int num_heads) const {
  if (sum_.empty() || num_heads < 1) throw std::logic_error("HeadAggregate::mean: no mean was accumulated");
  std::vector<float> out(sum_.size(), 0.0f);
  const double h = static_cast<double>(num_heads);
  for (int i = 0; i < seq_len_; ++i) {
    const std::size_t row = static_cast<std::size_t>(i) * static_cast<std::size_t>(seq_len_);
    for (int j = 0; j <= i; ++j) out[row + j] = static_cast<float>(sum_[row + j] / h);
  }
  return out;
}

std::vector<float> HeadAggregate::max() const {
  if (max_.empty()) throw std::logic_error("HeadAggregate::max: no max was accumulated");
  std::vector<float> out(max_.size(), 0.0f);
  for (int i = 0; i < seq_len_; ++i) {
    const std::size_t row = static_cast<std::size_t>(i) * static_cast<std::size_t>(seq_len_);
    for (int j = 0; j <= i; ++j) out[row + j] = max_[row + j];
  }
  return out;
}

}  // namespace ratrace
