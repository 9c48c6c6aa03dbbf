// `ratrace synth` and `ratrace inspect` end to end, through the built binary.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli_runner.hpp"
#include "support/corpus_builder.hpp"

using ratrace::testing::CliResult;
using ratrace::testing::CorpusBuilder;
using ratrace::testing::count_lines;
using ratrace::testing::run_cli;
using ratrace::testing::TempDir;

namespace {

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

}  // namespace

TEST(SynthCli, CountsOfOneReadInTheSingular) {
  TempDir dir;
  const CliResult synth = run_cli("synth -o '" + dir.file("one.h5") + "' --sequences 1 --layers 1 --heads 1 --len 8");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  EXPECT_TRUE(contains(synth.out, ": 1 sequence, 1 layer x 1 head, lengths 8..8,")) << synth.out;
}

TEST(SynthCli, WritesACorpusThatInspectDescribes) {
  TempDir dir;
  const std::string path = dir.file("c.h5");
  const CliResult synth = run_cli("synth -o '" + path + "' --sequences 3 --layers 2 --heads 4 --len 12 --dtype float16 "
                                  "--chunk-rows 4 --deflate 3 --mask --bos-token-id 9 --seed 4");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  EXPECT_EQ(count_lines(synth.out), 1) << synth.out;
  EXPECT_TRUE(contains(synth.out, "3 sequences, 2 layers x 4 heads, lengths 12..12, float16")) << synth.out;

  const CliResult inspect = run_cli("inspect '" + path + "' --check-values");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_TRUE(inspect.err.empty()) << inspect.err;
  for (const char* needle : {"model         ratrace-synth", "bos_token_id  9", "sequences     3", "seq_000", "seq_002",
                             "float16", "[1, 1, 4, 12]", "\"<s>\"", "problems found: none\n",
                             "read by       chunked [1, 1, 4, 12], deflate: parallel decoding ("})
    EXPECT_TRUE(contains(inspect.out, needle)) << "missing " << needle << " in\n" << inspect.out;
  EXPECT_TRUE(contains(inspect.out, "seq_001  ")) << inspect.out;
}

TEST(SynthCli, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  const std::string path = dir.file("c.h5");
  ASSERT_EQ(run_cli("synth -o '" + path + "' --sequences 1 --len 4").exit_code, 0);
  const CliResult again = run_cli("synth -o '" + path + "' --sequences 1 --len 4");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_TRUE(contains(again.err, "--force")) << again.err;
  EXPECT_EQ(run_cli("synth -o '" + path + "' --sequences 1 --len 4 --force").exit_code, 0);
}

TEST(SynthCli, BadOptionsExitTwo) {
  TempDir dir;
  EXPECT_EQ(run_cli("synth -o '" + dir.file("a.h5") + "' --dtype int8").exit_code, 2);
  const CliResult range = run_cli("synth -o '" + dir.file("b.h5") + "' --min-len 9 --max-len 3");
  EXPECT_EQ(range.exit_code, 2);
  EXPECT_TRUE(contains(range.err, "--max-len 3 is below --min-len 9")) << range.err;
  EXPECT_EQ(run_cli("synth -o '" + dir.file("c.h5") + "' --no-bos --bos-token-id 3").exit_code, 2);
}

TEST(InspectCli, MissingFileIsOneErrorLineAndExitTwo) {
  TempDir dir;
  const CliResult run = run_cli("inspect '" + dir.file("nope.h5") + "'");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(count_lines(run.err), 1) << run.err;
  EXPECT_TRUE(contains(run.err, "no such file")) << run.err;
}

TEST(InspectCli, StructuralProblemIsOneErrorLineAndExitTwo) {
  TempDir dir;
  const std::string path = dir.file("wide.h5");
  CorpusBuilder(path).dataset_raw("sequences/s0/attention", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 4, 10, 12}, nullptr);
  const CliResult run = run_cli("inspect '" + path + "'");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(count_lines(run.err), 1) << run.err;
  EXPECT_TRUE(contains(run.err, path + ":/sequences/s0/attention has shape [2, 4, 10, 12]: matrices must be square"))
      << run.err;
}

TEST(InspectCli, CheckValuesCountsBadValuesAndWarnsOnRowSums) {
  TempDir dir;
  const std::string bad = dir.file("bad.h5"), loose = dir.file("loose.h5");
  // 3x3 heads; above-diagonal garbage is ignored.
  CorpusBuilder(bad).sequence("s").attention_f32(
      {1, 2, 3, 3}, {1, 99, 99, 0.5f, 0.5f, 99, 0.2f, 0.3f, 0.5f,            // head 0: fine
                     1, 0, 0, NAN, 0.5f, 0, -0.25f, 0.75f, 0.5f});           // head 1: NaN, negative
  CorpusBuilder(loose).sequence("s").attention_f32({1, 1, 2, 2}, {1, 0, 0.6f, 0.6f});  // row 1 sums to 1.2
  const CliResult run = run_cli("inspect '" + bad + "' --check-values");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(count_lines(run.err), 1) << run.err;
  EXPECT_TRUE(contains(run.out, "1 NaN value at j <= i (first: layer 0 head 1 row 1 col 0 = nan)")) << run.out;
  EXPECT_TRUE(contains(run.out, "1 negative value at j <= i (first: layer 0 head 1 row 2 col 0 = -0.25)")) << run.out;
  EXPECT_TRUE(contains(run.err, "2 problems found")) << run.err;

  const CliResult warn = run_cli("inspect '" + loose + "' --check-values");
  EXPECT_EQ(warn.exit_code, 0) << warn.err;
  EXPECT_TRUE(contains(warn.out, "warning s: 1 of 2 rows sum to more than 0.01 away from 1")) << warn.out;
  // Without --check-values no value is read.
  const CliResult quick = run_cli("inspect '" + bad + "'");
  EXPECT_EQ(quick.exit_code, 0) << quick.err;
  EXPECT_TRUE(contains(quick.out, "problems found: none (values not read")) << quick.out;
}

TEST(InspectCli, BadMaskValueIsAProblem) {
  TempDir dir;
  const std::string path = dir.file("mask.h5");
  CorpusBuilder(path).sequence("s").attention_f32({1, 1, 2, 2}, {1, 0, 0.5f, 0.5f}).mask({1, 3});
  const CliResult run = run_cli("inspect '" + path + "'");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_TRUE(contains(run.out, "attention_mask[1] is 3")) << run.out;
}

TEST(InspectCli, JsonFormat) {
  TempDir dir;
  const std::string path = dir.file("c.h5");
  ASSERT_EQ(run_cli("synth -o '" + path + "' --sequences 2 --len 6 --dtype bfloat16 --no-bos").exit_code, 0);
  const CliResult run = run_cli("inspect '" + path + "' --format json --check-values");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j["model"], "ratrace-synth");
  EXPECT_TRUE(j["bos_token_id"].is_null());
  EXPECT_EQ(j["values_checked"], true);
  ASSERT_EQ(j["sequences"].size(), 2u);
  EXPECT_EQ(j["sequences"][1]["name"], "seq_001");
  EXPECT_EQ(j["sequences"][1]["dtype"], "bfloat16");
  EXPECT_EQ(j["sequences"][1]["length"], 6);
  EXPECT_EQ(j["sequences"][1]["read_path"].get<std::string>().rfind("contiguous: parallel reads (", 0), 0u);
  EXPECT_EQ(j["sequences"][0]["first_tokens"].size(), 6u);
  EXPECT_TRUE(j["problems"].empty());
}
