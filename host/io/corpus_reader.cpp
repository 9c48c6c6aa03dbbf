// The input corpus (SPEC §4): structure checked up front, attention read head by head.
//
// Choices where the SPEC is silent:
// - A sequence whose attention has 0 layers, 0 heads or length 0 is an InputError: there is
//   nothing to trace in it, and an empty dataset in a corpus is almost always a writer's bug.
// - Every child of /sequences must be a group; a stray dataset there is an InputError too.
// - bos_token_id must be an integer attribute (scalar or one element); `model` is only shown to
//   people, so a non-string `model` is ignored rather than refused.
// - Mask values are checked when the mask is read (read_mask), not when the file is opened, so
//   opening a corpus of many sequences stays cheap.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "io/corpus_types.hpp"
#include "io/direct_read.hpp"
#include "io/hdf5_util.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/detail/float_convert.hpp"
#include "ratrace/errors.hpp"

namespace ratrace {
namespace {

// Raw attention elements are read in blocks of about this many elements (bounded temp memory), or
// of one chunk's rows when those are more, up to kMaxBlockBytes. Blocks up to kKeptBlockBytes are
// kept for the next read.
constexpr hsize_t kBlockElements = hsize_t{1} << 22;
constexpr std::size_t kMaxBlockBytes = std::size_t{256} << 20;
constexpr std::size_t kKeptBlockBytes = std::size_t{64} << 20;
// Per-dataset chunk cache: large enough for a block's worth of typical chunks.
constexpr std::size_t kChunkCacheBytes = std::size_t{32} << 20;
constexpr std::size_t kChunkCacheSlots = 10007;

h5::Handle open_object(hid_t loc, const std::string& name) {
  return {H5Oopen(loc, name.c_str(), H5P_DEFAULT), H5Oclose};
}

H5I_type_t object_kind(const h5::Handle& obj) { return obj.valid() ? H5Iget_type(obj) : H5I_BADID; }

std::vector<std::string> child_names(hid_t group) {
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t index = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect, &names) < 0)
    throw std::runtime_error("cannot list a group");
  std::sort(names.begin(), names.end());  // plain byte-wise order (SPEC §4)
  return names;
}

void check_file_opens(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw InputError(fmt::format("cannot open '{}': no such file", path));
  if (std::filesystem::is_directory(status)) throw InputError(fmt::format("cannot open '{}': it is a directory", path));
  if (access(path.c_str(), R_OK) != 0)
    throw InputError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  if (H5Fis_hdf5(path.c_str()) <= 0) throw InputError(fmt::format("'{}' is not an HDF5 file", path));
}

std::optional<std::int64_t> read_bos_attr(hid_t file, const std::string& path) {
  const char* name = "bos_token_id";
  if (H5Aexists(file, name) <= 0) return std::nullopt;
  h5::Handle attr = h5::attr_handle(H5Aopen(file, name, H5P_DEFAULT));
  h5::Handle type = h5::type_handle(H5Aget_type(attr));
  h5::Handle space = h5::space_handle(H5Aget_space(attr));
  const hssize_t count = H5Sget_simple_extent_npoints(space);
  if (H5Tget_class(type) != H5T_INTEGER)
    throw InputError(fmt::format("{}: root attribute {} has dtype {}: expected an integer", path, name,
                                 corpus::describe_type(type)));
  if (count != 1)
    throw InputError(fmt::format("{}: root attribute {} has {} elements: expected one integer", path, name, count));
  std::int64_t value = 0;
  if (H5Aread(attr, H5T_NATIVE_INT64, &value) < 0)
    throw InputError(fmt::format("{}: cannot read root attribute {}", path, name));
  return value;
}

}  // namespace

struct CorpusReader::Impl {
  std::string path;
  h5::Handle file;
  std::vector<SequenceInfo> infos;
  std::vector<corpus::StoredAttention> stored;  // parallel to infos
  std::optional<std::int64_t> bos;
  std::optional<std::string> model;

  // The attention dataset of the last sequence read, kept open for its chunk cache.
  mutable std::mutex mutex;
  mutable int open_seq = -1;
  mutable h5::Handle open_attention;
  // Reads around HDF5's serial read path (every plan HDF5's with direct_reads off), and each
  // sequence's plan, made when its attention is first opened.
  std::unique_ptr<corpus::DirectReader> direct;
  mutable std::vector<std::optional<corpus::DirectReadPlan>> direct_plans;
  // Stored bits read whole: read_heads' before widening (kept up to kKeptBlockBytes), and
  // read_heads_raw_rows' before handing them over. Kept, so that each read does not fault in fresh
  // pages.
  mutable std::vector<unsigned char> raw_block;

  std::string label(int seq, std::string_view dataset) const {
    return fmt::format("{}:/sequences/{}/{}", path, infos[seq].name, dataset);
  }

  void load_sequence(hid_t sequences, const std::string& name);
  void check_vector(hid_t group, const std::string& seq_name, const char* dataset, int seq_len,
                    bool (*type_ok)(hid_t), const char* expected_type, bool& present) const;
  hid_t attention(int seq) const;
  const corpus::DirectReadPlan& direct_plan(int seq) const;
  h5::Handle open_dataset(int seq, const char* dataset) const;
  void check_read(int seq, int layer, int head_begin, int head_count) const;
  void read_block(int seq, int layer, int head_begin, int head_count, hsize_t row_begin, hsize_t rows,
                  hid_t memory_type, void* out) const;
};

namespace {

bool integer_type(hid_t t) { return H5Tget_class(t) == H5T_INTEGER; }
bool string_type(hid_t t) { return H5Tget_class(t) == H5T_STRING; }
bool mask_type(hid_t t) {
  if (H5Tget_class(t) == H5T_INTEGER) return true;
  if (H5Tget_class(t) != H5T_ENUM) return false;
  h5::Handle base = h5::type_handle(H5Tget_super(t));
  return H5Tget_class(base) == H5T_INTEGER;
}

}  // namespace

// A 1-D per-position dataset (token_ids, tokens, attention_mask): optional, but when present
// its type must fit and its length must equal the sequence length.
void CorpusReader::Impl::check_vector(hid_t group, const std::string& seq_name, const char* dataset, int seq_len,
                                      bool (*type_ok)(hid_t), const char* expected_type, bool& present) const {
  present = false;
  if (H5Lexists(group, dataset, H5P_DEFAULT) <= 0) return;
  const std::string where = fmt::format("{}:/sequences/{}/{}", path, seq_name, dataset);
  h5::Handle obj = open_object(group, dataset);
  if (object_kind(obj) != H5I_DATASET) throw InputError(fmt::format("{} is not a dataset", where));
  h5::Handle type = h5::type_handle(H5Dget_type(obj));
  if (!type_ok(type))
    throw InputError(fmt::format("{} has dtype {}: expected {}", where, corpus::describe_type(type), expected_type));
  const std::vector<hsize_t> dims = h5::dims(obj);
  if (dims.size() != 1 || dims[0] != static_cast<hsize_t>(seq_len))
    throw InputError(fmt::format("{} has shape {}: expected [{}], the length of the attention matrices", where,
                                 corpus::format_shape(dims), seq_len));
  present = true;
}

void CorpusReader::Impl::load_sequence(hid_t sequences, const std::string& name) {
  const std::string group_label = fmt::format("{}:/sequences/{}", path, name);
  h5::Handle group = open_object(sequences, name);
  if (object_kind(group) != H5I_GROUP)
    throw InputError(fmt::format("{} is not a group: each sequence must be a group holding an attention dataset",
                                 group_label));
  const std::string where = group_label + "/attention";
  if (H5Lexists(group, "attention", H5P_DEFAULT) <= 0) throw InputError(fmt::format("{} is missing", where));
  h5::Handle attention = open_object(group, "attention");
  if (object_kind(attention) != H5I_DATASET) throw InputError(fmt::format("{} is not a dataset", where));

  const std::vector<hsize_t> dims = h5::dims(attention);
  const std::string shape = corpus::format_shape(dims);
  if (dims.size() != 4)
    throw InputError(fmt::format("{} has shape {}: expected 4 dimensions [layers, heads, seq, seq]", where, shape));
  if (dims[2] != dims[3]) throw InputError(fmt::format("{} has shape {}: matrices must be square", where, shape));
  if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0)
    throw InputError(fmt::format("{} has shape {}: needs at least one layer, one head and one position", where, shape));
  for (hsize_t d : dims)
    if (d > static_cast<hsize_t>(INT_MAX)) throw InputError(fmt::format("{} has shape {}: too large", where, shape));

  std::string why;
  std::optional<corpus::StoredAttention> type = corpus::classify_attention_type(attention, why);
  if (!type) throw InputError(fmt::format("{} {}", where, why));

  SequenceInfo info;
  info.name = name;
  info.num_layers = static_cast<int>(dims[0]);
  info.num_heads = static_cast<int>(dims[1]);
  info.seq_len = static_cast<int>(dims[2]);
  info.dtype = type->dtype;

  h5::Handle dcpl = h5::plist_handle(H5Dget_create_plist(attention));
  if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(4);
    H5Pget_chunk(dcpl, 4, chunk.data());
    info.chunk_dims.assign(chunk.begin(), chunk.end());
  }
  for (const h5::Filter& filter : h5::filters(dcpl)) {
    if (filter.id == H5Z_FILTER_DEFLATE) info.deflate_level = filter.values.empty() ? -1 : static_cast<int>(filter.values[0]);
    if (filter.id >= 0 && H5Zfilter_avail(filter.id) <= 0)
      throw InputError(fmt::format("{} is compressed with filter {} ({}), which this HDF5 library cannot decode; "
                                   "point HDF5_PLUGIN_PATH at the filter's HDF5 plugin, or rewrite the data with "
                                   "compression=\"gzip\"",
                                   where, static_cast<int>(filter.id), filter.name.empty() ? "unnamed" : filter.name));
  }


  check_vector(group, name, "token_ids", info.seq_len, integer_type, "integers", info.has_token_ids);
  check_vector(group, name, "tokens", info.seq_len, string_type, "strings", info.has_tokens);
  check_vector(group, name, "attention_mask", info.seq_len, mask_type, "0/1 integers or bool", info.has_mask);

  infos.push_back(std::move(info));
  stored.push_back(std::move(*type));
}

hid_t CorpusReader::Impl::attention(int seq) const {
  if (open_seq != seq) {
    open_attention.reset();
    open_seq = -1;
    h5::Handle dapl = h5::plist_handle(H5Pcreate(H5P_DATASET_ACCESS));
    H5Pset_chunk_cache(dapl, kChunkCacheSlots, kChunkCacheBytes, 1.0);
    const std::string name = fmt::format("/sequences/{}/attention", infos[seq].name);
    open_attention = h5::dataset_handle(H5Dopen2(file, name.c_str(), dapl));
    if (!open_attention.valid()) throw InputError(fmt::format("cannot open {}", label(seq, "attention")));
    open_seq = seq;
  }
  return open_attention;
}

const corpus::DirectReadPlan& CorpusReader::Impl::direct_plan(int seq) const {
  std::optional<corpus::DirectReadPlan>& plan = direct_plans[seq];
  if (!plan) plan = direct->plan(attention(seq), stored[seq].raw_memory_type);
  return *plan;
}

h5::Handle CorpusReader::Impl::open_dataset(int seq, const char* dataset) const {
  const std::string name = fmt::format("/sequences/{}/{}", infos[seq].name, dataset);
  h5::Handle ds = h5::dataset_handle(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  if (!ds.valid()) throw InputError(fmt::format("cannot open {}", label(seq, dataset)));
  return ds;
}

void CorpusReader::Impl::check_read(int seq, int layer, int head_begin, int head_count) const {
  if (seq < 0 || seq >= static_cast<int>(infos.size()))
    throw std::out_of_range(fmt::format("{}: sequence index {} out of range [0, {})", path, seq, infos.size()));
  const SequenceInfo& info = infos[seq];
  if (layer < 0 || layer >= info.num_layers || head_begin < 0 || head_count < 0 ||
      head_begin + head_count > info.num_heads)
    throw std::out_of_range(fmt::format("{}: layer {} heads [{}, {}) outside {} layers x {} heads",
                                        label(seq, "attention"), layer, head_begin, head_begin + head_count,
                                        info.num_layers, info.num_heads));
}

// Reads [layer, head_begin : +head_count, row_begin : +rows, :] into `out`, converted to
// `memory_type`, laid out [head_count][rows][S].
void CorpusReader::Impl::read_block(int seq, int layer, int head_begin, int head_count, hsize_t row_begin,
                                    hsize_t rows, hid_t memory_type, void* out) const {
  const hsize_t seq_len = static_cast<hsize_t>(infos[seq].seq_len);
  const hid_t ds = attention(seq);
  h5::Handle file_space = h5::space_handle(H5Dget_space(ds));
  const std::array<hsize_t, 4> start = {static_cast<hsize_t>(layer), static_cast<hsize_t>(head_begin), row_begin, 0};
  const std::array<hsize_t, 4> count = {1, static_cast<hsize_t>(head_count), rows, seq_len};
  if (H5Tequal(memory_type, stored[seq].raw_memory_type) > 0 &&
      direct->read(ds, direct_plan(seq), start, count, out, label(seq, "attention")))
    return;
  // The memory space has the selection's own 4-D shape: with a 1-D one HDF5 1.10 maps chunked
  // selections element by element, some 50x slower.
  h5::Handle memory_space = h5::space_handle(H5Screate_simple(4, count.data(), nullptr));
  if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0 ||
      H5Dread(ds, memory_type, memory_space, file_space, H5P_DEFAULT, out) < 0)
    throw InputError(fmt::format("cannot read {} layer {} heads [{}, {}) rows [{}, {})", label(seq, "attention"),
                                 layer, head_begin, head_begin + head_count, row_begin, row_begin + rows));
}

CorpusReader::CorpusReader(const std::string& path, ReaderOptions options) : impl_(std::make_unique<Impl>()) {
  h5::silence_errors();
  impl_->path = path;
  check_file_opens(path);
  impl_->file = h5::file_handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!impl_->file.valid()) throw InputError(fmt::format("cannot open '{}' as an HDF5 file", path));

  impl_->bos = read_bos_attr(impl_->file, path);
  impl_->model = h5::read_attr_string(impl_->file, "model");

  if (H5Lexists(impl_->file, "sequences", H5P_DEFAULT) <= 0)
    throw InputError(fmt::format("{}:/sequences is missing: not a ratrace corpus", path));
  h5::Handle sequences = open_object(impl_->file, "sequences");
  if (object_kind(sequences) != H5I_GROUP) throw InputError(fmt::format("{}:/sequences is not a group", path));
  const std::vector<std::string> names = child_names(sequences);
  if (names.empty()) throw InputError(fmt::format("{}:/sequences is empty: no sequences to read", path));
  for (const std::string& name : names) impl_->load_sequence(sequences, name);
  impl_->direct_plans.resize(impl_->infos.size());
  impl_->direct = std::make_unique<corpus::DirectReader>(path, options.threads, options.direct_reads,
                                                         options.map_cached_rows);
}

CorpusReader::~CorpusReader() = default;
CorpusReader::CorpusReader(CorpusReader&&) noexcept = default;
CorpusReader& CorpusReader::operator=(CorpusReader&&) noexcept = default;

const std::string& CorpusReader::path() const { return impl_->path; }
const std::vector<SequenceInfo>& CorpusReader::sequences() const { return impl_->infos; }
std::optional<std::int64_t> CorpusReader::bos_token_id() const { return impl_->bos; }
std::optional<std::string> CorpusReader::model() const { return impl_->model; }

void CorpusReader::read_heads(int seq, int layer, int head_begin, int head_count, float* out) const {
  std::lock_guard lock(impl_->mutex);
  impl_->check_read(seq, layer, head_begin, head_count);
  if (head_count == 0) return;
  const SequenceInfo& info = impl_->infos[seq];
  const corpus::StoredAttention& stored = impl_->stored[seq];
  const hsize_t seq_len = static_cast<hsize_t>(info.seq_len);

  if (info.dtype == AttnDtype::float32) {  // HDF5 reads it straight into place
    impl_->read_block(seq, layer, head_begin, head_count, 0, seq_len, H5T_NATIVE_FLOAT, out);
    return;
  }
  // Other types: read raw rows in blocks (all requested heads at once, so chunks spanning heads
  // are decoded once) and widen or narrow each element ourselves (SPEC §2).
  const hsize_t row_elements = static_cast<hsize_t>(head_count) * seq_len;
  const std::size_t element_size = dtype_size(info.dtype);
  hsize_t rows_per_block = std::max<hsize_t>(1, kBlockElements / row_elements);
  if (!info.chunk_dims.empty()) {  // whole chunks per block, so that each is decoded once
    const hsize_t chunk_rows = info.chunk_dims[2];
    if (rows_per_block >= chunk_rows) rows_per_block -= rows_per_block % chunk_rows;
    else if (chunk_rows * row_elements * element_size <= kMaxBlockBytes) rows_per_block = chunk_rows;
  }
  rows_per_block = std::min(rows_per_block, seq_len);
  const std::size_t block_bytes = rows_per_block * row_elements * element_size;
  std::vector<unsigned char> own_block;
  std::vector<unsigned char>& block = block_bytes <= kKeptBlockBytes ? impl_->raw_block : own_block;
  if (block.size() < block_bytes) block.resize(block_bytes);

  for (hsize_t row_begin = 0; row_begin < seq_len; row_begin += rows_per_block) {
    const hsize_t rows = std::min(rows_per_block, seq_len - row_begin);
    impl_->read_block(seq, layer, head_begin, head_count, row_begin, rows, stored.raw_memory_type, block.data());
    for (int h = 0; h < head_count; ++h) {
      const std::size_t n = rows * seq_len;
      const unsigned char* src = block.data() + static_cast<std::size_t>(h) * n * element_size;
      float* dst = out + (static_cast<std::size_t>(h) * seq_len + row_begin) * seq_len;
      // One loop per type, so that each vectorises.
      switch (info.dtype) {
        case AttnDtype::float16:
          for (std::size_t k = 0; k < n; ++k) {
            std::uint16_t bits;
            std::memcpy(&bits, src + k * 2, 2);
            dst[k] = detail::half_bits_to_float(bits);
          }
          break;
        case AttnDtype::bfloat16:
          for (std::size_t k = 0; k < n; ++k) {
            std::uint16_t bits;
            std::memcpy(&bits, src + k * 2, 2);
            dst[k] = detail::bfloat16_bits_to_float(bits);
          }
          break;
        case AttnDtype::float64:
          for (std::size_t k = 0; k < n; ++k) {
            double value;
            std::memcpy(&value, src + k * 8, 8);
            dst[k] = static_cast<float>(value);  // round to nearest (SPEC §2)
          }
          break;
        case AttnDtype::float32: break;  // handled above
      }
    }
  }
}

void CorpusReader::read_heads_raw(int seq, int layer, int head_begin, int head_count, void* out) const {
  std::lock_guard lock(impl_->mutex);
  impl_->check_read(seq, layer, head_begin, head_count);
  if (head_count == 0) return;
  impl_->read_block(seq, layer, head_begin, head_count, 0, static_cast<hsize_t>(impl_->infos[seq].seq_len),
                    impl_->stored[seq].raw_memory_type, out);
}

void CorpusReader::read_heads_raw_rows(int seq, int layer, int head_begin, int head_count,
                                       const RowConsumer& consume) const {
  std::lock_guard lock(impl_->mutex);
  impl_->check_read(seq, layer, head_begin, head_count);
  if (head_count == 0) return;
  const hsize_t S = static_cast<hsize_t>(impl_->infos[seq].seq_len);
  const std::array<hsize_t, 4> start = {static_cast<hsize_t>(layer), static_cast<hsize_t>(head_begin), 0, 0};
  const std::array<hsize_t, 4> count = {1, static_cast<hsize_t>(head_count), S, S};
  const corpus::DirectReader::RowConsumer forward = [&](hsize_t head, hsize_t row_begin, hsize_t row_end,
                                                        const unsigned char* rows) {
    consume(static_cast<int>(head), static_cast<int>(row_begin), static_cast<int>(row_end), rows);
  };
  if (impl_->direct->read_rows(impl_->attention(seq), impl_->direct_plan(seq), start, count, forward,
                                                impl_->label(seq, "attention")))
    return;
  // Otherwise the heads are read whole (HDF5's read path, or direct reads into one buffer where
  // chunks split rows), then handed over. The buffer is kept whatever its size, as a caller's
  // staging buffer would be: it bounds head_count.
  const std::size_t bytes = static_cast<std::size_t>(head_count) * S * S * dtype_size(impl_->infos[seq].dtype);
  std::vector<unsigned char>& block = impl_->raw_block;
  if (block.size() < bytes) block.resize(bytes);
  impl_->read_block(seq, layer, head_begin, head_count, 0, S, impl_->stored[seq].raw_memory_type, block.data());
  impl_->direct->hand_over(block.data(), dtype_size(impl_->infos[seq].dtype), start, count, forward);
}

std::string CorpusReader::read_path(int seq) const {
  std::lock_guard lock(impl_->mutex);
  impl_->check_read(seq, 0, 0, 0);
  return impl_->direct_plan(seq).description;
}

std::vector<std::int64_t> CorpusReader::read_token_ids(int seq) const {
  std::lock_guard lock(impl_->mutex);
  impl_->check_read(seq, 0, 0, 0);
  if (!impl_->infos[seq].has_token_ids) return {};
  h5::Handle ds = impl_->open_dataset(seq, "token_ids");
  std::vector<std::int64_t> ids(static_cast<std::size_t>(impl_->infos[seq].seq_len));
  if (H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids.data()) < 0)
    throw InputError(fmt::format("cannot read {}", impl_->label(seq, "token_ids")));
  return ids;
}

std::vector<std::string> CorpusReader::read_tokens(int seq) const {
  std::lock_guard lock(impl_->mutex);
  impl_->check_read(seq, 0, 0, 0);
  if (!impl_->infos[seq].has_tokens) return {};
  const std::string name = fmt::format("/sequences/{}/tokens", impl_->infos[seq].name);
  try {
    return h5::read_strings(impl_->file, name);
  } catch (const std::runtime_error& e) {
    throw InputError(fmt::format("cannot read {}: {}", impl_->label(seq, "tokens"), e.what()));
  }
}

std::vector<std::uint8_t> CorpusReader::read_mask(int seq) const {
  std::lock_guard lock(impl_->mutex);
  impl_->check_read(seq, 0, 0, 0);
  if (!impl_->infos[seq].has_mask) return {};
  const std::string where = impl_->label(seq, "attention_mask");
  h5::Handle ds = impl_->open_dataset(seq, "attention_mask");
  h5::Handle file_type = h5::type_handle(H5Dget_type(ds));
  const std::size_t n = static_cast<std::size_t>(impl_->infos[seq].seq_len);
  std::vector<std::int64_t> values(n);
  if (H5Tget_class(file_type) == H5T_ENUM) {
    // HDF5 does not convert enums to integers: read the enum's own integers and widen them.
    h5::Handle memory_type = h5::type_handle(H5Tget_native_type(file_type, H5T_DIR_ASCEND));
    h5::Handle base = h5::type_handle(H5Tget_super(memory_type));
    const std::size_t size = H5Tget_size(memory_type);
    const bool is_signed = H5Tget_sign(base) != H5T_SGN_NONE;
    std::vector<unsigned char> raw(n * size);
    if (H5Dread(ds, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0)
      throw InputError(fmt::format("cannot read {}", where));
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned char* p = raw.data() + i * size;
      std::int64_t v = 0;
      switch (size) {
        case 1: { std::int8_t s; std::uint8_t u; std::memcpy(&s, p, 1); std::memcpy(&u, p, 1); v = is_signed ? s : u; break; }
        case 2: { std::int16_t s; std::uint16_t u; std::memcpy(&s, p, 2); std::memcpy(&u, p, 2); v = is_signed ? s : u; break; }
        case 4: { std::int32_t s; std::uint32_t u; std::memcpy(&s, p, 4); std::memcpy(&u, p, 4); v = is_signed ? s : std::int64_t{u}; break; }
        default: std::memcpy(&v, p, std::min<std::size_t>(size, 8)); break;
      }
      values[i] = v;
    }
  } else if (H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
    throw InputError(fmt::format("cannot read {}", where));
  }
  std::vector<std::uint8_t> mask(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (values[i] != 0 && values[i] != 1)
      throw InputError(fmt::format("{}[{}] is {}: a mask holds only 0 and 1", where, i, values[i]));
    mask[i] = static_cast<std::uint8_t>(values[i]);
  }
  return mask;
}

std::string CorpusReader::dataset_label(int seq, std::string_view dataset) const {
  if (seq < 0 || seq >= static_cast<int>(impl_->infos.size()))
    return fmt::format("{}:/sequences/#{}/{}", impl_->path, seq, dataset);
  return impl_->label(seq, dataset);
}

}  // namespace ratrace
