#include "run/results_stream.hpp"

#include <utility>

#include "util/stopwatch.hpp"

namespace ratrace {

ResultsStream::ResultsStream(const std::string& path, ResultsMetadata metadata, bool force, int threads)
    : writer_(path, std::move(metadata), force, threads) {
  if (ResultsWriter::may_run_beside_reader()) thread_ = std::thread([this] { work(); });
}

ResultsStream::~ResultsStream() { stop(/*drop_queued=*/true); }

std::size_t ResultsStream::bytes_of(const TraceBatch& batch) {
  const TraceResults& r = batch.results;
  return r.num_jobs() * (sizeof(JobKey) + sizeof(std::int64_t)) + r.num_paths() * 3 * sizeof(double) +
         r.num_nodes() * (sizeof(std::int32_t) + sizeof(float)) + batch.profiles.size() * sizeof(AttentionProfile);
}

void ResultsStream::write(const TraceBatch& batch) {
  const PhaseTimer busy(busy_s_);
  stats_.add_profiles(batch.profiles);
  stats_.add_results(batch.results);
  writer_.append(batch.results);
}

TraceBatch ResultsStream::spare() {
  std::lock_guard lock(mutex_);
  if (spares_.empty()) return {};
  TraceBatch batch = std::move(spares_.front());
  spares_.pop_front();
  return batch;
}

void ResultsStream::consume(TraceBatch&& batch) {
  if (!thread_.joinable()) {
    write(batch);
    return recycle(std::move(batch), 0);
  }
  const std::size_t bytes = bytes_of(batch);
  std::unique_lock lock(mutex_);
  {
    const PhaseTimer waiting(wait_s_);
    // A batch larger than the bound still goes through, alone.
    changed_.wait(lock, [&] { return failure_ || queued_bytes_ == 0 || queued_bytes_ + bytes <= kMaxQueuedBytes; });
  }
  if (failure_) std::rethrow_exception(failure_);
  queued_bytes_ += bytes;
  queue_.push_back(std::move(batch));
  changed_.notify_all();
}

void ResultsStream::recycle(TraceBatch&& batch, std::size_t queued_bytes) {
  batch.results.clear();  // keeps the arrays' memory for the engine's next fill
  batch.profiles.clear();
  std::lock_guard lock(mutex_);
  queued_bytes_ -= queued_bytes;
  if (spares_.size() < kMaxSpares) spares_.push_back(std::move(batch));
  changed_.notify_all();
}

void ResultsStream::work() {
  for (;;) {
    TraceBatch batch;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      write(batch);
    } catch (...) {
      std::lock_guard lock(mutex_);
      failure_ = std::current_exception();
      queue_.clear();
      changed_.notify_all();
      return;
    }
    const std::size_t bytes = bytes_of(batch);
    recycle(std::move(batch), bytes);
  }
}

void ResultsStream::stop(bool drop_queued) {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    if (drop_queued) queue_.clear();
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

TraceSummary ResultsStream::finish() {
  stop(/*drop_queued=*/false);  // the thread drains the queue before it stops
  if (failure_) std::rethrow_exception(failure_);
  {
    const PhaseTimer busy(busy_s_);
    writer_.commit(stats_.build());
  }
  return TraceSummary{writer_.num_jobs(), writer_.num_paths(), writer_.num_nodes(), busy_s_, wait_s_, {}};
}

}  // namespace ratrace
