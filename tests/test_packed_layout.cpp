// The packed lower-triangle layout in which the GPU engine moves attention to the device, and the
// segment lookups its kernels map blocks to rows with (detail/packed_layout.hpp: the very functions
// the kernels call, checked here without a GPU).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "ratrace/detail/packed_layout.hpp"

using namespace ratrace::detail;

TEST(PackedLayout, RowOffsetsAndSizes) {
  EXPECT_EQ(packed_row_offset(0), 0);
  EXPECT_EQ(packed_row_offset(1), 1);
  EXPECT_EQ(packed_row_offset(2), 3);
  EXPECT_EQ(packed_row_offset(3), 6);
  EXPECT_EQ(packed_matrix_elems(0), 0);
  EXPECT_EQ(packed_matrix_elems(1), 1);
  EXPECT_EQ(packed_matrix_elems(2), 3);
  EXPECT_EQ(packed_matrix_elems(3), 6);
  EXPECT_EQ(packed_matrix_elems(4096), 8390656);
  EXPECT_EQ(packed_row_offset(4095), 8386560);
  EXPECT_EQ(packed_row_offset(4095) + 4096, packed_matrix_elems(4096));  // the last row ends the head
  // Rows are back to back: row i + 1 starts right after row i's i + 1 elements.
  for (std::int64_t i = 0; i < 5000; ++i) ASSERT_EQ(packed_row_offset(i + 1), packed_row_offset(i) + i + 1) << i;
  // 64-bit offsets: past 2^31 elements per head, and many heads of a launch, without overflow.
  EXPECT_EQ(packed_matrix_elems(65536), std::int64_t{2147516416});
  EXPECT_EQ(packed_row_offset(std::int64_t{1} << 20), std::int64_t{549756338176});
  EXPECT_EQ(32 * packed_matrix_elems(4096) + packed_row_offset(4095), std::int64_t{32} * 8390656 + 8386560);
}

namespace {

// Packs a dense S x S matrix of T whose element (i, j) is code(i, j); above the diagonal a marker
// that must never travel. Returns the packed elements, with canaries after the end.
template <class T>
std::vector<T> pack_known(int S, T (*code)(int, int), T above, std::int64_t split_row = -1) {
  std::vector<T> dense(static_cast<std::size_t>(S) * S);
  for (int i = 0; i < S; ++i)
    for (int j = 0; j < S; ++j) dense[static_cast<std::size_t>(i) * S + j] = j <= i ? code(i, j) : above;
  const auto n = static_cast<std::size_t>(packed_matrix_elems(S));
  std::vector<T> packed(n + 4, above);
  if (split_row < 0) {
    pack_lower_triangle(dense.data(), S, sizeof(T), packed.data());
  } else {  // as the engine does: disjoint runs of rows, the later run handed over in a buffer of its own
    const std::vector<T> run(dense.begin() + split_row * S, dense.end());
    pack_row_block(run.data(), S, sizeof(T), packed.data(), split_row, S);
    pack_lower_triangle_rows(dense.data(), S, sizeof(T), packed.data(), 0, split_row);
  }
  return packed;
}

std::uint16_t code16(int i, int j) { return static_cast<std::uint16_t>(i * 97 + j + 1); }
float code32(int i, int j) { return static_cast<float>(i) * 1000.0f + static_cast<float>(j) + 0.5f; }

}  // namespace

TEST(PackedLayout, PackPutsEveryElementAtItsOffset) {
  const std::uint16_t above16 = 0xffff;
  for (const int S : {1, 2, 3, 5, 33, 130}) {
    const auto n = static_cast<std::size_t>(packed_matrix_elems(S));
    for (const std::int64_t split : {std::int64_t{-1}, std::int64_t{S / 2}}) {
      const std::vector<std::uint16_t> p = pack_known<std::uint16_t>(S, code16, above16, split);
      for (int i = 0; i < S; ++i)
        for (int j = 0; j <= i; ++j)
          ASSERT_EQ(p[static_cast<std::size_t>(packed_row_offset(i) + j)], code16(i, j)) << "S=" << S << " (" << i << ", " << j << ")";
      // Nothing from above the diagonal, nothing written past the head.
      for (std::size_t k = 0; k < n; ++k) ASSERT_NE(p[k], above16) << "S=" << S << " element " << k;
      for (std::size_t k = n; k < p.size(); ++k) ASSERT_EQ(p[k], above16) << "S=" << S << " canary " << k;

      const float nan = std::numeric_limits<float>::quiet_NaN();
      const std::vector<float> f = pack_known<float>(S, code32, nan, split);
      for (int i = 0; i < S; ++i)
        for (int j = 0; j <= i; ++j)
          ASSERT_EQ(f[static_cast<std::size_t>(packed_row_offset(i) + j)], code32(i, j)) << "S=" << S << " (" << i << ", " << j << ")";
      for (std::size_t k = n; k < f.size(); ++k) ASSERT_TRUE(f[k] != f[k]) << "S=" << S << " canary " << k;
    }
  }
}

TEST(PackedLayout, KnownFourByFour) {
  // Rows 0..3 of a 4 x 4 matrix: 1 | 2 3 | 4 5 6 | 7 8 9 10 (x above the diagonal).
  const std::uint16_t x = 99;
  const std::vector<std::uint16_t> dense = {1, x, x, x, 2, 3, x, x, 4, 5, 6, x, 7, 8, 9, 10};
  std::vector<std::uint16_t> packed(10, 0);
  pack_lower_triangle(dense.data(), 4, 2, packed.data());
  EXPECT_EQ(packed, (std::vector<std::uint16_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST(SegmentLookup, FindsTheMatrixOfEveryItemAndSkipsEmptyOnes) {
  // Segments of 3, 0, 1, 6, 0, 2 items.
  const std::vector<std::int64_t> begin = {0, 3, 3, 4, 10, 10, 12};
  const int n = static_cast<int>(begin.size()) - 1;
  for (std::int64_t x = 0; x < begin.back(); ++x) {
    int expected = 0;
    while (!(begin[expected] <= x && x < begin[expected + 1])) ++expected;
    EXPECT_EQ(segment_of(begin.data(), n, x), expected) << "item " << x;
  }
  EXPECT_EQ(segment_of(begin.data(), 1, 0), 0);
}

TEST(SegmentLookup, RowOfItemCoversEveryRowOnceLongestFirst) {
  // Matrices of 5, 1, 0, 40 and 7 rows, as the top-K grid of a launch sees them.
  const std::vector<int> lengths = {5, 1, 0, 40, 7};
  std::vector<std::int64_t> begin = {0};
  for (const int s : lengths) begin.push_back(begin.back() + s);
  std::set<std::pair<int, int>> seen;
  int previous_matrix = -1, previous_row = 0;
  for (std::int64_t b = 0; b < begin.back(); ++b) {
    const SegmentRow at = row_of_item(begin.data(), static_cast<int>(lengths.size()), b);
    ASSERT_GE(at.matrix, 0);
    ASSERT_LT(at.matrix, static_cast<int>(lengths.size()));
    ASSERT_GE(at.row, 0);
    ASSERT_LT(at.row, lengths[at.matrix]) << "block " << b;
    EXPECT_TRUE(seen.emplace(at.matrix, at.row).second) << "block " << b << " repeats a row";
    if (at.matrix == previous_matrix) EXPECT_EQ(at.row, previous_row - 1) << "rows of a matrix descend";
    else EXPECT_EQ(at.row, lengths[at.matrix] - 1) << "a matrix starts at its longest row";
    // The table row the kernel writes: row_begin[m] + i, inside the matrix's own rows.
    EXPECT_GE(begin[at.matrix] + at.row, begin[at.matrix]);
    EXPECT_LT(begin[at.matrix] + at.row, begin[at.matrix + 1]);
    previous_matrix = at.matrix;
    previous_row = at.row;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(begin.back()));
}
