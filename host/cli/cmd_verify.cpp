// PLACEHOLDER: replaced by the real `ratrace verify`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_verify(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("verify", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace verify is not built yet"); });
}
}  // namespace ratrace::cli
