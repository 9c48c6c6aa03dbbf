// The streaming results writer (ResultsWriter, ResultsStream) and its chunk codec: batches written
// one after another read back exactly like one in-memory file, across chunk boundaries; the stored
// layout is what any HDF5 reader decodes with its stock filters; and no failure leaves a file.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <string>

#include "io/chunk_codec.hpp"
#include "io/hdf5_util.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/results_writer.hpp"
#include "run/results_stream.hpp"
#include "support/results_compare.hpp"
#include "support/temp_dir.hpp"

using namespace ratrace;
using ratrace::testing::expect_identical_results;
using ratrace::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunk = std::size_t{1} << 16;  // the writer's chunk length, in values

std::set<std::string> entries(const TempDir& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.insert(e.path().filename().string());
  return names;
}

ResultsMetadata sample_metadata() {
  ResultsMetadata m;
  m.params_json = R"({"top_beam": 5})";
  m.input = "corpus.h5";
  m.device = "cpu (2 threads)";
  m.sequence_names = {"a", "b"};
  m.sequence_length = {4096, 300};
  m.token_begin = {0, 0, 0};
  return m;
}

// A batch of valid jobs of sequence 0, layer `layer`, targets [first_target, first_target + jobs):
// up to 5 paths each, strictly descending positions from the target, NaN edge into the target.
TraceResults random_batch(std::mt19937& rng, int layer, int first_target, int jobs, int max_len) {
  TraceResults r;
  for (int t = first_target; t < first_target + jobs; ++t) {
    std::vector<PathResult> paths(1 + rng() % 5);
    for (PathResult& p : paths) {
      int pos = t;
      p.positions.push_back(pos);
      p.edge_attn.push_back(std::numeric_limits<float>::quiet_NaN());
      const int len = static_cast<int>(rng() % static_cast<unsigned>(max_len));
      for (int n = 0; n < len && pos > 0; ++n) {
        pos -= 1 + static_cast<int>(rng() % 3u);
        if (pos < 0) break;
        p.positions.push_back(pos);
        p.edge_attn.push_back(static_cast<float>(rng() % 1000) / 1000.0f);
      }
      p.score_raw = -static_cast<double>(rng() % 100000) / 7.0;
      p.score_norm = p.score_raw / static_cast<double>(p.positions.size());
    }
    r.append(JobKey{0, layer, t % 7 == 0 ? kHeadMean : 3, t}, paths);
  }
  return r;
}

// (layout, number of filters) of one dataset.
std::pair<H5D_layout_t, int> storage_of(const std::string& file, const char* dataset) {
  h5::Handle f = h5::file_handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  h5::Handle ds = h5::dataset_handle(H5Dopen2(f, dataset, H5P_DEFAULT));
  h5::Handle dcpl = h5::plist_handle(H5Dget_create_plist(ds));
  return {H5Pget_layout(dcpl), H5Pget_nfilters(dcpl)};
}

}  // namespace

TEST(ChunkCodec, RoundTripsWholeAndEdgeChunksOfEveryWidth) {
  std::mt19937 rng(7);
  for (const std::size_t width : {std::size_t{4}, std::size_t{8}, std::size_t{2}}) {
    for (const std::size_t valid : {std::size_t{1000}, std::size_t{999}, std::size_t{1}}) {
      std::vector<unsigned char> values(width * valid);
      for (auto& b : values) b = static_cast<unsigned char>(rng() % 7);  // compressible, not constant
      const auto encoded = encode_chunk(values.data(), width, valid, 1000, 3);
      EXPECT_LT(encoded.size(), width * 1000);  // the stored chunk is whole, and compressed
      const auto decoded = decode_chunk(encoded, width, 1000);
      ASSERT_EQ(decoded.size(), width * 1000);
      EXPECT_EQ(std::memcmp(decoded.data(), values.data(), values.size()), 0) << "width " << width;
      for (std::size_t i = values.size(); i < decoded.size(); ++i) ASSERT_EQ(decoded[i], 0) << "padding at " << i;
    }
  }
  const std::vector<unsigned char> two(8);
  EXPECT_THROW(encode_chunk(two.data(), 4, 3, 2, 1), std::logic_error);
}

TEST(ResultsWriter, BatchesAcrossChunkBoundariesReadBackAsOneFile) {
  TempDir dir;
  std::mt19937 rng(2026);
  // Node counts cross chunk boundaries inside a batch, between batches, and end mid-chunk.
  std::vector<TraceResults> batches;
  batches.push_back(random_batch(rng, 0, 100, 700, 120));
  batches.push_back(TraceResults{});  // an empty batch changes nothing
  batches.push_back(random_batch(rng, 1, 50, 3, 40));
  batches.push_back(random_batch(rng, 2, 1000, 2500, 160));
  TraceResults all;
  for (const TraceResults& b : batches) all.append(b);
  ASSERT_GT(all.num_nodes(), 5 * kChunk);  // several whole chunks and a partial one
  ASSERT_NE(all.num_nodes() % kChunk, 0u);

  const std::string out = dir.file("out.h5");
  {
    ResultsWriter writer(out, sample_metadata(), false, 2);
    for (const TraceResults& b : batches) writer.append(b);
    EXPECT_EQ(writer.num_jobs(), static_cast<std::int64_t>(all.num_jobs()));
    EXPECT_EQ(writer.num_nodes(), static_cast<std::int64_t>(all.num_nodes()));
    EXPECT_FALSE(fs::exists(out));  // only under a temporary name until commit
    writer.commit(compute_decay_stats(all, {}));
  }
  const ResultsFile back = read_results_file(out);
  expect_identical_results(back.results, all);
  EXPECT_EQ(back.sequence_names, sample_metadata().sequence_names);
  ASSERT_TRUE(back.stats.has_value());
  EXPECT_EQ(back.stats->num_jobs, compute_decay_stats(all, {}).num_jobs);
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.h5"});

  // Big arrays: chunked, shuffle + deflate (what h5py decodes without plugins); small: contiguous.
  EXPECT_EQ(storage_of(out, "/nodes/position"), std::make_pair(H5D_CHUNKED, 2));
  EXPECT_EQ(storage_of(out, "/nodes/edge_attn"), std::make_pair(H5D_CHUNKED, 2));
  EXPECT_EQ(storage_of(out, "/sequences/length"), std::make_pair(H5D_CONTIGUOUS, 0));
}

TEST(ResultsWriter, SmallFilesAreTheSameWrittenWholeOrInPieces) {
  TempDir dir;
  std::mt19937 rng(3);
  const TraceResults first = random_batch(rng, 0, 10, 20, 10), second = random_batch(rng, 1, 10, 20, 10);
  TraceResults all = first;
  all.append(second);
  {
    ResultsWriter writer(dir.file("pieces.h5"), sample_metadata(), false);
    writer.append(first);
    writer.append(second);
    writer.commit(std::nullopt);
  }
  ResultsFile whole;
  static_cast<ResultsMetadata&>(whole) = sample_metadata();
  whole.results = all;
  write_results_file(dir.file("whole.h5"), whole, false);
  expect_identical_results(read_results_file(dir.file("pieces.h5")).results, all);
  expect_identical_results(read_results_file(dir.file("whole.h5")).results, all);
  EXPECT_FALSE(read_results_file(dir.file("pieces.h5")).stats.has_value());
  EXPECT_EQ(storage_of(dir.file("pieces.h5"), "/jobs/target"), std::make_pair(H5D_CONTIGUOUS, 0));
}

TEST(ResultsWriter, NoFileIsLeftWithoutCommitOrAfterABadBatch) {
  TempDir dir;
  std::mt19937 rng(5);
  const TraceResults batch = random_batch(rng, 0, 100, 900, 200);
  {
    ResultsWriter writer(dir.file("out.h5"), sample_metadata(), false);
    writer.append(batch);
    EXPECT_EQ(entries(dir).size(), 1u);  // the temporary file
  }
  EXPECT_TRUE(entries(dir).empty());
  {
    ResultsWriter writer(dir.file("out.h5"), sample_metadata(), false);
    writer.append(batch);
    try {
      writer.append(batch);  // the same jobs again
      ADD_FAILURE() << "a job written twice was accepted";
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("appears twice"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("job 900:"), std::string::npos) << "file-wide job number: " << e.what();
    }
  }
  EXPECT_TRUE(entries(dir).empty());
  ResultsMetadata bad = sample_metadata();
  bad.sequence_length.pop_back();
  EXPECT_THROW(ResultsWriter(dir.file("out.h5"), bad, false), std::logic_error);
  EXPECT_TRUE(entries(dir).empty());
}

TEST(ResultsWriter, ABrokenBatchIsReportedWithFileWideNumbers) {
  TempDir dir;
  std::mt19937 rng(23);
  const TraceResults first = random_batch(rng, 0, 100, 10, 20);
  TraceResults second = random_batch(rng, 1, 100, 10, 20);
  second.node_begin[2] = second.node_begin[1];  // path 1 of the batch loses every node
  ResultsWriter writer(dir.file("out.h5"), sample_metadata(), false);
  writer.append(first);
  const std::int64_t p = static_cast<std::int64_t>(first.num_paths());
  const std::int64_t n = static_cast<std::int64_t>(first.num_nodes());
  try {
    writer.append(second);
    ADD_FAILURE() << "a path without nodes was accepted";
  } catch (const std::logic_error& e) {
    const std::string want = fmt::format("/paths/node_begin does not increase at entry {} ({} then {})", p + 2,
                                         n + second.node_begin[1], n + second.node_begin[1]);
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what() << "\nwanted: " << want;
  }
}

TEST(ResultsWriter, NeverReplacesAFileThatAppearedDuringTheRunWithoutForce) {
  TempDir dir;
  const std::string out = dir.file("out.h5");
  std::mt19937 rng(9);
  {
    ResultsWriter writer(out, sample_metadata(), false);
    writer.append(random_batch(rng, 0, 10, 5, 5));
    std::FILE* other = std::fopen(out.c_str(), "w");  // another job's output, written meanwhile
    ASSERT_NE(other, nullptr);
    std::fputs("theirs", other);
    std::fclose(other);
    EXPECT_THROW(writer.commit(std::nullopt), UsageError);
  }
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.h5"});
  EXPECT_EQ(fs::file_size(out), 6u);
  EXPECT_THROW(ResultsWriter(out, sample_metadata(), false), UsageError);
  {
    ResultsWriter writer(out, sample_metadata(), /*force=*/true);
    writer.commit(std::nullopt);
  }
  EXPECT_EQ(read_results_file(out).results.num_jobs(), 0u);
}

TEST(ResultsStream, WritesWhatWasPushedAndStatsLikeTheWholeRun) {
  TempDir dir;
  std::mt19937 rng(11);
  std::vector<TraceBatch> batches(4);
  TraceResults all;
  std::vector<AttentionProfile> profiles;
  for (int b = 0; b < 4; ++b) {
    batches[b].results = random_batch(rng, b, 200, 400, 100);
    AttentionProfile p{0, b, 3, {}, {}};
    p.sum[0] = 0.25 * (b + 1);
    p.count[0] = 10;
    batches[b].profiles = {p};
    all.append(batches[b].results);
    profiles.push_back(p);
  }
  const std::string out = dir.file("out.h5");
  ResultsStream stream(out, sample_metadata(), false);
  for (TraceBatch& b : batches) stream.consume(std::move(b));
  const TraceSummary summary = stream.finish();
  EXPECT_EQ(summary.jobs, static_cast<std::int64_t>(all.num_jobs()));
  EXPECT_EQ(summary.nodes, static_cast<std::int64_t>(all.num_nodes()));
  const ResultsFile back = read_results_file(out);
  expect_identical_results(back.results, all);
  const DecayStats want = compute_decay_stats(all, profiles);
  ASSERT_TRUE(back.stats.has_value());
  EXPECT_EQ(back.stats->layer, want.layer);
  EXPECT_EQ(back.stats->mean_hops, want.mean_hops);  // same jobs, same order: the same sums
  EXPECT_EQ(back.stats->attn_count, want.attn_count);
}

TEST(ResultsStream, WrittenBatchesComeBackEmptyWithTheirMemory) {
  TempDir dir;
  std::mt19937 rng(19);
  TraceBatch batch{random_batch(rng, 0, 100, 300, 50), {}};
  const std::size_t nodes = batch.results.num_nodes();
  ResultsStream stream(dir.file("out.h5"), sample_metadata(), false);
  EXPECT_EQ(stream.spare().results.node_position.capacity(), 0u);  // none kept yet
  stream.consume(std::move(batch));
  stream.finish();  // written: the batch is now a spare
  const TraceBatch spare = stream.spare();
  EXPECT_EQ(spare.results.num_jobs(), 0u);
  EXPECT_EQ(spare.results.path_begin, ResultColumn<std::int64_t>{0});
  EXPECT_EQ(spare.results.node_begin, ResultColumn<std::int64_t>{0});
  EXPECT_EQ(spare.results.num_nodes(), 0u);
  EXPECT_GE(spare.results.node_position.capacity(), nodes);
  EXPECT_GE(spare.results.node_edge_attn.capacity(), nodes);
  EXPECT_EQ(stream.spare().results.node_position.capacity(), 0u);  // handed out once
}

TEST(ResultsStream, AWritingFailureReachesTheEngineAndLeavesNoFile) {
  TempDir dir;
  std::mt19937 rng(13);
  const TraceResults batch = random_batch(rng, 0, 10, 50, 10);
  {
    ResultsStream stream(dir.file("out.h5"), sample_metadata(), false);
    stream.consume(TraceBatch{batch, {}});
    stream.consume(TraceBatch{batch, {}});  // duplicate jobs: the writer fails (now or on the next call)
    bool thrown = false;
    try {
      for (int i = 0; i < 100 && !thrown; ++i) stream.consume(TraceBatch{{}, {}});
      stream.finish();
    } catch (const std::logic_error& e) {
      thrown = true;
      EXPECT_NE(std::string(e.what()).find("appears twice"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(thrown);
  }
  EXPECT_TRUE(entries(dir).empty());
  {
    ResultsStream stream(dir.file("out.h5"), sample_metadata(), false);
    stream.consume(TraceBatch{batch, {}});
  }  // abandoned (the engine threw): nothing left
  EXPECT_TRUE(entries(dir).empty());
}

TEST(DecayStatsBuilder, BatchedEqualsAllAtOnceBitForBit) {
  std::mt19937 rng(17);
  const TraceResults a = random_batch(rng, 0, 300, 200, 50), b = random_batch(rng, 0, 600, 300, 50);
  TraceResults all = a;
  all.append(b);
  DecayStatsBuilder builder;
  builder.add_results(a);
  builder.add_results(b);
  const DecayStats batched = builder.build(), whole = compute_decay_stats(all, {});
  EXPECT_EQ(batched.num_jobs, whole.num_jobs);
  EXPECT_EQ(batched.mean_hops, whole.mean_hops);
  EXPECT_EQ(batched.mean_origin_distance, whole.mean_origin_distance);
  EXPECT_EQ(batched.sink_rest, whole.sink_rest);
}
