// Influence-decay statistics (compute_decay_stats) and the /stats group round trip, against
// values computed here by hand from tiny inputs.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/hdf5_util.hpp"
#include "io/stats_group.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"
#include "support/path_result.hpp"
#include "support/temp_dir.hpp"

namespace ratrace {
namespace {

// A path whose edges all have attention 0.5, scored `score_norm` (raw and normalised).
PathResult make_path(std::vector<std::int32_t> positions, double score_norm) {
  const std::vector<float> edges(positions.size() - 1, 0.5f);
  return testing::path_result(std::move(positions), edges, score_norm, score_norm);
}

// Softmax written out independently of path_weights().
std::vector<double> softmax(const std::vector<double>& s) {
  double max = s[0];
  for (double v : s) max = std::max(max, v);
  double total = 0.0;
  for (double v : s) total += std::exp(v - max);
  std::vector<double> w;
  for (double v : s) w.push_back(std::exp(v - max) / total);
  return w;
}

std::size_t row_of(const DecayStats& stats, int layer, int head) {
  for (std::size_t r = 0; r < stats.num_rows(); ++r)
    if (stats.layer[r] == layer && stats.head[r] == head) return r;
  ADD_FAILURE() << "no row for layer " << layer << " head " << head;
  return 0;
}

TEST(AttentionProfile, SumsEachDistanceBand) {
  // 4 x 4 lower-triangular matrix; the upper part holds junk that must not be read.
  const std::vector<float> m = {
      1.0f, 9.0f, 9.0f, 9.0f,  //
      0.25f, 0.75f, 9.0f, 9.0f,  //
      0.5f, 0.125f, 0.375f, 9.0f,  //
      0.0625f, 0.1875f, 0.25f, 0.5f,
  };
  AttentionProfile p;
  accumulate_attention_profile(m.data(), 4, p);
  EXPECT_EQ(p.count[0], 3);  // (1,0) (2,1) (3,2)
  EXPECT_DOUBLE_EQ(p.sum[0], 0.25 + 0.125 + 0.25);
  EXPECT_EQ(p.count[1], 3);  // (2,0) (3,1) (3,0)
  EXPECT_DOUBLE_EQ(p.sum[1], 0.5 + 0.1875 + 0.0625);
  for (int b = 2; b < kDistanceBins; ++b) EXPECT_EQ(p.count[b], 0);
}

class DecayStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Job A (layer 0, mean): scores -1, -2, -3; origins 8 (d 2), 3 (d 7), 10 (no hop).
    results.append({0, 0, kHeadMean, 10}, {make_path({10, 9, 8}, -1.0), make_path({10, 3}, -2.0), make_path({10}, -3.0)});
    // Job B (layer 1, head 2) comes before job C in the file but sorts after it.
    results.append({0, 1, 2, 5}, {make_path({5, 4}, -0.25)});
    // Job C (layer 0, mean, another sequence): two equal scores; origins 0 (d 100) and 70 (d 30).
    results.append({1, 0, kHeadMean, 100}, {make_path({100, 0}, -0.5), make_path({100, 90, 70}, -0.5)});

    AttentionProfile p0;  // sequence 0, layer 0, mean
    p0.seq_index = 0, p0.layer = 0, p0.head = kHeadMean;
    p0.sum[0] = 3.0, p0.count[0] = 10;
    p0.sum[3] = 0.5, p0.count[3] = 20;
    AttentionProfile p1 = p0;  // sequence 1, same matrix kind
    p1.seq_index = 1;
    p1.sum[0] = 1.0, p1.count[0] = 10;
    p1.sum[3] = 0.0, p1.count[3] = 0;
    AttentionProfile p2;  // layer 0, max: a row with a profile but no jobs
    p2.layer = 0, p2.head = kHeadMax;
    p2.sum[1] = 2.0, p2.count[1] = 4;
    AttentionProfile p3;
    p3.layer = 1, p3.head = 2;
    p3.sum[0] = 0.9, p3.count[0] = 3;
    profiles = {p3, p0, p2, p1};
  }
  TraceResults results;
  std::vector<AttentionProfile> profiles;
};

TEST_F(DecayStatsTest, RowsSortedByLayerThenHead) {
  const DecayStats s = compute_decay_stats(results, profiles);
  ASSERT_EQ(s.num_rows(), 3u);
  EXPECT_EQ(s.layer, (std::vector<std::int32_t>{0, 0, 1}));
  EXPECT_EQ(s.head, (std::vector<std::int32_t>{kHeadMax, kHeadMean, 2}));
  EXPECT_EQ(s.num_jobs, (std::vector<std::int64_t>{0, 2, 1}));
}

TEST_F(DecayStatsTest, AttentionMeanPerBinOverSequences) {
  const DecayStats s = compute_decay_stats(results, profiles);
  const std::size_t r = row_of(s, 0, kHeadMean);
  EXPECT_EQ(s.attn_count[r][0], 20);
  EXPECT_DOUBLE_EQ(s.attn_mean[r][0], 4.0 / 20.0);
  EXPECT_EQ(s.attn_count[r][3], 20);
  EXPECT_DOUBLE_EQ(s.attn_mean[r][3], 0.5 / 20.0);
  EXPECT_EQ(s.attn_count[r][1], 0);
  EXPECT_TRUE(std::isnan(s.attn_mean[r][1]));  // empty bin: NaN, not 0
  EXPECT_DOUBLE_EQ(s.attn_mean[row_of(s, 1, 2)][0], 0.3);
}

TEST_F(DecayStatsTest, OriginDistanceHopsAndSinkArePerJobMeansOfPathWeights) {
  const DecayStats s = compute_decay_stats(results, profiles);
  const std::size_t r = row_of(s, 0, kHeadMean);
  const std::vector<double> wa = softmax({-1.0, -2.0, -3.0});
  const double wc = 0.5;

  std::array<double, kDistanceBins> origin{};
  origin[1] = wa[0] / 2;  // d 2
  origin[2] = wa[1] / 2;  // d 7
  origin[6] = wc / 2;     // d 100
  origin[4] = wc / 2;     // d 30
  double total = s.origin_no_hop[r];
  for (int b = 0; b < kDistanceBins; ++b) {
    EXPECT_NEAR(s.origin_weight[r][b], origin[b], 1e-12) << "bin " << b;
    total += s.origin_weight[r][b];
  }
  EXPECT_NEAR(s.origin_no_hop[r], wa[2] / 2, 1e-12);
  EXPECT_NEAR(total, 1.0, 1e-12);

  EXPECT_NEAR(s.mean_hops[r], ((2 * wa[0] + 1 * wa[1] + 0 * wa[2]) + (1 * wc + 2 * wc)) / 2, 1e-12);
  EXPECT_NEAR(s.mean_origin_distance[r], ((2 * wa[0] + 7 * wa[1]) + (100 * wc + 30 * wc)) / 2, 1e-12);

  EXPECT_NEAR(s.sink_mass[r][8], wa[0] / 2, 1e-12);
  EXPECT_NEAR(s.sink_mass[r][3], wa[1] / 2, 1e-12);
  EXPECT_NEAR(s.sink_mass[r][10], wa[2] / 2, 1e-12);
  EXPECT_NEAR(s.sink_mass[r][0], wc / 2, 1e-12);
  EXPECT_NEAR(s.sink_rest[r], wc / 2, 1e-12);  // origin 70 >= 64
  EXPECT_EQ(s.sink_mass[r][1], 0.0);

  const std::size_t single = row_of(s, 1, 2);
  EXPECT_DOUBLE_EQ(s.origin_weight[single][0], 1.0);
  EXPECT_DOUBLE_EQ(s.mean_hops[single], 1.0);
  EXPECT_DOUBLE_EQ(s.sink_mass[single][4], 1.0);
}

TEST_F(DecayStatsTest, RowWithoutJobsHasNaNPathStatistics) {
  const DecayStats s = compute_decay_stats(results, profiles);
  const std::size_t r = row_of(s, 0, kHeadMax);
  EXPECT_DOUBLE_EQ(s.attn_mean[r][1], 0.5);
  EXPECT_TRUE(std::isnan(s.mean_hops[r]));
  EXPECT_TRUE(std::isnan(s.origin_weight[r][0]));
  EXPECT_TRUE(std::isnan(s.sink_rest[r]));
}

TEST(DecayStats, PathsOnlyGiveNaNAttention) {
  TraceResults results;
  results.append({0, 3, 0, 2}, {make_path({2, 1, 0}, -0.1)});
  const DecayStats s = compute_decay_stats(results, {});
  ASSERT_EQ(s.num_rows(), 1u);
  EXPECT_EQ(s.attn_count[0][0], 0);
  EXPECT_TRUE(std::isnan(s.attn_mean[0][0]));
  EXPECT_DOUBLE_EQ(s.origin_weight[0][1], 1.0);
  EXPECT_DOUBLE_EQ(s.sink_mass[0][0], 1.0);
}

// --- the /stats group ---------------------------------------------------------------------

class StatsGroupFile : public ::testing::Test {
 protected:
  void SetUp() override {
    h5::silence_errors();
    file = h5::file_handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_TRUE(file.valid());
  }
  testing::TempDir dir;
  std::string path = dir.file("stats.h5");
  h5::Handle file;  // declared after `dir`, so closed before it is removed
};

void expect_same(double a, double b) {
  if (std::isnan(a)) {
    EXPECT_TRUE(std::isnan(b));
  } else {
    EXPECT_EQ(a, b);
  }
}

TEST_F(StatsGroupFile, RoundTripKeepsEveryValue) {
  TraceResults results;
  results.append({0, 1, kHeadMean, 9}, {make_path({9, 8, 1}, -0.3), make_path({9, 2}, -0.7)});
  results.append({0, 0, 3, 200}, {make_path({200, 66}, -1.0)});
  AttentionProfile p;
  p.layer = 1, p.head = kHeadMean;
  p.sum[0] = 1.5, p.count[0] = 7;
  const DecayStats in = compute_decay_stats(results, {p});
  write_stats_group(file, in);
  const std::optional<DecayStats> out = read_stats_group(file);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->num_rows(), 2u);
  EXPECT_EQ(out->layer, in.layer);
  EXPECT_EQ(out->head, in.head);
  EXPECT_EQ(out->num_jobs, in.num_jobs);
  EXPECT_EQ(out->attn_count, in.attn_count);
  for (std::size_t r = 0; r < 2; ++r) {
    for (int b = 0; b < kDistanceBins; ++b) {
      expect_same(out->attn_mean[r][b], in.attn_mean[r][b]);
      expect_same(out->origin_weight[r][b], in.origin_weight[r][b]);
    }
    for (int q = 0; q < kSinkPositions; ++q) expect_same(out->sink_mass[r][q], in.sink_mass[r][q]);
    expect_same(out->mean_hops[r], in.mean_hops[r]);
    expect_same(out->mean_origin_distance[r], in.mean_origin_distance[r]);
    expect_same(out->origin_no_hop[r], in.origin_no_hop[r]);
    expect_same(out->sink_rest[r], in.sink_rest[r]);
  }
  EXPECT_EQ(out->sink_rest[0], 1.0);  // layer 0 head 3: origin 66
}

TEST_F(StatsGroupFile, EmptyStatsRoundTrip) {
  write_stats_group(file, DecayStats{});
  const std::optional<DecayStats> out = read_stats_group(file);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->num_rows(), 0u);
}

TEST_F(StatsGroupFile, MissingGroupIsNullopt) { EXPECT_FALSE(read_stats_group(file).has_value()); }

TEST_F(StatsGroupFile, WrongShapeIsInputErrorNamingTheDataset) {
  TraceResults results;
  results.append({0, 0, 0, 3}, {make_path({3, 2}, -0.1)});
  write_stats_group(file, compute_decay_stats(results, {}));
  h5::Handle group = h5::group_handle(H5Gopen2(file, "stats", H5P_DEFAULT));
  ASSERT_EQ(H5Ldelete(group, "sink_rest", H5P_DEFAULT), 0);
  h5::write_vector(group, "sink_rest", std::vector<double>{0.0, 1.0});
  try {
    read_stats_group(file);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/stats/sink_rest"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ratrace
