// Result blocks (detail/result_allocator.hpp): large ones page-aligned, and the pinned ones
// remembered so that they are unpinned before their memory goes back.
#include <cstddef>
#include <mutex>
#include <new>
#include <unordered_map>

#include "ratrace/detail/result_allocator.hpp"

namespace ratrace::detail {
namespace {

std::size_t whole_pages(std::size_t bytes) { return (bytes + kPageBytes - 1) / kPageBytes * kPageBytes; }

struct PinnedBlock {
  std::size_t bytes;
  UnpinFn unpin;
};

struct PinnedBlocks {
  std::mutex mutex;
  std::unordered_map<void*, PinnedBlock> blocks;
  std::size_t bytes = 0;
};

PinnedBlocks& pinned() {
  static PinnedBlocks* registry = new PinnedBlocks;  // never destroyed: blocks may be freed during exit
  return *registry;
}

}  // namespace

void* allocate_result_block(std::size_t bytes) {
  if (bytes < kPinnableBlockBytes) return ::operator new(bytes);
  return ::operator new(whole_pages(bytes), std::align_val_t{kPageBytes});
}

void free_result_block(void* p, std::size_t bytes) noexcept {
  if (bytes < kPinnableBlockBytes) return ::operator delete(p);
  {
    PinnedBlocks& r = pinned();
    const std::lock_guard lock(r.mutex);
    if (const auto it = r.blocks.find(p); it != r.blocks.end()) {
      it->second.unpin(p);
      r.bytes -= it->second.bytes;
      r.blocks.erase(it);
    }
  }
  ::operator delete(p, std::align_val_t{kPageBytes});
}

bool pin_result_block(void* p, std::size_t bytes, PinFn pin, UnpinFn unpin) {
  if (p == nullptr || bytes < kPinnableBlockBytes) return false;
  PinnedBlocks& r = pinned();
  const std::lock_guard lock(r.mutex);
  if (r.blocks.contains(p)) return true;
  const std::size_t pages = whole_pages(bytes);
  if (!pin(p, pages)) return false;
  r.blocks.emplace(p, PinnedBlock{pages, unpin});
  r.bytes += pages;
  return true;
}

std::size_t pinned_result_bytes() {
  PinnedBlocks& r = pinned();
  const std::lock_guard lock(r.mutex);
  return r.bytes;
}

}  // namespace ratrace::detail
