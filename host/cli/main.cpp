// ratrace: reverse attention tracing for whole corpora.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "cli/commands.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/results_writer.hpp"

int main(int argc, char** argv) {
  ratrace::install_results_signal_guard();  // before any HDF5 call
  CLI::App app{"ratrace: reverse attention tracing, CPU reference and CUDA engine", "ratrace"};
  app.set_version_flag("--version", RATRACE_VERSION);
  app.require_subcommand(1);
  int exit_code = ratrace::kExitOk;
  ratrace::cli::register_trace(app, exit_code);
  ratrace::cli::register_paths(app, exit_code);
  ratrace::cli::register_inspect(app, exit_code);
  ratrace::cli::register_synth(app, exit_code);
  ratrace::cli::register_demo(app, exit_code);
  ratrace::cli::register_verify(app, exit_code);
  ratrace::cli::register_decay(app, exit_code);
  ratrace::cli::register_render(app, exit_code);
  ratrace::cli::register_report(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, exit 2 (SPEC §7), instead of CLI11's own codes.
    fmt::print(stderr, "ratrace: error: {} (see --help)\n", e.what());
    return ratrace::kExitBadInput;
  } catch (const ratrace::InputError& e) {
    fmt::print(stderr, "ratrace: error: {}\n", e.what());
    return ratrace::kExitBadInput;
  } catch (const ratrace::UsageError& e) {
    fmt::print(stderr, "ratrace: error: {}\n", e.what());
    return ratrace::kExitBadInput;
  } catch (const std::logic_error& e) {  // a broken invariant: a bug in ratrace
    fmt::print(stderr, "ratrace: internal error: {}\n", e.what());
    return ratrace::kExitInternal;
  } catch (const std::exception& e) {  // the system failed us: I/O, memory, the GPU driver
    fmt::print(stderr, "ratrace: error: {}\n", e.what());
    return ratrace::kExitInternal;
  }
  return exit_code;
}
