#pragma once
// Checks of an engine's EngineTimes (where it spent a run) with a known part: a sink that holds
// every batch for a fixed time, as a writer with a full queue holds the engine, and records the
// threads that called it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>

#include "ratrace/engine.hpp"

namespace ratrace::testing {

class HoldingSink final : public BatchSink {
 public:
  // beside_reader: what may_consume_beside_reader() answers.
  explicit HoldingSink(std::chrono::milliseconds hold, bool beside_reader = true)
      : hold_(hold), beside_reader_(beside_reader) {}
  void consume(TraceBatch&& batch) override {
    {
      const std::lock_guard lock(mutex_);
      ++batches;
      jobs += static_cast<std::int64_t>(batch.results.num_jobs());
      threads.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(hold_);
  }
  bool may_consume_beside_reader() const override { return beside_reader_; }
  double held_s() const { return batches * std::chrono::duration<double>(hold_).count(); }
  int batches = 0;
  std::int64_t jobs = 0;
  std::set<std::thread::id> threads;  // that called consume()

 private:
  std::chrono::milliseconds hold_;
  bool beside_reader_;
  std::mutex mutex_;
};

// What every engine's times must satisfy: the calling thread's phases take turns inside a run that
// took wall_s (measured around it), fetch and deliver among them unless a results thread spent
// them; the sink's holding is in deliver_s; a run that read something spent time reading.
inline void expect_phases_fit(const EngineTimes& t, double wall_s, const HoldingSink& sink) {
  EXPECT_GT(t.total_s, 0.0);
  EXPECT_LE(t.total_s, wall_s);
  double calling = t.read_s + t.pack_s + t.compute_s + t.device_wait_s + t.results_wait_s;
  if (!t.results_beside) calling += t.fetch_s + t.deliver_s;
  EXPECT_LE(calling, t.total_s * (1 + 1e-9));
  EXPECT_LE(t.fetch_s + t.deliver_s, t.total_s * (1 + 1e-9));
  EXPECT_GE(t.deliver_s, sink.held_s());
  EXPECT_GT(t.read_s, 0.0);
  for (const double s : {t.read_s, t.pack_s, t.compute_s, t.device_wait_s, t.results_wait_s, t.fetch_s, t.deliver_s})
    EXPECT_GE(s, 0.0);
}

}  // namespace ratrace::testing
