#pragma once
// Internal to the CPU reference: the `mean` and `max` matrices of one layer (SPEC §3), built
// while the heads stream past one at a time, so a whole layer is never held.
#include <cstdint>
#include <vector>

namespace ratrace {

class HeadAggregate {
 public:
  HeadAggregate(int seq_len, bool want_mean, bool want_max);

  // Folds in rows [row_begin, row_end) of the next head (dense row-major [S][S] float32). Feed the
  // heads in order 0..H-1; within one head, disjoint row ranges may be added concurrently. Only
  // j <= i is read.
  void add_rows(const float* head, int row_begin, int row_end);
  void add_head(const float* head) { add_rows(head, 0, seq_len_); }

  // float32(sum over heads of double(value), in head order, / double(num_heads)); zeros above
  // the diagonal.
  std::vector<float> mean(int num_heads) const;
  // Elementwise maximum over the heads; zeros above the diagonal.
  std::vector<float> max() const;

 private:
  int seq_len_;
  std::vector<double> sum_;  // empty unless want_mean
  std::vector<float> max_;   // empty unless want_max
};

}  // namespace ratrace
