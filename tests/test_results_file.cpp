// The results file (SPEC §5): round trip, atomic writing, refusal to overwrite, and clear errors
// when reading something that is not a results file.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <set>
#include <string>

#include "io/hdf5_util.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"
#include "support/path_result.hpp"
#include "support/results_compare.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

using namespace ratrace;
using ratrace::testing::expect_identical_results;
using ratrace::testing::path_result;
using ratrace::testing::read_text_file;
using ratrace::testing::TempDir;
using ratrace::testing::write_text_file;
namespace fs = std::filesystem;

namespace {

// Every file name in `dir`.
std::set<std::string> entries(const TempDir& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.insert(e.path().filename().string());
  return names;
}

// Scores of the avg_logprob kind: raw = sum of log(edge), norm = raw / norm_divisor.
PathResult make_path(std::vector<std::int32_t> positions, std::vector<float> edges, double norm_divisor = 1.0) {
  double raw = 0.0;
  for (float a : edges) raw += std::log(static_cast<double>(a));
  return path_result(std::move(positions), edges, raw, edges.empty() ? raw : raw / norm_divisor);
}

// Three sequences; "beta" (index 1) was not traced, so it has no tokens. Jobs cover a single head,
// both aggregates (-1 mean, -2 max) and target 0, whose only path has no edge.
ResultsFile sample_file(bool with_token_ids, bool with_tokens) {
  ResultsFile f;
  f.params_json = R"({"top_beam": 5, "top_k": 5, "min_attn": 0.0, "length_norm": "avg_logprob"})";
  f.input = "corpus.h5";
  f.device = "cpu (2 threads)";
  f.sequence_names = {"alpha", "beta", "gamma"};
  f.sequence_length = {6, 4, 3};
  if (with_token_ids || with_tokens) {
    f.token_begin = {0, 6, 6, 9};
    if (with_token_ids) f.token_ids = std::vector<std::int64_t>{1, 464, 2068, 7586, 21831, 318, 1, 40, 2};
    if (with_tokens) f.tokens = std::vector<std::string>{"<s>", "The", " quick", "brown", "fox", "é\n", "<s>", "a", "b"};
  } else {
    f.token_begin = {0, 0, 0, 0};
  }
  f.results.append({0, 2, kHeadMean, 5}, {make_path({5, 3, 0}, {0.5f, 0.25f}, 2), make_path({5, 4, 1}, {0.3f, 0.2f}, 2)});
  f.results.append({0, 2, kHeadMax, 5}, {make_path({5, 0}, {0.9f})});
  f.results.append({0, 0, 1, 0}, {make_path({0}, {})});
  f.results.append({2, 2, kHeadMean, 2}, {make_path({2, 1, 0}, {0.75f, 1.0f}, 2)});
  return f;
}

void expect_same(const ResultsFile& a, const ResultsFile& b) {
  EXPECT_EQ(a.params_json, b.params_json);
  EXPECT_EQ(a.input, b.input);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.sequence_names, b.sequence_names);
  EXPECT_EQ(a.sequence_length, b.sequence_length);
  EXPECT_EQ(a.token_begin, b.token_begin);
  EXPECT_EQ(a.token_ids, b.token_ids);
  EXPECT_EQ(a.tokens, b.tokens);
  expect_identical_results(a.results, b.results);
}

// Runs `edit` on an HDF5 file opened for writing (to damage a valid results file).
template <class Edit>
void edit_hdf5(const std::string& path, Edit edit) {
  h5::Handle file = h5::file_handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  ASSERT_TRUE(file.valid());
  edit(file.get());
}

// The InputError message of reading `path`; fails the test if reading succeeds or throws another type.
std::string read_error(const std::string& path) {
  try {
    read_results_file(path);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "reading " << path << " did not throw InputError";
  return {};
}

}  // namespace

TEST(ResultsFile, RoundTripsEveryDatasetIncludingNaNEdgesAndTokens) {
  TempDir dir;
  for (const auto& [ids, tokens] : {std::pair{true, true}, {false, false}, {true, false}, {false, true}}) {
    SCOPED_TRACE(::testing::Message() << "token_ids " << ids << ", tokens " << tokens);
    const ResultsFile written = sample_file(ids, tokens);
    const std::string out = dir.file(fmt::format("out_{}_{}.h5", ids, tokens));
    write_results_file(out, written, false);
    const ResultsFile read = read_results_file(out);
    expect_same(written, read);
    EXPECT_FALSE(read.stats.has_value());
  }
}

TEST(ResultsFile, StoresTheDocumentedLayout) {
  TempDir dir;
  const std::string out = dir.file("out.h5");
  write_results_file(out, sample_file(true, true), false);
  h5::Handle file = h5::file_handle(H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  EXPECT_EQ(h5::read_attr_string(file, "format"), "ratrace-results");
  EXPECT_EQ(h5::read_attr_int64(file, "format_version"), 1);
  // The dtypes of SPEC §5, exactly.
  const std::vector<std::pair<const char*, hid_t>> expected = {
      {"/sequences/length", H5T_NATIVE_INT32},  {"/sequences/token_begin", H5T_NATIVE_INT64},
      {"/sequences/token_ids", H5T_NATIVE_INT64}, {"/jobs/seq_index", H5T_NATIVE_INT32},
      {"/jobs/layer", H5T_NATIVE_INT32},        {"/jobs/head", H5T_NATIVE_INT32},
      {"/jobs/target", H5T_NATIVE_INT32},       {"/jobs/path_begin", H5T_NATIVE_INT64},
      {"/paths/score_raw", H5T_NATIVE_DOUBLE},  {"/paths/score_norm", H5T_NATIVE_DOUBLE},
      {"/paths/node_begin", H5T_NATIVE_INT64},  {"/nodes/position", H5T_NATIVE_INT32},
      {"/nodes/edge_attn", H5T_NATIVE_FLOAT}};
  for (const auto& [name, type] : expected) {
    h5::Handle ds = h5::dataset_handle(H5Dopen2(file, name, H5P_DEFAULT));
    ASSERT_TRUE(ds.valid()) << name;
    h5::Handle stored = h5::type_handle(H5Dget_type(ds));
    EXPECT_GT(H5Tequal(stored, type), 0) << name;
  }
  EXPECT_EQ(h5::read_vector<std::int64_t>(file, "/jobs/path_begin"), (std::vector<std::int64_t>{0, 2, 3, 4, 5}));
  EXPECT_EQ(h5::read_vector<std::int32_t>(file, "/jobs/head"), (std::vector<std::int32_t>{-1, -2, 1, -1}));
  EXPECT_EQ(h5::read_strings(file, "/sequences/tokens")[5], "é\n");
}

TEST(ResultsFile, RefusesToOverwriteWithoutForceAndLeavesTheFileAlone) {
  TempDir dir;
  const std::string out = dir.file("out.h5");
  write_text_file(out, "precious");
  try {
    write_results_file(out, sample_file(true, true), false);
    FAIL() << "overwrote without --force";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "'" + out + "' exists; use --force to overwrite");
  }
  EXPECT_EQ(read_text_file(out), "precious");
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.h5"});
}

TEST(ResultsFile, ForceReplacesAnExistingFileAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string out = dir.file("out.h5");
  write_text_file(out, "old");
  write_results_file(out, sample_file(false, false), true);
  expect_same(sample_file(false, false), read_results_file(out));
  write_results_file(out, sample_file(true, true), true);  // over a results file too
  expect_same(sample_file(true, true), read_results_file(out));
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.h5"});
}

TEST(ResultsFile, InconsistentArraysAreABugAndWriteNothing) {
  TempDir dir;
  ResultsFile f = sample_file(true, true);
  f.results.path_begin[2] = 1;  // decreasing
  EXPECT_THROW(write_results_file(dir.file("out.h5"), f, false), std::logic_error);
  f = sample_file(true, true);
  f.token_begin = {0, 6, 6};  // one entry short
  EXPECT_THROW(write_results_file(dir.file("out.h5"), f, false), std::logic_error);
  f = sample_file(true, true);
  f.results.node_position[1] = 9;  // a path must go backwards from its target
  EXPECT_THROW(write_results_file(dir.file("out.h5"), f, false), std::logic_error);
  EXPECT_TRUE(entries(dir).empty());
}

TEST(ResultsFile, AFailureWhileWritingLeavesNoFileUnderAnyName) {
  // A missing directory: the temporary file cannot even be created.
  TempDir dir;
  EXPECT_ANY_THROW(write_results_file(dir.file("missing/out.h5"), sample_file(true, true), false));
  EXPECT_TRUE(entries(dir).empty());

  // A disk that fills up halfway: a child process with a small file-size limit writes a large file.
  ResultsFile big = sample_file(false, false);
  big.sequence_length[0] = 100000;
  for (std::int32_t t = 6; t < 20000; ++t)
    big.results.append({0, 0, 0, t}, {make_path({t, t - 1, t - 3, t - 6}, {0.5f, 0.25f, 0.125f}, 3)});
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // make writes past the limit fail with EFBIG instead of killing us
    const rlimit limit{16 * 1024, 16 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      write_results_file(dir.file("out.h5"), big, false);
    } catch (const std::exception&) {
      ::_exit(0);
    }
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the writer did not report the failed write";
  EXPECT_TRUE(entries(dir).empty());
}

TEST(ResultsFile, ForceOntoADirectoryFailsAndCleansUp) {
  TempDir dir;
  fs::create_directory(dir.file("out.h5"));
  write_text_file(dir.file("out.h5/keep"), "x");
  EXPECT_ANY_THROW(write_results_file(dir.file("out.h5"), sample_file(true, true), true));
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.h5"});
  EXPECT_EQ(read_text_file(dir.file("out.h5/keep")), "x");
}

TEST(ResultsFile, ReadingNamesTheFileAndWhatIsWrong) {
  TempDir dir;
  const std::string missing = dir.file("missing.h5");
  EXPECT_EQ(read_error(missing), "'" + missing + "': no such file");

  const std::string text = dir.file("notes.txt");
  write_text_file(text, "not hdf5 at all\n");
  EXPECT_NE(read_error(text).find("'" + text + "' is not an HDF5 file"), std::string::npos);

  const std::string other = dir.file("other.h5");
  {
    h5::Handle f = h5::file_handle(H5Fcreate(other.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    h5::write_vector(f, "data", std::vector<double>{1, 2, 3});
  }
  const std::string other_error = read_error(other);
  EXPECT_NE(other_error.find(other), std::string::npos) << other_error;
  EXPECT_NE(other_error.find("not a ratrace results file"), std::string::npos) << other_error;

  const std::string newer = dir.file("newer.h5");
  write_results_file(newer, sample_file(true, true), false);
  edit_hdf5(newer, [](hid_t f) {
    H5Adelete(f, "format_version");
    h5::write_attr_int64(f, "format_version", 2);
  });
  EXPECT_NE(read_error(newer).find("format_version 2 is not supported"), std::string::npos);

  const std::string incomplete = dir.file("incomplete.h5");
  write_results_file(incomplete, sample_file(true, true), false);
  edit_hdf5(incomplete, [](hid_t f) { H5Ldelete(f, "/nodes/edge_attn", H5P_DEFAULT); });
  EXPECT_EQ(read_error(incomplete), "'" + incomplete + "': missing dataset /nodes/edge_attn");

  const std::string inconsistent = dir.file("inconsistent.h5");
  write_results_file(inconsistent, sample_file(true, true), false);
  edit_hdf5(inconsistent, [](hid_t f) {
    H5Ldelete(f, "/paths/node_begin", H5P_DEFAULT);
    h5::write_vector(f, "/paths/node_begin", std::vector<std::int64_t>{0, 3, 6});
  });
  const std::string inconsistent_error = read_error(inconsistent);
  EXPECT_NE(inconsistent_error.find("/paths/node_begin"), std::string::npos) << inconsistent_error;
}

TEST(ResultsFile, CheckOutputPathFailsFastOnUnusablePaths) {
  TempDir dir;
  const std::string out = dir.file("out.h5");
  EXPECT_NO_THROW(check_output_path(out, false));
  write_text_file(out, "x");
  EXPECT_THROW(check_output_path(out, false), UsageError);
  EXPECT_NO_THROW(check_output_path(out, true));
  EXPECT_THROW(check_output_path(dir.path(), true), UsageError);  // a directory
  try {
    check_output_path(dir.file("nowhere/out.h5"), true);
    FAIL() << "accepted a missing directory";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("nowhere' does not exist"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(check_output_path("relative-name.h5", false));  // the current directory
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.h5"});    // checking creates nothing
}

TEST(ResultsFile, CheckOutputPathRejectsAnUnwritableDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may write into read-only directories";
  TempDir dir;
  fs::create_directory(dir.file("ro"));
  fs::permissions(dir.file("ro"), fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(check_output_path(dir.file("ro/out.h5"), false), UsageError);
  EXPECT_ANY_THROW(write_results_file(dir.file("ro/out.h5"), sample_file(true, true), false));
  fs::permissions(dir.file("ro"), fs::perms::owner_all);
  EXPECT_TRUE(fs::is_empty(dir.file("ro")));
}
