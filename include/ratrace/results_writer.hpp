#pragma once
// Streams a results file (SPEC §5) to disk while a run is going: the metadata first, then batches
// of jobs as the engine finishes them, then /stats. Memory stays bounded by a batch, whatever the
// size of the run's output, and the big arrays are compressed on many threads.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ratrace/decay_stats.hpp"
#include "ratrace/results.hpp"

namespace ratrace {

class ResultsWriter {
 public:
  // Creates the file under a temporary name beside `path` and writes the metadata. Throws
  // UsageError when `path` exists and !force, std::logic_error when the metadata is inconsistent.
  // threads <= 0: every available CPU compresses.
  ResultsWriter(const std::string& path, ResultsMetadata metadata, bool force, int threads = 0);
  // Without commit(): the temporary file is removed, so nothing is left behind.
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  // Appends a batch of jobs (batch-local offsets, as TraceResults holds them) after the earlier
  // ones. Throws std::logic_error when the batch breaks the SPEC §5 invariants (an engine bug).
  void append(const TraceResults& batch);

  // Writes /stats (when given), closes the file and renames it to `path`. Throws UsageError when
  // `path` appeared meanwhile and !force; the temporary file is then removed.
  void commit(const std::optional<DecayStats>& stats);

  // Whether a writer may work on a thread of its own while the corpus is read on another: true
  // when the HDF5 library is built thread-safe (as Debian's is), which serialises its calls.
  static bool may_run_beside_reader();

  std::int64_t num_jobs() const;
  std::int64_t num_paths() const;
  std::int64_t num_nodes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ratrace
