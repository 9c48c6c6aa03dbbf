// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "ratrace/results.hpp"
namespace ratrace {
void write_results_file(const std::string&, const ResultsFile&, bool) { throw std::logic_error("results writer not built yet"); }
ResultsFile read_results_file(const std::string&) { throw std::logic_error("results reader not built yet"); }
}  // namespace ratrace
