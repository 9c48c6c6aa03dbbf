#pragma once
// Checks of an engine's EngineTimes (where its calling thread spent a run) with a known part: a
// sink that holds every batch for a fixed time, as a writer with a full queue holds the engine.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>

#include "ratrace/engine.hpp"

namespace ratrace::testing {

class HoldingSink final : public BatchSink {
 public:
  explicit HoldingSink(std::chrono::milliseconds hold) : hold_(hold) {}
  void consume(TraceBatch&& batch) override {
    ++batches;
    jobs += static_cast<std::int64_t>(batch.results.num_jobs());
    std::this_thread::sleep_for(hold_);
  }
  double held_s() const { return batches * std::chrono::duration<double>(hold_).count(); }
  int batches = 0;
  std::int64_t jobs = 0;

 private:
  std::chrono::milliseconds hold_;
};

// What every engine's times must satisfy: the phases take turns on the calling thread, inside a run
// that took wall_s (measured around it); the sink's holding is in deliver_s; a run that read
// something spent time reading.
inline void expect_phases_fit(const EngineTimes& t, double wall_s, const HoldingSink& sink) {
  EXPECT_GT(t.total_s, 0.0);
  EXPECT_LE(t.total_s, wall_s);
  const double phases = t.read_s + t.pack_s + t.compute_s + t.device_wait_s + t.fetch_s + t.deliver_s;
  EXPECT_LE(phases, t.total_s * (1 + 1e-9));
  EXPECT_GE(t.deliver_s, sink.held_s());
  EXPECT_GT(t.read_s, 0.0);
  for (const double s : {t.read_s, t.pack_s, t.compute_s, t.device_wait_s, t.fetch_s, t.deliver_s}) EXPECT_GE(s, 0.0);
}

}  // namespace ratrace::testing
