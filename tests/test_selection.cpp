// SEL syntax and Python slice semantics (SPEC §6).
#include <gtest/gtest.h>

#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"
#include "ratrace/selection.hpp"

using namespace ratrace;
using V = std::vector<int>;

static V sel(const char* s, int n) { return resolve_selection(s, n, "--layers", "4 layers"); }

TEST(Selection, AllIntegersAndNegatives) {
  EXPECT_EQ(sel("all", 4), (V{0, 1, 2, 3}));
  EXPECT_EQ(sel("-1", 4), (V{3}));
  EXPECT_EQ(sel("0,-1", 4), (V{0, 3}));
  EXPECT_EQ(sel(" 2 , 0 ", 4), (V{2, 0}));  // spaces ignored, order of appearance kept
  EXPECT_EQ(sel("-4", 4), (V{0}));
}

TEST(Selection, SlicesFollowPython) {
  // Expected values are Python's list(range(n))[slice].
  EXPECT_EQ(sel("4:8", 10), (V{4, 5, 6, 7}));
  EXPECT_EQ(sel(":3", 10), (V{0, 1, 2}));
  EXPECT_EQ(sel("7:", 10), (V{7, 8, 9}));
  EXPECT_EQ(sel("::3", 10), (V{0, 3, 6, 9}));
  EXPECT_EQ(sel("::-1", 4), (V{3, 2, 1, 0}));
  EXPECT_EQ(sel("-3:", 10), (V{7, 8, 9}));
  EXPECT_EQ(sel("-100:2", 10), (V{0, 1}));      // clamped
  EXPECT_EQ(sel("5:100", 7), (V{5, 6}));        // clamped
  EXPECT_EQ(sel("8:2:-2", 10), (V{8, 6, 4}));
  EXPECT_EQ(sel("-1:-4:-1", 10), (V{9, 8, 7}));
  EXPECT_EQ(sel("100::-1", 3), (V{2, 1, 0}));   // start clamped to n-1
  EXPECT_EQ(sel(":-100:-1", 3), (V{2, 1, 0}));  // stop clamped before 0
  EXPECT_EQ(sel("5:2", 10), (V{}));             // empty range: nothing, no error
  EXPECT_EQ(sel("0,4:8,-1", 10), (V{0, 4, 5, 6, 7, 9}));
  EXPECT_EQ(sel("1,0:3,1", 10), (V{1, 0, 2}));  // duplicates dropped
}

TEST(Selection, ErrorsNameTheOptionAndValue) {
  auto message = [](const char* s, int n) -> std::string {
    try {
      resolve_selection(s, n, "--targets", "sequence 'seq_a' has length 10");
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message("10", 10).find("10 is out of range"), std::string::npos);
  EXPECT_NE(message("10", 10).find("seq_a"), std::string::npos);
  EXPECT_NE(message("-11", 10).find("-11"), std::string::npos);
  EXPECT_NE(message("::0", 10).find("step cannot be zero"), std::string::npos);
  EXPECT_NE(message("1,,2", 10).find("--targets"), std::string::npos);
  EXPECT_NE(message("a", 10).find("'a' is not an integer"), std::string::npos);
  EXPECT_NE(message("1:2:3:4", 10).find("not an integer, a slice"), std::string::npos);
  EXPECT_NE(message("1.5", 10).find("1.5"), std::string::npos);
  EXPECT_NE(message("mean", 10).find("mean"), std::string::npos);  // not for non-head selections
}

TEST(Selection, HeadsAcceptAggregates) {
  EXPECT_EQ(resolve_head_selection("0,-1,mean,max", 8, "--heads", "8 heads"), (V{0, 7, kHeadMean, kHeadMax}));
  EXPECT_EQ(resolve_head_selection("all", 3, "--heads", "3 heads"), (V{0, 1, 2}));  // no aggregates
  EXPECT_EQ(resolve_head_selection("mean,mean", 3, "--heads", "3 heads"), (V{kHeadMean}));
  EXPECT_THROW(resolve_head_selection("avg", 3, "--heads", "3 heads"), UsageError);
  EXPECT_NO_THROW(check_selection_syntax("all,mean", true, "--heads"));
  EXPECT_THROW(check_selection_syntax("mean", false, "--layers"), UsageError);
}
