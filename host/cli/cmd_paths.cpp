// PLACEHOLDER: replaced by the real `ratrace paths`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_paths(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("paths", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace paths is not built yet"); });
}
}  // namespace ratrace::cli
