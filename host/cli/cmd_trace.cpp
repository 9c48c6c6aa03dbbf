// PLACEHOLDER: replaced by the real `ratrace trace`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_trace(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("trace", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace trace is not built yet"); });
}
}  // namespace ratrace::cli
