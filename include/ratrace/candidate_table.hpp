#pragma once
// Stage (a) of a trace: every row's top-K candidate predecessors (SPEC §1.1).
#include <cstdint>
#include <vector>

#include "ratrace/detail/host_device.hpp"

namespace ratrace {

struct Candidate {
  std::int32_t pos;  // key position j
  float attn;        // A[i][j] as float32
};

// Trivially copyable view of a candidate table; beam search (CPU or GPU) takes it by value.
// Row i holds count[i] <= top_k candidates at entries[i * top_k ...], in candidate order.
struct candidate_table_ref {
  const Candidate* entries = nullptr;
  const std::int32_t* count = nullptr;
  std::int32_t seq_len = 0;
  std::int32_t top_k = 0;

  RATRACE_HD std::int32_t size(std::int32_t row) const { return count[row]; }
  RATRACE_HD const Candidate& at(std::int32_t row, std::int32_t rank) const {
    return entries[static_cast<std::int64_t>(row) * top_k + rank];
  }
};

// Owning host table.
class CandidateTable {
 public:
  CandidateTable() = default;
  CandidateTable(std::int32_t seq_len, std::int32_t top_k)
      : entries_(static_cast<std::size_t>(seq_len) * top_k, Candidate{-1, 0.0f}),
        count_(static_cast<std::size_t>(seq_len), 0),
        seq_len_(seq_len),
        top_k_(top_k) {}

  candidate_table_ref ref() const { return {entries_.data(), count_.data(), seq_len_, top_k_}; }
  std::int32_t seq_len() const { return seq_len_; }
  std::int32_t top_k() const { return top_k_; }
  std::int32_t size(std::int32_t row) const { return count_[row]; }
  const Candidate& at(std::int32_t row, std::int32_t rank) const {
    return entries_[static_cast<std::size_t>(row) * top_k_ + rank];
  }
  Candidate* row_data(std::int32_t row) { return entries_.data() + static_cast<std::size_t>(row) * top_k_; }
  void set_size(std::int32_t row, std::int32_t n) { count_[row] = n; }

 private:
  std::vector<Candidate> entries_;
  std::vector<std::int32_t> count_;
  std::int32_t seq_len_ = 0;
  std::int32_t top_k_ = 0;
};

// Builds the table of a dense row-major float32 [seq_len][seq_len] matrix. key_mask may be null
// (all keys valid); otherwise key j is usable only where key_mask[j] != 0.
CandidateTable build_candidate_table(const float* matrix, std::int32_t seq_len, const std::uint8_t* key_mask,
                                     std::int32_t top_k, double min_attn);

}  // namespace ratrace
