#pragma once
// Value checks of SPEC §4 on matrices that a run reads.
#include <cstdint>
#include <string>

namespace ratrace {

struct RowSumTally {
  std::int64_t rows_checked = 0;
  std::int64_t rows_off = 0;  // rows whose sum over j <= i differs from 1 by more than 0.01
};

// Throws InputError, naming `where` (e.g. "in.h5:/sequences/a/attention layer 3 head 2") and the
// element, on the first NaN, Inf or negative value at j <= i. Tallies suspicious row sums.
void check_attention_values(const float* matrix, int seq_len, const std::string& where, RowSumTally& tally);

}  // namespace ratrace
