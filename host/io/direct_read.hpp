#pragma once
// Reads blocks of an attention dataset around HDF5's read path, which copies and decodes on one
// thread, wherever the storage allows it:
// - contiguous data: parallel preads at the dataset's file offset;
// - chunks filtered by shuffle and/or deflate only (h5py's compression="gzip", shuffle=True):
//   raw chunks fetched with H5Dread_chunk, then inflated (libdeflate), unshuffled and placed on a
//   pool.
// A block goes into one buffer (read) or, run of rows by run of rows, to a callback (read_rows);
// contiguous rows that are all in the page cache reach the callback straight from a mapping of
// them (resident_mapping.hpp), others through preads.
// Anything else goes through H5Dread, which returns the same bytes: compact or external storage,
// contiguous data in another file (an external link), other filters, another byte order, chunks
// that a block covers only in part (HDF5's chunk cache then spares decoding them again and again)
// and chunks never written (fill values).
#include <hdf5.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "util/parallel_for.hpp"

namespace ratrace::corpus {

// How blocks of one attention dataset are read.
struct DirectReadPlan {
  enum class Path { hdf5, contiguous, chunked };
  Path path = Path::hdf5;
  std::string description;  // the path and, for hdf5, why: shown by `ratrace inspect`
  std::size_t elem_size = 0;
  std::array<hsize_t, 4> dims{};
  std::uint64_t file_offset = 0;      // contiguous: where element 0 is
  std::array<hsize_t, 4> chunk{};     // chunked: chunk shape
  std::vector<H5Z_filter_t> filters;  // chunked: the pipeline, in the order it was applied
  bool edge_chunks_unfiltered = false;  // chunked: H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS
};

class DirectReader {
 public:
  // Receives rows [row_begin, row_end) (rows of the dataset's matrices, not counted from the
  // block's first row) of matrix `matrix` of a block (matrices counted from the block's first, in
  // layer-major order), `rows` pointing at row row_begin: S stored elements per row, valid during
  // the call only. Calls may come from several threads at once.
  using RowConsumer =
      std::function<void(hsize_t matrix, hsize_t row_begin, hsize_t row_end, const unsigned char* rows)>;

  // Opens `path` (the corpus) for preads; `threads` <= 0: available_cpus(). Not `enabled`: every
  // plan is HDF5's read path (for comparisons), and only the pool is used, to hand blocks over.
  // Not `map_cached`: read_rows always preads contiguous rows, cached or not (for comparisons).
  DirectReader(const std::string& path, int threads, bool enabled = true, bool map_cached = true);
  ~DirectReader();
  DirectReader(const DirectReader&) = delete;
  DirectReader& operator=(const DirectReader&) = delete;

  // The plan for `dataset`, whose elements are read as `raw_memory_type` (the stored bits in
  // native byte order). A contiguous dataset's offset is checked against H5Dread on one row.
  DirectReadPlan plan(hid_t dataset, hid_t raw_memory_type) const;

  // Reads [start, start + count) of `dataset`, every column (start[3] = 0, count[3] = S), into
  // `out` laid out as count, C order. False, having read nothing, when the block must go through
  // H5Dread (see the top); throws InputError naming `where` on a failed read or a corrupt chunk.
  bool read(hid_t dataset, const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
            const std::array<hsize_t, 4>& count, void* out, const std::string& where);

  // The same block handed to `consume` in runs of rows as they are read or decoded, on the pool,
  // never gathered in one buffer. False, having handed nothing over, where read() would be false
  // or where chunks split rows (a row is whole only once several chunks are decoded).
  bool read_rows(hid_t dataset, const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                 const std::array<hsize_t, 4>& count, const RowConsumer& consume, const std::string& where);

  // Hands a block already read (`block`, laid out as count, elements of elem_size bytes) to
  // `consume` in runs of rows, on the pool.
  void hand_over(const unsigned char* block, std::size_t elem_size, const std::array<hsize_t, 4>& start,
                 const std::array<hsize_t, 4>& count, const RowConsumer& consume);

  // Contiguous blocks that read_rows has handed over from a mapping of the page cache, and by preads.
  struct RowBlockCounts {
    std::int64_t mapped = 0;
    std::int64_t read = 0;
  };
  RowBlockCounts row_block_counts() const { return {blocks_mapped_, blocks_read_}; }

 private:
  // Where a read goes: into `out` (laid out as the block), or to `consume` when it is set.
  struct Destination {
    unsigned char* out = nullptr;
    const RowConsumer* consume = nullptr;
  };
  bool read_block(hid_t dataset, const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                  const std::array<hsize_t, 4>& count, Destination to, const std::string& where);
  void read_contiguous(const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                       const std::array<hsize_t, 4>& count, unsigned char* out, const std::string& where);
  void read_contiguous_rows(const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                            const std::array<hsize_t, 4>& count, const RowConsumer& consume, const std::string& where);
  bool read_chunked(hid_t dataset, const DirectReadPlan& plan, const std::array<hsize_t, 4>& start,
                    const std::array<hsize_t, 4>& count, Destination to, const std::string& where);
  // Runs task(0..tasks-1) on the pool, or on the calling thread when `bytes` (what the tasks move)
  // is too few to be worth waking the pool.
  void run_tasks(std::int64_t tasks, std::size_t bytes, const std::function<void(std::int64_t)>& task);
  std::string thread_count_text() const;  // "1 thread", "16 threads"
  // Whether `dataset` lives in the file open for preads, not behind an external link.
  bool stored_in_this_file(hid_t dataset) const;
  void pread_fully(void* out, std::size_t bytes, std::uint64_t offset, const std::string& where) const;

  std::string path_;
  int fd_ = -1;
  int threads_ = 0;
  bool enabled_ = true;
  bool map_cached_ = true;
  std::int64_t blocks_mapped_ = 0, blocks_read_ = 0;  // reads are serialised by the caller
  std::unique_ptr<ThreadPool> pool_;  // made on first use: a reader that only checks structure starts no threads
};

}  // namespace ratrace::corpus
