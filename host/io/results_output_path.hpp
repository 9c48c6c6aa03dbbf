#pragma once
// Where a results file goes: the early checks, the temporary name beside it, and the final rename
// that makes a complete file appear at once (SPEC §5: a file is complete or absent).
#include <string>

namespace ratrace {

// Whether anything (file, directory, link, even a dangling one) has this name.
bool output_path_taken(const std::string& path);

// A fresh name in the same directory as `path`: ".NAME.tmp-<pid>-<random>".
std::string temp_path_beside(const std::string& path);

// Temporary files in progress, removed by the signal guard (install_results_signal_guard) when
// the process is stopped by a signal. At most kMaxTrackedTempFiles at once; more are not tracked.
inline constexpr int kMaxTrackedTempFiles = 4;
void track_temp_file(const std::string& temp);
void untrack_temp_file(const std::string& temp);

// Flushes `temp` to disk and renames it onto `path`. With `replace`, whatever is there is replaced;
// without, UsageError when `path` exists by then (checked atomically where the file system can).
// Throws std::runtime_error naming both paths when the rename fails otherwise.
void commit_temp_file(const std::string& temp, const std::string& path, bool replace);

}  // namespace ratrace
