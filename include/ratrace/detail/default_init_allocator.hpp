#pragma once
// An allocator whose value-less construct() default-initialises: resize() of a vector of
// numbers then leaves the new elements as they are instead of zeroing them. For arrays that are
// filled right after they are sized (a GPU batch's results are copied back into vectors of
// hundreds of MB; zeroing them first would cost a pass over memory as long as the copy).
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace ratrace::detail {

template <class T>
class DefaultInitAllocator : public std::allocator<T> {
 public:
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };

  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}

  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

}  // namespace ratrace::detail
