// The SIMT emulator's scheduler: runs a launch's blocks one at a time, each block's threads as
// fibers switched at collective operations (the model is described in simt.hpp).
#include "simt.hpp"

#include <cuda_runtime_api.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define RATRACE_SIMT_HAVE_VALGRIND 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "simt_runtime.hpp"

namespace simt {
namespace detail {

constinit thread_local const ThreadIndex* current_index = nullptr;

namespace {

namespace ctx = boost::context;

constexpr std::size_t kStackBytes = 128 * 1024;
constexpr unsigned kWarpSize = 32;
constexpr unsigned kFullWarp = 0xffffffffu;
constexpr int kDefaultDynamicShared = 48 * 1024;   // without cudaFuncSetAttribute, as on a GPU

// A kernel's misuse of the execution model, found while it runs: fails the launch.
struct LaunchFault : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Fiber stacks with a guard page below each (an overflow faults instead of corrupting memory),
// kept for reuse: a launch creates one fiber per thread per block.
class StackPool {
 public:
  ~StackPool() {
    for (void* base : free_) munmap(base, kStackBytes + page());
  }
  ctx::stack_context allocate() {
    void* base = nullptr;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      base = mmap(nullptr, kStackBytes + page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (base == MAP_FAILED) throw std::bad_alloc();
      if (mprotect(base, page(), PROT_NONE) != 0) {
        munmap(base, kStackBytes + page());
        throw std::bad_alloc();
      }
#if RATRACE_SIMT_HAVE_VALGRIND
      // So that valgrind knows a switch to it is a stack switch, not a huge frame.
      VALGRIND_STACK_REGISTER(static_cast<char*>(base) + page(), static_cast<char*>(base) + page() + kStackBytes);
#endif
    }
    ctx::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = static_cast<char*>(base) + page() + kStackBytes;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) noexcept {
    free_.push_back(static_cast<char*>(sc.sp) - kStackBytes - page());
  }

 private:
  static std::size_t page() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }
  std::vector<void*> free_;
};

// What Boost.Context takes by value: a handle to the pool.
struct PooledStack {
  StackPool* pool;
  ctx::stack_context allocate() { return pool->allocate(); }
  void deallocate(ctx::stack_context& sc) noexcept { pool->deallocate(sc); }
};

enum class State : std::uint8_t { runnable, at_warp_op, at_barrier, exited };

// The thread sanitizer's view of the fibers (-fsanitize=thread builds only): each emulated thread is
// a fiber of its own, and every switch synchronises (the emulated threads' shared and global memory
// is the emulator's business), so what it checks is the host threads around the launches.
struct TsanFiber {
#if defined(__SANITIZE_THREAD__)
  void* fiber = nullptr;
  bool owned = false;  // created here, so destroyed here (not the OS thread's own)
  static TsanFiber current() { return TsanFiber{__tsan_get_current_fiber(), false}; }
  static TsanFiber create() { return TsanFiber{__tsan_create_fiber(0), true}; }
  void switch_to() const { __tsan_switch_to_fiber(fiber, 0); }
  void destroy() {
    if (owned) __tsan_destroy_fiber(fiber);
    *this = {};
  }
#else
  static TsanFiber current() { return {}; }
  static TsanFiber create() { return {}; }
  void switch_to() const {}
  void destroy() {}
#endif
};

struct Thread {
  ThreadIndex index;
  ctx::fiber context;    // the thread, while suspended
  ctx::fiber scheduler;  // the scheduler, while the thread runs
  TsanFiber tsan_self, tsan_scheduler;
  Thread() = default;
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  ~Thread() {
    context = {};  // a suspended thread (a failed launch) unwinds first
    tsan_self.destroy();
  }
  State state = State::runnable;
  WarpOp op = WarpOp::shfl;
  unsigned mask = 0;
  std::uint64_t value = 0;  // the collective's operand (a predicate at a barrier)
  int arg = 0;
  int width = 32;
  std::uint64_t result = 0;
};

thread_local Thread* running = nullptr;
thread_local unsigned char* dynamic_shared = nullptr;

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::shfl: return "__shfl_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
    case WarpOp::ballot: return "__ballot_sync";
    case WarpOp::any: return "__any_sync";
    case WarpOp::reduce_max: return "__reduce_max_sync";
  }
  return "?";
}

// Suspends the running thread in `state` until the scheduler resumes it.
std::uint64_t suspend(State state) {
  Thread& t = *running;
  t.state = state;
  t.tsan_scheduler.switch_to();
  t.scheduler = std::move(t.scheduler).resume();
  return t.result;
}

std::string where(const Thread& t) {
  return "block " + std::to_string(t.index.block.x) + " thread " + std::to_string(t.index.thread.x);
}

// Completes the warp-collective that every lane of `warp` waits at.
void complete_warp_op(Thread* warp) {
  const WarpOp op = warp[0].op;
  for (unsigned l = 0; l < kWarpSize; ++l) {
    if (warp[l].op != op)
      throw LaunchFault(where(warp[l]) + ": lanes of one warp meet at " + op_name(op) + " and " + op_name(warp[l].op));
    if (warp[l].mask != kFullWarp)
      throw LaunchFault(where(warp[l]) + ": " + op_name(op) + " with a partial mask (the emulator and ratrace use full warps)");
    if (warp[l].width != static_cast<int>(kWarpSize))
      throw LaunchFault(where(warp[l]) + ": " + op_name(op) + " with width " + std::to_string(warp[l].width) +
                        " (the emulator models width 32 only)");
    if ((op == WarpOp::shfl_up || op == WarpOp::shfl_xor) && (warp[l].arg < 0 || warp[l].arg >= static_cast<int>(kWarpSize)))
      throw LaunchFault(where(warp[l]) + ": " + op_name(op) + " with offset " + std::to_string(warp[l].arg) +
                        " outside the warp (not modelled)");
  }
  std::uint64_t reduced = 0;
  if (op == WarpOp::ballot || op == WarpOp::any) {
    for (unsigned l = 0; l < kWarpSize; ++l)
      if (warp[l].value != 0) reduced |= 1ull << l;
    if (op == WarpOp::any) reduced = reduced != 0;
  } else if (op == WarpOp::reduce_max) {
    for (unsigned l = 0; l < kWarpSize; ++l) reduced = std::max(reduced, warp[l].value & 0xffffffffu);
  }
  for (unsigned l = 0; l < kWarpSize; ++l) {
    Thread& t = warp[l];
    switch (op) {
      case WarpOp::shfl: t.result = warp[static_cast<unsigned>(t.arg) % kWarpSize].value; break;
      case WarpOp::shfl_up: t.result = l >= static_cast<unsigned>(t.arg) ? warp[l - t.arg].value : t.value; break;
      case WarpOp::shfl_xor: t.result = warp[l ^ static_cast<unsigned>(t.arg)].value; break;
      default: t.result = reduced; break;
    }
    t.state = State::runnable;
  }
}

// Completes the warp-collective of `warp` (`lanes` threads) when all its lanes wait at one;
// returns whether it did.
bool complete_warp(Thread* warp, std::size_t lanes, std::size_t w) {
  std::size_t waiting = 0, exited = 0;
  for (std::size_t l = 0; l < lanes; ++l) {
    waiting += warp[l].state == State::at_warp_op;
    exited += warp[l].state == State::exited;
  }
  if (waiting == 0) return false;
  if (waiting + exited == lanes && exited > 0)
    throw LaunchFault(where(warp[0]) + ": warp " + std::to_string(w) + " reaches a warp-collective while " +
                      std::to_string(exited) + " of its lanes have exited");
  if (lanes < kWarpSize) throw LaunchFault(where(warp[0]) + ": a warp-collective in a partial warp");
  if (waiting < kWarpSize) return false;
  complete_warp_op(warp);
  return true;
}

// Releases the block's barrier when every live thread waits at it; returns whether it did.
bool complete_barrier(std::vector<Thread>& threads) {
  std::size_t at_barrier = 0, live = 0;
  bool any = false;
  for (const Thread& t : threads) {
    if (t.state == State::exited) continue;
    ++live;
    if (t.state == State::at_barrier) {
      ++at_barrier;
      any |= t.value != 0;
    }
  }
  if (at_barrier == 0 || at_barrier < live) return false;
  for (Thread& t : threads) {
    if (t.state != State::at_barrier) continue;
    t.result = any;
    t.state = State::runnable;
  }
  return true;
}

std::string describe_stall(const std::vector<Thread>& threads) {
  std::size_t warp_op = 0, barrier = 0, exited = 0;
  for (const Thread& t : threads) {
    warp_op += t.state == State::at_warp_op;
    barrier += t.state == State::at_barrier;
    exited += t.state == State::exited;
  }
  return where(threads[0]) + ": deadlock: " + std::to_string(warp_op) + " threads wait at a warp-collective, " +
         std::to_string(barrier) + " at __syncthreads, " + std::to_string(exited) + " have exited";
}

void run_block(const std::function<void()>& body, std::vector<Thread>& threads, StackPool& stacks, bool reverse) {
  for (Thread& t : threads) {
    Thread* self = &t;
    t.state = State::runnable;
    t.tsan_self.destroy();
    t.tsan_self = TsanFiber::create();
    t.tsan_scheduler = TsanFiber::current();
    t.context = ctx::fiber(std::allocator_arg, PooledStack{&stacks}, [self, &body](ctx::fiber&& scheduler) {
      self->scheduler = std::move(scheduler);
      body();
      self->state = State::exited;
      self->tsan_scheduler.switch_to();
      return std::move(self->scheduler);
    });
  }
  // One warp at a time, through all its collectives up to a barrier or its end: its 32 stacks stay
  // warm, and a collective completes as soon as its last lane arrives.
  for (std::size_t live = threads.size(); live > 0;) {
    bool progressed = false;
    const std::size_t warps = (threads.size() + kWarpSize - 1) / kWarpSize;
    for (std::size_t k = 0; k < warps; ++k) {
      const std::size_t w = reverse ? warps - 1 - k : k;
      Thread* warp = &threads[w * kWarpSize];
      const std::size_t lanes = std::min<std::size_t>(kWarpSize, threads.size() - w * kWarpSize);
      for (bool ran = true; ran;) {
        ran = false;
        for (std::size_t m = 0; m < lanes; ++m) {
          Thread& t = warp[reverse ? lanes - 1 - m : m];
          if (t.state != State::runnable) continue;
          running = &t;
          current_index = &t.index;
          t.tsan_self.switch_to();
          t.context = std::move(t.context).resume();
          ran = true;
          if (t.state == State::exited) --live;
        }
        running = nullptr;
        current_index = nullptr;
        progressed |= ran;
        if (ran && !complete_warp(warp, lanes, w)) break;
      }
    }
    progressed |= complete_barrier(threads);
    if (!progressed && live > 0) throw LaunchFault(describe_stall(threads));
  }
}

std::mutex launch_mutex;  // launches from several host threads run one at a time
std::map<const void*, int> max_dynamic_shared;

}  // namespace

std::uint64_t warp_collective(WarpOp op, unsigned mask, std::uint64_t value, int arg, int width) {
  Thread& t = *running;
  t.op = op;
  t.mask = mask;
  t.value = value;
  t.arg = arg;
  t.width = width;
  return suspend(State::at_warp_op);
}

bool block_barrier(bool predicate) {
  running->value = predicate;
  return suspend(State::at_barrier) != 0;
}

void* dynamic_shared_memory() { return dynamic_shared; }

cudaError_t set_max_dynamic_shared(const void* kernel, int bytes) {
  const int optin = shared_memory_optin_bytes();  // the device's limit per block
  if (bytes < 0 || bytes > optin) {
    record_error(cudaErrorInvalidValue, "cudaFuncSetAttribute: " + std::to_string(bytes) +
                                            " bytes of dynamic shared memory, outside the device's 0.." +
                                            std::to_string(optin) + " per block");
    return cudaErrorInvalidValue;
  }
  const std::lock_guard lock(launch_mutex);
  max_dynamic_shared[kernel] = bytes;
  return cudaSuccess;
}

}  // namespace detail

namespace {

// Runs every block of a grid (the launch's checks passed); the deferred half of launch().
cudaError_t run_grid(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const std::function<void()>& kernel_body) {
  using namespace detail;
  const std::lock_guard lock(launch_mutex);
  const std::uint64_t threads_per_block = std::uint64_t{block.x} * block.y * block.z;
  thread_local StackPool stacks;
  static const bool reverse = [] {
    const char* v = std::getenv("RATRACE_SIMT_REVERSE");
    return v != nullptr && std::string(v) == "1";
  }();
  // Exactly the bytes asked for (in doubles, for alignment), so that valgrind sees an overrun.
  const std::size_t shared_doubles = (dynamic_shared_bytes + sizeof(double) - 1) / sizeof(double);
  std::unique_ptr<double[]> shared(shared_doubles > 0 ? new double[shared_doubles] : nullptr);
  std::vector<Thread> threads(threads_per_block);
  std::string fault;
  try {
    for (unsigned bz = 0; bz < grid.z; ++bz)
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
          for (std::uint64_t k = 0; k < threads_per_block; ++k) {
            const auto linear = static_cast<unsigned>(k);
            threads[k].index = ThreadIndex{uint3{linear % block.x, (linear / block.x) % block.y, linear / (block.x * block.y)},
                                           uint3{bx, by, bz}, block, grid};
          }
          // Shared memory holds garbage at the start of a block on a GPU: so does it here.
          if (shared) std::memset(shared.get(), 0xA5, dynamic_shared_bytes);
          dynamic_shared = reinterpret_cast<unsigned char*>(shared.get());
          run_block(kernel_body, threads, stacks, reverse);
        }
  } catch (const std::exception& e) {  // a LaunchFault, or no memory for the fiber stacks
    fault = e.what();
  }
  dynamic_shared = nullptr;
  if (fault.empty()) return cudaSuccess;
  // Outside the handler: destroying a suspended fiber unwinds its stack with an exception, and
  // the per-thread exception state must not hold a caught exception meanwhile.
  threads.clear();
  record_error(cudaErrorLaunchFailure, "kernel fault: " + fault);
  return cudaErrorLaunchFailure;
}

}  // namespace

void launch(const void* kernel, dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, CUstream_st* stream,
            std::function<void()> kernel_body) {
  using namespace detail;
  const std::uint64_t threads_per_block = std::uint64_t{block.x} * block.y * block.z;
  if (threads_per_block == 0 || threads_per_block > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
    record_error(cudaErrorInvalidConfiguration, "invalid launch configuration");
    return;
  }
  int allowed = kDefaultDynamicShared;
  {
    const std::lock_guard lock(launch_mutex);
    const auto limit = max_dynamic_shared.find(kernel);
    if (limit != max_dynamic_shared.end()) allowed = limit->second;
  }
  if (dynamic_shared_bytes > static_cast<std::size_t>(allowed)) {
    record_error(cudaErrorInvalidValue, "dynamic shared memory of " + std::to_string(dynamic_shared_bytes) +
                                            " bytes is above the kernel's limit of " + std::to_string(allowed) +
                                            " (cudaFuncSetAttribute raises it)");
    return;
  }
  // The grid runs when its stream reaches it (runtime.cpp); a fault is then the error of the call
  // that ran it (a stream sync, or this launch in eager mode), as a GPU's is.
  enqueue_device_work(stream, [=] { return run_grid(grid, block, dynamic_shared_bytes, kernel_body); });
}

}  // namespace simt
