// `ratrace trace` end to end: bad input gets one clear line, exit 2 and no results file;
// good input round-trips through the results file and does not depend on the thread count.
#include <gtest/gtest.h>
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "ratrace/engine.hpp"
#include "ratrace/results.hpp"
#include "ratrace/synth.hpp"
#include "support/cli_runner.hpp"
#include "support/corpus_builder.hpp"
#include "support/results_compare.hpp"

using namespace ratrace;
using namespace ratrace::testing;
namespace fs = std::filesystem;

namespace {

// A valid 1-layer, 2-head, S=4 lower-triangular corpus, as flat [1][2][4][4] values.
std::vector<float> tiny_attention() {
  const float head[16] = {1, 0, 0, 0,  0.5f, 0.5f, 0, 0,  0.2f, 0.3f, 0.5f, 0,  0.1f, 0.2f, 0.3f, 0.4f};
  std::vector<float> v(head, head + 16);
  v.insert(v.end(), head, head + 16);
  return v;
}

class TraceCli : public ::testing::Test {
 protected:
  TempDir dir;
  std::string in = dir.file("in.h5");
  std::string out = dir.file("out.h5");

  void write_tiny(std::vector<float> values, std::vector<hsize_t> dims = {1, 2, 4, 4}) {
    CorpusBuilder b(in);
    b.attr_int("bos_token_id", 7);
    b.sequence("s0").attention_f32(dims, values).token_ids({7, 1, 2, 3}).tokens({"<s>", "a", "b", "c"});
  }

  // Expects exit 2, exactly one stderr line containing every fragment, and no results file.
  void expect_bad(const std::string& args, std::initializer_list<std::string> fragments) {
    const CliResult r = run_cli("trace " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    // One error line (an informational "tracing N jobs" line may precede it).
    EXPECT_EQ(count_matching_lines(r.err, "error"), 1) << args << "\n" << r.err;
    EXPECT_LE(count_lines(r.err), 2) << args << "\n" << r.err;
    for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in: " << r.err;
    EXPECT_FALSE(fs::exists(out)) << args;
    for (const auto& entry : fs::directory_iterator(dir.path()))
      EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "temp file left: " << entry.path();
  }
};

// The closing line counts in the singular too: one job of one path of one node (target 0).
TEST_F(TraceCli, SummaryLineCountsOfOneReadInTheSingular) {
  write_tiny(tiny_attention());
  const CliResult one = run_cli("trace '" + in + "' -o '" + out + "' --heads 0 --targets 0 --device cpu");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.err.find(": 1 job, 1 path, 1 node in "), std::string::npos) << one.err;
  const CliResult more = run_cli("trace '" + in + "' -o '" + out + "' --force --heads 0,1 --targets 3 --device cpu -B 1");
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_TRUE(std::regex_search(more.err, std::regex(": 2 jobs, 2 paths, [0-9]+ nodes in "))) << more.err;
}

TEST_F(TraceCli, MissingFileAndNotHdf5) {
  expect_bad(dir.file("nope.h5") + " -o " + out, {"nope.h5"});
  std::ofstream(in) << "this is not HDF5\n";
  expect_bad(in + " -o " + out, {"in.h5", "HDF5"});
}

TEST_F(TraceCli, StructuralProblemsNameTheDataset) {
  {
    CorpusBuilder b(in);
    b.sequence("s0").token_ids({1, 2});
  }
  expect_bad(in + " -o " + out, {"/sequences/s0/attention"});
  fs::remove(in);
  {
    CorpusBuilder b(in);
    b.sequence("s0").attention_f32({2, 4, 4}, std::vector<float>(32, 0.25f));
  }
  expect_bad(in + " -o " + out, {"/sequences/s0/attention", "[2, 4, 4]"});
  fs::remove(in);
  {
    CorpusBuilder b(in);
    b.sequence("s0").attention_f32({1, 1, 4, 3}, std::vector<float>(12, 0.25f));
  }
  expect_bad(in + " -o " + out, {"/sequences/s0/attention", "square"});
  fs::remove(in);
  {
    CorpusBuilder b(in);
    b.sequence("s0").attention_f32({1, 2, 4, 4}, tiny_attention()).tokens({"a", "b", "c"});
  }
  expect_bad(in + " -o " + out, {"/sequences/s0/tokens", "3"});
  fs::remove(in);
  {
    CorpusBuilder b(in);
    b.sequence("s0").attention_f32({1, 2, 4, 4}, tiny_attention()).mask({1, 1, 1, 1, 1});
  }
  expect_bad(in + " -o " + out, {"/sequences/s0/attention_mask", "5"});
  fs::remove(in);
  {
    CorpusBuilder b(in);
    std::vector<std::int32_t> ints(16, 0);
    b.dataset_raw("sequences/s0/attention", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 1, 4, 4}, ints.data());
  }
  expect_bad(in + " -o " + out, {"/sequences/s0/attention"});
}

TEST_F(TraceCli, BadValuesInRowsReadAreErrors) {
  for (float bad : {NAN, INFINITY, -0.25f}) {
    std::vector<float> v = tiny_attention();
    v[16 + 3 * 4 + 1] = bad;  // head 1, row 3, column 1 (j <= i)
    write_tiny(v);
    // Head 0 alone reads clean rows; head 1 and the mean (every head) read the bad value.
    EXPECT_EQ(run_cli("trace " + in + " -o " + out + " --heads 0 --device cpu").exit_code, 0);
    fs::remove(out);
    expect_bad(in + " -o " + out + " --heads 1 --device cpu", {"/sequences/s0/attention", "head 1", "row 3", "column 1"});
    expect_bad(in + " -o " + out + " --heads mean --device cpu", {"/sequences/s0/attention", "head 1"});
    fs::remove(in);
  }
  // Above the diagonal nothing is read: no error.
  std::vector<float> v = tiny_attention();
  v[16 + 1 * 4 + 3] = NAN;
  write_tiny(v);
  EXPECT_EQ(run_cli("trace " + in + " -o " + out + " --heads all --device cpu").exit_code, 0);
}

// Neither tokens nor token_ids: the results store no tokens (all token_begin entries 0).
TEST_F(TraceCli, ACorpusWithoutTokensTraces) {
  {
    const std::vector<float> two_heads = tiny_attention();
    CorpusBuilder b(in);
    b.sequence("s0").attention_f32({1, 1, 4, 4}, std::vector<float>(two_heads.begin(), two_heads.begin() + 16));
  }
  ASSERT_EQ(run_cli("trace " + in + " -o " + out + " --device cpu").exit_code, 0);
  const ResultsFile f = read_results_file(out);
  EXPECT_EQ(f.token_begin, (std::vector<std::int64_t>{0, 0}));
  EXPECT_FALSE(f.token_ids.has_value());
  EXPECT_FALSE(f.tokens.has_value());
  EXPECT_EQ(f.results.num_jobs(), 1u);
}

// The results file is written while the engine runs: a bad value met after earlier batches were
// written still leaves neither a results file nor a temporary one.
TEST_F(TraceCli, ABadValueLateInTheRunLeavesNoFileAfterBatchesWereWritten) {
  constexpr int kHeads = 65, kLen = 64;  // 65 x 64 = 4160 jobs: the CPU engine writes them as a batch first
  std::vector<float> good(static_cast<std::size_t>(kHeads) * kLen * kLen, 0.0f);
  for (int h = 0; h < kHeads; ++h)
    for (int i = 0; i < kLen; ++i)
      for (int j = 0; j <= i; ++j) good[(static_cast<std::size_t>(h) * kLen + i) * kLen + j] = 1.0f / (i + 1);
  std::vector<float> bad = good;
  bad[(static_cast<std::size_t>(kHeads - 1) * kLen + 5) * kLen + 2] = NAN;
  {
    CorpusBuilder b(in);
    b.sequence("s0").attention_f32({1, kHeads, kLen, kLen}, good);
    b.sequence("s1").attention_f32({1, kHeads, kLen, kLen}, bad);
  }
  EXPECT_EQ(run_cli("trace " + in + " -o " + out + " --heads all --targets all --sequences 0 --device cpu").exit_code, 0);
  EXPECT_EQ(read_results_file(out).results.num_jobs(), static_cast<std::size_t>(kHeads * kLen));
  fs::remove(out);
  expect_bad(in + " -o " + out + " --heads all --targets all --device cpu --threads 1 --no-stop-at-bos",
             {"/sequences/s1/attention", "head 64", "row 5", "column 2"});
}

// SIGTERM (a SLURM time limit) or SIGINT during a run: the temporary results file goes, and the
// process still ends of that signal.
TEST_F(TraceCli, AStopSignalRemovesTheTemporaryFile) {
  ASSERT_EQ(run_cli("synth -o " + in + " --sequences 2 --layers 6 --heads 16 --len 768").exit_code, 0);
  const auto temp_files = [&] {
    int n = 0;
    for (const auto& entry : fs::directory_iterator(dir.path()))
      n += entry.path().filename().string().rfind(".out.h5.tmp-", 0) == 0;
    return n;
  };
  for (const int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(::testing::Message() << "signal " << sig);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::freopen("/dev/null", "w", stderr);
      ::execl(RATRACE_BINARY, "ratrace", "trace", in.c_str(), "-o", out.c_str(), "--layers", "all", "--heads", "all",
              "--targets", "all", "--device", "cpu", "--threads", "1", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // The temporary file exists from the start of the run (about 150,000 jobs: seconds of work).
    bool seen = false;
    for (int i = 0; i < 2000 && !seen; ++i) {
      seen = temp_files() == 1;
      if (!seen) ::usleep(10'000);
    }
    ::kill(child, sig);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(seen) << "no temporary file appeared";
    ASSERT_TRUE(WIFSIGNALED(status)) << "the run ended before the signal (status " << status << ")";
    EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_EQ(temp_files(), 0);
    EXPECT_FALSE(fs::exists(out));
  }
}

// Writing fails part way (a file size limit, with SIGXFSZ ignored so that writes fail with EFBIG):
// one error line naming the dataset, no HDF5 diagnostics from the writing thread, no file left.
TEST_F(TraceCli, AWriteFailureMidRunIsOneLineAndLeavesNoFile) {
  ASSERT_EQ(run_cli("synth -o " + in + " --sequences 2 --layers 4 --heads 16 --len 512").exit_code, 0);
  const std::string err = dir.file("err.txt");
  const std::string command = "sh -c \"trap '' XFSZ; ulimit -f 512; exec '" + std::string(RATRACE_BINARY) + "' trace '" +
                              in + "' -o '" + out + "' --layers all --heads all --targets all --device cpu\" 2>'" +
                              err + "'";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);  // an I/O failure: neither bad input nor a mismatch
  const std::string text = read_text_file(err);
  EXPECT_EQ(text.find("HDF5-DIAG"), std::string::npos) << text;
  EXPECT_EQ(count_matching_lines(text, "error"), 1) << text;
  EXPECT_NE(text.find("/nodes/"), std::string::npos) << text;  // the big arrays hit the limit first
  EXPECT_FALSE(fs::exists(out));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "temp file left: " << entry.path();
}

TEST_F(TraceCli, OutOfRangeSelectionsAndBadOptions) {
  write_tiny(tiny_attention());
  expect_bad(in + " -o " + out + " --layers 1", {"--layers", "1 is out of range", "sequence 's0' has 1 layer (valid -1..0)"});
  expect_bad(in + " -o " + out + " --heads 2", {"--heads", "2 is out of range", "has 2 heads (valid -2..1)"});
  expect_bad(in + " -o " + out + " --sequences 1", {"--sequences", "the corpus has 1 sequence (valid -1..0)"});
  expect_bad(in + " -o " + out + " --targets 4", {"--targets", "4 is out of range", "length 4"});
  expect_bad(in + " -o " + out + " --targets=-5", {"--targets", "-5"});
  expect_bad(in + " -o " + out + " --layers 0:x", {"--layers", "0:x"});
  expect_bad(in + " -o " + out + " --targets ::0", {"step cannot be zero"});
  expect_bad(in + " -o " + out + " --heads avg", {"--heads", "avg"});
  expect_bad(in + " -o " + out + " --length-norm pow:abc", {"length_norm", "pow:abc"});
  expect_bad(in + " -o " + out + " --top-beam 0", {"top_beam", "0"});
  expect_bad(in + " -o " + out + " --top-beam 33", {"top_beam", "33"});
  expect_bad(in + " -o " + out + " --top-k 0", {"top_k"});
  expect_bad(in + " -o " + out + " --top-k 40", {"top_k", "40"});
  expect_bad(in + " -o " + out + " --min-attn=-1", {"min_attn"});
  expect_bad(in + " -o " + out + " --device tpu", {"--device"});
}

TEST_F(TraceCli, DeviceGpuRefusesWithoutAGpu) {
  if (query_gpu().usable) GTEST_SKIP() << "a GPU is present: the refusal cannot be observed here";
  write_tiny(tiny_attention());
  expect_bad(in + " -o " + out + " --device gpu", {"--device gpu", "no usable GPU"});
  // auto falls back to the CPU and says so.
  const CliResult r = run_cli("trace " + in + " -o " + out + " --device auto");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_results_file(out).device.rfind("cpu", 0), 0u);
}

TEST_F(TraceCli, RowSumsOffAreAWarningNotAnError) {
  std::vector<float> v = tiny_attention();
  v[3 * 4 + 0] = 0.6f;  // head 0 row 3 sums to 1.5
  write_tiny(v);
  const CliResult r = run_cli("trace " + in + " -o " + out + " --heads all --device cpu");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: 1 of 8 rows"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(out));
}

TEST_F(TraceCli, RefusesToOverwriteWithoutForce) {
  write_tiny(tiny_attention());
  std::ofstream(out) << "precious";
  {
    const CliResult r = run_cli("trace " + in + " -o " + out);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
    std::ifstream f(out);
    std::string content;
    f >> content;
    EXPECT_EQ(content, "precious");
  }
  const CliResult r = run_cli("trace " + in + " -o " + out + " --force --device cpu");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ratrace: tracing 1 job (1 matrix) of "), std::string::npos) << r.err;
  EXPECT_EQ(read_results_file(out).results.num_jobs(), 1u);
}

TEST_F(TraceCli, RoundTripSynthTraceReadBack) {
  SynthOptions o;
  o.num_sequences = 2;
  o.num_layers = 3;
  o.num_heads = 4;
  o.min_len = 20;
  o.max_len = 30;
  o.with_mask = true;
  write_synthetic_corpus(in, o);
  const CliResult r = run_cli("trace " + in + " -o " + out +
                              " --sequences 1 --layers all --heads 0,mean,max --targets -1,-2,5 --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ratrace: tracing 27 jobs (9 matrices) of "), std::string::npos) << r.err;
  // The summary says where the engine's time went: on the CPU, reading and tracing.
  EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(\nratrace: engine [0-9.]+ s: read [0-9.]+ s, compute [0-9.]+ s)")))
      << r.err;
  const ResultsFile f = read_results_file(out);
  EXPECT_EQ(f.results.num_jobs(), 3u * 3u * 3u);
  EXPECT_EQ(f.sequence_names, (std::vector<std::string>{"seq_000", "seq_001"}));
  ASSERT_EQ(f.sequence_length.size(), 2u);
  // Tokens are stored for the traced sequence only.
  EXPECT_EQ(f.token_begin[1] - f.token_begin[0], 0);
  EXPECT_EQ(f.token_begin[2] - f.token_begin[1], f.sequence_length[1]);
  ASSERT_TRUE(f.tokens.has_value());
  EXPECT_EQ(static_cast<std::int64_t>(f.tokens->size()), f.sequence_length[1]);
  const auto params = nlohmann::json::parse(f.params_json);
  EXPECT_EQ(params["top_beam"], 5);
  EXPECT_EQ(params["top_k"], 5);
  EXPECT_EQ(params["length_norm"], "avg_logprob");
  EXPECT_EQ(params["stop_at_bos"], true);
  EXPECT_EQ(params["bos_token_id"], 1);
  EXPECT_EQ(params["sequences"], "1");
  EXPECT_EQ(params["heads"], "0,mean,max");
  EXPECT_EQ(params["targets"], "-1,-2,5");
  for (std::size_t k = 0; k < f.results.num_jobs(); ++k) {
    const JobKey& job = f.results.jobs[k];
    EXPECT_EQ(job.seq_index, 1);
    EXPECT_TRUE(job.head == 0 || job.head == kHeadMean || job.head == kHeadMax);
    const auto paths = f.results.job_paths(k);
    ASSERT_GE(paths.size(), 1u);
    ASSERT_LE(paths.size(), 5u);
    for (std::size_t p = 0; p < paths.size(); ++p) {
      EXPECT_EQ(paths[p].positions.front(), job.target);
      EXPECT_TRUE(std::isnan(paths[p].edge_attn.front()));
      for (std::size_t n = 1; n < paths[p].positions.size(); ++n)
        EXPECT_LT(paths[p].positions[n], paths[p].positions[n - 1]);
      if (p > 0) EXPECT_GE(paths[p - 1].score_norm, paths[p].score_norm);
    }
  }
  ASSERT_TRUE(f.stats.has_value());
}

TEST_F(TraceCli, OutputDoesNotDependOnThreadCount) {
  SynthOptions o;
  o.num_layers = 2;
  o.num_heads = 3;
  o.min_len = 40;
  o.max_len = 60;
  o.tie_levels = 16;  // exact ties everywhere
  write_synthetic_corpus(in, o);
  const std::string common = " --layers all --heads all,mean,max --targets all --device cpu --top-beam 4 --top-k 6";
  ASSERT_EQ(run_cli("trace " + in + " -o " + dir.file("t1.h5") + common + " --threads 1").exit_code, 0);
  ASSERT_EQ(run_cli("trace " + in + " -o " + dir.file("t2.h5") + common + " --threads 2").exit_code, 0);
  ASSERT_EQ(run_cli("trace " + in + " -o " + dir.file("t5.h5") + common + " --threads 5").exit_code, 0);
  const TraceResults a = read_results_file(dir.file("t1.h5")).results;
  for (const char* name : {"t2.h5", "t5.h5"}) {
    SCOPED_TRACE(name);
    expect_identical_results(a, read_results_file(dir.file(name)).results);
  }
}

}  // namespace
