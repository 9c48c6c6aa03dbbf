// Result blocks (detail/result_allocator.hpp): large ones whole pages of their own, and the pinned
// ones remembered so that they are unpinned before their memory goes back.
#include <unistd.h>

#include <cstddef>
#include <mutex>
#include <new>
#include <unordered_map>

#include "ratrace/detail/result_allocator.hpp"

namespace ratrace::detail {
namespace {

struct PinnedBlock {
  std::size_t bytes;  // 0: the pin was refused (not retried while the block lives)
  UnpinFn unpin;
};

struct PinnedBlocks {
  std::mutex mutex;  // guards the map only: pin and unpin (driver calls) run outside it
  std::unordered_map<void*, PinnedBlock> blocks;
  std::size_t bytes = 0;
};

PinnedBlocks& pinned() {
  static PinnedBlocks* registry = new PinnedBlocks;  // never destroyed: blocks may be freed during exit
  return *registry;
}

}  // namespace

std::size_t page_bytes() {
  static const std::size_t page = [] {
    const long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<std::size_t>(p) : std::size_t{4096};
  }();
  return page;
}

std::size_t whole_pages(std::size_t bytes) {
  const std::size_t page = page_bytes();
  return (bytes + page - 1) / page * page;
}

void* allocate_result_block(std::size_t bytes) {
  if (bytes < kPinnableBlockBytes) return ::operator new(bytes);
  return ::operator new(whole_pages(bytes), std::align_val_t{page_bytes()});
}

void free_result_block(void* p, std::size_t bytes) noexcept {
  if (bytes < kPinnableBlockBytes) return ::operator delete(p);
  PinnedBlock block{0, nullptr};
  {
    PinnedBlocks& r = pinned();
    const std::lock_guard lock(r.mutex);
    if (const auto it = r.blocks.find(p); it != r.blocks.end()) {
      block = it->second;
      r.bytes -= block.bytes;
      r.blocks.erase(it);
    }
  }
  if (block.bytes > 0) block.unpin(p);
  ::operator delete(p, std::align_val_t{page_bytes()});
}

bool pin_result_block(void* p, std::size_t bytes, PinFn pin, UnpinFn unpin) {
  if (p == nullptr || bytes < kPinnableBlockBytes) return false;
  PinnedBlocks& r = pinned();
  {
    const std::lock_guard lock(r.mutex);
    if (const auto it = r.blocks.find(p); it != r.blocks.end()) return it->second.bytes > 0;
  }
  // Outside the lock: pinning hundreds of MB takes the driver tens of ms, and other threads free
  // blocks meanwhile. This block is safe: only its owner (this thread) can pin or free it.
  const std::size_t pages = whole_pages(bytes);
  const bool ok = pin(p, pages);
  try {
    const std::lock_guard lock(r.mutex);
    r.blocks.emplace(p, PinnedBlock{ok ? pages : 0, unpin});
    if (ok) r.bytes += pages;
  } catch (...) {
    if (ok) unpin(p);  // not recorded: it must not outlive this call pinned
    throw;
  }
  return ok;
}

std::size_t pinned_result_bytes() {
  PinnedBlocks& r = pinned();
  const std::lock_guard lock(r.mutex);
  return r.bytes;
}

}  // namespace ratrace::detail
