// Results columns' memory (detail/result_allocator.hpp): large blocks are whole pages of their
// own, a pinned block is pinned once and unpinned exactly once, when its memory goes back.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "ratrace/results.hpp"

using ratrace::ResultColumn;
namespace detail = ratrace::detail;

namespace {

// A stand-in for cudaHostRegister / cudaHostUnregister that records its calls.
struct PinLog {
  std::map<void*, std::size_t> pinned;  // base -> bytes
  int pins = 0, unpins = 0, bad_unpins = 0;
  bool refuse = false;
};
PinLog log_;

bool fake_pin(void* p, std::size_t bytes) {
  if (log_.refuse) return false;
  ++log_.pins;
  log_.pinned.emplace(p, bytes);
  return true;
}
void fake_unpin(void* p) {
  ++log_.unpins;
  if (log_.pinned.erase(p) == 0) ++log_.bad_unpins;
}

template <class T>
bool pin(ResultColumn<T>& column) {
  return detail::pin_result_block(column.data(), column.capacity() * sizeof(T), fake_pin, fake_unpin);
}

class ResultMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = {};
    before_ = detail::pinned_result_bytes();
  }
  void TearDown() override {
    EXPECT_EQ(log_.bad_unpins, 0) << "unpinned a block that was not pinned";
    EXPECT_EQ(detail::pinned_result_bytes(), before_) << "a pinned block outlived its column";
  }
  std::size_t before_ = 0;
};

constexpr std::size_t kLarge = detail::kPinnableBlockBytes / sizeof(float) + 123;  // not whole pages

TEST_F(ResultMemory, LargeColumnsArePinnedOnceInWholePagesAndUnpinnedWhenFreed) {
  {
    ResultColumn<float> column(kLarge, 0.5f);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(column.data()) % detail::page_bytes(), 0u);
    const std::size_t pages = detail::whole_pages(column.capacity() * sizeof(float));
    EXPECT_TRUE(pin(column));
    EXPECT_TRUE(pin(column));  // already pinned: no second pin
    EXPECT_EQ(log_.pins, 1);
    ASSERT_EQ(log_.pinned.count(column.data()), 1u);
    EXPECT_EQ(log_.pinned.at(column.data()), pages);
    EXPECT_EQ(detail::pinned_result_bytes(), before_ + pages);

    ResultColumn<float> moved = std::move(column);  // the block changes hands, it stays pinned
    EXPECT_EQ(log_.unpins, 0);
    EXPECT_EQ(moved[kLarge - 1], 0.5f);
  }
  EXPECT_EQ(log_.unpins, 1);
  EXPECT_TRUE(log_.pinned.empty());
}

TEST_F(ResultMemory, AColumnThatGrowsUnpinsItsOldBlock) {
  ResultColumn<std::int32_t> column(kLarge, 7);
  ASSERT_TRUE(pin(column));
  void* old_block = column.data();
  column.reserve(column.capacity() * 2);  // a new block; the old one goes back
  ASSERT_NE(column.data(), old_block);
  EXPECT_EQ(log_.unpins, 1);
  EXPECT_EQ(log_.pinned.count(old_block), 0u);
  EXPECT_EQ(column[kLarge - 1], 7);
  ASSERT_TRUE(pin(column));
  EXPECT_EQ(log_.pins, 2);
  column = ResultColumn<std::int32_t>{};
  EXPECT_EQ(log_.unpins, 2);
}

TEST_F(ResultMemory, SmallColumnsAndRefusedPinsStayPageable) {
  ResultColumn<double> small(100, 1.0);
  EXPECT_FALSE(pin(small));
  EXPECT_EQ(log_.pins, 0);

  log_.refuse = true;  // the driver says no: the copy goes through pageable memory
  {
    ResultColumn<double> large(kLarge, 2.0);
    EXPECT_FALSE(pin(large));
    EXPECT_EQ(detail::pinned_result_bytes(), before_);
  }
  EXPECT_EQ(log_.unpins, 0);
}

TEST(ResultColumn, ResizeKeepsValuesAndFillsWhatItIsGiven) {
  ResultColumn<std::int64_t> column{0};
  column.resize(3, 5);  // a value given: filled as with std::vector
  EXPECT_EQ(column, (ResultColumn<std::int64_t>{0, 5, 5}));
  column.push_back(9);
  column.resize(2);  // shrinking keeps the front
  EXPECT_EQ(column, (ResultColumn<std::int64_t>{0, 5}));
}

}  // namespace
