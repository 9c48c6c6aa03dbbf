// The results file of SPEC §5 as a whole: written through ResultsWriter, read back with every
// dataset checked. The layout is documented for users in docs/FORMAT.md.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <type_traits>

#include "io/hdf5_util.hpp"
#include "io/results_consistency.hpp"
#include "io/results_format.hpp"
#include "io/stats_group.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/results.hpp"
#include "ratrace/results_writer.hpp"

namespace ratrace {
namespace {

// --- reading ------------------------------------------------------------------------------------

// Throws unless `name` is a 1-D dataset; errors name the dataset (the caller adds the file).
void expect_1d_dataset(hid_t file, const std::string& name) {
  if (!h5::exists(file, name)) throw InputError(fmt::format("missing dataset {}", name));
  h5::Handle ds = h5::dataset_handle(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  if (!ds.valid()) throw InputError(fmt::format("{} is not a dataset", name));
  const std::vector<hsize_t> shape = h5::dims(ds);
  if (shape.size() != 1) throw InputError(fmt::format("{} has {} dimensions, expected 1", name, shape.size()));
}

// A 1-D dataset that must be there.
template <class T>
std::vector<T> read_required(hid_t file, const std::string& name) {
  expect_1d_dataset(file, name);
  if constexpr (std::is_same_v<T, std::string>) return h5::read_strings(file, name);
  else return h5::read_vector<T>(file, name);
}

// The same into a results column.
template <class T>
void read_column(hid_t file, const std::string& name, ResultColumn<T>& out) {
  expect_1d_dataset(file, name);
  out = h5::read_vector<T, typename ResultColumn<T>::allocator_type>(file, name);
}

template <class T>
std::optional<std::vector<T>> read_optional(hid_t file, const std::string& name) {
  if (!h5::exists(file, name)) return std::nullopt;
  return read_required<T>(file, name);
}

std::string read_required_attr(hid_t file, const char* name) {
  std::optional<std::string> value = h5::read_attr_string(file, name);
  if (!value) throw InputError(fmt::format("missing root attribute '{}' (a string)", name));
  return *value;
}

TraceResults read_trace_results(hid_t file) {
  TraceResults r;
  const auto seq_index = read_required<std::int32_t>(file, "/jobs/seq_index");
  const auto layer = read_required<std::int32_t>(file, "/jobs/layer");
  const auto head = read_required<std::int32_t>(file, "/jobs/head");
  const auto target = read_required<std::int32_t>(file, "/jobs/target");
  const std::size_t n_jobs = seq_index.size();
  if (layer.size() != n_jobs || head.size() != n_jobs || target.size() != n_jobs)
    throw InputError(fmt::format("/jobs/seq_index, layer, head and target differ in length ({}, {}, {}, {})", n_jobs,
                                 layer.size(), head.size(), target.size()));
  for (std::size_t k = 0; k < n_jobs; ++k) r.jobs.push_back({seq_index[k], layer[k], head[k], target[k]});
  read_column(file, "/jobs/path_begin", r.path_begin);
  read_column(file, "/paths/score_raw", r.score_raw);
  read_column(file, "/paths/score_norm", r.score_norm);
  read_column(file, "/paths/node_begin", r.node_begin);
  read_column(file, "/nodes/position", r.node_position);
  read_column(file, "/nodes/edge_attn", r.node_edge_attn);
  return r;
}

ResultsFile read_contents(const std::string& path) {
  h5::Handle file = h5::file_handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.valid()) throw InputError("cannot be opened as HDF5");
  const std::optional<std::string> format = h5::read_attr_string(file, "format");
  if (format != kResultsFormatName)
    throw InputError(fmt::format("not a ratrace results file (no root attribute format = \"{}\")", kResultsFormatName));
  const std::optional<std::int64_t> version = h5::read_attr_int64(file, "format_version");
  if (!version) throw InputError("missing integer root attribute 'format_version'");
  if (*version != kResultsFormatVersion)
    throw InputError(fmt::format("results format_version {} is not supported (this ratrace reads version {})",
                                 *version, kResultsFormatVersion));

  ResultsFile f;
  f.params_json = read_required_attr(file, "params");
  f.input = read_required_attr(file, "input");
  f.device = read_required_attr(file, "device");
  f.sequence_names = read_required<std::string>(file, "/sequences/names");
  f.sequence_length = read_required<std::int32_t>(file, "/sequences/length");
  f.token_begin = read_required<std::int64_t>(file, "/sequences/token_begin");
  f.token_ids = read_optional<std::int64_t>(file, "/sequences/token_ids");
  f.tokens = read_optional<std::string>(file, "/sequences/tokens");
  f.results = read_trace_results(file);
  if (auto problem = find_results_inconsistency(f)) throw InputError(fmt::format("inconsistent results: {}", *problem));
  f.stats = read_stats_group(file);
  return f;
}

}  // namespace

void write_results_file(const std::string& path, const ResultsFile& file, bool force) {
  ResultsWriter writer(path, file, force);
  writer.append(file.results);
  writer.commit(file.stats);
}

ResultsFile read_results_file(const std::string& path) {
  namespace fs = std::filesystem;
  h5::silence_errors();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(fmt::format("'{}': no such file", path));
  if (fs::is_directory(path, ec)) throw InputError(fmt::format("'{}' is a directory, not a results file", path));
  if (::access(path.c_str(), R_OK) != 0)
    throw InputError(fmt::format("'{}': cannot read it ({})", path, std::strerror(errno)));
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw InputError(fmt::format("'{}' is not an HDF5 file (expected a ratrace results file)", path));
  try {
    return read_contents(path);
  } catch (const std::runtime_error& e) {  // InputError and the HDF5 helpers' errors alike
    throw InputError(fmt::format("'{}': {}", path, e.what()));
  }
}

}  // namespace ratrace
