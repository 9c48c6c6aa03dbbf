// `ratrace paths`: runs the built binary on results files written here and checks its output.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ratrace/params.hpp"
#include "ratrace/results.hpp"
#include "support/cli_runner.hpp"
#include "support/path_result.hpp"

using namespace ratrace;
using ratrace::testing::CliResult;
using ratrace::testing::path_result;
using ratrace::testing::run_cli;
using ratrace::testing::TempDir;

namespace {

// Sequences s0 (traced), s1 (not traced) and s2 (traced). Jobs are stored out of display order.
// Scores are the avg_logprob ones of the edges (log 0.5 + log 0.4 = -1.609..., and so on).
ResultsFile sample_file(bool with_tokens) {
  ResultsFile f;
  f.params_json = "{}";
  f.input = "corpus.h5";
  f.device = "cpu";
  f.sequence_names = {"s0", "s1", "s2"};
  f.sequence_length = {6, 4, 3};
  if (with_tokens) {
    f.token_begin = {0, 6, 6, 9};
    f.tokens = std::vector<std::string>{"<s>", "The", " quick", "fox", "jumps", "dog", "a", "b", "c"};
  } else {
    f.token_begin = {0, 0, 0, 0};
  }
  f.results.append({0, 1, kHeadMean, 5},
                   {path_result({5, 3, 1}, {0.5f, 0.4f}, -1.6094379124341003, -0.8047189562170501),
                    path_result({5, 4, 2}, {0.3f, 0.2f}, -2.8134107167600364, -1.4067053583800182)});
  f.results.append({2, 1, kHeadMean, 2}, {path_result({2, 0}, {0.25f}, -1.3862943611198906, -1.3862943611198906)});
  f.results.append({0, 0, 2, 5}, {path_result({5, 2}, {0.6f}, -0.5108256237659907, -0.5108256237659907)});
  f.results.append({0, 1, kHeadMean, 3}, {path_result({3, 1}, {0.8f}, -0.2231435513142097, -0.2231435513142097)});
  f.results.append({0, 1, kHeadMax, 0}, {path_result({0}, {}, 0.0, 0.0)});
  return f;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// `ratrace paths ARGS`.
CliResult run_paths(const std::string& args) { return run_cli("paths " + args); }

class PathsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    file = dir.file("out.h5");
    write_results_file(file, sample_file(true), false);
  }
  CliResult paths(const std::string& args) { return run_paths(fmt::format("'{}' {}", file, args)); }
  TempDir dir;
  std::string file;
};

}  // namespace

TEST_F(PathsCli, TextShowsEveryJobEarliestTokenFirst) {
  const CliResult r = paths("");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "s0 layer 0 head 2 target 5:\n"
            "  #0  \" quick\"@2 -> dog@5   (score -0.511, weight 1.000)\n"
            "\n"
            "s0 layer 1 head max target 0:\n"
            "  #0  <s>@0   (score 0.000, weight 1.000)\n"
            "\n"
            "s0 layer 1 head mean target 3:\n"
            "  #0  The@1 -> fox@3   (score -0.223, weight 1.000)\n"
            "\n"
            "s0 layer 1 head mean target 5:\n"
            "  #0  The@1 -> fox@3 -> dog@5   (score -0.805, weight 0.646)\n"
            "  #1  \" quick\"@2 -> jumps@4 -> dog@5   (score -1.407, weight 0.354)\n"
            "\n"
            "s2 layer 1 head mean target 2:\n"
            "  #0  a@0 -> c@2   (score -1.386, weight 1.000)\n");
}

TEST_F(PathsCli, PositionsOnlyWithoutTokens) {
  const std::string bare = dir.file("bare.h5");
  write_results_file(bare, sample_file(false), false);
  const CliResult r = run_paths(fmt::format("'{}' --seq s0 --layer 1 --head mean --target 5", bare));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "s0 layer 1 head mean target 5:\n"
            "  #0  1 -> 3 -> 5   (score -0.805, weight 0.646)\n"
            "  #1  2 -> 4 -> 5   (score -1.407, weight 0.354)\n");
}

TEST_F(PathsCli, FiltersCombineAndNegativeValuesCountFromTheEnd) {
  // --target -1 is each sequence's last position: 5 in s0, 2 in s2.
  CliResult r = paths("--layer 1 --head mean --target -1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> got = lines(r.out);
  ASSERT_EQ(got.size(), 6u) << r.out;
  EXPECT_EQ(got[0], "s0 layer 1 head mean target 5:");
  EXPECT_EQ(got[4], "s2 layer 1 head mean target 2:");

  // Sequence by name, by index and by negative index; --layer -1 is the highest layer present.
  for (const char* seq : {"s2", "2", "-1"}) {
    r = paths(fmt::format("--seq {} --layer -1", seq));
    ASSERT_EQ(r.exit_code, 0) << seq << ": " << r.err;
    EXPECT_EQ(lines(r.out).front(), "s2 layer 1 head mean target 2:") << seq;
    EXPECT_EQ(lines(r.out).size(), 2u) << seq;
  }
  // --head -1 is the highest single head present (2); --layer=-2 is layer 0.
  r = paths("--head -1 --layer=-2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out).front(), "s0 layer 0 head 2 target 5:");
  r = paths("--head max");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out), (std::vector<std::string>{"s0 layer 1 head max target 0:", "  #0  <s>@0   (score 0.000, weight 1.000)"}));
}

TEST_F(PathsCli, TopLimitsPathsButKeepsWeightsOverTheWholeJob) {
  const CliResult r = paths("--target 5 --layer 1 --top 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "s0 layer 1 head mean target 5:\n"
            "  #0  The@1 -> fox@3 -> dog@5   (score -0.805, weight 0.646)\n");
}

TEST_F(PathsCli, CsvHasOneRowPerPath) {
  const CliResult r = paths("--format csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> rows = lines(r.out);
  ASSERT_EQ(rows.size(), 1u + 6u);
  EXPECT_EQ(rows[0], "seq,layer,head,target,rank,score_raw,score_norm,weight,positions,tokens");
  EXPECT_EQ(rows[2], "s0,1,max,0,0,0,0,1,0,\"[\"\"<s>\"\"]\"");
  // s0 layer 1 mean target 5, rank 1: full-precision scores; the weight is checked by value.
  const std::string prefix = "s0,1,mean,5,1,-2.8134107167600364,-1.4067053583800182,";
  ASSERT_EQ(rows[5].substr(0, prefix.size()), prefix) << rows[5];
  const std::string rest = rows[5].substr(prefix.size());
  EXPECT_NEAR(std::stod(rest.substr(0, rest.find(','))), 0.353889367864523, 1e-12);
  EXPECT_EQ(rest.substr(rest.find(',') + 1), "2 4 5,\"[\"\" quick\"\",\"\"jumps\"\",\"\"dog\"\"]\"");
}

TEST_F(PathsCli, JsonListsJobsWithTheirPaths) {
  const CliResult r = paths("--format json --seq s0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json jobs = nlohmann::json::parse(r.out);
  ASSERT_TRUE(jobs.is_array());
  ASSERT_EQ(jobs.size(), 4u);
  const nlohmann::json& job = jobs[3];
  EXPECT_EQ(job["seq"], "s0");
  EXPECT_EQ(job["seq_index"], 0);
  EXPECT_EQ(job["layer"], 1);
  EXPECT_EQ(job["head"], "mean");
  EXPECT_EQ(job["target"], 5);
  EXPECT_EQ(jobs[0]["head"], 2);  // single heads stay integers
  ASSERT_EQ(job["paths"].size(), 2u);
  const nlohmann::json& best = job["paths"][0];
  EXPECT_EQ(best["rank"], 0);
  EXPECT_EQ(best["positions"], nlohmann::json({1, 3, 5}));
  EXPECT_EQ(best["tokens"], nlohmann::json({"The", "fox", "dog"}));
  // edge_attn[i] is the attention along the arrow positions[i] -> positions[i+1].
  EXPECT_EQ(best["edge_attn"], nlohmann::json({0.4, 0.5}));
  EXPECT_EQ(best["score_raw"].get<double>(), -1.6094379124341003);
  EXPECT_EQ(best["score_norm"].get<double>(), -0.8047189562170501);
  EXPECT_NEAR(best["weight"].get<double>(), 0.646110632135477, 1e-12);
  const nlohmann::json& lone = jobs[1]["paths"][0];  // target 0: no edges at all
  EXPECT_EQ(lone["positions"], nlohmann::json({0}));
  EXPECT_TRUE(lone["edge_attn"].empty());

  const std::string bare = dir.file("bare.h5");
  write_results_file(bare, sample_file(false), false);
  const CliResult b = run_paths(fmt::format("'{}' --format json --seq s2", bare));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_TRUE(nlohmann::json::parse(b.out)[0]["paths"][0]["tokens"].is_null());
}

TEST_F(PathsCli, BadInputExitsWithTwoAndOneClearLine) {
  CliResult r = run_paths(fmt::format("'{}'", dir.file("missing.h5")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.h5': no such file"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());

  r = paths("--layer 7 --head mean");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("matches --layer 7 --head mean"), std::string::npos) << r.err;
  EXPECT_EQ(lines(r.err).size(), 1u) << r.err;

  r = paths("--seq nope");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no sequence 'nope'"), std::string::npos) << r.err;

  EXPECT_EQ(paths("--head first").exit_code, 2);
  EXPECT_EQ(paths("--format xml").exit_code, 2);
  EXPECT_EQ(paths("--top 0").exit_code, 2);
}
