#include "io/results_output_path.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <hdf5.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "ratrace/errors.hpp"
#include "ratrace/results.hpp"
#include "ratrace/results_writer.hpp"

namespace ratrace {
namespace fs = std::filesystem;

namespace {

fs::path directory_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// Best effort: a failed fsync of a file we just wrote in full is not worth failing the run for,
// and some file systems do not support it on directories.
void sync_path(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// The tracked temporary files: fixed slots the signal handler can read without locks or
// allocation (only async-signal-safe calls happen there).
struct TempSlot {
  std::atomic<bool> used{false};
  char path[PATH_MAX] = {};
};
TempSlot temp_slots[kMaxTrackedTempFiles];

extern "C" void remove_temp_files_and_die(int sig) {
  for (TempSlot& slot : temp_slots)
    if (slot.used.load()) ::unlink(slot.path);
  ::signal(sig, SIG_DFL);  // then end as the signal would have ended us (exit status 128 + sig)
  ::raise(sig);
}

}  // namespace

void track_temp_file(const std::string& temp) {
  if (temp.size() >= PATH_MAX) return;
  for (TempSlot& slot : temp_slots) {
    if (slot.used.load()) continue;
    std::memcpy(slot.path, temp.c_str(), temp.size() + 1);
    slot.used.store(true);
    return;
  }
}

void untrack_temp_file(const std::string& temp) {
  for (TempSlot& slot : temp_slots)
    if (slot.used.load() && temp == slot.path) slot.used.store(false);
}

void install_results_signal_guard() {
  // HDF5's own clean-up at exit closes what is still open, and crashes on a file whose close
  // failed (a full disk): files are closed explicitly, so it is not needed.
  H5dont_atexit();
  struct sigaction action = {};
  action.sa_handler = remove_temp_files_and_die;
  sigemptyset(&action.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGXCPU, SIGXFSZ}) {
    struct sigaction current = {};
    // A signal the caller ignores stays ignored (nohup's SIGHUP, a shell's `trap '' XFSZ`).
    if (::sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
    ::sigaction(sig, &action, nullptr);
  }
}

bool output_path_taken(const std::string& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found;
}

void check_output_path(const std::string& path, bool force) {
  if (path.empty()) throw UsageError("the output path is empty");
  std::error_code ec;
  if (output_path_taken(path)) {
    if (fs::is_directory(path, ec)) throw UsageError(fmt::format("'{}' is a directory, not a file name", path));
    if (!force) throw UsageError(fmt::format("'{}' exists; use --force to overwrite", path));
  }
  const fs::path dir = directory_of(path);
  if (!fs::is_directory(dir, ec))
    throw UsageError(fmt::format("cannot write '{}': directory '{}' does not exist", path, dir.string()));
  // The temporary file is created in this directory, and the rename needs write access to it.
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError(fmt::format("cannot write '{}': directory '{}' is not writable", path, dir.string()));
}

std::string temp_path_beside(const std::string& path) {
  const fs::path p(path);
  std::random_device random;
  const std::string name = fmt::format(".{}.tmp-{}-{:08x}", p.filename().string(), ::getpid(), random());
  return (p.parent_path() / name).string();
}

void commit_temp_file(const std::string& temp, const std::string& path, bool replace) {
  sync_path(temp, O_RDONLY);
  const auto taken = [&] { return UsageError(fmt::format("'{}' appeared while tracing; use --force to overwrite", path)); };
  int rc = 0;
  if (replace) {
    rc = std::rename(temp.c_str(), path.c_str());
  } else {
    // A long run may end after someone else wrote `path` (a SLURM array task with the same output
    // name): never replace it then.
    rc = ::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && errno == EEXIST) throw taken();
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {  // no RENAME_NOREPLACE on this file system
      if (output_path_taken(path)) throw taken();
      rc = std::rename(temp.c_str(), path.c_str());
    }
  }
  if (rc != 0)
    throw std::runtime_error(fmt::format("cannot rename '{}' to '{}': {}", temp, path, std::strerror(errno)));
  sync_path(directory_of(path), O_RDONLY | O_DIRECTORY);
}

}  // namespace ratrace
