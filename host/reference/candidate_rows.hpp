#pragma once
// Internal to the CPU reference: stage (a) on a range of rows, so the engine can split one
// matrix across threads (rows are independent, so the table is the same for any split).
#include <cstdint>

#include "ratrace/candidate_table.hpp"

namespace ratrace {

// Fills rows [row_begin, row_end) of `table` (already sized seq_len x top_k, top_k in 1..32).
void build_candidate_rows(const float* matrix, std::int32_t seq_len, const std::uint8_t* key_mask,
                          double min_attn, std::int32_t row_begin, std::int32_t row_end, CandidateTable& table);

}  // namespace ratrace
