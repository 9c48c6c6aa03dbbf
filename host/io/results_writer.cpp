// The streaming results writer. Each big array is a growable dataset stored in chunks of
// kChunkValues; whole chunks are encoded (shuffle + deflate, io/chunk_codec) on a thread pool and
// stored with H5Dwrite_chunk, so compression scales with the cores while all HDF5 calls stay on
// the calling thread (the HDF5 library is not thread-safe). Values short of a chunk wait in a
// column's tail; a column that never fills one chunk is written at commit like any small dataset
// (contiguous below 4096 values), so small files keep the layout they always had.
#include "ratrace/results_writer.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <stdexcept>
#include <utility>
#include <vector>

#include "io/chunk_codec.hpp"
#include "io/hdf5_util.hpp"
#include "io/results_consistency.hpp"
#include "io/results_format.hpp"
#include "io/results_output_path.hpp"
#include "io/stats_group.hpp"
#include "ratrace/errors.hpp"
#include "util/parallel_for.hpp"

namespace ratrace {
namespace {

constexpr hsize_t kChunkValues = hsize_t{1} << 16;

// One growable 1-D dataset being filled.
struct Column {
  hid_t group;
  const char* name;
  hid_t type;  // native type: chunks hold raw values
  std::size_t value_size;
  std::vector<unsigned char> tail;  // values after the last whole chunk
  hsize_t length = 0;               // values appended so far
  hsize_t chunks_queued = 0;
  hsize_t extent = 0;               // the dataset's length in the file
  h5::Handle dataset;  // created with the first whole chunk

  hsize_t tail_values() const { return tail.size() / value_size; }
};

// One whole (or, at commit, final partial) chunk on its way to the file.
struct ChunkTask {
  Column* column;
  hsize_t index;
  const unsigned char* view;          // the chunk's values in the caller's batch, or null when...
  std::vector<unsigned char> owned;  // ...they came through the column's tail
  hsize_t valid = kChunkValues;      // values present (fewer only in the final chunk)
  std::vector<unsigned char> encoded;

  const unsigned char* values() const { return view ? view : owned.data(); }
};

}  // namespace

struct ResultsWriter::Impl {
  std::string path;
  std::string temp;
  bool force;
  ResultsMetadata metadata;
  JobChecker checker;
  ThreadPool pool;
  h5::Handle file;
  h5::Handle jobs_group, paths_group, nodes_group;
  Column seq_index, layer, head, target, path_begin, score_raw, score_norm, node_begin, position, edge_attn;
  std::int64_t jobs = 0, paths = 0, nodes = 0;
  bool committed = false;

  Impl(const std::string& p, ResultsMetadata m, bool f, int threads)
      : path(p), force(f), metadata(std::move(m)), checker(metadata), pool(threads) {}

  std::vector<Column*> columns() {
    return {&seq_index, &layer, &head, &target, &path_begin, &score_raw, &score_norm, &node_begin, &position,
            &edge_attn};
  }

  void open() {
    h5::silence_errors();
    temp = temp_path_beside(path);
    h5::Handle fapl = h5::plist_handle(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);  // closing the file closes anything left open
    track_temp_file(temp);  // before it exists: a signal during H5Fcreate must find it too
    file = h5::file_handle(H5Fcreate(temp.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl));
    if (!file.valid()) throw std::runtime_error(fmt::format("cannot create the temporary results file '{}'", temp));
    h5::write_attr_string(file, "format", kResultsFormatName);
    h5::write_attr_int64(file, "format_version", kResultsFormatVersion);
    h5::write_attr_string(file, "params", metadata.params_json);
    h5::write_attr_string(file, "input", metadata.input);
    h5::write_attr_string(file, "device", metadata.device);
    {
      h5::Handle g = h5::create_group(file, "sequences");
      h5::write_strings(g, "names", metadata.sequence_names);
      h5::write_vector(g, "length", metadata.sequence_length);
      h5::write_vector(g, "token_begin", metadata.token_begin);
      if (metadata.token_ids) h5::write_vector(g, "token_ids", *metadata.token_ids);
      if (metadata.tokens) h5::write_strings(g, "tokens", *metadata.tokens);
    }
    jobs_group = h5::create_group(file, "jobs");
    paths_group = h5::create_group(file, "paths");
    nodes_group = h5::create_group(file, "nodes");
    seq_index = {jobs_group, "seq_index", H5T_NATIVE_INT32, 4};
    layer = {jobs_group, "layer", H5T_NATIVE_INT32, 4};
    head = {jobs_group, "head", H5T_NATIVE_INT32, 4};
    target = {jobs_group, "target", H5T_NATIVE_INT32, 4};
    path_begin = {jobs_group, "path_begin", H5T_NATIVE_INT64, 8};
    score_raw = {paths_group, "score_raw", H5T_NATIVE_DOUBLE, 8};
    score_norm = {paths_group, "score_norm", H5T_NATIVE_DOUBLE, 8};
    node_begin = {paths_group, "node_begin", H5T_NATIVE_INT64, 8};
    position = {nodes_group, "position", H5T_NATIVE_INT32, 4};
    edge_attn = {nodes_group, "edge_attn", H5T_NATIVE_FLOAT, 4};
    const std::int64_t zero = 0;  // the CSR offsets start at 0
    std::vector<ChunkTask> none;
    add(path_begin, &zero, 1, none);
    add(node_begin, &zero, 1, none);
  }

  // Appends n values: whole chunks become tasks (pointing into `data` where they can), the rest
  // waits in the tail. Tasks that point into `data` must be stored before it goes.
  static void add(Column& c, const void* data, std::size_t n, std::vector<ChunkTask>& tasks) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t left = n;
    if (!c.tail.empty()) {
      const std::size_t take = std::min<std::size_t>(left, kChunkValues - c.tail_values());
      c.tail.insert(c.tail.end(), p, p + take * c.value_size);
      p += take * c.value_size;
      left -= take;
      if (c.tail_values() == kChunkValues) {
        tasks.push_back(ChunkTask{&c, c.chunks_queued++, nullptr, std::exchange(c.tail, {})});
      }
    }
    for (; left >= kChunkValues; left -= kChunkValues, p += kChunkValues * c.value_size)
      tasks.push_back(ChunkTask{&c, c.chunks_queued++, p, {}});
    if (left > 0) c.tail.assign(p, p + left * c.value_size);
    c.length += n;
  }

  // Encodes the tasks on the pool, then stores them in order on this thread.
  void store(std::vector<ChunkTask>& tasks) {
    pool.parallel_for(static_cast<std::int64_t>(tasks.size()), [&](std::int64_t i) {
      ChunkTask& t = tasks[i];
      t.encoded = encode_chunk(t.values(), t.column->value_size, t.valid, kChunkValues, kResultsDeflateLevel);
    });
    for (ChunkTask& t : tasks) {
      Column& c = *t.column;
      if (!c.dataset.valid()) c.dataset = h5::create_growable_vector(c.group, c.name, c.type, kChunkValues, kResultsDeflateLevel);
      if (c.extent != c.length) h5::set_length(c.dataset, c.extent = c.length);
      h5::write_filtered_chunk(c.dataset, t.index * kChunkValues, t.encoded);
    }
    tasks.clear();
  }

  void append(const TraceResults& batch) {
    h5::silence_errors();  // HDF5's error printing is set per thread: this may be a writing thread
    if (auto problem = checker.check(batch, &pool))
      throw std::logic_error(fmt::format("results to write to '{}' are inconsistent: {}", path, *problem));
    const std::size_t n = batch.num_jobs();
    std::vector<std::int32_t> s(n), l(n), h(n), t(n);
    for (std::size_t k = 0; k < n; ++k) {
      s[k] = batch.jobs[k].seq_index;
      l[k] = batch.jobs[k].layer;
      h[k] = batch.jobs[k].head;
      t[k] = batch.jobs[k].target;
    }
    std::vector<std::int64_t> pb(batch.path_begin.begin() + 1, batch.path_begin.end());
    for (std::int64_t& v : pb) v += paths;
    std::vector<std::int64_t> nb(batch.node_begin.begin() + 1, batch.node_begin.end());
    for (std::int64_t& v : nb) v += nodes;

    std::vector<ChunkTask> tasks;
    add(seq_index, s.data(), n, tasks);
    add(layer, l.data(), n, tasks);
    add(head, h.data(), n, tasks);
    add(target, t.data(), n, tasks);
    add(path_begin, pb.data(), pb.size(), tasks);
    add(score_raw, batch.score_raw.data(), batch.num_paths(), tasks);
    add(score_norm, batch.score_norm.data(), batch.num_paths(), tasks);
    add(node_begin, nb.data(), nb.size(), tasks);
    add(position, batch.node_position.data(), batch.num_nodes(), tasks);
    add(edge_attn, batch.node_edge_attn.data(), batch.num_nodes(), tasks);
    store(tasks);  // before the batch and the arrays above go
    jobs += static_cast<std::int64_t>(n);
    paths += static_cast<std::int64_t>(batch.num_paths());
    nodes += static_cast<std::int64_t>(batch.num_nodes());
  }

  void commit(const std::optional<DecayStats>& stats) {
    h5::silence_errors();
    std::vector<ChunkTask> tasks;
    for (Column* c : columns()) {
      if (!c->dataset.valid()) {  // never a whole chunk: an ordinary small dataset
        h5::write_raw_vector(c->group, c->name, c->type, c->tail.data(), c->length);
      } else if (!c->tail.empty()) {
        const hsize_t valid = c->tail_values();
        tasks.push_back(ChunkTask{c, c->chunks_queued++, nullptr, std::exchange(c->tail, {}), valid});
      }
    }
    store(tasks);
    if (stats) write_stats_group(file, *stats);
    for (Column* c : columns()) c->dataset.reset();
    jobs_group.reset();
    paths_group.reset();
    nodes_group.reset();
    if (H5Fclose(file.release()) < 0)
      throw std::runtime_error(fmt::format("cannot finish writing '{}' (disk full?)", temp));
    commit_temp_file(temp, path, force);
    untrack_temp_file(temp);
    committed = true;
  }

  void discard() {
    for (Column* c : columns()) c->dataset.reset();
    jobs_group.reset();
    paths_group.reset();
    nodes_group.reset();
    file.reset();
    if (!temp.empty()) {
      std::remove(temp.c_str());
      untrack_temp_file(temp);
    }
  }
};

ResultsWriter::ResultsWriter(const std::string& path, ResultsMetadata metadata, bool force, int threads) {
  if (!force && output_path_taken(path)) throw UsageError(fmt::format("'{}' exists; use --force to overwrite", path));
  if (auto problem = find_metadata_inconsistency(metadata))
    throw std::logic_error(fmt::format("results to write to '{}' are inconsistent: {}", path, *problem));
  impl_ = std::make_unique<Impl>(path, std::move(metadata), force, threads);
  try {
    impl_->open();
  } catch (...) {
    impl_->discard();
    throw;
  }
}

ResultsWriter::~ResultsWriter() {
  if (impl_ && !impl_->committed) impl_->discard();
}

void ResultsWriter::append(const TraceResults& batch) { impl_->append(batch); }

void ResultsWriter::commit(const std::optional<DecayStats>& stats) {
  if (impl_->committed) throw std::logic_error("ResultsWriter::commit called twice");
  impl_->commit(stats);
}

bool ResultsWriter::may_run_beside_reader() {
  hbool_t threadsafe = 0;
  return H5is_library_threadsafe(&threadsafe) >= 0 && threadsafe;
}

std::int64_t ResultsWriter::num_jobs() const { return impl_->jobs; }
std::int64_t ResultsWriter::num_paths() const { return impl_->paths; }
std::int64_t ResultsWriter::num_nodes() const { return impl_->nodes; }

}  // namespace ratrace
