// Stage (a): every row's top-K candidate predecessors (SPEC §1.1).
#include "ratrace/candidate_table.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "ratrace/detail/scoring.hpp"
#include "ratrace/params.hpp"
#include "reference/candidate_rows.hpp"

namespace ratrace {

void build_candidate_rows(const float* matrix, std::int32_t seq_len, const std::uint8_t* key_mask,
                          double min_attn, std::int32_t row_begin, std::int32_t row_end, CandidateTable& table) {
  const std::int32_t top_k = table.top_k();
  std::uint64_t kept[kMaxTopK];  // candidate_key order (larger = earlier); the first n are valid
  for (std::int32_t i = row_begin; i < row_end; ++i) {
    const float* row = matrix + static_cast<std::int64_t>(i) * seq_len;
    std::int32_t n = 0;
    for (std::int32_t j = 0; j < i; ++j) {  // the diagonal and above are never read
      const float a = row[j];
      if (!detail::passes_threshold(a, min_attn)) continue;
      if (key_mask && key_mask[j] == 0) continue;
      const std::uint64_t key = detail::candidate_key(a, j);
      if (n == top_k && key <= kept[top_k - 1]) continue;  // cannot enter the full list
      // Insertion into the bounded sorted list, dropping the last entry when it is full.
      std::int32_t at = n < top_k ? n : top_k - 1;
      while (at > 0 && kept[at - 1] < key) {
        kept[at] = kept[at - 1];
        --at;
      }
      kept[at] = key;
      if (n < top_k) ++n;
    }
    Candidate* out = table.row_data(i);
    for (std::int32_t r = 0; r < n; ++r)
      out[r] = Candidate{detail::candidate_key_pos(kept[r]), detail::candidate_key_attn(kept[r])};
    table.set_size(i, n);
  }
}

CandidateTable build_candidate_table(const float* matrix, std::int32_t seq_len, const std::uint8_t* key_mask,
                                     std::int32_t top_k, double min_attn) {
  if (top_k < 1 || top_k > kMaxTopK)
    throw std::invalid_argument(fmt::format("build_candidate_table: top_k {} is outside 1..{}", top_k, kMaxTopK));
  if (seq_len < 0) throw std::invalid_argument(fmt::format("build_candidate_table: seq_len {} < 0", seq_len));
  CandidateTable table(seq_len, top_k);
  build_candidate_rows(matrix, seq_len, key_mask, min_attn, 0, seq_len, table);
  return table;
}

}  // namespace ratrace
