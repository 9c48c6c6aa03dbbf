// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "ratrace/candidate_table.hpp"
namespace ratrace {
CandidateTable build_candidate_table(const float*, std::int32_t, const std::uint8_t*, std::int32_t, double) { throw std::logic_error("stub"); }
}  // namespace ratrace
