#include "util/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

namespace ratrace {

ProgressFn make_terminal_progress(std::string label) {
  if (!isatty(STDERR_FILENO)) return {};
  using Clock = std::chrono::steady_clock;
  auto last = std::make_shared<Clock::time_point>();
  return [label = std::move(label), last](std::int64_t done, std::int64_t total) {
    const auto now = Clock::now();
    if (done < total && now - *last < std::chrono::milliseconds(100)) return;
    *last = now;
    const double pct = total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
    fmt::print(stderr, "\r{}: {}/{} matrices ({:.0f}%){}", label, done, total, pct, done >= total ? "\n" : "");
    std::fflush(stderr);
  };
}

}  // namespace ratrace
