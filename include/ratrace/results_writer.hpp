#pragma once
// Streams a results file (SPEC §5) to disk while a run is going: the metadata first, then batches
// of jobs as the engine finishes them, then /stats. The paths never all sit in memory (the writer
// keeps one bit per traced target and matrix, to refuse a job twice), and the big arrays are
// compressed on many threads.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ratrace/decay_stats.hpp"
#include "ratrace/results.hpp"

namespace ratrace {

// For programs that write results files (the CLI calls it first thing in main): a SIGINT, SIGTERM
// (a SLURM time limit), SIGHUP, SIGXCPU or SIGXFSZ removes the temporary file of a run in progress
// before the process ends of that signal (signals already ignored, as under nohup, stay ignored),
// and HDF5 is kept from cleaning up at exit. Call it before any other HDF5 call. A SIGKILL (or the OOM killer) still leaves `.OUT.h5.tmp-<pid>-*`.
void install_results_signal_guard();

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
