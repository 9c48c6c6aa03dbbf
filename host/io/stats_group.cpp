// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "io/stats_group.hpp"
namespace ratrace {
void write_stats_group(hid_t, const DecayStats&) {}
std::optional<DecayStats> read_stats_group(hid_t) { return std::nullopt; }
}  // namespace ratrace
