#pragma once
// A small fixed pool of std::threads running index loops. Work is addressed by index, so callers
// write each result into its own slot and the output never depends on the thread count.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

namespace ratrace {

// The CPUs this process may run on: its affinity mask (what a SLURM job or taskset grants),
// not every core of the machine.
inline int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

class ThreadPool {
 public:
  // threads <= 0: available_cpus(). The calling thread counts as one of them.
  explicit ThreadPool(int threads) {
    if (threads <= 0) threads = available_cpus();
    size_ = threads;
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this] { worker_loop(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  // Calls fn(i) once for every i in [0, n) and returns when all calls are done. Not reentrant:
  // call it from one thread at a time, never from inside fn. If calls throw, the exception of
  // the smallest such i is rethrown (the same one whatever the thread count); indices not yet
  // started when a call throws are skipped.
  void parallel_for(std::int64_t n, const std::function<void(std::int64_t)>& fn) {
    if (n <= 0) return;
    if (workers_.empty() || n == 1) {  // no hand-off needed
      for (std::int64_t i = 0; i < n; ++i) fn(i);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      fn_ = &fn;
      n_ = n;
      next_.store(0);
      failed_index_ = std::numeric_limits<std::int64_t>::max();
      failure_ = nullptr;
      busy_workers_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    run_indices();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return busy_workers_ == 0; });
    fn_ = nullptr;
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  void run_indices() {
    for (;;) {
      const std::int64_t i = next_.fetch_add(1);
      if (i >= n_) return;
      try {
        (*fn_)(i);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (i < failed_index_) {
          failed_index_ = i;
          failure_ = std::current_exception();
        }
        next_.store(n_);  // stop handing out new indices
      }
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      run_indices();
      {
        std::lock_guard lock(mutex_);
        --busy_workers_;
      }
      done_.notify_one();
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  bool stopping_ = false;
  std::uint64_t generation_ = 0;
  int busy_workers_ = 0;
  const std::function<void(std::int64_t)>* fn_ = nullptr;
  std::int64_t n_ = 0;
  std::atomic<std::int64_t> next_{0};
  std::int64_t failed_index_ = 0;
  std::exception_ptr failure_;
};

}  // namespace ratrace
