// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "ratrace/beam_search.hpp"
namespace ratrace {
std::vector<PathResult> beam_search(const candidate_table_ref&, std::int32_t, const std::uint8_t*, const SearchParams&, std::vector<SearchStep>*) { throw std::logic_error("stub"); }
std::vector<double> path_weights(const std::vector<double>&) { throw std::logic_error("stub"); }
}  // namespace ratrace
