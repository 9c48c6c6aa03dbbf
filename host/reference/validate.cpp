// Value checks of SPEC §4: bad values are errors, odd row sums are only counted.
#include "ratrace/validate.hpp"

#include <fmt/format.h>

#include <cmath>

#include "ratrace/detail/scoring.hpp"
#include "ratrace/errors.hpp"

namespace ratrace {

void check_attention_values(const float* matrix, int seq_len, const std::string& where, RowSumTally& tally) {
  for (int i = 0; i < seq_len; ++i) {
    const float* row = matrix + static_cast<std::int64_t>(i) * seq_len;
    double sum = 0.0;
    for (int j = 0; j <= i; ++j) {  // elements above the diagonal are never looked at
      if (detail::is_bad_weight(row[j]))
        throw InputError(fmt::format("{}: value {} at row {}, column {}", where, row[j], i, j));
      sum += row[j];
    }
    ++tally.rows_checked;
    if (std::abs(sum - 1.0) > 0.01) ++tally.rows_off;
  }
}

}  // namespace ratrace
