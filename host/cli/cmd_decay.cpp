// PLACEHOLDER: replaced by the real `ratrace decay`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_decay(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("decay", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace decay is not built yet"); });
}
}  // namespace ratrace::cli
