#pragma once
// Identity of a results file (SPEC §5): the root attributes the reader checks and the writer sets.
#include <cstdint>

namespace ratrace {

inline constexpr const char* kResultsFormatName = "ratrace-results";
inline constexpr std::int64_t kResultsFormatVersion = 1;

}  // namespace ratrace
