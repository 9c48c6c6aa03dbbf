#pragma once
// A full value scan of a sequence's attention (for `ratrace inspect --check-values`): counts the
// problems that SPEC §4 calls bad input (NaN, Inf, negative at j <= i) or suspicious (row sums
// off by more than 0.01) instead of stopping at the first one.
#include <cstdint>
#include <optional>
#include <string>

#include "ratrace/corpus_reader.hpp"

namespace ratrace::corpus {

struct ValueLocation {
  int layer = 0, head = 0, row = 0, col = 0;
  double value = 0.0;  // the element, or the row's sum for row-sum findings
};

struct ValueTally {
  std::int64_t count = 0;
  std::optional<ValueLocation> first;
  void add(const ValueLocation& where) {
    if (count++ == 0) first = where;
  }
};

struct SequenceValueScan {
  std::int64_t rows_checked = 0;
  ValueTally nan, inf, negative;  // elements at j <= i
  ValueTally rows_off;            // finite rows whose sum over j <= i differs from 1 by > 0.01
  bool bad() const { return nan.count + inf.count + negative.count > 0; }
};

// Reads every head of every layer of sequence `seq`, a group of heads at a time.
SequenceValueScan scan_sequence_values(const CorpusReader& reader, int seq);

}  // namespace ratrace::corpus
