// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "ratrace/engine.hpp"
namespace ratrace {
std::unique_ptr<Engine> make_cpu_engine(int) { throw std::logic_error("cpu engine not built yet"); }
}  // namespace ratrace
