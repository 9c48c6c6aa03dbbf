// Value checks of SPEC §4: NaN / Inf / negative at j <= i are errors; odd row sums are counted.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "ratrace/errors.hpp"
#include "ratrace/validate.hpp"
#include "support/matrices.hpp"

using namespace ratrace;
using ratrace::testing_support::dense_from_rows;
using ratrace::testing_support::worked_example;

namespace {

const std::string kWhere = "in.h5:/sequences/s0/attention layer 2 head 5";

// The message of the InputError thrown for `m`, or "" when nothing is thrown.
std::string error_of(const std::vector<float>& m, int S) {
  RowSumTally tally;
  try {
    check_attention_values(m.data(), S, kWhere, tally);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Validate, CleanMatrixPassesAndCountsRows) {
  RowSumTally tally;
  const std::vector<float> A = worked_example();  // NaN above the diagonal: never looked at
  check_attention_values(A.data(), 6, kWhere, tally);
  EXPECT_EQ(tally.rows_checked, 6);
  EXPECT_EQ(tally.rows_off, 0);
}

TEST(Validate, NanNamesRowAndColumn) {
  std::vector<float> A = worked_example();
  A[4 * 6 + 2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(error_of(A, 6), kWhere + ": value nan at row 4, column 2");
}

TEST(Validate, InfinityAndNegativeAreErrorsToo) {
  std::vector<float> A = worked_example();
  A[3 * 6 + 3] = std::numeric_limits<float>::infinity();  // the diagonal is checked
  EXPECT_EQ(error_of(A, 6), kWhere + ": value inf at row 3, column 3");
  A = worked_example();
  A[5 * 6 + 0] = -0.25f;
  EXPECT_EQ(error_of(A, 6), kWhere + ": value -0.25 at row 5, column 0");
  A = worked_example();
  A[2 * 6 + 1] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(error_of(A, 6), kWhere + ": value -inf at row 2, column 1");
}

TEST(Validate, ReportsTheFirstBadValueInRowOrder) {
  std::vector<float> A = worked_example();
  A[5 * 6 + 1] = -1.0f;
  A[4 * 6 + 3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(error_of(A, 6), kWhere + ": value nan at row 4, column 3");
}

TEST(Validate, AboveTheDiagonalIsIgnored) {
  std::vector<float> A = worked_example();
  for (int i = 0; i < 6; ++i)
    for (int j = i + 1; j < 6; ++j) A[i * 6 + j] = (i + j) % 2 ? -5.0f : std::numeric_limits<float>::infinity();
  EXPECT_EQ(error_of(A, 6), "");
}

TEST(Validate, NegativeZeroIsAcceptable) {
  const std::vector<float> A = dense_from_rows({{1.0f}, {-0.0f, 1.0f}});
  EXPECT_EQ(error_of(A, 2), "");
}

TEST(Validate, TalliesRowsWhoseSumIsOffByMoreThanOnePercent) {
  const std::vector<float> A = dense_from_rows({
      {1.0f},
      {0.5f, 0.5f},
      {0.5f, 0.5f, 0.011f},   // 1.011: off
      {0.5f, 0.25f, 0.25f, 0.009f},  // 1.009: fine
      {0.2f, 0.2f, 0.2f, 0.2f, 0.15f},  // 0.95: off
      {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // 0: off
  });
  RowSumTally tally;
  check_attention_values(A.data(), 6, kWhere, tally);
  EXPECT_EQ(tally.rows_checked, 6);
  EXPECT_EQ(tally.rows_off, 3);
  // The tally accumulates over calls.
  check_attention_values(A.data(), 6, kWhere, tally);
  EXPECT_EQ(tally.rows_checked, 12);
  EXPECT_EQ(tally.rows_off, 6);
}
