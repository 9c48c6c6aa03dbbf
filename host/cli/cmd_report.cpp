// PLACEHOLDER: replaced by the real `ratrace report`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_report(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("report", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace report is not built yet"); });
}
}  // namespace ratrace::cli
