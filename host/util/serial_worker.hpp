#pragma once
// Runs tasks one at a time, in the order they were posted, on a thread of its own, so that the
// posting thread goes on with other work meanwhile (the GPU engine reads the next launch while the
// results of the last one are copied back and delivered). Made inline, it runs each task at post(),
// on the posting thread. wait() returns once every posted task has run, and rethrows the first
// task's exception (rethrow_if_failed() does so without waiting); once a task has thrown, the tasks
// posted after it are dropped.
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace ratrace {

class SerialWorker {
 public:
  explicit SerialWorker(bool own_thread) {
    if (own_thread) thread_ = std::thread([this] { work(); });
  }
  // Drops the tasks not started yet, waits for the running one, and drops its exception.
  ~SerialWorker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      queue_.clear();
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  bool has_thread() const { return thread_.joinable(); }

  void post(std::function<void()> task) {
    if (!thread_.joinable()) {
      if (!failure_) run(task);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      if (failure_) return;
      queue_.push_back(std::move(task));
    }
    changed_.notify_all();
  }

  void wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return queue_.empty() && !busy_; });
    if (failure_) std::rethrow_exception(failure_);
  }

  // Rethrows the first failure of a task that has run, without waiting for the others.
  void rethrow_if_failed() {
    std::lock_guard lock(mutex_);
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  void run(const std::function<void()>& task) {
    try {
      task();
    } catch (...) {
      failure_ = std::current_exception();
    }
  }

  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      std::exception_ptr failure;
      try {
        task();
      } catch (...) {
        failure = std::current_exception();
      }
      lock.lock();
      busy_ = false;
      if (failure && !failure_) {
        failure_ = failure;
        queue_.clear();
      }
      changed_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::exception_ptr failure_;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace ratrace
