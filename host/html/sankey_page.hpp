#pragma once
// `ratrace render`: one job's paths as a self-contained, interactive Sankey page.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

#include "ratrace/results.hpp"

namespace ratrace::html {

// The data the page embeds (and its script draws): meta, nodes (each distinct position of the
// job's paths, ascending, with its token) and beams (result order, target first, with weights).
nlohmann::json sankey_data(const ResultsFile& file, std::size_t job, const std::string& results_path);

// The whole page for job `job` of `file`.
std::string sankey_page(const ResultsFile& file, std::size_t job, const std::string& results_path);

}  // namespace ratrace::html
