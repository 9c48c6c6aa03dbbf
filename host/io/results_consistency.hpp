#pragma once
// The invariants of a results file (SPEC §5), checked on the in-memory arrays. The writer treats a
// violation as a bug (std::logic_error); the reader as a bad file (InputError). Messages are one
// line naming the dataset at fault.
#include <cstdint>
#include <optional>
#include <string>
#include <map>
#include <tuple>
#include <vector>

#include "ratrace/results.hpp"

namespace ratrace {

class ThreadPool;

// The sequence table: lengths, token offsets and token arrays agree.
std::optional<std::string> find_metadata_inconsistency(const ResultsMetadata& metadata);

// Checks jobs as they are written, batch after batch: each batch's CSR arrays, and every job
// against the sequence table and against all jobs before it (no job twice). Job and path numbers
// in messages count from the first batch.
class JobChecker {
 public:
  explicit JobChecker(const ResultsMetadata& metadata) : metadata_(metadata) {}
  // The first inconsistency of `batch` (jobs after the earlier batches'), or nullopt. The per-path
  // checks run on `pool` when one is given.
  std::optional<std::string> check(const TraceResults& batch, ThreadPool* pool = nullptr);

 private:
  // Whether (matrix, target) was seen: one bit per target of each traced (sequence, layer, head),
  // so memory follows the corpus, not the number of jobs written.
  bool seen_before(const JobKey& job);

  const ResultsMetadata& metadata_;
  std::map<std::tuple<std::int32_t, std::int32_t, std::int32_t>, std::vector<bool>> seen_;
  std::int64_t jobs_before_ = 0;
  std::int64_t paths_before_ = 0;
  std::int64_t nodes_before_ = 0;
};

// Metadata, then all the jobs as one batch.
std::optional<std::string> find_results_inconsistency(const ResultsFile& file);

}  // namespace ratrace
