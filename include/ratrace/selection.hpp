#pragma once
// Selections (SEL) of SPEC §6: "all", integers (negative from the end) and Python-style slices.
#include <string>
#include <string_view>
#include <vector>

namespace ratrace {

// Resolves `sel` against n items (indices in [0, n)), in order of first appearance, duplicates
// dropped. `what` names the thing selected ("layer", "target of sequence 'abc'") for errors.
// Throws UsageError on bad syntax, a step of 0, or a plain integer outside [-n, n).
std::vector<int> resolve_selection(std::string_view sel, int n, std::string_view what);

// Heads: as above, plus "mean" and "max" items, which resolve to kHeadMean / kHeadMax.
// "all" means every single head, not the aggregates.
std::vector<int> resolve_head_selection(std::string_view sel, int num_heads, std::string_view what);

// Checks the syntax of a selection without resolving it (for early, clear errors).
void check_selection_syntax(std::string_view sel, bool allow_aggregates, std::string_view what);

}  // namespace ratrace
