#pragma once
// Reads an input corpus (SPEC §4) piece by piece: one layer or one head at a time.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ratrace {

enum class AttnDtype : int { float16 = 0, bfloat16 = 1, float32 = 2, float64 = 3 };
std::string_view dtype_name(AttnDtype dtype);
std::size_t dtype_size(AttnDtype dtype);

struct SequenceInfo {
  std::string name;  // group name under /sequences
  int num_layers = 0;
  int num_heads = 0;
  int seq_len = 0;
  AttnDtype dtype = AttnDtype::float32;
  std::vector<unsigned long long> chunk_dims;  // empty when the attention dataset is contiguous
  int deflate_level = -1;                      // -1 when not deflate-compressed
  bool has_token_ids = false;
  bool has_tokens = false;
  bool has_mask = false;
};

struct ReaderOptions {
  // Threads that read and decode attention (0 = all this process may use). Contiguous data is
  // read with parallel preads, chunks filtered by shuffle and deflate are decoded in parallel;
  // other storage goes through HDF5's own, serial read path.
  int threads = 0;
  // False: every read through HDF5's own read path (for comparisons and benchmarks).
  bool direct_reads = true;
  // read_heads_raw_rows on contiguous data: rows whose pages are all in the page cache are handed
  // over straight from a mapping of them, so that a consumer reads only what it uses and nothing is
  // copied first; others are read with preads. False: always preads (for comparisons and benchmarks).
  bool map_cached_rows = true;
};

// Opens the file and checks its structure (groups, ranks, square matrices, equal lengths, dtypes)
// without reading attention values. Every error is an InputError naming file, dataset and shape.
// Reads are serialised: one thread reads at a time (each read may use ReaderOptions::threads).
class CorpusReader {
 public:
  explicit CorpusReader(const std::string& path, ReaderOptions options = {});
  ~CorpusReader();
  CorpusReader(CorpusReader&&) noexcept;
  CorpusReader& operator=(CorpusReader&&) noexcept;

  const std::string& path() const;
  // Sequences ordered by name, plain byte-wise order.
  const std::vector<SequenceInfo>& sequences() const;
  std::optional<std::int64_t> bos_token_id() const;
  std::optional<std::string> model() const;

  // Heads [head_begin, head_begin + head_count) of one layer, widened to float32 (SPEC §2),
  // row-major [head_count][S][S]. Values are not checked here (see validate.hpp).
  void read_heads(int seq, int layer, int head_begin, int head_count, float* out) const;
  // The same elements as stored (dtype_size bytes each, native byte order); the GPU widens them.
  void read_heads_raw(int seq, int layer, int head_begin, int head_count, void* out) const;
  // The elements of read_heads_raw, handed to `consume` in runs of whole rows of one head instead
  // of into one buffer, so that a caller can transform them while they are still in cache (the GPU
  // engine packs their causal halves): consume(head, row_begin, row_end, rows), head counted from
  // head_begin, `rows` pointing at row row_begin (S elements per row). Every row comes exactly
  // once; calls may run on several threads at once (ReaderOptions::threads); `rows` is valid during
  // the call only. The reader stays locked meanwhile: `consume` must not call it. Where rows cannot
  // be handed over as they are read, the heads are read whole into a buffer that the reader keeps
  // for the next call: callers bound head_count.
  using RowConsumer = std::function<void(int head, int row_begin, int row_end, const void* rows)>;
  void read_heads_raw_rows(int seq, int layer, int head_begin, int head_count, const RowConsumer& consume) const;

  std::vector<std::int64_t> read_token_ids(int seq) const;  // empty when absent
  std::vector<std::string> read_tokens(int seq) const;      // empty when absent
  std::vector<std::uint8_t> read_mask(int seq) const;       // empty when absent (all valid)

  // How the attention of sequence `seq` is read, e.g. "chunked [1, 1, 64, 1024], shuffle +
  // deflate: parallel decoding (16 threads)" or "HDF5's read path (filter 32001 (blosc))".
  std::string read_path(int seq) const;

  // "FILE:/sequences/NAME/attention", for messages.
  std::string dataset_label(int seq, std::string_view dataset) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ratrace
