#include <gtest/gtest.h>

#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"

using namespace ratrace;

TEST(LengthNorm, ParsesEveryMode) {
  EXPECT_EQ(LengthNorm::parse("none").kind, LengthNormKind::none);
  EXPECT_EQ(LengthNorm::parse("avg_logprob").kind, LengthNormKind::avg_logprob);
  EXPECT_EQ(LengthNorm::parse("sqrt").kind, LengthNormKind::sqrt);
  const LengthNorm p = LengthNorm::parse("pow:0.7");
  EXPECT_EQ(p.kind, LengthNormKind::pow);
  EXPECT_DOUBLE_EQ(p.alpha, 0.7);
  EXPECT_EQ(p.to_string(), "pow:0.7");
}

TEST(LengthNorm, RejectsBadSyntaxNamingTheValue) {
  for (const char* bad : {"", "avg", "pow", "pow:", "pow:x", "pow:0.7x", "pow:nan", "NONE"}) {
    try {
      LengthNorm::parse(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(SearchParams, BoundsTopBeamAndTopK) {
  SearchParams p;
  EXPECT_NO_THROW(p.validate());
  p.top_beam = 0;
  EXPECT_THROW(p.validate(), UsageError);
  p.top_beam = 32;
  EXPECT_NO_THROW(p.validate());
  p.top_beam = 33;
  EXPECT_THROW(p.validate(), UsageError);
  p.top_beam = 5;
  p.top_k = 33;
  EXPECT_THROW(p.validate(), UsageError);
  p.top_k = 5;
  p.min_attn = -0.1;
  EXPECT_THROW(p.validate(), UsageError);
}
