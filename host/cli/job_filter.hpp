#pragma once
// Picking jobs of a results file by --seq NAME|INDEX, --layer, --head INT|mean|max and --target,
// as `ratrace paths`, `ratrace render` and `ratrace demo` do. Every filter is optional; negative
// values count from the end (see select_jobs).
#include <CLI/CLI.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ratrace/results.hpp"

namespace ratrace::cli {

// The filters as given on the command line; unset ones match every job.
struct JobFilter {
  std::optional<std::string> seq;   // exact name first, else an index (negative from the end)
  std::optional<int> layer;         // negative: from the highest layer traced in the file
  std::optional<std::string> head;  // index (negative: from the highest head traced), "mean" or "max"
  std::optional<int> target;        // negative: from the end of each job's sequence
};

// Adds --seq, --layer, --head and --target to `app`, storing into `filter`.
void add_job_filter_options(CLI::App& app, JobFilter& filter);

// The filters that are set, as they would be typed: " --seq s0 --head mean" ("" when none is).
std::string describe(const JobFilter& filter);

// Indices into file.results.jobs of the matching jobs, ordered by (sequence, layer, head, target),
// heads max, mean, then 0, 1, ... Throws UsageError for a --seq or --head that names nothing;
// `path` (the file's name) is for that message. No match is an empty list, not an error.
std::vector<std::size_t> select_jobs(const ResultsFile& file, const std::string& path, const JobFilter& filter);

// Throws InputError "'PATH' holds no traced jobs" for a file without jobs.
void require_traced_jobs(const ResultsFile& file, const std::string& path);

}  // namespace ratrace::cli
