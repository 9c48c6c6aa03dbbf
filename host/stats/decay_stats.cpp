// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "ratrace/decay_stats.hpp"
#include "ratrace/results.hpp"
namespace ratrace {
DecayStats compute_decay_stats(const TraceResults&, const std::vector<AttentionProfile>&) { return {}; }
}  // namespace ratrace
