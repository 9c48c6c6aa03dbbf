// The corpus reader's direct reads (io/direct_read.hpp): parallel preads of contiguous data and
// parallel decoding of shuffle/deflate chunks must return exactly the bytes of HDF5's own read
// path, and storage they cannot read must go through HDF5. Every case compares the two paths read
// for read (ReaderOptions::direct_reads on and off) and checks which path the plan chose.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>
#include <random>
#include <string>
#include <vector>

#include "io/direct_read.hpp"
#include "io/resident_mapping.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/errors.hpp"
#include "support/corpus_builder.hpp"

using namespace ratrace;
using ratrace::testing::TempDir;
using Id = ratrace::testing::builder_detail::Id;
using Dims = std::vector<hsize_t>;

namespace {

// How the attention dataset of /sequences/s0 is stored.
struct Storage {
  Dims chunk;                          // empty: contiguous
  std::vector<H5Z_filter_t> filters;   // pipeline order: shuffle, deflate, fletcher32
  hsize_t userblock = 0;               // bytes before the HDF5 data (0: none)
  std::optional<float> fill;           // fill value of chunks never written (float32 only)
  hsize_t layers_written = ~hsize_t{0};  // layers [0, this) are written; the rest stay unwritten
  bool edge_chunks_unfiltered = false;   // H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS (HDF5 1.10 format)
};

Storage chunked(const Dims& chunk, const std::vector<H5Z_filter_t>& filters) {
  Storage s;
  s.chunk = chunk;
  s.filters = filters;
  return s;
}

// Writes a one-sequence corpus whose attention has `dims`, stored as `file_type`, from `data`
// (elements of `memory_type`).
void write_corpus(const std::string& path, hid_t file_type, hid_t memory_type, const Dims& dims, const void* data,
                  const Storage& s) {
  Id fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  if (s.userblock > 0) ASSERT_GE(H5Pset_userblock(fcpl, s.userblock), 0);
  Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (s.edge_chunks_unfiltered) ASSERT_GE(H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110), 0);
  Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl), H5Fclose);
  ASSERT_TRUE(file.valid());
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl, 1);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!s.chunk.empty()) {
    ASSERT_GE(H5Pset_chunk(dcpl, 4, s.chunk.data()), 0);
    for (const H5Z_filter_t f : s.filters) {
      if (f == H5Z_FILTER_SHUFFLE) ASSERT_GE(H5Pset_shuffle(dcpl), 0);
      if (f == H5Z_FILTER_DEFLATE) ASSERT_GE(H5Pset_deflate(dcpl, 4), 0);
      if (f == H5Z_FILTER_FLETCHER32) ASSERT_GE(H5Pset_fletcher32(dcpl), 0);
    }
  }
  if (s.fill) ASSERT_GE(H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &*s.fill), 0);
  if (s.edge_chunks_unfiltered) ASSERT_GE(H5Pset_chunk_opts(dcpl, H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS), 0);
  Id space(H5Screate_simple(4, dims.data(), nullptr), H5Sclose);
  Id ds(H5Dcreate2(file, "sequences/s0/attention", file_type, space, lcpl, dcpl, H5P_DEFAULT), H5Dclose);
  ASSERT_TRUE(ds.valid());
  const hsize_t layers = std::min(dims[0], s.layers_written);
  if (layers == 0) return;
  const hsize_t start[4] = {0, 0, 0, 0}, count[4] = {layers, dims[1], dims[2], dims[3]};
  Id file_space(H5Dget_space(ds), H5Sclose);
  Id memory_space(H5Screate_simple(4, count, nullptr), H5Sclose);
  ASSERT_GE(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr), 0);
  ASSERT_GE(H5Dwrite(ds, memory_type, memory_space, file_space, H5P_DEFAULT, data), 0);
}

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng) < 0.3f ? 0.0f : u(rng);  // zeros make runs, as real attention has
  return v;
}

std::vector<std::uint16_t> random_half_bits(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint16_t> v(n);
  for (auto& x : v) x = static_cast<std::uint16_t>(rng() % 0x3c01);  // [0, 1] as float16
  return v;
}

Id half_type() { return ratrace::testing::builder_detail::half_type(); }

// read_heads_raw_rows gathered into one buffer; expects every row exactly once.
std::vector<unsigned char> gather_rows(const CorpusReader& reader, int layer, int head_begin, int head_count) {
  const SequenceInfo& info = reader.sequences()[0];
  const std::size_t S = static_cast<std::size_t>(info.seq_len), row_bytes = S * dtype_size(info.dtype);
  std::vector<unsigned char> out(static_cast<std::size_t>(head_count) * S * row_bytes, 0xCC);
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(head_count) * S);
  reader.read_heads_raw_rows(0, layer, head_begin, head_count, [&](int head, int row_begin, int row_end, const void* rows) {
    if (head < 0 || head >= head_count || row_begin < 0 || row_begin >= row_end || row_end > info.seq_len) {
      ADD_FAILURE() << "rows [" << row_begin << ", " << row_end << ") of head " << head;
      return;
    }
    std::memcpy(out.data() + (head * S + row_begin) * row_bytes, rows, (row_end - row_begin) * row_bytes);
    for (int r = row_begin; r < row_end; ++r) ++seen[head * S + r];
  });
  for (std::size_t k = 0; k < seen.size(); ++k)
    if (seen[k] != 1) {
      ADD_FAILURE() << "row " << k % S << " of head " << k / S << " handed over " << seen[k] << " times";
      break;
    }
  return out;
}

// Reads every head range that the engines use (whole layers, single heads, runs), raw and
// widened, through both paths; expects identical bytes.
void expect_same_reads(const std::string& path, int threads = 0) {
  const CorpusReader direct(path, ReaderOptions{threads, true});
  const CorpusReader plain(path, ReaderOptions{0, false});
  const SequenceInfo& info = direct.sequences()[0];
  const int H = info.num_heads;
  const std::size_t matrix = static_cast<std::size_t>(info.seq_len) * info.seq_len;
  std::vector<std::pair<int, int>> ranges = {{0, H}, {0, 1}, {H - 1, 1}};
  if (H > 2) ranges.emplace_back(1, H - 2);
  for (int layer = 0; layer < info.num_layers; ++layer)
    for (const auto& [begin, count] : ranges) {
      const std::size_t n = matrix * static_cast<std::size_t>(count);
      std::vector<float> a(n, -1.0f), b(n, -2.0f);
      direct.read_heads(0, layer, begin, count, a.data());
      plain.read_heads(0, layer, begin, count, b.data());
      EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(float)), 0)
          << "read_heads layer " << layer << " heads [" << begin << ", +" << count << ")";
      if (info.dtype == AttnDtype::float64) continue;  // read_heads_raw: the GPU's read, float64 never
      std::vector<unsigned char> ra(n * dtype_size(info.dtype), 0xAA), rb(n * dtype_size(info.dtype), 0x55);
      direct.read_heads_raw(0, layer, begin, count, ra.data());
      plain.read_heads_raw(0, layer, begin, count, rb.data());
      EXPECT_EQ(ra, rb) << "read_heads_raw layer " << layer << " heads [" << begin << ", +" << count << ")";
      EXPECT_EQ(gather_rows(direct, layer, begin, count), rb) << "read_heads_raw_rows layer " << layer;
      EXPECT_EQ(gather_rows(plain, layer, begin, count), rb) << "read_heads_raw_rows, HDF5's path, layer " << layer;
    }
}

std::string read_path(const std::string& path) { return CorpusReader(path).read_path(0); }

// Stores `stored` as the chunk at `offset` of /sequences/s0/attention as it is, with filter mask
// `skipped_filters` (bit f: filter f of the pipeline was not applied).
void overwrite_chunk(const std::string& path, const std::array<hsize_t, 4>& offset, std::uint32_t skipped_filters,
                     const std::vector<unsigned char>& stored) {
  Id file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  Id ds(H5Dopen2(file, "sequences/s0/attention", H5P_DEFAULT), H5Dclose);
  ASSERT_GE(H5Dwrite_chunk(ds, H5P_DEFAULT, skipped_filters, offset.data(), stored.size(), stored.data()), 0);
}

// DirectReader::read_rows of a block, gathered into `out` (laid out as the block; rows of
// row_bytes bytes); returns read_rows' answer.
bool gather_block_rows(corpus::DirectReader& reader, hid_t ds, const corpus::DirectReadPlan& plan,
                       const std::array<hsize_t, 4>& start, const std::array<hsize_t, 4>& count,
                       std::size_t row_bytes, const std::string& where, std::vector<unsigned char>& out) {
  return reader.read_rows(ds, plan, start, count,
                          [&](hsize_t matrix, hsize_t row_begin, hsize_t row_end, const unsigned char* rows) {
                            std::memcpy(out.data() + (matrix * count[2] + row_begin - start[2]) * row_bytes, rows,
                                        (row_end - row_begin) * row_bytes);
                          },
                          where);
}

// Reads layer `layer`, heads [head_begin, +head_count) of /sequences/s0/attention as `raw_type`
// with corpus::DirectReader itself. Expects the bytes of H5Dread when it reads, and returns
// whether it did (false: it left the block to H5Dread).
bool direct_read_matches_hdf5(const std::string& path, hid_t raw_type, hsize_t layer, hsize_t head_begin,
                              hsize_t head_count) {
  Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Id ds(H5Dopen2(file, "sequences/s0/attention", H5P_DEFAULT), H5Dclose);
  Id space(H5Dget_space(ds), H5Sclose);
  hsize_t dims[4] = {};
  H5Sget_simple_extent_dims(space, dims, nullptr);
  const std::array<hsize_t, 4> start = {layer, head_begin, 0, 0}, count = {1, head_count, dims[2], dims[3]};
  const std::size_t bytes = head_count * dims[2] * dims[3] * H5Tget_size(raw_type);
  std::vector<unsigned char> by_hdf5(bytes, 0x11), direct(bytes, 0x22);
  Id memory_space(H5Screate_simple(4, count.data(), nullptr), H5Sclose);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  EXPECT_GE(H5Dread(ds, raw_type, memory_space, space, H5P_DEFAULT, by_hdf5.data()), 0);
  corpus::DirectReader reader(path, 2);
  const corpus::DirectReadPlan plan = reader.plan(ds, raw_type);
  const bool read = reader.read(ds, plan, start, count, direct.data(), path);
  if (read) EXPECT_EQ(direct, by_hdf5) << path << " layer " << layer << " heads [" << head_begin << ", +" << head_count << ")";
  // Handed over in runs of rows: the same bytes, when it does (rows_path: whether it should).
  std::vector<unsigned char> gathered(bytes, 0x33);
  const std::size_t row_bytes = dims[3] * H5Tget_size(raw_type);
  const bool rows = gather_block_rows(reader, ds, plan, start, count, row_bytes, path, gathered);
  if (rows) EXPECT_EQ(gathered, by_hdf5) << path << " in runs of rows";
  EXPECT_EQ(rows, read && (plan.path != corpus::DirectReadPlan::Path::chunked || plan.chunk[3] == dims[3])) << path;
  return read;
}

}  // namespace

TEST(DirectRead, ContiguousFloat16AndFloat32ReadInParallelPieces) {
  TempDir dir;
  // float16 [3, 4, 37, 37]: small, read serially; float32 [1, 2, 1100, 1100]: 4.8 MB per head,
  // more than one 4 MiB piece per head, read on the pool.
  const std::string small = dir.file("f16.h5"), big = dir.file("f32.h5");
  const std::vector<std::uint16_t> bits = random_half_bits(3 * 4 * 37 * 37, 1);
  write_corpus(small, half_type(), half_type(), {3, 4, 37, 37}, bits.data(), {});
  const std::vector<float> values = random_floats(2 * 1100 * 1100, 2);
  write_corpus(big, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 2, 1100, 1100}, values.data(), {});
  EXPECT_TRUE(direct_read_matches_hdf5(small, half_type(), 2, 1, 3));
  EXPECT_TRUE(direct_read_matches_hdf5(big, H5T_NATIVE_FLOAT, 0, 0, 2));
  for (const std::string& path : {small, big}) {
    EXPECT_EQ(read_path(path).rfind("contiguous: parallel reads", 0), 0u) << read_path(path);
    expect_same_reads(path);
    expect_same_reads(path, 1);
    expect_same_reads(path, 3);
  }
  // And the values are the ones written, not merely the same wrong ones.
  std::vector<float> head(1100 * 1100);
  CorpusReader(big).read_heads(0, 0, 1, 1, head.data());
  EXPECT_EQ(std::memcmp(head.data(), values.data() + head.size(), head.size() * sizeof(float)), 0);
}

// Drops the file's pages from the page cache (written back first); false where they stay (a
// file system whose pages are its storage, such as tmpfs).
bool evict_from_page_cache(const std::string& path, std::uint64_t offset, std::size_t bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool evicted = ::fdatasync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0 &&
                       !corpus::ResidentMapping::of_cached_range(fd, offset, bytes);
  ::close(fd);
  return evicted;
}

// Rows of a contiguous block that is all in the page cache reach the consumer from a mapping of
// it; once evicted, the same rows come through preads, and with map_cached off, always: the bytes
// written, every time.
TEST(DirectRead, CachedContiguousRowsAreHandedOverFromAMappingOthersRead) {
  TempDir dir;
  const std::string path = dir.file("f16.h5");
  const hsize_t L = 2, H = 3, S = 300;
  const std::vector<std::uint16_t> bits = random_half_bits(L * H * S * S, 7);
  write_corpus(path, half_type(), half_type(), {L, H, S, S}, bits.data(), {});
  Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Id ds(H5Dopen2(file, "sequences/s0/attention", H5P_DEFAULT), H5Dclose);
  const std::array<hsize_t, 4> start = {1, 1, 0, 0}, count = {1, 2, S, S};  // layer 1, heads 1 and 2
  const std::size_t block = 2 * S * S * 2;
  const std::vector<unsigned char> written(reinterpret_cast<const unsigned char*>(bits.data() + (1 * H + 1) * S * S),
                                           reinterpret_cast<const unsigned char*>(bits.data() + (1 * H + 3) * S * S));
  const auto rows_of = [&](corpus::DirectReader& reader, const corpus::DirectReadPlan& plan) {
    std::vector<unsigned char> out(block, 0xCC);
    EXPECT_TRUE(gather_block_rows(reader, ds, plan, start, count, S * 2, path, out));
    return out;
  };

  corpus::DirectReader reader(path, 2);
  const corpus::DirectReadPlan plan = reader.plan(ds, half_type());
  ASSERT_EQ(plan.path, corpus::DirectReadPlan::Path::contiguous) << plan.description;
  EXPECT_NE(plan.description.find("rows in the page cache mapped"), std::string::npos) << plan.description;
  EXPECT_EQ(rows_of(reader, plan), written) << "mapped";  // just written: in the page cache
  EXPECT_EQ(reader.row_block_counts().mapped, 1);
  EXPECT_EQ(reader.row_block_counts().read, 0);

  corpus::DirectReader preads(path, 2, true, false);
  const corpus::DirectReadPlan plan_without = preads.plan(ds, half_type());
  EXPECT_EQ(plan_without.description.find("mapped"), std::string::npos) << plan_without.description;
  EXPECT_EQ(rows_of(preads, plan_without), written) << "map_cached off";
  EXPECT_EQ(preads.row_block_counts().mapped, 0);
  EXPECT_EQ(preads.row_block_counts().read, 1);

  if (!evict_from_page_cache(path, plan.file_offset + (1 * H + 1) * S * S * 2, block))
    GTEST_SKIP() << "the file's pages cannot be dropped from the page cache here";
  EXPECT_EQ(rows_of(reader, plan), written) << "evicted";
  EXPECT_EQ(reader.row_block_counts().mapped, 1);
  EXPECT_EQ(reader.row_block_counts().read, 1);
}

TEST(DirectRead, ResidentMappingMapsOnlyCachedRangesWithinTheFile) {
  TempDir dir;
  const std::string path = dir.file("bytes.bin");
  std::vector<unsigned char> content(3 * 4096 + 100);
  for (std::size_t k = 0; k < content.size(); ++k) content[k] = static_cast<unsigned char>(k * 7 + k / 251);
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(content.data(), 1, content.size(), f), content.size());
    std::fclose(f);
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  {
    const auto mapping = corpus::ResidentMapping::of_cached_range(fd, 5000, 7000);  // not page-aligned
    ASSERT_TRUE(mapping.has_value());
    EXPECT_EQ(std::memcmp(mapping->at(5000), content.data() + 5000, 7000), 0);
    EXPECT_EQ(*mapping->at(11999), content[11999]);
    const auto to_the_end = corpus::ResidentMapping::of_cached_range(fd, 0, content.size());
    ASSERT_TRUE(to_the_end.has_value());
    EXPECT_EQ(std::memcmp(to_the_end->at(0), content.data(), content.size()), 0);
  }
  EXPECT_FALSE(corpus::ResidentMapping::of_cached_range(fd, 0, content.size() + 1)) << "past the end of the file";
  EXPECT_FALSE(corpus::ResidentMapping::of_cached_range(fd, content.size(), 1)) << "past the end of the file";
  EXPECT_FALSE(corpus::ResidentMapping::of_cached_range(fd, 100, 0)) << "empty";
  ::close(fd);
  if (!evict_from_page_cache(path, 0, content.size())) GTEST_SKIP() << "the file's pages cannot be dropped here";
  const int again = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_FALSE(corpus::ResidentMapping::of_cached_range(again, 0, content.size())) << "evicted";
  ::close(again);
}

TEST(DirectRead, ContiguousAfterAUserblockUsesTheAbsoluteOffset) {
  TempDir dir;
  const std::string path = dir.file("userblock.h5");
  const std::vector<float> values = random_floats(2 * 3 * 20 * 20, 3);
  Storage s;
  s.userblock = 4096;
  write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 3, 20, 20}, values.data(), s);
  EXPECT_EQ(read_path(path).rfind("contiguous", 0), 0u) << read_path(path);
  EXPECT_TRUE(direct_read_matches_hdf5(path, H5T_NATIVE_FLOAT, 1, 0, 3));
  expect_same_reads(path);
  std::vector<float> all(values.size());
  const CorpusReader reader(path);
  reader.read_heads(0, 0, 0, 3, all.data());
  reader.read_heads(0, 1, 0, 3, all.data() + all.size() / 2);
  EXPECT_EQ(all, values);
}

TEST(DirectRead, ShuffleDeflateChunksDecodeInParallelIncludingEdgeChunks) {
  TempDir dir;
  // S = 37 with 16-row chunks: the last chunk row holds 5 rows of 16; chunks span 2 heads, so a
  // single-head read covers chunks in part and goes through HDF5.
  const std::string f32 = dir.file("f32.h5"), f16 = dir.file("f16.h5"), f64 = dir.file("f64.h5");
  const std::vector<float> values = random_floats(2 * 4 * 37 * 37, 4);
  const std::vector<double> wide(values.begin(), values.end());
  const std::vector<std::uint16_t> bits = random_half_bits(2 * 4 * 37 * 37, 5);
  Storage s = chunked({1, 2, 16, 37}, {H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE});
  write_corpus(f32, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 4, 37, 37}, values.data(), s);
  write_corpus(f16, half_type(), half_type(), {2, 4, 37, 37}, bits.data(), s);
  write_corpus(f64, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {2, 4, 37, 37}, wide.data(), s);
  const Id half = half_type();
  for (const auto& [path, raw_type] : {std::pair<std::string, hid_t>{f32, H5T_NATIVE_FLOAT}, {f16, half},
                                       {f64, H5T_NATIVE_DOUBLE}}) {
    EXPECT_EQ(read_path(path).rfind("chunked [1, 2, 16, 37], shuffle + deflate: parallel decoding", 0), 0u)
        << read_path(path);
    EXPECT_TRUE(direct_read_matches_hdf5(path, raw_type, 1, 0, 4));   // whole chunks: decoded here
    EXPECT_TRUE(direct_read_matches_hdf5(path, raw_type, 0, 2, 2));
    EXPECT_FALSE(direct_read_matches_hdf5(path, raw_type, 0, 1, 2));  // half of two chunks: HDF5's
    expect_same_reads(path);
    expect_same_reads(path, 1);
  }
}

TEST(DirectRead, ChunksInEveryPipelineOrderAndUnfiltered) {
  TempDir dir;
  const std::vector<float> values = random_floats(2 * 3 * 33 * 33, 6);
  struct Case {
    std::vector<H5Z_filter_t> filters;
    std::string path_prefix;
  };
  const std::vector<Case> cases = {
      {{}, "chunked [1, 1, 8, 33], unfiltered: parallel placement"},
      {{H5Z_FILTER_DEFLATE}, "chunked [1, 1, 8, 33], deflate: parallel decoding"},
      {{H5Z_FILTER_SHUFFLE}, "chunked [1, 1, 8, 33], shuffle: parallel decoding"},
      {{H5Z_FILTER_DEFLATE, H5Z_FILTER_SHUFFLE}, "chunked [1, 1, 8, 33], deflate + shuffle: parallel decoding"},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const std::string path = dir.file("case" + std::to_string(k) + ".h5");
    Storage s = chunked({1, 1, 8, 33}, cases[k].filters);
    write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 3, 33, 33}, values.data(), s);
    EXPECT_EQ(read_path(path).rfind(cases[k].path_prefix, 0), 0u) << read_path(path);
    EXPECT_TRUE(direct_read_matches_hdf5(path, H5T_NATIVE_FLOAT, 1, 1, 2));
    expect_same_reads(path);
  }
  {  // chunks across columns too, the last ones reaching past the edge (33 = 3 x 10 + 3)
    const std::string path = dir.file("columns.h5");
    Storage s = chunked({1, 1, 8, 10}, {H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE});
    write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 3, 33, 33}, values.data(), s);
    EXPECT_TRUE(direct_read_matches_hdf5(path, H5T_NATIVE_FLOAT, 0, 0, 3));
    EXPECT_TRUE(direct_read_matches_hdf5(path, H5T_NATIVE_FLOAT, 1, 2, 1));
    expect_same_reads(path);
  }
  {  // edge chunks stored unfiltered (H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS), their masks still 0
    const std::string path = dir.file("edges_unfiltered.h5");
    Storage s = chunked({1, 1, 8, 10}, {H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE});
    s.edge_chunks_unfiltered = true;
    write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 3, 33, 33}, values.data(), s);
    EXPECT_TRUE(direct_read_matches_hdf5(path, H5T_NATIVE_FLOAT, 1, 0, 3));
    expect_same_reads(path);
  }
  {  // deflate twice: only HDF5 knows what the inner stream inflates to
    const std::string path = dir.file("deflate_twice.h5");
    Storage s = chunked({1, 1, 8, 33}, {H5Z_FILTER_DEFLATE, H5Z_FILTER_DEFLATE});
    write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 3, 33, 33}, values.data(), s);
    EXPECT_EQ(read_path(path), "HDF5's read path (deflate applied twice)");
    expect_same_reads(path);
  }
}

TEST(DirectRead, LargeFloat16HeadsReadInRowBlocksOfWholeChunks) {
  TempDir dir;
  // One 2,100-token head is 4.4 M elements: read_heads takes it in blocks of rows, each a whole
  // number of 64-row chunks (the last chunk holds 52 rows).
  const std::string path = dir.file("long.h5");
  const std::vector<std::uint16_t> bits = random_half_bits(2 * 2100 * 2100, 7);
  Storage s = chunked({1, 1, 64, 2100}, {H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE});
  write_corpus(path, half_type(), half_type(), {1, 2, 2100, 2100}, bits.data(), s);
  EXPECT_TRUE(direct_read_matches_hdf5(path, half_type(), 0, 1, 1));
  expect_same_reads(path);
  // One chunk per head, more than a block's elements: read as one block of that chunk's rows.
  const std::string whole = dir.file("whole_head_chunks.h5");
  s.chunk = {1, 1, 2100, 2100};
  write_corpus(whole, half_type(), half_type(), {1, 2, 2100, 2100}, bits.data(), s);
  EXPECT_TRUE(direct_read_matches_hdf5(whole, half_type(), 0, 0, 2));
  expect_same_reads(whole);
}

TEST(DirectRead, OtherStorageGoesThroughHdf5WithTheSameValues) {
  TempDir dir;
  const std::vector<float> values = random_floats(2 * 2 * 24 * 24, 8);
  {  // another byte order; also large enough heads (1,100 rows) to be handed over in several runs
    const std::string path = dir.file("big_endian.h5"), large = dir.file("big_endian_large.h5");
    write_corpus(path, H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, {2, 2, 24, 24}, values.data(), {});
    EXPECT_EQ(read_path(path), "HDF5's read path (stored in another byte order)");
    expect_same_reads(path);
    const std::vector<float> large_values = random_floats(2 * 1100 * 1100, 11);
    write_corpus(large, H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, {1, 2, 1100, 1100}, large_values.data(), {});
    expect_same_reads(large);
  }
  {  // a filter we do not decode ourselves
    const std::string path = dir.file("fletcher.h5");
    Storage s = chunked({1, 1, 8, 24}, {H5Z_FILTER_SHUFFLE, H5Z_FILTER_FLETCHER32});
    write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 2, 24, 24}, values.data(), s);
    EXPECT_EQ(read_path(path).rfind("HDF5's read path (filter 3", 0), 0u) << read_path(path);
    expect_same_reads(path);
  }
  {  // chunks never written read as the fill value
    const std::string path = dir.file("unwritten.h5");
    Storage s = chunked({1, 1, 8, 24}, {H5Z_FILTER_DEFLATE});
    s.fill = 0.25f;
    s.layers_written = 1;
    write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 2, 24, 24}, values.data(), s);
    EXPECT_TRUE(direct_read_matches_hdf5(path, H5T_NATIVE_FLOAT, 0, 0, 2));
    EXPECT_FALSE(direct_read_matches_hdf5(path, H5T_NATIVE_FLOAT, 1, 0, 2));  // never written
    expect_same_reads(path);
    std::vector<float> layer1(2 * 24 * 24);
    CorpusReader(path).read_heads(0, 1, 0, 2, layer1.data());
    EXPECT_EQ(layer1, std::vector<float>(layer1.size(), 0.25f));
  }
  {  // contiguous, but in another file, reached through an external link
    const std::string target = dir.file("target.h5"), path = dir.file("linked.h5");
    write_corpus(target, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 2, 24, 24}, values.data(), {});
    {
      Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
      Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
      H5Pset_create_intermediate_group(lcpl, 1);
      Id group(H5Gcreate2(file, "sequences/s0", lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      ASSERT_GE(H5Lcreate_external(target.c_str(), "/sequences/s0/attention", group, "attention", H5P_DEFAULT,
                                   H5P_DEFAULT),
                0);
    }
    EXPECT_EQ(read_path(path), "HDF5's read path (stored in another file)");
    expect_same_reads(path);
    std::vector<float> all(values.size());
    const CorpusReader reader(path);
    reader.read_heads(0, 0, 0, 2, all.data());
    reader.read_heads(0, 1, 0, 2, all.data() + all.size() / 2);
    EXPECT_EQ(all, values);
  }
  // Direct reads off: said so.
  const std::string path = dir.file("big_endian.h5");
  EXPECT_EQ(CorpusReader(path, ReaderOptions{0, false}).read_path(0), "HDF5's read path (direct reads off)");
}

TEST(DirectRead, ChunkStoredWithASkippedFilterIsDecodedByItsMask) {
  // HDF5 stores a chunk without an optional filter that did not help, and says so in the chunk's
  // filter mask. Here chunk [0, 0, 8, 0] skips deflate (bit 1) but is shuffled.
  TempDir dir;
  const std::string path = dir.file("mask.h5");
  const std::vector<float> values = random_floats(1 * 1 * 16 * 16, 9);
  Storage s = chunked({1, 1, 8, 16}, {H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE});
  write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 1, 16, 16}, values.data(), s);
  const auto* rows = reinterpret_cast<const unsigned char*>(values.data() + 8 * 16);  // rows 8..15
  std::vector<unsigned char> shuffled(8 * 16 * 4);
  for (std::size_t i = 0; i < 8 * 16; ++i)
    for (std::size_t b = 0; b < 4; ++b) shuffled[b * 8 * 16 + i] = rows[i * 4 + b];
  overwrite_chunk(path, {0, 0, 8, 0}, 0b10, shuffled);
  EXPECT_TRUE(direct_read_matches_hdf5(path, H5T_NATIVE_FLOAT, 0, 0, 1));
  expect_same_reads(path);
  std::vector<float> head(16 * 16);
  CorpusReader(path).read_heads(0, 0, 0, 1, head.data());
  EXPECT_EQ(head, values);
}

TEST(DirectRead, CorruptChunkNamesTheDatasetAndTheChunk) {
  TempDir dir;
  const std::string path = dir.file("corrupt.h5");
  const std::vector<float> values = random_floats(1 * 2 * 16 * 16, 10);
  Storage s = chunked({1, 1, 8, 16}, {H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE});
  write_corpus(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 2, 16, 16}, values.data(), s);
  overwrite_chunk(path, {0, 1, 8, 0}, 0, std::vector<unsigned char>(100, 0x5a));
  const CorpusReader reader(path);
  std::vector<float> out(2 * 16 * 16);
  try {
    reader.read_heads(0, 0, 0, 2, out.data());
    ADD_FAILURE() << "a corrupt chunk was read";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path + ":/sequences/s0/attention: the chunk at [0, 1, 8, 0] does not inflate"),
              std::string::npos)
        << message;
  }
  // The head that the corrupt chunk is not part of still reads.
  reader.read_heads(0, 0, 0, 1, out.data());
  EXPECT_EQ(std::memcmp(out.data(), values.data(), 16 * 16 * sizeof(float)), 0);
}
