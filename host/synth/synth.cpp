// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "ratrace/synth.hpp"
namespace ratrace {
void write_synthetic_corpus(const std::string&, const SynthOptions&) { throw std::logic_error("synth not built yet"); }
std::vector<float> synth_head_matrix(HeadPattern, int, std::uint64_t, int) { throw std::logic_error("synth not built yet"); }
}  // namespace ratrace
