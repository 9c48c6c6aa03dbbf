// PLACEHOLDER: replaced by the real `ratrace inspect`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_inspect(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("inspect", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace inspect is not built yet"); });
}
}  // namespace ratrace::cli
