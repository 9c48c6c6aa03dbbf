#pragma once
// A read-only mapping of a byte range of an open file, made only when every page of the range is
// in the page cache (mincore). A consumer that reads rows in place from it copies nothing first and
// never touches what it skips: the GPU engine packs the causal half of each row straight from the
// cache, half the bytes that a pread of the rows would copy. Ranges not wholly cached are left to
// preads, which give the storage large requests. Unmapped when destroyed, so that a reader maps only
// the block it is handing over (its resident size stays that of its own buffers).
// The range is checked against the file's size when mapped; a file truncated by another process
// while mapped would fault (SIGBUS), where a pread would have reported an error.
#include <cstddef>
#include <cstdint>
#include <optional>

namespace ratrace::corpus {

class ResidentMapping {
 public:
  // The mapping of bytes [offset, offset + bytes) of `fd`, or nullopt when the file is shorter, a
  // page of the range is not in the page cache, or the mapping fails (bytes > 0).
  static std::optional<ResidentMapping> of_cached_range(int fd, std::uint64_t offset, std::size_t bytes);

  ResidentMapping(ResidentMapping&& other) noexcept;
  ResidentMapping& operator=(ResidentMapping&&) = delete;
  ResidentMapping(const ResidentMapping&) = delete;
  ResidentMapping& operator=(const ResidentMapping&) = delete;
  ~ResidentMapping();

  // The address of file byte `offset`, which must lie in the range.
  const unsigned char* at(std::uint64_t offset) const { return base_ + (offset - map_offset_); }

 private:
  ResidentMapping(unsigned char* base, std::size_t length, std::uint64_t map_offset)
      : base_(base), length_(length), map_offset_(map_offset) {}

  unsigned char* base_ = nullptr;  // file byte map_offset_ (page-aligned)
  std::size_t length_ = 0;
  std::uint64_t map_offset_ = 0;
};

}  // namespace ratrace::corpus
