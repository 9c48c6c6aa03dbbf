// SerialWorker: tasks run one at a time, in post order, on its thread (or inline); wait() rethrows
// the first failure and the tasks posted after it are dropped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "util/serial_worker.hpp"

using ratrace::SerialWorker;

namespace {

TEST(SerialWorker, RunsTasksInPostOrderOnItsOwnThreadWhileThePosterGoesOn) {
  SerialWorker worker(true);
  ASSERT_TRUE(worker.has_thread());
  std::vector<int> order;  // touched by the worker only, until wait()
  std::atomic<bool> release{false};
  std::thread::id ran_on;
  worker.post([&] {
    ran_on = std::this_thread::get_id();
    while (!release) std::this_thread::yield();  // holds the worker until the poster has gone on
    order.push_back(0);
  });
  for (int k = 1; k < 50; ++k) worker.post([&order, k] { order.push_back(k); });
  release = true;  // reached while task 0 still runs: post() did not wait for it
  worker.wait();
  ASSERT_EQ(order.size(), 50u);
  for (int k = 0; k < 50; ++k) EXPECT_EQ(order[k], k);
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(SerialWorker, InlineRunsEachTaskAtPostOnThePostingThread) {
  SerialWorker worker(false);
  EXPECT_FALSE(worker.has_thread());
  std::thread::id ran_on;
  int runs = 0;
  worker.post([&] {
    ran_on = std::this_thread::get_id();
    ++runs;
  });
  EXPECT_EQ(runs, 1);  // before wait()
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  worker.wait();
}

TEST(SerialWorker, WaitRethrowsTheFirstFailureAndLaterTasksAreDropped) {
  for (const bool own_thread : {true, false}) {
    SerialWorker worker(own_thread);
    int ran = 0;
    worker.post([&] { ++ran; });
    worker.post([] { throw std::runtime_error("first"); });
    worker.post([] { throw std::runtime_error("second"); });
    worker.post([&] { ++ran; });
    try {
      worker.wait();
      ADD_FAILURE() << "wait() did not rethrow";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "first");
    }
    EXPECT_EQ(ran, 1) << "own_thread " << own_thread;
    worker.post([&] { ++ran; });  // dropped too: the worker has failed
    EXPECT_THROW(worker.wait(), std::runtime_error);
    EXPECT_EQ(ran, 1);
  }
}

TEST(SerialWorker, DestructionWaitsForTheRunningTaskAndDropsTheQueuedOnes) {
  std::atomic<int> finished{0};
  std::atomic<bool> started{false}, dropped{false};
  {
    SerialWorker worker(true);
    // The first task runs until the destructor has dropped the second (whose capture then dies).
    worker.post([&] {
      started = true;
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!dropped && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
      ++finished;
    });
    std::shared_ptr<void> on_drop(nullptr, [&](void*) { dropped = true; });
    worker.post([&, on_drop] { finished += 100; });
    on_drop.reset();  // the queued task holds the last reference
    while (!started) std::this_thread::yield();
  }
  EXPECT_TRUE(dropped);
  EXPECT_EQ(finished, 1);
}

}  // namespace
