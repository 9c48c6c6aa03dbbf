// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "ratrace/validate.hpp"
namespace ratrace {
void check_attention_values(const float*, int, const std::string&, RowSumTally&) { throw std::logic_error("stub"); }
}  // namespace ratrace
