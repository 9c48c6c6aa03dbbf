// The /stats group: one row per (layer, head), 1-D datasets [rows] and 2-D ones [rows][bins].
// Layout and meaning: docs/FORMAT.md, "/stats (influence decay)".
#include "io/stats_group.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/hdf5_util.hpp"
#include "ratrace/errors.hpp"

namespace ratrace {

namespace {

constexpr const char* kGroup = "stats";

template <class T, std::size_t N>
void write_rows(hid_t group, const std::string& name, const std::vector<std::array<T, N>>& rows) {
  std::vector<T> flat;
  flat.reserve(rows.size() * N);
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  h5::write_matrix(group, name, flat.data(), rows.size(), N);
}

// Opens /stats/<name> and checks its shape: [rows] when cols == 0, else [rows][cols].
void check_shape(hid_t group, const std::string& name, std::size_t rows, std::size_t cols) {
  if (!h5::exists(group, name)) throw InputError(fmt::format("/stats/{} is missing", name));
  h5::Handle ds = h5::dataset_handle(H5Dopen2(group, name.c_str(), H5P_DEFAULT));
  const std::vector<hsize_t> d = h5::dims(ds);
  const std::vector<hsize_t> want = cols == 0 ? std::vector<hsize_t>{rows} : std::vector<hsize_t>{rows, cols};
  if (d != want)
    throw InputError(fmt::format("/stats/{} has shape [{}], expected [{}]", name, fmt::join(d, ", "),
                                 fmt::join(want, ", ")));
}

template <class T>
std::vector<T> read_column(hid_t group, const std::string& name, std::size_t rows) {
  check_shape(group, name, rows, 0);
  return h5::read_vector<T>(group, name);
}

template <class T, std::size_t N>
std::vector<std::array<T, N>> read_rows(hid_t group, const std::string& name, std::size_t rows) {
  check_shape(group, name, rows, N);
  const std::vector<T> flat = h5::read_vector<T>(group, name);
  std::vector<std::array<T, N>> out(rows);
  for (std::size_t r = 0; r < rows; ++r) std::copy_n(flat.begin() + r * N, N, out[r].begin());
  return out;
}

}  // namespace

void write_stats_group(hid_t file, const DecayStats& stats) {
  const std::size_t rows = stats.num_rows();
  auto check = [&](std::size_t size, const char* name) {
    if (size != rows)
      throw std::logic_error(fmt::format("DecayStats::{} has {} rows, layer has {}", name, size, rows));
  };
  check(stats.head.size(), "head");
  check(stats.attn_mean.size(), "attn_mean");
  check(stats.attn_count.size(), "attn_count");
  check(stats.origin_weight.size(), "origin_weight");
  check(stats.origin_no_hop.size(), "origin_no_hop");
  check(stats.mean_hops.size(), "mean_hops");
  check(stats.mean_origin_distance.size(), "mean_origin_distance");
  check(stats.sink_mass.size(), "sink_mass");
  check(stats.sink_rest.size(), "sink_rest");
  check(stats.num_jobs.size(), "num_jobs");

  h5::Handle group = h5::create_group(file, kGroup);
  h5::write_attr_int64(group, "distance_bins", kDistanceBins);
  h5::write_attr_int64(group, "sink_positions", kSinkPositions);
  h5::write_vector(group, "layer", stats.layer);
  h5::write_vector(group, "head", stats.head);
  h5::write_vector(group, "num_jobs", stats.num_jobs);
  write_rows(group, "attn_mean", stats.attn_mean);
  write_rows(group, "attn_count", stats.attn_count);
  write_rows(group, "origin_weight", stats.origin_weight);
  h5::write_vector(group, "origin_no_hop", stats.origin_no_hop);
  h5::write_vector(group, "mean_hops", stats.mean_hops);
  h5::write_vector(group, "mean_origin_distance", stats.mean_origin_distance);
  write_rows(group, "sink_mass", stats.sink_mass);
  h5::write_vector(group, "sink_rest", stats.sink_rest);
}

std::optional<DecayStats> read_stats_group(hid_t file) {
  if (!h5::exists(file, kGroup)) return std::nullopt;
  h5::Handle group = h5::group_handle(H5Gopen2(file, kGroup, H5P_DEFAULT));
  if (!group.valid()) throw InputError("/stats is not a group");
  const auto bins = h5::read_attr_int64(group, "distance_bins");
  const auto sinks = h5::read_attr_int64(group, "sink_positions");
  if (bins != kDistanceBins || sinks != kSinkPositions)
    throw InputError(fmt::format("/stats has distance_bins = {}, sink_positions = {}; this build reads {} and {}",
                                 bins ? std::to_string(*bins) : "missing", sinks ? std::to_string(*sinks) : "missing",
                                 kDistanceBins, kSinkPositions));
  if (!h5::exists(group, "layer")) throw InputError("/stats/layer is missing");
  h5::Handle layer = h5::dataset_handle(H5Dopen2(group, "layer", H5P_DEFAULT));
  const std::vector<hsize_t> d = h5::dims(layer);
  if (d.size() != 1) throw InputError(fmt::format("/stats/layer has rank {}, expected 1", d.size()));
  const std::size_t rows = d[0];

  DecayStats stats;
  stats.layer = read_column<std::int32_t>(group, "layer", rows);
  stats.head = read_column<std::int32_t>(group, "head", rows);
  stats.num_jobs = read_column<std::int64_t>(group, "num_jobs", rows);
  stats.attn_mean = read_rows<double, kDistanceBins>(group, "attn_mean", rows);
  stats.attn_count = read_rows<std::int64_t, kDistanceBins>(group, "attn_count", rows);
  stats.origin_weight = read_rows<double, kDistanceBins>(group, "origin_weight", rows);
  stats.origin_no_hop = read_column<double>(group, "origin_no_hop", rows);
  stats.mean_hops = read_column<double>(group, "mean_hops", rows);
  stats.mean_origin_distance = read_column<double>(group, "mean_origin_distance", rows);
  stats.sink_mass = read_rows<double, kSinkPositions>(group, "sink_mass", rows);
  stats.sink_rest = read_column<double>(group, "sink_rest", rows);
  return stats;
}

}  // namespace ratrace
