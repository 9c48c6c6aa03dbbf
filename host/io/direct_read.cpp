#include "io/direct_read.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "io/chunk_codec.hpp"
#include "io/hdf5_util.hpp"
#include "io/resident_mapping.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::corpus {
namespace {

static_assert(std::endian::native == std::endian::little, "raw reads assume a little-endian host");

// Contiguous reads are split into pieces of this size for the pool.
constexpr std::size_t kPieceBytes = std::size_t{4} << 20;
// Below this, a read is not worth handing to other threads.
constexpr std::size_t kSerialBytes = std::size_t{1} << 20;
// Stored (compressed) chunk bytes fetched before a round of decoding: bounds the raw buffers.
constexpr std::size_t kChunkBatchBytes = std::size_t{64} << 20;
// Each thread keeps its decode buffers for chunks up to this size; larger chunks get buffers of
// their own, freed after use, so that a pool does not hold chunk-sized buffers per thread.
constexpr std::size_t kKeptScratchBytes = std::size_t{16} << 20;

// Runs of this many bytes of rows are handed over at a time: small enough that a consumer finds
// them still in cache.
constexpr std::size_t kRowRunBytes = std::size_t{256} << 10;

// A block's matrices cut into runs of whole rows: task t is rows [first, last) (counted from the
// block's first row) of matrix `matrix`.
struct RowRuns {
  hsize_t rows_per_run, runs_per_matrix, tasks;
  RowRuns(const std::array<hsize_t, 4>& count, hsize_t row_bytes)
      : rows_per_run(std::max<hsize_t>(1, kRowRunBytes / std::max<hsize_t>(1, row_bytes))),
        runs_per_matrix((count[2] + rows_per_run - 1) / rows_per_run),
        tasks(count[0] * count[1] * runs_per_matrix),
        rows_(count[2]) {}
  struct Run {
    hsize_t matrix, first, last;
  };
  Run operator()(std::int64_t task) const {
    const auto t = static_cast<hsize_t>(task);
    const hsize_t first = (t % runs_per_matrix) * rows_per_run;
    return Run{t / runs_per_matrix, first, std::min(rows_, first + rows_per_run)};
  }

 private:
  hsize_t rows_;
};

std::string format_coords(const std::array<hsize_t, 4>& c) {
  return fmt::format("[{}, {}, {}, {}]", c[0], c[1], c[2], c[3]);
}

DirectReadPlan hdf5_path(DirectReadPlan plan, const std::string& why) {
  plan.path = DirectReadPlan::Path::hdf5;
  plan.description = fmt::format("HDF5's read path ({})", why);
  return plan;
}

// A thread's two decode buffers: each filter undone reads one and writes the other.
struct DecodeScratch {
  std::vector<unsigned char> buffer[2];
  int next = 0;
  unsigned char* take(std::size_t bytes) {
    std::vector<unsigned char>& b = buffer[next];
    next ^= 1;
    if (b.size() < bytes) b.resize(bytes);
    return b.data();
  }
};

}  // namespace

DirectReader::DirectReader(const std::string& path, int threads, bool enabled, bool map_cached)
    : path_(path), threads_(threads > 0 ? threads : available_cpus()), enabled_(enabled), map_cached_(map_cached) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
}

DirectReader::~DirectReader() {
  if (fd_ >= 0) ::close(fd_);
}

void DirectReader::run_tasks(std::int64_t tasks, std::size_t bytes, const std::function<void(std::int64_t)>& task) {
  if (bytes < kSerialBytes) {  // not worth waking the pool
    for (std::int64_t t = 0; t < tasks; ++t) task(t);
    return;
  }
  if (!pool_) pool_ = std::make_unique<ThreadPool>(threads_);
  pool_->parallel_for(tasks, task);
}

std::string DirectReader::thread_count_text() const {
  return fmt::format("{} thread{}", threads_, threads_ == 1 ? "" : "s");
}

bool DirectReader::stored_in_this_file(hid_t dataset) const {
  h5::Handle file = h5::file_handle(H5Iget_file_id(dataset));
  if (!file.valid()) return false;
  h5::Handle fapl = h5::plist_handle(H5Fget_access_plist(file));
  void* handle = nullptr;
  struct stat theirs {}, ours {};
  return fapl.valid() && H5Pget_driver(fapl) == H5FD_SEC2 && H5Fget_vfd_handle(file, fapl, &handle) >= 0 &&
         handle != nullptr && ::fstat(*static_cast<int*>(handle), &theirs) == 0 && ::fstat(fd_, &ours) == 0 &&
         theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
}

DirectReadPlan DirectReader::plan(hid_t dataset, hid_t raw_memory_type) const {
  DirectReadPlan plan;
  plan.elem_size = H5Tget_size(raw_memory_type);
  const std::vector<hsize_t> dims = h5::dims(dataset);
  if (dims.size() != 4) return hdf5_path(plan, "not 4-D");
  std::copy(dims.begin(), dims.end(), plan.dims.begin());
  if (!enabled_) return hdf5_path(plan, "direct reads off");
  h5::Handle file_type = h5::type_handle(H5Dget_type(dataset));
  if (H5Tequal(file_type, raw_memory_type) <= 0) return hdf5_path(plan, "stored in another byte order");

  h5::Handle dcpl = h5::plist_handle(H5Dget_create_plist(dataset));
  const hsize_t total_bytes = dims[0] * dims[1] * dims[2] * dims[3] * plan.elem_size;
  switch (H5Pget_layout(dcpl)) {
    case H5D_CONTIGUOUS: {
      if (H5Pget_external_count(dcpl) > 0) return hdf5_path(plan, "external storage");
      if (!stored_in_this_file(dataset)) return hdf5_path(plan, "stored in another file");
      const haddr_t offset = H5Dget_offset(dataset);
      if (offset == HADDR_UNDEF || H5Dget_storage_size(dataset) != total_bytes)
        return hdf5_path(plan, "storage not allocated");
      plan.file_offset = offset;
      // Trust the offset only once one row read both ways agrees: the last row of the first
      // matrix, which a causal matrix fills.
      const hsize_t S = dims[3];
      const std::size_t row_bytes = S * plan.elem_size;
      std::vector<unsigned char> by_hdf5(row_bytes), by_pread(row_bytes);
      const hsize_t start[4] = {0, 0, S - 1, 0}, count[4] = {1, 1, 1, S};
      h5::Handle file_space = h5::space_handle(H5Dget_space(dataset));
      h5::Handle memory_space = h5::space_handle(H5Screate_simple(4, count, nullptr));
      const std::uint64_t row_offset = offset + (S - 1) * row_bytes;
      if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
          H5Dread(dataset, raw_memory_type, memory_space, file_space, H5P_DEFAULT, by_hdf5.data()) < 0 ||
          ::pread(fd_, by_pread.data(), row_bytes, static_cast<off_t>(row_offset)) != static_cast<ssize_t>(row_bytes) ||
          by_hdf5 != by_pread)
        return hdf5_path(plan, "file offset not confirmed");
      plan.path = DirectReadPlan::Path::contiguous;
      plan.description = fmt::format("contiguous: parallel reads ({}){}", thread_count_text(),
                                     map_cached_ ? ", rows in the page cache mapped" : "");
      return plan;
    }
    case H5D_CHUNKED: {
      H5Pget_chunk(dcpl, 4, plan.chunk.data());
      unsigned chunk_options = 0;
      H5Pget_chunk_opts(dcpl, &chunk_options);
      plan.edge_chunks_unfiltered = (chunk_options & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) != 0;
      std::vector<std::string> names;
      for (const h5::Filter& filter : h5::filters(dcpl)) {
        if (filter.id == H5Z_FILTER_SHUFFLE && !filter.values.empty() && filter.values[0] != plan.elem_size)
          return hdf5_path(plan, fmt::format("shuffle of {}-byte elements", filter.values[0]));
        if (filter.id != H5Z_FILTER_SHUFFLE && filter.id != H5Z_FILTER_DEFLATE)
          return hdf5_path(plan, fmt::format("filter {} ({})", static_cast<int>(filter.id),
                                             filter.name.empty() ? "unnamed" : filter.name));
        // Only the one deflate is known to inflate to a whole chunk.
        if (filter.id == H5Z_FILTER_DEFLATE && std::count(plan.filters.begin(), plan.filters.end(), H5Z_FILTER_DEFLATE) > 0)
          return hdf5_path(plan, "deflate applied twice");
        plan.filters.push_back(filter.id);
        names.emplace_back(filter.id == H5Z_FILTER_SHUFFLE ? "shuffle" : "deflate");
      }
      plan.path = DirectReadPlan::Path::chunked;
      plan.description = fmt::format("chunked {}, {}: parallel {} ({})", format_coords(plan.chunk),
                                     names.empty() ? "unfiltered" : fmt::format("{}", fmt::join(names, " + ")),
                                     names.empty() ? "placement" : "decoding", thread_count_text());
      return plan;
    }
    case H5D_COMPACT: return hdf5_path(plan, "compact layout");
    default: return hdf5_path(plan, "virtual or unknown layout");
  }
}

bool DirectReader::read(hid_t dataset, const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                        const std::array<hsize_t, 4>& count, void* out, const std::string& where) {
  return read_block(dataset, plan, start, count, Destination{static_cast<unsigned char*>(out), nullptr}, where);
}

bool DirectReader::read_rows(hid_t dataset, const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                             const std::array<hsize_t, 4>& count, const RowConsumer& consume, const std::string& where) {
  return read_block(dataset, plan, start, count, Destination{nullptr, &consume}, where);
}

bool DirectReader::read_block(hid_t dataset, const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                              const std::array<hsize_t, 4>& count, Destination to, const std::string& where) {
  if (start[3] != 0 || count[3] != plan.dims[3]) return false;  // whole rows only
  switch (plan.path) {
    case DirectReadPlan::Path::contiguous:
      if (to.consume) read_contiguous_rows(plan, start, count, *to.consume, where);
      else read_contiguous(plan, start, count, to.out, where);
      return true;
    case DirectReadPlan::Path::chunked: return read_chunked(dataset, plan, start, count, to, where);
    case DirectReadPlan::Path::hdf5: return false;
  }
  return false;
}

void DirectReader::read_contiguous_rows(const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                                        const std::array<hsize_t, 4>& count, const RowConsumer& consume,
                                        const std::string& where) {
  const auto& d = plan.dims;
  const hsize_t row_bytes = d[3] * plan.elem_size;
  const auto file_offset_of = [&](hsize_t layer, hsize_t head, hsize_t row) {
    return plan.file_offset + ((layer * d[1] + head) * d[2] + row) * row_bytes;
  };
  // The rows of the block lie within these bytes of the file (between its matrices, other heads'
  // rows when it takes some heads of several layers).
  const std::uint64_t first = file_offset_of(start[0], start[1], start[2]);
  const std::uint64_t last = file_offset_of(start[0] + count[0] - 1, start[1] + count[1] - 1, start[2] + count[2]);
  const std::optional<ResidentMapping> cached =
      map_cached_ ? ResidentMapping::of_cached_range(fd_, first, static_cast<std::size_t>(last - first)) : std::nullopt;
  ++(cached ? blocks_mapped_ : blocks_read_);
  const RowRuns runs(count, row_bytes);
  run_tasks(static_cast<std::int64_t>(runs.tasks), count[0] * count[1] * count[2] * row_bytes, [&](std::int64_t task) {
    const RowRuns::Run run = runs(task);
    const hsize_t layer = start[0] + run.matrix / count[1], head = start[1] + run.matrix % count[1];
    const hsize_t row_begin = start[2] + run.first, bytes = (run.last - run.first) * row_bytes;
    const std::uint64_t offset = file_offset_of(layer, head, row_begin);
    if (cached) {
      consume(run.matrix, row_begin, start[2] + run.last, cached->at(offset));
      return;
    }
    thread_local std::vector<unsigned char> buffer;
    buffer.resize(std::max<std::size_t>(buffer.size(), bytes));
    pread_fully(buffer.data(), bytes, offset, where);
    consume(run.matrix, row_begin, start[2] + run.last, buffer.data());
  });
}

void DirectReader::hand_over(const unsigned char* block, std::size_t elem_size, const std::array<hsize_t, 4>& start,
                             const std::array<hsize_t, 4>& count, const RowConsumer& consume) {
  const hsize_t row_bytes = count[3] * elem_size;
  const RowRuns runs(count, row_bytes);
  run_tasks(static_cast<std::int64_t>(runs.tasks), count[0] * count[1] * count[2] * row_bytes, [&](std::int64_t task) {
    const RowRuns::Run run = runs(task);
    consume(run.matrix, start[2] + run.first, start[2] + run.last,
            block + (run.matrix * count[2] + run.first) * row_bytes);
  });
}

void DirectReader::pread_fully(void* out, std::size_t bytes, std::uint64_t offset, const std::string& where) const {
  auto* p = static_cast<unsigned char*>(out);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw InputError(fmt::format("cannot read {} at byte {} of '{}': {}", where, offset, path_,
                                   got == 0 ? "the file ends there (truncated?)" : std::strerror(errno)));
    p += got;
    offset += static_cast<std::uint64_t>(got);
    bytes -= static_cast<std::size_t>(got);
  }
}

void DirectReader::read_contiguous(const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                                   const std::array<hsize_t, 4>& count, unsigned char* out, const std::string& where) {
  // One run of whole rows per (layer, head), merged when they follow each other in the file.
  struct Run {
    std::uint64_t offset;
    std::size_t bytes;
    unsigned char* out;
  };
  const auto& d = plan.dims;
  const std::size_t run_bytes = count[2] * d[3] * plan.elem_size;
  std::vector<Run> runs;
  for (hsize_t l = 0; l < count[0]; ++l)
    for (hsize_t h = 0; h < count[1]; ++h) {
      const hsize_t first = (((start[0] + l) * d[1] + start[1] + h) * d[2] + start[2]) * d[3];
      const std::uint64_t offset = plan.file_offset + first * plan.elem_size;
      unsigned char* dst = out + (l * count[1] + h) * run_bytes;
      if (!runs.empty() && runs.back().offset + runs.back().bytes == offset) runs.back().bytes += run_bytes;
      else runs.push_back(Run{offset, run_bytes, dst});
    }
  std::vector<Run> pieces;
  std::size_t total = 0;
  for (const Run& r : runs) {
    total += r.bytes;
    for (std::size_t done = 0; done < r.bytes; done += kPieceBytes)
      pieces.push_back(Run{r.offset + done, std::min(kPieceBytes, r.bytes - done), r.out + done});
  }
  run_tasks(static_cast<std::int64_t>(pieces.size()), total, [&](std::int64_t i) {
    const Run& p = pieces[static_cast<std::size_t>(i)];
    pread_fully(p.out, p.bytes, p.offset, where);
  });
}

bool DirectReader::read_chunked(hid_t dataset, const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                                const std::array<hsize_t, 4>& count, Destination to, const std::string& where) {
  const auto& d = plan.dims;
  const auto& c = plan.chunk;
  if (to.consume && c[3] != d[3]) return false;  // rows are handed over whole, from one chunk each
  // Only chunks that lie wholly in the block (up to the dataset's edge): a chunk read in parts is
  // left to HDF5, whose chunk cache decodes it once for all of them.
  std::array<hsize_t, 4> first{}, last{};
  for (int k = 0; k < 4; ++k) {
    const hsize_t end = start[k] + count[k];
    if (count[k] == 0 || start[k] % c[k] != 0 || (end != d[k] && end % c[k] != 0)) return false;
    first[k] = start[k] / c[k];
    last[k] = (end - 1) / c[k];
  }
  struct Chunk {
    std::array<hsize_t, 4> offset;
    hsize_t stored_bytes = 0;
    std::uint32_t skipped_filters = 0;
    std::vector<unsigned char> stored;
  };
  std::vector<Chunk> chunks;
  for (hsize_t i0 = first[0]; i0 <= last[0]; ++i0)
    for (hsize_t i1 = first[1]; i1 <= last[1]; ++i1)
      for (hsize_t i2 = first[2]; i2 <= last[2]; ++i2)
        for (hsize_t i3 = first[3]; i3 <= last[3]; ++i3) {
          Chunk chunk{{i0 * c[0], i1 * c[1], i2 * c[2], i3 * c[3]}, 0, 0, {}};
          // A chunk never written reads as the fill value: HDF5's business.
          if (H5Dget_chunk_storage_size(dataset, chunk.offset.data(), &chunk.stored_bytes) < 0 || chunk.stored_bytes == 0)
            return false;
          chunks.push_back(std::move(chunk));
        }

  const std::size_t chunk_elems = c[0] * c[1] * c[2] * c[3];
  const std::size_t chunk_bytes = chunk_elems * plan.elem_size;
  const std::size_t es = plan.elem_size;
  const auto decode_and_place = [&](Chunk& chunk) {
    const unsigned char* data = chunk.stored.data();
    std::size_t size = chunk.stored.size();
    thread_local DecodeScratch kept_scratch;
    DecodeScratch own_scratch;
    DecodeScratch& scratch = chunk_bytes <= kKeptScratchBytes ? kept_scratch : own_scratch;
    // An edge chunk (one that reaches past the dataset) may be stored unfiltered, mask or not.
    bool filtered = true;
    if (plan.edge_chunks_unfiltered)
      for (int k = 0; k < 4; ++k) filtered = filtered && chunk.offset[k] + c[k] <= d[k];
    for (std::size_t f = plan.filters.size(); filtered && f-- > 0;) {  // undone in reverse order
      if ((chunk.skipped_filters >> f) & 1U) continue;                   // this chunk was stored without it
      unsigned char* decoded = scratch.take(std::max(size, chunk_bytes));
      if (plan.filters[f] == H5Z_FILTER_DEFLATE) {
        if (!inflate_exact(data, size, decoded, chunk_bytes))
          throw InputError(fmt::format("{}: the chunk at {} does not inflate to {} bytes: the file is corrupt", where,
                                       format_coords(chunk.offset), chunk_bytes));
        size = chunk_bytes;
      } else {  // shuffled whole elements, then any leftover bytes as they were (after deflate, say)
        const std::size_t whole = size / es;
        unshuffle(data, es, whole, decoded);
        std::memcpy(decoded + whole * es, data + whole * es, size - whole * es);
      }
      data = decoded;
    }
    if (size != chunk_bytes)
      throw InputError(fmt::format("{}: the chunk at {} holds {} bytes, not {}: the file is corrupt", where,
                                   format_coords(chunk.offset), size, chunk_bytes));
    // Its part inside the dataset (edge chunks are stored whole): handed over as runs of rows, or
    // placed row by row into the block.
    std::array<hsize_t, 4> extent{};
    for (int k = 0; k < 4; ++k) extent[k] = std::min(c[k], d[k] - chunk.offset[k]);
    if (to.consume) {
      for (hsize_t a = 0; a < extent[0]; ++a)
        for (hsize_t b = 0; b < extent[1]; ++b)
          (*to.consume)((chunk.offset[0] + a - start[0]) * count[1] + chunk.offset[1] + b - start[1], chunk.offset[2],
                        chunk.offset[2] + extent[2], data + (a * c[1] + b) * c[2] * c[3] * es);
      chunk.stored = {};
      return;
    }
    unsigned char* out = to.out;
    const std::size_t row_bytes = extent[3] * es;
    for (hsize_t a = 0; a < extent[0]; ++a)
      for (hsize_t b = 0; b < extent[1]; ++b)
        for (hsize_t r = 0; r < extent[2]; ++r) {
          const std::size_t from = ((a * c[1] + b) * c[2] + r) * c[3];
          const std::size_t at =
              (((chunk.offset[0] + a - start[0]) * count[1] + chunk.offset[1] + b - start[1]) * count[2] +
               chunk.offset[2] + r - start[2]) * count[3] + chunk.offset[3];
          std::memcpy(out + at * es, data + from * es, row_bytes);
        }
    chunk.stored = {};
  };

  // Stored chunks are fetched on this thread (HDF5 is not thread-safe), a batch at a time, and
  // decoded on the pool.
  for (std::size_t begin = 0; begin < chunks.size();) {
    std::size_t end = begin, batch_bytes = 0;
    while (end < chunks.size() && (end == begin || batch_bytes + chunks[end].stored_bytes <= kChunkBatchBytes))
      batch_bytes += chunks[end++].stored_bytes;
    for (std::size_t i = begin; i < end; ++i) {
      Chunk& chunk = chunks[i];
      chunk.stored.resize(chunk.stored_bytes);
      if (H5Dread_chunk(dataset, H5P_DEFAULT, chunk.offset.data(), &chunk.skipped_filters, chunk.stored.data()) < 0)
        throw InputError(fmt::format("cannot read the chunk at {} of {}", format_coords(chunk.offset), where));
    }
    run_tasks(static_cast<std::int64_t>(end - begin), (end - begin) * chunk_bytes,
              [&](std::int64_t i) { decode_and_place(chunks[begin + static_cast<std::size_t>(i)]); });
    begin = end;
  }
  return true;
}

}  // namespace ratrace::corpus
