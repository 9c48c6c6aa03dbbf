#pragma once
// Wall-clock seconds for the timings ratrace reports.
#include <chrono>

namespace ratrace {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace ratrace
