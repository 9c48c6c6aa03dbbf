#pragma once
// Finds near-ties in one job's search (SPEC §2), to tell a GPU difference that a near-tie
// explains from a real mismatch.
#include <cstdint>

#include "ratrace/candidate_table.hpp"
#include "ratrace/params.hpp"

namespace ratrace {

// Runs SPEC §1.3 on `table` (in the reference's order) and returns true when, at some point where
// order decides the outcome, two beams have scores that agree (scores_agree) without being
// computed from the same edge weights in the same order (only then could another device's `log`
// order them differently). Those points are each step's sorted survivors (the first B + 1: who is
// kept, and in which order the kept go on) and the sorted terminal list (the first B + 1).
bool search_has_near_tie(const candidate_table_ref& table, std::int32_t target, const std::uint8_t* is_bos,
                         const SearchParams& params);

}  // namespace ratrace
