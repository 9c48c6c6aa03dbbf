#pragma once
// The near-tie probe of `verify`, on the host: rebuilds a job's candidate table from the corpus
// exactly as the CPU reference does, then looks for near-ties in its search.
#include <map>
#include <tuple>

#include "ratrace/candidate_table.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"

namespace ratrace {

class HostNearTieProbe {
 public:
  // `plan` gives each sequence's key mask and BOS positions.
  HostNearTieProbe(const CorpusReader& reader, const TracePlan& plan, const SearchParams& params)
      : reader_(reader), plan_(plan), params_(params) {}

  // Whether the search of job `key` passes a near-tie (search_has_near_tie). Tables are cached.
  bool operator()(const JobKey& key);
  // Whether (to, attn) is a candidate of row `from` in job `key`'s table (CandidateCheck).
  bool is_candidate(const JobKey& key, std::int32_t from, std::int32_t to, float attn);

 private:
  const CandidateTable& table_of(const SequencePlan& seq, int layer, int head);

  const CorpusReader& reader_;
  const TracePlan& plan_;
  const SearchParams& params_;
  std::map<std::tuple<int, int, int>, CandidateTable> tables_;
};

}  // namespace ratrace
