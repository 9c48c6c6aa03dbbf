#pragma once
// The layout in which the GPU engine moves attention to the device, shared by the host code that
// builds it and the kernels that read it (and by the CPU tests, which check the very same code):
//
// Packed lower triangle: only the causal half of a head travels. Row i of a head holds its i + 1
// elements (j = 0..i) at element offset packed_row_offset(i) = i * (i + 1) / 2 within the head,
// and a head of S rows holds packed_matrix_elems(S) = S * (S + 1) / 2 elements. Offsets are 64-bit
// (S = 65536 already needs 2^31 elements per head).
//
// Segments: the kernels of one launch cover several matrices, each a run of rows laid end to end.
// begin[0] = 0 <= begin[1] <= ... <= begin[n] is the prefix sum of the rows of the n matrices;
// segment_of(begin, n, x) finds the matrix holding item x, and row_of_item() the row that item x
// stands for when each matrix is walked from its last (longest) row to its first.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ratrace/detail/host_device.hpp"

namespace ratrace::detail {

RATRACE_HD std::int64_t packed_row_offset(std::int64_t row) { return row * (row + 1) / 2; }

RATRACE_HD std::int64_t packed_matrix_elems(std::int64_t seq_len) { return seq_len * (seq_len + 1) / 2; }

// The m in [0, n) with begin[m] <= x < begin[m + 1], for 0 <= x < begin[n]; empty segments
// (begin[m] == begin[m + 1]) are never returned. Binary search: log2(n) steps.
RATRACE_HD int segment_of(const std::int64_t* begin, int n, std::int64_t x) {
  int lo = 0, hi = n;  // begin[lo] <= x < begin[hi]
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (begin[mid] <= x) lo = mid;
    else hi = mid;
  }
  return lo;
}

// Item x of a launch (a block of a top-K kernel): its matrix, and its row within that matrix,
// counted from the matrix's last row, so that each matrix's long rows are handed out first.
struct SegmentRow {
  int matrix;
  int row;
};
RATRACE_HD SegmentRow row_of_item(const std::int64_t* begin, int n, std::int64_t x) {
  const int m = segment_of(begin, n, x);
  return SegmentRow{m, static_cast<int>(begin[m + 1] - 1 - x)};
}

// Host side: copies rows [row_begin, row_end) of a dense row-major [S][S] matrix of elem_bytes-wide
// elements, given from row row_begin on (`rows`), into the packed layout (`packed` points at the
// head's first packed element). Rows are independent, so callers may split one head's rows among
// threads, and pack rows as they arrive.
inline void pack_row_block(const void* rows, std::int64_t seq_len, std::size_t elem_bytes, void* packed,
                           std::int64_t row_begin, std::int64_t row_end) {
  const auto* src = static_cast<const unsigned char*>(rows);
  auto* dst = static_cast<unsigned char*>(packed);
  for (std::int64_t i = row_begin; i < row_end; ++i)
    std::memcpy(dst + static_cast<std::size_t>(packed_row_offset(i)) * elem_bytes,
                src + static_cast<std::size_t>((i - row_begin) * seq_len) * elem_bytes,
                static_cast<std::size_t>(i + 1) * elem_bytes);
}

// The same, from the whole dense matrix.
inline void pack_lower_triangle_rows(const void* dense, std::int64_t seq_len, std::size_t elem_bytes, void* packed,
                                     std::int64_t row_begin, std::int64_t row_end) {
  pack_row_block(static_cast<const unsigned char*>(dense) + static_cast<std::size_t>(row_begin * seq_len) * elem_bytes,
                 seq_len, elem_bytes, packed, row_begin, row_end);
}

inline void pack_lower_triangle(const void* dense, std::int64_t seq_len, std::size_t elem_bytes, void* packed) {
  pack_lower_triangle_rows(dense, seq_len, elem_bytes, packed, 0, seq_len);
}

}  // namespace ratrace::detail
