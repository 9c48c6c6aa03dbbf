#include "io/corpus_scan.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ratrace::corpus {
namespace {

constexpr std::size_t kMaxScanElements = std::size_t{1} << 25;  // 128 MiB of floats per read
constexpr double kRowSumTolerance = 0.01;                         // SPEC §4

void scan_matrix(const float* m, int seq_len, int layer, int head, SequenceValueScan& scan) {
  const std::size_t n = static_cast<std::size_t>(seq_len);
  for (int i = 0; i < seq_len; ++i) {
    const float* row = m + static_cast<std::size_t>(i) * n;
    double sum = 0.0;
    bool finite = true;
    for (int j = 0; j <= i; ++j) {
      const float v = row[j];
      if (std::isnan(v)) {
        scan.nan.add({layer, head, i, j, v});
        finite = false;
      } else if (std::isinf(v)) {
        scan.inf.add({layer, head, i, j, v});
        finite = false;
      } else if (v < 0.0f) {
        scan.negative.add({layer, head, i, j, v});
      }
      sum += v;
    }
    ++scan.rows_checked;
    if (finite && std::fabs(sum - 1.0) > kRowSumTolerance) scan.rows_off.add({layer, head, i, -1, sum});
  }
}

}  // namespace

SequenceValueScan scan_sequence_values(const CorpusReader& reader, int seq) {
  const SequenceInfo& info = reader.sequences().at(static_cast<std::size_t>(seq));
  const std::size_t per_head = static_cast<std::size_t>(info.seq_len) * static_cast<std::size_t>(info.seq_len);
  const int heads_per_read =
      static_cast<int>(std::clamp<std::size_t>(kMaxScanElements / per_head, 1, static_cast<std::size_t>(info.num_heads)));
  std::vector<float> buffer(per_head * static_cast<std::size_t>(heads_per_read));
  SequenceValueScan scan;
  for (int layer = 0; layer < info.num_layers; ++layer) {
    for (int head = 0; head < info.num_heads; head += heads_per_read) {
      const int count = std::min(heads_per_read, info.num_heads - head);
      reader.read_heads(seq, layer, head, count, buffer.data());
      for (int h = 0; h < count; ++h) scan_matrix(buffer.data() + h * per_head, info.seq_len, layer, head + h, scan);
    }
  }
  return scan;
}

}  // namespace ratrace::corpus
