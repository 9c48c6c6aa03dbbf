#pragma once
// Selections (SEL) of SPEC §6: "all", integers (negative from the end) and Python-style slices,
// mixed freely in a comma list: "0,4:8,-1", "::2", "mean,max,0".
#include <string>
#include <string_view>
#include <vector>

namespace ratrace {

// Resolves `sel` against n items (indices in [0, n)), in order of first appearance, duplicates
// dropped. `option` names the option ("--layers") and `context` the thing indexed ("sequence 'a'
// has 4 layers"), both for error messages. Throws UsageError on bad syntax, a step of 0, or a
// plain integer outside [-n, n). Empty ranges select nothing.
std::vector<int> resolve_selection(std::string_view sel, int n, std::string_view option, std::string_view context);

// Heads: as above, plus "mean" and "max" items, which resolve to kHeadMean / kHeadMax.
// "all" means every single head, not the aggregates.
std::vector<int> resolve_head_selection(std::string_view sel, int num_heads, std::string_view option,
                                        std::string_view context);

// Checks only the syntax (before any file is opened), so that typos fail fast.
void check_selection_syntax(std::string_view sel, bool allow_aggregates, std::string_view option);

}  // namespace ratrace
