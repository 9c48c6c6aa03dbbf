#pragma once
// Each subcommand registers itself on the root app. Its callback stores the exit code; errors are
// thrown as InputError / UsageError (exit 2) and reported by main().
#include <CLI/CLI.hpp>

namespace ratrace::cli {

void register_trace(CLI::App& root, int& exit_code);
void register_paths(CLI::App& root, int& exit_code);
void register_inspect(CLI::App& root, int& exit_code);
void register_synth(CLI::App& root, int& exit_code);
void register_demo(CLI::App& root, int& exit_code);
void register_verify(CLI::App& root, int& exit_code);
void register_decay(CLI::App& root, int& exit_code);
void register_render(CLI::App& root, int& exit_code);
void register_report(CLI::App& root, int& exit_code);

}  // namespace ratrace::cli
