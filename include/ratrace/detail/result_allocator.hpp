#pragma once
// The allocator of results columns (ResultColumn in ratrace/results.hpp), for arrays of hundreds of
// MB that a GPU batch's results are copied back into:
// - resize() default-initialises: new numbers are left as they are, not zeroed (the copy that
//   follows would otherwise come after a pass over memory as long as itself);
// - large blocks are whole pages of their own, so that the GPU engine can page-lock them in place
//   (pin_result_block) and copy into them at full speed; a pinned block is unpinned when freed.
#include <cstddef>
#include <new>
#include <type_traits>

namespace ratrace::detail {

// Blocks from this size on are page-aligned, a whole number of pages, and may be pinned.
inline constexpr std::size_t kPinnableBlockBytes = std::size_t{1} << 20;
// The operating system's page size (sysconf): what the driver locks, so no two blocks share one.
std::size_t page_bytes();
// `bytes` rounded up to whole pages: what a pinnable block takes, and what pinning it locks.
std::size_t whole_pages(std::size_t bytes);

void* allocate_result_block(std::size_t bytes);
void free_result_block(void* p, std::size_t bytes) noexcept;

// Page-locks the block at `p` (from allocate_result_block, `bytes` as allocated or fewer) with
// pin(p, bytes rounded up to whole pages), once: later calls for the same block only say whether
// it is pinned (a refused pin is not retried). Its free calls unpin(p) first, on the freeing
// thread. Returns whether the block is pinned. Small blocks and refused pins stay pageable (false).
// Thread-safe; a block is pinned by the thread that owns it.
using PinFn = bool (*)(void* p, std::size_t bytes);
using UnpinFn = void (*)(void* p);
bool pin_result_block(void* p, std::size_t bytes, PinFn pin, UnpinFn unpin);
// Bytes of result blocks pinned now (for tests and reports).
std::size_t pinned_result_bytes();

template <class T>
class ResultAllocator {
 public:
  using value_type = T;

  ResultAllocator() = default;
  template <class U>
  ResultAllocator(const ResultAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(allocate_result_block(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { free_result_block(p, n * sizeof(T)); }

  // Only the value-less form: construction from values falls back to std::construct_at
  // (std::allocator_traits), as with std::allocator.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }

  template <class U>
  friend bool operator==(const ResultAllocator&, const ResultAllocator<U>&) noexcept {
    return true;  // stateless: any one frees what another allocated
  }
};

}  // namespace ratrace::detail
