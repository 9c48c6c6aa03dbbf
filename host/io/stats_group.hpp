#pragma once
// The /stats group of a results file (influence-decay statistics).
#include <hdf5.h>

#include <optional>

#include "ratrace/decay_stats.hpp"

namespace ratrace {

void write_stats_group(hid_t file, const DecayStats& stats);
// nullopt when the file has no /stats group.
std::optional<DecayStats> read_stats_group(hid_t file);

}  // namespace ratrace
