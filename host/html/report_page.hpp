#pragma once
// `ratrace report`: one self-contained page summarising a results file: the run, influence-decay
// figures per layer, heads x layers heat maps, and the top paths of a few example jobs.
#include <cstddef>
#include <string>
#include <vector>

#include "ratrace/results.hpp"

namespace ratrace::html {

// The jobs shown as examples: up to `count`, spread over layers first (the mean head where there
// is one), then other (layer, head) pairs, then any other job; in (sequence, layer, head, target)
// order.
std::vector<std::size_t> example_jobs(const ResultsFile& file, std::size_t count);

std::string report_page(const ResultsFile& file, const std::string& results_path);

}  // namespace ratrace::html
