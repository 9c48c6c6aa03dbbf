#include "io/resident_mapping.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace ratrace::corpus {

std::optional<ResidentMapping> ResidentMapping::of_cached_range(int fd, std::uint64_t offset, std::size_t bytes) {
  struct stat st {};
  if (bytes == 0 || ::fstat(fd, &st) != 0 || offset + bytes > static_cast<std::uint64_t>(st.st_size)) return std::nullopt;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t map_offset = offset / page * page;
  const std::size_t length = static_cast<std::size_t>(offset + bytes - map_offset);
  void* base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(map_offset));
  if (base == MAP_FAILED) return std::nullopt;
  ResidentMapping mapping(static_cast<unsigned char*>(base), length, map_offset);
  std::vector<unsigned char> resident((length + page - 1) / page);
  if (::mincore(base, length, resident.data()) != 0 ||
      !std::all_of(resident.begin(), resident.end(), [](unsigned char r) { return (r & 1) != 0; }))
    return std::nullopt;  // unmapped by the destructor
  return mapping;
}

ResidentMapping::ResidentMapping(ResidentMapping&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), length_(std::exchange(other.length_, 0)), map_offset_(other.map_offset_) {}

ResidentMapping::~ResidentMapping() {
  if (base_ != nullptr) ::munmap(base_, length_);
}

}  // namespace ratrace::corpus
