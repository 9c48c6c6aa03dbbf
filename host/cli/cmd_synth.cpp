// PLACEHOLDER: replaced by the real `ratrace synth`.
#include "cli/commands.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
void register_synth(CLI::App& root, int& exit_code) {
  auto* sub = root.add_subcommand("synth", "(not yet available)");
  sub->callback([&exit_code] { exit_code = 3; throw std::runtime_error("ratrace synth is not built yet"); });
}
}  // namespace ratrace::cli
