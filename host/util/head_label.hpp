#pragma once
// How a job's head (SPEC §5 /jobs/head) is shown to people: "mean", "max" or the head index.
#include <cstdint>
#include <string>

#include "ratrace/params.hpp"

namespace ratrace {

inline std::string head_label(std::int32_t head) {
  if (head == kHeadMean) return "mean";
  if (head == kHeadMax) return "max";
  return std::to_string(head);
}

}  // namespace ratrace
