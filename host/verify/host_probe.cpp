#include "verify/host_probe.hpp"

#include <vector>

#include "reference/aggregate.hpp"
#include "verify/near_tie_probe.hpp"

namespace ratrace {

bool HostNearTieProbe::operator()(const JobKey& key) {
  for (const SequencePlan& seq : plan_.sequences) {
    if (seq.seq_index != key.seq_index) continue;
    const CandidateTable& table = table_of(seq, key.layer, key.head);
    return search_has_near_tie(table.ref(), key.target, seq.is_bos.empty() ? nullptr : seq.is_bos.data(), params_);
  }
  return false;
}

bool HostNearTieProbe::is_candidate(const JobKey& key, std::int32_t from, std::int32_t to, float attn) {
  for (const SequencePlan& seq : plan_.sequences) {
    if (seq.seq_index != key.seq_index) continue;
    const CandidateTable& table = table_of(seq, key.layer, key.head);
    if (from < 0 || from >= table.seq_len()) return false;
    for (std::int32_t r = 0; r < table.size(from); ++r)
      if (table.at(from, r).pos == to && table.at(from, r).attn == attn) return true;
    return false;
  }
  return false;
}

const CandidateTable& HostNearTieProbe::table_of(const SequencePlan& seq, int layer, int head) {
  const auto key = std::make_tuple(seq.seq_index, layer, head);
  const auto it = tables_.find(key);
  if (it != tables_.end()) return it->second;
  const int S = seq.seq_len;
  std::vector<float> matrix(static_cast<std::size_t>(S) * S);
  if (head >= 0) {
    reader_.read_heads(seq.seq_index, layer, head, 1, matrix.data());
  } else {
    const int H = reader_.sequences()[seq.seq_index].num_heads;
    HeadAggregate aggregate(S, head == kHeadMean, head == kHeadMax);
    for (int h = 0; h < H; ++h) {
      reader_.read_heads(seq.seq_index, layer, h, 1, matrix.data());
      aggregate.add_head(matrix.data());
    }
    matrix = head == kHeadMean ? aggregate.mean(H) : aggregate.max();
  }
  CandidateTable table = build_candidate_table(matrix.data(), S, seq.key_mask.empty() ? nullptr : seq.key_mask.data(),
                                               params_.top_k, params_.min_attn);
  return tables_.emplace(key, std::move(table)).first->second;
}

}  // namespace ratrace
