// PLACEHOLDER: replaced by the real `ratrace demo`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_demo(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("demo", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace demo is not built yet"); });
}
}  // namespace ratrace::cli
