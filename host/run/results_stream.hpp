#pragma once
// The engine -> results writer hand-off of `ratrace trace`, as the engine's BatchSink. Batches go
// to a thread of its own, which accumulates /stats and writes (compressing on all cores), so that
// writing overlaps the engine's work. At most kMaxQueuedBytes of batches wait; consume() blocks
// beyond that, so the paths never all sit in memory, however large the output. Written batches are
// kept (up to kMaxSpares) for the engine to fill again. With an HDF5 library that is not
// thread-safe, consume() writes each batch itself instead (same file, no overlap).
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "ratrace/decay_stats.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/results_writer.hpp"

namespace ratrace {

struct TraceSummary {
  std::int64_t jobs = 0, paths = 0, nodes = 0;
  double writer_busy_s = 0;  // time spent writing batches (stats, checks, compression, disk)
  double engine_wait_s = 0;  // time consume() waited for room in the queue: > 0 means writer-bound (on
                             // the GPU, whether that held the engine up shows in its results_wait_s)
  EngineTimes engine;        // where the engine's thread spent the run (trace_to_file fills it in)
};

class ResultsStream final : public BatchSink {
 public:
  static constexpr std::size_t kMaxQueuedBytes = std::size_t{1} << 30;
  static constexpr std::size_t kMaxSpares = 2;

  // Opens the results file (ResultsWriter: UsageError when it exists and !force); `threads`
  // compress (<= 0: every available CPU).
  ResultsStream(const std::string& path, ResultsMetadata metadata, bool force, int threads = 0);
  // Without finish(): drops what waits, stops the thread, and the temporary file is removed.
  ~ResultsStream() override;
  ResultsStream(const ResultsStream&) = delete;
  ResultsStream& operator=(const ResultsStream&) = delete;

  // Queues a batch (jobs after the earlier ones). Rethrows the writing thread's failure, if any.
  void consume(TraceBatch&& batch) override;
  // A written batch, emptied, when one is kept; else a new one.
  TraceBatch spare() override;
  // With its own writing thread, consume() only queues; without one it writes HDF5 itself.
  bool may_consume_beside_reader() const override { return thread_.joinable(); }
  // Waits for every queued batch, writes /stats and commits the file under its name.
  TraceSummary finish();

 private:
  static std::size_t bytes_of(const TraceBatch& batch);
  void write(const TraceBatch& batch);
  // Empties a written batch and keeps it as a spare (when fewer than kMaxSpares are kept).
  void recycle(TraceBatch&& batch, std::size_t queued_bytes);
  void work();
  void stop(bool drop_queued);

  ResultsWriter writer_;
  DecayStatsBuilder stats_;  // touched by the writing thread only, until it is joined
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<TraceBatch> queue_;
  std::deque<TraceBatch> spares_;
  std::size_t queued_bytes_ = 0;  // of the batches queued or being written
  bool closing_ = false;
  std::exception_ptr failure_;
  double busy_s_ = 0;  // the writing thread's (or consume()'s, without one)
  double wait_s_ = 0;  // consume()'s
  std::thread thread_;  // last: starts once everything above exists; none without a thread-safe HDF5
};

}  // namespace ratrace
