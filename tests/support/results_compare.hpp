#pragma once
// Comparing two sets of trace results bit for bit (NaN edge weights included), for round trips
// through the results file and for determinism across thread counts.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ratrace/results.hpp"

namespace ratrace::testing {

// Fails once, at the first element whose bytes differ, naming the array.
template <class T, class Alloc>
void expect_same_bits(const std::vector<T, Alloc>& a, const std::vector<T, Alloc>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) {
      ADD_FAILURE() << what << " differs first at index " << i << ": " << a[i] << " vs " << b[i];
      return;
    }
  }
}

inline void expect_identical_results(const TraceResults& a, const TraceResults& b) {
  EXPECT_EQ(a.jobs, b.jobs);
  EXPECT_EQ(a.path_begin, b.path_begin);
  EXPECT_EQ(a.node_begin, b.node_begin);
  EXPECT_EQ(a.node_position, b.node_position);
  expect_same_bits(a.score_raw, b.score_raw, "score_raw");
  expect_same_bits(a.score_norm, b.score_norm, "score_norm");
  expect_same_bits(a.node_edge_attn, b.node_edge_attn, "node_edge_attn");
}

}  // namespace ratrace::testing
