#pragma once
// Synthetic corpora (`ratrace synth`): realistic head patterns for tests, benchmarks and the demo.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ratrace/corpus_reader.hpp"

namespace ratrace {

// The head patterns a synthetic layer cycles through.
enum class HeadPattern : int { sink = 0, previous_token = 1, local_window = 2, induction = 3, diffuse = 4 };

struct SynthOptions {
  int num_sequences = 2;
  int num_layers = 2;
  int num_heads = 4;
  int min_len = 32;  // sequence lengths are drawn uniformly from [min_len, max_len]
  int max_len = 64;
  AttnDtype dtype = AttnDtype::float32;
  int chunk_rows = 0;   // 0: contiguous; else chunks of [1, 1, chunk_rows, S]
  int deflate = 0;      // 0: none; 1..9: deflate level (needs chunk_rows > 0, or picks a chunk)
  bool with_mask = false;    // mask some left-padding positions out
  bool with_tokens = true;   // token_ids and tokens datasets
  std::optional<std::int64_t> bos_token_id = 1;  // root attribute; the first token of each sequence is BOS
  int tie_levels = 0;   // > 0: quantise weights to multiples of 1/tie_levels, so exact ties occur
  std::uint64_t seed = 1;
};

// Writes a whole corpus; throws InputError / std::runtime_error naming the file on failure.
void write_synthetic_corpus(const std::string& path, const SynthOptions& options);

// One synthetic head matrix, dense row-major [S][S] float32, rows summing to 1 over j <= i and
// zeros above the diagonal. Deterministic in (pattern, seq_len, seed).
std::vector<float> synth_head_matrix(HeadPattern pattern, int seq_len, std::uint64_t seed, int tie_levels = 0);

}  // namespace ratrace
