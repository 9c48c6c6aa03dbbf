#pragma once
// How `ratrace paths` prints result paths: text for people, csv and json for programs.
// Paths are shown earliest token first, in the direction information flows (the file stores them
// target first). docs/FORMAT.md describes every column and key.
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "ratrace/results.hpp"

namespace ratrace::cli {

enum class PathsFormat { text, csv, json };

// A token as shown in text: bare when it has no spaces, quotes or control characters, else as a
// JSON string literal (" quick", "\n").
std::string readable_token(const std::string& token);

// Prints jobs[i] of `file` (indices into file.results.jobs, in the order given), at most `top`
// paths each (top <= 0: all). Weights are over all of a job's paths, whatever `top` is.
void print_paths(std::FILE* out, const ResultsFile& file, const std::vector<std::size_t>& jobs, PathsFormat format,
                 int top);

}  // namespace ratrace::cli
