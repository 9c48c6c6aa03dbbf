#pragma once
// A count with its noun, for messages people read: "1 job", "3 jobs", "1 matrix", "2 matrices".
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace ratrace {

inline std::string counted(std::int64_t n, std::string_view singular, std::string_view plural) {
  return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

}  // namespace ratrace
