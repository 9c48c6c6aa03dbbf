#pragma once
// The invariants of a results file (SPEC §5), checked on the in-memory arrays. The writer treats a
// violation as a bug (std::logic_error); the reader as a bad file (InputError).
#include <optional>
#include <string>

#include "ratrace/results.hpp"

namespace ratrace {

// The first inconsistency found, in one line naming the dataset at fault; nullopt when consistent.
std::optional<std::string> find_results_inconsistency(const ResultsFile& file);

}  // namespace ratrace
