// PLACEHOLDER: replaced by the real `ratrace render`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_render(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("render", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace render is not built yet"); });
}
}  // namespace ratrace::cli
