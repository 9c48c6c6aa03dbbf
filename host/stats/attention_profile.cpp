#include <algorithm>

#include "ratrace/decay_stats.hpp"

namespace ratrace {

void accumulate_attention_profile(const float* matrix, std::int32_t seq_len, AttentionProfile& profile) {
  for (std::int32_t i = 1; i < seq_len; ++i) {
    const float* row = matrix + static_cast<std::int64_t>(i) * seq_len;
    // Walk j downwards so that each power-of-two distance band is one contiguous run.
    for (int b = 0; (1 << b) <= i; ++b) {
      const std::int32_t d_lo = 1 << b;
      const std::int32_t d_hi = std::min<std::int64_t>((std::int64_t{1} << (b + 1)) - 1, i);
      double s = 0.0;
      for (std::int32_t d = d_lo; d <= d_hi; ++d) s += row[i - d];
      profile.sum[b] += s;
      profile.count[b] += d_hi - d_lo + 1;
    }
  }
}

}  // namespace ratrace
