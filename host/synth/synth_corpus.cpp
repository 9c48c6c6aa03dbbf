// Writes a synthetic corpus in the layout of SPEC §4, one head at a time (bounded memory).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <string_view>

#include "io/hdf5_util.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/synth.hpp"
#include "synth/narrow_float.hpp"
#include "synth/splitmix.hpp"

namespace ratrace {
namespace {

constexpr int kNumPatterns = 5;
constexpr int kDefaultChunkRows = 64;  // when deflate is asked for without a chunk size
constexpr std::int64_t kPadTokenId = 0;
constexpr std::int64_t kFirstWordId = 100;  // word k of the vocabulary has id 100 + k

constexpr std::array<std::string_view, 48> kVocabulary = {
    "The",   "quick", "brown", "fox",   "jumps", "over",  "the",   "lazy",  "dog",   ".",     "A",     "cat",
    "sat",   "on",    "mat",   ",",     "and",   "then",  "it",    "ran",   "away",  "from",  "a",     "small",
    "red",   "house", "near",  "river", "where", "birds", "sing",  "every", "day",   "in",    "spring", "when",
    "trees", "grow",  "tall",  "green", "under", "bright", "blue", "sky",   "of",    "early", "summer", "!"};

void check_options(const SynthOptions& o) {
  auto positive = [](int v, const char* what) {
    if (v < 1) throw UsageError(fmt::format("{} must be at least 1, got {}", what, v));
  };
  positive(o.num_sequences, "--sequences");
  positive(o.num_layers, "--layers");
  positive(o.num_heads, "--heads");
  positive(o.min_len, "--min-len");
  if (o.max_len < o.min_len)
    throw UsageError(fmt::format("--max-len {} is below --min-len {}", o.max_len, o.min_len));
  if (o.chunk_rows < 0) throw UsageError(fmt::format("--chunk-rows must be >= 0, got {}", o.chunk_rows));
  if (o.deflate < 0 || o.deflate > 9) throw UsageError(fmt::format("--deflate must be 0..9, got {}", o.deflate));
  if (o.tie_levels < 0) throw UsageError(fmt::format("--ties must be >= 0, got {}", o.tie_levels));
}

// IEEE binary16, little endian: the type h5py writes for numpy float16 (HDF5 1.10 predefines none).
h5::Handle half_float_type() {
  h5::Handle type = h5::type_handle(H5Tcopy(H5T_IEEE_F32LE));
  if (H5Tset_fields(type, 15, 10, 5, 0, 10) < 0 || H5Tset_size(type, 2) < 0 || H5Tset_precision(type, 16) < 0 ||
      H5Tset_ebias(type, 15) < 0)
    throw std::runtime_error("cannot build the float16 HDF5 type");
  return type;
}

h5::Handle attention_file_type(AttnDtype dtype) {
  switch (dtype) {
    case AttnDtype::float16: return half_float_type();
    case AttnDtype::bfloat16: return h5::type_handle(H5Tcopy(H5T_STD_U16LE));
    case AttnDtype::float32: return h5::type_handle(H5Tcopy(H5T_IEEE_F32LE));
    case AttnDtype::float64: return h5::type_handle(H5Tcopy(H5T_IEEE_F64LE));
  }
  throw std::logic_error("unknown dtype");
}

// Writes one [S][S] float32 matrix as head (layer, head) of `dataset`, in the stored dtype.
void write_head(hid_t dataset, hid_t file_type, AttnDtype dtype, int layer, int head, const std::vector<float>& m,
                hsize_t seq_len) {
  h5::Handle file_space = h5::space_handle(H5Dget_space(dataset));
  const hsize_t start[4] = {static_cast<hsize_t>(layer), static_cast<hsize_t>(head), 0, 0};
  const hsize_t count[4] = {1, 1, seq_len, seq_len};
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  h5::Handle memory_space = h5::space_handle(H5Screate_simple(4, count, nullptr));  // same shape: fast path
  herr_t status = -1;
  switch (dtype) {
    case AttnDtype::float16:
    case AttnDtype::bfloat16: {
      std::vector<std::uint16_t> bits(m.size());
      for (std::size_t k = 0; k < m.size(); ++k)
        bits[k] = dtype == AttnDtype::float16 ? synth::float_to_half_bits(m[k]) : synth::float_to_bfloat16_bits(m[k]);
      // float16: memory type = file type (little endian, like this machine): the bits go as they are.
      const hid_t memory_type = dtype == AttnDtype::float16 ? file_type : H5T_NATIVE_UINT16;
      status = H5Dwrite(dataset, memory_type, memory_space, file_space, H5P_DEFAULT, bits.data());
      break;
    }
    case AttnDtype::float32:
      status = H5Dwrite(dataset, H5T_NATIVE_FLOAT, memory_space, file_space, H5P_DEFAULT, m.data());
      break;
    case AttnDtype::float64: {
      const std::vector<double> wide(m.begin(), m.end());
      status = H5Dwrite(dataset, H5T_NATIVE_DOUBLE, memory_space, file_space, H5P_DEFAULT, wide.data());
      break;
    }
  }
  if (status < 0) throw std::runtime_error(fmt::format("cannot write attention layer {} head {}", layer, head));
}

struct SequencePlan {
  std::string name;
  int length = 0;
  int padding = 0;  // left-padding positions, masked out
};

// The matrix of a padded sequence: the head pattern over the real positions [pad, S), padding
// keys get no attention, and padding queries attend only to themselves.
std::vector<float> padded_head(const std::vector<float>& inner, int length, int padding) {
  const std::size_t n = static_cast<std::size_t>(length);
  const std::size_t m = static_cast<std::size_t>(length - padding);
  std::vector<float> out(n * n, 0.0f);
  for (int i = 0; i < padding; ++i) out[static_cast<std::size_t>(i) * n + i] = 1.0f;
  for (std::size_t i = 0; i < m; ++i)
    std::copy_n(inner.begin() + static_cast<std::ptrdiff_t>(i * m), m, out.begin() + static_cast<std::ptrdiff_t>((i + padding) * n + padding));
  return out;
}

void write_tokens(hid_t group, const SequencePlan& seq, const SynthOptions& o, synth::SplitMix64& rng) {
  std::vector<std::int64_t> ids;
  std::vector<std::string> words;
  for (int i = 0; i < seq.length; ++i) {
    if (i < seq.padding) {
      ids.push_back(kPadTokenId);
      words.emplace_back("<pad>");
    } else if (i == seq.padding && o.bos_token_id) {
      ids.push_back(*o.bos_token_id);
      words.emplace_back("<s>");
    } else {
      const std::size_t k = static_cast<std::size_t>(rng.between(0, kVocabulary.size() - 1));
      ids.push_back(kFirstWordId + static_cast<std::int64_t>(k));
      words.emplace_back(kVocabulary[k]);
    }
  }
  h5::write_vector(group, "token_ids", ids);
  h5::write_strings(group, "tokens", words);
}

void write_sequence(hid_t sequences, const SequencePlan& seq, const SynthOptions& o, synth::SplitMix64& rng) {
  h5::Handle group = h5::create_group(sequences, seq.name);
  const hsize_t n = static_cast<hsize_t>(seq.length);
  const hsize_t shape[4] = {static_cast<hsize_t>(o.num_layers), static_cast<hsize_t>(o.num_heads), n, n};
  h5::Handle space = h5::space_handle(H5Screate_simple(4, shape, nullptr));
  h5::Handle dcpl = h5::plist_handle(H5Pcreate(H5P_DATASET_CREATE));
  const int chunk_rows = o.chunk_rows > 0 ? o.chunk_rows : (o.deflate > 0 ? kDefaultChunkRows : 0);
  if (chunk_rows > 0) {
    const hsize_t chunk[4] = {1, 1, std::min<hsize_t>(static_cast<hsize_t>(chunk_rows), n), n};
    H5Pset_chunk(dcpl, 4, chunk);
    if (o.deflate > 0) H5Pset_deflate(dcpl, static_cast<unsigned>(o.deflate));
  }
  h5::Handle file_type = attention_file_type(o.dtype);
  h5::Handle attention =
      h5::dataset_handle(H5Dcreate2(group, "attention", file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (!attention.valid()) throw std::runtime_error(fmt::format("cannot create /sequences/{}/attention", seq.name));
  if (o.dtype == AttnDtype::bfloat16) h5::write_attr_string(attention, "dtype", "bfloat16");

  for (int layer = 0; layer < o.num_layers; ++layer) {
    for (int head = 0; head < o.num_heads; ++head) {
      const auto pattern = static_cast<HeadPattern>((head + layer) % kNumPatterns);
      const std::uint64_t head_seed =
          synth::mix_seed(o.seed, static_cast<std::uint64_t>(rng.next()), static_cast<std::uint64_t>(layer),
                          static_cast<std::uint64_t>(head));
      std::vector<float> matrix = synth_head_matrix(pattern, seq.length - seq.padding, head_seed, o.tie_levels);
      if (seq.padding > 0) matrix = padded_head(matrix, seq.length, seq.padding);
      write_head(attention, file_type, o.dtype, layer, head, matrix, n);
    }
  }
  if (o.with_tokens) write_tokens(group, seq, o, rng);
  if (o.with_mask) {
    std::vector<std::int8_t> mask(static_cast<std::size_t>(seq.length), 1);
    std::fill_n(mask.begin(), seq.padding, std::int8_t{0});
    h5::write_vector(group, "attention_mask", mask);
  }
}

void write_corpus_file(const std::string& path, const SynthOptions& o) {
  h5::Handle file = h5::file_handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!file.valid()) throw InputError(fmt::format("cannot create '{}'", path));
  if (o.bos_token_id) h5::write_attr_int64(file, "bos_token_id", *o.bos_token_id);
  h5::write_attr_string(file, "model", "ratrace-synth");
  h5::Handle sequences = h5::create_group(file, "sequences");

  synth::SplitMix64 rng(o.seed);
  // Zero-padded names sort in creation order (SPEC §4 orders sequences by name).
  const int digits = std::max<int>(3, static_cast<int>(fmt::format("{}", o.num_sequences - 1).size()));
  for (int s = 0; s < o.num_sequences; ++s) {
    SequencePlan seq;
    seq.name = fmt::format("seq_{:0{}}", s, digits);
    seq.length = static_cast<int>(rng.between(o.min_len, o.max_len));
    if (o.with_mask && s % 2 == 1 && seq.length >= 2) seq.padding = static_cast<int>(rng.between(1, std::min(3, seq.length - 1)));
    write_sequence(sequences, seq, o, rng);
  }
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) throw std::runtime_error(fmt::format("cannot flush '{}'", path));
}

}  // namespace

void write_synthetic_corpus(const std::string& path, const SynthOptions& options) {
  check_options(options);
  h5::silence_errors();
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir))
    throw InputError(fmt::format("cannot write '{}': no such directory '{}'", path, dir.string()));
  // Written under a temporary name, renamed when complete: never a partial file under `path`.
  const std::string partial = fmt::format("{}.partial-{}", path, static_cast<long>(getpid()));
  try {
    write_corpus_file(partial, options);
    std::filesystem::rename(partial, path);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(partial, ec);
    throw;
  }
}

}  // namespace ratrace
